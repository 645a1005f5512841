# pg_eventlog: consumer-group state across a restart and a crash (issue:
# "group state survives restart").  Committed offsets are rows of
# eventlog.group_offset, so they are as durable as any table; membership
# is soft state and is rebuilt as members poll again.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('grestart');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_eventlog'");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('t', partitions => 3);
INSERT INTO eventlog_topics.t (key, value)
SELECT 'k' || g, jsonb_build_object('g', g) FROM generate_series(1, 300) g;
SELECT eventlog.configure_group('g', 't', session_timeout => '20 min');
});

# consume 100 records as a static member, in a committed transaction
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM eventlog.poll('g', 't', 100, member => 'worker-1')}),
	'100',
	'first poll returns 100 records');
my $committed_before = $node->safe_psql('postgres',
	q{SELECT string_agg(partition || ':' || committed_offset, ',' ORDER BY partition)
	    FROM eventlog.group_offset WHERE group_id = 'g'});
my $members_before = $node->safe_psql('postgres',
	q{SELECT count(*) FROM eventlog.group_members() WHERE group_id = 'g'});
is($members_before, '1', 'one member before the restart');

# a poll in a transaction that is still open when the server goes down
my $open = $node->background_psql('postgres');
$open->query_safe(q{BEGIN});
$open->query_safe(q{SELECT count(*) FROM eventlog.poll('g', 't', 50, member => 'worker-1')});

$node->stop('immediate');
$open->quit;
$node->start;

is( $node->safe_psql('postgres',
		q{SELECT string_agg(partition || ':' || committed_offset, ',' ORDER BY partition)
		    FROM eventlog.group_offset WHERE group_id = 'g'}),
	$committed_before,
	'committed offsets survive the crash; the open poll did not move them');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog.group_members() WHERE group_id = 'g'}),
	'0', 'membership is rebuilt from nothing after the restart');
is( $node->safe_psql('postgres',
		q{SELECT session_timeout FROM eventlog.consumer_groups WHERE group_id = 'g'}),
	'00:20:00', 'group settings survive');

# the member comes back and continues exactly after what was committed
my $rest = $node->safe_psql(
	'postgres', q{
CREATE TABLE got AS
SELECT partition, "offset" FROM eventlog.poll('g', 't', 1000, member => 'worker-1');
SELECT count(*) FROM got;
});
is($rest, '200', 'the rest of the records after the restart, none twice');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM got g JOIN eventlog.group_offset o
    ON o.group_id = 'g' AND o.partition = g.partition
 WHERE g."offset" >= o.committed_offset}),
	'0', 'every record delivered after the restart is now committed');
is($node->safe_psql('postgres',
		q{SELECT sum(lag) FROM eventlog.consumer_lag WHERE group_id = 'g'}),
	'0', 'lag is 0');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog.group_members() WHERE group_id = 'g'}),
	'1', 'the member is back');

# a clean restart, too
$node->restart;
is($node->safe_psql('postgres',
		q{SELECT sum(lag) FROM eventlog.consumer_lag WHERE group_id = 'g'}),
	'0', 'lag still 0 after a clean restart');
$node->safe_psql('postgres', q{SELECT eventlog.produce('t', '{"after": "restart"}', key => 'k1')});
is( $node->safe_psql('postgres',
		q{SELECT value->>'after' FROM eventlog.poll('g', 't', member => 'worker-1')}),
	'restart', 'a record produced after the restart is delivered');

$node->stop;
done_testing();
