/* pg_eventlog--0.1--1.0.sql: ALTER EXTENSION pg_eventlog UPDATE TO '1.0' */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_eventlog UPDATE TO '1.0'" to load this file. \quit

-- The catalog changes from 0.1 (commit 9150894) to 1.0.  Pages and WAL
-- records are the same storage format (1) in both releases, so no page is
-- converted; only the catalog rows below change, at update time.

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

-- eventlog.view_def.reducer becomes text (the reducer's identity, as
-- pg_identify_object() gives it): pg_upgrade refuses regprocedure columns.
-- The view and the event triggers that read it follow.
DROP VIEW eventlog.views;
ALTER TABLE eventlog.view_def ALTER COLUMN reducer TYPE text
    USING (pg_catalog.pg_identify_object('pg_catalog.pg_proc'::pg_catalog.regclass,
                                         reducer::pg_catalog.oid, 0)).identity;
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
CREATE OR REPLACE FUNCTION eventlog.on_view_sql_drop() RETURNS event_trigger
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
CREATE OR REPLACE FUNCTION eventlog.on_view_ddl_end() RETURNS event_trigger
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
DROP EVENT TRIGGER eventlog_view_ddl_end;
CREATE EVENT TRIGGER eventlog_view_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER SCHEMA', 'ALTER FUNCTION', 'ALTER ROUTINE')
    EXECUTE FUNCTION eventlog.on_view_ddl_end();

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
