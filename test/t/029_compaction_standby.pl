
# pg_eventlog: log compaction and a hot standby's old snapshot (issue 9).
#
# Without hot_standby_feedback a standby's snapshot can be older than
# anything on the primary.  Compaction removes a record once a later record
# of its key is settled on the primary; the relation it replaced is read by
# snapshots that do not see the swap, until maintenance drops it and
# clears segment_map.replaced_segrel.  A standby snapshot taken before the
# later record committed would then read the compacted relation and see
# neither record of the key.  The pass logs a conflict (XLOG_EL_CONFLICT)
# that cancels such standby snapshots first, as heap pruning's do: the
# standby reader here either reads the key's record it can see, or is
# cancelled -- never a log without the key.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $primary = PostgreSQL::Test::Cluster->new('cstandby_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance = off
});
$primary->start;
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('cs', 1, cleanup_policy => 'compact', segment_bytes => 16384);
SELECT count(*) FROM eventlog.run_maintenance('cs');
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('cstandby_standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->append_conf(
	'postgresql.conf', q{
hot_standby_feedback = off
max_standby_streaming_delay = 0
});
$standby->start;

# close the active segment (segment_interval reached) and run a pass
sub roll_and_pass
{
	$primary->safe_psql('postgres',
		q{SELECT eventlog.alter_topic('cs', segment_interval => '1 s')});
	sleep(1.2);
	my $acts = $primary->safe_psql('postgres',
		q{SELECT string_agg(action, ',') FROM eventlog.run_maintenance('cs')});
	$primary->safe_psql('postgres',
		q{SELECT eventlog.alter_topic('cs', segment_interval => '1 day')});
	return $acts;
}

$primary->safe_psql('postgres',
	q{SELECT count(*) FROM eventlog.produce('cs', '{"v": 1}', key => 'a')});
roll_and_pass();
$primary->wait_for_catchup($standby);

# the standby reader: a REPEATABLE READ snapshot that does not touch the
# topic (it would hold the replaced relation's lock), waits for the go
# file, then reads the topic
my $reader = start_held_reader(
	$standby, 'cs_go',
	q{SELECT 'snapshot ' || count(*) FROM pg_class;},
	qr/snapshot/,
	q{SELECT 'read:' || coalesce(string_agg(key || '=' || (value->>'v'), ',' ORDER BY "offset"), '') FROM eventlog_topics.cs;});

# a later record of the key, committed after the standby's snapshot; the
# segment holding the first one is compacted, then the relation it replaced
# is dropped and replaced_segrel cleared
$primary->safe_psql('postgres',
	q{SELECT count(*) FROM eventlog.produce('cs', '{"v": 2}', key => 'a')});
like(roll_and_pass(), qr/compacted/, 'the first segment was compacted');
like(
	$primary->safe_psql(
		'postgres', q{SELECT string_agg(action, ',') FROM eventlog.run_maintenance('cs')}),
	qr/dropped/,
	'the replaced relation was dropped');
is( $primary->safe_psql(
		'postgres', q{SELECT count(*) FROM eventlog.segment_map WHERE replaced_segrel IS NOT NULL}),
	'0', 'no segment names a replaced relation any more');
$primary->wait_for_catchup($standby);

my ($out, $err) = release_held_reader($reader);
note "reader stdout: $out\nreader stderr: $err";
my ($read) = $out =~ /(read:\S*)/;
ok( (defined($read) && $read eq 'read:a=1')
	  || $err =~ /conflict with recovery/,
	'the old standby snapshot reads the record of the key it can see, or is cancelled')
  or diag("read: " . ($read // '(nothing)') . "; stderr: $err");

# a new standby reader sees the compacted log of the primary
is($standby->safe_psql('postgres',
		q{SELECT string_agg(key || '=' || (value->>'v'), ',') FROM eventlog_topics.cs}),
	'a=2', 'a new standby snapshot reads the compacted log');

done_testing();
