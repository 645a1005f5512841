/*
 * pending.c
 *		Statement-buffered appends; see pending.h for when and why.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "pgstat.h"
#include "utils/memutils.h"

#include "elstore.h"
#include "pending.h"

typedef struct PendingPartition
{
	Oid			segrelid;
	int64		base_offset;
	TransactionId xid;
	CommandId	cid;
	int			ts_natts;
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
	Relation	seg;
	int64	   *offsets;
	int			i;

	if (pp->n == 0)
		return;
	offsets = palloc(sizeof(int64) * pp->n);
	seg = table_open(pp->segrelid, RowExclusiveLock);
	el_append_batch(seg, pp->base_offset, pp->entries, pp->lens, pp->n,
					NULL, offsets, pp->xid, pp->cid, pp->ts_natts);
	pgstat_count_heap_insert(seg, pp->n);
	table_close(seg, NoLock);
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
	ElSegment  *segment = el_active_segment(topic, partition);
	TransactionId xid = GetCurrentTransactionId();
	CommandId	cid = GetCurrentCommandId(true);
	PendingPartition *pp = NULL;
	MemoryContext old;
	ListCell   *lc;

	if (pending_cxt == NULL)
		pending_cxt = AllocSetContextCreate(TopMemoryContext, "eventlog pending appends",
											ALLOCSET_DEFAULT_SIZES);
	foreach(lc, pending)
	{
		PendingPartition *p = (PendingPartition *) lfirst(lc);

		if (p->segrelid == segment->relid)
		{
			pp = p;
			break;
		}
	}
	old = MemoryContextSwitchTo(pending_cxt);
	if (pp == NULL)
	{
		pp = palloc0(sizeof(PendingPartition));
		pp->segrelid = segment->relid;
		pp->base_offset = segment->base_offset;
		pp->ts_natts = topic->ts_natts;
		pp->cap = 64;
		pp->entries = palloc(sizeof(char *) * pp->cap);
		pp->lens = palloc(sizeof(Size) * pp->cap);
		pending = lappend(pending, pp);
	}
	else if (pp->n > 0 && (pp->xid != xid || pp->cid != cid))
		append_one(pp);
	if (pp->n == pp->cap)
	{
		pp->cap *= 2;
		pp->entries = repalloc(pp->entries, sizeof(char *) * pp->cap);
		pp->lens = repalloc(pp->lens, sizeof(Size) * pp->cap);
	}
	pp->xid = xid;
	pp->cid = cid;
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

static void
pending_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	/*
	 * Pending records never span a subtransaction boundary: they are
	 * appended (under the xid they were inserted with) before one starts,
	 * so what is pending when one aborts is all its own.
	 */
	if (event == SUBXACT_EVENT_START_SUB)
		el_pending_flush();
	else if (event == SUBXACT_EVENT_ABORT_SUB)
		discard();
}

void
el_pending_register_callbacks(void)
{
	RegisterXactCallback(pending_xact_callback, NULL);
	RegisterSubXactCallback(pending_subxact_callback, NULL);
}
