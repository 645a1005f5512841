# Helpers shared by the benchmark scripts that run.sh starts (retention.pl,
# views.pl, compaction.pl): the settings run.sh passes in BENCH_*
# variables, connections, one-value queries, medians and percentiles, and
# switching the maintenance worker.  Loaded with
#   use FindBin;
#   use lib $FindBin::RealBin;
#   use BenchCommon;
package BenchCommon;

use strict;
use warnings;
use DBI;
use DBD::Pg;
use Time::HiRes qw(time sleep);

use Exporter 'import';
our @EXPORT = qw(bench_settings db one median percentile set_maintenance);

my %C;
my $default;

# The BENCH_<key> variables run.sh exports, as a hash; dies naming the
# run.sh option ($mode) if one is missing.
sub bench_settings
{
	my ($mode, @keys) = @_;
	for my $k (@keys)
	{
		die "BENCH_$k not set (run test/bench/run.sh $mode)\n" unless defined $ENV{"BENCH_$k"};
		$C{$k} = $ENV{"BENCH_$k"};
	}
	return %C;
}

# A new autocommit connection to the benchmark database; the first one is
# the one one() uses.
sub db
{
	my $d = DBI->connect("dbi:Pg:dbname=$ENV{BENCH_DB};host=$ENV{BENCH_HOST};port=$ENV{BENCH_PORT}",
		'postgres', '', { RaiseError => 1, PrintError => 0, AutoCommit => 1 })
	  or die "connect: $DBI::errstr\n";
	$d->do("SET client_min_messages = warning");
	$default //= $d;
	return $d;
}

# The first column of the first row of $sql (with bind values @args).
sub one
{
	my ($sql, @args) = @_;
	my @r = $default->selectrow_array($sql, undef, @args);
	return $r[0];
}

sub median
{
	my @v = sort { $a <=> $b } @_;
	return undef unless @v;
	return @v % 2 ? $v[ $#v / 2 ] : ($v[ @v / 2 - 1 ] + $v[ @v / 2 ]) / 2;
}

# The $p-th percentile (nearest rank) of @v.
sub percentile
{
	my ($p, @v) = @_;
	@v = sort { $a <=> $b } @v;
	return $v[ int($p / 100 * $#v + 0.5) ];
}

# Switch the background maintenance worker on or off and wait (at most a
# minute) until the launcher has started or stopped this database's worker.
sub set_maintenance
{
	my ($on) = @_;
	$default->do("ALTER SYSTEM SET eventlog.maintenance = " . ($on ? 'on' : 'off'));
	$default->do("SELECT pg_reload_conf()");
	my $t = time();
	while (time() - $t < 60)
	{
		my $n = one(q{SELECT count(*) FROM pg_stat_activity
		               WHERE backend_type = 'pg_eventlog maintenance' AND datname = current_database()});
		last if ($on ? $n > 0 : $n == 0);
		sleep(0.1);
	}
	return;
}

1;
