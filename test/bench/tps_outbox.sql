-- pgbench: one outbox INSERT per transaction
\set i random(1, 100000000)
INSERT INTO outbox_tps (key, value) VALUES ('key-' || lpad((:i % 100000)::text, 12, '0'), ('{"id": ' || :i || ', "user": "user-' || (:i % 1000) || '", "amount": ' || (:i % 10000) || ', "note": "' || md5(:i::text) || '"}')::jsonb);
