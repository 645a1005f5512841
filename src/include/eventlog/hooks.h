/*
 * hooks.h
 *		The planner, executor and utility hooks (am/hooks.c), and the state
 *		they hand to the access method and the produce path.
 */
#ifndef EVENTLOG_HOOKS_H
#define EVENTLOG_HOOKS_H

extern void el_install_hooks(void);

extern Oid	el_copy_to_relid;	/* topic being written by COPY TO, if any */
extern bool el_copy_to_header;	/* ... and whether it gets an export header */
extern Oid	el_copy_from_relid; /* topic being loaded by COPY FROM, if any */
extern int	el_executor_depth;	/* ExecutorRun calls under way */

#endif							/* EVENTLOG_HOOKS_H */
