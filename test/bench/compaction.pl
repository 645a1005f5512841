#!/usr/bin/perl
# pg_eventlog benchmark, compaction mode (test/bench/run.sh --compaction):
#
# C1. Compaction throughput: a 2-partition topic with 1 MB segments gets
#     BENCH_CMP_N records (default 500000; smoke 20000) of ~150 bytes over
#     BENCH_CMP_KEYS random keys (default 10000), with cleanup_policy
#     'delete' while loading (so that nothing is compacted yet), its active
#     segments rolled; then it becomes 'compact' and one
#     eventlog.run_maintenance() pass compacts every closed segment.
#     Reports records/s = records of the closed segments / seconds of that
#     pass (which reads the partition twice and the closed segments once
#     more, writes the kept records and swaps the segments), the records
#     kept, and the segment bytes before and after; median of
#     BENCH_CMP_REPS runs (default 3; smoke 1).
# Asserts nothing.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use BenchCommon;
use Time::HiRes qw(time sleep);

$| = 1;

my %C = bench_settings('--compaction', qw(HOST PORT DB SMOKE));
my $N = $ENV{BENCH_CMP_N} // ($C{SMOKE} ? 20000 : 500000);
my $KEYS = $ENV{BENCH_CMP_KEYS} // ($C{SMOKE} ? 1000 : 10000);
my $REPS = $ENV{BENCH_CMP_REPS} // ($C{SMOKE} ? 1 : 3);

my $dbh = db();

# the passes are this script's: the worker stays out of the way
set_maintenance(0);

my (@rates, @kept, @before, @after, @secs, @inputs);
for my $rep (1 .. $REPS)
{
	my $t = "cmp_bench_$rep";
	$dbh->do("SELECT eventlog.create_topic('$t', 2, segment_bytes => 1048576, delete_retention => '0')");
	$dbh->do("SELECT count(*) FROM eventlog.run_maintenance('$t')");
	my $chunk = 20000;
	for (my $done = 0; $done < $N; $done += $chunk)
	{
		my $n = $N - $done < $chunk ? $N - $done : $chunk;
		$dbh->do("INSERT INTO eventlog_topics.$t (key, value)
		          SELECT 'key-' || floor(random() * $KEYS)::int,
		                 jsonb_build_object('g', g, 'pad', repeat('x', 120))
		            FROM generate_series(1, $n) g");
		# spares for the producers' next rolls
		$dbh->do("SELECT count(*) FROM eventlog.run_maintenance('$t')");
	}
	# close the active segments (by time), still under 'delete'
	$dbh->do("SELECT eventlog.alter_topic('$t', segment_interval => '1 s')");
	sleep(1.2);
	$dbh->do("SELECT count(*) FROM eventlog.run_maintenance('$t')");
	$dbh->do("SELECT eventlog.alter_topic('$t', segment_interval => '1 day', cleanup_policy => 'compact')");
	my $in = one("SELECT coalesce(sum(records), 0) FROM eventlog.segments WHERE topic = '$t' AND state = 'closed'");
	my $b = one("SELECT coalesce(sum(bytes), 0) FROM eventlog.segments WHERE topic = '$t'");
	my $t0 = time();
	my $did = one("SELECT count(*) FROM eventlog.run_maintenance('$t') WHERE action = 'compacted'");
	my $el = time() - $t0;
	# the replaced relations are dropped by the next pass
	$dbh->do("SELECT count(*) FROM eventlog.run_maintenance('$t')");
	my $a = one("SELECT coalesce(sum(bytes), 0) FROM eventlog.segments WHERE topic = '$t'");
	my $k = one("SELECT count(*) FROM generate_series(0, 1) p, LATERAL eventlog.fetch('$t', p, 0, 100000000)");
	printf "  run %d: %d segments compacted, %d records in closed segments in %.2f s = %.0f records/s; %d kept; %.1f MB -> %.1f MB\n",
	  $rep, $did, $in, $el, $in / ($el || 1e-9), $k, $b / 1048576, $a / 1048576;
	push @rates, $in / ($el || 1e-9);
	push @kept, $k;
	push @before, $b;
	push @after, $a;
	push @secs, $el;
	push @inputs, $in;
	$dbh->do("SELECT eventlog.drop_topic('$t')");
}
$dbh->do("ALTER SYSTEM RESET eventlog.maintenance");
$dbh->do("SELECT pg_reload_conf()");

print "\n== C1. compaction throughput (median of $REPS run(s); $N records, $KEYS keys, 2 partitions, 1 MB segments)\n";
printf "  %-44s %12.0f\n", 'records/s (records of the closed segments)', median(@rates);
printf "  %-44s %12.2f\n", 'seconds of the compacting pass', median(@secs);
printf "  %-44s %12d\n", 'records in closed segments', median(@inputs);
printf "  %-44s %12d\n", 'records kept (whole log)', median(@kept);
printf "  %-44s %10.1f MB\n", 'segment bytes before', median(@before) / 1048576;
printf "  %-44s %10.1f MB\n", 'segment bytes after (replaced ones dropped)', median(@after) / 1048576;
