
# pg_eventlog: pg_dump / pg_restore of materialized views (issue 10).
#
# A database holds a topic and views of every kind, some behind the log
# (maintenance switched off while more records are produced), with a
# reducer function and an index on a view's table.  It is dumped (custom
# and plain format) and restored three ways: pg_restore, pg_restore -j 2,
# and psql.  Each copy must hold the same view tables, definitions and
# positions (table, definition and positions come from one snapshot), and,
# once maintenance runs again, catch up without applying a record twice:
# every view then equals its recomputation from the restored topic.  The
# guard of a restored table still refuses writes.  Then drop_topic on a
# copy detaches its views.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('vwdump');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_eventlog'
max_prepared_transactions = 0
eventlog.maintenance_interval = 200
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql(
	'src', q{
CREATE EXTENSION pg_eventlog;
CREATE SCHEMA app;
SELECT eventlog.create_topic('orders', partitions => 3);
CREATE FUNCTION app.fold(state jsonb, rec eventlog_topics.orders) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT CASE WHEN rec.value IS NULL THEN NULL
         ELSE jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1,
                                 'sum', coalesce((state->>'sum')::int, 0) + (rec.value->>'amount')::int) END $$;
SELECT count(*) FROM generate_series(1, 300) g,
  LATERAL eventlog.produce('orders', jsonb_build_object('amount', g % 17, 'region', 'r' || (g % 4)),
                           key => 'c' || (g % 23));
SELECT eventlog.produce('orders', NULL, key => 'c5');
SELECT eventlog.create_view('app.customer', 'orders');
SELECT eventlog.create_view('app.n', 'orders', 'count');
SELECT eventlog.create_view('app.total', 'orders', 'sum', expr => '(value->>''amount'')::int');
SELECT eventlog.create_view('app.lo', 'orders', 'min', expr => '(value->>''amount'')::int',
                            group_by => 'value->>''region''');
SELECT eventlog.create_view('app.hi', 'orders', 'max', expr => '(value->>''amount'')::int',
                            filter => 'key <> ''c1''');
SELECT eventlog.create_view('app.mean', 'orders', 'avg', expr => '(value->>''amount'')::int');
SELECT eventlog.create_view('app.folded', 'orders', 'reduce', reducer => 'app.fold(jsonb, eventlog_topics.orders)',
                            initial => '{"n": 0, "sum": 0}');
CREATE INDEX ON app.total (value);
});

# maintenance off: the next records stay behind the views' positions
$node->safe_psql('postgres', 'ALTER SYSTEM SET eventlog.maintenance = off');
$node->reload;
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_eventlog maintenance'})
  or die 'maintenance workers did not stop';
$node->safe_psql(
	'src', q{
SELECT count(*) FROM generate_series(301, 400) g,
  LATERAL eventlog.produce('orders', jsonb_build_object('amount', g % 17, 'region', 'r' || (g % 4)),
                           key => 'c' || (g % 23));
SELECT eventlog.produce('orders', NULL, key => 'c7');
-- one view a little ahead of the others
SELECT eventlog.refresh_view('app.n');
SELECT count(*) FROM generate_series(1, 10) g,
  LATERAL eventlog.produce('orders', jsonb_build_object('amount', g), key => 'late' || g);
});

my $lagging = $node->safe_psql('src',
	q{SELECT count(DISTINCT view_name) FROM eventlog.views WHERE lag > 0});
is($lagging, '7', 'every view is behind the log at dump time');

# what must come back: tables, definitions, positions
my $state_sql = q{
SELECT string_agg(format('%s|%s|%s|%s|%s|%s', view_name, kind, definition, "partition", "position", skipped),
                  E'\n' ORDER BY view_name, "partition") FROM eventlog.views};
my $tables_sql = q{
SELECT string_agg(t, E'\n' ORDER BY t) FROM (
  SELECT 'customer|' || key || '|' || value || '|' || "partition" || '|' || "offset" || '|' || ts AS t FROM app.customer
  UNION ALL SELECT 'n|' || key || '|' || value FROM app.n
  UNION ALL SELECT 'total|' || key || '|' || value FROM app.total
  UNION ALL SELECT 'lo|' || key || '|' || value FROM app.lo
  UNION ALL SELECT 'hi|' || key || '|' || value FROM app.hi
  UNION ALL SELECT 'mean|' || key || '|' || value || '|' || sum || '|' || count FROM app.mean
  UNION ALL SELECT 'folded|' || key || '|' || state FROM app.folded) s};
my $src_state = $node->safe_psql('src', $state_sql);
my $src_tables = $node->safe_psql('src', $tables_sql);

# every view against its recomputation from the topic relation
my $check_sql = q{
SELECT format('customer %s n %s total %s lo %s hi %s mean %s folded %s',
 (SELECT count(*) FROM ((TABLE app.customer EXCEPT TABLE x_customer) UNION ALL (TABLE x_customer EXCEPT TABLE app.customer)) d),
 (SELECT count(*) FROM ((TABLE app.n EXCEPT TABLE x_n) UNION ALL (TABLE x_n EXCEPT TABLE app.n)) d),
 (SELECT count(*) FROM ((TABLE app.total EXCEPT TABLE x_total) UNION ALL (TABLE x_total EXCEPT TABLE app.total)) d),
 (SELECT count(*) FROM ((TABLE app.lo EXCEPT TABLE x_lo) UNION ALL (TABLE x_lo EXCEPT TABLE app.lo)) d),
 (SELECT count(*) FROM ((TABLE app.hi EXCEPT TABLE x_hi) UNION ALL (TABLE x_hi EXCEPT TABLE app.hi)) d),
 (SELECT count(*) FROM ((SELECT key, value FROM app.mean EXCEPT TABLE x_mean) UNION ALL (TABLE x_mean EXCEPT SELECT key, value FROM app.mean)) d),
 (SELECT count(*) FROM ((TABLE app.folded EXCEPT TABLE x_folded) UNION ALL (TABLE x_folded EXCEPT TABLE app.folded)) d))};
my $expect_views = q{
CREATE TEMP VIEW x_customer AS SELECT key, value, "partition", "offset", ts FROM (
  SELECT DISTINCT ON (key) * FROM eventlog_topics.orders WHERE key IS NOT NULL ORDER BY key, "offset" DESC) l
 WHERE value IS NOT NULL;
CREATE TEMP VIEW x_n AS SELECT key, count(*) AS value FROM eventlog_topics.orders WHERE key IS NOT NULL GROUP BY key;
CREATE TEMP VIEW x_total AS SELECT key, sum((value->>'amount')::int) AS value FROM eventlog_topics.orders WHERE key IS NOT NULL GROUP BY key;
CREATE TEMP VIEW x_lo AS SELECT value->>'region' AS key, min((value->>'amount')::int) AS value FROM eventlog_topics.orders
 WHERE value->>'region' IS NOT NULL GROUP BY 1;
CREATE TEMP VIEW x_hi AS SELECT key, max((value->>'amount')::int) AS value FROM eventlog_topics.orders
 WHERE key IS NOT NULL AND (key <> 'c1') IS TRUE GROUP BY key;
CREATE TEMP VIEW x_mean AS SELECT key, avg((value->>'amount')::int) AS value FROM eventlog_topics.orders WHERE key IS NOT NULL GROUP BY key;
CREATE TEMP VIEW x_folded AS SELECT key, jsonb_build_object('n', count(*), 'sum', sum((value->>'amount')::int)) AS state
  FROM eventlog_topics.orders o
 WHERE key IS NOT NULL
   AND "offset" > coalesce((SELECT max(t."offset") FROM eventlog_topics.orders t
                             WHERE t.key = o.key AND t.value IS NULL), -1)
 GROUP BY key;
};
my $all_zero = 'customer 0 n 0 total 0 lo 0 hi 0 mean 0 folded 0';

sub run_cmd
{
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(\@_, '>', \$out, '2>', \$err);
	return ($ok, $err);
}

my $dir = PostgreSQL::Test::Utils::tempdir;
my ($ok, $err) = run_cmd('pg_dump', '-Fc', '-f', "$dir/src.dump", '-d', $node->connstr('src'));
ok($ok, 'pg_dump -Fc succeeds') or diag($err);
($ok, $err) = run_cmd('pg_dump', '-Fp', '-f', "$dir/src.sql", '-d', $node->connstr('src'));
ok($ok, 'pg_dump -Fp succeeds') or diag($err);

my $plain = slurp_file("$dir/src.sql");
like($plain, qr/CREATE TRIGGER eventlog_view_guard .* ON app\.total/,
	'the dump holds the guard trigger of a view table');

my @restored;
for my $how ('pg_restore', 'pg_restore -j 2', 'psql')
{
	my $db = 'dst' . scalar(@restored);
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	if ($how eq 'psql')
	{
		($ok, $err) = run_cmd('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', "$dir/src.sql",
			'-d', $node->connstr($db));
	}
	elsif ($how eq 'pg_restore')
	{
		($ok, $err) = run_cmd('pg_restore', '-d', $node->connstr($db), "$dir/src.dump");
	}
	else
	{
		($ok, $err) = run_cmd('pg_restore', '-j', '2', '-d', $node->connstr($db), "$dir/src.dump");
	}
	ok($ok, "$how restores the database") or diag($err);
	is($node->safe_psql($db, $state_sql), $src_state,
		"$how: definitions and positions restored");
	is($node->safe_psql($db, $tables_sql), $src_tables, "$how: view tables restored");
	my ($rc, $stdout, $stderr) = $node->psql($db, q{INSERT INTO app.n VALUES ('x', 1)});
	like($stderr, qr/cannot INSERT table "n" of an eventlog materialized view/,
		"$how: the restored table refuses writes");
	push @restored, $db;
}

# maintenance on again: the source and every copy catch up, each record once
$node->safe_psql('postgres', 'ALTER SYSTEM SET eventlog.maintenance = on');
$node->reload;
for my $db ('src', @restored)
{
	ok( $node->poll_query_until(
			$db, q{SELECT coalesce(sum(lag), 0) = 0 AND count(*) = 21 FROM eventlog.views}),
		"$db: the worker catches every view up");
	my $check = $node->safe_psql($db, $expect_views . $check_sql);
	is($check, $all_zero, "$db: every view equals its recomputation (nothing applied twice)");
}

# records produced after the restore are applied too
$node->safe_psql($restored[0],
	q{SELECT eventlog.produce('orders', '{"amount": 5}', key => 'after_restore')});
ok( $node->poll_query_until(
		$restored[0], q{SELECT count(*) = 1 FROM app.customer WHERE key = 'after_restore'}),
	'a record produced after the restore reaches the view');
is( $node->safe_psql($restored[0], 'SELECT eventlog.refresh_view(\'app.n\') >= 0'),
	't', 'refresh_view works on a restored view');
is($node->safe_psql($restored[0], $expect_views . $check_sql),
	$all_zero, 'the restored views stay equal to their recomputation');

# drop_topic detaches the views of a copy: tables stay, writable, no rows
# left in the catalog; the reducer's signature names the topic's row type
my $db = $restored[1];
my ($rc, $stdout, $stderr) = $node->psql($db, q{SELECT eventlog.drop_topic('orders')});
like($stderr, qr/cannot drop table eventlog_topics\.orders because other objects depend on it/,
	'drop_topic is refused while a reducer names the topic row type');
$node->safe_psql($db, q{SELECT eventlog.drop_view('app.folded'); DROP FUNCTION app.fold});
($rc, $stdout, $stderr) = $node->psql($db, q{SELECT eventlog.drop_topic('orders')});
is($rc, 0, 'drop_topic succeeds') or diag($stderr);
like($stderr, qr/materialized view app\.customer of topic "orders" is detached/,
	'drop_topic reports the detached views');
is($node->safe_psql($db, 'SELECT count(*) FROM eventlog.view_def'), '0', 'no view definitions left');
is($node->safe_psql($db, 'SELECT count(*) FROM eventlog.view_position'), '0', 'no positions left');
is($node->safe_psql($db, q{INSERT INTO app.n VALUES ('x', 1) RETURNING value}),
	'1', 'a detached table is an ordinary table');
ok($node->safe_psql($db, 'SELECT count(*) FROM app.customer') > 0, 'a detached table keeps its rows');

$node->stop;
done_testing();
