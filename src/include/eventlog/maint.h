/*
 * maint.h
 *		Segment maintenance (retention.c) and its background workers
 *		(worker.c).
 */
#ifndef EVENTLOG_MAINT_H
#define EVENTLOG_MAINT_H

extern bool el_maintenance_enabled;
extern int	el_maintenance_interval;
extern int	el_maintenance_lock_timeout;

extern int	el_maintenance_pass(void);
extern void el_register_launcher(void);
extern void el_stop_db_worker(const char *dbname);

#endif							/* EVENTLOG_MAINT_H */
