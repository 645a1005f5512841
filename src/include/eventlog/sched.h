/*
 * sched.h
 *		The maintenance scheduler's shared state (src/maint/sched.c), read
 *		and written by the launcher and the pool of workers (worker.c).
 *
 * One entry per database of the server (EL_SCHED_MAX_DBS at most) says
 * when each kind of maintenance is due there, which worker runs it, since
 * when it waits for a worker and why, which topics received commits that
 * its views have not seen yet, and which views' turns were ended by
 * terminating their worker.  One slot per worker (EL_SCHED_MAX_WORKERS;
 * eventlog.max_maintenance_workers of them used) says which database it
 * serves, what it does, and which view's turn it runs.  One spinlock
 * guards it all: every critical section is a few loads and stores.
 */
#ifndef EVENTLOG_SCHED_H
#define EVENTLOG_SCHED_H

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/spin.h"

#define EL_SCHED_MAX_WORKERS	64
#define EL_SCHED_MAX_DBS		1024
#define EL_SCHED_WOKEN			16	/* topics with commits, per database */
#define EL_SCHED_KILLED			4	/* ended turns not yet recorded */

/* a turn still running this long after view_turn_timeout is terminated */
#define EL_TURN_GRACE_MS		1000
/* a database without the extension, or whose worker DDL stopped */
#define EL_RECHECK_MS			10000
/* an idle worker with nothing due this soon in its database exits */
#define EL_LINGER_MS			10000

/* kinds of maintenance */
#define EL_KIND_SEGMENTS	0
#define EL_KIND_COMPACT		1
#define EL_KIND_VIEWS		2
#define EL_NKINDS			3

/* what a worker slot does */
#define EL_W_FREE			0
#define EL_W_STARTING		1	/* registered, not attached yet */
#define EL_W_IDLE			2
#define EL_W_BUSY			3	/* running the kind in ElSchedWorker.kind */

/* what a database knows of the extension */
#define EL_EXT_UNKNOWN		0
#define EL_EXT_NO			1
#define EL_EXT_YES			2

/* why due work has no worker */
#define EL_WAIT_NONE		0	/* just due: a worker takes it */
#define EL_WAIT_POOL		1	/* every worker of the pool is busy */
#define EL_WAIT_WORK		2	/* compaction and views: their share is busy */
#define EL_WAIT_SLOTS		3	/* max_worker_processes: no slot */
#define EL_WAIT_TABLE		4	/* more databases than the table holds */

typedef struct ElKilledTurn
{
	NameData	schema;
	NameData	name;
	int			ms;				/* how long it had run */
} ElKilledTurn;

typedef struct ElSchedDb
{
	Oid			dboid;			/* InvalidOid: free entry */
	bool		listed;			/* in pg_database at the launcher's scan */
	int			ext;			/* EL_EXT_* */
	TimestampTz not_before;		/* no worker before (no extension, DDL) */
	TimestampTz due[EL_NKINDS]; /* views: 0 unless a back-off asks */
	TimestampTz last_start[EL_NKINDS];
	TimestampTz last_end[EL_NKINDS];
	int			running[EL_NKINDS]; /* worker slot + 1, 0: none */
	TimestampTz waiting_since[EL_NKINDS];
	int			wait_reason[EL_NKINDS];
	bool		warned[EL_NKINDS];	/* WARNING given for this wait */
	/* view maintenance */
	bool		has_views;		/* commits must wake it */
	uint32		created;		/* bumped at each create_view commit */
	bool		views_all;		/* look at every view */
	int			nwoken;
	Oid			woken[EL_SCHED_WOKEN];
	TimestampTz woken_at[EL_SCHED_WOKEN];
	bool		deferred_all;	/* at due[VIEWS]: every view */
	int			ndeferred;
	Oid			deferred[EL_SCHED_WOKEN];	/* topics of busy views */
	int			nkilled;
	ElKilledTurn killed[EL_SCHED_KILLED];
} ElSchedDb;

typedef struct ElSchedWorker
{
	int			state;			/* EL_W_* */
	int			kind;			/* EL_W_BUSY: EL_KIND_* */
	pid_t		pid;
	Latch	   *latch;
	int			db;				/* index in dbs */
	Oid			dboid;
	bool		yield;			/* leave once idle: a database waits */
	TimestampTz since;			/* state since */
	TimestampTz turn_start;		/* a view's turn: 0 none */
	NameData	turn_schema;
	NameData	turn_name;
	Oid			turn_owner;
	bool		terminated;		/* the launcher sent SIGTERM */
} ElSchedWorker;

typedef struct ElSched
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	int			ndbs;			/* entries used (high-water mark) */
	ElSchedWorker workers[EL_SCHED_MAX_WORKERS];
	ElSchedDb	dbs[EL_SCHED_MAX_DBS];
} ElSched;

extern ElSched *el_sched;

extern int	el_sched_work_limit(void);
extern int	el_sched_find_db(Oid dboid);
extern int	el_sched_add_db(Oid dboid, TimestampTz now);
extern Latch *el_sched_latch_for(int db);
extern bool el_sched_views_due(ElSchedDb *db, TimestampTz now);

#endif							/* EVENTLOG_SCHED_H */
