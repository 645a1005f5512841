# pg_eventlog: WAL records a decoder can read on their own (issue 8, DESIGN
# section 6).
#
# With wal_level = logical, every APPEND and NEW_PAGE record names the topic
# relation, the partition and the inserting transaction, and carries the
# first offset, the page's base time, the record count and the stored
# column count; its block data (self-delimiting entries) stays in the record
# even when the block is a full-page image (REGBUF_KEEP_DATA).  Read through
# pg_walinspect, which prints the resource manager's rm_desc: that also
# walks the block data alone and prints the offset range it yields, so a
# matching range shows that the record boundaries and offsets are in the
# record.  Crash recovery of it all runs with wal_consistency_checking.
# With wal_level = replica none of it is logged: an APPEND has no main
# data, and a full-page-image APPEND keeps no block data.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

# The byte count of our decoding information (SizeOfElDecode in elwal.h).
my $SIZEOF_DECODE = 42;

sub start_node
{
	my ($name, $level) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $level);
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_level = $level
wal_consistency_checking = 'pg_eventlog'
checkpoint_timeout = 1h
});
	$node->start;
	my $have = $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_walinspect'});
	plan skip_all => 'pg_walinspect is not installed' if $have == 0;
	$node->safe_psql(
		'postgres', q{
CREATE EXTENSION pg_eventlog;
CREATE EXTENSION pg_walinspect;
SELECT eventlog.create_topic('wd', partitions => 2);
});
	return $node;
}

# Run $sql; return its output and the pg_eventlog WAL records it wrote, as
# hashes of record_type, xid, main_data_length, description and fpw: whether
# block 0 comes as a full-page image that redo applies (block_ref "(FPW)";
# wal_consistency_checking adds images to every record, shown as "(FPW for
# WAL verification)", which redo only compares).
sub logged
{
	my ($node, $sql) = @_;
	my $lsn0 = $node->safe_psql('postgres', 'SELECT pg_current_wal_flush_lsn()');
	my $out = $node->safe_psql('postgres', $sql);
	my $lsn1 = $node->safe_psql('postgres', 'SELECT pg_current_wal_flush_lsn()');
	my @recs;
	for my $l (
		split /\n/,
		$node->safe_psql(
			'postgres', qq{
SELECT record_type, xid, main_data_length,
       block_ref ~ 'blkref #0: [^(]*[(]FPW[)]',
       block_ref, description
  FROM pg_get_wal_records_info('$lsn0', '$lsn1')
 WHERE resource_manager = 'pg_eventlog' ORDER BY start_lsn}))
	{
		my %r;
		@r{qw(type xid main fpw bref desc)} = split /\|/, $l, 6;
		push @recs, \%r;
	}
	return ($out, @recs);
}

# ---- wal_level = logical, with a streaming standby that replays it all
my $node = start_node('logical', 'logical');
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
my $relid = $node->safe_psql('postgres', q{SELECT 'eventlog_topics.wd'::regclass::oid});
# the topic relation's relfilenode, which logical decoding names changes by
my $filenode = $node->safe_psql('postgres',
	q{SELECT pg_relation_filenode('eventlog_topics.wd')});
$relid = "$relid filenode \\d+/$filenode";
my $natts = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'eventlog_topics.wd'::regclass
	     AND attnum > 0 AND attname NOT IN ('partition', 'offset')});

# An INSERT ... SELECT is buffered and appended as one NEW_PAGE record: the
# first page of partition 1.
my ($out, @r) = logged($node, q{
INSERT INTO eventlog_topics.wd ("partition", key, value)
SELECT 1, 'k' || g, jsonb_build_object('g', g) FROM generate_series(1, 5) g;
});
is(scalar(@r), 1, 'one pg_eventlog record for a buffered INSERT of 5 records');
is($r[0]{type}, 'NEW_PAGE', '... a NEW_PAGE record');
like(
	$r[0]{desc},
	qr/^topic $relid partition 1 xid $r[0]{xid} first_offset 0 nrecords 5 base_ts \d+ natts $natts ts bytes \d+ offsets 0-4$/,
	'NEW_PAGE names the topic relation, partition, xid, first offset and record count, and its data alone yields offsets 0-4'
) or diag $r[0]{desc};
cmp_ok($r[0]{main}, '>', $SIZEOF_DECODE, '... NEW_PAGE main data = page init + decoding information');

# More records to the same tail page: an APPEND record.
($out, @r) = logged($node, q{
INSERT INTO eventlog_topics.wd ("partition", key, value)
SELECT 1, 'k' || g, jsonb_build_object('g', g) FROM generate_series(6, 8) g;
});
is(scalar(@r), 1, 'one pg_eventlog record for a buffered INSERT of 3 records');
is($r[0]{type}, 'APPEND', '... an APPEND record');
is($r[0]{main}, $SIZEOF_DECODE, '... whose main data is the decoding information');
is($r[0]{fpw}, 'f', '... and no full-page image') or diag $r[0]{bref};
like(
	$r[0]{desc},
	qr/^topic $relid partition 1 xid $r[0]{xid} first_offset 5 nrecords 3 base_ts \d+ natts $natts ts bytes \d+ offsets 5-7$/,
	'APPEND continuing the page: first offset 5, 3 records, offsets 5-7 from its data alone'
) or diag $r[0]{desc};

# The first change of the page after a checkpoint: a full-page image, and
# the block data is still in the record.
$node->safe_psql('postgres', 'CHECKPOINT');
($out, @r) = logged($node,
	q{SELECT "offset" FROM eventlog.produce('wd', '{"after": "checkpoint"}', 'kf', partition => 1)});
is($out, 8, 'produce() after the checkpoint gets offset 8');
note "APPEND after a checkpoint: $_->{desc}" for @r;
is(scalar(@r), 1, 'one pg_eventlog record for it');
is($r[0]{type}, 'APPEND', '... an APPEND record');
is($r[0]{fpw}, 't', '... with a full-page image') or diag $r[0]{bref};
like(
	$r[0]{desc},
	qr/^topic $relid partition 1 xid $r[0]{xid} first_offset 8 nrecords 1 base_ts \d+ natts $natts ts bytes ([1-9]\d*) offsets 8-8$/,
	'... that still carries its data (REGBUF_KEEP_DATA): offset 8 from the record alone'
) or diag $r[0]{desc};

# A subtransaction's records name the subtransaction's xid, and a record of
# partition 0 names partition 0.
($out, @r) = logged($node, q{
BEGIN;
SELECT count(*) FROM eventlog.produce('wd', '{"top": 1}', 'kt', partition => 0);
SAVEPOINT s;
SELECT "offset" FROM eventlog.produce('wd', '{"sub": 1}', 'ks', partition => 0);
RELEASE s;
COMMIT;
});
is(scalar(@r), 2, 'two pg_eventlog records for two produce() calls');
like($r[0]{desc}, qr/^topic $relid partition 0 xid $r[0]{xid} first_offset 0 nrecords 1 .* offsets 0-0$/,
	'partition 0, top-level xid') or diag $r[0]{desc};
like($r[1]{desc}, qr/^topic $relid partition 0 xid $r[1]{xid} first_offset 1 nrecords 1 .* offsets 1-1$/,
	'partition 0, the subtransaction\'s xid') or diag $r[1]{desc};
isnt($r[1]{xid}, $r[0]{xid}, '... which differs from the top-level one');

# Redo of all of it, with wal_consistency_checking (every record carries
# an image of the page as the primary left it, and redo compares): on the
# standby, then by crash recovery from the last checkpoint.
my $before = fetch_partition($node, 'wd', 1, 4) . fetch_partition($node, 'wd', 0, 4);
$node->wait_for_catchup($standby);
is(fetch_partition($standby, 'wd', 1, 4) . fetch_partition($standby, 'wd', 0, 4),
	$before, 'the standby replayed every record');
ok(!$standby->log_contains('inconsistent page found'), 'standby: no inconsistent page');
$standby->stop;
$node->stop('immediate');
$node->start;
is(fetch_partition($node, 'wd', 1, 4) . fetch_partition($node, 'wd', 0, 4),
	$before, 'crash recovery (wal_consistency_checking) reads back every record');
is($node->safe_psql('postgres',
		q{SELECT string_agg("partition" || ':' || log_end_offset, ' ' ORDER BY "partition")
		    FROM eventlog.partitions WHERE topic = 'wd'}),
	'0:2 1:9', 'log ends after recovery');
ok(!$node->log_contains('inconsistent page found'), 'no inconsistent page in the log');
$node->stop;

# ---- wal_level = replica: nothing extra
my $rep = start_node('replica', 'replica');
($out, @r) = logged($rep, q{
INSERT INTO eventlog_topics.wd ("partition", key, value)
SELECT 1, 'k' || g, jsonb_build_object('g', g) FROM generate_series(1, 5) g;
});
is(scalar(@r), 1, 'replica: one record for a buffered INSERT');
like($r[0]{desc}, qr/^first_offset 0 bytes \d+$/, 'replica: NEW_PAGE without decoding information')
  or diag $r[0]{desc};
($out, @r) = logged($rep, q{SELECT count(*) FROM eventlog.produce('wd', '{}', 'k', partition => 1)});
is($r[0]{type}, 'APPEND', 'replica: APPEND');
is($r[0]{main}, 0, 'replica: APPEND has no main data');
like($r[0]{desc}, qr/^bytes \d+$/, 'replica: APPEND description is the byte count only');
$rep->safe_psql('postgres', 'CHECKPOINT');
($out, @r) = logged($rep, q{SELECT count(*) FROM eventlog.produce('wd', '{}', 'k', partition => 1)});
is($r[0]{fpw}, 't', 'replica: APPEND after a checkpoint has a full-page image');
is($r[0]{desc}, 'bytes 0', '... and keeps no block data');
$rep->stop('immediate');
$rep->start;
is($rep->safe_psql('postgres',
		q{SELECT log_end_offset FROM eventlog.partitions WHERE topic = 'wd' AND "partition" = 1}),
	7, 'replica: crash recovery');
ok(!$rep->log_contains('inconsistent page found'), 'replica: no inconsistent page in the log');
$rep->stop;

done_testing();
