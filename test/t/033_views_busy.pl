# Copyright (c) pg_eventlog authors
#
# A view that another session keeps busy must not make the maintenance
# worker spin.  Any role that may read a view's table may call
# refresh_view() and leave its transaction open: the worker, finding the
# view locked, used to look again every 20 ms for as long as it was held
# (hundreds of transactions a second).  It now backs off to once a second,
# and still catches the view up once the holder is gone.
#
# A view whose owner's expression never returns (pg_sleep) must not stall
# the other views of its database: the worker cancels the turn after
# eventlog.view_turn_timeout, records the error, backs the view off and
# goes on with the others.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $node = PostgreSQL::Test::Cluster->new('vwbusy');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_eventlog'
max_prepared_transactions = 0
eventlog.maintenance = on
eventlog.maintenance_interval = '2s'
autovacuum = off
});
$node->start;

# a database of its own: its transaction counters are the worker's and ours
$node->safe_psql('postgres', 'CREATE DATABASE vb');
$node->safe_psql(
	'vb', q{
CREATE EXTENSION pg_eventlog;
CREATE ROLE reader LOGIN;
SELECT eventlog.create_topic('t', 2);
SELECT eventlog.create_view('public.v', 't', 'count');
GRANT SELECT ON public.v TO reader;
});

my $lag_sql = q{SELECT coalesce(sum(lag), -1) FROM eventlog.views WHERE table_name = 'v'};
$node->safe_psql('vb', q{SELECT eventlog.produce('t', '{}', 'k' || g) FROM generate_series(1, 10) g});
ok(wait_until(sub { $node->safe_psql('vb', $lag_sql) eq '0' }),
	'the worker applies the records');

# reader holds the view with an open refresh
my $holder = $node->background_psql('vb', on_error_stop => 1);
$holder->query_safe(q{SET ROLE reader});
$holder->query_safe(q{BEGIN; SELECT eventlog.refresh_view('public.v')});

# one commit wakes the worker, which finds the view busy
$node->safe_psql('vb', q{SELECT eventlog.produce('t', '{}', 'k1')});
sleep(1);
my $xact_sql = q{SELECT pg_stat_force_next_flush(), xact_commit + xact_rollback
                   FROM pg_stat_database WHERE datname = current_database()};
my (undef, $before) = split /\|/, $node->safe_psql('vb', $xact_sql);
sleep(5);
my (undef, $after) = split /\|/, $node->safe_psql('vb', $xact_sql);
my $xacts = $after - $before;
note("transactions in the database in 5 s while the view was held: $xacts");
# at most one pass a second (two transactions: the listing and the view's
# turn), the 2 s ticks and our own queries; polling every 20 ms made
# about 500
cmp_ok($xacts, '<', 100, 'the worker backs off from a view another session holds');
is($node->safe_psql('vb', $lag_sql), '1', 'the held view lags');

# released: the worker catches the view up by itself
$holder->query_safe('ROLLBACK');
$holder->quit;
ok(wait_until(sub { $node->safe_psql('vb', $lag_sql) eq '0' }),
	'once released, the worker catches the view up');
$node->safe_psql('vb', q{SELECT eventlog.produce('t', '{}', 'k2')});
ok(wait_until(sub { $node->safe_psql('vb', $lag_sql) eq '0' }),
	'a later commit is applied at once again');
is($node->safe_psql('vb', q{SELECT sum(value) FROM public.v}), '12', 'every record counted once');

# a sleeping view next to a normal one on another topic
$node->safe_psql('vb', q{
ALTER SYSTEM SET eventlog.view_turn_timeout = '3s';
SELECT pg_reload_conf();
SELECT eventlog.create_topic('slow_t', 1);
SELECT eventlog.create_view('public.slow', 'slow_t', 'count',
                            expr => '(SELECT 1 FROM pg_sleep(3600))');
SELECT eventlog.create_view('public.fast', 't', 'count');
});
$node->safe_psql('vb', q{SELECT eventlog.produce('slow_t', '{}', 's1')});
# the worker is inside the sleeping view's turn; then the other view's topic gets a record
ok( $node->poll_query_until('vb', q{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE backend_type = 'pg_eventlog maintenance' AND wait_event = 'PgSleep'}),
	'the worker runs the sleeping expression');
$node->safe_psql('vb', q{SELECT eventlog.produce('t', '{}', 'k3')});
ok( wait_until(sub {
			$node->safe_psql('vb', q{SELECT coalesce(sum(lag), -1) FROM eventlog.views WHERE table_name = 'fast'}) eq '0';
		}),
	'a view whose expression sleeps does not stall the other views');
ok( wait_until(sub {
			$node->safe_psql('vb',
				q{SELECT bool_or(last_error LIKE '%statement timeout%') FROM eventlog.views WHERE table_name = 'slow'}) eq 't';
		}),
	'the sleeping view\'s turn is cancelled after eventlog.view_turn_timeout and recorded as its error');
is($node->safe_psql('vb', q{SELECT count(*) FROM public.slow}), '0', 'nothing of the cancelled turn was applied');

$node->stop;
done_testing();
