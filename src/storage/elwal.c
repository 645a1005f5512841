/*
 * elwal.c
 *		Redo, description and masking for the pg_eventlog resource manager.
 *
 * Redo is the same byte copy the primary did under the tail page's lock,
 * so replicas hold identical pages (checked by test/t/002_streaming_replica.pl and
 * usable with wal_consistency_checking = 'pg_eventlog').
 */
#include "postgres.h"

#include "access/bufmask.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xloginsert.h"
#include "access/xlogutils.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/standby.h"

#include "eventlog/elpage.h"
#include "eventlog/elwal.h"

static RmgrData el_rmgr = {
	.rm_name = EL_RMGR_NAME,
	.rm_redo = el_redo,
	.rm_desc = el_desc,
	.rm_identify = el_identify,
	.rm_mask = el_mask,
	.rm_decode = el_decode,
};

void
el_rmgr_register(void)
{
	RegisterCustomRmgr(EL_RMGR_ID, &el_rmgr);
}

/*
 * The storage format version of a WAL record of this resource manager
 * (elwal.h): EL_FORMAT_VERSION for the op codes of format 1, the logged
 * version of an XLOG_EL_VERSIONED record, 0 if it is neither (an op code
 * that no format uses, or a versioned record too short to say).
 */
int
el_wal_format(XLogReaderState *record)
{
	uint8		op = XLogRecGetInfo(record) & XLOG_EL_OPMASK;
	xl_el_versioned xv;

	switch (op)
	{
		case XLOG_EL_APPEND:
		case XLOG_EL_NEW_PAGE:
		case XLOG_EL_ROLL:
		case XLOG_EL_CONFLICT:
			return EL_FORMAT_VERSION;
		case XLOG_EL_VERSIONED:
			if (XLogRecGetDataLen(record) < SizeOfElVersioned)
				return 0;
			memcpy(&xv, XLogRecGetData(record), SizeOfElVersioned);
			return xv.format;
	}
	return 0;
}

/*
 * Stop at a record this build cannot read, before anything is done with
 * it: redo (an error in the startup process ends recovery) and logical
 * decoding call this first.
 */
void
el_wal_check_format(XLogReaderState *record)
{
	int			format = el_wal_format(record);

	if (format == EL_FORMAT_VERSION)
		return;
	if (format == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("eventlog WAL record at %X/%X has op code 0x%02X, which no storage format uses",
						LSN_FORMAT_ARGS(record->ReadRecPtr),
						(unsigned) (XLogRecGetInfo(record) & XLOG_EL_OPMASK)),
				 errdetail("This build of pg_eventlog reads storage format version %d.",
						   EL_FORMAT_VERSION)));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("eventlog WAL record at %X/%X is in storage format version %d, this build reads format version %d",
					LSN_FORMAT_ARGS(record->ReadRecPtr), format, EL_FORMAT_VERSION),
			 errdetail("This build of pg_eventlog reads storage format versions %d to %d.",
					   EL_FORMAT_MIN_VERSION, EL_FORMAT_VERSION),
			 errhint("Replay or decode this WAL with a release of pg_eventlog that reads format version %d (see the compatibility rule in docs/operations.md).",
					 format)));
}

void
el_redo(XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & XLOG_EL_OPMASK;
	XLogRecPtr	lsn = record->EndRecPtr;
	Buffer		buf;
	Page		page;
	char	   *data;
	Size		len;

	el_wal_check_format(record);
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
		case XLOG_EL_ROLL:
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
					if (info == XLOG_EL_ROLL)
						ElPageGetOpaque(page)->flags |= EL_PAGE_CLOSED;
					PageSetLSN(page, lsn);
					MarkBufferDirty(buf);
				}
				if (BufferIsValid(buf))
					UnlockReleaseBuffer(buf);
			}
			break;

		case XLOG_EL_CONFLICT:
			if (InHotStandby)
			{
				xl_el_conflict *xlrec = (xl_el_conflict *) XLogRecGetData(record);
				RelFileNode node = {InvalidOid, xlrec->dbid, InvalidOid};

				ResolveRecoveryConflictWithSnapshot(xlrec->xid, node);
			}
			break;

		default:
			elog(PANIC, "eventlog redo: unknown op code %u", info);
	}
}

/*
 * Log an XLOG_EL_CONFLICT for transaction xid (elwal.h) in the current
 * database, when standbys can run queries.
 */
void
el_log_snapshot_conflict(TransactionId xid)
{
	xl_el_conflict xlrec;

	if (!XLogStandbyInfoActive() || !TransactionIdIsNormal(xid))
		return;
	xlrec.xid = xid;
	xlrec.dbid = MyDatabaseId;
	XLogBeginInsert();
	XLogRegisterData((char *) &xlrec, sizeof(xlrec));
	(void) XLogInsert(EL_RMGR_ID, XLOG_EL_CONFLICT);
}

/*
 * The decoding information of a record logged with wal_level = logical
 * (the end of its main data), copied to *xd; false if it has none.
 * *topxid (if not NULL) is the top-level transaction logged before it
 * with XL_EL_DECODE_TOPXID, else InvalidTransactionId.
 */
bool
el_wal_get_decode(XLogReaderState *record, xl_el_decode *xd, TransactionId *topxid)
{
	uint8		info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;
	Size		len = XLogRecGetDataLen(record);

	if (topxid)
		*topxid = InvalidTransactionId;
	if (!(info & XLOG_EL_DECODE))
		return false;
	if (len < SizeOfElDecode)
		elog(ERROR, "eventlog WAL record has %zu bytes of main data, fewer than its decoding information",
			 len);
	memset(xd, 0, sizeof(xl_el_decode));
	memcpy(xd, XLogRecGetData(record) + len - SizeOfElDecode, SizeOfElDecode);
	if (xd->flags & XL_EL_DECODE_TOPXID)
	{
		if (len < SizeOfElDecode + sizeof(TransactionId))
			elog(ERROR, "eventlog WAL record has %zu bytes of main data, fewer than its decoding information",
				 len);
		if (topxid)
			memcpy(topxid, XLogRecGetData(record) + len - SizeOfElDecode - sizeof(TransactionId),
				   sizeof(TransactionId));
	}
	return true;
}

/*
 * Walk a decodable record's block data the way a logical decoder does:
 * entries are self-delimiting (elwal.h), the first record gets
 * xd->first_offset and a run header restarts the count.  Returns the number
 * of records and sets *last to the last one's offset, or returns -1 if an
 * entry does not fit the data.
 */
static int
walk_entries(const char *data, Size len, const xl_el_decode *xd, int64 *last)
{
	ElEntryWalk walk;
	ElEntryKind kind;
	Size		pos;
	uint16		elen;
	int			n = 0;

	el_entry_walk_init(&walk, data, len, xd->first_offset);
	while ((kind = el_entry_walk_next(&walk, &pos, &elen)) != EL_ENTRY_END)
	{
		if (kind == EL_ENTRY_BAD)
			return -1;
		if (kind == EL_ENTRY_IS_RECORD)
		{
			*last = walk.offset;
			n++;
		}
	}
	return n;
}

/*
 * pg_waldump / pg_walinspect: "topic <relid> filenode <spc>/<relfilenode>
 * partition <p> xid <x>[ top <x>] first_offset <o> nrecords <n> base_ts <t> natts <k>[ ts] bytes <b>
 * offsets <o>-<last>" with wal_level = logical; only the first offset
 * (NEW_PAGE) and the byte count without.  bytes is the block data (0 behind
 * a full-page image without REGBUF_KEEP_DATA); the offset range is what a
 * walk of that data alone yields (walk_entries), "data holds <k> records"
 * if that walk disagrees with nrecords.
 */
void
el_desc(StringInfo buf, XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & XLOG_EL_OPMASK;
	Size		len = 0;
	char	   *data = NULL;
	xl_el_decode xd;
	TransactionId topxid;
	bool		decodable;
	int			format = el_wal_format(record);

	if (format != EL_FORMAT_VERSION)
	{
		/* never interpret the bytes of a format this build does not know */
		if (format == 0)
			appendStringInfoString(buf, "op code of no storage format");
		else
			appendStringInfo(buf, "storage format version %d (this build reads %d)",
							 format, EL_FORMAT_VERSION);
		return;
	}
	decodable = el_wal_get_decode(record, &xd, &topxid);
	if (decodable)
	{
		appendStringInfo(buf, "topic %u filenode %u/%u partition %d xid %u",
						 xd.topic_relid, xd.topic_spcnode, xd.topic_relnode,
						 xd.partition, xd.xid);
		if (TransactionIdIsValid(topxid))
			appendStringInfo(buf, " top %u", topxid);
		appendStringInfo(buf, " first_offset " INT64_FORMAT
						 " nrecords %u base_ts " INT64_FORMAT " natts %u%s ",
						 xd.first_offset,
						 (unsigned) xd.nrecords, xd.base_ts, (unsigned) xd.natts,
						 (xd.flags & XL_EL_DECODE_TSFIRST) ? " ts" : "");
	}
	else if (info == XLOG_EL_NEW_PAGE || info == XLOG_EL_ROLL)
		appendStringInfo(buf, "first_offset " INT64_FORMAT " ",
						 ((xl_el_new_page *) XLogRecGetData(record))->first_offset);
	else if (info == XLOG_EL_CONFLICT)
	{
		xl_el_conflict *xlrec = (xl_el_conflict *) XLogRecGetData(record);

		appendStringInfo(buf, "xid %u db %u", xlrec->xid, xlrec->dbid);
		return;
	}
	if (XLogRecHasBlockRef(record, 0))
		data = XLogRecGetBlockData(record, 0, &len);
	appendStringInfo(buf, "bytes %zu", len);
	if (decodable && data != NULL)
	{
		int64		last = -1;
		int			n = walk_entries(data, len, &xd, &last);

		if (n < 0)
			appendStringInfoString(buf, " (malformed data)");
		else if (n != xd.nrecords)
			appendStringInfo(buf, " (data holds %d records)", n);
		else if (n > 0)
			appendStringInfo(buf, " offsets " INT64_FORMAT "-" INT64_FORMAT,
							 xd.first_offset, last);
	}
}

const char *
el_identify(uint8 info)
{
	switch (info & XLOG_EL_OPMASK)
	{
		case XLOG_EL_APPEND:
			return "APPEND";
		case XLOG_EL_NEW_PAGE:
			return "NEW_PAGE";
		case XLOG_EL_ROLL:
			return "ROLL";
		case XLOG_EL_CONFLICT:
			return "CONFLICT";
		case XLOG_EL_VERSIONED:
			return "VERSIONED";
	}
	return NULL;
}

void
el_mask(char *pagedata, BlockNumber blkno)
{
	mask_page_lsn_and_checksum((Page) pagedata);
	mask_unused_space((Page) pagedata);
}
