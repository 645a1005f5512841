-- pg_eventlog demo, run by scripts/demo.sh against a throwaway cluster.
\echo
\echo '== 1. Install the extension (its objects live in schema eventlog).'
CREATE EXTENSION pg_eventlog;

\echo
\echo '== 2. Create topic "orders" with 3 partitions.'
SELECT eventlog.create_topic('orders', partitions => 3);

\echo
\echo '== 3. Produce three events. The key picks the partition (murmur2, as in Kafka),'
\echo '==    so both customer-1 events land in the same partition, in order.'
SELECT * FROM eventlog.produce('orders', '{"id": 1, "total": 9.5}', key => 'customer-1');
SELECT * FROM eventlog.produce('orders', '{"id": 2, "total": 20}', key => 'customer-2');
SELECT * FROM eventlog.produce('orders', '{"id": 3, "total": 4.25}', key => 'customer-1');

\echo
\echo '== 4. Per-partition state of the topic: each partition has its own offsets.'
SELECT * FROM eventlog.partitions WHERE topic = 'orders';

\echo
\echo '== 5. Fetch customer-1''s partition from offset 0: both of its events, in order.'
SELECT * FROM eventlog.fetch('orders', eventlog.partition_for('orders', 'customer-1'), 0);
