/*-------------------------------------------------------------------------
 *
 * subxact.c
 *		Run a step in an internal subtransaction and hand its error back.
 *
 * Several callers must survive one failing part of a larger job, as a
 * PL/pgSQL exception block does: a damaged partition must not take down
 * eventlog.partitions, one topic whose locks are busy must not stop a
 * maintenance pass, one view whose expression fails must not stop the
 * others.  They all need the same dance of resource owner, memory context
 * and error state, so it lives here once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/elog.h"
#include "utils/resowner.h"

#include "eventlog/subxact.h"

/*
 * Run fn(arg) in an internal subtransaction.  Returns NULL if it succeeded
 * (the subtransaction is released), else the error it raised, copied into
 * the caller's memory context, after rolling the subtransaction back: the
 * caller's transaction goes on and decides what to report.  A cancel (or
 * statement timeout) is thrown on, never swallowed, unless catch_cancel:
 * the maintenance worker times out one view's turn and goes on with the
 * others.
 */
ErrorData *
el_subxact_run(ElSubxactFn fn, void *arg, bool catch_cancel)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	/* fn runs in the subtransaction's memory: a failed step's goes with it */
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !catch_cancel)
			ReThrowError(edata);
	}
	PG_END_TRY();
	return edata;
}
