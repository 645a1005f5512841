# pg_eventlog: a mirror topic on a second server (issue 11, design.md section 6).
#
# The mirror (README "Mirror topics") is an ordinary subscription into a
# staging heap table named like the source topic, whose BEFORE INSERT
# trigger (ENABLE ALWAYS, so that it fires under the apply and table sync
# workers, which run with session_replication_role = replica) appends each
# row to a local topic with eventlog.produce(): new offsets, assigned at
# append, the source's partition, offset and timestamp in headers, and the
# row itself not kept (RETURN NULL).  The append commits with the apply
# worker's transaction and the subscription's replication origin, so each
# source record is appended once.
#
# The source has records before the subscription (initial sync) and
# producers on several partitions that commit, roll back and use savepoints,
# plus a forced out-of-offset-order commit; a reader of the mirror follows it
# with fetch() from the offset after the last one it got, as a Kafka
# consumer does.  At the end the mirror holds exactly the source's committed
# records, each once; the follower got every mirror record (it never
# skipped one that arrived later).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use EventlogTest;
use Time::HiRes qw(usleep);

my $nparts = 3;
my $duration = 10;

my $src = PostgreSQL::Test::Cluster->new('source');
$src->init(allows_streaming => 'logical');
$src->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
wal_level = logical
max_replication_slots = 8
max_wal_senders = 8
logical_decoding_work_mem = 64kB
});
$src->start;

my $dst = PostgreSQL::Test::Cluster->new('mirror');
$dst->init;
$dst->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_eventlog'
max_logical_replication_workers = 4
});
$dst->start;

$src->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('orders', partitions => $nparts);
CREATE SEQUENCE ids;
INSERT INTO eventlog_topics.orders (key, value, headers)
SELECT 'k' || (g % 7), jsonb_build_object('id', -g), '{"src": "before"}'
  FROM generate_series(1, 1000) g;
CREATE PUBLICATION orders_pub FOR TABLE eventlog_topics.orders;
});

# the mirror: README "Mirror topics", verbatim
$dst->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('orders_mirror', partitions => $nparts);
CREATE TABLE eventlog_topics.orders ("partition" int, "offset" bigint, ts timestamptz,
                                     key text, value jsonb, headers jsonb);
CREATE FUNCTION public.orders_mirror_append() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS \$\$
BEGIN
    PERFORM eventlog.produce('orders_mirror', NEW.value, key => NEW.key,
        headers => coalesce(NEW.headers, '{}') || jsonb_build_object(
            'mirror.source.partition', NEW."partition"::text,
            'mirror.source.offset', NEW."offset"::text,
            'mirror.source.ts', NEW.ts::text),
        partition => NEW."partition");
    RETURN NULL;   -- appended to the topic; the staging table keeps nothing
END \$\$;
CREATE TRIGGER mirror_append BEFORE INSERT ON eventlog_topics.orders
    FOR EACH ROW EXECUTE FUNCTION public.orders_mirror_append();
ALTER TABLE eventlog_topics.orders ENABLE ALWAYS TRIGGER mirror_append;
});

my $script = $src->basedir . '/producer.sql';
my $produce = batch_produce_sql('orders');
savepoint_producer_script($script, $produce, q{
\set sl random(0, 3)
\sleep :sl ms
});

my $connstr = $src->connstr . ' dbname=postgres';
$dst->safe_psql('postgres',
	qq{CREATE SUBSCRIPTION orders_mirror CONNECTION '$connstr' PUBLICATION orders_pub WITH (streaming = on)});

# a follower of the mirror: fetch() from the offset after the last one got
my %next = map { $_ => 0 } 0 .. $nparts - 1;
my @followed;
sub follow
{
	for my $p (0 .. $nparts - 1)
	{
		my $rows = $dst->safe_psql('postgres',
			"SELECT partition, \"offset\", key, value, headers FROM eventlog.fetch('orders_mirror', $p, $next{$p}, 1000)");
		for my $row (split /\n/, $rows)
		{
			my ($part, $off) = split /\|/, $row;
			push @followed, $row;
			$next{$p} = $off + 1;
		}
	}
}

my ($pgb_out, $pgb_err) = ('', '');
my $pgb = start_savepoint_producers($src, $script, $duration, \$pgb_out, \$pgb_err);

# a forced out-of-offset-order commit on partition 0 of the source, once
# the initial table sync is done: a sync that copied both records would
# bring them in offset order (a slow sync under load made this flaky)
$dst->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
  or die 'initial sync did not finish';
my $first = $src->background_psql('postgres');
$first->query_safe('BEGIN');
my $early = $first->query_safe(
	q{SELECT "offset" FROM eventlog.produce('orders', '{"id": "early"}', key => 'early', partition => 0)});
my $late = $src->safe_psql('postgres',
	q{SELECT "offset" FROM eventlog.produce('orders', '{"id": "late"}', key => 'late', partition => 0)});
$early =~ s/\s+//g;
cmp_ok($late, '>', $early, 'the second producer got the higher offset and committed first');

while ($pgb->pumpable)
{
	follow();
	usleep(50_000);
	$pgb->pump_nb;
}
$first->query_safe('COMMIT');
$first->quit;
my $pgb_ok = $pgb->finish;
ok($pgb_ok, 'pgbench producers ran without errors') or diag($pgb_err);

$src->wait_for_catchup('orders_mirror');
$dst->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
  or die 'initial sync did not finish';
$src->wait_for_catchup('orders_mirror');
follow();

# the source's committed records, as the mirror should carry them
my $source = $src->safe_psql(
	'postgres', qq{
SELECT f.partition || '|' || f."offset" || '|' || coalesce(f.key, '') || '|' || f.value::text || '|' ||
       coalesce(f.headers::text, '') || '|' || f.ts::text
  FROM generate_series(0, $nparts - 1) p, LATERAL eventlog.fetch('orders', p, 0, 100000000) f
 ORDER BY 1});
# the mirror's records, by the source partition and offset in their headers
my $mirrored = $dst->safe_psql(
	'postgres', qq{
SELECT (f.headers->>'mirror.source.partition') || '|' || (f.headers->>'mirror.source.offset') || '|' ||
       coalesce(f.key, '') || '|' || f.value::text || '|' ||
       coalesce(nullif((f.headers - 'mirror.source.partition' - 'mirror.source.offset'
                                  - 'mirror.source.ts')::text, '{}'), '') || '|' ||
       ((f.headers->>'mirror.source.ts')::timestamptz)::text
  FROM generate_series(0, $nparts - 1) p, LATERAL eventlog.fetch('orders_mirror', p, 0, 100000000) f
 ORDER BY 1});
my @s = split /\n/, $source;
my @m = split /\n/, $mirrored;
cmp_ok(scalar(@s), '>', 1500, 'the source has records from before and during the subscription');
is(scalar(@m), scalar(@s), 'the mirror has as many records as the source committed');
ok($mirrored eq $source,
	'the mirror has exactly the committed records, each once: source partition, offset and ts in headers, same key, value and headers');
is($dst->safe_psql('postgres',
		q{SELECT count(*) FROM eventlog_topics.orders_mirror m
		   WHERE m.partition <> (m.headers->>'mirror.source.partition')::int}),
	'0', 'each record is in the mirror partition of its source partition');
is($dst->safe_psql('postgres', q{SELECT count(*) FROM ONLY eventlog_topics.orders}),
	'0', 'the staging table keeps nothing');

# commit order, not offset order: the later offset was appended first
my $order = $dst->safe_psql(
	'postgres', q{
SELECT string_agg(key, ',' ORDER BY "offset") FROM eventlog_topics.orders_mirror
 WHERE partition = 0 AND key IN ('early', 'late')});
is($order, 'late,early',
	'a source commit out of offset order is appended in commit order, with new offsets');

# the follower never skipped a record that arrived later
my $all = $dst->safe_psql(
	'postgres', qq{
SELECT f.partition, f."offset", f.key, f.value, f.headers
  FROM generate_series(0, $nparts - 1) p, LATERAL eventlog.fetch('orders_mirror', p, 0, 100000000) f
 ORDER BY 1, 2});
my $got = join("\n",
	sort { my @x = split /\|/, $a; my @y = split /\|/, $b; $x[0] <=> $y[0] || $x[1] <=> $y[1] }
	  @followed);
cmp_ok(scalar(@followed), '>', 0, 'the follower read records while producers ran');
ok($got eq $all, 'the follower got every mirror record once, none skipped (' . scalar(@followed) . ' records)');

done_testing();
