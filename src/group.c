/*
 * group.c
 *		Consumer groups: poll(), commit(), seek(), leave() and the state
 *		behind the consumer_groups and consumer_lag views.
 *
 * Durable state is plain tables, so it is transactional for free:
 *	eventlog.consumer_group	 settings per (group, topic)
 *	eventlog.group_offset	 committed offset per (group, topic, partition)
 * poll() advances group_offset inside the caller's transaction: COMMIT
 * acknowledges, ROLLBACK redelivers (DESIGN promise 4).
 *
 * Membership is soft state in shared memory (rebuilt as members poll after
 * a restart).  Each poll expires dead members, joins the caller and
 * rebalances: every live member gets floor(P/M) or ceil(P/M) partitions,
 * and members keep what they hold whenever their quota allows (sticky).
 *
 * Safety does not rest on the shared-memory assignment alone: poll() locks
 * the group_offset row of every partition it serves (FOR UPDATE SKIP
 * LOCKED).  The lock lasts until the polling transaction ends, so a
 * partition that moved is skipped by its new owner until the previous
 * owner's transaction has committed or rolled back, and two transactions
 * never process the same records at once.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "elstore.h"
#include "eventlog.h"
#include "fetch.h"
#include "group.h"
#include "notify.h"
#include "topic.h"

#define EL_GROUP_MAX_MEMBERS 64

typedef struct ElMember
{
	NameData	name;
	int			pid;			/* backend that polled last (0: none now) */
	bool		is_static;		/* named: survives reconnects */
	uint64		join_seq;
	TimestampTz joined_at;
	TimestampTz last_poll;
	int			next_start;		/* rotates the first partition served */
} ElMember;

typedef struct ElGroupSlot
{
	bool		in_use;
	Oid			dbid;
	Oid			topic_relid;
	NameData	group_id;
	NameData	topic;
	int			nparts;
	int64		session_timeout_ms;
	int64		max_poll_interval_ms;
	uint64		generation;		/* bumped by every assignment change */
	int			nmembers;
	ElMember	members[EL_GROUP_MAX_MEMBERS];
	int16		owner[EL_MAX_PARTITIONS];	/* member index, -1 = none */
} ElGroupSlot;

typedef struct ElGroupState
{
	LWLock	   *lock;
	uint64		join_seq;
	int			nslots;
	ElGroupSlot slots[FLEXIBLE_ARRAY_MEMBER];
} ElGroupState;

int			el_max_groups = 128;
static ElGroupState *groups = NULL;
static bool exit_hook_registered = false;

Size
el_group_shmem_size(void)
{
	return add_size(offsetof(ElGroupState, slots),
					mul_size(el_max_groups, sizeof(ElGroupSlot)));
}

void
el_group_shmem_request(void)
{
	RequestAddinShmemSpace(el_group_shmem_size());
	RequestNamedLWLockTranche("pg_eventlog groups", 1);
}

void
el_group_shmem_init(void)
{
	bool		found;

	groups = ShmemInitStruct("pg_eventlog groups", el_group_shmem_size(), &found);
	if (!found)
	{
		memset(groups, 0, el_group_shmem_size());
		groups->nslots = el_max_groups;
	}
	groups->lock = &(GetNamedLWLockTranche("pg_eventlog groups"))->lock;
}

/* ----------------------------------------------------------------
 * Membership and assignment (callers hold groups->lock exclusively)
 * ----------------------------------------------------------------
 */

static ElGroupSlot *
find_slot(Oid topic_relid, const char *group_id, bool create)
{
	int			i;
	ElGroupSlot *free_slot = NULL;

	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];

		if (!s->in_use)
		{
			if (free_slot == NULL)
				free_slot = s;
			continue;
		}
		if (s->dbid == MyDatabaseId && s->topic_relid == topic_relid &&
			strcmp(NameStr(s->group_id), group_id) == 0)
			return s;
	}
	if (!create)
		return NULL;
	if (free_slot == NULL)
	{
		/* reuse a slot whose group has no members left */
		for (i = 0; i < groups->nslots && free_slot == NULL; i++)
			if (groups->slots[i].nmembers == 0)
				free_slot = &groups->slots[i];
	}
	if (free_slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many active consumer groups"),
				 errdetail("At most %d groups can have members at the same time.", el_max_groups),
				 errhint("Raise eventlog.max_consumer_groups (needs a restart).")));
	memset(free_slot, 0, sizeof(ElGroupSlot));
	free_slot->in_use = true;
	free_slot->dbid = MyDatabaseId;
	free_slot->topic_relid = topic_relid;
	namestrcpy(&free_slot->group_id, group_id);
	memset(free_slot->owner, -1, sizeof(free_slot->owner));
	return free_slot;
}

static void
remove_member(ElGroupSlot *s, int idx)
{
	int			last = s->nmembers - 1;
	int			p;

	for (p = 0; p < EL_MAX_PARTITIONS; p++)
	{
		if (s->owner[p] == idx)
			s->owner[p] = -1;
		else if (s->owner[p] == last)
			s->owner[p] = idx;
	}
	if (idx != last)
		s->members[idx] = s->members[last];
	s->nmembers--;
	s->generation++;
}

/*
 * Drop members that are gone: session members whose backend exited,
 * static members silent for longer than the session timeout, and any
 * member that has not polled within the max poll interval.
 */
static void
expire_members(ElGroupSlot *s, TimestampTz now)
{
	int			i = 0;

	while (i < s->nmembers)
	{
		ElMember   *m = &s->members[i];
		bool		gone = false;

		if (!m->is_static && (m->pid == 0 || BackendPidGetProc(m->pid) == NULL))
			gone = true;
		else if (m->is_static &&
				 TimestampDifferenceExceeds(m->last_poll, now, (int) Min(s->session_timeout_ms, INT_MAX)))
			gone = true;
		else if (TimestampDifferenceExceeds(m->last_poll, now, (int) Min(s->max_poll_interval_ms, INT_MAX)))
			gone = true;
		if (gone)
			remove_member(s, i);
		else
			i++;
	}
}

static int
join_member(ElGroupSlot *s, const char *name, bool is_static, TimestampTz now)
{
	int			i;
	ElMember   *m;

	for (i = 0; i < s->nmembers; i++)
		if (strcmp(NameStr(s->members[i].name), name) == 0)
		{
			s->members[i].pid = MyProcPid;
			s->members[i].last_poll = now;
			return i;
		}
	if (s->nmembers >= EL_GROUP_MAX_MEMBERS)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("consumer group \"%s\" already has %d members",
						NameStr(s->group_id), EL_GROUP_MAX_MEMBERS)));
	m = &s->members[s->nmembers];
	memset(m, 0, sizeof(ElMember));
	namestrcpy(&m->name, name);
	m->pid = MyProcPid;
	m->is_static = is_static;
	m->join_seq = ++groups->join_seq;
	m->joined_at = now;
	m->last_poll = now;
	s->generation++;
	return s->nmembers++;
}

/*
 * Balanced, sticky assignment.  Quotas: P / M each, and one more for the
 * P % M members that already hold the most (ties: earliest joined), which
 * is what keeps moves to a minimum.  Members keep their partitions up to
 * their quota; the rest are handed to members below quota.
 */
static void
rebalance(ElGroupSlot *s)
{
	int			M = s->nmembers;
	int			P = s->nparts;
	int			count[EL_GROUP_MAX_MEMBERS];
	int			quota[EL_GROUP_MAX_MEMBERS];
	int			kept[EL_GROUP_MAX_MEMBERS];
	int			order[EL_GROUP_MAX_MEMBERS];
	int			i,
				j,
				p;
	bool		changed = false;

	for (p = P; p < EL_MAX_PARTITIONS; p++)
		s->owner[p] = -1;
	if (M == 0)
	{
		for (p = 0; p < P; p++)
			s->owner[p] = -1;
		return;
	}
	memset(count, 0, sizeof(count));
	memset(kept, 0, sizeof(kept));
	for (p = 0; p < P; p++)
		if (s->owner[p] >= 0 && s->owner[p] < M)
			count[s->owner[p]]++;
		else
			s->owner[p] = -1;

	/* order: most partitions held first, then join order (insertion sort) */
	for (i = 0; i < M; i++)
	{
		order[i] = i;
		for (j = i; j > 0; j--)
		{
			int			a = order[j - 1],
						b = order[j];

			if (count[a] > count[b] ||
				(count[a] == count[b] && s->members[a].join_seq < s->members[b].join_seq))
				break;
			order[j - 1] = b;
			order[j] = a;
		}
	}
	for (i = 0; i < M; i++)
		quota[order[i]] = P / M + (i < P % M ? 1 : 0);

	for (p = 0; p < P; p++)
	{
		int			o = s->owner[p];

		if (o < 0)
			continue;
		if (kept[o] < quota[o])
			kept[o]++;
		else
		{
			s->owner[p] = -1;
			changed = true;
		}
	}
	for (p = 0; p < P; p++)
	{
		if (s->owner[p] >= 0)
			continue;
		for (i = 0; i < M; i++)
		{
			int			m = order[M - 1 - i];	/* least loaded first */

			if (kept[m] < quota[m])
			{
				s->owner[p] = m;
				kept[m]++;
				changed = true;
				break;
			}
		}
	}
	if (changed)
		s->generation++;
}

/* On backend exit, session members leave at once. */
static void
leave_on_exit(int code, Datum arg)
{
	int			i,
				j;

	if (groups == NULL)
		return;
	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];

		if (!s->in_use)
			continue;
		j = 0;
		while (j < s->nmembers)
		{
			if (s->members[j].pid == MyProcPid && !s->members[j].is_static)
				remove_member(s, j);
			else
			{
				if (s->members[j].pid == MyProcPid)
					s->members[j].pid = 0;
				j++;
			}
		}
		rebalance(s);
	}
	LWLockRelease(groups->lock);
}

/* ----------------------------------------------------------------
 * Helpers for the SQL functions
 * ----------------------------------------------------------------
 */

static void
check_group_id(const char *group_id)
{
	const char *p;
	size_t		len = strlen(group_id);

	if (len == 0 || len >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid consumer group name \"%s\"", group_id),
				 errdetail("Group names are 1 to %d bytes long.", NAMEDATALEN - 1)));
	for (p = group_id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid consumer group name \"%s\"", group_id),
					 errdetail("Group names may contain only ASCII letters, digits, \".\", \"_\" and \"-\".")));
}

static char *
member_name(FunctionCallInfo fcinfo, int argno, bool *is_static)
{
	char	   *name;

	if (!PG_ARGISNULL(argno))
	{
		name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
		if (strlen(name) == 0 || strlen(name) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid member name \"%s\"", name),
					 errdetail("Member names are 1 to %d bytes long.", NAMEDATALEN - 1)));
		if (strncmp(name, "session-", 8) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("member names starting with \"session-\" are reserved"),
					 errhint("Leave member NULL to be the session's own member.")));
		*is_static = true;
		return name;
	}
	*is_static = false;
	return psprintf("session-%d", MyProcPid);
}

static void
require_not_null(FunctionCallInfo fcinfo, int nargs, const char *what)
{
	int			i;

	for (i = 0; i < nargs; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", what)));
}

typedef struct GroupConfig
{
	int64		session_timeout_ms;
	int64		max_poll_interval_ms;
	bool		latest;
	bool		auto_commit;
} GroupConfig;

static int64
interval_to_ms(Datum d)
{
	Interval   *iv = DatumGetIntervalP(d);

	return (iv->time + (int64) iv->day * USECS_PER_DAY +
			(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY) / 1000;
}

/*
 * Creating a consumer_group or group_offset row with INSERT ... ON CONFLICT
 * waits for any other transaction that inserted the same key and is still
 * open, and poll() must never wait for another member's transaction.  So
 * creators first take a transaction-level lock that poll() only tries:
 * whoever does not get it treats the row as busy.  Advisory lock tag with
 * field4 outside the values the SQL advisory functions use (1 and 2).
 * A hash collision only makes a creation wait for a later poll.
 */
#define EL_CREATE_LOCK_GROUP	0xFFFF
static bool
create_lock(Oid topic_relid, const char *group_id, int partition, bool nowait)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, topic_relid,
						 hash_bytes((const unsigned char *) group_id, strlen(group_id)),
						 partition < 0 ? EL_CREATE_LOCK_GROUP : 3 + partition);
	return LockAcquire(&tag, ExclusiveLock, false, nowait) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * Read (and with create, make) the group's row.  Inside SPI.  With create
 * and nowait, false means that another open transaction is creating it.
 */
static bool
load_group_ext(const char *group_id, const char *topic, Oid topic_relid,
			   bool create, bool nowait, GroupConfig *cfg)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	td;

	args[0] = CStringGetTextDatum(group_id);
	args[1] = CStringGetTextDatum(topic);
	if (SPI_execute_with_args("SELECT session_timeout, max_poll_interval, auto_offset_reset,"
							  " auto_commit FROM eventlog.consumer_group"
							  " WHERE group_id OPERATOR(pg_catalog.=) $1"
							  " AND topic OPERATOR(pg_catalog.=) $2",
							  2, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read consumer group");
	if (SPI_processed == 0)
	{
		ElCatalogOwner catowner;

		if (!create)
			return false;
		if (!create_lock(topic_relid, group_id, -1, nowait))
		{
			/* being created by another transaction: defaults for now */
			cfg->session_timeout_ms = 45 * 1000;
			cfg->max_poll_interval_ms = 5 * 60 * 1000;
			cfg->latest = false;
			cfg->auto_commit = true;
			return false;
		}
		el_catalog_owner_begin(&catowner);
		if (SPI_execute_with_args("INSERT INTO eventlog.consumer_group (group_id, topic)"
								  " VALUES ($1, $2) ON CONFLICT DO NOTHING",
								  2, types, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not create consumer group");
		el_catalog_owner_end(&catowner);
		return load_group_ext(group_id, topic, topic_relid, false, false, cfg);
	}
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	cfg->session_timeout_ms = interval_to_ms(SPI_getbinval(tup, td, 1, &isnull));
	cfg->max_poll_interval_ms = interval_to_ms(SPI_getbinval(tup, td, 2, &isnull));
	cfg->latest = strcmp(TextDatumGetCString(SPI_getbinval(tup, td, 3, &isnull)), "latest") == 0;
	cfg->auto_commit = DatumGetBool(SPI_getbinval(tup, td, 4, &isnull));
	return true;
}

static bool
load_group(const char *group_id, const char *topic, bool create, GroupConfig *cfg)
{
	return load_group_ext(group_id, topic, el_topic_relid(topic, false),
						  create, false, cfg);
}

static void
unknown_group(const char *group_id, const char *topic)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("consumer group \"%s\" does not exist for topic \"%s\"", group_id, topic),
			 errhint("A group is created by its first eventlog.poll() or eventlog.seek().")));
}

/*
 * Lock the partition's offset row and return the committed offset, or -1
 * if the row is locked by another transaction (the partition is still being
 * processed by its previous owner).  Creates the row at the group's reset
 * position if there is none.  Inside SPI.
 */
static int64
lock_offset(const char *group_id, ElTopic *topic, int partition, const GroupConfig *cfg)
{
	Oid			types[4] = {TEXTOID, TEXTOID, INT4OID, INT8OID};
	Datum		args[4];
	bool		isnull;
	ElCatalogOwner catowner;
	int64		start;

	args[0] = CStringGetTextDatum(group_id);
	args[1] = CStringGetTextDatum(NameStr(topic->name));
	args[2] = Int32GetDatum(partition);
	el_catalog_owner_begin(&catowner);
	if (SPI_execute_with_args("SELECT committed_offset FROM eventlog.group_offset"
							  " WHERE group_id OPERATOR(pg_catalog.=) $1 AND topic OPERATOR(pg_catalog.=) $2"
							  " AND partition OPERATOR(pg_catalog.=) $3"
							  " FOR UPDATE SKIP LOCKED",
							  3, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not lock group offset");
	if (SPI_processed == 1)
	{
		el_catalog_owner_end(&catowner);
		return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}

	/*
	 * Not locked by us: either the row exists and another transaction holds
	 * it (skip it: INSERT ... ON CONFLICT below would wait for that
	 * transaction), or nobody has created it yet, or another open
	 * transaction is creating it (then the creation lock is taken).
	 */
	if (SPI_execute_with_args("SELECT 1 FROM eventlog.group_offset"
							  " WHERE group_id OPERATOR(pg_catalog.=) $1 AND topic OPERATOR(pg_catalog.=) $2"
							  " AND partition OPERATOR(pg_catalog.=) $3",
							  3, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read group offset");
	if (SPI_processed == 1 || !create_lock(topic->relid, group_id, partition, true))
	{
		el_catalog_owner_end(&catowner);
		return -1;
	}

	start = cfg->latest ? el_partition_log_end(topic, partition) :
		el_partition_log_start(topic, partition);
	args[3] = Int64GetDatum(start);
	if (SPI_execute_with_args("INSERT INTO eventlog.group_offset"
							  " (group_id, topic, partition, committed_offset)"
							  " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
							  " RETURNING committed_offset",
							  4, types, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not create group offset");
	el_catalog_owner_end(&catowner);
	if (SPI_processed == 1)
		return start;
	return -1;					/* exists, locked by someone else */
}

/* Is the group's committed offset at log_end already?  Inside SPI. */
static bool
caught_up(const char *group_id, ElTopic *topic, int partition, int64 log_end)
{
	Oid			types[3] = {TEXTOID, TEXTOID, INT4OID};
	Datum		args[3];
	bool		isnull;
	int64		committed;

	args[0] = CStringGetTextDatum(group_id);
	args[1] = CStringGetTextDatum(NameStr(topic->name));
	args[2] = Int32GetDatum(partition);
	if (SPI_execute_with_args("SELECT committed_offset FROM eventlog.group_offset"
							  " WHERE group_id OPERATOR(pg_catalog.=) $1 AND topic OPERATOR(pg_catalog.=) $2"
							  " AND partition OPERATOR(pg_catalog.=) $3",
							  3, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read group offset");
	if (SPI_processed == 0)
		return false;
	committed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											1, &isnull));
	return committed >= log_end;
}

static void
store_offset(const char *group_id, const char *topic, int partition, int64 next)
{
	Oid			types[4] = {TEXTOID, TEXTOID, INT4OID, INT8OID};
	Datum		args[4];
	ElCatalogOwner catowner;

	args[0] = CStringGetTextDatum(group_id);
	args[1] = CStringGetTextDatum(topic);
	args[2] = Int32GetDatum(partition);
	args[3] = Int64GetDatum(next);
	el_catalog_owner_begin(&catowner);
	if (SPI_execute_with_args("INSERT INTO eventlog.group_offset AS o"
							  " (group_id, topic, partition, committed_offset)"
							  " VALUES ($1, $2, $3, $4)"
							  " ON CONFLICT (group_id, topic, partition) DO UPDATE"
							  " SET committed_offset = EXCLUDED.committed_offset,"
							  " committed_at = pg_catalog.now()",
							  4, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store group offset");
	el_catalog_owner_end(&catowner);
}

/* Join, expire, rebalance; returns the member's partitions in serving order. */
static int
refresh_membership(ElTopic *topic, const char *group_id, const char *member,
				   bool is_static, const GroupConfig *cfg, int *parts)
{
	ElGroupSlot *s;
	TimestampTz now = GetCurrentTimestamp();
	int			me;
	int			n = 0;
	int			p,
				start;

	if (!exit_hook_registered)
	{
		before_shmem_exit(leave_on_exit, (Datum) 0);
		exit_hook_registered = true;
	}

	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	s = find_slot(topic->relid, group_id, true);
	namestrcpy(&s->topic, NameStr(topic->name));
	s->nparts = topic->nparts;
	s->session_timeout_ms = cfg->session_timeout_ms;
	s->max_poll_interval_ms = cfg->max_poll_interval_ms;
	expire_members(s, now);
	me = join_member(s, member, is_static, now);
	rebalance(s);

	start = s->members[me].next_start++;
	for (p = 0; p < s->nparts; p++)
	{
		int			q = (p + start) % s->nparts;

		if (s->owner[q] == me)
			parts[n++] = q;
	}
	LWLockRelease(groups->lock);
	return n;
}

/*
 * eventlog.poll(group_id, topic, max_records, wait, member)
 */
PG_FUNCTION_INFO_V1(eventlog_poll);
Datum
eventlog_poll(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *group_id;
	ElTopic    *topic;
	int			max_records;
	long		wait_ms;
	char	   *member;
	bool		is_static;
	GroupConfig cfg;
	TimestampTz deadline;
	int		   *parts;
	require_not_null(fcinfo, 2, "group_id and topic");
	group_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_group_id(group_id);
	max_records = PG_ARGISNULL(2) ? 500 : PG_GETARG_INT32(2);
	if (max_records < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_records must be at least 1")));
	wait_ms = el_wait_arg_ms(fcinfo, 3);
	member = member_name(fcinfo, 4, &is_static);

	topic = el_topic_open(PG_GETARG_TEXT_PP(1), AccessShareLock, NULL);
	el_check_read_privilege(topic);
	parts = palloc(sizeof(int) * topic->nparts);

	InitMaterializedSRF(fcinfo, 0);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	for (;;)
	{
		uint64		seq = el_notify_seq(topic->relid);
		int			nparts;
		bool		busy;
		int			total = 0;
		int			i;
		long		left;

		SPI_connect();
		busy = !load_group_ext(group_id, NameStr(topic->name), topic->relid,
							   true, true, &cfg);
		nparts = refresh_membership(topic, group_id, member, is_static, &cfg, parts);
		if (busy)
			nparts = 0;			/* the group's row is not visible yet */

		for (i = 0; i < nparts && total < max_records; i++)
		{
			int			p = parts[i];
			int64		committed;
			int64		log_start;
			int64		log_end = el_partition_log_end(topic, p);
			int64		next;
			Snapshot	snap;
			int			n;

			/*
			 * Caught up?  Then don't lock the offset row: an idle poll would
			 * otherwise cost a transaction id and a WAL flush every time.
			 */
			if (caught_up(group_id, topic, p, log_end))
				continue;
			committed = lock_offset(group_id, topic, p, &cfg);

			if (committed < 0)
				continue;		/* previous owner's transaction still open */
			/* never wait beyond the end: that would skip what comes next */
			committed = Min(committed, log_end);
			log_start = el_partition_log_start(topic, p);
			if (committed < log_start)
			{
				ereport(NOTICE,
						(errmsg("committed offset " INT64_FORMAT " of group \"%s\" is below the log start offset " INT64_FORMAT " of partition %d of topic \"%s\"; resuming there",
								committed, group_id, log_start, p, NameStr(topic->name))));
				committed = log_start;
			}
			/* the offset row was locked just now: read with a snapshot as new */
			snap = el_read_snapshot(true);
			n = el_read_partition(topic, p, committed, max_records - total, snap,
								  rsinfo->setResult, rsinfo->setDesc, &next);
			UnregisterSnapshot(snap);
			if (next > committed && cfg.auto_commit)
				store_offset(group_id, NameStr(topic->name), p, next);
			total += n;
		}
		SPI_finish();

		if (total > 0 || wait_ms == 0)
			break;
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (left <= 0 || IsolationUsesXactSnapshot())
			break;
		/* wake on a commit, or soon enough to pick up a rebalance */
		el_notify_wait(topic->relid, seq, Min(left, 1000));
	}
	return (Datum) 0;
}

/* Common checks of commit() and seek(): returns the topic. */
static ElTopic *
check_offset_args(FunctionCallInfo fcinfo, char **group_id, int *partition, int64 *next)
{
	ElTopic    *topic;
	int64		log_end;

	require_not_null(fcinfo, 4, "group_id, topic, partition and next_offset");
	*group_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_group_id(*group_id);
	topic = el_topic_open(PG_GETARG_TEXT_PP(1), AccessShareLock, NULL);
	el_check_read_privilege(topic);
	*partition = PG_GETARG_INT32(2);
	el_check_partition(topic, *partition);
	*next = PG_GETARG_INT64(3);
	if (*next < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("next_offset must not be negative")));
	log_end = el_partition_log_end(topic, *partition);
	if (*next > log_end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("next_offset " INT64_FORMAT " is beyond the log end offset " INT64_FORMAT " of partition %d of topic \"%s\"",
						*next, log_end, *partition, NameStr(topic->name)),
				 errhint("Commit the offset after the last record processed.")));
	return topic;
}

/*
 * eventlog.commit(group_id, topic, partition, next_offset): manual commit.
 * A partition assigned to another live member cannot be committed from
 * here: after a rebalance the old owner's late commit is refused rather
 * than allowed to move the new owner's position.
 */
PG_FUNCTION_INFO_V1(eventlog_commit);
Datum
eventlog_commit(PG_FUNCTION_ARGS)
{
	char	   *group_id;
	int			partition;
	int64		next;
	ElTopic    *topic = check_offset_args(fcinfo, &group_id, &partition, &next);
	GroupConfig cfg;
	ElGroupSlot *s;
	char		owner[NAMEDATALEN] = "";

	SPI_connect();
	if (!load_group(group_id, NameStr(topic->name), false, &cfg))
		unknown_group(group_id, NameStr(topic->name));

	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	s = find_slot(topic->relid, group_id, false);
	if (s)
	{
		expire_members(s, GetCurrentTimestamp());
		rebalance(s);
		if (partition < s->nparts && s->owner[partition] >= 0 &&
			s->members[s->owner[partition]].pid != MyProcPid)
			strlcpy(owner, NameStr(s->members[s->owner[partition]].name), NAMEDATALEN);
	}
	LWLockRelease(groups->lock);
	if (owner[0] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("partition %d of topic \"%s\" is assigned to member \"%s\" of group \"%s\"",
						partition, NameStr(topic->name), owner, group_id),
				 errdetail("Only the member that owns a partition commits its offsets."),
				 errhint("Use eventlog.seek() to reposition the group administratively.")));

	store_offset(group_id, NameStr(topic->name), partition, next);
	SPI_finish();
	PG_RETURN_VOID();
}

/* eventlog.seek(group_id, topic, partition, next_offset) */
PG_FUNCTION_INFO_V1(eventlog_seek);
Datum
eventlog_seek(PG_FUNCTION_ARGS)
{
	char	   *group_id;
	int			partition;
	int64		next;
	ElTopic    *topic = check_offset_args(fcinfo, &group_id, &partition, &next);
	GroupConfig cfg;

	SPI_connect();
	load_group(group_id, NameStr(topic->name), true, &cfg);
	store_offset(group_id, NameStr(topic->name), partition, next);
	SPI_finish();
	PG_RETURN_VOID();
}

/* eventlog.leave(group_id, topic, member) */
PG_FUNCTION_INFO_V1(eventlog_leave);
Datum
eventlog_leave(PG_FUNCTION_ARGS)
{
	char	   *group_id;
	ElTopic    *topic;
	char	   *member;
	bool		is_static;
	GroupConfig cfg;
	ElGroupSlot *s;
	int			i;

	require_not_null(fcinfo, 2, "group_id and topic");
	group_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_group_id(group_id);
	member = member_name(fcinfo, 2, &is_static);
	topic = el_topic_open(PG_GETARG_TEXT_PP(1), AccessShareLock, NULL);
	el_check_read_privilege(topic);

	SPI_connect();
	if (!load_group(group_id, NameStr(topic->name), false, &cfg))
		unknown_group(group_id, NameStr(topic->name));
	SPI_finish();

	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	s = find_slot(topic->relid, group_id, false);
	for (i = 0; s && i < s->nmembers; i++)
		if (strcmp(NameStr(s->members[i].name), member) == 0)
		{
			remove_member(s, i);
			rebalance(s);
			break;
		}
	LWLockRelease(groups->lock);
	PG_RETURN_VOID();
}

/*
 * eventlog.group_members(): the shared-memory membership of this database,
 * one row per member, with its assigned partitions.  Behind the views.
 */
PG_FUNCTION_INFO_V1(eventlog_group_members);
Datum
eventlog_group_members(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i,
				j,
				p;
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];

		if (!s->in_use || s->dbid != MyDatabaseId)
			continue;
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(s->topic_relid)))
		{
			/* the topic was dropped: its members are gone with it */
			s->in_use = false;
			s->nmembers = 0;
			continue;
		}
		expire_members(s, now);
		rebalance(s);
		for (j = 0; j < s->nmembers; j++)
		{
			ElMember   *m = &s->members[j];
			Datum		values[8];
			bool		nulls[8] = {false, false, false, false, false, false, false, false};
			Datum	   *pd = palloc(sizeof(Datum) * Max(s->nparts, 1));
			int			np = 0;

			for (p = 0; p < s->nparts; p++)
				if (s->owner[p] == j)
					pd[np++] = Int32GetDatum(p);
			values[0] = CStringGetTextDatum(NameStr(s->group_id));
			values[1] = CStringGetTextDatum(NameStr(s->topic));
			values[2] = CStringGetTextDatum(NameStr(m->name));
			values[3] = Int32GetDatum(m->pid);
			nulls[3] = (m->pid == 0);
			values[4] = BoolGetDatum(m->is_static);
			values[5] = PointerGetDatum(construct_array(pd, np, INT4OID, 4, true, TYPALIGN_INT));
			values[6] = TimestampTzGetDatum(m->joined_at);
			values[7] = TimestampTzGetDatum(m->last_poll);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	LWLockRelease(groups->lock);
	return (Datum) 0;
}
