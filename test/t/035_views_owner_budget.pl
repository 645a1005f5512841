# Copyright (c) pg_eventlog authors
#
# One owner's slow or hostile views delay neither another owner's segment
# maintenance nor, for long, other views (issue 16).  alice owns views
# whose expression sleeps 12 s, and one whose PL/pgSQL catches
# query_canceled and sleeps again forever; bob owns a topic under a
# 2-second retention that a producer keeps writing to.  With
# eventlog.view_turn_timeout = 2s:
#  - bob's log start keeps advancing, never more than a few seconds apart
#    (segment maintenance runs in a worker of its own; it used to wait
#    behind every view's turn, 12 s each);
#  - the sleeping views' turns are cancelled, the catching one's worker is
#    terminated (its code cannot catch that), and each is recorded as the
#    view's error with a back-off (not due again at once);
#  - another database's views, kept waiting meanwhile for the workers that
#    views may use, get a WARNING and a row in eventlog.maintenance_status.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $node = PostgreSQL::Test::Cluster->new('owners');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_eventlog'
max_prepared_transactions = 0
eventlog.max_maintenance_workers = 2
eventlog.maintenance_interval = '500ms'
eventlog.view_turn_timeout = '2s'
eventlog.view_owner_budget = '1s'
autovacuum = off
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE sv');
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('o', 1);
SELECT eventlog.create_view('public.ov', 'o', 'count');
});
$node->safe_psql(
	'sv', q{
CREATE EXTENSION pg_eventlog;
CREATE ROLE alice;
CREATE ROLE bob;
GRANT CREATE ON SCHEMA eventlog_topics TO alice, bob;
CREATE SCHEMA alice AUTHORIZATION alice;
CREATE SCHEMA bob AUTHORIZATION bob;
SET ROLE alice;
CREATE FUNCTION alice.stubborn() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    BEGIN
      PERFORM pg_sleep(3600);
    EXCEPTION WHEN query_canceled THEN
      NULL;	-- and sleep again
    END;
  END LOOP;
END $$;
SELECT eventlog.create_topic('a', 1);
SELECT eventlog.create_view('alice.slow1', 'a', 'count', expr => '(SELECT 1 FROM pg_sleep(12))');
SELECT eventlog.create_view('alice.slow2', 'a', 'count', expr => '(SELECT 1 FROM pg_sleep(12))');
SELECT eventlog.create_view('alice.slow3', 'a', 'count', expr => '(SELECT 1 FROM pg_sleep(12))');
SELECT eventlog.create_view('alice.catcher', 'a', 'count', expr => 'alice.stubborn()');
SET ROLE bob;
SELECT eventlog.create_topic('b', 1, retention => '2s', segment_interval => '1s');
SELECT eventlog.create_view('bob.bv', 'b', 'count');
});

# alice's views get records, and bob's topic a steady stream
$node->safe_psql('sv', q{SELECT eventlog.produce('a', '{}', 'k' || g) FROM generate_series(1, 3) g});
my $start_sql = q{SELECT log_start_offset FROM eventlog.partitions WHERE topic = 'b'};
# until bob's log start first moves (the database's first passes)
my $t0 = time;
while ($node->safe_psql('sv', $start_sql) == 0 && time - $t0 < 60)
{
	$node->safe_psql('sv', q{SELECT eventlog.produce('b', '{}', 'kb')});
	usleep(200_000);
}
my $last_start = $node->safe_psql('sv', $start_sql);
my $start = time;
my $last_move = time;
my $max_gap = 0;
my $moves = 0;
while (time - $start < 20)
{
	$node->safe_psql('sv', q{SELECT eventlog.produce('b', '{}', 'kb')});
	$node->safe_psql('other', q{SELECT eventlog.produce('o', '{}', 'ko')});
	my $s = $node->safe_psql('sv', $start_sql);
	if ($s != $last_start)
	{
		my $gap = time - $last_move;
		$max_gap = $gap if $gap > $max_gap;
		$moves++;
		$last_start = $s;
		$last_move = time;
	}
	usleep(200_000);
}
my $gap = time - $last_move;
$max_gap = $gap if $gap > $max_gap;
note(sprintf("bob's log start moved %d times in 20 s, at most %.1f s apart", $moves, $max_gap));
cmp_ok($moves, '>=', 3, "bob's retention advances beside alice's slow views");
cmp_ok($max_gap, '<', 8, "bob's log start never stood still for long (longest: $max_gap s)");

# alice's views: errors, and back-off
ok( $node->poll_query_until('sv', q{
SELECT count(*) = 4 FROM eventlog.view_def
 WHERE view_schema = 'alice' AND error_count > 0 AND retry_at >= last_error_at + interval '1 s'}),
	"each of alice's views has an error and a back-off");
like($node->safe_psql('sv', q{SELECT last_error FROM eventlog.view_def WHERE view_name = 'catcher'}),
	qr/terminating its maintenance worker/,
	'the turn that caught the cancel was ended by terminating its worker');
like($node->safe_psql('sv', q{SELECT string_agg(last_error, ' ') FROM eventlog.view_def WHERE view_name LIKE 'slow_'}),
	qr/statement timeout|terminating/, 'the sleeping turns were cancelled');
is($node->safe_psql('sv', q{SELECT count(*) FROM alice.slow1}), '0', 'nothing of a cancelled turn was applied');

# bob's view and the other database's view catch up
ok( $node->poll_query_until('sv', q{SELECT coalesce(sum(lag), -1) = 0 FROM eventlog.views WHERE table_name = 'bv'}),
	"bob's view catches up");
ok( $node->poll_query_until('other', q{SELECT coalesce(sum(lag), -1) = 0 FROM eventlog.views WHERE table_name = 'ov'}),
	"the other database's view catches up");

my $log = slurp_file($node->logfile);
like($log, qr/WARNING:  eventlog view maintenance of database \d+ has waited \d+ ms for a maintenance worker/,
	'view maintenance that waited for a worker was logged as a WARNING');
like($log, qr/terminating the worker \(pid \d+\) whose turn of materialized view "alice.catcher"/,
	'the launcher logged the termination');

# the status view: last runs per kind, and a waiting view pass while the
# views' worker is held by a slow turn
is( $node->safe_psql('sv', q{
SELECT count(*) FROM eventlog.maintenance_status
 WHERE database = 'sv' AND topic IS NULL AND last_started IS NOT NULL}),
	'3', 'eventlog.maintenance_status: segments, compaction and views each ran');
$node->safe_psql('sv', q{UPDATE eventlog.view_def SET retry_at = NULL WHERE view_name = 'slow1'});
$node->safe_psql('sv', q{SELECT eventlog.produce('a', '{}', 'k9')});
ok( $node->poll_query_until('other', q{
SELECT (SELECT count(*) FROM eventlog.produce('o', '{}', 'ko')) = 1
   AND EXISTS (SELECT 1 FROM pg_stat_activity
                WHERE backend_type = 'pg_eventlog maintenance' AND wait_event = 'PgSleep')
   AND EXISTS (SELECT 1 FROM eventlog.maintenance_status
                WHERE database = 'other' AND kind = 'views' AND topic IS NULL
                  AND waiting LIKE '%compaction and views may use%')}),
	'eventlog.maintenance_status says why the other database\'s views wait');
ok( $node->safe_psql('sv', q{
SELECT count(*) > 0 FROM eventlog.maintenance_status
 WHERE database = 'sv' AND topic = 'a' AND waiting LIKE '%backing off%'}),
	'eventlog.maintenance_status lists the topic whose views back off');

$node->stop;
done_testing();
