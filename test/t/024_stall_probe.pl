
# pg_eventlog: stall probe (design.md promise 7, issue 9).
#
# For about 20 s, pgbench producers (small transactions of five records,
# 600/s in all), pgbench long-polling consumers (fetch with a wait of 200 ms,
# one per partition, 200/s in all) and
# the background worker run together: the topic has 16 kB segments and
# retention_bytes 64 kB, so the active segments roll many times a second and
# the worker (every 200 ms) makes spares, removes and drops segments.  A
# second topic with cleanup_policy `compact,delete` (keyed records, the same
# small segments) is compacted by the worker at every roll, and a
# materialized view of each topic is kept current by it meanwhile.
# Meanwhile another session keeps long-running readers of the topic open: a
# REPEATABLE READ transaction that scanned it and a cursor in the middle of a
# scan, each held for a few seconds, then replaced.  Every produce and fetch
# transaction's latency is logged by pgbench (--log); the test fails if any
# one took more than 1 s (the consumers' own long-poll wait of 200 ms
# included), and prints the maximum and p99 of each.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);

my $duration = 20;
my $limit_us = 1_000_000;

my $node = PostgreSQL::Test::Cluster->new('stall');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance_interval = 200
log_lock_waits = on
deadlock_timeout = 100ms
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('stall', 2, segment_bytes => 16384, retention_bytes => 65536);
SELECT eventlog.create_topic('stall_c', 2, segment_bytes => 16384, retention_bytes => 131072,
                             cleanup_policy => 'compact,delete', delete_retention => '0');
SELECT count(*) FROM eventlog.run_maintenance();
SELECT eventlog.create_view('stall_count', 'stall', kind => 'count', group_by => 'partition');
SELECT eventlog.create_view('stall_latest', 'stall_c');
});
ok( $node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_eventlog maintenance'}),
	'maintenance worker running');

my $dir = PostgreSQL::Test::Utils::tempdir();
my $prod_sql = "$dir/produce.sql";
my $cons_sql = "$dir/fetch.sql";
# keyless records go round robin over the partitions
PostgreSQL::Test::Utils::append_to_file($prod_sql, q{BEGIN;
INSERT INTO eventlog_topics.stall (value) SELECT jsonb_build_object('i', g, 'pad', repeat('x', 150)) FROM generate_series(1, 4) g;
SELECT eventlog.produce('stall', '{"single": true}');
INSERT INTO eventlog_topics.stall_c (key, value) SELECT 'k' || (random() * 40)::int, jsonb_build_object('i', g, 'pad', repeat('x', 150)) FROM generate_series(1, 3) g;
COMMIT;
});
# each consumer client follows one partition from the log start on; a
# consumer that fell below the log start (retention) resumes there.  It
# also reads the tail of the compacted topic (well above its log start,
# which may move between reading it and fetching: a tail reader does not
# race it).
PostgreSQL::Test::Utils::append_to_file($cons_sql, q{\set p :client_id % 2
SELECT coalesce(max(f."offset") + 1, max(s.start)) AS off
  FROM (SELECT greatest(:off, log_start_offset) AS start FROM eventlog.partitions
         WHERE topic = 'stall' AND "partition" = :p) s
  LEFT JOIN LATERAL eventlog.fetch('stall', :p, s.start, 200, '200ms') f ON true \gset
SELECT count(*) FROM eventlog.partitions p,
       eventlog.fetch('stall_c', :p, greatest(p.log_start_offset, p.log_end_offset - 50), 100) f
 WHERE p.topic = 'stall_c' AND p."partition" = :p;
});

my $connstr = $node->connstr('postgres');
my @common = ('pgbench', '-n', '-T', $duration, '--log', "--log-prefix");
my ($pout, $perr, $cout, $cerr) = ('', '', '', '');
my $producers = IPC::Run::start(
	[ @common, "$dir/prod", '-c', 3, '-j', 1, '-R', 600, '-f', $prod_sql, $connstr ],
	'>', \$pout, '2>', \$perr);
my $consumers = IPC::Run::start(
	[ @common, "$dir/cons", '-c', 2, '-j', 1, '-R', 200, '-D', 'off=0', '-f', $cons_sql, $connstr ],
	'>', \$cout, '2>', \$cerr);

# long-running readers of the topic, replaced every few seconds
my $holder = $node->background_psql('postgres', on_error_stop => 1);
my $start = time();
my $held = 0;
while (time() - $start < $duration - 2)
{
	$holder->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM eventlog_topics.stall;
DECLARE c NO SCROLL CURSOR FOR SELECT * FROM eventlog_topics.stall;
FETCH 1 FROM c;});
	$held++;
	usleep(4_000_000);
	$holder->query_safe('COMMIT');
	usleep(200_000);
}
$holder->quit;

$producers->finish;
$consumers->finish;
is($producers->result(0), 0, 'producers ran') or diag($perr);
is($consumers->result(0), 0, 'consumers ran') or diag($cerr);

# per-transaction logs: client_id transaction_no time script_no time_epoch
# time_us schedule_lag; with --rate, time counts from the scheduled start:
# the call's own latency is time - schedule_lag
sub latencies
{
	my ($prefix) = @_;
	my @lat;
	for my $f (glob("$prefix.*"))
	{
		open my $fh, '<', $f or die "open $f: $!";
		while (<$fh>)
		{
			my @c = split;
			push @lat, $c[2] - ($c[6] // 0);
		}
		close $fh;
	}
	return sort { $a <=> $b } @lat;
}

my %figures;
for my $kind ([ 'produce', "$dir/prod" ], [ 'fetch', "$dir/cons" ])
{
	my ($name, $prefix) = @$kind;
	my @lat = latencies($prefix);
	ok(@lat > 100, "$name: " . scalar(@lat) . ' transactions logged');
	my $max = $lat[-1] // 0;
	my $p99 = @lat ? $lat[ int(0.99 * $#lat) ] : 0;
	my $slow = grep { $_ > $limit_us } @lat;
	$figures{$name} = sprintf('%s: %d transactions, p99 %.1f ms, max %.1f ms, over 1 s: %d',
		$name, scalar(@lat), $p99 / 1000, $max / 1000, $slow);
	diag($figures{$name});
	ok($max <= $limit_us, "$name: no call waited more than 1 s (max " . sprintf('%.1f', $max / 1000) . ' ms)');
}

# maintenance did happen meanwhile: many rolls, segments removed and dropped
my $log = slurp_file($node->logfile);
my $res = $node->safe_psql('postgres', q{
SELECT min(log_start_offset), max(log_end_offset) FROM eventlog.partitions WHERE topic = 'stall'});
my ($lstart, $lend) = split /\|/, $res;
my $segs = $node->safe_psql('postgres', q{SELECT count(*) FROM eventlog.segments WHERE topic = 'stall'});
diag("log start (min) $lstart, log end (max) $lend, segments now $segs, long readers held $held times");
ok($lstart > 0, 'retention moved the log start during the probe');
my $removed = () = $log =~ /eventlog maintenance: removed /g;
my $dropped = () = $log =~ /eventlog maintenance: dropped /g;
my $spares = () = $log =~ /eventlog maintenance: created spare /g;
my $compacted = () = $log =~ /eventlog maintenance: compacted /g;
my $skipped = () = $log =~ /skipped, retried at the next pass/g;
diag("worker: $spares spares created, $removed segments removed, $dropped dropped, $skipped passes skipped on a lock timeout");
# a spare is made only once the previous one has started: each is a roll
ok($spares > 20, "the active segments rolled many times ($spares spares made)");
ok($dropped > 0, 'the worker dropped segments during the probe');
diag("worker: $compacted segments compacted");
ok($compacted > 5, "the worker compacted segments during the probe ($compacted)");
# the views kept up: refresh_view() finds little left to apply
my $applied = $node->safe_psql('postgres',
	q{SELECT eventlog.refresh_view('stall_count') + eventlog.refresh_view('stall_latest')});
my $total = $node->safe_psql('postgres', q{SELECT sum(log_end_offset) FROM eventlog.partitions WHERE topic LIKE 'stall%'});
diag("views: $applied of $total records left for refresh_view after the probe");
ok($applied < $total / 10, 'the worker kept the views current during the probe');
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog.views WHERE last_error IS NOT NULL}),
	'0', 'no view reports an error');
my $waits = () = $log =~ /still waiting for/g;
diag("lock waits logged (log_lock_waits, > 100 ms): $waits");

$node->stop;
done_testing();
