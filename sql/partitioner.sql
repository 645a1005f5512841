--
-- partitioner: keyed records must hash and pick a partition exactly as a
-- Kafka Java producer would, so each value below comes from Kafka itself.
--

-- Kafka's own murmur2 vectors: clients/src/test/java/org/apache/kafka/
-- common/utils/UtilsTest.java, testMurmur2.  Comments give the ASCII input.

-- "21"
SELECT eventlog.murmur2('\x3231'::bytea) = -973932308 AS ok,
       eventlog.murmur2('\x3231'::bytea) AS got;
-- "foobar"
SELECT eventlog.murmur2('\x666f6f626172'::bytea) = -790332482 AS ok,
       eventlog.murmur2('\x666f6f626172'::bytea) AS got;
-- "a-little-bit-long-string"
SELECT eventlog.murmur2('\x612d6c6974746c652d6269742d6c6f6e672d737472696e67'::bytea) = -985981536 AS ok,
       eventlog.murmur2('\x612d6c6974746c652d6269742d6c6f6e672d737472696e67'::bytea) AS got;
-- "a-little-bit-longer-string"
SELECT eventlog.murmur2('\x612d6c6974746c652d6269742d6c6f6e6765722d737472696e67'::bytea) = -1486304829 AS ok,
       eventlog.murmur2('\x612d6c6974746c652d6269742d6c6f6e6765722d737472696e67'::bytea) AS got;
-- "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"
SELECT eventlog.murmur2('\x6c6b6a683233346c68396669756839307932336f697568736166756a6861646f66323239706872396831396838396838'::bytea) = -58897971 AS ok,
       eventlog.murmur2('\x6c6b6a683233346c68396669756839307932336f697568736166756a6861646f66323239706872396831396838396838'::bytea) AS got;
-- new byte[] {'a', 'b', 'c'}
SELECT eventlog.murmur2('\x616263'::bytea) = 479470107 AS ok,
       eventlog.murmur2('\x616263'::bytea) AS got;

-- Inputs Kafka's tests leave out: empty, and bytes >= 0x80 (where Java's
-- signed byte could leak in), at every tail length.  Expected values were
-- computed by Kafka's Utils.murmur2 algorithm running on a JVM.
SELECT eventlog.murmur2(''::bytea) = 275646681 AS ok,
       eventlog.murmur2(''::bytea) AS got;
SELECT eventlog.murmur2('\xff'::bytea) = -311467685 AS ok,
       eventlog.murmur2('\xff'::bytea) AS got;
SELECT eventlog.murmur2('\x80ff7f'::bytea) = -1765891516 AS ok,
       eventlog.murmur2('\x80ff7f'::bytea) AS got;
SELECT eventlog.murmur2('\xffffffff'::bytea) = 644171429 AS ok,
       eventlog.murmur2('\xffffffff'::bytea) AS got;
SELECT eventlog.murmur2('\xffffffffff'::bytea) = -363838622 AS ok,
       eventlog.murmur2('\xffffffffff'::bytea) AS got;

-- key_partition must clear the sign bit (Kafka's Utils.toPositive), not
-- take abs(): with 1000 partitions the two differ for every negative
-- hash above.
SELECT k,
       eventlog.key_partition(k, 1000) = ((h & 2147483647) % 1000) AS ok,
       eventlog.key_partition(k, 1000) AS got
FROM (VALUES ('21', -973932308),
             ('foobar', -790332482),
             ('a-little-bit-long-string', -985981536),
             ('a-little-bit-longer-string', -1486304829),
             ('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971),
             ('abc', 479470107)) AS v(k, h)
ORDER BY k COLLATE "C";

-- Kafka Streams' RecordCollectorTest sends these String keys through the
-- default partitioner to a 3-partition topic and asserts that partitions
-- 0, 1 and 2 receive 4, 3 and 2 records.
SELECT array_agg(n ORDER BY p) = '{4,3,2}' AS ok,
       array_agg(n ORDER BY p) AS got
FROM (SELECT eventlog.key_partition(k, 3) AS p, count(*) AS n
      FROM unnest(ARRAY['3', '9', '27', '81', '243',
                        '28', '82', '244', '245']) AS k
      GROUP BY 1) AS s;

-- Partitions for keys "0".."9" on 3 partitions, as precomputed in Kafka
-- Streams' KTableKTableForeignKeyInnerJoinMultiIntegrationTest.
SELECT k,
       eventlog.key_partition(k, 3) = want AS ok,
       eventlog.key_partition(k, 3) AS got
FROM (VALUES ('0', 2), ('1', 0), ('2', 2), ('3', 2), ('4', 1),
             ('5', 0), ('6', 1), ('7', 0), ('8', 0), ('9', 2)) AS v(k, want)
ORDER BY k;

-- A single partition takes every key, including ones with negative hashes.
SELECT eventlog.key_partition('foobar', 1) AS foobar,
       eventlog.key_partition('abc', 1) AS abc,
       eventlog.key_partition('', 1) AS empty;

-- A partition count below 1 is a caller error, not a division by zero.
SELECT eventlog.key_partition('a', 0);
SELECT eventlog.key_partition('a', -1);

-- STRICT: a NULL argument gives NULL, not an error.
SELECT eventlog.murmur2(NULL) IS NULL AS murmur2_null,
       eventlog.key_partition(NULL, 3) IS NULL AS key_null,
       eventlog.key_partition('a', NULL) IS NULL AS parts_null;
