/*
 * groupslots.h
 *		The shared-memory table of consumer-group slots: one slot per
 *		(database, topic, group) with members, guarded by one LWLock.
 *
 * Callers never see the lock: each function below takes it, applies the
 * assignment rules of groupassign.h to the slot, and copies out what the
 * caller needs.  Setup (shared memory, settings, transaction callbacks)
 * is declared in group.h.
 */
#ifndef EVENTLOG_GROUPSLOTS_H
#define EVENTLOG_GROUPSLOTS_H

#include "eventlog/groupassign.h"
#include "eventlog/topic.h"

/* One member of a group of this database, as eventlog.group_members() shows it */
typedef struct ElMemberRow
{
	int			slot;
	uint64		incarnation;	/* identifies the group the slot held */
	Oid			topic_relid;
	NameData	group_id;
	NameData	topic;
	ElMember	m;
	int			nparts;
	int		   *parts;			/* ascending */
} ElMemberRow;

extern int	el_slots_join(ElTopic *topic, const char *group_id,
						  const char *member, bool is_static,
						  int64 session_timeout_ms, int64 max_poll_interval_ms,
						  bool group_new, int *parts);
extern bool el_slots_other_owner(Oid topic_relid, const char *group_id,
								 int partition, char *owner);
extern void el_slots_leave(Oid topic_relid, const char *group_id,
						   const char *member);
extern ElMemberRow *el_slots_members(int *nrows);
extern void el_slots_release(int slot, uint64 incarnation);

#endif							/* EVENTLOG_GROUPSLOTS_H */
