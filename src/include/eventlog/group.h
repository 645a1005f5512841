/*
 * group.h
 *		Consumer groups, as the library's entry point sets them up: the
 *		shared-memory slot table, the settings that limit it, and the
 *		transaction callbacks that undo joins on rollback.
 *
 * The subsystem's parts have headers of their own: groupassign.h
 * (membership and assignment rules), groupslots.h (the slot table),
 * groupoffsets.h (the consumer_group and group_offset tables); the SQL
 * functions are in src/consume/groupfuncs.c.
 */
#ifndef EVENTLOG_GROUP_H
#define EVENTLOG_GROUP_H

/* groupslots.c */
extern Size el_group_shmem_size(void);
extern void el_group_shmem_request(void);
extern void el_group_shmem_init(void);

extern void el_group_register_callbacks(void);

extern int	el_max_groups;
extern int	el_max_groups_per_role;
extern int	el_max_groups_per_database;

/* groupoffsets.c */
extern int	el_max_session_timeout;

#endif							/* EVENTLOG_GROUP_H */
