# pg_eventlog: a streaming standby is promoted while producers run, with
# wal_level = logical (issue 11, design.md section 6).
#
# The standby is synchronous with synchronous_commit = remote_apply, so a
# commit is visible on the primary only once the standby has replayed it:
# everything fetch() returned on the primary before it died is on the
# standby.  The primary is killed (-9 style, 'immediate') while pgbench
# producers on several partitions commit, roll back and use savepoints, and
# while one transaction that appended records is left open (its WAL reached
# the standby; promotion aborts it).  Then:
#   - the standby, still in recovery, returns at least everything the
#     primary had returned, row for row;
#   - after promotion it returns exactly what it returned before promotion
#     (nothing appears, nothing vanishes; the open transaction never does);
#   - producing continues on every partition at offsets above every offset
#     the standby replayed (committed or not): no offset is reused;
#   - a logical slot on the primary is not on the promoted server
#     (PostgreSQL 15 does not replicate logical slots): one created there
#     with test_decoding delivers every record committed after it, each
#     once, and nothing of aborted transactions or rolled-back savepoints,
#     with the partition, offset and value fetch() returns.
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

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 'logical');
$primary->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_level = logical
max_replication_slots = 8
});
$primary->start;
$primary->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('t', partitions => $nparts);
CREATE SEQUENCE ids;
-- a logical slot on the primary: not carried to the standby by PG 15
SELECT pg_create_logical_replication_slot('old_slot', 'test_decoding');
});

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
$primary->safe_psql('postgres', q{
ALTER SYSTEM SET synchronous_standby_names = 'standby';
ALTER SYSTEM SET synchronous_commit = remote_apply;
SELECT pg_reload_conf();
});
$primary->poll_query_until('postgres',
	q{SELECT sync_state = 'sync' FROM pg_stat_replication WHERE application_name = 'standby'})
  or die 'the standby did not become synchronous';

# records before the producers start
$primary->safe_psql('postgres', qq{
INSERT INTO eventlog_topics.t (key, value)
SELECT 'k' || g, jsonb_build_object('id', -g) FROM generate_series(1, 500) g;
});

my $script = $primary->basedir . '/producer.sql';
my $produce = q{
SELECT nextval('ids') AS b \gset
\if :how = 1
INSERT INTO eventlog_topics.t (key, value)
SELECT 'k' || g, jsonb_build_object('id', :b * 10 + g) FROM generate_series(1, :n) g;
\else
SELECT count(*) FROM generate_series(1, :n) g,
       LATERAL eventlog.produce('t', jsonb_build_object('id', :b * 10 + g), key => 'k' || g) r;
\endif
};
savepoint_producer_script($script, $produce);

my ($pgb_out, $pgb_err) = ('', '');
my $pgb = start_savepoint_producers($primary, $script, '60', \$pgb_out, \$pgb_err);

# an open transaction whose records reached the standby's WAL
my $open = $primary->background_psql('postgres', on_error_stop => 0);
$open->query_safe(q{BEGIN});
$open->query_safe(
	q{SELECT count(*) FROM generate_series(0, 2) p,
	         LATERAL eventlog.produce('t', '{"open": true}', partition => p)});

my $fetch_all = qq{
SELECT f.partition, f."offset", f.key, f.value
  FROM generate_series(0, $nparts - 1) p, LATERAL eventlog.fetch('t', p, 0, 100000000) f
 ORDER BY 1, 2};
# a scan shows every committed record; fetch() stops before the first
# record of a transaction still open (the one left open above)
my $scan_all = q{SELECT partition, "offset", key, value FROM eventlog_topics.t ORDER BY 1, 2};

sleep(4);
# what the primary shows now, while producers keep committing
my $on_primary = $primary->safe_psql('postgres', $scan_all);
sleep(1);
$primary->stop('immediate');
$pgb->finish;    # the producers lose their server: errors expected

my $replayed = $standby->safe_psql('postgres', $scan_all);
my @p = split /\n/, $on_primary;
my @r = split /\n/, $replayed;
cmp_ok(scalar(@p), '>', 600, 'the primary had committed records from the producers');
cmp_ok(scalar(@r), '>=', scalar(@p), 'the standby has at least what the primary showed');
my %r = map { $_ => 1 } @r;
is(scalar(grep { !$r{$_} } @p), 0,
	'every committed record the primary showed is on the standby, same partition, offset, key and value');
my @rf = split /\n/, $standby->safe_psql('postgres', $fetch_all);
is(scalar(grep { !$r{$_} } @rf), 0, 'fetch() on the standby returns committed records only');
cmp_ok(scalar(@rf), '<', scalar(@r),
	'fetch() on the standby stops before the records of the transaction left open on the old primary');
# the log end per partition the standby replayed, committed or not
my %max_replayed;
for my $line (split /\n/,
	$standby->safe_psql('postgres',
		q{SELECT partition, log_end_offset FROM eventlog.partitions WHERE topic = 't'}))
{
	my ($part, $leo) = split /\|/, $line;
	$max_replayed{$part} = $leo;
}
my %max_committed;
for my $line (@r)
{
	my ($part, $off) = split /\|/, $line;
	$max_committed{$part} = $off
	  if !defined $max_committed{$part} || $off > $max_committed{$part};
}

$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'standby was not promoted';
my $promoted = $standby;

is($promoted->safe_psql('postgres', $scan_all), $replayed,
	'after promotion a scan returns exactly the committed records the standby had before');
is($promoted->safe_psql('postgres', $fetch_all), $replayed,
	'after promotion fetch() returns them all (the open transaction was aborted by promotion)');
is($promoted->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog_topics.t WHERE value ? 'open'}),
	'0', 'the transaction left open on the old primary never appears');
is($promoted->safe_psql('postgres',
		q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'old_slot'}),
	'0', 'the primary\'s logical slot is not on the promoted server (PostgreSQL 15)');

# --- a logical slot on the promoted server ----------------------------------
$promoted->safe_psql('postgres',
	q{SELECT pg_create_logical_replication_slot('new_slot', 'test_decoding')});

# produce on every partition: committed, aborted, savepoints
$promoted->safe_psql(
	'postgres', qq{
SELECT eventlog.produce('t', jsonb_build_object('after', g), key => 'a' || g, partition => g % $nparts)
  FROM generate_series(1, 30) g;
BEGIN;
SELECT eventlog.produce('t', '{"gone": 1}', partition => p) FROM generate_series(0, $nparts - 1) p;
ROLLBACK;
BEGIN;
INSERT INTO eventlog_topics.t (partition, key, value)
SELECT g % $nparts, 'b' || g, jsonb_build_object('after', 100 + g) FROM generate_series(1, 30) g;
SAVEPOINT s;
SELECT eventlog.produce('t', '{"gone": 2}', partition => p) FROM generate_series(0, $nparts - 1) p;
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s2;
SELECT eventlog.produce('t', '{"after": 200}', key => 'c', partition => 0);
RELEASE SAVEPOINT s2;
COMMIT;
});

my $after = $promoted->safe_psql(
	'postgres', qq{
SELECT f.partition, f."offset", f.key, f.value
  FROM generate_series(0, $nparts - 1) p, LATERAL eventlog.fetch('t', p, 0, 100000000) f
 WHERE f.value ? 'after'
 ORDER BY 1, 2});
my @a = split /\n/, $after;
is(scalar(@a), 61, 'the promoted server returns the 61 committed new records');
my $reused = 0;
my %seen;
for my $line (@a)
{
	my ($part, $off) = split /\|/, $line;
	$reused++ if $off < $max_replayed{$part} || $off <= ($max_committed{$part} // -1);
	$reused++ if $seen{"$part|$off"}++;
}
is($reused, 0,
	'new offsets are above every offset the standby replayed (committed or not) and above every committed one: no reuse');
my $old_part = $promoted->safe_psql('postgres', $fetch_all);
my @all = split /\n/, $old_part;
is(scalar(@all), scalar(@r) + 61, 'fetch() returns the replayed records and the new ones, nothing else');
my %all = map { $_ => 1 } @all;
is(scalar(grep { !$all{$_} } @r), 0, 'the replayed records are unchanged after producing on the promoted server');

# the slot delivers each record committed after its creation once
my $decoded = $promoted->safe_psql(
	'postgres', q{
SELECT substring(data from 'partition\[integer\]:(\d+)') || '|' ||
       substring(data from '"offset"\[bigint\]:(\d+)') || '|' ||
       substring(data from $$ key\[text\]:'(.*?)' value\[jsonb\]:$$) || '|' ||
       replace(substring(data from $$ value\[jsonb\]:'(.*)' headers\[jsonb\]:$$), '''''', '''')
  FROM pg_logical_slot_get_changes('new_slot', NULL, NULL)
 WHERE data LIKE 'table eventlog_topics.t: INSERT:%'});
my @d = sort { my @x = split /\|/, $a; my @y = split /\|/, $b; $x[0] <=> $y[0] || $x[1] <=> $y[1] }
  split /\n/, $decoded;
is(join("\n", @d), $after,
	'the new slot delivered every record committed after promotion once, with partition, offset, key and value');
is($promoted->safe_psql('postgres',
		q{SELECT count(*) FROM pg_logical_slot_get_changes('new_slot', NULL, NULL)}),
	'0', 'and nothing more once consumed');

# after a restart of the promoted server the slot continues
$promoted->restart;
$promoted->safe_psql('postgres',
	q{SELECT eventlog.produce('t', '{"after": 300}', key => 'd', partition => 1)});
is($promoted->safe_psql(
		'postgres', q{
SELECT count(*) FROM pg_logical_slot_get_changes('new_slot', NULL, NULL)
 WHERE data LIKE 'table eventlog_topics.t: INSERT:%' AND data LIKE '%"after": 300%'}),
	'1', 'after a restart the slot delivers the next record once');

$promoted->stop;
done_testing();
