#!/usr/bin/perl
# pg_eventlog benchmark, idle views mode (test/bench/run.sh --idle-views):
# what a thousand views of a topic that receives nothing cost the
# maintenance workers while another topic receives a steady stream of
# commits (issue 16: every commit used to wake a pass over every view).
#
# BENCH_IDLE_VIEWS (1000) views of topic `idle`; a topic `busy` with none.
# Three windows of BENCH_IDLE_SECS (10 s) each, the worker on throughout:
#   quiet   no commits at all;
#   busy    BENCH_IDLE_RATE (10) single-record commits a second to `busy`;
#   woken   the same rate to `idle` itself (every view has work: for scale).
# For each, the CPU time (user + system, from /proc/<pid>/stat) of the
# maintenance workers of the benchmark database and of the launcher, as a
# percentage of one CPU (median of BENCH_IDLE_REPS runs, 3), and the
# transactions per second of the database (the benchmark's own sampling,
# about 10 a second, and commits included).  Each window starts once every
# view has caught up, and 2 s later.  Asserts nothing.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use BenchCommon;
use POSIX qw(sysconf _SC_CLK_TCK);
use Time::HiRes qw(time sleep);

$| = 1;

my %C = bench_settings('--idle-views', qw(HOST PORT DB SMOKE));
my $NVIEWS = $ENV{BENCH_IDLE_VIEWS} // ($C{SMOKE} ? 100 : 1000);
my $SECS = $ENV{BENCH_IDLE_SECS} // ($C{SMOKE} ? 3 : 10);
my $RATE = $ENV{BENCH_IDLE_RATE} // 10;
my $REPS = $ENV{BENCH_IDLE_REPS} // ($C{SMOKE} ? 1 : 3);
my $tck = sysconf(_SC_CLK_TCK);

my $dbh = db();
set_maintenance(0);
$dbh->do(q{SELECT eventlog.create_topic('idle', 1)});
$dbh->do(q{SELECT eventlog.create_topic('busy', 1)});
$dbh->do(q{CREATE SCHEMA iv});
print "creating $NVIEWS views of topic idle ...\n";
for my $i (1 .. $NVIEWS)
{
	$dbh->do("SELECT eventlog.create_view('iv.v$i', 'idle', 'count')");
}
$dbh->do(q{SELECT eventlog.produce('idle', '{}')});
set_maintenance(1);
# every view has applied what its topic got (the woken window leaves
# work behind), then two seconds more
sub settle
{
	my $t0 = time;
	sleep(0.2) while one(q{SELECT coalesce(max(lag), 1) FROM eventlog.views WHERE topic = 'idle'}) > 0
	  && time - $t0 < 300;
	sleep(2);
}
settle();

# CPU ticks (utime + stime) of a process, or undef once gone
sub ticks
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return undef;
	my $l = <$fh>;
	close $fh;
	$l =~ s/^.*\) //;
	my @f = split / /, $l;
	return $f[11] + $f[12];
}

# sample the workers every 100 ms over $secs while $load runs
sub measure
{
	my ($secs, $topic) = @_;
	my $pdb = db();
	my (%last, $worker, $launcher);
	$worker = $launcher = 0;
	$dbh->do(q{SELECT pg_stat_force_next_flush()});
	my $x0 = one(q{SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()});
	my $start = time;
	my $next_commit = $start;
	my $commits = 0;
	while (time - $start < $secs)
	{
		if (defined $topic && time >= $next_commit)
		{
			$pdb->do("SELECT eventlog.produce('$topic', '{}')");
			$commits++;
			$next_commit += 1 / $RATE;
		}
		my $rows = $dbh->selectall_arrayref(q{
SELECT pid, backend_type FROM pg_stat_activity
 WHERE (backend_type = 'pg_eventlog maintenance' AND datname = current_database())
    OR backend_type = 'pg_eventlog launcher'});
		for my $r (@$rows)
		{
			my ($pid, $type) = @$r;
			my $t = ticks($pid);
			next unless defined $t;
			if (defined $last{$pid})
			{
				my $d = $t - $last{$pid};
				if ($type eq 'pg_eventlog launcher') { $launcher += $d } else { $worker += $d }
			}
			$last{$pid} = $t;
		}
		sleep(0.1);
	}
	my $el = time - $start;
	$dbh->do(q{SELECT pg_stat_force_next_flush()});
	sleep(0.6);
	my $x1 = one(q{SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()});
	$pdb->disconnect;
	return (100 * $worker / $tck / $el, 100 * $launcher / $tck / $el,
		($x1 - $x0) / $el, $commits / $el);
}

my %res;
for my $rep (1 .. $REPS)
{
	for my $w ([ 'quiet', undef ], [ 'busy', 'busy' ], [ 'woken', 'idle' ])
	{
		my ($name, $topic) = @$w;
		settle();
		my @r = measure($SECS, $topic);
		push @{ $res{$name} }, \@r;
	}
}

print "\n=== idle views: $NVIEWS views of a topic without commits; $SECS s windows, median of $REPS\n";
printf "%-8s %12s %12s %14s %12s\n", 'window', 'worker CPU%', 'launcher %', 'xacts/s in db', 'commits/s';
for my $name (qw(quiet busy woken))
{
	my @rows = @{ $res{$name} };
	printf "%-8s %12.1f %12.1f %14.1f %12.1f\n", $name,
	  median(map { $_->[0] } @rows), median(map { $_->[1] } @rows),
	  median(map { $_->[2] } @rows), median(map { $_->[3] } @rows);
}
print "(busy: commits to another topic; woken: the same commits to the views' own topic, every view applying each)\n";
