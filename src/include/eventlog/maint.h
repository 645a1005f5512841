/*
 * maint.h
 *		Segment maintenance (retention.c), compaction (compact.c) and the
 *		pool of maintenance workers that runs them and view maintenance in
 *		every database (sched.c, worker.c).
 */
#ifndef EVENTLOG_MAINT_H
#define EVENTLOG_MAINT_H

#include "utils/relcache.h"

extern bool el_maintenance_enabled;
extern int	el_maintenance_interval;
extern int	el_maintenance_lock_timeout;
extern int	el_orphan_segment_grace;
extern int	el_max_maintenance_workers;
extern int	el_view_owner_budget;

/* what a pass of el_maintenance_pass() does */
#define EL_MAINT_SEGMENTS	0x01	/* rolls, spares, retention, drops */
#define EL_MAINT_COMPACT	0x02	/* compaction */

extern int	el_maintenance_pass(int what);

/* compact.c: compaction of one partition, inside a maintenance step */
struct ElTopic;
typedef void (*ElReportFn) (void *arg, const char *action, const char *topic,
							int partition, const char *segment, const char *detail);
extern bool el_compact_partition(struct ElTopic *topic, Relation topic_rel,
								 int partition, bool force, ElReportFn report,
								 void *arg);

/* sched.c: shared memory, wake-ups, eventlog.maintenance_status */
extern Size el_sched_shmem_size(void);
extern void el_sched_shmem_init(void);
extern void el_sched_register_hooks(void);

/* worker.c */
extern void el_register_launcher(void);
extern void el_stop_db_worker(const char *dbname);

#endif							/* EVENTLOG_MAINT_H */
