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
 * Each limited role has a token bucket in a fixed-size shared hash
 * (eventlog.max_quota_roles), shared by all its backends: it refills at
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
 * autovacuum never are.
 *
 * The configuration is read from eventlog.quota by each backend when its
 * cached copy is stale: set_quota() bumps a shared generation counter when
 * its transaction commits.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
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
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "eventlog/quota.h"
#include "eventlog/topic.h"

int			el_max_quota_roles = 256;
int			el_quota_max_delay_ms = 5000;

#define EL_QUOTA_WINDOW 8		/* seconds kept for the observed rates */
#define EL_QUOTA_OBSERVE 5		/* complete seconds they average */

typedef struct ElQuotaBucket
{
	Oid			roleid;			/* hash key */
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

/* this backend's cached configuration */
static bool q_valid = false;
static uint64 q_generation = 0;
static Oid	q_role = InvalidOid;
static int64 q_rate[2] = {0, 0};
static ElQuotaBucket *q_bucket = NULL;
static bool q_bump_at_commit = false;
static bool q_full_warned = false;

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
	info.keysize = sizeof(Oid);
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
	snap = RegisterSnapshot(GetLatestSnapshot());
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

static ElQuotaBucket *
get_bucket(Oid role, const int64 *rates)
{
	ElQuotaBucket *b;
	bool		found;
	int			d;

	LWLockAcquire(quota_shared->lock, LW_EXCLUSIVE);
	b = hash_search(quota_hash, &role, HASH_ENTER_NULL, &found);
	if (b && !found)
	{
		SpinLockInit(&b->mutex);
		memset(b->ring_sec, 0, sizeof(b->ring_sec));
		memset(b->ring, 0, sizeof(b->ring));
		for (d = 0; d < 2; d++)
		{
			b->rate[d] = rates[d];
			b->tokens[d] = (double) Max(rates[d], 0);	/* a full burst */
			b->last[d] = GetCurrentTimestamp();
			b->total[d] = 0;
			b->throttled_us[d] = 0;
		}
	}
	if (b)
	{
		SpinLockAcquire(&b->mutex);
		for (d = 0; d < 2; d++)
			b->rate[d] = rates[d];
		SpinLockRelease(&b->mutex);
	}
	LWLockRelease(quota_shared->lock);
	return b;
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
	q_bucket = NULL;
	if (q_rate[0] > 0 || q_rate[1] > 0)
	{
		q_bucket = get_bucket(role, q_rate);
		if (q_bucket == NULL && !q_full_warned)
		{
			q_full_warned = true;
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("quota of role \"%s\" is not enforced: eventlog.max_quota_roles (%d) roles have quota buckets",
							GetUserNameFromId(role, false), el_max_quota_roles),
					 errhint("Raise eventlog.max_quota_roles and restart the server.")));
		}
	}
	q_role = role;
	q_generation = gen;
	q_valid = true;
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

void
el_quota_charge(ElQuotaDir dir, int64 bytes)
{
	ElQuotaBucket *b = q_bucket;
	int64		sec;
	int			slot;

	if (b == NULL || q_rate[dir] <= 0 || bytes <= 0 || !throttle_applies())
		return;
	sec = (int64) (GetCurrentTimestamp() / USECS_PER_SEC);
	slot = (int) (sec % EL_QUOTA_WINDOW);
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

int64
el_quota_throttle(ElQuotaDir dir)
{
	ElQuotaBucket *b;
	int64		rate;
	double		debt;
	double		avail;
	int64		delay_us = 0;
	TimestampTz start;

	if (!throttle_applies())
		return -1;
	load_config();
	b = q_bucket;
	rate = q_rate[dir];
	if (b == NULL || rate <= 0)
		return -1;

	start = GetCurrentTimestamp();
	SpinLockAcquire(&b->mutex);
	refill(b, dir, start);
	debt = -b->tokens[dir];
	if (debt > 0)
	{
		delay_us = (int64) (debt * 1000000.0 / rate);
		if (delay_us > (int64) el_quota_max_delay_ms * 1000)
		{
			/* forgive what the capped wait does not pay for */
			delay_us = (int64) el_quota_max_delay_ms * 1000;
			b->tokens[dir] = -(double) rate * delay_us / 1000000.0;
		}
	}
	avail = b->tokens[dir] + (double) rate * delay_us / 1000000.0;
	SpinLockRelease(&b->mutex);

	if (delay_us > 0)
	{
		TimestampTz end = start + delay_us;
		TimestampTz now;

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
		SpinLockAcquire(&b->mutex);
		b->throttled_us[dir] += (uint64) (now - start);
		SpinLockRelease(&b->mutex);
	}
	return (int64) Max(avail, (double) rate / 10.0);
}

static void
quota_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && q_bump_at_commit && quota_shared)
		pg_atomic_fetch_add_u64(&quota_shared->generation, 1);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		q_bump_at_commit = false;
}

void
el_quota_register_callbacks(void)
{
	RegisterXactCallback(quota_xact_callback, NULL);
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
 * eventlog.quota_usage(): one row per role with a bucket: observed rates
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
	copy = palloc(sizeof(ElQuotaBucket) * el_max_quota_roles);
	LWLockAcquire(quota_shared->lock, LW_SHARED);
	hash_seq_init(&seq, quota_hash);
	while ((b = hash_seq_search(&seq)) != NULL && n < el_max_quota_roles)
	{
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
		values[0] = ObjectIdGetDatum(copy[i].roleid);
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
