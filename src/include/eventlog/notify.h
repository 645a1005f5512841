/*
 * notify.h
 *		Commit wake-ups for long-polling readers, and the per-transaction
 *		bookkeeping of what this backend produced.
 *
 * Shared memory holds a small array of slots, each a condition variable and
 * a commit counter; a topic hashes to one slot.  A producing transaction
 * remembers its topics and, once its commit is visible (XACT_EVENT_COMMIT
 * runs after the proc array says so), bumps each slot's counter and
 * broadcasts.  A reader notes the counter before it looks, and sleeps only
 * while the counter is unchanged, so no wake-up is lost.
 */
#ifndef EVENTLOG_NOTIFY_H
#define EVENTLOG_NOTIFY_H

#include "nodes/pg_list.h"

extern Size el_notify_shmem_size(void);
extern void el_notify_shmem_init(void);
extern void el_notify_register_xact_callbacks(void);

extern void el_notify_produced(Oid topic_relid);
extern uint64 el_notify_seq(Oid topic_relid);

/* Sleep until the topic's counter moves past seq or timeout_ms passes. */
extern bool el_notify_wait(Oid topic_relid, uint64 seq, long timeout_ms);

/*
 * Called at the commit or abort of a transaction that produced to the
 * topics listed (relation oids), or whose commit created a view
 * (view_created); no catalog access there.  The maintenance scheduler
 * registers it to wake view maintenance of those topics.
 */
typedef void (*ElTopicsSettledHook) (List *topic_relids, bool view_created);
extern ElTopicsSettledHook el_topics_settled_hook;

#endif							/* EVENTLOG_NOTIFY_H */
