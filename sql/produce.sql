-- Producing: produce(), INSERT and COPY route identically; bad input.
SELECT eventlog.create_topic('p', partitions => 4);

-- keyed records go where Kafka's default partitioner sends them
SELECT k, eventlog.partition_for('p', k) AS partition,
       (eventlog.murmur2(convert_to(k, 'UTF8')) & 2147483647) % 4 AS kafka
  FROM unnest(ARRAY['customer-1', 'customer-2', 'abc', '21', 'foobar']) k;
SELECT k, (eventlog.produce('p', jsonb_build_object('k', k), key => k)).*
  FROM unnest(ARRAY['customer-1', 'customer-2', 'abc', '21', 'foobar', 'customer-1']) k;

-- explicit partition wins over the key
SELECT * FROM eventlog.produce('p', '{"explicit": true}', key => 'abc', "partition" => 3);

-- keyless records spread over every partition
SELECT count(DISTINCT partition) AS partitions_used
  FROM (SELECT (eventlog.produce('p', jsonb_build_object('n', g))).*
          FROM generate_series(1, 8) g) s;

-- INSERT ... SELECT routes like produce() and RETURNING shows the offset
INSERT INTO eventlog_topics.p (key, value)
SELECT 'bulk-' || g, jsonb_build_object('g', g) FROM generate_series(1, 200) g;
SELECT count(*) AS misrouted FROM eventlog_topics.p
 WHERE key IS NOT NULL AND value ? 'g' AND partition <> eventlog.partition_for('p', key);
INSERT INTO eventlog_topics.p (key, value, headers)
VALUES ('customer-1', '{"via": "insert"}', '{"trace": "t1"}')
RETURNING partition, "offset", key, value, headers;

-- COPY FROM routes the same way
COPY eventlog_topics.p (key, value) FROM stdin;
copy-1	{"via": "copy"}
copy-2	{"via": "copy"}
customer-1	{"via": "copy"}
\.
SELECT key, partition = eventlog.partition_for('p', key) AS routed
  FROM eventlog_topics.p WHERE value->>'via' = 'copy' ORDER BY key;

-- per partition, offsets are dense and ordered (no gaps without aborts)
SELECT partition, count(*) = max("offset") + 1 AS dense,
       bool_and(ts IS NOT NULL) AS ts_set
  FROM eventlog_topics.p GROUP BY partition ORDER BY partition;
SELECT partition, log_end_offset = (SELECT count(*) FROM eventlog_topics.p t
                                     WHERE t.partition = s.partition) AS end_matches
  FROM eventlog.partitions s WHERE topic = 'p' ORDER BY partition;

-- a tombstone: key with NULL value
SELECT * FROM eventlog.produce('p', NULL, key => 'customer-2');
SELECT key, value IS NULL AS tombstone FROM eventlog_topics.p
 WHERE key = 'customer-2' ORDER BY "offset" DESC LIMIT 1;

-- produce is transactional with the business write
CREATE TABLE business (id int);
BEGIN;
INSERT INTO business VALUES (1);
SELECT * FROM eventlog.produce('p', '{"order": 1}', key => 'tx');
ROLLBACK;
SELECT count(*) AS rolled_back FROM eventlog_topics.p WHERE key = 'tx';
BEGIN;
INSERT INTO business VALUES (2);
SELECT * FROM eventlog.produce('p', '{"order": 2}', key => 'tx');
COMMIT;
SELECT b.id, t.value FROM business b, eventlog_topics.p t WHERE t.key = 'tx';

-- PREPARE TRANSACTION after producing is refused and nothing is kept
BEGIN;
SELECT * FROM eventlog.produce('p', '{"prepared": true}', key => 'prep');
PREPARE TRANSACTION 'p1';
SELECT count(*) AS prepared_rows FROM eventlog_topics.p WHERE key = 'prep';
SELECT count(*) AS prepared_xacts FROM pg_prepared_xacts;

-- bad input: clear errors, nothing produced
SELECT count(*) AS before FROM eventlog_topics.p \gset
SELECT eventlog.produce('nosuch', '{}');
SELECT eventlog.produce(NULL, '{}');
SELECT eventlog.produce('p', NULL);
SELECT eventlog.produce('p', NULL, key => NULL);
SELECT eventlog.produce('p', '{}', "partition" => 4);
SELECT eventlog.produce('p', '{}', "partition" => -1);
SELECT eventlog.produce('p', '{}', headers => '"text"');
SELECT eventlog.produce('p', '{}', headers => '[]');
SELECT eventlog.produce('p', '{}', headers => '{"a": 1}');
SELECT eventlog.produce('p', '{}', headers => '{"a": {"b": "c"}}');
SELECT eventlog.produce('p', '{}', headers => '{"a": null}');
SELECT eventlog.produce('p', jsonb_build_object('big', repeat('x', 1100000)));
INSERT INTO eventlog_topics.p ("partition", value) VALUES (3, '{}'), (3, NULL);
INSERT INTO eventlog_topics.p ("partition", value) VALUES (9, '{}');
INSERT INTO eventlog_topics.p ("offset", value) VALUES (-5, '{}');
INSERT INTO eventlog_topics.p ("partition", "offset", value) VALUES (0, 0, '{}');
SELECT count(*) = :before AS unchanged FROM eventlog_topics.p;

-- the size limit is a setting
SET eventlog.max_record_bytes = '100B';
SELECT eventlog.produce('p', jsonb_build_object('v', repeat('y', 200)));
RESET eventlog.max_record_bytes;

-- explicit offsets (as pg_restore writes them) may leave gaps, never go back
INSERT INTO eventlog_topics.p ("partition", "offset", value) VALUES (1, 1000, '{"restored": true}');
SELECT * FROM eventlog.produce('p', '{"after": "restore"}', "partition" => 1);

DROP TABLE business;
SELECT eventlog.drop_topic('p');

-- An INSERT with nothing looking at single rows appends its records a page
-- at a time; order, offsets and visibility are the same as one by one.
SELECT eventlog.create_topic('bulk', partitions => 2);
INSERT INTO eventlog_topics.bulk ("partition", value)
SELECT g % 2, jsonb_build_object('g', g) FROM generate_series(1, 1000) g;
SELECT partition, count(*), min("offset"), max("offset"),
       array_agg((value->>'g')::int ORDER BY "offset") =
       array_agg((value->>'g')::int ORDER BY (value->>'g')::int) AS insertion_order
  FROM eventlog_topics.bulk GROUP BY partition ORDER BY partition;
-- a data-modifying CTE with RETURNING still sees its offsets
WITH w AS (INSERT INTO eventlog_topics.bulk ("partition", value)
           VALUES (0, '{"cte": 1}'), (0, '{"cte": 2}') RETURNING "offset")
SELECT array_agg("offset" ORDER BY "offset") FROM w;
-- a rolled-back savepoint discards its records, the rest stays in order
BEGIN;
INSERT INTO eventlog_topics.bulk ("partition", value) VALUES (1, '{"s": "before"}');
SAVEPOINT sp;
INSERT INTO eventlog_topics.bulk ("partition", value)
SELECT 1, jsonb_build_object('s', 'gone', 'g', g) FROM generate_series(1, 300) g;
ROLLBACK TO sp;
INSERT INTO eventlog_topics.bulk ("partition", value) VALUES (1, '{"s": "after"}');
COMMIT;
SELECT "offset", value FROM eventlog.fetch('bulk', 1, 500);
-- a function that reads the topic in the middle of the INSERT sees what came before
CREATE FUNCTION bulk_count() RETURNS bigint VOLATILE LANGUAGE sql
AS $$ SELECT count(*) FROM eventlog_topics.bulk WHERE value ? 'mid' $$;
INSERT INTO eventlog_topics.bulk ("partition", value)
SELECT 0, jsonb_build_object('mid', g, 'seen', bulk_count()) FROM generate_series(1, 3) g;
SELECT value->>'mid' AS mid, value->>'seen' AS seen FROM eventlog_topics.bulk
 WHERE value ? 'mid' ORDER BY "offset";
DROP FUNCTION bulk_count();
-- exception blocks inside the INSERT: what they roll back goes, the rest
-- stays, in order
CREATE FUNCTION bulk_side(g int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    INSERT INTO eventlog_topics.bulk ("partition", value) VALUES (1, jsonb_build_object('inner', g));
    IF g % 2 = 0 THEN RAISE EXCEPTION 'boom'; END IF;
  EXCEPTION WHEN others THEN NULL;
  END;
  RETURN g;
END $$;
INSERT INTO eventlog_topics.bulk ("partition", value)
SELECT 1, jsonb_build_object('outer', bulk_side(g)) FROM generate_series(1, 6) g;
SELECT string_agg(coalesce(value->>'outer', 'i' || (value->>'inner')), ',' ORDER BY "offset")
  FROM eventlog_topics.bulk WHERE value ? 'outer' OR value ? 'inner';
DROP FUNCTION bulk_side(int);
SELECT eventlog.drop_topic('bulk');

-- COPY TO (pg_dump) marks a log end that lies beyond the last visible
-- record, and COPY FROM (pg_restore) restores it: offsets are never reused
SELECT eventlog.create_topic('src', partitions => 2);
SELECT "offset" FROM eventlog.produce('src', '{"n": 0}', "partition" => 0);
BEGIN;
SELECT "offset" FROM eventlog.produce('src', '{"n": "aborted"}', "partition" => 0);
SELECT "offset" FROM eventlog.produce('src', '{"n": "aborted"}', "partition" => 1);
ROLLBACK;
-- (without the value column: no export header, see export.sql)
COPY eventlog_topics.src ("partition", "offset", key) TO stdout;
SELECT count(*) AS visible_rows FROM eventlog_topics.src;
-- files go to the output directory, removed with it
\getenv abs_builddir PG_ABS_BUILDDIR
\set src_copy :abs_builddir '/pg_eventlog_src.copy'
COPY eventlog_topics.src TO :'src_copy';
SELECT eventlog.create_topic('dst', partitions => 2);
COPY eventlog_topics.dst FROM :'src_copy';
SELECT count(*) AS restored_rows FROM eventlog_topics.dst;
SELECT partition, log_end_offset FROM eventlog.partitions WHERE topic = 'dst' ORDER BY 1;
SELECT * FROM eventlog.produce('dst', '{"n": "next"}', "partition" => 0);
SELECT eventlog.drop_topic('src');
SELECT eventlog.drop_topic('dst');

-- produce() returns one row per call in every calling context, and each
-- call produces exactly one record: in the target list over rows, as a
-- LATERAL function, rescanned after its first row (LIMIT 1), and beside
-- another set-returning function
SELECT eventlog.create_topic('srf', partitions => 1);
SELECT count(*) FROM (SELECT eventlog.produce('srf', jsonb_build_object('a', g))
                        FROM generate_series(1, 5) g) s;
SELECT count(*) FROM generate_series(1, 5) g,
  LATERAL eventlog.produce('srf', jsonb_build_object('b', g)) p;
SELECT count(*) FROM generate_series(1, 5) g,
  LATERAL (SELECT eventlog.produce('srf', jsonb_build_object('c', g)) LIMIT 1) p;
SELECT eventlog.produce('srf', '{"d": 1}') IS NOT NULL AS produced, generate_series(1, 3);
SELECT left(value::text, 6) AS call, count(*), count(DISTINCT value) AS distinct_values
  FROM eventlog_topics.srf GROUP BY 1 ORDER BY 1;
SELECT eventlog.drop_topic('srf');
