# pg_eventlog: data in a storage format version this build does not know
# (docs/operations.md, "Compatibility rule").
#
# A later release may write pages and WAL records of a later format.  This
# build must stop at them with the documented error naming both versions,
# never read them as something else and never crash:
#  - a WAL record of format 99 (logged by the helper module in
#    test/modules/el_walfuture, as a later release would log it): logical
#    decoding refuses it, and a streaming standby's recovery stops at it
#    with the error (the startup process exits; no PANIC, no signal);
#  - a segment page whose format word says 99: reading and producing are
#    refused with the error, the server keeps running, and the page reads
#    again once its word says 1.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $pg_config = $ENV{PG_CONFIG} || 'pg_config';

# Build the helper module with PGXS in a scratch directory.
my $moddir = PostgreSQL::Test::Utils::tempdir('el_walfuture');
for my $f ('el_walfuture.c', 'Makefile')
{
	my $src = "$FindBin::RealBin/../modules/el_walfuture/$f";
	open(my $in, '<', $src) or die "cannot open $src: $!";
	local $/;
	my $text = <$in>;
	close($in);
	open(my $out, '>', "$moddir/$f") or die "cannot write $moddir/$f: $!";
	print $out $text;
	close($out);
}
my ($stdout, $stderr);
my $built = IPC::Run::run([ 'make', '-C', $moddir, "PG_CONFIG=$pg_config" ],
	'>', \$stdout, '2>', \$stderr);
ok($built, 'the helper module builds') or diag($stderr);
my $helper = "$moddir/el_walfuture.so";

my $node = PostgreSQL::Test::Cluster->new('fv');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_eventlog'\n");
$node->start;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('fv', partitions => 1);
INSERT INTO eventlog_topics.fv (key, value) SELECT 'k' || g, jsonb_build_object('g', g) FROM generate_series(1, 10) g;
CREATE FUNCTION el_log_future_record(int, int) RETURNS pg_lsn
  AS '$helper', 'el_log_future_record' LANGUAGE C STRICT;
});

$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('fv_standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM eventlog_topics.fv'),
	'10', 'the standby replays format 1');

$node->safe_psql('postgres',
	"SELECT pg_create_logical_replication_slot('fv_slot', 'test_decoding')");
$node->safe_psql('postgres',
	"INSERT INTO eventlog_topics.fv (key, value) VALUES ('before', '1')");
my $lsn = $node->safe_psql('postgres', 'SELECT el_log_future_record(99, 0)');
my $lsn_re = qr/[0-9A-F]+\/[0-9A-F]+/;
my $wal_error = qr/eventlog WAL record at $lsn_re is in storage format version 99, this build reads format version 1/;

# logical decoding: refused at the record, before decoding anything of it
my ($rc, $out, $err) = $node->psql('postgres',
	"SELECT data FROM pg_logical_slot_get_changes('fv_slot', NULL, NULL)");
isnt($rc, 0, 'decoding a format 99 record fails');
like($err, $wal_error, 'decoding names both format versions');
like($err, qr/reads storage format versions 1 to 1/, 'the detail names the formats this build reads');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the primary runs on');
($rc, $out, $err) = $node->psql('postgres',
	"SELECT data FROM pg_logical_slot_peek_changes('fv_slot', NULL, NULL)");
isnt($rc, 0, 'the slot stays at the record (nothing skipped)');

# streaming standby: recovery stops at the record with the error
ok( wait_until(sub { slurp_file($standby->logfile) =~ $wal_error }),
	'the standby logs the format error at the record');
ok(wait_until(sub { !-e $standby->data_dir . '/postmaster.pid' }),
	'the standby stops');
$standby->_update_pid(0);
my $slog = slurp_file($standby->logfile);
like($slog, qr/startup process \(PID \d+\) exited with exit code 1/,
	'the startup process exits with an error');
unlike($slog, qr/PANIC|terminated by signal/, 'no PANIC and no crash on the standby');

# the primary's own crash recovery never starts before that record again
$node->safe_psql('postgres', 'CHECKPOINT');

# a page stamped with format 99
$node->safe_psql('postgres',
	"INSERT INTO eventlog_topics.fv (key, value) VALUES ('after', '2')");
my $segfile = $node->data_dir . '/' . $node->safe_psql('postgres', q{
SELECT pg_relation_filepath(segrel) FROM eventlog.segment_map
 WHERE topic = 'fv' AND base_offset IS NOT NULL ORDER BY seg_no LIMIT 1});
my $blcksz = block_size($node);
my $records = $node->safe_psql('postgres',
	"SELECT \"offset\", key, value FROM eventlog.fetch('fv', 0, 0, 100)");
$node->stop;

# the format word is at byte 40 of the special space (elpage.h); pd_special
# is the uint16 at byte 16 of the page header
sub stamp_page
{
	my ($file, $word) = @_;
	open(my $fh, '+<', $file) or die "cannot open $file: $!";
	binmode $fh;
	my $page;
	read($fh, $page, $blcksz) == $blcksz or die "short read of $file";
	my $special = unpack('v', substr($page, 16, 2));
	my $old = unpack('V', substr($page, $special + 40, 4));
	seek($fh, $special + 40, 0) or die;
	print $fh pack('V', $word);
	close($fh) or die;
	return $old;
}
my $orig = stamp_page($segfile, 0x45764C67 + 99);
is(sprintf('%08X', $orig), '45764C68', 'format 1 pages carry word 0x45764C68');

$node->start;
my $page_error = qr/eventlog page is in storage format version 99, this build reads format version 1/;
($rc, $out, $err) = $node->psql('postgres',
	"SELECT count(*) FROM eventlog.fetch('fv', 0, 0, 100)");
isnt($rc, 0, 'fetch of a format 99 page fails');
like($err, $page_error, 'fetch names both format versions');
like($err, qr/HINT:  Install a release of pg_eventlog that reads format version 99/,
	'with a hint');
($rc, $out, $err) = $node->psql('postgres',
	'SELECT count(*) FROM eventlog_topics.fv');
like($err, $page_error, 'a scan of the topic relation fails the same way');
($rc, $out, $err) = $node->psql('postgres',
	"SELECT * FROM eventlog.produce('fv', '3', key => 'refused')");
like($err, $page_error, 'producing onto it fails the same way (nothing written)');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server runs on');
unlike(slurp_file($node->logfile), qr/PANIC|terminated by signal/,
	'no PANIC and no crash on the primary');
$node->stop;

stamp_page($segfile, $orig);
$node->start;
is($node->safe_psql('postgres',
	"SELECT \"offset\", key, value FROM eventlog.fetch('fv', 0, 0, 100)"),
	$records, 'with format 1 restored every record reads back, none was written');
$node->stop;

done_testing();
