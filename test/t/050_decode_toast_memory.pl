# pg_eventlog: logical decoding of TOASTed topic values in bounded memory
# (issue 17, item 10).
#
# A decoder used to keep every TOAST chunk of a transaction until the
# transaction's end (clear_toast_afterwards = false), outside
# logical_decoding_work_mem and never spilled: one transaction of large
# values could make a walsender (or the backend of
# pg_logical_slot_get_changes) as large as the transaction.  Now a record
# whose values go to TOAST is appended right after its chunks and the
# decoder frees them once the WAL record is decoded.
#
# 1. Correctness of that order on every write path that toasts: one
#    transaction mixing small and large records in a multi-row INSERT
#    (buffered appends), COPY FROM (multi-insert batches), produce(), a
#    rolled-back savepoint and several partitions: every decoded value
#    equals fetch()'s, none is left as an unresolved TOAST pointer; values
#    taken from another table's TOAST are copied, not pointed to.
# 2. Memory: pg_recvlogical streams one transaction of 1,000 100 kB
#    values; the walsender's peak RSS (VmHWM) must exceed that of one that
#    streamed 5 such records by less than a third of the transaction's WAL
#    (before the fix it grew by all of the transaction's TOAST data).  A
#    heap table with the same rows is printed beside it.  No timing is asserted; the
#    reorder buffer's spill counters show the changes themselves were
#    spilled beyond logical_decoding_work_mem.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

if (!-r '/proc/self/status')
{
	plan skip_all => 'needs /proc/<pid>/status for the peak RSS';
}

my $node = PostgreSQL::Test::Cluster->new('dectoast');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_level = logical
logical_decoding_work_mem = 64kB
max_wal_size = 2GB
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('mix', partitions => 3);
SELECT eventlog.create_topic('big', partitions => 2);
-- a large value: ~n kB of random hex (pglz gains little on it)
CREATE FUNCTION big_value(tag text, kb int) RETURNS jsonb LANGUAGE sql VOLATILE
AS $$ SELECT jsonb_build_object('tag', tag, 'pad',
        (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, kb * 32))) $$;
SELECT pg_create_logical_replication_slot('mix', 'test_decoding');
});

# --- 1. every toasting write path decodes whole values ----------------------
my $copyfile = $node->basedir . '/mix.copy';
open(my $fh, '>', $copyfile) or die "open $copyfile: $!";
for my $i (1 .. 30)
{
	# random hex, which pglz cannot squeeze into the page
	my $pad = ($i % 3 == 0) ? join('', map { sprintf('%08x', int(rand(2**32))) } 1 .. 5000) : 'small';
	print $fh "copy$i\t{\"tag\": \"copy$i\", \"pad\": \"$pad\"}\n";
}
close($fh);

$node->safe_psql(
	'postgres', qq{
-- computed beforehand: a function that runs a query would flush the
-- statement's buffered records at each call (its executor run ends)
CREATE TABLE src AS
SELECT g, CASE WHEN g % 2 = 0 THEN big_value('ins' || g, 20)
               ELSE jsonb_build_object('tag', 'ins' || g) END AS v
  FROM generate_series(1, 40) g;
BEGIN;
-- buffered INSERT: small and large records alternate over the partitions
INSERT INTO eventlog_topics.mix (key, value) SELECT 'ins' || g, v FROM src ORDER BY g;
-- COPY: multi-insert batches with large rows among small ones
COPY eventlog_topics.mix (key, value) FROM '$copyfile';
-- produce() of large values, one rolled back in a savepoint
SELECT eventlog.produce('mix', big_value('p1', 30), key => 'p1');
SAVEPOINT s;
SELECT eventlog.produce('mix', big_value('gone', 30), key => 'gone');
INSERT INTO eventlog_topics.mix (key, value) SELECT 'gone' || g, big_value('gone', 5) FROM generate_series(1, 3) g;
ROLLBACK TO SAVEPOINT s;
SELECT eventlog.produce('mix', big_value('p2', 30), key => 'p2');
INSERT INTO eventlog_topics.mix (key, value) VALUES ('last', '{"tag": "last"}');
COMMIT;
CREATE TABLE decoded AS
SELECT data FROM pg_logical_slot_get_changes('mix', NULL, NULL)
 WHERE data LIKE 'table eventlog_topics.mix: INSERT:%';
CREATE TABLE fetched AS
SELECT f.key, f.value::text AS value
  FROM generate_series(0, 2) p, LATERAL eventlog.fetch('mix', p, 0, 1000) f;
});

is($node->safe_psql('postgres', q{SELECT count(*) FROM decoded}),
	'73', 'every committed record is decoded (40 + 30 + 2 + 1)');
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM decoded WHERE data LIKE '%unchanged-toast-datum%'}),
	'0',
	'no decoded value is left as a TOAST pointer');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM fetched f
 WHERE NOT EXISTS (SELECT 1 FROM decoded d
                    WHERE position('value[jsonb]:' || quote_literal(f.value) IN d.data) > 0)}),
	'0',
	'each decoded value equals fetch()\'s, the large ones (20-40 kB) too');
is($node->safe_psql('postgres', q{SELECT count(*) FROM decoded WHERE data LIKE '%gone%'}),
	'0', 'the rolled-back savepoint\'s records are not decoded');

# the records inserted from src hold their own copies of src's TOASTed
# values (they used to keep src's TOAST pointers, and failed once src was gone)
$node->safe_psql('postgres', q{DROP TABLE src});
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM fetched f JOIN generate_series(0, 2) p ON true,
       LATERAL eventlog.fetch('mix', p, 0, 1000) g
 WHERE g.key = f.key AND g.value::text = f.value}),
	'73', 'records inserted from another table\'s TOASTed values survive that table');

# --- 2. peak memory of the walsender ---------------------------------------
# pg_recvlogical streams a slot until the slot has confirmed lsn; then the
# walsender's peak RSS is read from /proc, before pg_recvlogical is stopped.
sub walsender_peak_kb
{
	my ($slot, $lsn) = @_;
	my $out = $node->basedir . "/$slot.out";
	my $h = IPC::Run::start(
		[
			'pg_recvlogical', '-d', $node->connstr('postgres'),
			'--slot', $slot, '--start', '-f', $out,
			'--fsync-interval=1', '--status-interval=1'
		],
		'<', \undef, '>', \my $o, '2>', \my $e);
	ok( $node->poll_query_until(
			'postgres', qq{
SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = '$slot'}),
		"pg_recvlogical received slot $slot up to $lsn");
	my $kb = $node->safe_psql(
		'postgres', qq{
SELECT (regexp_match(pg_read_file('/proc/' || active_pid || '/status'), 'VmHWM:\\s+(\\d+) kB'))[1]
  FROM pg_replication_slots WHERE slot_name = '$slot'});
	$h->kill_kill;
	$h->finish;
	my $inserts = 0;
	open(my $f, '<', $out) or die "open $out: $!";
	while (<$f>)
	{
		$inserts++ if /^table (eventlog_topics\.big|public\.hb): INSERT:/ && !/unchanged-toast-datum/;
	}
	close($f);
	return ($kb, $inserts);
}

my %peak;
my %ins;
my $walkb;
for my $case ('small', 'big', 'heap')
{
	my $rel = $case eq 'heap' ? 'hb' : 'eventlog_topics.big';
	my $n = $case eq 'small' ? 5 : 1000;
	$node->safe_psql('postgres', "SELECT pg_create_logical_replication_slot('$case', 'test_decoding')");
	my $lsn0 = $node->safe_psql('postgres', q{SELECT pg_current_wal_insert_lsn()});
	$node->safe_psql('postgres', qq{
CREATE TABLE IF NOT EXISTS hb (key text, value jsonb);
INSERT INTO $rel (key, value) SELECT 'k' || g, big_value('b' || g, 100) FROM generate_series(1, $n) g;
});
	my $lsn = $node->safe_psql('postgres', q{SELECT pg_current_wal_insert_lsn()});
	$walkb = $node->safe_psql('postgres', qq{SELECT ('$lsn'::pg_lsn - '$lsn0'::pg_lsn) / 1024})
	  if $case eq 'big';
	($peak{$case}, $ins{$case}) = walsender_peak_kb($case, $lsn);
	is($ins{$case}, $n, "$case: every record decoded whole");
	$node->safe_psql('postgres', "SELECT pg_drop_replication_slot('$case')")
	  unless $case eq 'big';
}
my $growth = $peak{big} - $peak{small};
diag(sprintf('one transaction of 1,000 100 kB values, %d kB of WAL: walsender peak RSS %d kB (topic), %d kB (heap table, same rows), %d kB (5 records)',
	$walkb, $peak{big}, $peak{heap}, $peak{small}));
cmp_ok($growth, '<', $walkb / 3,
	'the walsender grows by less than a third of the transaction (it held every TOAST chunk before)');
cmp_ok(
	$node->safe_psql('postgres',
		q{SELECT spill_bytes FROM pg_stat_replication_slots WHERE slot_name = 'big'}),
	'>', 0, 'the transaction\'s changes were spilled beyond logical_decoding_work_mem');

$node->stop;
done_testing();
