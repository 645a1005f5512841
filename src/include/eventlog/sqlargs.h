/*
 * sqlargs.h
 *		Checks of SQL function arguments shared by the SQL entry points
 *		(topics, produce, fetch, consumer groups).
 */
#ifndef EVENTLOG_SQLARGS_H
#define EVENTLOG_SQLARGS_H

#include "fmgr.h"
#include "datatype/timestamp.h"

extern void el_require_args(FunctionCallInfo fcinfo, int nargs, const char *names);
extern int64 el_interval_usecs(const Interval *iv);
extern long el_wait_arg_ms(FunctionCallInfo fcinfo, int argno);

#endif							/* EVENTLOG_SQLARGS_H */
