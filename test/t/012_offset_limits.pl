# pg_eventlog: offsets near their maximum (issue 7).
#
# Offsets are below EL_MAX_OFFSET = 2^62, and a log end offset reaches at
# most that.  First a randomized run near the limit: transactions of
# produce() calls, multi-row INSERTs (with RETURNING, and buffered without),
# COPY, explicit offsets (some of them below the log end or out of range)
# and log-end markers, committed, rolled back or partly rolled back to a
# savepoint.  A model of each partition predicts which statements must fail
# and which offsets the others get.  Then: the server never restarted (a
# crash is a failure, not an error), every topic reads back exactly as
# committed with strictly increasing offsets, through SQL and fetch(), also
# after a crash restart; pg_dump and pg_restore of it work.  Last, a damaged
# page: the views that span every topic keep working, with a WARNING that
# names the topic and partition.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $MAX = 4611686018427387904;    # 2^62: fits a Perl integer exactly
my $seed = $ENV{EVENTLOG_SEED} || (time() ^ $$);
srand($seed);
note "random seed $seed (set EVENTLOG_SEED to repeat)";

my $node = PostgreSQL::Test::Cluster->new('limits');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_eventlog'\nrestart_after_crash = on\n");
$node->start;

my $start_time =
  $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

my $NPARTS = 3;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('lim', partitions => $NPARTS);
SELECT eventlog.create_topic('plain', partitions => 2);
});

# committed records: $model{p}{offset} = id; log ends as the server says
my %model;
my %end = map { $_ => 0 } 0 .. $NPARTS - 1;
my $next_id = 1;

sub server_ends
{
	my %e;
	for my $l (split /\n/,
		$node->safe_psql('postgres',
			q{SELECT "partition", log_end_offset FROM eventlog.partitions WHERE topic = 'lim'}))
	{
		my ($p, $e) = split /\|/, $l;
		$e{$p} = $e;
	}
	return %e;
}

# start every partition a little below the limit (the owner may)
for my $p (0 .. $NPARTS - 1)
{
	my $o = $MAX - 100 - int(rand(300));
	my $id = $next_id++;
	$node->safe_psql('postgres',
		qq{INSERT INTO eventlog_topics.lim ("partition", "offset", value) VALUES ($p, $o, '{"id": $id}')});
	$model{$p}{$o} = $id;
	$end{$p} = $o + 1;
}

# A random row for partition p given the running end: [p, offset|undef, id|undef]
sub random_row
{
	my ($p, $e, $explicit_ok) = @_;
	my $r = rand();
	my $id = $next_id++;
	return [ $p, undef, $id ] if !$explicit_ok || $r < 0.6;
	return [ $p, $e + int(rand(4)), $id ] if $r < 0.8;
	return [ $p, $e - 1 - int(rand(3)), $id ] if $r < 0.83;       # below the end
	return [ $p, $MAX + int(rand(3)), $id ] if $r < 0.85;         # out of range
	return [ $p, $MAX - 1, $id ] if $r < 0.855;                   # the very last
	return [ $p, $e + int(rand(4)), undef ];                      # log-end marker
}

# Simulate rows against the ends: returns (ok, offsets) and advances %$e.
sub simulate
{
	my ($rows, $e) = @_;
	my @offs;
	for my $row (@$rows)
	{
		my ($p, $o, $id) = @$row;
		if (!defined $id)
		{
			# marker: the log end becomes o + 1
			return (0) if $o < 0 || $o >= $MAX;
			$e->{$p} = $o + 1 if $o + 1 > $e->{$p};
			push @offs, $o;
			next;
		}
		if (defined $o)
		{
			return (0) if $o < 0 || $o >= $MAX || $o < $e->{$p};
			$e->{$p} = $o;
		}
		return (0) if $e->{$p} >= $MAX;
		push @offs, $e->{$p};
		$e->{$p}++;
	}
	return (1, \@offs);
}

sub sql_value { my $id = shift; defined $id ? "'{\"id\": $id}'" : 'NULL' }
sub sql_int { my $v = shift; defined $v ? $v : 'NULL' }

# One statement of a random kind over rows; returns its SQL.
sub statement_sql
{
	my ($kind, $rows) = @_;
	if ($kind eq 'produce')
	{
		return join('',
			map { "SELECT 'R', \"partition\", \"offset\", $_->[2] FROM eventlog.produce('lim', @{[sql_value($_->[2])]}, \"partition\" => $_->[0]);\n" }
			  @$rows);
	}
	if ($kind eq 'copy')
	{
		return "COPY eventlog_topics.lim (\"partition\", \"offset\", value) FROM stdin;\n"
		  . join('',
			map {
				"$_->[0]\t" . ($_->[1] // '\N') . "\t"
				  . (defined $_->[2] ? "{\"id\": $_->[2]}" : '\N') . "\n"
			} @$rows)
		  . "\\.\n";
	}
	my $sql = "INSERT INTO eventlog_topics.lim (\"partition\", \"offset\", value) VALUES "
	  . join(', ', map { "($_->[0], @{[sql_int($_->[1])]}, @{[sql_value($_->[2])]})" } @$rows);
	$sql .= " RETURNING 'R', \"partition\", \"offset\", value->>'id'" if $kind eq 'returning';
	return "$sql;\n";
}

my ($n_ok, $n_err, $n_rollback) = (0, 0, 0);
my $crashed = 0;
for my $iter (1 .. 200)
{
	last if !grep { $end{$_} < $MAX } 0 .. $NPARTS - 1;
	my $mode = rand() < 0.7 ? 'commit' : rand() < 0.6 ? 'rollback' : 'savepoint';
	my $nstmts = $mode eq 'savepoint' ? 2 : 1 + int(rand(2));
	my %sim = %end;
	my $ok = 1;
	my (@stmts, @committed);
	for my $s (1 .. $nstmts)
	{
		my @kinds = qw(produce returning buffered copy);
		my $kind = $kinds[ int(rand(@kinds)) ];
		my @rows;
		my %e = %sim;
		my @open = grep { $sim{$_} < $MAX } 0 .. $NPARTS - 1;
		for (1 .. 1 + int(rand(6)))
		{
			# mostly partitions with offsets left, sometimes a full one
			my $p = (@open && rand() < 0.9) ? $open[ int(rand(@open)) ] : int(rand($NPARTS));
			my $row = random_row($p, $e{$p}, $kind ne 'produce');
			push @rows, $row;
			my %tmp = %e;
			my ($rok) = simulate([$row], \%tmp);
			%e = %tmp if $rok;
		}
		# a COPY or INSERT routes rows grouped by partition, each in order
		my @sorted = $kind eq 'produce' ? @rows
		  : map { my $p = $_; grep { $_->[0] == $p } @rows } 0 .. $NPARTS - 1;
		my ($sok, $offs) = simulate(\@sorted, \%sim);
		push @stmts, statement_sql($kind, \@rows);
		if (!$sok) { $ok = 0; last; }
		my $keep = !($mode eq 'rollback' || ($mode eq 'savepoint' && $s == 2));
		if ($keep)
		{
			for my $i (0 .. $#sorted)
			{
				push @committed, [ $sorted[$i][0], $offs->[$i], $sorted[$i][2] ]
				  if defined $sorted[$i][2];
			}
		}
		# what produce() and RETURNING must show
		$stmts[-1] = [ $stmts[-1], $kind, \@sorted, $offs ];
	}
	my $script = "BEGIN;\n";
	for my $i (0 .. $#stmts)
	{
		my $st = ref $stmts[$i] ? $stmts[$i][0] : $stmts[$i];
		$script .= "SAVEPOINT s;\n" if $mode eq 'savepoint' && $i == 1;
		$script .= $st;
	}
	$script .= "ROLLBACK TO s;\n" if $mode eq 'savepoint' && @stmts == 2;
	$script .= $mode eq 'rollback' ? "ROLLBACK;\n" : "COMMIT;\n";

	my ($out, $err) = ('', '');
	my $ret = $node->psql('postgres', $script, stdout => \$out, stderr => \$err,
		on_error_stop => 1, timeout => $PostgreSQL::Test::Utils::timeout_default);
	if ($err =~ /server closed|terminated abnormally|connection to server/)
	{
		$crashed = 1;
		fail("iteration $iter: the server crashed: $err");
		last;
	}
	if (!$ok)
	{
		$n_err++;
		if ($ret == 0 || $err !~ /out of offsets|is out of range|below the log end/)
		{
			fail("iteration $iter: a statement that must fail did not fail cleanly (ret $ret): $err\n$script");
			last;
		}
	}
	else
	{
		if ($ret != 0)
		{
			fail("iteration $iter: a statement failed that must succeed: $err\n$script");
			last;
		}
		$mode eq 'commit' ? $n_ok++ : $n_rollback++;
		# produce() and RETURNING show exactly the predicted offsets, never NULL
		my %want;
		for my $st (grep { ref $_ && ($_->[1] eq 'produce' || $_->[1] eq 'returning') } @stmts)
		{
			my ($sql, $kind, $sorted, $offs) = @$st;
			for my $i (0 .. $#$sorted)
			{
				$want{ $sorted->[$i][2] } = "$sorted->[$i][0]|$offs->[$i]"
				  if defined $sorted->[$i][2];
			}
		}
		my %got;
		for my $l (grep { /^R\|/ } split /\n/, $out)
		{
			my (undef, $p, $o, $id) = split /\|/, $l;
			$got{$id} = "$p|$o" if $id ne '';
		}
		if (!is_deeply(\%got, \%want, "iteration $iter: offsets as predicted"))
		{
			diag($script);
			last;
		}
		for my $c (@committed)
		{
			$model{ $c->[0] }{ $c->[1] } = $c->[2];
		}
	}
	my %srv = server_ends();
	if ($ok)
	{
		# every attempted append took its offset, also when rolled back
		if (!is_deeply(\%srv, \%sim, "iteration $iter: log ends as predicted"))
		{
			diag($script);
			last;
		}
	}
	for my $p (keys %srv)
	{
		if ($srv{$p} < $end{$p} || $srv{$p} > $MAX)
		{
			fail("iteration $iter: partition $p log end $srv{$p} went back or past the maximum");
			last;
		}
	}
	%end = %srv;
}
note "transactions: $n_ok committed, $n_rollback rolled back, $n_err refused";
ok(!$crashed, 'the randomized run did not crash the server');
cmp_ok($n_err, '>', 0, 'some statements were refused');
cmp_ok($n_ok, '>', 0, 'some transactions committed');
cmp_ok((grep { $_ == $MAX } values %end), '>', 0, 'some partition reached the maximum log end');

# some records of a topic far from the limit, as a control
$node->safe_psql('postgres', q{
INSERT INTO eventlog_topics.plain (key, value) SELECT 'k' || g, jsonb_build_object('g', g) FROM generate_series(1, 500) g;
});
my $plain_rows = $node->safe_psql('postgres',
	q{SELECT partition, "offset", key, value FROM eventlog_topics.plain ORDER BY 1, 2});

sub expected_rows
{
	my @l;
	for my $p (sort { $a <=> $b } keys %model)
	{
		push @l, "$p|$_|$model{$p}{$_}" for sort { $a <=> $b } keys %{ $model{$p} };
	}
	return join("\n", @l);
}

sub check_contents
{
	my ($db, $what) = @_;
	is( $node->safe_psql($db,
			q{SELECT partition, "offset", value->>'id' FROM eventlog_topics.lim ORDER BY 1, 2}),
		expected_rows(), "$what: the topic reads back exactly as committed (SQL)");
	my $fetched = '';
	for my $p (0 .. $NPARTS - 1)
	{
		my @ids;
		my $prev = -1;
		my $increasing = 1;
		for my $l (split /\n/, $node->safe_psql($db,
				qq{SELECT "offset", value->>'id' FROM eventlog.fetch('lim', $p, 0, 1000000)}))
		{
			my ($o, $id) = split /\|/, $l;
			$increasing = 0 if $o <= $prev;
			$prev = $o;
			$fetched .= "$p|$o|$id\n";
		}
		ok($increasing, "$what: partition $p offsets strictly increase");
	}
	chomp $fetched;
	is($fetched, expected_rows(), "$what: the topic reads back exactly as committed (fetch)");
	is( $node->safe_psql($db,
			q{SELECT partition, "offset", key, value FROM eventlog_topics.plain ORDER BY 1, 2}),
		$plain_rows, "$what: the other topic reads back exactly");
}

check_contents('postgres', 'after the randomized run');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$start_time, 'the server never restarted during the randomized run');

# a crash restart keeps everything and the limit
$node->stop('immediate');
$node->start;
$start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
check_contents('postgres', 'after a crash restart');
my %after = server_ends();
for my $p (0 .. $NPARTS - 1)
{
	my @offs = sort { $a <=> $b } keys %{ $model{$p} };
	cmp_ok($after{$p}, '>', $offs[-1], "after a crash restart: partition $p log end is past its last record");
	cmp_ok($after{$p}, '<=', $MAX, "after a crash restart: partition $p log end is at most the maximum");
	my ($ret, $out, $err) = $node->psql('postgres',
		qq{SELECT "offset" FROM eventlog.produce('lim', '{"id": 0}', "partition" => $p)});
	if ($after{$p} >= $MAX)
	{
		like($err, qr/partition $p of topic "lim" is out of offsets/,
			"after a crash restart: full partition $p refuses a record");
	}
	else
	{
		is($ret, 0, "after a crash restart: partition $p takes a record");
		cmp_ok($out, '>=', $after{$p}, "after a crash restart: partition $p reuses no offset");
		$model{$p}{$out} = 0;
	}
}

# pg_dump and pg_restore
my $tmp = PostgreSQL::Test::Utils::tempdir();
my ($out, $err) = ('', '');
ok(IPC::Run::run([ 'pg_dump', '-Fc', '-f', "$tmp/lim.dump", '-d', $node->connstr('postgres') ],
		'>', \$out, '2>', \$err), 'pg_dump succeeds') or diag($err);
$node->safe_psql('postgres', 'CREATE DATABASE restored');
ok(IPC::Run::run([ 'pg_restore', '-d', $node->connstr('restored'), "$tmp/lim.dump" ],
		'>', \$out, '2>', \$err), 'pg_restore succeeds') or diag($err);
check_contents('restored', 'restored copy');
is( $node->safe_psql('restored',
		q{SELECT string_agg(log_end_offset::text, ',' ORDER BY partition) FROM eventlog.partitions WHERE topic = 'lim'}),
	$node->safe_psql('postgres',
		q{SELECT string_agg(log_end_offset::text, ',' ORDER BY partition) FROM eventlog.partitions WHERE topic = 'lim'}),
	'restored copy: the same log ends');

# A damaged page: reading that partition fails, but eventlog.partitions and
# eventlog.consumer_lag, which span every topic, keep working.
$node->safe_psql('postgres', q{
SELECT eventlog.create_topic('dmg', partitions => 2);
INSERT INTO eventlog_topics.dmg ("partition", value)
SELECT g % 2, jsonb_build_object('g', g) FROM generate_series(1, 100) g;
SELECT eventlog.seek('watch', 'dmg', 0, 0), eventlog.seek('watch', 'plain', 0, 0);
});
my $segfile = $node->data_dir . '/' . $node->safe_psql('postgres', q{
SELECT pg_relation_filepath(segrel) FROM eventlog.segment_map
 WHERE topic = 'dmg' AND partition = 0 AND base_offset IS NOT NULL ORDER BY seg_no LIMIT 1});
my $blcksz = block_size($node);
$node->stop;
open(my $fh, '+<', $segfile) or die "cannot open $segfile: $!";
binmode $fh;
# the page's special space (its magic) at the end of block 0
seek($fh, $blcksz - 48, 0) or die "seek: $!";
print $fh ("\xAB" x 48);
close $fh or die "close: $!";
$node->start;
$start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT topic, partition, log_end_offset FROM eventlog.partitions WHERE topic IN ('dmg', 'plain') ORDER BY 1, 2});
is($ret, 0, 'damaged page: eventlog.partitions still works');
is($stdout, "dmg|0|\ndmg|1|50\nplain|0|" . $node->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog_topics.plain WHERE partition = 0})
	  . "\nplain|1|" . $node->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog_topics.plain WHERE partition = 1}),
	'damaged page: NULL figures for the damaged partition, the others as before');
like($stderr, qr/WARNING:  could not read partition 0 of topic "dmg"/,
	'damaged page: a WARNING names the topic and partition');
($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT topic, partition, committed_offset, log_end_offset FROM eventlog.consumer_lag WHERE group_id = 'watch' ORDER BY 1, 2});
is($ret, 0, 'damaged page: eventlog.consumer_lag still works');
like($stdout, qr/^dmg\|0\|0\|\ndmg\|1\|\|50\nplain\|0\|0\|\d+\nplain\|1\|\|\d+$/,
	'damaged page: consumer_lag shows every partition');
($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT count(*) FROM eventlog.fetch('dmg', 0, 0)});
isnt($ret, 0, 'damaged page: reading the damaged partition fails');
like($stderr, qr/ERROR/, 'damaged page: ... with an error');
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog.fetch('dmg', 1, 0)}),
	'50', 'damaged page: the other partition of the topic reads');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$start_time, 'the server never restarted after the crash restart');

$node->stop;
done_testing();
