/*
 * elvisibility.c
 *		The visibility rule of eventlog runs, in one place.
 *
 * A run header names the inserting transaction (xid, command id) of the
 * records that follow it, so every question below is asked once per run,
 * not per record: one clog look-up per transaction per page.  VACUUM later
 * settles a run for good with a flag (EL_RUN_FROZEN: committed, EL_RUN_DEAD:
 * aborted); a flagged run is answered without looking at its xid, which may
 * by then be older than the clog that knew it.
 *
 * The questions, and who asks them:
 *
 *	 el_run_visible()			a reader with a snapshot (SQL scans, index and
 *								TID fetches, fetch() and poll())
 *	 el_run_visible_all_live()	index builds (SnapshotAny): all but aborted
 *	 el_page_may_be_unsettled(), el_earlier_pages_settled()
 *								stop-mode readers (elscan.c): how far back
 *								an open transaction can hide
 *	 el_run_status()			ANALYZE: live, dead or in progress
 *	 el_run_freeze_flag(), el_page_init_xid_freezable()
 *								VACUUM's freezing (elvacuum.c)
 *	 el_run_settled_status()	compaction (compact.c): settled for every
 *								snapshot that exists or will
 *	 el_xid_visible_to()		readers choosing between a compacted segment
 *								and the relation it replaced (elscan.c)
 *
 * Keeping them together keeps them consistent: a run VACUUM marks DEAD must
 * be one no reader could ever see, a run it marks FROZEN one every later
 * snapshot sees, and a page's init_xid only bounds readers' look-back while
 * the xid comparison means what readers assume.  Nothing outside this file
 * asks the clog (TransactionIdDidCommit/DidAbort), the proc array
 * (TransactionIdIsInProgress) or a snapshot (XidInMVCCSnapshot) about a
 * run's xid.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "storage/procarray.h"
#include "utils/snapmgr.h"

#include "eventlog/elvisibility.h"

/*
 * A run's visibility for a reader with this snapshot.
 *
 * EL_IN_PROGRESS means the inserting transaction had not finished when the
 * snapshot was taken (or, for our own transaction, the records belong to a
 * later command).  Ordinary scans skip such runs; fetch() stops at them,
 * which is what keeps a consumer from ever moving past a record that may
 * still commit.
 *
 * Snapshot types, as heapam_visibility.c treats them:
 *	- MVCC: the snapshot decides; a run it sees as running is EL_IN_PROGRESS
 *	  unless its (sub)transaction has already aborted, which can never
 *	  commit and is skipped at once.
 *	- DIRTY (unique index checks): another transaction's records count while
 *	  it runs, and snapshot->xmin names it, so the caller waits for it.  The
 *	  caller resets xmin before the look-up (elam.c, fetch_by_tid).
 *	- SELF and others: the transaction's state now.
 *	- ANY: everything not frozen as dead.
 */
ElVisibility
el_run_visible(const ElRun *run, Snapshot snapshot)
{
	TransactionId xid = run->xid;

	if (run->flags & EL_RUN_FROZEN)
		return EL_VISIBLE;
	if (run->flags & EL_RUN_DEAD)
		return EL_INVISIBLE;

	if (snapshot->snapshot_type == SNAPSHOT_ANY)
		return EL_VISIBLE;

	if (TransactionIdIsCurrentTransactionId(xid))
	{
		if (snapshot->snapshot_type == SNAPSHOT_MVCC && run->cid >= snapshot->curcid)
			return EL_IN_PROGRESS;
		return EL_VISIBLE;
	}

	if (snapshot->snapshot_type == SNAPSHOT_DIRTY)
	{
		if (TransactionIdIsInProgress(xid))
		{
			snapshot->xmin = xid;
			return EL_VISIBLE;
		}
		return TransactionIdDidCommit(xid) ? EL_VISIBLE : EL_INVISIBLE;
	}

	if (snapshot->snapshot_type == SNAPSHOT_MVCC)
	{
		if (XidInMVCCSnapshot(xid, snapshot))
		{
			/* a rolled-back subtransaction can never commit: skip it now */
			if (TransactionIdDidAbort(xid))
				return EL_INVISIBLE;
			return EL_IN_PROGRESS;
		}
	}
	else if (TransactionIdIsInProgress(xid))
		return EL_IN_PROGRESS;

	return TransactionIdDidCommit(xid) ? EL_VISIBLE : EL_INVISIBLE;
}

/*
 * Index builds read with SnapshotAny and must index every record that is or
 * may become visible, as heap's build indexes everything but dead tuples:
 * committed runs and runs still in progress (ours included), never aborted
 * ones -- an aborted duplicate must not fail a unique index build.
 */
ElVisibility
el_run_visible_all_live(const ElRun *run)
{
	return el_run_status(run) == EL_STATUS_DEAD ? EL_INVISIBLE : EL_VISIBLE;
}

/*
 * Could this page hold a run that is not settled for the snapshot?  A run
 * of a transaction older than the snapshot's xmin is settled (committed or
 * aborted, either way final); only younger ones and our own may not be.
 * This is a cheap filter (no clog or proc array look-up) that lets a
 * stop-mode reader skip the per-run check on old pages.
 */
bool
el_page_may_be_unsettled(Page page, Snapshot snapshot)
{
	ElPageIter	it;
	ElRecordRef rec;

	if (!el_page_is_valid(page))
		return false;
	el_page_iter_init(&it, page);
	while (el_page_iter_next(&it, &rec))
	{
		if (rec.run->flags & (EL_RUN_FROZEN | EL_RUN_DEAD))
			continue;
		if (TransactionIdFollowsOrEquals(rec.run->xid, snapshot->xmin) ||
			TransactionIdIsCurrentTransactionId(rec.run->xid))
			return true;
	}
	return false;
}

/*
 * Every run on a page before this (valid) one has an xid below its
 * init_xid; once that is not above the snapshot's xmin, nothing on earlier
 * pages can be unsettled.  (An old transaction may append after a younger
 * one, so a page of settled runs alone proves nothing about earlier pages.)
 * VACUUM replaces an old init_xid by FrozenTransactionId
 * (el_page_init_xid_freezable), which precedes every xmin.
 */
bool
el_earlier_pages_settled(Page page, Snapshot snapshot)
{
	return TransactionIdPrecedesOrEquals(ElPageGetOpaque(page)->init_xid,
										 snapshot->xmin);
}

/*
 * A run's state now, without a snapshot: what ANALYZE counts (live rows,
 * dead rows, or neither while the inserter runs) and what an index build
 * includes (all but dead).  Our own transaction's runs are in progress.
 */
ElRunStatus
el_run_status(const ElRun *run)
{
	if (run->flags & EL_RUN_FROZEN)
		return EL_STATUS_LIVE;
	if (run->flags & EL_RUN_DEAD)
		return EL_STATUS_DEAD;
	if (TransactionIdIsCurrentTransactionId(run->xid) ||
		TransactionIdIsInProgress(run->xid))
		return EL_STATUS_IN_PROGRESS;
	return TransactionIdDidCommit(run->xid) ? EL_STATUS_LIVE : EL_STATUS_DEAD;
}

/*
 * The flag VACUUM sets on a run to settle it for good: EL_RUN_FROZEN for a
 * committed run, EL_RUN_DEAD for an aborted one, or 0 to leave the run as it
 * is (flagged already, or its xid not older than the freeze limit).
 *
 * Only xids before the freeze limit are frozen, and the freeze limit is never
 * past VACUUM's OldestXmin: such a transaction is no longer running and
 * every snapshot already sees it as finished, so "not committed" means
 * aborted (or crashed) and no reader's answer changes when the flag
 * replaces the clog look-up.  Afterwards the xid may be older than
 * relfrozenxid and the clog that knew it truncated.
 */
uint16
el_run_freeze_flag(const ElRun *run, TransactionId freeze_limit)
{
	if (run->flags & (EL_RUN_FROZEN | EL_RUN_DEAD))
		return 0;
	if (!TransactionIdPrecedes(run->xid, freeze_limit))
		return 0;
	return TransactionIdDidCommit(run->xid) ? EL_RUN_FROZEN : EL_RUN_DEAD;
}

/*
 * A page's init_xid bounds how far readers look back for open transactions
 * (el_earlier_pages_settled).  Once it is older than the freeze limit every
 * earlier xid is settled for everyone; VACUUM then replaces it by
 * FrozenTransactionId, which keeps that true across xid wraparound.
 */
bool
el_page_init_xid_freezable(Page page, TransactionId freeze_limit)
{
	TransactionId init_xid = ElPageGetOpaque(page)->init_xid;

	return TransactionIdIsNormal(init_xid) &&
		TransactionIdPrecedes(init_xid, freeze_limit);
}

/*
 * Compaction may only rewrite what every snapshot, running or future,
 * agrees on: a run whose transaction ended before horizon (the oldest xid
 * any backend may still consider running: GetOldestNonRemovableTransactionId)
 * is EL_STATUS_LIVE if it committed and EL_STATUS_DEAD otherwise (aborted,
 * or cut short by a crash); anything younger is EL_STATUS_IN_PROGRESS,
 * whatever it did since: a snapshot taken before it ended may still be
 * reading.
 */
ElRunStatus
el_run_settled_status(const ElRun *run, TransactionId horizon)
{
	if (run->flags & EL_RUN_FROZEN)
		return EL_STATUS_LIVE;
	if (run->flags & EL_RUN_DEAD)
		return EL_STATUS_DEAD;
	if (!TransactionIdIsNormal(run->xid) || !TransactionIdPrecedes(run->xid, horizon))
		return EL_STATUS_IN_PROGRESS;
	return TransactionIdDidCommit(run->xid) ? EL_STATUS_LIVE : EL_STATUS_DEAD;
}

/*
 * Does this snapshot see top-level transaction xid as committed?  (Our own
 * transaction counts as seen.)  Snapshots that are not MVCC read the
 * present state.
 */
bool
el_xid_visible_to(TransactionId xid, Snapshot snapshot)
{
	if (!TransactionIdIsValid(xid))
		return true;
	if (TransactionIdIsCurrentTransactionId(xid))
		return true;
	if (snapshot == NULL || snapshot->snapshot_type != SNAPSHOT_MVCC)
		return true;
	if (XidInMVCCSnapshot(xid, snapshot))
		return false;
	return TransactionIdDidCommit(xid);
}
