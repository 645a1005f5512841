# pg_eventlog: a second server subscribes to a published topic (issue 11,
# design.md section 6).
#
# The publisher has records before the subscription exists (initial sync:
# PG 15 runs COPY <topic> (columns) TO STDOUT on the slot's snapshot, or
# COPY (SELECT ...) with a row filter) and producers on several partitions
# keep committing, rolling back and using savepoints while the subscription
# is created and catches up (streaming).  The subscriber's heap table ends
# with exactly the committed set, compared with fetch() on the publisher:
# no missing record, no extra one, no duplicate (its primary key is
# (partition, offset)), every value equal.  A second subscription uses a
# row filter and a column list.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;

my $nparts = 3;
my $duration = 10;

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
logical_decoding_work_mem = 64kB
});
$pub->start;

# an ordinary server without pg_eventlog
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf('postgresql.conf', qq{
max_logical_replication_workers = 8
max_sync_workers_per_subscription = 4
});
$sub->start;

$pub->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('orders', partitions => $nparts);
CREATE SEQUENCE ids;
-- records before the subscription: the initial sync copies them
INSERT INTO eventlog_topics.orders (key, value, headers)
SELECT 'k' || (g % 11), jsonb_build_object('id', -g, 'pad', repeat('p', g % 50)), '{"src": "before"}'
  FROM generate_series(1, 3000) g;
BEGIN;
SELECT eventlog.produce('orders', '{"id": "aborted-before"}', key => 'gone');
ROLLBACK;
-- a large value, stored in the segment's TOAST table
SELECT eventlog.produce('orders', jsonb_build_object('id', -9999, 'pad', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) i)), key => 'big-before');
CREATE PUBLICATION p FOR TABLE eventlog_topics.orders;
CREATE PUBLICATION pf FOR TABLE eventlog_topics.orders ("partition", "offset", key, value) WHERE ("partition" = 1);
});

$sub->safe_psql(
	'postgres', q{
CREATE SCHEMA eventlog_topics;
CREATE TABLE eventlog_topics.orders ("partition" int, "offset" bigint, ts timestamptz,
                                     key text, value jsonb, headers jsonb,
                                     PRIMARY KEY ("partition", "offset"));
CREATE DATABASE filtered;
});
$sub->safe_psql(
	'filtered', q{
CREATE SCHEMA eventlog_topics;
CREATE TABLE eventlog_topics.orders ("partition" int, "offset" bigint, key text, value jsonb,
                                     PRIMARY KEY ("partition", "offset"));
});

my $script = $pub->basedir . '/sub_producer.sql';
my $produce = batch_produce_sql('orders');
savepoint_producer_script($script, $produce);

my ($pgb_out, $pgb_err) = ('', '');
my $pgb = start_savepoint_producers($pub, $script, $duration, \$pgb_out, \$pgb_err);
sleep(2);

my $connstr = $pub->connstr . ' dbname=postgres';
# created while the producers run: the initial sync copies what its
# snapshot sees, streaming delivers every commit after it
$sub->safe_psql('postgres',
	qq{CREATE SUBSCRIPTION s CONNECTION '$connstr' PUBLICATION p WITH (streaming = on)});
sleep(2);
# a row filter (initial sync: COPY (SELECT ...)) and a column list
$sub->safe_psql('filtered',
	qq{CREATE SUBSCRIPTION sf CONNECTION '$connstr' PUBLICATION pf});
my $pgb_ok = $pgb->finish;
ok($pgb_ok, 'pgbench producers ran without errors') or diag($pgb_err);
my ($txns) = $pgb_out =~ /number of transactions actually processed: (\d+)/;
cmp_ok($txns // 0, '>', 100, 'producers ran a fair number of transactions');

# a large transaction after the sync (streamed with streaming = on)
$pub->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO eventlog_topics.orders (key, value)
SELECT 'large' || g, jsonb_build_object('id', 'large' || g, 'pad', repeat('z', 100)) FROM generate_series(1, 5000) g;
SAVEPOINT s;
INSERT INTO eventlog_topics.orders (key, value) SELECT 'gone', '{"id": "gone"}' FROM generate_series(1, 500);
ROLLBACK TO SAVEPOINT s;
COMMIT;
});

$pub->wait_for_catchup('s');
$sub->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
  or die 'initial sync did not finish';
$pub->wait_for_catchup('s');

# the committed set on the publisher, read with fetch()
my $fetched = $pub->safe_psql(
	'postgres', qq{
SELECT f.partition, f."offset", f.ts, f.key, f.value, f.headers
  FROM generate_series(0, $nparts - 1) p, LATERAL eventlog.fetch('orders', p, 0, 100000000) f
 ORDER BY 1, 2});
my $copied = $sub->safe_psql(
	'postgres', q{
SELECT "partition", "offset", ts, key, value, headers FROM eventlog_topics.orders ORDER BY 1, 2});
my @f = split /\n/, $fetched;
my @c = split /\n/, $copied;
cmp_ok(scalar(@f), '>', 3500, 'the publisher has the records from before and during the subscription');
is(scalar(@c), scalar(@f), 'the subscriber has as many records as fetch() returns');
ok($copied eq $fetched,
	'the subscriber has exactly the committed records: same partition, offset, ts, key, value and headers');
is($sub->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog_topics.orders WHERE key IN ('gone') OR value->>'id' = 'aborted-before'}),
	'0', 'nothing of aborted transactions or rolled-back savepoints');
is($sub->safe_psql('postgres',
		q{SELECT length(value->>'pad') FROM eventlog_topics.orders WHERE key = 'big-before'}),
	'9600', 'the TOASTed value arrived whole in the initial sync');

# the publisher's export header and log-end markers are pg_dump's only
is($sub->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog_topics.orders WHERE "partition" < 0 OR value IS NULL}),
	'0', 'no export header row and no log-end marker was copied');

# --- row filter and column list ---------------------------------------------
$pub->wait_for_catchup('sf');
$sub->poll_query_until('filtered',
	q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
  or die 'initial sync of sf did not finish';
$pub->wait_for_catchup('sf');
my $fetched1 = $pub->safe_psql(
	'postgres', q{
SELECT f.partition, f."offset", f.key, f.value
  FROM eventlog.fetch('orders', 1, 0, 100000000) f ORDER BY 1, 2});
my $copied1 = $sub->safe_psql(
	'filtered', q{
SELECT "partition", "offset", key, value FROM eventlog_topics.orders ORDER BY 1, 2});
cmp_ok(length($fetched1), '>', 1000, 'partition 1 has records');
ok($copied1 eq $fetched1,
	'with a row filter and a column list the subscriber has exactly partition 1\'s committed records');

# --- FOR ALL TABLES and FOR TABLES IN SCHEMA: topics, never segments ------
$pub->safe_psql(
	'postgres', q{
CREATE PUBLICATION pall FOR ALL TABLES;
CREATE PUBLICATION pschema FOR TABLES IN SCHEMA eventlog_topics;
CREATE TABLE public.plain (id int PRIMARY KEY);
});
# what CREATE SUBSCRIPTION asks the publisher, over a replication connection
my $list_sql = q{SELECT string_agg(pubname || ':' || schemaname || '.' || tablename, ',' ORDER BY 1)
  FROM pg_catalog.pg_publication_tables
 WHERE pubname IN ('pall', 'pschema') AND schemaname IN ('eventlog_topics', 'eventlog_segments', 'public')};
my $expected_list = 'pall:eventlog_topics.orders,pall:public.plain,pschema:eventlog_topics.orders';
is($pub->safe_psql('postgres', $list_sql), $expected_list,
	'pg_publication_tables lists the topic and ordinary tables, no segment');
my ($stdout, $stderr);
$pub->psql('postgres', $list_sql, stdout => \$stdout, stderr => \$stderr,
	replication => 'database');
is($stdout, $expected_list, '... also over a replication connection (what a subscriber reads)');
cmp_ok($pub->safe_psql('postgres',
		q{SELECT count(*) FROM pg_get_publication_tables('pall') g JOIN pg_class c ON c.oid = g.relid
		   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'eventlog_segments'}),
	'>', 0, '(PostgreSQL\'s own function does list the segments)');

# a subscription to FOR TABLES IN SCHEMA eventlog_topics
$sub->safe_psql('postgres', q{CREATE DATABASE byschema});
$sub->safe_psql(
	'byschema', q{
CREATE SCHEMA eventlog_topics;
CREATE TABLE eventlog_topics.orders ("partition" int, "offset" bigint, ts timestamptz,
                                     key text, value jsonb, headers jsonb,
                                     PRIMARY KEY ("partition", "offset"));
});
$sub->safe_psql('byschema',
	qq{CREATE SUBSCRIPTION ssch CONNECTION '$connstr' PUBLICATION pschema});
$pub->safe_psql('postgres',
	q{SELECT eventlog.produce('orders', '{"id": "after-schema-sub"}', key => 'last')});
$pub->wait_for_catchup('ssch');
$sub->poll_query_until('byschema',
	q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
  or die 'initial sync of ssch did not finish';
$pub->wait_for_catchup('ssch');
is($sub->safe_psql('byschema', q{SELECT count(*) FROM eventlog_topics.orders}),
	$pub->safe_psql('postgres', q{SELECT count(*) FROM eventlog_topics.orders}),
	'FOR TABLES IN SCHEMA eventlog_topics: the subscriber has every record');

done_testing();
