-- Materialized views (issue 10): every kind against a recomputation with
-- plain SQL, bad inputs, rights, writes into a view's table, retention
-- below a view's position, rebuild, drop_topic.
\set VERBOSITY terse
CREATE ROLE regress_vw_alice;
CREATE ROLE regress_vw_bob;
CREATE ROLE regress_vw_carol;
GRANT CREATE ON SCHEMA eventlog_topics TO regress_vw_alice;
CREATE SCHEMA vw_app AUTHORIZATION regress_vw_alice;
CREATE SCHEMA vw_other AUTHORIZATION regress_vw_alice;
GRANT USAGE ON SCHEMA vw_app TO regress_vw_bob, regress_vw_carol;
GRANT CREATE ON SCHEMA public TO regress_vw_bob;

SET ROLE regress_vw_alice;
SET search_path = vw_app, public;
SELECT eventlog.create_topic('vw_orders', 3);
GRANT SELECT ON eventlog_topics.vw_orders TO regress_vw_carol;
-- keyed orders, a keyless one, and tombstones
INSERT INTO eventlog_topics.vw_orders (key, value)
SELECT 'c' || (g % 5), jsonb_build_object('amount', g, 'region', CASE WHEN g % 2 = 0 THEN 'east' ELSE 'west' END)
  FROM generate_series(1, 40) g;
SELECT count(*) FROM eventlog.produce('vw_orders', '{"amount": 1000, "region": "east"}', "partition" => 0);
SELECT count(*) FROM eventlog.produce('vw_orders', NULL, 'c3');

-- one view of each kind (latest, count, sum, min, max, avg, reduce)
SELECT eventlog.create_view('vw_app.customer', 'vw_orders');
SELECT eventlog.create_view('n_orders', 'vw_orders', 'count');
SELECT eventlog.create_view('n_amounts', 'vw_orders', 'count', expr => '(value->>''amount'')::int');
SELECT eventlog.create_view('totals', 'vw_orders', 'sum', expr => '(value->>''amount'')::numeric');
SELECT eventlog.create_view('region_min', 'vw_orders', 'min', expr => '(value->>''amount'')::int',
                            group_by => 'value->>''region''');
SELECT eventlog.create_view('big_max', 'vw_orders', 'max', expr => '(value->>''amount'')::int',
                            filter => '(value->>''amount'')::int > 10');
SELECT eventlog.create_view('avg_amount', 'vw_orders', 'avg', expr => '(value->>''amount'')::int');
-- a reducer: count and sum since the last tombstone (NULL result deletes)
CREATE FUNCTION vw_app.fold(state jsonb, rec eventlog_topics.vw_orders) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT CASE WHEN rec.value IS NULL THEN NULL
         ELSE jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1,
                                 'sum', coalesce((state->>'sum')::int, 0) + (rec.value->>'amount')::int,
                                 'last', rec."offset") END $$;
SELECT eventlog.create_view('folded', 'vw_orders', 'reduce',
                            reducer => 'vw_app.fold(jsonb, eventlog_topics.vw_orders)',
                            initial => '{"n": 0, "sum": 0}');

-- the table's shapes
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'vw_app'::regnamespace AND c.relkind = 'r' AND a.attnum > 0
 ORDER BY c.relname, a.attnum;

-- more records after creation, in several transactions, with a rollback
BEGIN;
INSERT INTO eventlog_topics.vw_orders (key, value)
SELECT 'c' || (g % 7), jsonb_build_object('amount', g, 'region', 'north') FROM generate_series(41, 60) g;
SAVEPOINT s;
SELECT count(*) FROM eventlog.produce('vw_orders', '{"amount": 99999}', 'c1');
ROLLBACK TO s;
SELECT count(*) FROM eventlog.produce('vw_orders', NULL, 'c6');
COMMIT;
BEGIN;
SELECT count(*) FROM eventlog.produce('vw_orders', '{"amount": 77777}', 'c2');
ROLLBACK;
SELECT count(*) FROM eventlog.produce('vw_orders', '{"amount": 5, "region": "east"}', 'c6');

-- not refreshed yet: the views lag
SELECT view_name, sum(lag) > 0 AS lags FROM eventlog.views GROUP BY 1 ORDER BY 1;
SELECT v, eventlog.refresh_view(v) > 0 AS applied
  FROM unnest(ARRAY['customer', 'n_orders', 'n_amounts', 'totals', 'region_min',
                    'big_max', 'avg_amount', 'folded']) v;
SELECT view_name, sum(lag) AS lag FROM eventlog.views GROUP BY 1 ORDER BY 1;
-- a second refresh has nothing to do
SELECT eventlog.refresh_view('vw_app.totals');

-- each view equals its recomputation (0 rows differ)
CREATE TEMP VIEW expect_customer AS
SELECT key, value, "partition", "offset", ts FROM (
  SELECT DISTINCT ON (key) * FROM eventlog_topics.vw_orders WHERE key IS NOT NULL
   ORDER BY key, "offset" DESC) l WHERE value IS NOT NULL;
SELECT count(*) AS customer_diff FROM (
  (TABLE customer EXCEPT TABLE expect_customer) UNION ALL
  (TABLE expect_customer EXCEPT TABLE customer)) d;
SELECT count(*) AS customer_rows FROM customer;
SELECT count(*) AS n_orders_diff FROM (
  (TABLE n_orders EXCEPT SELECT key, count(*) FROM eventlog_topics.vw_orders WHERE key IS NOT NULL GROUP BY key)
  UNION ALL
  (SELECT key, count(*) FROM eventlog_topics.vw_orders WHERE key IS NOT NULL GROUP BY key EXCEPT TABLE n_orders)) d;
SELECT count(*) AS n_amounts_diff FROM (
  (TABLE n_amounts EXCEPT SELECT key, count((value->>'amount')::int) FROM eventlog_topics.vw_orders WHERE key IS NOT NULL GROUP BY key)
  UNION ALL
  (SELECT key, count((value->>'amount')::int) FROM eventlog_topics.vw_orders WHERE key IS NOT NULL GROUP BY key EXCEPT TABLE n_amounts)) d;
SELECT count(*) AS totals_diff FROM (
  (TABLE totals EXCEPT SELECT key, sum((value->>'amount')::numeric) FROM eventlog_topics.vw_orders WHERE key IS NOT NULL GROUP BY key)
  UNION ALL
  (SELECT key, sum((value->>'amount')::numeric) FROM eventlog_topics.vw_orders WHERE key IS NOT NULL GROUP BY key EXCEPT TABLE totals)) d;
SELECT * FROM region_min ORDER BY key;
SELECT key, min((value->>'amount')::int) FROM eventlog_topics.vw_orders
 WHERE value->>'region' IS NOT NULL GROUP BY 1 ORDER BY 1;
SELECT count(*) AS big_max_diff FROM (
  (TABLE big_max EXCEPT SELECT key, max((value->>'amount')::int) FROM eventlog_topics.vw_orders
    WHERE key IS NOT NULL AND ((value->>'amount')::int > 10) IS TRUE GROUP BY key)
  UNION ALL
  (SELECT key, max((value->>'amount')::int) FROM eventlog_topics.vw_orders
    WHERE key IS NOT NULL AND ((value->>'amount')::int > 10) IS TRUE GROUP BY key EXCEPT TABLE big_max)) d;
SELECT count(*) AS avg_diff FROM (
  (SELECT key, value FROM avg_amount EXCEPT SELECT key, avg((value->>'amount')::int) FROM eventlog_topics.vw_orders WHERE key IS NOT NULL GROUP BY key)
  UNION ALL
  (SELECT key, avg((value->>'amount')::int) FROM eventlog_topics.vw_orders WHERE key IS NOT NULL GROUP BY key EXCEPT SELECT key, value FROM avg_amount)) d;
-- reduce: records after each key's last tombstone
CREATE TEMP VIEW expect_folded AS
SELECT key, jsonb_build_object('n', count(*), 'sum', sum((value->>'amount')::int), 'last', max("offset")) AS state
  FROM eventlog_topics.vw_orders o
 WHERE key IS NOT NULL
   AND "offset" > coalesce((SELECT max(t."offset") FROM eventlog_topics.vw_orders t
                             WHERE t.key = o.key AND t.value IS NULL), -1)
 GROUP BY key;
SELECT count(*) AS folded_diff FROM (
  (TABLE folded EXCEPT TABLE expect_folded) UNION ALL (TABLE expect_folded EXCEPT TABLE folded)) d;
SELECT * FROM folded WHERE key IN ('c3', 'c6') ORDER BY key;

-- eventlog.views: one row per view and partition
SELECT view_name, topic, kind, definition, count(*) AS partitions,
       sum(lag) AS lag, sum(skipped) AS skipped, max(last_error) AS last_error
  FROM eventlog.views GROUP BY 1, 2, 3, 4 ORDER BY 1;

-- writes into a view's table are refused, also to its owner
INSERT INTO totals VALUES ('x', 1);
UPDATE totals SET value = 0;
DELETE FROM totals;
TRUNCATE totals;
COPY totals FROM stdin;
x	1
\.
MERGE INTO totals t USING (SELECT 'c1' AS key) s ON t.key = s.key
 WHEN MATCHED THEN UPDATE SET value = 0;
-- nor may the owner remove the guard, disable it, or rename the table
DROP TRIGGER eventlog_view_guard ON totals;
ALTER TABLE totals DISABLE TRIGGER eventlog_view_guard;
ALTER TABLE totals DISABLE TRIGGER ALL;
ALTER TABLE totals RENAME TO totals2;
ALTER TABLE totals SET SCHEMA vw_other;
RESET ROLE;
ALTER SCHEMA vw_app RENAME TO vw_app2;
SET ROLE regress_vw_alice;
-- but indexes and grants work as on any table
CREATE INDEX ON totals (value);
SELECT count(*) FROM totals WHERE value > 100;

-- a new view's table starts as any new table: its owner's only
SELECT relname, relacl, pg_get_userbyid(relowner) FROM pg_class
 WHERE relname IN ('totals', 'customer') AND relnamespace = 'vw_app'::regnamespace ORDER BY 1;
RESET ROLE;
SET ROLE regress_vw_carol;
SELECT count(*) FROM vw_app.totals;
SELECT eventlog.refresh_view('vw_app.totals');
INSERT INTO vw_app.totals VALUES ('y', 1);
RESET ROLE;
SET ROLE regress_vw_alice;
GRANT SELECT, INSERT ON totals TO regress_vw_carol;
RESET ROLE;
SET ROLE regress_vw_carol;
SELECT count(*) > 0 AS carol_reads FROM vw_app.totals;
SELECT eventlog.refresh_view('vw_app.totals');
-- INSERT privilege does not open the guard
INSERT INTO vw_app.totals VALUES ('y', 1);
SELECT eventlog.rebuild_view('vw_app.totals');
SELECT eventlog.drop_view('vw_app.totals');
RESET ROLE;

-- bob may not read the topic: no view of it
SET ROLE regress_vw_bob;
SELECT eventlog.create_view('public.bobs', 'vw_orders');
SELECT count(*) FROM pg_class WHERE relname = 'bobs';
RESET ROLE;

-- bad inputs: a clear error and nothing created
SET ROLE regress_vw_alice;
SELECT eventlog.create_view('bad1', 'no_such_topic');
SELECT eventlog.create_view('bad1', 'vw_orders', 'median', expr => 'value');
SELECT eventlog.create_view('bad1', 'vw_orders', 'sum');
SELECT eventlog.create_view('bad1', 'vw_orders', 'latest', expr => 'value');
SELECT eventlog.create_view('bad1', 'vw_orders', 'latest', group_by => 'value');
SELECT eventlog.create_view('bad1', 'vw_orders', 'count', reducer => 'vw_app.fold(jsonb, eventlog_topics.vw_orders)');
SELECT eventlog.create_view('bad1', 'vw_orders', 'reduce');
SELECT eventlog.create_view('bad1', 'vw_orders', 'sum', expr => '(value->>''amount''::int');
SELECT eventlog.create_view('bad1', 'vw_orders', 'sum', expr => 'no_such_column');
SELECT eventlog.create_view('bad1', 'vw_orders', 'sum', expr => 'no_such_function(value)');
SELECT eventlog.create_view('bad1', 'vw_orders', 'sum', expr => 'value');
SELECT eventlog.create_view('bad1', 'vw_orders', 'count', filter => 'value');
SELECT eventlog.create_view('bad1', 'vw_orders', 'count', filter => 'sum(1) > 0');
-- an expression may not smuggle in clauses or statements
SELECT eventlog.create_view('bad1', 'vw_orders', 'sum', expr => '1) FROM pg_class; DROP TABLE vw_app.customer; SELECT (1');
SELECT eventlog.create_view('bad1', 'vw_orders', 'sum', expr => '1) AS x, (2');
SELECT eventlog.create_view('bad1', 'vw_orders', 'count', filter => 'true) OR (true');
SELECT eventlog.create_view('bad1', 'vw_orders', 'count', filter => 'true --');
SELECT eventlog.create_view('bad1', 'vw_orders', 'count', filter => 'true); DELETE FROM vw_app.customer; SELECT (true');
SELECT eventlog.create_view('bad1', 'vw_orders', 'reduce', reducer => 'vw_app.no_such(jsonb, eventlog_topics.vw_orders)');
CREATE FUNCTION vw_app.bad_fold(state jsonb, rec eventlog_topics.vw_orders) RETURNS int
LANGUAGE sql AS $$ SELECT 1 $$;
SELECT eventlog.create_view('bad1', 'vw_orders', 'reduce', reducer => 'vw_app.bad_fold(jsonb, eventlog_topics.vw_orders)');
CREATE FUNCTION vw_app.bad_fold2(state jsonb, rec jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT state $$;
SELECT eventlog.create_view('bad1', 'vw_orders', 'reduce', reducer => 'vw_app.bad_fold2(jsonb, jsonb)');
CREATE TABLE vw_app.taken (a int);
SELECT eventlog.create_view('taken', 'vw_orders');
SELECT eventlog.create_view('vw_app.customer', 'vw_orders');
SELECT eventlog.create_view('eventlog.mine', 'vw_orders');
SELECT eventlog.create_view('pg_temp.mine', 'vw_orders');
SELECT eventlog.create_view('no_schema.mine', 'vw_orders');
SELECT eventlog.create_view(NULL, 'vw_orders');
SELECT count(*) AS bad_tables FROM pg_class WHERE relname = 'bad1';
SELECT count(DISTINCT view_name) AS views FROM eventlog.views;
SELECT eventlog.drop_view('no_such_view');
SELECT eventlog.drop_view('taken');
SELECT eventlog.refresh_view('no_such_view');
SELECT eventlog.rebuild_view(NULL);
RESET ROLE;
-- only the owner rebuilds or drops
SET ROLE regress_vw_carol;
SELECT eventlog.drop_view('vw_app.customer');
SELECT eventlog.rebuild_view('vw_app.customer');
RESET ROLE;

-- the owner loses SELECT on the topic: maintenance stops with an error
CREATE ROLE regress_vw_dave;
GRANT SELECT ON eventlog_topics.vw_orders TO regress_vw_dave;
GRANT USAGE, CREATE ON SCHEMA vw_app TO regress_vw_dave;
SET ROLE regress_vw_dave;
SELECT eventlog.create_view('vw_app.daves', 'vw_orders', 'count');
RESET ROLE;
REVOKE SELECT ON eventlog_topics.vw_orders FROM regress_vw_dave;
SELECT count(*) FROM eventlog.produce('vw_orders', '{"amount": 1}', 'c1');
SET ROLE regress_vw_dave;
SELECT eventlog.refresh_view('vw_app.daves');
-- dave still sees his view, but no longer its topic's figures
SELECT view_name, count(*), max(log_end_offset) FROM eventlog.views GROUP BY 1;
SELECT count(*) FROM eventlog.view_def;
RESET ROLE;
-- bob may read neither the topic nor any view's table: he sees no view
SET ROLE regress_vw_bob;
SELECT count(*) FROM eventlog.views;
RESET ROLE;
-- expressions run as the view's owner, never as the caller
CREATE FUNCTION vw_app.who() RETURNS text LANGUAGE sql AS $$ SELECT current_user::text $$;
SET ROLE regress_vw_alice;
SELECT eventlog.create_view('whoami', 'vw_orders', 'max', expr => 'vw_app.who()');
RESET ROLE;
SELECT count(*) FROM eventlog.produce('vw_orders', '{"amount": 2}', 'c9');
SELECT eventlog.refresh_view('vw_app.whoami');
SELECT DISTINCT value FROM vw_app.whoami;
SELECT eventlog.drop_view('vw_app.whoami');

-- retention below a view's position: skip forward with a WARNING
SET ROLE regress_vw_alice;
SELECT count(*) FROM generate_series(1, 5) g,
       eventlog.produce('vw_orders', jsonb_build_object('amount', g), 'c4');
SELECT eventlog.partition_for('vw_orders', 'c4') AS p4 \gset
SELECT log_end_offset AS end4 FROM eventlog.partitions WHERE topic = 'vw_orders' AND "partition" = :p4 \gset
SELECT eventlog.delete_records('vw_orders', :p4, :end4 - 2);
SELECT "position" < :end4 - 2 AS behind FROM eventlog.views WHERE view_name = 'customer' AND "partition" = :p4;
SELECT eventlog.refresh_view('customer');
SELECT "position" = :end4 AS caught_up, skipped > 0 AS counted FROM eventlog.views
 WHERE view_name = 'customer' AND "partition" = :p4;
-- a rebuild sees only what the log still holds
SELECT eventlog.rebuild_view('n_orders') > 0 AS rebuilt;
SELECT count(*) AS n_orders_diff FROM (
  (TABLE n_orders EXCEPT SELECT key, count(*) FROM eventlog_topics.vw_orders WHERE key IS NOT NULL GROUP BY key)
  UNION ALL
  (SELECT key, count(*) FROM eventlog_topics.vw_orders WHERE key IS NOT NULL GROUP BY key EXCEPT TABLE n_orders)) d;
SELECT sum(skipped) AS skipped_after_rebuild FROM eventlog.views WHERE view_name = 'n_orders';

-- more records than one batch reads (5000 per partition)
SELECT eventlog.create_topic('vw_big', 2);
INSERT INTO eventlog_topics.vw_big (key, value)
SELECT 'k' || (g % 10), jsonb_build_object('n', g) FROM generate_series(1, 24000) g;
CREATE FUNCTION vw_app.chain(s jsonb, r eventlog_topics.vw_big) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('h', ((coalesce((s->>'h')::bigint, 1) * 31) + (r.value->>'n')::int) % 1000003) $$;
CREATE AGGREGATE vw_app.chain_all(eventlog_topics.vw_big) (sfunc = vw_app.chain, stype = jsonb);
SELECT eventlog.create_view('big_latest', 'vw_big');
SELECT eventlog.create_view('big_chain', 'vw_big', 'reduce',
                            reducer => 'vw_app.chain(jsonb, eventlog_topics.vw_big)');
SELECT count(*) AS big_diff FROM (
  (SELECT key, value FROM big_latest
   EXCEPT SELECT key, value FROM (SELECT DISTINCT ON (key) key, value FROM eventlog_topics.vw_big
                                   ORDER BY key, "offset" DESC) l)
  UNION ALL
  (SELECT key, state FROM big_chain
   EXCEPT SELECT key, vw_app.chain_all(b ORDER BY "offset") FROM eventlog_topics.vw_big b GROUP BY key)
  UNION ALL
  (SELECT key, vw_app.chain_all(b ORDER BY "offset") FROM eventlog_topics.vw_big b GROUP BY key
   EXCEPT SELECT key, state FROM big_chain)) d;
SELECT eventlog.rebuild_view('big_chain');
SELECT count(*) AS rows, count(DISTINCT state) AS states FROM big_chain;

-- drop_view drops the table and the definition
SELECT eventlog.drop_view('big_max');
SELECT to_regclass('vw_app.big_max'), count(*) FROM eventlog.views WHERE table_name = 'big_max' GROUP BY 1;
-- DROP TABLE of a view's table drops the view too
DROP TABLE region_min;
SELECT count(*) FROM eventlog.views WHERE table_name = 'region_min';

-- drop_topic detaches the topic's views: their tables stay, writable.
-- (A reducer's signature names the topic's row type: it must go first.)
SELECT eventlog.drop_topic('vw_orders');
SELECT eventlog.drop_view('folded');
DROP FUNCTION fold, bad_fold, bad_fold2;
DROP VIEW expect_customer, expect_folded;
SELECT eventlog.drop_topic('vw_orders');
SELECT eventlog.drop_view('big_chain');
DROP AGGREGATE vw_app.chain_all(eventlog_topics.vw_big);
DROP FUNCTION vw_app.chain;
SELECT eventlog.drop_topic('vw_big');
SELECT count(*) AS views_left FROM eventlog.views WHERE topic = 'vw_orders';
SELECT count(*) > 0 AS rows_kept FROM customer;
INSERT INTO customer (key) VALUES ('detached');
SELECT eventlog.refresh_view('customer');
RESET ROLE;
RESET search_path;
DROP SCHEMA vw_app, vw_other CASCADE;
DROP OWNED BY regress_vw_alice, regress_vw_bob, regress_vw_carol, regress_vw_dave;
DROP ROLE regress_vw_alice, regress_vw_bob, regress_vw_carol, regress_vw_dave;

-- Compaction keeps a latest view rebuildable: once the closed segments are
-- compacted (fewer records in the log), rebuild_view() derives the same
-- rows as the view that had applied every record.
SELECT eventlog.create_topic('vw_cmp', 1, cleanup_policy => 'compact', segment_bytes => 16384,
                             delete_retention => '0');
SELECT count(*) > 0 AS spare FROM eventlog.run_maintenance('vw_cmp');
SELECT eventlog.create_view('vw_cmp_latest', 'vw_cmp');
INSERT INTO eventlog_topics.vw_cmp (key, value)
SELECT 'k' || (g % 7), CASE WHEN g % 13 = 0 THEN NULL
                            ELSE jsonb_build_object('n', g, 'pad', repeat('x', 200)) END
  FROM generate_series(0, 99) g;
SELECT eventlog.refresh_view('vw_cmp_latest');
CREATE TABLE vw_cmp_before AS SELECT * FROM vw_cmp_latest;
SELECT count(*) FROM vw_cmp_before;
-- the pass rolls the full segment and compacts the closed ones
SELECT bool_or(action = 'compacted') AS compacted FROM eventlog.run_maintenance('vw_cmp');
SELECT count(*) < 100 AS fewer_records FROM eventlog_topics.vw_cmp;
SELECT eventlog.rebuild_view('vw_cmp_latest') < 100 AS rebuilt_from_fewer;
SELECT count(*) AS differences FROM (
  (TABLE vw_cmp_latest EXCEPT ALL TABLE vw_cmp_before)
  UNION ALL
  (TABLE vw_cmp_before EXCEPT ALL TABLE vw_cmp_latest)) d;
SELECT eventlog.drop_view('vw_cmp_latest');
SELECT eventlog.drop_topic('vw_cmp');
DROP TABLE vw_cmp_before;
