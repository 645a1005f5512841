-- Offsets stay below EL_MAX_OFFSET = 2^62 = 4611686018427387904 (a log end
-- offset reaches at most that), explicit offsets are the topic owner's, and
-- the views that span every topic show only topics the role may read and
-- survive a partition they cannot read (issue 7; the damaged-page case is
-- test/t/012_offset_limits.pl).
\set max 4611686018427387904

-- the issue's reproduction: the explicit offset is refused, nothing breaks
SELECT eventlog.create_topic('ov', 1);
INSERT INTO eventlog_topics.ov ("offset", value) VALUES (9223372036854775807, '{}');
INSERT INTO eventlog_topics.ov ("offset", value) VALUES (:max, '{}');
SELECT * FROM eventlog.produce('ov', '{"second":1}');
SELECT count(*) FROM eventlog_topics.ov;
SELECT "partition", log_start_offset, log_end_offset, stable_offset FROM eventlog.partitions
 WHERE topic = 'ov';

-- the last offset there is: accepted, then the partition is full
INSERT INTO eventlog_topics.ov ("offset", value) VALUES (:max - 1, '{"last": true}')
RETURNING "partition", "offset";
SELECT * FROM eventlog.produce('ov', '{"one": "too many"}');
INSERT INTO eventlog_topics.ov (value) VALUES ('{"one": "too many"}');
INSERT INTO eventlog_topics.ov (value) VALUES ('{"one": "too many"}') RETURNING "offset";
COPY eventlog_topics.ov (value) FROM stdin;
{"one": "too many"}
\.
-- nothing goes back below the end either, and nothing wraps
INSERT INTO eventlog_topics.ov ("offset", value) VALUES (5, '{}');
-- ... and the topic reads as before
SELECT "offset", value FROM eventlog_topics.ov ORDER BY "offset";
SELECT "offset", value FROM eventlog.fetch('ov', 0, 0);
SELECT "offset", value FROM eventlog.fetch('ov', 0, :max - 1);
SELECT count(*) FROM eventlog.fetch('ov', 0, 9223372036854775807, 2147483647);
SELECT eventlog.offset_for_time('ov', 0, '-infinity') AS first_offset,
       eventlog.offset_for_time('ov', 0, 'infinity') AS none;
SELECT "partition", log_start_offset, log_end_offset, stable_offset, offsets_retained
  FROM eventlog.partitions WHERE topic = 'ov';
-- a consumer group reads to the very end and commits the log end
SELECT "offset" FROM eventlog.poll('ov_group', 'ov');
SELECT committed_offset, log_end_offset, lag FROM eventlog.consumer_lag WHERE topic = 'ov';
SELECT eventlog.commit('ov_group', 'ov', 0, :max);
SELECT eventlog.commit('ov_group', 'ov', 0, :max + 1);

-- near the limit through every path: produce(), multi-row INSERT, COPY
SELECT eventlog.create_topic('near', 2);
INSERT INTO eventlog_topics.near ("partition", "offset", value)
VALUES (0, :max - 10, '{"i": 1}'), (0, :max - 8, '{"i": 2}'), (1, :max - 3, '{"i": 3}')
RETURNING "partition", "offset";
INSERT INTO eventlog_topics.near ("partition", value)
VALUES (0, '{"i": 4}'), (0, '{"i": 5}'), (1, '{"i": 6}')
RETURNING "partition", "offset";
SELECT * FROM eventlog.produce('near', '{"i": 7}', "partition" => 1);
COPY eventlog_topics.near ("partition", "offset", value) FROM stdin;
0	4611686018427387900	{"i": 8}
0	\N	{"i": 9}
\.
-- a batch that does not fit is refused as a whole: buffered INSERT, COPY
INSERT INTO eventlog_topics.near ("partition", value)
SELECT 0, jsonb_build_object('i', g) FROM generate_series(1, 3) g;
COPY eventlog_topics.near ("partition", value) FROM stdin;
0	{"i": "c1"}
0	{"i": "c2"}
0	{"i": "c3"}
\.
COPY eventlog_topics.near ("partition", "offset", value) FROM stdin;
0	4611686018427387903	{"i": "c4"}
0	4611686018427387904	{"i": "c5"}
\.
SELECT "partition", log_end_offset, stable_offset FROM eventlog.partitions
 WHERE topic = 'near' ORDER BY 1;
-- a rolled-back record keeps its offset used
BEGIN;
SELECT "offset" - :max AS from_max
  FROM eventlog.produce('near', '{"i": "rolled back"}', "partition" => 0);
ROLLBACK;
INSERT INTO eventlog_topics.near ("partition", value)
SELECT 0, jsonb_build_object('i', g) FROM generate_series(10, 11) g;
INSERT INTO eventlog_topics.near ("partition", value) VALUES (0, '{"i": 10}');
SELECT * FROM eventlog.produce('near', '{"i": "full"}', "partition" => 0);
SELECT "partition", log_end_offset, stable_offset FROM eventlog.partitions
 WHERE topic = 'near' ORDER BY 1;
SELECT "partition", "offset" - :max AS from_max, value FROM eventlog_topics.near
 ORDER BY "partition", "offset";

-- log-end markers (partition and offset only, what COPY TO writes for a
-- log end past the last record) and the export header's base offsets
SELECT eventlog.create_topic('marks', 1);
COPY eventlog_topics.marks ("partition", "offset") FROM stdin;
0	9223372036854775807
\.
COPY eventlog_topics.marks ("partition", "offset") FROM stdin;
0	4611686018427387904
\.
COPY eventlog_topics.marks ("partition", "offset") FROM stdin;
0	-1
\.
COPY eventlog_topics.marks ("partition", "offset") FROM stdin;
0	4611686018427387902
\.
SELECT log_end_offset - :max AS end_from_max FROM eventlog.partitions WHERE topic = 'marks';
INSERT INTO eventlog_topics.marks ("partition", "offset") VALUES (0, :max - 1);
SELECT log_end_offset - :max AS end_from_max FROM eventlog.partitions WHERE topic = 'marks';
SELECT * FROM eventlog.produce('marks', '{}');
SELECT count(*) FROM eventlog_topics.marks;
-- the export of a full partition ends with its marker and loads back
-- files go to the output directory, removed with it
\getenv abs_builddir PG_ABS_BUILDDIR
\set marks_copy :abs_builddir '/pg_eventlog_marks.copy'
COPY eventlog_topics.marks TO :'marks_copy';
CREATE TEMP TABLE marks_file ("partition" int, "offset" bigint, ts timestamptz,
                              key text, value jsonb, headers jsonb);
COPY marks_file FROM :'marks_copy';
SELECT "partition", "offset" - :max AS from_max, value IS NULL AS no_value
  FROM marks_file WHERE "partition" >= 0;
CREATE TABLE eventlog_topics.marks_restored ("partition" int, "offset" bigint,
  ts timestamptz, key text, value jsonb, headers jsonb) USING eventlog;
COPY eventlog_topics.marks_restored FROM :'marks_copy';
SELECT log_end_offset - :max AS end_from_max FROM eventlog.partitions
 WHERE topic = 'marks_restored';
SELECT * FROM eventlog.produce('marks_restored', '{}');

CREATE TABLE eventlog_topics.base_bad ("partition" int, "offset" bigint,
  ts timestamptz, key text, value jsonb, headers jsonb) USING eventlog;
COPY eventlog_topics.base_bad FROM stdin;
-1	\N	\N	\N	{"eventlog_topic_export": 1, "partitions": 1, "segments": [{"partition": 0, "seg_no": 0, "base_offset": 4611686018427387905}]}	\N
\.
COPY eventlog_topics.base_bad FROM stdin;
-1	\N	\N	\N	{"eventlog_topic_export": 1, "partitions": 1, "segments": [{"partition": 0, "seg_no": 0, "base_offset": 9223372036854775807}]}	\N
\.
COPY eventlog_topics.base_bad FROM stdin;
-1	\N	\N	\N	{"eventlog_topic_export": 1, "partitions": 1, "segments": [{"partition": 0, "seg_no": 0, "base_offset": 99999999999999999999}]}	\N
\.
SELECT count(*) AS registered FROM eventlog.topic_config WHERE topic = 'base_bad';
-- a base offset at the maximum is a full partition from the start
COPY eventlog_topics.base_bad FROM stdin;
-1	\N	\N	\N	{"eventlog_topic_export": 1, "partitions": 1, "segments": [{"partition": 0, "seg_no": 0, "base_offset": 4611686018427387902}]}	\N
0	4611686018427387902	\N	\N	{"restored": true}	\N
\.
SELECT "offset" - :max AS from_max, value FROM eventlog_topics.base_bad;
SELECT * FROM eventlog.produce('base_bad', '{}');
SELECT * FROM eventlog.produce('base_bad', '{}');

-- TIDs address offsets below 2^30 - 512: indexes and AFTER ROW triggers
-- need them, so offsets beyond are refused there
SELECT eventlog.create_topic('tids', 1);
INSERT INTO eventlog_topics.tids ("offset", value) VALUES (1073741312, '{}');
CREATE INDEX ON eventlog_topics.tids ((value->>'a'));
CREATE FUNCTION tids_after() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'after row offset %', NEW."offset"; RETURN NULL; END$$;
SELECT eventlog.create_topic('tids_trig', 1);
CREATE TRIGGER a AFTER INSERT ON eventlog_topics.tids_trig
  FOR EACH ROW EXECUTE FUNCTION tids_after();
INSERT INTO eventlog_topics.tids_trig ("offset", value) VALUES (1073741311, '{}');
INSERT INTO eventlog_topics.tids_trig (value) VALUES ('{}');
SELECT "offset" FROM eventlog_topics.tids_trig;

-- explicit offsets and log-end markers are the owner's: INSERT privilege
-- alone produces with assigned offsets only
CREATE ROLE off_producer;
CREATE ROLE off_owner;
CREATE ROLE off_owner_member IN ROLE off_owner;
SELECT eventlog.create_topic('owned', 1);
ALTER TABLE eventlog_topics.owned OWNER TO off_owner;
GRANT INSERT, SELECT ON eventlog_topics.owned TO off_producer;
SET ROLE off_producer;
INSERT INTO eventlog_topics.owned ("offset", value) VALUES (10, '{}');
INSERT INTO eventlog_topics.owned ("offset", value) VALUES (:max - 1, '{}');
INSERT INTO eventlog_topics.owned ("partition", "offset") VALUES (0, :max - 1);
INSERT INTO eventlog_topics.owned (value) VALUES ('{"by": "producer"}') RETURNING "offset";
SELECT * FROM eventlog.produce('owned', '{"by": "producer"}');
RESET ROLE;
SET ROLE off_owner_member;
INSERT INTO eventlog_topics.owned ("offset", value) VALUES (10, '{"by": "owner"}')
RETURNING "offset";
RESET ROLE;
SELECT "offset", value FROM eventlog_topics.owned ORDER BY "offset";

-- statistics show only topics the role may read (or pg_read_all_stats)
SELECT eventlog.seek('ov_group', 'owned', 0, 0);
CREATE ROLE off_stranger;
SET ROLE off_stranger;
SELECT topic, "partition", log_end_offset FROM eventlog.partitions ORDER BY 1, 2;
SELECT * FROM eventlog.partition_stats('owned');
SELECT group_id, topic, "partition", committed_offset FROM eventlog.consumer_lag ORDER BY 2;
\set VERBOSITY terse
SELECT eventlog.seek_to_time('ov_group', 'owned', '-infinity');
\set VERBOSITY default
RESET ROLE;
SET ROLE off_producer;
SELECT topic, "partition", log_end_offset FROM eventlog.partitions ORDER BY 1, 2;
SELECT group_id, topic, "partition", committed_offset FROM eventlog.consumer_lag ORDER BY 2;
RESET ROLE;
GRANT pg_read_all_stats TO off_stranger;
SET ROLE off_stranger;
SELECT topic, count(*) FROM eventlog.partitions
 WHERE topic IN ('ov', 'near', 'owned') GROUP BY 1 ORDER BY 1;
SELECT group_id, topic, "partition", committed_offset FROM eventlog.consumer_lag
 WHERE topic IN ('ov', 'owned') ORDER BY 2;
RESET ROLE;

SELECT eventlog.drop_topic(t)
  FROM unnest(ARRAY['ov', 'near', 'marks', 'marks_restored', 'base_bad', 'tids',
                    'tids_trig', 'owned']) t;
DROP FUNCTION tids_after();
DROP ROLE off_stranger, off_producer, off_owner_member, off_owner;
