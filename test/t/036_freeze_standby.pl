# pg_eventlog: VACUUM's freezing and a hot standby's old snapshot (issue 17,
# item 13).
#
# Freezing marks a committed run EL_RUN_FROZEN (visible to every snapshot)
# and replaces an old page init_xid by FrozenTransactionId (a stop-mode
# reader's look-back ends there).  On the primary no snapshot can disagree:
# the freeze limit is not past VACUUM's OldestXmin.  Without
# hot_standby_feedback a standby's snapshot can be older: a REPEATABLE READ
# snapshot that saw the producing transaction running would, after the
# frozen page's replay, see its records, so one transaction would read two
# different logs.  VACUUM therefore logs a snapshot conflict before each
# frozen page (XLOG_EL_CONFLICT), whose replay cancels such snapshots, as
# heap's freeze records do.  The standby reader here either reads the same
# records before and after the freeze, or is cancelled.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $primary = PostgreSQL::Test::Cluster->new('fstandby_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance = off
autovacuum = off
});
$primary->start;
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('fz', 1);
SELECT count(*) FROM eventlog.produce('fz', '{"v": 0}', key => 'a');
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('fstandby_standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->append_conf(
	'postgresql.conf', q{
hot_standby_feedback = off
max_standby_streaming_delay = 0
});
$standby->start;

# a producer on the primary, open while the standby takes its snapshot
my ($pin, $pout, $perr) = ('', '', '');
my $producer = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $primary->connstr('postgres'), '-v', 'ON_ERROR_STOP=1' ],
	'<', \$pin, '>', \$pout, '2>', \$perr);
$pin .= q{BEGIN;
SELECT 'produced ' || "offset" FROM eventlog.produce('fz', '{"v": 1}', key => 'b');
};
$producer->pump until $pout =~ /produced/;
$primary->wait_for_catchup($standby);

# the standby reader: a REPEATABLE READ snapshot in which the producer is
# running reads the topic, waits for the go file, then reads it again
my $reader = start_held_reader(
	$standby, 'fz_go',
	q{SELECT 'before:' || count(*) || ':' || coalesce(string_agg(key, ',' ORDER BY "offset"), '') FROM eventlog_topics.fz;
SELECT 'fetched:' || count(*) FROM eventlog.fetch('fz', 0, 0, 100);},
	qr/fetched/,
	q{SELECT 'after:' || count(*) || ':' || coalesce(string_agg(key, ',' ORDER BY "offset"), '') FROM eventlog_topics.fz;});
like($reader->{out}, qr/before:1:a/, 'the standby snapshot sees the committed record only');

# the producer commits; VACUUM FREEZE on the primary freezes its run (no
# snapshot on the primary holds the freeze limit back)
$pin .= "COMMIT;\n\\q\n";
$producer->finish;
$primary->safe_psql('postgres', 'VACUUM (FREEZE) eventlog_topics.fz');
is( $primary->safe_psql(
		'postgres', q{SELECT count(*) FROM eventlog_topics.fz}),
	'2', 'both records are on the primary');
$primary->wait_for_catchup($standby);

my ($out, $err) = release_held_reader($reader);
note "reader stdout: $out\nreader stderr: $err";
my ($after) = $out =~ /(after:\S*)/;
ok( (defined($after) && $after eq 'after:1:a')
	  || $err =~ /conflict with recovery/,
	'the old standby snapshot reads the same records after the freeze, or is cancelled')
  or diag("after: " . ($after // '(nothing)') . "; stderr: $err");
like($err, qr/conflict with recovery/, 'the freeze cancelled the old standby snapshot');

# a new standby snapshot reads both records
is( $standby->safe_psql(
		'postgres', q{SELECT string_agg(key, ',' ORDER BY "offset") FROM eventlog_topics.fz}),
	'a,b', 'a new standby snapshot reads the frozen log');

done_testing();
