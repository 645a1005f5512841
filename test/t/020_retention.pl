
# pg_eventlog: segment rolls, retention and the maintenance worker (issue 9).
#
# Soak: a 2-partition topic with 32 kB segments and retention_bytes 100 kB
# receives more than 10x its retention volume while the background worker
# (every 200 ms) rolls, removes and drops segments.  The segments' on-disk
# size stays within nparts * (retention_bytes + 3 segments), the log start
# advances, and every record at or above it reads back in order (value n =
# its offset).  Crash: the server is killed with SIGKILL while a producer
# appends across rolls and the worker drops; after each restart nothing at
# or above the log start is lost or duplicated, offsets never go back, and
# after a maintenance pass no segment relation is left outside the catalog.
# Dump/restore: partitions with several segments (base offsets, log start
# after delete_records, a rolled-back tail) survive pg_dump -Fc + pg_restore
# (plain and -j 4) exactly, and producing afterwards continues at the log end.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('retention');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance_interval = 200
restart_after_crash = off
});
$node->start;

my $seg = 32768;
my $ret = 100000;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('soak', 2, segment_bytes => $seg, retention_bytes => $ret);
SELECT count(*) FROM eventlog.run_maintenance();
});

# one batch per partition: value n = the offset it will get
sub produce_batch
{
	my ($n) = @_;
	return join '', map {
		qq{INSERT INTO eventlog_topics.soak ("partition", key, value)
SELECT $_, 'k', jsonb_build_object('n', e.log_end_offset + g - 1, 'pad', repeat('x', 200))
  FROM generate_series(1, $n) g,
       (SELECT log_end_offset FROM eventlog.partitions WHERE topic = 'soak' AND "partition" = $_) e;
}
	} (0, 1);
}

sub disk_bytes
{
	return $node->safe_psql('postgres', q{
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'eventlog_segments' AND c.relkind = 'r'});
}

sub check_log
{
	my ($label) = @_;
	my $res = $node->safe_psql('postgres', q{
SELECT p."partition", p.log_start_offset, p.log_end_offset,
       (SELECT count(*) FROM eventlog.fetch('soak', p."partition", p.log_start_offset, 1000000) f) AS n,
       (SELECT count(*) FROM eventlog.fetch('soak', p."partition", p.log_start_offset, 1000000) f
         WHERE (f.value->>'n')::bigint <> f."offset") AS bad,
       (SELECT count(*) - count(DISTINCT f."offset") FROM eventlog.fetch('soak', p."partition", p.log_start_offset, 1000000) f) AS dup
  FROM eventlog.partitions p WHERE p.topic = 'soak' ORDER BY 1});
	my %r;
	for my $line (split /\n/, $res)
	{
		my ($p, $start, $end, $n, $bad, $dup) = split /\|/, $line;
		is($bad, 0, "$label: partition $p: every record's value is its offset");
		is($dup, 0, "$label: partition $p: no offset twice");
		$r{$p} = [ $start, $end, $n ];
	}
	return \%r;
}

# the launcher starts this database's worker once the extension exists
ok( $node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_eventlog maintenance'}),
	'maintenance worker running');

my $total = 0;
my $max_disk = 0;
my $bound = 2 * ($ret + 3 * $seg);
for my $i (1 .. 40)
{
	$node->safe_psql('postgres', produce_batch(100));
	$total += 2 * 100 * 250;
	usleep(250_000);
	my $d = disk_bytes();
	$max_disk = $d if $i > 3 && $d > $max_disk;
}
ok($total >= 10 * 2 * $ret, "produced $total bytes, 10x the retention of 2 partitions");
my $d = 0;
for (1 .. 50)
{
	$d = disk_bytes();
	last if $d <= $bound;
	usleep(200_000);
}
note("on-disk segment bytes: max $max_disk during the soak, $d at the end, bound $bound");
ok($d <= $bound, "segments on disk ($d) within nparts * (retention_bytes + 3 segments) = $bound");
ok($max_disk <= $bound + 2 * $seg, "segments on disk stayed bounded during the soak (max $max_disk)");
my $r = check_log('soak');
for my $p (0, 1)
{
	ok($r->{$p}[0] > 0, "partition $p: log start advanced to $r->{$p}[0]");
	is($r->{$p}[2], $r->{$p}[1] - $r->{$p}[0], "partition $p: every record from the log start to the end is readable");
}

# crash cycles during rolls and drops
sub offsets
{
	my ($p) = @_;
	my %o = map { $_ => 1 } split /\n/, $node->safe_psql('postgres', qq{
SELECT f."offset" FROM eventlog.partitions p,
       eventlog.fetch('soak', $p, p.log_start_offset, 1000000) f
 WHERE p.topic = 'soak' AND p."partition" = $p});
	return \%o;
}

my %last_end = map { $_ => $r->{$_}[1] } (0, 1);
for my $cycle (1 .. 4)
{
	my %before = map { $_ => offsets($_) } (0, 1);
	my $h = $node->background_psql('postgres', on_error_stop => 0);
	$h->query_until(qr/started/, "\\echo started\n" . (produce_batch(50) x 20));
	usleep(200_000 + int(rand(800_000)));
	crash_node($node);
	eval { $h->finish; };
	ok(restart_node($node), "crash $cycle: restarted");
	my $c = check_log("crash $cycle");
	for my $p (0, 1)
	{
		my $after = offsets($p);
		my @lost = grep { $_ >= $c->{$p}[0] && !$after->{$_} } keys %{ $before{$p} };
		is(scalar(@lost), 0, "crash $cycle: partition $p: no record at or above the log start lost");
		ok($c->{$p}[1] >= $last_end{$p}, "crash $cycle: partition $p: log end did not go back");
		$last_end{$p} = $c->{$p}[1];
	}
	# new records get new offsets
	$node->safe_psql('postgres', produce_batch(10));
	my $c2 = check_log("after crash $cycle");
	ok($c2->{$_}[1] == $last_end{$_} + 10, "crash $cycle: partition $_: offsets continue") for (0, 1);
	%last_end = map { $_ => $c2->{$_}[1] } (0, 1);
}

# no segment relation outside the catalog after a pass
$node->safe_psql('postgres', 'SELECT count(*) FROM eventlog.run_maintenance()');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'eventlog_segments' AND c.relkind = 'r'
   AND c.oid NOT IN (SELECT segrel FROM eventlog.segment_map)
   AND c.oid NOT IN (SELECT segrel FROM eventlog.segment_trash)}), '0',
	'no orphaned segment relation');

# Dump and restore of partitions with several segments: pg_dump -Fc, then
# pg_restore and pg_restore -j 4 into other databases.  Each restored
# partition has the same segments (base offsets), every record at the same
# offset, the same log start and log end (a rolled-back tail included), and
# a produce after the restore continues at the log end.
$node->safe_psql('postgres', 'CREATE DATABASE dsrc');
$node->safe_psql('dsrc', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('multi', 2, segment_bytes => 16384);
SELECT count(*) FROM eventlog.run_maintenance('multi');
});
for my $round (1 .. 6)
{
	# each round fills about one segment per partition; the worker makes
	# the next spare meanwhile
	$node->safe_psql('dsrc', qq{
INSERT INTO eventlog_topics.multi ("partition", key, value, headers)
SELECT g % 2, 'k' || g, jsonb_build_object('r', $round, 'g', g, 'pad', repeat('y', 200)),
       jsonb_build_object('h', g::text)
  FROM generate_series(1, 120) g;
SELECT count(*) FROM eventlog.run_maintenance('multi');
});
}
$node->safe_psql('dsrc', q{
BEGIN;
INSERT INTO eventlog_topics.multi ("partition", value) SELECT 1, '{"aborted": true}' FROM generate_series(1, 7);
ROLLBACK;
SELECT eventlog.delete_records('multi', 0, 100);
SELECT count(*) FROM eventlog.run_maintenance('multi');
});

sub dump_state
{
	my ($db) = @_;
	$node->safe_psql($db, q{SELECT count(*) FROM eventlog.run_maintenance('multi')});
	return $node->safe_psql($db, q{
SELECT p."partition", p.log_start_offset, p.log_end_offset,
       (SELECT string_agg(s.base_offset::text, ',' ORDER BY s.base_offset)
          FROM eventlog.segments s
         WHERE s.topic = 'multi' AND s."partition" = p."partition" AND s.records > 0),
       (SELECT count(*) || ' ' || md5(string_agg(format('%s|%s|%s|%s|%s', f."offset", f.ts, f.key, f.value, f.headers), ',' ORDER BY f."offset"))
          FROM eventlog.fetch('multi', p."partition", p.log_start_offset, 1000000) f)
  FROM eventlog.partitions p WHERE p.topic = 'multi' ORDER BY 1});
}

my $src_state = dump_state('dsrc');
note("source: $src_state");
my @src_rows = map { [ split /\|/ ] } split /\n/, $src_state;
ok((grep { $_->[3] =~ tr/,// >= 3 } @src_rows) == 2, 'source: every partition has at least four segments');
ok($src_rows[0][1] == 100, 'source: partition 0 starts at 100 (delete_records)');
ok($src_rows[1][2] > (split / /, $src_rows[1][4])[0] + $src_rows[1][1],
	'source: partition 1 ends in rolled-back records');

my $tmp = PostgreSQL::Test::Utils::tempdir();
my ($out, $err) = ('', '');
ok(IPC::Run::run([ 'pg_dump', '-Fc', '-f', "$tmp/multi.dump", '-d', $node->connstr('dsrc') ], '>', \$out, '2>', \$err),
	'pg_dump -Fc of a database with multi-segment partitions') or diag($err);
for my $case ([ 'drest', [] ], [ 'drestj', [ '-j', '4' ] ])
{
	my ($db, $opts) = @$case;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	($out, $err) = ('', '');
	ok(IPC::Run::run([ 'pg_restore', @$opts, '-d', $node->connstr($db), "$tmp/multi.dump" ], '>', \$out, '2>', \$err),
		"pg_restore @$opts into $db") or diag($err);
	is(dump_state($db), $src_state,
		"$db: same segment base offsets, records, log start and log end per partition");
	my $next = $node->safe_psql($db, q{
SELECT string_agg(format('%s:%s', pr."offset" = p.log_end_offset, pr."partition"), ',' ORDER BY p."partition")
  FROM eventlog.partitions p,
       LATERAL eventlog.produce('multi', '{"after": "restore"}', "partition" => p."partition") pr
 WHERE p.topic = 'multi'});
	is($next, 't:0,t:1', "$db: produce after the restore continues at the log end");
}

$node->stop;
done_testing();
