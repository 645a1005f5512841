/*
 * elstore.h
 *		Segment-level storage: appending records (offset assignment) and
 *		reading a partition in offset order (the read-committed cursor).
 */
#ifndef EVENTLOG_ELSTORE_H
#define EVENTLOG_ELSTORE_H

#include "storage/buf.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

#include "eventlog/elpage.h"
#include "eventlog/topic.h"

/*
 * elappend.c
 *
 * Whose records an append holds: the segment's topic and partition, named
 * in messages and, with wal_level = logical, in WAL (a segment's
 * relfilenode alone maps to the segment, not to the topic), and the topic's
 * stored columns.
 */
typedef struct ElAppendTarget
{
	Oid			topic_relid;
	const char *topic_name;
	int32		partition;
	int			natts;			/* stored columns (storedesc->natts) */
	int			ts_natts;		/* ElTopic.ts_natts */
} ElAppendTarget;

extern void el_append_batch(Relation seg, int64 base_offset, char **entries,
							Size *lens, int n, const int64 *wants, int64 *offsets,
							TransactionId xid, CommandId cid,
							const ElAppendTarget *target);
extern void el_offset_out_of_range(int64 offset, const char *what);
extern int64 el_segment_next_offset(Relation seg, int64 base_offset);
extern int64 el_segment_first_offset(Relation seg, int64 base_offset);
extern BlockNumber el_find_block(Relation seg, int64 offset);
extern BlockNumber el_find_time_block(Relation seg, int64 ts, int64 *first);

/* How a cursor treats records whose transaction is not settled. */
typedef enum ElReadMode
{
	EL_READ_SKIP,				/* SQL scans: MVCC, skip what is not visible */
	EL_READ_STOP,				/* fetch/poll: stop at the first unsettled record */
	EL_READ_ALL_LIVE			/* index builds: everything not aborted */
} ElReadMode;

typedef struct ElCursorRec
{
	int64		offset;
	uint16		len;
	char	   *entry;			/* copy of the entry, in the page context */
} ElCursorRec;

typedef struct ElCursor
{
	int			partition;
	int			nsegs;
	ElSegment  *segs;			/* private copy of the partition's segments */
	Snapshot	snapshot;
	ElReadMode	mode;
	int64		want;			/* next offset wanted */
	int64		stop_before;	/* stop at this offset (-1: no bound) */

	int			segidx;
	Relation	rel;
	BlockNumber blk;
	BlockNumber nblocks;

	MemoryContext pagecxt;		/* copies of one page's records */
	ElCursorRec *recs;
	int			nrecs;
	int			irec;

	bool		done;
	bool		checked_start;	/* stop mode: records before want checked */
	bool		stopped;		/* hit an unsettled record (EL_READ_STOP) */
	int64		stop_offset;	/* ... at this offset */

	TupleDesc	storedesc;
	char	   *scratch;		/* BLCKSZ, MAXALIGNed: current record data */
	char	   *pagecopy;		/* the current page's entries (pagecxt) */
	int64		page_base_ts;	/* the current page's base time */
} ElCursor;

extern void el_cursor_init(ElCursor *cur, ElTopic *topic, int partition,
						   int64 from_offset, Snapshot snapshot, ElReadMode mode);
extern bool el_cursor_next(ElCursor *cur, int64 *offset, Datum *values, bool *isnull);
extern bool el_cursor_next_raw(ElCursor *cur, int64 *offset, const char **entry,
							   uint16 *len, int64 *base_ts);
extern void el_cursor_end(ElCursor *cur);

/* Partition-level facts for the views. */
typedef struct ElPartitionStats
{
	int64		log_start_offset;
	int64		log_end_offset;
	int64		stable_offset;
	int			segments;
	int64		bytes;
} ElPartitionStats;

extern int64 el_partition_log_start(ElTopic *topic, int partition);
extern int64 el_partition_log_end(ElTopic *topic, int partition);
extern int64 el_time_start_offset(ElTopic *topic, int partition, int64 ts);
extern void el_partition_stats(ElTopic *topic, int partition, Snapshot snapshot,
							   ElPartitionStats *stats);

#endif							/* EVENTLOG_ELSTORE_H */
