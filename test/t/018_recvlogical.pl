# pg_eventlog: CDC tools read a topic with pg_recvlogical (issue 11).
#
# pg_recvlogical streams a slot with test_decoding and with wal2json
# (Debian's postgresql-15-wal2json; skipped if it is not installed).  Both
# receive every committed record exactly once, with the values fetch()
# returns, and nothing of aborted transactions or rolled-back savepoints;
# a transaction larger than logical_decoding_work_mem included.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;

my $node = PostgreSQL::Test::Cluster->new('recv');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_level = logical
logical_decoding_work_mem = 64kB
});
$node->start;

# PostgreSQL 15.20 (Debian) loads only the output plugins listed in
# output_plugin_libraries; older minors have no such setting.
my $have_w2j = -f $node->config_data('--pkglibdir') . '/wal2json.so';
my ($ret) = $node->psql('postgres', 'SHOW output_plugin_libraries');
if ($ret == 0 && $have_w2j)
{
	$node->append_conf('postgresql.conf',
		q{output_plugin_libraries = 'pgoutput, test_decoding, wal2json'});
	$node->reload;
}

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('cdc', partitions => 2);
});

my @plugins = ('test_decoding');
push @plugins, 'wal2json' if $have_w2j;
for my $p (@plugins)
{
	$node->command_ok(
		[
			'pg_recvlogical', '-d', $node->connstr('postgres'),
			'--slot', "s_$p", '--create-slot', '-P', $p
		],
		"pg_recvlogical creates a slot with $p");
}

$node->safe_psql(
	'postgres', q{
SELECT eventlog.produce('cdc', '{"n": 1, "s": "it''s"}', key => 'a', headers => '{"h": "v"}');
BEGIN;
SELECT eventlog.produce('cdc', '{"n": "aborted"}', key => 'gone');
ROLLBACK;
BEGIN;
INSERT INTO eventlog_topics.cdc (key, value) SELECT 'b' || g, jsonb_build_object('n', g) FROM generate_series(1, 5) g;
SAVEPOINT s;
INSERT INTO eventlog_topics.cdc (key, value) VALUES ('gone', '{"n": "savepoint"}');
ROLLBACK TO SAVEPOINT s;
SELECT eventlog.produce('cdc', NULL, key => 'tombstone');
COMMIT;
-- larger than logical_decoding_work_mem (64kB)
INSERT INTO eventlog_topics.cdc (key, value)
SELECT 'large' || g, jsonb_build_object('n', g, 'pad', repeat('z', 80)) FROM generate_series(1, 5000) g;
SELECT eventlog.produce('cdc', jsonb_build_object('big', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i)), key => 'toasted');
});
my $endpos = $node->safe_psql('postgres', q{SELECT pg_current_wal_insert_lsn()});

# what fetch() returns: "partition|offset|key|value" (value as jsonb text)
my %fetched;
for my $line (split /\n/,
	$node->safe_psql('postgres', q{
SELECT f.partition, f."offset", coalesce(f.key, '<null>'), coalesce(f.value::text, '<null>')
  FROM generate_series(0, 1) p, LATERAL eventlog.fetch('cdc', p, 0, 100000) f}))
{
	my ($part, $off, $key, $value) = split /\|/, $line, 4;
	$fetched{"$part|$off"} = "$key|$value";
}
is(scalar(keys %fetched), 5008, 'fetch() returns the 5008 committed records');

sub receive
{
	my ($p, @opts) = @_;
	my $file = $node->basedir . "/recv_$p.out";
	$node->command_ok(
		[
			'pg_recvlogical', '-d', $node->connstr('postgres'), '--slot', "s_$p",
			'--start', '--endpos', $endpos, '--no-loop', '-f', $file, @opts
		],
		"pg_recvlogical with $p ran to the end position");
	return slurp_file($file);
}

sub compare
{
	my ($p, %got) = @_;
	my ($missing, $wrong) = (0, 0);
	for my $k (keys %fetched)
	{
		if (!exists $got{$k}) { $missing++; next; }
		$wrong++ if $got{$k} ne $fetched{$k};
	}
	my $extra = grep { !exists $fetched{$_} } keys %got;
	is("$missing|$extra|$wrong", '0|0|0',
		"$p: every committed record, nothing else, values equal fetch() (missing|extra|wrong)");
}

# test_decoding
{
	my $out = receive('test_decoding');
	my (%got, $dups);
	$dups = 0;
	for my $line (split /\n/, $out)
	{
		next unless $line =~ /^table eventlog_topics\.cdc: INSERT: /;
		my ($part) = $line =~ /partition\[integer\]:(\d+)/;
		my ($off) = $line =~ /"offset"\[bigint\]:(\d+)/;
		my ($key) = $line =~ / key\[text\]:(?:'((?:[^']|'')*)'|null)/;
		my ($val) = $line =~ / value\[jsonb\]:(?:'((?:[^']|'')*)'|null) headers/;
		for ($key, $val) { if (defined) { s/''/'/g } else { $_ = '<null>' } }
		$dups++ if exists $got{"$part|$off"};
		$got{"$part|$off"} = "$key|$val";
	}
	is($dups, 0, 'test_decoding: no record twice');
	compare('test_decoding', %got);
}

SKIP:
{
	skip 'wal2json is not installed', 3 unless $have_w2j;
	my $out = receive('wal2json', '-o', 'format-version=2');
	my (%got, $dups);
	$dups = 0;
	for my $line (split /\n/, $out)
	{
		my $j = decode_json($line);
		next unless $j->{action} eq 'I';
		die "unexpected table $j->{schema}.$j->{table}"
		  unless $j->{schema} eq 'eventlog_topics' && $j->{table} eq 'cdc';
		my %c = map { $_->{name} => $_->{value} } @{ $j->{columns} };
		my $key = $c{key} // '<null>';
		my $val = $c{value} // '<null>';
		$dups++ if exists $got{"$c{partition}|$c{offset}"};
		$got{"$c{partition}|$c{offset}"} = "$key|$val";
	}
	is($dups, 0, 'wal2json: no record twice');
	compare('wal2json', %got);
}

done_testing();
