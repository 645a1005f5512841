# pg_eventlog: the page chain after a crash in the middle of a bulk load,
# and concurrent creation of a segment's first page.
#
# A crash during a big uncommitted INSERT leaves blocks that were added to
# the file but whose WAL never reached disk: all-zero pages at the end of
# the segment.  Offsets must continue after the last committed record (no
# reuse), and records produced afterwards must be readable, including once
# the new pages have replaced the zero ones.  Second part: several
# sessions inserting into a brand-new topic at once must neither deadlock
# nor lose records (the first page of a segment is created under the
# relation extension lock).  In between: a block past the end that is not
# all zeros is refused instead of overwritten.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $node = PostgreSQL::Test::Cluster->new('orphan');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_eventlog'\nwal_buffers = 16MB\nmax_wal_size = 4GB\n"
	  # keep the bulk load's WAL in memory, so the crash loses some of it
	  . "wal_writer_delay = 10s\n");
$node->start;
my $blcksz = block_size($node);
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('cr', partitions => 1);
INSERT INTO eventlog_topics.cr (value) SELECT jsonb_build_object('g', g) FROM generate_series(0, 999) g;
});
my $segfile = $node->data_dir . '/' . $node->safe_psql('postgres', q{
SELECT pg_relation_filepath(segrel) FROM eventlog.segment_map
 WHERE topic = 'cr' AND base_offset IS NOT NULL ORDER BY seg_no LIMIT 1});

# a large uncommitted insert, interrupted by an immediate shutdown
my ($in, $out, $err) = ('', '', '');
my $bulk = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
	  q{INSERT INTO eventlog_topics.cr (value) SELECT jsonb_build_object('bulk', g) FROM generate_series(1, 5000000) g} ],
	'<', \$in, '>', \$out, '2>', \$err);
# wait until the segment has grown well beyond the committed records
ok(wait_until(sub { -s $segfile > 4 * 1024 * 1024 }),
	'the uncommitted bulk insert extended the segment');
$node->stop('immediate');
$bulk->finish;
$node->start;

# count all-zero blocks at the end of the file
open(my $fh, '<', $segfile) or die "cannot open $segfile: $!";
binmode $fh;
my ($blocks, $zeros) = (0, 0);
my $page;
while (read($fh, $page, $blcksz) == $blcksz)
{
	$blocks++;
	$zeros = ($page =~ /\A\0+\z/) ? $zeros + 1 : 0;
}
close $fh;
note "segment has $blocks blocks, the last $zeros of them all zero";
cmp_ok($zeros, '>=', 2, 'the crash left uninitialized pages at the end of the segment');

my $end_before = $node->safe_psql('postgres',
	q{SELECT log_end_offset FROM eventlog.partitions WHERE topic = 'cr'});
cmp_ok($end_before, '>=', 1000, 'the log end is at or past the committed records');
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog_topics.cr}),
	'1000', 'only the committed records are there');

my $off = $node->safe_psql('postgres',
	q{SELECT "offset" FROM eventlog.produce('cr', '{"after": "crash"}')});
cmp_ok($off, '>=', $end_before, 'a record produced after the crash does not reuse an offset');
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog_topics.cr WHERE value ? 'after'}),
	'1', 'the new record is visible to SQL');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog.fetch('cr', 0, 0, 100000) WHERE value ? 'after'}),
	'1', 'the new record is returned by fetch');

# fill the zero pages and go beyond them: the chain stays intact
$node->safe_psql('postgres', q{
INSERT INTO eventlog_topics.cr (value) SELECT jsonb_build_object('refill', g) FROM generate_series(1, 200000) g});
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog_topics.cr}),
	'201001', 'every committed record is readable after refilling the zero pages');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT "offset" FROM eventlog.fetch('cr', 0, 0, 1000000)) f}),
	'201001', 'fetch reads the whole chain');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT "offset", lag("offset") OVER (ORDER BY "offset") AS prev
                        FROM eventlog_topics.cr) s WHERE "offset" <= prev}),
	'0', 'offsets strictly increase');

# a block past the chain's end that is not all zeros (a page of another
# format, or damage) is refused, not overwritten
$node->safe_psql('postgres', q{SELECT eventlog.create_topic('fg', partitions => 1)});
$node->safe_psql('postgres', q{SELECT eventlog.produce('fg', jsonb_build_object('n', g)) FROM generate_series(1, 10) g});
my $fgfile = $node->data_dir . '/' . $node->safe_psql('postgres', q{
SELECT pg_relation_filepath(segrel) FROM eventlog.segment_map
 WHERE topic = 'fg' AND base_offset IS NOT NULL ORDER BY seg_no LIMIT 1});
$node->stop;
# block 1 := block 0 with another special-space size: a page the buffer
# manager accepts (sane header) but not one of this page format
open(my $gh, '+<', $fgfile) or die "cannot open $fgfile: $!";
binmode $gh;
my $block0;
read($gh, $block0, $blcksz) == $blcksz or die "short read of $fgfile";
my $special = unpack('v', substr($block0, 16, 2));
substr($block0, 16, 2) = pack('v', $special + 8);
seek($gh, $blcksz, 0);
print $gh $block0;
close $gh;
$node->start;
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT eventlog.produce('fg', '{"n": "after"}')});
isnt($ret, 0, 'producing past a foreign block fails');
like($stderr, qr/neither empty nor in the page format of this build/, 'with an error that says so');
($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT count(*) FROM eventlog_topics.fg});
isnt($ret, 0, 'reading a partition with a foreign block fails too, instead of reading it as empty');
like($stderr, qr/neither empty nor in the page format of this build/, 'with the same error');
($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT count(*) FROM eventlog.fetch('fg', 0, 0)});
like($stderr, qr/neither empty nor in the page format of this build/, 'fetch() refuses it as well');

# part 2: first pages of new segments created concurrently
my $script = $node->basedir . '/ins.sql';
append_to_file($script,
	q{INSERT INTO eventlog_topics.:topic (value) SELECT jsonb_build_object('g', g) FROM generate_series(1, 3000) g;});
for my $round (1 .. 8)
{
	$node->safe_psql('postgres', "SELECT eventlog.create_topic('fp$round')");
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '4', '-t', '1', '-D', "topic=fp$round", '-f', $script,
		  $node->connstr('postgres') ],
		'>', \$o, '2>', \$e,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	eval { $h->finish; };
	ok(!$@ && $h->result == 0, "round $round: four concurrent first inserts finish") or diag("$@ $e");
	is($node->safe_psql('postgres', "SELECT count(*), count(DISTINCT \"offset\") FROM eventlog_topics.fp$round"),
		'12000|12000', "round $round: every record once, every offset once");
}

$node->stop;
done_testing();
