/*
 * eldecode.c
 *		Logical decoding of the pg_eventlog resource manager (rm_decode).
 *
 * Every record of an APPEND or NEW_PAGE logged with wal_level = logical
 * becomes an INSERT change of the topic relation eventlog_topics."<topic>",
 * with all its columns: partition, offset, then the stored columns.  The
 * reorder buffer then does what it does for heap inserts: it keeps the
 * changes per (sub)transaction, drops those of transactions and
 * subtransactions that abort, and hands the others to the output plugin
 * at commit, in commit order (or streams them, with streaming = on).
 *
 * Decoding cannot read catalogs, so everything comes from the WAL record
 * (elwal.h): the topic relation's relfilenode (the reorder buffer maps it
 * to the relation with its historic snapshot, at commit), the partition,
 * the inserting (sub)transaction, the first offset and the page's base time;
 * the record boundaries are the entries' own header words.  The tuple is
 * rebuilt with the same function fetch() uses (el_record_to_minimal).
 *
 * Calls follow heap_decode()'s order: ReorderBufferProcessXid() for every
 * record; nothing before the snapshot builder has a full snapshot; then
 * SnapBuildProcessChange() (which also gives the transaction its base
 * snapshot: without it the transaction would be dropped silently); only
 * then the fast-forward, database and origin checks.
 *
 * Values above ~2 kB were stored in the segment's TOAST table, logged as
 * heap inserts there.  The reorder buffer collects such chunks per
 * transaction (they belong to a TOAST relation) and, for the next change
 * of an ordinary relation, replaces the TOAST pointers whose value id it
 * has chunks for, reading the chunk layout from that relation's own TOAST
 * table: that is why topic relations have a (never used) TOAST table of
 * their own (elam.c).
 *
 * The chunks are freed after the last record of each WAL record
 * (clear_toast_afterwards), as heap_decode() frees them after a heap
 * insert, or after the last tuple of a multi-insert: so a decoder holds at
 * most one record's large values at a time, not a whole transaction's.
 * That is right because produce.c appends a record whose values went to
 * TOAST right after writing its chunks, before it toasts or appends any
 * other record (BeforeToastFn): a WAL record's chunks are those of its own
 * last record, and no chunk logged before a WAL record waits for a later
 * one.  (A rewrite's TOAST chunks are not logged for decoding at all.)
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog_internal.h"
#include "access/xlogreader.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/reorderbuffer.h"
#include "replication/snapbuild.h"

#include "eventlog/elpage.h"
#include "eventlog/elwal.h"

/* partition and offset precede the stored columns; see eventlog.h */
#define EL_DECODE_DERIVED_ATTS 2

/* Queue one record as an INSERT of the topic relation. */
static void
queue_record(LogicalDecodingContext *ctx, XLogRecordBuffer *buf,
			 const xl_el_decode *xd, const RelFileNode *topic,
			 const char *entry, uint16 len, int64 offset, bool last,
			 char *scratch)
{
	int			natts = xd->natts + EL_DECODE_DERIVED_ATTS;
	MinimalTuple mt;
	ReorderBufferChange *change;
	ReorderBufferTupleBuf *tb;
	HeapTupleHeader htup;
	Size		tuplen;

	mt = el_record_to_minimal(entry, len, natts, xd->partition, offset,
							  xd->base_ts, scratch);
	tuplen = mt->t_len + MINIMAL_TUPLE_OFFSET;

	change = ReorderBufferGetChange(ctx->reorder);
	change->action = REORDER_BUFFER_CHANGE_INSERT;
	change->origin_id = XLogRecGetOrigin(buf->record);
	change->data.tp.relnode = *topic;
	/* see the head comment: nothing later needs the chunks seen so far */
	change->data.tp.clear_toast_afterwards = last;

	tb = ReorderBufferGetTupleBuf(ctx->reorder, tuplen);
	htup = ReorderBufferTupleBufData(tb);
	/* a minimal tuple is a heap tuple without the start of its header */
	memset(htup, 0, MINIMAL_TUPLE_OFFSET);
	memcpy((char *) htup + MINIMAL_TUPLE_OFFSET, mt, mt->t_len);
	tb->tuple.t_data = htup;
	tb->tuple.t_len = tuplen;
	ItemPointerSetInvalid(&tb->tuple.t_self);
	tb->tuple.t_tableOid = InvalidOid;
	change->data.tp.newtuple = tb;

	ReorderBufferQueueChange(ctx->reorder, xd->xid, buf->origptr, change, false);
}

void
el_decode(LogicalDecodingContext *ctx, XLogRecordBuffer *buf)
{
	XLogReaderState *r = buf->record;
	SnapBuild  *builder = ctx->snapshot_builder;
	TransactionId rxid = XLogRecGetXid(r);
	TransactionId topxid;
	xl_el_decode xd;
	RelFileNode seg;
	RelFileNode topic;
	ForkNumber	fork;
	BlockNumber blk;
	char	   *data;
	Size		len;
	ElEntryWalk walk;
	ElEntryKind kind;
	Size		pos;
	uint16		elen;
	int			n = 0;
	union
	{
		char		data[BLCKSZ + 64];
		double		force_align_d;
		int64		force_align_i64;
	}			scratch;

	el_wal_check_format(r);
	ReorderBufferProcessXid(ctx->reorder, rxid, buf->origptr);

	/* logged below wal_level = logical: nothing to decode */
	if (!el_wal_get_decode(r, &xd, &topxid))
		return;
	if (SnapBuildCurrentState(builder) < SNAPBUILD_FULL_SNAPSHOT)
		return;

	/*
	 * Records buffered by another (sub)transaction of ours, appended in
	 * this one: they belong to their own xid, whose parent the WAL record
	 * names.
	 */
	if (xd.xid != rxid)
	{
		ReorderBufferProcessXid(ctx->reorder, xd.xid, buf->origptr);
		if (TransactionIdIsValid(topxid) && topxid != xd.xid)
			ReorderBufferAssignChild(ctx->reorder, topxid, xd.xid, buf->origptr);
	}

	if (!SnapBuildProcessChange(builder, xd.xid, buf->origptr))
		return;
	if (ctx->fast_forward)
		return;

	XLogRecGetBlockTag(r, 0, &seg, &fork, &blk);
	if (seg.dbNode != ctx->slot->data.database)
		return;
	if (ctx->callbacks.filter_by_origin_cb &&
		filter_by_origin_cb_wrapper(ctx, XLogRecGetOrigin(r)))
		return;
	if (xd.nrecords == 0)
		return;					/* only a log-end marker */

	topic.spcNode = xd.topic_spcnode;
	topic.dbNode = seg.dbNode;
	topic.relNode = xd.topic_relnode;

	data = XLogRecGetBlockData(r, 0, &len);
	if (data == NULL)
		elog(ERROR, "eventlog WAL record at %X/%X has no record data to decode",
			 LSN_FORMAT_ARGS(buf->origptr));
	el_entry_walk_init(&walk, data, len, xd.first_offset);
	while ((kind = el_entry_walk_next(&walk, &pos, &elen)) != EL_ENTRY_END)
	{
		if (kind == EL_ENTRY_BAD)
			elog(ERROR, "eventlog WAL record at %X/%X holds a malformed entry at byte %zu",
				 LSN_FORMAT_ARGS(buf->origptr), pos);
		if (kind != EL_ENTRY_IS_RECORD)
			continue;
		queue_record(ctx, buf, &xd, &topic, data + pos, elen, walk.offset,
					 n == (int) xd.nrecords - 1, scratch.data);
		n++;
	}
	if (n != xd.nrecords)
		elog(ERROR, "eventlog WAL record at %X/%X holds %d records, its header says %u",
			 LSN_FORMAT_ARGS(buf->origptr), n, (unsigned) xd.nrecords);
}
