
# pg_eventlog: a backup never fails because of maintenance (issue 17 item 5).
#
# A segment removed by delete_records (or retention) waits in segment_trash
# until no snapshot can still see its segment_map row; then a maintenance
# pass drops it.  pg_dump's snapshot is newer than the removal, so the pass
# may drop the segment while pg_dump runs, but pg_dump lists every table of
# its snapshot, the segment relation too, and then locks and copies each
# one by name: "relation ... does not exist" failed the whole dump.  Here
# pg_dump is held between its snapshot and its locks (another session
# holds a table it dumps, created before the topic, so locked earlier), the
# trashed segment is dropped meanwhile, and the dump must succeed and
# restore the topic: its records and log start.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dumpdrop');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance = off
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_eventlog;
CREATE TABLE public.dump_blocker (id int);
SELECT eventlog.create_topic('dd', 1, segment_bytes => 16384);
SELECT count(*) FROM eventlog.run_maintenance('dd');
});
# (its own transaction: a transaction does not roll into a spare it made)
$node->safe_psql('postgres', q{
SELECT count(*) FROM generate_series(0, 199) g,
  LATERAL eventlog.produce('dd', jsonb_build_object('g', g, 'pad', repeat('x', 200)));
});
$node->safe_psql('postgres', q{SELECT eventlog.delete_records('dd', 0, 150)});
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog.segment_trash WHERE topic = 'dd'}),
	'1', 'delete_records moved the first segment to segment_trash');
my $trashed = $node->safe_psql('postgres',
	q{SELECT segrel::regclass FROM eventlog.segment_trash WHERE topic = 'dd'});

# pg_dump takes its snapshot, lists the tables, then waits for the blocker
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE public.dump_blocker IN ACCESS EXCLUSIVE MODE');
my $dumpfile = $node->basedir . '/dd.dump';
my ($out, $err) = ('', '');
my $dump = IPC::Run::start(
	[ 'pg_dump', '-Fc', '-f', $dumpfile, '-d', $node->connstr('postgres') ],
	'>', \$out, '2>', \$err);
$node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM pg_stat_activity
 WHERE query LIKE 'LOCK TABLE public.dump_blocker IN ACCESS SHARE MODE%' AND wait_event_type = 'Lock'})
  or die 'pg_dump did not wait for the blocker';

# the pass drops the trashed segment: no snapshot still sees its row
is($node->safe_psql('postgres', q{
SELECT count(*) FROM eventlog.run_maintenance('dd') WHERE action = 'dropped'}),
	'1', 'maintenance dropped the trashed segment while pg_dump runs');
is($node->safe_psql('postgres', qq{SELECT to_regclass('$trashed') IS NULL}),
	't', '... its relation is gone');

$holder->query_safe('COMMIT');
$holder->quit;
$dump->finish;
is($dump->result(0), 0, 'pg_dump succeeded although a segment it listed was dropped')
  or diag($err);

$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dumpfile ],
	'the dump restores');
my $sql = q{SELECT count(*), min("offset"), max("offset") FROM eventlog.fetch('dd', 0, 0, 1000)};
is($node->safe_psql('restored',
		q{SELECT log_start_offset || ':' || log_end_offset FROM eventlog.partitions WHERE topic = 'dd'}),
	'150:200', 'the restored topic has the log start and end of the original');
is($node->safe_psql('restored',
		q{SELECT count(*) || ':' || min("offset") || ':' || max("offset") FROM eventlog.fetch('dd', 0, 'earliest', 1000)}),
	'50:150:199', '... and its records');

done_testing();
