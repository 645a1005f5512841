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
 * Both carry the page's new opaque counters, so redo reproduces the page
 * byte for byte.  VACUUM's freezing uses log_newpage_buffer() instead: it is
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

typedef struct xl_el_append
{
	uint16		pos;			/* page position the bytes go to */
	uint16		nrecords;		/* page's record count afterwards */
	uint16		last_run;		/* page's last run position afterwards */
	int64		first_offset;	/* NEW_PAGE only: page first offset */
	int64		next_offset;	/* page's next offset afterwards */
} xl_el_append;

#define SizeOfElAppend (offsetof(xl_el_append, next_offset) + sizeof(int64))

extern void el_rmgr_register(void);
extern void el_redo(XLogReaderState *record);
extern void el_desc(StringInfo buf, XLogReaderState *record);
extern const char *el_identify(uint8 info);
extern void el_mask(char *pagedata, BlockNumber blkno);

#endif							/* EVENTLOG_ELWAL_H */
