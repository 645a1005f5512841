# pg_eventlog: materialized views survive kill -9 exactly once (issue 10).
#
# A 3-partition topic carries one view of every kind.  Producers (pgbench,
# with savepoints, rollbacks, tombstones and keyless records) write while
# the server is killed with SIGKILL at random moments, alternately
#   - while the background worker keeps the views current, and
#   - while refresh_view() is catching up a large backlog by itself (worker
#     switched off).
# After every restart each view, once refreshed, must equal the same result
# computed from scratch with plain SQL over the topic relation: a record
# applied twice or lost shows in the sums and counts, and the reducer view
# records whether any record of a key ever reached it out of offset order
# or twice (its state carries the last offset applied).  Finally the worker
# alone (no refresh_view) brings the views up to date after a crash.
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

my $node = PostgreSQL::Test::Cluster->new('views_crash');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance_interval = 100
restart_after_crash = off
max_connections = 40
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('ord', 3);
CREATE SCHEMA app;
-- n: records since the key's last tombstone; last: offset of the latest;
-- bad: some record arrived at or below the previous one (twice, or out of
-- offset order).  A tombstone deletes the key's row.
CREATE FUNCTION app.fold(state jsonb, r eventlog_topics.ord) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN r.value IS NULL THEN NULL ELSE
    jsonb_build_object(
      'n', coalesce((state->>'n')::int, 0) + 1,
      'last', r."offset",
      'bad', coalesce((state->>'bad')::boolean, false)
             OR r."offset" <= coalesce((state->>'last')::bigint, -1))
  END
$$;
SELECT eventlog.create_view('app.v_latest', 'ord');
SELECT eventlog.create_view('app.v_sum', 'ord', kind => 'sum',
    expr => $$(value->>'amt')::numeric$$, group_by => $$value->>'cust'$$);
SELECT eventlog.create_view('app.v_cnt', 'ord', kind => 'count',
    filter => $$(value->>'amt')::int > 50$$);
SELECT eventlog.create_view('app.v_max', 'ord', kind => 'max',
    expr => $$(value->>'amt')::int$$, group_by => $$value->>'cust'$$);
SELECT eventlog.create_view('app.v_avg', 'ord', kind => 'avg',
    expr => $$(value->>'amt')::numeric$$);
SELECT eventlog.create_view('app.v_red', 'ord', kind => 'reduce',
    reducer => 'app.fold(jsonb, eventlog_topics.ord)');
});

# Each view beside its recomputation from the topic relation (every
# committed record, all partitions).  Keys hash to one partition, so the
# latest record of a key is the one with the highest offset.
my %recompute = (
	v_latest => q{
SELECT key, value, "partition", "offset", ts FROM (
  SELECT DISTINCT ON (key) key, value, "partition", "offset", ts
    FROM eventlog_topics.ord WHERE key IS NOT NULL
   ORDER BY key, "offset" DESC) l
 WHERE value IS NOT NULL},
	v_sum => q{
SELECT value->>'cust' AS key, sum((value->>'amt')::numeric) AS value
  FROM eventlog_topics.ord WHERE value->>'cust' IS NOT NULL GROUP BY 1},
	v_cnt => q{
SELECT key, count(*) AS value
  FROM eventlog_topics.ord
 WHERE ((value->>'amt')::int > 50) IS TRUE AND key IS NOT NULL GROUP BY 1},
	v_max => q{
SELECT value->>'cust' AS key, max((value->>'amt')::int) AS value
  FROM eventlog_topics.ord WHERE value->>'cust' IS NOT NULL GROUP BY 1},
	v_avg => q{
SELECT key, round(avg((value->>'amt')::numeric), 12) AS value
  FROM eventlog_topics.ord WHERE key IS NOT NULL GROUP BY 1},
	v_red => q{
SELECT key, jsonb_build_object('n', count(*), 'last', max("offset"), 'bad', false) AS state
  FROM (SELECT key, "offset",
               max(CASE WHEN value IS NULL THEN "offset" END) OVER (PARTITION BY key) AS tomb
          FROM eventlog_topics.ord WHERE key IS NOT NULL) o
 WHERE "offset" > coalesce(tomb, -1)
 GROUP BY key},
);
my %columns = (
	v_latest => 'key, value, "partition", "offset", ts',
	v_sum => 'key, value',
	v_cnt => 'key, value',
	v_max => 'key, value',
	v_avg => 'key, round(value, 12) AS value',
	v_red => 'key, state',
);

sub check_views
{
	my ($label) = @_;
	for my $v (sort keys %recompute)
	{
		my $q = "WITH v AS (SELECT $columns{$v} FROM app.$v), r AS ($recompute{$v})
SELECT (SELECT count(*) FROM (TABLE v EXCEPT ALL TABLE r) a) || ' ' ||
       (SELECT count(*) FROM (TABLE r EXCEPT ALL TABLE v) b) || ' ' ||
       (SELECT count(*) FROM v)";
		my ($extra, $missing, $rows) = split / /, $node->safe_psql('postgres', $q);
		is("$extra $missing", '0 0',
			"$label: $v equals its recomputation ($rows rows; rows only in the view $extra, only in the recomputation $missing)");
	}
	is($node->safe_psql('postgres',
			q{SELECT count(*) FROM app.v_red WHERE (state->>'bad')::boolean}),
		'0', "$label: no record reached the reducer twice or out of offset order");
}

sub refresh_all
{
	return $node->safe_psql('postgres', q{
SELECT sum(eventlog.refresh_view(v)) FROM unnest(ARRAY['app.v_latest', 'app.v_sum',
  'app.v_cnt', 'app.v_max', 'app.v_avg', 'app.v_red']) v});
}

sub restart_after_kill
{
	my ($cycle) = @_;
	crash_node($node);
	ok(restart_node($node), "crash $cycle: restarted");
}

sub set_worker
{
	my ($on) = @_;
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET eventlog.maintenance = " . ($on ? 'on' : 'off') . "; SELECT pg_reload_conf();");
}

my $script = savepoint_producer_script(
	$node->basedir . '/produce.sql', q{
INSERT INTO eventlog_topics.ord (key, value)
SELECT CASE WHEN r < 0.05 THEN NULL ELSE 'k' || (random() * 150)::int END,
       CASE WHEN r >= 0.05 AND r < 0.13 THEN NULL
            ELSE jsonb_build_object('cust', 'c' || (random() * 20)::int,
                                    'amt', (random() * 100)::int, 'pad', repeat('x', :pad)) END
  FROM (SELECT random() AS r FROM generate_series(1, :n)) g;
});

refresh_all();
check_views('empty');
my $killed_behind = 0;

for my $cycle (1 .. 8)
{
	my ($out, $err) = ('', '');
	if ($cycle % 2)
	{
		# the background worker applies while producers write
		set_worker(1);
		my $h = start_savepoint_producers($node, $script, 30, \$out, \$err);
		usleep(1_000_000 + int(rand(2_500_000)));
		restart_after_kill($cycle);
		eval { $h->finish; };
	}
	else
	{
		# refresh_view() alone catches up a backlog of a few thousand records
		set_worker(0);
		my $h = start_savepoint_producers($node, $script, 3, \$out, \$err);
		$h->finish;
		# and one large transaction, so that the refreshes take a while
		$node->safe_psql('postgres', q{
INSERT INTO eventlog_topics.ord (key, value)
SELECT 'k' || (random() * 150)::int,
       jsonb_build_object('cust', 'c' || (random() * 20)::int, 'amt', (random() * 100)::int)
  FROM generate_series(1, 40000)});
		my $rh = $node->background_psql('postgres', on_error_stop => 0);
		$rh->query_until(qr/started/, q{\echo started
SELECT eventlog.refresh_view('app.v_red');
SELECT eventlog.refresh_view('app.v_sum');
SELECT eventlog.refresh_view('app.v_latest');
SELECT eventlog.refresh_view('app.v_avg');
SELECT eventlog.refresh_view('app.v_cnt');
SELECT eventlog.refresh_view('app.v_max');
});
		usleep(20_000 + int(rand(400_000)));
		restart_after_kill($cycle);
		eval { $rh->quit; };
	}
	my $mode = $cycle % 2 ? 'worker' : 'refresh_view';
	my $behind = $node->safe_psql('postgres',
		'SELECT count(DISTINCT view_name) FROM eventlog.views WHERE lag > 0');
	note("crash $cycle ($mode): $behind views were behind at the restart");
	$killed_behind++ if $mode eq 'refresh_view' && $behind > 0;
	refresh_all();
	check_views("crash $cycle ($mode)");
	is($node->safe_psql('postgres', 'SELECT coalesce(sum(lag), 0) FROM eventlog.views'),
		'0', "crash $cycle: no lag left after refresh_view");
}

ok($killed_behind > 0,
	"the kill interrupted refresh_view catch-ups ($killed_behind of 4 times views were behind at the restart)");

# The worker alone catches up after a crash: a backlog written while it was
# off, a kill -9, then only the worker (no refresh_view).
set_worker(0);
my ($out, $err) = ('', '');
start_savepoint_producers($node, $script, 3, \$out, \$err)->finish;
restart_after_kill('final');
set_worker(1);
ok( wait_until(sub {
			$node->safe_psql('postgres', 'SELECT coalesce(sum(lag), 0) FROM eventlog.views') eq '0';
		}),
	'after the last crash the worker alone brought every view up to date');
check_views('worker after crash');
my $errors = $node->safe_psql('postgres',
	q{SELECT count(*) FROM eventlog.views WHERE last_error IS NOT NULL});
is($errors, '0', 'no view reports an error');

$node->stop;
done_testing();
