-- One visibility rule (src/storage/elvisibility.c): SQL scans, fetch(),
-- index builds, ANALYZE and VACUUM's freezing agree on which records are
-- live, before freezing (the clog decides) and after it (run flags decide).
SELECT eventlog.create_topic('vis');
-- committed, aborted and committed runs, sharing pages
INSERT INTO eventlog_topics.vis (key, value)
SELECT 'k' || g, jsonb_build_object('g', g) FROM generate_series(1, 300) g;
BEGIN;
-- the aborted records repeat committed keys
INSERT INTO eventlog_topics.vis (key, value)
SELECT 'k' || g, jsonb_build_object('g', -g) FROM generate_series(1, 100) g;
ROLLBACK;
-- a rolled-back subtransaction between two kept records of one transaction
BEGIN;
SELECT "offset" FROM eventlog.produce('vis', '{"g": 301}', key => 'k301');
SAVEPOINT s;
SELECT count(*) FROM generate_series(1, 5) g,
  LATERAL eventlog.produce('vis', jsonb_build_object('g', -g), key => 'k' || g);
ROLLBACK TO SAVEPOINT s;
SELECT "offset" FROM eventlog.produce('vis', '{"g": 302}', key => 'k302');
COMMIT;
INSERT INTO eventlog_topics.vis (key, value)
SELECT 'k' || g, jsonb_build_object('g', g) FROM generate_series(303, 400) g;
SELECT pg_current_xact_id()::text::bigint AS last_xid \gset

CREATE FUNCTION vis_check() RETURNS TABLE (what text, answer text)
LANGUAGE sql AS $$
  SELECT 'scan', format('%s records, %s keys, %s negative',
                        count(*), count(DISTINCT key),
                        count(*) FILTER (WHERE (value->>'g')::int < 0))
    FROM eventlog_topics.vis
  UNION ALL
  SELECT 'fetch', format('%s records, in order %s, g = 1..400 %s',
                         count(*),
                         array_agg("offset") = array_agg("offset" ORDER BY "offset"),
                         array_agg((value->>'g')::int) = array(SELECT generate_series(1, 400)))
    FROM eventlog.fetch('vis', 0, 0, 1000)
  UNION ALL
  SELECT 'offsets', format('log end %s, stable %s', log_end_offset, stable_offset)
    FROM eventlog.partitions WHERE topic = 'vis'
$$;
SELECT * FROM vis_check();

-- ANALYZE counts aborted records as dead rows, the rest as live
ANALYZE VERBOSE eventlog_topics.vis;
SELECT reltuples FROM pg_class WHERE oid = 'eventlog_topics.vis'::regclass;
-- an index build skips aborted records: their duplicate keys do not count
CREATE UNIQUE INDEX vis_key ON eventlog_topics.vis (key);
SET enable_seqscan = off;
SELECT key, value FROM eventlog_topics.vis WHERE key IN ('k1', 'k5', 'k302') ORDER BY key;
RESET enable_seqscan;
DROP INDEX eventlog_topics.vis_key;

-- VACUUM (FREEZE) marks every run committed or dead (the segment's
-- relfrozenxid passes every xid that wrote it); every answer stays
VACUUM (FREEZE) eventlog_topics.vis;
SELECT c.relfrozenxid::text::bigint > :last_xid AS all_runs_frozen
  FROM eventlog.segment_map m JOIN pg_class c ON c.oid = m.segrel
 WHERE m.topic = 'vis';
SELECT * FROM vis_check();
ANALYZE VERBOSE eventlog_topics.vis;
CREATE UNIQUE INDEX vis_key ON eventlog_topics.vis (key);
SET enable_seqscan = off;
SELECT key, value FROM eventlog_topics.vis WHERE key IN ('k1', 'k5', 'k302') ORDER BY key;
RESET enable_seqscan;
-- records produced after freezing sit beside frozen runs on the tail page
SELECT "offset" FROM eventlog.produce('vis', '{"g": 401}', key => 'k401');
SELECT count(*) FROM eventlog_topics.vis;

DROP FUNCTION vis_check();
SELECT eventlog.drop_topic('vis');
