/*
 * groupoffsets.h
 *		The durable state of consumer groups: settings per (group, topic) in
 *		eventlog.consumer_group, committed offsets per partition in
 *		eventlog.group_offset.  Plain tables, so transactional for free.
 *
 * Every function runs inside SPI (the caller connects).
 */
#ifndef EVENTLOG_GROUPOFFSETS_H
#define EVENTLOG_GROUPOFFSETS_H

#include "utils/acl.h"

#include "eventlog/topic.h"

/* A group's settings, as poll() uses them */
typedef struct ElGroupConfig
{
	int64		session_timeout_ms;
	int64		max_poll_interval_ms;
	bool		latest;			/* auto_offset_reset = 'latest' */
	bool		auto_commit;
	bool		mine;			/* the row was written by this transaction */
	Oid			owner;			/* the group's owner */
} ElGroupConfig;

extern int64 el_group_max_timeout_ms(void);
extern bool el_group_load(const char *group_id, const char *topic,
						  Oid topic_relid, bool create, bool nowait,
						  ElGroupConfig *cfg);
extern void el_group_check_access(const char *group_id, const char *topic,
								  Oid owner, Acl *acl, bool manage);
extern void el_group_set_rights(const char *group_id, const char *topic,
								Oid grantee, bool grant, Oid new_owner);
extern void el_group_configure(const char *group_id, const char *topic,
							   Oid topic_relid, Datum *settings,
							   const bool *isnull);
extern bool el_group_offset_caught_up(const char *group_id, ElTopic *topic,
									  int partition, int64 log_end);
extern int64 el_group_offset_lock(const char *group_id, ElTopic *topic,
								  int partition, const ElGroupConfig *cfg);
extern void el_group_offset_store(const char *group_id, const char *topic,
								  int partition, int64 next);
extern void el_group_role_dependents(Oid roleid, int64 *owned,
									 int64 *granted);
extern void el_groups_reassign_owned(Oid oldrole, Oid newrole);
extern int64 el_groups_drop_owned(Oid roleid);

#endif							/* EVENTLOG_GROUPOFFSETS_H */
