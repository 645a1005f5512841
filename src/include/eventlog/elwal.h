/*
 * elwal.h
 *		WAL records of the pg_eventlog custom resource manager.
 *
 * Two records cover all writes to segment pages:
 *
 *	XLOG_EL_APPEND		block 0: the tail page (standard page, so a
 *						full-page image omits the free hole); block data =
 *						the appended entry bytes.
 *	XLOG_EL_NEW_PAGE	block 0: a new page (WILL_INIT: no full-page image,
 *						ever), block data = its first entries; block 1, if
 *						present: the previous tail, which gets sealed.
 *
 * Redo appends the bytes at pd_lower and derives the page counters from
 * them with the very function the primary used (el_page_apply), so the
 * page is reproduced byte for byte; an append costs no WAL beyond the
 * record header, the block reference and the entry bytes.  VACUUM's
 * freezing uses log_newpage_buffer() instead: it is rare and a full image
 * is the simplest exact redo.
 *
 * With wal_level = logical (and a WAL-logged segment) both records also
 * carry XLOG_EL_DECODE and end their main data with an xl_el_decode, and
 * block 0 is registered with REGBUF_KEEP_DATA, as heap_insert() does for
 * logically logged relations: the entry bytes stay in the record even when
 * the block is a full-page image.  A decoder then rebuilds every record of
 * the WAL record from it alone, with no catalog access:
 *
 *	- which topic and partition: xl_el_decode names the topic relation (its
 *	  oid, and its tablespace and relfilenode, which logical decoding needs
 *	  to name the relation of a change; the database is the block's) and
 *	  the partition (the block's relfilenode maps to a segment, not a topic);
 *	- record boundaries: the block data is a sequence of self-delimiting
 *	  entries, exactly as on the page.  Each entry's uint16 header word
 *	  holds either EL_ENTRY_RUN (a run header of EL_RUN_SIZE bytes) or the
 *	  entry's total length (EL_ENTRY_LENMASK); no length array is logged,
 *	  as it would repeat what the header words say (redo walks the bytes the
 *	  same way).  nrecords counts the records, as a cross-check;
 *	- offsets: the first record (not run header) gets first_offset, each
 *	  further record the next one, and a run header restarts the count at
 *	  its base offset.  A record that continues a run already on the page
 *	  has no run header in the block data, hence first_offset;
 *	- columns: the stored columns laid out by heap_fill_tuple() over natts
 *	  attributes (the null bitmap is BITMAPLEN(natts) bytes), the derived
 *	  partition and offset excluded; with XL_EL_DECODE_TSFIRST the first
 *	  column is a timestamptz, and an entry flagged EL_REC_TSDELTA holds it
 *	  as an int32 difference in microseconds from base_ts;
 *	- the inserting (sub)transaction: xid.  It can differ from the WAL
 *	  record's own xid when records buffered by a statement are appended
 *	  later (pending.c); all records of one WAL record share it.  Then
 *	  (XL_EL_DECODE_TOPXID) the top-level transaction id precedes the
 *	  xl_el_decode in the main data, so that a decoder knows the inserting
 *	  subtransaction's parent before it commits (a subtransaction that
 *	  wrote no WAL of its own was never assigned to its parent in WAL).
 *
 * With wal_level = replica none of this is logged: an APPEND has no main
 * data, so a replica-only server pays nothing for it.
 */
#ifndef EVENTLOG_ELWAL_H
#define EVENTLOG_ELWAL_H

#include "access/xlogreader.h"
#include "lib/stringinfo.h"

/*
 * Custom resource manager id, from the custom range 128..255 (128 itself
 * is meant for experiments).  Documented in README.md; changing it makes
 * existing WAL unreadable.
 */
#define EL_RMGR_ID			163
#define EL_RMGR_NAME		"pg_eventlog"

#define XLOG_EL_APPEND		0x00
#define XLOG_EL_NEW_PAGE	0x10
#define XLOG_EL_ROLL		0x20	/* NEW_PAGE that starts the next segment:
									 * block 0 is page 0 of the new segment,
									 * block 1 the old segment's tail, which
									 * becomes SEALED | CLOSED */
#define XLOG_EL_CONFLICT	0x30	/* no block; main data xl_el_conflict:
									 * hot standby snapshots that may not
									 * see xid committed are cancelled */
#define XLOG_EL_OPMASK		0x70
#define XLOG_EL_DECODE		0x80	/* main data ends with an xl_el_decode */

/* NEW_PAGE main data; APPEND has none (its block data says it all). */
typedef struct xl_el_new_page
{
	int64		first_offset;
	int64		base_ts;
	int64		ts_high;		/* the page's time index after the append;
								 * redo applies the records to it again,
								 * which max() leaves unchanged */
	TransactionId init_xid;
	uint16		ts_natts;
} xl_el_new_page;

/*
 * CONFLICT: a relation that compaction replaced in transaction xid stops
 * being read by snapshots that do not see xid committed (maintenance
 * clears segment_map.replaced_segrel once the primary has no such
 * snapshot).  A standby's snapshot can be older than anything on the
 * primary (without hot_standby_feedback), and would then read the
 * compacted relation while records that superseded the removed ones are
 * not visible to it yet; redo cancels such snapshots first, as heap
 * pruning's conflicts do.  VACUUM's freezing logs one too, before each
 * frozen page's image (elvacuum.c): xid is then the newest transaction
 * whose runs it marked frozen, or the one before the page's init_xid, so
 * that no standby snapshot that saw it running (or whose xmin precedes
 * the init_xid) reads the frozen page.
 */
typedef struct xl_el_conflict
{
	TransactionId xid;
	Oid			dbid;
} xl_el_conflict;

/* What a logical decoder needs besides the block data; see above. */
typedef struct xl_el_decode
{
	int64		first_offset;	/* offset of the first record in the data, or
								 * the log end if it holds none */
	int64		base_ts;		/* the page's base time (EL_REC_TSDELTA) */
	Oid			topic_relid;	/* the topic relation */
	Oid			topic_spcnode;	/* its tablespace and relfilenode */
	Oid			topic_relnode;
	int32		partition;
	TransactionId xid;			/* inserting (sub)transaction */
	uint16		nrecords;		/* records in the block data (runs and log-end
								 * markers not counted) */
	uint16		natts;			/* stored columns */
	uint16		flags;			/* XL_EL_DECODE_* */
} xl_el_decode;

#define SizeOfElDecode		(offsetof(xl_el_decode, flags) + sizeof(uint16))

#define XL_EL_DECODE_TSFIRST	0x0001	/* first stored column: timestamptz */
#define XL_EL_DECODE_TOPXID		0x0002	/* a top-level xid precedes it */

extern void el_rmgr_register(void);
extern void el_redo(XLogReaderState *record);
extern void el_desc(StringInfo buf, XLogReaderState *record);
extern const char *el_identify(uint8 info);
extern void el_mask(char *pagedata, BlockNumber blkno);
extern void el_log_snapshot_conflict(TransactionId xid);
extern bool el_wal_get_decode(XLogReaderState *record, xl_el_decode *xd,
							  TransactionId *topxid);

/* eldecode.c: logical decoding of APPEND and NEW_PAGE */
struct LogicalDecodingContext;
struct XLogRecordBuffer;
extern void el_decode(struct LogicalDecodingContext *ctx,
					  struct XLogRecordBuffer *buf);

#endif							/* EVENTLOG_ELWAL_H */
