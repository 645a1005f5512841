/*
 * compact.c
 *		Log compaction (cleanup_policy "compact" or "compact,delete"): the
 *		closed segments of a partition are rewritten keeping the latest
 *		record of each key, as Kafka's log cleaner does.
 *
 * What is kept (README "Compaction"), per closed segment in the cleanable
 * prefix of the partition:
 *	- a record whose key has a later settled record below the partition's
 *	  first unsettled record (the active segment included) goes, unless it
 *	  is younger than min_compaction_lag;
 *	- the latest record of a key stays; if it is a tombstone (NULL value)
 *	  it goes once it is older than delete_retention and min_compaction_lag
 *	  and no earlier record of its key is left (one kept by
 *	  min_compaction_lag would come back);
 *	- keyless records (written before the topic became compacted) stay;
 *	- records of aborted transactions and records below the log start go.
 * Offsets never change: kept records keep theirs, and a compacted segment
 * has gaps.  The active segment is never rewritten.
 *
 * Only what every snapshot agrees on is touched: a record counts (as a
 * later record of its key, or as one to remove) only if its transaction
 * ended before the oldest xid any snapshot that can read the topic may
 * still consider running (GetOldestNonRemovableTransactionId).  The
 * cleanable prefix ends at the first closed segment that holds a record
 * not settled that way (a roll does not wait for open transactions), so a
 * tombstone is never removed while an earlier record of its key could
 * still be in an older segment that this pass leaves alone.
 *
 * When: run_maintenance() compacts every compacted partition; background
 * passes only when compaction_due() (a closed segment new to compaction,
 * or the oldest compaction older than delete_retention/min_compaction_lag),
 * so that a log nothing new reached is not read at every pass.
 *
 * The swap, per rewritten segment, in the maintenance step's
 * subtransaction:
 *	1. a new segment relation (eventlog_segments.t<topic>_p<n>_s<k>_c<i>,
 *	   the topic owner's) gets the kept records at their offsets, each run
 *	   with its original xid but frozen (its transaction committed before
 *	   every running snapshot: all of them see it, as will every later
 *	   one), then a log-end marker at the old segment's end and a close;
 *	   the rewrite is physical WAL only: logical decoding saw these records
 *	   when they were first appended (ElAppendTarget.rewrite);
 *	2. its segment_map row points to the new relation (seg_no and
 *	   base_offset unchanged), notes the swap's transaction and the old
 *	   relation, which goes to segment_trash: the existing two-phase drop
 *	   removes it once no snapshot can still reach it.
 * A snapshot taken before the swap committed keeps reading the old
 * relation (el_segment_relid_for), so a REPEATABLE READ reader sees the
 * same records before and after; later ones read the new relation.  A
 * crash before the commit leaves the old relation in place and the new one
 * belonging to an aborted transaction.  A segment whose previous relation
 * is not dropped yet is not compacted again (a snapshot older than that
 * swap would otherwise have no relation left to read); its records all
 * count as kept.
 *
 * Memory: the latest offset per key is a hash table of 128-bit key hashes
 * (two independent 64-bit hashes of the key bytes, as Kafka keeps a
 * digest per key) in a context of its own: about 64 bytes per distinct
 * key of the partition, whatever the key sizes; records themselves are
 * read a page at a time.
 */
#include "postgres.h"

#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/procarray.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "eventlog/elpage.h"
#include "eventlog/elstore.h"
#include "eventlog/elvisibility.h"
#include "eventlog/eventlog.h"
#include "eventlog/maint.h"
#include "eventlog/topic.h"

/* stored column positions (storedesc) of a topic's record */
#define STORED_TS		(EL_ATTNUM_TS - EL_NDERIVED - 1)
#define STORED_KEY		(EL_ATTNUM_KEY - EL_NDERIVED - 1)
#define STORED_VALUE	(EL_ATTNUM_VALUE - EL_NDERIVED - 1)

typedef struct KeyHash
{
	uint64		h[2];
} KeyHash;

typedef struct KeyEntry
{
	KeyHash		key;			/* hash key: must be first */
	int64		latest;			/* offset of the key's latest settled record */
	bool		older_kept;		/* an earlier record of it stays (lag) */
} KeyEntry;

/* One record as a pass reads it. */
typedef struct Rec
{
	int64		offset;
	ElRunStatus status;
	const ElRun *run;
	bool		has_key;
	KeyHash		key;
	bool		tombstone;
	int64		ts;				/* PG_INT64_MIN: none */
	Datum	   *values;			/* stored columns (valid until the next) */
	bool	   *isnull;
} Rec;

typedef struct Compaction
{
	ElTopic    *topic;
	ElPartitionStore *part;
	TupleDesc	storedesc;
	TransactionId horizon;
	TimestampTz now;
	HTAB	   *keys;
	MemoryContext pagecxt;
	char	   *scratch;		/* decoded record data (BLCKSZ) */
	Datum	   *values;
	bool	   *isnull;
} Compaction;

typedef bool (*RecFn) (Compaction *c, Rec *r, void *arg);

static void
hash_key(Datum d, KeyHash *out)
{
	text	   *t = DatumGetTextPP(d);
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);

	out->h[0] = hash_bytes_extended(p, len, 0);
	out->h[1] = hash_bytes_extended(p, len, UINT64CONST(0x9E3779B97F4A7C15));
}

/*
 * Call fn for every record of one segment relation, page by page (a copy
 * of each page is taken under its share lock).  Returns false as soon as
 * fn does.
 */
static bool
scan_segment(Compaction *c, Oid relid, RecFn fn, void *arg)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
	BlockNumber blk;
	PGAlignedBlock copy;
	bool		go_on = true;

	for (blk = 0; blk < nblocks && go_on; blk++)
	{
		Buffer		buf = ReadBuffer(rel, blk);
		Page		page = (Page) copy.data;
		ElPageIter	it;
		ElRecordRef ref;
		int64		base_ts;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		memcpy(copy.data, BufferGetPage(buf), BLCKSZ);
		UnlockReleaseBuffer(buf);
		if (!el_page_is_valid(page))
			break;				/* only a crash's leftovers follow */
		base_ts = ElPageGetOpaque(page)->base_ts;
		old = MemoryContextSwitchTo(c->pagecxt);
		el_page_iter_init(&it, page);
		while (go_on && el_page_iter_next(&it, &ref))
		{
			Rec			r;

			memset(&r, 0, sizeof(r));
			r.offset = ref.offset;
			r.run = ref.run;
			r.status = el_run_settled_status(ref.run, c->horizon);
			el_record_decode(ref.entry, ref.len, c->storedesc, base_ts,
							 c->scratch, c->values, c->isnull);
			r.values = c->values;
			r.isnull = c->isnull;
			r.has_key = !c->isnull[STORED_KEY];

			/*
			 * Only a settled committed record's values are read: an aborted
			 * one's TOASTed key may be gone (VACUUM removes its chunks), and
			 * an unsettled one's key counts for nothing.  Every decision
			 * below looks at the key of live records only.
			 */
			if (r.has_key && r.status == EL_STATUS_LIVE)
				hash_key(c->values[STORED_KEY], &r.key);
			r.tombstone = c->isnull[STORED_VALUE];
			r.ts = c->topic->ts_natts > 0 && !c->isnull[STORED_TS] ?
				DatumGetTimestampTz(c->values[STORED_TS]) : PG_INT64_MIN;
			go_on = fn(c, &r, arg);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(c->pagecxt);
	}
	relation_close(rel, AccessShareLock);
	return go_on;
}

/*
 * Pass 1: the latest settled offset of every key, up to the first record
 * that is not settled (which ends the pass).  A record above that one does
 * not count as a later record of its key, settled or not: a stop-mode
 * reader (fetch, poll, views) does not pass an open transaction's record,
 * so it could not see the replacement of a record removed for it until
 * that transaction ends (Kafka's cleaner too stops at the last stable
 * offset).  Transactions may commit out of xid order: one that took its
 * xid before an open one can be settled and still lie above it.
 */
static bool
map_record(Compaction *c, Rec *r, void *arg)
{
	int64	   *first_unsettled = (int64 *) arg;

	if (r->status == EL_STATUS_IN_PROGRESS)
	{
		*first_unsettled = r->offset;
		return false;
	}
	if (r->status == EL_STATUS_LIVE && r->has_key &&
		r->offset >= c->part->start_offset)
	{
		bool		found;
		KeyEntry   *e = hash_search(c->keys, &r->key, HASH_ENTER, &found);

		if (!found || r->offset > e->latest)
			e->latest = r->offset;
		if (!found)
			e->older_kept = false;
	}
	return true;
}

/*
 * Does record r stay?  older_kept is final for a key by the time its
 * latest record is decided: every earlier record of the key has a smaller
 * offset, and the cleanable prefix is decided in offset order.
 */
static bool
keep_record(Compaction *c, Rec *r, bool note)
{
	KeyEntry   *e;

	if (r->offset < c->part->start_offset || r->status == EL_STATUS_DEAD)
		return false;
	if (r->status != EL_STATUS_LIVE || !r->has_key)
		return true;
	e = hash_search(c->keys, &r->key, HASH_FIND, NULL);
	if (e == NULL)
		return true;
	if (r->offset < e->latest)
	{
		if (r->ts != PG_INT64_MIN && c->now - r->ts < c->topic->min_compaction_lag_us)
		{
			if (note)
				e->older_kept = true;
			return true;
		}
		return false;
	}
	/*
	 * A tombstone goes once older than delete_retention, and never while
	 * younger than min_compaction_lag: no record that young is removed.
	 */
	if (r->offset == e->latest && r->tombstone && !e->older_kept &&
		r->ts != PG_INT64_MIN && c->now - r->ts >= c->topic->delete_retention_us &&
		c->now - r->ts >= c->topic->min_compaction_lag_us)
		return false;
	return true;
}

typedef struct CountState
{
	int64		records;
	int64		dropped;
} CountState;

/* Pass 2: decide, noting keys whose older records stay; count drops. */
static bool
count_record(Compaction *c, Rec *r, void *arg)
{
	CountState *st = (CountState *) arg;

	st->records++;
	if (!keep_record(c, r, true))
		st->dropped++;
	return true;
}

/*
 * Pass 2 over a segment that is not rewritten this time (its previous
 * relation is not dropped yet): everything in it stays, which the
 * tombstones of its keys must know.
 */
static bool
hold_record(Compaction *c, Rec *r, void *arg)
{
	KeyEntry   *e;

	if (r->status != EL_STATUS_LIVE || !r->has_key)
		return true;
	e = hash_search(c->keys, &r->key, HASH_FIND, NULL);
	if (e != NULL && r->offset < e->latest)
		e->older_kept = true;
	return true;
}

/* Pass 3: the kept records of one segment, appended to its replacement. */
typedef struct RewriteState
{
	Relation	newrel;
	Relation	topic_rel;
	ElAppendTarget target;
	int64		base;			/* first offset of the old segment */
	int			n;
	int			cap;
	char	  **entries;
	Size	   *lens;
	int64	   *wants;
	int64	   *offsets;
	TransactionId xid;
	CommandId	cid;
	int64		kept;
	MemoryContext batchcxt;
} RewriteState;

static void
flush_batch(RewriteState *st)
{
	int			done;

	if (st->n == 0)
		return;
	done = el_append_batch(st->newrel, st->base, st->entries, st->lens, st->n,
						   st->wants, st->offsets, st->xid, st->cid, &st->target);
	if (done != st->n)
		elog(ERROR, "eventlog compaction placed %d of %d records in \"%s\"",
			 done, st->n, RelationGetRelationName(st->newrel));
	st->n = 0;
	MemoryContextReset(st->batchcxt);
}

static bool
rewrite_record(Compaction *c, Rec *r, void *arg)
{
	RewriteState *st = (RewriteState *) arg;
	TupleDesc	desc = c->storedesc;
	Datum	   *values = r->values;
	bool	   *isnull = r->isnull;
	bool		external = false;
	MemoryContext old;
	Size		size;
	char	   *entry;
	int			i;

	if (!keep_record(c, r, false))
		return true;
	/* records of one batch share the run identity they are written with */
	if (st->n > 0 && (st->n == st->cap || r->run->xid != st->xid ||
					  r->run->cid != st->cid))
		flush_batch(st);
	st->xid = r->run->xid;
	st->cid = r->run->cid;

	old = MemoryContextSwitchTo(st->batchcxt);
	for (i = 0; i < desc->natts; i++)
		if (!isnull[i] && TupleDescAttr(desc, i)->attlen == -1 &&
			VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(values[i])))
			external = true;
	if (external)
	{
		/*
		 * Large values live in the old segment's TOAST table, which goes
		 * with it: store them again in the new segment's (a new tuple's
		 * external values are fetched and TOASTed anew).
		 */
		TupleDesc	fulldesc = RelationGetDescr(st->topic_rel);
		Datum	   *fv = palloc(sizeof(Datum) * fulldesc->natts);
		bool	   *fn = palloc(sizeof(bool) * fulldesc->natts);
		HeapTuple	tup;

		fv[0] = Int32GetDatum(c->part->partition);
		fn[0] = false;
		fv[1] = Int64GetDatum(r->offset);
		fn[1] = false;
		memcpy(fv + EL_NDERIVED, values, sizeof(Datum) * desc->natts);
		memcpy(fn + EL_NDERIVED, isnull, sizeof(bool) * desc->natts);
		tup = heap_form_tuple(fulldesc, fv, fn);
		tup = heap_toast_insert_or_update(st->newrel, tup, NULL, 0);
		heap_deform_tuple(tup, fulldesc, fv, fn);
		values = fv + EL_NDERIVED;
		isnull = fn + EL_NDERIVED;
	}
	size = el_record_size(desc, values, isnull);
	if (size > EL_MAX_ENTRY_SIZE || size > EL_ENTRY_LENMASK)
		elog(ERROR, "eventlog compaction: record at offset " INT64_FORMAT " needs %zu bytes",
			 r->offset, size);
	entry = palloc(size);
	el_record_encode(entry, size, desc, values, isnull);
	MemoryContextSwitchTo(old);

	st->entries[st->n] = entry;
	st->lens[st->n] = size;
	st->wants[st->n] = r->offset;
	st->n++;
	st->kept++;
	return true;
}

/* A name for the replacement of segment seg_no: the first one free. */
static char *
compacted_name(Oid topic_relid, int partition, int seg_no)
{
	Oid			nsp = get_namespace_oid(EL_SEGMENTS_SCHEMA, false);
	int			i;

	for (i = 1;; i++)
	{
		char	   *name = psprintf("t%u_p%d_s%d_c%d", topic_relid, partition, seg_no, i);

		if (strlen(name) < NAMEDATALEN && !OidIsValid(get_relname_relid(name, nsp)))
			return name;
		pfree(name);
		if (i > 1000)
			elog(ERROR, "no free name for a compacted segment");
	}
}

/*
 * Rewrite segment s (offsets [first, next)) without its removable records
 * and swap it in.  Returns the records kept.
 */
static int64
rewrite_segment(Compaction *c, Relation topic_rel, const ElSegment *s,
				int64 first, int64 next)
{
	ElTopic    *topic = c->topic;
	char	   *name = compacted_name(topic->relid, c->part->partition, s->seg_no);
	Oid			newrelid;
	RewriteState st;
	ObjectAddress seg_addr,
				topic_addr;
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		args[2];
	char	   *marker = "";
	Size		zero = 0;
	int64		end = next;
	int64		endoff;

	/*
	 * If this step is rolled back, the invalidation is processed here at
	 * once, so that this backend's topic cache does not keep a segment list
	 * naming the new relation.
	 */
	CacheInvalidateRelcacheByRelid(topic->relid);
	newrelid = el_create_segment_relation(NameStr(topic->name), name,
										  topic_rel->rd_rel->relowner);
	ObjectAddressSet(seg_addr, RelationRelationId, newrelid);
	ObjectAddressSet(topic_addr, RelationRelationId, topic->relid);
	recordDependencyOn(&seg_addr, &topic_addr, DEPENDENCY_AUTO);
	CommandCounterIncrement();

	memset(&st, 0, sizeof(st));
	st.newrel = relation_open(newrelid, RowExclusiveLock);
	st.topic_rel = topic_rel;
	st.target.topic_relid = topic->relid;
	st.target.topic_node = topic->node;
	st.target.topic_name = NameStr(topic->name);
	st.target.partition = c->part->partition;
	st.target.natts = topic->storedesc->natts;
	st.target.ts_natts = topic->ts_natts;
	st.target.next_relid = InvalidOid;
	st.target.next_base = EL_SEGMENT_NOT_STARTED;
	st.target.max_blocks = 0;
	st.target.rewrite = true;
	st.base = first;
	st.cap = EL_MAX_RECORDS_PER_PAGE;
	st.entries = palloc(sizeof(char *) * st.cap);
	st.lens = palloc(sizeof(Size) * st.cap);
	st.wants = palloc(sizeof(int64) * st.cap);
	st.offsets = palloc(sizeof(int64) * st.cap);
	st.batchcxt = AllocSetContextCreate(CurrentMemoryContext, "eventlog compaction batch",
										ALLOCSET_DEFAULT_SIZES);
	(void) scan_segment(c, s->relid, rewrite_record, &st);
	flush_batch(&st);

	/* the log end stays where the old segment's was, gaps or not */
	(void) el_append_batch(st.newrel, first, &marker, &zero, 1, &end, &endoff,
						   GetCurrentTransactionId(), GetCurrentCommandId(true),
						   &st.target);
	el_segment_close(st.newrel);
	relation_close(st.newrel, NoLock);
	MemoryContextDelete(st.batchcxt);

	args[0] = ObjectIdGetDatum(s->relid);
	args[1] = ObjectIdGetDatum(newrelid);
	el_spi_exec("WITH m AS (UPDATE eventlog.segment_map"
				"   SET segrel = $2::regclass, compacted_xid = pg_catalog.pg_current_xact_id(),"
				"       replaced_segrel = $1, compacted_at = pg_catalog.now()"
				"  WHERE segrel = $1::regclass RETURNING topic, partition, seg_no)"
				" INSERT INTO eventlog.segment_trash (segrel, topic, partition, seg_no, removed_xid)"
				" SELECT $1, m.topic, m.partition, m.seg_no, pg_catalog.pg_current_xact_id() FROM m",
				2, types, args, NULL, SPI_OK_INSERT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("segment %u of topic \"%s\" changed during its compaction",
						s->relid, NameStr(topic->name)),
				 errhint("The next maintenance pass tries again.")));
	return st.kept;
}

/*
 * Is a compaction of the partition due (background passes)?  When one of
 * its closed segments (seg_nos, n of them) has not been through compaction
 * yet, or the oldest one that has was last compacted longer ago than the
 * shortest of delete_retention and min_compaction_lag (at least a minute):
 * tombstones and records kept for their lag then go in time, and a log
 * that nothing new reached is not read again at every pass.
 */
static bool
compaction_due(ElTopic *topic, int partition, int32 *seg_nos, int n)
{
	Oid			types[3] = {TEXTOID, INT4OID, INT4ARRAYOID};
	Datum		values[3];
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int64		threshold = topic->delete_retention_us;
	bool		isnull;
	int64		never;
	Datum		age;
	int			i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		elems[i] = Int32GetDatum(seg_nos[i]);
	values[0] = CStringGetTextDatum(NameStr(topic->name));
	values[1] = Int32GetDatum(partition);
	values[2] = PointerGetDatum(construct_array(elems, n, INT4OID, 4, true, TYPALIGN_INT));
	el_spi_exec("SELECT count(*) FILTER (WHERE compacted_at IS NULL),"
				"   (extract(epoch FROM pg_catalog.clock_timestamp() - min(compacted_at)) * 1000000)::bigint"
				" FROM eventlog.segment_map"
				" WHERE topic = $1 AND partition = $2 AND seg_no = ANY ($3)",
				3, types, values, NULL, SPI_OK_SELECT);
	never = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (never > 0)
		return true;
	age = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
		return false;
	if (topic->min_compaction_lag_us > 0)
		threshold = Min(threshold, topic->min_compaction_lag_us);
	threshold = Max(threshold, 60 * USECS_PER_SEC);
	return DatumGetInt64(age) >= threshold;
}

/* Note that compaction went through these segments now. */
static void
mark_compacted(ElTopic *topic, int partition, int32 *seg_nos, int n)
{
	Oid			types[3] = {TEXTOID, INT4OID, INT4ARRAYOID};
	Datum		values[3];
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		elems[i] = Int32GetDatum(seg_nos[i]);
	values[0] = CStringGetTextDatum(NameStr(topic->name));
	values[1] = Int32GetDatum(partition);
	values[2] = PointerGetDatum(construct_array(elems, n, INT4OID, 4, true, TYPALIGN_INT));
	el_spi_exec("UPDATE eventlog.segment_map SET compacted_at = pg_catalog.now()"
				" WHERE topic = $1 AND partition = $2 AND seg_no = ANY ($3)",
				3, types, values, NULL, SPI_OK_UPDATE);
}

/*
 * Compact one partition of a compacted topic: called by a maintenance
 * step (retention.c) inside SPI, as the catalog owner, in the step's
 * subtransaction.  force: compact now (run_maintenance()); otherwise only
 * when compaction_due().  Returns whether the catalog changed.
 */
bool
el_compact_partition(ElTopic *topic, Relation topic_rel, int partition,
					 bool force, ElReportFn report, void *arg)
{
	int32	   *seg_nos;
	int			nseg_nos = 0;
	ElPartitionStore *part = &topic->parts[partition];
	TupleDesc	sd = topic->storedesc;
	Compaction	c;
	HASHCTL		ctl;
	MemoryContext cxt;
	MemoryContext old;
	int64		first_unsettled = -1;
	int			active = -1;
	int64	   *firsts;
	int64	   *nexts;
	bool	   *closed;
	bool		changed = false;
	int			i;

	/* a topic of the usual shape: (ts, key text, value, ...) stored */
	if (part->nsegs < 2 || sd->natts <= STORED_VALUE ||
		TupleDescAttr(sd, STORED_KEY)->atttypid != TEXTOID)
		return false;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "eventlog compaction",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	memset(&c, 0, sizeof(c));
	c.topic = topic;
	c.part = part;
	c.storedesc = sd;
	/*
	 * The horizon of user tables of this database: snapshots of other
	 * databases cannot read these relations, and a logical slot's catalog
	 * xmin only protects catalog rows.
	 */
	c.horizon = GetOldestNonRemovableTransactionId(topic_rel);
	c.now = GetCurrentTimestamp();
	c.pagecxt = AllocSetContextCreate(cxt, "eventlog compaction page",
									  ALLOCSET_DEFAULT_SIZES);
	c.scratch = palloc(BLCKSZ);
	c.values = palloc(sizeof(Datum) * sd->natts);
	c.isnull = palloc(sizeof(bool) * sd->natts);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(KeyHash);
	ctl.entrysize = sizeof(KeyEntry);
	ctl.hcxt = cxt;
	c.keys = hash_create("eventlog compaction keys", 1024, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/* where each segment ends; the active one is the last started */
	firsts = palloc(sizeof(int64) * part->nsegs);
	nexts = palloc(sizeof(int64) * part->nsegs);
	closed = palloc(sizeof(bool) * part->nsegs);
	for (i = 0; i < part->nsegs; i++)
	{
		Relation	seg = relation_open(part->segs[i].relid, AccessShareLock);
		int64		fts,
					lts;

		el_segment_bounds(seg, &firsts[i], &nexts[i], &fts, &lts, &closed[i]);
		relation_close(seg, AccessShareLock);
		if (firsts[i] >= 0)
			active = i;
	}
	seg_nos = palloc(sizeof(int32) * part->nsegs);
	for (i = 0; i < active; i++)
		if (closed[i] && firsts[i] >= 0)
			seg_nos[nseg_nos++] = part->segs[i].seg_no;
	if (!force && !compaction_due(topic, partition, seg_nos, nseg_nos))
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return false;
	}
	nseg_nos = 0;

	/* pass 1, over the partition up to its first unsettled record */
	for (i = 0; i <= active; i++)
		if (!scan_segment(&c, part->segs[i].relid, map_record, &first_unsettled))
			break;

	/* passes 2 and 3, over the cleanable prefix of closed segments */
	for (i = 0; i < active; i++)
	{
		const ElSegment *s = &part->segs[i];
		CountState cs = {0, 0};

		if (!closed[i] || firsts[i] < 0 ||
			s->base_offset == EL_SEGMENT_NOT_STARTED ||
			(first_unsettled >= 0 && nexts[i] > first_unsettled))
			break;
		if (OidIsValid(s->prev_relid))
		{
			/* compacted again once the relation it replaced is dropped */
			(void) scan_segment(&c, s->relid, hold_record, NULL);
			continue;
		}
		(void) scan_segment(&c, s->relid, count_record, &cs);
		seg_nos[nseg_nos++] = s->seg_no;
		if (cs.dropped > 0)
		{
			char	   *oldname = get_rel_name(s->relid);
			int64		kept = rewrite_segment(&c, topic_rel, s, firsts[i], nexts[i]);
			char	   *detail = psprintf("offsets " INT64_FORMAT " to " INT64_FORMAT
										  ", kept " INT64_FORMAT " of " INT64_FORMAT " records",
										  firsts[i], nexts[i] - 1, kept, cs.records);

			report(arg, "compacted", NameStr(topic->name), partition,
				   oldname ? oldname : psprintf("%u", s->relid), detail);
			changed = true;
		}
	}
	mark_compacted(topic, partition, seg_nos, nseg_nos);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return changed;
}
