-- The access method's SQL surface: scans, indexes, ANALYZE, VACUUM, COPY,
-- large values, and the statements it refuses.
SELECT eventlog.create_topic('am', partitions => 2);
INSERT INTO eventlog_topics.am (key, value, headers)
SELECT 'k' || (g % 17), jsonb_build_object('g', g, 'pad', repeat('p', 50)),
       CASE WHEN g % 3 = 0 THEN jsonb_build_object('h', g::text) END
  FROM generate_series(1, 3000) g;

-- sequential scan: every record once, per partition in offset order
SELECT count(*), count(DISTINCT (partition, "offset")) FROM eventlog_topics.am;
SELECT partition, array_agg("offset") = array_agg("offset" ORDER BY "offset") AS in_order
  FROM eventlog_topics.am GROUP BY partition ORDER BY partition;

-- several pages per partition
SELECT partition, bytes > 8192 AS multi_page FROM eventlog.partitions
 WHERE topic = 'am' ORDER BY partition;

-- ANALYZE gives the planner real numbers
ANALYZE eventlog_topics.am;
SELECT reltuples BETWEEN 2500 AND 3500 AS estimated FROM pg_class
 WHERE oid = 'eventlog_topics.am'::regclass;
SELECT attname, n_distinct FROM pg_stats
 WHERE schemaname = 'eventlog_topics' AND tablename = 'am' AND attname = 'key';

-- indexes: built from the log, maintained by later produces, used by the planner
CREATE INDEX am_g ON eventlog_topics.am (((value->>'g')::int));
CREATE INDEX am_key ON eventlog_topics.am (key, "offset");
SELECT * FROM eventlog.produce('am', '{"g": 5000}', key => 'late');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT "offset" FROM eventlog_topics.am WHERE (value->>'g')::int = 1234;
SELECT key, value->>'g' AS g FROM eventlog_topics.am WHERE (value->>'g')::int IN (1234, 5000) ORDER BY 2;
SELECT count(*) FROM eventlog_topics.am WHERE key = 'k3';
RESET enable_seqscan;
SELECT count(*) FROM eventlog_topics.am WHERE key = 'k3';
-- a rolled-back produce leaves an index entry that is never returned
BEGIN;
SELECT count(*) FROM eventlog.produce('am', '{"g": 6000}', key => 'gone');
ROLLBACK;
SET enable_seqscan = off;
SELECT count(*) AS gone FROM eventlog_topics.am WHERE (value->>'g')::int = 6000;
RESET enable_seqscan;
-- a TID scan
SELECT "offset" FROM eventlog_topics.am
 WHERE ctid = (SELECT ctid FROM eventlog_topics.am WHERE (value->>'g')::int = 1234);

-- parallel scans split partitions between workers and see every record once
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM eventlog_topics.am;
SELECT count(*), count(DISTINCT (partition, "offset")) FROM eventlog_topics.am;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- VACUUM freezes, so relfrozenxid of every segment advances
SELECT max(age(c.relfrozenxid)) > 0 AS had_age FROM eventlog.segment_map m
  JOIN pg_class c ON c.oid = m.segrel WHERE m.topic = 'am';
VACUUM (FREEZE) eventlog_topics.am;
SELECT max(age(c.relfrozenxid)) AS age_after_freeze FROM eventlog.segment_map m
  JOIN pg_class c ON c.oid = m.segrel WHERE m.topic = 'am';
SELECT count(*) AS still_readable FROM eventlog_topics.am;
VACUUM FULL eventlog_topics.am;
CLUSTER eventlog_topics.am USING am_g;

-- COPY out and back in (into another topic) round-trips every column
SELECT eventlog.create_topic('am_copy', partitions => 2);
-- files go to the output directory, removed with it
\getenv abs_builddir PG_ABS_BUILDDIR
\set am_copy_tsv :abs_builddir '/pg_eventlog_am_copy.tsv'
COPY eventlog_topics.am TO :'am_copy_tsv';
COPY eventlog_topics.am_copy FROM :'am_copy_tsv';
SELECT count(*) AS differences FROM (
  (SELECT * FROM eventlog_topics.am EXCEPT ALL SELECT * FROM eventlog_topics.am_copy)
  UNION ALL
  (SELECT * FROM eventlog_topics.am_copy EXCEPT ALL SELECT * FROM eventlog_topics.am)) d;

-- large values are stored intact (TOAST), byte for byte
SELECT * FROM eventlog.produce('am', jsonb_build_object('big', repeat(md5('x'), 25000)), key => 'big');
SELECT length(value->>'big') AS len, md5(value->>'big') = md5(repeat(md5('x'), 25000)) AS intact
  FROM eventlog_topics.am WHERE key = 'big';
SELECT length(value->>'big') AS len FROM eventlog.fetch('am', eventlog.partition_for('am', 'big'),
  (SELECT "offset" FROM eventlog_topics.am WHERE key = 'big'), 1);
-- incompressible and close to the 1 MB limit
SELECT * FROM eventlog.produce('am', jsonb_build_object('rnd',
  (SELECT string_agg(md5(g::text || 'salt'), '') FROM generate_series(1, 30000) g)), key => 'rnd');
SELECT length(value->>'rnd') AS len FROM eventlog_topics.am WHERE key = 'rnd';

-- statements that would change records are refused, and change nothing
SELECT count(*) AS before FROM eventlog_topics.am \gset
UPDATE eventlog_topics.am SET value = '{}';
DELETE FROM eventlog_topics.am WHERE key = 'k1';
TRUNCATE eventlog_topics.am;
MERGE INTO eventlog_topics.am t USING (SELECT 1 AS x) s ON false
  WHEN NOT MATCHED THEN INSERT (value) VALUES ('{}');
INSERT INTO eventlog_topics.am (value) VALUES ('{}') ON CONFLICT DO NOTHING;
SELECT * FROM eventlog_topics.am FOR UPDATE;
SELECT * FROM eventlog_topics.am FOR SHARE;
SELECT * FROM eventlog_topics.am TABLESAMPLE SYSTEM (10);
WITH d AS (DELETE FROM eventlog_topics.am RETURNING *) SELECT count(*) FROM d;
SELECT count(*) = :before AS unchanged FROM eventlog_topics.am;

-- segments are storage: read and written only through their topic
SELECT segrel AS seg FROM eventlog.segment_map WHERE topic = 'am' AND partition = 0 \gset
SELECT count(*) AS direct_rows FROM :seg;
\set VERBOSITY sqlstate
INSERT INTO :seg (value) VALUES ('{}');
DELETE FROM :seg;
\set VERBOSITY default
-- TRUNCATE leaves a segment alone (through SQL it is empty anyway; this is
-- what lets pg_restore -j truncate the segment tables it created)
TRUNCATE :seg;
SELECT count(*) = :before AS records_kept FROM eventlog_topics.am;

SELECT eventlog.drop_topic('am');
SELECT eventlog.drop_topic('am_copy');

-- timestamps near a page's base time are stored in 4 bytes, others in 8;
-- every one reads back exactly, through SQL and through fetch()
SELECT eventlog.create_topic('tsr');
CREATE TEMP TABLE tsrc AS
SELECT g, timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => s) AS ts
  FROM (SELECT g, CASE g % 7 WHEN 0 THEN 0.000001 * g WHEN 1 THEN 2147.483647
                             WHEN 2 THEN -2147.483648 WHEN 3 THEN 2147.483648
                             WHEN 4 THEN -2147.483649 WHEN 5 THEN 86400 * 365 * 30
                             ELSE -86400 * 365 * 30 END AS s
          FROM generate_series(1, 700) g) x;
INSERT INTO eventlog_topics.tsr (ts, value) SELECT ts, jsonb_build_object('g', g) FROM tsrc ORDER BY g;
SELECT count(*) AS mismatched FROM tsrc s
  JOIN eventlog_topics.tsr t ON (t.value->>'g')::int = s.g WHERE t.ts IS DISTINCT FROM s.ts;
SELECT count(*) AS mismatched_fetch FROM tsrc s
  JOIN eventlog.fetch('tsr', 0, 0, 1000) f ON (f.value->>'g')::int = s.g WHERE f.ts IS DISTINCT FROM s.ts;
SELECT eventlog.drop_topic('tsr');

-- VACUUM of a topic removes the index entries of records that are gone
-- (delete_records, retention, compaction, aborted transactions), as heap's
-- VACUUM removes those of dead tuples; entries of records that remain stay
SELECT eventlog.create_topic('amvac', 2, segment_bytes => 16384);
SELECT count(*) > 0 AS spares FROM eventlog.run_maintenance('amvac');
CREATE INDEX amvac_key ON eventlog_topics.amvac (key);
INSERT INTO eventlog_topics.amvac (key, value)
SELECT 'k' || g, jsonb_build_object('g', g, 'pad', repeat('x', 100)) FROM generate_series(1, 400) g;
BEGIN;
INSERT INTO eventlog_topics.amvac (key, value)
SELECT 'a' || g, jsonb_build_object('aborted', g) FROM generate_series(1, 50) g;
ROLLBACK;
CREATE FUNCTION amvac_entries() RETURNS TABLE (index_tuples real, entries_read bigint, rows_found bigint)
LANGUAGE plpgsql AS $$
DECLARE n bigint; before bigint;
BEGIN
  -- an index scan over every entry: how many it walks, how many it finds
  SET LOCAL enable_seqscan = off;
  SET LOCAL enable_bitmapscan = off;
  before := pg_stat_get_xact_tuples_returned('eventlog_topics.amvac_key'::regclass);
  SELECT count(*) INTO n FROM eventlog_topics.amvac WHERE key > '';
  RETURN QUERY SELECT c.reltuples,
         pg_stat_get_xact_tuples_returned('eventlog_topics.amvac_key'::regclass) - before, n
    FROM pg_class c WHERE c.oid = 'eventlog_topics.amvac_key'::regclass;
END $$;
-- the aborted records' entries go; the 400 records' stay
VACUUM eventlog_topics.amvac;
SELECT * FROM amvac_entries();
-- delete_records below the log end of partition 0, retention drops the
-- segments: their entries go at the next VACUUM, partition 1's stay
SELECT eventlog.delete_records('amvac', 0, log_end_offset) >= 0 AS deleted
  FROM eventlog.partitions WHERE topic = 'amvac' AND partition = 0;
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('amvac');
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('amvac');
VACUUM eventlog_topics.amvac;
SELECT * FROM amvac_entries();
SELECT count(*) AS partition_1 FROM eventlog_topics.amvac WHERE partition = 1;
-- an emptied topic's index holds no entry, and refilling reuses its pages
SELECT eventlog.delete_records('amvac', 1, log_end_offset) >= 0 AS deleted
  FROM eventlog.partitions WHERE topic = 'amvac' AND partition = 1;
VACUUM eventlog_topics.amvac;
SELECT * FROM amvac_entries();
SELECT pg_relation_size('eventlog_topics.amvac_key') AS emptied_size \gset
INSERT INTO eventlog_topics.amvac (key, value)
SELECT 'k' || g, jsonb_build_object('g', g, 'pad', repeat('x', 100)) FROM generate_series(1, 400) g;
SELECT eventlog.delete_records('amvac', partition, log_end_offset) >= 0 AS deleted
  FROM eventlog.partitions WHERE topic = 'amvac' ORDER BY partition;
VACUUM eventlog_topics.amvac;
SELECT * FROM amvac_entries();
SELECT pg_relation_size('eventlog_topics.amvac_key') <= :emptied_size AS pages_reused;
-- compaction: the entries of the records it removed go, the kept ones stay
SELECT eventlog.alter_topic('amvac', cleanup_policy => 'compact');
INSERT INTO eventlog_topics.amvac (key, value)
SELECT 'k' || (g % 5), jsonb_build_object('g', g, 'pad', repeat('x', 100)) FROM generate_series(1, 400) g;
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('amvac');
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('amvac');
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('amvac');
VACUUM eventlog_topics.amvac;
SELECT index_tuples = rows_found AS entries_match_records, entries_read = rows_found AS no_dead_entry_read,
       rows_found = (SELECT count(*) FROM eventlog_topics.amvac) AS same_as_seqscan,
       rows_found < 400 AS compacted
  FROM amvac_entries();
DROP FUNCTION amvac_entries();
SELECT eventlog.drop_topic('amvac');
