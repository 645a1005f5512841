# Helpers shared by pg_eventlog's TAP tests (test/t/*.pl), which load it
# with
#   use FindBin;
#   use lib "$FindBin::RealBin/../perl";
#   use EventlogTest;
# so that it is found however prove is started.  Waits are bounded by
# PostgreSQL::Test::Utils' timeout_default (PG_TEST_TIMEOUT_DEFAULT), like
# poll_query_until, never by a fixed number of seconds of our own.
package EventlogTest;

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

use Exporter 'import';
our @EXPORT =
  qw(fetch_partition produce_and_record_sql wait_until block_size postmaster_pid
  savepoint_producer_script start_savepoint_producers crash_node restart_node
  batch_produce_sql start_held_reader release_held_reader);

# Call $cond until it returns true, every 50 ms, for at most timeout_default
# seconds (the same bound as poll_query_until).  Returns whether it did.
# For conditions no query can test: processes gone, files grown, a server
# that starts again.
sub wait_until
{
	my ($cond) = @_;
	my $attempts = 20 * $PostgreSQL::Test::Utils::timeout_default;

	for (1 .. $attempts)
	{
		return 1 if $cond->();
		usleep(50_000);
	}
	return $cond->() ? 1 : 0;
}

# The server's page size (a build option, 8192 by default).
sub block_size
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SHOW block_size');
}

# The pid of the running postmaster, from its postmaster.pid (the first line),
# without reaching into the node object.
sub postmaster_pid
{
	my ($node) = @_;
	my $file = $node->data_dir . '/postmaster.pid';
	open(my $fh, '<', $file) or die "cannot open $file: $!";
	my $pid = <$fh>;
	close($fh);
	chomp $pid;
	return $pid;
}

# Direct children of a pid, from /proc.
sub children_of
{
	my ($ppid) = @_;
	my @kids;
	opendir(my $dh, '/proc') or die "cannot open /proc: $!";
	for my $pid (grep { /^\d+$/ } readdir($dh))
	{
		open(my $fh, '<', "/proc/$pid/stat") or next;
		my $stat = <$fh>;
		close($fh);
		next unless defined $stat;
		# pid (comm) state ppid ...; comm may contain spaces and parens
		push @kids, $pid if $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $ppid;
	}
	closedir($dh);
	return @kids;
}

# SIGKILL the postmaster and then each of its children (as in a power loss,
# nobody gets to write anything after the kill), and wait until they are
# all gone, so that a new postmaster can start (a start fails while they
# hold the shared memory; restart_node() retries for zombies not yet
# reaped).  Returns how many children were killed.
sub crash_node
{
	my ($node) = @_;
	my $pm = postmaster_pid($node);
	my @kids = children_of($pm);
	$node->kill9;
	kill 'KILL', @kids;
	wait_until(sub { !grep { -e "/proc/$_" } ($pm, @kids) })
	  or Test::More::diag("processes of postmaster $pm still present after SIGKILL");
	return scalar(@kids);
}

# Start $node again after a crash; a start can fail while the killed
# server's shared memory or socket is still being released, so retry (for
# at most timeout_default seconds) until it succeeds, else bail out.
sub restart_node
{
	my ($node) = @_;
	wait_until(
		sub {
			$node->{_pid} = undef;	# a failed start may have read a stale pid file
			return $node->start(fail_ok => 1);
		}) or Test::More::BAIL_OUT('node did not restart after the crash');
	return 1;
}

# Every record of one partition as fetch() returns it, read in chunks of
# $batch records (chunk ends fall in the middle of pages), as text lines
# "partition|offset|ts|key|value|headers".  $db defaults to postgres.
sub fetch_partition
{
	my ($node, $topic, $p, $batch, $db) = @_;
	my ($rows, $from) = ('', 0);
	$db //= 'postgres';
	for (;;)
	{
		my $chunk = $node->safe_psql($db,
			"SELECT partition, \"offset\", ts, key, value, headers"
			  . " FROM eventlog.fetch('$topic', $p, $from, $batch)");
		last if $chunk eq '';
		$rows .= "$chunk\n";
		my @l = split /\n/, $chunk;
		my (undef, $last) = split /\|/, $l[-1];
		$from = $last + 1;
	}
	return $rows;
}

# pgbench script lines that produce :n records to $topic, every other one
# keyed (keys 'k0'..'k<$nkeys-1>'), through INSERT ... RETURNING on the
# topic relation (:how = 1) or through produce() (otherwise), and record
# each record's (id, partition, offset) in table committed_ids in the same
# transaction.  Needs a sequence "ids" and
#   committed_ids (id bigint PRIMARY KEY, partition int, "offset" bigint).
sub produce_and_record_sql
{
	my ($topic, $nkeys) = @_;
	return qq{
\\if :how = 1
WITH p AS (
  INSERT INTO eventlog_topics."$topic" (key, value, headers)
  SELECT CASE WHEN i % 2 = 0 THEN 'k' || (i % $nkeys) END,
         jsonb_build_object('id', i, 'pad', repeat('x', 40)), '{"src": "insert"}'
    FROM (SELECT nextval('ids') AS i FROM generate_series(1, :n)) g
  RETURNING partition, "offset", (value->>'id')::bigint AS id)
INSERT INTO committed_ids (id, partition, "offset")
SELECT id, partition, "offset" FROM p;
\\else
INSERT INTO committed_ids (id, partition, "offset")
SELECT i.id, r.partition, r."offset"
  FROM (SELECT nextval('ids') AS id FROM generate_series(1, :n)) i,
       LATERAL eventlog.produce('$topic', jsonb_build_object('id', i.id),
                                key => CASE WHEN i.id % 2 = 0 THEN 'k' || (i.id % $nkeys) END) r;
\\endif
};
}

# pgbench lines that produce :n records to $topic with ids :b * 10 + g (:b
# from sequence "ids"), every other one keyed ('k' || g), through INSERT
# with a header and :pad bytes of padding (:how = 1) or through produce().
sub batch_produce_sql
{
	my ($topic) = @_;
	return qq{
SELECT nextval('ids') AS b \\gset
\\if :how = 1
INSERT INTO eventlog_topics.$topic (key, value, headers)
SELECT CASE WHEN g % 2 = 0 THEN 'k' || g END,
       jsonb_build_object('id', :b * 10 + g, 'pad', repeat('x', :pad)), '{"src": "insert"}'
  FROM generate_series(1, :n) g;
\\else
SELECT count(*) FROM generate_series(1, :n) g,
       LATERAL eventlog.produce('$topic', jsonb_build_object('id', :b * 10 + g),
                                key => CASE WHEN g % 2 = 0 THEN 'k' || g END) r;
\\endif
};
}

# A pgbench script of producer transactions into file $file: each runs the
# pgbench lines $produce (which may use :n records, :how and :pad) once, or
# three times with a savepoint after the first that is rolled back or
# released, and then commits (70%) or rolls back (30%).  $after: pgbench
# lines run after each transaction (a pause, say).
sub savepoint_producer_script
{
	my ($file, $produce, $after) = @_;
	$after //= '';
	PostgreSQL::Test::Utils::append_to_file(
		$file, qq{
\\set n random(1, 5)
\\set how random(1, 2)
\\set pad random(1, 60)
\\set sp random(1, 100)
\\set fate random(1, 100)
BEGIN;
$produce
\\if :sp <= 40
SAVEPOINT s;
$produce
\\if :sp <= 20
ROLLBACK TO SAVEPOINT s;
\\else
RELEASE SAVEPOINT s;
\\endif
$produce
\\endif
\\if :fate <= 30
ROLLBACK;
\\else
COMMIT;
\\endif
$after});
	return $file;
}

# Start pgbench (producers) with script $file against database postgres of $node: 4
# clients, 2 threads, $seconds long, its output into the scalars $out and
# $err refer to.  Returns the IPC::Run harness.
sub start_savepoint_producers
{
	my ($node, $file, $seconds, $out, $err) = @_;
	return IPC::Run::start(
		[
			'pgbench', '-n', '-c', '4', '-j', '2', '-T', $seconds,
			'-f', $file, '-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', $out, '2>', $err);
}

# A reader on $node (a hot standby, say) that opens a REPEATABLE READ
# transaction, runs $before (SQL printing a line that matches $ready), then
# holds its snapshot until release_held_reader() creates a file named $name
# in the data directory, then runs $after and commits.  Returns a handle for
# release_held_reader(), which returns what the reader printed on stdout and
# stderr (a conflict with recovery shows in the latter).
sub start_held_reader
{
	my ($node, $name, $before, $ready, $after) = @_;
	my %r = (go => $node->data_dir . "/$name", in => '', out => '', err => '');

	$r{run} = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-v', 'ON_ERROR_STOP=0' ],
		'<', \$r{in}, '>', \$r{out}, '2>', \$r{err});
	$r{in} .= qq{BEGIN ISOLATION LEVEL REPEATABLE READ;
$before
DO \$\$ BEGIN
  WHILE NOT EXISTS (SELECT 1 FROM pg_ls_dir('.') f WHERE f = '$name') LOOP
    PERFORM pg_sleep(0.05);
  END LOOP;
END \$\$;
$after
COMMIT;
\\q
};
	$r{run}->pump until $r{out} =~ $ready;
	return \%r;
}

sub release_held_reader
{
	my ($r) = @_;

	open(my $fh, '>', $r->{go}) or die "could not create $r->{go}: $!";
	close($fh);
	$r->{run}->finish;
	return ($r->{out}, $r->{err});
}

1;

