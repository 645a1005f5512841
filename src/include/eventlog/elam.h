/*
 * elam.h
 *		The eventlog table access method and its maintenance entry points.
 */
#ifndef EVENTLOG_ELAM_H
#define EVENTLOG_ELAM_H

#include "commands/vacuum.h"
#include "utils/rel.h"

/* elam.c */
typedef enum ElModification
{
	EL_MOD_UPDATE,
	EL_MOD_DELETE,
	EL_MOD_MERGE,
	EL_MOD_ON_CONFLICT,
	EL_MOD_LOCK,
	EL_MOD_TRUNCATE
} ElModification;

extern void el_refuse_modification(ElModification what, Relation rel);

/* hooks.c */
extern void el_install_hooks(void);
extern Oid	el_copy_to_relid;	/* topic being written by COPY TO, if any */
extern bool el_copy_to_header;	/* ... and whether it gets an export header */
extern Oid	el_copy_from_relid; /* topic being loaded by COPY FROM, if any */
extern int	el_executor_depth;	/* ExecutorRun calls under way */

#endif							/* EVENTLOG_ELAM_H */
