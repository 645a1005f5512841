-- Segments, rolls, retention, delete_records, fetch below the log start.
-- (The background worker is off in this cluster: test/eventlog.conf.)
SELECT eventlog.create_topic('r', 1, segment_bytes => 16384);
SELECT action, partition FROM eventlog.run_maintenance('r');
SELECT partition, seg_no, base_offset, end_offset, records, state
  FROM eventlog.segments WHERE topic = 'r' ORDER BY seg_no;

-- producers roll into the spare at segment_bytes (two pages)
INSERT INTO eventlog_topics.r (key, value)
SELECT 'k', jsonb_build_object('n', g, 'pad', repeat('x', 200)) FROM generate_series(0, 199) g;
SELECT seg_no, base_offset, end_offset, records, state
  FROM eventlog.segments WHERE topic = 'r' ORDER BY seg_no;
-- maintenance fills in base offsets, rolls the full one, makes spares
SELECT action, partition, detail FROM eventlog.run_maintenance('r');
SELECT action, partition, detail FROM eventlog.run_maintenance('r');
SELECT seg_no, base_offset, end_offset, records, state
  FROM eventlog.segments WHERE topic = 'r' ORDER BY seg_no;
-- every record, in order, across segments: fetch, SQL, offset_for_time
SELECT count(*), min("offset"), max("offset"), bool_and((value->>'n')::int = "offset") AS in_order
  FROM eventlog.fetch('r', 0, 0, 1000);
SELECT count(*), bool_and((value->>'n')::int = "offset") FROM eventlog_topics.r;
SELECT count(*) FROM eventlog.fetch('r', 0, 150, 1000);
SELECT eventlog.offset_for_time('r', 0, '-infinity');
SELECT * FROM eventlog.produce('r', '{"n": 200}', key => 'k');
SELECT log_start_offset, log_end_offset, stable_offset, segments FROM eventlog.partitions WHERE topic = 'r';

-- delete_records: the log start moves in the caller's transaction
BEGIN;
SELECT eventlog.delete_records('r', 0, 100);
SELECT log_start_offset, log_end_offset FROM eventlog.partitions WHERE topic = 'r';
SELECT min("offset"), count(*) FROM eventlog.fetch('r', 0, 100, 1000);
SELECT min("offset"), count(*) FROM eventlog_topics.r;
ROLLBACK;
SELECT log_start_offset FROM eventlog.partitions WHERE topic = 'r';
SELECT eventlog.delete_records('r', 0, 100);
SELECT eventlog.delete_records('r', 0, 50) AS unchanged;
SELECT log_start_offset, log_end_offset FROM eventlog.partitions WHERE topic = 'r';
SELECT state, count(*) FROM eventlog.segments WHERE topic = 'r' GROUP BY state ORDER BY state;
SELECT count(*) > 0 AS removed_segments_await_drop FROM eventlog.segment_trash WHERE topic = 'r';
-- fetch below the log start: Kafka's OFFSET_OUT_OF_RANGE
\set VERBOSITY default
SELECT * FROM eventlog.fetch('r', 0, 99);
SELECT * FROM eventlog.fetch('r', 0, 0);
\set VERBOSITY terse
SELECT min("offset"), count(*) FROM eventlog.fetch('r', 0, 100, 1000);
SELECT min("offset"), count(*) FROM eventlog_topics.r;
-- a group whose committed offset is below the log start resumes there
SELECT eventlog.seek('rg', 'r', 0, 10);
SELECT min("offset"), count(*) FROM eventlog.poll('rg', 'r', max_records => 1000);
SELECT eventlog.leave('rg', 'r');
-- up to the log end: everything goes, offsets are not reused
SELECT eventlog.delete_records('r', 0, 201);
SELECT count(*) FROM eventlog.fetch('r', 0, 201);
SELECT * FROM eventlog.produce('r', '{"n": 201}', key => 'k');
SELECT log_start_offset, log_end_offset FROM eventlog.partitions WHERE topic = 'r';

-- retention by size: closed segments go, oldest first
SELECT eventlog.create_topic('rb', 1, segment_bytes => 16384, retention_bytes => 40000);
SELECT count(*) FROM eventlog.run_maintenance('rb');
-- (one transaction each: a spare made by a transaction is not rolled into
-- by that same transaction, whose rollback would drop it)
INSERT INTO eventlog_topics.rb (key, value)
SELECT 'k', jsonb_build_object('n', g, 'pad', repeat('x', 200)) FROM generate_series(1, 60) g;
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('rb');
INSERT INTO eventlog_topics.rb (key, value)
SELECT 'k', jsonb_build_object('n', g, 'pad', repeat('x', 200)) FROM generate_series(1, 60) g;
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('rb');
INSERT INTO eventlog_topics.rb (key, value)
SELECT 'k', jsonb_build_object('n', g, 'pad', repeat('x', 200)) FROM generate_series(1, 60) g;
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('rb');
INSERT INTO eventlog_topics.rb (key, value)
SELECT 'k', jsonb_build_object('n', g, 'pad', repeat('x', 200)) FROM generate_series(1, 60) g;
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('rb');
INSERT INTO eventlog_topics.rb (key, value)
SELECT 'k', jsonb_build_object('n', g, 'pad', repeat('x', 200)) FROM generate_series(1, 60) g;
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('rb');
INSERT INTO eventlog_topics.rb (key, value)
SELECT 'k', jsonb_build_object('n', g, 'pad', repeat('x', 200)) FROM generate_series(1, 60) g;
SELECT count(*) >= 0 AS pass FROM eventlog.run_maintenance('rb');
SELECT log_start_offset > 0 AS start_moved, log_end_offset, bytes <= 40000 + 2 * 16384 AS bounded
  FROM eventlog.partitions WHERE topic = 'rb';
SELECT count(*) = (SELECT log_end_offset - log_start_offset FROM eventlog.partitions WHERE topic = 'rb')
       AS all_retained_readable
  FROM eventlog_topics.rb;

-- retention by time: a closed segment whose newest record is older
SELECT eventlog.create_topic('rt', 1, segment_bytes => 16384, retention => '1 hour');
SELECT count(*) FROM eventlog.run_maintenance('rt');
INSERT INTO eventlog_topics.rt (ts, key, value)
SELECT now() - interval '2 hours', 'k', jsonb_build_object('n', g, 'pad', repeat('x', 200))
  FROM generate_series(1, 100) g;
INSERT INTO eventlog_topics.rt (key, value) VALUES ('k', '{"n": "new"}');
SELECT action, detail FROM eventlog.run_maintenance('rt') WHERE action <> 'created spare';
SELECT action, detail FROM eventlog.run_maintenance('rt') WHERE action IN ('removed', 'rolled');
SELECT value FROM eventlog_topics.rt WHERE "offset" >= 100;
SELECT log_start_offset > 0 AS start_moved FROM eventlog.partitions WHERE topic = 'rt';

-- bad inputs
SELECT eventlog.delete_records('r', 0, 100000);
SELECT eventlog.delete_records('r', 0, -1);
SELECT eventlog.delete_records('r', 3, 1);
SELECT eventlog.delete_records('nope', 0, 1);
SELECT eventlog.delete_records(NULL, 0, 1);
SELECT eventlog.create_topic('bad', segment_bytes => 100);
SELECT eventlog.create_topic('bad', segment_bytes => -1);
SELECT eventlog.create_topic('bad', retention_bytes => 0);
SELECT eventlog.create_topic('bad', retention => '-1 hour');
SELECT eventlog.create_topic('bad', segment_interval => '10 ms');
SELECT eventlog.create_topic('bad', cleanup_policy => 'shred');
SELECT eventlog.alter_topic('r', segment_bytes => 1);
SELECT eventlog.run_maintenance('nope');
-- owner only
CREATE ROLE ret_reader;
GRANT SELECT ON eventlog_topics.r TO ret_reader;
SET ROLE ret_reader;
SELECT eventlog.delete_records('r', 0, 201);
SELECT eventlog.run_maintenance('r');
SELECT count(*) FROM eventlog.run_maintenance();
SELECT count(*) > 0 AS sees_segments FROM eventlog.segments WHERE topic = 'r';
RESET ROLE;

-- size retention and rolls count what a segment holds in its TOAST table:
-- records of ~50 kB, stored out of line (a record's own entry is a few
-- dozen bytes), into a topic with retention_bytes 1 MB and segment_bytes
-- 256 kB
SELECT eventlog.create_topic('rtoast', 1, retention_bytes => 1048576, segment_bytes => 262144);
SELECT action FROM eventlog.run_maintenance('rtoast');
CREATE FUNCTION rtoast_big(n int) RETURNS jsonb LANGUAGE sql AS
  $$ SELECT jsonb_build_object('n', n, 'big', (SELECT string_agg(md5(n::text || ':' || i), '') FROM generate_series(1, 1600) i)) $$;
-- 40 records (2 MB) in rounds of 5, a maintenance pass after each
\set ECHO none
SELECT format('INSERT INTO eventlog_topics.rtoast (key, value) SELECT ''k'' || g, rtoast_big(g) FROM generate_series(%s, %s) g', r * 5, r * 5 + 4),
       'DO $$ BEGIN PERFORM eventlog.run_maintenance(''rtoast''); END $$'
  FROM generate_series(0, 7) r \gexec
\set ECHO all
SELECT max(pg_column_size(value)) > 50000 AS large_values FROM eventlog_topics.rtoast;
-- segments rolled at segment_bytes (5 records of ~50 kB), their bytes
-- include the TOAST table; retention removed the oldest while the
-- partition was above retention_bytes
SELECT seg_no, records, state, bytes >= records * 50000 AS counts_toast,
       bytes <= 262144 + 65536 AS within_segment_bytes
  FROM eventlog.segments WHERE topic = 'rtoast' ORDER BY seg_no;
SELECT log_start_offset > 0 AS removed, log_end_offset,
       bytes >= (log_end_offset - log_start_offset) * 50000 AS counts_toast,
       bytes <= 1048576 AS within_retention_bytes,
       bytes = (SELECT sum(bytes) FROM eventlog.segments WHERE topic = 'rtoast') AS same_as_segments
  FROM eventlog.partitions WHERE topic = 'rtoast';
SELECT eventlog.drop_topic('rtoast');
DROP FUNCTION rtoast_big(int);
SELECT eventlog.drop_topic('r');
SELECT eventlog.drop_topic('rb');
SELECT eventlog.drop_topic('rt');
SELECT count(*) FROM eventlog.segment_trash;
DROP ROLE ret_reader;
