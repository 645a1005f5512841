/*
 * pg_eventlog.c
 *		Library entry point: settings, shared memory, WAL resource manager,
 *		transaction callbacks and hooks.  Must be in shared_preload_libraries
 *		because the WAL resource manager has to exist before recovery.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "eventlog/hooks.h"
#include "eventlog/eventlog.h"
#include "eventlog/elwal.h"
#include "eventlog/group.h"
#include "eventlog/maint.h"
#include "eventlog/notify.h"
#include "eventlog/pending.h"
#include "eventlog/quota.h"
#include "eventlog/stats.h"
#include "eventlog/produce.h"
#include "eventlog/topic.h"
#include "eventlog/view.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

int			el_max_record_bytes = 1024 * 1024;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
el_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(el_notify_shmem_size());
	RequestAddinShmemSpace(el_sched_shmem_size());
	el_group_shmem_request();
	el_stats_shmem_request();
	el_quota_shmem_request();
}

static void
el_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	el_notify_shmem_init();
	el_sched_shmem_init();
	el_group_shmem_init();
	el_stats_shmem_init();
	el_quota_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_eventlog must be loaded via shared_preload_libraries"),
				 errhint("Add pg_eventlog to shared_preload_libraries in postgresql.conf and restart the server.")));

	DefineCustomIntVariable("eventlog.max_record_bytes",
							"Largest record (key, value and headers) a topic accepts, in bytes.",
							"Like Kafka's message.max.bytes; the default is 1 MB.",
							&el_max_record_bytes,
							1024 * 1024, 64, 256 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomStringVariable("eventlog.logical_messages",
							   "Topics whose records are also logged as logical decoding messages.",
							   "Comma-separated topic names, or * for every topic; with wal_level = logical, "
							   "each record is then also a transactional message with prefix \"" EL_MESSAGE_PREFIX "\".",
							   &el_logical_messages,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.max_consumer_groups",
							"Consumer groups (per topic) that can have members at the same time.",
							"Membership lives in shared memory sized at server start.",
							&el_max_groups,
							128, 1, 10000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	/*
	 * The slots are shared by every database and role of the server; these
	 * keep one role or one database from taking them all.  Superuser-only,
	 * so a superuser can give single roles or databases other limits with
	 * ALTER ROLE / ALTER DATABASE ... SET.
	 */
	DefineCustomIntVariable("eventlog.max_consumer_groups_per_role",
							"Consumer groups with members that one role can hold at the same time.",
							"A group's slot is charged to the role whose poll created it; -1 means no limit "
							"beyond eventlog.max_consumer_groups.",
							&el_max_groups_per_role,
							32, -1, 10000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.max_consumer_groups_per_database",
							"Consumer groups with members that one database can hold at the same time.",
							"-1 means no limit beyond eventlog.max_consumer_groups.",
							&el_max_groups_per_database,
							64, -1, 10000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.max_session_timeout",
							"Longest session_timeout and max_poll_interval a consumer group may have.",
							"A member that stops polling keeps its group's slot at most this long.",
							&el_max_session_timeout,
							30 * 60, 1, 365 * 24 * 60 * 60,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("eventlog.maintenance",
							 "Runs segment maintenance (rolls, retention, drops) in background workers.",
							 "A launcher starts workers from a pool of eventlog.max_maintenance_workers for the databases that have the extension.",
							 &el_maintenance_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.maintenance_interval",
							"Time between two maintenance passes of a database.",
							NULL,
							&el_maintenance_interval,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.max_maintenance_workers",
							"Maintenance workers that may run at once, for all databases.",
							"Taken from max_worker_processes, beside the launcher; compaction and view maintenance use all but one.",
							&el_max_maintenance_workers,
							2, 1, 64,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.view_owner_budget",
							"Worker time one owner's materialized views get in a row.",
							"Then the worker turns to other owners' views; the owner's other views wait for the next pass. 0 disables the limit.",
							&el_view_owner_budget,
							1000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.view_turn_timeout",
							"Longest turn of one materialized view in a maintenance worker.",
							"A longer turn is cancelled, and its worker terminated one second later if it is still running; either is recorded as the view's error and the view is retried after its back-off. 0 disables the limit.",
							&el_view_turn_timeout,
							60000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.maintenance_lock_timeout",
							"Longest wait of a maintenance pass for a lock; the pass retries later.",
							NULL,
							&el_maintenance_lock_timeout,
							100, 1, 60 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.orphan_segment_grace",
							"Age at which maintenance drops a segment relation that no topic uses.",
							"Such relations come from a restore of a dump taken while removed or compacted segments awaited their drop; a restore in progress may still adopt one that is younger.",
							&el_orphan_segment_grace,
							3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.max_stats_topics",
							"Topics (per database) whose statistics shared memory keeps.",
							"Counts of topics beyond it go to an overflow row of eventlog.stats.",
							&el_max_stats_topics,
							1000, 16, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.max_quota_roles",
							"Roles with a quota that shared memory keeps token buckets for.",
							"A role beyond it is not throttled (with a WARNING).",
							&el_max_quota_roles,
							256, 16, 100000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("eventlog.quota_max_delay",
							"Longest wait of one call of a role over its quota.",
							"A longer debt is forgiven, so that one burst is not punished for minutes.",
							&el_quota_max_delay_ms,
							5000, 1, 300000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("eventlog");

	el_rmgr_register();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = el_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = el_shmem_startup;

	el_topic_register_callbacks();
	el_notify_register_xact_callbacks();
	el_group_register_callbacks();
	el_pending_register_callbacks();
	el_stats_register_callbacks();
	el_quota_register_callbacks();
	el_install_hooks();
	el_sched_register_hooks();
	el_register_launcher();
}
