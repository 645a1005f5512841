/*
 * sched.c
 *		The maintenance scheduler's shared state (sched.h): its shared
 *		memory, the wake-ups that producers' commits and view turns post to
 *		it, and eventlog.maintenance_status().  The launcher and the
 *		workers that act on it are in worker.c.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "eventlog/maint.h"
#include "eventlog/notify.h"
#include "eventlog/sched.h"
#include "eventlog/view.h"

ElSched    *el_sched = NULL;

int			el_max_maintenance_workers = 2;
int			el_view_owner_budget = 1000;

/* this backend's entry in dbs (a guess: checked against dboid) */
static int	my_db = -1;

Size
el_sched_shmem_size(void)
{
	return sizeof(ElSched);
}

void
el_sched_shmem_init(void)
{
	bool		found;

	el_sched = ShmemInitStruct("pg_eventlog maintenance scheduler", sizeof(ElSched), &found);
	if (!found)
	{
		memset(el_sched, 0, sizeof(ElSched));
		SpinLockInit(&el_sched->mutex);
	}
}

/*
 * Workers that compaction and view maintenance may hold at once: all but
 * one of the pool, which is kept for segment maintenance (with a pool of
 * one, that one worker does everything).
 */
int
el_sched_work_limit(void)
{
	return Max(el_max_maintenance_workers - 1, 1);
}

/* Under the mutex.  Returns the index of dboid's entry, or -1. */
int
el_sched_find_db(Oid dboid)
{
	int			i;

	for (i = 0; i < el_sched->ndbs; i++)
		if (el_sched->dbs[i].dboid == dboid)
			return i;
	return -1;
}

/*
 * Under the mutex: the entry of a database the launcher found, new ones
 * due at once and looking at every view at first (commits made before it
 * existed were not noted).  -1 when the table is full.
 */
int
el_sched_add_db(Oid dboid, TimestampTz now)
{
	int			i = el_sched_find_db(dboid);
	ElSchedDb  *db;

	if (i >= 0)
		return i;
	for (i = 0; i < el_sched->ndbs; i++)
		if (!OidIsValid(el_sched->dbs[i].dboid))
			break;
	if (i == EL_SCHED_MAX_DBS)
		return -1;
	if (i == el_sched->ndbs)
		el_sched->ndbs++;
	db = &el_sched->dbs[i];
	memset(db, 0, sizeof(ElSchedDb));
	db->dboid = dboid;
	db->listed = true;
	db->ext = EL_EXT_UNKNOWN;
	db->due[EL_KIND_SEGMENTS] = now;
	db->due[EL_KIND_COMPACT] = now;
	db->has_views = true;
	db->views_all = true;
	return i;
}

/* Under the mutex: whether view maintenance of db is due at now. */
bool
el_sched_views_due(ElSchedDb *db, TimestampTz now)
{
	if (!db->has_views)
		return false;
	return db->views_all || db->nwoken > 0 ||
		(db->due[EL_KIND_VIEWS] != 0 && db->due[EL_KIND_VIEWS] <= now);
}

/*
 * Under the mutex: the latch to set for new work in database entry i: an
 * idle worker's there, NULL if one is starting (it looks when it starts),
 * else the launcher's, which starts one.
 */
Latch *
el_sched_latch_for(int i)
{
	int			w;

	for (w = 0; w < EL_SCHED_MAX_WORKERS; w++)
	{
		ElSchedWorker *wk = &el_sched->workers[w];

		if (wk->db == i && wk->dboid == el_sched->dbs[i].dboid &&
			(wk->state == EL_W_IDLE || wk->state == EL_W_STARTING) && !wk->yield)
			return wk->latch;
	}
	return el_sched->launcher_latch;
}

/*
 * A transaction that produced to these topics settled (notify.c, at commit
 * or abort: an abort lets a view go past records it stopped at), or a
 * create_view committed: wake view maintenance of those topics.  Nothing
 * when the database has no view.
 */
static void
topics_settled(List *relids, bool view_created)
{
	ElSchedDb  *db;
	ListCell   *lc;
	Latch	   *latch = NULL;
	TimestampTz now;

	if (el_sched == NULL || !OidIsValid(MyDatabaseId))
		return;
	if (my_db < 0 || my_db >= EL_SCHED_MAX_DBS ||
		el_sched->dbs[my_db].dboid != MyDatabaseId)
	{
		SpinLockAcquire(&el_sched->mutex);
		my_db = el_sched_find_db(MyDatabaseId);
		SpinLockRelease(&el_sched->mutex);
		if (my_db < 0)
			return;				/* the launcher's entry will look at all */
	}
	db = &el_sched->dbs[my_db];
	if (!view_created && !db->has_views)
		return;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&el_sched->mutex);
	if (db->dboid == MyDatabaseId)
	{
		if (view_created)
		{
			db->created++;
			db->has_views = true;
			db->views_all = true;
		}
		foreach(lc, relids)
		{
			Oid			relid = lfirst_oid(lc);
			int			i;

			for (i = 0; i < db->nwoken; i++)
				if (db->woken[i] == relid)
					break;
			if (i < db->nwoken)
				continue;
			if (db->nwoken == EL_SCHED_WOKEN)
			{
				db->views_all = true;
				break;
			}
			db->woken[db->nwoken] = relid;
			db->woken_at[db->nwoken++] = now;
		}
		latch = el_sched_latch_for(my_db);
	}
	SpinLockRelease(&el_sched->mutex);
	if (latch)
		SetLatch(latch);
}

void
el_sched_register_hooks(void)
{
	el_topics_settled_hook = topics_settled;
}

static const char *const kind_names[EL_NKINDS] = {"segments", "compaction", "views"};

static const char *
wait_text(int reason)
{
	switch (reason)
	{
		case EL_WAIT_POOL:
			return "every worker of eventlog.max_maintenance_workers is busy";
		case EL_WAIT_WORK:
			return "the workers compaction and views may use (all but one of eventlog.max_maintenance_workers) are busy";
		case EL_WAIT_SLOTS:
			return "no background worker slot is free (max_worker_processes)";
		case EL_WAIT_TABLE:
			return "more databases than the scheduler holds";
		default:
			return "due, a worker is taking it";
	}
}

static Datum
ts_or_null(TimestampTz t, bool *isnull)
{
	*isnull = (t == 0);
	return TimestampTzGetDatum(t);
}

/*
 * eventlog.maintenance_status(): per database and kind of maintenance
 * (topic NULL) when it last started and ended, the worker running it, and
 * since when and why it waits; for the current database also one row per
 * topic whose commits its views have not seen yet.
 */
PG_FUNCTION_INFO_V1(eventlog_maintenance_status);
Datum
eventlog_maintenance_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ElSched    *copy;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (el_sched == NULL)
		return (Datum) 0;
	copy = palloc(sizeof(ElSched));
	SpinLockAcquire(&el_sched->mutex);
	copy->ndbs = el_sched->ndbs;
	memcpy(copy->workers, el_sched->workers, sizeof(el_sched->workers));
	memcpy(copy->dbs, el_sched->dbs, sizeof(ElSchedDb) * copy->ndbs);
	SpinLockRelease(&el_sched->mutex);

	for (i = 0; i < copy->ndbs; i++)
	{
		ElSchedDb  *db = &copy->dbs[i];
		char	   *dbname;
		int			k;

		if (!OidIsValid(db->dboid) || db->ext == EL_EXT_NO)
			continue;
		dbname = get_database_name(db->dboid);
		if (dbname == NULL)
			continue;
		for (k = 0; k < EL_NKINDS; k++)
		{
			Datum		values[8];
			bool		nulls[8] = {false};
			bool		due;
			int			run = db->running[k];

			if (k == EL_KIND_VIEWS)
				due = el_sched_views_due(db, now);
			else
				due = db->ext == EL_EXT_YES && db->due[k] <= now;
			values[0] = CStringGetTextDatum(dbname);
			nulls[1] = true;
			values[2] = CStringGetTextDatum(kind_names[k]);
			values[3] = ts_or_null(db->last_start[k], &nulls[3]);
			values[4] = ts_or_null(db->last_end[k], &nulls[4]);
			nulls[5] = run == 0;
			values[5] = Int32GetDatum(run ? copy->workers[run - 1].pid : 0);
			if (run == 0 && due)
			{
				TimestampTz since = db->waiting_since[k];

				if (since == 0 && k != EL_KIND_VIEWS)
					since = db->due[k];
				values[6] = ts_or_null(since, &nulls[6]);
				values[7] = CStringGetTextDatum(wait_text(db->wait_reason[k]));
			}
			else
				nulls[6] = nulls[7] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		if (db->dboid != MyDatabaseId)
			continue;
		for (k = 0; k < db->nwoken + db->ndeferred; k++)
		{
			Datum		values[8];
			bool		nulls[8] = {false, false, false, true, true, true, false, false};
			bool		deferred = k >= db->nwoken;
			Oid			relid = deferred ? db->deferred[k - db->nwoken] : db->woken[k];
			char	   *topic = get_rel_name(relid);

			if (topic == NULL)
				continue;
			values[0] = CStringGetTextDatum(dbname);
			values[1] = CStringGetTextDatum(topic);
			values[2] = CStringGetTextDatum("views");
			if (deferred)
			{
				values[6] = ts_or_null(db->due[EL_KIND_VIEWS], &nulls[6]);
				values[7] = CStringGetTextDatum("a view of the topic is held by another session: looked at again at that time");
			}
			else
			{
				values[6] = TimestampTzGetDatum(db->woken_at[k]);
				values[7] = CStringGetTextDatum(db->running[EL_KIND_VIEWS] ?
												"commits not yet applied: the worker's pass takes them next" :
												"commits not yet applied");
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	pfree(copy);
	return (Datum) 0;
}
