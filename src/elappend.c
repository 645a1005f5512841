/*
 * elappend.c
 *		Appending records to a segment: where offsets are assigned.
 *
 * The rule that makes everything else simple: a record's offset is taken
 * from the tail page's next_offset while that page is exclusively locked,
 * and the record is written, WAL-logged and the counter advanced before the
 * lock is released.  Physical order is therefore offset order, WAL order is
 * offset order, and a committed record's WAL is flushed no later than its
 * commit record, which implies every smaller offset's WAL is flushed too:
 * after a crash, next_offset resumes past every committed record.
 *
 * A new page is initialized while the previous tail is still locked, with
 * first_offset = the previous tail's next_offset, and the old tail is marked
 * SEALED in the same WAL record, so the offset chain never breaks.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xloginsert.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"

#include "elpage.h"
#include "elstore.h"
#include "elwal.h"

/* Where and how a record goes onto the tail page. */
typedef struct AppendPlan
{
	bool		new_run;
	ElRun		run;
	int64		offset;
} AppendPlan;

static void
plan_append(Page page, int64 want_offset, AppendPlan *plan)
{
	ElPageOpaque opaque = ElPageGetOpaque(page);
	TransactionId xid = GetCurrentTransactionId();
	CommandId	cid = GetCurrentCommandId(true);
	int64		offset = opaque->next_offset;

	if (want_offset >= 0)
	{
		if (want_offset < offset)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("offset " INT64_FORMAT " is below the log end offset " INT64_FORMAT,
							want_offset, offset),
					 errdetail("Offsets are assigned in increasing order and never reused."),
					 errhint("Leave \"offset\" NULL to have one assigned.")));
		offset = want_offset;
	}

	plan->offset = offset;
	plan->new_run = true;
	if (opaque->nrecords > 0 && opaque->last_run > 0 && offset == opaque->next_offset)
	{
		ElRun		last;

		el_read_run((const char *) page + opaque->last_run, &last);
		if (last.xid == xid && last.cid == cid && last.flags == 0)
			plan->new_run = false;
	}
	plan->run.flags = 0;
	plan->run.xid = xid;
	plan->run.cid = cid;
	plan->run.base_offset = offset;
}

/* Put the planned entries on a locked page; returns the bytes written. */
static Size
place_entries(Page page, const AppendPlan *plan, const char *entry, Size len,
			  char *walbuf)
{
	Size		n = 0;

	if (plan->new_run)
	{
		el_write_run(walbuf, &plan->run);
		n += EL_RUN_SIZE;
	}
	memcpy(walbuf + n, entry, len);
	n += len;
	el_page_apply(page, walbuf, n);
	return n;
}

static bool
fits(Page page, const AppendPlan *plan, Size len)
{
	PageHeader	phdr = (PageHeader) page;
	Size		need = len + (plan->new_run ? EL_RUN_SIZE : 0);

	return ElPageGetOpaque(page)->nrecords < EL_MAX_RECORDS_PER_PAGE &&
		phdr->pd_lower + need <= phdr->pd_upper;
}

/*
 * WAL-log entries just placed on a page.  APPEND carries only the bytes:
 * redo appends them at pd_lower and derives the counters from them, as the
 * primary did (el_page_apply).  NEW_PAGE also carries the first offset.
 */
static void
log_append(Relation seg, Buffer buf, uint8 info, const char *bytes, Size n,
		   Buffer prevbuf)
{
	Page		page = BufferGetPage(buf);
	xl_el_new_page xlrec;
	XLogRecPtr	recptr;

	if (!RelationNeedsWAL(seg))
		return;

	XLogBeginInsert();
	if (info == XLOG_EL_NEW_PAGE)
	{
		xlrec.first_offset = ElPageGetOpaque(page)->first_offset;
		XLogRegisterData((char *) &xlrec, sizeof(xl_el_new_page));
		XLogRegisterBuffer(0, buf, REGBUF_WILL_INIT);
	}
	else
		XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
	XLogRegisterBufData(0, (char *) bytes, n);
	if (BufferIsValid(prevbuf))
		XLogRegisterBuffer(1, prevbuf, REGBUF_STANDARD);
	recptr = XLogInsert(EL_RMGR_ID, info);
	PageSetLSN(page, recptr);
	if (BufferIsValid(prevbuf))
		PageSetLSN(BufferGetPage(prevbuf), recptr);
}

/*
 * Start a new page at block newblk (already allocated and exclusively
 * locked by the caller) holding the planned record.  prevbuf, if valid, is
 * the locked old tail, sealed here.
 */
static void
start_page(Relation seg, Buffer newbuf, Buffer prevbuf, int64 first_offset,
		   AppendPlan *plan, const char *entry, Size len)
{
	Page		page = BufferGetPage(newbuf);
	char	   *walbuf = palloc(len + EL_RUN_SIZE);
	Size		n;

	if (plan->offset < first_offset)
		plan->offset = first_offset;
	plan->new_run = true;
	plan->run.base_offset = plan->offset;

	START_CRIT_SECTION();
	el_page_init(page, first_offset);
	n = place_entries(page, plan, entry, len, walbuf);
	MarkBufferDirty(newbuf);
	if (BufferIsValid(prevbuf))
	{
		ElPageGetOpaque(BufferGetPage(prevbuf))->flags |= EL_PAGE_SEALED;
		MarkBufferDirty(prevbuf);
	}
	log_append(seg, newbuf, XLOG_EL_NEW_PAGE, walbuf, n, prevbuf);
	END_CRIT_SECTION();
	pfree(walbuf);
}

static Buffer
extend_segment(Relation seg)
{
	Buffer		buf;

	LockRelationForExtension(seg, ExclusiveLock);
	buf = ReadBufferExtended(seg, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(seg, ExclusiveLock);
	return buf;
}

/*
 * Append one encoded record to the segment and return its offset.
 * want_offset < 0 takes the next offset; otherwise the record gets exactly
 * want_offset, which must not be below the log end (pg_restore keeps the
 * original offsets this way, gaps included).
 */
int64
el_append(Relation seg, int64 base_offset, const char *entry, Size len,
		  int64 want_offset)
{
	AppendPlan	plan;

	if (len > EL_MAX_ENTRY_SIZE)
		elog(ERROR, "eventlog record of %zu bytes does not fit a page", len);

	for (;;)
	{
		BlockNumber nblocks = RelationGetNumberOfBlocks(seg);
		Buffer		buf;
		Page		page;

		CHECK_FOR_INTERRUPTS();

		if (nblocks == 0)
		{
			/* first page; the extension lock keeps a racing twin out */
			LockRelationForExtension(seg, ExclusiveLock);
			if (RelationGetNumberOfBlocks(seg) == 0)
			{
				buf = ReadBufferExtended(seg, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
				LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
				UnlockRelationForExtension(seg, ExclusiveLock);
				plan.offset = Max(want_offset, base_offset);
				plan.run.flags = 0;
				plan.run.xid = GetCurrentTransactionId();
				plan.run.cid = GetCurrentCommandId(true);
				start_page(seg, buf, InvalidBuffer, base_offset, &plan, entry, len);
				UnlockReleaseBuffer(buf);
				return plan.offset;
			}
			UnlockRelationForExtension(seg, ExclusiveLock);
			continue;
		}

		buf = ReadBuffer(seg, nblocks - 1);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);

		if (!el_page_is_valid(page))
		{
			/*
			 * A page that was allocated but not yet initialized: either its
			 * extender is still at work (it holds the previous page's lock,
			 * so waiting for that lock waits for it), or it failed or
			 * crashed before writing WAL.  In the latter case we adopt it.
			 */
			Buffer		prev;

			UnlockReleaseBuffer(buf);
			if (nblocks == 1)
			{
				LockRelationForExtension(seg, ExclusiveLock);
				buf = ReadBuffer(seg, 0);
				LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
				UnlockRelationForExtension(seg, ExclusiveLock);
				if (!el_page_is_valid(BufferGetPage(buf)))
				{
					plan.offset = Max(want_offset, base_offset);
					plan.run.flags = 0;
					plan.run.xid = GetCurrentTransactionId();
					plan.run.cid = GetCurrentCommandId(true);
					start_page(seg, buf, InvalidBuffer, base_offset, &plan, entry, len);
					UnlockReleaseBuffer(buf);
					return plan.offset;
				}
				UnlockReleaseBuffer(buf);
				continue;
			}
			prev = ReadBuffer(seg, nblocks - 2);
			LockBuffer(prev, BUFFER_LOCK_EXCLUSIVE);
			if (ElPageGetOpaque(BufferGetPage(prev))->flags & EL_PAGE_SEALED)
			{
				UnlockReleaseBuffer(prev);
				continue;
			}
			buf = ReadBuffer(seg, nblocks - 1);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			if (el_page_is_valid(BufferGetPage(buf)))
			{
				UnlockReleaseBuffer(buf);
				UnlockReleaseBuffer(prev);
				continue;
			}
			plan_append(BufferGetPage(prev), want_offset, &plan);
			start_page(seg, buf, prev,
					   ElPageGetOpaque(BufferGetPage(prev))->next_offset,
					   &plan, entry, len);
			UnlockReleaseBuffer(buf);
			UnlockReleaseBuffer(prev);
			return plan.offset;
		}

		if (ElPageGetOpaque(page)->flags & EL_PAGE_SEALED)
		{
			/* someone added a page after we looked at the size */
			UnlockReleaseBuffer(buf);
			continue;
		}

		plan_append(page, want_offset, &plan);
		if (fits(page, &plan, len))
		{
			char	   *walbuf = palloc(len + EL_RUN_SIZE);
			Size		n;

			START_CRIT_SECTION();
			n = place_entries(page, &plan, entry, len, walbuf);
			MarkBufferDirty(buf);
			log_append(seg, buf, XLOG_EL_APPEND, walbuf, n, InvalidBuffer);
			END_CRIT_SECTION();
			UnlockReleaseBuffer(buf);
			pfree(walbuf);
			return plan.offset;
		}
		else
		{
			Buffer		newbuf = extend_segment(seg);

			start_page(seg, newbuf, buf, ElPageGetOpaque(page)->next_offset,
					   &plan, entry, len);
			UnlockReleaseBuffer(newbuf);
			UnlockReleaseBuffer(buf);
			return plan.offset;
		}
	}
}

/*
 * Binary search for the last block whose first_offset <= offset.  Returns
 * InvalidBlockNumber if the segment is empty.  Pages never move and their
 * first_offset never changes, so no lock is held across probes.
 */
BlockNumber
el_find_block(Relation seg, int64 offset)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(seg);
	BlockNumber lo = 0,
				hi;

	if (nblocks == 0)
		return InvalidBlockNumber;
	hi = nblocks - 1;
	while (lo < hi)
	{
		BlockNumber mid = lo + (hi - lo + 1) / 2;
		Buffer		buf = ReadBuffer(seg, mid);
		Page		page;
		bool		valid;
		int64		first = 0;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		valid = el_page_is_valid(page);
		if (valid)
			first = ElPageGetOpaque(page)->first_offset;
		UnlockReleaseBuffer(buf);

		/* an uninitialized tail page holds nothing: search below it */
		if (valid && first <= offset)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static int64
page_counter(Relation seg, BlockNumber blk, bool want_next, int64 dflt)
{
	Buffer		buf = ReadBuffer(seg, blk);
	Page		page;
	int64		result = dflt;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (el_page_is_valid(page))
		result = want_next ? ElPageGetOpaque(page)->next_offset :
			ElPageGetOpaque(page)->first_offset;
	UnlockReleaseBuffer(buf);
	return result;
}

/* The next offset the segment would assign (its log end offset). */
int64
el_segment_next_offset(Relation seg, int64 base_offset)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(seg);
	BlockNumber blk;

	for (blk = nblocks; blk > 0; blk--)
	{
		int64		next = page_counter(seg, blk - 1, true, -1);

		if (next >= 0)
			return next;
	}
	return base_offset;
}

int64
el_segment_first_offset(Relation seg, int64 base_offset)
{
	if (RelationGetNumberOfBlocks(seg) == 0)
		return base_offset;
	return page_counter(seg, 0, false, base_offset);
}
