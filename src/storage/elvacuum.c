/*
 * elvacuum.c
 *		VACUUM of eventlog segments: freezing, so relfrozenxid advances;
 *		and the live offsets of a partition, for the removal of index
 *		entries of records that are gone (el_partition_live_ranges).
 *
 * Records are never deleted by VACUUM (retention drops whole segments,
 * compaction rewrites them), so the job on pages is to keep transaction-id
 * wraparound away: every run whose
 * xid is older than the freeze limit is marked FROZEN (committed) or DEAD
 * (aborted), after which no clog look-up is needed for it and the segment's
 * relfrozenxid can move past it.  A frozen page is WAL-logged as a full
 * image: freezing happens once per page in its life, and the image makes
 * redo trivially exact.  Before the image goes a snapshot conflict
 * (XLOG_EL_CONFLICT) for hot standbys, whose snapshots can be older than
 * the freeze limit (freeze_page).
 */
#include "postgres.h"

#include "access/multixact.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "postmaster/autovacuum.h"
#include "storage/bufmgr.h"
#include "storage/procarray.h"
#include "utils/rel.h"

#include "eventlog/elpage.h"
#include "eventlog/elstore.h"
#include "eventlog/elvisibility.h"
#include "eventlog/elwal.h"

/*
 * Freeze the runs of one page; returns the oldest xid left unfrozen (or
 * InvalidTransactionId) and the number of live records in *live.  Which
 * runs are frozen, and as what, is elvisibility.c's rule
 * (el_run_freeze_flag); runs too young to freeze count as live, whatever
 * becomes of them.
 */
static TransactionId
freeze_page(Relation seg, Buffer buf, TransactionId freeze_limit, double *live)
{
	Page		page = BufferGetPage(buf);
	ElPageIter	it;
	ElRecordRef rec;
	TransactionId oldest = InvalidTransactionId;
	uint16		runpos[EL_MAX_RECORDS_PER_PAGE];
	uint16		runflags[EL_MAX_RECORDS_PER_PAGE];
	int			nchange = 0;
	int			last_seq = 0;
	uint16		freeze_flag = 0;
	bool		freeze_init;
	TransactionId conflict_xid = InvalidTransactionId;
	int			i;

	if (!el_page_is_valid(page))
		return InvalidTransactionId;

	el_page_iter_init(&it, page);
	while (el_page_iter_next(&it, &rec))
	{
		const ElRun *run = rec.run;

		if (run->flags & EL_RUN_DEAD)
			continue;
		if (run->flags & EL_RUN_FROZEN)
		{
			*live += 1;
			continue;
		}
		if (it.run_seq != last_seq)
		{
			/* first record of a run: decide for the run */
			last_seq = it.run_seq;
			freeze_flag = el_run_freeze_flag(run, freeze_limit);
			if (freeze_flag != 0 && nchange < EL_MAX_RECORDS_PER_PAGE)
			{
				/* run header sits right before its first record */
				runpos[nchange] = rec.pos - EL_RUN_SIZE;
				runflags[nchange] = freeze_flag;
				nchange++;
				if (freeze_flag == EL_RUN_FROZEN &&
					(!TransactionIdIsValid(conflict_xid) ||
					 TransactionIdFollows(run->xid, conflict_xid)))
					conflict_xid = run->xid;
			}
		}
		if (freeze_flag == EL_RUN_DEAD)
			continue;
		*live += 1;
		if (freeze_flag == EL_RUN_FROZEN)
			continue;
		if (!TransactionIdIsValid(oldest) || TransactionIdPrecedes(run->xid, oldest))
			oldest = run->xid;
	}

	freeze_init = el_page_init_xid_freezable(page, freeze_limit);

	if (nchange == 0 && !freeze_init)
		return oldest;

	/*
	 * A frozen run is visible to every snapshot, and a frozen init_xid ends
	 * a stop-mode reader's look-back at this page for every snapshot.  On
	 * the primary no snapshot can disagree (the freeze limit is not past
	 * OldestXmin), but a hot standby's can be older (no
	 * hot_standby_feedback): one that still saw a frozen run's transaction
	 * running would start seeing its records, one whose xmin precedes the
	 * init_xid would stop looking back too early.  As heap's freezing does,
	 * redo first cancels standby snapshots whose xmin is not past the
	 * newest such xid (el_log_snapshot_conflict, replayed before the page
	 * image below).
	 */
	if (freeze_init)
	{
		TransactionId init_xid = ElPageGetOpaque(page)->init_xid;

		TransactionIdRetreat(init_xid);
		if (TransactionIdIsNormal(init_xid) &&
			(!TransactionIdIsValid(conflict_xid) ||
			 TransactionIdFollows(init_xid, conflict_xid)))
			conflict_xid = init_xid;
	}
	if (RelationNeedsWAL(seg) && TransactionIdIsValid(conflict_xid))
		el_log_snapshot_conflict(conflict_xid);

	START_CRIT_SECTION();
	for (i = 0; i < nchange; i++)
	{
		ElRun		run;

		el_read_run((char *) page + runpos[i], &run);
		run.flags |= runflags[i];
		el_write_run((char *) page + runpos[i], &run);
	}

	if (freeze_init)
		ElPageGetOpaque(page)->init_xid = FrozenTransactionId;
	MarkBufferDirty(buf);
	if (RelationNeedsWAL(seg))
		log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	return oldest;
}

double
el_vacuum_segment(Relation seg, struct VacuumParams *params,
				  BufferAccessStrategy bstrategy)
{
	TransactionId oldest_xmin;
	MultiXactId oldest_mxact;
	TransactionId freeze_limit;
	MultiXactId multi_cutoff;
	TransactionId new_frozen;
	BlockNumber nblocks,
				blk;
	double		live = 0;
	bool		frozen_updated,
				minmulti_updated;

	vacuum_set_xid_limits(seg, params->freeze_min_age, params->freeze_table_age,
						  params->multixact_freeze_min_age,
						  params->multixact_freeze_table_age,
						  &oldest_xmin, &oldest_mxact, &freeze_limit, &multi_cutoff);

	new_frozen = freeze_limit;
	nblocks = RelationGetNumberOfBlocks(seg);
	for (blk = 0; blk < nblocks; blk++)
	{
		Buffer		buf;
		TransactionId oldest;

		CHECK_FOR_INTERRUPTS();
		vacuum_delay_point();
		buf = ReadBufferExtended(seg, MAIN_FORKNUM, blk, RBM_NORMAL, bstrategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		oldest = freeze_page(seg, buf, freeze_limit, &live);
		UnlockReleaseBuffer(buf);
		if (TransactionIdIsValid(oldest) && TransactionIdPrecedes(oldest, new_frozen))
			new_frozen = oldest;
	}

	vac_update_relstats(seg, nblocks, live, 0, false, new_frozen, multi_cutoff,
						&frozen_updated, &minmulti_updated, false);
	return live;
}

/*
 * VACUUM of a topic relation: vacuum each segment of its partitions
 * (nparts of them; none if the catalog does not know the topic), then
 * record the topic's own statistics (it has no pages, so its frozen xid can
 * simply advance).  Returns the records counted (-1: not known).  Its
 * indexes are the caller's (elam.c, with el_partition_live_ranges).
 */
double
el_vacuum_topic(Relation rel, const ElPartitionStore *parts, int nparts,
				struct VacuumParams *params, BufferAccessStrategy bstrategy)
{
	TransactionId oldest_xmin;
	MultiXactId oldest_mxact;
	TransactionId freeze_limit;
	MultiXactId multi_cutoff;
	BlockNumber pages = 0;
	double		tuples = 0;
	bool		frozen_updated,
				minmulti_updated;
	ElSegmentPos pos = EL_SEGMENT_POS_START;
	const ElSegment *segment;

	while (parts != NULL &&
		   (segment = el_next_segment(parts, nparts, &pos)) != NULL)
	{
		Relation	seg = table_open(segment->relid, ShareUpdateExclusiveLock);

		/*
		 * Autovacuum sees the segments as tables of their own and vacuums
		 * them when they need it; a manual VACUUM of the topic covers them
		 * all.
		 */
		if (!IsAutoVacuumWorkerProcess())
			tuples += el_vacuum_segment(seg, params, bstrategy);
		else if (seg->rd_rel->reltuples >= 0 && tuples >= 0)
			tuples += seg->rd_rel->reltuples;
		else
			tuples = -1;		/* not known yet: leave it to ANALYZE */
		pages += RelationGetNumberOfBlocks(seg);
		table_close(seg, NoLock);
	}
	vacuum_set_xid_limits(rel, params->freeze_min_age, params->freeze_table_age,
						  params->multixact_freeze_min_age,
						  params->multixact_freeze_table_age,
						  &oldest_xmin, &oldest_mxact, &freeze_limit, &multi_cutoff);
	vac_update_relstats(rel, pages, tuples, 0, rel->rd_rel->relhasindex,
						oldest_xmin, oldest_mxact, &frozen_updated,
						&minmulti_updated, false);
	return tuples;
}

/*
 * Which offsets of a partition an index entry of its topic may still find
 * a record at, for VACUUM's removal of index entries (elam.c): every offset
 * at or above the log end as it was before this scan (records appended
 * meanwhile are indexed too), and below it the offsets of records at or
 * above the log start that are not settled as dead for every snapshot
 * (el_run_settled_status with horizon: aborted, and VACUUM's DEAD runs).
 * Offsets below the log start, in compaction's gaps, or of aborted records
 * are not in it.  Kept as sorted ranges of consecutive offsets, at most
 * maxranges of them (a compacted log needs about one per kept record); if
 * more would be needed, r->complete is false and only offsets below the
 * log start may be taken as gone.
 */
void
el_partition_live_ranges(const ElPartitionStore *part, TransactionId horizon,
						 int maxranges, BufferAccessStrategy bstrategy,
						 ElOffsetRanges *r)
{
	int			i;

	memset(r, 0, sizeof(ElOffsetRanges));
	r->end = el_partition_log_end(part);
	r->start = el_partition_log_start(part);
	r->complete = true;
	r->lo = palloc(sizeof(int64) * Min(maxranges, 1024));
	r->hi = palloc(sizeof(int64) * Min(maxranges, 1024));
	r->cap = Min(maxranges, 1024);
	for (i = 0; i < part->nsegs && r->complete; i++)
	{
		Relation	seg = try_table_open(part->segs[i].relid, AccessShareLock);
		BlockNumber nblocks;
		BlockNumber blk;

		if (seg == NULL)
		{
			/*
			 * Dropped meanwhile (VACUUM does not hold maintenance's drop
			 * back): this list is out of date, so take nothing but what
			 * lies below its log start as gone.
			 */
			r->complete = false;
			break;
		}
		nblocks = RelationGetNumberOfBlocks(seg);

		for (blk = 0; blk < nblocks && r->complete; blk++)
		{
			Buffer		buf;
			Page		page;
			ElPageIter	it;
			ElRecordRef rec;

			CHECK_FOR_INTERRUPTS();
			vacuum_delay_point();
			buf = ReadBufferExtended(seg, MAIN_FORKNUM, blk, RBM_NORMAL, bstrategy);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			if (!el_page_is_valid(page))
			{
				UnlockReleaseBuffer(buf);
				break;			/* only a crash's leftovers follow */
			}
			el_page_iter_init(&it, page);
			while (el_page_iter_next(&it, &rec))
			{
				if (rec.offset < r->start || rec.offset >= r->end ||
					el_run_settled_status(rec.run, horizon) == EL_STATUS_DEAD)
					continue;
				if (r->n > 0 && r->hi[r->n - 1] + 1 == rec.offset)
				{
					r->hi[r->n - 1] = rec.offset;
					continue;
				}
				if (r->n == maxranges)
				{
					r->complete = false;
					break;
				}
				if (r->n == r->cap)
				{
					r->cap = Min((int64) r->cap * 2, maxranges);
					r->lo = repalloc(r->lo, sizeof(int64) * r->cap);
					r->hi = repalloc(r->hi, sizeof(int64) * r->cap);
				}
				r->lo[r->n] = r->hi[r->n] = rec.offset;
				r->n++;
			}
			UnlockReleaseBuffer(buf);
		}
		table_close(seg, AccessShareLock);
	}
}

/*
 * Is there (or may there be) a record at offset of the partition whose
 * ranges these are?
 */
bool
el_offset_may_be_live(const ElOffsetRanges *r, int64 offset)
{
	int			lo = 0,
				hi = r->n - 1;

	if (offset < r->start)
		return false;
	if (offset >= r->end || !r->complete)
		return true;
	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (offset < r->lo[mid])
			hi = mid - 1;
		else if (offset > r->hi[mid])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}
