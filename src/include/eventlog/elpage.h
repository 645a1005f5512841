/*
 * elpage.h
 *		On-page format of eventlog segment pages.
 *
 * A segment is an append-only chain of pages.  Each page holds records of
 * one partition with consecutive offsets, grouped in "runs": a run header
 * names the inserting transaction (xid, command id) and the offset of the
 * run's first record, and the records that follow it carry no per-record
 * transaction data at all.  A record's offset is its run's base offset plus
 * its position in the run, so offsets cost nothing on disk either.
 *
 * Entries are packed back to back from the end of the page header up to
 * pd_lower, unaligned (they are copied out before use).  pd_upper stays at
 * pd_special, so the free space is the standard "hole" that full-page
 * images and the checksum code already understand.
 *
 *	 run:	 uint16 hdr (EL_ENTRY_RUN | run flags), uint32 xid, uint32 cid,
 *			 int64 base offset
 *	 record: uint16 hdr (total entry length | EL_REC_HASNULLS |
 *			 EL_REC_TSDELTA), [null bitmap if EL_REC_HASNULLS], attribute
 *			 data laid out by heap_fill_tuple() for the stored columns;
 *			 with EL_REC_TSDELTA the first column (a timestamptz) is kept as
 *			 a 4-byte difference in microseconds from the page's base_ts
 *			 instead of its 8 bytes (done at placement, see elappend.c)
 *
 * The page special space keeps the first and next offset of the page, so
 * the page holding an offset is found by binary search over blocks; and
 * the latest record time up to the page (ts_high, never decreasing along
 * the chain), so the first record at or after a time is found the same way.
 */
#ifndef EVENTLOG_ELPAGE_H
#define EVENTLOG_ELPAGE_H

#include "access/htup_details.h"
#include "storage/bufpage.h"

/*
 * Storage format version: of segment pages and of this resource manager's
 * WAL records (elwal.h).  A build reads the formats from
 * EL_FORMAT_MIN_VERSION to EL_FORMAT_VERSION and stops with an error that
 * names both versions at anything else, never guessing (the compatibility
 * rule is in docs/operations.md: only a major release changes it).
 *
 * On a page, the version is the low byte of the magic word, stored as
 * version + 0x67 after the three bytes "EvL" (format 1, that of 0.1 and 1.0,
 * is 0x45764C68).  Every format keeps that word at byte
 * EL_PAGE_MAGIC_POS of the special space, whatever else it changes, so that
 * any build can tell a page of a later format from damage.
 */
#define EL_FORMAT_VERSION		1
#define EL_FORMAT_MIN_VERSION	1

#define EL_PAGE_MAGIC_STEM		0x45764C00	/* "EvL" */
#define EL_PAGE_MAGIC_VBASE		0x67
#define EL_PAGE_MAGIC_FOR(v)	(EL_PAGE_MAGIC_STEM + EL_PAGE_MAGIC_VBASE + (v))
#define EL_PAGE_MAGIC			EL_PAGE_MAGIC_FOR(EL_FORMAT_VERSION)
#define EL_PAGE_MAGIC_POS		40	/* offsetof(ElPageOpaqueData, magic) */

/*
 * Offsets are below EL_MAX_OFFSET (2^62), and a log end offset is at most
 * EL_MAX_OFFSET.  The limit is far beyond any real log (a million records a
 * second for 146,000 years) and leaves a factor of two of headroom below
 * int64's end: an offset plus any count of records (a batch, a run, a page,
 * max_records of a fetch), or a log end plus one, can never overflow.  An
 * append that would need an offset at or above it fails and changes
 * nothing; explicit offsets, log-end markers and export base offsets beyond
 * it are refused as bad input.
 */
#define EL_MAX_OFFSET		(INT64CONST(1) << 62)

typedef struct ElPageOpaqueData
{
	int64		first_offset;	/* offset of the first record on the page */
	int64		next_offset;	/* offset after the last record on the page */
	int64		base_ts;		/* time that record timestamps are relative to */
	int64		ts_high;		/* latest record time on this page or any
								 * earlier page of the segment, PG_INT64_MIN
								 * if none: offset_for_time's time index */
	uint16		nrecords;		/* records on the page (runs not counted) */
	uint16		flags;			/* EL_PAGE_* */
	uint16		last_run;		/* page position of the last run header */
	uint16		ts_natts;		/* stored columns when the first one is the
								 * record time, else 0 */
	uint32		magic;			/* EL_PAGE_MAGIC: the format version */
	TransactionId init_xid;		/* next xid when the page was started: every
								 * run on an earlier page has a smaller xid */
} ElPageOpaqueData;

typedef ElPageOpaqueData *ElPageOpaque;

StaticAssertDecl(offsetof(ElPageOpaqueData, magic) == EL_PAGE_MAGIC_POS,
				 "the page format word moved");

#define EL_PAGE_SEALED		0x0001	/* a later page exists; never append */
#define EL_PAGE_CLOSED		0x0002	/* last page of a closed segment: the
										 * partition's log goes on in its next
										 * segment (always with SEALED) */

#define ElPageGetOpaque(page) ((ElPageOpaque) PageGetSpecialPointer(page))

/* entry header words */
#define EL_ENTRY_RUN		0x8000
#define EL_ENTRY_LENMASK	0x1FFF	/* entries are shorter than a page */

/* run flags, in the run header word */
#define EL_RUN_FROZEN		0x0001	/* committed and older than relfrozenxid */
#define EL_RUN_DEAD			0x0002	/* aborted, frozen as such by VACUUM */

#define EL_RUN_SIZE			(2 + 4 + 4 + 8)
#define EL_REC_FIXED		2	/* the header word */
#define EL_REC_HASNULLS		0x4000	/* in a record's header word */
#define EL_REC_TSDELTA		0x2000	/* ts stored as int32 µs from base_ts */

/*
 * Records per page are capped so that whoever works a page at a time can
 * use fixed arrays of this size: VACUUM's freezing (elvacuum.c) and
 * ANALYZE's sample of a block (elam.c).  Tiny records would otherwise
 * allow a few thousand per page.  (TIDs do not depend on it: they encode
 * the partition and offset, produce.h.)
 */
#define EL_MAX_RECORDS_PER_PAGE 256

/* Largest encoded record that fits an empty page after its run header. */
#define EL_MAX_ENTRY_SIZE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(ElPageOpaqueData)) - EL_RUN_SIZE)

typedef struct ElRun
{
	uint16		flags;
	TransactionId xid;
	CommandId	cid;
	int64		base_offset;
} ElRun;

/*
 * Walking entries in offset order: a page's, or the bytes of one append
 * (WAL).  Run headers set the offset of the record after them, every record
 * takes the next offset.  The entry format is decoded here and nowhere
 * else (el_entry_walk_next).
 */
typedef enum ElEntryKind
{
	EL_ENTRY_END,				/* no entry left */
	EL_ENTRY_IS_RUN,			/* a run header: walk->run is it */
	EL_ENTRY_IS_RECORD,			/* a record: walk->offset is its offset */
	EL_ENTRY_BAD				/* a length that does not fit: damage */
} ElEntryKind;

typedef struct ElEntryWalk
{
	const char *bytes;
	Size		len;
	Size		off;			/* next entry */
	int64		next_offset;	/* offset of the next record */
	int64		offset;			/* the record just returned */
	ElRun		run;			/* the last run header */
	int			run_seq;		/* run headers seen so far */
} ElEntryWalk;

/* Position while walking a page's entries in offset order. */
typedef struct ElPageIter
{
	Page		page;
	ElEntryWalk walk;			/* over the page's entries */
	int			run_seq;		/* runs seen so far on this page */
} ElPageIter;

/* One record as found on a page (points into the page). */
typedef struct ElRecordRef
{
	int64		offset;
	const char *entry;			/* start of the entry (its header) */
	uint16		len;			/* whole entry length */
	uint16		pos;			/* entry position within the page */
	const ElRun *run;
} ElRecordRef;

extern void el_page_init(Page page, int64 first_offset, int64 base_ts,
						 TransactionId init_xid, int ts_natts, int64 ts_high);
extern void el_page_apply(Page page, const char *bytes, Size len);
extern bool el_page_is_valid(Page page);
extern void el_entry_walk_init(ElEntryWalk *walk, const char *bytes, Size len,
							   int64 next_offset);
extern ElEntryKind el_entry_walk_next(ElEntryWalk *walk, Size *pos, uint16 *len);
extern void el_page_iter_init(ElPageIter *it, Page page);
extern bool el_page_iter_next(ElPageIter *it, ElRecordRef *rec);
extern void el_read_run(const char *p, ElRun *run);
extern void el_write_run(char *p, const ElRun *run);

/* record encoding over a descriptor of the stored (non-derived) columns */
extern Size el_record_size(TupleDesc storedesc, Datum *values, bool *isnull);
extern Size el_record_charge(TupleDesc storedesc, Datum *values, bool *isnull,
							 Size size);
extern Size el_entry_charge(const char *entry, uint16 len, TupleDesc storedesc,
							const char *data);
extern void el_record_encode(char *dst, Size size, TupleDesc storedesc,
							 Datum *values, bool *isnull);
extern Size el_entry_compact(const char *entry, Size len, int natts,
							 int64 base_ts, char *dst);
extern bool el_entry_ts(const char *entry, Size len, int natts, int64 *ts);
extern MinimalTuple el_record_to_minimal(const char *entry, uint16 len,
										 int natts, int32 partition,
										 int64 offset, int64 base_ts, char *buf);
extern void el_record_decode(const char *entry, uint16 len, TupleDesc storedesc,
							 int64 base_ts, char *scratch, Datum *values,
							 bool *isnull);

#endif							/* EVENTLOG_ELPAGE_H */
