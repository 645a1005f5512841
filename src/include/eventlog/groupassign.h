/*
 * groupassign.h
 *		Consumer-group membership and partition assignment: the state of
 *		one group (a slot) and the pure functions that change it.
 *
 * Nothing here knows where a slot lives or who guards it: the functions
 * take the slot and everything else they need (the time, the caller's pid,
 * whether a backend is alive) as arguments, so the assignment rules can
 * be read, and reasoned about, apart from the shared-memory table
 * (groupslots.h) and the SQL functions (groupfuncs.c).
 */
#ifndef EVENTLOG_GROUPASSIGN_H
#define EVENTLOG_GROUPASSIGN_H

#include "datatype/timestamp.h"

#include "eventlog/eventlog.h"

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

/* Is the backend with this pid still running? */
typedef bool (*ElBackendAlive) (int pid);

extern int	el_member_find(const ElGroupSlot *s, const char *name);
extern int	el_member_join(ElGroupSlot *s, const char *name, bool is_static,
						   int pid, uint64 join_seq, TimestampTz now,
						   bool *joined);
extern void el_member_remove(ElGroupSlot *s, int idx);
extern void el_members_expire(ElGroupSlot *s, TimestampTz now,
							  ElBackendAlive alive);
extern void el_members_detach_pid(ElGroupSlot *s, int pid);
extern void el_group_rebalance(ElGroupSlot *s);
extern int	el_member_partitions(const ElGroupSlot *s, int idx, int start,
								 int *parts);
extern void el_group_expiry(const ElGroupSlot *s, TimestampTz *last_poll,
							TimestampTz *expires_at, int *static_members);

#endif							/* EVENTLOG_GROUPASSIGN_H */
