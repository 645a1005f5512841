/*
 * stats.c
 *		Statistics per topic from shared-memory counters, like
 *		pg_stat_statements: records and bytes produced (produce(),
 *		INSERT, COPY) and fetched (fetch(), poll()) since the last reset,
 *		behind the eventlog.stats view, and eventlog.reset_stats().
 *
 * The hot path only adds to backend-local counters (one small array,
 * searched from the topic used last); they are added to the shared
 * entries (atomics under a shared LWLock) when the transaction ends, or
 * earlier once many records are pending.  The shared table is a fixed-
 * size hash keyed by (database, topic relation) with
 * eventlog.max_stats_topics entries; a topic that finds it full is
 * counted in an overflow row instead (topic NULL; shown to members of
 * pg_read_all_stats).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "eventlog/fetch.h"
#include "eventlog/quota.h"
#include "eventlog/stats.h"

int			el_max_stats_topics = 1000;

typedef struct ElStatsKey
{
	Oid			dbid;
	Oid			relid;
} ElStatsKey;

#define EL_NCOUNTERS 4			/* produced records, bytes; fetched records, bytes */

typedef struct ElStatsEntry
{
	ElStatsKey	key;
	pg_atomic_uint64 c[EL_NCOUNTERS];
	pg_atomic_uint64 reset_at;	/* TimestampTz of the entry's last reset */
} ElStatsEntry;

typedef struct ElStatsShared
{
	LWLock	   *lock;			/* shared: add; exclusive: enter, remove */
	pg_atomic_uint64 overflow[EL_NCOUNTERS];
} ElStatsShared;

static ElStatsShared *stats_shared = NULL;
static HTAB *stats_hash = NULL;

/* backend-local pending counts */
#define EL_LOCAL_TOPICS 16
#define EL_FLUSH_RECORDS 10000
typedef struct ElLocalStats
{
	Oid			relid;
	int64		c[EL_NCOUNTERS];
} ElLocalStats;

static ElLocalStats local_stats[EL_LOCAL_TOPICS];
static int	nlocal = 0;
static int	last_local = 0;
static int64 local_records = 0;

Size
el_stats_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(ElStatsShared)),
					hash_estimate_size(el_max_stats_topics, sizeof(ElStatsEntry)));
}

void
el_stats_shmem_request(void)
{
	RequestAddinShmemSpace(el_stats_shmem_size());
	RequestNamedLWLockTranche("pg_eventlog stats", 1);
}

void
el_stats_shmem_init(void)
{
	bool		found;
	HASHCTL		info;
	int			i;

	stats_shared = ShmemInitStruct("pg_eventlog stats", sizeof(ElStatsShared), &found);
	if (!found)
	{
		stats_shared->lock = &(GetNamedLWLockTranche("pg_eventlog stats"))->lock;
		for (i = 0; i < EL_NCOUNTERS; i++)
			pg_atomic_init_u64(&stats_shared->overflow[i], 0);
	}
	info.keysize = sizeof(ElStatsKey);
	info.entrysize = sizeof(ElStatsEntry);
	stats_hash = ShmemInitHash("pg_eventlog stats hash",
							   el_max_stats_topics, el_max_stats_topics,
							   &info, HASH_ELEM | HASH_BLOBS);
}

/* Add the local counts to the shared entries.  Never throws. */
static void
flush_local(void)
{
	int			i,
				k;

	if (nlocal == 0 || stats_hash == NULL)
		return;
	for (i = 0; i < nlocal; i++)
	{
		ElLocalStats *l = &local_stats[i];
		ElStatsKey	key;
		ElStatsEntry *e;
		pg_atomic_uint64 *c;

		key.dbid = MyDatabaseId;
		key.relid = l->relid;
		LWLockAcquire(stats_shared->lock, LW_SHARED);
		e = hash_search(stats_hash, &key, HASH_FIND, NULL);
		if (e == NULL)
		{
			bool		found;

			LWLockRelease(stats_shared->lock);
			LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
			e = hash_search(stats_hash, &key, HASH_ENTER_NULL, &found);
			if (e && !found)
			{
				for (k = 0; k < EL_NCOUNTERS; k++)
					pg_atomic_init_u64(&e->c[k], 0);
				pg_atomic_init_u64(&e->reset_at, (uint64) GetCurrentTimestamp());
			}
		}
		c = e ? e->c : stats_shared->overflow;
		for (k = 0; k < EL_NCOUNTERS; k++)
			if (l->c[k] != 0)
				pg_atomic_fetch_add_u64(&c[k], l->c[k]);
		LWLockRelease(stats_shared->lock);
	}
	nlocal = 0;
	last_local = 0;
	local_records = 0;
}

static void
count(Oid relid, int which, int64 records, int64 bytes)
{
	ElLocalStats *l = NULL;

	if (last_local < nlocal && local_stats[last_local].relid == relid)
		l = &local_stats[last_local];
	else
	{
		int			i;

		for (i = 0; i < nlocal; i++)
			if (local_stats[i].relid == relid)
			{
				l = &local_stats[i];
				last_local = i;
				break;
			}
		if (l == NULL)
		{
			if (nlocal == EL_LOCAL_TOPICS)
				flush_local();
			l = &local_stats[nlocal];
			memset(l, 0, sizeof(*l));
			l->relid = relid;
			last_local = nlocal++;
		}
	}
	l->c[which] += records;
	l->c[which + 1] += bytes;
	local_records += records;
	if (local_records >= EL_FLUSH_RECORDS)
		flush_local();
}

void
el_stats_produced(Oid topic_relid, int64 records, int64 bytes)
{
	count(topic_relid, 0, records, bytes);
	el_quota_charge(EL_QUOTA_PRODUCE, bytes);
}

void
el_stats_fetched(Oid topic_relid, int64 records, int64 bytes)
{
	count(topic_relid, 2, records, bytes);
	el_quota_charge(EL_QUOTA_FETCH, bytes);
}

static void
stats_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			flush_local();
			break;
		default:
			break;
	}
}

void
el_stats_register_callbacks(void)
{
	RegisterXactCallback(stats_xact_callback, NULL);
}

/*
 * eventlog.topic_stats(): this database's entries, for topics the current
 * role may read (or all with pg_read_all_stats), behind eventlog.stats.
 * This backend's pending counts are added first.
 */
PG_FUNCTION_INFO_V1(eventlog_topic_stats);
Datum
eventlog_topic_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	ElStatsEntry *e;
	int			n = 0,
				i,
				k;
	ElStatsEntry *copy;

	InitMaterializedSRF(fcinfo, 0);
	flush_local();
	copy = palloc(sizeof(ElStatsEntry) * (el_max_stats_topics + 1));
	LWLockAcquire(stats_shared->lock, LW_SHARED);
	hash_seq_init(&seq, stats_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->key.dbid == MyDatabaseId && n < el_max_stats_topics)
			copy[n++] = *e;
	LWLockRelease(stats_shared->lock);

	for (i = 0; i < n; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};
		char	   *name = get_rel_name(copy[i].key.relid);

		/* a dropped topic's entry is gone with it */
		if (name == NULL || !el_may_see_topic_stats(copy[i].key.relid))
			continue;
		values[0] = CStringGetTextDatum(name);
		for (k = 0; k < EL_NCOUNTERS; k++)
			values[1 + k] = Int64GetDatum((int64) pg_atomic_read_u64(&copy[i].c[k]));
		values[5] = TimestampTzGetDatum((TimestampTz) pg_atomic_read_u64(&copy[i].reset_at));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	if (pg_atomic_read_u64(&stats_shared->overflow[0]) +
		pg_atomic_read_u64(&stats_shared->overflow[2]) > 0 &&
		has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
	{
		Datum		values[6];
		bool		nulls[6] = {true, false, false, false, false, true};

		for (k = 0; k < EL_NCOUNTERS; k++)
			values[1 + k] = Int64GetDatum((int64) pg_atomic_read_u64(&stats_shared->overflow[k]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * eventlog.reset_stats(topic regclass DEFAULT NULL): zero one topic's
 * counters, or those of every topic of this database (and of dropped
 * topics).  Superuser unless granted (like pg_stat_statements_reset()).
 */
PG_FUNCTION_INFO_V1(eventlog_reset_stats);
Datum
eventlog_reset_stats(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	HASH_SEQ_STATUS seq;
	ElStatsEntry *e;
	int64		n = 0;
	int			k;

	flush_local();
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, stats_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->key.dbid != MyDatabaseId ||
			(OidIsValid(relid) && e->key.relid != relid))
			continue;
		hash_search(stats_hash, &e->key, HASH_REMOVE, NULL);
		n++;
	}
	if (!OidIsValid(relid))
		for (k = 0; k < EL_NCOUNTERS; k++)
			pg_atomic_write_u64(&stats_shared->overflow[k], 0);
	LWLockRelease(stats_shared->lock);
	PG_RETURN_INT64(n);
}
