/*
 * elscan.c
 *		Reading one partition in offset order: the cursor every reader
 *		(fetch, poll, SQL scans, index builds, views) is built on.
 *
 * A cursor copies the records of one page at a time while holding that
 * page's share lock, deciding visibility run by run (elvisibility.c).
 * In EL_READ_STOP mode it ends at the first record whose transaction is not
 * settled for the snapshot: that is promise 2 of docs/design.md ("nothing
 * skipped") with no commit-time lock at all, because offsets are physical
 * positions and a record with a smaller offset is always read first.
 *
 * Records this backend has routed but not appended yet (pending.h) are not
 * storage's business: callers flush them before they open a cursor or ask
 * for a partition's figures, so that a backend reads its own writes.
 *
 * The tail: when the last page read was not sealed, there was no later
 * page when it was read, and anything appended since belongs to a
 * transaction that was running when our snapshot was taken (it was still
 * writing), so the cursor can end there.
 */
#include "postgres.h"

#include "access/table.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "eventlog/elstore.h"
#include "eventlog/elvisibility.h"
#include "eventlog/eventlog.h"

/*
 * The relation a reader with this snapshot reads for a segment: the
 * compacted one, unless the snapshot predates the compaction that swapped
 * it in; then the one it replaced, which holds exactly what the snapshot
 * saw (maintenance drops it only when no snapshot can be that old).  So a
 * REPEATABLE READ transaction reads the same records before and after a
 * compaction, whenever its copy of the segment list was loaded.
 */
Oid
el_segment_relid_for(const ElSegment *seg, Snapshot snapshot)
{
	if (OidIsValid(seg->prev_relid) && !el_xid_visible_to(seg->swap_xid, snapshot))
		return seg->prev_relid;
	return seg->relid;
}

void
el_cursor_init(ElCursor *cur, const ElPartitionStore *part,
			   int64 from_offset, Snapshot snapshot, ElReadMode mode)
{
	int			i;

	memset(cur, 0, sizeof(ElCursor));
	cur->partition = part->partition;
	cur->nsegs = part->nsegs;
	cur->segs = palloc(sizeof(ElSegment) * Max(part->nsegs, 1));
	memcpy(cur->segs, part->segs, sizeof(ElSegment) * part->nsegs);
	for (i = 0; i < cur->nsegs; i++)
		cur->segs[i].relid = el_segment_relid_for(&cur->segs[i], snapshot);
	cur->snapshot = snapshot;
	cur->mode = mode;
	/* records below the log start are deleted (delete_records) */
	cur->want = Max(Max(from_offset, 0), part->start_offset);
	cur->stop_before = -1;
	cur->blk = InvalidBlockNumber;
	cur->storedesc = part->storedesc;
	cur->scratch = palloc(BLCKSZ);
	cur->pagecxt = AllocSetContextCreate(CurrentMemoryContext,
										 "eventlog cursor page",
										 ALLOCSET_DEFAULT_SIZES);

	/* the segment holding from_offset: the last one starting at or before */
	cur->segidx = 0;
	for (i = 1; i < cur->nsegs; i++)
		if (cur->segs[i].base_offset <= cur->want)
			cur->segidx = i;
}

/* Visibility for the cursor's mode (the rules are elvisibility.c's). */
static ElVisibility
cursor_visibility(ElCursor *cur, const ElRun *run)
{
	if (cur->mode == EL_READ_ALL_LIVE)
		return el_run_visible_all_live(run);
	return el_run_visible(run, cur->snapshot);
}

/*
 * A stop-mode reader must not start past an unsettled record either: a
 * record before from_offset whose transaction is still open means nothing
 * at or after from_offset may be returned yet (the reader would pass the
 * stable offset).  Only pages that may hold unsettled runs are examined,
 * walking back from the starting page, so this is normally one page.
 */
static void
check_settled_before(ElCursor *cur)
{
	Relation	rel = cur->rel;
	BlockNumber blk = cur->blk;
	int			segidx = cur->segidx;

	for (;;)
	{
		Buffer		buf = ReadBuffer(rel, blk);
		Page		page;
		bool		maybe;
		bool		earlier_settled;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maybe = el_page_may_be_unsettled(page, cur->snapshot);
		if (maybe)
		{
			ElPageIter	it;
			ElRecordRef rec;
			int			vis_run = 0;
			ElVisibility vis = EL_VISIBLE;

			el_page_iter_init(&it, page);
			while (el_page_iter_next(&it, &rec) && rec.offset < cur->want)
			{
				if (it.run_seq != vis_run)
				{
					vis = cursor_visibility(cur, rec.run);
					vis_run = it.run_seq;
				}
				if (vis == EL_IN_PROGRESS)
				{
					cur->stopped = true;
					cur->stop_offset = rec.offset;
					cur->done = true;
					break;
				}
			}
		}
		earlier_settled = !el_page_is_valid(page) ||
			el_earlier_pages_settled(page, cur->snapshot);
		UnlockReleaseBuffer(buf);
		if (cur->done || earlier_settled)
			break;
		if (blk > 0)
		{
			blk--;
			continue;
		}

		/*
		 * The segment's first page: a transaction still open may have
		 * written to the segment before (a roll does not wait for open
		 * transactions), so go on with that one's tail.
		 */
		do
		{
			if (rel != cur->rel)
				table_close(rel, NoLock);
			if (--segidx < 0)
				return;
			rel = table_open(cur->segs[segidx].relid, AccessShareLock);
			blk = RelationGetNumberOfBlocks(rel);
		} while (blk == 0);
		blk--;
	}
	if (rel != cur->rel)
		table_close(rel, NoLock);
}

/*
 * Copy the wanted records of block cur->blk.  Returns whether the page was
 * sealed (a later page exists).
 */
static bool
read_page(ElCursor *cur)
{
	Buffer		buf = ReadBuffer(cur->rel, cur->blk);
	Page		page;
	ElPageIter	it;
	ElRecordRef rec;
	bool		sealed = false;
	int			vis_run = 0;
	ElVisibility vis = EL_INVISIBLE;
	int			cap = 0;

	MemoryContextReset(cur->pagecxt);
	cur->recs = NULL;
	cur->nrecs = 0;
	cur->irec = 0;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (el_page_is_valid(page))
	{
		ElPageOpaque opaque = ElPageGetOpaque(page);

		sealed = (opaque->flags & EL_PAGE_SEALED) != 0;
		cap = opaque->nrecords;
		cur->recs = MemoryContextAlloc(cur->pagecxt,
									   sizeof(ElCursorRec) * Max(cap, 1));
		cur->page_base_ts = opaque->base_ts;
		/* one copy of the page's entries; records point into it */
		cur->pagecopy = MemoryContextAlloc(cur->pagecxt, ((PageHeader) page)->pd_lower);
		memcpy(cur->pagecopy, page, ((PageHeader) page)->pd_lower);
		el_page_iter_init(&it, page);
		while (el_page_iter_next(&it, &rec))
		{
			if (rec.offset < cur->want)
				continue;
			if (cur->stop_before >= 0 && rec.offset >= cur->stop_before)
			{
				cur->done = true;
				break;
			}
			/* one visibility decision per run */
			if (it.run_seq != vis_run)
			{
				vis = cursor_visibility(cur, rec.run);
				vis_run = it.run_seq;
			}
			if (vis == EL_IN_PROGRESS && cur->mode == EL_READ_STOP)
			{
				cur->stopped = true;
				cur->stop_offset = rec.offset;
				cur->done = true;
				break;
			}
			cur->want = rec.offset + 1;
			if (vis != EL_VISIBLE)
				continue;
			Assert(cur->nrecs < cap);
			cur->recs[cur->nrecs].offset = rec.offset;
			cur->recs[cur->nrecs].len = rec.len;
			cur->recs[cur->nrecs].entry = cur->pagecopy + rec.pos;
			cur->nrecs++;
		}
		if (!cur->done)
			cur->want = Max(cur->want, opaque->next_offset);
	}
	UnlockReleaseBuffer(buf);
	return sealed;
}

/* Load the next page with wanted records; false when the log is exhausted. */
static bool
next_page(ElCursor *cur)
{
	while (!cur->done)
	{
		bool		sealed;

		if (cur->rel == NULL)
		{
			if (cur->segidx >= cur->nsegs)
			{
				cur->done = true;
				break;
			}
			cur->rel = table_open(cur->segs[cur->segidx].relid, AccessShareLock);
			cur->blk = el_find_block(cur->rel, cur->want);
			cur->nblocks = RelationGetNumberOfBlocks(cur->rel);
			if (cur->blk == InvalidBlockNumber)
			{
				table_close(cur->rel, NoLock);
				cur->rel = NULL;
				cur->segidx++;
				continue;
			}
			if (cur->mode == EL_READ_STOP && !cur->checked_start)
			{
				cur->checked_start = true;
				check_settled_before(cur);
				if (cur->done)
					break;
			}
		}
		else
		{
			cur->blk++;
			if (cur->blk >= cur->nblocks)
				cur->nblocks = RelationGetNumberOfBlocks(cur->rel);
			if (cur->blk >= cur->nblocks)
			{
				table_close(cur->rel, NoLock);
				cur->rel = NULL;
				cur->segidx++;
				continue;
			}
		}

		sealed = read_page(cur);
		if (!sealed && !cur->done)
		{
			/* tail of this segment (see header comment): go on past it */
			table_close(cur->rel, NoLock);
			cur->rel = NULL;
			cur->segidx++;
		}
		if (cur->nrecs > 0)
			return true;
	}
	return cur->nrecs > cur->irec;
}

/*
 * Next record as its encoded entry, valid until the cursor moves to the
 * next page.
 */
bool
el_cursor_next_raw(ElCursor *cur, int64 *offset, const char **entry, uint16 *len,
				   int64 *base_ts)
{
	ElCursorRec *r;

	while (cur->irec >= cur->nrecs)
	{
		if (cur->done || !next_page(cur))
			return false;
	}
	r = &cur->recs[cur->irec++];
	*offset = r->offset;
	*entry = r->entry;
	*len = r->len;
	*base_ts = cur->page_base_ts;
	return true;
}

/*
 * Next record: values/isnull cover the topic's full row (derived columns
 * included).  By-reference values stay valid until the next call.
 */
bool
el_cursor_next(ElCursor *cur, int64 *offset, Datum *values, bool *isnull)
{
	const char *entry;
	uint16		len;
	int64		base_ts;

	if (!el_cursor_next_raw(cur, offset, &entry, &len, &base_ts))
		return false;
	values[0] = Int32GetDatum(cur->partition);
	isnull[0] = false;
	values[1] = Int64GetDatum(*offset);
	isnull[1] = false;
	el_record_decode(entry, len, cur->storedesc, base_ts, cur->scratch,
					 values + EL_NDERIVED, isnull + EL_NDERIVED);
	return true;
}

void
el_cursor_end(ElCursor *cur)
{
	if (cur->rel)
		table_close(cur->rel, NoLock);
	cur->rel = NULL;
	MemoryContextDelete(cur->pagecxt);
	pfree(cur->scratch);
	pfree(cur->segs);
}

/*
 * A partition's log start offset: where its first segment starts, or the
 * offset delete_records() set, whichever is larger.
 */
int64
el_partition_log_start(const ElPartitionStore *part)
{
	Relation	seg;
	int64		result;

	if (part->nsegs == 0)
		return part->start_offset;
	seg = table_open(part->segs[0].relid, AccessShareLock);
	result = el_segment_first_offset(seg, part->segs[0].base_offset);
	table_close(seg, NoLock);
	if (result == EL_SEGMENT_NOT_STARTED)
		result = 0;
	return Max(result, part->start_offset);
}

/*
 * A partition's log end offset: the tail of its last started segment
 * (spare segments made ahead of a roll hold no page yet).
 */
int64
el_partition_log_end(const ElPartitionStore *part)
{
	int			i;

	for (i = part->nsegs - 1; i >= 0; i--)
	{
		Relation	seg = table_open(part->segs[i].relid, AccessShareLock);
		int64		result = -1;

		if (RelationGetNumberOfBlocks(seg) > 0 ||
			part->segs[i].base_offset != EL_SEGMENT_NOT_STARTED)
			result = el_segment_next_offset(seg, part->segs[i].base_offset);
		table_close(seg, NoLock);
		if (result >= 0 && result != EL_SEGMENT_NOT_STARTED)
			return Max(result, part->start_offset);
	}
	return part->start_offset;
}

/*
 * Where to start looking for the earliest record with a time >= ts: the
 * first page of the partition whose time index reaches ts (elpage.h), or
 * -1 if no record's time does.  Only for topics whose first stored column
 * is the record time (ts_natts > 0).
 */
int64
el_time_start_offset(const ElPartitionStore *part, int64 ts)
{
	int			i;

	for (i = 0; i < part->nsegs; i++)
	{
		Relation	seg = table_open(part->segs[i].relid, AccessShareLock);
		int64		first;
		BlockNumber blk = el_find_time_block(seg, ts, &first);

		table_close(seg, NoLock);
		if (blk != InvalidBlockNumber)
			return first;
	}
	return -1;
}

void
el_partition_stats(const ElPartitionStore *part, Snapshot snapshot,
				   ElPartitionStats *stats)
{
	int			i;
	int			last = -1;

	memset(stats, 0, sizeof(ElPartitionStats));
	stats->segments = part->nsegs;
	if (part->nsegs == 0)
		return;

	for (i = 0; i < part->nsegs; i++)
	{
		Relation	seg = table_open(part->segs[i].relid, AccessShareLock);
		BlockNumber nblocks = RelationGetNumberOfBlocks(seg);

		stats->bytes += el_segment_bytes(seg);	/* its TOAST table included */
		if (nblocks > 0 || part->segs[i].base_offset != EL_SEGMENT_NOT_STARTED)
			last = i;
		table_close(seg, NoLock);
	}
	stats->log_start_offset = el_partition_log_start(part);
	stats->log_end_offset = el_partition_log_end(part);
	stats->stable_offset = stats->log_end_offset;
	if (last >= 0)
	{
		Relation	seg = table_open(part->segs[last].relid, AccessShareLock);
		BlockNumber blk = RelationGetNumberOfBlocks(seg);
		int64		from = Max(part->segs[last].base_offset == EL_SEGMENT_NOT_STARTED ?
							   0 : part->segs[last].base_offset, part->start_offset);
		ElCursor	cur;
		int64		off;
		Datum	   *values;
		bool	   *isnull;

		/*
		 * Stable offset: walk back from the tail to the first page before
		 * which everything is settled (see check_settled_before), then read
		 * forward in stop mode (whose start check looks back across
		 * segments as far as needed).
		 */
		while (blk > 0)
		{
			Buffer		buf = ReadBuffer(seg, blk - 1);
			Page		page;
			bool		earlier_settled = false;

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			/* (blocks a crash left zeroed at the end are stepped over) */
			if (el_page_is_valid(page))
			{
				from = Max(ElPageGetOpaque(page)->first_offset, part->start_offset);
				earlier_settled = el_earlier_pages_settled(page, snapshot);
			}
			UnlockReleaseBuffer(buf);
			if (earlier_settled)
				break;
			blk--;
		}
		table_close(seg, NoLock);
		el_cursor_init(&cur, part, from, snapshot, EL_READ_STOP);
		values = palloc(sizeof(Datum) * (part->storedesc->natts + EL_NDERIVED));
		isnull = palloc(sizeof(bool) * (part->storedesc->natts + EL_NDERIVED));
		while (el_cursor_next(&cur, &off, values, isnull))
			;
		stats->stable_offset = cur.stopped ? cur.stop_offset : stats->log_end_offset;
		el_cursor_end(&cur);
		pfree(values);
		pfree(isnull);
	}
}
