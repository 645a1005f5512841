
# pg_eventlog: pg_dump / pg_restore of topics (design.md section 4: "pg_dump/
# restore ... work"; offsets are "never reused, never changed").
#
# Two topics (one with 3 partitions, one whose name needs quoting) hold
# keyed and keyless records, headers, a tombstone, a ~300 kB (toasted)
# value, offset gaps from a rolled-back transaction and a rolled-back
# savepoint, and a rolled-back record at the very end of one partition.  A
# consumer group is positioned at the log end of that partition.  The
# database is dumped and restored several ways: custom format + pg_restore,
# custom format + parallel pg_restore -j 4 (three times), a split restore
# (pre-data, then data with -j 2, then post-data), plain format + psql,
# custom format into a fresh cluster, and a dump of one topic relation
# alone (pg_dump -t).  Each copy must hold the same rows at the same offsets
# (gaps kept), a log end offset at least the original one, give new records
# offsets above every restored one, and serve fetch() and poll().
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $conf = qq{
shared_preload_libraries = 'pg_eventlog'
max_prepared_transactions = 0
};

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', $conf);
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql(
	'src', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('orders', partitions => 3);
SELECT eventlog.create_topic('audit.log-1');

-- keyed with headers, keyless
SELECT count(*) FROM generate_series(1, 30) g,
  LATERAL eventlog.produce('orders', jsonb_build_object('n', g),
                           key => 'k' || (g % 7),
                           headers => jsonb_build_object('trace', 't' || g));
SELECT count(*) FROM generate_series(31, 45) g,
  LATERAL eventlog.produce('orders', jsonb_build_object('n', g));
});

# a rolled-back transaction: a gap in every partition
$node->safe_psql(
	'src', q{
BEGIN;
SELECT count(*) FROM generate_series(1, 6) g,
  LATERAL eventlog.produce('orders', jsonb_build_object('rolledback', g), partition => g % 3);
ROLLBACK;
});

# a rolled-back savepoint between committed records, bulk INSERT, a
# tombstone, a large value, and more records after the gap
$node->safe_psql(
	'src', q{
BEGIN;
SELECT eventlog.produce('orders', '{"sp": "before"}', key => 'k1');
SAVEPOINT s;
SELECT eventlog.produce('orders', '{"sp": "rolledback"}', key => 'k1');
ROLLBACK TO SAVEPOINT s;
SELECT eventlog.produce('orders', '{"sp": "after"}', key => 'k1');
COMMIT;
INSERT INTO eventlog_topics.orders (key, value, headers)
SELECT 'bulk' || g, jsonb_build_object('bulk', g), '{"via": "insert"}'
  FROM generate_series(1, 12) g;
SELECT eventlog.produce('orders', NULL, key => 'k3');
SELECT eventlog.produce('audit.log-1', jsonb_build_object('big', repeat('0123456789', 30000)),
                        key => 'big', headers => '{"size": "300k"}');
SELECT eventlog.produce('audit.log-1', jsonb_build_object('after_big', true));
});

# the last record of audit.log-1 belongs to a rolled-back transaction
$node->safe_psql(
	'src', q{
BEGIN;
SELECT eventlog.produce('audit.log-1', '{"trailing": "rolledback"}');
ROLLBACK;
});

# a consumer group positioned at the log end of audit.log-1 (what
# auto_offset_reset = latest or a seek-to-end does)
$node->safe_psql(
	'src', q{
SELECT eventlog.seek('g_end', 'audit.log-1', 0,
       (SELECT log_end_offset FROM eventlog.partitions
         WHERE topic = 'audit.log-1' AND partition = 0));
});

my @topics = ('orders', 'audit.log-1');

sub qtopic { my ($t) = @_; return qq{eventlog_topics."$t"}; }

my %scan_sql = map {
	$_ =>
	  "SELECT * FROM @{[qtopic($_)]} ORDER BY partition, \"offset\""
} @topics;
my $parts_sql =
  q{SELECT topic, partition, log_start_offset, log_end_offset FROM eventlog.partitions ORDER BY topic, partition};

# what the original holds
my %orig_scan = map { $_ => $node->safe_psql('src', $scan_sql{$_}) } @topics;
my %orig_leo;
for my $line (split /\n/, $node->safe_psql('src', $parts_sql))
{
	my ($t, $p, undef, $leo) = split /\|/, $line;
	$orig_leo{"$t/$p"} = $leo;
}
like($orig_scan{orders}, qr/"sp": "before".*"sp": "after"/s,
	'source: committed records around the rolled-back savepoint are there');
unlike($orig_scan{orders}, qr/rolledback/, 'source: no rolled-back record');
is( $node->safe_psql(
		'src', q{SELECT count(*) FROM (SELECT partition, "offset" - lag("offset") OVER w AS step
                       FROM eventlog_topics.orders WINDOW w AS (PARTITION BY partition ORDER BY "offset")) s
                WHERE step > 1}),
	'4',
	'source: orders has offset gaps (3 from the rolled-back transaction, 1 from the savepoint)');
cmp_ok($orig_leo{'audit.log-1/0'}, '>',
	$node->safe_psql('src', q{SELECT max("offset") + 1 FROM eventlog_topics."audit.log-1"}),
	'source: audit.log-1 log end is past its last committed record (trailing rollback)');
is( $node->safe_psql(
		'src', q{SELECT length(value->>'big'), pg_column_size(value) < 100000
                 FROM eventlog_topics."audit.log-1" WHERE key = 'big'}),
	'300000|t',
	'source: the large value is stored intact (and compressed or toasted)');

# Run a client program; returns (exit ok, stderr)
sub run_cmd
{
	my (@cmd) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	return ($ok, $err);
}

my $tmp = PostgreSQL::Test::Utils::tempdir();
my $fc = "$tmp/src.dump";
my $plain = "$tmp/src.sql";
my ($ok, $err) = run_cmd('pg_dump', '-Fc', '-f', $fc, '-d', $node->connstr('src'));
ok($ok, 'pg_dump -Fc succeeds') or diag($err);
($ok, $err) = run_cmd('pg_dump', '-Fp', '-f', $plain, '-d', $node->connstr('src'));
ok($ok, 'pg_dump -Fp succeeds') or diag($err);

# Check one restored copy against the original.
sub check_restored
{
	my ($n, $db, $label) = @_;

	for my $t (@topics)
	{
		my $got = $n->safe_psql($db, $scan_sql{$t});
		ok($got eq $orig_scan{$t},
			"$label: rows of $t (partition, offset, ts, key, value, headers) are identical")
		  or diag("restored "
			  . (() = $got =~ /\n/g)
			  . " lines, original "
			  . (() = $orig_scan{$t} =~ /\n/g));
	}

	is($n->safe_psql($db, 'SELECT topic, partitions FROM eventlog.topics ORDER BY topic'),
		"audit.log-1|1\norders|3", "$label: eventlog.topics lists both topics");

	# every segment table is a registered segment of a topic, and back
	is( $n->safe_psql(
			$db, q{SELECT
              (SELECT count(*) FROM pg_class
                WHERE relnamespace = 'eventlog_segments'::regnamespace AND relkind = 'r') =
              (SELECT count(*) FROM eventlog.segment_map m
                 JOIN pg_class c ON c.oid = m.segrel
                WHERE c.relnamespace = 'eventlog_segments'::regnamespace),
              (SELECT count(*) FROM eventlog.segment_map WHERE base_offset IS NOT NULL)}),
		't|4', "$label: 4 started segment tables (spares of the maintenance worker aside), all registered (no orphans)");

	# log end offsets: never behind the original (offsets never reused)
	for my $line (split /\n/, $n->safe_psql($db, $parts_sql))
	{
		my ($t, $p, undef, $leo) = split /\|/, $line;
		cmp_ok($leo, '>=', $orig_leo{"$t/$p"},
			"$label: $t partition $p log_end_offset ($leo) >= original ($orig_leo{\"$t/$p\"})");
	}

	# fetch() from 0 returns the restored records in offset order
	for my $t (@topics)
	{
		my $np = $t eq 'orders' ? 3 : 1;
		for my $p (0 .. $np - 1)
		{
			my $f = $n->safe_psql($db,
				"SELECT \"offset\", key, md5(value::text), headers FROM eventlog.fetch('$t', $p, 0, 100000)");
			my $s = $n->safe_psql($db,
				"SELECT \"offset\", key, md5(value::text), headers FROM @{[qtopic($t)]} WHERE partition = $p ORDER BY \"offset\"");
			ok($f ne '' && $f eq $s, "$label: fetch('$t', $p, 0) returns the restored records");
		}
	}

	# new records get offsets above everything restored and the original log end
	for my $t (@topics)
	{
		my $p = 0;
		my $max = $n->safe_psql($db,
			"SELECT max(\"offset\") FROM @{[qtopic($t)]} WHERE partition = $p");
		my $new = $n->safe_psql($db,
			"SELECT \"offset\" FROM eventlog.produce('$t', '{\"after_restore\": true}', partition => $p)");
		cmp_ok($new, '>', $max, "$label: new record in $t/$p gets an offset above the restored ones");
		cmp_ok($new, '>=', $orig_leo{"$t/$p"},
			"$label: new record in $t/$p does not reuse an offset below the original log end ($orig_leo{\"$t/$p\"})");
	}

	# the group positioned at the old log end receives the new record
	my $polled = $n->safe_psql($db,
		q{SELECT value FROM eventlog.poll('g_end', 'audit.log-1')});
	is($polled, '{"after_restore": true}',
		"$label: a consumer group committed at the original log end receives the record produced after restore");

	# the restored topic takes bulk inserts and new topics can be created
	is( $n->safe_psql($db,
			q{WITH i AS (INSERT INTO eventlog_topics.orders (key, value)
                         SELECT 'x' || g, '{}' FROM generate_series(1, 5) g RETURNING 1)
              SELECT count(*) FROM i}),
		'5', "$label: INSERT into a restored topic works");
	$n->safe_psql($db, q{SELECT eventlog.create_topic('fresh', partitions => 2)});
	is($n->safe_psql($db, q{SELECT "offset" FROM eventlog.produce('fresh', '{}', partition => 1)}),
		'0', "$label: a topic created after restore works");
}

# 1. custom format, pg_restore
$node->safe_psql('postgres', 'CREATE DATABASE dst_fc');
($ok, $err) = run_cmd('pg_restore', '-d', $node->connstr('dst_fc'), $fc);
ok($ok, 'pg_restore of the custom-format dump succeeds') or diag($err);
check_restored($node, 'dst_fc', 'pg_restore') if $ok;

# 2. custom format, parallel pg_restore: the extension's tables, the topics
# and their segment tables load concurrently, in an order that varies from
# run to run; each topic's COPY carries its own catalog (export header)
for my $run (1 .. 3)
{
	$node->safe_psql('postgres', "CREATE DATABASE dst_par$run");
	($ok, $err) = run_cmd('pg_restore', '-j', '4', '-d', $node->connstr("dst_par$run"), $fc);
	ok($ok, "parallel pg_restore -j 4 succeeds (run $run)") or diag($err);
	check_restored($node, "dst_par$run", "pg_restore -j 4 (run $run)") if $ok;
}

# 2b. schema first, then the data in parallel (a common split restore)
$node->safe_psql('postgres', 'CREATE DATABASE dst_split');
($ok, $err) = run_cmd('pg_restore', '--section=pre-data', '-d', $node->connstr('dst_split'), $fc);
ok($ok, 'pg_restore --section=pre-data succeeds') or diag($err);
($ok, $err) = run_cmd('pg_restore', '--section=data', '-j', '2', '-d', $node->connstr('dst_split'), $fc);
ok($ok, 'pg_restore --section=data -j 2 succeeds') or diag($err);
($ok, $err) = run_cmd('pg_restore', '--section=post-data', '-d', $node->connstr('dst_split'), $fc);
ok($ok, 'pg_restore --section=post-data succeeds') or diag($err);
check_restored($node, 'dst_split', 'split restore') if $ok;

# 3. plain format through psql
$node->safe_psql('postgres', 'CREATE DATABASE dst_plain');
($ok, $err) = run_cmd('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $plain,
	'-d', $node->connstr('dst_plain'));
ok($ok, 'plain-format dump replays through psql') or diag($err);
check_restored($node, 'dst_plain', 'plain dump + psql') if $ok;

# 4. into a fresh cluster (other OIDs than the ones in the segment names)
my $node2 = PostgreSQL::Test::Cluster->new('restore');
$node2->init;
$node2->append_conf('postgresql.conf', $conf);
$node2->start;
$node2->safe_psql('postgres', 'CREATE DATABASE dst');
($ok, $err) = run_cmd('pg_restore', '-d', $node2->connstr('dst'), $fc);
ok($ok, 'pg_restore into a fresh cluster succeeds') or diag($err);
check_restored($node2, 'dst', 'fresh cluster') if $ok;

# 5. a dump of one topic relation alone (pg_dump -t): no segment tables and
# no catalog rows in the dump; the topic comes back with new segments
my $one = "$tmp/orders.dump";
($ok, $err) = run_cmd('pg_dump', '-Fc', '-t', 'eventlog_topics.orders', '-f', $one,
	'-d', $node->connstr('src'));
ok($ok, 'pg_dump -t of one topic succeeds') or diag($err);
$node2->safe_psql('postgres', 'CREATE DATABASE dst_one');
$node2->safe_psql('dst_one', 'CREATE EXTENSION pg_eventlog');
($ok, $err) = run_cmd('pg_restore', '-d', $node2->connstr('dst_one'), $one);
ok($ok, 'pg_restore of the one-topic dump succeeds') or diag($err);
is($node2->safe_psql('dst_one', $scan_sql{orders}), $orig_scan{orders},
	'one-topic dump: rows of orders are identical');
is( $node2->safe_psql(
		'dst_one', q{SELECT partitions, (SELECT count(*) FROM eventlog.segment_map WHERE topic = 'orders' AND base_offset IS NOT NULL)
                      FROM eventlog.topics WHERE topic = 'orders'}),
	'3|3', 'one-topic dump: orders is registered with 3 partitions and 3 started segments (spares aside)');
cmp_ok(
	$node2->safe_psql('dst_one',
		q{SELECT "offset" FROM eventlog.produce('orders', '{}', partition => 0)}),
	'>=', $orig_leo{'orders/0'},
	'one-topic dump: new records continue after the original log end');

# the source itself was not changed by any of this
is($node->safe_psql('src', $scan_sql{orders}), $orig_scan{orders}, 'source topic unchanged');

$node2->stop;
$node->stop;
done_testing();
