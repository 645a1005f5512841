/* pg_eventlog--1.0.sql */

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

-- Catalog.  pg_dump does not dump these two tables: the COPY of each topic
-- relation starts with a header row carrying the topic's configuration and
-- segment list, and COPY FROM registers the topic from it (topicdump.c).
-- So a topic's records never depend on another table being restored
-- first, which parallel pg_restore could not guarantee.
CREATE TABLE eventlog.topic_config (
    topic            text PRIMARY KEY,
    partitions       int NOT NULL CHECK (partitions BETWEEN 1 AND 1024),
    retention        interval,
    retention_bytes  bigint,
    cleanup_policy   text NOT NULL DEFAULT 'delete',
    segment_bytes    bigint,
    segment_interval interval,
    delete_retention interval,
    created_at       timestamptz NOT NULL DEFAULT now(),
    min_compaction_lag interval
);

-- base_offset NULL: a spare segment, made ahead of time so that producers
-- never run DDL; a roll starts it where the previous one ends (its first
-- page says where; maintenance then fills base_offset in).  min_offset:
-- records below it are deleted (delete_records); the log start offset is
-- the larger of it and the first segment's start.
CREATE TABLE eventlog.segment_map (
    topic       text NOT NULL,
    partition   int NOT NULL,
    seg_no      int NOT NULL,
    segrel      regclass NOT NULL,
    base_offset bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    min_offset  bigint,
    -- compaction (src/maint/compact.c): the transaction that last swapped
    -- segrel for a rewritten relation, and the relation it replaced while
    -- that one is not dropped yet (snapshots older than the swap read it);
    -- when compaction last went through the segment (rewritten or not)
    compacted_xid   xid8,
    replaced_segrel oid,
    compacted_at    timestamptz,
    PRIMARY KEY (topic, partition, seg_no),
    UNIQUE (segrel)
);

-- Segments removed from segment_map (retention, delete_records) but not
-- yet dropped: a snapshot older than the removal may still read them.
-- Maintenance drops one once removed_xid is older than every running
-- transaction's xmin (and its successor is gone too: a record appended
-- across a roll may keep TOASTed data in the previous segment).
CREATE TABLE eventlog.segment_trash (
    segrel      oid PRIMARY KEY,
    topic       text NOT NULL,
    partition   int NOT NULL,
    seg_no      int NOT NULL,
    removed_xid xid8 NOT NULL,
    removed_at  timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON eventlog.topic_config, eventlog.segment_map, eventlog.segment_trash FROM PUBLIC;
GRANT SELECT ON eventlog.topic_config, eventlog.segment_map, eventlog.segment_trash TO PUBLIC;

-- Topics
CREATE FUNCTION eventlog.create_topic(
    topic text,
    partitions int DEFAULT 1,
    retention interval DEFAULT NULL,
    retention_bytes bigint DEFAULT NULL,
    cleanup_policy text DEFAULT 'delete',
    segment_bytes bigint DEFAULT NULL,
    segment_interval interval DEFAULT NULL,
    delete_retention interval DEFAULT NULL,
    min_compaction_lag interval DEFAULT NULL)
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
    delete_retention interval DEFAULT NULL,
    min_compaction_lag interval DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_alter_topic' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.drop_topic(topic text, if_exists boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_drop_topic' LANGUAGE C VOLATILE;

-- A topic relation dropped with plain DROP TABLE (or drop_topic) leaves no
-- catalog rows: no topic, segment, group or committed offset survives it.
-- (No foreign keys tie these tables together: pg_restore -j loads them in
-- any order.)
CREATE FUNCTION eventlog.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    seg regclass;
    dropped text[];
BEGIN
    SELECT array_agg(d.object_name) INTO dropped
      FROM pg_event_trigger_dropped_objects() d
     WHERE d.object_type = 'table' AND d.schema_name = 'eventlog_topics';
    IF dropped IS NULL THEN
        RETURN;
    END IF;
    -- segments normally go with their topic (dependency), but not after a
    -- pg_restore that created them as tables of their own
    FOR seg IN
        SELECT m.segrel FROM eventlog.segment_map m
         WHERE m.topic = ANY (dropped)
           AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = m.segrel)
    LOOP
        EXECUTE format('DROP TABLE %s', seg);
    END LOOP;
    DELETE FROM eventlog.group_offset WHERE topic = ANY (dropped);
    DELETE FROM eventlog.consumer_group WHERE topic = ANY (dropped);
    DELETE FROM eventlog.segment_map WHERE topic = ANY (dropped);
    DELETE FROM eventlog.segment_trash WHERE topic = ANY (dropped);
    DELETE FROM eventlog.topic_config WHERE topic = ANY (dropped);
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

-- from_offset => 'earliest' (the log start offset, resolved as the records
-- are read), 'latest' (the stable offset: what commits from now on) or an
-- offset as text
CREATE FUNCTION eventlog.fetch(
    topic text,
    "partition" int,
    from_offset text,
    max_records int DEFAULT 500,
    wait interval DEFAULT '0')
RETURNS TABLE ("partition" int, "offset" bigint, ts timestamptz, key text,
               value jsonb, headers jsonb)
AS 'MODULE_PATHNAME', 'eventlog_fetch_from' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.offset_for_time(topic text, "partition" int, ts timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'eventlog_offset_for_time' LANGUAGE C STABLE;

-- Figures of a topic's partitions, computed from page headers.  No rows for
-- a topic the current role may not read (SELECT on the topic relation),
-- unless it has pg_read_all_stats, as pg_stat_activity hides other roles'
-- queries: eventlog.partitions and eventlog.consumer_lag, which use it, show
-- offsets and sizes of readable topics only.  A partition that cannot be
-- read (a damaged page) gets NULL figures and a WARNING instead of an error.
CREATE FUNCTION eventlog.partition_stats(topic text)
RETURNS TABLE ("partition" int, log_start_offset bigint, log_end_offset bigint,
               stable_offset bigint, segments int, bytes bigint)
AS 'MODULE_PATHNAME', 'eventlog_partition_stats' LANGUAGE C STABLE STRICT;

-- Views
CREATE VIEW eventlog.topics AS
SELECT c.topic, c.partitions, c.retention, c.retention_bytes, c.cleanup_policy,
       c.created_at, c.segment_bytes, c.segment_interval, c.delete_retention,
       format('%I.%I', 'eventlog_topics', c.topic)::regclass AS relation,
       c.min_compaction_lag
  FROM eventlog.topic_config c;

CREATE VIEW eventlog.partitions AS
SELECT c.topic, s."partition", s.log_start_offset, s.log_end_offset,
       s.stable_offset, s.segments, s.bytes,
       s.log_end_offset - s.log_start_offset AS offsets_retained
  FROM eventlog.topic_config c,
       LATERAL eventlog.partition_stats(c.topic) s;

GRANT SELECT ON eventlog.topics, eventlog.partitions TO PUBLIC;

-- Segments: retention, delete_records, maintenance (src/maint/retention.c)
CREATE FUNCTION eventlog.delete_records(topic text, "partition" int, before_offset bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'eventlog_delete_records' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.run_maintenance(topic text DEFAULT NULL)
RETURNS TABLE (action text, topic text, "partition" int, segment text, detail text)
AS 'MODULE_PATHNAME', 'eventlog_run_maintenance' LANGUAGE C VOLATILE;

-- Figures of a topic's segments from their page headers; nothing for a
-- topic the role may not read (as partition_stats).
CREATE FUNCTION eventlog.segment_info(topic text)
RETURNS TABLE ("partition" int, seg_no int, segment regclass, base_offset bigint,
               end_offset bigint, records bigint, bytes bigint,
               first_ts timestamptz, last_ts timestamptz, state text)
AS 'MODULE_PATHNAME', 'eventlog_segment_info' LANGUAGE C STABLE STRICT;

CREATE VIEW eventlog.segments AS
SELECT c.topic, s."partition", s.segment, s.base_offset, s.end_offset, s.records,
       s.bytes, s.first_ts, s.last_ts, s.state, s.seg_no
  FROM eventlog.topic_config c,
       LATERAL eventlog.segment_info(c.topic) s;

GRANT SELECT ON eventlog.segments TO PUBLIC;

-- Consumer groups.  Committed offsets are rows of a plain table, so poll()
-- and commit() are part of the caller's transaction.
CREATE TABLE eventlog.consumer_group (
    group_id          text NOT NULL,
    topic             text NOT NULL,
    session_timeout   interval NOT NULL DEFAULT '45 s' CHECK (session_timeout > '0'),
    max_poll_interval interval NOT NULL DEFAULT '5 min' CHECK (max_poll_interval > '0'),
    auto_offset_reset text NOT NULL DEFAULT 'earliest'
                      CHECK (auto_offset_reset IN ('earliest', 'latest')),
    auto_commit       boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- the role that created the group (current_user of its first poll,
    -- seek or configure_group); it and its members may use the group,
    -- grant it (grant_group) and give it away (alter_group_owner)
    owner             regrole NOT NULL,
    -- roles the owner allowed to use the group: USAGE items, as in
    -- pg_namespace.nspacl (NULL: the owner only)
    acl               aclitem[],
    PRIMARY KEY (group_id, topic)
);

CREATE TABLE eventlog.group_offset (
    group_id         text NOT NULL,
    topic            text NOT NULL,
    partition        int NOT NULL,
    committed_offset bigint NOT NULL CHECK (committed_offset >= 0),
    committed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

SELECT pg_catalog.pg_extension_config_dump('eventlog.consumer_group', '');
SELECT pg_catalog.pg_extension_config_dump('eventlog.group_offset', '');
REVOKE ALL ON eventlog.consumer_group, eventlog.group_offset FROM PUBLIC;
GRANT SELECT ON eventlog.consumer_group, eventlog.group_offset TO PUBLIC;

CREATE FUNCTION eventlog.poll(
    group_id text,
    topic text,
    max_records int DEFAULT 500,
    wait interval DEFAULT '0',
    member text DEFAULT NULL)
RETURNS TABLE ("partition" int, "offset" bigint, ts timestamptz, key text,
               value jsonb, headers jsonb)
AS 'MODULE_PATHNAME', 'eventlog_poll' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.commit(group_id text, topic text, "partition" int, next_offset bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_commit' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.seek(group_id text, topic text, "partition" int, next_offset bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_seek' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.seek_to_time(group_id text, topic text, ts timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
BEGIN
    IF group_id IS NULL OR topic IS NULL OR ts IS NULL THEN
        RAISE EXCEPTION 'group_id, topic and ts must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR p IN SELECT s."partition", s.log_end_offset
               FROM eventlog.partition_stats(topic) s
    LOOP
        PERFORM eventlog.seek(group_id, topic, p."partition",
                              coalesce(eventlog.offset_for_time(topic, p."partition", ts),
                                       p.log_end_offset));
    END LOOP;
    IF NOT FOUND THEN
        -- partition_stats shows nothing of a topic the role may not read:
        -- let fetch() say which it is (no such topic, or no privilege)
        PERFORM eventlog.fetch(topic, 0, 0, 1);
        RAISE EXCEPTION 'topic "%" does not exist', topic
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with eventlog.create_topic().';
    END IF;
END
$$;

CREATE FUNCTION eventlog.leave(group_id text, topic text, member text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_leave' LANGUAGE C VOLATILE;

-- Checks SELECT on the topic for the caller's current role (C: inside a
-- SECURITY DEFINER function current_user would be the definer).  Timeouts
-- beyond eventlog.max_session_timeout are refused.
CREATE FUNCTION eventlog.configure_group(
    group_id text,
    topic text,
    session_timeout interval DEFAULT NULL,
    max_poll_interval interval DEFAULT NULL,
    auto_offset_reset text DEFAULT NULL,
    auto_commit boolean DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_configure_group' LANGUAGE C VOLATILE;

-- Rights on a group: USAGE lets a role poll, commit, seek, seek_to_time,
-- leave and configure_group it.  Only the owner (or a member of the owning
-- role, or a superuser) grants, revokes and gives the group away.
-- role_name 'public' grants to every role.
CREATE FUNCTION eventlog.grant_group(group_id text, topic text, role_name name)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_grant_group' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.revoke_group(group_id text, topic text, role_name name)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_revoke_group' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.alter_group_owner(group_id text, topic text, new_owner name)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_alter_group_owner' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.group_members()
RETURNS TABLE (group_id text, topic text, member text, pid int, is_static boolean,
               partitions int[], joined_at timestamptz, last_poll timestamptz)
AS 'MODULE_PATHNAME', 'eventlog_group_members' LANGUAGE C VOLATILE;

CREATE VIEW eventlog.consumer_groups AS
SELECT g.group_id, g.topic,
       count(m.member)::int AS members,
       CASE WHEN count(m.member) = 0 THEN 'empty' ELSE 'stable' END AS state,
       coalesce(jsonb_object_agg(m.member, to_jsonb(m.partitions))
                FILTER (WHERE m.member IS NOT NULL), '{}') AS assignment,
       g.session_timeout, g.max_poll_interval, g.auto_offset_reset, g.auto_commit,
       g.created_at, g.owner::text AS owner, g.acl
  FROM eventlog.consumer_group g
  LEFT JOIN eventlog.group_members() m ON m.group_id = g.group_id AND m.topic = g.topic
 GROUP BY g.group_id, g.topic;

-- Rows of topics the role may read only (or all with pg_read_all_stats):
-- partition_stats() filters them.
CREATE VIEW eventlog.consumer_lag AS
SELECT g.group_id, g.topic, s."partition", o.committed_offset, s.log_end_offset,
       greatest(s.log_end_offset - coalesce(o.committed_offset, s.log_start_offset), 0) AS lag,
       m.member, s.stable_offset, s.log_start_offset, o.committed_at,
       g.owner::text AS owner
  FROM eventlog.consumer_group g
 CROSS JOIN LATERAL eventlog.partition_stats(g.topic) s
  LEFT JOIN eventlog.group_offset o
         ON o.group_id = g.group_id AND o.topic = g.topic AND o."partition" = s."partition"
  LEFT JOIN (SELECT gm.group_id, gm.topic, gm.member, unnest(gm.partitions) AS "partition"
               FROM eventlog.group_members() gm) m
         ON m.group_id = g.group_id AND m.topic = g.topic AND m."partition" = s."partition";

GRANT SELECT ON eventlog.consumer_groups, eventlog.consumer_lag TO PUBLIC;

-- Consumer-group slots of the whole server (every database), for operators:
-- superusers and pg_read_all_stats see all, other roles the slots charged
-- to roles whose privileges they have.
CREATE FUNCTION eventlog.group_slots()
RETURNS TABLE (slot int, database text, role_name text, group_id text, topic text,
               members int, static_members int, created_at timestamptz,
               last_poll timestamptz, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'eventlog_group_slots' LANGUAGE C VOLATILE;

-- Superuser only: free the slots matching every non-NULL filter.
CREATE FUNCTION eventlog.release_group_slots(
    database name DEFAULT NULL,
    role_name name DEFAULT NULL,
    group_id text DEFAULT NULL,
    topic text DEFAULT NULL)
RETURNS int
AS 'MODULE_PATHNAME', 'eventlog_release_group_slots' LANGUAGE C VOLATILE;
REVOKE EXECUTE ON FUNCTION eventlog.release_group_slots(name, name, text, text) FROM PUBLIC;

-- Statistics per topic, from shared-memory counters (stats.c): records
-- and bytes (stored record bytes) produced by produce(), INSERT and COPY,
-- and fetched by fetch() and poll(), since the last reset.  Counts reach
-- shared memory when the counting transaction ends.  Rows for topics the
-- role may read (all with pg_read_all_stats); topics beyond
-- eventlog.max_stats_topics are summed in a row with topic NULL.
CREATE FUNCTION eventlog.topic_stats()
RETURNS TABLE (topic text, records_produced bigint, bytes_produced bigint,
               records_fetched bigint, bytes_fetched bigint, stats_reset timestamptz)
AS 'MODULE_PATHNAME', 'eventlog_topic_stats' LANGUAGE C VOLATILE;

CREATE VIEW eventlog.stats AS SELECT * FROM eventlog.topic_stats();
GRANT SELECT ON eventlog.stats TO PUBLIC;

-- Zero one topic's counters, or every topic's of this database.
-- Superusers only unless granted, like pg_stat_statements_reset().
CREATE FUNCTION eventlog.reset_stats(topic regclass DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'eventlog_reset_stats' LANGUAGE C VOLATILE;
REVOKE EXECUTE ON FUNCTION eventlog.reset_stats(regclass) FROM PUBLIC;

-- Quotas (quota.c): bytes per second a role may produce and fetch, charged
-- to the session user.  role_name 0 ('-') is the default quota of roles
-- without a row of their own; a NULL rate is no limit.
CREATE TABLE eventlog.quota (
    role_name             regrole PRIMARY KEY,
    produce_bytes_per_sec bigint CHECK (produce_bytes_per_sec > 0),
    fetch_bytes_per_sec   bigint CHECK (fetch_bytes_per_sec > 0)
);
SELECT pg_catalog.pg_extension_config_dump('eventlog.quota', '');
REVOKE ALL ON eventlog.quota FROM PUBLIC;
GRANT SELECT ON eventlog.quota TO PUBLIC;

-- Superusers only.  Both rates NULL removes the role's own quota.
CREATE FUNCTION eventlog.set_quota(role_name name, produce_bytes_per_sec bigint,
                                   fetch_bytes_per_sec bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_set_quota' LANGUAGE C VOLATILE;
CREATE FUNCTION eventlog.set_default_quota(produce_bytes_per_sec bigint,
                                           fetch_bytes_per_sec bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_set_default_quota' LANGUAGE C VOLATILE;
REVOKE EXECUTE ON FUNCTION eventlog.set_quota(name, bigint, bigint),
    eventlog.set_default_quota(bigint, bigint) FROM PUBLIC;

-- The token buckets of the server (every role that used a quota since the
-- server started): rates in force, observed rates over the last 5 complete
-- seconds, totals, and time spent waiting.
CREATE FUNCTION eventlog.quota_usage()
RETURNS TABLE (role_oid oid, produce_bytes_per_sec bigint, fetch_bytes_per_sec bigint,
               produce_bytes_per_sec_observed bigint, fetch_bytes_per_sec_observed bigint,
               bytes_produced bigint, bytes_fetched bigint, throttled_ms float8)
AS 'MODULE_PATHNAME', 'eventlog_quota_usage' LANGUAGE C VOLATILE;

-- One row per configured quota (role_name NULL: the default) and per role
-- throttled under the default quota.
CREATE VIEW eventlog.quotas AS
SELECT CASE WHEN coalesce(q.role_name, u.role_oid) = 0 THEN NULL
            ELSE coalesce(q.role_name, u.role_oid::regrole)::text END AS role_name,
       CASE WHEN coalesce(q.role_name, u.role_oid) = 0 THEN 'default'
            WHEN q.role_name IS NOT NULL THEN 'own' ELSE 'default' END AS quota,
       coalesce(q.produce_bytes_per_sec, d.produce_bytes_per_sec) AS produce_bytes_per_sec,
       coalesce(q.fetch_bytes_per_sec, d.fetch_bytes_per_sec) AS fetch_bytes_per_sec,
       u.produce_bytes_per_sec_observed, u.fetch_bytes_per_sec_observed,
       coalesce(u.throttled_ms, 0) AS throttled_ms,
       u.bytes_produced, u.bytes_fetched
  FROM eventlog.quota q
  FULL JOIN eventlog.quota_usage() u ON u.role_oid = q.role_name::oid
  LEFT JOIN eventlog.quota d ON d.role_name = 0 AND q.role_name IS NULL;
GRANT SELECT ON eventlog.quotas TO PUBLIC;

-- What a publication really replicates: pg_catalog.pg_publication_tables
-- without the segments, which are storage (a FOR ALL TABLES publication
-- would list them: to PostgreSQL they are ordinary tables).  A query that
-- names pg_catalog.pg_publication_tables reads this view instead (hooks.c),
-- which is what CREATE SUBSCRIPTION asks the publisher.
CREATE VIEW eventlog.publication_tables AS
SELECT pubname, schemaname, tablename, attnames, rowfilter
  FROM pg_catalog.pg_publication_tables
 WHERE schemaname <> 'eventlog_segments';
GRANT SELECT ON eventlog.publication_tables TO PUBLIC;

-- Materialized views (src/consume/viewdef.c, viewapply.c).  A view is a
-- table in a schema of the user's, named here by schema and name (not by
-- oid, so that pg_dump/pg_restore keep table, definition and positions
-- together); one position per partition, written in the transaction that
-- changes the table's rows.
CREATE TABLE eventlog.view_def (
    view_schema   name NOT NULL,
    view_name     name NOT NULL,
    topic         text NOT NULL,
    kind          text NOT NULL
                  CHECK (kind IN ('latest', 'count', 'sum', 'min', 'max', 'avg', 'reduce')),
    expr          text,
    group_by      text,
    filter        text,
    -- the reducer's identity, pg_identify_object()'s (schema-qualified
    -- name and argument types): text, not regprocedure, because pg_upgrade
    -- refuses reg* columns of types whose oids it does not keep; the
    -- triggers below keep it naming an existing function
    reducer       text,
    initial       jsonb,
    value_type    text,            -- aggregates: the type of the value column
    search_path   text NOT NULL,   -- expressions resolve names as at create_view
    settings      text[],          -- 'name=value': how values print, as at create_view
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_error    text,
    last_error_at timestamptz,
    error_count   int NOT NULL DEFAULT 0,
    retry_at      timestamptz,     -- back-off of the worker after an error
    PRIMARY KEY (view_schema, view_name)
);

CREATE TABLE eventlog.view_position (
    view_schema name NOT NULL,
    view_name   name NOT NULL,
    "partition" int NOT NULL,
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    skipped     bigint NOT NULL DEFAULT 0,  -- offsets lost below the log start
    PRIMARY KEY (view_schema, view_name, "partition")
);

-- Not readable by PUBLIC: last_error may quote a record's content.
-- eventlog.views shows what each role may see.
REVOKE ALL ON eventlog.view_def, eventlog.view_position FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('eventlog.view_def', '');
SELECT pg_catalog.pg_extension_config_dump('eventlog.view_position', '');

CREATE FUNCTION eventlog.create_view(
    view_name text,
    topic text,
    kind text DEFAULT 'latest',
    expr text DEFAULT NULL,
    group_by text DEFAULT NULL,
    filter text DEFAULT NULL,
    reducer regprocedure DEFAULT NULL,
    initial jsonb DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_create_view' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.refresh_view(view_name text) RETURNS bigint
AS 'MODULE_PATHNAME', 'eventlog_refresh_view' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.rebuild_view(view_name text) RETURNS bigint
AS 'MODULE_PATHNAME', 'eventlog_rebuild_view' LANGUAGE C VOLATILE;

CREATE FUNCTION eventlog.drop_view(view_name text) RETURNS void
AS 'MODULE_PATHNAME', 'eventlog_drop_view' LANGUAGE C VOLATILE;

-- The statement trigger eventlog_view_guard of every view's table.
CREATE FUNCTION eventlog.view_guard() RETURNS trigger
AS 'MODULE_PATHNAME', 'eventlog_view_guard' LANGUAGE C;

-- One row per view and partition.  view_name is the table as regclass
-- prints it (qualified when its schema is not on search_path).  A view is
-- listed to roles that may read its topic or its table (and to members of
-- pg_read_all_stats); last_error, which may quote a record, only to roles
-- that may read the topic.
CREATE VIEW eventlog.views AS
SELECT coalesce(to_regclass(q.name)::text, q.name) AS view_name,
       d.topic, d.kind,
       CASE d.kind
         WHEN 'latest' THEN 'latest'
         WHEN 'reduce' THEN format('reduce(%s, initial %s)', coalesce(to_regprocedure(d.reducer)::text, d.reducer),
                                   coalesce(d.initial::text, 'NULL'))
         ELSE format('%s(%s)', d.kind, coalesce(d.expr, '*'))
       END || coalesce(' GROUP BY ' || d.group_by, '') || coalesce(' WHERE ' || d.filter, '')
         AS definition,
       p."partition", p.next_offset AS "position", s.log_end_offset,
       greatest(s.log_end_offset - p.next_offset, 0) AS lag,
       p.skipped,
       CASE WHEN has_table_privilege(to_regclass(format('eventlog_topics.%I', d.topic)), 'SELECT')
            THEN d.last_error END AS last_error,
       d.last_error_at, d.error_count, d.retry_at,
       d.view_schema, d.view_name AS table_name, to_regclass(q.name) AS relation,
       d.created_at
  FROM eventlog.view_def d
 CROSS JOIN LATERAL (SELECT format('%I.%I', d.view_schema, d.view_name) AS name) q
  LEFT JOIN eventlog.view_position p
         ON p.view_schema = d.view_schema AND p.view_name = d.view_name
  LEFT JOIN LATERAL eventlog.partition_stats(d.topic) s ON s."partition" = p."partition"
 WHERE has_table_privilege(to_regclass(format('eventlog_topics.%I', d.topic)), 'SELECT')
    OR has_table_privilege(to_regclass(q.name), 'SELECT')
    OR pg_has_role('pg_read_all_stats', 'USAGE');
GRANT SELECT ON eventlog.views TO PUBLIC;

-- Background maintenance (src/maint/sched.c, worker.c): per database of the
-- server and kind ('segments', 'compaction', 'views') when it last started
-- and ended, the worker running it and, while it is due with no worker,
-- since when and why; for the current database also per topic: commits
-- its views have not seen yet, and views backing off after an error.
CREATE FUNCTION eventlog.maintenance_state(
    OUT database text, OUT topic text, OUT kind text,
    OUT last_started timestamptz, OUT last_ended timestamptz,
    OUT worker_pid int, OUT waiting_since timestamptz, OUT waiting text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'eventlog_maintenance_status' LANGUAGE C VOLATILE;

CREATE VIEW eventlog.maintenance_status AS
SELECT * FROM eventlog.maintenance_state()
UNION ALL
SELECT current_database()::text, d.topic, 'views', NULL, NULL, NULL,
       min(d.last_error_at),
       format('%s view(s) backing off after an error, the first retried at %s',
              count(*), min(d.retry_at))
  FROM eventlog.view_def d
 WHERE d.retry_at > now()
 GROUP BY d.topic;
GRANT SELECT ON eventlog.maintenance_status TO PUBLIC;

-- A view's table dropped: the view goes with it.  Its guard trigger
-- dropped alone: refused.  Its topic dropped: the view is detached (its
-- table stays, as an ordinary table without the guard).
CREATE FUNCTION eventlog.on_view_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v record;
BEGIN
    DELETE FROM eventlog.view_position p
     USING pg_event_trigger_dropped_objects() o
     WHERE o.object_type = 'table' AND p.view_schema = o.schema_name
       AND p.view_name = o.object_name;
    DELETE FROM eventlog.view_def d
     USING pg_event_trigger_dropped_objects() o
     WHERE o.object_type = 'table' AND d.view_schema = o.schema_name
       AND d.view_name = o.object_name;
    IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() o
                 JOIN eventlog.view_def d
                   ON o.object_type = 'trigger'
                  AND o.object_identity = format('eventlog_view_guard on %I.%I',
                                                 d.view_schema, d.view_name)) THEN
        RAISE EXCEPTION 'cannot drop trigger eventlog_view_guard of an eventlog materialized view'
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Drop the view with eventlog.drop_view().';
    END IF;
    FOR v IN
        SELECT d.view_schema, d.view_name, d.topic FROM eventlog.view_def d
          JOIN pg_event_trigger_dropped_objects() o
            ON o.object_type = 'table' AND o.schema_name = 'eventlog_topics'
           AND o.object_name = d.topic
         ORDER BY d.view_schema, d.view_name
    LOOP
        DELETE FROM eventlog.view_position
         WHERE view_schema = v.view_schema AND view_name = v.view_name;
        DELETE FROM eventlog.view_def
         WHERE view_schema = v.view_schema AND view_name = v.view_name;
        IF to_regclass(format('%I.%I', v.view_schema, v.view_name)) IS NOT NULL THEN
            EXECUTE format('DROP TRIGGER IF EXISTS eventlog_view_guard ON %I.%I',
                           v.view_schema, v.view_name);
        END IF;
        RAISE NOTICE 'materialized view %.% of topic "%" is detached: its table stays as an ordinary table',
            quote_ident(v.view_schema), quote_ident(v.view_name), v.topic;
    END LOOP;
    -- a view's reducer is named by its identity: it goes after its views,
    -- as a dependency would have it
    SELECT o.object_identity, d.view_schema, d.view_name INTO v
      FROM pg_event_trigger_dropped_objects() o
      JOIN eventlog.view_def d ON o.object_type = 'function' AND d.reducer = o.object_identity
     ORDER BY 2, 3 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot drop function % because materialized view %.% uses it as its reducer',
            v.object_identity, quote_ident(v.view_schema), quote_ident(v.view_name)
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Drop the view with eventlog.drop_view() first.';
    END IF;
END
$$;
CREATE EVENT TRIGGER eventlog_view_sql_drop ON sql_drop
    EXECUTE FUNCTION eventlog.on_view_sql_drop();

-- ALTER TABLE on a view's table may not disable its guard, nor rename the
-- table or move it to another schema, nor ALTER SCHEMA rename its schema
-- (the view is known by its name), nor make the table unlogged.
CREATE FUNCTION eventlog.on_view_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c
                 JOIN pg_trigger t ON t.tgrelid = c.objid
                  AND t.tgname = 'eventlog_view_guard'
                  AND t.tgfoid = 'eventlog.view_guard()'::regprocedure
                WHERE c.classid = 'pg_class'::regclass
                  AND (t.tgenabled NOT IN ('O', 'A')
                       OR NOT EXISTS (SELECT 1 FROM eventlog.view_def d
                                        JOIN pg_class r ON r.relname = d.view_name
                                        JOIN pg_namespace n ON n.oid = r.relnamespace
                                                           AND n.nspname = d.view_schema
                                       WHERE r.oid = c.objid))) THEN
        RAISE EXCEPTION 'cannot disable the guard trigger, rename or move the table of an eventlog materialized view'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Drop the view with eventlog.drop_view() and create it again.';
    END IF;
    -- an unlogged table loses its rows in a crash, the positions stay
    IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c
                 JOIN pg_class r ON r.oid = c.objid AND r.relpersistence <> 'p'
                 JOIN pg_namespace n ON n.oid = r.relnamespace
                 JOIN eventlog.view_def d ON d.view_schema = n.nspname
                                         AND d.view_name = r.relname
                WHERE c.classid = 'pg_class'::regclass) THEN
        RAISE EXCEPTION 'the table of an eventlog materialized view cannot be unlogged'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A crash would empty it while the view''s positions, which are logged, stay where they are.';
    END IF;
    IF TG_TAG = 'ALTER SCHEMA' AND EXISTS (SELECT 1 FROM eventlog.view_def d
                WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = d.view_schema)) THEN
        RAISE EXCEPTION 'cannot rename a schema that holds eventlog materialized views'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Drop its views with eventlog.drop_view() first.';
    END IF;
    -- a reducer is named by its identity (view_def): renaming or moving it
    -- or its schema would leave the view without it
    SELECT d.reducer, d.view_schema, d.view_name INTO v
      FROM eventlog.view_def d
     WHERE d.reducer IS NOT NULL AND to_regprocedure(d.reducer) IS NULL
     ORDER BY 2, 3 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot rename or move function % because materialized view %.% uses it as its reducer',
            v.reducer, quote_ident(v.view_schema), quote_ident(v.view_name)
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Drop the view with eventlog.drop_view() first.';
    END IF;
END
$$;
CREATE EVENT TRIGGER eventlog_view_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER SCHEMA', 'ALTER FUNCTION', 'ALTER ROUTINE')
    EXECUTE FUNCTION eventlog.on_view_ddl_end();
