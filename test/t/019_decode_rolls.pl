
# pg_eventlog: logical decoding across segment rolls.
#
# A roll logs the first page of the next segment as a ROLL record (a
# NEW_PAGE that also closes the previous segment), carrying the records
# placed on it.  With small segments, many rolls happen while records are
# produced; every committed record must still reach a logical slot exactly
# once, with its partition and offset, and none of a rolled-back
# transaction.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rolls');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_level = logical
max_replication_slots = 4
eventlog.maintenance_interval = 200ms
});
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('r', partitions => 2, segment_bytes => 16384);
SELECT eventlog.run_maintenance('r');
SELECT 'init' FROM pg_create_logical_replication_slot('rolls', 'test_decoding');
});

# batches of records in their own transactions, some rolled back; the
# worker keeps spares ready, run_maintenance() makes sure of it between
# batches
my $committed = 0;
for my $batch (1 .. 30)
{
	my $end = $batch % 5 == 0 ? 'ROLLBACK' : 'COMMIT';
	$node->safe_psql(
		'postgres', qq{
BEGIN;
INSERT INTO eventlog_topics.r (key, value)
SELECT 'k' || g, jsonb_build_object('batch', $batch, 'g', g, 'pad', repeat('x', 200))
  FROM generate_series(1, 40) g;
$end;
SELECT eventlog.run_maintenance('r');
});
	$committed += 40 if $end eq 'COMMIT';
}

my $segments = $node->safe_psql('postgres',
	q{SELECT count(*) FROM eventlog.segment_map WHERE topic = 'r' AND base_offset IS NOT NULL});
cmp_ok($segments, '>', 4, "the partitions rolled into several segments ($segments started)");

$node->safe_psql(
	'postgres', q{
CREATE TABLE decoded AS
SELECT substring(data from 'partition\[integer\]:(\d+)')::int AS partition,
       substring(data from '"offset"\[bigint\]:(\d+)')::bigint AS "offset",
       substring(data from '"batch": (\d+)')::int AS batch
  FROM pg_logical_slot_get_changes('rolls', NULL, NULL)
 WHERE data LIKE 'table eventlog_topics.r: INSERT:%';
CREATE TABLE fetched AS
SELECT f.partition, f."offset", (f.value->>'batch')::int AS batch
  FROM generate_series(0, 1) p, LATERAL eventlog.fetch('r', p, 0, 1000000) f;
});

is($node->safe_psql('postgres', 'SELECT count(*) FROM fetched'),
	$committed, 'fetch returns every committed record');
is($node->safe_psql('postgres', 'SELECT count(*) FROM decoded'),
	$committed, 'the slot delivered as many inserts as were committed');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (SELECT * FROM decoded EXCEPT ALL SELECT * FROM fetched) d}),
	'0', 'every decoded insert is a committed record at its partition and offset');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (SELECT * FROM fetched EXCEPT ALL SELECT * FROM decoded) d}),
	'0', 'every committed record was decoded, once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM decoded WHERE batch % 5 = 0'),
	'0', 'nothing of a rolled-back transaction was decoded');

done_testing();
