
# pg_eventlog: parallel pg_restore of many topics at once.
#
# Eight topics (2 partitions each, some with trailing aborted records) and
# a consumer group per topic are dumped and restored with pg_restore -j 8
# twice.  Parallel jobs load the topics' data, their segment tables and the
# group tables in an order that varies; every topic must come back
# registered, with the same records at the same offsets, log ends not
# behind the original, all its segment tables registered, and its group
# where it was, with its owner and the roles it was granted to.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $ntopics = 8;
my $node = PostgreSQL::Test::Cluster->new('par');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
max_connections = 40
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION pg_eventlog');
# roles are the cluster's: the restored groups' owners and grants name them
$node->safe_psql('postgres', q{
CREATE ROLE regress_owner; CREATE ROLE regress_user; CREATE ROLE regress_other;});
for my $t (1 .. $ntopics)
{
	$node->safe_psql(
		'src', qq{
SELECT eventlog.create_topic('t$t', partitions => 2);
INSERT INTO eventlog_topics.t$t (key, value)
SELECT 'k' || (g % 50), jsonb_build_object('t', $t, 'g', g)
  FROM generate_series(1, 500 * $t) g;
SELECT eventlog.seek('g$t', 't$t', 0, 100 + $t);
GRANT SELECT ON eventlog_topics.t$t TO regress_owner, regress_user, regress_other;
SET ROLE regress_owner;
SELECT eventlog.seek('owned$t', 't$t', 1, $t);
SELECT eventlog.grant_group('owned$t', 't$t', 'regress_user');
RESET ROLE;
});
	# odd topics end partition 1 with an aborted record
	$node->safe_psql('src', qq{
BEGIN;
SELECT eventlog.produce('t$t', '{"aborted": true}', partition => 1);
ROLLBACK;
}) if $t % 2;
}

my $state_sql = q{
SELECT string_agg(format('%s/%s: %s..%s', topic, partition, log_start_offset, log_end_offset),
                  ', ' ORDER BY topic, partition)
  FROM eventlog.partitions};
my $groups_sql = q{
SELECT string_agg(format('%s %s/%s=%s', group_id, topic, partition, committed_offset),
                  ', ' ORDER BY group_id, topic, partition)
  FROM eventlog.group_offset};
my $rights_sql = q{
SELECT string_agg(format('%s %s %s %s', group_id, topic, owner, acl), ', ' ORDER BY group_id, topic)
  FROM eventlog.consumer_group};
my %digest_sql = map {
	$_ => qq{SELECT count(*), md5(string_agg(format('%s|%s|%s|%s', partition, "offset", key, value),
                                          ',' ORDER BY partition, "offset"))
               FROM eventlog_topics.t$_}
} 1 .. $ntopics;

my $orig_state = $node->safe_psql('src', $state_sql);
my $orig_groups = $node->safe_psql('src', $groups_sql);
my $orig_rights = $node->safe_psql('src', $rights_sql);
like($orig_rights, qr/owned1 t1 regress_owner \{regress_user=U\/regress_owner\}/,
	'groups have owners and grants');
my %orig_digest = map { $_ => $node->safe_psql('src', $digest_sql{$_}) } 1 .. $ntopics;

my $dump = PostgreSQL::Test::Utils::tempdir() . '/src.dump';
my ($out, $err) = ('', '');
ok(IPC::Run::run(['pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src')], '>', \$out, '2>', \$err),
	'pg_dump -Fc succeeds') or diag($err);

for my $run (1 .. 2)
{
	my $db = "dst$run";
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	($out, $err) = ('', '');
	my $ok = IPC::Run::run(['pg_restore', '-j', '8', '-d', $node->connstr($db), $dump],
		'>', \$out, '2>', \$err);
	ok($ok, "run $run: pg_restore -j 8 succeeds") or diag($err);
	next unless $ok;

	is($node->safe_psql($db, 'SELECT count(*) FROM eventlog.topics'),
		$ntopics, "run $run: all $ntopics topics are registered");
	is($node->safe_psql($db, $state_sql), $orig_state,
		"run $run: every partition has the original log start and end offsets");
	is($node->safe_psql($db, $groups_sql), $orig_groups,
		"run $run: every group's committed offsets are back");
	is($node->safe_psql($db, $rights_sql), $orig_rights,
		"run $run: every group's owner and grants are back");
	is($node->safe_psql($db, q{SET ROLE regress_user; SELECT eventlog.seek('owned3', 't3', 0, 0)}),
		'', "run $run: a role granted a group may use it after the restore");
	my ($ret, $o, $e) = $node->psql($db,
		q{SET ROLE regress_other; SELECT eventlog.seek('owned3', 't3', 0, 0)});
	like($e, qr/permission denied for consumer group "owned3" of topic "t3"/,
		"run $run: a role without rights on a group is still refused after the restore");
	for my $t (1 .. $ntopics)
	{
		is($node->safe_psql($db, $digest_sql{$t}), $orig_digest{$t},
			"run $run: t$t has the same records at the same offsets");
	}
	is( $node->safe_psql(
			$db, q{SELECT count(*) FILTER (WHERE m.segrel IS NULL),
                          count(*) FILTER (WHERE m.base_offset IS NOT NULL)
                     FROM pg_class c LEFT JOIN eventlog.segment_map m ON m.segrel = c.oid
                    WHERE c.relnamespace = 'eventlog_segments'::regnamespace AND c.relkind = 'r'}),
		'0|' . (2 * $ntopics),
		"run $run: every segment table is registered (spare segments of the maintenance worker aside)");
	is( $node->safe_psql(
			$db, q{SELECT count(*) FROM eventlog.poll('g1', 't1', 1000)}),
		$node->safe_psql($db, q{SELECT count(*) FROM eventlog_topics.t1 WHERE partition = 1 OR "offset" >= 101}),
		"run $run: a restored group consumes from where it was");
}

$node->stop;
done_testing();
