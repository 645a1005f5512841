/*
 * elam.c
 *		The "eventlog" table access method.
 *
 * One AM serves two kinds of relations (topic.h):
 *	- a topic relation holds no pages of its own: inserts are routed to
 *	  partitions (produce.c) and scans walk every partition's segments in
 *	  offset order (elscan.c);
 *	- a segment relation holds the pages.  It is storage, read through its
 *	  topic: scanned directly it returns no rows, so pg_dump writes every
 *	  record exactly once (as data of the topic relation).
 *
 * TIDs of topic rows encode (partition, offset) (produce.h), which never
 * change, so indexes on a topic work through index_fetch_tuple.  Records
 * are never updated, deleted or locked: those callbacks raise errors, and
 * hooks.c refuses such statements before they start.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heaptoast.h"
#include "access/multixact.h"
#include "access/tableam.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "catalog/pg_am_d.h"
#include "catalog/storage.h"
#include "catalog/storage_xlog.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "storage/procarray.h"
#include "storage/smgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "eventlog/elam.h"
#include "eventlog/hooks.h"
#include "eventlog/elstore.h"
#include "eventlog/elvisibility.h"
#include "eventlog/eventlog.h"
#include "eventlog/pending.h"
#include "eventlog/produce.h"
#include "eventlog/topic.h"
#include "eventlog/topicdump.h"

typedef struct ElParallelScanData
{
	ParallelTableScanDescData base;
	pg_atomic_uint32 next_partition;	/* partitions are handed out whole */
} ElParallelScanData;

typedef struct ElScanDescData
{
	TableScanDescData base;
	ElRelRole	role;
	ElTopic    *topic;
	int			partition;		/* partition being read, -1 before start */
	bool		cursor_open;
	ElCursor	cur;
	MemoryContext cxt;
	bool		export_markers; /* COPY TO: see el_copy_to_relid */
	bool		export_header;	/* COPY TO: header row still to write */
	int64		last_offset;	/* last offset returned in this partition */

	/* ANALYZE: topic-wide block numbers map onto segment blocks */
	int			nmap;
	Oid		   *map_relid;
	int		   *map_partition;
	BlockNumber *map_start;
	int			amap;			/* analyze: records of the current block */
	ElCursorRec *arecs;
	int			anrecs;
	int			aidx;
	int			apart;
	ElRun	   *aruns;
	int64		abase_ts;		/* analyze: base time of the current block */
} ElScanDescData;

typedef ElScanDescData *ElScanDesc;

static const TupleTableSlotOps *
el_slot_callbacks(Relation rel)
{
	return &TTSOpsVirtual;
}

static ElRelRole
checked_role(Relation rel)
{
	ElRelRole	role = el_rel_role(rel);

	if (role == EL_ROLE_OTHER)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s\" is not an eventlog topic",
						RelationGetRelationName(rel)),
				 errhint("Create topics with eventlog.create_topic(); the eventlog access method serves only them.")));
	return role;
}

/* ------------------------------------------------------------------------
 * Sequential scans
 * ------------------------------------------------------------------------
 */

static TableScanDesc
el_scan_begin(Relation rel, Snapshot snapshot, int nkeys, ScanKey key,
			  ParallelTableScanDesc pscan, uint32 flags)
{
	ElScanDesc	scan = palloc0(sizeof(ElScanDescData));

	scan->base.rs_rd = rel;
	scan->base.rs_snapshot = snapshot;
	scan->base.rs_nkeys = nkeys;
	scan->base.rs_key = key;
	scan->base.rs_flags = flags;
	scan->base.rs_parallel = pscan;
	scan->role = checked_role(rel);
	scan->partition = -1;
	scan->cxt = AllocSetContextCreate(CurrentMemoryContext, "eventlog scan",
									  ALLOCSET_DEFAULT_SIZES);
	if (scan->role == EL_ROLE_TOPIC)
		scan->topic = el_topic_get(RelationGetRelid(rel), false);
	scan->export_markers = (el_copy_to_relid == RelationGetRelid(rel));
	scan->export_header = scan->export_markers && el_copy_to_header &&
		scan->topic != NULL;
	return (TableScanDesc) scan;
}

static void
close_cursor(ElScanDesc scan)
{
	if (scan->cursor_open)
		el_cursor_end(&scan->cur);
	scan->cursor_open = false;
}

static void
el_scan_end(TableScanDesc sscan)
{
	ElScanDesc	scan = (ElScanDesc) sscan;

	close_cursor(scan);
	MemoryContextDelete(scan->cxt);
	if (scan->base.rs_flags & SO_TEMP_SNAPSHOT)
		UnregisterSnapshot(scan->base.rs_snapshot);
	pfree(scan);
}

static void
el_scan_rescan(TableScanDesc sscan, ScanKey key, bool set_params,
			   bool allow_strat, bool allow_sync, bool allow_pagemode)
{
	ElScanDesc	scan = (ElScanDesc) sscan;

	close_cursor(scan);
	scan->partition = -1;
}

/* Claim the next partition to read (shared among parallel workers). */
static int
next_partition(ElScanDesc scan)
{
	if (scan->base.rs_parallel)
	{
		ElParallelScanData *ps = (ElParallelScanData *) scan->base.rs_parallel;

		return (int) pg_atomic_fetch_add_u32(&ps->next_partition, 1);
	}
	return scan->partition + 1;
}

static void
store_row(TupleTableSlot *slot, Relation rel, int partition, int64 offset)
{
	ExecStoreVirtualTuple(slot);
	el_tid_encode(&slot->tts_tid, partition, offset);
	slot->tts_tableOid = RelationGetRelid(rel);
}

/*
 * Fill slot with a control row of the topic export (topicdump.h): every
 * column NULL but the partition and, if offset >= 0, the offset.  The
 * caller stores it (store_row).
 */
static void
fill_control_row(TupleTableSlot *slot, int partition, int64 offset)
{
	int			i;

	for (i = 0; i < slot->tts_tupleDescriptor->natts; i++)
	{
		slot->tts_values[i] = (Datum) 0;
		slot->tts_isnull[i] = true;
	}
	slot->tts_values[EL_ATTNUM_PARTITION - 1] = Int32GetDatum(partition);
	slot->tts_isnull[EL_ATTNUM_PARTITION - 1] = false;
	if (offset >= 0)
	{
		slot->tts_values[EL_ATTNUM_OFFSET - 1] = Int64GetDatum(offset);
		slot->tts_isnull[EL_ATTNUM_OFFSET - 1] = false;
	}
}

/*
 * COPY TO of a topic ends each partition whose log end lies beyond its
 * last visible record (aborted or unfinished records at the tail) with a
 * marker row: (partition, log end - 1, everything else NULL).  COPY FROM
 * (pg_restore) turns it back into the log end instead of a record, so a
 * restored partition never hands out an offset again that was used.
 */
static bool
export_log_end_marker(ElScanDesc scan, TupleTableSlot *slot)
{
	int64		log_end = el_partition_log_end(&scan->topic->parts[scan->partition]);

	if (log_end - 1 <= scan->last_offset)
		return false;
	fill_control_row(slot, scan->partition, log_end - 1);
	store_row(slot, scan->base.rs_rd, scan->partition, log_end - 1);
	return true;
}

static bool
el_scan_getnextslot(TableScanDesc sscan, ScanDirection direction,
					TupleTableSlot *slot)
{
	ElScanDesc	scan = (ElScanDesc) sscan;
	int64		offset;

	ExecClearTuple(slot);
	if (scan->role != EL_ROLE_TOPIC)
		return false;
	if (!ScanDirectionIsForward(direction))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("backward scans of eventlog topics are not supported")));

	if (scan->export_header)
	{
		/* COPY TO starts with the topic's configuration (topicdump.c) */
		MemoryContext old = MemoryContextSwitchTo(scan->cxt);

		scan->export_header = false;
		fill_control_row(slot, EL_HEADER_PARTITION, -1);
		slot->tts_values[EL_ATTNUM_VALUE - 1] = el_topic_export_header(scan->topic);
		slot->tts_isnull[EL_ATTNUM_VALUE - 1] = false;
		MemoryContextSwitchTo(old);
		store_row(slot, scan->base.rs_rd, EL_TID_HEADER_PARTITION, EL_TID_HEADER_OFFSET);
		return true;
	}

	for (;;)
	{
		if (!scan->cursor_open)
		{
			MemoryContext old;

			scan->partition = next_partition(scan);
			if (scan->partition >= scan->topic->nparts)
				return false;
			/* this backend's own routed-but-unappended records come first */
			if (!el_pending_empty())
				el_pending_flush();
			old = MemoryContextSwitchTo(scan->cxt);
			el_cursor_init(&scan->cur, &scan->topic->parts[scan->partition], 0,
						   scan->base.rs_snapshot, EL_READ_SKIP);
			MemoryContextSwitchTo(old);
			scan->cursor_open = true;
			scan->last_offset = -1;
		}
		if (el_cursor_next(&scan->cur, &offset, slot->tts_values, slot->tts_isnull))
		{
			store_row(slot, scan->base.rs_rd, scan->partition, offset);
			pgstat_count_heap_getnext(scan->base.rs_rd);
			scan->last_offset = offset;
			return true;
		}
		close_cursor(scan);
		if (scan->export_markers &&
			export_log_end_marker(scan, slot))
			return true;
	}
}

static Size
el_parallelscan_estimate(Relation rel)
{
	return sizeof(ElParallelScanData);
}

static Size
el_parallelscan_initialize(Relation rel, ParallelTableScanDesc pscan)
{
	ElParallelScanData *ps = (ElParallelScanData *) pscan;

	ps->base.phs_relid = RelationGetRelid(rel);
	ps->base.phs_syncscan = false;
	pg_atomic_init_u32(&ps->next_partition, 0);
	return sizeof(ElParallelScanData);
}

static void
el_parallelscan_reinitialize(Relation rel, ParallelTableScanDesc pscan)
{
	pg_atomic_write_u32(&((ElParallelScanData *) pscan)->next_partition, 0);
}

/* ------------------------------------------------------------------------
 * Fetching single rows by TID: index scans, TID scans, rechecks
 * ------------------------------------------------------------------------
 */

static bool
fetch_by_tid(Relation rel, ItemPointer tid, Snapshot snapshot,
			 TupleTableSlot *slot)
{
	ElTopic    *topic;
	ElCursor	cur;
	int			partition;
	int64		offset;
	int64		found;
	bool		ok;

	ExecClearTuple(slot);
	if (el_rel_role(rel) != EL_ROLE_TOPIC)
		return false;
	topic = el_topic_get(RelationGetRelid(rel), false);
	el_tid_decode(tid, &partition, &offset);
	if (partition < 0 || partition >= topic->nparts)
		return false;

	/* a dirty snapshot reports whom to wait for, nobody unless we say so */
	if (snapshot->snapshot_type == SNAPSHOT_DIRTY)
	{
		snapshot->xmin = InvalidTransactionId;
		snapshot->xmax = InvalidTransactionId;
		snapshot->speculativeToken = 0;
	}

	if (!el_pending_empty())
		el_pending_flush();
	el_cursor_init(&cur, &topic->parts[partition], offset, snapshot, EL_READ_SKIP);
	cur.stop_before = offset + 1;
	ok = el_cursor_next(&cur, &found, slot->tts_values, slot->tts_isnull) &&
		found == offset;
	if (ok)
	{
		/* the slot must outlive the cursor's scratch space */
		store_row(slot, rel, partition, offset);
		ExecMaterializeSlot(slot);
	}
	el_cursor_end(&cur);
	return ok;
}

static IndexFetchTableData *
el_index_fetch_begin(Relation rel)
{
	IndexFetchTableData *scan = palloc0(sizeof(IndexFetchTableData));

	scan->rel = rel;
	return scan;
}

static void
el_index_fetch_reset(IndexFetchTableData *scan)
{
}

static void
el_index_fetch_end(IndexFetchTableData *scan)
{
	pfree(scan);
}

static bool
el_index_fetch_tuple(IndexFetchTableData *scan, ItemPointer tid,
					 Snapshot snapshot, TupleTableSlot *slot,
					 bool *call_again, bool *all_dead)
{
	*call_again = false;
	if (all_dead)
		*all_dead = false;
	return fetch_by_tid(scan->rel, tid, snapshot, slot);
}

/*
 * AFTER ROW triggers read back what an INSERT or COPY stored, by TID with
 * SnapshotAny.  A log-end marker (COPY FROM of a topic export) stored no
 * record, only moved the log end: hand back the marker row as it was given,
 * (partition, offset, nothing else).
 */
static bool
el_tuple_fetch_row_version(Relation rel, ItemPointer tid, Snapshot snapshot,
						   TupleTableSlot *slot)
{
	int			partition;
	int64		offset;
	ElTopic    *topic;

	if (fetch_by_tid(rel, tid, snapshot, slot))
		return true;
	if (snapshot->snapshot_type != SNAPSHOT_ANY || el_rel_role(rel) != EL_ROLE_TOPIC)
		return false;
	topic = el_topic_get(RelationGetRelid(rel), false);
	el_tid_decode(tid, &partition, &offset);
	if (partition < 0 || partition >= topic->nparts ||
		offset >= el_partition_log_end(&topic->parts[partition]))
		return false;
	fill_control_row(slot, partition, offset);
	store_row(slot, rel, partition, offset);
	return true;
}

static bool
el_tuple_tid_valid(TableScanDesc scan, ItemPointer tid)
{
	return ItemPointerIsValid(tid);
}

static void
el_tuple_get_latest_tid(TableScanDesc scan, ItemPointer tid)
{
	/* records are never updated: every TID is the latest */
}

static bool
el_tuple_satisfies_snapshot(Relation rel, TupleTableSlot *slot, Snapshot snapshot)
{
	TupleTableSlot *tmp = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
	bool		result = fetch_by_tid(rel, &slot->tts_tid, snapshot, tmp);

	ExecDropSingleTupleTableSlot(tmp);
	return result;
}

static TransactionId
el_index_delete_tuples(Relation rel, TM_IndexDeleteOp *delstate)
{
	/* nothing is ever deleted, so no index entry is known dead */
	delstate->ndeltids = 0;
	return InvalidTransactionId;
}

/* ------------------------------------------------------------------------
 * Writes
 * ------------------------------------------------------------------------
 */

static void
refuse_direct_segment_write(Relation rel)
{
	if (checked_role(rel) == EL_ROLE_SEGMENT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write to eventlog segment \"%s\" directly",
						RelationGetRelationName(rel)),
				 errhint("Produce to the topic with eventlog.produce() or INSERT INTO its relation in schema %s.",
						 EL_TOPICS_SCHEMA)));
}

static void
el_tuple_insert(Relation rel, TupleTableSlot *slot, CommandId cid,
				int options, struct BulkInsertStateData *bistate)
{
	refuse_direct_segment_write(rel);
	el_topic_insert(rel, slot, el_defer_inserts);
}

static void
el_multi_insert(Relation rel, TupleTableSlot **slots, int nslots,
				CommandId cid, int options, struct BulkInsertStateData *bistate)
{
	refuse_direct_segment_write(rel);
	el_topic_insert_batch(rel, slots, nslots);
}

/*
 * Every statement that would change or lock records gets one of these
 * errors, from the access method or, earlier, from hooks.c.  Whole
 * messages, not fragments, so that they can be translated.
 */
void
el_refuse_modification(ElModification what, Relation rel)
{
	const char *name = RelationGetRelationName(rel);
	int			code = ERRCODE_FEATURE_NOT_SUPPORTED;

	switch (what)
	{
		case EL_MOD_UPDATE:
			ereport(ERROR, (errcode(code), errmsg("cannot UPDATE topic \"%s\"", name),
							errdetail("Records of an event log are immutable."),
							errhint("Produce a new record instead.")));
			break;
		case EL_MOD_DELETE:
			ereport(ERROR, (errcode(code), errmsg("cannot DELETE from topic \"%s\"", name),
							errdetail("Records of an event log are immutable."),
							errhint("Produce a tombstone (a key with a NULL value) instead.")));
			break;
		case EL_MOD_MERGE:
			ereport(ERROR, (errcode(code), errmsg("cannot MERGE into topic \"%s\"", name),
							errdetail("Records of an event log are immutable."),
							errhint("Use INSERT to produce records.")));
			break;
		case EL_MOD_ON_CONFLICT:
			ereport(ERROR, (errcode(code), errmsg("cannot use INSERT ... ON CONFLICT on topic \"%s\"", name),
							errdetail("Records of an event log are never replaced, so there is no conflict to resolve."),
							errhint("Use a plain INSERT.")));
			break;
		case EL_MOD_LOCK:
			ereport(ERROR, (errcode(code), errmsg("cannot lock rows of topic \"%s\"", name),
							errdetail("Records of an event log are immutable, so there is nothing to lock them against."),
							errhint("Remove FOR UPDATE/FOR SHARE, or use a consumer group to divide the work.")));
			break;
		case EL_MOD_TRUNCATE:
			ereport(ERROR, (errcode(code), errmsg("cannot TRUNCATE topic \"%s\"", name),
							errdetail("Records of an event log are immutable."),
							errhint("Drop the topic with eventlog.drop_topic() instead.")));
			break;
	}
}

static void
el_tuple_insert_speculative(Relation rel, TupleTableSlot *slot, CommandId cid,
							int options, struct BulkInsertStateData *bistate, uint32 specToken)
{
	el_refuse_modification(EL_MOD_ON_CONFLICT, rel);
}

static void
el_tuple_complete_speculative(Relation rel, TupleTableSlot *slot,
							  uint32 specToken, bool succeeded)
{
	el_refuse_modification(EL_MOD_ON_CONFLICT, rel);
}

static TM_Result
el_tuple_delete(Relation rel, ItemPointer tid, CommandId cid, Snapshot snapshot,
				Snapshot crosscheck, bool wait, TM_FailureData *tmfd,
				bool changingPart)
{
	el_refuse_modification(EL_MOD_DELETE, rel);
	return TM_Invisible;
}

static TM_Result
el_tuple_update(Relation rel, ItemPointer otid, TupleTableSlot *slot,
				CommandId cid, Snapshot snapshot, Snapshot crosscheck,
				bool wait, TM_FailureData *tmfd, LockTupleMode *lockmode,
				bool *update_indexes)
{
	el_refuse_modification(EL_MOD_UPDATE, rel);
	return TM_Invisible;
}

static TM_Result
el_tuple_lock(Relation rel, ItemPointer tid, Snapshot snapshot,
			  TupleTableSlot *slot, CommandId cid, LockTupleMode mode,
			  LockWaitPolicy wait_policy, uint8 flags, TM_FailureData *tmfd)
{
	el_refuse_modification(EL_MOD_LOCK, rel);
	return TM_Invisible;
}

static void
el_finish_bulk_insert(Relation rel, int options)
{
}

/* ------------------------------------------------------------------------
 * Storage management
 * ------------------------------------------------------------------------
 */

static void
el_relation_set_new_filenode(Relation rel, const RelFileNode *newrnode,
							 char persistence, TransactionId *freezeXid,
							 MultiXactId *minmulti)
{
	SMgrRelation srel;

	(void) checked_role(rel);
	*freezeXid = RecentXmin;
	*minmulti = GetOldestMultiXactId();
	srel = RelationCreateStorage(*newrnode, persistence, true);
	if (persistence == RELPERSISTENCE_UNLOGGED)
	{
		smgrcreate(srel, INIT_FORKNUM, false);
		log_smgrcreate(newrnode, INIT_FORKNUM);
		smgrimmedsync(srel, INIT_FORKNUM);
	}
	smgrclose(srel);
}

static void
el_relation_nontransactional_truncate(Relation rel)
{
	RelationTruncate(rel, 0);
}

static void
el_relation_copy_data(Relation rel, const RelFileNode *newrnode)
{
	SMgrRelation dstrel = smgropen(*newrnode, rel->rd_backend);
	ForkNumber	fork;

	FlushRelationBuffers(rel);
	RelationCreateStorage(*newrnode, rel->rd_rel->relpersistence, true);
	for (fork = MAIN_FORKNUM; fork <= MAX_FORKNUM; fork++)
	{
		if (fork != MAIN_FORKNUM && !smgrexists(RelationGetSmgr(rel), fork))
			continue;
		if (fork != MAIN_FORKNUM)
		{
			smgrcreate(dstrel, fork, false);
			if (RelationIsPermanent(rel) ||
				(rel->rd_rel->relpersistence == RELPERSISTENCE_UNLOGGED && fork == INIT_FORKNUM))
				log_smgrcreate(newrnode, fork);
		}
		RelationCopyStorage(RelationGetSmgr(rel), dstrel, fork,
							rel->rd_rel->relpersistence);
	}
	RelationDropStorage(rel);
	smgrclose(dstrel);
}

static void
el_relation_copy_for_cluster(Relation OldTable, Relation NewTable,
							 Relation OldIndex, bool use_sort,
							 TransactionId OldestXmin, TransactionId *xid_cutoff,
							 MultiXactId *multi_cutoff, double *num_tuples,
							 double *tups_vacuumed, double *tups_recently_dead)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot rewrite eventlog relation \"%s\"",
					RelationGetRelationName(OldTable)),
			 errdetail("CLUSTER and VACUUM FULL would reorder or rewrite an append-only log."),
			 errhint("Use plain VACUUM; old records go away through retention.")));
}

static uint64
el_relation_size(Relation rel, ForkNumber forkNumber)
{
	ElTopic    *topic;
	uint64		size = 0;
	ElSegmentPos pos = EL_SEGMENT_POS_START;
	const ElSegment *segment;

	if (el_rel_role(rel) != EL_ROLE_TOPIC || forkNumber != MAIN_FORKNUM)
		return table_block_relation_size(rel, forkNumber);

	/* a topic is as large as its segments */
	topic = el_topic_get(RelationGetRelid(rel), true);
	if (topic == NULL)
		return 0;
	while ((segment = el_next_segment(topic->parts, topic->nparts, &pos)) != NULL)
	{
		Relation	seg = try_table_open(segment->relid, AccessShareLock);

		if (seg == NULL)
			continue;
		size += (uint64) smgrnblocks(RelationGetSmgr(seg), MAIN_FORKNUM) * BLCKSZ;
		table_close(seg, NoLock);
	}
	return size;
}

static bool
el_relation_needs_toast_table(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	/*
	 * Segments store large values there.  Topics never do, but logical
	 * decoding needs one to reassemble a segment's chunks for a change of
	 * the topic relation (eldecode.c).
	 */
	if (el_rel_role(rel) == EL_ROLE_OTHER)
		return false;
	for (i = 0; i < desc->natts; i++)
		if (TupleDescAttr(desc, i)->attlen == -1)
			return true;
	return false;
}

static Oid
el_relation_toast_am(Relation rel)
{
	return HEAP_TABLE_AM_OID;
}

static void
el_relation_estimate_size(Relation rel, int32 *attr_widths, BlockNumber *pages,
						  double *tuples, double *allvisfrac)
{
	table_block_relation_estimate_size(rel, attr_widths, pages, tuples,
									   allvisfrac, 4,
									   BLCKSZ - SizeOfPageHeaderData -
									   MAXALIGN(sizeof(ElPageOpaqueData)));
}

/* ------------------------------------------------------------------------
 * VACUUM: freezing (elvacuum.c) and statistics
 * ------------------------------------------------------------------------
 */

/* What the bulk-delete callback knows: each partition's live offsets. */
typedef struct IndexVacuumState
{
	int			nparts;
	bool	   *settled;
	ElOffsetRanges *ranges;
} IndexVacuumState;

/*
 * Is the index entry's record gone for every snapshot?  Only in a
 * partition whose catalog state is settled (el_topic_settled_partitions),
 * and then when its offset is below the log start, or below the log end
 * and holds no record that is not settled dead (el_offset_may_be_live):
 * removed by retention or delete_records, by compaction, or aborted.
 */
static bool
index_entry_gone(ItemPointer itemptr, void *arg)
{
	IndexVacuumState *st = (IndexVacuumState *) arg;
	int			partition;
	int64		offset;

	el_tid_decode(itemptr, &partition, &offset);
	if (partition < 0 || partition >= st->nparts || !st->settled[partition])
		return false;
	return !el_offset_may_be_live(&st->ranges[partition], offset);
}

/*
 * Remove the index entries of records that are gone (retention,
 * delete_records, compaction, aborted transactions), as heap's VACUUM
 * removes those of dead tuples, then let each index clean up (btree
 * recycles its emptied pages) and record its size.  The segments are read
 * once more for the offsets where records remain, a page at a time; their
 * ranges take at most maintenance_work_mem (a compacted log needs one per
 * kept record; beyond, only entries below the log start go).
 */
static void
vacuum_topic_indexes(Relation rel, ElTopic *topic, double tuples,
					 struct VacuumParams *params, BufferAccessStrategy bstrategy)
{
	Relation   *indrels;
	int			nindexes;
	IndexVacuumState st;
	TransactionId horizon;
	MemoryContext cxt;
	MemoryContext old;
	int			maxranges;
	int			i;

	if (!rel->rd_rel->relhasindex || params->index_cleanup == VACOPTVALUE_DISABLED)
		return;
	vac_open_indexes(rel, RowExclusiveLock, &nindexes, &indrels);
	if (nindexes == 0)
	{
		vac_close_indexes(nindexes, indrels, NoLock);
		return;
	}
	cxt = AllocSetContextCreate(CurrentMemoryContext, "eventlog index vacuum",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	horizon = GetOldestNonRemovableTransactionId(rel);
	st.nparts = topic->nparts;
	st.settled = palloc(sizeof(bool) * Max(topic->nparts, 1));
	st.ranges = palloc0(sizeof(ElOffsetRanges) * Max(topic->nparts, 1));
	el_topic_settled_partitions(topic, horizon, st.settled);
	maxranges = (int) Min(Max((int64) maintenance_work_mem * 1024 /
							  (2 * sizeof(int64)) / Max(topic->nparts, 1), 1024),
						  (int64) (MaxAllocSize / sizeof(int64)));
	for (i = 0; i < topic->nparts; i++)
		if (st.settled[i])
			el_partition_live_ranges(&topic->parts[i], horizon, maxranges, bstrategy,
									 &st.ranges[i]);

	for (i = 0; i < nindexes; i++)
	{
		IndexVacuumInfo ivinfo;
		IndexBulkDeleteResult *stats;

		memset(&ivinfo, 0, sizeof(ivinfo));
		ivinfo.index = indrels[i];
		ivinfo.analyze_only = false;
		ivinfo.report_progress = false;
		ivinfo.estimated_count = true;
		ivinfo.message_level = (params->options & VACOPT_VERBOSE) ? INFO : DEBUG2;
		ivinfo.num_heap_tuples = tuples >= 0 ? tuples : 0;
		ivinfo.strategy = bstrategy;
		stats = index_bulk_delete(&ivinfo, NULL, index_entry_gone, &st);
		stats = index_vacuum_cleanup(&ivinfo, stats);
		if (stats != NULL && !stats->estimated_count)
			vac_update_relstats(indrels[i], stats->num_pages, stats->num_index_tuples,
								0, false, InvalidTransactionId, InvalidMultiXactId,
								NULL, NULL, false);
		if (stats != NULL)
			ereport(ivinfo.message_level,
					(errmsg("index \"%s\" now contains %.0f row versions in %u pages",
							RelationGetRelationName(indrels[i]),
							stats->num_index_tuples, stats->num_pages),
					 errdetail("%.0f index row versions were removed.",
							   stats->tuples_removed)));
	}
	vac_close_indexes(nindexes, indrels, NoLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

static void
el_relation_vacuum(Relation rel, struct VacuumParams *params,
				   BufferAccessStrategy bstrategy)
{
	ElRelRole	role = checked_role(rel);
	ElTopic    *topic;
	double		tuples;

	if (role == EL_ROLE_SEGMENT)
	{
		(void) el_vacuum_segment(rel, params, bstrategy);
		return;
	}
	topic = el_topic_get(RelationGetRelid(rel), true);
	tuples = el_vacuum_topic(rel, topic ? topic->parts : NULL, topic ? topic->nparts : 0,
							 params, bstrategy);
	if (topic != NULL)
		vacuum_topic_indexes(rel, topic, tuples, params, bstrategy);
}

/* ------------------------------------------------------------------------
 * ANALYZE: sample blocks across all segments of the topic
 * ------------------------------------------------------------------------
 */

static void
build_block_map(ElScanDesc scan)
{
	ElTopic    *topic = scan->topic;
	int			n = 0,
				p;
	BlockNumber start = 0;
	ElSegmentPos pos = EL_SEGMENT_POS_START;
	const ElSegment *segment;
	MemoryContext old = MemoryContextSwitchTo(scan->cxt);

	for (p = 0; p < topic->nparts; p++)
		n += topic->parts[p].nsegs;
	scan->map_relid = palloc(sizeof(Oid) * Max(n, 1));
	scan->map_partition = palloc(sizeof(int) * Max(n, 1));
	scan->map_start = palloc(sizeof(BlockNumber) * (n + 1));
	while ((segment = el_next_segment(topic->parts, topic->nparts, &pos)) != NULL)
	{
		Relation	seg = table_open(segment->relid, AccessShareLock);

		scan->map_relid[scan->nmap] = RelationGetRelid(seg);
		scan->map_partition[scan->nmap] = pos.partition;
		scan->map_start[scan->nmap] = start;
		start += RelationGetNumberOfBlocks(seg);
		scan->nmap++;
		table_close(seg, NoLock);
	}
	scan->map_start[scan->nmap] = start;
	MemoryContextSwitchTo(old);
}

static bool
el_scan_analyze_next_block(TableScanDesc sscan, BlockNumber blockno,
						   BufferAccessStrategy bstrategy)
{
	ElScanDesc	scan = (ElScanDesc) sscan;
	Relation	seg;
	Buffer		buf;
	Page		page;
	ElPageIter	it;
	ElRecordRef rec;
	int			i;
	MemoryContext old;

	if (scan->role != EL_ROLE_TOPIC)
		return false;
	if (scan->map_start == NULL)
		build_block_map(scan);
	for (i = 0; i < scan->nmap; i++)
		if (blockno >= scan->map_start[i] && blockno < scan->map_start[i + 1])
			break;
	if (i >= scan->nmap)
		return false;

	old = MemoryContextSwitchTo(scan->cxt);
	if (scan->arecs == NULL)
	{
		scan->arecs = palloc(sizeof(ElCursorRec) * EL_MAX_RECORDS_PER_PAGE);
		scan->aruns = palloc(sizeof(ElRun) * EL_MAX_RECORDS_PER_PAGE);
		for (scan->aidx = 0; scan->aidx < EL_MAX_RECORDS_PER_PAGE; scan->aidx++)
			scan->arecs[scan->aidx].entry = palloc(BLCKSZ);
		scan->cur.scratch = palloc(BLCKSZ);
	}
	scan->anrecs = 0;
	scan->aidx = 0;
	scan->apart = scan->map_partition[i];

	seg = table_open(scan->map_relid[i], AccessShareLock);
	buf = ReadBufferExtended(seg, MAIN_FORKNUM, blockno - scan->map_start[i],
							 RBM_NORMAL, bstrategy);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	scan->abase_ts = el_page_is_valid(page) ? ElPageGetOpaque(page)->base_ts : 0;
	el_page_iter_init(&it, page);
	while (el_page_iter_next(&it, &rec) && scan->anrecs < EL_MAX_RECORDS_PER_PAGE)
	{
		ElCursorRec *r = &scan->arecs[scan->anrecs];

		r->offset = rec.offset;
		r->len = rec.len;
		memcpy(r->entry, rec.entry, rec.len);
		scan->aruns[scan->anrecs] = *rec.run;
		scan->anrecs++;
	}
	UnlockReleaseBuffer(buf);
	table_close(seg, NoLock);
	MemoryContextSwitchTo(old);
	return true;
}

static bool
el_scan_analyze_next_tuple(TableScanDesc sscan, TransactionId OldestXmin,
						   double *liverows, double *deadrows,
						   TupleTableSlot *slot)
{
	ElScanDesc	scan = (ElScanDesc) sscan;

	ExecClearTuple(slot);
	while (scan->aidx < scan->anrecs)
	{
		ElCursorRec *r = &scan->arecs[scan->aidx];
		ElRun	   *run = &scan->aruns[scan->aidx];

		scan->aidx++;
		switch (el_run_status(run))
		{
			case EL_STATUS_LIVE:
				break;
			case EL_STATUS_DEAD:
				*deadrows += 1;
				continue;
			case EL_STATUS_IN_PROGRESS:
				continue;		/* neither live nor dead yet */
		}
		slot->tts_values[0] = Int32GetDatum(scan->apart);
		slot->tts_isnull[0] = false;
		slot->tts_values[1] = Int64GetDatum(r->offset);
		slot->tts_isnull[1] = false;
		el_record_decode(r->entry, r->len, scan->topic->storedesc,
						 scan->abase_ts, scan->cur.scratch, slot->tts_values + EL_NDERIVED,
						 slot->tts_isnull + EL_NDERIVED);
		store_row(slot, scan->base.rs_rd, scan->apart, r->offset);
		*liverows += 1;
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------------
 * Index builds
 * ------------------------------------------------------------------------
 */

static double
el_index_build_range_scan(Relation rel, Relation index, IndexInfo *indexInfo,
						  bool allow_sync, bool anyvisible, bool progress,
						  BlockNumber start_blockno, BlockNumber numblocks,
						  IndexBuildCallback callback, void *callback_state,
						  TableScanDesc sscan)
{
	ElTopic    *topic;
	EState	   *estate;
	ExprContext *econtext;
	TupleTableSlot *slot;
	ExprState  *predicate;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	double		reltuples = 0;
	Snapshot	snapshot;
	bool		need_unregister = false;
	int			p;

	if (checked_role(rel) != EL_ROLE_TOPIC || start_blockno != 0)
		return 0;
	topic = el_topic_get(RelationGetRelid(rel), false);

	estate = CreateExecutorState();
	econtext = GetPerTupleExprContext(estate);
	slot = table_slot_create(rel, NULL);
	econtext->ecxt_scantuple = slot;
	predicate = ExecPrepareQual(indexInfo->ii_Predicate, estate);

	if (sscan)
		snapshot = sscan->rs_snapshot;
	else if (IsBootstrapProcessingMode() || indexInfo->ii_Concurrent)
	{
		snapshot = RegisterSnapshot(GetTransactionSnapshot());
		need_unregister = true;
	}
	else
		snapshot = SnapshotAny;

	for (p = 0; p < topic->nparts; p++)
	{
		ElCursor	cur;
		int64		offset;

		if (!el_pending_empty())
			el_pending_flush();
		el_cursor_init(&cur, &topic->parts[p], 0, snapshot,
					   snapshot == SnapshotAny ? EL_READ_ALL_LIVE : EL_READ_SKIP);
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			MemoryContextReset(econtext->ecxt_per_tuple_memory);
			ExecClearTuple(slot);
			if (!el_cursor_next(&cur, &offset, slot->tts_values, slot->tts_isnull))
				break;
			if (offset >= EL_TID_MAX_OFFSET)
				el_tid_offset_too_large(rel, offset);
			store_row(slot, rel, p, offset);
			reltuples += 1;
			if (predicate != NULL && !ExecQual(predicate, econtext))
				continue;
			FormIndexDatum(indexInfo, slot, estate, values, isnull);
			callback(index, &slot->tts_tid, values, isnull, true, callback_state);
		}
		el_cursor_end(&cur);
	}

	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	if (need_unregister)
		UnregisterSnapshot(snapshot);
	indexInfo->ii_ExpressionsState = NIL;
	indexInfo->ii_PredicateState = NULL;
	return reltuples;
}

static void
el_index_validate_scan(Relation rel, Relation index, IndexInfo *indexInfo,
					   Snapshot snapshot, ValidateIndexState *state)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("CREATE INDEX CONCURRENTLY is not supported on eventlog topics"),
			 errhint("Use CREATE INDEX; it does not block readers.")));
}

static bool
el_scan_sample_next_block(TableScanDesc scan, SampleScanState *scanstate)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("TABLESAMPLE is not supported on eventlog topics")));
	return false;
}

static bool
el_scan_sample_next_tuple(TableScanDesc scan, SampleScanState *scanstate,
						  TupleTableSlot *slot)
{
	return false;
}

static const TableAmRoutine el_methods = {
	.type = T_TableAmRoutine,

	.slot_callbacks = el_slot_callbacks,

	.scan_begin = el_scan_begin,
	.scan_end = el_scan_end,
	.scan_rescan = el_scan_rescan,
	.scan_getnextslot = el_scan_getnextslot,

	.parallelscan_estimate = el_parallelscan_estimate,
	.parallelscan_initialize = el_parallelscan_initialize,
	.parallelscan_reinitialize = el_parallelscan_reinitialize,

	.index_fetch_begin = el_index_fetch_begin,
	.index_fetch_reset = el_index_fetch_reset,
	.index_fetch_end = el_index_fetch_end,
	.index_fetch_tuple = el_index_fetch_tuple,

	.tuple_fetch_row_version = el_tuple_fetch_row_version,
	.tuple_tid_valid = el_tuple_tid_valid,
	.tuple_get_latest_tid = el_tuple_get_latest_tid,
	.tuple_satisfies_snapshot = el_tuple_satisfies_snapshot,
	.index_delete_tuples = el_index_delete_tuples,

	.tuple_insert = el_tuple_insert,
	.tuple_insert_speculative = el_tuple_insert_speculative,
	.tuple_complete_speculative = el_tuple_complete_speculative,
	.multi_insert = el_multi_insert,
	.tuple_delete = el_tuple_delete,
	.tuple_update = el_tuple_update,
	.tuple_lock = el_tuple_lock,
	.finish_bulk_insert = el_finish_bulk_insert,

	.relation_set_new_filenode = el_relation_set_new_filenode,
	.relation_nontransactional_truncate = el_relation_nontransactional_truncate,
	.relation_copy_data = el_relation_copy_data,
	.relation_copy_for_cluster = el_relation_copy_for_cluster,
	.relation_vacuum = el_relation_vacuum,
	.scan_analyze_next_block = el_scan_analyze_next_block,
	.scan_analyze_next_tuple = el_scan_analyze_next_tuple,
	.index_build_range_scan = el_index_build_range_scan,
	.index_validate_scan = el_index_validate_scan,

	.relation_size = el_relation_size,
	.relation_needs_toast_table = el_relation_needs_toast_table,
	.relation_toast_am = el_relation_toast_am,
	.relation_fetch_toast_slice = heap_fetch_toast_slice,

	.relation_estimate_size = el_relation_estimate_size,

	.scan_bitmap_next_block = NULL,
	.scan_bitmap_next_tuple = NULL,
	.scan_sample_next_block = el_scan_sample_next_block,
	.scan_sample_next_tuple = el_scan_sample_next_tuple,
};

PG_FUNCTION_INFO_V1(eventlog_tableam_handler);
Datum
eventlog_tableam_handler(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(&el_methods);
}
