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
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
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

#include "eventlog/elstore.h"
#include "eventlog/eventlog.h"
#include "eventlog/fetch.h"
#include "eventlog/group.h"
#include "eventlog/notify.h"
#include "eventlog/topic.h"

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
	uint64		incarnation;	/* new for every group the slot holds */
	Oid			dbid;
	Oid			roleid;			/* the role the slot is charged to */
	TimestampTz created_at;
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
	uint64		incarnation;
	int			nslots;
	ElGroupSlot slots[FLEXIBLE_ARRAY_MEMBER];
} ElGroupState;

int			el_max_groups = 128;
int			el_max_groups_per_role = 32;
int			el_max_groups_per_database = 64;
int			el_max_session_timeout = 30 * 60;	/* seconds */

static ElGroupState *groups = NULL;
static bool exit_hook_registered = false;

/*
 * Member joins of the current transaction, so that a rollback can undo
 * what must not outlive it.  Membership is shared memory, which does not
 * roll back by itself, and as in Kafka joining is not transactional: a
 * member that joined an existing group stays after a rollback (and gets
 * its records again).  But
 *	- a join into a group whose consumer_group row this transaction wrote
 *	  is undone: the row may be gone, and group_members() must not show
 *	  members of a group that consumer_groups does not;
 *	- a slot this (sub)transaction took is freed when only members that
 *	  joined in it are there, so BEGIN; poll() x N; ROLLBACK leaves no
 *	  slot behind.
 */
typedef struct ElJoinUndo
{
	int			slot;			/* index into groups->slots */
	uint64		incarnation;	/* still the same group? */
	uint64		join_seq;		/* still the same member? */
	SubTransactionId subid;		/* the (sub)transaction that joined */
	bool		group_new;		/* the group's row is this transaction's */
	bool		slot_new;		/* the join took the slot */
} ElJoinUndo;

static ElJoinUndo *join_undo = NULL;
static int	njoin_undo = 0;
static int	maxjoin_undo = 0;

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
find_slot(Oid topic_relid, const char *group_id)
{
	int			i;

	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];

		if (s->in_use && s->dbid == MyDatabaseId && s->topic_relid == topic_relid &&
			strcmp(NameStr(s->group_id), group_id) == 0)
			return s;
	}
	return NULL;
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

/* Has a member been silent for longer than ms milliseconds? */
static bool
silent_for(const ElMember *m, TimestampTz now, int64 ms)
{
	/* ms is bounded by eventlog.max_session_timeout: no overflow */
	return now - m->last_poll > ms * 1000;
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
		else if (m->is_static && silent_for(m, now, s->session_timeout_ms))
			gone = true;
		else if (silent_for(m, now, s->max_poll_interval_ms))
			gone = true;
		if (gone)
			remove_member(s, i);
		else
			i++;
	}
}

/* Join (or refresh) a member; *joined says whether it is new. */
static int
join_member(ElGroupSlot *s, const char *name, bool is_static, TimestampTz now,
			bool *joined)
{
	int			i;
	ElMember   *m;

	*joined = false;
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
	*joined = true;
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

/* Empty a slot: its group has no members and it may hold another group. */
static void
release_slot(ElGroupSlot *s)
{
	s->in_use = false;
	s->nmembers = 0;
	s->generation++;
}

/*
 * Take a slot for a new group of this database, charged to the current
 * role.  Callers hold groups->lock exclusively and found no slot for the
 * group.  Members that are gone are expired first everywhere, so that
 * neither the limits nor the search for a free slot count them; a slot
 * whose group has no members left is free.  Raises an error (with the
 * lock released) when the role, the database or the server is at its
 * limit.
 */
static ElGroupSlot *
allocate_slot(Oid topic_relid, const char *group_id, TimestampTz now)
{
	Oid			roleid = GetUserId();
	ElGroupSlot *free_slot = NULL;
	int			role_slots = 0;
	int			db_slots = 0;
	int			i;

	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];

		if (s->in_use)
		{
			expire_members(s, now);
			rebalance(s);
			if (s->nmembers == 0)
				release_slot(s);
		}
		if (!s->in_use)
		{
			if (free_slot == NULL)
				free_slot = s;
			continue;
		}
		if (s->roleid == roleid)
			role_slots++;
		if (s->dbid == MyDatabaseId)
			db_slots++;
	}

	if (el_max_groups_per_role >= 0 && role_slots >= el_max_groups_per_role)
	{
		LWLockRelease(groups->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many active consumer groups for role \"%s\"",
						GetUserNameFromId(roleid, false)),
				 errdetail("The role already has %d consumer groups with members, the limit set by eventlog.max_consumer_groups_per_role.",
						   role_slots),
				 errhint("Let members of idle groups leave with eventlog.leave(), or ask a superuser to raise the limit for this role (ALTER ROLE ... SET eventlog.max_consumer_groups_per_role).")));
	}
	if (el_max_groups_per_database >= 0 && db_slots >= el_max_groups_per_database)
	{
		LWLockRelease(groups->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many active consumer groups in database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errdetail("The database already has %d consumer groups with members, the limit set by eventlog.max_consumer_groups_per_database.",
						   db_slots),
				 errhint("Let members of idle groups leave with eventlog.leave(), or ask a superuser to raise the limit for this database (ALTER DATABASE ... SET eventlog.max_consumer_groups_per_database).")));
	}
	if (free_slot == NULL)
	{
		LWLockRelease(groups->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many active consumer groups"),
				 errdetail("At most %d groups can have members at the same time.", el_max_groups),
				 errhint("Raise eventlog.max_consumer_groups (needs a restart); eventlog.group_slots() shows who holds the slots.")));
	}

	memset(free_slot, 0, sizeof(ElGroupSlot));
	free_slot->in_use = true;
	free_slot->incarnation = ++groups->incarnation;
	free_slot->dbid = MyDatabaseId;
	free_slot->roleid = roleid;
	free_slot->created_at = now;
	free_slot->topic_relid = topic_relid;
	namestrcpy(&free_slot->group_id, group_id);
	memset(free_slot->owner, -1, sizeof(free_slot->owner));
	return free_slot;
}

/*
 * Free the slots of databases that no longer exist, and of this database's
 * topics that were dropped.  Static members of a dropped database would
 * otherwise keep their slots until their session timeout, server-wide (no
 * backend can connect there again to expire them), and both kinds would
 * count against the limits.  The catalog lookups run without groups->lock:
 * collect the slots first, check them, then free those that still hold
 * the same group.
 */
typedef struct StaleCandidate
{
	int			slot;
	uint64		incarnation;
	Oid			dbid;
	Oid			relid;
} StaleCandidate;

static void
reclaim_stale_slots(void)
{
	StaleCandidate *c = palloc(sizeof(StaleCandidate) * groups->nslots);
	int			n = 0;
	int			nstale = 0;
	int			i;

	LWLockAcquire(groups->lock, LW_SHARED);
	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];

		if (!s->in_use)
			continue;
		c[n].slot = i;
		c[n].incarnation = s->incarnation;
		c[n].dbid = s->dbid;
		c[n].relid = s->topic_relid;
		n++;
	}
	LWLockRelease(groups->lock);

	for (i = 0; i < n; i++)
	{
		bool		stale;

		if (c[i].dbid == MyDatabaseId)
			stale = !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(c[i].relid));
		else
			stale = !SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(c[i].dbid));
		if (stale)
			c[nstale++] = c[i];
	}

	if (nstale > 0)
	{
		LWLockAcquire(groups->lock, LW_EXCLUSIVE);
		for (i = 0; i < nstale; i++)
		{
			ElGroupSlot *s = &groups->slots[c[i].slot];

			if (s->in_use && s->incarnation == c[i].incarnation)
				release_slot(s);
		}
		LWLockRelease(groups->lock);
	}
	pfree(c);
}

/* ----------------------------------------------------------------
 * Undoing the joins of a transaction that rolls back
 * ----------------------------------------------------------------
 */

/* Room for one more undo entry, made before groups->lock is taken. */
static void
reserve_join_undo(void)
{
	if (njoin_undo < maxjoin_undo)
		return;
	if (join_undo == NULL)
	{
		maxjoin_undo = 16;
		join_undo = MemoryContextAlloc(TopMemoryContext,
									   sizeof(ElJoinUndo) * maxjoin_undo);
	}
	else
	{
		maxjoin_undo *= 2;
		join_undo = repalloc(join_undo, sizeof(ElJoinUndo) * maxjoin_undo);
	}
}

/* Is undo entry u undone by the abort of subid (invalid: the whole xact)? */
static inline bool
undo_applies(const ElJoinUndo *u, SubTransactionId subid)
{
	return subid == InvalidSubTransactionId || u->subid == subid;
}

/*
 * Undo the joins of the aborting (sub)transaction subid, or of the whole
 * transaction if subid is invalid, as the comment at ElJoinUndo says.
 * Runs in abort callbacks: no errors, and the LWLocks of the failed
 * transaction are already released.
 */
static void
undo_joins(SubTransactionId subid)
{
	int			i,
				j,
				k,
				keep = 0;

	if (njoin_undo == 0 || groups == NULL)
		return;
	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	for (i = 0; i < njoin_undo; i++)
	{
		ElJoinUndo *u = &join_undo[i];
		ElGroupSlot *s = &groups->slots[u->slot];

		if (!s->in_use || s->incarnation != u->incarnation)
			continue;			/* freed or reused since */
		if (u->group_new && undo_applies(u, subid))
		{
			for (j = 0; j < s->nmembers; j++)
				if (s->members[j].join_seq == u->join_seq)
				{
					remove_member(s, j);
					rebalance(s);
					break;
				}
		}
		else if (u->slot_new && undo_applies(u, subid))
		{
			/* does any member come from outside the aborting part? */
			bool		outsider = false;

			for (j = 0; j < s->nmembers && !outsider; j++)
			{
				outsider = true;
				for (k = 0; k < njoin_undo; k++)
					if (join_undo[k].slot == u->slot &&
						join_undo[k].incarnation == u->incarnation &&
						join_undo[k].join_seq == s->members[j].join_seq &&
						undo_applies(&join_undo[k], subid))
						outsider = false;
			}
			if (!outsider)
				s->nmembers = 0;
		}
		if (s->nmembers == 0)
			release_slot(s);
	}
	/* keep the entries of the transaction's other, still live parts */
	for (i = 0; i < njoin_undo; i++)
		if (!undo_applies(&join_undo[i], subid))
			join_undo[keep++] = join_undo[i];
	njoin_undo = keep;
	LWLockRelease(groups->lock);
}

static void
group_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			njoin_undo = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			undo_joins(InvalidSubTransactionId);
			njoin_undo = 0;
			break;
		default:
			break;
	}
}

static void
group_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			i;

	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			undo_joins(mySubid);
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			/* the parent now answers for them */
			for (i = 0; i < njoin_undo; i++)
				if (join_undo[i].subid == mySubid)
					join_undo[i].subid = parentSubid;
			break;
		default:
			break;
	}
}

void
el_group_register_callbacks(void)
{
	RegisterXactCallback(group_xact_callback, NULL);
	RegisterSubXactCallback(group_subxact_callback, NULL);
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
		if (s->nmembers == 0)
			release_slot(s);
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
	bool		mine;			/* the row was written by this transaction */
} GroupConfig;

/*
 * The longest session_timeout and max_poll_interval a group may have, in
 * milliseconds: a static member (or a member that stopped polling) keeps
 * its group's slot at most that long.
 */
static int64
max_timeout_ms(void)
{
	return (int64) el_max_session_timeout * 1000;
}

/*
 * A timeout of the consumer_group table in milliseconds, bounded by
 * eventlog.max_session_timeout: rows written before the setting was
 * lowered get the new bound too.
 */
static int64
timeout_to_ms(Datum d)
{
	int64		us = el_interval_usecs(DatumGetIntervalP(d));

	return Max(Min(us / 1000, max_timeout_ms()), 1);
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
							  " auto_commit, xmin FROM eventlog.consumer_group"
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
			cfg->session_timeout_ms = Min(45 * 1000, max_timeout_ms());
			cfg->max_poll_interval_ms = Min(5 * 60 * 1000, max_timeout_ms());
			cfg->latest = false;
			cfg->auto_commit = true;
			cfg->mine = false;
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
	cfg->session_timeout_ms = timeout_to_ms(SPI_getbinval(tup, td, 1, &isnull));
	cfg->max_poll_interval_ms = timeout_to_ms(SPI_getbinval(tup, td, 2, &isnull));
	cfg->latest = strcmp(TextDatumGetCString(SPI_getbinval(tup, td, 3, &isnull)), "latest") == 0;
	cfg->auto_commit = DatumGetBool(SPI_getbinval(tup, td, 4, &isnull));
	cfg->mine = TransactionIdIsCurrentTransactionId(DatumGetTransactionId(SPI_getbinval(tup, td, 5, &isnull)));
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

	start = cfg->latest ? el_partition_log_end(&topic->parts[partition]) :
		el_partition_log_start(&topic->parts[partition]);
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

/*
 * Join, expire, rebalance; returns the member's partitions in serving order.
 * A rollback undoes the join or frees the slot where ElJoinUndo says so.
 */
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
	bool		joined;
	bool		slot_new = false;

	if (!exit_hook_registered)
	{
		before_shmem_exit(leave_on_exit, (Datum) 0);
		exit_hook_registered = true;
	}
	reserve_join_undo();

	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	s = find_slot(topic->relid, group_id);
	if (s == NULL)
	{
		/*
		 * A new group (or one whose members were all gone): rare, so this
		 * is the time to free the slots of dropped databases and topics,
		 * which needs the lock released.
		 */
		LWLockRelease(groups->lock);
		reclaim_stale_slots();
		LWLockAcquire(groups->lock, LW_EXCLUSIVE);
		s = find_slot(topic->relid, group_id);
		if (s == NULL)
		{
			s = allocate_slot(topic->relid, group_id, now);
			slot_new = true;
		}
	}
	namestrcpy(&s->topic, NameStr(topic->name));
	s->nparts = topic->nparts;
	s->session_timeout_ms = cfg->session_timeout_ms;
	s->max_poll_interval_ms = cfg->max_poll_interval_ms;
	expire_members(s, now);
	me = join_member(s, member, is_static, now, &joined);
	if (joined)
	{
		ElJoinUndo *u = &join_undo[njoin_undo++];

		u->slot = s - groups->slots;
		u->incarnation = s->incarnation;
		u->join_seq = s->members[me].join_seq;
		u->subid = GetCurrentSubTransactionId();
		u->group_new = cfg->mine;
		u->slot_new = slot_new;
	}
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
			int64		log_end = el_partition_log_end(&topic->parts[p]);
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
			log_start = el_partition_log_start(&topic->parts[p]);
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
	log_end = el_partition_log_end(&topic->parts[*partition]);
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
	s = find_slot(topic->relid, group_id);
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
	s = find_slot(topic->relid, group_id);
	for (i = 0; s && i < s->nmembers; i++)
		if (strcmp(NameStr(s->members[i].name), member) == 0)
		{
			remove_member(s, i);
			rebalance(s);
			if (s->nmembers == 0)
				release_slot(s);
			break;
		}
	LWLockRelease(groups->lock);
	PG_RETURN_VOID();
}

/*
 * eventlog.group_members(): the shared-memory membership of this database,
 * one row per member, with its assigned partitions.  Behind the views.
 *
 * Rows are copied under groups->lock and checked against the catalog
 * after releasing it (no catalog access under an LWLock): the slots of a
 * topic dropped since are freed then.
 */
typedef struct MemberRow
{
	int			slot;
	uint64		incarnation;
	Oid			topic_relid;
	NameData	group_id;
	NameData	topic;
	ElMember	m;
	int			nparts;
	Datum	   *parts;
	bool		gone;			/* its topic was dropped */
} MemberRow;

PG_FUNCTION_INFO_V1(eventlog_group_members);
Datum
eventlog_group_members(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i,
				j,
				p;
	TimestampTz now = GetCurrentTimestamp();
	MemberRow  *rows;
	int			nrows = 0;
	int			maxrows = 64;
	int			lastslot = -1;
	bool		gone = false;
	bool		any_gone = false;

	InitMaterializedSRF(fcinfo, 0);
	rows = palloc(sizeof(MemberRow) * maxrows);
	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];

		if (!s->in_use || s->dbid != MyDatabaseId)
			continue;
		expire_members(s, now);
		rebalance(s);
		if (s->nmembers == 0)
		{
			release_slot(s);
			continue;
		}
		for (j = 0; j < s->nmembers; j++)
		{
			MemberRow  *r;

			if (nrows == maxrows)
			{
				maxrows *= 2;
				rows = repalloc(rows, sizeof(MemberRow) * maxrows);
			}
			r = &rows[nrows++];
			r->slot = i;
			r->incarnation = s->incarnation;
			r->topic_relid = s->topic_relid;
			r->group_id = s->group_id;
			r->topic = s->topic;
			r->m = s->members[j];
			r->parts = palloc(sizeof(Datum) * Max(s->nparts, 1));
			r->nparts = 0;
			for (p = 0; p < s->nparts; p++)
				if (s->owner[p] == j)
					r->parts[r->nparts++] = Int32GetDatum(p);
		}
	}
	LWLockRelease(groups->lock);

	for (i = 0; i < nrows; i++)
	{
		MemberRow  *r = &rows[i];
		Datum		values[8];
		bool		nulls[8] = {false, false, false, false, false, false, false, false};

		if (r->slot != lastslot)
		{
			/* a dropped topic's members are gone with it */
			lastslot = r->slot;
			gone = !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(r->topic_relid));
			any_gone |= gone;
		}
		r->gone = gone;
		if (gone)
			continue;
		values[0] = CStringGetTextDatum(NameStr(r->group_id));
		values[1] = CStringGetTextDatum(NameStr(r->topic));
		values[2] = CStringGetTextDatum(NameStr(r->m.name));
		values[3] = Int32GetDatum(r->m.pid);
		nulls[3] = (r->m.pid == 0);
		values[4] = BoolGetDatum(r->m.is_static);
		values[5] = PointerGetDatum(construct_array(r->parts, r->nparts, INT4OID,
													4, true, TYPALIGN_INT));
		values[6] = TimestampTzGetDatum(r->m.joined_at);
		values[7] = TimestampTzGetDatum(r->m.last_poll);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	if (any_gone)
	{
		LWLockAcquire(groups->lock, LW_EXCLUSIVE);
		for (i = 0; i < nrows; i++)
		{
			ElGroupSlot *s = &groups->slots[rows[i].slot];

			if (rows[i].gone && s->in_use &&
				s->incarnation == rows[i].incarnation)
				release_slot(s);
		}
		LWLockRelease(groups->lock);
	}
	return (Datum) 0;
}

/* A copy of what eventlog.group_slots() shows of one slot. */
typedef struct SlotRow
{
	int			slot;
	Oid			dbid;
	Oid			roleid;
	NameData	group_id;
	NameData	topic;
	int			members;
	int			static_members;
	TimestampTz created_at;
	TimestampTz last_poll;
	TimestampTz expires_at;
} SlotRow;

/*
 * eventlog.group_slots(): every occupied consumer-group slot of the
 * server, whichever database it belongs to, for an operator to see who
 * holds them.  Superusers and members of pg_read_all_stats see all slots;
 * other roles see the slots charged to roles whose privileges they have.
 */
PG_FUNCTION_INFO_V1(eventlog_group_slots);
Datum
eventlog_group_slots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTimestamp();
	bool		see_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	SlotRow    *rows;
	int			nrows = 0;
	int			i,
				j;

	InitMaterializedSRF(fcinfo, 0);
	reclaim_stale_slots();
	rows = palloc(sizeof(SlotRow) * groups->nslots);
	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];
		SlotRow    *r;

		if (!s->in_use)
			continue;
		expire_members(s, now);
		rebalance(s);
		if (s->nmembers == 0)
		{
			release_slot(s);
			continue;
		}
		r = &rows[nrows++];
		r->slot = i;
		r->dbid = s->dbid;
		r->roleid = s->roleid;
		r->group_id = s->group_id;
		r->topic = s->topic;
		r->members = s->nmembers;
		r->static_members = 0;
		r->created_at = s->created_at;
		r->last_poll = 0;
		r->expires_at = 0;
		for (j = 0; j < s->nmembers; j++)
		{
			ElMember   *m = &s->members[j];
			int64		ms = s->max_poll_interval_ms;
			TimestampTz until;

			if (m->is_static)
			{
				r->static_members++;
				ms = Min(ms, s->session_timeout_ms);
			}
			until = m->last_poll + ms * 1000;
			r->last_poll = Max(r->last_poll, m->last_poll);
			r->expires_at = Max(r->expires_at, until);
		}
	}
	LWLockRelease(groups->lock);

	for (i = 0; i < nrows; i++)
	{
		SlotRow    *r = &rows[i];
		Datum		values[10];
		bool		nulls[10] = {0};
		char	   *dbname;
		char	   *rolname;

		if (!see_all && !has_privs_of_role(GetUserId(), r->roleid))
			continue;
		dbname = get_database_name(r->dbid);
		rolname = GetUserNameFromId(r->roleid, true);
		values[0] = Int32GetDatum(r->slot);
		values[1] = CStringGetTextDatum(dbname ? dbname : "");
		nulls[1] = (dbname == NULL);
		values[2] = CStringGetTextDatum(rolname ? rolname : "");
		nulls[2] = (rolname == NULL);
		values[3] = CStringGetTextDatum(NameStr(r->group_id));
		values[4] = CStringGetTextDatum(NameStr(r->topic));
		values[5] = Int32GetDatum(r->members);
		values[6] = Int32GetDatum(r->static_members);
		values[7] = TimestampTzGetDatum(r->created_at);
		values[8] = TimestampTzGetDatum(r->last_poll);

		/*
		 * When the slot frees itself if nobody polls again; session members
		 * whose backend exits leave at once, before that.
		 */
		values[9] = TimestampTzGetDatum(r->expires_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * eventlog.release_group_slots(database, role_name, group_id, topic):
 * free every occupied slot matching all given (non-NULL) filters, with all
 * its members, and return how many were freed.  Superuser only: it takes
 * partitions away from other roles' consumers.  Committed offsets are not
 * touched; a member that polls again rejoins (within the limits).
 */
PG_FUNCTION_INFO_V1(eventlog_release_group_slots);
Datum
eventlog_release_group_slots(PG_FUNCTION_ARGS)
{
	Oid			dbid = InvalidOid;
	Oid			roleid = InvalidOid;
	char	   *group_id = NULL;
	char	   *topic = NULL;
	int			freed = 0;
	int			i;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to release consumer group slots"),
				 errdetail("Only superusers may release consumer group slots.")));
	if (!PG_ARGISNULL(0))
		dbid = get_database_oid(NameStr(*PG_GETARG_NAME(0)), false);
	if (!PG_ARGISNULL(1))
		roleid = get_role_oid(NameStr(*PG_GETARG_NAME(1)), false);
	if (!PG_ARGISNULL(2))
		group_id = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(3))
		topic = text_to_cstring(PG_GETARG_TEXT_PP(3));

	reclaim_stale_slots();
	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];

		if (!s->in_use || s->nmembers == 0)
			continue;
		if ((OidIsValid(dbid) && s->dbid != dbid) ||
			(OidIsValid(roleid) && s->roleid != roleid) ||
			(group_id && strcmp(NameStr(s->group_id), group_id) != 0) ||
			(topic && strcmp(NameStr(s->topic), topic) != 0))
			continue;
		release_slot(s);
		freed++;
	}
	LWLockRelease(groups->lock);
	PG_RETURN_INT32(freed);
}

/*
 * eventlog.configure_group(group_id, topic, session_timeout,
 * max_poll_interval, auto_offset_reset, auto_commit): create or change a
 * group's settings; NULL keeps a setting (or takes its default).
 *
 * Written in C so that the privilege check sees the caller's current role
 * (after SET ROLE, too), as every other function does; the catalog write
 * then runs as the catalog owner.
 */
static Datum
checked_timeout(FunctionCallInfo fcinfo, int argno, const char *what)
{
	int64		us;

	if (PG_ARGISNULL(argno))
		return (Datum) 0;
	us = el_interval_usecs(PG_GETARG_INTERVAL_P(argno));
	if (us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("session_timeout and max_poll_interval must be positive intervals")));
	if (us / 1000 > max_timeout_ms())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not exceed eventlog.max_session_timeout (%d s)",
						what, el_max_session_timeout),
				 errdetail("A member that stops polling keeps its group's slot for this long."),
				 errhint("Choose a shorter interval, or ask a superuser to raise eventlog.max_session_timeout.")));
	return PG_GETARG_DATUM(argno);
}

PG_FUNCTION_INFO_V1(eventlog_configure_group);
Datum
eventlog_configure_group(PG_FUNCTION_ARGS)
{
	char	   *group_id;
	ElTopic    *topic;
	Oid			types[6] = {TEXTOID, TEXTOID, INTERVALOID, INTERVALOID, TEXTOID, BOOLOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	ElCatalogOwner catowner;
	int			i;

	require_not_null(fcinfo, 2, "group_id and topic");
	group_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_group_id(group_id);
	topic = el_topic_open(PG_GETARG_TEXT_PP(1), AccessShareLock, NULL);
	el_check_read_privilege(topic);

	args[0] = CStringGetTextDatum(group_id);
	args[1] = CStringGetTextDatum(NameStr(topic->name));
	args[2] = checked_timeout(fcinfo, 2, "session_timeout");
	args[3] = checked_timeout(fcinfo, 3, "max_poll_interval");
	args[4] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	args[5] = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	for (i = 2; i < 6; i++)
		if (PG_ARGISNULL(i))
			nulls[i] = 'n';
	if (!PG_ARGISNULL(4))
	{
		char	   *reset = text_to_cstring(PG_GETARG_TEXT_PP(4));

		if (strcmp(reset, "earliest") != 0 && strcmp(reset, "latest") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid auto_offset_reset \"%s\"", reset),
					 errhint("Use \"earliest\" or \"latest\".")));
	}

	/* a poll() that sees the row being created skips it instead of waiting */
	(void) create_lock(topic->relid, group_id, -1, false);
	SPI_connect();
	el_catalog_owner_begin(&catowner);
	el_spi_exec("INSERT INTO eventlog.consumer_group AS g"
				" (group_id, topic, session_timeout, max_poll_interval,"
				"  auto_offset_reset, auto_commit)"
				" VALUES ($1, $2, coalesce($3, '45 s'), coalesce($4, '5 min'),"
				"  coalesce($5, 'earliest'), coalesce($6, true))"
				" ON CONFLICT ON CONSTRAINT consumer_group_pkey DO UPDATE"
				" SET session_timeout = coalesce($3, g.session_timeout),"
				" max_poll_interval = coalesce($4, g.max_poll_interval),"
				" auto_offset_reset = coalesce($5, g.auto_offset_reset),"
				" auto_commit = coalesce($6, g.auto_commit)",
				6, types, args, nulls, SPI_OK_INSERT);
	el_catalog_owner_end(&catowner);
	SPI_finish();
	PG_RETURN_VOID();
}
