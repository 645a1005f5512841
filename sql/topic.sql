-- Topic DDL, the topics and partitions views, and their bad input.
SELECT eventlog.create_topic('orders', partitions => 3);
SELECT eventlog.create_topic('audit.log-v1_x');
SELECT eventlog.create_topic('compacted', 2, retention => '7 days', retention_bytes => 1000000,
                             cleanup_policy => 'compact,delete', segment_bytes => 1048576,
                             segment_interval => '1 day', delete_retention => '1 day');
SELECT topic, partitions, retention, retention_bytes, cleanup_policy, segment_bytes,
       segment_interval, delete_retention, relation
  FROM eventlog.topics ORDER BY topic;
SELECT topic, partition, log_start_offset, log_end_offset, stable_offset, segments, bytes
  FROM eventlog.partitions ORDER BY topic, partition;

-- the topic relation: columns, access method, no PUBLIC access
\d eventlog_topics.orders
SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
 WHERE c.oid = 'eventlog_topics.orders'::regclass;
SELECT count(*) AS segments FROM eventlog.segment_map WHERE topic = 'orders';
SELECT has_table_privilege('public', 'eventlog_topics.orders', 'SELECT') AS public_select,
       has_table_privilege('public', 'eventlog_topics.orders', 'INSERT') AS public_insert;

-- partitions only grow; settings change
SELECT eventlog.alter_topic('orders', partitions => 5);
SELECT eventlog.alter_topic('orders', retention => '1 hour');
SELECT topic, partitions, retention FROM eventlog.topics WHERE topic = 'orders';
SELECT count(*) AS partitions FROM eventlog.partitions WHERE topic = 'orders';

-- bad input: each one errors and changes nothing
SELECT eventlog.create_topic('orders');
SELECT eventlog.create_topic('bad name');
SELECT eventlog.create_topic('');
SELECT eventlog.create_topic('..');
SELECT eventlog.create_topic(repeat('x', 64));
SELECT eventlog.create_topic('t0', partitions => 0);
SELECT eventlog.create_topic('t0', partitions => 5000);
SELECT eventlog.create_topic(NULL);
SELECT eventlog.create_topic('t0', NULL);
SELECT eventlog.create_topic('t0', cleanup_policy => 'shred');
SELECT eventlog.create_topic('t0', retention => '-1 day');
SELECT eventlog.create_topic('t0', retention_bytes => 0);
SELECT eventlog.alter_topic('orders', partitions => 2);
SELECT eventlog.alter_topic('nosuch', partitions => 2);
SELECT eventlog.alter_topic(NULL);
SELECT eventlog.drop_topic('nosuch');
SELECT eventlog.drop_topic('nosuch', if_exists => true);
SELECT count(*) AS topics FROM eventlog.topics;

-- drop: relation, segments and catalog rows go
SELECT eventlog.drop_topic('audit.log-v1_x');
SELECT count(*) FROM pg_class WHERE relname = 'audit.log-v1_x';
SELECT count(*) FROM eventlog.segment_map WHERE topic = 'audit.log-v1_x';
-- plain DROP TABLE of a topic relation also cleans the catalog
DROP TABLE eventlog_topics.compacted;
SELECT topic FROM eventlog.topics ORDER BY topic;
SELECT count(*) FROM eventlog.segment_map WHERE topic = 'compacted';

-- an ordinary table cannot use the eventlog access method
CREATE TABLE not_a_topic (a int) USING eventlog;

SELECT eventlog.drop_topic('orders');

-- the record layout of a topic is fixed: no column or name changes
SELECT eventlog.create_topic('fixed');
ALTER TABLE eventlog_topics.fixed ADD COLUMN extra int;
ALTER TABLE eventlog_topics.fixed DROP COLUMN headers;
ALTER TABLE eventlog_topics.fixed ALTER COLUMN key TYPE varchar(10);
ALTER TABLE eventlog_topics.fixed RENAME TO other;
ALTER TABLE eventlog_topics.fixed RENAME COLUMN key TO k;
ALTER TABLE eventlog_topics.fixed SET SCHEMA public;
-- what is allowed
CREATE ROLE el_topic_owner;
ALTER TABLE eventlog_topics.fixed OWNER TO el_topic_owner;
ALTER TABLE eventlog_topics.fixed ALTER COLUMN key SET STATISTICS 500;
SELECT r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
 WHERE c.oid = 'eventlog_topics.fixed'::regclass;
-- the segments follow their topic's owner, also those added later
SELECT eventlog.alter_topic('fixed', partitions => 2);
SELECT count(*) AS segments, count(*) FILTER (WHERE r.rolname = 'el_topic_owner') AS owned_by_new_owner
  FROM eventlog.segment_map m JOIN pg_class c ON c.oid = m.segrel
  JOIN pg_roles r ON r.oid = c.relowner WHERE m.topic = 'fixed';
-- and the new owner may drop the topic (with its segments)
SET ROLE el_topic_owner;
SELECT eventlog.drop_topic('fixed');
RESET ROLE;
DROP ROLE el_topic_owner;

-- an owner who is not a superuser can give a topic away, segments and all
CREATE ROLE el_giver;
CREATE ROLE el_taker;
GRANT el_taker TO el_giver;
GRANT CREATE ON SCHEMA eventlog_topics TO el_giver, el_taker;
SET ROLE el_giver;
SELECT eventlog.create_topic('gift', partitions => 2);
ALTER TABLE eventlog_topics.gift OWNER TO el_taker;
RESET ROLE;
SELECT count(*) AS segments, count(*) FILTER (WHERE r.rolname = 'el_taker') AS owned_by_taker
  FROM eventlog.segment_map m JOIN pg_class c ON c.oid = m.segrel
  JOIN pg_roles r ON r.oid = c.relowner WHERE m.topic = 'gift';
SET ROLE el_taker;
SELECT eventlog.drop_topic('gift');
RESET ROLE;
REVOKE CREATE ON SCHEMA eventlog_topics FROM el_giver, el_taker;
DROP ROLE el_giver;
DROP ROLE el_taker;
