/*
 * elstore.h
 *		Segment-level storage: appending records (offset assignment),
 *		reading a partition in offset order (the read-committed cursor) and
 *		freezing.
 *
 * Storage knows a partition only as the list of its segment relations and
 * the descriptor of the stored columns (ElPartitionStore), never as a topic
 * loaded from the catalog: whoever holds such a list (the topic cache, a
 * background worker, WAL redo) can use storage, in any state where buffers
 * and relations can be opened, without SPI or catalog tables.  Nor does
 * storage know about records an INSERT has routed but not appended yet
 * (pending.h): readers flush those before they read.  The Makefile's
 * check-layers target enforces this.
 */
#ifndef EVENTLOG_ELSTORE_H
#define EVENTLOG_ELSTORE_H

#include "access/tupdesc.h"
#include "storage/buf.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

#include "eventlog/elpage.h"

/*
 * One segment relation of a partition and the first offset it may hold.
 * A spare segment (made ahead of time so that producers never run DDL)
 * has no base offset until a roll starts it: EL_SEGMENT_NOT_STARTED, larger
 * than any offset, so that no reader starts in it (they reach it from the
 * segment before).  Its page 0 then says where it starts.
 */
typedef struct ElSegment
{
	Oid			relid;
	int32		seg_no;
	int64		base_offset;

	/*
	 * Compaction swapped relid in for prev_relid in transaction swap_xid
	 * (a top-level xid): a snapshot that does not see swap_xid committed
	 * reads prev_relid, which maintenance drops only once no snapshot can
	 * be that old.  InvalidOid/InvalidTransactionId: no such relation.
	 */
	Oid			prev_relid;
	TransactionId swap_xid;
	bool		compacted;		/* relid is a compacted rewrite */
} ElSegment;

#define EL_SEGMENT_NOT_STARTED	PG_INT64_MAX

/*
 * What storage needs to read one partition: its segments (ascending
 * seg_no, i.e. ascending offsets) and how records are encoded.
 */
typedef struct ElPartitionStore
{
	int			partition;		/* the value of the derived partition column */
	int			nsegs;
	const ElSegment *segs;
	TupleDesc	storedesc;		/* stored columns: all but the derived ones */
	int			ts_natts;		/* storedesc->natts if its first column is a
								 * timestamptz (stored compactly), else 0 */
	int64		start_offset;	/* records below are deleted (delete_records),
								 * whatever the first segment still holds */
	int			active;			/* producers' hint: index of the segment
								 * appended to last, -1 if unknown */
} ElPartitionStore;

/*
 * Every segment of a set of partitions, partition by partition in offset
 * order:
 *		ElSegmentPos pos = EL_SEGMENT_POS_START;
 *		while ((seg = el_next_segment(parts, nparts, &pos)) != NULL) ...
 * pos.partition is the partition of the segment returned.
 */
typedef struct ElSegmentPos
{
	int			partition;
	int			index;
} ElSegmentPos;

#define EL_SEGMENT_POS_START {0, -1}

static inline const ElSegment *
el_next_segment(const ElPartitionStore *parts, int nparts, ElSegmentPos *pos)
{
	while (pos->partition < nparts)
	{
		if (++pos->index < parts[pos->partition].nsegs)
			return &parts[pos->partition].segs[pos->index];
		pos->partition++;
		pos->index = -1;
	}
	return NULL;
}

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
	RelFileNode topic_node;		/* the topic relation's, for logical decoding */
	const char *topic_name;
	int32		partition;
	int			natts;			/* stored columns (storedesc->natts) */
	int			ts_natts;		/* ElTopic.ts_natts */

	/*
	 * Rolling (elappend.c): the partition's next segment (InvalidOid: none
	 * yet, keep appending here), its base offset if known (a restore made
	 * it) or EL_SEGMENT_NOT_STARTED, and the segment size in pages at which
	 * an append rolls into it (0: no limit), counting the segment's TOAST
	 * table too (el_segment_bytes).
	 */
	Oid			next_relid;
	int64		next_base;
	BlockNumber max_blocks;

	/*
	 * Compaction's rewrite of records that are already in the log: runs
	 * are written frozen (every snapshot sees them: their transactions
	 * committed before every running snapshot) and nothing is logged for
	 * logical decoding, which must not see them a second time.
	 */
	bool		rewrite;
} ElAppendTarget;

extern int	el_append_batch(Relation seg, int64 base_offset, char **entries,
							Size *lens, int n, const int64 *wants, int64 *offsets,
							TransactionId xid, CommandId cid,
							const ElAppendTarget *target);
extern bool el_segment_roll(Relation seg, Relation next,
							const ElAppendTarget *target);
extern void el_segment_close(Relation seg);
extern int64 el_segment_bytes(Relation seg);
extern int64 el_segment_records(Relation seg);
extern void el_segment_bounds(Relation seg, int64 *first, int64 *next,
							  int64 *first_ts, int64 *last_ts, bool *closed);
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

extern Oid	el_segment_relid_for(const ElSegment *seg, Snapshot snapshot);
extern void el_cursor_init(ElCursor *cur, const ElPartitionStore *part,
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

extern int64 el_partition_log_start(const ElPartitionStore *part);
extern int64 el_partition_log_end(const ElPartitionStore *part);
extern int64 el_time_start_offset(const ElPartitionStore *part, int64 ts);
extern void el_partition_stats(const ElPartitionStore *part, Snapshot snapshot,
							   ElPartitionStats *stats);

/* elvacuum.c */
struct VacuumParams;
extern double el_vacuum_segment(Relation seg, struct VacuumParams *params,
								BufferAccessStrategy bstrategy);
extern double el_vacuum_topic(Relation rel, const ElPartitionStore *parts, int nparts,
							  struct VacuumParams *params,
							  BufferAccessStrategy bstrategy);

/*
 * The offsets of a partition where a record may still be found, for
 * VACUUM's removal of index entries (el_partition_live_ranges): below
 * start none, at or above end all, in between those of the sorted ranges
 * [lo[i], hi[i]] -- or all of them if the ranges are not complete.
 */
typedef struct ElOffsetRanges
{
	int64		start;
	int64		end;
	bool		complete;
	int			n;
	int			cap;
	int64	   *lo;
	int64	   *hi;
} ElOffsetRanges;

extern void el_partition_live_ranges(const ElPartitionStore *part, TransactionId horizon,
									 int maxranges, BufferAccessStrategy bstrategy,
									 ElOffsetRanges *r);
extern bool el_offset_may_be_live(const ElOffsetRanges *r, int64 offset);

#endif							/* EVENTLOG_ELSTORE_H */
