
# pg_eventlog: log compaction under kill -9 (issue 9).
#
# Two pgbench producers append keyed records (10% tombstones) to a
# 2-partition compacted topic with 16 kB segments, each recording its
# record's key, partition and offset in table committed in the same
# transaction; the background worker (every 100 ms) and a session looping
# run_maintenance() roll, compact and drop.  The server (postmaster and
# every child) is killed with SIGKILL at random moments, several times.
# After each restart: the latest committed record of every key is there at
# its offset, every committed record of the active segment is there, no
# record is there that was not committed (nor twice), the log end did not
# go back and a new record gets a larger offset, and after a maintenance
# pass every segment relation is one that segment_map or segment_trash
# knows (none is left orphaned by an interrupted compaction).  Then: the
# relations a restore creates but no topic adopts are dropped by the sweep
# once eventlog.orphan_segment_grace has passed.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $cycles = 6;
my $node = PostgreSQL::Test::Cluster->new('compact_crash');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance_interval = 100
restart_after_crash = off
});
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('cc', 2, cleanup_policy => 'compact', segment_bytes => 16384,
                             delete_retention => '1 day');
SELECT count(*) FROM eventlog.run_maintenance('cc');
CREATE SEQUENCE ids;
CREATE TABLE committed (n bigint PRIMARY KEY, key text, partition int, "offset" bigint);
});

my $pscript = $node->basedir . '/producer.sql';
open my $fh, '>', $pscript or die;
print $fh q{
\set k random(0, 79)
\set t random(1, 10)
BEGIN;
WITH s AS (SELECT nextval('ids') AS n),
     r AS (SELECT p.*, s.n FROM s, LATERAL eventlog.produce('cc',
             CASE WHEN :t = 1 THEN NULL ELSE jsonb_build_object('pad', repeat('x', 150)) END,
             key => 'k' || :k, headers => jsonb_build_object('n', s.n::text)) p)
INSERT INTO committed (n, key, partition, "offset") SELECT n, 'k' || :k, partition, "offset" FROM r;
COMMIT;
};
close $fh;
my $mscript = $node->basedir . '/maint.sql';
open $fh, '>', $mscript or die;
print $fh q{SELECT count(*) FROM eventlog.run_maintenance('cc');
};
close $fh;

sub start_pgbench
{
	my ($clients, $script) = @_;
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[
			'pgbench', '-n', '-c', $clients, '-T', '120', '-f', $script,
			'-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$out, '2>', \$err);
}


sub finish_quietly
{
	my ($h) = @_;
	eval { $h->kill_kill; };
	eval { $h->finish; };
	return;
}

sub max_offsets
{
	my %m;
	for my $l (split /\n/, $node->safe_psql('postgres',
		q{SELECT partition, coalesce(max("offset"), -1) FROM committed GROUP BY partition}))
	{
		my ($p, $o) = split /\|/, $l;
		$m{$p} = $o;
	}
	return \%m;
}

sub check
{
	my ($label) = @_;
	my $res = $node->safe_psql(
		'postgres', q{
CREATE TEMP TABLE a AS
SELECT f.partition, f."offset", f.key, (f.headers->>'n')::bigint AS n
  FROM generate_series(0, 1) p, LATERAL eventlog.fetch('cc', p, 0, 100000000) f;
WITH lat AS (SELECT DISTINCT ON (key) * FROM committed ORDER BY key, n DESC),
act AS (SELECT partition, base_offset FROM eventlog.segments
         WHERE topic = 'cc' AND state = 'active')
SELECT
 (SELECT count(*) FROM lat WHERE NOT EXISTS
    (SELECT 1 FROM a WHERE a.n = lat.n AND a.partition = lat.partition AND a."offset" = lat."offset")),
 (SELECT count(*) FROM committed c JOIN act USING (partition)
   WHERE c."offset" >= act.base_offset AND NOT EXISTS
    (SELECT 1 FROM a WHERE a.n = c.n AND a.partition = c.partition AND a."offset" = c."offset")),
 (SELECT count(*) FROM a WHERE NOT EXISTS
    (SELECT 1 FROM committed c WHERE c.n = a.n AND c.partition = a.partition
                                 AND c."offset" = a."offset" AND c.key = a.key)),
 (SELECT count(*) - count(DISTINCT (partition, "offset")) FROM a),
 (SELECT count(*) FROM a), (SELECT count(*) FROM committed);
});
	my ($lost, $lost_active, $foreign, $dup, $n, $ncommitted) = split /\|/, $res;
	is($lost, 0, "$label: the latest committed record of every key is there");
	is($lost_active, 0, "$label: every committed record of the active segments is there");
	is($foreign, 0, "$label: every record read was committed, at its offset");
	is($dup, 0, "$label: no offset twice");
	note("$label: $n records in the log, $ncommitted committed");
	return;
}

sub orphans
{
	return $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM pg_class c
 WHERE c.relnamespace = 'eventlog_segments'::regnamespace AND c.relkind = 'r'
   AND NOT EXISTS (SELECT 1 FROM eventlog.segment_map m WHERE m.segrel = c.oid)
   AND NOT EXISTS (SELECT 1 FROM eventlog.segment_trash t WHERE t.segrel = c.oid)});
}

for my $cycle (1 .. $cycles)
{
	my $prod = start_pgbench(2, $pscript);
	my $maint = start_pgbench(1, $mscript);
	# let some segments roll and be compacted, then kill at a random moment
	$node->poll_query_until('postgres',
		"SELECT count(*) >= $cycle * 1500 FROM committed")
	  or die 'producers made no progress';
	usleep(int(rand(1_500_000)));
	my $pre = max_offsets();
	crash_node($node);
	finish_quietly($prod);
	finish_quietly($maint);
	restart_node($node);

	check("cycle $cycle, after restart");
	my $post = max_offsets();
	for my $p (0, 1)
	{
		ok(($post->{$p} // -1) >= ($pre->{$p} // -1),
			"cycle $cycle: partition $p: no committed offset went back");
		my $n = $node->safe_psql('postgres', "SELECT nextval('ids')");
		my $off = $node->safe_psql('postgres',
			"SELECT \"offset\" FROM eventlog.produce('cc', '{}', key => 'after', headers => '{\"n\": \"$n\"}', \"partition\" => $p)");
		ok($off > ($post->{$p} // -1), "cycle $cycle: partition $p: a new record gets a larger offset");
		$node->safe_psql('postgres',
			"INSERT INTO committed VALUES ($n, 'after', $p, $off)");
	}
	# the passes after the restart leave no relation outside the catalog
	$node->safe_psql('postgres', q{SELECT count(*) FROM eventlog.run_maintenance('cc')}) for 1 .. 3;
	is(orphans(), '0', "cycle $cycle: no segment relation outside segment_map and segment_trash");
	check("cycle $cycle, after the passes");
}

ok($node->log_contains('eventlog maintenance: compacted'),
	'the worker compacted segments during the test');
my $ncomp = $node->safe_psql('postgres',
	q{SELECT count(*) FROM eventlog.segments WHERE topic = 'cc' AND state = 'compacted'});
ok($ncomp > 0, 'compacted segments are there');

# ---- an idle worker leaves a compacted log alone: once every closed
# segment has been through compaction, it is read again only after
# max(1 min, delete_retention or min_compaction_lag)
sleep(3);
my $last_sql = q{SELECT max(compacted_at) FROM eventlog.segment_map WHERE topic = 'cc'};
my $last = $node->safe_psql('postgres', $last_sql);
sleep(2);
is($node->safe_psql('postgres', $last_sql), $last,
	'with nothing new, the worker (every 100 ms) did not compact the topic again');

# ---- orphans: a dump taken while replaced relations await their drop
# (a REPEATABLE READ transaction holds them back) restores them as tables
# that no topic adopts; maintenance drops them once
# eventlog.orphan_segment_grace has passed, and only them
$node->safe_psql('postgres', q{
INSERT INTO eventlog_topics.cc (key, value, headers)
SELECT 'k' || (g % 10), jsonb_build_object('pad', repeat('x', 150)), jsonb_build_object('n', (-g)::text)
  FROM generate_series(1, 600) g});
# (its snapshot sees those records: compaction may remove what they supersede)
my $hold = $node->background_psql('postgres');
$hold->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$hold->query_safe('SELECT count(*) FROM committed');
$node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM eventlog.segment_trash})
  or die 'nothing awaits its drop';
my $dump = $node->basedir . '/cc.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump while replaced segments await their drop');
$hold->query_safe('COMMIT');
$hold->quit;
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
my $orphan_sql = q{
SELECT count(*) FROM pg_class c
 WHERE c.relnamespace = 'eventlog_segments'::regnamespace AND c.relkind = 'r'
   AND NOT EXISTS (SELECT 1 FROM eventlog.segment_map m WHERE m.segrel = c.oid)
   AND NOT EXISTS (SELECT 1 FROM eventlog.segment_trash t WHERE t.segrel = c.oid)};
my $all_sql = q{SELECT count(*) || ':' || sum(hashtext(f."offset" || f.key || coalesce(f.value::text, '') || f.headers::text))
  FROM generate_series(0, 1) p, LATERAL eventlog.fetch('cc', p, 0, 100000000) f};
my $orphans = $node->safe_psql('restored', $orphan_sql);
ok($orphans > 0, "the restore left $orphans segment relations no topic uses");
$node->safe_psql('restored', 'SELECT count(*) FROM eventlog.run_maintenance()');
is($node->safe_psql('restored', $orphan_sql), $orphans,
	'within eventlog.orphan_segment_grace they stay');
$node->safe_psql('postgres', 'ALTER SYSTEM SET eventlog.orphan_segment_grace = 0; SELECT pg_reload_conf()');
$node->poll_query_until('restored', q{SELECT current_setting('eventlog.orphan_segment_grace') = '0'});
# (the worker, in that database too, may get there first)
$node->safe_psql('restored', q{SELECT count(*) FROM eventlog.run_maintenance()});
is($node->safe_psql('restored', $orphan_sql), '0', 'the next pass drops them: no unused segment relation is left');
# (the worker compacts both meanwhile: wait until they agree)
ok( wait_until(
		sub {
			$node->safe_psql('restored', $all_sql) eq $node->safe_psql('postgres', $all_sql);
		}),
	'after the sweep, the restored log equals the original');

done_testing();
