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

\echo
\echo '== 6. Bulk produce with plain SQL: INSERT routes exactly like produce().'
INSERT INTO eventlog_topics.orders (key, value)
SELECT 'customer-' || (g % 5), jsonb_build_object('id', 100 + g, 'total', g * 1.5)
  FROM generate_series(1, 12) g
RETURNING "partition", "offset", key;

\echo
\echo '== 7. A consumer group: poll and process in ONE transaction.  The offsets'
\echo '==    advance with the COMMIT; a ROLLBACK would deliver the same records again.'
CREATE TABLE order_totals (customer text PRIMARY KEY, total numeric NOT NULL);
BEGIN;
WITH batch AS (SELECT * FROM eventlog.poll('billing', 'orders', max_records => 100))
INSERT INTO order_totals AS t (customer, total)
SELECT key, sum((value->>'total')::numeric) FROM batch GROUP BY key
ON CONFLICT (customer) DO UPDATE SET total = t.total + EXCLUDED.total;
COMMIT;
SELECT * FROM order_totals ORDER BY customer;

\echo
\echo '== 8. The group is caught up: lag 0 on every partition.'
SELECT group_id, "partition", committed_offset, log_end_offset, lag
  FROM eventlog.consumer_lag ORDER BY "partition";

\echo
\echo '== 9. A materialized view: the same per-customer totals, kept current from'
\echo '==    the log by the background worker (refresh_view catches up at once).'
SELECT eventlog.create_view('customer_totals', 'orders', kind => 'sum',
                            expr => $$(value->>'total')::numeric$$);
SELECT eventlog.produce('orders', '{"id": 200, "total": 1}', key => 'customer-1');
SELECT eventlog.refresh_view('customer_totals');
SELECT key AS customer, value AS total FROM customer_totals ORDER BY key;
SELECT view_name, "partition", "position", lag FROM eventlog.views ORDER BY "partition";
