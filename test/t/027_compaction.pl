
# pg_eventlog: log compaction (cleanup_policy 'compact', issue 9).
#
# Random keyed records with tombstones go to a 3-partition topic with
# 16 kB segments, round after round; after each round several maintenance
# passes compact it while a pgbench producer writes to other keys.  After
# the passes, the log equals what plain SQL computes from a heap copy of
# the records taken before them: the latest record of each key (a
# tombstone only while younger than delete_retention), plus everything in
# the active segment, at unchanged offsets; the log end does not move; the
# concurrent producer's latest record of each of its keys is there.  Then:
# tombstones are gone once delete_retention has passed; a REPEATABLE READ
# transaction that started before a compaction reads the same records
# before and after it (fetch and SQL scans); a logical
# decoding slot (test_decoding) delivers each produced record exactly once
# and nothing of the rewrites; a streaming replica (wal_consistency_checking)
# reads the same compacted log as the primary.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $nparts = 3;
my $dr = '3 s';				# delete_retention

my $primary = PostgreSQL::Test::Cluster->new('compact_primary');
$primary->init(allows_streaming => 'logical');
$primary->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_consistency_checking = 'pg_eventlog'
eventlog.maintenance = off
max_replication_slots = 4
});
$primary->start;
$primary->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('ct', $nparts, cleanup_policy => 'compact',
                             segment_bytes => 16384, delete_retention => '$dr');
SELECT count(*) FROM eventlog.run_maintenance('ct');
CREATE TABLE zlog (n bigserial PRIMARY KEY, key text NOT NULL);
CREATE TABLE produced (n bigserial, partition int, "offset" bigint);
SELECT 'slot' FROM pg_create_logical_replication_slot('cs', 'test_decoding');
});

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('compact_standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

# one round: $n random records over keys k0..k59, about 15% tombstones;
# each record's (partition, offset) goes to table produced
sub produce_round
{
	my ($round, $n) = @_;
	$primary->safe_psql(
		'postgres', qq{
WITH r AS (
  INSERT INTO eventlog_topics.ct (key, value)
  SELECT 'k' || floor(random() * 60)::int,
         CASE WHEN random() < 0.15 THEN NULL
              ELSE jsonb_build_object('round', $round, 'g', g, 'pad', repeat('x', 150)) END
    FROM generate_series(1, $n) g
  RETURNING partition, "offset")
INSERT INTO produced (partition, "offset") SELECT partition, "offset" FROM r;
});
	return;
}

# a pgbench producer of keys z0..z19: zlog records each record's key in
# the same transaction, so the latest record of a z key has the largest n
my $zscript = $primary->basedir . '/zproducer.sql';
open my $fh, '>', $zscript or die;
print $fh q{
\set k random(0, 19)
BEGIN;
WITH z AS (INSERT INTO zlog (key) VALUES ('z' || :k) RETURNING n, key),
     r AS (SELECT p.* FROM z, LATERAL eventlog.produce('ct', jsonb_build_object('z', z.n, 'pad', repeat('y', 100)), key => z.key) p)
INSERT INTO produced (partition, "offset") SELECT partition, "offset" FROM r;
COMMIT;
};
close $fh;

sub start_zproducer
{
	my ($secs) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-c', '1', '-T', $secs, '-f', $zscript,
			'-h', $primary->host, '-p', $primary->port, 'postgres'
		],
		'>', \$out, '2>', \$err);
	return { h => $h, err => \$err };
}

# maintenance passes until one neither compacts nor drops (at most 8): a
# segment compacted by one pass is compacted again only after the relation
# it replaced is dropped by a later one
sub passes
{
	my $n = 0;
	for my $i (1 .. 8)
	{
		$n++;
		my $acts = $primary->safe_psql('postgres',
			q{SELECT count(*) FROM eventlog.run_maintenance('ct')
			   WHERE action IN ('compacted', 'dropped', 'rolled', 'removed')});
		last if $acts == 0;
	}
	return $n;
}

sub log_ends
{
	return $primary->safe_psql('postgres',
		q{SELECT string_agg(log_end_offset::text, ',' ORDER BY partition)
		    FROM eventlog.partitions WHERE topic = 'ct'});
}

# compare the log with the heap copy "before" (k keys) and zlog (z keys)
sub check_log
{
	my ($label) = @_;
	my $res = $primary->safe_psql(
		'postgres', qq{
WITH a AS (SELECT f.* FROM generate_series(0, $nparts - 1) p,
                           LATERAL eventlog.fetch('ct', p, 0, 100000000) f),
act AS (SELECT partition, base_offset FROM eventlog.segments
         WHERE topic = 'ct' AND state = 'active'),
lat AS (SELECT b.*, b."offset" = max(b."offset") OVER (PARTITION BY b.partition, b.key) AS is_latest,
               b."offset" >= act.base_offset AS in_active
          FROM before b JOIN act USING (partition)),
must AS (SELECT * FROM lat
          WHERE in_active OR (is_latest AND (value IS NOT NULL OR ts > now() - interval '$dr'))),
may AS (SELECT * FROM lat WHERE in_active OR is_latest),
ka AS (SELECT * FROM a WHERE key LIKE 'k%' AND "offset" <= (SELECT max("offset") FROM before b WHERE b.partition = a.partition)),
zl AS (SELECT key, max(n) AS n FROM zlog GROUP BY key)
SELECT
  (SELECT count(*) FROM must m WHERE NOT EXISTS
     (SELECT 1 FROM ka WHERE ka.partition = m.partition AND ka."offset" = m."offset"
                         AND ka.key = m.key AND ka.value IS NOT DISTINCT FROM m.value)),
  (SELECT count(*) FROM ka WHERE NOT EXISTS
     (SELECT 1 FROM may m WHERE ka.partition = m.partition AND ka."offset" = m."offset"
                          AND ka.key = m.key AND ka.value IS NOT DISTINCT FROM m.value)),
  (SELECT count(*) - count(DISTINCT (partition, "offset")) FROM a),
  (SELECT count(*) FROM zl WHERE NOT EXISTS
     (SELECT 1 FROM a WHERE a.key = zl.key AND (a.value->>'z')::bigint = zl.n)),
  (SELECT count(*) FROM a WHERE key LIKE 'k%'),
  (SELECT count(*) FROM before),
  (SELECT count(*) FROM a WHERE key LIKE 'k%' AND value IS NULL)
});
	my ($missing, $extra, $dup, $zmissing, $n, $nbefore, $tomb) = split /\|/, $res;
	is($missing, 0, "$label: no latest record of a key (or active-segment record) is missing");
	is($extra, 0, "$label: nothing but latest records of keys and the active segment remain");
	is($dup, 0, "$label: no offset twice");
	is($zmissing, 0, "$label: the concurrent producer's latest record of each key is there");
	note("$label: $n of $nbefore copied records remain, $tomb tombstones");
	return ($n, $nbefore);
}

my $compacted_total = 0;
for my $round (1 .. 4)
{
	produce_round($round, 800);
	$primary->safe_psql('postgres',
		q{DROP TABLE IF EXISTS before;
		  CREATE TABLE before AS SELECT * FROM eventlog_topics.ct WHERE key LIKE 'k%'});
	my $ends = log_ends();
	my $z = start_zproducer(3);
	my $n = passes();
	$z->{h}->finish;
	is(${ $z->{err} } =~ /(ERROR|FATAL)/ ? $1 : '', '', "round $round: the concurrent producer ran without errors")
	  or diag(${ $z->{err} });
	my $after_ends = log_ends();
	# the producer appended meanwhile: log ends only grew
	my @b = split /,/, $ends;
	my @a = split /,/, $after_ends;
	ok((grep { $a[$_] < $b[$_] } 0 .. $#b) == 0, "round $round: no log end moved back");
	passes();
	my ($remain, $before) = check_log("round $round ($n passes)");
	ok($remain < $before, "round $round: compaction removed records") if $round > 1;
	$compacted_total += $primary->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog.segments WHERE topic = 'ct' AND state = 'compacted'});
}
ok($compacted_total > 0, 'segments are shown as compacted');
# a compacted segment that kept nothing leaves the partition once the
# relation it replaced is dropped (all but the first: the log start stays)
is( $primary->safe_psql(
		'postgres', q{
SELECT count(*) FROM eventlog.segments s
 WHERE s.topic = 'ct' AND s.state = 'compacted' AND s.records = 0
   AND s.seg_no > (SELECT min(m.seg_no) FROM eventlog.segment_map m
                    WHERE m.topic = 'ct' AND m.partition = s.partition)}),
	'0', 'no emptied compacted segment is left but the first of a partition');
is( $primary->safe_psql(
		'postgres', q{
SELECT (SELECT count(*) FROM eventlog.segment_map WHERE topic = 'ct')
     < (SELECT sum(n) FROM (SELECT max(seg_no) + 1 AS n FROM eventlog.segment_map
                             WHERE topic = 'ct' GROUP BY partition) x)}),
	't', 'emptied segments were removed (fewer segments than segment numbers)');

# ---- tombstones go once delete_retention has passed
sleep(4);
# roll every partition so that the last tombstones are in closed segments
$primary->safe_psql('postgres',
	q{SELECT eventlog.alter_topic('ct', segment_interval => '1 s')});
sleep(1);
passes();
$primary->safe_psql('postgres',
	q{DROP TABLE IF EXISTS before;
	  CREATE TABLE before AS SELECT * FROM eventlog_topics.ct WHERE key LIKE 'k%'});
passes();
is( $primary->safe_psql(
		'postgres', q{
SELECT count(*) FROM generate_series(0, 2) p, LATERAL eventlog.fetch('ct', p, 0, 100000000) f
 WHERE f.value IS NULL
   AND f."offset" < (SELECT base_offset FROM eventlog.segments s
                      WHERE s.topic = 'ct' AND s.partition = f.partition AND s.state = 'active')}),
	'0', 'no tombstone older than delete_retention is left outside the active segment');
check_log('after delete_retention');
$primary->safe_psql('postgres',
	q{SELECT eventlog.alter_topic('ct', segment_interval => '1 day')});

# ---- a REPEATABLE READ reader that started before a compaction
produce_round(10, 600);
$primary->safe_psql('postgres',
	q{SELECT eventlog.alter_topic('ct', segment_interval => '1 s')});
sleep(1);
# roll (the passes would also compact: keep this one's work for later)
$primary->safe_psql('postgres',
	q{SELECT count(*) FROM eventlog.run_maintenance('ct')});
produce_round(11, 300);
my $rr = $primary->background_psql('postgres');
my $readsql = q{SELECT count(*) || ':' || coalesce(sum(hashtext(f."offset" || f.key || coalesce(f.value::text, ''))), 0)
  FROM generate_series(0, 2) p, LATERAL eventlog.fetch('ct', p, 0, 100000000) f;};
$rr->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
my $seen_before = $rr->query_safe($readsql);
my $sqlscan = q{SELECT count(*) FROM eventlog_topics.ct;};
my $scan_before = $rr->query_safe($sqlscan);
# compaction runs while the reader's snapshot is open
produce_round(12, 300);
$primary->safe_psql('postgres',
	q{SELECT eventlog.alter_topic('ct', segment_interval => '1 day')});
my $acts = $primary->safe_psql('postgres',
	q{SELECT count(*) FROM eventlog.run_maintenance('ct') WHERE action = 'compacted'});
ok($acts > 0, 'segments were compacted while the REPEATABLE READ reader was open');
is($rr->query_safe($readsql), $seen_before,
	'the REPEATABLE READ reader reads the same records after the compaction (fetch)');
is($rr->query_safe($sqlscan), $scan_before,
	'the REPEATABLE READ reader reads the same records after the compaction (SQL scan)');
$rr->query_safe('COMMIT');
$rr->quit;
passes();

# ---- a compaction that cannot get its locks is skipped alone: the rest
# of the pass (rolls, spares) goes on, and the next pass compacts
produce_round(20, 600);
my $locker = $primary->background_psql('postgres');
$locker->query_safe(
	q{BEGIN; SELECT count(*) FROM (SELECT 1 FROM eventlog.segment_map
	   WHERE topic = 'ct' AND base_offset IS NOT NULL FOR UPDATE) l});
my ($mout, $merr) = ('', '');
$primary->psql('postgres', q{SELECT action FROM eventlog.run_maintenance('ct')},
	stdout => \$mout, stderr => \$merr);
like($merr, qr/compaction of partition \d+ of topic "ct" skipped, retried at the next pass/,
	'a compaction whose segment_map row is locked is skipped after the lock timeout');
like($mout, qr/created spare/, 'the rest of that pass was done');
$locker->query_safe('COMMIT');
$locker->quit;
like($primary->safe_psql('postgres', q{SELECT string_agg(action, ',') FROM eventlog.run_maintenance('ct')}),
	qr/compacted/, 'the next pass compacts');
passes();

# ---- logical decoding saw each produced record once, no rewrite
$primary->safe_psql(
	'postgres', q{
CREATE TABLE decoded AS
SELECT substring(data from 'partition\[integer\]:(\d+)')::int AS partition,
       substring(data from '"offset"\[bigint\]:(\d+)')::bigint AS "offset"
  FROM pg_logical_slot_get_changes('cs', NULL, NULL)
 WHERE data LIKE 'table eventlog_topics.ct: INSERT:%'});
my $dec = $primary->safe_psql(
	'postgres', q{
SELECT (SELECT count(*) FROM decoded),
       (SELECT count(*) FROM produced),
       (SELECT count(*) FROM (SELECT partition, "offset" FROM decoded
                              EXCEPT SELECT partition, "offset" FROM produced) x),
       (SELECT count(*) - count(DISTINCT (partition, "offset")) FROM decoded)});
my ($ndec, $nprod, $foreign, $ddup) = split /\|/, $dec;
is($ndec, $nprod, 'the slot delivered as many records as were produced');
is($foreign, 0, 'the slot delivered no record that was not produced');
is($ddup, 0, 'the slot delivered no record twice');

# ---- the streaming replica reads the same compacted log
$primary->wait_for_catchup($standby);
my $all = q{SELECT f.partition, f."offset", f.key, f.value
  FROM generate_series(0, 2) p, LATERAL eventlog.fetch('ct', p, 0, 100000000) f};
my $on_primary = $primary->safe_psql('postgres', $all);
is($standby->safe_psql('postgres', $all), $on_primary,
	'the standby reads the same compacted log as the primary');
is( $standby->safe_psql(
		'postgres', q{SELECT string_agg(state || ':' || coalesce(end_offset::text, '-'), ',' ORDER BY partition, seg_no)
		                FROM eventlog.segments WHERE topic = 'ct'}),
	$primary->safe_psql(
		'postgres', q{SELECT string_agg(state || ':' || coalesce(end_offset::text, '-'), ',' ORDER BY partition, seg_no)
		                FROM eventlog.segments WHERE topic = 'ct'}),
	'the standby shows the same segments');
ok(!$standby->log_contains('inconsistent page found'),
	'no wal_consistency_checking failure on the standby');

done_testing();
