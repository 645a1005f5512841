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
#include "storage/shmem.h"
#include "utils/guc.h"

#include "elam.h"
#include "eventlog.h"
#include "elwal.h"
#include "group.h"
#include "notify.h"
#include "pending.h"
#include "topic.h"

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
	el_group_shmem_request();
}

static void
el_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	el_notify_shmem_init();
	el_group_shmem_init();
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
	DefineCustomIntVariable("eventlog.max_consumer_groups",
							"Consumer groups (per topic) that can have members at the same time.",
							"Membership lives in shared memory sized at server start.",
							&el_max_groups,
							128, 1, 10000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("eventlog");

	el_rmgr_register();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = el_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = el_shmem_startup;

	el_topic_register_callbacks();
	el_notify_register_xact_callbacks();
	el_pending_register_callbacks();
	el_install_hooks();
}
