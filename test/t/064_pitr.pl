# pg_eventlog: point-in-time recovery (docs/operations.md, "Backup and
# restore").
#
# A base backup (pg_basebackup) is taken while producers run transactions
# that write a topic and a heap table together (each record's partition and
# offset go to committed_ids in the same transaction; savepoints rolled back
# and transactions rolled back among them); WAL is archived.  The backup is
# restored to a time in the middle of the load: there, the topic and the
# heap table agree exactly (the same records, none of an aborted or later
# transaction), more was committed than at the backup and less than in
# the end, and offsets continue after the recovered log, never reusing one.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $node = PostgreSQL::Test::Cluster->new('pitr');
$node->init(has_archiving => 1, allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('p', partitions => 3, segment_bytes => 65536);
CREATE SEQUENCE ids;
CREATE TABLE committed_ids (id bigint PRIMARY KEY, partition int, "offset" bigint);
});

my $dir = PostgreSQL::Test::Utils::tempdir;
my $script = savepoint_producer_script("$dir/producers.sql", produce_and_record_sql('p', 50));
my ($pout, $perr) = ('', '');
my $count = sub { $node->safe_psql('postgres', 'SELECT count(*) FROM committed_ids') };
my $producers = start_savepoint_producers($node, $script, 15, \$pout, \$perr);

ok(wait_until(sub { $count->() >= 200 }), 'the producers run');
$node->backup('b');
my $at_backup = $count->();
note("records committed at the end of the backup: $at_backup");

# the target: a time while the load goes on, with commits before and after it
ok(wait_until(sub { $count->() >= $at_backup + 200 }), 'more is committed after the backup');
my $before_target = $count->();
my $target = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
ok(wait_until(sub { $count->() >= $before_target + 400 }), 'and after the target time');
$producers->finish;
is($producers->result(0), 0, 'the producers ran without errors') or diag($perr);
my $final = $count->();
note("records committed: $before_target before $target, $final in the end");

# every WAL segment up to now reaches the archive
my $walfile = $node->safe_psql('postgres',
	'SELECT pg_walfile_name(pg_current_wal_lsn()) FROM pg_switch_wal()');
ok( $node->poll_query_until(
		'postgres',
		"SELECT last_archived_wal >= '$walfile' FROM pg_stat_archiver"),
	'the WAL is archived');

my $restored = PostgreSQL::Test::Cluster->new('pitr_restored');
$restored->init_from_backup($node, 'b', has_restoring => 1);
$restored->append_conf('postgresql.conf', qq{
recovery_target_time = '$target'
recovery_target_action = 'promote'
});
$restored->start;
ok( $restored->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'recovery stops at the target and promotes');

my $n = $restored->safe_psql('postgres', 'SELECT count(*) FROM committed_ids');
ok($n >= $before_target && $n < $final,
	"the restored state is that of the target time ($before_target <= $n < $final)");
ok($n > $at_backup, "with transactions replayed from the archive ($n > $at_backup)");
is( $restored->safe_psql('postgres', q{
SELECT count(*) FROM (
  (SELECT id, partition, "offset" FROM committed_ids
   EXCEPT SELECT (value->>'id')::bigint, partition, "offset" FROM eventlog_topics.p)
  UNION ALL
  (SELECT (value->>'id')::bigint, partition, "offset" FROM eventlog_topics.p
   EXCEPT SELECT id, partition, "offset" FROM committed_ids)) d}),
	'0', 'the topic and the heap table agree exactly at the target time');
is($restored->safe_psql('postgres', 'SELECT count(*) FROM eventlog_topics.p'), $n,
	'no record twice');

# offsets continue after everything the recovered log holds
my $res = $restored->safe_psql('postgres', q{
WITH ends AS (SELECT "partition", log_end_offset FROM eventlog.partitions WHERE topic = 'p'),
tops AS (SELECT "partition", max("offset") AS top FROM eventlog_topics.p GROUP BY 1),
new AS (SELECT r.* FROM generate_series(0, 2) g,
             LATERAL eventlog.produce('p', '{"after_pitr": true}', "partition" => g) r)
SELECT count(*) FILTER (WHERE n."offset" >= e.log_end_offset AND n."offset" > coalesce(t.top, -1))
  FROM new n JOIN ends e USING ("partition") LEFT JOIN tops t USING ("partition")});
is($res, '3', 'a record produced after the recovery takes an offset after the recovered log');
is($restored->safe_psql('postgres',
	q{SELECT count(*) - count(DISTINCT ("partition", "offset")) FROM eventlog_topics.p}),
	'0', 'no offset is used twice');
$restored->restart;
is($restored->safe_psql('postgres',
	q{SELECT count(*) FROM eventlog_topics.p WHERE value ? 'after_pitr'}),
	'3', 'the new records survive a restart');

$restored->stop;
$node->stop;
done_testing();
