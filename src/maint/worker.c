/*
 * worker.c
 *		The maintenance launcher and its bounded pool of workers.
 *
 * The launcher (one per server, connected to no database) keeps the
 * scheduler's table of databases (sched.h) from pg_database, and starts a
 * worker (a dynamic background worker, at most
 * eventlog.max_maintenance_workers at once) for a database that has work
 * due and no worker there to take it.  A worker connects to one database
 * and takes that database's due work, one step at a time, segment
 * maintenance (rolls, spares, retention, drops) first: then compaction or
 * a pass over the views of topics that received commits, whichever waited
 * longer.  Compaction and views may hold all workers but one, so segment
 * maintenance always finds one, and while a worker runs a long view turn
 * or compaction the launcher gives segment maintenance of the same
 * database another worker.  A worker leaves when another database waits
 * for a worker (after its step: databases take turns), when its database
 * has nothing due within EL_LINGER_MS, or when its database has no
 * extension (looked at again after EL_RECHECK_MS).  Work that finds no
 * worker is logged as a WARNING and shown in eventlog.maintenance_status.
 *
 * A view's turn that runs past eventlog.view_turn_timeout is cancelled by
 * the worker itself (viewapply.c); one still running EL_TURN_GRACE_MS
 * later (an owner's code that catches the cancel) is ended by the
 * launcher terminating the worker, which the owner's code cannot catch;
 * the worker's exit notes the turn, and the database's next worker
 * records it as the view's error with its back-off.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include <signal.h>

#include "eventlog/maint.h"
#include "eventlog/sched.h"
#include "eventlog/view.h"

bool		el_maintenance_enabled = true;
int			el_maintenance_interval = 1000;

PGDLLEXPORT void el_launcher_main(Datum arg);
PGDLLEXPORT void el_db_worker_main(Datum arg);

static const char *const kind_what[EL_NKINDS] = {
	"segment maintenance", "compaction", "view maintenance"
};

void
el_register_launcher(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "pg_eventlog");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "el_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "pg_eventlog launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "pg_eventlog launcher");
	RegisterBackgroundWorker(&bgw);
}

/*
 * Under the mutex: free worker slot w, handing back what it held.  A
 * view's turn it was running (its worker was terminated, or failed) is
 * noted for the database's next worker to record as the view's error.
 */
static void
release_slot_locked(int w, TimestampTz now)
{
	ElSchedWorker *wk = &el_sched->workers[w];
	int			k;

	if (wk->state == EL_W_FREE)
		return;
	if (wk->db >= 0 && wk->db < el_sched->ndbs &&
		el_sched->dbs[wk->db].dboid == wk->dboid)
	{
		ElSchedDb  *db = &el_sched->dbs[wk->db];

		for (k = 0; k < EL_NKINDS; k++)
			if (db->running[k] == w + 1)
			{
				db->running[k] = 0;
				db->last_end[k] = now;
				/* the topics its view pass took: every view, next pass */
				if (k == EL_KIND_VIEWS)
					db->views_all = true;
			}
		if (wk->turn_start != 0)
		{
			ElKilledTurn *kt;

			if (db->nkilled == EL_SCHED_KILLED)
			{
				memmove(&db->killed[0], &db->killed[1],
						sizeof(ElKilledTurn) * (EL_SCHED_KILLED - 1));
				db->nkilled--;
			}
			kt = &db->killed[db->nkilled++];
			kt->schema = wk->turn_schema;
			kt->name = wk->turn_name;
			kt->ms = (int) Min((now - wk->turn_start) / 1000, (int64) INT_MAX);
		}
	}
	memset(wk, 0, sizeof(ElSchedWorker));
	wk->state = EL_W_FREE;
	wk->db = -1;
}

/* ----------------------------------------------------------------
 * The launcher
 * ----------------------------------------------------------------
 */
static BackgroundWorkerHandle *handles[EL_SCHED_MAX_WORKERS];
static bool table_full_warned = false;

/* Keep the table of databases as pg_database lists them. */
static void
scan_databases(TimestampTz now)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid		   *oids = NULL;
	int			n = 0;
	int			cap = 64;
	int			i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	oids = palloc(sizeof(Oid) * cap);
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);

		if (!d->datallowconn || d->datconnlimit == DATCONNLIMIT_INVALID_DB)
			continue;
		if (n == cap)
		{
			cap *= 2;
			oids = repalloc(oids, sizeof(Oid) * cap);
		}
		oids[n++] = d->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	SpinLockAcquire(&el_sched->mutex);
	for (i = 0; i < el_sched->ndbs; i++)
		el_sched->dbs[i].listed = false;
	for (i = 0; i < n; i++)
	{
		int			d = el_sched_add_db(oids[i], now);

		if (d >= 0)
			el_sched->dbs[d].listed = true;
		else if (!table_full_warned)
		{
			table_full_warned = true;
			SpinLockRelease(&el_sched->mutex);
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("eventlog maintenance serves at most %d databases", EL_SCHED_MAX_DBS),
					 errdetail("Databases beyond these get no background maintenance."),
					 errhint("Run eventlog.run_maintenance() in those databases yourself.")));
			SpinLockAcquire(&el_sched->mutex);
		}
	}
	/* dropped databases leave the table once no worker is there */
	for (i = 0; i < el_sched->ndbs; i++)
	{
		ElSchedDb  *db = &el_sched->dbs[i];
		int			w;
		bool		busy = false;

		if (!OidIsValid(db->dboid) || db->listed)
			continue;
		for (w = 0; w < EL_SCHED_MAX_WORKERS; w++)
			if (el_sched->workers[w].state != EL_W_FREE && el_sched->workers[w].db == i)
				busy = true;
		if (!busy)
			db->dboid = InvalidOid;
	}
	while (el_sched->ndbs > 0 && !OidIsValid(el_sched->dbs[el_sched->ndbs - 1].dboid))
		el_sched->ndbs--;
	SpinLockRelease(&el_sched->mutex);

	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* Forget workers that stopped without freeing their slot. */
static void
reap_workers(TimestampTz now)
{
	int			w;

	for (w = 0; w < EL_SCHED_MAX_WORKERS; w++)
	{
		pid_t		pid;
		BgwHandleStatus st;

		if (handles[w] == NULL)
			continue;
		st = GetBackgroundWorkerPid(handles[w], &pid);
		if (st == BGWH_POSTMASTER_DIED)
			proc_exit(1);
		if (st != BGWH_STOPPED)
			continue;
		pfree(handles[w]);
		handles[w] = NULL;
		SpinLockAcquire(&el_sched->mutex);
		release_slot_locked(w, now);
		SpinLockRelease(&el_sched->mutex);
	}
}

/*
 * Terminate the workers whose view turn ran EL_TURN_GRACE_MS past
 * eventlog.view_turn_timeout.  Returns the next such deadline (0: none).
 */
static TimestampTz
end_overrun_turns(TimestampTz now)
{
	TimestampTz next = 0;
	int			w;

	if (el_view_turn_timeout <= 0)
		return 0;
	for (w = 0; w < EL_SCHED_MAX_WORKERS; w++)
	{
		ElSchedWorker *wk = &el_sched->workers[w];
		TimestampTz deadline;
		pid_t		pid = 0;
		NameData	schema;
		NameData	name;

		SpinLockAcquire(&el_sched->mutex);
		if (wk->state == EL_W_BUSY && wk->turn_start != 0 && !wk->terminated)
		{
			deadline = TimestampTzPlusMilliseconds(wk->turn_start,
												   el_view_turn_timeout + EL_TURN_GRACE_MS);
			if (deadline <= now)
			{
				wk->terminated = true;
				pid = wk->pid;
				schema = wk->turn_schema;
				name = wk->turn_name;
			}
			else if (next == 0 || deadline < next)
				next = deadline;
		}
		SpinLockRelease(&el_sched->mutex);
		if (pid != 0)
		{
			ereport(LOG,
					(errmsg("eventlog maintenance: terminating the worker (pid %d) whose turn of materialized view \"%s.%s\" ran past eventlog.view_turn_timeout",
							(int) pid, NameStr(schema), NameStr(name))));
			(void) kill(pid, SIGTERM);
		}
	}
	return next;
}

static bool
start_worker(int w, int dbidx, Oid dboid, int kind)
{
	BackgroundWorker bgw;
	MemoryContext old;
	bool		started;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "pg_eventlog");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "el_db_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "pg_eventlog maintenance %u", dboid);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "pg_eventlog maintenance");
	bgw.bgw_main_arg = Int32GetDatum(w);
	bgw.bgw_notify_pid = MyProcPid;

	SpinLockAcquire(&el_sched->mutex);
	memset(&el_sched->workers[w], 0, sizeof(ElSchedWorker));
	el_sched->workers[w].state = EL_W_STARTING;
	el_sched->workers[w].kind = kind;
	el_sched->workers[w].db = dbidx;
	el_sched->workers[w].dboid = dboid;
	el_sched->workers[w].since = GetCurrentTimestamp();
	SpinLockRelease(&el_sched->mutex);

	/* the handle outlives any transaction */
	old = MemoryContextSwitchTo(TopMemoryContext);
	started = RegisterDynamicBackgroundWorker(&bgw, &handles[w]);
	MemoryContextSwitchTo(old);
	if (!started)
	{
		handles[w] = NULL;
		SpinLockAcquire(&el_sched->mutex);
		release_slot_locked(w, GetCurrentTimestamp());
		SpinLockRelease(&el_sched->mutex);
	}
	return started;
}

typedef struct Candidate
{
	int			db;
	int			kind;
	int			rank;			/* 0 segments, 1 probe, 2 compaction/views */
	TimestampTz since;
} Candidate;

static int
candidate_cmp(const void *a, const void *b)
{
	const Candidate *x = a;
	const Candidate *y = b;

	if (x->rank != y->rank)
		return x->rank - y->rank;
	return (x->since > y->since) - (x->since < y->since);
}

/* when this database's kind of work became due, or 0: not due */
static TimestampTz
due_since(ElSchedDb *db, int k, TimestampTz now)
{
	TimestampTz since;
	int			i;

	if (k != EL_KIND_VIEWS)
		return db->due[k] <= now ? db->due[k] : 0;
	if (!el_sched_views_due(db, now))
		return 0;
	since = now;
	for (i = 0; i < db->nwoken; i++)
		since = Min(since, db->woken_at[i]);
	if (db->due[EL_KIND_VIEWS] != 0)
		since = Min(since, db->due[EL_KIND_VIEWS]);
	return since;
}

/*
 * Start workers for due work that has none, segment maintenance first,
 * then the longest waiting.  Returns when the launcher should look again.
 */
static TimestampTz
schedule(TimestampTz now)
{
	Candidate  *cands = palloc(sizeof(Candidate) * EL_SCHED_MAX_DBS * EL_NKINDS);
	int			ncands = 0;
	int			used = 0;
	int			work = 0;
	int			w;
	int			i;
	int			c;
	bool		waiting = false;	/* for the pool */
	bool		waiting_work = false;	/* for compaction's and views' share */
	TimestampTz next = TimestampTzPlusMilliseconds(now, 1000);
	Latch	   *latches[EL_SCHED_MAX_WORKERS];
	int			nlatches = 0;
	int			limit = Min(el_max_maintenance_workers, EL_SCHED_MAX_WORKERS);

	SpinLockAcquire(&el_sched->mutex);
	for (w = 0; w < EL_SCHED_MAX_WORKERS; w++)
	{
		ElSchedWorker *wk = &el_sched->workers[w];

		if (wk->state == EL_W_FREE)
			continue;
		used++;
		if ((wk->state == EL_W_BUSY || wk->state == EL_W_STARTING) &&
			wk->kind != EL_KIND_SEGMENTS)
			work++;
	}
	for (i = 0; i < el_sched->ndbs; i++)
	{
		ElSchedDb  *db = &el_sched->dbs[i];
		int			k;

		if (!OidIsValid(db->dboid) || !db->listed)
			continue;
		if (db->ext == EL_EXT_NO)
		{
			if (db->not_before > now)
			{
				next = Min(next, db->not_before);
				continue;
			}
			db->ext = EL_EXT_UNKNOWN;
			db->due[EL_KIND_SEGMENTS] = now;
		}
		if (db->not_before > now)
		{
			next = Min(next, db->not_before);
			continue;
		}
		for (k = 0; k < EL_NKINDS; k++)
		{
			TimestampTz since;
			Latch	   *l;

			if (db->ext == EL_EXT_UNKNOWN && k != EL_KIND_SEGMENTS)
				continue;
			since = due_since(db, k, now);
			if (since == 0)
			{
				if (k != EL_KIND_VIEWS)
					next = Min(next, db->due[k]);
				else if (db->due[k] != 0)
					next = Min(next, db->due[k]);
				db->waiting_since[k] = 0;
				db->warned[k] = false;
				db->wait_reason[k] = EL_WAIT_NONE;
				continue;
			}
			if (db->running[k] != 0)
				continue;
			l = el_sched_latch_for(i);
			if (l != el_sched->launcher_latch)
			{
				/* a worker of the database is idle (or starting): it takes it */
				if (l != NULL && nlatches < EL_SCHED_MAX_WORKERS)
					latches[nlatches++] = l;
				if (k != EL_KIND_SEGMENTS && work >= el_sched_work_limit())
				{
					db->wait_reason[k] = EL_WAIT_WORK;
					if (db->waiting_since[k] == 0)
						db->waiting_since[k] = now;
					waiting_work = true;
				}
				continue;
			}
			cands[ncands].db = i;
			cands[ncands].kind = k;
			cands[ncands].rank = k != EL_KIND_SEGMENTS ? 2 :
				db->ext == EL_EXT_UNKNOWN ? 1 : 0;
			cands[ncands].since = since;
			ncands++;
		}
	}
	SpinLockRelease(&el_sched->mutex);

	for (i = 0; i < nlatches; i++)
		SetLatch(latches[i]);

	qsort(cands, ncands, sizeof(Candidate), candidate_cmp);
	for (c = 0; c < ncands; c++)
	{
		Candidate  *cd = &cands[c];
		ElSchedDb  *db = &el_sched->dbs[cd->db];
		int			reason = EL_WAIT_NONE;
		Oid			dboid;
		bool		started_here = false;

		SpinLockAcquire(&el_sched->mutex);
		dboid = db->dboid;
		/* an earlier candidate may have started a worker there */
		if (db->dboid == InvalidOid || el_sched_latch_for(cd->db) != el_sched->launcher_latch)
		{
			SpinLockRelease(&el_sched->mutex);
			continue;
		}
		SpinLockRelease(&el_sched->mutex);

		if (used >= limit)
			reason = EL_WAIT_POOL;
		else if (cd->kind != EL_KIND_SEGMENTS && work >= el_sched_work_limit())
			reason = EL_WAIT_WORK;
		else
		{
			for (w = 0; w < EL_SCHED_MAX_WORKERS; w++)
				if (el_sched->workers[w].state == EL_W_FREE && handles[w] == NULL)
					break;
			if (w == EL_SCHED_MAX_WORKERS)
				reason = EL_WAIT_POOL;
			else if (start_worker(w, cd->db, dboid, cd->kind))
			{
				used++;
				if (cd->kind != EL_KIND_SEGMENTS)
					work++;
				started_here = true;
			}
			else
				reason = EL_WAIT_SLOTS;
		}

		SpinLockAcquire(&el_sched->mutex);
		if (db->dboid == dboid)
		{
			if (started_here)
			{
				db->waiting_since[cd->kind] = 0;
				db->wait_reason[cd->kind] = EL_WAIT_NONE;
			}
			else
			{
				bool		warn;
				int			waited;

				if (db->waiting_since[cd->kind] == 0)
					db->waiting_since[cd->kind] = now;
				db->wait_reason[cd->kind] = reason;
				waited = (int) Min((now - db->waiting_since[cd->kind]) / 1000, (int64) INT_MAX);

				/*
				 * Databases taking turns wait a little at each turn: warn
				 * once a wait exceeds the interval and a second (and at
				 * once when the server has no slot at all), once per wait.
				 */
				warn = !db->warned[cd->kind] &&
					(reason == EL_WAIT_SLOTS || waited >= Max(el_maintenance_interval, 1000));
				if (warn)
					db->warned[cd->kind] = true;
				SpinLockRelease(&el_sched->mutex);
				if (warn)
					ereport(WARNING,
							(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
							 errmsg("eventlog %s of database %u has waited %d ms for a maintenance worker",
									kind_what[cd->kind], dboid, waited),
							 errdetail("%s.",
									   reason == EL_WAIT_SLOTS ?
									   "No background worker slot is free: max_worker_processes is reached" :
									   reason == EL_WAIT_WORK ?
									   "The workers that compaction and view maintenance may use (all but one of eventlog.max_maintenance_workers) are busy" :
									   "Every worker of eventlog.max_maintenance_workers is busy"),
							 errhint("%s",
									 reason == EL_WAIT_SLOTS ?
									 "Raise max_worker_processes (a restart is needed), or lower eventlog.max_maintenance_workers." :
									 "Raise eventlog.max_maintenance_workers within max_worker_processes; eventlog.maintenance_status shows what waits.")));
				if (reason == EL_WAIT_WORK)
					waiting_work = true;
				else
					waiting = true;
				continue;
			}
		}
		SpinLockRelease(&el_sched->mutex);
	}
	pfree(cands);

	/*
	 * Work waits for a worker: the workers there are (those running
	 * compaction or views, when only their share is full) leave after their
	 * step, so that the databases take turns.
	 */
	if (waiting || waiting_work)
	{
		nlatches = 0;
		SpinLockAcquire(&el_sched->mutex);
		for (w = 0; w < EL_SCHED_MAX_WORKERS; w++)
		{
			ElSchedWorker *wk = &el_sched->workers[w];

			if ((waiting && wk->state == EL_W_IDLE) ||
				(wk->state == EL_W_BUSY && (waiting || wk->kind != EL_KIND_SEGMENTS)))
			{
				wk->yield = true;
				if (wk->latch)
					latches[nlatches++] = wk->latch;
			}
		}
		SpinLockRelease(&el_sched->mutex);
		for (i = 0; i < nlatches; i++)
			SetLatch(latches[i]);
		next = Min(next, TimestampTzPlusMilliseconds(now, 100));
	}
	return next;
}

void
el_launcher_main(Datum arg)
{
	TimestampTz next_scan = 0;
	int			w;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	/*
	 * After a restart of the launcher alone, workers it started may still
	 * run: their slots stay theirs until they exit (they free them).
	 */
	SpinLockAcquire(&el_sched->mutex);
	el_sched->launcher_latch = MyLatch;
	for (w = 0; w < EL_SCHED_MAX_WORKERS; w++)
		if (el_sched->workers[w].state == EL_W_STARTING)
			release_slot_locked(w, GetCurrentTimestamp());
	SpinLockRelease(&el_sched->mutex);

	if (1 + el_max_maintenance_workers > max_worker_processes / 2)
		ereport(LOG,
				(errmsg("eventlog maintenance may use %d of the %d background worker slots (max_worker_processes)",
						1 + el_max_maintenance_workers, max_worker_processes),
				 errhint("Logical replication and parallel query take their workers from the same slots.")));

	for (;;)
	{
		TimestampTz now;
		TimestampTz next;
		TimestampTz deadline;
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		now = GetCurrentTimestamp();
		reap_workers(now);
		deadline = end_overrun_turns(now);
		next = TimestampTzPlusMilliseconds(now, 1000);
		if (el_maintenance_enabled)
		{
			if (now >= next_scan)
			{
				scan_databases(now);
				next_scan = TimestampTzPlusMilliseconds(now, Max(el_maintenance_interval, 1000));
			}
			next = schedule(now);
		}
		if (deadline != 0)
			next = Min(next, deadline);
		timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(timeout, 10), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ----------------------------------------------------------------
 * A worker
 * ----------------------------------------------------------------
 */
static int	my_slot = -1;
static int	my_db = -1;
static Oid	my_dboid = InvalidOid;

static void
worker_exit(int code, Datum arg)
{
	Latch	   *l;

	SpinLockAcquire(&el_sched->mutex);
	release_slot_locked(my_slot, GetCurrentTimestamp());
	l = el_sched->launcher_latch;
	SpinLockRelease(&el_sched->mutex);
	if (l)
		SetLatch(l);
}

/* view.h's el_view_turn_hook: the launcher watches the turn's length */
static void
turn_hook(const char *schema, const char *name, Oid owner, bool begin)
{
	ElSchedWorker *wk = &el_sched->workers[my_slot];

	SpinLockAcquire(&el_sched->mutex);
	if (begin)
	{
		namestrcpy(&wk->turn_schema, schema);
		namestrcpy(&wk->turn_name, name);
		wk->turn_owner = owner;
		wk->turn_start = GetCurrentTimestamp();
	}
	else
		wk->turn_start = 0;
	SpinLockRelease(&el_sched->mutex);
}

/* the current transaction's database has the extension, else leave */
static void
require_extension(void)
{
	if (OidIsValid(get_extension_oid("pg_eventlog", true)))
	{
		if (el_sched->dbs[my_db].ext != EL_EXT_YES)
		{
			SpinLockAcquire(&el_sched->mutex);
			el_sched->dbs[my_db].ext = EL_EXT_YES;
			SpinLockRelease(&el_sched->mutex);
		}
		return;
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	SpinLockAcquire(&el_sched->mutex);
	el_sched->dbs[my_db].ext = EL_EXT_NO;
	el_sched->dbs[my_db].not_before =
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), EL_RECHECK_MS);
	SpinLockRelease(&el_sched->mutex);
	proc_exit(0);
}

static void
begin_step(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	require_extension();
}

static void
end_step(void)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* Record the view turns that were ended by terminating their worker. */
static void
record_killed_turns(void)
{
	ElKilledTurn killed[EL_SCHED_KILLED];
	int			n;
	int			i;

	if (el_sched->dbs[my_db].nkilled == 0)
		return;
	SpinLockAcquire(&el_sched->mutex);
	n = el_sched->dbs[my_db].nkilled;
	memcpy(killed, el_sched->dbs[my_db].killed, sizeof(ElKilledTurn) * n);
	el_sched->dbs[my_db].nkilled = 0;
	SpinLockRelease(&el_sched->mutex);
	if (n == 0)
		return;
	begin_step();
	for (i = 0; i < n; i++)
	{
		char	   *msg = psprintf("the view's turn was ended after %d ms by terminating its maintenance worker: it ran past eventlog.view_turn_timeout (%d ms)",
								   killed[i].ms, el_view_turn_timeout);

		ereport(WARNING,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("could not maintain materialized view \"%s.%s\": %s",
						NameStr(killed[i].schema), NameStr(killed[i].name), msg),
				 errdetail("The error is recorded in eventlog.views; the view is retried with a back-off.")));
		el_view_record_error(NameStr(killed[i].schema), NameStr(killed[i].name), msg);
	}
	end_step();
}

/*
 * Whether a topic of this database has cleanup_policy compact: a database
 * without one needs no compaction pass every interval (one that gets one
 * is noticed within EL_RECHECK_MS).
 */
static bool
has_compacted_topics(void)
{
	bool		found;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT 1 FROM eventlog.topic_config WHERE cleanup_policy LIKE '%compact%' LIMIT 1",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read eventlog.topic_config");
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

typedef struct Claim
{
	int			kind;			/* -1: nothing */
	bool		all;			/* views: every view */
	List	   *relids;			/* views: topics with commits */
	uint32		created;
} Claim;

/*
 * Under the mutex: take the database's due work this worker may run, and
 * mark it ours.  Segment maintenance first, then whichever of compaction
 * and views waited longer, while compaction and views hold fewer than
 * el_sched_work_limit() workers.
 */
static void
claim_locked(Claim *c, TimestampTz now)
{
	ElSchedDb  *db = &el_sched->dbs[my_db];
	ElSchedWorker *wk = &el_sched->workers[my_slot];
	int			work = 0;
	int			w;
	int			k = -1;

	c->kind = -1;
	if (db->due[EL_KIND_SEGMENTS] <= now && db->running[EL_KIND_SEGMENTS] == 0)
		k = EL_KIND_SEGMENTS;
	else if (db->ext == EL_EXT_YES)
	{
		TimestampTz cs = 0;
		TimestampTz vs = 0;

		for (w = 0; w < EL_SCHED_MAX_WORKERS; w++)
			if (w != my_slot && el_sched->workers[w].state == EL_W_BUSY &&
				el_sched->workers[w].kind != EL_KIND_SEGMENTS)
				work++;
		if (work >= el_sched_work_limit())
			return;
		if (db->running[EL_KIND_COMPACT] == 0)
			cs = due_since(db, EL_KIND_COMPACT, now);
		if (db->running[EL_KIND_VIEWS] == 0)
			vs = due_since(db, EL_KIND_VIEWS, now);
		if (cs != 0 && (vs == 0 || cs <= vs))
			k = EL_KIND_COMPACT;
		else if (vs != 0)
			k = EL_KIND_VIEWS;
	}
	if (k < 0)
		return;
	c->kind = k;
	if (k == EL_KIND_VIEWS)
	{
		int			i;

		c->all = db->views_all;
		db->views_all = false;
		c->relids = NIL;
		for (i = 0; i < db->nwoken; i++)
			c->relids = lappend_oid(c->relids, db->woken[i]);
		db->nwoken = 0;
		if (db->due[k] != 0 && db->due[k] <= now)
		{
			for (i = 0; i < db->ndeferred; i++)
				c->relids = list_append_unique_oid(c->relids, db->deferred[i]);
			c->all |= db->deferred_all;
			db->ndeferred = 0;
			db->deferred_all = false;
			db->due[k] = 0;
		}
		c->created = db->created;
	}
	db->running[k] = my_slot + 1;
	db->last_start[k] = now;
	db->waiting_since[k] = 0;
	db->warned[k] = false;
	db->wait_reason[k] = EL_WAIT_NONE;
	wk->state = EL_W_BUSY;
	wk->kind = k;
	wk->since = now;
}

/* Under the mutex: put topics back among those with commits */
static void
requeue_locked(List *relids, Oid *arr, int *n, bool *all, TimestampTz now,
			   TimestampTz *at)
{
	ListCell   *lc;

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		int			i;

		for (i = 0; i < *n; i++)
			if (arr[i] == relid)
				break;
		if (i < *n)
			continue;
		if (*n == EL_SCHED_WOKEN)
		{
			*all = true;
			break;
		}
		if (at)
			at[*n] = now;
		arr[(*n)++] = relid;
	}
}

static void
run_views(Claim *c)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "eventlog views step",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	List	   *again = NIL;
	List	   *later = NIL;
	int			nviews = 0;
	long		next;
	TimestampTz now;
	ElSchedDb  *db = &el_sched->dbs[my_db];

	pgstat_report_activity(STATE_RUNNING, "eventlog view maintenance");
	next = el_view_pass(c->all, c->relids, el_view_owner_budget, &again, &later, &nviews);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	now = GetCurrentTimestamp();

	SpinLockAcquire(&el_sched->mutex);
	requeue_locked(again, db->woken, &db->nwoken, &db->views_all, now, db->woken_at);
	requeue_locked(later, db->deferred, &db->ndeferred, &db->deferred_all, now, NULL);
	if (next >= 0)
	{
		TimestampTz at = TimestampTzPlusMilliseconds(now, next);

		if (db->due[EL_KIND_VIEWS] == 0 || at < db->due[EL_KIND_VIEWS])
			db->due[EL_KIND_VIEWS] = at;
	}
	if (c->all && nviews == 0 && db->created == c->created && db->ndeferred == 0)
		db->has_views = false;
	SpinLockRelease(&el_sched->mutex);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

void
el_db_worker_main(Datum arg)
{
	ElSchedWorker *wk;

	my_slot = DatumGetInt32(arg);
	wk = &el_sched->workers[my_slot];
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	SpinLockAcquire(&el_sched->mutex);
	if (wk->state != EL_W_STARTING)
	{
		SpinLockRelease(&el_sched->mutex);
		proc_exit(0);
	}
	wk->pid = MyProcPid;
	wk->latch = MyLatch;
	my_db = wk->db;
	my_dboid = wk->dboid;
	SpinLockRelease(&el_sched->mutex);
	on_shmem_exit(worker_exit, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(my_dboid, InvalidOid, 0);
	el_view_turn_hook = turn_hook;

	SpinLockAcquire(&el_sched->mutex);
	wk->state = EL_W_IDLE;
	wk->since = GetCurrentTimestamp();
	SpinLockRelease(&el_sched->mutex);

	for (;;)
	{
		Claim		c;
		TimestampTz now;
		TimestampTz next;
		bool		leave = false;
		int			interval;
		int			k;
		int			w;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!el_maintenance_enabled)
			proc_exit(0);
		record_killed_turns();

		now = GetCurrentTimestamp();
		SpinLockAcquire(&el_sched->mutex);
		if (el_sched->dbs[my_db].dboid != my_dboid)
		{
			SpinLockRelease(&el_sched->mutex);
			proc_exit(0);
		}
		claim_locked(&c, now);
		SpinLockRelease(&el_sched->mutex);

		interval = el_maintenance_interval;
		if (c.kind == EL_KIND_SEGMENTS || c.kind == EL_KIND_COMPACT)
		{
			begin_step();
			pgstat_report_activity(STATE_RUNNING, c.kind == EL_KIND_SEGMENTS ?
								   "eventlog maintenance pass" :
								   "eventlog compaction pass");
			if (c.kind == EL_KIND_SEGMENTS)
				(void) el_maintenance_pass(EL_MAINT_SEGMENTS);
			else if (has_compacted_topics())
				(void) el_maintenance_pass(EL_MAINT_COMPACT);
			else
				interval = Max(interval, EL_RECHECK_MS);
			end_step();
		}
		else if (c.kind == EL_KIND_VIEWS)
			run_views(&c);

		now = GetCurrentTimestamp();
		SpinLockAcquire(&el_sched->mutex);
		if (c.kind >= 0)
		{
			ElSchedDb  *db = &el_sched->dbs[my_db];

			db->running[c.kind] = 0;
			db->last_end[c.kind] = now;
			if (c.kind != EL_KIND_VIEWS)
				db->due[c.kind] = TimestampTzPlusMilliseconds(now, interval);
			wk->state = EL_W_IDLE;
			wk->since = now;
		}

		/*
		 * Leave when another database waits for a worker, when another
		 * worker of this database is idle too, or when nothing is due
		 * here for a while.
		 */
		next = 0;
		if (wk->yield)
			leave = true;
		for (w = 0; w < EL_SCHED_MAX_WORKERS && !leave; w++)
			if (w != my_slot && el_sched->workers[w].db == my_db &&
				el_sched->workers[w].dboid == my_dboid &&
				el_sched->workers[w].state == EL_W_IDLE && w < my_slot)
				leave = true;
		if (!leave && c.kind < 0)
		{
			ElSchedDb  *db = &el_sched->dbs[my_db];
			TimestampTz due[EL_NKINDS + 1];
			bool		blocked = false;

			/* due work we could not take is another worker's, or waits */
			next = DT_NOEND;
			due[0] = db->due[EL_KIND_SEGMENTS];
			due[1] = db->ext == EL_EXT_YES ? db->due[EL_KIND_COMPACT] : DT_NOEND;
			due[2] = db->ext == EL_EXT_YES && db->due[EL_KIND_VIEWS] != 0 ?
				db->due[EL_KIND_VIEWS] : DT_NOEND;
			due[3] = db->ext == EL_EXT_YES && el_sched_views_due(db, now) ? now : DT_NOEND;
			for (k = 0; k <= EL_NKINDS; k++)
			{
				if (due[k] <= now)
					blocked = true;
				else
					next = Min(next, due[k]);
			}
			if (!blocked && next > TimestampTzPlusMilliseconds(now, EL_LINGER_MS))
				leave = true;
		}
		SpinLockRelease(&el_sched->mutex);
		if (leave)
			proc_exit(0);
		if (c.kind >= 0)
			continue;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(Min(TimestampDifferenceMilliseconds(now, next), 1000), 10),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * DROP DATABASE, ALTER DATABASE ... RENAME and CREATE DATABASE ... TEMPLATE
 * refuse to run while other sessions are connected to the database: the
 * hook that sees one (hooks.c) stops our workers there first, and keeps
 * the launcher from starting one there for EL_RECHECK_MS, by when the
 * statement is long done.
 */
void
el_stop_db_worker(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	int			w;
	int			d;
	pid_t		pids[EL_SCHED_MAX_WORKERS];
	int			n = 0;

	if (!OidIsValid(dboid) || el_sched == NULL)
		return;
	SpinLockAcquire(&el_sched->mutex);
	d = el_sched_find_db(dboid);
	if (d >= 0)
		el_sched->dbs[d].not_before =
			TimestampTzPlusMilliseconds(GetCurrentTimestamp(), EL_RECHECK_MS);
	for (w = 0; w < EL_SCHED_MAX_WORKERS; w++)
		if (el_sched->workers[w].state != EL_W_FREE &&
			el_sched->workers[w].dboid == dboid && el_sched->workers[w].pid != 0)
		{
			/* a view's turn ended so is not the view's fault */
			el_sched->workers[w].turn_start = 0;
			pids[n++] = el_sched->workers[w].pid;
		}
	SpinLockRelease(&el_sched->mutex);
	for (w = 0; w < n; w++)
		(void) kill(pids[w], SIGTERM);
}
