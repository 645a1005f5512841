/*
 * worker.c
 *		The maintenance background workers: one launcher per server and one
 *		worker per database that has the extension.
 *
 * Discovery (as PostgreSQL's logical replication launcher does for
 * subscriptions, and TimescaleDB's launcher for its schedulers): the
 * launcher connects to no database (it can read shared catalogs only),
 * scans pg_database every eventlog.maintenance_interval and starts a
 * dynamic worker for each database that accepts connections and has none
 * running.  A database worker looks for the extension in its database: if
 * it is not there it exits, and the launcher tries that database again
 * after EL_RECHECK_MS (so CREATE EXTENSION is noticed within ten seconds);
 * otherwise it runs a maintenance pass (retention.c) every interval in a
 * transaction of its own.  Errors of one topic are logged and the topic is
 * retried next pass; a worker that dies is started again by the launcher,
 * and the launcher itself is restarted by the postmaster after a crash.
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
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/backend_status.h"
#include "utils/timestamp.h"

#include "eventlog/maint.h"
#include "eventlog/view.h"

bool		el_maintenance_enabled = true;
int			el_maintenance_interval = 1000;

#define EL_RECHECK_MS	10000	/* a database without the extension */
#define EL_MAX_DBS		256

PGDLLEXPORT void el_launcher_main(Datum arg);
PGDLLEXPORT void el_db_worker_main(Datum arg);

typedef struct DbWorker
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
	TimestampTz stopped_at;		/* when we saw it stopped (0: never) */
} DbWorker;

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
 * The handle outlives the launcher's transaction that scans pg_database:
 * it is allocated in TopMemoryContext (RegisterDynamicBackgroundWorker
 * allocates in the current context, which that transaction's commit
 * frees).
 */
static bool
start_db_worker(DbWorker *w)
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
	snprintf(bgw.bgw_name, BGW_MAXLEN, "pg_eventlog maintenance %u", w->dboid);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "pg_eventlog maintenance");
	bgw.bgw_main_arg = ObjectIdGetDatum(w->dboid);
	bgw.bgw_notify_pid = MyProcPid;
	if (w->handle != NULL)
		pfree(w->handle);
	w->handle = NULL;
	old = MemoryContextSwitchTo(TopMemoryContext);
	started = RegisterDynamicBackgroundWorker(&bgw, &w->handle);
	MemoryContextSwitchTo(old);
	return started;
}

void
el_launcher_main(Datum arg)
{
	DbWorker   *workers = MemoryContextAllocZero(TopMemoryContext,
												 sizeof(DbWorker) * EL_MAX_DBS);
	int			nworkers = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	for (;;)
	{
		Relation	rel;
		TableScanDesc scan;
		HeapTuple	tup;
		TimestampTz now = GetCurrentTimestamp();
		int			i;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (el_maintenance_enabled)
		{
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			rel = table_open(DatabaseRelationId, AccessShareLock);
			scan = table_beginscan_catalog(rel, 0, NULL);
			while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
			{
				Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
				DbWorker   *w = NULL;
				pid_t		pid;

				if (!db->datallowconn || db->datconnlimit == DATCONNLIMIT_INVALID_DB)
					continue;
				for (i = 0; i < nworkers; i++)
					if (workers[i].dboid == db->oid)
						w = &workers[i];
				if (w == NULL)
				{
					if (nworkers == EL_MAX_DBS)
						continue;
					w = &workers[nworkers++];
					w->dboid = db->oid;
				}
				if (w->handle != NULL &&
					GetBackgroundWorkerPid(w->handle, &pid) != BGWH_STOPPED)
					continue;
				if (w->handle != NULL && w->stopped_at == 0)
					w->stopped_at = now;
				if (w->stopped_at != 0 &&
					!TimestampDifferenceExceeds(w->stopped_at, now, EL_RECHECK_MS))
					continue;
				if (start_db_worker(w))
					w->stopped_at = 0;
			}
			table_endscan(scan);
			table_close(rel, AccessShareLock);
			PopActiveSnapshot();
			CommitTransactionCommand();
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(el_maintenance_interval, 100), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

void
el_db_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	TimestampTz next_maint = 0;
	TimestampTz views_due = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	/* producers' commits in this database set our latch (view.h) */
	el_view_worker_attach();

	for (;;)
	{
		TimestampTz now;
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!el_maintenance_enabled)
			proc_exit(0);

		now = GetCurrentTimestamp();
		if (now >= next_maint)
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			if (!OidIsValid(get_extension_oid("pg_eventlog", true)))
			{
				PopActiveSnapshot();
				CommitTransactionCommand();
				proc_exit(0);
			}
			pgstat_report_activity(STATE_RUNNING, "eventlog maintenance pass");
			(void) el_maintenance_pass();
			PopActiveSnapshot();
			CommitTransactionCommand();
			pgstat_report_stat(false);
			pgstat_report_activity(STATE_IDLE, NULL);
			next_maint = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													 el_maintenance_interval);
			views_due = 0;		/* a tick also looks at every view */
		}

		/*
		 * Materialized views: at once after a commit on a topic of this
		 * database, at a tick, or when a view's back-off or a busy view
		 * asked to be looked at again.
		 */
		if (el_view_take_wakeup() || (views_due != 0 && GetCurrentTimestamp() >= views_due) ||
			views_due == 0)
		{
			long		again;

			pgstat_report_activity(STATE_RUNNING, "eventlog view maintenance");
			again = el_view_pass();
			pgstat_report_stat(false);
			pgstat_report_activity(STATE_IDLE, NULL);
			views_due = again < 0 ? DT_NOEND :
				TimestampTzPlusMilliseconds(GetCurrentTimestamp(), again);
		}

		now = GetCurrentTimestamp();
		timeout = TimestampDifferenceMilliseconds(now, next_maint);
		if (views_due != DT_NOEND)
			timeout = Min(timeout, TimestampDifferenceMilliseconds(now, views_due));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(timeout, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * DROP DATABASE, ALTER DATABASE ... RENAME and CREATE DATABASE ... TEMPLATE
 * refuse to run while other sessions are connected to the database: the
 * hook that sees one (hooks.c) stops our worker there first.  The launcher
 * starts it again no sooner than EL_RECHECK_MS later, by when the statement
 * is long done.
 */
void
el_stop_db_worker(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	int			n;
	int			i;

	if (!OidIsValid(dboid))
		return;
	n = pgstat_fetch_stat_numbackends();
	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *l = pgstat_fetch_stat_local_beentry(i);
		const char *type;

		if (l == NULL || l->backendStatus.st_databaseid != dboid ||
			l->backendStatus.st_backendType != B_BG_WORKER)
			continue;
		type = GetBackgroundWorkerTypeByPid(l->backendStatus.st_procpid);
		if (type && strcmp(type, "pg_eventlog maintenance") == 0)
			(void) kill(l->backendStatus.st_procpid, SIGTERM);
	}
	pgstat_clear_backend_activity_snapshot();
}
