/*
 * elvisibility.h
 *		The one visibility rule of eventlog runs (see elvisibility.c).
 *
 * Every decision about a run's transaction -- visible to a snapshot, still
 * running, aborted, old enough to freeze -- is made here, as
 * heapam_visibility.c makes it for heap tuples.  Callers never ask the
 * clog or the proc array themselves.
 */
#ifndef EVENTLOG_ELVISIBILITY_H
#define EVENTLOG_ELVISIBILITY_H

#include "utils/snapshot.h"

#include "eventlog/elpage.h"

/* A run as seen by a reader with a snapshot: el_run_visible(). */
typedef enum ElVisibility
{
	EL_VISIBLE,
	EL_INVISIBLE,				/* aborted, or inserted later by this xact */
	EL_IN_PROGRESS				/* not yet settled for this snapshot */
} ElVisibility;

/* A run as seen without a snapshot (ANALYZE, index builds): el_run_status(). */
typedef enum ElRunStatus
{
	EL_STATUS_LIVE,				/* committed (or frozen as such) */
	EL_STATUS_DEAD,				/* aborted (or frozen as such) */
	EL_STATUS_IN_PROGRESS		/* inserting transaction still running, ours
								 * included */
} ElRunStatus;

/* readers */
extern ElVisibility el_run_visible(const ElRun *run, Snapshot snapshot);
extern ElVisibility el_run_visible_all_live(const ElRun *run);
extern bool el_page_may_be_unsettled(Page page, Snapshot snapshot);
extern bool el_earlier_pages_settled(Page page, Snapshot snapshot);

/* ANALYZE and VACUUM */
extern ElRunStatus el_run_status(const ElRun *run);
extern uint16 el_run_freeze_flag(const ElRun *run, TransactionId freeze_limit);
extern bool el_page_init_xid_freezable(Page page, TransactionId freeze_limit);
extern bool el_xid_visible_to(TransactionId xid, Snapshot snapshot);
extern ElRunStatus el_run_settled_status(const ElRun *run, TransactionId horizon);

#endif							/* EVENTLOG_ELVISIBILITY_H */
