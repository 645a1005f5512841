# pg_eventlog: every path by which a role moves bytes is charged to its
# quota (issue 17, item 8).
#
# A role with a quota produces with produce(), INSERT and COPY FROM, reads
# with SELECT, COPY TO, fetch() and poll(), and owns a materialized view
# whose expression produces into another topic, applied by the maintenance
# worker: each path must raise the role's bytes_produced or bytes_fetched
# in eventlog.quotas by at least the bytes it moved (stored record bytes).
# Buckets are per (database, role), as the configuration: the role's
# traffic in a second database with another quota neither shows in nor
# changes the rates of the first database's bucket.  Buckets are freed when
# the quota is removed and when the role is dropped, and eventlog.quotas
# lists every bucket when they fill eventlog.max_quota_roles (it used to
# stop there with "leaked hash_seq_search scan").
#
# Rates are far above what the test moves, so nothing waits: only the
# accounting is checked, no timing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('quota_paths');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.max_quota_roles = 16
});
$node->start;

my $rate = 1_000_000_000;
for my $db ('postgres', 'other')
{
	$node->safe_psql('postgres', 'CREATE DATABASE other') if $db eq 'other';
	$node->safe_psql($db, q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('t', 1);
SELECT eventlog.create_topic('echo', 1);
});
}
$node->safe_psql('postgres', qq{
CREATE ROLE q LOGIN;
GRANT CREATE, USAGE ON SCHEMA public TO q;
GRANT CREATE ON SCHEMA eventlog_topics TO q;
GRANT SELECT, INSERT ON eventlog_topics.t, eventlog_topics.echo TO q;
SELECT eventlog.set_quota('q', $rate, $rate);
});
$node->safe_psql('other', qq{
GRANT SELECT, INSERT ON eventlog_topics.t TO q;
SELECT eventlog.set_quota('q', $rate + 1, $rate + 1);
});

# bytes_produced, bytes_fetched of role q in db
sub usage
{
	my ($db) = @_;
	my $r = $node->safe_psql($db, q{
SELECT coalesce(bytes_produced, 0) || ' ' || coalesce(bytes_fetched, 0)
  FROM eventlog.quotas WHERE role_name = 'q'});
	return split / /, ($r eq '' ? '0 0' : $r);
}

# run sql as q in db; the produced and fetched bytes it was charged
sub charged
{
	my ($db, $sql) = @_;
	my ($p0, $f0) = usage($db);
	$node->safe_psql($db, $sql, extra_params => [ '-U', 'q' ]);
	my ($p1, $f1) = usage($db);
	return ($p1 - $p0, $f1 - $f0);
}

my $v10k = q{jsonb_build_object('pad', repeat('a', 10000))};
my ($p, $f);

($p, $f) = charged('postgres', "SELECT eventlog.produce('t', $v10k, key => 'a')");
cmp_ok($p, '>=', 10000, "produce() is charged to produce ($p bytes)");

($p, $f) = charged('postgres',
	"INSERT INTO eventlog_topics.t (key, value) SELECT 'b' || g, $v10k FROM generate_series(1, 2) g");
cmp_ok($p, '>=', 20000, "INSERT is charged to produce ($p bytes)");

my $copy_rows = join('', map { "c$_\t{\"pad\": \"" . ('c' x 10000) . "\"}\n" } 1 .. 2);
($p, $f) = charged('postgres',
	"COPY eventlog_topics.t (key, value) FROM STDIN;\n$copy_rows\\.\n");
cmp_ok($p, '>=', 20000, "COPY FROM is charged to produce ($p bytes)");

# the topic now holds 5 records of ~10 kB
($p, $f) = charged('postgres', 'SELECT count(*) FROM eventlog_topics.t');
cmp_ok($f, '>=', 50000, "SELECT of the topic relation is charged to fetch ($f bytes)");

# a parallel scan reads in parallel workers: charged to the leader's role
my $par = q{SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;};
my $plan = $node->safe_psql('postgres', "$par EXPLAIN (COSTS OFF) SELECT count(*) FROM eventlog_topics.t");
diag("plan of the parallel scan:\n$plan");
($p, $f) = charged('postgres', "$par SELECT count(*) FROM eventlog_topics.t");
cmp_ok($f, '>=', 50000, "a parallel SELECT of the topic is charged to fetch ($f bytes)");

($p, $f) = charged('postgres', 'COPY eventlog_topics.t TO STDOUT');
cmp_ok($f, '>=', 50000, "COPY TO is charged to fetch ($f bytes)");

($p, $f) = charged('postgres', "SELECT count(*) FROM eventlog.fetch('t', 0, 0, 100)");
cmp_ok($f, '>=', 50000, "fetch() is charged to fetch ($f bytes)");

($p, $f) = charged('postgres', "SELECT count(*) FROM eventlog.poll('g', 't', 100)");
cmp_ok($f, '>=', 50000, "poll() is charged to fetch ($f bytes)");

# a view of q's whose expression produces 20 kB per record into echo; the
# maintenance worker applies a record that a superuser produced
$node->safe_psql('postgres', q{
CREATE FUNCTION public.echo(v jsonb) RETURNS int LANGUAGE sql
AS $$ SELECT count(*)::int FROM eventlog.produce('echo', jsonb_build_object('pad', repeat('e', 20000), 'v', v)) $$;
}, extra_params => [ '-U', 'q' ]);
$node->safe_psql('postgres',
	q{SELECT eventlog.create_view('echoes', 't', 'sum', expr => 'public.echo(value)')},
	extra_params => [ '-U', 'q' ]);
my ($p0, $f0) = usage('postgres');
$node->safe_psql('postgres', q{SELECT eventlog.produce('t', '{"n": 1}', key => 'w')});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 6 FROM eventlog.fetch('echo', 0, 0, 100)})
  or die 'the worker did not apply the view';
my ($p1, $f1) = usage('postgres');
cmp_ok($p1 - $p0, '>=', 20000,
	'what a view\'s expression produces in the worker is charged to the view\'s owner ('
	  . ($p1 - $p0) . ' bytes)');
cmp_ok($f1 - $f0, '>', 0,
	'the records the worker reads for the view are charged to its owner\'s fetch ('
	  . ($f1 - $f0) . ' bytes)');

# the worker never sleeps for a quota: it puts off a view whose owner is in
# debt.  Under 1,000 B/s of produce, one more 20 kB echo puts q ~19 s in
# debt (quota_max_delay 60 s): a record produced then waits; once the
# quota is raised again it is applied.  (Only "not within 3 s" is checked,
# which a slow machine cannot fail.)
$node->append_conf('postgresql.conf', 'eventlog.quota_max_delay = 60s');
$node->reload;
$node->safe_psql('postgres', qq{SELECT eventlog.set_quota('q', 1000, $rate)});
$node->safe_psql('postgres', q{SELECT eventlog.produce('t', '{"n": 2}', key => 'w')});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 7 FROM eventlog.fetch('echo', 0, 0, 100)})
  or die 'the worker did not apply the view';
$node->safe_psql('postgres', q{SELECT eventlog.produce('t', '{"n": 3}', key => 'w')});
sleep(3);
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog.fetch('echo', 0, 0, 100)}),
	'7', 'the worker puts off a view whose owner is over its produce quota');
$node->safe_psql('postgres', qq{SELECT eventlog.set_quota('q', $rate, $rate)});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 8 FROM eventlog.fetch('echo', 0, 0, 100)}),
	'... and applies it once the owner may produce again');
$node->append_conf('postgresql.conf', 'eventlog.quota_max_delay = 5s');
$node->reload;

# --- two databases: one bucket each, with each database's rates -----------
($p, $f) = charged('other', "SELECT eventlog.produce('t', $v10k, key => 'x')");
cmp_ok($p, '>=', 10000, "in another database, produce() is charged there ($p bytes)");
my ($pa, $fa) = usage('postgres');
$node->safe_psql('other', "SELECT count(*) FROM eventlog.fetch('t', 0, 0, 100)",
	extra_params => [ '-U', 'q' ]);
my ($pb, $fb) = usage('postgres');
is("$pb $fb", "$pa $fa", 'bytes moved in the other database are not charged in the first');
is( $node->safe_psql('postgres',
		q{SELECT produce_bytes_per_sec FROM eventlog.quota_usage() WHERE role_oid = 'q'::regrole::oid}),
	$rate, 'the first database\'s bucket keeps its own rate');
is( $node->safe_psql('other',
		q{SELECT produce_bytes_per_sec FROM eventlog.quota_usage() WHERE role_oid = 'q'::regrole::oid}),
	$rate + 1, 'the other database\'s bucket has the other rate');

# --- buckets are freed ------------------------------------------------------
$node->safe_psql('other', q{SELECT eventlog.set_quota('q', NULL, NULL)});
is($node->safe_psql('other', q{SELECT count(*) FROM eventlog.quota_usage() WHERE role_oid = 'q'::regrole::oid}),
	'0', 'removing the quota frees the bucket');
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog.quota_usage() WHERE role_oid = 'q'::regrole::oid}),
	'1', 'the bucket of the other database stays');

# more roles under the default quota than eventlog.max_quota_roles (16, its minimum)
$node->safe_psql('postgres', qq{SELECT eventlog.set_default_quota($rate, $rate)});
for my $i (1 .. 20)
{
	$node->safe_psql('postgres', qq{
CREATE ROLE r$i LOGIN;
GRANT INSERT ON eventlog_topics.t TO r$i;
});
	$node->psql('postgres', "SELECT eventlog.produce('t', '{\"r\": $i}', key => 'r$i')",
		extra_params => [ '-U', "r$i" ]);
}
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT count(*) FROM eventlog.quotas WHERE role_name IS NOT NULL});
is($out, '16', 'eventlog.quotas lists every bucket of a full hash (16)');
unlike($err, qr/leaked hash_seq_search scan/, '... without leaking its scan');

$node->safe_psql('postgres', q{
REVOKE ALL ON eventlog_topics.t FROM r1, r2;
DROP ROLE r1;
DROP ROLE r2;
});
$node->safe_psql('postgres', "SELECT eventlog.produce('t', '{\"r\": 20}', key => 'r20')",
	extra_params => [ '-U', 'r20' ]);
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog.quotas WHERE role_name = 'r20' AND bytes_produced > 0}),
	'1', 'dropped roles free their buckets for other roles');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog.quota_usage() u WHERE NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = u.role_oid)}),
	'0', 'no bucket of a dropped role is left');

$node->stop;
done_testing();
