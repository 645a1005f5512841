-- fetch(): offset order, read committed, bounds, offset_for_time.
SELECT eventlog.create_topic('f', partitions => 2);
SELECT count(*) FROM (SELECT eventlog.produce('f', jsonb_build_object('n', g), "partition" => 0)
                        FROM generate_series(0, 9) g) s;

SELECT partition, "offset", key, value, headers FROM eventlog.fetch('f', 0, 0);
SELECT "offset", value FROM eventlog.fetch('f', 0, 4, max_records => 3);
SELECT "offset", value FROM eventlog.fetch('f', 0, 9);
SELECT count(*) AS past_end FROM eventlog.fetch('f', 0, 10);
SELECT count(*) AS far_past_end FROM eventlog.fetch('f', 0, 1000000);
SELECT count(*) AS empty_partition FROM eventlog.fetch('f', 1, 0);

-- rolled-back records and subtransactions are never returned; offsets keep gaps
BEGIN;
SELECT * FROM eventlog.produce('f', '{"n": "aborted"}', "partition" => 0);
ROLLBACK;
BEGIN;
SELECT * FROM eventlog.produce('f', '{"n": "kept-1"}', "partition" => 0);
SAVEPOINT s1;
SELECT * FROM eventlog.produce('f', '{"n": "sub-aborted"}', "partition" => 0);
ROLLBACK TO s1;
SELECT * FROM eventlog.produce('f', '{"n": "kept-2"}', "partition" => 0);
COMMIT;
SELECT "offset", value FROM eventlog.fetch('f', 0, 9);
SELECT "offset", value FROM eventlog_topics.f WHERE "offset" >= 9 ORDER BY "offset";

-- a transaction sees its own records in SQL and in fetch
BEGIN;
SELECT * FROM eventlog.produce('f', '{"n": "own"}', "partition" => 1);
SELECT "offset", value FROM eventlog.fetch('f', 1, 0);
ROLLBACK;

-- the partition view: start, end and stable offsets
SELECT partition, log_start_offset, log_end_offset, stable_offset, segments
  FROM eventlog.partitions WHERE topic = 'f' ORDER BY partition;

-- a waiting fetch with nothing to read returns empty after the wait
SELECT count(*) AS waited FROM eventlog.fetch('f', 1, 0, wait => '50 ms');
-- with data, a waiting fetch returns at once
SELECT count(*) AS immediate FROM eventlog.fetch('f', 0, 0, wait => '10 s');

-- offset_for_time: earliest offset with ts >= the given time
SELECT eventlog.offset_for_time('f', 0, '-infinity') AS first;
SELECT eventlog.offset_for_time('f', 0, 'infinity') AS none;
SELECT eventlog.offset_for_time('f', 0, ts) = "offset" AS exact
  FROM eventlog.fetch('f', 0, 5, 1);
INSERT INTO eventlog_topics.f ("partition", ts, value)
VALUES (1, '2020-01-01', '{"old": true}'), (1, '2021-01-01', '{"old": false}');
SELECT eventlog.offset_for_time('f', 1, '2020-06-01') AS mid;

-- offset_for_time uses the pages' time index (the latest time up to each
-- page) and stays exact when times go back: a spike into the future, some
-- times far in the past, an aborted late record, times compact (near the
-- page's base) and not
SELECT eventlog.create_topic('ft', partitions => 1);
INSERT INTO eventlog_topics.ft (ts, value)
SELECT CASE WHEN g = 15000 THEN '2030-01-01 00:00:00+00'
            WHEN g % 997 = 0 THEN '2000-01-01 00:00:00+00'
            WHEN g % 3 = 0 THEN '2025-01-01 00:00:00+00'::timestamptz + g * interval '1 s'
            ELSE '2025-01-01 00:00:00+00'::timestamptz + g * interval '1 h' END,
       jsonb_build_object('g', g, 'pad', repeat('x', 100))
  FROM generate_series(0, 19999) g;
BEGIN;
INSERT INTO eventlog_topics.ft (ts, value) VALUES ('2040-01-01', '{"aborted": true}');
ROLLBACK;
INSERT INTO eventlog_topics.ft (ts, value) VALUES ('2026-01-01', '{"after": "aborted"}');
SELECT bytes / 8192 > 300 AS over_300_pages FROM eventlog.partitions WHERE topic = 'ft';
-- every answer equals the brute-force one
SELECT count(*) AS wrong_answers
  FROM (SELECT t FROM generate_series('2024-12-31'::timestamptz, '2031-01-01', '11 days') t
        UNION ALL VALUES ('2030-01-01 00:00:00+00'::timestamptz), ('2039-12-31'), ('2040-01-01'),
                         ('2025-01-01 00:00:03+00'), ('2026-01-01')) q
 WHERE eventlog.offset_for_time('ft', 0, t) IS DISTINCT FROM
       (SELECT min("offset") FROM eventlog_topics.ft WHERE ts >= t);
SELECT eventlog.offset_for_time('ft', 0, '2026-06-01') AS late,
       eventlog.offset_for_time('ft', 0, '2029-12-31') AS spike,
       eventlog.offset_for_time('ft', 0, '2035-01-01') AS after_all_committed,
       eventlog.offset_for_time('ft', 0, '2041-01-01') AS none;
-- and reads a few pages, not the whole partition
CREATE FUNCTION ft_buffers(t timestamptz) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE format('EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF, FORMAT JSON) '
                 'SELECT eventlog.offset_for_time(%L, 0, %L)', 'ft', t) INTO plan;
  RETURN (plan->0->'Plan'->>'Shared Hit Blocks')::int
       + (plan->0->'Plan'->>'Shared Read Blocks')::int;
END $$;
SELECT ft_buffers('2026-06-01') >= 0 AS warm;
SELECT ft_buffers('2026-06-01') < 40 AS few_pages_read;
DROP FUNCTION ft_buffers(timestamptz);
SELECT eventlog.drop_topic('ft');
-- ... and sees the records its own INSERT has routed but not yet appended
SELECT eventlog.create_topic('ftp', partitions => 1);
CREATE FUNCTION ftp_seen() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN eventlog.offset_for_time('ftp', 0, '2033-01-01');
END $$;
INSERT INTO eventlog_topics.ftp (ts, value)
SELECT '2034-01-01', jsonb_build_object('g', g, 'seen', ftp_seen()) FROM generate_series(1, 3) g;
SELECT "offset", value FROM eventlog_topics.ftp ORDER BY "offset";
DROP FUNCTION ftp_seen();
SELECT eventlog.drop_topic('ftp');

-- bad input
SELECT * FROM eventlog.fetch('nosuch', 0, 0);
SELECT * FROM eventlog.fetch('f', 2, 0);
SELECT * FROM eventlog.fetch('f', -1, 0);
SELECT * FROM eventlog.fetch('f', 0, -1);
SELECT * FROM eventlog.fetch('f', 0, 0, max_records => 0);
SELECT * FROM eventlog.fetch('f', 0, 0, wait => '-1 s');
SELECT * FROM eventlog.fetch('f', NULL, 0);
SELECT * FROM eventlog.fetch('f', 0, NULL);
SELECT eventlog.offset_for_time('f', 7, now());
SELECT eventlog.offset_for_time('f', 0, NULL);

-- reading needs SELECT on the topic, producing needs INSERT
CREATE ROLE el_reader;
CREATE ROLE el_writer;
GRANT SELECT ON eventlog_topics.f TO el_reader;
GRANT INSERT ON eventlog_topics.f TO el_writer;
SET ROLE el_reader;
SELECT count(*) FROM eventlog.fetch('f', 0, 0);
SELECT eventlog.produce('f', '{}');
SET ROLE el_writer;
SELECT "offset" >= 0 AS produced FROM eventlog.produce('f', '{"by": "writer"}', "partition" => 1);
SELECT count(*) FROM eventlog.fetch('f', 0, 0);
SELECT count(*) FROM eventlog_topics.f;
RESET ROLE;
REVOKE ALL ON eventlog_topics.f FROM el_reader, el_writer;
DROP ROLE el_reader;
DROP ROLE el_writer;

SELECT eventlog.drop_topic('f');
