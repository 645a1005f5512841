/*
 * fetch.h
 *		Reading a partition for a client: shared by fetch() and poll().
 */
#ifndef EVENTLOG_FETCH_H
#define EVENTLOG_FETCH_H

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "utils/snapshot.h"
#include "utils/tuplestore.h"

#include "eventlog/topic.h"

extern int64 el_read_budget;
extern int	el_read_partition(ElTopic *topic, int partition, int64 from_offset,
							  int max_records, Snapshot snapshot,
							  Tuplestorestate *tupstore, TupleDesc tupdesc,
							  int64 *next);
extern Snapshot el_read_snapshot(bool fresh);
extern void el_check_read_privilege(ElTopic *topic);
extern bool el_may_see_topic_stats(Oid relid);

#endif							/* EVENTLOG_FETCH_H */
