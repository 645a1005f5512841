# pg_eventlog: pg_upgrade (PostgreSQL 15 to 15) of a populated cluster,
# copying (the default) and with --link (docs/operations.md, "PostgreSQL:
# pg_upgrade").
#
# A cluster of the current build is filled by populate_sql() (every kind of
# state; test/perl/EventlogRelease.pm).  pg_upgrade moves it to a new
# cluster, first copying (the old cluster stays usable), then with --link
# from the same old cluster; each new cluster gets ALTER EXTENSION
# pg_eventlog UPDATE and the checks of check_state().  PostgreSQL 15's
# pg_upgrade carries no replication slots, so the slot check uses a slot
# made after the upgrade.  (pg_upgrade refused every cluster with the
# extension while eventlog.view_def.reducer was a regprocedure column; an
# extension at 0.1 is updated to the current version before pg_upgrade,
# which TAP 061 covers.)
use strict;
use warnings;

use Cwd;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;
use EventlogRelease;

my $pg_config = $ENV{PG_CONFIG} || 'pg_config';
my $cur_version = control_version(slurp_file("$FindBin::RealBin/../../pg_eventlog.control"));

my $conf = qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance = off
};
my $old = PostgreSQL::Test::Cluster->new('pgu_old');
$old->init(allows_streaming => 'logical');
$old->append_conf('postgresql.conf', $conf);
$old->start;
$old->safe_psql('postgres', populate_sql());
my $before = capture_state($old, 'postgres');
# PostgreSQL 15's pg_upgrade does not carry slots: drop it, as an operator
# would before the upgrade
$old->safe_psql('postgres', q{SELECT pg_drop_replication_slot('upg_slot')});
$old->stop;

my $bindir = `$pg_config --bindir`;
chomp $bindir;

# PostgreSQL 15's pg_upgrade copies by default (it has no --copy option)
for my $m ([ '--copy', [] ], [ '--link', ['--link'] ])
{
	my ($mode, $flags) = @$m;
	my $new = PostgreSQL::Test::Cluster->new("pgu_new_" . substr($mode, 2));
	$new->init(allows_streaming => 'logical');
	$new->append_conf('postgresql.conf', $conf);

	# pg_upgrade writes its logs into the current directory's tree
	my $cwd = getcwd();
	chdir($new->basedir) or die;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[
			'pg_upgrade', '--no-sync', @$flags,
			'-d', $old->data_dir, '-D', $new->data_dir,
			'-b', $bindir, '-B', $bindir,
			'-p', $old->port, '-P', $new->port,
			'-U', scalar(getpwuid($<))
		],
		'>', \$out, '2>', \$err);
	chdir($cwd) or die;
	ok($ok, "pg_upgrade $mode succeeds") or diag("$out\n$err");
	next unless $ok;

	$new->start;
	$new->safe_psql('postgres', 'ALTER EXTENSION pg_eventlog UPDATE');
	is($new->safe_psql('postgres',
		q{SELECT extversion FROM pg_extension WHERE extname = 'pg_eventlog'}),
		$cur_version, "pg_upgrade $mode: the extension is at $cur_version");
	check_state($new, 'postgres', $before, "pg_upgrade $mode", new_slot => 1);
	$new->safe_psql('postgres', 'CREATE DATABASE fresh');
	$new->safe_psql('fresh', 'CREATE EXTENSION pg_eventlog');
	same_extension_objects($new, 'postgres', 'fresh',
		"pg_upgrade $mode: the extension's objects equal a fresh install's");
	$new->stop;
}

done_testing();
