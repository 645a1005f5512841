
# pg_eventlog: materialized views under concurrency (issue 10).
#
# Four pgbench producers write random records into a 3-partition topic
# (keyed and keyless, tombstones, through produce() and INSERT), in
# transactions that commit or roll back, some with a savepoint rolled back
# or released.  Meanwhile a fifth client refreshes random views and the
# background worker keeps them current too, so refreshes and the worker
# race for the same views.  At the end, after a last refresh, every view
# (each kind, with filters, grouping expressions and an order-sensitive
# reducer) must equal the same result computed from scratch with plain SQL
# over the topic relation, and no view may have recorded an error.
#
# Then the wake-up: with the maintenance tick at ten minutes, a record
# produced into the topic must show up in a view without refresh_view (a
# generous bounded wait; a worker that only ran at its tick would miss it).
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $node = PostgreSQL::Test::Cluster->new('vwprop');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_eventlog'
max_prepared_transactions = 0
eventlog.maintenance_interval = 200
max_connections = 30
});
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('prop', partitions => 3);
CREATE FUNCTION fold(s jsonb, r eventlog_topics.prop) RETURNS jsonb LANGUAGE sql AS $$
  SELECT CASE WHEN r.value IS NULL THEN NULL
         ELSE jsonb_build_object('n', coalesce((s->>'n')::int, 0) + 1,
                                 'h', (coalesce((s->>'h')::bigint, 7) * 31 + (r.value->>'amount')::int) % 1000003,
                                 'last', r."offset") END $$;
-- the same fold as an ordered aggregate, for the recomputation (a NULL
-- state folds like the initial one, so restarting after a tombstone and
-- folding on from NULL agree)
CREATE AGGREGATE fold_all(eventlog_topics.prop) (sfunc = fold, stype = jsonb, initcond = '{"n": 0, "h": 7}');
SELECT eventlog.create_view('v_latest', 'prop');
SELECT eventlog.create_view('v_latest_f', 'prop', filter => 'value->>''region'' <> ''r0''');
SELECT eventlog.create_view('v_count', 'prop', 'count');
SELECT eventlog.create_view('v_count_region', 'prop', 'count', expr => 'value->>''amount''',
                            group_by => 'value->>''region''');
SELECT eventlog.create_view('v_sum', 'prop', 'sum', expr => '(value->>''amount'')::int',
                            filter => '(value->>''amount'')::int > 0');
SELECT eventlog.create_view('v_min', 'prop', 'min', expr => '(value->>''amount'')::int');
SELECT eventlog.create_view('v_max', 'prop', 'max', expr => '(value->>''amount'')::int',
                            group_by => '"partition"');
SELECT eventlog.create_view('v_avg', 'prop', 'avg', expr => '(value->>''amount'')::numeric');
SELECT eventlog.create_view('v_fold', 'prop', 'reduce', reducer => 'fold(jsonb, eventlog_topics.prop)',
                            initial => '{"n": 0, "h": 7}');
});

# the worker of this database runs; from now on its tick is ten minutes
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity
           WHERE backend_type = 'pg_eventlog maintenance' AND datname = 'postgres'}),
	'the maintenance worker of the database runs');
$node->safe_psql('postgres', 'ALTER SYSTEM SET eventlog.maintenance_interval = 600000');
$node->reload;

my $produce = q{
\if :how = 1
INSERT INTO eventlog_topics.prop (key, value)
SELECT k, CASE WHEN k IS NOT NULL AND random() < 0.15 THEN NULL
               ELSE jsonb_build_object('amount', (random() * 100)::int - 20, 'region', 'r' || (random() * 3)::int) END
  FROM (SELECT CASE WHEN random() < 0.1 THEN NULL ELSE 'k' || (random() * 30)::int END AS k
          FROM generate_series(1, :n)) g;
\else
SELECT count(*)
  FROM (SELECT CASE WHEN random() < 0.1 THEN NULL ELSE 'k' || (random() * 30)::int END AS k
          FROM generate_series(1, :n)) g,
  LATERAL eventlog.produce('prop',
    CASE WHEN g.k IS NOT NULL AND random() < 0.15 THEN NULL
         ELSE jsonb_build_object('amount', (random() * 100)::int - 20, 'region', 'r' || (random() * 3)::int) END,
    key => g.k);
\endif
};
my $dir = PostgreSQL::Test::Utils::tempdir;
my $script = savepoint_producer_script("$dir/producers.sql", $produce);
PostgreSQL::Test::Utils::append_to_file(
	"$dir/refresher.sql", q{
\set v random(1, 9)
SELECT eventlog.refresh_view((ARRAY['v_latest', 'v_latest_f', 'v_count', 'v_count_region', 'v_sum',
                                    'v_min', 'v_max', 'v_avg', 'v_fold'])[:v]);
\\sleep 5 ms
});

my ($pout, $perr, $rout, $rerr) = ('', '', '', '');
my $producers = start_savepoint_producers($node, $script, 12, \$pout, \$perr);
my $refresher = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '1', '-T', '12', '-f', "$dir/refresher.sql",
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$rout, '2>', \$rerr);
$producers->finish;
$refresher->finish;
is($producers->result(0), 0, 'producers ran') or diag($perr);
is($refresher->result(0), 0, 'refreshes ran') or diag($rerr);
my ($produced) = $pout =~ /number of transactions actually processed: (\d+)/;
my ($refreshed) = $rout =~ /number of transactions actually processed: (\d+)/;
note("producer transactions: $produced, refreshes: $refreshed");

my $nrec = $node->safe_psql('postgres', 'SELECT count(*) FROM eventlog_topics.prop');
ok($nrec > 100, "records produced ($nrec)");

$node->safe_psql('postgres',
	q{SELECT eventlog.refresh_view(view_name) FROM eventlog.view_def ORDER BY view_name});
is( $node->safe_psql('postgres', 'SELECT coalesce(sum(lag), -1) FROM eventlog.views'),
	'0', 'no view lags after the last refresh');
is($node->safe_psql('postgres', 'SELECT count(*) FROM eventlog.view_def WHERE last_error IS NOT NULL'),
	'0', 'no view recorded an error');

my %expect = (
	v_latest => q{SELECT key, value, "partition", "offset", ts FROM (
	    SELECT DISTINCT ON (key) * FROM eventlog_topics.prop WHERE key IS NOT NULL ORDER BY key, "offset" DESC) l
	  WHERE value IS NOT NULL},
	v_latest_f => q{SELECT key, value, "partition", "offset", ts FROM (
	    SELECT DISTINCT ON (key) * FROM eventlog_topics.prop
	     WHERE key IS NOT NULL AND (value->>'region' <> 'r0') IS TRUE ORDER BY key, "offset" DESC) l
	  WHERE value IS NOT NULL},
	v_count => q{SELECT key, count(*) FROM eventlog_topics.prop WHERE key IS NOT NULL GROUP BY key},
	v_count_region => q{SELECT value->>'region', count(value->>'amount') FROM eventlog_topics.prop
	  WHERE value->>'region' IS NOT NULL GROUP BY 1},
	v_sum => q{SELECT key, sum((value->>'amount')::int) FROM eventlog_topics.prop
	  WHERE key IS NOT NULL AND ((value->>'amount')::int > 0) IS TRUE GROUP BY key},
	v_min => q{SELECT key, min((value->>'amount')::int) FROM eventlog_topics.prop WHERE key IS NOT NULL GROUP BY key},
	v_max => q{SELECT "partition"::text, max((value->>'amount')::int) FROM eventlog_topics.prop GROUP BY 1},
	v_avg => q{SELECT key, avg((value->>'amount')::numeric), sum((value->>'amount')::numeric),
	  count((value->>'amount')::numeric) FROM eventlog_topics.prop WHERE key IS NOT NULL GROUP BY key},
	v_fold => q{SELECT key, s FROM (SELECT key, fold_all(t ORDER BY t."offset") AS s
	  FROM eventlog_topics.prop t WHERE key IS NOT NULL GROUP BY key) f WHERE s IS NOT NULL});

for my $v (sort keys %expect)
{
	my $e = $expect{$v};
	my $diff = $node->safe_psql('postgres',
		"SELECT count(*) FROM ((TABLE $v EXCEPT ($e)) UNION ALL (($e) EXCEPT TABLE $v)) d");
	my $rows = $node->safe_psql('postgres', "SELECT count(*) FROM $v");
	is($diff, '0', "$v equals its recomputation ($rows rows)");
}

# wake-up by a producer's commit, not by the (ten-minute) tick
$node->safe_psql('postgres', q{SELECT eventlog.produce('prop', '{"amount": 1, "region": "r1"}', key => 'fresh')});
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 1 FROM v_latest WHERE key = 'fresh'}),
	'a produced record reaches the view without refresh_view');
ok( $node->poll_query_until(
		'postgres', q{SELECT value = 1 FROM v_count WHERE key = 'fresh'}),
	'... and the other views');

# a failing expression: recorded, retried with a back-off, never in a hot
# loop; the other views go on; last_error is shown only to topic readers
$node->safe_psql(
	'postgres', q{
CREATE ROLE vw_owner;
CREATE ROLE vw_reader;
GRANT SELECT ON eventlog_topics.prop TO vw_owner;
GRANT CREATE ON SCHEMA public TO vw_owner;
SET ROLE vw_owner;
SELECT eventlog.create_view('v_strict', 'prop', 'sum', expr => '(value->>''amount'')::int');
GRANT SELECT ON v_strict TO vw_reader;
RESET ROLE;
SELECT eventlog.produce('prop', '{"amount": "not a number"}', key => 'bad');
SELECT eventlog.produce('prop', '{"amount": 3}', key => 'after_bad');
});
ok( $node->poll_query_until(
		'postgres', q{SELECT error_count > 0 FROM eventlog.view_def WHERE view_name = 'v_strict'}),
	'the failing view records its error');
like(
	$node->safe_psql('postgres',
		q{SELECT DISTINCT last_error FROM eventlog.views WHERE view_name = 'v_strict'}),
	qr/invalid input syntax for type integer/,
	'eventlog.views shows the error');
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 1 FROM v_latest WHERE key = 'after_bad'}),
	'the other views go on');
sleep(3);
my $errors = $node->safe_psql('postgres',
	q{SELECT error_count FROM eventlog.view_def WHERE view_name = 'v_strict'});
ok($errors >= 1 && $errors < 10, "retried with a back-off, not in a loop ($errors attempts)");
is( $node->safe_psql(
		'postgres',
		q{SET ROLE vw_reader;
		  SELECT count(*) > 0, count(last_error) FROM eventlog.views WHERE view_name = 'v_strict'}),
	't|0',
	'a reader of the view but not of the topic sees the view, not the error');
ok($node->log_contains(qr/could not maintain materialized view "public\.v_strict"/),
	'the error is in the server log');

# the owner loses SELECT on the topic: maintenance stops with an error
$node->safe_psql(
	'postgres', q{
SET ROLE vw_owner;
SELECT eventlog.create_view('v_revoked', 'prop', 'count');
RESET ROLE;
REVOKE SELECT ON eventlog_topics.prop FROM vw_owner;
SELECT eventlog.produce('prop', '{"amount": 4}', key => 'after_revoke');
});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT last_error LIKE '%may not read topic "prop"%' FROM eventlog.view_def WHERE view_name = 'v_revoked'}),
	'a REVOKE of the owner\'s SELECT stops the view with last_error');
is($node->safe_psql('postgres', q{SELECT count(*) FROM v_revoked WHERE key = 'after_revoke'}),
	'0', 'nothing applied after the REVOKE');
$node->safe_psql('postgres', 'GRANT SELECT ON eventlog_topics.prop TO vw_owner');
is($node->safe_psql('postgres', q{SELECT eventlog.refresh_view('v_revoked') > 0}),
	't', 'granted again, the view catches up');
is($node->safe_psql('postgres', q{SELECT count(last_error) FROM eventlog.view_def WHERE view_name = 'v_revoked'}),
	'0', 'and its error is cleared');

$node->stop;
done_testing();
