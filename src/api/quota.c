/*
 * quota.c
 *		Per-role quotas on produced and fetched bytes per second, as
 *		Kafka's client quotas: eventlog.set_quota(), set_default_quota(),
 *		the eventlog.quotas view.
 *
 * Which role: the session user (the role that logged in, or the one set
 * by SET SESSION AUTHORIZATION).  Neither SET ROLE nor a SECURITY DEFINER
 * function moves the charge, so a quota cannot be escaped through a
 * wrapper; a role's own row in eventlog.quota applies, else the default
 * row (role 0, not for superusers, so that pg_restore and other
 * administration are not throttled), else none: memberships play no part.
 *
 * Each limited (database, role) has a token bucket in a fixed-size shared
 * hash (eventlog.max_quota_roles entries), keyed as the configuration is
 * (eventlog.quota is per database), shared by the role's backends in that
 * database: it refills at
 * the configured rate up to one second's worth (the burst), bytes are
 * taken from it as they are used (a record appended, a batch read: stored
 * record bytes), and it may go into debt.  A call that starts while the
 * bucket is in debt waits until the debt is paid, at most
 * eventlog.quota_max_delay (a longer debt is forgiven, so one big
 * statement is not punished for minutes).  The wait is a WaitLatch loop
 * with CHECK_FOR_INTERRUPTS (cancel and statement_timeout work), taken at
 * the start of a call only: never with a buffer lock, an LWLock or during
 * commit.  A fetch or poll then reads at most what the bucket holds (at
 * least a tenth of a second's worth), so a throttled read returns a
 * shorter batch rather than holding a scan open.
 *
 * Only client backends are throttled: background workers (the
 * extension's own, logical replication workers), walsenders and
 * autovacuum never are, with one exception: while a materialized view's
 * batch is read and applied (viewapply.c), the bytes are the view owner's
 * (el_quota_act_for()), in the worker as in a session calling
 * refresh_view: charged to the owner's bucket, and a view whose owner is
 * in debt waits (a session) or is put off (the worker, which never sleeps
 * for a quota: el_quota_debt_ms()).
 *
 * Buckets are freed when a change of the configuration commits and leaves
 * a bucket's role without a limit in its database, when the role is
 * dropped, and, when the hash is full, for roles or databases that no
 * longer exist.
 *
 * The configuration is read from eventlog.quota by each backend when its
 * cached copy is stale: set_quota() bumps a shared generation counter when
 * its transaction commits.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "replication/walsender.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "eventlog/quota.h"
#include "eventlog/topic.h"

int			el_max_quota_roles = 256;
int			el_quota_max_delay_ms = 5000;

#define EL_QUOTA_WINDOW 8		/* seconds kept for the observed rates */
#define EL_QUOTA_OBSERVE 5		/* complete seconds they average */

typedef struct ElQuotaKey
{
	Oid			dbid;
	Oid			roleid;
} ElQuotaKey;

typedef struct ElQuotaBucket
{
	ElQuotaKey	key;			/* hash key */
	slock_t		mutex;
	int64		rate[2];		/* bytes/s as last loaded; <= 0: none */
	double		tokens[2];
	TimestampTz last[2];
	uint64		total[2];
	uint64		throttled_us[2];
	int64		ring_sec[EL_QUOTA_WINDOW];
	uint64		ring[2][EL_QUOTA_WINDOW];
} ElQuotaBucket;

typedef struct ElQuotaShared
{
	LWLock	   *lock;			/* guards the hash's entries */
	pg_atomic_uint64 generation;
} ElQuotaShared;

static ElQuotaShared *quota_shared = NULL;
static HTAB *quota_hash = NULL;

/*
 * This backend's cached configuration.  No pointer into the shared hash is
 * kept: buckets are looked up under the shared lock, so that one freed by
 * another backend is never written to.
 */
static bool q_valid = false;
static uint64 q_generation = 0;
static Oid	q_role = InvalidOid;
static int64 q_rate[2] = {0, 0};
static bool q_bump_at_commit = false;
static bool q_full_warned = false;

/* el_quota_act_for(): the role whose bytes these are, and its rates */
static Oid	q_act_role = InvalidOid;
static int64 q_act_rate[2] = {0, 0};
static SubTransactionId q_act_subid = InvalidSubTransactionId;

/* buckets to free when this transaction commits */
static List *q_free_keys = NIL;	/* of ElQuotaKey *, in TopMemoryContext */
static List *q_free_roles = NIL;	/* of Oid: dropped roles, every database */

Size
el_quota_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(ElQuotaShared)),
					hash_estimate_size(el_max_quota_roles, sizeof(ElQuotaBucket)));
}

void
el_quota_shmem_request(void)
{
	RequestAddinShmemSpace(el_quota_shmem_size());
	RequestNamedLWLockTranche("pg_eventlog quotas", 1);
}

void
el_quota_shmem_init(void)
{
	bool		found;
	HASHCTL		info;

	quota_shared = ShmemInitStruct("pg_eventlog quotas", sizeof(ElQuotaShared), &found);
	if (!found)
	{
		quota_shared->lock = &(GetNamedLWLockTranche("pg_eventlog quotas"))->lock;
		pg_atomic_init_u64(&quota_shared->generation, 1);
	}
	info.keysize = sizeof(ElQuotaKey);
	info.entrysize = sizeof(ElQuotaBucket);
	quota_hash = ShmemInitHash("pg_eventlog quota hash",
							   el_max_quota_roles, el_max_quota_roles,
							   &info, HASH_ELEM | HASH_BLOBS);
}

/* Is this process ever throttled?  Client backends only. */
static inline bool
throttle_applies(void)
{
	return MyBackendType == B_BACKEND && !am_walsender && !IsBackgroundWorker &&
		quota_hash != NULL;
}

/*
 * Is this process charged for the session user's bytes?  Client backends,
 * and the parallel workers of a query of theirs (a parallel scan of a
 * topic reads in workers; the session user is the leader's): charged, but
 * only the leader waits.
 */
static inline bool
charge_applies(void)
{
	return quota_hash != NULL &&
		((MyBackendType == B_BACKEND && !am_walsender && !IsBackgroundWorker) ||
		 IsParallelWorker());
}

/* The quota table's relation, if the extension is there */
static Oid
quota_relid(void)
{
	Oid			nsp = get_namespace_oid("eventlog", true);

	return OidIsValid(nsp) ? get_relname_relid("quota", nsp) : InvalidOid;
}

/*
 * Read the rates that apply to role: its own row, else the default row
 * (role 0).  A NULL rate is no limit (0 here).
 */
static void
read_rates(Oid role, int64 *rates, bool *own)
{
	Oid			relid = quota_relid();
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Snapshot	snap;
	bool		found_default = false;
	int64		dflt[2] = {0, 0};

	rates[0] = rates[1] = 0;
	*own = false;
	if (!OidIsValid(relid))
		return;
	rel = table_open(relid, AccessShareLock);
	/* in a parallel query (a parallel scan's workers) the query's own */
	snap = RegisterSnapshot(IsInParallelMode() && ActiveSnapshotSet() ?
							GetActiveSnapshot() : GetLatestSnapshot());
	scan = table_beginscan(rel, snap, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Datum		v[3];
		bool		n[3];
		Oid			r;
		int64	   *dst;

		heap_deform_tuple(tup, RelationGetDescr(rel), v, n);
		r = DatumGetObjectId(v[0]);
		if (r == role && OidIsValid(role))
		{
			dst = rates;
			*own = true;
		}
		else if (r == InvalidOid)
		{
			dst = dflt;
			found_default = true;
		}
		else
			continue;
		dst[0] = n[1] ? 0 : DatumGetInt64(v[1]);
		dst[1] = n[2] ? 0 : DatumGetInt64(v[2]);
	}
	table_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
	/* pg_restore and other administration: no default quota for superusers */
	if (!*own && found_default && !superuser_arg(role))
	{
		rates[0] = dflt[0];
		rates[1] = dflt[1];
	}
}

/*
 * The hash is full: free the buckets of roles and databases that no longer
 * exist (a dropped database's buckets are freed by nothing else).  The
 * catalogs are looked at without the lock held.
 */
static void
sweep_buckets(void)
{
	HASH_SEQ_STATUS seq;
	ElQuotaBucket *b;
	ElQuotaKey *keys;
	int			n = 0;
	int			i;
	int			gone = 0;

	LWLockAcquire(quota_shared->lock, LW_SHARED);
	keys = palloc(sizeof(ElQuotaKey) * Max(hash_get_num_entries(quota_hash), 1));
	hash_seq_init(&seq, quota_hash);
	while ((b = hash_seq_search(&seq)) != NULL)
		keys[n++] = b->key;
	LWLockRelease(quota_shared->lock);
	for (i = 0; i < n; i++)
		if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(keys[i].roleid)) ||
			!SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(keys[i].dbid)))
			keys[gone++] = keys[i];
	if (gone > 0)
	{
		LWLockAcquire(quota_shared->lock, LW_EXCLUSIVE);
		for (i = 0; i < gone; i++)
			hash_search(quota_hash, &keys[i], HASH_REMOVE, NULL);
		LWLockRelease(quota_shared->lock);
	}
	pfree(keys);
}

/* Find or enter role's bucket in this database (exclusive lock held). */
static ElQuotaBucket *
enter_bucket(const ElQuotaKey *key, const int64 *rates)
{
	ElQuotaBucket *b;
	bool		found;
	int			d;

	b = hash_search(quota_hash, key, HASH_FIND, NULL);
	if (b != NULL || hash_get_num_entries(quota_hash) >= el_max_quota_roles)
		return b;
	b = hash_search(quota_hash, key, HASH_ENTER_NULL, &found);
	if (b && !found)
	{
		SpinLockInit(&b->mutex);
		memset(b->ring_sec, 0, sizeof(b->ring_sec));
		memset(b->ring, 0, sizeof(b->ring));
		for (d = 0; d < 2; d++)
		{
			b->tokens[d] = (double) Max(rates[d], 0);	/* a full burst */
			b->last[d] = GetCurrentTimestamp();
			b->total[d] = 0;
			b->throttled_us[d] = 0;
		}
	}
	return b;
}

/*
 * Make sure role has a bucket in this database with these rates.  Returns
 * false when the hash is full (eventlog.max_quota_roles).
 */
static bool
ensure_bucket(Oid role, const int64 *rates)
{
	ElQuotaKey	key = {MyDatabaseId, role};
	ElQuotaBucket *b;
	int			attempt;
	int			d;

	for (attempt = 0; attempt < 2; attempt++)
	{
		LWLockAcquire(quota_shared->lock, LW_EXCLUSIVE);
		b = enter_bucket(&key, rates);
		if (b)
		{
			SpinLockAcquire(&b->mutex);
			for (d = 0; d < 2; d++)
				b->rate[d] = rates[d];
			SpinLockRelease(&b->mutex);
		}
		LWLockRelease(quota_shared->lock);
		if (b != NULL)
			return true;
		if (attempt == 0)
			sweep_buckets();
	}
	if (!q_full_warned)
	{
		q_full_warned = true;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("quota of role \"%s\" is not enforced: eventlog.max_quota_roles (%d) roles have quota buckets",
						GetUserNameFromId(role, false), el_max_quota_roles),
				 errhint("Raise eventlog.max_quota_roles and restart the server.")));
	}
	return false;
}

/* Make the cached configuration current (at the start of a call). */
static void
load_config(void)
{
	uint64		gen = pg_atomic_read_u64(&quota_shared->generation);
	Oid			role = GetSessionUserId();
	bool		own;

	if (q_valid && gen == q_generation && role == q_role)
		return;
	read_rates(role, q_rate, &own);
	if (q_rate[0] > 0 || q_rate[1] > 0)
		(void) ensure_bucket(role, q_rate);
	q_role = role;
	q_generation = gen;
	q_valid = true;
}

/*
 * Whose bytes, at what rates: the view owner's while acting for it, else
 * the session user's in a client backend.
 */
static bool
charged_role(Oid *role, const int64 **rates)
{
	if (OidIsValid(q_act_role))
	{
		*role = q_act_role;
		*rates = q_act_rate;
		return true;
	}
	if (!charge_applies() || !q_valid)
		return false;
	*role = q_role;
	*rates = q_rate;
	return true;
}

/* Refill a bucket up to one second's worth (under its mutex). */
static void
refill(ElQuotaBucket *b, int d, TimestampTz now)
{
	double		burst = (double) b->rate[d];

	if (now > b->last[d])
	{
		b->tokens[d] += (double) (now - b->last[d]) * b->rate[d] / 1000000.0;
		b->last[d] = now;
	}
	if (b->tokens[d] > burst)
		b->tokens[d] = burst;
}

bool
el_quota_charging(ElQuotaDir dir)
{
	Oid			role;
	const int64 *rates;

	return quota_hash != NULL && charged_role(&role, &rates) && rates[dir] > 0;
}

void
el_quota_charge(ElQuotaDir dir, int64 bytes)
{
	ElQuotaKey	key;
	const int64 *rates;
	ElQuotaBucket *b;
	int64		sec;
	int			slot;

	if (bytes <= 0 || quota_hash == NULL || !charged_role(&key.roleid, &rates) ||
		rates[dir] <= 0)
		return;
	key.dbid = MyDatabaseId;
	sec = (int64) (GetCurrentTimestamp() / USECS_PER_SEC);
	slot = (int) (sec % EL_QUOTA_WINDOW);
	LWLockAcquire(quota_shared->lock, LW_SHARED);
	b = hash_search(quota_hash, &key, HASH_FIND, NULL);
	if (b != NULL)
	{
		SpinLockAcquire(&b->mutex);
		b->tokens[dir] -= (double) bytes;
		b->total[dir] += bytes;
		if (b->ring_sec[slot] != sec)
		{
			b->ring_sec[slot] = sec;
			b->ring[0][slot] = b->ring[1][slot] = 0;
		}
		b->ring[dir][slot] += bytes;
		SpinLockRelease(&b->mutex);
	}
	LWLockRelease(quota_shared->lock);
}

/*
 * The bucket's state for a call: refilled; *debt_us is the wait that pays
 * its debt (capped at eventlog.quota_max_delay, the rest forgiven), and
 * the result what may be read then.  false: no bucket (hash full).
 */
static bool
bucket_check(Oid role, ElQuotaDir dir, int64 rate, bool forgive, int64 *debt_us,
			 double *avail)
{
	ElQuotaKey	key = {MyDatabaseId, role};
	ElQuotaBucket *b;
	TimestampTz now = GetCurrentTimestamp();
	double		debt;
	int64		delay_us = 0;

	LWLockAcquire(quota_shared->lock, LW_SHARED);
	b = hash_search(quota_hash, &key, HASH_FIND, NULL);
	if (b == NULL)
	{
		LWLockRelease(quota_shared->lock);
		return false;
	}
	SpinLockAcquire(&b->mutex);
	refill(b, dir, now);
	debt = -b->tokens[dir];
	if (debt > 0)
	{
		delay_us = (int64) (debt * 1000000.0 / rate);
		if (delay_us > (int64) el_quota_max_delay_ms * 1000)
		{
			delay_us = (int64) el_quota_max_delay_ms * 1000;
			/* forgive what the capped wait does not pay for */
			if (forgive)
				b->tokens[dir] = -(double) rate * delay_us / 1000000.0;
		}
	}
	*avail = b->tokens[dir] + (double) rate * delay_us / 1000000.0;
	SpinLockRelease(&b->mutex);
	LWLockRelease(quota_shared->lock);
	*debt_us = delay_us;
	return true;
}

static void
add_throttled(Oid role, ElQuotaDir dir, int64 us)
{
	ElQuotaKey	key = {MyDatabaseId, role};
	ElQuotaBucket *b;

	LWLockAcquire(quota_shared->lock, LW_SHARED);
	b = hash_search(quota_hash, &key, HASH_FIND, NULL);
	if (b != NULL)
	{
		SpinLockAcquire(&b->mutex);
		b->throttled_us[dir] += (uint64) us;
		SpinLockRelease(&b->mutex);
	}
	LWLockRelease(quota_shared->lock);
}

int64
el_quota_throttle(ElQuotaDir dir)
{
	Oid			role;
	const int64 *rates;
	int64		rate;
	double		avail;
	int64		delay_us = 0;
	TimestampTz start;

	if (quota_hash == NULL)
		return -1;
	if (!OidIsValid(q_act_role))
	{
		if (!charge_applies())
			return -1;
		load_config();
	}
	if (!charged_role(&role, &rates))
		return -1;
	rate = rates[dir];
	if (rate <= 0)
		return -1;
	/* the bucket may have been freed by a configuration change: again */
	if (!bucket_check(role, dir, rate, true, &delay_us, &avail) &&
		(!ensure_bucket(role, rates) ||
		 !bucket_check(role, dir, rate, true, &delay_us, &avail)))
		return -1;

	/*
	 * Only client backends sleep: not a parallel worker (its leader waits),
	 * nor the maintenance worker acting for a view's owner
	 * (el_quota_debt_ms)
	 */
	if (delay_us > 0 && throttle_applies())
	{
		TimestampTz end;
		TimestampTz now;

		start = GetCurrentTimestamp();
		end = start + delay_us;
		for (;;)
		{
			long		ms;

			CHECK_FOR_INTERRUPTS();
			now = GetCurrentTimestamp();
			if (now >= end)
				break;
			ms = (long) ((end - now + 999) / 1000);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		add_throttled(role, dir, now - start);
	}
	return (int64) Max(avail, (double) rate / 10.0);
}

/*
 * Acting for role (a view's owner, viewapply.c): until el_quota_act_end(),
 * the bytes moved are charged to role's buckets in this database, in any
 * process.  Reads the role's configuration: at the start of a batch, with
 * no lock of ours held but the view's.
 */
void
el_quota_act_for(Oid role)
{
	bool		own;

	q_act_role = InvalidOid;
	if (quota_hash == NULL)
		return;
	read_rates(role, q_act_rate, &own);
	if ((q_act_rate[0] > 0 || q_act_rate[1] > 0) && ensure_bucket(role, q_act_rate))
	{
		q_act_role = role;
		q_act_subid = GetCurrentSubTransactionId();
	}
}

void
el_quota_act_end(void)
{
	q_act_role = InvalidOid;
}

/*
 * Acting for a role: how long until its buckets are out of debt (0: now),
 * at most eventlog.quota_max_delay (the rest is forgiven, as for a session
 * that waits).  The worker puts a view off for that long instead of
 * sleeping.
 */
long
el_quota_debt_ms(void)
{
	int64		worst = 0;
	int			d;

	if (!OidIsValid(q_act_role))
		return 0;
	for (d = 0; d < 2; d++)
	{
		int64		us;
		double		avail;

		if (q_act_rate[d] > 0 &&
			bucket_check(q_act_role, (ElQuotaDir) d, q_act_rate[d], true, &us, &avail))
			worst = Max(worst, us);
	}
	return (long) ((worst + 999) / 1000);
}

/*
 * A quota change is about to commit: note the buckets of this database
 * whose role has no limit any more, to free them at commit.
 */
static void
note_unlimited_buckets(void)
{
	HASH_SEQ_STATUS seq;
	ElQuotaBucket *b;
	List	   *roles = NIL;
	ListCell   *lc;
	MemoryContext old;

	LWLockAcquire(quota_shared->lock, LW_SHARED);
	hash_seq_init(&seq, quota_hash);
	while ((b = hash_seq_search(&seq)) != NULL)
		if (b->key.dbid == MyDatabaseId)
			roles = lappend_oid(roles, b->key.roleid);
	LWLockRelease(quota_shared->lock);
	foreach(lc, roles)
	{
		int64		rates[2];
		bool		own;
		ElQuotaKey *key;

		read_rates(lfirst_oid(lc), rates, &own);
		if (rates[0] > 0 || rates[1] > 0)
			continue;
		old = MemoryContextSwitchTo(TopMemoryContext);
		key = palloc(sizeof(ElQuotaKey));
		key->dbid = MyDatabaseId;
		key->roleid = lfirst_oid(lc);
		q_free_keys = lappend(q_free_keys, key);
		MemoryContextSwitchTo(old);
	}
	list_free(roles);
}

/* At commit: free what note_unlimited_buckets() and DROP ROLE noted. */
static void
free_noted_buckets(void)
{
	ListCell   *lc;

	if (q_free_keys == NIL && q_free_roles == NIL)
		return;
	LWLockAcquire(quota_shared->lock, LW_EXCLUSIVE);
	foreach(lc, q_free_keys)
		hash_search(quota_hash, lfirst(lc), HASH_REMOVE, NULL);
	if (q_free_roles != NIL)
	{
		HASH_SEQ_STATUS seq;
		ElQuotaBucket *b;

		hash_seq_init(&seq, quota_hash);
		while ((b = hash_seq_search(&seq)) != NULL)
			if (list_member_oid(q_free_roles, b->key.roleid))
				hash_search(quota_hash, &b->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(quota_shared->lock);
}

static void
forget_noted(void)
{
	list_free_deep(q_free_keys);
	q_free_keys = NIL;
	list_free(q_free_roles);
	q_free_roles = NIL;
}

/* DROP ROLE (hooks.c): its buckets in every database go when it commits */
void
el_quota_forget_role(Oid roleid)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	q_free_roles = lappend_oid(q_free_roles, roleid);
	MemoryContextSwitchTo(old);
}

static void
quota_xact_callback(XactEvent event, void *arg)
{
	if (quota_shared == NULL)
		return;
	if (event == XACT_EVENT_PRE_COMMIT && q_bump_at_commit)
		note_unlimited_buckets();
	if (event == XACT_EVENT_COMMIT)
	{
		free_noted_buckets();
		if (q_bump_at_commit)
			pg_atomic_fetch_add_u64(&quota_shared->generation, 1);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
	{
		q_bump_at_commit = false;
		forget_noted();
		q_act_role = InvalidOid;
	}
}

/*
 * An error that ends the apply of a view's batch, caught by a savepoint
 * (a caller's EXCEPTION block, the worker's turn): the bytes are no longer
 * the owner's.  A subtransaction of the owner's own code is started after
 * el_quota_act_for() and has a larger id.
 */
static void
quota_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && OidIsValid(q_act_role) &&
		mySubid <= q_act_subid)
		q_act_role = InvalidOid;
}

void
el_quota_register_callbacks(void)
{
	RegisterXactCallback(quota_xact_callback, NULL);
	RegisterSubXactCallback(quota_subxact_callback, NULL);
}

/* A rate argument: NULL = no limit; otherwise positive. */
static Datum
rate_arg(FunctionCallInfo fcinfo, int argno, const char *what, char *null)
{
	int64		v;

	*null = ' ';
	if (PG_ARGISNULL(argno))
	{
		*null = 'n';
		return (Datum) 0;
	}
	v = PG_GETARG_INT64(argno);
	if (v <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", what),
				 errhint("Use NULL for no limit.")));
	return Int64GetDatum(v);
}

static void
store_quota(FunctionCallInfo fcinfo, Oid role, int first)
{
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			ret;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set quotas"),
				 errhint("Only superusers set quotas.")));
	args[0] = ObjectIdGetDatum(role);
	args[1] = rate_arg(fcinfo, first, "produce_bytes_per_sec", &nulls[1]);
	args[2] = rate_arg(fcinfo, first + 1, "fetch_bytes_per_sec", &nulls[2]);

	SPI_connect();
	if (nulls[1] == 'n' && nulls[2] == 'n')
		ret = SPI_execute_with_args("DELETE FROM eventlog.quota WHERE role_name OPERATOR(pg_catalog.=) $1",
									1, (Oid[]) {REGROLEOID}, args, nulls, false, 0);
	else
		ret = SPI_execute_with_args("INSERT INTO eventlog.quota (role_name, produce_bytes_per_sec, fetch_bytes_per_sec)"
									" VALUES ($1, $2, $3) ON CONFLICT (role_name) DO UPDATE"
									" SET produce_bytes_per_sec = EXCLUDED.produce_bytes_per_sec,"
									" fetch_bytes_per_sec = EXCLUDED.fetch_bytes_per_sec",
									3, (Oid[]) {REGROLEOID, INT8OID, INT8OID}, args, nulls, false, 0);
	if (ret < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	SPI_finish();
	q_bump_at_commit = true;
	q_valid = false;			/* this backend sees it now */
}

/* eventlog.set_quota(role_name, produce_bytes_per_sec, fetch_bytes_per_sec) */
PG_FUNCTION_INFO_V1(eventlog_set_quota);
Datum
eventlog_set_quota(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role_name must not be null"),
				 errhint("Use eventlog.set_default_quota() for roles without a quota of their own.")));
	store_quota(fcinfo, get_role_oid(NameStr(*PG_GETARG_NAME(0)), false), 1);
	PG_RETURN_VOID();
}

/* eventlog.set_default_quota(produce_bytes_per_sec, fetch_bytes_per_sec) */
PG_FUNCTION_INFO_V1(eventlog_set_default_quota);
Datum
eventlog_set_default_quota(PG_FUNCTION_ARGS)
{
	store_quota(fcinfo, InvalidOid, 0);
	PG_RETURN_VOID();
}

/*
 * eventlog.quota_usage(): one row per role with a bucket in this database: observed rates
 * over the last EL_QUOTA_OBSERVE complete seconds, totals and time spent
 * throttled.  Behind eventlog.quotas.
 */
PG_FUNCTION_INFO_V1(eventlog_quota_usage);
Datum
eventlog_quota_usage(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	ElQuotaBucket *b;
	ElQuotaBucket *copy;
	int			n = 0,
				i,
				k,
				d;
	int64		now_sec = (int64) (GetCurrentTimestamp() / USECS_PER_SEC);

	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(quota_shared->lock, LW_SHARED);
	/* every entry fits: the scan is never left unfinished */
	copy = palloc(sizeof(ElQuotaBucket) * Max(hash_get_num_entries(quota_hash), 1));
	hash_seq_init(&seq, quota_hash);
	while ((b = hash_seq_search(&seq)) != NULL)
	{
		if (b->key.dbid != MyDatabaseId)
			continue;
		SpinLockAcquire(&b->mutex);
		copy[n++] = *b;
		SpinLockRelease(&b->mutex);
	}
	LWLockRelease(quota_shared->lock);

	for (i = 0; i < n; i++)
	{
		Datum		values[8];
		bool		nulls[8] = {false, false, false, false, false, false, false, false};
		uint64		seen[2] = {0, 0};

		for (k = 0; k < EL_QUOTA_WINDOW; k++)
			if (copy[i].ring_sec[k] >= now_sec - EL_QUOTA_OBSERVE &&
				copy[i].ring_sec[k] < now_sec)
				for (d = 0; d < 2; d++)
					seen[d] += copy[i].ring[d][k];
		values[0] = ObjectIdGetDatum(copy[i].key.roleid);
		for (d = 0; d < 2; d++)
		{
			values[1 + d] = Int64GetDatum(copy[i].rate[d]);
			nulls[1 + d] = copy[i].rate[d] <= 0;
			values[3 + d] = Int64GetDatum((int64) (seen[d] / EL_QUOTA_OBSERVE));
			values[5 + d] = Int64GetDatum((int64) copy[i].total[d]);
		}
		values[7] = Float8GetDatum((copy[i].throttled_us[0] + copy[i].throttled_us[1]) / 1000.0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Has the role a quota row in this database (hooks.c: DROP ROLE)?  Read
 * as the catalog owner; inside SPI.
 */
bool
el_quota_role_has_row(Oid roleid)
{
	Datum		arg = ObjectIdGetDatum(roleid);
	ElCatalogOwner catowner;

	el_catalog_owner_begin(&catowner);
	el_spi_exec("SELECT FROM eventlog.quota WHERE role_name::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {OIDOID}, &arg, NULL, SPI_OK_SELECT);
	el_catalog_owner_end(&catowner);
	return SPI_processed > 0;
}

/*
 * DROP OWNED BY role: its quota row goes too, if the current role may set
 * quotas (a role must not lift its own quota with DROP OWNED BY itself).
 * Inside SPI.
 */
void
el_quota_drop_role(Oid roleid)
{
	Datum		arg = ObjectIdGetDatum(roleid);
	ElCatalogOwner catowner;

	if (!el_quota_role_has_row(roleid))
		return;
	if (!superuser())
	{
		ereport(NOTICE,
				(errmsg("quota of role \"%s\" was kept",
						GetUserNameFromId(roleid, false)),
				 errhint("Only superusers remove quotas, with eventlog.set_quota(role, NULL, NULL).")));
		return;
	}
	el_catalog_owner_begin(&catowner);
	el_spi_exec("DELETE FROM eventlog.quota WHERE role_name::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {OIDOID}, &arg, NULL, SPI_OK_DELETE);
	el_catalog_owner_end(&catowner);
	q_bump_at_commit = true;
	q_valid = false;
}
