/*
 * subxact.h
 *		Run a step in an internal subtransaction and hand its error back
 *		(src/util/subxact.c).
 */
#ifndef EVENTLOG_SUBXACT_H
#define EVENTLOG_SUBXACT_H

typedef void (*ElSubxactFn) (void *arg);

extern ErrorData *el_subxact_run(ElSubxactFn fn, void *arg, bool catch_cancel);

#endif							/* EVENTLOG_SUBXACT_H */
