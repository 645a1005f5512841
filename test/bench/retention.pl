#!/usr/bin/perl
# pg_eventlog benchmark, retention mode (test/bench/run.sh --retention):
#
# R1. On-disk bytes during a soak of 10x the retention period, the three
#     systems side by side and at the same fixed rate (pgbench --rate,
#     transactions of 10 records of ~200 bytes):
#       E  a topic with time retention (the maintenance worker, every 1 s,
#          rolls by segment_interval and drops whole segments),
#       O  a heap outbox pruned by DELETE of rows older than the retention
#          every second, plus autovacuum (default settings, naptime 5 s),
#       Q  a PgQ queue rotating its 3 tables every retention/2 (this script
#          calls pgq.ticker() and the rotation steps every second, as pgqd
#          would).
#     Reports the largest and the final on-disk size after the first
#     retention period, the records the retention keeps, and bytes per kept
#     record.
# R2. Produce rate (pgbench, 1-record produce() transactions) into a topic
#     with retention running (retention 3 s, 1 s segments: rolls and drops
#     during the run) and into one without retention, alternating.
# Asserts nothing.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use BenchCommon;
use IPC::Open3;
use Time::HiRes qw(time sleep);

$| = 1;

my %C = bench_settings('--retention', qw(HOST PORT DB DIR PGBENCH WORK SMOKE));
my $T = $ENV{BENCH_RET_SECS} // ($C{SMOKE} ? 4 : 15);	# retention period, s
my $RATE = $ENV{BENCH_RET_RATE} // 100;					# 10-record xacts/s per system
my $TPS_T = $ENV{BENCH_RET_TPS_T} // ($C{SMOKE} ? 2 : 10);
my $REPS = $ENV{BENCH_RET_REPS} // ($C{SMOKE} ? 1 : 2);

my $dbh = db();
sub mb { sprintf '%.1f MB', $_[0] / 1048576 }

# autovacuum for the outbox (the cluster runs with autovacuum off)
$dbh->do("ALTER SYSTEM SET autovacuum = on");
$dbh->do("ALTER SYSTEM SET autovacuum_naptime = '5s'");
$dbh->do("SELECT pg_reload_conf()");

my $pad = "repeat('x', 150)";
$dbh->do("SELECT eventlog.create_topic('ret_e', 2, retention => '$T s', segment_interval => '"
	. int($T / 4 > 1 ? $T / 4 : 1) . " s')");
$dbh->do("CREATE TABLE ret_o (id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT now(), value jsonb NOT NULL)");
$dbh->do("CREATE INDEX ON ret_o (ts)");
$dbh->do("SELECT pgq.create_queue('ret_q')");
$dbh->do("SELECT pgq.set_queue_config('ret_q', 'rotation_period', '" . ($T / 2) . " s')");
$dbh->do("SELECT pgq.set_queue_config('ret_q', 'ticker_max_lag', '1 s')");

my %script = (
	E => "INSERT INTO eventlog_topics.ret_e (value) SELECT jsonb_build_object('g', g, 'pad', $pad) FROM generate_series(1, 10) g;\n",
	O => "INSERT INTO ret_o (value) SELECT jsonb_build_object('g', g, 'pad', $pad) FROM generate_series(1, 10) g;\n",
	Q => "SELECT count(pgq.insert_event('ret_q', 'k', jsonb_build_object('g', g, 'pad', $pad)::text)) FROM generate_series(1, 10) g;\n",
);
my %file;
for my $s (keys %script)
{
	$file{$s} = "$C{WORK}/ret_$s.sql";
	open my $fh, '>', $file{$s} or die "$file{$s}: $!";
	print $fh $script{$s};
	close $fh;
}

sub pgbench
{
	my (@args) = @_;
	my @cmd = ($C{PGBENCH}, '-n', '-h', $C{HOST}, '-p', $C{PORT}, '-U', 'postgres', @args, $C{DB});
	my $pid = open3(my $in, my $out, undef, @cmd);
	close $in;
	return ($pid, $out);
}

# PgQ's event tables: the queue's parent table and its rotating children
my $qpfx = one(q{SELECT queue_data_pfx FROM pgq.queue WHERE queue_name = 'ret_q'});
my %size_sql = (
	E => q{SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
	        JOIN pg_namespace n ON n.oid = c.relnamespace
	       WHERE n.nspname = 'eventlog_segments' AND c.relkind = 'r'
	         AND c.relname LIKE 't' || 'eventlog_topics.ret_e'::regclass::oid || '\_%'},
	O => q{SELECT pg_total_relation_size('ret_o')},
	Q => qq{SELECT pg_total_relation_size('$qpfx') + coalesce(sum(pg_total_relation_size(inhrelid)), 0)
	          FROM pg_inherits WHERE inhparent = '$qpfx'::regclass},
);
my %kept_sql = (
	E => q{SELECT sum(log_end_offset - log_start_offset) FROM eventlog.partitions WHERE topic = 'ret_e'},
	O => q{SELECT count(*) FROM ret_o},
	Q => "SELECT count(*) FROM $qpfx",
);

print "\n=== R1. on-disk bytes, soak of 10 x retention ($T s) at $RATE x 10 records/s per system, "
  . "E, O and Q at once\n";
my $soak = 10 * $T;
my @runs = map { [ $_, pgbench('-c', 2, '-j', 1, '-R', $RATE, '-T', $soak, '-f', $file{$_}) ] } qw(E O Q);
my $maint = db();
my $t0 = time();
my (%max, %last, %kept, %samples);
my $next = $t0 + 1;
while (time() - $t0 < $soak)
{
	sleep($next - time()) if $next > time();
	$next += 1;
	$maint->do("DELETE FROM ret_o WHERE ts < now() - interval '$T s'");
	$maint->do("SELECT pgq.ticker()");
	$maint->do("SELECT pgq.maint_rotate_tables_step1('ret_q')");
	$maint->do("SELECT pgq.maint_rotate_tables_step2()");
	my $el = time() - $t0;
	for my $s (qw(E O Q))
	{
		my $b = one($size_sql{$s});
		$last{$s} = $b;
		next if $el < $T;
		$max{$s} = $b if !defined $max{$s} || $b > $max{$s};
		push @{ $samples{$s} }, $b;
	}
	printf "  t=%4.0fs  E %s  O %s  Q %s\n", $el, mb($last{E}), mb($last{O}), mb($last{Q})
	  if int($el) % $T == 0;
}
my %tps;
for my $r (@runs)
{
	my ($s, $pid, $out) = @$r;
	my $txt = join '', <$out>;
	waitpid($pid, 0);
	($tps{$s}) = $txt =~ /^tps = ([\d.]+)/m;
}
$kept{$_} = one($kept_sql{$_}) for qw(E O Q);
my $rec = 1 + length(qq({"g": 10, "pad": "}) . ('x' x 150) . '"}');
printf "  %-42s | %10s | %10s | %10s\n", '', 'E topic', 'O outbox', 'Q PgQ';
printf "  %-42s | %10.0f | %10.0f | %10.0f\n", 'records/s achieved', map { 10 * ($tps{$_} // 0) } qw(E O Q);
printf "  %-42s | %10s | %10s | %10s\n", 'records produced (10 x retention)', map { int(10 * ($tps{$_} // 0) * $soak) } qw(E O Q);
printf "  %-42s | %10s | %10s | %10s\n", 'on-disk max after the first period', map { mb($max{$_} // 0) } qw(E O Q);
printf "  %-42s | %10s | %10s | %10s\n", 'on-disk at the end', map { mb($last{$_}) } qw(E O Q);
printf "  %-42s | %10s | %10s | %10s\n", 'records kept at the end', map { $kept{$_} } qw(E O Q);
my $window = $RATE * 10 * $T;
printf "  %-42s | %10s | %10s | %10s\n", "retained volume (rate x $T s x ${rec} B JSON)", (mb($window * $rec)) x 3;
printf "  %-42s | %10.0f | %10.0f | %10.0f\n", 'on-disk bytes per kept record (end)', map { $last{$_} / ($kept{$_} || 1) } qw(E O Q);
printf "  %-42s | %10.2f | %10.2f | %10.2f\n", 'max on-disk / retained volume', map { ($max{$_} // 0) / ($window * $rec) } qw(E O Q);
my $avac = one(q{SELECT autovacuum_count || ' autovacuums, ' || n_dead_tup || ' dead rows now' FROM pg_stat_user_tables WHERE relname = 'ret_o'});
print "  outbox: $avac\n";

print "\n=== R2. produce rate with and without retention running (pgbench -c 4 -j 2 -T $TPS_T, 1-record produce() per xact)\n";
$dbh->do("SELECT eventlog.create_topic('ret_on', 2, retention => '3 s', segment_interval => '1 s')");
$dbh->do("SELECT eventlog.create_topic('ret_off', 2)");
my %rate;
for my $rep (1 .. $REPS)
{
	for my $s (qw(off on))
	{
		my $f = "$C{WORK}/ret_tps_$s.sql";
		open my $fh, '>', $f or die;
		print $fh "SELECT * FROM eventlog.produce('ret_$s', jsonb_build_object('pad', $pad));\n";
		close $fh;
		$dbh->do("CHECKPOINT");
		my ($pid, $out) = pgbench('-M', 'prepared', '-c', 4, '-j', 2, '-T', $TPS_T, '-f', $f);
		my $txt = join '', <$out>;
		waitpid($pid, 0);
		my ($t) = $txt =~ /^tps = ([\d.]+)/m;
		die "pgbench failed:\n$txt" unless defined $t;
		push @{ $rate{$s} }, $t;
		printf "  rep %d %-18s %8.0f tps\n", $rep, $s eq 'on' ? 'with retention' : 'without retention', $t;
	}
}
my $segs = one(q{SELECT count(*) FROM eventlog.segments WHERE topic = 'ret_on'});
my $start = one(q{SELECT min(log_start_offset) FROM eventlog.partitions WHERE topic = 'ret_on'});
printf "  median: without %.0f tps, with %.0f tps (ratio %.3f); the retained topic has %d segments now, log start %d\n",
  median(@{ $rate{off} }), median(@{ $rate{on} }), median(@{ $rate{on} }) / median(@{ $rate{off} }), $segs, $start;
