/*
 * pending.c
 *		Statement-buffered appends; see pending.h for when and why.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

#include "eventlog/elstore.h"
#include "eventlog/pending.h"
#include "eventlog/topic.h"

typedef struct PendingPartition
{
	Oid			topic_relid;	/* with partition: the buffer's key */
	int			partition;
	Oid			locked_segrel;	/* the last segment locked for it */
	TransactionId xid;
	CommandId	cid;
	SubTransactionId subid;		/* (sub)transaction level that inserted them */
	int			n;
	int			cap;
	Size		bytes;
	char	  **entries;
	Size	   *lens;
} PendingPartition;

/* a page's worth per partition, then append */
#define PENDING_FLUSH_BYTES (BLCKSZ - 256)

bool		el_defer_inserts = false;
bool		el_pending_nonempty = false;

static MemoryContext pending_cxt = NULL;
static List *pending = NIL;		/* of PendingPartition, in pending_cxt */

static void
append_one(PendingPartition *pp)
{
	int64	   *offsets;
	int			i;

	if (pp->n == 0)
		return;
	offsets = palloc(sizeof(int64) * pp->n);
	(void) el_append_partition(el_topic_get(pp->topic_relid, false), pp->partition,
							   pp->entries, pp->lens, pp->n, NULL, offsets,
							   pp->xid, pp->cid);
	pfree(offsets);
	for (i = 0; i < pp->n; i++)
		pfree(pp->entries[i]);
	pp->n = 0;
	pp->bytes = 0;
}

void
el_pending_flush(void)
{
	ListCell   *lc;

	if (!el_pending_nonempty)
		return;
	foreach(lc, pending)
		append_one((PendingPartition *) lfirst(lc));
	pending = NIL;
	el_pending_nonempty = false;
	MemoryContextReset(pending_cxt);
}

static void
discard(void)
{
	pending = NIL;
	el_pending_nonempty = false;
	if (pending_cxt)
		MemoryContextReset(pending_cxt);
}

void
el_pending_add(ElTopic *topic, int partition, const char *entry, Size len)
{
	const ElSegment *segment = el_active_segment(topic, partition);
	TransactionId xid = GetCurrentTransactionId();
	CommandId	cid = GetCurrentCommandId(true);
	SubTransactionId subid = GetCurrentSubTransactionId();
	PendingPartition *pp = NULL;
	MemoryContext old;
	ListCell   *lc;

	if (pending_cxt == NULL)
		pending_cxt = AllocSetContextCreate(TopMemoryContext, "eventlog pending appends",
											ALLOCSET_DEFAULT_SIZES);
	/*
	 * One buffer per partition, whatever segment is active: a roll (ours or
	 * another session's) seen through a topic reload in the middle of the
	 * statement must not start a second buffer for the partition, which
	 * would flush on its own threshold and give later records of the
	 * statement smaller offsets than earlier ones.
	 */
	foreach(lc, pending)
	{
		PendingPartition *p = (PendingPartition *) lfirst(lc);

		if (p->topic_relid == topic->relid && p->partition == partition)
		{
			pp = p;
			break;
		}
	}
	old = MemoryContextSwitchTo(pending_cxt);
	if (pp == NULL)
	{
		pp = palloc0(sizeof(PendingPartition));
		pp->topic_relid = topic->relid;
		pp->partition = partition;
		pp->locked_segrel = InvalidOid;
		pp->cap = 64;
		pp->entries = palloc(sizeof(char *) * pp->cap);
		pp->lens = palloc(sizeof(Size) * pp->cap);
		pending = lappend(pending, pp);
	}
	if (pp->locked_segrel != segment->relid)
	{
		/*
		 * Lock the segment at the level that inserts, not at whichever
		 * (sub)transaction happens to flush.
		 */
		LockRelationOid(segment->relid, RowExclusiveLock);
		pp->locked_segrel = segment->relid;
	}
	if (pp->n > 0 && (pp->xid != xid || pp->cid != cid || pp->subid != subid))
		append_one(pp);
	if (pp->n == pp->cap)
	{
		pp->cap *= 2;
		pp->entries = repalloc(pp->entries, sizeof(char *) * pp->cap);
		pp->lens = repalloc(pp->lens, sizeof(Size) * pp->cap);
	}
	pp->xid = xid;
	pp->cid = cid;
	pp->subid = subid;
	pp->entries[pp->n] = palloc(len);
	memcpy(pp->entries[pp->n], entry, len);
	pp->lens[pp->n] = len;
	pp->n++;
	pp->bytes += len;
	el_pending_nonempty = true;
	MemoryContextSwitchTo(old);

	if (pp->bytes >= PENDING_FLUSH_BYTES)
		append_one(pp);
}

static void
pending_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			el_pending_flush();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			discard();
			el_defer_inserts = false;
			break;
		default:
			break;
	}
}

/*
 * A subtransaction abort discards the pending records it (or its children,
 * which have larger ids) inserted, and keeps its parents' records.
 */
static void
discard_from(SubTransactionId subid)
{
	ListCell   *lc;
	bool		any = false;

	foreach(lc, pending)
	{
		PendingPartition *pp = (PendingPartition *) lfirst(lc);
		int			i;

		if (pp->n > 0 && pp->subid >= subid)
		{
			for (i = 0; i < pp->n; i++)
				pfree(pp->entries[i]);
			pp->n = 0;
			pp->bytes = 0;
		}
		any |= (pp->n > 0);
	}
	el_pending_nonempty = any;
}

static void
pending_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && el_pending_nonempty)
		discard_from(mySubid);
}

void
el_pending_register_callbacks(void)
{
	RegisterXactCallback(pending_xact_callback, NULL);
	RegisterSubXactCallback(pending_subxact_callback, NULL);
}
