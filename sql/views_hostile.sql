-- Materialized views against hostile owners: what a view's owner can put
-- into its expressions, reducers and table must not reach other roles'
-- sessions or rights, nor write the table behind the maintainer's back.
\set VERBOSITY terse
CREATE ROLE regress_vh_owner;
CREATE ROLE regress_vh_reader;
GRANT CREATE ON SCHEMA eventlog_topics TO regress_vh_owner;
CREATE SCHEMA vh AUTHORIZATION regress_vh_owner;
GRANT USAGE ON SCHEMA vh TO regress_vh_reader;
SET ROLE regress_vh_owner;
SET search_path = vh;
SELECT eventlog.create_topic('vh_t', 2);
SELECT count(*) FROM generate_series(1, 6) g,
       eventlog.produce('vh_t', jsonb_build_object('n', g), 'k' || (g % 3));

-- 1. A setting changed by an expression (a plain SET, not SET LOCAL) stays
-- inside the apply: it must not leak into the session that refreshes (nor
-- into the worker's, which applies every owner's views).
CREATE FUNCTION vh.set_work_mem(v jsonb) RETURNS int LANGUAGE sql
AS $$ SELECT length(set_config('work_mem', '77kB', false)) $$;
SELECT eventlog.create_view('leaky', 'vh_t', 'sum', expr => 'vh.set_work_mem(value)');
GRANT SELECT ON leaky TO regress_vh_reader;
SHOW work_mem;
SELECT count(*) FROM eventlog.produce('vh_t', '{"n": 7}', 'k1');
RESET ROLE;
SET ROLE regress_vh_reader;
SELECT eventlog.refresh_view('vh.leaky');
SHOW work_mem;
RESET ROLE;


-- 2. rebuild_view empties the table as the view's owner: a trigger the
-- owner put on the table never runs with the rights of whoever rebuilds
-- (here a superuser).
SET ROLE regress_vh_owner;
CREATE TABLE vh.trigger_log (who text, op text);
CREATE FUNCTION vh.note() RETURNS trigger LANGUAGE plpgsql
AS $$ BEGIN INSERT INTO vh.trigger_log VALUES (current_user, TG_OP); RETURN OLD; END $$;
SELECT eventlog.create_view('counted', 'vh_t', 'count');
CREATE TRIGGER note BEFORE DELETE ON counted FOR EACH ROW EXECUTE FUNCTION vh.note();
RESET ROLE;
SELECT eventlog.rebuild_view('vh.counted');
SELECT DISTINCT who = 'regress_vh_owner' AS as_owner, op FROM vh.trigger_log;
SELECT * FROM vh.counted ORDER BY key;

-- 3. Code of the owner that runs during an apply (an expression, a reducer,
-- a trigger of the table) may not write the table either: the guard lets
-- through the maintainer's own statement only.
SET ROLE regress_vh_owner;
CREATE FUNCTION vh.sneak(k text) RETURNS text LANGUAGE plpgsql
AS $$ BEGIN INSERT INTO vh.sneaky VALUES ('forged ' || k, 1000) ON CONFLICT DO NOTHING; RETURN k; END $$;
SELECT eventlog.create_view('sneaky', 'vh_t', 'count', group_by => 'vh.sneak(key)');
SELECT eventlog.create_view('sneaky', 'vh_t', 'count', group_by => 'key');
CREATE OR REPLACE FUNCTION vh.sneak_fold(s jsonb, r eventlog_topics.vh_t) RETURNS jsonb LANGUAGE plpgsql
AS $$ BEGIN INSERT INTO vh.folded VALUES ('forged', '{}') ON CONFLICT DO NOTHING;
          RETURN jsonb_build_object('n', coalesce((s->>'n')::int, 0) + 1); END $$;
SELECT eventlog.create_view('folded', 'vh_t', 'reduce', reducer => 'vh.sneak_fold(jsonb, eventlog_topics.vh_t)');
CREATE FUNCTION vh.fold(s jsonb, r eventlog_topics.vh_t) RETURNS jsonb LANGUAGE sql
AS $$ SELECT jsonb_build_object('n', coalesce((s->>'n')::int, 0) + 1) $$;
SELECT eventlog.create_view('folded', 'vh_t', 'reduce', reducer => 'vh.fold(jsonb, eventlog_topics.vh_t)');
-- triggers the owner attaches to the table: a row trigger, and a statement
-- trigger whose name sorts before the guard's
CREATE FUNCTION vh.forge() RETURNS trigger LANGUAGE plpgsql
AS $$ BEGIN
  IF pg_trigger_depth() = 1 THEN
    INSERT INTO vh.sneaky VALUES ('forged', 1000) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER forge AFTER INSERT OR UPDATE ON sneaky FOR EACH ROW EXECUTE FUNCTION vh.forge();
SELECT count(*) FROM eventlog.produce('vh_t', '{"n": 8}', 'k2');
SELECT eventlog.refresh_view('sneaky');
DROP TRIGGER forge ON sneaky;
CREATE TRIGGER a_forge BEFORE INSERT ON sneaky FOR EACH STATEMENT EXECUTE FUNCTION vh.forge();
SELECT count(*) FROM eventlog.produce('vh_t', '{"n": 9}', 'k2');
SELECT eventlog.refresh_view('sneaky');
DROP TRIGGER a_forge ON sneaky;
SELECT eventlog.refresh_view('sneaky');
SELECT * FROM sneaky ORDER BY key;
SELECT count(*) AS forged FROM folded WHERE key = 'forged';

-- 4. An expression that drops the view's own topic (which detaches the
-- view) or the view: the refresh fails and undoes it, instead of writing
-- positions of a view that no longer exists (or reading a dropped topic).
SET ROLE regress_vh_owner;
SELECT eventlog.create_topic('vh_gone', 1);
CREATE FUNCTION vh.drop_my_topic(v jsonb) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('eventlog_topics.vh_gone') IS NOT NULL THEN
    PERFORM eventlog.drop_topic('vh_gone');
  END IF;
  RETURN 1;
END $$;
SELECT eventlog.create_view('gone', 'vh_gone', 'sum', expr => 'vh.drop_my_topic(value)');
SELECT count(*) FROM eventlog.produce('vh_gone', '{"n": 1}', 'k1');
SELECT eventlog.refresh_view('gone');
SELECT to_regclass('eventlog_topics.vh_gone') IS NOT NULL AS topic_kept;
SELECT "partition", "position", lag FROM eventlog.views WHERE table_name = 'gone';
RESET ROLE;
SELECT count(*) AS orphan_positions FROM eventlog.view_position p
 WHERE NOT EXISTS (SELECT 1 FROM eventlog.view_def d
                    WHERE d.view_schema = p.view_schema AND d.view_name = p.view_name);
SET ROLE regress_vh_owner;
SELECT eventlog.drop_view('gone');
SELECT eventlog.drop_topic('vh_gone');

-- 5. Objects of the table that would silently change or hide the rows the
-- maintainer writes stop the maintenance with an error: an INSTEAD rule on
-- DELETE (a rebuild kept the old rows and added the log to them again), a
-- BEFORE row trigger that skips a row, an inheritance child.
SET ROLE regress_vh_owner;
SELECT eventlog.create_view('ruled', 'vh_t', 'count');
SELECT sum(value) AS records FROM ruled;
CREATE RULE keep AS ON DELETE TO ruled DO INSTEAD DELETE FROM vh.trigger_log;
SELECT eventlog.rebuild_view('ruled');
SELECT sum(value) AS records FROM ruled;
DROP RULE keep ON ruled;
CREATE FUNCTION vh.skip() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER skip BEFORE INSERT OR UPDATE OR DELETE ON ruled FOR EACH ROW EXECUTE FUNCTION vh.skip();
SELECT eventlog.rebuild_view('ruled');
SELECT count(*) FROM eventlog.produce('vh_t', '{"n": 10}', 'k0');
SELECT eventlog.refresh_view('ruled');
SELECT sum(value) AS records FROM ruled;
ALTER TABLE ruled DISABLE TRIGGER skip;
CREATE TABLE vh.ruled_child () INHERITS (ruled);
SELECT eventlog.refresh_view('ruled');
DROP TABLE vh.ruled_child;
-- an AFTER trigger is fine
CREATE TRIGGER after_ok AFTER INSERT ON ruled FOR EACH STATEMENT EXECUTE FUNCTION vh.skip();
SELECT eventlog.refresh_view('ruled');
SELECT eventlog.rebuild_view('ruled');
SELECT sum(value) AS records, (SELECT count(*) FROM eventlog_topics.vh_t) AS in_topic FROM ruled;

-- 6. Expressions are read with standard_conforming_strings on, whatever the
-- session that creates or refreshes says: a backslash in a literal cannot
-- end it for one reader and not for the other (an expression accepted under
-- off failed at every later apply, or could smuggle text past the check).
SET ROLE regress_vh_owner;
SET standard_conforming_strings = off;
SELECT eventlog.create_view('scs', 'vh_t', 'count', group_by => $$'x\'' || key$$);
SELECT eventlog.create_view('scs', 'vh_t', 'count', group_by => $$'x\' || key$$);
SHOW standard_conforming_strings;
SELECT eventlog.refresh_view('scs');
RESET standard_conforming_strings;
SELECT count(*) FROM eventlog.produce('vh_t', '{"n": 11}', 'k0');
SELECT eventlog.refresh_view('scs');
SELECT key, value FROM scs ORDER BY key;
SELECT eventlog.drop_view('scs');

-- 7. Row level security forced on the owner: a table without a DELETE
-- policy made a rebuild keep every row (and count the log twice).
SET ROLE regress_vh_owner;
SELECT eventlog.create_view('policed', 'vh_t', 'count');
ALTER TABLE policed ENABLE ROW LEVEL SECURITY;
CREATE POLICY sel ON policed FOR SELECT USING (true);
CREATE POLICY ins ON policed FOR INSERT WITH CHECK (true);
CREATE POLICY upd ON policed FOR UPDATE USING (true);
-- not forced: the owner is not subject to it
SELECT eventlog.rebuild_view('policed') AS records;
ALTER TABLE policed FORCE ROW LEVEL SECURITY;
SELECT eventlog.rebuild_view('policed');
SELECT sum(value) AS records, (SELECT count(*) FROM eventlog_topics.vh_t) AS in_topic FROM policed;

-- 8. The table may not become unlogged: a crash would empty it while the
-- positions (logged) stay, and the view would never hold those records.
SET ROLE regress_vh_owner;
ALTER TABLE counted SET UNLOGGED;
SELECT relpersistence FROM pg_class WHERE oid = 'vh.counted'::regclass;

-- 9. A refreshing role's temporary table does not stand in for a table an
-- expression names (pg_temp, implicit, would be searched first).
SET ROLE regress_vh_owner;
CREATE TABLE vh.rates (k text, r int);
INSERT INTO vh.rates VALUES ('k1', 1);
SELECT eventlog.create_view('rated', 'vh_t', 'sum', expr => '(SELECT r FROM rates WHERE k = key)');
GRANT SELECT ON rated TO regress_vh_reader;
SELECT count(*) FROM eventlog.produce('vh_t', '{"n": 12}', 'k1');
RESET ROLE;
SET ROLE regress_vh_reader;
CREATE TEMP TABLE rates (k text, r int);
INSERT INTO rates VALUES ('k1', 1000000);
GRANT SELECT ON rates TO regress_vh_owner;
SELECT eventlog.refresh_view('vh.rated');
SELECT * FROM vh.rated ORDER BY key;
DROP TABLE rates;
RESET ROLE;

-- 10. Expressions are per record: an aggregate, a window function or a
-- set-returning function in expr or group_by made a value depend on how
-- the records were cut into batches (or multiplied records).
SET ROLE regress_vh_owner;
SELECT eventlog.create_view('per_batch', 'vh_t', 'sum', expr => 'count(*)', group_by => '''all''');
SELECT eventlog.create_view('per_batch', 'vh_t', 'sum', expr => 'count(*) OVER ()');
SELECT eventlog.create_view('per_batch', 'vh_t', 'count', group_by => 'generate_series(1, 3)::text');
SELECT eventlog.create_view('per_batch', 'vh_t', 'max', expr => 'jsonb_array_elements(''[1,2]'')');
SELECT to_regclass('vh.per_batch');
-- a subquery's own aggregate is per record
SELECT eventlog.create_view('per_batch', 'vh_t', 'max', expr => '(SELECT max(r) FROM vh.rates)');
SELECT eventlog.drop_view('per_batch');

-- 11. A view's reducer cannot be dropped while the view uses it (each
-- refresh failed with "cache lookup failed" after that).
-- Nor renamed or moved, nor its schema renamed: the view names it by its
-- identity (view_def.reducer is text, which pg_upgrade accepts), and would
-- lose it.
SET ROLE regress_vh_owner;
DROP FUNCTION vh.fold(jsonb, eventlog_topics.vh_t);
ALTER FUNCTION vh.fold(jsonb, eventlog_topics.vh_t) RENAME TO fold2;
ALTER ROUTINE vh.fold(jsonb, eventlog_topics.vh_t) RENAME TO fold2;
RESET ROLE;
CREATE SCHEMA vh_other;
ALTER FUNCTION vh.fold(jsonb, eventlog_topics.vh_t) SET SCHEMA vh_other;
-- a reducer in a schema of its own: that schema cannot be renamed either
CREATE SCHEMA vh_fns AUTHORIZATION regress_vh_owner;
SET ROLE regress_vh_owner;
CREATE FUNCTION vh_fns.fold(s jsonb, r eventlog_topics.vh_t) RETURNS jsonb LANGUAGE sql
AS $$ SELECT jsonb_build_object('n', coalesce((s->>'n')::int, 0) + 1) $$;
SELECT eventlog.create_view('folded2', 'vh_t', 'reduce', reducer => 'vh_fns.fold(jsonb, eventlog_topics.vh_t)');
RESET ROLE;
ALTER SCHEMA vh_fns RENAME TO vh_fns2;
SELECT view_name, reducer FROM eventlog.view_def WHERE kind = 'reduce' ORDER BY 1;
SET ROLE regress_vh_owner;
-- other changes of the function are fine
ALTER FUNCTION vh.fold(jsonb, eventlog_topics.vh_t) STABLE;
SELECT eventlog.refresh_view('folded') >= 0 AS refreshed;
SELECT eventlog.drop_view('folded');
DROP FUNCTION vh.fold(jsonb, eventlog_topics.vh_t);
SELECT eventlog.drop_view('folded2');
RESET ROLE;
ALTER SCHEMA vh_fns RENAME TO vh_fns2;
DROP SCHEMA vh_fns2, vh_other CASCADE;
SET ROLE regress_vh_owner;

-- 12. What an expression computes does not depend on who applies the
-- records: the settings that change it (TimeZone, DateStyle, ...) are
-- those of create_view.  A reader that refreshes in another time zone
-- used to put records into another day's group.
SET ROLE regress_vh_owner;
SET TimeZone = 'UTC';
SELECT eventlog.create_view('per_day', 'vh_t', 'count',
                            group_by => '(''2026-01-01 23:30:00+00''::timestamptz)::date::text');
RESET TimeZone;
GRANT SELECT ON per_day TO regress_vh_reader;
SELECT count(*) FROM eventlog.produce('vh_t', '{"n": 13}', 'k1');
RESET ROLE;
SET ROLE regress_vh_reader;
SET TimeZone = 'Asia/Tokyo';
SELECT eventlog.refresh_view('vh.per_day');
SHOW TimeZone;
RESET TimeZone;
SELECT key, value FROM vh.per_day ORDER BY key;
RESET ROLE;

-- 13. An apply that fails on a record (a cast error, say) quotes the record;
-- a role that may read the view's table but not the topic gets an error
-- that keeps the SQLSTATE and nothing of the record, on every path (as
-- eventlog.views shows it last_error only if it may read the topic).  The
-- owner, who may read the topic, gets the full error.
SET ROLE regress_vh_owner;
SELECT eventlog.create_topic('vh_secret', 1);
SELECT eventlog.create_view('casted', 'vh_secret', 'sum', expr => '(value->>''n'')::int');
GRANT SELECT ON casted TO regress_vh_reader;
SELECT count(*) FROM eventlog.produce('vh_secret', '{"n": "password-4711"}', 'k1');
RESET ROLE;
SET ROLE regress_vh_reader;
\set VERBOSITY default
SELECT eventlog.refresh_view('vh.casted');
\set VERBOSITY terse
SELECT last_error FROM eventlog.views WHERE table_name = 'casted';
RESET ROLE;
SET ROLE regress_vh_owner;
SELECT eventlog.refresh_view('vh.casted');
RESET ROLE;
SELECT eventlog.drop_view('vh.casted');
SELECT eventlog.drop_topic('vh_secret');

-- clean up
RESET ROLE;
RESET search_path;
DROP SCHEMA vh CASCADE;
SELECT eventlog.drop_topic('vh_t');
DROP OWNED BY regress_vh_owner, regress_vh_reader;
DROP ROLE regress_vh_owner, regress_vh_reader;
