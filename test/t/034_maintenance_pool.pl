# Copyright (c) pg_eventlog authors
#
# Maintenance of more databases than the pool has workers (issue 16).  The
# server has max_worker_processes = 7 and eventlog.max_maintenance_workers
# = 2; seven databases each have a topic under a 2-second retention that
# rolls every second.  Every database's log start must advance (within a
# bound far above a turn of the pool, but that one worker per database
# never reached: with one worker per database the databases beyond the
# slots never rolled), while a logical replication subscription between
# two other databases of the same server starts, syncs its table and
# streams: the maintenance must leave it the slots it needs.
# eventlog.maintenance_status lists every database's last segment pass.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $ndbs = 7;

my $node = PostgreSQL::Test::Cluster->new('pool');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_eventlog'
max_prepared_transactions = 0
max_worker_processes = 7
eventlog.max_maintenance_workers = 2
eventlog.maintenance_interval = '500ms'
autovacuum = off
});
$node->start;

for my $i (1 .. $ndbs)
{
	$node->safe_psql('postgres', "CREATE DATABASE m$i");
	$node->safe_psql("m$i", q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('t', 1, retention => '2s', segment_interval => '1s');
SELECT eventlog.produce('t', jsonb_build_object('n', g)) FROM generate_series(1, 5) g;
});
}

# a subscription between two databases of this server (the slot made
# beforehand, as CREATE SUBSCRIPTION cannot make one on its own server)
my $connstr = 'port=' . $node->port . ' host=' . $node->host . ' dbname=lrpub';
$node->safe_psql('postgres', 'CREATE DATABASE lrpub');
$node->safe_psql('postgres', 'CREATE DATABASE lrsub');
$node->safe_psql('lrpub', q{
CREATE TABLE items (id int PRIMARY KEY, v text);
INSERT INTO items SELECT g, 'before' FROM generate_series(1, 100) g;
CREATE PUBLICATION p FOR TABLE items;
SELECT pg_create_logical_replication_slot('s', 'pgoutput');
});
$node->safe_psql('lrsub', q{CREATE TABLE items (id int PRIMARY KEY, v text)});
$node->safe_psql('lrsub',
	"CREATE SUBSCRIPTION s CONNECTION '$connstr' PUBLICATION p WITH (create_slot = false, slot_name = 's')");

# every database's log start advances
my $start = time;
my %advanced;
while (keys %advanced < $ndbs && time - $start < 60)
{
	for my $i (1 .. $ndbs)
	{
		next if $advanced{$i};
		$advanced{$i} = time - $start
		  if $node->safe_psql("m$i",
			q{SELECT log_start_offset > 0 FROM eventlog.partitions WHERE topic = 't'}) eq 't';
	}
	usleep(200_000);
}
note(sprintf("database m%d: log start advanced after %.1f s", $_, $advanced{$_} // -1)) for 1 .. $ndbs;
is(scalar(keys %advanced), $ndbs, "the log start of all $ndbs databases advanced within 60 s");

# the subscription synced and streams meanwhile
ok($node->poll_query_until('lrsub', q{SELECT count(*) = 100 FROM items}),
	'the subscription\'s table sync copied the table');
$node->safe_psql('lrpub', q{INSERT INTO items SELECT g, 'after' FROM generate_series(101, 200) g});
ok($node->poll_query_until('lrsub', q{SELECT count(*) = 200 FROM items}),
	'the subscription streams');
my $log = slurp_file($node->logfile);
unlike($log, qr/out of background worker slots/, 'logical replication found its worker slots');

# the status view knows every database's segment passes
is( $node->safe_psql('m1', q{
SELECT count(DISTINCT database) FROM eventlog.maintenance_status
 WHERE kind = 'segments' AND last_started IS NOT NULL AND database LIKE 'm_'}),
	$ndbs, 'eventlog.maintenance_status shows a segment pass of every database');
cmp_ok( $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_eventlog maintenance'}),
	'<=', 2, 'no more maintenance workers than eventlog.max_maintenance_workers');

# retention keeps going in each: more records, and the log start moves on
my %end;
for my $i (1 .. $ndbs)
{
	$end{$i} = $node->safe_psql("m$i", q{
SELECT max(p."offset") + 1 FROM generate_series(1, 3) g, LATERAL eventlog.produce('t', '{}') p});
}
for my $i (1 .. $ndbs)
{
	ok( $node->poll_query_until("m$i",
			"SELECT log_start_offset >= $end{$i} FROM eventlog.partitions WHERE topic = 't'"),
		"database m$i: retention goes on");
}

$node->stop;
done_testing();
