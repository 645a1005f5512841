-- Rights on consumer groups: a group belongs to the role that created it;
-- its owner grants USAGE to other roles.  Every allowed and denied path,
-- including SECURITY DEFINER wrappers, views and search_path traps.
\set VERBOSITY default
CREATE ROLE regress_gr_alice;
CREATE ROLE regress_gr_bob;
CREATE ROLE regress_gr_carol;
CREATE ROLE regress_gr_team;
CREATE ROLE regress_gr_mallory;
CREATE ROLE regress_gr_noinherit NOINHERIT;
GRANT regress_gr_team TO regress_gr_carol, regress_gr_noinherit;
GRANT regress_gr_team TO regress_gr_alice;
GRANT CREATE ON SCHEMA eventlog_topics TO regress_gr_alice;
GRANT CREATE ON SCHEMA public TO regress_gr_alice, regress_gr_bob;

SET ROLE regress_gr_alice;
SELECT eventlog.create_topic('gr', partitions => 2);
INSERT INTO eventlog_topics.gr ("partition", key, value)
SELECT g % 2, 'k' || g, jsonb_build_object('n', g) FROM generate_series(0, 9) g;
GRANT SELECT ON eventlog_topics.gr TO regress_gr_bob, regress_gr_carol,
    regress_gr_mallory, regress_gr_noinherit;
-- the first poll creates the group: alice owns it
SELECT count(*) FROM eventlog.poll('orders-app', 'gr', 3, member => 'a1');
RESET ROLE;
SELECT group_id, topic, owner, acl FROM eventlog.consumer_groups;
SELECT DISTINCT group_id, owner FROM eventlog.consumer_lag;

-- bob may read the topic but not use alice's group
SET ROLE regress_gr_bob;
SELECT count(*) FROM eventlog.fetch('gr', 0, 0);
SELECT count(*) FROM eventlog.poll('orders-app', 'gr', member => 'b1');
SELECT eventlog.commit('orders-app', 'gr', 0, 0);
SELECT eventlog.seek('orders-app', 'gr', 0, 0);
SELECT eventlog.seek_to_time('orders-app', 'gr', now());
SELECT eventlog.leave('orders-app', 'gr', 'a1');
SELECT eventlog.configure_group('orders-app', 'gr', auto_commit => false);
-- nor grant it to himself, nor take it
SELECT eventlog.grant_group('orders-app', 'gr', 'regress_gr_bob');
SELECT eventlog.alter_group_owner('orders-app', 'gr', 'regress_gr_bob');
-- the catalog tables are read-only to him
INSERT INTO eventlog.consumer_group (group_id, topic, owner) VALUES ('x', 'gr', 'regress_gr_bob');
UPDATE eventlog.consumer_group SET owner = 'regress_gr_bob';
UPDATE eventlog.group_offset SET committed_offset = 0;
DELETE FROM eventlog.consumer_group;
-- a group of his own: he owns it
SELECT count(*) FROM eventlog.poll('bob-app', 'gr', member => 'b1');
SELECT eventlog.configure_group('bob-app', 'gr', auto_commit => false);
RESET ROLE;
-- nothing of the denied calls changed anything
SELECT group_id, owner, auto_commit, acl FROM eventlog.consumer_group ORDER BY group_id;
SELECT group_id, "partition", committed_offset FROM eventlog.group_offset ORDER BY 1, 2;

-- alice grants the group to bob: he may use it, not manage it
SET ROLE regress_gr_alice;
SELECT eventlog.grant_group('orders-app', 'gr', 'regress_gr_bob');
SELECT eventlog.grant_group('orders-app', 'gr', 'regress_gr_bob');	-- idempotent
SELECT acl FROM eventlog.consumer_group WHERE group_id = 'orders-app';
RESET ROLE;
SET ROLE regress_gr_bob;
SELECT eventlog.seek('orders-app', 'gr', 0, 1);
SELECT eventlog.commit('orders-app', 'gr', 0, 2);
SELECT eventlog.configure_group('orders-app', 'gr', auto_offset_reset => 'latest');
SELECT eventlog.leave('orders-app', 'gr', 'a1');
SELECT count(*) FROM eventlog.poll('orders-app', 'gr', member => 'b1');
SELECT eventlog.grant_group('orders-app', 'gr', 'regress_gr_mallory');
SELECT eventlog.revoke_group('orders-app', 'gr', 'regress_gr_bob');
RESET ROLE;

-- revoked: denied again
SET ROLE regress_gr_alice;
SELECT eventlog.revoke_group('orders-app', 'gr', 'regress_gr_bob');
RESET ROLE;
SET ROLE regress_gr_bob;
SELECT eventlog.commit('orders-app', 'gr', 0, 2);
RESET ROLE;

-- a grant to a role counts for its members that inherit it
SET ROLE regress_gr_alice;
SELECT eventlog.grant_group('orders-app', 'gr', 'regress_gr_team');
RESET ROLE;
SET ROLE regress_gr_carol;
SELECT eventlog.seek('orders-app', 'gr', 1, 0);
RESET ROLE;
SET ROLE regress_gr_noinherit;
SELECT eventlog.seek('orders-app', 'gr', 1, 0);
SET ROLE regress_gr_team;			-- after SET ROLE it has the team's rights
SELECT eventlog.seek('orders-app', 'gr', 1, 0);	-- but not the topic's
RESET ROLE;
GRANT SELECT ON eventlog_topics.gr TO regress_gr_team;
SET ROLE regress_gr_noinherit;
SET ROLE regress_gr_team;
SELECT eventlog.seek('orders-app', 'gr', 1, 0);
RESET ROLE;

-- grants to PUBLIC; the topic privilege is still needed
SET ROLE regress_gr_alice;
SELECT eventlog.grant_group('orders-app', 'gr', 'public');
REVOKE SELECT ON eventlog_topics.gr FROM regress_gr_mallory;
RESET ROLE;
SET ROLE regress_gr_bob;
SELECT eventlog.seek('orders-app', 'gr', 1, 0);
RESET ROLE;
SET ROLE regress_gr_mallory;
SELECT eventlog.seek('orders-app', 'gr', 1, 0);
RESET ROLE;
SET ROLE regress_gr_alice;
SELECT eventlog.revoke_group('orders-app', 'gr', 'public');
GRANT SELECT ON eventlog_topics.gr TO regress_gr_mallory;
RESET ROLE;

-- SECURITY DEFINER: the definer's rights apply, as for tables.  Bob's
-- wrapper gains him nothing; alice's wrapper delegates on purpose.
SET ROLE regress_gr_bob;
CREATE FUNCTION public.bob_seek(g text) RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$ SELECT eventlog.seek(g, 'gr', 0, 0) $$;
SELECT public.bob_seek('orders-app');
RESET ROLE;
SET ROLE regress_gr_alice;
CREATE FUNCTION public.alice_seek(g text) RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$ SELECT eventlog.seek(g, 'gr', 0, 0) $$;
REVOKE EXECUTE ON FUNCTION public.alice_seek(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.alice_seek(text) TO regress_gr_mallory;
RESET ROLE;
SET ROLE regress_gr_mallory;
SELECT public.alice_seek('orders-app');
SELECT public.alice_seek('bob-app');	-- alice has no right on bob's group
SELECT public.bob_seek('orders-app');	-- runs as bob: denied
RESET ROLE;

-- a view runs functions as the role that queries it: alice's view gives
-- mallory nothing
SET ROLE regress_gr_alice;
CREATE VIEW public.alice_lag AS
SELECT * FROM eventlog.poll('orders-app', 'gr', member => 'v1');
GRANT SELECT ON public.alice_lag TO regress_gr_mallory;
RESET ROLE;
SET ROLE regress_gr_mallory;
SELECT count(*) FROM public.alice_lag;
RESET ROLE;

-- search_path traps: an operator and functions of bob's come first on the
-- path; the functions still check, and nothing of bob's runs
CREATE SCHEMA regress_gr_trap AUTHORIZATION regress_gr_bob;
SET ROLE regress_gr_bob;
CREATE FUNCTION regress_gr_trap.texteq(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'trap ran as %', current_user; RETURN true; END $$;
CREATE OPERATOR regress_gr_trap.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_gr_trap.texteq);
CREATE FUNCTION regress_gr_trap.has_privs_of_role(name, name) RETURNS boolean
LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION regress_gr_trap.aclcontains(aclitem[], aclitem) RETURNS boolean
LANGUAGE sql AS $$ SELECT true $$;
SET search_path = regress_gr_trap, pg_catalog, public;
SELECT eventlog.seek('orders-app', 'gr', 0, 0);
SELECT eventlog.commit('orders-app', 'gr', 0, 0);
SELECT eventlog.seek_to_time('orders-app', 'gr', now());
SELECT eventlog.grant_group('orders-app', 'gr', 'regress_gr_bob');
SELECT count(*) FROM eventlog.poll('bob-app', 'gr', member => 'b1');
SELECT eventlog.seek('bob-app', 'gr', 0, 0);
RESET search_path;
RESET ROLE;
DROP SCHEMA regress_gr_trap CASCADE;

-- giving a group away: to a role whose privileges the owner has
SET ROLE regress_gr_alice;
SELECT eventlog.grant_group('orders-app', 'gr', 'regress_gr_bob');
SELECT eventlog.alter_group_owner('orders-app', 'gr', 'regress_gr_mallory');
SELECT eventlog.alter_group_owner('orders-app', 'gr', 'regress_gr_team');
SELECT owner, acl FROM eventlog.consumer_group WHERE group_id = 'orders-app';
-- alice is a member of the team: still manages it
SELECT eventlog.revoke_group('orders-app', 'gr', 'regress_gr_team');
RESET ROLE;
SET ROLE regress_gr_carol;				-- a member of the owning role
SELECT eventlog.seek('orders-app', 'gr', 0, 0);
RESET ROLE;
SET ROLE regress_gr_bob;				-- the grant moved with the group
SELECT eventlog.seek('orders-app', 'gr', 0, 0);
RESET ROLE;
-- superusers manage every group
SELECT eventlog.alter_group_owner('bob-app', 'gr', 'regress_gr_alice');
SELECT group_id, owner, acl FROM eventlog.consumer_groups ORDER BY group_id;

-- bad arguments
SELECT eventlog.grant_group(NULL, 'gr', 'regress_gr_bob');
SELECT eventlog.grant_group('orders-app', 'gr', NULL);
SELECT eventlog.grant_group('orders-app', 'gr', 'regress_gr_nobody');
SELECT eventlog.grant_group('no-such-group', 'gr', 'regress_gr_bob');
SELECT eventlog.grant_group('orders-app', 'no-such-topic', 'regress_gr_bob');
SELECT eventlog.grant_group('bad name!', 'gr', 'regress_gr_bob');
SELECT eventlog.alter_group_owner('orders-app', 'gr', 'public');

-- clean up
SELECT eventlog.release_group_slots();
DROP VIEW public.alice_lag;
DROP FUNCTION public.alice_seek(text), public.bob_seek(text);
SELECT eventlog.drop_topic('gr');
SELECT count(*) FROM eventlog.consumer_group;
REVOKE CREATE ON SCHEMA eventlog_topics FROM regress_gr_alice;
REVOKE CREATE ON SCHEMA public FROM regress_gr_alice, regress_gr_bob;
DROP ROLE regress_gr_alice, regress_gr_bob, regress_gr_carol, regress_gr_team,
    regress_gr_mallory, regress_gr_noinherit;
