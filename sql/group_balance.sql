-- Consumer-group assignment, property by property, over many joins and
-- leaves (src/consume/groupassign.c): after every change each member holds
-- floor(P/M) or ceil(P/M) of the P partitions, every partition has exactly
-- one owner, and only the partitions that must move do (sticky): a joining
-- member takes only what it ends up with, a leaving member's partitions are
-- the only ones that move, and a topic that grows keeps every existing
-- owner.  More members than partitions leaves the extra ones idle.
-- Static members, all polled from this session, so nothing expires.
SELECT eventlog.create_topic('spread', partitions => 7);

CREATE TEMP VIEW asg AS
SELECT member, p FROM eventlog.group_members(), unnest(partitions) p
 WHERE group_id = 'bal' AND topic = 'spread';
CREATE TEMP TABLE prev (member text, p int);

-- after each step: balance (min, max), single ownership (assigned = owned
-- = P), and how many partitions changed owner since the previous step
-- (moved) against what the member of the step held before (had) and holds
-- now (its): a join moves its, a leave moves had, nothing else moves
\set check 'SELECT count(DISTINCT m.member) AS members, min(coalesce(n, 0)) AS min, max(coalesce(n, 0)) AS max, (SELECT count(*) FROM asg) AS assigned, (SELECT count(DISTINCT p) FROM asg) AS owned, (SELECT count(*) FROM prev JOIN asg USING (p) WHERE prev.member <> asg.member) AS moved, (SELECT count(*) FROM prev WHERE member = :''who'') AS had, (SELECT count(*) FROM asg WHERE member = :''who'') AS its FROM (SELECT member FROM eventlog.group_members() WHERE group_id = ''bal'') m LEFT JOIN (SELECT member, count(*) AS n FROM asg GROUP BY member) c USING (member); TRUNCATE prev; INSERT INTO prev SELECT * FROM asg;'
\set join 'SELECT count(*) >= 0 AS polled FROM eventlog.poll(''bal'', ''spread'', member => :''who'');'
\set leave 'SELECT eventlog.leave(''bal'', ''spread'', :''who'');'

-- joins one at a time, up to more members than partitions
\set who m1
:join
:check
\set who m2
:join
:check
\set who m3
:join
:check
\set who m4
:join
:check
\set who m5
:join
:check
\set who m6
:join
:check
\set who m7
:join
:check
\set who m8
:join
:check

-- leaves: an idle member (nothing moves), then busy ones
SELECT member AS who FROM eventlog.group_members()
 WHERE group_id = 'bal' AND cardinality(partitions) = 0 \gset
:leave
:check
\set who m2
:leave
:check
\set who m5
:leave
:check
\set who m1
:leave
:check

-- the topic grows: every existing owner keeps its partitions
SELECT eventlog.alter_topic('spread', partitions => 11);
\set who m3
:join
:check
-- a newcomer after the growth
\set who m9
:join
:check

SELECT eventlog.leave('bal', 'spread', member) FROM eventlog.group_members()
 WHERE group_id = 'bal';
SELECT count(*) AS members_left FROM eventlog.group_members() WHERE group_id = 'bal';
SELECT eventlog.drop_topic('spread');
