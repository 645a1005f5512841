
# pg_eventlog: durability across a crash (design.md promise 5, and promise 3's
# atomicity with business writes).
#
# Concurrent pgbench producers append to a 3-partition topic; every
# transaction also records the ids it produced in a heap table, and about a
# fifth of them roll back.  While they run, the postmaster and all its
# children are killed with SIGKILL; after restart (WAL redo through the
# pg_eventlog rmgr) the topic must hold exactly the committed ids, each
# once, at the offsets produce() returned, in strictly increasing offset
# order per partition; fetch() must agree with a SQL scan; and new records
# must get offsets above every pre-crash offset.  Two crash cycles: the
# first one with a checkpoint in the middle of the load (redo starts from
# full-page images), the second right after the first restart.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
max_connections = 20
# only our explicit CHECKPOINT, so redo covers the whole load
checkpoint_timeout = '1h'
max_wal_size = '1GB'
restart_after_crash = on
});
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('t', partitions => 3);
CREATE SEQUENCE ids;
CREATE TABLE committed_ids (id bigint PRIMARY KEY, partition int NOT NULL,
                            "offset" bigint NOT NULL);
});

# One pgbench transaction: 1-4 records through produce() (keyed and keyless)
# or through INSERT ... RETURNING on the topic relation, a heap write in the
# same transaction, then COMMIT (80%) or ROLLBACK (20%).
my $script = $node->basedir . '/producer.sql';
PostgreSQL::Test::Utils::append_to_file(
	$script, q{
\set n random(1, 4)
\set how random(1, 3)
\set fate random(1, 100)
BEGIN;
} . produce_and_record_sql('t', 13) . q{
\if :fate <= 20
ROLLBACK;
\else
COMMIT;
\endif
});

# Background producers: 4 clients, stopped by the crash.  They may run as
# long as poll_query_until below waits for their progress.
sub start_producers
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-c', '4', '-j', '2',
			'-T', $PostgreSQL::Test::Utils::timeout_default,
			'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$out, '2>', \$err);
	return $h;
}

sub committed_count
{
	return $node->safe_psql('postgres', 'SELECT count(*) FROM committed_ids');
}


# Offsets as "partition offset" text lines of fetch(), read in chunks.
sub fetch_all
{
	my ($p) = @_;

	return fetch_partition($node, 't', $p, 700);
}

sub check_after_restart
{
	my ($cycle, $pre_crash_max) = @_;

	my $committed = committed_count();
	cmp_ok($committed, '>', 0, "cycle $cycle: some transactions committed");

	# (a) every committed id is in the topic exactly once, at the offset
	# produce()/INSERT RETURNING reported
	is( $node->safe_psql(
			'postgres', q{
SELECT count(*) FROM committed_ids c
  LEFT JOIN (SELECT (value->>'id')::bigint AS id, count(*) AS n
               FROM eventlog_topics.t GROUP BY 1) e USING (id)
 WHERE e.n IS DISTINCT FROM 1}),
		'0',
		"cycle $cycle: every committed id appears exactly once in the topic");
	is( $node->safe_psql(
			'postgres', q{
SELECT count(*) FROM committed_ids c
  LEFT JOIN eventlog_topics.t e ON (e.value->>'id')::bigint = c.id
 WHERE e.partition IS DISTINCT FROM c.partition
    OR e."offset" IS DISTINCT FROM c."offset"}),
		'0',
		"cycle $cycle: committed records are at the partition/offset produce returned"
	);

	# (b) nothing but committed ids (rolled back and in-flight ones are gone)
	is( $node->safe_psql(
			'postgres', q{
SELECT count(*) FROM eventlog_topics.t e
 WHERE e.value ? 'id'
   AND NOT EXISTS (SELECT 1 FROM committed_ids c
                    WHERE c.id = (e.value->>'id')::bigint)}),
		'0',
		"cycle $cycle: the topic holds no id that was not committed");
	is( $node->safe_psql(
			'postgres',
			q{SELECT count(*) FROM eventlog_topics.t WHERE value ? 'id'}),
		$committed,
		"cycle $cycle: topic record count equals committed count");

	# (c) per partition: offsets unique and strictly increasing in scan order
	my $scan = $node->safe_psql('postgres',
		'SELECT partition, "offset" FROM eventlog_topics.t');
	my (%last, $bad);
	$bad = 0;
	for my $line (split /\n/, $scan)
	{
		my ($p, $o) = split /\|/, $line;
		$bad++ if defined $last{$p} && $o <= $last{$p};
		$last{$p} = $o;
	}
	is($bad, 0,
		"cycle $cycle: a scan returns each partition in strictly increasing offset order"
	);
	is( $node->safe_psql(
			'postgres', q{
SELECT count(*) - count(DISTINCT (partition, "offset")) FROM eventlog_topics.t}),
		'0',
		"cycle $cycle: (partition, offset) pairs are unique");

	# (e) fetch from 0 returns exactly what a SQL scan returns, per partition
	for my $p (0 .. 2)
	{
		my $sql = $node->safe_psql('postgres',
			"SELECT partition, \"offset\", ts, key, value, headers FROM eventlog_topics.t WHERE partition = $p ORDER BY \"offset\""
		);
		$sql .= "\n" if $sql ne '';
		my $fetched = fetch_all($p);
		ok($fetched eq $sql,
			"cycle $cycle: fetch from 0 of partition $p equals the SQL scan")
		  or diag("fetch returned "
			  . (() = $fetched =~ /\n/g)
			  . " rows, scan "
			  . (() = $sql =~ /\n/g));
	}

	# (d) offsets are never reused: before producing again, the log end is
	# above every pre-crash offset; new records land above it.
	my %max_before;
	for my $line (
		split /\n/,
		$node->safe_psql(
			'postgres',
			'SELECT partition, coalesce(max("offset"), -1) FROM eventlog_topics.t GROUP BY partition'
		))
	{
		my ($p, $m) = split /\|/, $line;
		$max_before{$p} = $m;
	}
	for my $p (0 .. 2)
	{
		my $max = $max_before{$p} // -1;
		$max = $pre_crash_max->{$p}
		  if defined $pre_crash_max->{$p} && $pre_crash_max->{$p} > $max;
		my $leo = $node->safe_psql('postgres',
			"SELECT log_end_offset FROM eventlog.partitions WHERE topic = 't' AND partition = $p"
		);
		cmp_ok($leo, '>', $max,
			"cycle $cycle: partition $p log_end_offset after restart is above every earlier offset"
		);
		my $new = $node->safe_psql('postgres',
			"SELECT \"offset\" FROM eventlog.produce('t', '{\"after_crash\": $cycle}', partition => $p)"
		);
		cmp_ok($new, '>', $max,
			"cycle $cycle: partition $p new record gets an offset above every pre-crash offset"
		);
		cmp_ok($new, '>=', $leo,
			"cycle $cycle: partition $p new record is at or after the log end offset"
		);
	}
}

# Highest offset seen (committed or not) per partition just before a crash,
# as reported to the producers.
sub max_offsets
{
	my %m;
	for my $line (
		split /\n/,
		$node->safe_psql(
			'postgres',
			'SELECT partition, max("offset") FROM committed_ids GROUP BY partition'
		))
	{
		my ($p, $o) = split /\|/, $line;
		$m{$p} = $o;
	}
	return \%m;
}

# A transaction left open across the crash: its record must vanish.
sub open_transaction
{
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_safe(
		q{BEGIN; SELECT * FROM eventlog.produce('t', '{"open": true}', partition => 1)}
	);
	return $bg;
}

sub finish_quietly
{
	my ($h) = @_;
	eval { $h->finish; };
	return;
}

# ---- cycle 1: load, checkpoint in the middle, more load, crash
my $h = start_producers();
$node->poll_query_until('postgres',
	'SELECT count(*) >= 1000 FROM committed_ids')
  or die 'producers made no progress';
$node->safe_psql('postgres', 'CHECKPOINT');
my $mark = committed_count();
my $open = open_transaction();
$node->poll_query_until('postgres',
	"SELECT count(*) >= $mark + 1000 FROM committed_ids")
  or die 'producers made no progress after the checkpoint';
my $pre = max_offsets();
crash_node($node);
finish_quietly($h);
finish_quietly($open->{run});
restart_node($node);
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog_topics.t WHERE value ? 'open'}),
	'0', 'cycle 1: the record of a transaction open at the crash is gone');
check_after_restart(1, $pre);

# ---- cycle 2: load right after recovery (end-of-recovery checkpoint only)
$mark = committed_count();
$h = start_producers();
$node->poll_query_until('postgres',
	"SELECT count(*) >= $mark + 1000 FROM committed_ids")
  or die 'producers made no progress after the restart';
$pre = max_offsets();
crash_node($node);
finish_quietly($h);
restart_node($node);
check_after_restart(2, $pre);

ok($node->log_contains('database system was not properly shut down'),
	'the server went through crash recovery');

$node->stop;
done_testing();
