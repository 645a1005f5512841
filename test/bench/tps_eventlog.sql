-- pgbench: one produce() per transaction (topic "tps", BENCH_PARTITIONS partitions)
\set i random(1, 100000000)
SELECT * FROM eventlog.produce('tps', ('{"id": ' || :i || ', "user": "user-' || (:i % 1000) || '", "amount": ' || (:i % 10000) || ', "note": "' || md5(:i::text) || '"}')::jsonb, 'key-' || lpad((:i % 100000)::text, 12, '0'));
