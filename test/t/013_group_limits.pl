# pg_eventlog: consumer-group slots are a server-wide resource (issue 7,
# part 4).  With a tiny eventlog.max_consumer_groups: one role, or one
# database, cannot take every slot; a transaction that rolls back leaves
# no slot behind, even while its session stays connected; the static
# members of a dropped database give their slots back; an operator sees
# and frees slots.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('glimits');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_eventlog'
eventlog.max_consumer_groups = 4
eventlog.max_consumer_groups_per_role = 2
eventlog.max_consumer_groups_per_database = 3
});
$node->start;

my $setup = q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('t', partitions => 2);
SELECT eventlog.produce('t', '{"n": 1}');
};
$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE carol LOGIN;
CREATE DATABASE other;
} . $setup . q{GRANT SELECT ON eventlog_topics.t TO alice, bob;});
$node->safe_psql('other', $setup . q{GRANT SELECT ON eventlog_topics.t TO carol;});

sub poll_as
{
	my ($db, $role, $group) = @_;
	my ($ret, $out, $err) = $node->psql($db,
		"SELECT count(*) FROM eventlog.poll('$group', 't', member => 'static')",
		extra_params => [ '-U', $role ]);
	return $ret == 0 ? 'ok' : $err;
}

sub slots
{
	return $node->safe_psql('postgres',
		q{SELECT coalesce(string_agg(database || '/' || role_name || '/' || group_id, ' '
		                             ORDER BY database, group_id), '')
		    FROM eventlog.group_slots()});
}

# the attack of the issue: a very long session timeout is refused
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT eventlog.configure_group('hog', 't', session_timeout => '100 years',
	                                  max_poll_interval => '100 years')},
	extra_params => [ '-U', 'alice' ]);
like($err, qr/must not exceed eventlog\.max_session_timeout/,
	'configure_group refuses a timeout beyond eventlog.max_session_timeout');

# a transaction that polls every slot and rolls back, its session staying
# connected, leaves nothing behind
my $bg = $node->background_psql('postgres');
$bg->query_safe(q{SET eventlog.max_consumer_groups_per_role = -1});
$bg->query_safe(q{SET eventlog.max_consumer_groups_per_database = -1});
$bg->query_safe(q{BEGIN});
$bg->query_safe(
	qq{SELECT count(*) FROM eventlog.poll('tx$_', 't', member => 'static')})
  for 1 .. 4;
like(poll_as('other', 'carol', 'c0'), qr/too many active consumer groups\n/,
	'while the transaction is open, the server is full');
$bg->query_safe(q{ROLLBACK});
is(slots(), '', 'after ROLLBACK no slot is held, the session still connected');
is($node->safe_psql('postgres', q{SELECT count(*) FROM eventlog.group_members()}),
	'0', 'group_members() agrees');

# one role cannot take every slot
is(poll_as('postgres', 'alice', 'a1'), 'ok', 'alice: first group');
is(poll_as('postgres', 'alice', 'a2'), 'ok', 'alice: second group');
like(poll_as('postgres', 'alice', 'a3'),
	qr/too many active consumer groups for role "alice"/,
	'alice: third group refused by the per-role limit');
is(poll_as('postgres', 'bob', 'b1'), 'ok', 'bob still gets a slot');

# one database cannot take every slot
like(poll_as('postgres', 'bob', 'b2'),
	qr/too many active consumer groups in database "postgres"/,
	'bob: refused by the per-database limit');
is(poll_as('other', 'carol', 'c1'), 'ok', 'another database still gets a slot');
is(slots(), 'other/carol/c1 postgres/alice/a1 postgres/alice/a2 postgres/bob/b1',
	'group_slots() shows every slot of the server');

# now the server is full; dropping the database frees carol's static member
my $new_group = q{
SET eventlog.max_consumer_groups_per_database = -1;
SELECT count(*) FROM eventlog.poll('admin', 't', member => 'static');
};
($ret, $out, $err) = $node->psql('postgres', $new_group);
like($err, qr/too many active consumer groups\n/, 'the server is full');
$node->safe_psql('postgres', q{DROP DATABASE other});
($ret, $out, $err) = $node->psql('postgres', $new_group);
is($ret, 0, "a dropped database's static member gave its slot back")
  or diag($err);

# an operator frees a role's slots; others cannot
($ret, $out, $err) = $node->psql('postgres',
	q{SELECT eventlog.release_group_slots(role_name => 'alice')},
	extra_params => [ '-U', 'bob' ]);
like($err, qr/permission denied/, 'release_group_slots() is for superusers');
is( $node->safe_psql('postgres',
		q{SELECT eventlog.release_group_slots(role_name => 'alice')}),
	'2', 'a superuser frees alice\'s two slots');
is(slots(), 'postgres/postgres/admin postgres/bob/b1', 'the slots left');
is(poll_as('postgres', 'alice', 'a3'), 'ok', 'alice can take a slot again');

$bg->quit;
$node->stop;
done_testing();
