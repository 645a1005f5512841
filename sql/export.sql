-- The topic export format: COPY <topic> TO starts with a header row that
-- carries the topic's configuration, and COPY <topic> FROM registers the
-- topic from it.  This is what makes pg_dump's data of one topic enough to
-- restore it, in any order (pg_restore -j; test/t/003 runs the real thing).
SELECT eventlog.create_topic('ex', partitions => 3, retention => '7 days',
                             retention_bytes => 1000000, cleanup_policy => 'compact,delete');
SELECT count(*) FROM generate_series(1, 30) g,
  LATERAL eventlog.produce('ex', jsonb_build_object('n', g), key => 'k' || (g % 5),
                           headers => jsonb_build_object('h', g::text));
BEGIN;
SELECT count(*) FROM eventlog.produce('ex', '{"aborted": true}', key => 'a', "partition" => 2);
ROLLBACK;
-- files go to the output directory, removed with it
\getenv abs_builddir PG_ABS_BUILDDIR
\set ex_copy :abs_builddir '/pg_eventlog_ex.copy'
\set ex_cols_copy :abs_builddir '/pg_eventlog_ex_cols.copy'
COPY eventlog_topics.ex TO :'ex_copy';

-- the header: partition -1, no offset, the configuration as the value
CREATE TEMP TABLE ex_file ("partition" int, "offset" bigint, ts timestamptz,
                           key text, value jsonb, headers jsonb);
COPY ex_file FROM :'ex_copy';
SELECT "partition", "offset", ts, key, headers,
       value - 'created_at' - 'segments' AS config,
       (value->>'created_at')::timestamptz = (SELECT created_at FROM eventlog.topics WHERE topic = 'ex') AS created_at_kept,
       jsonb_array_length(value->'segments') AS segments
  FROM ex_file WHERE "partition" = -1;
SELECT count(*) AS header_rows FROM ex_file WHERE "partition" = -1;
-- a column list without the value: no header
COPY eventlog_topics.ex ("partition", "offset", key) TO :'ex_cols_copy';
CREATE TEMP TABLE ex_cols ("partition" int, "offset" bigint, key text);
COPY ex_cols FROM :'ex_cols_copy';
SELECT count(*) FILTER (WHERE "partition" = -1) AS header_rows, count(*) AS all_rows FROM ex_cols;

-- a topic relation the catalog does not know (as pg_restore creates it)
-- becomes the topic the header describes, records at their offsets
CREATE TABLE eventlog_topics.ex_restored ("partition" int, "offset" bigint,
  ts timestamptz, key text, value jsonb, headers jsonb) USING eventlog;
COPY eventlog_topics.ex_restored FROM :'ex_copy';
SELECT partitions, retention, retention_bytes, cleanup_policy,
       created_at = (SELECT created_at FROM eventlog.topics WHERE topic = 'ex') AS created_at_kept
  FROM eventlog.topics WHERE topic = 'ex_restored';
SELECT "partition", log_end_offset, segments FROM eventlog.partitions
 WHERE topic = 'ex_restored' ORDER BY 1;
SELECT count(*) AS differing_rows FROM (
  (SELECT * FROM eventlog_topics.ex EXCEPT ALL SELECT * FROM eventlog_topics.ex_restored)
  UNION ALL
  (SELECT * FROM eventlog_topics.ex_restored EXCEPT ALL SELECT * FROM eventlog_topics.ex)) d;
SELECT * FROM eventlog.produce('ex_restored', '{"after": "restore"}', key => 'a', "partition" => 2);
-- its segments go with it
SELECT eventlog.drop_topic('ex_restored');
SELECT count(*) AS catalog_rows FROM eventlog.segment_map WHERE topic = 'ex_restored';

-- loading an export into a topic with fewer partitions adds the missing ones
SELECT eventlog.create_topic('ex_small', partitions => 1);
COPY eventlog_topics.ex_small FROM :'ex_copy';
SELECT partitions, retention FROM eventlog.topics WHERE topic = 'ex_small';
SELECT count(*) AS rows FROM eventlog_topics.ex_small;
-- ... and into one that has them all changes nothing but the records
SELECT eventlog.create_topic('ex_big', partitions => 4);
COPY eventlog_topics.ex_big FROM :'ex_copy';
SELECT partitions, retention FROM eventlog.topics WHERE topic = 'ex_big';

-- bad headers change nothing
CREATE TABLE eventlog_topics.ex_bad ("partition" int, "offset" bigint,
  ts timestamptz, key text, value jsonb, headers jsonb) USING eventlog;
COPY eventlog_topics.ex_bad FROM stdin;
-1	\N	\N	\N	{"partitions": 2}	\N
\.
COPY eventlog_topics.ex_bad FROM stdin;
-1	\N	\N	\N	{"eventlog_topic_export": 1, "partitions": 0}	\N
\.
COPY eventlog_topics.ex_bad FROM stdin;
-1	\N	\N	\N	{"eventlog_topic_export": 1, "partitions": 1, "retention": "-1 day"}	\N
\.
COPY eventlog_topics.ex_bad FROM stdin;
-1	\N	\N	\N	{"eventlog_topic_export": 1, "partitions": 1, "segments": [{"partition": 5, "seg_no": 0, "base_offset": 0}]}	\N
\.
SELECT count(*) AS registered FROM eventlog.topic_config WHERE topic = 'ex_bad';
-- a header is only a header in COPY FROM: produce() and INSERT see partition -1
SELECT eventlog.produce('ex', '{"eventlog_topic_export": 1, "partitions": 9}', "partition" => -1);
INSERT INTO eventlog_topics.ex ("partition", value) VALUES (-1, '{"eventlog_topic_export": 1, "partitions": 9}');
SELECT partitions FROM eventlog.topics WHERE topic = 'ex';

-- registering a topic from a header takes its owner
CREATE ROLE ex_stranger;
GRANT INSERT ON eventlog_topics.ex_bad TO ex_stranger;
SET ROLE ex_stranger;
COPY eventlog_topics.ex_bad FROM stdin;
-1	\N	\N	\N	{"eventlog_topic_export": 1, "partitions": 1}	\N
\.
RESET ROLE;
SELECT count(*) AS registered FROM eventlog.topic_config WHERE topic = 'ex_bad';
DROP TABLE eventlog_topics.ex_bad;
DROP ROLE ex_stranger;

SELECT eventlog.drop_topic('ex');
SELECT eventlog.drop_topic('ex_small');
SELECT eventlog.drop_topic('ex_big');

-- into a topic with an index or a row trigger, COPY FROM skips the header
-- (the executor would hand it to them); the records route as always
SELECT eventlog.create_topic('ex_ix', partitions => 3);
CREATE INDEX ex_ix_key ON eventlog_topics.ex_ix (key);
COPY eventlog_topics.ex_ix FROM :'ex_copy' WHERE key IS DISTINCT FROM 'k1';
SET enable_seqscan = off;
SELECT count(*) AS k1_by_index FROM eventlog_topics.ex_ix WHERE key = 'k1';
SELECT count(*) AS k2_by_index FROM eventlog_topics.ex_ix WHERE key = 'k2';
RESET enable_seqscan;
SELECT count(*) AS rows FROM eventlog_topics.ex_ix;
SELECT "partition", log_end_offset FROM eventlog.partitions WHERE topic = 'ex_ix' ORDER BY 1;
CREATE TABLE ex_seen (partition int, "offset" bigint);
CREATE FUNCTION ex_seen_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ex_seen VALUES (NEW.partition, NEW."offset");
  RETURN NULL;
END $$;
SELECT eventlog.create_topic('ex_trig', partitions => 3);
CREATE TRIGGER ex_seen AFTER INSERT ON eventlog_topics.ex_trig
  FOR EACH ROW EXECUTE FUNCTION ex_seen_row();
COPY eventlog_topics.ex_trig FROM :'ex_copy';
-- 30 records and the log-end marker of partition 2 (an aborted record
-- ended it), as COPY gave them; no header
SELECT count(*) AS seen, min(partition) AS min_partition,
       count(*) FILTER (WHERE "offset" IS NULL) AS without_offset FROM ex_seen;
SELECT * FROM eventlog_topics.ex_trig t RIGHT JOIN ex_seen s USING ("partition", "offset")
 WHERE t.value IS NULL;
SELECT eventlog.drop_topic('ex_ix');
SELECT eventlog.drop_topic('ex_trig');
DROP TABLE ex_seen;
DROP FUNCTION ex_seen_row();

-- only a relation with a topic's columns and name can become a topic
CREATE TABLE eventlog_topics.ex_shape ("partition" int, "offset" bigint,
  ts timestamptz, key text, value jsonb, headers text) USING eventlog;
COPY eventlog_topics.ex_shape FROM :'ex_copy';
DROP TABLE eventlog_topics.ex_shape;
CREATE TABLE eventlog_topics."bad name" ("partition" int, "offset" bigint,
  ts timestamptz, key text, value jsonb, headers jsonb) USING eventlog;
COPY eventlog_topics."bad name" FROM :'ex_copy';
DROP TABLE eventlog_topics."bad name";
SELECT count(*) AS registered FROM eventlog.topic_config WHERE topic IN ('ex_shape', 'bad name');

-- the catalog writes run as the extension's owner (a superuser here), and
-- no function or operator from the caller's search_path runs with them:
-- these traps fire whenever they run as anyone but their caller
CREATE ROLE ex_user;
GRANT CREATE ON SCHEMA eventlog_topics TO ex_user;
GRANT pg_read_server_files TO ex_user;
CREATE SCHEMA ex_evil;
GRANT USAGE ON SCHEMA ex_evil TO ex_user;
CREATE FUNCTION ex_evil.trap(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF current_user <> 'ex_user' THEN
    RAISE EXCEPTION 'a caller''s operator ran as %', current_user;
  END IF;
  RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR ex_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = ex_evil.trap);
CREATE FUNCTION ex_evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
  IF current_user <> 'ex_user' THEN
    RAISE EXCEPTION 'a caller''s now() ran as %', current_user;
  END IF;
  RETURN pg_catalog.now();
END $$;
SET ROLE ex_user;
SET search_path = ex_evil, pg_catalog, public;
SELECT eventlog.create_topic('ex_safe', partitions => 1);
SELECT eventlog.alter_topic('ex_safe', partitions => 2, retention => '1 day');
COPY eventlog_topics.ex_safe FROM :'ex_copy';
SELECT partitions FROM eventlog.topics WHERE topic = 'ex_safe';
SELECT count(*) AS polled FROM eventlog.poll('ex_group', 'ex_safe', 100);
SELECT eventlog.commit('ex_group', 'ex_safe', 0, 1);
SELECT eventlog.drop_topic('ex_safe');
RESET search_path;
RESET ROLE;
DROP SCHEMA ex_evil CASCADE;
REVOKE CREATE ON SCHEMA eventlog_topics FROM ex_user;
DROP ROLE ex_user;
