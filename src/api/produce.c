/*
 * produce.c
 *		The produce path: validate, route to a partition, append.
 *
 * Every way of writing a record (eventlog.produce(), INSERT ... SELECT and
 * COPY into the topic relation) ends in el_topic_insert(), so they route
 * and assign offsets identically.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/heaptoast.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/message.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "eventlog/hooks.h"
#include "eventlog/elstore.h"
#include "eventlog/eventlog.h"
#include "eventlog/sqlargs.h"
#include "eventlog/murmur2.h"
#include "eventlog/notify.h"
#include "eventlog/pending.h"
#include "eventlog/quota.h"
#include "eventlog/stats.h"
#include "eventlog/produce.h"
#include "eventlog/topicdump.h"


/*
 * A TID has room for offsets below EL_TID_MAX_OFFSET only (produce.h); above
 * that, TIDs of one partition repeat, which is harmless until something
 * fetches a row by its TID.
 */
void
el_tid_offset_too_large(Relation rel, int64 offset)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("offset " INT64_FORMAT " is too large for an index or AFTER ROW trigger on topic \"%s\"",
					offset, RelationGetRelationName(rel)),
			 errdetail("Indexes and AFTER ROW triggers on topic relations address at most " INT64_FORMAT " offsets per partition.",
					   EL_TID_MAX_OFFSET)));
}

void
el_tid_encode(ItemPointer tid, int partition, int64 offset)
{
	BlockNumber blk = ((BlockNumber) partition << EL_TID_BLOCK_OFFSET_BITS) |
		(BlockNumber) ((offset >> EL_TID_OFFSET_BITS) &
					   ((1 << EL_TID_BLOCK_OFFSET_BITS) - 1));

	ItemPointerSet(tid, blk, (OffsetNumber) ((offset & ((1 << EL_TID_OFFSET_BITS) - 1)) + 1));
}

void
el_tid_decode(ItemPointer tid, int *partition, int64 *offset)
{
	BlockNumber blk = ItemPointerGetBlockNumberNoCheck(tid);

	*partition = (int) (blk >> EL_TID_BLOCK_OFFSET_BITS);
	*offset = ((int64) (blk & ((1 << EL_TID_BLOCK_OFFSET_BITS) - 1)) << EL_TID_OFFSET_BITS) |
		(int64) (ItemPointerGetOffsetNumberNoCheck(tid) - 1);
}

/*
 * Keyless records are spread round-robin, starting at a per-backend point
 * so that many single-record producers do not all pile onto partition 0.
 */
static uint32 round_robin = 0;

int
el_choose_partition(ElTopic *topic, Datum *values, bool *isnull)
{
	if (!isnull[EL_ATTNUM_PARTITION - 1])
	{
		int			p = DatumGetInt32(values[EL_ATTNUM_PARTITION - 1]);

		el_check_partition(topic, p);
		return p;
	}
	if (topic->storedesc->natts >= EL_ATTNUM_KEY - EL_NDERIVED &&
		!isnull[EL_ATTNUM_KEY - 1] &&
		TupleDescAttr(topic->storedesc, EL_ATTNUM_KEY - EL_NDERIVED - 1)->atttypid == TEXTOID)
	{
		text	   *key = DatumGetTextPP(values[EL_ATTNUM_KEY - 1]);

		return el_partition_for_key(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
									topic->nparts);
	}
	if (round_robin == 0)
		round_robin = (uint32) MyProcPid;
	return (int) (round_robin++ % (uint32) topic->nparts);
}

/* Headers are a JSON object whose values are strings (Kafka: bytes). */
static void
check_headers(Jsonb *jb)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;

	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record headers must be a JSON object"),
				 errhint("Pass headers like '{\"trace-id\": \"abc\"}'.")));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			depth++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		if ((tok == WJB_VALUE && v.type != jbvString) ||
			(depth > 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("record header values must be strings"),
					 errhint("Encode other values as strings, as Kafka headers carry bytes.")));
	}
}

static Size
raw_size(TupleDesc desc, Datum *values, bool *isnull)
{
	Size		size = 0;
	int			i;

	for (i = EL_NDERIVED; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (isnull[i])
			continue;
		if (att->attlen == -1)
			size += toast_raw_datum_size(values[i]);
		else if (att->attlen > 0)
			size += att->attlen;
		else
			size += strlen(DatumGetCString(values[i])) + 1;
	}
	return size;
}

/* Values above this many bytes go through TOAST first, as in heap. */
#define EL_TOAST_THRESHOLD	2000

/* One record on its way to a segment. */
typedef struct PreparedRecord
{
	int			partition;
	int64		want_offset;	/* -1: assign the next one */
	char	   *entry;
	Size		len;
	Size		charge;			/* bytes for statistics and quotas: len, or
								 * the size before TOAST of a large record */
	Datum		ts;
	bool		ts_null;
	int64		offset;			/* assigned */
} PreparedRecord;

/* qsort_arg comparator: by partition, then by position (a stable sort) */
static int
cmp_partition(const void *a, const void *b, void *arg)
{
	const PreparedRecord *recs = (const PreparedRecord *) arg;
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;

	if (recs[ia].partition != recs[ib].partition)
		return recs[ia].partition < recs[ib].partition ? -1 : 1;
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

/*
 * A row with a partition and an offset and nothing else is the log-end
 * marker that COPY TO writes (see export_log_end_marker() in elam.c).
 */
static bool
is_log_end_marker(TupleDesc desc, bool *isnull)
{
	int			i;

	if (isnull[EL_ATTNUM_PARTITION - 1] || isnull[EL_ATTNUM_OFFSET - 1])
		return false;
	for (i = EL_NDERIVED; i < desc->natts; i++)
		if (!isnull[i])
			return false;
	return true;
}

/*
 * An explicit offset (or log-end marker) is what pg_restore writes; it moves
 * the partition's log end, possibly close to EL_MAX_OFFSET, for every
 * producer of the topic.  So only the topic's owner (or a member of the
 * owning role) may give one; INSERT privilege alone produces with assigned
 * offsets.
 */
static void
check_explicit_offset(Relation rel, int64 offset, const char *what)
{
	if (offset < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset must not be negative"),
				 errhint("Leave \"offset\" NULL to have one assigned.")));
	if (offset >= EL_MAX_OFFSET)
		el_offset_out_of_range(offset, what);
	if (!has_privs_of_role(GetUserId(), rel->rd_rel->relowner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of topic \"%s\" may give explicit offsets",
						RelationGetRelationName(rel)),
				 errdetail("An explicit offset moves the partition's log end for every producer."),
				 errhint("Leave \"offset\" NULL to have one assigned.")));
}

/*
 * Validate and route the record in slot and encode it for its segment
 * (toasting large values into the segment's TOAST table; *seg is the
 * segment opened for that).  Errors here change nothing.
 */
static void
prepare_record(Relation rel, ElTopic *topic, TupleTableSlot *slot,
			   PreparedRecord *rec, Relation *seg)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			natts = desc->natts;
	Datum	   *values;
	bool	   *isnull;
	const ElSegment *segment;
	Size		size;
	Size		raw;

	slot_getallattrs(slot);
	values = palloc(sizeof(Datum) * natts);
	isnull = palloc(sizeof(bool) * natts);
	memcpy(values, slot->tts_values, sizeof(Datum) * natts);
	memcpy(isnull, slot->tts_isnull, sizeof(bool) * natts);

	if (is_log_end_marker(desc, isnull))
	{
		/* COPY TO's log-end marker (elam.c): advance the log end only */
		int64		last = DatumGetInt64(values[EL_ATTNUM_OFFSET - 1]);

		/* the marker names log end - 1: at most EL_MAX_OFFSET - 1 */
		check_explicit_offset(rel, last, "log-end marker offset");
		rec->partition = el_choose_partition(topic, values, isnull);
		rec->want_offset = last + 1;
		rec->entry = palloc(1);
		rec->len = 0;
		rec->charge = 0;
		rec->ts = (Datum) 0;
		rec->ts_null = true;
		return;
	}
	if (natts >= EL_ATTNUM_VALUE && isnull[EL_ATTNUM_KEY - 1] && isnull[EL_ATTNUM_VALUE - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a record needs a value or a key"),
				 errdetail("A NULL value is a tombstone, which only makes sense for a key."),
				 errhint("Give the record a value, or a key to delete.")));
	if (natts >= EL_ATTNUM_HEADERS && !isnull[EL_ATTNUM_HEADERS - 1] &&
		TupleDescAttr(desc, EL_ATTNUM_HEADERS - 1)->atttypid == JSONBOID)
		check_headers(DatumGetJsonbP(values[EL_ATTNUM_HEADERS - 1]));

	rec->want_offset = -1;
	if (!isnull[EL_ATTNUM_OFFSET - 1])
	{
		rec->want_offset = DatumGetInt64(values[EL_ATTNUM_OFFSET - 1]);
		check_explicit_offset(rel, rec->want_offset, "offset");
	}

	if (natts >= EL_ATTNUM_TS && isnull[EL_ATTNUM_TS - 1] &&
		TupleDescAttr(desc, EL_ATTNUM_TS - 1)->atttypid == TIMESTAMPTZOID)
	{
		values[EL_ATTNUM_TS - 1] = TimestampTzGetDatum(GetCurrentTimestamp());
		isnull[EL_ATTNUM_TS - 1] = false;
	}
	rec->ts = natts >= EL_ATTNUM_TS ? values[EL_ATTNUM_TS - 1] : (Datum) 0;
	rec->ts_null = natts >= EL_ATTNUM_TS ? isnull[EL_ATTNUM_TS - 1] : true;

	raw = raw_size(desc, values, isnull);
	if (raw > (Size) el_max_record_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("record of %zu bytes exceeds the maximum record size of %d bytes",
						raw, el_max_record_bytes),
				 errhint("Raise eventlog.max_record_bytes, or split the record.")));

	rec->partition = el_choose_partition(topic, values, isnull);
	/*
	 * Compaction keeps the latest record per key: a record without one
	 * could never be superseded (Kafka refuses it too).  A restore (an
	 * explicit offset, owner only) brings back whatever the log held,
	 * keyless records written before the topic became compacted included.
	 */
	if (topic->policy_compact && rec->want_offset < 0 &&
		natts >= EL_ATTNUM_KEY && isnull[EL_ATTNUM_KEY - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("topic \"%s\" is compacted: a record needs a key",
						RelationGetRelationName(rel)),
				 errdetail("Compaction keeps the latest record of each key; a record without a key would never be removed."),
				 errhint("Give the record a key, or produce keyless records to a topic whose cleanup_policy is \"delete\".")));
	segment = el_active_segment(topic, rec->partition);

	size = el_record_size(topic->storedesc, values + EL_NDERIVED, isnull + EL_NDERIVED);
	/* stored record bytes: values already compressed or TOASTed count in full */
	rec->charge = el_record_charge(topic->storedesc, values + EL_NDERIVED,
								   isnull + EL_NDERIVED, size);
	if (size > EL_TOAST_THRESHOLD)
	{
		HeapTuple	tup;
		HeapTuple	toasted;

		/*
		 * Large values go to the TOAST table of the segment they land in
		 * (rolled first if it is full, TOAST counted: el_toast_segment)
		 */
		segment = el_toast_segment(topic, rec->partition);
		if (*seg == NULL || RelationGetRelid(*seg) != segment->relid)
		{
			if (*seg)
				table_close(*seg, NoLock);
			*seg = table_open(segment->relid, RowExclusiveLock);
		}

		values[0] = Int32GetDatum(rec->partition);
		isnull[0] = false;
		values[1] = Int64GetDatum(0);
		isnull[1] = false;
		tup = heap_form_tuple(desc, values, isnull);
		toasted = heap_toast_insert_or_update(*seg, tup, NULL, 0);
		heap_deform_tuple(toasted, desc, values, isnull);
		size = el_record_size(topic->storedesc, values + EL_NDERIVED, isnull + EL_NDERIVED);
	}
	if (size > EL_MAX_ENTRY_SIZE || size > EL_ENTRY_LENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("record does not fit an eventlog page even after compression"),
				 errdetail("The record needs %zu bytes; at most %zu fit.",
						   size, (Size) EL_MAX_ENTRY_SIZE)));

	rec->entry = palloc(size);
	rec->len = size;
	el_record_encode(rec->entry, size, topic->storedesc, values + EL_NDERIVED,
					 isnull + EL_NDERIVED);
}

/*
 * produce() into a topic with triggers or indexes runs an INSERT through
 * the executor and learns where its record went from here, not from
 * RETURNING (which would need SELECT on the topic: producing needs only
 * INSERT).  The record is the first one the INSERT itself appends to the
 * topic: statements run by its triggers run deeper in the executor (BEFORE
 * triggers) or after it (AFTER triggers).
 */
typedef struct ProduceCapture
{
	Oid			relid;
	int			depth;			/* el_executor_depth of the INSERT's run */
	bool		found;
	int32		partition;
	int64		offset;
} ProduceCapture;

static ProduceCapture *capture = NULL;

/*
 * Show the assigned partition, offset and timestamp in the slot, so that
 * INSERT ... RETURNING sees them, and give it its TID.  offset < 0: the
 * record is pending (pending.h), which only happens when nothing looks.
 */
static void
finish_slot(Relation rel, ElTopic *topic, TupleTableSlot *slot,
			const PreparedRecord *rec, int64 offset)
{
	/* indexes and AFTER ROW triggers find the row again by its TID */
	if (offset >= EL_TID_MAX_OFFSET &&
		(rel->rd_rel->relhasindex ||
		 (rel->trigdesc && rel->trigdesc->trig_insert_after_row)))
		el_tid_offset_too_large(rel, offset);

	slot->tts_values[EL_ATTNUM_PARTITION - 1] = Int32GetDatum(rec->partition);
	slot->tts_isnull[EL_ATTNUM_PARTITION - 1] = false;
	slot->tts_values[EL_ATTNUM_OFFSET - 1] = Int64GetDatum(offset);
	slot->tts_isnull[EL_ATTNUM_OFFSET - 1] = (offset < 0);
	if (slot->tts_tupleDescriptor->natts >= EL_ATTNUM_TS)
	{
		slot->tts_values[EL_ATTNUM_TS - 1] = rec->ts;
		slot->tts_isnull[EL_ATTNUM_TS - 1] = rec->ts_null;
	}
	if (capture && !capture->found && offset >= 0 &&
		capture->relid == RelationGetRelid(rel) && capture->depth == el_executor_depth)
	{
		capture->found = true;
		capture->partition = rec->partition;
		capture->offset = offset;
	}
	if (offset >= 0)
		el_tid_encode(&slot->tts_tid, rec->partition, offset);
	else
		ItemPointerSetInvalid(&slot->tts_tid);
	slot->tts_tableOid = RelationGetRelid(rel);
}

/*
 * eventlog.logical_messages: topics (comma-separated names, or * for all)
 * whose records are also logged as transactional logical decoding messages
 * (README "Logical replication and CDC"), for CDC tools that want events
 * rather than rows.  Empty by default: the INSERT changes are the output.
 */
char	   *el_logical_messages = NULL;

bool
el_topic_emits_messages(const char *topic)
{
	const char *p = el_logical_messages;
	size_t		tlen = strlen(topic);

	if (p == NULL || *p == '\0' || !XLogLogicalInfoActive())
		return false;
	while (*p)
	{
		const char *start;
		const char *end;

		while (*p == ' ' || *p == ',')
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && end[-1] == ' ')
			end--;
		if ((end - start == 1 && *start == '*') ||
			((size_t) (end - start) == tlen && strncmp(start, topic, tlen) == 0))
			return true;
	}
	return false;
}

/*
 * Log a produced record as a transactional logical decoding message:
 * prefix EL_MESSAGE_PREFIX, payload the JSON object
 * {"topic": ..., "partition": ..., "offset": ..., "ts": ..., "key": ...,
 * "value": ..., "headers": ...} (the topic relation's columns, as
 * row_to_json() writes them).  In the producing (sub)transaction, so it is
 * decoded exactly when the record is.
 */
static void
emit_message(Relation rel, ElTopic *topic, TupleTableSlot *slot)
{
	HeapTuple	tup = ExecCopySlotHeapTuple(slot);
	Datum		row = heap_copy_tuple_as_datum(tup, RelationGetDescr(rel));
	text	   *json = DatumGetTextPP(DirectFunctionCall1(row_to_json, row));
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"topic\":");
	escape_json(&buf, NameStr(topic->name));
	appendStringInfoChar(&buf, ',');
	/* row_to_json() wrote an object: its members follow ours */
	appendBinaryStringInfo(&buf, VARDATA_ANY(json) + 1, VARSIZE_ANY_EXHDR(json) - 1);
	LogLogicalMessage(EL_MESSAGE_PREFIX, buf.data, buf.len, true);
	pfree(buf.data);
	heap_freetuple(tup);
}

/*
 * Validate, route and append the records in slots (virtual slots of the
 * topic relation).  The records of one partition are appended together, in
 * slot order: one WAL record per page touched, which is what makes COPY
 * cheap.
 */
static void
insert_batch_work(Relation rel, TupleTableSlot **slots, int nslots)
{
	ElTopic    *topic = el_topic_get(RelationGetRelid(rel), false);
	PreparedRecord *recs = palloc(sizeof(PreparedRecord) * nslots);
	char	  **entries = palloc(sizeof(char *) * nslots);
	Size	   *lens = palloc(sizeof(Size) * nslots);
	int64	   *wants = palloc(sizeof(int64) * nslots);
	int64	   *offsets = palloc(sizeof(int64) * nslots);
	int		   *order = palloc(sizeof(int) * nslots);
	Relation	seg = NULL;
	int			start = 0;
	int			i;
	bool		messages;

	for (i = 0; i < nslots; i++)
		prepare_record(rel, topic, slots[i], &recs[i], &seg);
	if (seg)
		table_close(seg, NoLock);

	/* records routed earlier by this backend go first */
	el_pending_flush();

	/*
	 * Group by partition, keeping each partition's records in slot order
	 * (order across partitions carries no meaning), and append each group
	 * in one go.
	 */
	for (i = 0; i < nslots; i++)
		order[i] = i;
	qsort_arg(order, nslots, sizeof(int), cmp_partition, recs);
	while (start < nslots)
	{
		int			p = recs[order[start]].partition;
		int			end = start;
		int			k;

		while (end < nslots && recs[order[end]].partition == p)
		{
			entries[end] = recs[order[end]].entry;
			lens[end] = recs[order[end]].len;
			wants[end] = recs[order[end]].want_offset;
			end++;
		}
		(void) el_append_partition(topic, p, entries + start, lens + start,
								   end - start, wants + start, offsets + start,
								   GetCurrentTransactionId(), GetCurrentCommandId(true));
		for (k = start; k < end; k++)
			recs[order[k]].offset = offsets[k];
		start = end;
	}
	el_notify_produced(RelationGetRelid(rel));
	{
		int64		nrec = 0;
		int64		bytes = 0;

		for (i = 0; i < nslots; i++)
			if (recs[i].charge > 0) /* not a log-end marker */
			{
				nrec++;
				bytes += recs[i].charge;
			}
		el_stats_produced(RelationGetRelid(rel), nrec, bytes);
	}
	/* the topic's own count drives autoanalyze of the topic relation */
	pgstat_count_heap_insert(rel, nslots);

	messages = el_topic_emits_messages(NameStr(topic->name));
	for (i = 0; i < nslots; i++)
	{
		finish_slot(rel, topic, slots[i], &recs[i], recs[i].offset);
		if (messages && recs[i].len > 0)
			emit_message(rel, topic, slots[i]);
		pfree(recs[i].entry);
	}
	pfree(recs);
	pfree(entries);
	pfree(lens);
	pfree(wants);
	pfree(offsets);
	pfree(order);
}

/*
 * Insert one record.  may_defer: the caller (an INSERT statement with no
 * RETURNING) does not need the offset now; if the topic has no index or
 * trigger either, the record joins the statement's pending appends.
 */
static void
insert_one_work(Relation rel, TupleTableSlot *slot, bool may_defer)
{
	/*
	 * A topic that emits messages logs each in the inserting (sub)transaction
	 * right after its record: never deferred.
	 */
	if (may_defer && !rel->rd_rel->relhasindex && !rel->rd_rel->relhastriggers &&
		!el_topic_emits_messages(RelationGetRelationName(rel)))
	{
		ElTopic    *topic = el_topic_get(RelationGetRelid(rel), false);
		PreparedRecord rec;
		Relation	seg = NULL;

		prepare_record(rel, topic, slot, &rec, &seg);
		if (seg)
			table_close(seg, NoLock);
		if (rec.want_offset < 0)
		{
			el_pending_add(topic, rec.partition, rec.entry, rec.len);
			el_notify_produced(RelationGetRelid(rel));
			el_stats_produced(RelationGetRelid(rel), 1, rec.charge);
			pgstat_count_heap_insert(rel, 1);
			finish_slot(rel, topic, slot, &rec, -1);
			pfree(rec.entry);
			return;
		}
		pfree(rec.entry);
	}
	insert_batch_work(rel, &slot, 1);
}

/*
 * Everything one insert allocates lives in insert_cxt, reset when the
 * outermost insert returns: a statement inserting millions of records runs
 * in constant memory.  (The slot gets only by-value datums from us.)
 */
static MemoryContext insert_cxt = NULL;
static int	insert_depth = 0;

/*
 * COPY FROM: load the export headers among the slots (what COPY TO wrote
 * first: topicdump.c) and return the other slots, the records.
 */
static TupleTableSlot **
take_headers(Relation rel, TupleTableSlot **slots, int *nslots)
{
	TupleTableSlot **records = NULL;
	int			n = 0;
	int			i;

	for (i = 0; i < *nslots; i++)
	{
		if (!el_is_topic_header(slots[i]))
		{
			if (records)
				records[n] = slots[i];
			n++;
			continue;
		}
		/* see header_rows_need_skipping() in hooks.c */
		if (rel->rd_rel->relhasindex || rel->rd_rel->relhastriggers)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot load an export header into topic \"%s\" without SELECT privilege on it",
							RelationGetRelationName(rel)),
					 errdetail("The topic has indexes or triggers, which must not see the header row; skipping it reads the \"partition\" column."),
					 errhint("Load topic exports as the topic's owner.")));
		if (records == NULL)
		{
			/* the caller's array stays as it is: COPY still owns it */
			records = palloc(sizeof(TupleTableSlot *) * *nslots);
			memcpy(records, slots, sizeof(TupleTableSlot *) * i);
		}
		el_topic_import_header(rel, slots[i]);
		el_tid_encode(&slots[i]->tts_tid, EL_TID_HEADER_PARTITION, EL_TID_HEADER_OFFSET);
		slots[i]->tts_tableOid = RelationGetRelid(rel);
	}
	*nslots = n;
	return records ? records : slots;
}

static void
insert_records(Relation rel, TupleTableSlot **slots, int nslots, bool may_defer)
{
	MemoryContext old;

	/* a role over its produce quota waits here, holding no lock yet */
	if (insert_depth == 0)
		(void) el_quota_throttle(EL_QUOTA_PRODUCE);
	if (insert_cxt == NULL)
		insert_cxt = AllocSetContextCreate(TopMemoryContext, "eventlog insert",
										   ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(insert_cxt);
	insert_depth++;
	PG_TRY();
	{
		if (el_copy_from_relid == RelationGetRelid(rel))
			slots = take_headers(rel, slots, &nslots);
		if (nslots == 1)
			insert_one_work(rel, slots[0], may_defer);
		else if (nslots > 1)
			insert_batch_work(rel, slots, nslots);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(old);
		if (--insert_depth == 0)
			MemoryContextReset(insert_cxt);
	}
	PG_END_TRY();
}

void
el_topic_insert_batch(Relation rel, TupleTableSlot **slots, int nslots)
{
	insert_records(rel, slots, nslots, false);
}

void
el_topic_insert(Relation rel, TupleTableSlot *slot, bool may_defer)
{
	insert_records(rel, &slot, 1, may_defer);
}

/*
 * produce(topic, value, key, headers, partition): the column of the topic
 * relation that arguments 1..4 fill (the SPI INSERT below lists them in
 * this order too).
 */
static const AttrNumber produce_arg_column[] = {
	EL_ATTNUM_VALUE, EL_ATTNUM_KEY, EL_ATTNUM_HEADERS, EL_ATTNUM_PARTITION
};

/*
 * Produce one record from produce()'s arguments into out[] = (partition,
 * offset).  Returns false if no record was produced: a BEFORE ROW trigger
 * on the topic skipped it (returned NULL).
 */
static bool
produce_one(FunctionCallInfo fcinfo, Datum *out)
{
	Relation	rel;
	Oid			relid;
	TupleTableSlot *slot;
	bool		produced = true;
	int			natts;
	int			i;

	el_require_args(fcinfo, 1, "topic name");
	relid = el_topic_lock(text_to_cstring(PG_GETARG_TEXT_PP(0)), RowExclusiveLock, false);
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to produce to topic \"%s\"",
						text_to_cstring(PG_GETARG_TEXT_PP(0))),
				 errhint("Producing requires INSERT privilege on the topic relation.")));

	rel = table_open(relid, NoLock);
	/* see partitions added since this transaction first locked the topic */
	AcceptInvalidationMessages();
	natts = RelationGetDescr(rel)->natts;

	if (rel->rd_rel->relhasindex || rel->rd_rel->relhastriggers)
	{
		/*
		 * Let the executor maintain indexes and fire triggers, exactly as
		 * for an INSERT into the topic.  A BEFORE ROW trigger may change
		 * the row (it is routed as changed: a new key may pick another
		 * partition) or skip it (nothing is produced).
		 */
		Oid			types[lengthof(produce_arg_column)] = {JSONBOID, TEXTOID, JSONBOID, INT4OID};
		Datum		vals[lengthof(produce_arg_column)];
		char		nulls[lengthof(produce_arg_column)];
		char	   *sql;
		ProduceCapture mine = {0};
		ProduceCapture *outer = capture;
		int			ret;

		for (i = 0; i < lengthof(produce_arg_column); i++)
		{
			vals[i] = PG_ARGISNULL(i + 1) ? (Datum) 0 : PG_GETARG_DATUM(i + 1);
			nulls[i] = PG_ARGISNULL(i + 1) ? 'n' : ' ';
		}
		sql = psprintf("INSERT INTO %s.%s (value, key, headers, \"partition\")"
					   " VALUES ($1, $2, $3, $4)",
					   EL_TOPICS_SCHEMA, quote_identifier(RelationGetRelationName(rel)));
		mine.relid = relid;
		mine.depth = el_executor_depth + 1;
		capture = &mine;
		SPI_connect();
		PG_TRY();
		{
			ret = SPI_execute_with_args(sql, 4, types, vals, nulls, false, 0);
		}
		PG_FINALLY();
		{
			capture = outer;
		}
		PG_END_TRY();
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "could not produce through SPI: %s", SPI_result_code_string(ret));
		if (SPI_processed != (mine.found ? 1 : 0))
			elog(ERROR, "produce() inserted " UINT64_FORMAT " records but saw %d",
				 SPI_processed, mine.found ? 1 : 0);
		SPI_finish();

		/* a trigger that skipped the row leaves the capture empty */
		produced = mine.found;
		if (produced)
		{
			out[0] = Int32GetDatum(mine.partition);
			out[1] = Int64GetDatum(mine.offset);
		}
	}
	else
	{
		slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
		ExecClearTuple(slot);
		for (i = 0; i < natts; i++)
		{
			slot->tts_values[i] = (Datum) 0;
			slot->tts_isnull[i] = true;
		}
		for (i = 0; i < lengthof(produce_arg_column); i++)
		{
			int			att = produce_arg_column[i] - 1;

			if (PG_ARGISNULL(i + 1))
				continue;
			slot->tts_values[att] = PG_GETARG_DATUM(i + 1);
			slot->tts_isnull[att] = false;
		}
		ExecStoreVirtualTuple(slot);
		el_topic_insert(rel, slot, false);
		out[0] = slot->tts_values[EL_ATTNUM_PARTITION - 1];
		out[1] = slot->tts_values[EL_ATTNUM_OFFSET - 1];
		ExecDropSingleTupleTableSlot(slot);
	}
	table_close(rel, NoLock);
	return produced;
}

/*
 * The row type of produce()'s result, as declared in SQL, blessed once per
 * backend (get_call_result_type() builds it from pg_proc on every call).
 */
static TupleDesc
produce_result_desc(FunctionCallInfo fcinfo)
{
	static TupleDesc desc = NULL;

	if (desc == NULL)
	{
		TupleDesc	declared;
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &declared) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		old = MemoryContextSwitchTo(TopMemoryContext);
		desc = BlessTupleDesc(CreateTupleDescCopy(declared));
		MemoryContextSwitchTo(old);
	}
	return desc;
}

/* produce()'s place in its one-row result set, kept in fn_extra */
typedef struct ProduceState
{
	bool		returned;		/* the row went out; next call ends the set */
	ExprContext *econtext;		/* where reset_produce_state is registered */
} ProduceState;

/* the executor abandons a set (rescan, shutdown): start afresh next time */
static void
reset_produce_state(Datum arg)
{
	((ProduceState *) DatumGetPointer(arg))->returned = false;
}

/*
 * eventlog.produce(topic, value, key, headers, partition)
 *		RETURNS TABLE(partition int, "offset" bigint)
 *
 * A value-per-call set function returning one row, written out by hand:
 * funcapi's multi-call helpers would create and delete a memory context
 * on every call, and a materialized set would leave a tuple descriptor
 * behind per call in the query's memory, so SELECT produce(...) FROM <a
 * million rows> would grow.  What a call allocates lives in the caller's
 * per-row context.
 */
PG_FUNCTION_INFO_V1(eventlog_produce);
Datum
eventlog_produce(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ProduceState *state = (ProduceState *) fcinfo->flinfo->fn_extra;
	Datum		out[2];
	bool		outnull[2] = {false, false};

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_ValuePerCall))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (state == NULL)
	{
		state = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ProduceState));
		fcinfo->flinfo->fn_extra = state;
	}
	if (state->returned)
	{
		UnregisterExprContextCallback(state->econtext, reset_produce_state,
									  PointerGetDatum(state));
		state->returned = false;
		rsinfo->isDone = ExprEndResult;
		PG_RETURN_NULL();
	}

	if (!produce_one(fcinfo, out))
	{
		/* a trigger skipped the record: an empty set */
		rsinfo->isDone = ExprEndResult;
		PG_RETURN_NULL();
	}
	state->returned = true;
	state->econtext = rsinfo->econtext;
	RegisterExprContextCallback(rsinfo->econtext, reset_produce_state,
								PointerGetDatum(state));
	rsinfo->isDone = ExprMultipleResult;
	return HeapTupleGetDatum(heap_form_tuple(produce_result_desc(fcinfo), out, outnull));
}

/* eventlog.partition_for(topic, key): the partition produce() would pick. */
PG_FUNCTION_INFO_V1(eventlog_partition_for);
Datum
eventlog_partition_for(PG_FUNCTION_ARGS)
{
	ElTopic    *topic = el_topic_open(PG_GETARG_TEXT_PP(0), AccessShareLock, NULL);
	text	   *key = PG_GETARG_TEXT_PP(1);

	PG_RETURN_INT32(el_partition_for_key(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
										 topic->nparts));
}
