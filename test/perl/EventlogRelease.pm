# Helpers of the release tests (test/t/061_upgrade.pl, 062_pg_upgrade.pl):
# build an earlier release from the clone's git history into a copy of the
# PostgreSQL installation, fill a database with every kind of state the
# extension keeps, and check that state after an upgrade.
#
#   use FindBin;
#   use lib "$FindBin::RealBin/../perl";
#   use EventlogRelease;
#
# The clone is EVENTLOG_REPO (test/run.sh sets it: the suites run on a copy
# of the work tree without .git), else the work tree the test is in.  The
# previous release is EVENTLOG_PREV_RELEASE, a commit or tag, by default
# 9150894 (0.1, CHANGELOG.md).
package EventlogRelease;

use strict;
use warnings;

use File::Path qw(make_path);
use FindBin;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

use Exporter 'import';
our @EXPORT = qw(release_repo prev_release git_in control_version
  build_release populate_sql capture_state check_state extension_objects
  same_extension_objects);

our $default_prev = '9150894';

sub release_repo
{
	for my $r ($ENV{EVENTLOG_REPO}, "$FindBin::RealBin/../..")
	{
		return $r if defined $r && $r ne '' && -e "$r/.git";
	}
	return undef;
}

sub prev_release
{
	return $ENV{EVENTLOG_PREV_RELEASE} || $default_prev;
}

# git in the clone, which may belong to another OS user (run.sh runs the
# suites as postgres on root's clone): read-only commands only
sub git_in
{
	my ($repo, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'git', '-c', 'safe.directory=*', '-C', $repo, @args ],
		'>', \$out, '2>', \$err)
	  or die "git @args failed: $err";
	return $out;
}

# default_version of a pg_eventlog.control text
sub control_version
{
	my ($text) = @_;
	return $text =~ /^\s*default_version\s*=\s*'([^']*)'/m ? $1 : undef;
}

sub run_or_die
{
	my ($cmd, $what) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run($cmd, '>', \$out, '2>&1')
	  or die "$what failed:\n$out";
	return $out;
}

# Build release $commit of $repo with PGXS against $pg_config and install
# its library and scripts into a copy of that PostgreSQL installation under
# $dir (same layout under $dir as the original under /, so that the copied
# binaries find the copied library and share directories: PostgreSQL locates
# them relative to its own binary).  Returns the copy's install path (the
# directory holding bin/) for PostgreSQL::Test::Cluster->new(install_path).
sub build_release
{
	my ($repo, $commit, $pg_config, $dir) = @_;
	my %c;
	for my $k (qw(bindir pkglibdir sharedir))
	{
		$c{$k} = run_or_die([ $pg_config, "--$k" ], 'pg_config');
		chomp $c{$k};
	}
	my $inst = $c{bindir};
	$inst =~ s{/bin/?$}{} or die "bindir $c{bindir} does not end in /bin";

	# the copy of the installation, without the current pg_eventlog
	for my $d ($inst, $c{sharedir})
	{
		make_path("$dir$d");
		run_or_die([ 'cp', '-a', "$d/.", "$dir$d" ], "copying $d");
	}
	run_or_die([ 'sh', '-c',
		'rm -rf "$1"/pg_eventlog* "$1"/bitcode/pg_eventlog* "$2"/extension/pg_eventlog*',
		'sh', "$dir$c{pkglibdir}", "$dir$c{sharedir}" ], 'removing the current build');

	# the release's source, from git, built and installed into the copy
	my $src = "$dir/src";
	make_path($src);
	my $tar = "$dir/release.tar";
	git_in($repo, 'archive', '--format=tar', "--output=$tar", $commit);
	run_or_die([ 'tar', '-C', $src, '-xf', $tar ], 'extracting the release');
	my @make = ('make', '-C', $src, "PG_CONFIG=$pg_config", 'with_llvm=no');
	run_or_die([ @make, '-j2' ], "building $commit");
	run_or_die([ @make, 'install', "DESTDIR=$dir" ], "installing $commit");
	return "$dir$inst";
}

# The state a release keeps, made with the API of 0.1 (every later release
# keeps it): two JSON topics with several segments each, one compacted;
# consumer groups with committed offsets, one with a static member and a
# grant; materialized views of every kind; quotas; and a logical slot,
# consumed up to now.
sub populate_sql
{
	return q{
CREATE EXTENSION pg_eventlog;
CREATE ROLE upg_reader;
CREATE ROLE upg_producer;
SELECT eventlog.create_topic('orders', partitions => 3, segment_bytes => 16384);
SELECT eventlog.create_topic('state', partitions => 2, cleanup_policy => 'compact',
                             segment_bytes => 16384, delete_retention => '0');
INSERT INTO eventlog_topics.orders (key, value, headers)
SELECT CASE WHEN g % 7 = 0 THEN NULL ELSE 'c' || g % 17 END,
       jsonb_build_object('id', g, 'amount', g % 50 - 10, 'region', 'r' || g % 3,
                          'note', repeat('n', g % 90), 'u', 'é€' || g),
       CASE WHEN g % 3 = 0 THEN jsonb_build_object('src', 'import', 'seq', g::text) END
  FROM generate_series(1, 2400) g;
SELECT count(*) FROM eventlog.run_maintenance('orders');
INSERT INTO eventlog_topics.orders (key, value)
SELECT 'c' || g % 17, jsonb_build_object('id', g, 'amount', g % 40, 'region', 'r' || g % 4)
  FROM generate_series(2401, 3000) g;
SELECT count(*) FROM eventlog.run_maintenance('orders');
INSERT INTO eventlog_topics.state (key, value)
SELECT 's' || g % 40, CASE WHEN g % 11 = 0 THEN NULL
                           ELSE jsonb_build_object('v', g, 'pad', repeat('p', 120)) END
  FROM generate_series(1, 1500) g;
SELECT count(*) FROM eventlog.run_maintenance('state');
SELECT count(*) FROM eventlog.run_maintenance('state');
SELECT count(*) FROM eventlog.run_maintenance('state');

CREATE FUNCTION upg_fold(s jsonb, r eventlog_topics.orders) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('n', coalesce((s->>'n')::int, 0) + 1,
                            'h', (coalesce((s->>'h')::bigint, 7) * 31 + (r.value->>'amount')::int) % 1000003) $$;
CREATE AGGREGATE upg_fold_all(eventlog_topics.orders) (sfunc = upg_fold, stype = jsonb, initcond = '{"n": 0, "h": 7}');
SELECT eventlog.create_view('v_latest', 'orders');
SELECT eventlog.create_view('v_count', 'orders', 'count');
SELECT eventlog.create_view('v_sum', 'orders', 'sum', expr => '(value->>''amount'')::int',
                            group_by => 'value->>''region''');
SELECT eventlog.create_view('v_min', 'orders', 'min', expr => '(value->>''amount'')::int');
SELECT eventlog.create_view('v_max', 'orders', 'max', expr => '(value->>''amount'')::int',
                            filter => '(value->>''amount'')::int > 0');
SELECT eventlog.create_view('v_avg', 'orders', 'avg', expr => '(value->>''amount'')::numeric');
SELECT eventlog.create_view('v_fold', 'orders', 'reduce', reducer => 'upg_fold(jsonb, eventlog_topics.orders)',
                            initial => '{"n": 0, "h": 7}');

SELECT count(*) FROM eventlog.poll('billing', 'orders', max_records => 1000);
SELECT count(*) FROM eventlog.poll('audit', 'orders', max_records => 300, member => 'auditor-1');
SELECT eventlog.grant_group('audit', 'orders', 'upg_reader');
SELECT count(*) FROM eventlog.poll('state-reader', 'state', max_records => 200);
SELECT eventlog.set_quota('upg_producer', 1000000, 2000000);
SELECT eventlog.set_default_quota(50000000, 60000000);

SELECT 'slot' FROM pg_create_logical_replication_slot('upg_slot', 'test_decoding');
INSERT INTO eventlog_topics.orders (key, value) VALUES ('c1', '{"before_upgrade": true, "amount": 1}');
SELECT count(*) FROM pg_logical_slot_get_changes('upg_slot', NULL, NULL);
SELECT eventlog.refresh_view(view_name) FROM eventlog.view_def ORDER BY view_name;
};
}

# what must survive an upgrade unchanged, as text
my %state_queries = (
	records => q{
SELECT t, count(*), md5(string_agg(r, E'\n' ORDER BY t, p, o)) FROM (
  SELECT 'orders' AS t, "partition" AS p, "offset" AS o,
         concat_ws('|', "partition", "offset", ts, key, value::text, headers::text) AS r
    FROM eventlog_topics.orders
  UNION ALL
  SELECT 'state', "partition", "offset",
         concat_ws('|', "partition", "offset", ts, key, value::text, headers::text)
    FROM eventlog_topics.state) x GROUP BY t ORDER BY t},
	log_ends => q{
SELECT topic, "partition", log_start_offset, log_end_offset, segments
  FROM eventlog.partitions ORDER BY 1, 2},
	offsets => q{
SELECT group_id, topic, "partition", committed_offset
  FROM eventlog.group_offset ORDER BY 1, 2, 3},
	groups => q{
SELECT group_id, topic, owner::text, acl::text, session_timeout, auto_offset_reset
  FROM eventlog.consumer_group ORDER BY 1, 2},
	quotas => q{
SELECT role_name::text, produce_bytes_per_sec, fetch_bytes_per_sec
  FROM eventlog.quota ORDER BY 1 NULLS FIRST},
	views => q{
SELECT view_name, kind, definition, "partition", "position"
  FROM eventlog.views ORDER BY 1, 4},
	segments => q{
SELECT topic, "partition", count(*), count(*) FILTER (WHERE state = 'compacted')
  FROM eventlog.segments GROUP BY 1, 2 ORDER BY 1, 2});

sub capture_state
{
	my ($node, $db) = @_;
	my %s;
	$s{$_} = $node->safe_psql($db, $state_queries{$_}) for keys %state_queries;
	return \%s;
}

# recomputations of the views of populate_sql() from the topic
my %view_expect = (
	v_latest => q{SELECT key, value, "partition", "offset", ts FROM (
	    SELECT DISTINCT ON (key) * FROM eventlog_topics.orders WHERE key IS NOT NULL ORDER BY key, "offset" DESC) l
	  WHERE value IS NOT NULL},
	v_count => q{SELECT key, count(*) FROM eventlog_topics.orders WHERE key IS NOT NULL GROUP BY key},
	v_sum => q{SELECT value->>'region', sum((value->>'amount')::int) FROM eventlog_topics.orders
	  WHERE value->>'region' IS NOT NULL GROUP BY 1},
	v_min => q{SELECT key, min((value->>'amount')::int) FROM eventlog_topics.orders WHERE key IS NOT NULL GROUP BY key},
	v_max => q{SELECT key, max((value->>'amount')::int) FROM eventlog_topics.orders
	  WHERE key IS NOT NULL AND ((value->>'amount')::int > 0) IS TRUE GROUP BY key},
	v_avg => q{SELECT key, avg((value->>'amount')::numeric), sum((value->>'amount')::numeric),
	  count((value->>'amount')::numeric) FROM eventlog_topics.orders WHERE key IS NOT NULL GROUP BY key},
	v_fold => q{SELECT key, s FROM (SELECT key, upg_fold_all(t ORDER BY t."offset") AS s
	  FROM eventlog_topics.orders t WHERE key IS NOT NULL GROUP BY key) f WHERE s IS NOT NULL});

# The checks after an upgrade of a database filled by populate_sql() whose
# state was $before (capture_state): records byte-identical, offsets
# continue, groups poll from their committed offsets, views current and
# equal to a recomputation, the slot decodes new records (with new_slot =>
# 1, a slot made now does: for pg_upgrade), pg_dump works.
sub check_state
{
	my ($node, $db, $before, $label, %opt) = @_;
	my $now = capture_state($node, $db);
	# pg_upgrade of PostgreSQL 15 carries no replication slots: a new one
	# must decode the records produced from now on
	$node->safe_psql($db,
		q{SELECT 'slot' FROM pg_create_logical_replication_slot('upg_slot', 'test_decoding')})
	  if $opt{new_slot};
	is($now->{$_}, $before->{$_}, "$label: $_ unchanged") for sort keys %$before;

	# offsets continue: the next record of each partition takes its log end
	my @ends = map { [ split /\|/ ] } split /\n/, $before->{log_ends};
	for my $e (@ends)
	{
		my ($topic, $p, undef, $end) = @$e;
		my $got = $node->safe_psql($db, qq{
SELECT "offset" FROM eventlog.produce('$topic', '{"after_upgrade": true, "amount": 2}',
                                      key => 'c2', "partition" => $p)});
		is($got, $end, "$label: $topic/$p continues at offset $end");
	}

	# the groups poll from their committed offsets, nothing skipped or repeated
	for my $g ([ 'billing', 'orders', 'NULL' ], [ 'audit', 'orders', "'auditor-1'" ],
		[ 'state-reader', 'state', 'NULL' ])
	{
		my ($group, $topic, $member) = @$g;
		my $res = $node->safe_psql($db, qq{
CREATE TEMP TABLE committed AS
SELECT "partition", committed_offset FROM eventlog.group_offset
 WHERE group_id = '$group' AND topic = '$topic';
CREATE TEMP TABLE polled AS
SELECT * FROM eventlog.poll('$group', '$topic', max_records => 100000, member => $member);
WITH expected AS (
  SELECT c."partition", count(t."offset") AS n, md5(string_agg(t."offset"::text, ',' ORDER BY t."offset")) AS o
    FROM committed c LEFT JOIN eventlog_topics."$topic" t
      ON t."partition" = c."partition" AND t."offset" >= c.committed_offset
   GROUP BY 1),
got AS (
  SELECT "partition", count(*) AS n, md5(string_agg("offset"::text, ',' ORDER BY "offset")) AS o
    FROM polled GROUP BY 1)
SELECT count(*) FILTER (WHERE e.n > 0), count(*) FILTER (WHERE e.n > 0 AND (g.n, g.o) IS DISTINCT FROM (e.n, e.o))
  FROM expected e LEFT JOIN got g USING ("partition");
DROP TABLE polled, committed;});
		my ($parts, $bad) = split /\|/, $res;
		ok($parts > 0 && $bad == 0,
			"$label: group $group polls on from its committed offsets to the log end ($parts partitions)");
	}

	# the views follow the new records and equal their recomputation
	$node->safe_psql($db,
		q{SELECT eventlog.refresh_view(view_name) FROM eventlog.view_def ORDER BY view_name});
	is($node->safe_psql($db,
		'SELECT coalesce(sum(lag), -1), count(last_error) FROM eventlog.views'),
		'0|0', "$label: the views are current, without errors");
	for my $v (sort keys %view_expect)
	{
		my $e = $view_expect{$v};
		is($node->safe_psql($db,
			"SELECT count(*) FROM ((TABLE $v EXCEPT ($e)) UNION ALL (($e) EXCEPT TABLE $v)) d"),
			'0', "$label: $v equals its recomputation");
	}

	# the slot decodes the records produced since the upgrade, and only those
	my $changes = $node->safe_psql($db,
		q{SELECT string_agg(data, E'\n') FROM pg_logical_slot_get_changes('upg_slot', NULL, NULL)
		   WHERE data LIKE 'table eventlog_topics.%'});
	my $n = () = $changes =~ /table eventlog_topics\.\w+: INSERT: .*after_upgrade/g;
	is($n, scalar(@ends), "$label: the slot decodes each record produced after the upgrade");
	unlike($changes, qr/before_upgrade/, "$label: and nothing decoded before it again");

	# pg_dump works on the upgraded database
	my $dump = $node->basedir . "/$db-$label.dump";
	$dump =~ s/\s+/_/g;
	my ($rc, $out, $err) = (0, '', '');
	$rc = IPC::Run::run([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr($db) ],
		'>', \$out, '2>', \$err);
	ok($rc && -s $dump, "$label: pg_dump works") or diag($err);
	return;
}

# Each object of the extension in database $db with its definition, one a
# line: for comparing an updated extension with a fresh install (the
# definitions of functions, tables with their columns, defaults,
# constraints, indexes and triggers, views, event triggers, ACLs, and what
# pg_dump keeps of the configuration tables).  A default ACL (NULL) is
# shown as what it means, acldefault(): pg_upgrade's restore leaves an
# explicit ACL equal to the default as NULL.
sub extension_objects
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'pg_eventlog'),
m AS (SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
       WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
SELECT pg_describe_object(classid, objid, objsubid) || ' :: ' || coalesce(CASE classid
  WHEN 'pg_proc'::regclass THEN
    (SELECT CASE WHEN prokind = 'a' THEN 'aggregate' ELSE replace(pg_get_functiondef(objid), E'\n', ' ') END
            || ' acl ' || coalesce(proacl, acldefault('f', proowner))::text FROM pg_proc WHERE oid = objid)
  WHEN 'pg_class'::regclass THEN
    (SELECT relkind::text || ' acl '
            || coalesce(relacl, acldefault(CASE WHEN relkind = 'S' THEN 's' ELSE 'r' END::"char", relowner))::text
            || coalesce(' view ' || CASE WHEN relkind IN ('v', 'm') THEN pg_get_viewdef(objid) END, '')
            || ' columns ' || (SELECT coalesce(string_agg(attname || ' ' || format_type(atttypid, atttypmod)
                                   || CASE WHEN attnotnull THEN ' not null' ELSE '' END
                                   || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
                                   || coalesce(' acl ' || attacl::text, ''), ', ' ORDER BY attnum), '')
                                  FROM pg_attribute a LEFT JOIN pg_attrdef ad
                                    ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                 WHERE a.attrelid = objid AND a.attnum > 0 AND NOT a.attisdropped)
            || ' constraints ' || (SELECT coalesce(string_agg(conname || ' ' || pg_get_constraintdef(c.oid), ', ' ORDER BY conname), '')
                                     FROM pg_constraint c WHERE c.conrelid = objid)
            || ' indexes ' || (SELECT coalesce(string_agg(pg_get_indexdef(indexrelid), ', ' ORDER BY 1), '')
                                 FROM pg_index WHERE indrelid = objid)
            || ' triggers ' || (SELECT coalesce(string_agg(pg_get_triggerdef(t.oid), ', ' ORDER BY 1), '')
                                  FROM pg_trigger t WHERE t.tgrelid = objid AND NOT t.tgisinternal)
            || ' policies ' || (SELECT coalesce(string_agg(polname || ' ' || coalesce(pg_get_expr(polqual, polrelid), ''), ', ' ORDER BY 1), '')
                                  FROM pg_policy WHERE polrelid = objid)
            || CASE WHEN objid = ANY (ext.extconfig)
                    THEN ' dumped where ' || ext.extcondition[array_position(ext.extconfig, objid)]
                    ELSE '' END
       FROM pg_class, ext WHERE pg_class.oid = objid)
  WHEN 'pg_event_trigger'::regclass THEN
    (SELECT evtevent || ' ' || evtfoid::regproc::text || ' ' || coalesce(evttags::text, '-') || ' ' || evtenabled::text
       FROM pg_event_trigger WHERE oid = objid)
  WHEN 'pg_namespace'::regclass THEN
    (SELECT 'acl ' || coalesce(nspacl, acldefault('n', nspowner))::text FROM pg_namespace WHERE oid = objid)
  WHEN 'pg_type'::regclass THEN
    (SELECT typtype::text || ' ' || coalesce((SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
                                          FROM pg_attribute WHERE attrelid = typrelid AND attnum > 0 AND NOT attisdropped), '')
       FROM pg_type WHERE oid = objid)
  ELSE '' END, '?')
  FROM m ORDER BY 1});
}

# ok() that the extension's objects in databases $db and $fresh_db of $node
# are the same (extension_objects), listing the differences otherwise
sub same_extension_objects
{
	my ($node, $db, $fresh_db, $label) = @_;
	my $got = extension_objects($node, $db);
	my $fresh = extension_objects($node, $fresh_db);
	my $same = ok($got eq $fresh && $fresh =~ tr/\n// > 50, $label);
	if (!$same)
	{
		my %g = map { $_ => 1 } split /\n/, $got;
		my %f = map { $_ => 1 } split /\n/, $fresh;
		diag("only in $db: $_") for grep { !$f{$_} } sort keys %g;
		diag("only in a fresh install: $_") for grep { !$g{$_} } sort keys %f;
	}
	return $same;
}

1;
