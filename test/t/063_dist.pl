# pg_eventlog: `make dist` makes a source tarball of the committed tree that
# builds with PGXS (CHANGELOG.md, docs/install.md).
#
# The tarball is made from the clone (EVENTLOG_REPO, as for TAP 061) into a
# scratch directory, unpacked elsewhere and built there against the same
# pg_config; it holds the control file, every script the Makefile installs,
# the sources and the docs, and nothing of git's.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogRelease;

my $repo = release_repo();
plan skip_all => 'no git history of the clone (set EVENTLOG_REPO to the clone)'
  unless defined $repo;
my $pg_config = $ENV{PG_CONFIG} || 'pg_config';
my $version = control_version(git_in($repo, 'show', 'HEAD:pg_eventlog.control'));
my $dir = PostgreSQL::Test::Utils::tempdir('dist');

# git may refuse a clone of another OS user without safe.directory
local $ENV{GIT_CONFIG_COUNT} = 1;
local $ENV{GIT_CONFIG_KEY_0} = 'safe.directory';
local $ENV{GIT_CONFIG_VALUE_0} = '*';
my ($out, $err) = ('', '');
ok( IPC::Run::run(
		[ 'make', '-s', '-C', $repo, 'dist', "PG_CONFIG=$pg_config", "DIST_DIR=$dir" ],
		'>', \$out, '2>', \$err),
	'make dist succeeds') or diag($err);
my $tarball = "$dir/pg_eventlog-$version.tar.gz";
ok(-s $tarball, "it writes pg_eventlog-$version.tar.gz");
like($out, qr/\Q$tarball\E/, 'and names it');

ok(IPC::Run::run([ 'tar', '-C', $dir, '-xzf', $tarball ], '2>', \$err),
	'the tarball unpacks') or diag($err);
my $src = "$dir/pg_eventlog-$version";
ok(-d $src, "into one directory pg_eventlog-$version");
ok(!-e "$src/.git", 'without git metadata');
for my $f ('pg_eventlog.control', 'Makefile', 'LICENSE', 'README.md', 'CHANGELOG.md',
	'docs/operations.md', 'src/storage/elpage.c')
{
	ok(-f "$src/$f", "it holds $f");
}
my $data = slurp_file("$src/Makefile") =~ /^DATA\s*=\s*(.*)$/m ? $1 : '';
ok($data ne '', 'the Makefile names the scripts it installs');
ok(-f "$src/$_", "it holds the script $_") for split ' ', $data;

($out, $err) = ('', '');
my $built = IPC::Run::run(
	[ 'make', '-C', $src, '-j2', "PG_CONFIG=$pg_config", 'with_llvm=no', 'WERROR=1' ],
	'>', \$out, '2>&1');
ok($built, 'it builds with PGXS (-Werror)') or diag($out);
ok(-f "$src/pg_eventlog.so", 'into pg_eventlog.so');

done_testing();
