# pg_eventlog: monitoring with Debian's prometheus-postgres-exporter and the
# query file monitoring/pg_eventlog_queries.yaml (docs/operations.md,
# "Monitoring").
#
# The real exporter runs against a test cluster on loopback, as a role with
# pg_monitor only, and the metrics read from its HTTP endpoint carry the
# values of eventlog.stats, partitions, consumer_lag, quotas and views.
# Skipped if the exporter is not installed (.ci/run installs it).
use strict;
use warnings;

use HTTP::Tiny;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $exporter = $ENV{PROMETHEUS_POSTGRES_EXPORTER} || '/usr/bin/prometheus-postgres-exporter';
plan skip_all => "no $exporter (apt-get install prometheus-postgres-exporter)"
  unless -x $exporter;
my $queries = "$FindBin::RealBin/../../monitoring/pg_eventlog_queries.yaml";

my $node = PostgreSQL::Test::Cluster->new('exporter');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
eventlog.maintenance = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_eventlog;
CREATE ROLE metrics LOGIN;
GRANT pg_monitor TO metrics;
CREATE ROLE quota_role;
SELECT eventlog.create_topic('m', partitions => 2);
INSERT INTO eventlog_topics.m ("partition", value) SELECT g % 2, jsonb_build_object('g', g) FROM generate_series(1, 30) g;
SELECT count(*) FROM eventlog.poll('g1', 'm', max_records => 10);
SELECT eventlog.create_view('mv', 'm', 'count');
SELECT eventlog.set_quota('quota_role', 123456, 654321);
INSERT INTO eventlog_topics.m ("partition", value) SELECT 0, jsonb_build_object('late', g) FROM generate_series(1, 5) g;
});
my $ends = $node->safe_psql('postgres',
	q{SELECT string_agg(log_end_offset::text, ',' ORDER BY "partition") FROM eventlog.partitions WHERE topic = 'm'});
is($ends, '20,15', 'the topic holds 20 and 15 records');
my $lag = $node->safe_psql('postgres',
	q{SELECT sum(lag) FROM eventlog.consumer_lag WHERE group_id = 'g1'});
my $fetched = $node->safe_psql('postgres',
	q{SELECT records_fetched FROM eventlog.stats WHERE topic = 'm'});

my $port = PostgreSQL::Test::Cluster::get_free_port();
my ($out, $err) = ('', '');
my $dsn = sprintf('host=%s port=%d user=metrics dbname=postgres sslmode=disable',
	$node->host, $node->port);
my $h = IPC::Run::start(
	[
		$exporter, "--web.listen-address=127.0.0.1:$port",
		"--extend.query-path=$queries", '--disable-default-metrics',
		'--disable-settings-metrics'
	],
	'>', \$out, '2>', \$err,
	init => sub { $ENV{DATA_SOURCE_NAME} = $dsn; });

my $http = HTTP::Tiny->new(timeout => 10);
my $body = '';
ok( wait_until(
		sub {
			my $r = $http->get("http://127.0.0.1:$port/metrics");
			$body = $r->{success} ? $r->{content} : '';
			return $body =~ /^eventlog_view_lag/m;
		}),
	'the exporter serves the eventlog metrics') or diag("exporter output: $out\n$err");

# "name{labels} value" lines, as name => [ [ {labels}, value ], ... ]
my %m;
for my $line (split /\n/, $body)
{
	next unless $line =~ /^(eventlog_\w+)(?:\{(.*)\})?\s+(\S+)$/;
	my ($name, $labels, $value) = ($1, $2 // '', $3);
	my %l = $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
	push @{ $m{$name} }, [ \%l, $value ];
}
sub metric
{
	my ($name, %want) = @_;
	for my $s (@{ $m{$name} || [] })
	{
		next if grep { ($s->[0]{$_} // '') ne $want{$_} } keys %want;
		return $s->[1];
	}
	return undef;
}

is(metric('eventlog_partition_log_end_offset', topic => 'm', partition => '0'), '20',
	'partitions: log end offset');
is(metric('eventlog_partition_segments', topic => 'm', partition => '1'), '1',
	'partitions: segments');
is(metric('eventlog_stats_records_produced', topic => 'm'), '35', 'stats: records produced');
is(metric('eventlog_stats_records_fetched', topic => 'm'), $fetched,
	"stats: records fetched (poll and the view's first build: $fetched)");
my $sum = 0;
$sum += metric('eventlog_consumer_lag_lag', group_id => 'g1', topic => 'm', partition => $_) // -1000
  for (0, 1);
is($sum, $lag, "consumer lag: the group's lag ($lag)");
is(metric('eventlog_quota_produce_bytes_per_sec', role => 'quota_role', quota => 'own'), '123456',
	'quotas: a role\'s produce quota');
is(metric('eventlog_quota_fetch_bytes_per_sec', role => 'quota_role'), '654321',
	'quotas: its fetch quota');
is(metric('eventlog_view_lag', view_name => 'mv', partition => '0'), '5',
	'views: lag of a view behind its topic');
is(metric('eventlog_view_lag', view_name => 'mv', partition => '1'), '0',
	'views: and of one that is not');

$node->safe_psql('postgres', q{SELECT eventlog.refresh_view('mv')});
my $r = $http->get("http://127.0.0.1:$port/metrics");
like($r->{content}, qr/^eventlog_view_lag\{[^}]*partition="0"[^}]*view_name="mv"[^}]*\} 0$/m,
	'views: no lag after a refresh (read anew)');

$h->signal('TERM');
$h->finish;
$node->stop;
done_testing();
