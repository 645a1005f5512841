-- pgbench: one pgq.insert_event per transaction (ev_type = key, ev_data = JSON text)
\set i random(1, 100000000)
SELECT pgq.insert_event('tpsq', 'key-' || lpad((:i % 100000)::text, 12, '0'), '{"id": ' || :i || ', "user": "user-' || (:i % 1000) || '", "amount": ' || (:i % 10000) || ', "note": "' || md5(:i::text) || '"}');
