-- The topic cache reads eventlog.topic_config and eventlog.segment_map with
-- index scans of its own (catalog/topic.c), not with SQL run through SPI:
-- table access method callbacks (a scan's start, the planner's size
-- estimate, VACUUM) and the hot paths load topics, and must not depend on
-- what the current role may query.  With SPI, the catalog was read with the
-- privileges of whoever happened to touch the topic first in a backend.
-- Shown with roles that may read or write a topic but not the catalog
-- tables: each \c starts a backend whose topic cache is empty.
SELECT eventlog.create_topic('catread', 2);
SELECT * FROM eventlog.produce('catread', '{"n": 1}', 'a', NULL, 0);
SELECT * FROM eventlog.produce('catread', '{"n": 2}', 'b', NULL, 1);
CREATE ROLE regress_cr_reader;
CREATE ROLE regress_cr_writer;
GRANT SELECT ON eventlog_topics.catread TO regress_cr_reader;
GRANT INSERT ON eventlog_topics.catread TO regress_cr_writer;
REVOKE SELECT ON eventlog.topic_config, eventlog.segment_map FROM PUBLIC;

-- the catalog is out of the roles' reach ...
SET ROLE regress_cr_reader;
SELECT count(*) FROM eventlog.topic_config;
RESET ROLE;

-- ... but a sequential scan of the topic (planner size estimate, scan start)
\c -
SET ROLE regress_cr_reader;
SELECT partition, "offset", key, value FROM eventlog_topics.catread ORDER BY 1, 2;

-- fetch and offset_for_time
\c -
SET ROLE regress_cr_reader;
SELECT partition, "offset", key, value FROM eventlog.fetch('catread', 1, 0);
SELECT eventlog.offset_for_time('catread', 0, '-infinity');

-- produce and INSERT
\c -
SET ROLE regress_cr_writer;
SELECT * FROM eventlog.produce('catread', '{"n": 3}', 'c', NULL, 1);
INSERT INTO eventlog_topics.catread (key, value) VALUES ('d', '{"n": 4}');
RESET ROLE;

-- a partition added later is seen by a backend that has the topic cached
SET ROLE regress_cr_reader;
SELECT partition, count(*) FROM eventlog_topics.catread GROUP BY 1 ORDER BY 1;
RESET ROLE;
SELECT eventlog.alter_topic('catread', partitions => 3);
SELECT * FROM eventlog.produce('catread', '{"n": 5}', 'e', NULL, 2);
SET ROLE regress_cr_reader;
SELECT partition, count(*) FROM eventlog_topics.catread GROUP BY 1 ORDER BY 1;
RESET ROLE;

-- VACUUM of the topic reaches its segments through the same cache
\c -
VACUUM eventlog_topics.catread;
SELECT count(*) FROM eventlog_topics.catread;

GRANT SELECT ON eventlog.topic_config, eventlog.segment_map TO PUBLIC;
SELECT eventlog.drop_topic('catread');
DROP ROLE regress_cr_reader;
DROP ROLE regress_cr_writer;
