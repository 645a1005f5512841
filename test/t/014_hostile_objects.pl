
# pg_eventlog: hostile objects and statements (issue 7).  sql/hostile.sql
# attaches every kind of user-defined object to topics and runs every kind
# of statement that could reach a topic or segment indirectly; pg_regress
# checks its messages.  Here the same script runs on a cluster of its own,
# and afterwards:
#   - the server never restarted (no backend crashed) and its log shows no
#     crash;
#   - every topic reads back exactly, through SQL and fetch(), before and
#     after a restart;
#   - pg_dump succeeds, and a pg_restore of it holds the same records at
#     the same offsets.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $node = PostgreSQL::Test::Cluster->new('hostile');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_eventlog'\n");
$node->start;

my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION pg_eventlog');

my $script = "$FindBin::RealBin/../../sql/hostile.sql";
ok(-f $script, 'sql/hostile.sql is there');
my ($out, $err) = ('', '');
my $ok = IPC::Run::run(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('src'), '-f', $script ],
	'>', \$out, '2>', \$err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default * 3));
ok($ok, 'psql ran the whole hostile script without losing its connection')
  or diag($err);
unlike($err, qr/server closed the connection|connection to server was lost/,
	'no statement of the script took its backend down');
like($out, qr/^ +30 \| +0 \| +0$/m,
	'the topic written first reads back exactly (30 records, none unexpected, none missing)');
like($out, qr/server_never_restarted\s*\n-+\n t$/m, 'the script saw no restart');

is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$started, 'the postmaster never restarted');

# Every topic, read through SQL and through fetch(), as text lines.
sub topics
{
	my ($db) = @_;
	return split /\n/,
	  $node->safe_psql($db, 'SELECT topic FROM eventlog.topics ORDER BY topic');
}

sub contents
{
	my ($db) = @_;
	my %c;
	for my $t (topics($db))
	{
		$c{$t}{sql} = $node->safe_psql($db,
			qq{SELECT "partition", "offset", ts, key, value, headers
				 FROM eventlog_topics."$t" ORDER BY 1, 2});
		my $parts = $node->safe_psql($db,
			"SELECT partitions FROM eventlog.topics WHERE topic = '$t'");
		$c{$t}{fetch} = join '',
		  map { EventlogTest::fetch_partition($node, $t, $_, 7, $db) } 0 .. $parts - 1;
		$c{$t}{log_end} = $node->safe_psql($db,
			qq{SELECT string_agg("partition" || ':' || log_end_offset, ' ' ORDER BY "partition")
				 FROM eventlog.partitions WHERE topic = '$t'});
	}
	return \%c;
}

my $before = contents('src');
is_deeply([ sort keys %$before ], [qw(hx hx_idx hx_trig)],
	'the script leaves its three topics');
for my $t (sort keys %$before)
{
	my $n = () = $before->{$t}{sql} =~ /\n/g;
	ok($before->{$t}{sql} ne '', "topic $t holds records");
	my $fetched = $before->{$t}{fetch};
	chomp $fetched;
	is($fetched, $before->{$t}{sql}, "topic $t: fetch() and SQL agree");
}

$node->restart;
is_deeply(contents('src'), $before, 'every topic reads back the same after a restart');

# pg_dump and a restore of everything the script left behind
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $dump = "$tmp/hostile.dump";
($out, $err) = ('', '');
$ok = IPC::Run::run([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
	'>', \$out, '2>', \$err);
ok($ok, 'pg_dump succeeds') or diag($err);

$node->safe_psql('postgres', 'CREATE DATABASE dst');
($out, $err) = ('', '');
$ok = IPC::Run::run([ 'pg_restore', '-d', $node->connstr('dst'), $dump ],
	'>', \$out, '2>', \$err);
ok($ok, 'pg_restore of the dump succeeds') or diag($err);

my $after = contents('dst');
for my $t (sort keys %$before)
{
	is($after->{$t}{sql}, $before->{$t}{sql}, "restored topic $t holds the same records at the same offsets");
	is($after->{$t}{log_end}, $before->{$t}{log_end}, "restored topic $t has the same log end offsets");
}
is($node->safe_psql('dst', q{SELECT count(*) FROM pg_trigger t
	JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relname = 'hx_trig' AND NOT t.tgisinternal}),
	'7', 'the restored topic has its triggers');

my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* was terminated|PANIC/,
	'the server log shows no crash');

done_testing();
