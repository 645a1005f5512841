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
 * record header, the block reference and the entry bytes.  VACUUM's freezing uses log_newpage_buffer() instead: it is
 * rare and a full image is the simplest exact redo.
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

extern void el_rmgr_register(void);
extern void el_redo(XLogReaderState *record);
extern void el_desc(StringInfo buf, XLogReaderState *record);
extern const char *el_identify(uint8 info);
extern void el_mask(char *pagedata, BlockNumber blkno);

#endif							/* EVENTLOG_ELWAL_H */
