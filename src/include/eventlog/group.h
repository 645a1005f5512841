/*
 * group.h
 *		Consumer groups: membership and partition assignment in shared
 *		memory; committed offsets in the table eventlog.group_offset.
 */
#ifndef EVENTLOG_GROUP_H
#define EVENTLOG_GROUP_H

extern Size el_group_shmem_size(void);
extern void el_group_shmem_request(void);
extern void el_group_shmem_init(void);

extern void el_group_register_callbacks(void);

extern int	el_max_groups;
extern int	el_max_groups_per_role;
extern int	el_max_groups_per_database;
extern int	el_max_session_timeout;

#endif							/* EVENTLOG_GROUP_H */
