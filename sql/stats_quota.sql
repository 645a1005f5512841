-- Statistics per topic (shared-memory counters, eventlog.stats) and the
-- quota settings (set_quota, set_default_quota, eventlog.quotas).
CREATE ROLE regress_sq_user;
CREATE ROLE regress_sq_other;
SELECT eventlog.create_topic('sq', partitions => 2);
SELECT eventlog.create_topic('sq_hidden');
GRANT SELECT, INSERT ON eventlog_topics.sq TO regress_sq_user;
SELECT eventlog.reset_stats() >= 0 AS reset;
SELECT * FROM eventlog.produce('sq', '{"n": 1}', key => 'a');
INSERT INTO eventlog_topics.sq (key, value) SELECT 'k' || g, '{}' FROM generate_series(1, 9) g;
COPY eventlog_topics.sq (key, value) FROM STDIN;
c1	{"c": 1}
c2	{"c": 2}
\.
SELECT eventlog.produce('sq_hidden', '{}');
-- counts of a rolled-back produce are counted too: the bytes were written
BEGIN;
SELECT eventlog.produce('sq', '{"aborted": true}', "partition" => 0) IS NOT NULL;
ROLLBACK;
SELECT count(*) FROM eventlog.fetch('sq', 0, 0);
SELECT count(*) FROM eventlog.fetch('sq', 1, 0);
SELECT count(*) FROM eventlog.poll('sq-group', 'sq');
-- records: 1 + 9 + 2 + 1 produced; fetched 13 by fetch, 12 by poll
SELECT topic, records_produced, bytes_produced > 0 AS bytes_produced,
       records_fetched, bytes_fetched > 0 AS bytes_fetched,
       stats_reset <= now() AS stats_reset
  FROM eventlog.stats ORDER BY topic;
-- a role sees the topics it may read only
SET ROLE regress_sq_user;
SELECT topic, records_produced FROM eventlog.stats ORDER BY topic;
SELECT eventlog.reset_stats();
RESET ROLE;
-- reset one topic, then all
SELECT eventlog.reset_stats('eventlog_topics.sq');
SELECT topic, records_produced FROM eventlog.stats ORDER BY topic;
SELECT eventlog.reset_stats('eventlog_topics.nope');
SELECT eventlog.reset_stats();
SELECT count(*) FROM eventlog.stats;

-- stored record bytes: fetch and poll count what produce counted, also for
-- values kept in TOAST (not their pointer), values compressed inline, a
-- value that came compressed from a heap table, and records whose
-- timestamp their page keeps as a difference
SELECT eventlog.create_topic('sq_toast');
CREATE TABLE sq_src (v jsonb);
INSERT INTO sq_src SELECT jsonb_build_object('pad', repeat('c', 20000));
SELECT pg_column_compression(v) IS NOT NULL AS compressed_in_heap FROM sq_src;
SELECT * FROM eventlog.produce('sq_toast', jsonb_build_object('v',
    (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 3200) i)), key => 'big');
SELECT * FROM eventlog.produce('sq_toast', jsonb_build_object('v', repeat('x', 100000)), key => 'compressible');
INSERT INTO eventlog_topics.sq_toast (key, value) SELECT 'from-heap', v FROM sq_src;
SELECT * FROM eventlog.produce('sq_toast', '{"small": 1}', headers => '{"h": "v"}');
SELECT * FROM eventlog.produce('sq_toast', NULL, key => 'tombstone');
SELECT count(*) FROM eventlog.fetch('sq_toast', 0, 0);
SELECT count(*) FROM eventlog.poll('sq-toast-group', 'sq_toast');
SELECT records_produced, records_fetched, bytes_produced > 220000 AS in_full,
       bytes_fetched = 2 * bytes_produced AS fetched_as_produced
  FROM eventlog.stats WHERE topic = 'sq_toast';
SELECT eventlog.drop_topic('sq_toast');
DROP TABLE sq_src;

-- quotas: superusers set them; NULL = no limit; both NULL removes
SELECT eventlog.set_quota('regress_sq_user', 1000000, NULL);
SELECT eventlog.set_quota('regress_sq_user', 2000000, 3000000);	-- replaces
SELECT eventlog.set_default_quota(50000000, 60000000);
SELECT role_name::text, produce_bytes_per_sec, fetch_bytes_per_sec
  FROM eventlog.quota ORDER BY 1;
SELECT role_name, quota, produce_bytes_per_sec, fetch_bytes_per_sec
  FROM eventlog.quotas WHERE role_name IS NULL OR role_name LIKE 'regress_sq%' ORDER BY 1;
-- the default quota does not apply to superusers (pg_restore, maintenance)
SELECT count(*) FROM eventlog.produce('sq', '{"su": 1}');
SELECT count(*) FROM eventlog.quotas WHERE role_name = current_user;
-- a role using its quota shows up with its throttle time (the session user
-- is charged: SET SESSION AUTHORIZATION, not SET ROLE)
SET SESSION AUTHORIZATION regress_sq_user;
SELECT count(*) FROM eventlog.produce('sq', '{"q": 1}');
SELECT count(*) > 0 AS fetched FROM eventlog.fetch('sq', 0, 0);
RESET SESSION AUTHORIZATION;
SELECT role_name, quota, bytes_produced > 0 AS produced, bytes_fetched > 0 AS fetched,
       throttled_ms >= 0 AS throttled_ms
  FROM eventlog.quotas WHERE role_name = 'regress_sq_user';
-- bad input
SELECT eventlog.set_quota(NULL, 1, 1);
SELECT eventlog.set_quota('regress_sq_nobody', 1, 1);
SELECT eventlog.set_quota('regress_sq_user', 0, 1);
SELECT eventlog.set_quota('regress_sq_user', 1, -5);
SELECT eventlog.set_default_quota(-1, NULL);
SET ROLE regress_sq_user;
SELECT eventlog.set_quota('regress_sq_user', NULL, NULL);
SELECT eventlog.set_default_quota(NULL, NULL);
INSERT INTO eventlog.quota VALUES ('regress_sq_user', 1, 1);
DELETE FROM eventlog.quota;
RESET ROLE;
SELECT eventlog.set_quota('regress_sq_user', NULL, NULL);
SELECT eventlog.set_default_quota(NULL, NULL);
SELECT count(*) FROM eventlog.quota;

SELECT eventlog.drop_topic('sq');
SELECT eventlog.drop_topic('sq_hidden');
DROP ROLE regress_sq_user, regress_sq_other;
