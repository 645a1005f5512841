/*
 * groupslots.c
 *		The shared-memory table of consumer-group slots: allocation and
 *		its limits, undo of joins on rollback, members leaving on backend
 *		exit, and the operator's view of it (group_slots(),
 *		release_group_slots()).
 *
 * Membership is soft state in shared memory (rebuilt as members poll after
 * a restart): a group (per topic) with members holds one slot of
 * eventlog.max_consumer_groups, shared by every database and role of the
 * server, so a slot is charged to a role and a database and both have a
 * limit (README "Group slots and their limits").  One LWLock guards the
 * whole table; every function here takes it and runs the pure rules of
 * groupassign.c on the slot it found, so no caller ever holds it.  Catalog
 * lookups never run under the lock.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "eventlog/group.h"
#include "eventlog/groupslots.h"

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
 * Finding, expiring, taking and freeing slots (callers hold groups->lock
 * exclusively)
 * ----------------------------------------------------------------
 */

static bool
backend_alive(int pid)
{
	return BackendPidGetProc(pid) != NULL;
}

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

/* Empty a slot: its group has no members and it may hold another group. */
static void
release_slot(ElGroupSlot *s)
{
	s->in_use = false;
	s->nmembers = 0;
	s->generation++;
}

/*
 * Bring a slot's assignment up to date: expire the members that are gone,
 * rebalance, and free the slot if nobody is left.  Returns whether the
 * slot still holds its group.
 */
static bool
refresh_slot(ElGroupSlot *s, TimestampTz now)
{
	el_members_expire(s, now, backend_alive);
	el_group_rebalance(s);
	if (s->nmembers == 0)
	{
		release_slot(s);
		return false;
	}
	return true;
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

		if (!s->in_use || !refresh_slot(s, now))
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
 * the same group.  Called without the lock.
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
					el_member_remove(s, j);
					el_group_rebalance(s);
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
	int			i;

	if (groups == NULL)
		return;
	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];

		if (!s->in_use)
			continue;
		el_members_detach_pid(s, MyProcPid);
		el_group_rebalance(s);
		if (s->nmembers == 0)
			release_slot(s);
	}
	LWLockRelease(groups->lock);
}

/* ----------------------------------------------------------------
 * What the SQL functions of groupfuncs.c do with the table
 * ----------------------------------------------------------------
 */

/*
 * poll(): join (or refresh) the member, expire, rebalance; stores the
 * member's partitions in serving order in parts (room for topic->nparts)
 * and returns how many.  group_new: the group's consumer_group row was
 * written by this transaction.  A rollback undoes the join or frees the
 * slot where ElJoinUndo says so.
 */
int
el_slots_join(ElTopic *topic, const char *group_id, const char *member,
			  bool is_static, int64 session_timeout_ms,
			  int64 max_poll_interval_ms, bool group_new, int *parts)
{
	ElGroupSlot *s;
	TimestampTz now = GetCurrentTimestamp();
	int			me;
	int			n;
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
	s->session_timeout_ms = session_timeout_ms;
	s->max_poll_interval_ms = max_poll_interval_ms;
	el_members_expire(s, now, backend_alive);
	me = el_member_join(s, member, is_static, MyProcPid, groups->join_seq + 1,
						now, &joined);
	if (me < 0)
	{
		LWLockRelease(groups->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("consumer group \"%s\" already has %d members",
						group_id, EL_GROUP_MAX_MEMBERS)));
	}
	if (joined)
	{
		ElJoinUndo *u = &join_undo[njoin_undo++];

		groups->join_seq++;
		u->slot = s - groups->slots;
		u->incarnation = s->incarnation;
		u->join_seq = s->members[me].join_seq;
		u->subid = GetCurrentSubTransactionId();
		u->group_new = group_new;
		u->slot_new = slot_new;
	}
	el_group_rebalance(s);

	n = el_member_partitions(s, me, s->members[me].next_start++, parts);
	LWLockRelease(groups->lock);
	return n;
}

/*
 * commit(): is the partition assigned to a live member polling from
 * another backend?  Then true, with its name in owner (NAMEDATALEN).
 */
bool
el_slots_other_owner(Oid topic_relid, const char *group_id, int partition,
					 char *owner)
{
	ElGroupSlot *s;
	bool		other = false;

	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	s = find_slot(topic_relid, group_id);
	if (s)
	{
		el_members_expire(s, GetCurrentTimestamp(), backend_alive);
		el_group_rebalance(s);
		if (partition < s->nparts && s->owner[partition] >= 0 &&
			s->members[s->owner[partition]].pid != MyProcPid)
		{
			strlcpy(owner, NameStr(s->members[s->owner[partition]].name), NAMEDATALEN);
			other = true;
		}
	}
	LWLockRelease(groups->lock);
	return other;
}

/* leave(): the member goes; its partitions are reassigned at once. */
void
el_slots_leave(Oid topic_relid, const char *group_id, const char *member)
{
	ElGroupSlot *s;
	int			i;

	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	s = find_slot(topic_relid, group_id);
	if (s && (i = el_member_find(s, member)) >= 0)
	{
		el_member_remove(s, i);
		el_group_rebalance(s);
		if (s->nmembers == 0)
			release_slot(s);
	}
	LWLockRelease(groups->lock);
}

/*
 * group_members(): a copy of the live members of this database's groups,
 * slot by slot, with their partitions.  The caller checks the topics
 * against the catalog (not possible under the lock) and frees the slots of
 * dropped ones with el_slots_release().
 */
ElMemberRow *
el_slots_members(int *nrows)
{
	TimestampTz now = GetCurrentTimestamp();
	int			maxrows = 64;
	ElMemberRow *rows = palloc(sizeof(ElMemberRow) * maxrows);
	int			i,
				j;

	*nrows = 0;
	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];

		if (!s->in_use || s->dbid != MyDatabaseId)
			continue;
		if (!refresh_slot(s, now))
			continue;
		for (j = 0; j < s->nmembers; j++)
		{
			ElMemberRow *r;

			if (*nrows == maxrows)
			{
				maxrows *= 2;
				rows = repalloc(rows, sizeof(ElMemberRow) * maxrows);
			}
			r = &rows[(*nrows)++];
			r->slot = i;
			r->incarnation = s->incarnation;
			r->topic_relid = s->topic_relid;
			r->group_id = s->group_id;
			r->topic = s->topic;
			r->m = s->members[j];
			r->parts = palloc(sizeof(int) * Max(s->nparts, 1));
			r->nparts = el_member_partitions(s, j, 0, r->parts);
		}
	}
	LWLockRelease(groups->lock);
	return rows;
}

/* Free a slot if it still holds the group it held when copied. */
void
el_slots_release(int slot, uint64 incarnation)
{
	ElGroupSlot *s = &groups->slots[slot];

	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	if (s->in_use && s->incarnation == incarnation)
		release_slot(s);
	LWLockRelease(groups->lock);
}

/* ----------------------------------------------------------------
 * The operator's functions
 * ----------------------------------------------------------------
 */

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
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	reclaim_stale_slots();
	rows = palloc(sizeof(SlotRow) * groups->nslots);
	LWLockAcquire(groups->lock, LW_EXCLUSIVE);
	for (i = 0; i < groups->nslots; i++)
	{
		ElGroupSlot *s = &groups->slots[i];
		SlotRow    *r;

		if (!s->in_use || !refresh_slot(s, now))
			continue;
		r = &rows[nrows++];
		r->slot = i;
		r->dbid = s->dbid;
		r->roleid = s->roleid;
		r->group_id = s->group_id;
		r->topic = s->topic;
		r->members = s->nmembers;
		r->created_at = s->created_at;
		el_group_expiry(s, &r->last_poll, &r->expires_at, &r->static_members);
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
