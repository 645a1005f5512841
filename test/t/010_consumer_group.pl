# pg_eventlog: a consumer group under churn (design.md section 2 "Consumer
# groups", promises 2 and 4).
#
# Producers (pgbench, 2 clients) append to a 6-partition topic with the
# producer snippet the other tests share (EventlogTest.pm: produce() or
# INSERT ... RETURNING); each transaction records the ids it produced, with
# the partition and offset it got, in a heap table, and a fifth of them
# roll back.
# Consumers are pgbench clients of one group, each transaction being
#   BEGIN; INSERT INTO results SELECT ... FROM eventlog.poll(...); COMMIT;
# Four consumers start; some of their backends are killed with
# pg_terminate_backend (their open transaction rolls back, their session
# member leaves at once, their partitions move) and two more consumers join
# later.  After the load, and a last producer transaction that rolls back
# in every partition, the group is drained until its lag is 0.  Then:
#  - results holds every committed record exactly once: no duplicate
#    (partition, offset), and the same set as the producers' committed ids;
#  - within a partition, consumer transactions took consecutive, disjoint
#    offset ranges in their commit order, and each one read in offset order;
#  - while the load ran, no partition ever had two owners;
#  - consumers failed only because they were terminated (no deadlock, no
#    lock timeout, no other error).
# results has no unique constraint on purpose: a duplicate delivery must be
# counted, not turned into an error that rolls the duplicate back.
use strict;
use warnings;

use IPC::Run;
use Time::HiRes qw(usleep time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $node = PostgreSQL::Test::Cluster->new('group');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
max_connections = 40
# commit order of consumer transactions, for the per-partition order check
track_commit_timestamp = on
# a consumer must never wait for another one: make such a wait an error
# that the checks below see, instead of a slow test
lock_timeout = '5s'
});
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('t', partitions => 6);
CREATE SEQUENCE ids;
CREATE TABLE committed_ids (id bigint PRIMARY KEY, partition int NOT NULL,
                            "offset" bigint NOT NULL);
CREATE TABLE results (seq bigserial, partition int NOT NULL,
                      "offset" bigint NOT NULL, id bigint,
                      pid int NOT NULL DEFAULT pg_backend_pid());
});

my $producer = $node->basedir . '/producer.sql';
append_to_file(
	$producer, q{
\set n random(1, 5)
\set how random(1, 3)
\set fate random(1, 100)
BEGIN;
} . produce_and_record_sql('t', 17) . q{
-- some transactions stay open a moment: consumers must stop before them
\if :fate <= 5
SELECT pg_sleep(0.02);
\endif
\if :fate <= 20
ROLLBACK;
\else
COMMIT;
\endif
});

my $consumer = $node->basedir . '/consumer.sql';
append_to_file(
	$consumer, q{
BEGIN;
INSERT INTO results (partition, "offset", id)
SELECT partition, "offset", (value->>'id')::bigint
  FROM eventlog.poll('grp', 't', 50, wait => '200 ms');
COMMIT;
});

# Background pgbench; application_name tells the consumer backends apart.
my @runs;

sub start_pgbench
{
	my ($appname, $script, $clients, $seconds, @extra) = @_;
	my %run = (name => $appname, out => '', err => '');
	local $ENV{PGAPPNAME} = $appname;
	$run{h} = IPC::Run::start(
		[
			'pgbench', '-n', '-c', $clients, '-j', $clients,
			'-T', $seconds, @extra, '-f', $script,
			'-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$run{out}, '2>', \$run{err});
	push @runs, \%run;
	return \%run;
}

# Terminate $n backends of the given pgbench run, preferring ones inside a
# transaction.  Returns how many were terminated.
sub terminate
{
	my ($appname, $n) = @_;
	return $node->safe_psql(
		'postgres', qq{
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
  FROM (SELECT pid FROM pg_stat_activity
         WHERE application_name = '$appname'
         ORDER BY state = 'active' DESC, xact_start IS NULL, random()
         LIMIT $n) s});
}

# Sample the group's assignment: "members|assigned|distinct partitions".
my ($samples, $max_members, $overlaps) = (0, 0, 0);

sub sample_assignment
{
	my $r = $node->safe_psql(
		'postgres', q{
SELECT count(DISTINCT member), count(p), count(DISTINCT p)
  FROM eventlog.group_members() LEFT JOIN LATERAL unnest(partitions) p ON true
 WHERE group_id = 'grp' AND topic = 't'});
	my ($m, $assigned, $distinct) = split /\|/, $r;
	$samples++;
	$max_members = $m if $m > $max_members;
	$overlaps++ if $assigned != $distinct;
	return;
}

# Let the load run for $seconds (the schedule below), sampling the
# assignment every 100 ms meanwhile: a sampling period, not a wait for
# anything to happen.
sub run_for
{
	my ($seconds) = @_;
	my $end = time() + $seconds;
	while (time() < $end)
	{
		sample_assignment();
		usleep(100_000);
	}
	return;
}

my $t0 = time();
my $prod = start_pgbench('producers', $producer, 2, 12);
my $c1 = start_pgbench('consumers1', $consumer, 4, 10);
run_for(2);
my $killed = terminate('consumers1', 1);
run_for(1.5);
my $c2 = start_pgbench('consumers2', $consumer, 2, 8);
run_for(2);
$killed += terminate('consumers1', 1);
run_for(1);
$killed += terminate('consumers2', 1);
run_for(1);
my $c3 = start_pgbench('consumers3', $consumer, 2, 3);
run_for(1);
$killed += terminate('consumers1', 1);
$_->{h}->finish for @runs;
note sprintf('load done after %.1f s', time() - $t0);

# The last transaction of every partition rolls back: the group must still
# drain to lag 0 (its position moves past aborted records).
$node->safe_psql(
	'postgres', q{
BEGIN;
SELECT count(*) FROM generate_series(0, 5) p,
       LATERAL eventlog.produce('t', '{"aborted": true}', partition => p);
ROLLBACK;});

cmp_ok($killed, '>=', 3, "consumer backends terminated during the run ($killed)");
cmp_ok($max_members, '>=', 4, "up to $max_members members in the group at once");
is($overlaps, 0, "no partition had two owners in $samples samples of the assignment");

for my $run (@runs)
{
	like($run->{out}, qr/number of transactions actually processed: [1-9]/,
		"$run->{name}: transactions were processed");
	# pgbench reports each aborted client on stderr; killed consumers are
	# the only acceptable reason
	my @errors = grep { /ERROR:/ } split /\n/, $run->{err};
	note "$run->{name} stderr: $run->{err}" if $run->{err} ne '';
	is(scalar(@errors), 0, "$run->{name}: no SQL error")
	  or diag(join("\n", @errors[ 0 .. ($#errors < 9 ? $#errors : 9) ]));
}

# Drain: poll (one session member per call, each a new backend) until the
# group has caught up with the log end of every partition, for at most
# timeout_default seconds.
my $lag_sql = q{SELECT coalesce(sum(lag), -1) FROM eventlog.consumer_lag
                 WHERE group_id = 'grp' AND topic = 't'};
my ($lag, $best, $stalled) = (undef, undef, 0);
my $drain_until = time() + $PostgreSQL::Test::Utils::timeout_default;
while (time() < $drain_until)
{
	$lag = $node->safe_psql('postgres', $lag_sql);
	last if $lag eq '0';
	# give up once polls stop making progress
	if (defined $best && $lag >= $best)
	{
		last if ++$stalled >= 10;
	}
	else
	{
		($best, $stalled) = ($lag, 0);
	}
	$node->safe_psql(
		'postgres', q{
BEGIN;
INSERT INTO results (partition, "offset", id)
SELECT partition, "offset", (value->>'id')::bigint
  FROM eventlog.poll('grp', 't', 1000, wait => '100 ms');
COMMIT;});
}
is($lag, '0', 'the group drained: lag 0 on every partition');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM eventlog.consumer_lag
 WHERE group_id = 'grp' AND committed_offset IS DISTINCT FROM log_end_offset}),
	'0',
	'committed offsets equal the log end offsets');

my ($committed, $rolled_back) = split /\|/,
  $node->safe_psql('postgres',
	q{SELECT count(*), (SELECT last_value FROM ids) - count(*) FROM committed_ids});
cmp_ok($committed, '>', 500, "producers committed $committed records");
cmp_ok($rolled_back, '>', 0, "and rolled back $rolled_back");

# exactly once
my ($rows, $distinct) = split /\|/,
  $node->safe_psql('postgres',
	q{SELECT count(*), count(DISTINCT (partition, "offset")) FROM results});
is($rows, $distinct, "no record was delivered twice ($rows rows)");
is($node->safe_psql('postgres', 'SELECT count(*) FROM results WHERE id IS NULL'),
	'0', 'every delivered record carries an id');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (SELECT partition, "offset", id FROM committed_ids
                      EXCEPT SELECT partition, "offset", id FROM results) x}),
	'0',
	'every committed record was delivered');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (SELECT partition, "offset", id FROM results
                      EXCEPT SELECT partition, "offset", id FROM committed_ids) x}),
	'0',
	'nothing but committed records was delivered');
is($rows, $committed, 'as many deliveries as committed records');

# order: per partition, the offset ranges of consumer transactions, taken in
# commit order, are disjoint and increasing; inside one transaction the
# offsets come in increasing order
is( $node->safe_psql(
		'postgres', q{
WITH b AS (
  SELECT partition, xmin::text::bigint AS x, pg_xact_commit_timestamp(xmin) AS cts,
         min("offset") AS lo, max("offset") AS hi
    FROM results GROUP BY partition, xmin::text::bigint, pg_xact_commit_timestamp(xmin))
SELECT count(*) FROM (
  SELECT lo, lag(hi) OVER (PARTITION BY partition ORDER BY cts, lo) AS prev_hi FROM b) s
 WHERE lo <= prev_hi}),
	'0',
	'per partition, consumer transactions read increasing offset ranges in commit order'
);
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
  SELECT "offset", lag("offset") OVER (PARTITION BY partition, xmin::text ORDER BY seq) AS prev
    FROM results) s
 WHERE "offset" <= prev}),
	'0',
	'inside a consumer transaction, each partition is read in offset order');
cmp_ok(
	$node->safe_psql('postgres', 'SELECT count(DISTINCT pid) FROM results'),
	'>=', 6, 'records were consumed by many backends');

$node->stop;
note sprintf('total %.1f s', time() - $t0);
done_testing();
