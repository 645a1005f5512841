/*
 * stats.h
 *		Shared-memory counters per topic (records and bytes produced and
 *		fetched) behind eventlog.stats, and the quota accounting that rides
 *		on the same calls (quota.h).
 */
#ifndef EVENTLOG_STATS_H
#define EVENTLOG_STATS_H

extern int	el_max_stats_topics;

extern Size el_stats_shmem_size(void);
extern void el_stats_shmem_request(void);
extern void el_stats_shmem_init(void);
extern void el_stats_register_callbacks(void);

/*
 * Count records appended to (or read from, by fetch/poll) a topic.  Bytes
 * are stored record bytes.  Backend-local until the transaction ends.
 */
extern void el_stats_produced(Oid topic_relid, int64 records, int64 bytes);
extern void el_stats_fetched(Oid topic_relid, int64 records, int64 bytes);

#endif							/* EVENTLOG_STATS_H */
