# pg_eventlog: background work is never throttled by quotas (issue 12).
#
# A logical replication subscription applies records into a topic of
# another database of the same server.  Its apply (and table sync)
# workers run as the subscription's owner, the bootstrap superuser, whose
# own quota in the subscriber database allows 1,000 bytes/s of produce:
# a client backend of that role would need minutes for the ~200 kB
# applied here (it would wait before every record).  Background workers
# are exempt (quota.c, throttle_applies), so the records arrive at once
# and the role's quota bucket records neither bytes nor throttle time.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('background');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_level = logical
});
$node->start;

$node->safe_psql('postgres', q{
CREATE DATABASE pub;
CREATE DATABASE sub;
});
for my $db ('pub', 'sub')
{
	$node->safe_psql($db, q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('mirror', partitions => 2);
});
}
# the subscription's owner: a quota of its own applies to a superuser
$node->safe_psql('sub', q{SELECT eventlog.set_quota(current_user, 1000, 1000)});
$node->safe_psql('pub', q{
CREATE PUBLICATION pm FOR TABLE eventlog_topics.mirror;
SELECT pg_create_logical_replication_slot('sm', 'pgoutput');
});
(my $connstr = $node->connstr('pub')) =~ s/'/''/g;
$node->safe_psql('sub', qq{
CREATE SUBSCRIPTION sm CONNECTION '$connstr' PUBLICATION pm
  WITH (create_slot = false, slot_name = 'sm')});
$node->poll_query_until('sub',
	q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
  or die 'initial sync did not finish';

my $start = time;
for my $batch (1 .. 10)
{
	$node->safe_psql('pub', qq{
INSERT INTO eventlog_topics.mirror (key, value)
SELECT 'k$batch-' || g, jsonb_build_object('pad', repeat('x', 1000)) FROM generate_series(1, 20) g});
}
# at most 60 s (a throttled apply worker would need about 200 s)
my $arrived = 0;
while (time - $start < 60)
{
	# counted from the stable offsets, not by reading the records: a SELECT
	# of the topic would be charged to this role's own fetch quota
	$arrived = $node->safe_psql('sub',
		q{SELECT coalesce(sum(stable_offset), 0) FROM eventlog.partitions WHERE topic = 'mirror'});
	last if $arrived >= 200;
	sleep(0.2);
}
my $elapsed = time - $start;
is($arrived, 200, 'all records applied');

is($node->safe_psql('sub', q{
SELECT sum(bytes_produced) > 200000 FROM eventlog.stats WHERE topic = 'mirror'}),
	't', 'the apply worker produced about 200 kB into the topic');
cmp_ok($elapsed, '<', 60,
	'applied at once, not at the role\'s quota of 1,000 B/s (about 200 s)');
is($node->safe_psql('sub', q{
SELECT coalesce(bytes_produced, 0) || ' ' || throttled_ms FROM eventlog.quotas
 WHERE role_name = current_user}),
	'0 0', 'the apply worker was not charged and never throttled');
note sprintf('200 records applied in %.1f s', $elapsed);

# the same role in a client backend is throttled (the quota is real)
$start = time;
$node->safe_psql('sub', q{
SELECT count(*) FROM eventlog.produce('mirror', jsonb_build_object('pad', repeat('y', 3000)));
SELECT count(*) FROM eventlog.produce('mirror', jsonb_build_object('pad', repeat('y', 3000)));});
cmp_ok(time - $start, '>', 1.5, 'a client backend of the role waits for its quota');
cmp_ok($node->safe_psql('sub', q{
SELECT throttled_ms FROM eventlog.quotas WHERE role_name = current_user}),
	'>', 1000, 'and its throttle time is counted');

$node->safe_psql('sub', q{DROP SUBSCRIPTION sm});
$node->stop;
done_testing();
