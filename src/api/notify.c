/*
 * notify.c
 *		Commit wake-ups for long-polling readers; see notify.h.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/shmem.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "eventlog/eventlog.h"
#include "eventlog/notify.h"
#include "eventlog/view.h"

#define EL_NOTIFY_SLOTS 256

typedef struct ElNotifySlot
{
	ConditionVariable cv;
	pg_atomic_uint64 seq;
} ElNotifySlot;

static ElNotifySlot *slots = NULL;

ElTopicsSettledHook el_topics_settled_hook = NULL;

/* topics this transaction produced to (TopTransactionContext) */
static List *produced_topics = NIL;

Size
el_notify_shmem_size(void)
{
	return mul_size(EL_NOTIFY_SLOTS, sizeof(ElNotifySlot));
}

void
el_notify_shmem_init(void)
{
	bool		found;
	int			i;

	slots = ShmemInitStruct("pg_eventlog notify", el_notify_shmem_size(), &found);
	if (!found)
	{
		for (i = 0; i < EL_NOTIFY_SLOTS; i++)
		{
			ConditionVariableInit(&slots[i].cv);
			pg_atomic_init_u64(&slots[i].seq, 0);
		}
	}
}

static ElNotifySlot *
slot_for(Oid topic_relid)
{
	uint32		h = (uint32) topic_relid * 2654435761U ^ (uint32) MyDatabaseId;

	return &slots[h % EL_NOTIFY_SLOTS];
}

void
el_notify_produced(Oid topic_relid)
{
	MemoryContext old;

	if (list_member_oid(produced_topics, topic_relid))
		return;
	old = MemoryContextSwitchTo(TopTransactionContext);
	produced_topics = lappend_oid(produced_topics, topic_relid);
	MemoryContextSwitchTo(old);
}

uint64
el_notify_seq(Oid topic_relid)
{
	return pg_atomic_read_u64(&slot_for(topic_relid)->seq);
}

bool
el_notify_wait(Oid topic_relid, uint64 seq, long timeout_ms)
{
	ElNotifySlot *slot = slot_for(topic_relid);
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	bool		woken = false;

	/*
	 * On a hot standby no local commit broadcasts; WAL replay makes records
	 * visible, so check again every few milliseconds instead.
	 */
	long		step = RecoveryInProgress() ? 5 : timeout_ms;

	ConditionVariablePrepareToSleep(&slot->cv);
	for (;;)
	{
		long		left;

		if (pg_atomic_read_u64(&slot->seq) != seq)
		{
			woken = true;
			break;
		}
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);
		if (left <= 0)
			break;
		if (ConditionVariableTimedSleep(&slot->cv, Min(left, step), PG_WAIT_EXTENSION) &&
			step != timeout_ms)
		{
			woken = true;		/* standby: time to look again */
			break;
		}
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
	return woken;
}

static void
wake_produced_topics(void)
{
	ListCell   *lc;

	foreach(lc, produced_topics)
	{
		ElNotifySlot *slot = slot_for(lfirst_oid(lc));

		pg_atomic_fetch_add_u64(&slot->seq, 1);
		ConditionVariableBroadcast(&slot->cv);
	}
}

/* ROLLBACK TO SAVEPOINT settles the subtransaction's records at once */
static void
notify_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		wake_produced_topics();
}

static void
notify_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			if (produced_topics != NIL && event == XACT_EVENT_PRE_PREPARE)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has produced to an eventlog topic"),
						 errdetail("A prepared transaction would hold back every reader of the partition until it is resolved."),
						 errhint("Produce in a transaction that is committed directly.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:

			/*
			 * An abort settles our records too: a reader stopped at them can
			 * now read the committed records behind them, so wake it.
			 */
			wake_produced_topics();
			/* and the scheduler, for the views of these topics */
			if (el_topics_settled_hook &&
				(produced_topics != NIL || (event == XACT_EVENT_COMMIT && el_view_created_in_xact)))
				el_topics_settled_hook(produced_topics,
									   event == XACT_EVENT_COMMIT && el_view_created_in_xact);
			el_view_created_in_xact = false;
			produced_topics = NIL;
			break;
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			produced_topics = NIL;
			el_view_created_in_xact = false;
			break;
		default:
			break;
	}
}

void
el_notify_register_xact_callbacks(void)
{
	RegisterXactCallback(notify_xact_callback, NULL);
	RegisterSubXactCallback(notify_subxact_callback, NULL);
}
