/*
 * elwal.c
 *		Redo, description and masking for the pg_eventlog resource manager.
 *
 * Redo is the same byte copy the primary did under the tail page's lock,
 * so replicas hold identical pages (checked by test/t/002_replica.pl and
 * usable with wal_consistency_checking = 'pg_eventlog').
 */
#include "postgres.h"

#include "access/bufmask.h"
#include "access/xlog_internal.h"
#include "access/xlogutils.h"
#include "storage/bufmgr.h"

#include "eventlog/elpage.h"
#include "eventlog/elwal.h"

static RmgrData el_rmgr = {
	.rm_name = EL_RMGR_NAME,
	.rm_redo = el_redo,
	.rm_desc = el_desc,
	.rm_identify = el_identify,
	.rm_mask = el_mask,
};

void
el_rmgr_register(void)
{
	RegisterCustomRmgr(EL_RMGR_ID, &el_rmgr);
}

void
el_redo(XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;
	XLogRecPtr	lsn = record->EndRecPtr;
	Buffer		buf;
	Page		page;
	char	   *data;
	Size		len;

	switch (info)
	{
		case XLOG_EL_APPEND:
			if (XLogReadBufferForRedo(record, 0, &buf) == BLK_NEEDS_REDO)
			{
				page = BufferGetPage(buf);
				data = XLogRecGetBlockData(record, 0, &len);
				el_page_apply(page, data, len);
				PageSetLSN(page, lsn);
				MarkBufferDirty(buf);
			}
			if (BufferIsValid(buf))
				UnlockReleaseBuffer(buf);
			break;

		case XLOG_EL_NEW_PAGE:
			{
				xl_el_new_page *xlrec = (xl_el_new_page *) XLogRecGetData(record);

				buf = XLogInitBufferForRedo(record, 0);
				page = BufferGetPage(buf);
				el_page_init(page, xlrec->first_offset, xlrec->base_ts, xlrec->init_xid,
							 xlrec->ts_natts, xlrec->ts_high);
				data = XLogRecGetBlockData(record, 0, &len);
				el_page_apply(page, data, len);
				PageSetLSN(page, lsn);
				MarkBufferDirty(buf);
				UnlockReleaseBuffer(buf);
			}
			if (XLogRecHasBlockRef(record, 1))
			{
				if (XLogReadBufferForRedo(record, 1, &buf) == BLK_NEEDS_REDO)
				{
					page = BufferGetPage(buf);
					ElPageGetOpaque(page)->flags |= EL_PAGE_SEALED;
					PageSetLSN(page, lsn);
					MarkBufferDirty(buf);
				}
				if (BufferIsValid(buf))
					UnlockReleaseBuffer(buf);
			}
			break;

		default:
			elog(PANIC, "eventlog redo: unknown op code %u", info);
	}
}

void
el_desc(StringInfo buf, XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;
	Size		len = 0;

	if (info == XLOG_EL_NEW_PAGE)
		appendStringInfo(buf, "first_offset " INT64_FORMAT " ",
						 ((xl_el_new_page *) XLogRecGetData(record))->first_offset);
	if (XLogRecHasBlockRef(record, 0))
		(void) XLogRecGetBlockData(record, 0, &len);
	appendStringInfo(buf, "bytes %zu", len);
}

const char *
el_identify(uint8 info)
{
	switch (info & ~XLR_INFO_MASK)
	{
		case XLOG_EL_APPEND:
			return "APPEND";
		case XLOG_EL_NEW_PAGE:
			return "NEW_PAGE";
	}
	return NULL;
}

void
el_mask(char *pagedata, BlockNumber blkno)
{
	mask_page_lsn_and_checksum((Page) pagedata);
	mask_unused_space((Page) pagedata);
}
