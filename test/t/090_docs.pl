# pg_eventlog: the examples of the README and of docs/ run as pasted.
#
# A fenced block preceded by a line "<!-- doctest -->" is runnable:
#   ```sql   is fed to psql (as a user pasting it into psql would: command
#            tags shown, errors and notices in the output, no stop on error)
#   ```sh    is run by bash with PGHOST, PGPORT, PGUSER and PGDATABASE set
#            and PostgreSQL's bindir first in PATH
# If the next fenced block (nothing but blank lines between) is ```text, it
# is the output the reader is told to expect, and it must match exactly,
# except that "..." in an expected line matches any run of characters, and
# a "psql:<stdin>:N: " prefix of error lines is dropped.  A runnable block
# with no output block must not print an ERROR.
#
# Each file's blocks run in order in a database of their own (README.md in
# "tour", created empty; docs/x-y.md in "x_y", with the extension), on one
# cluster started like
# the demo's (wal_level = logical, wal2json allowed) except that the
# background worker is off, so that what run_maintenance() and the views
# report does not depend on when its passes happen; in the order of @files
# below.  Roles are cluster-wide, so a later file sees an earlier file's
# roles.  Set EVENTLOG_DOCS_VERBOSE=1 to print every block's output.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $root = "$FindBin::RealBin/../..";
my @files = qw(README.md docs/install.md docs/reference.md docs/producing.md docs/consuming.md
  docs/retention-and-compaction.md docs/views.md docs/logical-decoding.md
  docs/security.md docs/troubleshooting.md);

my $node = PostgreSQL::Test::Cluster->new('docs');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_eventlog'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
eventlog.maintenance = off
});
$node->start;
my ($ret) = $node->psql('postgres', 'SHOW output_plugin_libraries');
if ($ret == 0)
{
	$node->append_conf('postgresql.conf',
		q{output_plugin_libraries = 'pgoutput, test_decoding, wal2json'});
	$node->reload;
}

my $bindir = $node->config_data('--bindir');

# The runnable blocks of one file: [kind, code, expected-or-undef, line].
sub blocks_of
{
	my ($path) = @_;
	open(my $fh, '<', $path) or die "cannot open $path: $!";
	my @lines = <$fh>;
	close($fh);
	my @blocks;
	my $i = 0;
	my $fence = sub {    # reads a fenced block at $i: (lang, text) or ()
		return () unless defined $lines[$i] && $lines[$i] =~ /^```(\w*)\s*$/;
		my $lang = $1;
		my $text = '';
		$i++;
		while (defined $lines[$i] && $lines[$i] !~ /^```\s*$/)
		{
			$text .= $lines[ $i++ ];
		}
		die "$path: unterminated block" unless defined $lines[$i];
		$i++;
		return ($lang, $text);
	};
	while ($i < @lines)
	{
		if ($lines[$i] =~ /^<!-- doctest -->\s*$/)
		{
			my $at = $i + 1;
			$i++;
			my ($lang, $code) = $fence->();
			die "$path:$at: doctest marker not followed by a sql or sh block"
			  unless defined $lang && ($lang eq 'sql' || $lang eq 'sh');
			my $save = $i;
			$i++ while defined $lines[$i] && $lines[$i] =~ /^\s*$/;
			my ($olang, $out) = $fence->();
			if (!defined $olang || $olang ne 'text')
			{
				$i = $save;
				$out = undef;
			}
			push @blocks, [ $lang, $code, $out, $at ];
			next;
		}
		$i++;
	}
	return @blocks;
}

# Does the output match the expected text ("..." = anything in a line)?
sub matches
{
	my ($got, $want) = @_;
	my @g = split /\n/, $got, -1;
	my @w = split /\n/, $want, -1;
	s/\s+$// for @g, @w;
	pop @g while @g && $g[-1] eq '';
	pop @w while @w && $w[-1] eq '';
	return 0 unless @g == @w;
	for my $k (0 .. $#w)
	{
		my $re = join '.*', map { quotemeta } split /\.\.\./, $w[$k], -1;
		return 0 unless $g[$k] =~ /^$re$/;
	}
	return 1;
}

my $total = 0;
for my $file (@files)
{
	my $path = "$root/$file";
	ok(-f $path, "$file exists") or next;
	my @blocks = blocks_of($path);
	my $db = $file eq 'README.md' ? 'tour' : ($file =~ s{^docs/|\.md$}{}gr =~ s/-/_/gr);
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	# A guide's examples start in a database with the extension (each guide
	# says so); the README's tour creates it itself.
	$node->safe_psql($db, 'CREATE EXTENSION pg_eventlog')
	  unless $file eq 'README.md' || $file eq 'docs/install.md';
	for my $b (@blocks)
	{
		my ($lang, $code, $want, $line) = @$b;
		my ($out, $err) = ('', '');
		local $ENV{PGHOST}     = $node->host;
		local $ENV{PGPORT}     = $node->port;
		local $ENV{PGDATABASE} = $db;
		local $ENV{PGUSER}     = $ENV{USER} // scalar getpwuid($<);
		local $ENV{PATH}       = "$bindir:$ENV{PATH}";
		my @cmd =
		  $lang eq 'sql'
		  ? ("$bindir/psql", '-X', '-d', $db)
		  : ('bash', '-e', '-o', 'pipefail');
		my $ran = IPC::Run::run(\@cmd, '<', \$code, '>&', \$out,
			IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
		$out =~ s/^psql:<stdin>:\d+: //mg;
		diag("$file:$line output:\n$out") if $ENV{EVENTLOG_DOCS_VERBOSE};
		if (defined $want)
		{
			ok(matches($out, $want), "$file:$line: output as shown")
			  or diag("got:\n$out\nexpected:\n$want");
		}
		else
		{
			ok($out !~ /^(ERROR|FATAL|PANIC):/m && ($lang eq 'sql' || $ran),
				"$file:$line: runs without error")
			  or diag("got:\n$out");
		}
		$total++;
	}
}
cmp_ok($total, '>=', 20, 'the docs have runnable examples');

$node->stop;
done_testing();
