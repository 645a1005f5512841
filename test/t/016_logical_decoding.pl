# pg_eventlog: logical decoding of topics (issue 11, design.md section 6).
#
# rm_decode turns every committed record into an INSERT of the topic
# relation, read here through test_decoding with
# pg_logical_slot_get_changes():
#   - a slot created while producers on several partitions commit, roll
#     back and use savepoints: every transaction that commits after the
#     slot is ready arrives whole (all its records, none of its rolled-back
#     subtransactions), once, in commit order, with the values fetch()
#     returns; nothing of an aborted transaction arrives;
#   - savepoints and released subtransactions whose buffered records are
#     appended by their parent; TOASTed values; a transaction larger than
#     logical_decoding_work_mem, spilled and streamed;
#   - pg_replication_slot_advance() (fast-forward) and replication origins
#     (test_decoding's only-local) are respected.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $nparts = 3;
my $duration = 8;

my $node = PostgreSQL::Test::Cluster->new('decode');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_level = logical
max_replication_slots = 8
logical_decoding_work_mem = 64kB
checkpoint_timeout = 1h
});
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('d', partitions => $nparts);
CREATE SEQUENCE ids;
CREATE TABLE committed_ids (id bigint PRIMARY KEY, xid bigint NOT NULL,
                            xact_start timestamptz NOT NULL);
-- what a slot delivered, one row per change (test_decoding's text)
CREATE TABLE decoded (slot text, n serial, lsn pg_lsn, xid bigint, data text);
CREATE INDEX ON decoded (slot, n);
CREATE VIEW decoded_rows AS
SELECT slot, n, xid,
       substring(data from 'partition\\[integer\\]:(\\d+)')::int AS partition,
       substring(data from '"offset"\\[bigint\\]:(\\d+)')::bigint AS "offset",
       replace(substring(data from \$\$ key\\[text\\]:'(.*?)' value\\[jsonb\\]:\$\$), '''''', '''') AS key,
       replace(substring(data from \$\$ value\\[jsonb\\]:'(.*)' headers\\[jsonb\\]:\$\$), '''''', '''') AS value
  FROM decoded WHERE data LIKE 'table eventlog_topics.d: INSERT:%';
});

# every record fetch() returns, into table fetched
sub refetch
{
	$node->safe_psql(
		'postgres', qq{
DROP TABLE IF EXISTS fetched;
CREATE TABLE fetched AS
SELECT f.partition, f."offset", f.key, f.value::text AS value
  FROM generate_series(0, $nparts - 1) p, LATERAL eventlog.fetch('d', p, 0, 100000000) f;
CREATE UNIQUE INDEX ON fetched (partition, "offset");
ANALYZE fetched;
});
}

sub get_changes
{
	my ($slot, @opts) = @_;
	my $o = join('', map { ", '$_'" } @opts);
	$node->safe_psql('postgres',
		qq{INSERT INTO decoded (slot, lsn, xid, data)
		   SELECT '$slot', lsn, xid::text::bigint, data
		     FROM pg_logical_slot_get_changes('$slot', NULL, NULL, 'include-xids', '1'$o)});
}

# --- a slot created while producers run ------------------------------------
my $script = $node->basedir . '/decode_producer.sql';
# each record's value carries an id; committed_ids gets the ids with the
# producing transaction's xid in the same transaction
my $produce = batch_produce_sql('d') . q{INSERT INTO committed_ids (id, xid, xact_start)
SELECT :b * 10 + g, txid_current(), now() FROM generate_series(1, :n) g;
};
savepoint_producer_script($script, $produce);

my ($pgb_out, $pgb_err) = ('', '');
my $pgb = start_savepoint_producers($node, $script, $duration, \$pgb_out, \$pgb_err);
sleep(2);
# the slot is ready (consistent) when this returns
my $ready = $node->safe_psql('postgres',
	q{SELECT lsn FROM pg_create_logical_replication_slot('live', 'test_decoding')});
my $ready_at = $node->safe_psql('postgres', q{SELECT clock_timestamp()});
my $pgb_ok = $pgb->finish;
ok($pgb_ok, 'pgbench producers ran without errors') or diag($pgb_err);
my ($txns) = $pgb_out =~ /number of transactions actually processed: (\d+)/;
cmp_ok($txns // 0, '>', 100, 'producers ran a fair number of transactions');
get_changes('live');
refetch();

is( $node->safe_psql(
		'postgres', q{
SELECT count(*) - count(DISTINCT (partition, "offset")) FROM decoded_rows WHERE slot = 'live'}),
	'0',
	'no record is decoded twice');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM decoded_rows d
 WHERE slot = 'live' AND NOT EXISTS (
   SELECT 1 FROM fetched f
    WHERE f.partition = d.partition AND f."offset" = d."offset"
      AND f.key IS NOT DISTINCT FROM d.key AND f.value = d.value)}),
	'0',
	'every decoded record is a committed record, with the partition, offset, key and value fetch returns');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM decoded_rows d
 WHERE slot = 'live' AND NOT EXISTS (
   SELECT 1 FROM committed_ids c WHERE c.id = (d.value::jsonb->>'id')::bigint AND c.xid = d.xid)}),
	'0',
	'every decoded record belongs to the committed transaction it is delivered in (no aborted record, no rolled-back savepoint)');
is( $node->safe_psql(
		'postgres', qq{
SELECT count(*) FROM committed_ids c
 WHERE (c.xid IN (SELECT xid FROM decoded_rows WHERE slot = 'live')
        OR c.xact_start > '$ready_at')
   AND NOT EXISTS (SELECT 1 FROM decoded_rows d
                    WHERE slot = 'live' AND (d.value::jsonb->>'id')::bigint = c.id)}),
	'0',
	'a decoded transaction arrives whole, and every transaction begun after the slot was ready arrives');
is( $node->safe_psql(
		'postgres', qq{
SELECT count(*) > 50 FROM committed_ids WHERE xact_start > '$ready_at'}),
	't',
	'many transactions began after the slot was ready');
# commit order: transactions arrive one after another, each once
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (SELECT xid FROM decoded WHERE slot = 'live' AND data LIKE 'BEGIN%'
                      GROUP BY xid HAVING count(*) > 1) x}),
	'0',
	'each transaction is delivered once');
is( $node->safe_psql(
		'postgres', q{
WITH c AS (SELECT n, xid, lag(xid) OVER (ORDER BY n) AS prev, data FROM decoded WHERE slot = 'live')
SELECT count(*) FROM c WHERE data LIKE 'table%' AND xid IS DISTINCT FROM prev
                         AND NOT EXISTS (SELECT 1 FROM decoded b WHERE b.slot = 'live' AND b.n = c.n - 1 AND b.data LIKE 'BEGIN%')}),
	'0',
	'changes of one transaction are contiguous (commit order, not interleaved)');

# --- savepoints, released subtransactions, TOAST ----------------------------
$node->safe_psql('postgres',
	q{SELECT pg_create_logical_replication_slot('sp', 'test_decoding')});
$node->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO eventlog_topics.d (key, value) SELECT 'top', jsonb_build_object('sp', g) FROM generate_series(1, 3) g;
SAVEPOINT a;
INSERT INTO eventlog_topics.d (key, value) VALUES ('gone-a', '{"sp": "gone-a"}');
SAVEPOINT a2;
SELECT eventlog.produce('d', '{"sp": "gone-a2"}', key => 'gone-a2');
ROLLBACK TO SAVEPOINT a;
SAVEPOINT b;
INSERT INTO eventlog_topics.d (key, value) SELECT 'kept-b', jsonb_build_object('sp', 'b' || g) FROM generate_series(1, 3) g;
SAVEPOINT c;
INSERT INTO eventlog_topics.d (key, value) VALUES ('kept-c', '{"sp": "c"}');
RELEASE SAVEPOINT c;
RELEASE SAVEPOINT b;
SELECT eventlog.produce('d', jsonb_build_object('sp', 'big', 'pad', repeat(md5('x'), 400)), key => 'big');
INSERT INTO eventlog_topics.d (key, value)
SELECT 'big' || g, jsonb_build_object('sp', 'big' || g, 'pad', (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 200) i))
  FROM generate_series(1, 4) g;
COMMIT;
BEGIN;
SELECT eventlog.produce('d', '{"sp": "aborted"}', key => 'aborted');
ROLLBACK;
});
get_changes('sp');
refetch();
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(key, ',' ORDER BY n) FROM decoded_rows WHERE slot = 'sp'}),
	'top,top,top,kept-b,kept-b,kept-b,kept-c,big,big1,big2,big3,big4',
	'savepoints: rolled-back subtransactions absent, released ones present, aborted transaction absent');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM decoded_rows d WHERE slot = 'sp' AND NOT EXISTS (
  SELECT 1 FROM fetched f WHERE f.partition = d.partition AND f."offset" = d."offset"
                            AND f.key = d.key AND f.value = d.value)}),
	'0',
	'decoded values equal fetch(), TOASTed ones (~13 kB) too');
cmp_ok(
	$node->safe_psql(
		'postgres', q{SELECT min(length(value)) FROM decoded_rows WHERE slot = 'sp' AND key LIKE 'big%'}),
	'>', 6000, 'the large values are whole');

# --- a transaction larger than logical_decoding_work_mem --------------------
$node->safe_psql('postgres',
	q{SELECT pg_create_logical_replication_slot('spill', 'test_decoding')});
$node->safe_psql('postgres',
	q{SELECT pg_create_logical_replication_slot('stream', 'test_decoding')});
$node->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO eventlog_topics.d (key, value) SELECT 'large' || g, jsonb_build_object('large', g, 'pad', repeat('z', 100)) FROM generate_series(1, 20000) g;
SAVEPOINT s;
INSERT INTO eventlog_topics.d (key, value) SELECT 'large-gone' || g, jsonb_build_object('large', g) FROM generate_series(1, 3000) g;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM generate_series(1, 2000) g, LATERAL eventlog.produce('d', jsonb_build_object('large', 'p' || g), key => 'largep' || g);
COMMIT;
});
# (the stream slot first: filling table decoded is a large transaction too)
get_changes('stream', 'stream-changes', '1');
get_changes('spill');
refetch();
my $spilled = $node->safe_psql('postgres',
	q{SELECT spill_txns > 0 FROM pg_stat_replication_slots WHERE slot_name = 'spill'});
is($spilled, 't', 'the large transaction was spilled to disk');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*), count(DISTINCT (partition, "offset")), count(*) FILTER (WHERE key LIKE 'large-gone%')
  FROM decoded_rows WHERE slot = 'spill'}),
	'22000|22000|0',
	'spilled: all 22000 records once, none of the rolled-back savepoint');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM decoded_rows d WHERE slot = 'spill' AND NOT EXISTS (
  SELECT 1 FROM fetched f WHERE f.partition = d.partition AND f."offset" = d."offset"
                            AND f.key = d.key AND f.value = d.value)}),
	'0',
	'spilled: values equal fetch()');
# (changes of the rolled-back savepoint may have been streamed before it
# was rolled back: then the subscriber is told to discard them)
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FILTER (WHERE data LIKE 'streaming change for%') BETWEEN 22000 AND 25000,
       count(*) FILTER (WHERE data LIKE 'opening a streamed block%') > 1,
       count(*) FILTER (WHERE data LIKE 'committing streamed transaction%')
  FROM decoded WHERE slot = 'stream'}),
	't|t|1',
	'streamed: the changes in several blocks, then one commit');

# --- fast-forward and origins ------------------------------------------------
$node->safe_psql('postgres',
	q{SELECT pg_create_logical_replication_slot('ff', 'test_decoding')});
$node->safe_psql('postgres',
	q{SELECT eventlog.produce('d', '{"ff": "skipped"}', key => 'ff-skipped')});
$node->safe_psql('postgres',
	q{SELECT pg_replication_slot_advance('ff', pg_current_wal_lsn())});
$node->safe_psql(
	'postgres', q{
SELECT eventlog.produce('d', '{"ff": "after"}', key => 'ff-after');
SELECT pg_replication_origin_create('elsewhere');
});
$node->safe_psql(
	'postgres', q{
SELECT pg_replication_origin_session_setup('elsewhere');
SELECT eventlog.produce('d', '{"ff": "replicated"}', key => 'ff-origin');
SELECT pg_replication_origin_session_reset();
});
get_changes('ff', 'only-local', '1');
is( $node->safe_psql(
		'postgres', q{SELECT string_agg(key, ',' ORDER BY n) FROM decoded_rows WHERE slot = 'ff'}),
	'ff-after',
	'pg_replication_slot_advance skips records; only-local filters records of a replication origin');

# --- logical decoding messages (eventlog.logical_messages) ----------------
$node->safe_psql('postgres',
	q{SELECT pg_create_logical_replication_slot('msg', 'test_decoding')});
$node->safe_psql(
	'postgres', q{
SET eventlog.logical_messages = 'other, d';
SELECT eventlog.produce('d', '{"m": 1}', key => 'm1', headers => '{"h": "v"}');
BEGIN;
SELECT eventlog.produce('d', '{"m": "aborted"}', key => 'gone');
ROLLBACK;
BEGIN;
INSERT INTO eventlog_topics.d (key, value) VALUES ('m2', '{"m": 2}');
SAVEPOINT s;
INSERT INTO eventlog_topics.d (key, value) VALUES ('gone', '{"m": "gone"}');
ROLLBACK TO SAVEPOINT s;
COMMIT;
RESET eventlog.logical_messages;
SELECT eventlog.produce('d', '{"m": 3}', key => 'm3');
});
get_changes('msg');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(m->>'key' || '@' || (m->>'partition') || '/' || (m->>'offset') || '=' || (m->'value')::text, ',' ORDER BY n)
  FROM (SELECT n, substring(data from 'content:(.*)$')::jsonb AS m FROM decoded
         WHERE slot = 'msg' AND data LIKE 'message: transactional: 1 prefix: pg_eventlog,%') x}),
	$node->safe_psql(
		'postgres', q{
SELECT string_agg(key || '@' || partition || '/' || "offset" || '=' || value::text, ',' ORDER BY n)
  FROM decoded_rows WHERE slot = 'msg' AND key IN ('m1', 'm2')}),
	'messages: one per committed record of a listed topic, with its partition, offset, key and value; none for aborted or rolled-back records');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM decoded WHERE slot = 'msg' AND data LIKE 'message:%'}),
	'2', 'messages: only while the topic is listed');

# --- page-init copies decode to nothing: VACUUM FREEZE logs full pages ------
$node->safe_psql('postgres',
	q{SELECT pg_create_logical_replication_slot('frz', 'test_decoding')});
$node->safe_psql('postgres', q{VACUUM (FREEZE) eventlog_topics.d});
$node->safe_psql('postgres', q{VACUUM (FREEZE)});
get_changes('frz');
is($node->safe_psql('postgres', q{SELECT count(*) FROM decoded_rows WHERE slot = 'frz'}),
	'0', 'freezing (full-page images of segment pages) decodes to nothing');

done_testing();
