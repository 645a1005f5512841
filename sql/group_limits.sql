-- Consumer-group slots are shared by every database and role of the
-- server: limits per role and per database, bounded timeouts, slots
-- released on rollback and when their database is dropped, configure_group
-- checking the current role, huge waits, and the operator's functions.
SELECT eventlog.create_topic('gl', partitions => 2);
SELECT * FROM eventlog.produce('gl', '{"n": 1}', "partition" => 0);
CREATE ROLE regress_gl_a;
CREATE ROLE regress_gl_b;
CREATE ROLE regress_gl_none;
GRANT SELECT ON eventlog_topics.gl TO regress_gl_a, regress_gl_b;

SHOW eventlog.max_consumer_groups_per_role;
SHOW eventlog.max_consumer_groups_per_database;
SHOW eventlog.max_session_timeout;
-- the limits are superuser settings
SET ROLE regress_gl_a;
SET eventlog.max_consumer_groups_per_role = 1000;
RESET ROLE;

-- one role at its limit: refused; another role still gets a slot
SET eventlog.max_consumer_groups_per_role = 2;
SET ROLE regress_gl_a;
SELECT count(*) FROM eventlog.poll('a1', 'gl', member => 'm');
SELECT count(*) FROM eventlog.poll('a2', 'gl', member => 'm');
SELECT count(*) FROM eventlog.poll('a3', 'gl', member => 'm');
-- joining a group that has its slot already takes none
SELECT count(*) FROM eventlog.poll('a1', 'gl', member => 'm2');
RESET ROLE;
SET ROLE regress_gl_b;
SELECT count(*) FROM eventlog.poll('b1', 'gl', member => 'm');
-- a role sees the slots charged to it
SELECT role_name, group_id, members FROM eventlog.group_slots() ORDER BY group_id;
RESET ROLE;
-- a superuser sees every slot
SELECT database = current_database() AS here, role_name, group_id, topic,
       members, static_members, last_poll >= created_at AS polled,
       expires_at > last_poll AS expires
  FROM eventlog.group_slots() ORDER BY group_id;
-- a group whose members all leave gives its slot back
SET ROLE regress_gl_a;
SELECT eventlog.leave('a2', 'gl', 'm');
SELECT count(*) FROM eventlog.poll('a3', 'gl', member => 'm');
RESET ROLE;
RESET eventlog.max_consumer_groups_per_role;

-- the database's limit counts every role's groups
SELECT count(*) AS slots_here FROM eventlog.group_slots()
 WHERE database = current_database();
SET eventlog.max_consumer_groups_per_database = 3;
SET ROLE regress_gl_b;
SELECT count(*) FROM eventlog.poll('b2', 'gl', member => 'm');
RESET ROLE;
RESET eventlog.max_consumer_groups_per_database;

-- an operator frees slots: superuser only
SET ROLE regress_gl_a;
SELECT eventlog.release_group_slots(role_name => 'regress_gl_a');
RESET ROLE;
SELECT eventlog.release_group_slots(role_name => 'regress_gl_a');
SELECT role_name, group_id FROM eventlog.group_slots() ORDER BY group_id;
SELECT eventlog.release_group_slots(database => 'regress_gl_nosuch');
SELECT eventlog.release_group_slots(group_id => 'b1', topic => 'gl');
SELECT count(*) FROM eventlog.group_slots();

-- slots and members taken in a transaction that rolls back are released,
-- and group_members() agrees with the consumer_groups view
BEGIN;
SELECT count(*) FROM eventlog.poll('r1', 'gl', member => 's');
SELECT count(*) FROM eventlog.poll('r2', 'gl');
SELECT group_id, members FROM eventlog.consumer_groups
 WHERE group_id LIKE 'r_' ORDER BY group_id;
ROLLBACK;
SELECT count(*) AS slots FROM eventlog.group_slots();
SELECT count(*) AS members FROM eventlog.group_members();
SELECT count(*) AS groups FROM eventlog.consumer_groups;
-- subtransactions: a rolled-back savepoint's joins go, a released one's stay
BEGIN;
SELECT count(*) FROM eventlog.poll('r1', 'gl', member => 's');
SAVEPOINT sp1;
SELECT count(*) FROM eventlog.poll('r2', 'gl', member => 's');
SAVEPOINT sp2;
SELECT count(*) FROM eventlog.poll('r3', 'gl', member => 's');
RELEASE sp2;
ROLLBACK TO sp1;
SAVEPOINT sp3;
SELECT count(*) FROM eventlog.poll('r4', 'gl', member => 's');
RELEASE sp3;
COMMIT;
SELECT group_id, member FROM eventlog.group_members() ORDER BY group_id;
SELECT m.group_id AS only_in_group_members FROM eventlog.group_members() m
 WHERE NOT EXISTS (SELECT 1 FROM eventlog.consumer_groups g
                    WHERE g.group_id = m.group_id AND g.topic = m.topic);
SELECT group_id, members FROM eventlog.consumer_groups ORDER BY group_id;
-- joining a group that existed before is not undone by a rollback (as in
-- Kafka, and the rolled-back records go to the same member again); the
-- member that was there before stays too
BEGIN;
SELECT count(*) FROM eventlog.poll('r1', 'gl', member => 's');
SELECT count(*) FROM eventlog.poll('r1', 'gl', member => 't');
ROLLBACK;
SELECT group_id, member FROM eventlog.group_members() ORDER BY group_id, member;
-- an error in the polling statement itself releases what it took
SELECT count(*) FROM eventlog.poll('r5', 'gl', member => 's') p
 WHERE 1 / (p."offset" * 0) = 1;
SELECT count(*) AS r5 FROM eventlog.group_members() WHERE group_id = 'r5';

-- configure_group checks the current role, also after SET ROLE
SET ROLE regress_gl_a;
SELECT eventlog.configure_group('cfg', 'gl', session_timeout => '1 min');
RESET ROLE;
SET ROLE regress_gl_none;
SELECT eventlog.configure_group('cfg', 'gl', auto_commit => false);
SELECT eventlog.configure_group('cfg2', 'gl');
RESET ROLE;
SELECT group_id, session_timeout, auto_commit FROM eventlog.consumer_group
 WHERE group_id LIKE 'cfg%';
SELECT eventlog.configure_group('cfg', 'nosuch');
SELECT eventlog.configure_group('bad group', 'gl');

-- timeouts are bounded by eventlog.max_session_timeout
SELECT eventlog.configure_group('cfg', 'gl', session_timeout => '100 years');
SELECT eventlog.configure_group('cfg', 'gl', max_poll_interval => '1000000 years');
SELECT eventlog.configure_group('cfg', 'gl', session_timeout => '-1000000 years');
SELECT eventlog.configure_group('cfg', 'gl', session_timeout => '30 min',
                                max_poll_interval => '30 min');
-- rows written beyond the bound (before it was lowered, say) obey it too
UPDATE eventlog.consumer_group SET session_timeout = '100 years',
       max_poll_interval = '100 years' WHERE group_id = 'cfg';
SELECT count(*) FROM eventlog.poll('cfg', 'gl', member => 'x');
SELECT expires_at - last_poll AS held_at_most FROM eventlog.group_slots()
 WHERE group_id = 'cfg';

-- huge waits are clamped, not an overflow error (data is there: no wait)
SELECT count(*) FROM eventlog.fetch('gl', 0, 0, wait => '1000000 years');
SELECT count(*) FROM eventlog.fetch('gl', 0, 0, wait => '178000000 years');
SELECT count(*) FROM eventlog.poll('w', 'gl', wait => '1000000 years', member => 'w');
SELECT * FROM eventlog.fetch('gl', 0, 0, wait => '-1000000 years');
SELECT * FROM eventlog.poll('w', 'gl', wait => '-1000000 years', member => 'w');

-- static members of a dropped database do not keep their slots
SELECT current_database() AS maindb \gset
CREATE DATABASE regress_gl_dropped;
\c regress_gl_dropped
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('t');
SELECT count(*) FROM eventlog.poll('static', 't', member => 'forever');
\c :"maindb"
SELECT database, group_id, static_members FROM eventlog.group_slots()
 WHERE group_id = 'static';
DROP DATABASE regress_gl_dropped;
SELECT count(*) AS dropped_db_slots FROM eventlog.group_slots()
 WHERE database IS DISTINCT FROM current_database();
-- (TAP test 012 checks that such a slot is reused by the next group)

-- a dropped topic's slots are freed too
SELECT eventlog.drop_topic('gl');
SELECT count(*) AS slots FROM eventlog.group_slots();
DROP ROLE regress_gl_a, regress_gl_b, regress_gl_none;
