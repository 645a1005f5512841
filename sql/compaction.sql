-- Log compaction: settings, keyless records refused, a deterministic
-- compaction through run_maintenance().  (The background worker is off in
-- this cluster: test/eventlog.conf.)

-- settings and their defaults
SELECT eventlog.create_topic('cmp', 1, cleanup_policy => 'compact', segment_bytes => 16384,
                             delete_retention => '1 hour');
SELECT eventlog.create_topic('cmp_lag', 1, cleanup_policy => 'compact,delete',
                             segment_bytes => 16384, min_compaction_lag => '1 hour');
SELECT eventlog.create_topic('cmp_plain', 1);
SELECT topic, cleanup_policy, delete_retention, min_compaction_lag
  FROM eventlog.topics WHERE topic LIKE 'cmp%' ORDER BY topic;
-- bad settings change nothing
SELECT eventlog.create_topic('cmp_bad', cleanup_policy => 'compaction');
SELECT eventlog.create_topic('cmp_bad', cleanup_policy => 'compact', delete_retention => '-1 s');
SELECT eventlog.create_topic('cmp_bad', cleanup_policy => 'compact', min_compaction_lag => '-1 day');
SELECT eventlog.alter_topic('cmp_plain', min_compaction_lag => '-1 s');
SELECT eventlog.alter_topic('cmp_plain', cleanup_policy => 'keep');
SELECT count(*) FROM eventlog.topics WHERE topic = 'cmp_bad';
SELECT cleanup_policy, min_compaction_lag FROM eventlog.topics WHERE topic = 'cmp_plain';
-- zero is allowed for both
SELECT eventlog.alter_topic('cmp_plain', delete_retention => '0', min_compaction_lag => '0');
SELECT delete_retention, min_compaction_lag FROM eventlog.topics WHERE topic = 'cmp_plain';

-- keyless records: accepted by a delete topic, refused by a compacted one
SELECT partition, "offset" FROM eventlog.produce('cmp_plain', '{"keyless": 1}');
SELECT eventlog.alter_topic('cmp_plain', cleanup_policy => 'compact');
SELECT cleanup_policy FROM eventlog.topics WHERE topic = 'cmp_plain';
\set VERBOSITY default
SELECT * FROM eventlog.produce('cmp_plain', '{"keyless": 2}');
INSERT INTO eventlog_topics.cmp_plain (value) VALUES ('{"keyless": 3}');
INSERT INTO eventlog_topics.cmp (key, value) VALUES ('ok', '{}'), (NULL, '{"keyless": 4}');
COPY eventlog_topics.cmp (key, value) FROM stdin;
ok	{}
\N	{"keyless": 5}
\.
\set VERBOSITY terse
-- nothing of those statements was appended
SELECT count(*) FROM eventlog_topics.cmp;
SELECT count(*), count(key) FROM eventlog_topics.cmp_plain;
-- the check sees the row as stored: after the owner's BEFORE triggers
SELECT eventlog.create_topic('cmp_trg', 1, cleanup_policy => 'compact');
CREATE FUNCTION eventlog_topics.cmp_nokey() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN NEW.key := NULL; RETURN NEW; END $$;
CREATE TRIGGER nokey BEFORE INSERT ON eventlog_topics.cmp_trg
  FOR EACH ROW EXECUTE FUNCTION eventlog_topics.cmp_nokey();
INSERT INTO eventlog_topics.cmp_trg (key, value) VALUES ('a', '{}');
SELECT count(*) FROM eventlog_topics.cmp_trg;
SELECT eventlog.drop_topic('cmp_trg');
DROP FUNCTION eventlog_topics.cmp_nokey();
-- keyed records and tombstones are fine
SELECT partition, "offset" FROM eventlog.produce('cmp_plain', '{"v": 1}', key => 'k');
SELECT partition, "offset" FROM eventlog.produce('cmp_plain', NULL, key => 'k');

-- a deterministic compaction.  Keys k0..k4 in turn (offsets 0..99, large
-- enough for segment_bytes to roll), then: a tombstone of k1 written two
-- hours ago, a tombstone of k2 written now, and one more k3.
SELECT action FROM eventlog.run_maintenance('cmp');
INSERT INTO eventlog_topics.cmp (key, value)
SELECT 'k' || (g % 5), jsonb_build_object('n', g, 'pad', repeat('x', 200))
  FROM generate_series(0, 99) g;
INSERT INTO eventlog_topics.cmp (ts, key, value) VALUES (now() - interval '2 hours', 'k1', NULL);
INSERT INTO eventlog_topics.cmp (key, value) VALUES ('k2', NULL);
INSERT INTO eventlog_topics.cmp (key, value) VALUES ('k3', '{"n": 102}');
CREATE TEMP TABLE cmp_before AS SELECT * FROM eventlog_topics.cmp;
-- the maintenance passes roll the full segment, compact what is closed;
-- the last record (offset 102) is in the active segment
SELECT action, detail FROM eventlog.run_maintenance('cmp') WHERE action <> 'dropped';
SELECT action, detail FROM eventlog.run_maintenance('cmp') WHERE action <> 'dropped';
SELECT seg_no, base_offset, end_offset, records, state
  FROM eventlog.segments WHERE topic = 'cmp' ORDER BY seg_no;
SELECT log_start_offset, log_end_offset, stable_offset FROM eventlog.partitions WHERE topic = 'cmp';
-- the latest record of each key, offsets unchanged; k1's old tombstone is
-- gone, k2's young one stays; k3's earlier records went with 102 in the
-- active segment
SELECT "offset", key, value->>'n' AS n FROM eventlog.fetch('cmp', 0, 0, 1000);
SELECT "offset", key FROM eventlog_topics.cmp ORDER BY "offset";
-- the same set computed from a heap copy taken before: the latest record
-- of each key unless it is a tombstone older than delete_retention, and
-- whatever is in the active segment
SELECT count(*) AS differences FROM (
  (SELECT "offset", key, value FROM eventlog.fetch('cmp', 0, 0, 1000)
   EXCEPT ALL
   SELECT "offset", key, value FROM cmp_before b
    WHERE "offset" >= (SELECT base_offset FROM eventlog.segments
                        WHERE topic = 'cmp' AND state = 'active')
       OR ("offset" = (SELECT max("offset") FROM cmp_before l WHERE l.key = b.key)
           AND NOT (value IS NULL AND ts < now() - interval '1 hour')))
  UNION ALL
  (SELECT "offset", key, value FROM cmp_before b
    WHERE "offset" >= (SELECT base_offset FROM eventlog.segments
                        WHERE topic = 'cmp' AND state = 'active')
       OR ("offset" = (SELECT max("offset") FROM cmp_before l WHERE l.key = b.key)
           AND NOT (value IS NULL AND ts < now() - interval '1 hour'))
   EXCEPT ALL
   SELECT "offset", key, value FROM eventlog.fetch('cmp', 0, 0, 1000))) d;
-- from inside a gap: the next surviving record
SELECT "offset", key FROM eventlog.fetch('cmp', 0, 10, 2);
SELECT "offset", key FROM eventlog.fetch('cmp', 0, 96, 1);
SELECT eventlog.offset_for_time('cmp', 0, '-infinity');
-- a pass with nothing to remove rewrites nothing
SELECT action, detail FROM eventlog.run_maintenance('cmp') WHERE action = 'compacted';
-- delete_retention 0: the young tombstone goes at the next compaction
SELECT eventlog.alter_topic('cmp', delete_retention => '0');
SELECT action FROM eventlog.run_maintenance('cmp') WHERE action = 'compacted';
SELECT action FROM eventlog.run_maintenance('cmp') WHERE action = 'compacted';
SELECT "offset", key, value->>'n' AS n FROM eventlog.fetch('cmp', 0, 0, 1000);
SELECT seg_no, base_offset, end_offset, records, state
  FROM eventlog.segments WHERE topic = 'cmp' ORDER BY seg_no;
-- producing goes on after the log end
SELECT partition, "offset" FROM eventlog.produce('cmp', '{"n": 103}', key => 'k0');
-- compacted relations replaced the originals, which were dropped later
SELECT count(*) AS replaced_awaiting_drop FROM eventlog.segment_trash WHERE topic = 'cmp';
SELECT count(*) FROM eventlog.segment_map WHERE topic = 'cmp' AND compacted_xid IS NOT NULL;

-- min_compaction_lag: records younger than it stay, older ones go
SELECT action FROM eventlog.run_maintenance('cmp_lag');
INSERT INTO eventlog_topics.cmp_lag (ts, key, value)
SELECT now() - interval '2 hours', 'k' || (g % 5), jsonb_build_object('n', g, 'pad', repeat('x', 200))
  FROM generate_series(0, 49) g;
INSERT INTO eventlog_topics.cmp_lag (key, value)
SELECT 'k' || (g % 5), jsonb_build_object('n', g, 'pad', repeat('x', 200))
  FROM generate_series(50, 99) g;
SELECT action, detail FROM eventlog.run_maintenance('cmp_lag') WHERE action <> 'dropped';
SELECT action, detail FROM eventlog.run_maintenance('cmp_lag') WHERE action = 'compacted';
-- the old ones went (every key has younger records), the young ones stay
SELECT count(*), min("offset"), max("offset") FROM eventlog.fetch('cmp_lag', 0, 0, 1000);

-- TOAST: compaction of segments holding large values, also one whose
-- TOASTed value lives in the previous segment's TOAST table (its append
-- crossed the roll); a segment compacted twice while the relation it first
-- replaced is kept for that TOAST table.  Every read is checked against a
-- heap copy: each record read is the one produced at its offset, and each
-- key's latest record is read.
SELECT eventlog.create_topic('cmp_toast', 1, cleanup_policy => 'compact', segment_bytes => 16384,
                             delete_retention => '0');
SELECT action FROM eventlog.run_maintenance('cmp_toast');
CREATE FUNCTION cmp_big(n int) RETURNS jsonb LANGUAGE sql AS
  $$ SELECT jsonb_build_object('n', n, 'big', (SELECT string_agg(md5(n::text || ':' || i), '') FROM generate_series(1, 100) i)) $$;
CREATE TABLE cmp_toast_copy AS SELECT "offset", key, value FROM eventlog_topics.cmp_toast;
CREATE VIEW cmp_toast_check AS
  WITH f AS (SELECT "offset", key, value FROM eventlog.fetch('cmp_toast', 0, 0, 100000)),
       l AS (SELECT DISTINCT ON (key) key, "offset" FROM cmp_toast_copy ORDER BY key, "offset" DESC)
  SELECT (SELECT count(*) FROM f) AS read,
         (SELECT count(*) FROM f WHERE NOT EXISTS (SELECT 1 FROM cmp_toast_copy c
                                                    WHERE c."offset" = f."offset" AND c.key = f.key AND c.value = f.value)) AS wrong,
         (SELECT count(*) FROM l WHERE NOT EXISTS (SELECT 1 FROM f WHERE f."offset" = l."offset")) AS missing;
-- one buffered INSERT: k55's large value is stored in segment 0's TOAST
-- table (segment 0 has not reached segment_bytes, its TOAST table counted,
-- when k55 is routed), then the records before it fill segment 0's pages
-- and the append rolls (pages and TOAST table now reach segment_bytes):
-- k55's record is appended to segment 1
INSERT INTO eventlog_topics.cmp_toast (key, value)
SELECT 'k' || g, CASE WHEN g = 55 THEN cmp_big(g)
                      ELSE jsonb_build_object('n', g, 'pad', repeat('x', 100)) END
  FROM generate_series(0, 90) g;
INSERT INTO cmp_toast_copy SELECT "offset", key, value FROM eventlog_topics.cmp_toast;
SELECT seg_no, base_offset, end_offset, state FROM eventlog.segments WHERE topic = 'cmp_toast' ORDER BY seg_no;
-- large values in segment 1's own TOAST table too; supersede k0..k9
-- (segment 0): segment 0 is rewritten
INSERT INTO cmp_toast_copy
SELECT p."offset", 'k' || g, v.value
  FROM generate_series(0, 9) g,
       LATERAL (SELECT CASE WHEN g % 3 = 0 THEN cmp_big(g) ELSE jsonb_build_object('new', g) END AS value) v,
       LATERAL eventlog.produce('cmp_toast', v.value, key => 'k' || g) p;
SELECT action, detail FROM eventlog.run_maintenance('cmp_toast') WHERE action IN ('compacted', 'rolled');
SELECT * FROM cmp_toast_check;
-- the replaced relation's TOAST table is still used by segment 1 (k55):
-- it stays, but no snapshot reads it as a segment any more, so ...
SELECT action FROM eventlog.run_maintenance('cmp_toast') WHERE action IN ('compacted', 'dropped');
SELECT count(*) AS awaiting_drop FROM eventlog.segment_trash WHERE topic = 'cmp_toast';
SELECT * FROM cmp_toast_check;
-- ... segment 0 is compacted again when a later record supersedes one of it
INSERT INTO cmp_toast_copy
SELECT p."offset", 'k10', '{"new": 10}' FROM eventlog.produce('cmp_toast', '{"new": 10}', key => 'k10') p;
SELECT action, detail FROM eventlog.run_maintenance('cmp_toast') WHERE action IN ('compacted', 'rolled');
SELECT * FROM cmp_toast_check;
-- the rewrite it replaced goes (its TOAST table is its own records' only);
-- the first relation stays for segment 1's record
SELECT action FROM eventlog.run_maintenance('cmp_toast') WHERE action IN ('compacted', 'dropped');
SELECT count(*) AS awaiting_drop FROM eventlog.segment_trash WHERE topic = 'cmp_toast';
-- segment 1 is rewritten once its records are superseded: k55's large
-- value is stored again from the first relation's TOAST table, the others
-- from segment 1's own
INSERT INTO cmp_toast_copy
SELECT p."offset", 'k' || g, jsonb_build_object('new', g)
  FROM generate_series(56, 90) g,
       LATERAL eventlog.produce('cmp_toast', jsonb_build_object('new', g), key => 'k' || g) p;
SELECT action, detail FROM eventlog.run_maintenance('cmp_toast') WHERE action IN ('compacted', 'rolled');
SELECT * FROM cmp_toast_check;
SELECT action, detail FROM eventlog.run_maintenance('cmp_toast') WHERE action IN ('compacted', 'rolled');
SELECT * FROM cmp_toast_check;
SELECT action FROM eventlog.run_maintenance('cmp_toast') WHERE action IN ('compacted', 'dropped');
SELECT action FROM eventlog.run_maintenance('cmp_toast') WHERE action IN ('compacted', 'dropped');
SELECT * FROM cmp_toast_check;
SELECT seg_no, base_offset, end_offset, records, state FROM eventlog.segments WHERE topic = 'cmp_toast' ORDER BY seg_no;
SELECT eventlog.drop_topic('cmp_toast');
DROP VIEW cmp_toast_check;
DROP TABLE cmp_toast_copy;
DROP FUNCTION cmp_big(int);

-- min_compaction_lag also keeps a young tombstone (delete_retention 0):
-- records younger than the lag are never removed
SELECT eventlog.create_topic('cmp_lagt', 1, cleanup_policy => 'compact', segment_bytes => 16384,
                             delete_retention => '0', min_compaction_lag => '1 hour');
SELECT action FROM eventlog.run_maintenance('cmp_lagt');
INSERT INTO eventlog_topics.cmp_lagt (ts, key, value)
SELECT now() - interval '2 hours', 'k' || (g % 5), jsonb_build_object('n', g, 'pad', repeat('x', 200))
  FROM generate_series(0, 69) g;
INSERT INTO eventlog_topics.cmp_lagt (key, value) VALUES ('k1', NULL);
SELECT eventlog.alter_topic('cmp_lagt', segment_interval => '1 s');
SELECT pg_sleep(1.1);
SELECT action, detail FROM eventlog.run_maintenance('cmp_lagt') WHERE action IN ('rolled', 'compacted');
SELECT action, detail FROM eventlog.run_maintenance('cmp_lagt') WHERE action IN ('rolled', 'compacted');
SELECT "offset", key, value FROM eventlog.fetch('cmp_lagt', 0, 0, 1000) WHERE key = 'k1';
SELECT eventlog.drop_topic('cmp_lagt');

-- gaps: offset_for_time gives the first surviving record at or after the
-- time; a group whose committed offset lies inside a gap polls on from the
-- next surviving record
SELECT eventlog.create_topic('cmp_gap', 1, cleanup_policy => 'compact', segment_bytes => 16384);
SELECT action FROM eventlog.run_maintenance('cmp_gap');
INSERT INTO eventlog_topics.cmp_gap (ts, key, value)
SELECT timestamptz '2026-01-01' + g * interval '1 s', CASE WHEN g = 5 THEN 'solo' ELSE 'k' || (g % 5) END, jsonb_build_object('n', g, 'pad', repeat('x', 200))
  FROM generate_series(0, 99) g;
SELECT action, detail FROM eventlog.run_maintenance('cmp_gap') WHERE action = 'compacted';
SELECT t, eventlog.offset_for_time('cmp_gap', 0, timestamptz '2026-01-01' + t * interval '1 s')
  FROM unnest(ARRAY[-1, 5, 6, 10, 63, 64, 65, 99, 100]) t;
SELECT eventlog.seek('cmp_gap_group', 'cmp_gap', 0, 3);
SELECT "offset", key FROM eventlog.poll('cmp_gap_group', 'cmp_gap', 2);
SELECT eventlog.seek('cmp_gap_group', 'cmp_gap', 0, 10);
SELECT "offset", key FROM eventlog.poll('cmp_gap_group', 'cmp_gap', 2);
SELECT eventlog.leave('cmp_gap_group', 'cmp_gap');
SELECT eventlog.drop_topic('cmp_gap');

-- keys are equal only when their bytes are (as in Kafka): the NFC and NFD
-- forms of é, and 'A' and 'a', are four keys whatever the collation
SELECT eventlog.create_topic('cmp_bytes', 1, cleanup_policy => 'compact', segment_bytes => 16384);
SELECT action FROM eventlog.run_maintenance('cmp_bytes');
SELECT count(*) FROM eventlog.produce('cmp_bytes', '{"v": 1}', key => U&'\00E9');
SELECT count(*) FROM eventlog.produce('cmp_bytes', '{"v": 1}', key => U&'\0065\0301');
SELECT count(*) FROM eventlog.produce('cmp_bytes', '{"v": 1}', key => 'A');
SELECT count(*) FROM eventlog.produce('cmp_bytes', '{"v": 1}', key => 'a' COLLATE "C");
SELECT count(*) FROM generate_series(1, 70) g,
       LATERAL eventlog.produce('cmp_bytes', jsonb_build_object('pad', repeat('x', 200), 'g', g), key => 'pad') p;
SELECT count(*) FROM eventlog.produce('cmp_bytes', '{"v": 2}', key => U&'\00E9');
SELECT count(*) FROM eventlog.produce('cmp_bytes', '{"v": 2}', key => 'a');
SELECT action, detail FROM eventlog.run_maintenance('cmp_bytes') WHERE action = 'compacted';
SELECT "offset", key = U&'\00E9' AS nfc, key = U&'\0065\0301' AS nfd, key, value->>'v' AS v
  FROM eventlog.fetch('cmp_bytes', 0, 0, 1000) WHERE key <> 'pad';
SELECT eventlog.drop_topic('cmp_bytes');

-- passes repeated in one transaction make one spare: the topic cache
-- leaves out the spare this transaction made, the pass must not
SELECT eventlog.create_topic('cmp_tx', 1, cleanup_policy => 'compact');
BEGIN;
SELECT action, segment FROM eventlog.run_maintenance('cmp_tx');
SELECT action, segment FROM eventlog.run_maintenance('cmp_tx');
SELECT action, segment FROM eventlog.run_maintenance('cmp_tx');
COMMIT;
SELECT seg_no, state FROM eventlog.segments WHERE topic = 'cmp_tx' ORDER BY seg_no;
SELECT action, segment FROM eventlog.run_maintenance('cmp_tx');
SELECT eventlog.drop_topic('cmp_tx');

-- a rolled-back record with a TOASTed key, in a closed segment: once
-- VACUUM has removed its chunks from the segment's TOAST table, compaction
-- goes on (only settled live records' keys are read)
SELECT eventlog.create_topic('cmp_abk', 1, cleanup_policy => 'compact', segment_bytes => 16384,
                             delete_retention => '0');
SELECT action FROM eventlog.run_maintenance('cmp_abk');
BEGIN;
SELECT count(*) FROM eventlog.produce('cmp_abk', '{"big": "key"}',
       key => (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i));
ROLLBACK;
INSERT INTO eventlog_topics.cmp_abk (key, value)
SELECT 'k' || (g % 5), jsonb_build_object('n', g, 'pad', repeat('x', 200))
  FROM generate_series(0, 99) g;
\set ECHO none
SELECT format('VACUUM %s', s.segrel::regclass)
  FROM eventlog.segment_map s WHERE s.topic = 'cmp_abk' AND s.seg_no = 0 \gexec
\set ECHO all
SELECT action, detail FROM eventlog.run_maintenance('cmp_abk') WHERE action = 'compacted';
SELECT action, detail FROM eventlog.run_maintenance('cmp_abk') WHERE action = 'compacted';
SELECT count(*), count(DISTINCT key) FROM eventlog.fetch('cmp_abk', 0, 0, 1000);
SELECT eventlog.drop_topic('cmp_abk');

SELECT eventlog.drop_topic('cmp');
SELECT eventlog.drop_topic('cmp_lag');
SELECT eventlog.drop_topic('cmp_plain');
SELECT count(*) FROM eventlog.segment_map WHERE topic LIKE 'cmp%';
SELECT count(*) FROM eventlog.segment_trash WHERE topic LIKE 'cmp%';
