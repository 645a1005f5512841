--
-- Hostile objects and statements.  Whatever a topic's owner attaches to it
-- (triggers, rules, policies, parents, children, indexes, views,
-- publications) and whatever any role runs against it or its segments must
-- give defined behaviour or a clear error: never a crash, never a damaged
-- log.  At the end the server has not restarted and the topic written at
-- the start reads back exactly.  TAP test 014 runs this file on a cluster
-- of its own and then checks pg_dump and a restore too.
--
\set VERBOSITY terse
SELECT pg_postmaster_start_time() AS hx_started \gset

CREATE ROLE hx_owner;
CREATE ROLE hx_producer;
GRANT CREATE ON SCHEMA eventlog_topics TO hx_owner;
CREATE SCHEMA hx AUTHORIZATION hx_owner;
GRANT USAGE ON SCHEMA hx TO hx_producer;

SET ROLE hx_owner;
SELECT eventlog.create_topic('hx', 3);
SELECT eventlog.create_topic('hx_trig', 2);
SELECT eventlog.create_topic('hx_idx', 2);
GRANT INSERT ON eventlog_topics.hx, eventlog_topics.hx_trig, eventlog_topics.hx_idx TO hx_producer;
INSERT INTO eventlog_topics.hx (key, value, headers)
SELECT 'k' || g, jsonb_build_object('i', g), '{"h": "v"}' FROM generate_series(1, 30) g;
RESET ROLE;
CREATE TABLE hx_before AS SELECT * FROM eventlog_topics.hx;

--
-- Triggers of every timing and level on the insert path.  BEFORE ROW
-- triggers may skip a record (nothing is produced) or change it (it is
-- routed as changed); AFTER triggers see the assigned offsets.
--
SET ROLE hx_owner;
CREATE FUNCTION hx.before_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    CASE NEW.key
        WHEN 'skip' THEN RETURN NULL;
        WHEN 'rekey' THEN NEW.key := 'moved';
        WHEN 'blank' THEN NEW.key := NULL; NEW.value := NULL;
        WHEN 'badpart' THEN NEW."partition" := 99;
        WHEN 'badheaders' THEN NEW.headers := '[1, 2]';
        WHEN 'fail' THEN RAISE EXCEPTION 'rejected by trigger';
        WHEN 'echo' THEN
            IF pg_trigger_depth() < 3 THEN
                PERFORM eventlog.produce(TG_TABLE_NAME, NEW.value, key => 'echo');
            END IF;
        WHEN 'drop' THEN PERFORM eventlog.drop_topic(TG_TABLE_NAME);
        WHEN 'grow' THEN PERFORM eventlog.alter_topic(TG_TABLE_NAME, partitions => 3);
        ELSE NULL;
    END CASE;
    RETURN NEW;
END
$$;
CREATE FUNCTION hx.after_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE '% %: partition %, offset %, key %', TG_NAME, TG_OP,
        NEW."partition", NEW."offset", NEW.key;
    RETURN NULL;
END
$$;
CREATE FUNCTION hx.statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE '% % %', TG_NAME, TG_WHEN, TG_OP;
    RETURN NULL;
END
$$;
CREATE FUNCTION hx.transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'transition table: % rows, offsets %', (SELECT count(*) FROM newrows),
        (SELECT string_agg("partition" || ':' || "offset", ' ' ORDER BY "partition", "offset") FROM newrows);
    RETURN NULL;
END
$$;
CREATE TRIGGER a_before BEFORE INSERT ON eventlog_topics.hx_trig
    FOR EACH ROW EXECUTE FUNCTION hx.before_row();
CREATE TRIGGER b_after AFTER INSERT ON eventlog_topics.hx_trig
    FOR EACH ROW EXECUTE FUNCTION hx.after_row();
CREATE TRIGGER c_stmt_before BEFORE INSERT ON eventlog_topics.hx_trig
    FOR EACH STATEMENT EXECUTE FUNCTION hx.statement();
CREATE TRIGGER d_stmt_after AFTER INSERT ON eventlog_topics.hx_trig
    FOR EACH STATEMENT EXECUTE FUNCTION hx.statement();
CREATE TRIGGER e_transition AFTER INSERT ON eventlog_topics.hx_trig
    REFERENCING NEW TABLE AS newrows FOR EACH STATEMENT EXECUTE FUNCTION hx.transition();
CREATE CONSTRAINT TRIGGER f_deferred AFTER INSERT ON eventlog_topics.hx_trig
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hx.after_row();
-- a trigger cannot stand in for an INSERT on a table
CREATE TRIGGER g_instead INSTEAD OF INSERT ON eventlog_topics.hx_trig
    FOR EACH ROW EXECUTE FUNCTION hx.before_row();
-- nor truncate a topic holding records
CREATE TRIGGER h_truncate BEFORE TRUNCATE ON eventlog_topics.hx_trig
    FOR EACH STATEMENT EXECUTE FUNCTION hx.statement();
RESET ROLE;

SET ROLE hx_producer;
SELECT * FROM eventlog.produce('hx_trig', '{"n": 1}', key => 'skip');
SELECT * FROM eventlog.produce('hx_trig', '{"n": 2}', key => 'rekey');
SELECT eventlog.partition_for('hx_trig', 'moved') AS partition_of_moved;
SELECT * FROM eventlog.produce('hx_trig', '{"n": 3}', key => 'blank');
SELECT * FROM eventlog.produce('hx_trig', '{"n": 4}', key => 'badpart');
SELECT * FROM eventlog.produce('hx_trig', '{"n": 5}', key => 'badheaders');
SELECT * FROM eventlog.produce('hx_trig', '{"n": 6}', key => 'fail');
SELECT * FROM eventlog.produce('hx_trig', '{"n": 7}', key => 'echo');
INSERT INTO eventlog_topics.hx_trig (key, value)
VALUES ('skip', '{"n": 8}'), ('plain', '{"n": 9}'), ('rekey', '{"n": 10}');
INSERT INTO eventlog_topics.hx_trig (key, value) VALUES ('skip', '{"n": 11}');
-- RETURNING reads the row back, which needs SELECT
INSERT INTO eventlog_topics.hx_trig (key, value) VALUES ('plain', '{"n": 11}')
RETURNING "partition", "offset";
COPY eventlog_topics.hx_trig (key, value) FROM stdin;
skip	{"n": 12}
copied	{"n": 13}
\.
-- an export header needs the owner (indexes and triggers must not see it)
COPY eventlog_topics.hx_trig FROM stdin;
-1	\N	\N	\N	{"eventlog_topic_export": 1, "partitions": 5, "segments": []}	\N
\.
-- only the owner may drop or grow the topic, also from a trigger
SELECT * FROM eventlog.produce('hx_trig', '{"n": 14}', key => 'drop');
SELECT * FROM eventlog.produce('hx_trig', '{"n": 15}', key => 'grow');
TRUNCATE eventlog_topics.hx_trig;
RESET ROLE;
SET ROLE hx_owner;
-- the topic is in use by the very statement that would drop it
SELECT * FROM eventlog.produce('hx_trig', '{"n": 16}', key => 'drop');
-- partitions added while a record is on its way: it routes over the new count
SELECT * FROM eventlog.produce('hx_trig', '{"n": 17}', key => 'grow');
SELECT eventlog.partition_for('hx_trig', 'grow') AS partition_of_grow;
TRUNCATE eventlog_topics.hx_trig;
INSERT INTO eventlog_topics.hx_trig (key, value)
VALUES ('skip', '{"n": 18}'), ('rekey', '{"n": 19}'), ('owned', '{"n": 20}')
RETURNING "partition", "offset", key;
RESET ROLE;
SELECT "partition", "offset", key, value FROM eventlog_topics.hx_trig ORDER BY 1, 2;

--
-- Rules: refused on topics and segments (an INSTEAD rule would swallow
-- produce(), an ON SELECT rule would hide the log).
--
SELECT format('eventlog_segments.%I', relname) AS hx_seg
  FROM pg_class WHERE oid = (SELECT min(segrel::oid) FROM eventlog.segment_map WHERE topic = 'hx') \gset
SET ROLE hx_owner;
CREATE RULE hx_nothing AS ON INSERT TO eventlog_topics.hx DO INSTEAD NOTHING;
CREATE RULE hx_also AS ON INSERT TO eventlog_topics.hx DO ALSO NOTIFY hx;
CREATE RULE "_RETURN" AS ON SELECT TO eventlog_topics.hx DO INSTEAD SELECT * FROM hx_before;

--
-- Row-level security cannot be enabled (fetch and poll read records
-- directly); a policy alone changes nothing.
--
CREATE POLICY hx_none ON eventlog_topics.hx USING (false);
ALTER TABLE eventlog_topics.hx ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventlog_topics.hx FORCE ROW LEVEL SECURITY;

--
-- Inheritance and partitioning, both ways, for topics and segments.
--
CREATE TABLE hx.parted ("partition" int, "offset" bigint, ts timestamptz, key text,
                        value jsonb, headers jsonb) PARTITION BY LIST ("partition");
CREATE TABLE hx.parent ("partition" int, "offset" bigint, ts timestamptz, key text,
                        value jsonb, headers jsonb);
ALTER TABLE hx.parted ATTACH PARTITION eventlog_topics.hx DEFAULT;
ALTER TABLE hx.parted ATTACH PARTITION eventlog_topics.hx FOR VALUES IN (0, 1, 2);
ALTER TABLE eventlog_topics.hx INHERIT hx.parent;
ALTER TABLE hx.parent INHERIT eventlog_topics.hx;
CREATE TABLE hx.child () INHERITS (eventlog_topics.hx);
CREATE TABLE hx.child2 () INHERITS (hx.parent, eventlog_topics.hx);
CREATE TABLE hx.part_of PARTITION OF eventlog_topics.hx FOR VALUES IN (5);
-- a parent's ALTER would recurse into the topic if it were a child
ALTER TABLE hx.parted ADD COLUMN extra text DEFAULT 'dflt';
ALTER TABLE hx.parent DROP COLUMN key;

--
-- Changes to a topic's definition, directly and through other names.
--
ALTER TABLE eventlog_topics.hx ADD COLUMN extra text;
ALTER TABLE eventlog_topics.hx DROP COLUMN headers;
ALTER TABLE eventlog_topics.hx ALTER COLUMN key TYPE varchar(10);
CREATE DOMAIN hx.strict_json AS jsonb CHECK (VALUE <> 'null');
ALTER TABLE eventlog_topics.hx ALTER COLUMN value TYPE hx.strict_json;
ALTER TABLE eventlog_topics.hx ALTER COLUMN ts SET DEFAULT '2000-01-01';
ALTER TABLE eventlog_topics.hx ALTER COLUMN value SET NOT NULL;
ALTER TABLE eventlog_topics.hx ALTER COLUMN value SET STORAGE EXTERNAL;
ALTER TABLE eventlog_topics.hx ADD CONSTRAINT hx_check CHECK (key <> 'x');
ALTER TABLE eventlog_topics.hx SET (fillfactor = 50);
ALTER TABLE eventlog_topics.hx SET UNLOGGED;
ALTER TABLE eventlog_topics.hx SET TABLESPACE pg_default;
ALTER TABLE eventlog_topics.hx SET SCHEMA hx;
ALTER TABLE eventlog_topics.hx RENAME TO hx_renamed;
ALTER TABLE eventlog_topics.hx RENAME COLUMN key TO k;
ALTER INDEX eventlog_topics.hx RENAME TO hx_renamed;
ALTER VIEW eventlog_topics.hx RENAME TO hx_renamed;
ALTER TYPE eventlog_topics.hx ADD ATTRIBUTE extra int;
ALTER TYPE eventlog_topics.hx RENAME TO hx_renamed;
-- what may change: statistics targets, replica identity, triggers, owner
ALTER TABLE eventlog_topics.hx ALTER COLUMN key SET STATISTICS 500;
ALTER TABLE eventlog_topics.hx REPLICA IDENTITY FULL;
ALTER TABLE eventlog_topics.hx_trig DISABLE TRIGGER a_before;
COMMENT ON TABLE eventlog_topics.hx IS 'a hostile test topic';
COMMENT ON COLUMN eventlog_topics.hx.value IS 'payload';
SECURITY LABEL ON TABLE eventlog_topics.hx IS 'secret';

--
-- Rewrites, indexes, maintenance.
--
CREATE INDEX hx_key ON eventlog_topics.hx (key);
CLUSTER eventlog_topics.hx USING hx_key;
ALTER TABLE eventlog_topics.hx CLUSTER ON hx_key;
VACUUM FULL eventlog_topics.hx;
VACUUM eventlog_topics.hx;
ANALYZE eventlog_topics.hx;
REINDEX TABLE eventlog_topics.hx;
CREATE STATISTICS hx.hx_stats ON key, value FROM eventlog_topics.hx;
ANALYZE eventlog_topics.hx;
SET enable_seqscan = off;
SELECT "partition", "offset", key FROM eventlog_topics.hx WHERE key = 'k7';
RESET enable_seqscan;

-- a unique index: duplicates are refused, also against uncommitted records
CREATE UNIQUE INDEX hx_idx_key ON eventlog_topics.hx_idx (key);
CREATE UNIQUE INDEX hx_idx_pos ON eventlog_topics.hx_idx ("partition", "offset");
RESET ROLE;
SET ROLE hx_producer;
SELECT * FROM eventlog.produce('hx_idx', '{"n": 1}', key => 'u1');
SELECT * FROM eventlog.produce('hx_idx', '{"n": 2}', key => 'u1');
INSERT INTO eventlog_topics.hx_idx (key, value) VALUES ('u2', '{}'), ('u2', '{}');
INSERT INTO eventlog_topics.hx_idx (key, value) VALUES ('u2', '{}');
RESET ROLE;
SET ROLE hx_owner;
-- foreign keys into a topic cannot lock its rows
CREATE TABLE hx.refs (p int, o bigint, FOREIGN KEY (p, o) REFERENCES eventlog_topics.hx_idx ("partition", "offset"));
INSERT INTO hx.refs VALUES (0, 0);
-- a view over a topic: inserts route, changes are refused
CREATE VIEW hx.v AS SELECT * FROM eventlog_topics.hx_idx;
INSERT INTO hx.v (key, value) VALUES ('via-view', '{}') RETURNING "partition", "offset";
UPDATE hx.v SET value = '{}';
DELETE FROM hx.v;
SELECT key FROM eventlog_topics.hx_idx ORDER BY key;

--
-- Cursors: a SCROLL cursor reads backward through a materialized copy;
-- a plain one says that a topic is read forward.
--
BEGIN;
DECLARE hx_seq SCROLL CURSOR FOR SELECT "partition", "offset", key FROM eventlog_topics.hx;
FETCH 3 FROM hx_seq;
FETCH BACKWARD 2 FROM hx_seq;
FETCH LAST FROM hx_seq;
FETCH ABSOLUTE 2 FROM hx_seq;
DECLARE hx_fwd CURSOR FOR SELECT "partition", "offset" FROM eventlog_topics.hx;
FETCH 2 FROM hx_fwd;
FETCH BACKWARD 1 FROM hx_fwd;
ROLLBACK;

--
-- Segments are the topic's storage, out of reach of every role but
-- superusers (no USAGE on their schema), and not for direct use by those.
-- Their names carry the topic's OID: hx.try() reports errors without it.
--
SELECT count(*) FROM :hx_seg;
RESET ROLE;
CREATE FUNCTION hx.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'done';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 't[0-9]+_p([0-9]+)_s([0-9]+)', 'tOID_p\1_s\2', 'g');
END
$$;
SELECT stmt, hx.try(format(stmt, :'hx_seg')) AS result
  FROM (VALUES ('CREATE RULE hx_seg_rule AS ON INSERT TO %s DO INSTEAD NOTHING'),
               ('ALTER TABLE hx.parted ATTACH PARTITION %s DEFAULT'),
               ('CREATE TABLE hx.seg_child () INHERITS (%s)'),
               ('INSERT INTO %s (key, value) VALUES (''direct'', ''{}'')'),
               ('UPDATE %s SET value = ''{}'''),
               ('DELETE FROM %s'),
               ('TRUNCATE %s'),
               ('DROP TABLE %s'),
               ('ALTER TABLE %s OWNER TO hx_producer'),
               ('ALTER TABLE %s ADD COLUMN extra int'),
               ('ALTER TABLE %s RENAME TO hx_seg'),
               ('ALTER TABLE %s SET SCHEMA hx'),
               ('CREATE PUBLICATION hx_pub_seg FOR TABLE %s'),
               ('CREATE PUBLICATION hx_pub_schema FOR TABLES IN SCHEMA eventlog_segments')) AS t(stmt);
-- read through SQL, a segment is empty: its records are the topic's rows
SELECT count(*) AS rows_through_segment FROM :hx_seg;

--
-- Publications carry topics, never segments.
--
CREATE PUBLICATION hx_pub FOR TABLE eventlog_topics.hx;
SELECT hx.try(format('ALTER PUBLICATION hx_pub ADD TABLE %s', :'hx_seg')) AS add_segment;
-- nor the extension's catalog: FOR ALL TABLES would carry it (issue 17 item 4)
SELECT stmt, hx.try(stmt) AS result
  FROM (VALUES ('CREATE PUBLICATION hx_pub_all FOR ALL TABLES'),
               ('CREATE PUBLICATION hx_pub_cat FOR TABLE eventlog.segment_map'),
               ('CREATE PUBLICATION hx_pub_cats FOR TABLES IN SCHEMA eventlog'),
               ('ALTER PUBLICATION hx_pub ADD TABLE eventlog.group_offset'),
               ('ALTER PUBLICATION hx_pub ADD TABLES IN SCHEMA eventlog'),
               ('ALTER PUBLICATION hx_pub SET TABLE eventlog_topics.hx, eventlog.consumer_group')) AS t(stmt);
SET search_path = eventlog, public;
SELECT hx.try('CREATE PUBLICATION hx_pub_cur FOR TABLES IN SCHEMA CURRENT_SCHEMA') AS current_schema_eventlog;
SET search_path = eventlog_segments, public;
SELECT hx.try('CREATE PUBLICATION hx_pub_cur FOR TABLES IN SCHEMA CURRENT_SCHEMA') AS current_schema_segments;
RESET search_path;
\set VERBOSITY default
CREATE PUBLICATION hx_pub_all FOR ALL TABLES;
\set VERBOSITY terse
-- what may be published: every topic, and the user's own tables
CREATE PUBLICATION hx_pub_ok FOR TABLES IN SCHEMA eventlog_topics, hx;
SELECT schemaname, count(*) > 0 AS published FROM pg_publication_tables
 WHERE pubname = 'hx_pub_ok' GROUP BY 1 ORDER BY 1;
DROP PUBLICATION hx_pub_ok;

--
-- pg_dump locks and copies a segment that maintenance dropped since its
-- snapshot as the empty table it was (TAP 034); a segment name that no
-- snapshot ever saw is still an error, in every isolation level.
--
BEGIN ISOLATION LEVEL REPEATABLE READ;
LOCK TABLE eventlog_segments.t0_p0_s0 IN ACCESS SHARE MODE;
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
COPY eventlog_segments.t0_p0_s0 TO STDOUT;
ROLLBACK;
LOCK TABLE eventlog_segments.t0_p0_s0 IN ACCESS SHARE MODE;
COPY eventlog_segments.t0_p0_s0 TO STDOUT;

--
-- The extension's members and schemas stay what its script made.
--
ALTER EXTENSION pg_eventlog DROP TABLE eventlog.topic_config;
ALTER EXTENSION pg_eventlog ADD TABLE eventlog_topics.hx;
ALTER SCHEMA eventlog_topics RENAME TO hx_topics;
ALTER SCHEMA eventlog_segments RENAME TO hx_segments;

--
-- An ordinary table in the topics schema is ordinary; it is no topic.
--
CREATE TABLE eventlog_topics.hx_plain (x int);
INSERT INTO eventlog_topics.hx_plain VALUES (1);
UPDATE eventlog_topics.hx_plain SET x = 2;
DELETE FROM eventlog_topics.hx_plain;
TRUNCATE eventlog_topics.hx_plain;
SELECT * FROM eventlog.produce('hx_plain', '{}');
SELECT * FROM eventlog.fetch('hx_plain', 0, 0);
DROP TABLE eventlog_topics.hx_plain;

--
-- Nothing above damaged the log or the server.
--
SELECT count(*) AS records,
       (SELECT count(*) FROM (SELECT * FROM eventlog_topics.hx
                              EXCEPT ALL SELECT * FROM hx_before) d) AS unexpected,
       (SELECT count(*) FROM (SELECT * FROM hx_before
                              EXCEPT ALL SELECT * FROM eventlog_topics.hx) d) AS missing
  FROM eventlog_topics.hx;
SELECT "partition", log_start_offset, log_end_offset, stable_offset
  FROM eventlog.partitions WHERE topic = 'hx' ORDER BY 1;
SELECT pg_postmaster_start_time() = :'hx_started' AS server_never_restarted;
