/*
 * topicdump.h
 *		The header row that makes COPY of a topic self-contained (pg_dump,
 *		pg_restore -j); see topicdump.c.
 */
#ifndef EVENTLOG_TOPICDUMP_H
#define EVENTLOG_TOPICDUMP_H

#include "executor/tuptable.h"
#include "utils/relcache.h"

#include "eventlog/topic.h"

/* the header row's partition: no record has it */
#define EL_HEADER_PARTITION		(-1)

extern Datum el_topic_export_header(ElTopic *topic);
extern bool el_is_topic_header(TupleTableSlot *slot);
extern void el_topic_import_header(Relation rel, TupleTableSlot *slot);

#endif							/* EVENTLOG_TOPICDUMP_H */
