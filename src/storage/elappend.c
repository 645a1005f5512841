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

#include "access/relation.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/catalog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/smgr.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "eventlog/elpage.h"
#include "eventlog/elstore.h"
#include "eventlog/elwal.h"

/*
 * A batch of encoded records for one segment.  wants[i] < 0 takes the next
 * offset; otherwise record i gets exactly that offset (pg_restore keeps the
 * original offsets this way, gaps included), which must not be below the
 * log end.  Every offset is below EL_MAX_OFFSET (elstore.h), checked here
 * under the tail page's lock.  offsets[] receives the assigned offsets.
 */
typedef struct AppendBatch
{
	int			n;
	char	  **entries;
	Size	   *lens;
	const int64 *wants;
	int64	   *offsets;
	TransactionId xid;			/* inserting (sub)transaction */
	CommandId	cid;
	uint16		run_flags;		/* of the runs it writes: EL_RUN_FROZEN for
								 * a rewrite (ElAppendTarget.rewrite) */
	int			ts_natts;		/* > 0: stored columns, the first a timestamptz */
	int			done;			/* records placed so far */
	const char *topic;			/* for messages */
	int			partition;
	const ElAppendTarget *target;	/* also names the topic in WAL */
	int64		toast_blocks;	/* the segment's TOAST pages as measured for
								 * the roll check, -1: not measured yet */
} AppendBatch;

static void
offset_below_end(int64 want, int64 next)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("offset " INT64_FORMAT " is below the log end offset " INT64_FORMAT,
					want, next),
			 errdetail("Offsets are assigned in increasing order and never reused."),
			 errhint("Leave \"offset\" NULL to have one assigned.")));
}

/*
 * An explicit offset (or a log-end marker's) that is not below EL_MAX_OFFSET
 * (elstore.h), refused at input before anything is appended.
 */
void
el_offset_out_of_range(int64 offset, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s " INT64_FORMAT " is out of range", what, offset),
			 errdetail("Offsets are below " INT64_FORMAT " (2^62), and a log end offset is at most that.",
					   EL_MAX_OFFSET),
			 errhint("Leave \"offset\" NULL to have one assigned.")));
}

/* The partition has no offset left for a record. */
static void
out_of_offsets(const AppendBatch *b, int64 offset)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("partition %d of topic \"%s\" is out of offsets",
					b->partition, b->topic),
			 errdetail("A record would need offset " INT64_FORMAT "; offsets are below " INT64_FORMAT " (2^62).",
					   offset, EL_MAX_OFFSET),
			 errhint("Produce to another partition or topic.")));
}

/*
 * Before the first record of a batch is placed (under the tail page's
 * lock, with next the log end): would every record of it get a valid
 * offset?  Checked for the whole batch up front, so that a batch that
 * cannot succeed fails before any page changes.  (A batch that spans
 * pages may meet other backends' records in between; plan_bytes() checks
 * each record again as it is placed.)
 */
static void
check_batch(const AppendBatch *b, int64 next)
{
	int			i;

	for (i = b->done; i < b->n; i++)
	{
		int64		want = b->wants ? b->wants[i] : -1;

		if (b->lens[i] == 0)
		{
			/* a log-end marker: want is the new log end */
			if (want > EL_MAX_OFFSET)
				out_of_offsets(b, want);
			next = Max(next, want);
			continue;
		}
		if (want >= 0)
		{
			if (want < next)
				offset_below_end(want, next);
			next = want;
		}
		if (next >= EL_MAX_OFFSET)
			out_of_offsets(b, next);
		next++;
	}
}

/* Write a run header starting at base; returns its size. */
static Size
put_run(char *buf, uint16 flags, TransactionId xid, CommandId cid, int64 base)
{
	ElRun		run;

	run.flags = flags;
	run.xid = xid;
	run.cid = cid;
	run.base_offset = base;
	el_write_run(buf, &run);
	return EL_RUN_SIZE;
}

/*
 * Lay out as many of the batch's remaining records as fit on a page whose
 * current state is (next_offset, free space, record count, last run), into
 * buf.  Nothing on the page changes here, so errors are still harmless;
 * the caller applies buf with el_page_apply() inside its critical section.
 * Returns the byte count (0 if not even one record fits).
 */
static Size
plan_bytes(AppendBatch *b, Page page, char *buf, int *nplaced)
{
	ElPageOpaque opaque = ElPageGetOpaque(page);
	PageHeader	phdr = (PageHeader) page;
	Size		space = phdr->pd_upper - phdr->pd_lower;
	int			nrecords = opaque->nrecords;
	int64		next = opaque->next_offset;
	TransactionId xid = b->xid;
	CommandId	cid = b->cid;
	bool		run_open = false;
	Size		n = 0;
	int			i;

	/* can the page's last run simply be continued? */
	if (nrecords > 0 && opaque->last_run > 0)
	{
		ElRun		last;

		el_read_run((const char *) page + opaque->last_run, &last);
		run_open = (last.xid == xid && last.cid == cid && last.flags == b->run_flags);
	}

	*nplaced = 0;
	if (b->done == 0)
		check_batch(b, next);
	for (i = b->done; i < b->n; i++)
	{
		int64		want = b->wants ? b->wants[i] : -1;
		int64		offset = next;
		bool		new_run = !run_open;
		Size		need;
		Size		elen;
		bool		compact;
		int64		ts;

		/* offsets from a known next segment's base on belong to it */
		if (b->target->next_base != EL_SEGMENT_NOT_STARTED &&
			OidIsValid(b->target->next_relid) &&
			Max(want, next) >= b->target->next_base)
			break;
		if (want >= 0 && b->lens[i] > 0)
		{
			if (want < next)
				offset_below_end(want, next);
			if (want > next)
			{
				offset = want;
				new_run = true; /* a gap: runs hold consecutive offsets */
			}
		}
		if (b->lens[i] == 0)
		{
			/*
			 * A log-end marker (pg_restore): no record, just move the log
			 * end to want with a run header that starts there.
			 */
			if (want > EL_MAX_OFFSET)
				out_of_offsets(b, want);
			if (want > next)
			{
				if (n + EL_RUN_SIZE > space)
					break;
				n += put_run(buf + n, b->run_flags, xid, cid, want);
				run_open = true;
				next = want;
			}
			b->offsets[i] = want - 1;
			(*nplaced)++;
			continue;
		}
		/* the one place a record's offset is decided: keep it in range */
		if (offset >= EL_MAX_OFFSET)
			out_of_offsets(b, offset);
		/* a timestamp close to the page's base time shrinks to 4 bytes */
		elen = b->lens[i];
		compact = false;
		if (b->ts_natts > 0 &&
			el_entry_ts(b->entries[i], b->lens[i], b->ts_natts, &ts) &&
			ts - opaque->base_ts >= PG_INT32_MIN && ts - opaque->base_ts <= PG_INT32_MAX)
		{
			compact = true;
			elen -= 4;
		}
		need = elen + (new_run ? EL_RUN_SIZE : 0);
		if (nrecords >= EL_MAX_RECORDS_PER_PAGE || n + need > space)
			break;
		if (new_run)
		{
			n += put_run(buf + n, b->run_flags, xid, cid, offset);
			run_open = true;
		}
		if (compact)
			(void) el_entry_compact(b->entries[i], b->lens[i], b->ts_natts,
									opaque->base_ts, buf + n);
		else
			memcpy(buf + n, b->entries[i], b->lens[i]);
		n += elen;
		b->offsets[i] = offset;
		next = offset + 1;
		nrecords++;
		(*nplaced)++;
	}
	return n;
}

/*
 * With wal_level = logical, the information that lets a decoder read an
 * APPEND or NEW_PAGE record on its own (elwal.h): fill *xd for the bytes
 * about to be applied to a page whose next offset is next, and return xd;
 * otherwise return NULL and log nothing extra, so that replica-level WAL
 * stays as small as before.  Called before the critical section.
 */
static xl_el_decode *
decode_info(Relation seg, AppendBatch *b, const char *bytes, Size n,
			int64 next, int64 base_ts, xl_el_decode *xd)
{
	ElEntryWalk walk;
	ElEntryKind kind;
	Size		pos;
	uint16		len;
	int64		first = -1;
	int			nrecords = 0;

	/* a rewrite's records were decoded when they were first appended */
	if (!RelationIsLogicallyLogged(seg) || b->target->rewrite)
		return NULL;
	el_entry_walk_init(&walk, bytes, n, next);
	while ((kind = el_entry_walk_next(&walk, &pos, &len)) != EL_ENTRY_END)
	{
		if (kind == EL_ENTRY_BAD)
			elog(ERROR, "eventlog: corrupt entry in an append of %zu bytes", n);
		if (kind != EL_ENTRY_IS_RECORD)
			continue;
		if (first < 0)
			first = walk.offset;
		nrecords++;
	}
	memset(xd, 0, sizeof(xl_el_decode));
	xd->first_offset = first >= 0 ? first : walk.next_offset;
	xd->base_ts = base_ts;
	xd->topic_relid = b->target->topic_relid;
	xd->topic_spcnode = b->target->topic_node.spcNode;
	xd->topic_relnode = b->target->topic_node.relNode;
	xd->partition = b->target->partition;
	xd->xid = b->xid;
	xd->nrecords = (uint16) nrecords;
	xd->natts = (uint16) b->target->natts;
	xd->flags = b->ts_natts > 0 ? XL_EL_DECODE_TSFIRST : 0;

	/*
	 * Records that another (sub)transaction of ours inserted and left
	 * buffered (pending.c): a decoder queues them under their own xid, and
	 * must know its top-level transaction even if that subtransaction
	 * wrote no WAL itself (elwal.h).
	 */
	if (b->xid != GetCurrentTransactionIdIfAny())
		xd->flags |= XL_EL_DECODE_TOPXID;
	return xd;
}

/*
 * WAL-log entries just placed on a page.  APPEND carries only the bytes:
 * redo appends them at pd_lower and derives the counters from them, as the
 * primary did (el_page_apply).  NEW_PAGE also carries the first offset and
 * seals the previous page.  xd, if not NULL, is decode_info()'s: it ends
 * the main data, and the bytes are kept even behind a full-page image.
 */
static void
log_append(Relation seg, Buffer buf, uint8 info, const char *bytes, Size n,
		   Buffer prevbuf, const xl_el_decode *xd)
{
	Page		page = BufferGetPage(buf);
	xl_el_new_page xlrec;
	XLogRecPtr	recptr;
	uint8		keep = xd ? REGBUF_KEEP_DATA : 0;
	TransactionId topxid = InvalidTransactionId;

	if (!RelationNeedsWAL(seg))
		return;
	memset(&xlrec, 0, sizeof(xlrec));	/* no uninitialized padding in WAL */

	XLogBeginInsert();
	if (info == XLOG_EL_NEW_PAGE || info == XLOG_EL_ROLL)
	{
		xlrec.first_offset = ElPageGetOpaque(page)->first_offset;
		xlrec.base_ts = ElPageGetOpaque(page)->base_ts;
		xlrec.init_xid = ElPageGetOpaque(page)->init_xid;
		xlrec.ts_natts = ElPageGetOpaque(page)->ts_natts;
		xlrec.ts_high = ElPageGetOpaque(page)->ts_high;
		XLogRegisterData((char *) &xlrec, sizeof(xl_el_new_page));
		XLogRegisterBuffer(0, buf, REGBUF_WILL_INIT | keep);
	}
	else
		XLogRegisterBuffer(0, buf, REGBUF_STANDARD | keep);
	if (xd)
	{
		if (xd->flags & XL_EL_DECODE_TOPXID)
		{
			topxid = GetTopTransactionIdIfAny();
			XLogRegisterData((char *) &topxid, sizeof(TransactionId));
		}
		XLogRegisterData((char *) xd, SizeOfElDecode);
		info |= XLOG_EL_DECODE;
		/* as heap_insert(): decoders may filter changes by origin */
		XLogSetRecordFlags(XLOG_INCLUDE_ORIGIN);
	}
	if (n > 0)
		XLogRegisterBufData(0, (char *) bytes, n);
	if (BufferIsValid(prevbuf))
		XLogRegisterBuffer(1, prevbuf, REGBUF_STANDARD);
	recptr = XLogInsert(EL_RMGR_ID, info);
	PageSetLSN(page, recptr);
	if (BufferIsValid(prevbuf))
		PageSetLSN(BufferGetPage(prevbuf), recptr);
}

/* Append what fits to the locked tail page; returns records placed. */
static int
append_to_page(Relation seg, Buffer buf, AppendBatch *b, char *buf_bytes)
{
	Page		page = BufferGetPage(buf);
	int			nplaced;
	Size		n = plan_bytes(b, page, buf_bytes, &nplaced);
	xl_el_decode xdbuf;
	xl_el_decode *xd;

	if (nplaced == 0)
		return 0;
	if (n == 0)
	{
		/* only markers the log end had already passed */
		b->done += nplaced;
		return nplaced;
	}
	xd = decode_info(seg, b, buf_bytes, n, ElPageGetOpaque(page)->next_offset,
					 ElPageGetOpaque(page)->base_ts, &xdbuf);
	START_CRIT_SECTION();
	el_page_apply(page, buf_bytes, n);
	MarkBufferDirty(buf);
	log_append(seg, buf, XLOG_EL_APPEND, buf_bytes, n, InvalidBuffer, xd);
	END_CRIT_SECTION();
	b->done += nplaced;
	return nplaced;
}

static int64
page_base_ts(AppendBatch *b)
{
	int			i;
	int64		ts;

	for (i = b->done; i < b->n && b->ts_natts > 0; i++)
		if (b->lens[i] > 0 && el_entry_ts(b->entries[i], b->lens[i], b->ts_natts, &ts))
			return ts;
	return GetCurrentTimestamp();
}

/* A new page laid out in advance, before any block is allocated for it. */
typedef struct NewPagePlan
{
	int64		first_offset;
	int64		base_ts;
	TransactionId init_xid;
	Size		n;				/* bytes in the caller's buffer */
	int			nplaced;
} NewPagePlan;

/*
 * Lay out a new page starting at first_offset holding as many of the
 * batch's records as fit.  Done before a block is taken for it, so a bad
 * record (an explicit offset below the end) fails without leaving an
 * uninitialized page behind.
 */
static void
plan_new_page(AppendBatch *b, int64 first_offset, char *buf_bytes, NewPagePlan *np)
{
	PGAlignedBlock scratch;

	np->first_offset = first_offset;
	/* the first record's time, so the records arriving with it are compact */
	np->base_ts = page_base_ts(b);
	/*
	 * Every xid on earlier pages precedes this one (see elscan.c).  A
	 * compaction's rewrite holds only runs settled for every snapshot that
	 * reads it, after segments that hold only such runs (compact.c's
	 * cleanable prefix): nothing before its pages can be unsettled, as
	 * after VACUUM's freezing, so a stop-mode reader need not walk back
	 * through the compacted log while an older transaction runs.
	 */
	np->init_xid = b->target->rewrite ? FrozenTransactionId : ReadNextTransactionId();
	el_page_init(scratch.data, first_offset, np->base_ts, np->init_xid,
				 b->ts_natts, PG_INT64_MIN);
	np->n = plan_bytes(b, scratch.data, buf_bytes, &np->nplaced);

	/*
	 * Nothing placed is right only for a segment's first page when the
	 * next record belongs to the next segment (a restore of a segment that
	 * compaction emptied): the page is started empty, and the append rolls
	 * from it.
	 */
	if (np->nplaced == 0 &&
		!(b->target->next_base != EL_SEGMENT_NOT_STARTED &&
		  OidIsValid(b->target->next_relid) && b->wants &&
		  b->wants[b->done] >= b->target->next_base))
		elog(ERROR, "eventlog record of %zu bytes does not fit an empty page",
			 b->lens[b->done]);
}

/*
 * Initialize the locked page newbuf as planned; prevbuf, if valid, is the
 * locked old tail, sealed in the same WAL record.
 */
static void
start_page(Relation seg, Buffer newbuf, Buffer prevbuf, AppendBatch *b,
		   const NewPagePlan *np, char *buf_bytes, bool roll)
{
	Page		page = BufferGetPage(newbuf);

	/*
	 * The time index carries on from the page before, within a segment; a
	 * roll starts the next segment's.
	 */
	int64		ts_high = BufferIsValid(prevbuf) && !roll ?
		ElPageGetOpaque(BufferGetPage(prevbuf))->ts_high : PG_INT64_MIN;
	xl_el_decode xdbuf;
	xl_el_decode *xd = decode_info(seg, b, buf_bytes, np->n, np->first_offset,
								   np->base_ts, &xdbuf);

	START_CRIT_SECTION();
	el_page_init(page, np->first_offset, np->base_ts, np->init_xid,
				 b->ts_natts, ts_high);
	el_page_apply(page, buf_bytes, np->n);
	MarkBufferDirty(newbuf);
	if (BufferIsValid(prevbuf))
	{
		ElPageGetOpaque(BufferGetPage(prevbuf))->flags |= EL_PAGE_SEALED;
		if (roll)
			ElPageGetOpaque(BufferGetPage(prevbuf))->flags |= EL_PAGE_CLOSED;
		MarkBufferDirty(prevbuf);
	}
	log_append(seg, newbuf, roll ? XLOG_EL_ROLL : XLOG_EL_NEW_PAGE,
			   buf_bytes, np->n, prevbuf, xd);
	END_CRIT_SECTION();
	b->done += np->nplaced;
}

/*
 * The block that follows tail in the page chain (block 0 if tail is
 * InvalidBlockNumber), exclusively locked.  The chain has no holes: if a
 * block already exists there it is one a crash left uninitialized (nobody
 * else initializes the block after a tail without holding the tail's lock,
 * which the caller has), and it is reused; otherwise the segment grows.  A
 * new block is locked before any other backend can see it
 * (RBM_ZERO_AND_LOCK), and no existing buffer is ever waited for while the
 * extension lock is held, so the two locks cannot deadlock.
 */
static Buffer
chain_next_block(Relation seg, BlockNumber tail)
{
	BlockNumber want = (tail == InvalidBlockNumber) ? 0 : tail + 1;
	Buffer		buf;

	LockRelationForExtension(seg, ExclusiveLock);
	if (want < smgrnblocks(RelationGetSmgr(seg), MAIN_FORKNUM))
	{
		UnlockRelationForExtension(seg, ExclusiveLock);
		buf = ReadBuffer(seg, want);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		/*
		 * All zeros as a crash leaves it, or (first page only) one a racing
		 * twin just initialized; el_page_is_valid() refuses anything else.
		 */
		(void) el_page_is_valid(BufferGetPage(buf));
		return buf;
	}
	buf = ReadBufferExtended(seg, MAIN_FORKNUM, P_NEW, RBM_ZERO_AND_LOCK, NULL);
	UnlockRelationForExtension(seg, ExclusiveLock);
	if (BufferGetBlockNumber(buf) != want)
		elog(ERROR, "eventlog segment \"%s\" grew to block %u, expected %u",
			 RelationGetRelationName(seg), BufferGetBlockNumber(buf), want);
	return buf;
}

/*
 * The last initialized block of the segment, or InvalidBlockNumber if it
 * has none.  Blocks after it can only be ones a crash left uninitialized.
 */
static BlockNumber
last_valid_block(Relation seg)
{
	BlockNumber blk = smgrnblocks(RelationGetSmgr(seg), MAIN_FORKNUM);

	while (blk > 0)
	{
		Buffer		buf = ReadBuffer(seg, blk - 1);
		bool		valid;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		valid = el_page_is_valid(BufferGetPage(buf));
		UnlockReleaseBuffer(buf);
		if (valid)
			return blk - 1;
		blk--;
	}
	return InvalidBlockNumber;
}

/*
 * Close seg, whose tail page tailbuf the caller holds exclusively locked
 * (not sealed), and start next, the partition's next segment: its page 0
 * begins at the tail's next offset (or at next's known base offset, when a
 * restore made it, if that is larger), with no records.  One WAL record
 * (ROLL) initializes the new page and marks the old tail SEALED | CLOSED,
 * so after a crash either both happened or neither.  Producers that wait
 * for the old tail's lock find it closed and move on to next: the tail's
 * lock serializes every appender of the partition across the switch, so
 * offsets go on without a gap or a reuse.
 */
static void
roll_locked(Relation seg, Buffer tailbuf, Relation next, AppendBatch *b)
{
	Page		tail = BufferGetPage(tailbuf);
	NewPagePlan np;
	Buffer		newbuf;
	int64		first = ElPageGetOpaque(tail)->next_offset;
	char		none[1] = {0};

	if (b->target->next_base != EL_SEGMENT_NOT_STARTED)
		first = Max(first, b->target->next_base);
	np.first_offset = first;
	np.base_ts = GetCurrentTimestamp();
	np.init_xid = ReadNextTransactionId();
	np.n = 0;
	np.nplaced = 0;
	newbuf = chain_next_block(next, InvalidBlockNumber);
	if (el_page_is_valid(BufferGetPage(newbuf)))
		elog(ERROR, "eventlog segment \"%s\" was started while \"%s\" was still open",
			 RelationGetRelationName(next), RelationGetRelationName(seg));
	start_page(next, newbuf, tailbuf, b, &np, none, true);
	UnlockReleaseBuffer(newbuf);
}

/*
 * What a segment holds on disk besides its own pages, in pages: its TOAST
 * table's, where large values go (produce.c).  (Its index is left out: an
 * empty TOAST table's index has a page already, and its size follows the
 * table's.)
 */
static BlockNumber
toast_blocks(Relation seg)
{
	Oid			toastrelid = seg->rd_rel->reltoastrelid;
	Relation	toast;
	BlockNumber n;

	if (!OidIsValid(toastrelid) ||
		(toast = try_relation_open(toastrelid, AccessShareLock)) == NULL)
		return 0;
	n = RelationGetNumberOfBlocks(toast);
	relation_close(toast, AccessShareLock);
	return n;
}

/*
 * What a segment holds on disk: its pages and its TOAST table's.  Size
 * retention, the roll by segment_bytes and the views' bytes count this.
 */
int64
el_segment_bytes(Relation seg)
{
	return ((int64) RelationGetNumberOfBlocks(seg) + toast_blocks(seg)) * BLCKSZ;
}

/*
 * Must the batch move to the next segment before its next record?  Yes
 * when the next segment's base offset is known (a restore recreated it)
 * and the record's explicit offset (or log-end marker) lies at or beyond
 * it, or when the tail is full (full) and the segment has reached its
 * size: its pages and its TOAST table's (b->toast_blocks, measured before
 * this is asked with full) reach max_blocks.  (A producer about to store
 * large values rolls a segment that reached its size before it does:
 * el_toast_segment() in topic.c.)
 */
static bool
roll_due(const AppendBatch *b, BlockNumber tail, bool full)
{
	const ElAppendTarget *t = b->target;

	if (!OidIsValid(t->next_relid))
		return false;
	if (t->next_base != EL_SEGMENT_NOT_STARTED && b->wants &&
		b->wants[b->done] >= t->next_base)
		return true;

	/*
	 * A known next base (a restore) decides alone: the segment may have
	 * grown past segment_bytes where it was dumped (no spare was ready),
	 * and rolling early would start the next one at its base, above
	 * offsets still to come.
	 */
	if (t->next_base != EL_SEGMENT_NOT_STARTED || t->max_blocks == 0)
		return false;
	return full && (int64) tail + 1 + Max(b->toast_blocks, 0) >= (int64) t->max_blocks;
}

/* Does the roll check of this batch still need the TOAST table measured? */
static bool
toast_unmeasured(const AppendBatch *b)
{
	const ElAppendTarget *t = b->target;

	return b->toast_blocks < 0 && t->max_blocks > 0 && OidIsValid(t->next_relid) &&
		t->next_base == EL_SEGMENT_NOT_STARTED;
}

/*
 * The worker's roll (by time, or by size when no producer could): close
 * seg and start next unless seg is closed already or holds no offsets.
 * Only the old tail's buffer lock is taken, never a relation lock that a
 * producer could queue behind.  Returns whether it rolled.
 */
bool
el_segment_roll(Relation seg, Relation next, const ElAppendTarget *target)
{
	AppendBatch b;

	memset(&b, 0, sizeof(b));
	b.xid = InvalidTransactionId;
	b.toast_blocks = -1;
	b.ts_natts = target->ts_natts;
	b.topic = target->topic_name;
	b.partition = target->partition;
	b.target = target;
	for (;;)
	{
		BlockNumber tail = last_valid_block(seg);
		Buffer		buf;
		ElPageOpaque opaque;

		if (tail == InvalidBlockNumber)
			return false;
		buf = ReadBuffer(seg, tail);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		opaque = ElPageGetOpaque(BufferGetPage(buf));
		if (opaque->flags & EL_PAGE_CLOSED)
		{
			UnlockReleaseBuffer(buf);
			return false;
		}
		if (opaque->flags & EL_PAGE_SEALED)
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		if (tail == 0 && opaque->next_offset == opaque->first_offset)
		{
			/* nothing in it: rolling would only make empty segments */
			UnlockReleaseBuffer(buf);
			return false;
		}
		roll_locked(seg, buf, next, &b);
		UnlockReleaseBuffer(buf);
		return true;
	}
}

/*
 * Close a segment that compaction has just written (its relation is new,
 * visible to no one else yet): mark its tail SEALED | CLOSED, so that
 * readers go on into the next segment and its log end stays where the
 * last record or log-end marker put it.  The tail goes to WAL as a full
 * page image, which redo reproduces exactly and logical decoding ignores;
 * it happens once per rewritten segment.
 */
void
el_segment_close(Relation seg)
{
	BlockNumber tail = last_valid_block(seg);
	Buffer		buf;

	if (tail == InvalidBlockNumber)
		elog(ERROR, "eventlog segment \"%s\" has no page to close",
			 RelationGetRelationName(seg));
	buf = ReadBuffer(seg, tail);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	START_CRIT_SECTION();
	ElPageGetOpaque(BufferGetPage(buf))->flags |= EL_PAGE_SEALED | EL_PAGE_CLOSED;
	MarkBufferDirty(buf);
	if (RelationNeedsWAL(seg))
		log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}

/* Records on a segment's pages (aborted ones included): the page headers' sum. */
int64
el_segment_records(Relation seg)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(seg);
	BlockNumber blk;
	int64		n = 0;

	for (blk = 0; blk < nblocks; blk++)
	{
		Buffer		buf = ReadBuffer(seg, blk);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (el_page_is_valid(page))
			n += ElPageGetOpaque(page)->nrecords;
		UnlockReleaseBuffer(buf);
	}
	return n;
}

/*
 * A segment's extent, read without locks held across pages: first and next
 * offset (-1 if it has no page yet), the time of its first page and the
 * latest record time (PG_INT64_MIN if none), whether it is closed.
 */
void
el_segment_bounds(Relation seg, int64 *first, int64 *next, int64 *first_ts,
				  int64 *last_ts, bool *closed)
{
	BlockNumber tail = last_valid_block(seg);
	Buffer		buf;
	ElPageOpaque opaque;

	*first = *next = -1;
	*first_ts = *last_ts = PG_INT64_MIN;
	*closed = false;
	if (tail == InvalidBlockNumber)
		return;
	buf = ReadBuffer(seg, 0);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	opaque = ElPageGetOpaque(BufferGetPage(buf));
	*first = opaque->first_offset;
	*first_ts = opaque->base_ts;
	UnlockReleaseBuffer(buf);
	buf = ReadBuffer(seg, tail);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	opaque = ElPageGetOpaque(BufferGetPage(buf));
	*next = opaque->next_offset;
	*last_ts = opaque->ts_high;
	*closed = (opaque->flags & EL_PAGE_CLOSED) != 0;
	UnlockReleaseBuffer(buf);
}

/*
 * Append a batch of encoded records to a segment, in order, assigning their
 * offsets.  Records go onto the tail page as long as they fit (one WAL
 * record per page touched), then onto new pages.  xid and cid name the
 * inserting transaction and command: records buffered by a statement are
 * appended later but keep the identity they were inserted with.  target
 * names the topic and partition the segment belongs to (for messages, and
 * in WAL for logical decoding) and the stored columns, and how the
 * partition rolls into its next segment (roll_due).
 *
 * Returns how many records were placed: fewer than n when the segment is
 * closed (by this call's roll or by someone else's); the caller goes on
 * with the rest in the partition's next segment.
 */
int
el_append_batch(Relation seg, int64 base_offset, char **entries, Size *lens,
				int n, const int64 *wants, int64 *offsets,
				TransactionId xid, CommandId cid, const ElAppendTarget *target)
{
	AppendBatch b;
	char	   *bytes = palloc(BLCKSZ);
	Relation	next = NULL;

	b.n = n;
	b.entries = entries;
	b.lens = lens;
	b.wants = wants;
	b.offsets = offsets;
	b.xid = xid;
	b.cid = cid;
	b.run_flags = target->rewrite ? EL_RUN_FROZEN : 0;
	b.ts_natts = target->ts_natts;
	b.done = 0;
	b.topic = target->topic_name;
	b.partition = target->partition;
	b.target = target;
	b.toast_blocks = -1;

	while (b.done < b.n)
	{
		BlockNumber nblocks;
		BlockNumber tail;
		Buffer		buf;
		Page		page;
		NewPagePlan np;

		CHECK_FOR_INTERRUPTS();
		if (lens[b.done] > EL_MAX_ENTRY_SIZE)
			elog(ERROR, "eventlog record of %zu bytes does not fit a page", lens[b.done]);

		/*
		 * Fast path: the tail this backend used last, if it still is one
		 * (valid and not sealed).  Saves asking the kernel for the file
		 * size on every append.
		 */
		nblocks = RelationGetTargetBlock(seg);
		if (nblocks != InvalidBlockNumber)
		{
			buf = ReadBuffer(seg, nblocks);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			page = BufferGetPage(buf);
			if (el_page_is_valid(page) &&
				!(ElPageGetOpaque(page)->flags & EL_PAGE_SEALED) &&
				!roll_due(&b, nblocks, false))
			{
				if (append_to_page(seg, buf, &b, bytes) > 0 && b.done == b.n)
				{
					UnlockReleaseBuffer(buf);
					break;
				}
			}
			UnlockReleaseBuffer(buf);
			RelationSetTargetBlock(seg, InvalidBlockNumber);
		}

		tail = last_valid_block(seg);
		if (tail == InvalidBlockNumber)
		{
			/* the first page; a racing twin may get there first */
			if (base_offset == EL_SEGMENT_NOT_STARTED)
				elog(ERROR, "eventlog segment \"%s\" has not been started",
					 RelationGetRelationName(seg));
			plan_new_page(&b, base_offset, bytes, &np);
			buf = chain_next_block(seg, InvalidBlockNumber);
			if (!el_page_is_valid(BufferGetPage(buf)))
			{
				start_page(seg, buf, InvalidBuffer, &b, &np, bytes, false);
				RelationSetTargetBlock(seg, BufferGetBlockNumber(buf));
			}
			UnlockReleaseBuffer(buf);
			continue;
		}

		buf = ReadBuffer(seg, tail);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (ElPageGetOpaque(page)->flags & EL_PAGE_CLOSED)
		{
			/* rolled: the rest goes to the next segment */
			UnlockReleaseBuffer(buf);
			break;
		}
		if (ElPageGetOpaque(page)->flags & EL_PAGE_SEALED)
		{
			/* someone chained a page after we looked */
			UnlockReleaseBuffer(buf);
			continue;
		}

		RelationSetTargetBlock(seg, tail);
		if (roll_due(&b, tail, false) ||
			append_to_page(seg, buf, &b, bytes) == 0 || b.done < b.n)
		{
			Buffer		newbuf;

			if (toast_unmeasured(&b))
			{
				/*
				 * The tail is full: before a new page, the roll check
				 * counts the TOAST table too, measured with no buffer lock
				 * held (let go of the tail, measure, and look again).
				 */
				UnlockReleaseBuffer(buf);
				b.toast_blocks = toast_blocks(seg);
				continue;
			}
			if (roll_due(&b, tail, true))
			{
				/*
				 * Roll.  The next segment is opened (locked) with no buffer
				 * lock held: let go of the tail, open it, and look again.
				 */
				if (next == NULL)
				{
					UnlockReleaseBuffer(buf);
					next = table_open(target->next_relid, RowExclusiveLock);
					continue;
				}
				roll_locked(seg, buf, next, &b);
				UnlockReleaseBuffer(buf);
				RelationSetTargetBlock(seg, InvalidBlockNumber);
				break;
			}
			/* the tail is full: chain the next page while holding it */
			plan_new_page(&b, ElPageGetOpaque(page)->next_offset, bytes, &np);
			newbuf = chain_next_block(seg, tail);
			start_page(seg, newbuf, buf, &b, &np, bytes, false);
			RelationSetTargetBlock(seg, BufferGetBlockNumber(newbuf));
			UnlockReleaseBuffer(newbuf);
		}
		UnlockReleaseBuffer(buf);
	}
	if (next)
		table_close(next, NoLock);
	pfree(bytes);
	return b.done;
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

/*
 * Binary search for the first block whose time index (ts_high: the latest
 * record time up to and including that page) reaches ts; sets *first to
 * its first offset.  No record before that page has a time >= ts, so a
 * reader looking for the earliest such record starts there.  Returns
 * InvalidBlockNumber if no page reaches ts.  Uninitialized blocks (only
 * ever at the end of the chain) count as reaching it.
 */
BlockNumber
el_find_time_block(Relation seg, int64 ts, int64 *first)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(seg);
	BlockNumber lo = 0,
				hi = nblocks;	/* the answer is in [lo, hi]; hi = none */
	Buffer		buf;
	Page		page;
	bool		found = false;

	while (lo < hi)
	{
		BlockNumber mid = lo + (hi - lo) / 2;
		bool		reaches;

		buf = ReadBuffer(seg, mid);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		reaches = !el_page_is_valid(page) || ElPageGetOpaque(page)->ts_high >= ts;
		UnlockReleaseBuffer(buf);
		if (reaches)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo >= nblocks)
		return InvalidBlockNumber;
	buf = ReadBuffer(seg, lo);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (el_page_is_valid(page))
	{
		found = true;
		*first = ElPageGetOpaque(page)->first_offset;
	}
	UnlockReleaseBuffer(buf);
	return found ? lo : InvalidBlockNumber;
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
