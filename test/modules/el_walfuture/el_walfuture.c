/*
 * el_walfuture.c
 *		Test helper for test/t/060_format_version.pl, never installed: logs a
 *		record of pg_eventlog's resource manager in a storage format version
 *		of the caller's choice, as a later release would (elwal.h,
 *		XLOG_EL_VERSIONED), so that the test can check what this build does
 *		when redo or logical decoding meets it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xloginsert.h"
#include "fmgr.h"
#include "utils/pg_lsn.h"

PG_MODULE_MAGIC;

/* the values of src/include/eventlog/elwal.h, spelled out on purpose */
#define EL_RMGR_ID			163
#define XLOG_EL_VERSIONED	0x70

PG_FUNCTION_INFO_V1(el_log_future_record);

/* el_log_future_record(format int, op int) returns pg_lsn */
Datum
el_log_future_record(PG_FUNCTION_ARGS)
{
	struct
	{
		uint16		format;
		uint8		op;
		char		payload[13];
	}			rec;
	XLogRecPtr	lsn;

	memset(&rec, 0x5A, sizeof(rec));
	rec.format = (uint16) PG_GETARG_INT32(0);
	rec.op = (uint8) PG_GETARG_INT32(1);
	/* a transaction id, so that decoding treats it like an append */
	(void) GetCurrentTransactionId();
	XLogBeginInsert();
	XLogRegisterData((char *) &rec, sizeof(rec));
	lsn = XLogInsert(EL_RMGR_ID, XLOG_EL_VERSIONED);
	XLogFlush(lsn);
	PG_RETURN_LSN(lsn);
}
