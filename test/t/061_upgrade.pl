# pg_eventlog: upgrade in place from the previous release (docs/operations.md,
# "Upgrading").
#
# The previous release (EVENTLOG_PREV_RELEASE, default 9150894 = 0.1; see
# test/perl/EventlogRelease.pm) is built from the clone's git history and
# installed into a copy of the PostgreSQL installation.  A cluster running
# it is filled with every kind of state (populate_sql), stopped, started
# again on the current build, and updated with ALTER EXTENSION pg_eventlog
# UPDATE.  Then: every record reads back identical, offsets continue,
# groups poll on from their committed offsets, views are current and equal
# to a recomputation, the slot decodes the new records, pg_dump works; and
# the updated extension's objects are those of a fresh install of the
# current version, so an incomplete upgrade script fails here.
#
# Skipped while the current default_version is the previous release's (no
# upgrade exists yet), or without the clone's git history.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;
use EventlogRelease;

my $repo = release_repo();
plan skip_all => 'no git history of the clone (set EVENTLOG_REPO to the clone)'
  unless defined $repo;
my $prev = prev_release();
my $prev_version = control_version(git_in($repo, 'show', "$prev:pg_eventlog.control"));
my $cur_version = control_version(slurp_file("$FindBin::RealBin/../../pg_eventlog.control"));
plan skip_all =>
  "default_version '$cur_version' is that of the previous release $prev: nothing to upgrade until the version is bumped"
  if $cur_version eq $prev_version;

my $pg_config = $ENV{PG_CONFIG} || 'pg_config';
my $olddir = PostgreSQL::Test::Utils::tempdir('prev_release');
my $old_install = build_release($repo, $prev, $pg_config, $olddir);
note("release $prev ($prev_version) installed under $old_install");

my $node = PostgreSQL::Test::Cluster->new('upgrade', install_path => $old_install);
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance = off
});
$node->start;
$node->safe_psql('postgres', populate_sql());
is($node->safe_psql('postgres',
	q{SELECT extversion FROM pg_extension WHERE extname = 'pg_eventlog'}),
	$prev_version, "the previous release $prev_version is installed");
my $before = capture_state($node, 'postgres');
like($before->{segments}, qr/^orders\|0\|[2-9]\d*\|0$/m, 'the JSON topic has several segments');
like($before->{segments}, qr/^state\|\d\|\d+\|[1-9]\d*$/m, 'the compacted topic has compacted segments');
$node->stop;

# the current build: same data directory, the installation under test
$node->{_install_path} = undef;
$node->start;
is($node->safe_psql('postgres', 'SELECT count(*) FROM eventlog_topics.orders'),
	(split /\|/, (split /\n/, $before->{records})[0])[1],
	'the current library reads the previous release\'s data before the update');
# before the update the library works on the old catalog: a view whose
# reducer is named the old way refreshes (nothing new to apply)
is($node->safe_psql('postgres',
	q{SELECT eventlog.refresh_view('v_fold'), count(last_error) FROM eventlog.view_def WHERE view_name = 'v_fold'}),
	'0|0', 'a view with a reducer refreshes before the update');
$node->safe_psql('postgres', 'ALTER EXTENSION pg_eventlog UPDATE');
is($node->safe_psql('postgres',
	q{SELECT extversion FROM pg_extension WHERE extname = 'pg_eventlog'}),
	$cur_version, "ALTER EXTENSION UPDATE reaches $cur_version");

check_state($node, 'postgres', $before, 'after the update');

# the same after a restart (nothing lived only in memory)
$node->restart;
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog.fetch('orders', 0, 0, 10)}),
	'10', 'reads after a restart');

# the updated extension equals a fresh install
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION pg_eventlog');
same_extension_objects($node, 'postgres', 'fresh',
	'the updated extension\'s objects equal a fresh install\'s');

$node->stop;
done_testing();
