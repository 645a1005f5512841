/*
 * pending.h
 *		Records an INSERT statement has routed but not yet appended.
 *
 * An INSERT into a topic that nobody can observe row by row (no RETURNING,
 * no index, no trigger on the topic) does not need each record's offset
 * before the statement ends.  Its records are then collected per partition
 * and appended a page at a time: one buffer lock and one WAL record per
 * page instead of per record.  They keep the transaction and command id
 * they were inserted with, are appended in insertion order, and are
 * flushed before the statement ends, before any read of a topic by this
 * backend, and before a direct append; a (sub)transaction abort discards
 * the ones it inserted (each batch remembers its subtransaction).
 */
#ifndef EVENTLOG_PENDING_H
#define EVENTLOG_PENDING_H

#include "eventlog/topic.h"

/* set by the ExecutorRun hook while an eligible INSERT runs */
extern bool el_defer_inserts;

extern void el_pending_add(ElTopic *topic, const RelFileNode *topic_node,
						   int partition, const char *entry, Size len);
extern void el_pending_flush(void);
extern void el_pending_register_callbacks(void);

static inline bool
el_pending_empty(void)
{
	extern bool el_pending_nonempty;

	return !el_pending_nonempty;
}

#endif							/* EVENTLOG_PENDING_H */
