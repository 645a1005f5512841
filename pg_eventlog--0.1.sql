/* pg_eventlog--0.1.sql */

\echo Use "CREATE EXTENSION pg_eventlog" to load this file. \quit

-- Schemas: "eventlog" (this extension's functions and catalog) is created
-- by CREATE EXTENSION from the control file.  Topic relations live in
-- eventlog_topics, their segments (storage) in eventlog_segments.
CREATE SCHEMA eventlog_topics;
CREATE SCHEMA eventlog_segments;
GRANT USAGE ON SCHEMA eventlog TO PUBLIC;
GRANT USAGE ON SCHEMA eventlog_topics TO PUBLIC;
REVOKE ALL ON SCHEMA eventlog_segments FROM PUBLIC;

-- The table access method
CREATE FUNCTION eventlog.eventlog_tableam_handler(internal)
RETURNS table_am_handler
AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD eventlog TYPE TABLE HANDLER eventlog.eventlog_tableam_handler;
COMMENT ON ACCESS METHOD eventlog IS 'append-only event log storage: topics and their segments';

-- Catalog.  Both tables are dumped by pg_dump (pg_extension_config_dump),
-- as are the topic relations (with their records) and the segment
-- relations (schema only: a direct scan of a segment returns no rows).
CREATE TABLE eventlog.topic_config (
    topic            text PRIMARY KEY,
    partitions       int NOT NULL CHECK (partitions BETWEEN 1 AND 1024),
    retention        interval,
    retention_bytes  bigint,
    cleanup_policy   text NOT NULL DEFAULT 'delete',
    segment_bytes    bigint,
    segment_interval interval,
    delete_retention interval,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE eventlog.segment_map (
    topic       text NOT NULL REFERENCES eventlog.topic_config (topic) ON DELETE CASCADE,
    partition   int NOT NULL,
    seg_no      int NOT NULL,
    segrel      regclass NOT NULL,
    base_offset bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, seg_no)
);

SELECT pg_catalog.pg_extension_config_dump('eventlog.topic_config', '');
SELECT pg_catalog.pg_extension_config_dump('eventlog.segment_map', '');
REVOKE ALL ON eventlog.topic_config, eventlog.segment_map FROM PUBLIC;
GRANT SELECT ON eventlog.topic_config, eventlog.segment_map TO PUBLIC;

-- Topics
CREATE FUNCTION eventlog.create_topic(
    topic text,
    partitions int DEFAULT 1,
    retention interval DEFAULT NULL,
    retention_bytes bigint DEFAULT NULL,
    cleanup_policy text DEFAULT 'delete',
    segment_bytes bigint DEFAULT NULL,
    segment_interval interval DEFAULT NULL,
    delete_retention interval DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_create_topic' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.alter_topic(
    topic text,
    partitions int DEFAULT NULL,
    retention interval DEFAULT NULL,
    retention_bytes bigint DEFAULT NULL,
    cleanup_policy text DEFAULT NULL,
    segment_bytes bigint DEFAULT NULL,
    segment_interval interval DEFAULT NULL,
    delete_retention interval DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_alter_topic' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.drop_topic(topic text, if_exists boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_drop_topic' LANGUAGE C VOLATILE;

-- A topic relation dropped with plain DROP TABLE leaves no catalog rows.
CREATE FUNCTION eventlog.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM eventlog.topic_config c
     USING pg_event_trigger_dropped_objects() d
     WHERE d.object_type = 'table' AND d.schema_name = 'eventlog_topics'
       AND d.object_name = c.topic;
END
$$;
CREATE EVENT TRIGGER eventlog_sql_drop ON sql_drop
    EXECUTE FUNCTION eventlog.on_sql_drop();

-- Produce
CREATE FUNCTION eventlog.produce(
    topic text,
    value jsonb,
    key text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    "partition" int DEFAULT NULL)
RETURNS TABLE ("partition" int, "offset" bigint)
AS 'MODULE_PATHNAME', 'eventlog_produce' LANGUAGE C VOLATILE ROWS 1;

CREATE FUNCTION eventlog.murmur2(bytea) RETURNS int
AS 'MODULE_PATHNAME', 'eventlog_murmur2' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION eventlog.key_partition(key text, partitions int) RETURNS int
AS 'MODULE_PATHNAME', 'eventlog_key_partition' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION eventlog.partition_for(topic text, key text) RETURNS int
AS 'MODULE_PATHNAME', 'eventlog_partition_for' LANGUAGE C STABLE STRICT;

-- Read
CREATE FUNCTION eventlog.fetch(
    topic text,
    "partition" int,
    from_offset bigint,
    max_records int DEFAULT 500,
    wait interval DEFAULT '0')
RETURNS TABLE ("partition" int, "offset" bigint, ts timestamptz, key text,
               value jsonb, headers jsonb)
AS 'MODULE_PATHNAME', 'eventlog_fetch' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.offset_for_time(topic text, "partition" int, ts timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'eventlog_offset_for_time' LANGUAGE C STABLE;

CREATE FUNCTION eventlog.partition_stats(topic text)
RETURNS TABLE ("partition" int, log_start_offset bigint, log_end_offset bigint,
               stable_offset bigint, segments int, bytes bigint)
AS 'MODULE_PATHNAME', 'eventlog_partition_stats' LANGUAGE C STABLE STRICT;

-- Views
CREATE VIEW eventlog.topics AS
SELECT c.topic, c.partitions, c.retention, c.retention_bytes, c.cleanup_policy,
       c.created_at, c.segment_bytes, c.segment_interval, c.delete_retention,
       format('%I.%I', 'eventlog_topics', c.topic)::regclass AS relation
  FROM eventlog.topic_config c;

CREATE VIEW eventlog.partitions AS
SELECT c.topic, s."partition", s.log_start_offset, s.log_end_offset,
       s.stable_offset, s.segments, s.bytes,
       s.log_end_offset - s.log_start_offset AS offsets_retained
  FROM eventlog.topic_config c,
       LATERAL eventlog.partition_stats(c.topic) s;

GRANT SELECT ON eventlog.topics, eventlog.partitions TO PUBLIC;
