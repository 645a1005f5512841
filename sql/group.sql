-- Consumer groups: poll, commits in the caller's transaction, seek, views,
-- and bad input.  Member names of session members contain the backend pid,
-- so this test uses static members (member => '...') where names show.
SELECT eventlog.create_topic('g', partitions => 3);
INSERT INTO eventlog_topics.g ("partition", key, value)
SELECT g % 3, 'k' || g, jsonb_build_object('n', g) FROM generate_series(0, 29) g;

-- one member gets every partition, records in offset order per partition
SELECT partition, array_agg("offset" ORDER BY "offset") = array_agg("offset") AS ordered,
       count(*)
  FROM eventlog.poll('billing', 'g', 100, member => 'a') GROUP BY partition ORDER BY partition;
SELECT member, partitions FROM eventlog.group_members() WHERE group_id = 'billing';
SELECT group_id, topic, members, state, assignment, auto_offset_reset, auto_commit
  FROM eventlog.consumer_groups;
SELECT partition, committed_offset, log_end_offset, lag, member
  FROM eventlog.consumer_lag WHERE group_id = 'billing' ORDER BY partition;

-- nothing new: empty
SELECT count(*) FROM eventlog.poll('billing', 'g', member => 'a');

-- exactly once in the database: a rolled-back poll redelivers
SELECT * FROM eventlog.produce('g', '{"n": "new"}', "partition" => 1);
BEGIN;
SELECT partition, "offset", value FROM eventlog.poll('billing', 'g', member => 'a');
ROLLBACK;
BEGIN;
SELECT partition, "offset", value FROM eventlog.poll('billing', 'g', member => 'a');
CREATE TEMP TABLE processed AS SELECT 1 AS done;
COMMIT;
SELECT count(*) FROM eventlog.poll('billing', 'g', member => 'a');

-- max_records bounds a poll; the rest comes next time
SELECT eventlog.seek('billing', 'g', p, 0) FROM generate_series(0, 2) p;
SELECT count(*) FROM eventlog.poll('billing', 'g', 4, member => 'a');
SELECT sum(lag) AS lag_left FROM eventlog.consumer_lag WHERE group_id = 'billing';

-- a second member takes a fair share (1 of 3), sticky: a keeps 2
SELECT count(*) >= 0 AS joined FROM eventlog.poll('billing', 'g', 1, member => 'b');
SELECT member, cardinality(partitions) AS n FROM eventlog.group_members()
 WHERE group_id = 'billing' ORDER BY member;
SELECT count(*) AS overlap FROM (
  SELECT unnest(partitions) p FROM eventlog.group_members() WHERE group_id = 'billing'
  GROUP BY 1 HAVING count(*) > 1) s;
-- b leaves: a owns all again
SELECT eventlog.leave('billing', 'g', 'b');
SELECT member, partitions FROM eventlog.group_members() WHERE group_id = 'billing';

-- manual commit mode: poll does not move the offsets, commit() does
SELECT eventlog.configure_group('manual', 'g', auto_commit => false);
SELECT count(*) FROM eventlog.poll('manual', 'g', 100, member => 'm');
SELECT count(*) FROM eventlog.poll('manual', 'g', 100, member => 'm');
SELECT eventlog.commit('manual', 'g', 0, 10);
SELECT partition, committed_offset FROM eventlog.consumer_lag
 WHERE group_id = 'manual' ORDER BY partition;
-- (a commit for a partition another session's member owns is refused:
-- test/specs/group_*.spec)

-- a group can start at the end of the log
SELECT eventlog.configure_group('tail', 'g', auto_offset_reset => 'latest');
SELECT count(*) FROM eventlog.poll('tail', 'g', member => 't');
SELECT * FROM eventlog.produce('g', '{"n": "for-tail"}', "partition" => 2);
SELECT partition, value FROM eventlog.poll('tail', 'g', member => 't');

-- seek_to_time: back to the beginning
SELECT eventlog.seek_to_time('tail', 'g', '-infinity');
SELECT partition, committed_offset FROM eventlog.consumer_lag
 WHERE group_id = 'tail' ORDER BY partition;

-- fan-out: every group sees every record
SELECT count(*) AS fanout FROM eventlog.poll('audit', 'g', 1000, member => 'z');

-- a waiting poll with nothing new returns empty after the wait
SELECT count(*) FROM eventlog.poll('audit', 'g', wait => '50 ms', member => 'z');

-- committed offsets are plain rows, durable and dumped
SELECT group_id, partition, committed_offset FROM eventlog.group_offset
 WHERE group_id = 'billing' ORDER BY partition;

-- bad input
SELECT * FROM eventlog.poll(NULL, 'g');
SELECT * FROM eventlog.poll('billing', NULL);
SELECT * FROM eventlog.poll('bad group', 'g');
SELECT * FROM eventlog.poll('', 'g');
SELECT * FROM eventlog.poll('billing', 'nosuch');
SELECT * FROM eventlog.poll('billing', 'g', 0);
SELECT * FROM eventlog.poll('billing', 'g', wait => '-1 s');
SELECT * FROM eventlog.poll('billing', 'g', member => '');
SELECT * FROM eventlog.poll('billing', 'g', member => 'session-1');
SELECT eventlog.commit('nosuch', 'g', 0, 0);
SELECT eventlog.commit('billing', 'g', 3, 0);
SELECT eventlog.commit('billing', 'g', 0, -1);
SELECT eventlog.commit('billing', 'g', 0, 1000);
SELECT eventlog.commit('billing', 'g', NULL, 1);
SELECT eventlog.seek('billing', 'g', 0, -5);
SELECT eventlog.seek('billing', 'nosuch', 0, 0);
SELECT eventlog.seek_to_time('billing', 'g', NULL);
SELECT eventlog.leave('nosuch', 'g');
SELECT eventlog.configure_group('billing', 'g', auto_offset_reset => 'middle');
SELECT eventlog.configure_group('billing', 'g', session_timeout => '-1 s');

-- dropping the topic drops its groups and offsets
SELECT eventlog.drop_topic('g');
SELECT count(*) FROM eventlog.consumer_group;
SELECT count(*) FROM eventlog.group_offset;
