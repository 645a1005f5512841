
# pg_eventlog: "read committed, nothing skipped" under concurrency (design.md
# promise 2; also promise 1, order within a partition).
#
# Four pgbench producers run transactions of 1-4 records (produce() or INSERT
# ... RETURNING on the topic relation, keyed and keyless, over 3
# partitions), some with a rolled-back savepoint, sleep 0-20 ms (sometimes
# 300 ms) between producing and finishing, then COMMIT or ROLLBACK at random.
# Each transaction records its ids in a heap table.  Meanwhile one consumer
# per partition follows the log with fetch(topic, p, next, 100, wait =>
# '200 ms'), always advancing next past the last record it got.  A consumer
# that could pass a record whose transaction was still open would miss that
# record once it commits.  At the end the consumers together must have
# received exactly the committed ids: none missing, none extra, none twice,
# each at the offset produce reported, in strictly increasing offset order
# per partition.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $nparts = 3;
my $duration = 15;    # seconds of load

my $node = PostgreSQL::Test::Cluster->new('stress');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
max_connections = 30
log_statement = 'none'
log_min_duration_statement = -1
});
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('s', partitions => $nparts);
CREATE SEQUENCE ids;
CREATE TABLE committed_ids (id bigint PRIMARY KEY, partition int NOT NULL,
                            "offset" bigint NOT NULL);
});

# produce :n records one of two ways, recording them in committed_ids
my $produce_n = produce_and_record_sql('s', 17);

my $script = $node->basedir . '/stress_producer.sql';
PostgreSQL::Test::Utils::append_to_file(
	$script, qq{
\\set n random(1, 4)
\\set how random(1, 2)
\\set sp random(1, 100)
\\set fate random(1, 100)
\\set d random(0, 20)
\\set long random(1, 100)
BEGIN;
$produce_n
\\if :sp <= 30
SAVEPOINT s;
$produce_n
SELECT pg_sleep(:d / 2000.0);
ROLLBACK TO SAVEPOINT s;
$produce_n
\\endif
\\if :long <= 2
SELECT pg_sleep(0.3);
\\else
SELECT pg_sleep(:d / 1000.0);
\\endif
\\if :fate <= 30
ROLLBACK;
\\else
COMMIT;
\\endif
});

# one consumer session per partition
my @cons = map { $node->background_psql('postgres') } 0 .. $nparts - 1;
my @next = (0) x $nparts;
my %received;      # id => "partition|offset"
my $dups = 0;
my @order_bad = (0) x $nparts;
my @count = (0) x $nparts;
my $round = 0;

# Issue one fetch on every consumer session at once and wait for all of them
# (so the consumers really run concurrently); returns the rows received.
sub consume_round
{
	$round++;
	for my $p (0 .. $nparts - 1)
	{
		$cons[$p]->{stdin} .=
		    "SELECT partition, \"offset\", value->>'id' FROM eventlog.fetch('s', $p, $next[$p], 100, wait => '200 ms');\n"
		  . "\\echo '__round $round'\n";
	}
	my $got = 0;
	for my $p (0 .. $nparts - 1)
	{
		my $s = $cons[$p];
		my $marker = qr/__round $round\n/;
		until ($s->{stdout} =~ $marker)
		{
			die "consumer $p timed out" if $s->{timeout}->is_expired;
			die "consumer $p failed: $s->{stderr}" if $s->{stderr} ne '';
			$s->{run}->pump;
		}
		my $out = $s->{stdout};
		$s->{stdout} = '';
		$out =~ s/$marker//;
		for my $line (split /\n/, $out)
		{
			my ($rp, $o, $id) = split /\|/, $line;
			die "consumer $p got a row of partition $rp" if $rp != $p;
			$order_bad[$p]++ if $o < $next[$p];
			$next[$p] = $o + 1;
			$dups++ if exists $received{$id};
			$received{$id} = "$p|$o";
			$count[$p]++;
			$got++;
		}
	}
	return $got;
}

my ($pgb_out, $pgb_err) = ('', '');
my $pgb = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '4', '-j', '2', '-T', $duration,
		'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$pgb_out, '2>', \$pgb_err);

my $t_end = time() + $duration;
consume_round() while time() < $t_end;
my $pgb_ok = $pgb->finish;
ok($pgb_ok, 'pgbench producers ran without errors')
  or diag("pgbench stderr: $pgb_err");
my ($txns) = $pgb_out =~ /number of transactions actually processed: (\d+)/;
cmp_ok($txns // 0, '>', 100, 'producers ran a fair number of transactions');

# drain: once no transaction is open, an empty round means the end
my $drain_rounds = 0;
while (consume_round() > 0)
{
	$drain_rounds++;
	last if $drain_rounds > 100000;
}
$_->quit for @cons;
note "consumer rounds: $round, received per partition: @count";

# the whole committed set, from the heap table written with the records
my %committed;
for my $line (split /\n/,
	$node->safe_psql('postgres', 'SELECT id, partition, "offset" FROM committed_ids'))
{
	my ($id, $p, $o) = split /\|/, $line;
	$committed{$id} = "$p|$o";
}
cmp_ok(scalar(keys %committed), '>', 200, 'a fair number of records were committed');
cmp_ok(scalar(grep { $_ > 0 } @count), '==', $nparts, 'every partition received records');

my @missing = grep { !exists $received{$_} } keys %committed;
my @extra = grep { !exists $committed{$_} } keys %received;
my @moved = grep { exists $received{$_} && $received{$_} ne $committed{$_} } keys %committed;
is(scalar(@missing), 0, 'the consumers missed no committed record')
  or diag('missing ids (partition|offset): '
	  . join(', ', map { "$_ ($committed{$_})" } (sort { $a <=> $b } @missing)[0 .. ($#missing < 9 ? $#missing : 9)]));
is(scalar(@extra), 0, 'the consumers received no rolled-back record')
  or diag('extra ids: ' . join(', ', (sort { $a <=> $b } @extra)[0 .. ($#extra < 9 ? $#extra : 9)]));
is($dups, 0, 'no record was received twice');
is(scalar(@moved), 0, 'every record was received at the partition/offset produce reported');
is(join(',', @order_bad), join(',', (0) x $nparts),
	'each consumer received strictly increasing offsets');

# the consumers stopped at the end of each log
for my $p (0 .. $nparts - 1)
{
	my ($leo, $stable) = split /\|/,
	  $node->safe_psql('postgres',
		"SELECT log_end_offset, stable_offset FROM eventlog.partitions WHERE topic = 's' AND partition = $p");
	is($stable, $leo, "partition $p: nothing in progress at the end");
	cmp_ok($next[$p], '<=', $leo, "partition $p: consumer position is within the log");
	is($node->safe_psql('postgres', "SELECT count(*) FROM eventlog.fetch('s', $p, $next[$p], 1000)"),
		'0', "partition $p: nothing left to fetch after the consumer's position");
}

$node->stop;
done_testing();
