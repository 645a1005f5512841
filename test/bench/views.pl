#!/usr/bin/perl
# pg_eventlog benchmark, views mode (test/bench/run.sh --views):
#
# V1. Records applied per second, side by side in one run, for the same N
#     records (keys c0..c9999, 1% tombstones, ~120-byte JSON values):
#       E  a topic with a `latest` view and a `sum` view (per customer), the
#          worker off: the records are loaded with INSERT ... SELECT, then
#          refresh_view() applies them (timed alone);
#       T  a heap outbox whose summary tables are maintained by AFTER INSERT
#          FOR EACH ROW triggers (an upsert per row, a DELETE per
#          tombstone): the same load with and without the trigger, the
#          difference is the trigger's apply time.
#     Prints apply rates (records/s) and end-to-end rates (load + apply),
#     medians of BENCH_VIEW_REPS runs, and the ratios E / T.
# V2. Commit-to-view freshness under a steady load (pgbench -R, transactions
#     of 10 records: BENCH_VIEW_TPS x 10 records/s) with background
#     maintenance on and no refresh_view(): a probe session produces a
#     marker record every 20 ms (autocommit) and polls the `latest` view
#     every millisecond until the marker's row is there.  Prints p50, p90,
#     p99 and max.
# Asserts nothing.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use BenchCommon;
use IPC::Open3;
use Time::HiRes qw(time sleep);

$| = 1;

my %C = bench_settings('--views', qw(HOST PORT DB DIR PGBENCH WORK SMOKE));
my $N = $ENV{BENCH_VIEW_N} // ($C{SMOKE} ? 20000 : 1000000);
my $REPS = $ENV{BENCH_VIEW_REPS} // ($C{SMOKE} ? 1 : 3);
my $TPS = $ENV{BENCH_VIEW_TPS} // 100;
my $SECS = $ENV{BENCH_VIEW_FRESH_SECS} // ($C{SMOKE} ? 3 : 30);

my $dbh = db();
sub timed { my ($sql) = @_; my $t = time(); $dbh->do($sql); return time() - $t }

# the records: key c<g % 10000>, every 100th a tombstone
my $records = qq{
SELECT 'c' || (g % 10000) AS key,
       CASE WHEN g % 100 = 0 THEN NULL
            ELSE jsonb_build_object('customer', 'c' || (g % 10000), 'total', (g % 997) / 10.0,
                                    'pad', repeat('x', 60)) END AS value
  FROM generate_series(1, $N) g};

$dbh->do(q{
CREATE TABLE vw_o (id bigserial PRIMARY KEY, key text, value jsonb, ts timestamptz NOT NULL DEFAULT now());
CREATE TABLE vw_o_latest (key text PRIMARY KEY, value jsonb, id bigint, ts timestamptz);
CREATE TABLE vw_o_sum (key text PRIMARY KEY, value numeric);
CREATE FUNCTION vw_o_latest_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.value IS NULL THEN
    DELETE FROM vw_o_latest WHERE key = NEW.key;
  ELSE
    INSERT INTO vw_o_latest VALUES (NEW.key, NEW.value, NEW.id, NEW.ts)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, id = EXCLUDED.id, ts = EXCLUDED.ts;
  END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION vw_o_sum_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.value->>'customer' IS NOT NULL THEN
    INSERT INTO vw_o_sum VALUES (NEW.value->>'customer', (NEW.value->>'total')::numeric)
    ON CONFLICT (key) DO UPDATE SET value = vw_o_sum.value + EXCLUDED.value;
  END IF;
  RETURN NULL;
END $$;
});

print "\n=== V1. records applied per second, $N records (10000 keys, 1% tombstones), $REPS reps\n";
set_maintenance(0);
my (%apply, %e2e);
for my $rep (1 .. $REPS)
{
	# E: topic + views
	$dbh->do("SELECT eventlog.drop_view(v) FROM (SELECT DISTINCT view_name AS v FROM eventlog.views WHERE topic = 'vw_e') s");
	$dbh->do("SELECT eventlog.drop_topic('vw_e', if_exists => true)");
	$dbh->do("DROP TABLE IF EXISTS vw_latest, vw_sum");
	$dbh->do("SELECT eventlog.create_topic('vw_e', 4)");
	$dbh->do("SELECT eventlog.create_view('vw_latest', 'vw_e')");
	$dbh->do("SELECT eventlog.create_view('vw_sum', 'vw_e', kind => 'sum',"
		  . " expr => \$\$(value->>'total')::numeric\$\$, group_by => \$\$value->>'customer'\$\$)");
	$dbh->do("CHECKPOINT");
	my $load_e = timed("INSERT INTO eventlog_topics.vw_e (key, value) $records");
	$dbh->do("CHECKPOINT");
	my $t = time();
	my $n_l = one("SELECT eventlog.refresh_view('vw_latest')");
	my $ap_el = time() - $t;
	$t = time();
	my $n_s = one("SELECT eventlog.refresh_view('vw_sum')");
	my $ap_es = time() - $t;
	die "refresh_view applied $n_l / $n_s records, expected $N\n" unless $n_l == $N && $n_s == $N;

	# T: outbox without trigger, with the latest trigger, with the sum trigger
	my %load;
	for my $mode (qw(plain latest sum))
	{
		$dbh->do("DROP TRIGGER IF EXISTS t ON vw_o");
		$dbh->do("TRUNCATE vw_o, vw_o_latest, vw_o_sum");
		$dbh->do("CREATE TRIGGER t AFTER INSERT ON vw_o FOR EACH ROW EXECUTE FUNCTION vw_o_${mode}_trg()")
		  if $mode ne 'plain';
		$dbh->do("CHECKPOINT");
		$load{$mode} = timed("INSERT INTO vw_o (key, value) $records");
	}
	$dbh->do("DROP TRIGGER IF EXISTS t ON vw_o");

	# both sides computed the same thing
	my $diff = one(q{SELECT (SELECT count(*) FROM (SELECT key, value FROM vw_sum EXCEPT SELECT key, value FROM vw_o_sum) a)
	                      + (SELECT count(*) FROM (SELECT key, value FROM vw_o_sum EXCEPT SELECT key, value FROM vw_sum) b)});
	die "the sum view and the trigger's summary differ in $diff rows\n" if $diff;

	push @{ $apply{E_latest} }, $N / $ap_el;
	push @{ $apply{E_sum} }, $N / $ap_es;
	push @{ $apply{T_latest} }, $N / (($load{latest} - $load{plain}) || 1e-9);
	push @{ $apply{T_sum} }, $N / (($load{sum} - $load{plain}) || 1e-9);
	push @{ $e2e{E_latest} }, $N / ($load_e + $ap_el);
	push @{ $e2e{E_sum} }, $N / ($load_e + $ap_es);
	push @{ $e2e{T_latest} }, $N / $load{latest};
	push @{ $e2e{T_sum} }, $N / $load{sum};
	printf "  rep %d: E load %.2f s, refresh latest %.2f s, sum %.2f s | T load plain %.2f s, +latest trigger %.2f s, +sum trigger %.2f s\n",
	  $rep, $load_e, $ap_el, $ap_es, $load{plain}, $load{latest}, $load{sum};
}
printf "  %-40s | %12s | %12s | %8s\n", 'median records/s', 'E view', 'T trigger', 'E / T';
for my $k (qw(latest sum))
{
	my ($e, $tr) = (median(@{ $apply{"E_$k"} }), median(@{ $apply{"T_$k"} }));
	printf "  %-40s | %12.0f | %12.0f | %8.2f\n", "apply only, $k", $e, $tr, $e / $tr;
	($e, $tr) = (median(@{ $e2e{"E_$k"} }), median(@{ $e2e{"T_$k"} }));
	printf "  %-40s | %12.0f | %12.0f | %8.2f\n", "load + apply, $k", $e, $tr, $e / $tr;
}

print "\n=== V2. commit-to-view freshness, background maintenance, ${TPS} x 10 records/s for $SECS s\n";
$dbh->do("SELECT eventlog.create_topic('vw_f', 4)");
$dbh->do("SELECT eventlog.create_view('vw_fresh', 'vw_f')");
set_maintenance(1);
my $f = "$C{WORK}/vw_load.sql";
open my $fh, '>', $f or die "$f: $!";
print $fh "INSERT INTO eventlog_topics.vw_f (key, value) SELECT 'c' || (random() * 10000)::int,"
  . " jsonb_build_object('total', g, 'pad', repeat('x', 60)) FROM generate_series(1, 10) g;\n";
close $fh;
my @cmd = ($C{PGBENCH}, '-n', '-h', $C{HOST}, '-p', $C{PORT}, '-U', 'postgres', '-c', 2, '-j', 1,
	'-R', $TPS, '-T', $SECS + 2, '-f', $f, $C{DB});
my $pid = open3(my $in, my $out, undef, @cmd);
close $in;
sleep(1);
my $probe = db();
my $ins = $probe->prepare(q{SELECT eventlog.produce('vw_f', '{"probe": true}', key => ?)});
my $sel = $probe->prepare(q{SELECT 1 FROM vw_fresh WHERE key = ?});
my (@lat, $missed);
my $end = time() + $SECS;
my $i = 0;
while (time() < $end)
{
	my $key = 'probe-' . $i++;
	$ins->execute($key);
	$ins->finish;
	my $tc = time();
	my $seen;
	while (time() - $tc < 5)
	{
		$sel->execute($key);
		$seen = $sel->fetchrow_array;
		$sel->finish;
		last if $seen;
		sleep(0.001);
	}
	if ($seen) { push @lat, 1000 * (time() - $tc) }
	else { $missed++ }
	sleep(0.02);
}
my $txt = join '', <$out>;
waitpid($pid, 0);
my ($tps) = $txt =~ /^tps = ([\d.]+)/m;
printf "  load achieved %.0f records/s; %d probes, %d not visible within 5 s\n", 10 * ($tps // 0), scalar @lat, $missed // 0;
printf "  freshness ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
  percentile(50, @lat), percentile(90, @lat), percentile(99, @lat), percentile(100, @lat)
  if @lat;
