# pg_eventlog: pg_upgrade (PostgreSQL 15 to 15) of a populated cluster, with
# copying (the default) and with --link (docs/operations.md, "Upgrading").
#
# The old cluster runs the previous release (EVENTLOG_PREV_RELEASE, see
# test/perl/EventlogRelease.pm) once the current default_version differs
# from it, else the current build; it is filled by populate_sql().
# pg_upgrade moves it to a new cluster of the current build, first with
# copying (the old cluster stays usable), then with --link from the same old
# cluster; each new cluster gets ALTER EXTENSION pg_eventlog UPDATE and the
# checks of check_state().  PostgreSQL 15's pg_upgrade carries no
# replication slots, so the slot check uses a slot made after the upgrade.
#
# Today pg_upgrade refuses such a cluster (eventlog.view_def.reducer is a
# regprocedure column): that step is a TODO test, and the test checks that
# this is the only reason.
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
my $repo = release_repo();
my $prev = prev_release();
my ($old_install, $old_version);
if (defined $repo)
{
	$old_version = control_version(git_in($repo, 'show', "$prev:pg_eventlog.control"));
	if ($old_version ne $cur_version)
	{
		$old_install = build_release($repo, $prev, $pg_config,
			PostgreSQL::Test::Utils::tempdir('prev_release'));
		note("old cluster: release $prev ($old_version)");
	}
}
note('old cluster: the current build') unless defined $old_install;

my $conf = qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance = off
};
my $old = PostgreSQL::Test::Cluster->new('pgu_old',
	defined $old_install ? (install_path => $old_install) : ());
$old->init(allows_streaming => 'logical');
$old->append_conf('postgresql.conf', $conf);
$old->start;
$old->safe_psql('postgres', populate_sql());
my $before = capture_state($old, 'postgres');
# PostgreSQL 15's pg_upgrade does not carry slots: drop it, as an operator
# would before the upgrade
$old->safe_psql('postgres', q{SELECT pg_drop_replication_slot('upg_slot')});
$old->stop;

my $old_bindir = defined $old_install ? "$old_install/bin" : do {
	my $b = `$pg_config --bindir`;
	chomp $b;
	$b;
};
my $new_bindir = `$pg_config --bindir`;
chomp $new_bindir;

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
			'-b', $old_bindir, '-B', $new_bindir,
			'-p', $old->port, '-P', $new->port,
			'-U', scalar(getpwuid($<))
		],
		'>', \$out, '2>', \$err);
	chdir($cwd) or die;
	{
		# Known failure (docs/operations.md, "pg_upgrade"): pg_upgrade
		# refuses every cluster with the extension installed, since
		# eventlog.view_def.reducer is a regprocedure column (function oids
		# are not kept by pg_upgrade).  Once the catalog keeps no reg* type
		# but regclass, regrole and regtype, this passes and the checks run.
		local $TODO = 'pg_upgrade refuses eventlog.view_def.reducer (regprocedure)';
		ok($ok, "pg_upgrade $mode succeeds");
	}
	if (!$ok)
	{
		like("$out\n$err", qr/reg\* data types in user tables/,
			"pg_upgrade $mode fails only for the known reason");
		my ($list) = glob($new->data_dir . '/pg_upgrade_output.d/*/tables_using_reg.txt');
		is(defined $list ? join(' ', slurp_file($list) =~ /^\s+(\S+)$/mg) : '',
			'eventlog.view_def.reducer', "pg_upgrade $mode: the one reg* column is view_def.reducer");
		next;
	}

	$new->start;
	$new->safe_psql('postgres', 'ALTER EXTENSION pg_eventlog UPDATE');
	is($new->safe_psql('postgres',
		q{SELECT extversion FROM pg_extension WHERE extname = 'pg_eventlog'}),
		$cur_version, "pg_upgrade $mode: the extension is at $cur_version");
	check_state($new, 'postgres', $before, "pg_upgrade $mode", new_slot => 1);
	$new->stop;
}

done_testing();
