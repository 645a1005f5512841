/*
 * maint.h
 *		Segment maintenance (retention.c) and its background workers
 *		(worker.c).
 */
#ifndef EVENTLOG_MAINT_H
#define EVENTLOG_MAINT_H

#include "utils/relcache.h"

extern bool el_maintenance_enabled;
extern int	el_maintenance_interval;
extern int	el_maintenance_lock_timeout;
extern int	el_orphan_segment_grace;

extern int	el_maintenance_pass(void);

/* compact.c: compaction of one partition, inside a maintenance step */
struct ElTopic;
typedef void (*ElReportFn) (void *arg, const char *action, const char *topic,
							int partition, const char *segment, const char *detail);
extern bool el_compact_partition(struct ElTopic *topic, Relation topic_rel,
								 int partition, bool force, ElReportFn report,
								 void *arg);
extern void el_register_launcher(void);
extern void el_stop_db_worker(const char *dbname);

#endif							/* EVENTLOG_MAINT_H */
