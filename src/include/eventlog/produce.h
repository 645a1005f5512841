/*
 * produce.h
 *		Routing a record to a partition and appending it: the one path
 *		shared by eventlog.produce(), INSERT and COPY into a topic.
 */
#ifndef EVENTLOG_PRODUCE_H
#define EVENTLOG_PRODUCE_H

#include "executor/tuptable.h"
#include "utils/rel.h"

#include "eventlog/topic.h"

/*
 * TIDs of topic rows encode (partition, offset): offsets never change or
 * get reused, so the TID is a stable identity for indexes.
 */
#define EL_TID_OFFSET_BITS		8
#define EL_TID_BLOCK_OFFSET_BITS 22
#define EL_TID_MAX_OFFSET		((INT64CONST(1) << (EL_TID_OFFSET_BITS + EL_TID_BLOCK_OFFSET_BITS)) - 512)

/*
 * COPY FROM hands every row it gave us to the topic's indexes, also the
 * export header (topicdump.h): it gets this TID, which no record has.
 */
#define EL_TID_HEADER_PARTITION	(EL_MAX_PARTITIONS - 1)
#define EL_TID_HEADER_OFFSET	(EL_TID_MAX_OFFSET + 100)

extern void el_tid_offset_too_large(Relation rel, int64 offset);
extern void el_tid_encode(ItemPointer tid, int partition, int64 offset);
extern void el_tid_decode(ItemPointer tid, int *partition, int64 *offset);

extern int	el_choose_partition(ElTopic *topic, Datum *values, bool *isnull);
extern void el_topic_insert(Relation rel, TupleTableSlot *slot, bool may_defer);
extern void el_topic_insert_batch(Relation rel, TupleTableSlot **slots, int nslots);

/* logical decoding messages (README "Logical replication and CDC") */
#define EL_MESSAGE_PREFIX	"pg_eventlog"
extern char *el_logical_messages;
extern bool el_topic_emits_messages(const char *topic);

#endif							/* EVENTLOG_PRODUCE_H */
