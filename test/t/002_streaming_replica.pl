
# pg_eventlog: exact redo on a streaming replica (design.md sections 4 and 6,
# promise 5).
#
# A primary with wal_consistency_checking = 'pg_eventlog' (every pg_eventlog
# WAL record carries a page image that the standby's redo compares against,
# through el_mask) streams to a hot standby.  After a load that spans many
# pages, with aborted transactions and a rolled-back savepoint, the standby
# must return exactly the primary's rows from fetch(), agree on
# eventlog.partitions, and hold byte-identical segment pages.  While a
# transaction is still open on the primary, both must stop fetch() at the
# same offset (promise 2 on the standby).  Finally a long-poll fetch() on
# the standby, started before a commit on the primary, must return the new
# record.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_consistency_checking = 'pg_eventlog'
});
$primary->start;
is($primary->safe_psql('postgres', 'SHOW wal_consistency_checking'),
	'pg_eventlog', 'the custom rmgr name is accepted by wal_consistency_checking');

$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_eventlog;
CREATE EXTENSION pageinspect;
SELECT eventlog.create_topic('r', partitions => 2);
});

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
# postgresql.conf (with shared_preload_libraries) comes with the backup
$standby->start;

# ---- load: ~5000 committed records of ~200 bytes over 2 partitions
my $pad = "repeat('v', 180)";
for my $batch (1 .. 8)
{
	# bulk INSERT ... SELECT: keyed, round-robin keyless and with headers
	$primary->safe_psql(
		'postgres', qq{
INSERT INTO eventlog_topics.r (key, value, headers)
SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE 'k' || (g % 37) END,
       jsonb_build_object('b', $batch, 'g', g, 'pad', $pad),
       CASE WHEN g % 5 = 0 THEN jsonb_build_object('h', g::text) END
  FROM generate_series(1, 500) g;
});

	# aborted transactions leave offset gaps and dead runs on pages
	$primary->safe_psql(
		'postgres', qq{
BEGIN;
SELECT count(*) FROM generate_series(1, 60) g,
       LATERAL eventlog.produce('r', jsonb_build_object('aborted', g, 'pad', $pad));
ROLLBACK;
});

	# many single-record produce() calls: one run per transaction, interleaved
	# with a rolled-back savepoint
	$primary->safe_psql(
		'postgres', qq{
BEGIN;
SELECT count(*) FROM generate_series(1, 40) g,
       LATERAL eventlog.produce('r', jsonb_build_object('b', $batch, 'sp', 'before', 'g', g, 'pad', $pad), partition => g % 2);
SAVEPOINT s;
SELECT count(*) FROM generate_series(1, 30) g,
       LATERAL eventlog.produce('r', jsonb_build_object('sp', 'rolledback', 'g', g, 'pad', $pad), partition => g % 2);
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM generate_series(1, 40) g,
       LATERAL eventlog.produce('r', jsonb_build_object('b', $batch, 'sp', 'after', 'g', g, 'pad', $pad), key => 'sp' || g);
COMMIT;
});
	for my $i (1 .. 5)
	{
		$primary->safe_psql('postgres',
			"SELECT eventlog.produce('r', jsonb_build_object('b', $batch, 'single', $i, 'pad', $pad))"
		);
	}
}

my $total = $primary->safe_psql('postgres', 'SELECT count(*) FROM eventlog_topics.r');
is($total, 8 * (500 + 80 + 5), 'primary holds every committed record and no aborted one');

# Compare helpers ----------------------------------------------------------

# fetch() of a whole partition in chunks that end in the middle of pages
sub fetch_all
{
	my ($node, $p) = @_;

	return fetch_partition($node, 'r', $p, 333);
}

my $partitions_sql =
  q{SELECT topic, partition, log_start_offset, log_end_offset, stable_offset, segments, bytes
      FROM eventlog.partitions ORDER BY topic, partition};

sub compare_nodes
{
	my ($label) = @_;
	for my $p (0 .. 1)
	{
		my $a = fetch_all($primary, $p);
		my $b = fetch_all($standby, $p);
		cmp_ok(length($a), '>', 0, "$label: partition $p is not empty");
		ok($a eq $b, "$label: fetch() of partition $p is identical on the standby")
		  or diag("primary "
			  . (() = $a =~ /\n/g)
			  . " rows, standby "
			  . (() = $b =~ /\n/g));
	}
	is( $standby->safe_psql('postgres', $partitions_sql),
		$primary->safe_psql('postgres', $partitions_sql),
		"$label: eventlog.partitions agrees");
	my $scan = q{SELECT * FROM eventlog_topics.r ORDER BY partition, "offset"};
	ok( $standby->safe_psql('postgres', $scan) eq
		  $primary->safe_psql('postgres', $scan),
		"$label: SQL scan of the topic is identical on the standby");
}

$primary->wait_for_catchup($standby);
compare_nodes('after load');

# ---- raw pages: every block of every segment, byte for byte
sub compare_pages
{
	my ($label) = @_;
	my @segs = split /\n/,
	  $primary->safe_psql('postgres',
		'SELECT segrel::text FROM eventlog.segment_map ORDER BY partition, seg_no');
	cmp_ok(scalar(@segs), '>=', 2, "$label: one segment per partition at least");
	my ($nblocks_total, $page_mismatch) = (0, 0);
	for my $seg (@segs)
	{
		my $nb_sql =
		  "SELECT pg_relation_size('$seg') / current_setting('block_size')::int";
		my $nb = $primary->safe_psql('postgres', $nb_sql);
		is($standby->safe_psql('postgres', $nb_sql),
			$nb, "$label: $seg has the same number of blocks ($nb)");
		$nblocks_total += $nb;
		my $md5_sql =
		  "SELECT b, md5(get_raw_page('$seg', b::int)) FROM generate_series(0, $nb - 1) b ORDER BY b";
		my @pm = split /\n/, $primary->safe_psql('postgres', $md5_sql);
		my @sm = split /\n/, $standby->safe_psql('postgres', $md5_sql);
		for my $i (0 .. $#pm)
		{
			next if defined $sm[$i] && $pm[$i] eq $sm[$i];
			$page_mismatch++;
			# tell whether more than the header's LSN/checksum differs
			my $tail_sql =
			  "SELECT md5(substring(get_raw_page('$seg', $i) FROM 25))";
			my $same_tail = $primary->safe_psql('postgres', $tail_sql) eq
			  $standby->safe_psql('postgres', $tail_sql);
			diag("$label: $seg block $i differs"
				  . ($same_tail
					? ' only in the first 24 bytes'
					: ' beyond the page header'));
		}
	}
	cmp_ok($nblocks_total, '>', 20,
		"$label: the load spans many pages ($nblocks_total)");
	is($page_mismatch, 0,
		"$label: every segment page is byte-identical on the standby");
}

compare_pages('after load');

# VACUUM (FREEZE) rewrites run headers (logged as full page images)
my $frozen_before = $primary->safe_psql('postgres',
	q{SELECT age(relfrozenxid) FROM pg_class WHERE oid = 'eventlog_topics.r'::regclass});
$primary->safe_psql('postgres', 'VACUUM (FREEZE) eventlog_topics.r');
cmp_ok(
	$primary->safe_psql('postgres',
		q{SELECT age(relfrozenxid) FROM pg_class WHERE oid = 'eventlog_topics.r'::regclass}),
	'<', $frozen_before, 'VACUUM (FREEZE) advances the topic relfrozenxid');
$primary->wait_for_catchup($standby);
compare_pages('after VACUUM (FREEZE)');
compare_nodes('after VACUUM (FREEZE)');

# ---- an open transaction on the primary: both stop fetch() before it
my $open = $primary->background_psql('postgres');
my $open_off = $open->query_safe(
	q{BEGIN; SELECT "offset" FROM eventlog.produce('r', '{"open": 1}', partition => 0)});
$primary->safe_psql('postgres',
	q{SELECT eventlog.produce('r', '{"after_open": 1}', partition => 0)});
$primary->wait_for_catchup($standby);
my $tail_sql = "SELECT \"offset\", value FROM eventlog.fetch('r', 0, $open_off - 2, 100)";
my $tail_p = $primary->safe_psql('postgres', $tail_sql);
is($standby->safe_psql('postgres', $tail_sql),
	$tail_p, 'with a transaction open on the primary, fetch() stops at the same place on the standby');
unlike($tail_p, qr/after_open/, 'fetch() does not pass the open transaction');
my $stable_sql = "SELECT stable_offset FROM eventlog.partitions WHERE topic = 'r' AND partition = 0";
is($standby->safe_psql('postgres', $stable_sql), $open_off,
	'stable_offset on the standby is the offset of the open record');
$open->query_safe('COMMIT');
$open->quit;
$primary->wait_for_catchup($standby);
like($standby->safe_psql('postgres', $tail_sql),
	qr/"open": 1.*after_open/s, 'after COMMIT the standby returns both records in order');
compare_nodes('after the open transaction committed');

# ---- long poll on the standby, woken by a commit on the primary
my $leo = $standby->safe_psql('postgres',
	"SELECT log_end_offset FROM eventlog.partitions WHERE topic = 'r' AND partition = 1");
my $poller = $standby->background_psql('postgres');
$poller->query_until(qr/polling/,
	"\\echo polling\nSELECT \"offset\", value->>'longpoll' FROM eventlog.fetch('r', 1, $leo, 10, wait => '5 s');\n"
);
# make sure the fetch is waiting before the primary commits (best effort)
$standby->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity
       WHERE query LIKE '%eventlog.fetch(''r'', 1%' AND state = 'active'
         AND pid <> pg_backend_pid()});
my $new_off = $primary->safe_psql('postgres',
	q{SELECT "offset" FROM eventlog.produce('r', '{"longpoll": "yes"}', partition => 1)});
# (waits at most timeout_default for the row)
my $got = $poller->query_until(qr/\n/, '');
chomp $got;
is($got, "$new_off|yes", 'long-poll fetch() on the standby returns the record committed on the primary');
$poller->quit;

# ---- the standby replayed everything without inconsistency
$primary->wait_for_catchup($standby);
ok(!$standby->log_contains('inconsistent page found'),
	'no wal_consistency_checking failure on the standby');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is still in recovery and alive');

# ---- failover: the promoted standby continues every partition's offsets
my %leo_before;
for my $line (split /\n/,
	$primary->safe_psql('postgres',
		q{SELECT partition, log_end_offset FROM eventlog.partitions WHERE topic = 'r'}))
{
	my ($p, $leo) = split /\|/, $line;
	$leo_before{$p} = $leo;
}
$primary->wait_for_catchup($standby);
$primary->stop('immediate');
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'standby was not promoted';
for my $p (sort keys %leo_before)
{
	my $off = $standby->safe_psql('postgres',
		"SELECT \"offset\" FROM eventlog.produce('r', '{\"after_failover\": true}', partition => $p)");
	cmp_ok($off, '>=', $leo_before{$p},
		"after failover, partition $p continues at or after the old primary's log end ($leo_before{$p})");
	is($standby->safe_psql('postgres',
			"SELECT \"offset\", value FROM eventlog.fetch('r', $p, $off, 10)"),
		"$off|{\"after_failover\": true}",
		"after failover, partition $p: the new record is fetched");
}

$standby->stop;
done_testing();
