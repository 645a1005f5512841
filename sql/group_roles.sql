-- Roles that own consumer groups, may use other roles' groups or have a
-- quota (issue 12): DROP ROLE refuses them, REASSIGN OWNED gives their
-- groups away, DROP OWNED drops their groups, their USAGE on others' and
-- their quota (in the current database, as for PostgreSQL's objects).
CREATE ROLE regress_gro_a;
CREATE ROLE regress_gro_b;
CREATE ROLE regress_gro_c;
SELECT eventlog.create_topic('gro', partitions => 2);
GRANT SELECT ON eventlog_topics.gro TO regress_gro_a, regress_gro_b, regress_gro_c;
SELECT count(*) FROM eventlog.produce('gro', '{"n": 1}', "partition" => 0);
SELECT count(*) FROM eventlog.produce('gro', '{"n": 2}', "partition" => 1);
SET ROLE regress_gro_a;
SELECT count(*) FROM eventlog.poll('gro-a1', 'gro');
SELECT count(*) FROM eventlog.poll('gro-a2', 'gro');
SELECT eventlog.grant_group('gro-a1', 'gro', 'regress_gro_b');
SET ROLE regress_gro_b;
SELECT count(*) FROM eventlog.poll('gro-b', 'gro');
SELECT eventlog.grant_group('gro-b', 'gro', 'regress_gro_a');
SELECT eventlog.grant_group('gro-b', 'gro', 'public');
RESET ROLE;
SELECT eventlog.set_quota('regress_gro_a', 1000000, NULL);
SELECT group_id, owner, acl FROM eventlog.consumer_group WHERE topic = 'gro' ORDER BY 1;

-- DROP ROLE: refused while groups, grants or a quota name the role
DROP ROLE regress_gro_a;
DROP ROLE IF EXISTS regress_gro_nobody, regress_gro_b;
BEGIN;
SELECT eventlog.revoke_group('gro-a1', 'gro', 'regress_gro_b');
SET LOCAL ROLE regress_gro_b;
SELECT eventlog.alter_group_owner('gro-b', 'gro', CURRENT_USER);
RESET ROLE;
DROP ROLE regress_gro_b;
ROLLBACK;

-- REASSIGN OWNED: the groups go to the new owner, grants stay (with it
-- as grantor); USAGE granted to the old role and its quota stay
REASSIGN OWNED BY regress_gro_a TO regress_gro_c;
SELECT group_id, owner, acl FROM eventlog.consumer_group WHERE topic = 'gro' ORDER BY 1;
SET ROLE regress_gro_c;
SELECT count(*) FROM eventlog.poll('gro-a1', 'gro');
SET ROLE regress_gro_a;
SELECT count(*) FROM eventlog.poll('gro-a2', 'gro');
RESET ROLE;
DROP ROLE regress_gro_a;
-- only with the privileges of both roles (PostgreSQL's check)
SET ROLE regress_gro_b;
REASSIGN OWNED BY regress_gro_c TO regress_gro_b;
RESET ROLE;

-- DROP OWNED: groups dropped with their committed offsets, USAGE on other
-- roles' groups revoked, the quota removed; a rollback keeps everything
SELECT group_id, count(*) FROM eventlog.group_offset WHERE topic = 'gro' GROUP BY 1 ORDER BY 1;
BEGIN;
DROP OWNED BY regress_gro_c, regress_gro_a;
SELECT group_id, owner, acl FROM eventlog.consumer_group WHERE topic = 'gro' ORDER BY 1;
ROLLBACK;
SELECT count(*) FROM eventlog.consumer_group WHERE topic = 'gro';
DROP OWNED BY regress_gro_c, regress_gro_a;
SELECT group_id, owner, acl FROM eventlog.consumer_group WHERE topic = 'gro' ORDER BY 1;
SELECT group_id, count(*) FROM eventlog.group_offset WHERE topic = 'gro' GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM eventlog.quota WHERE role_name::oid = 'regress_gro_a'::regrole::oid;
DROP ROLE regress_gro_a, regress_gro_c;

-- a role cannot lift its own quota with DROP OWNED BY itself
SELECT eventlog.set_quota('regress_gro_b', 1000000, NULL);
REVOKE SELECT ON eventlog_topics.gro FROM regress_gro_b;
SET ROLE regress_gro_b;
DROP OWNED BY regress_gro_b;
RESET ROLE;
SELECT count(*) FROM eventlog.consumer_group WHERE topic = 'gro';
DROP ROLE regress_gro_b;
SELECT eventlog.set_quota('regress_gro_b', NULL, NULL);
DROP ROLE regress_gro_b;
SELECT eventlog.drop_topic('gro');
