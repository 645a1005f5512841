/*
 * retention.c
 *		Segment maintenance: spare segments, rolls by time (and by size when
 *		no producer could), retention by time and size, delete_records(),
 *		the deferred physical drop of removed segments, and the segments
 *		view.  One pass is eventlog.run_maintenance(); the background worker
 *		(worker.c) runs passes in every database that has the extension.
 *
 * The life of a segment (README "Segments and retention"):
 *	 spare	 made by a pass (CREATE TABLE, in the pass's transaction), listed
 *			 in segment_map with a NULL base offset: producers never run DDL;
 *	 active	 a roll started it: under the old tail page's exclusive lock its
 *			 page 0 is initialized at the old segment's log end, and the old
 *			 tail is marked closed, in one WAL record (elappend.c);
 *	 closed	 the next pass fills its base offset in segment_map and makes a
 *			 new spare;
 *	 removed retention or delete_records deletes its segment_map row and
 *			 records it in segment_trash, transactionally: new readers no
 *			 longer find it, the log start offset moves;
 *	 dropped a later pass drops the relation once no snapshot can still
 *			 see its segment_map row: removed_xid precedes the oldest xmin of
 *			 every backend that can read this database's tables
 *			 (GetOldestNonRemovableTransactionId), and an
 *			 ACCESS EXCLUSIVE lock is granted at once (a reader holding the
 *			 segment keeps it; the pass never waits).
 *
 * Every lock a pass takes is taken with lock_timeout at most
 * eventlog.maintenance_lock_timeout, and each topic is maintained in a
 * subtransaction of its own: a topic whose locks are busy is retried at the
 * next pass instead of making producers or readers queue behind the pass.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "common/relpath.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include <sys/stat.h>
#include <time.h>

#include "eventlog/elstore.h"
#include "eventlog/elwal.h"
#include "eventlog/eventlog.h"
#include "eventlog/fetch.h"
#include "eventlog/maint.h"
#include "eventlog/sqlargs.h"
#include "eventlog/subxact.h"
#include "eventlog/topic.h"

int			el_maintenance_lock_timeout = 100;
int			el_orphan_segment_grace = 3600;

/* What one pass did, for run_maintenance()'s result and the worker's log. */
typedef struct PassReport
{
	Tuplestorestate *store;		/* NULL: log only */
	TupleDesc	desc;
	int			actions;
	bool		log;
	int			what;			/* EL_MAINT_SEGMENTS | EL_MAINT_COMPACT */
} PassReport;

static void
report(PassReport *rep, const char *action, const char *topic, int partition,
	   const char *segment, const char *detail)
{
	rep->actions++;
	if (rep->log && topic == NULL)
		ereport(LOG,
				(errmsg("eventlog maintenance: %s %s%s%s",
						action, segment ? segment : "",
						detail ? ": " : "", detail ? detail : "")));
	else if (rep->log)
		ereport(LOG,
				(errmsg("eventlog maintenance: %s %s of partition %d of topic \"%s\"%s%s",
						action, segment ? segment : "", partition, topic,
						detail ? ": " : "", detail ? detail : "")));
	if (rep->store)
	{
		Datum		values[5];
		bool		nulls[5] = {false, topic == NULL, topic == NULL, segment == NULL, detail == NULL};

		values[0] = CStringGetTextDatum(action);
		values[1] = topic ? CStringGetTextDatum(topic) : (Datum) 0;
		values[2] = Int32GetDatum(partition);
		values[3] = segment ? CStringGetTextDatum(segment) : (Datum) 0;
		values[4] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
		tuplestore_putvalues(rep->store, rep->desc, values, nulls);
	}
}

/* What a pass knows of one segment, read from its pages. */
typedef struct SegInfo
{
	int64		first;			/* -1: not started */
	int64		next;
	int64		first_ts;
	int64		last_ts;
	bool		closed;
	int64		bytes;
	bool		exists;
} SegInfo;

static void
seg_info(const ElSegment *s, SegInfo *info)
{
	Relation	rel = try_relation_open(s->relid, AccessShareLock);

	memset(info, 0, sizeof(SegInfo));
	info->first = info->next = -1;
	if (rel == NULL)
		return;
	info->exists = true;
	el_segment_bounds(rel, &info->first, &info->next, &info->first_ts,
					  &info->last_ts, &info->closed);
	info->bytes = el_segment_bytes(rel);	/* its TOAST table included */
	relation_close(rel, AccessShareLock);
}

static char *
seg_name(Oid relid)
{
	char	   *name = get_rel_name(relid);

	return name ? name : psprintf("%u", relid);
}

/*
 * Move the segment_map rows that match "where" (with parameters $1..) into
 * segment_trash (transactional: the log start moves when the caller
 * commits).  Returns whether a row moved.
 */
static bool
trash_segments(const char *where, int nargs, Oid *types, Datum *values)
{
	el_spi_exec(psprintf("WITH d AS (DELETE FROM eventlog.segment_map WHERE %s"
						 "   RETURNING segrel, topic, partition, seg_no)"
						 " INSERT INTO eventlog.segment_trash (segrel, topic, partition, seg_no, removed_xid)"
						 " SELECT d.segrel::oid, d.topic, d.partition, d.seg_no, pg_catalog.pg_current_xact_id()"
						 "   FROM d", where),
				nargs, types, values, NULL, SPI_OK_INSERT);
	return SPI_processed > 0;
}

/*
 * Take a segment out of segment_map by its relation.  False if it was gone
 * already (a concurrent pass or delete_records took it, or a compaction
 * swapped its relation: the next pass looks again).
 */
static bool
remove_segment(const char *topic, const ElSegment *s)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(s->relid)};

	return trash_segments("segrel = $1::regclass", 1, types, values);
}

/*
 * remove_segment() by segment number: for delete_records(), which runs
 * once and must not miss a segment that a compaction swapped to a new
 * relation since the caller loaded the segment list (it waits for that
 * compaction's row lock, then finds the row under its new relation).
 */
static bool
remove_segment_no(const char *topic, int partition, int seg_no)
{
	Oid			types[3] = {TEXTOID, INT4OID, INT4OID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(topic);
	values[1] = Int32GetDatum(partition);
	values[2] = Int32GetDatum(seg_no);
	return trash_segments("topic = $1 AND partition = $2 AND seg_no = $3", 3, types, values);
}

static void
set_base(const ElSegment *s, int64 base)
{
	Oid			types[2] = {OIDOID, INT8OID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(s->relid);
	values[1] = Int64GetDatum(base);
	el_spi_exec("UPDATE eventlog.segment_map SET base_offset = $2"
				" WHERE segrel = $1::regclass AND base_offset IS NULL",
				2, types, values, NULL, SPI_OK_UPDATE);
}

/* The next seg_no of a partition: past every segment it has or had. */
static int
next_seg_no(const char *topic, int partition)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	bool		isnull;
	Datum		d;

	values[0] = CStringGetTextDatum(topic);
	values[1] = Int32GetDatum(partition);
	el_spi_exec("SELECT coalesce(max(seg_no), -1) + 1 FROM"
				" (SELECT seg_no FROM eventlog.segment_map WHERE topic = $1 AND partition = $2"
				"  UNION ALL"
				"  SELECT seg_no FROM eventlog.segment_trash WHERE topic = $1 AND partition = $2) s",
				2, types, values, NULL, SPI_OK_SELECT);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return DatumGetInt32(d);
}

/*
 * Does the partition have a spare past its last listed segment (seg_no)?
 * The topic cache leaves out a spare this transaction made (a roll into
 * it would outlive a rollback that drops it), so a second pass in the same
 * transaction would not see it and make another; SPI's snapshot sees our
 * own rows.
 */
static bool
has_unlisted_spare(const char *topic, int partition, int seg_no)
{
	Oid			types[3] = {TEXTOID, INT4OID, INT4OID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(topic);
	values[1] = Int32GetDatum(partition);
	values[2] = Int32GetDatum(seg_no);
	el_spi_exec("SELECT 1 FROM eventlog.segment_map"
				" WHERE topic = $1 AND partition = $2 AND seg_no > $3 AND base_offset IS NULL"
				" LIMIT 1",
				3, types, values, NULL, SPI_OK_SELECT);
	return SPI_processed > 0;
}

/* Index of the active segment: the last started one (or the first). */
static int
active_of(const SegInfo *infos, int nsegs)
{
	int			i;

	for (i = nsegs - 1; i > 0; i--)
		if (infos[i].first >= 0)
			return i;
	return 0;
}

/*
 * One partition: roll if due, fill in base offsets, apply retention, make
 * a spare.  Returns whether the catalog changed.
 */
static bool
maintain_partition(ElTopic *topic, int p, Oid owner, PassReport *rep)
{
	ElPartitionStore *part = &topic->parts[p];
	const char *name = NameStr(topic->name);
	SegInfo    *infos;
	int			nsegs = part->nsegs;
	int			active;
	int			i;
	bool		changed = false;
	TimestampTz now = GetCurrentTimestamp();

	if (nsegs == 0)
		return false;
	infos = palloc(sizeof(SegInfo) * nsegs);
	for (i = 0; i < nsegs; i++)
		seg_info(&part->segs[i], &infos[i]);
	active = active_of(infos, nsegs);

	/* roll by time, or by size if no producer could (no spare then) */
	if (active + 1 < nsegs && infos[active].first >= 0 && !infos[active].closed &&
		infos[active].next > infos[active].first &&
		(now - infos[active].first_ts >= topic->segment_interval_us ||
		 infos[active].bytes >= topic->segment_bytes))
	{
		Relation	seg = relation_open(part->segs[active].relid, RowExclusiveLock);
		Relation	next = relation_open(part->segs[active + 1].relid, RowExclusiveLock);
		ElAppendTarget target;

		target.topic_relid = topic->relid;
		target.topic_name = name;
		target.partition = p;
		target.natts = topic->storedesc->natts;
		target.ts_natts = topic->ts_natts;
		target.next_relid = part->segs[active + 1].relid;
		target.next_base = part->segs[active + 1].base_offset;
		target.max_blocks = 0;
		target.rewrite = false;
		if (el_segment_roll(seg, next, &target))
		{
			report(rep, "rolled", name, p, seg_name(part->segs[active].relid),
				   now - infos[active].first_ts >= topic->segment_interval_us ?
				   "segment_interval reached" : "segment_bytes reached");
			seg_info(&part->segs[active], &infos[active]);
			seg_info(&part->segs[active + 1], &infos[active + 1]);
			active++;
		}
		relation_close(next, NoLock);
		relation_close(seg, NoLock);
	}

	/* started segments learn their base offset */
	for (i = 0; i < nsegs; i++)
		if (part->segs[i].base_offset == EL_SEGMENT_NOT_STARTED && infos[i].first >= 0)
		{
			set_base(&part->segs[i], infos[i].first);
			changed = true;
		}

	/* retention: whole closed segments, oldest first */
	if (topic->policy_delete && (topic->retention_us > 0 || topic->retention_bytes > 0))
	{
		int64		total = 0;

		for (i = 0; i < nsegs; i++)
			total += infos[i].bytes;
		for (i = 0; i < active; i++)
		{
			int64		newest = infos[i].last_ts != PG_INT64_MIN ?
				infos[i].last_ts : infos[i].first_ts;
			bool		by_time = topic->retention_us > 0 &&
				now - newest > topic->retention_us;
			bool		by_size = topic->retention_bytes > 0 &&
				total > topic->retention_bytes;

			if (!infos[i].closed || !(by_time || by_size))
				break;
			if (remove_segment(name, &part->segs[i]))
			{
				char	   *detail = psprintf("offsets " INT64_FORMAT " to " INT64_FORMAT ", %s",
											  infos[i].first, infos[i].next - 1,
											  by_time ? "older than retention" :
											  "partition above retention_bytes");

				report(rep, "removed", name, p, seg_name(part->segs[i].relid), detail);
				changed = true;
			}
			total -= infos[i].bytes;
		}
	}

	/* a spare after the active segment, so that producers can roll */
	if (active == nsegs - 1 &&
		!has_unlisted_spare(name, p, part->segs[nsegs - 1].seg_no))
	{
		int			seg_no = next_seg_no(name, p);

		el_create_segment(topic->relid, name, p, seg_no, -1, owner);
		report(rep, "created spare", name, p, psprintf("s%d", seg_no), NULL);
		changed = true;
	}
	pfree(infos);
	return changed;
}

static void
report_fn(void *arg, const char *action, const char *topic, int partition,
		  const char *segment, const char *detail)
{
	report((PassReport *) arg, action, topic, partition, segment, detail);
}

typedef struct CompactArgs
{
	ElTopic    *topic;
	Relation	rel;
	int			partition;
	PassReport *rep;
	bool		changed;
} CompactArgs;

static void
compact_step(void *arg)
{
	CompactArgs *a = (CompactArgs *) arg;

	a->changed = el_compact_partition(a->topic, a->rel, a->partition, !a->rep->log,
									  report_fn, a->rep);
}

/*
 * Compact one partition in a subtransaction of its own: a compaction that
 * fails (a lock timeout, a damaged page) is logged and retried at the next
 * pass without undoing the rolls, spares and retention of this one, which
 * producers need.
 */
static bool
compact_guarded(ElTopic *topic, Relation rel, int p, PassReport *rep)
{
	CompactArgs a = {topic, rel, p, rep, false};
	ErrorData  *edata = el_subxact_run(compact_step, &a, false);

	if (edata == NULL)
		return a.changed;
	ereport(rep->log ? LOG : NOTICE,
			(errmsg("eventlog compaction of partition %d of topic \"%s\" skipped, retried at the next pass: %s",
					p, NameStr(topic->name), edata->message)));
	FreeErrorData(edata);
	return false;
}

static void
maintain_topic(Oid relid, PassReport *rep)
{
	Relation	rel;
	ElTopic    *topic;
	bool		changed = false;
	int			p;

	/* the topic's lock, without queueing (lock_timeout is set) */
	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		return;
	topic = el_topic_reload(relid);
	for (p = 0; p < topic->nparts && (rep->what & EL_MAINT_SEGMENTS); p++)
		changed |= maintain_partition(topic, p, rel->rd_rel->relowner, rep);
	if (topic->policy_compact && (rep->what & EL_MAINT_COMPACT))
	{
		/* compaction (compact.c) works on the segment list as changed above */
		if (changed)
		{
			CommandCounterIncrement();
			topic = el_topic_reload(relid);
		}
		for (p = 0; p < topic->nparts; p++)
			changed |= compact_guarded(topic, rel, p, rep);
	}
	if (changed)
		CacheInvalidateRelcacheByRelid(relid);
	relation_close(rel, NoLock);
}

/*
 * A compacted segment that kept no record and whose replaced relation is
 * now dropped leaves segment_map (into segment_trash, dropped later): no
 * snapshot can read anything in it any more, and readers step over the
 * offsets it covered like any gap.  Compaction never merges segments, so
 * this keeps a compacted topic from piling up empty relations.  Not the
 * partition's first segment: the log start offset stays where it was.
 */
static void
remove_if_emptied(PassReport *rep, const char *topic, int partition, int seg_no,
				  Oid segrel)
{
	Oid			types[4] = {TEXTOID, INT4OID, INT4OID, OIDOID};
	Datum		values[4];
	Relation	rel;
	int64		records;
	ElSegment	s;
	char	   *name;

	values[0] = CStringGetTextDatum(topic);
	values[1] = Int32GetDatum(partition);
	values[2] = Int32GetDatum(seg_no);
	values[3] = ObjectIdGetDatum(segrel);
	el_spi_exec("SELECT 1 FROM eventlog.segment_map"
				" WHERE topic = $1 AND partition = $2 AND seg_no < $3"
				"   AND EXISTS (SELECT 1 FROM eventlog.segment_map"
				"                WHERE segrel = $4::regclass AND compacted_xid IS NOT NULL)"
				" LIMIT 1",
				4, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return;
	rel = try_relation_open(segrel, AccessShareLock);
	if (rel == NULL)
		return;
	records = el_segment_records(rel);
	name = pstrdup(RelationGetRelationName(rel));
	relation_close(rel, AccessShareLock);
	if (records > 0)
		return;
	s.relid = segrel;
	if (remove_segment(topic, &s))
		report(rep, "removed", topic, partition, name,
			   "compacted to no record");
}

/*
 * Drop segment relations that no topic uses: in the segments schema, of
 * the eventlog access method, in neither segment_map nor segment_trash.
 * A restore makes them: pg_dump writes every relation of the segments
 * schema, also those that awaited their drop in segment_trash (removed by
 * retention, or replaced by compaction), which the topic's export header
 * does not list, so that no COPY adopts them.  (A compaction interrupted by
 * a crash leaves none: its relation belongs to an aborted transaction.)
 * Only one that was created by a transaction every snapshot sees committed
 * (its pg_class row's xmin precedes the horizon), whose file has not
 * changed for eventlog.orphan_segment_grace (a restore in progress adopts
 * the segments it created when it loads the topic's data: it may still
 * adopt a younger one) and that can be locked at once is dropped.
 */
static void
drop_orphans(PassReport *rep, TransactionId horizon)
{
	uint64		n;
	uint64		i;
	SPITupleTable *tt;
	time_t		now = time(NULL);

	el_spi_exec("SELECT c.oid, c.xmin::text::bigint FROM pg_catalog.pg_class c"
				"  JOIN pg_catalog.pg_am a ON a.oid = c.relam"
				" WHERE c.relnamespace = 'eventlog_segments'::regnamespace"
				"   AND c.relkind = 'r' AND a.amname = 'eventlog'"
				"   AND NOT EXISTS (SELECT 1 FROM eventlog.segment_map m WHERE m.segrel = c.oid)"
				"   AND NOT EXISTS (SELECT 1 FROM eventlog.segment_trash t WHERE t.segrel = c.oid)",
				0, NULL, NULL, NULL, SPI_OK_SELECT);
	n = SPI_processed;
	tt = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		TransactionId xmin = (TransactionId) DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		Relation	rel;
		char	   *path;
		struct stat st;
		bool		young;
		char	   *name;
		ObjectAddress addr;

		if (TransactionIdIsNormal(xmin) && !TransactionIdPrecedes(xmin, horizon))
			continue;
		if (!ConditionalLockRelationOid(relid, AccessExclusiveLock))
			continue;
		rel = try_relation_open(relid, NoLock);
		if (rel == NULL)
		{
			UnlockRelationOid(relid, AccessExclusiveLock);
			continue;
		}
		path = relpathbackend(rel->rd_node, InvalidBackendId, MAIN_FORKNUM);
		young = stat(path, &st) == 0 &&
			(int64) (now - st.st_mtime) < (int64) el_orphan_segment_grace;
		name = pstrdup(RelationGetRelationName(rel));
		relation_close(rel, NoLock);
		if (young)
		{
			UnlockRelationOid(relid, AccessExclusiveLock);
			continue;
		}
		ObjectAddressSet(addr, RelationRelationId, relid);
		performDeletion(&addr, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
		report(rep, "dropped orphan", NULL, -1, name,
			   "a segment relation no topic uses (left by a restore)");
	}
}

/*
 * Drop removed segments that no snapshot can reach any more.  Each under a
 * conditional ACCESS EXCLUSIVE lock: a reader still holding one keeps it
 * until the next pass.
 */
static void
drop_trash(PassReport *rep)
{
	TransactionId horizon;
	Relation	trash;
	uint64		n;
	uint64		i;
	SPITupleTable *tt;

	/*
	 * The successor's records may point into this segment's TOAST table
	 * unless compaction rewrote them (their values are then in the
	 * rewritten relation's own); the relation a compaction replaced still
	 * has them until it is dropped itself.  Only the relation producers
	 * appended to can be pointed into: a compaction's rewrite (a later
	 * trash row of the same segment) holds its own records' values only.
	 */
	/*
	 * The horizon of this database's user tables (segment_map is one): a
	 * logical slot's catalog xmin does not hold segments back.
	 */
	trash = table_open(get_relname_relid("segment_trash", get_namespace_oid("eventlog", false)),
					   AccessShareLock);
	horizon = GetOldestNonRemovableTransactionId(trash);
	table_close(trash, AccessShareLock);

	el_spi_exec("SELECT t.segrel, t.topic, t.partition, t.removed_xid::text::bigint,"
				"   NOT EXISTS (SELECT 1 FROM eventlog.segment_trash o"
				"                WHERE o.topic = t.topic AND o.partition = t.partition"
				"                  AND o.seg_no = t.seg_no AND o.removed_xid < t.removed_xid)"
				"   AND (EXISTS (SELECT 1 FROM eventlog.segment_map m"
				"            WHERE m.topic = t.topic AND m.partition = t.partition"
				"              AND m.seg_no = t.seg_no + 1 AND m.compacted_xid IS NULL)"
				"   OR EXISTS (SELECT 1 FROM eventlog.segment_trash n"
				"               WHERE n.topic = t.topic AND n.partition = t.partition"
				"                 AND n.seg_no = t.seg_no + 1))"
				" FROM eventlog.segment_trash t ORDER BY t.removed_at",
				0, NULL, NULL, NULL, SPI_OK_SELECT);
	n = SPI_processed;
	tt = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			segrel = DatumGetObjectId(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		char	   *topic = SPI_getvalue(tt->vals[i], tt->tupdesc, 2);
		int			partition = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
		uint64		fxid = (uint64) DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull));
		bool		successor = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 5, &isnull));
		TransactionId xid = XidFromFullTransactionId(FullTransactionIdFromU64(fxid));
		Oid			types[1] = {OIDOID};
		Datum		values[1];
		char	   *name;
		bool		held_for_toast = false;

		if (!TransactionIdPrecedes(xid, horizon))
			continue;
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(segrel)))
		{
			Relation	seg;
			bool		toast_used;
			ObjectAddress addr;

			if (!ConditionalLockRelationOid(segrel, AccessExclusiveLock))
				continue;
			seg = relation_open(segrel, NoLock);
			name = pstrdup(RelationGetRelationName(seg));

			/*
			 * A record whose append crossed a roll keeps its TOASTed values
			 * in this segment's TOAST table: keep it while the next segment
			 * is there.
			 */
			toast_used = false;
			if (OidIsValid(seg->rd_rel->reltoastrelid))
			{
				Relation	toast = relation_open(seg->rd_rel->reltoastrelid, AccessShareLock);

				toast_used = RelationGetNumberOfBlocks(toast) > 0;
				relation_close(toast, AccessShareLock);
			}
			relation_close(seg, NoLock);
			held_for_toast = toast_used && successor;
			if (held_for_toast)
				UnlockRelationOid(segrel, AccessExclusiveLock);
			else
			{
				ObjectAddressSet(addr, RelationRelationId, segrel);
				performDeletion(&addr, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
				report(rep, "dropped", topic, partition, name, NULL);
			}
		}
		values[0] = ObjectIdGetDatum(segrel);
		if (!held_for_toast)
			el_spi_exec("DELETE FROM eventlog.segment_trash WHERE segrel = $1",
						1, types, values, NULL, SPI_OK_DELETE);

		/*
		 * A compacted segment's readers no longer need what it replaced:
		 * every snapshot sees the swap.  Also when that relation stays for
		 * its TOAST table only, or the segment could never be compacted
		 * again while its successor is not rewritten.
		 */
		el_spi_exec("UPDATE eventlog.segment_map SET replaced_segrel = NULL"
					" WHERE replaced_segrel = $1 RETURNING segrel::oid, seg_no",
					1, types, values, NULL, SPI_OK_UPDATE_RETURNING);
		if (SPI_processed > 0)
		{
			Oid			topic_relid = el_topic_relid(topic, true);
			Oid			cur = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
															 SPI_tuptable->tupdesc, 1, &isnull));
			int			seg_no = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
															 SPI_tuptable->tupdesc, 2, &isnull));

			/*
			 * A standby's snapshot may be older than any here: cancel those
			 * that would not see the swap before they read the compacted
			 * relation (elwal.h, XLOG_EL_CONFLICT).
			 */
			el_log_snapshot_conflict(xid);
			remove_if_emptied(rep, topic, partition, seg_no, cur);
			if (OidIsValid(topic_relid))
				CacheInvalidateRelcacheByRelid(topic_relid);
		}
	}
	drop_orphans(rep, horizon);
}

/*
 * Cap lock_timeout for this transaction (or subtransaction) at the
 * maintenance setting, so that no lock request of a pass queues for long.
 */
static void
set_short_lock_timeout(void)
{
	char		buf[32];

	if (LockTimeout > 0 && LockTimeout <= el_maintenance_lock_timeout)
		return;
	snprintf(buf, sizeof(buf), "%d", el_maintenance_lock_timeout);
	(void) set_config_option("lock_timeout", buf, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

typedef struct StepArgs
{
	Oid			relid;
	PassReport *rep;
} StepArgs;

static void
pass_step(void *arg)
{
	StepArgs   *a = (StepArgs *) arg;
	ElCatalogOwner catowner;

	set_short_lock_timeout();
	el_catalog_owner_begin(&catowner);
	if (OidIsValid(a->relid))
		maintain_topic(a->relid, a->rep);
	else
		drop_trash(a->rep);
	el_catalog_owner_end(&catowner);
}

/*
 * Run one step of a pass (a topic's maintenance, or the drops) in a
 * subtransaction as the catalog owner, with the short lock timeout.
 * Returns NULL, or the message of the error that rolled it back (in the
 * caller's memory context), so that the pass logs it and goes on.
 */
static char *
guarded_step(Oid relid, PassReport *rep)
{
	StepArgs	a = {relid, rep};
	ErrorData  *edata = el_subxact_run(pass_step, &a, false);
	char	   *failure;

	if (edata == NULL)
		return NULL;
	failure = pstrdup(edata->message);
	FreeErrorData(edata);
	return failure;
}

/*
 * One pass over the topics (all, or the one named) in the current
 * transaction; each topic in a subtransaction, so that one whose locks are
 * busy (or that fails) is logged and skipped.  Only topics the current
 * role owns (all for superusers).
 */
static void
run_pass(const char *only, PassReport *rep)
{
	Oid			user = GetUserId();
	List	   *topics = NIL;
	ListCell   *lc;
	uint64		i;
	MemoryContext cxt = CurrentMemoryContext;
	char	   *failure;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	el_spi_exec("SELECT topic FROM eventlog.topic_config ORDER BY topic",
				0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *t = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		if (only == NULL || strcmp(only, t) == 0)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			topics = lappend(topics, pstrdup(t));
			MemoryContextSwitchTo(old);
		}
	}

	foreach(lc, topics)
	{
		char	   *t = (char *) lfirst(lc);
		Oid			relid = el_topic_relid(t, true);

		if (!OidIsValid(relid) || !pg_class_ownercheck(relid, user))
			continue;
		if ((failure = guarded_step(relid, rep)) != NULL)
			ereport(rep->log ? LOG : NOTICE,
					(errmsg("eventlog maintenance of topic \"%s\" skipped, retried at the next pass: %s",
							t, failure)));
	}

	if ((only == NULL || superuser()) && (rep->what & EL_MAINT_SEGMENTS) &&
		(failure = guarded_step(InvalidOid, rep)) != NULL)
		ereport(rep->log ? LOG : NOTICE,
				(errmsg("eventlog maintenance: dropping removed segments skipped, retried at the next pass: %s",
						failure)));
	SPI_finish();
}

/*
 * The worker's pass (worker.c), logged: segments (rolls, spares, retention,
 * drops) or compaction, as what says.
 */
int
el_maintenance_pass(int what)
{
	PassReport	rep;

	memset(&rep, 0, sizeof(rep));
	rep.log = true;
	rep.what = what;
	run_pass(NULL, &rep);
	return rep.actions;
}

/*
 * eventlog.run_maintenance(topic DEFAULT NULL) RETURNS TABLE(action,
 * topic, partition, segment, detail)
 */
PG_FUNCTION_INFO_V1(eventlog_run_maintenance);
Datum
eventlog_run_maintenance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PassReport	rep;
	char	   *only = NULL;

	if (!PG_ARGISNULL(0))
	{
		only = text_to_cstring(PG_GETARG_TEXT_PP(0));
		if (!pg_class_ownercheck(el_topic_relid(only, false), GetUserId()))
			aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, only);
	}
	InitMaterializedSRF(fcinfo, 0);
	memset(&rep, 0, sizeof(rep));
	rep.store = rsinfo->setResult;
	rep.desc = rsinfo->setDesc;
	rep.what = EL_MAINT_SEGMENTS | EL_MAINT_COMPACT;
	run_pass(only, &rep);
	return (Datum) 0;
}

/*
 * eventlog.delete_records(topic, partition, before_offset) RETURNS bigint:
 * the new log start offset.  Records below before_offset become unreadable
 * when the caller's transaction commits (at once for the caller); segments
 * wholly below it leave the catalog (dropped later by maintenance).  Owner
 * only.  No lock that producers or readers take is waited for: the topic
 * is locked ACCESS SHARE, the catalog rows are updated.
 */
PG_FUNCTION_INFO_V1(eventlog_delete_records);
Datum
eventlog_delete_records(PG_FUNCTION_ARGS)
{
	Relation	rel;
	ElTopic    *topic;
	ElPartitionStore *part;
	int			partition;
	int64		before;
	int64		log_start;
	int64		log_end;
	SegInfo    *infos;
	int			active;
	int			i;
	int			first_kept = -1;
	ElCatalogOwner catowner;

	el_require_args(fcinfo, 3, "topic, partition and before_offset");
	partition = PG_GETARG_INT32(1);
	before = PG_GETARG_INT64(2);
	topic = el_topic_open(PG_GETARG_TEXT_PP(0), AccessShareLock, &rel);
	if (!pg_class_ownercheck(RelationGetRelid(rel), GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
	el_check_partition(topic, partition);
	part = &topic->parts[partition];
	if (before < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("before_offset must not be negative")));
	log_end = el_partition_log_end(part);
	if (before > log_end)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("before_offset " INT64_FORMAT " is beyond the log end offset " INT64_FORMAT " of partition %d of topic \"%s\"",
						before, log_end, partition, NameStr(topic->name)),
				 errhint("Records can be deleted up to the log end offset.")));
	log_start = el_partition_log_start(part);
	if (before <= log_start)
	{
		table_close(rel, NoLock);
		PG_RETURN_INT64(log_start);
	}

	infos = palloc(sizeof(SegInfo) * part->nsegs);
	for (i = 0; i < part->nsegs; i++)
		seg_info(&part->segs[i], &infos[i]);
	active = active_of(infos, part->nsegs);

	SPI_connect();
	el_catalog_owner_begin(&catowner);
	for (i = 0; i < part->nsegs; i++)
	{
		if (part->segs[i].base_offset == EL_SEGMENT_NOT_STARTED && infos[i].first >= 0)
			set_base(&part->segs[i], infos[i].first);
		if (first_kept < 0 && i < active && infos[i].closed && infos[i].next <= before)
		{
			(void) remove_segment_no(NameStr(topic->name), partition,
									 part->segs[i].seg_no);
			continue;
		}
		if (first_kept < 0)
			first_kept = i;
	}
	if (first_kept >= 0)
	{
		Oid			types[4] = {TEXTOID, INT4OID, INT4OID, INT8OID};
		Datum		values[4];

		/* by segment number, as above: compaction may have swapped it */
		values[0] = CStringGetTextDatum(NameStr(topic->name));
		values[1] = Int32GetDatum(partition);
		values[2] = Int32GetDatum(part->segs[first_kept].seg_no);
		values[3] = Int64GetDatum(before);
		el_spi_exec("UPDATE eventlog.segment_map"
					" SET min_offset = greatest(coalesce(min_offset, 0), $4)"
					" WHERE topic = $1 AND partition = $2 AND seg_no = $3",
					4, types, values, NULL, SPI_OK_UPDATE);
	}
	el_catalog_owner_end(&catowner);
	SPI_finish();

	CommandCounterIncrement();
	CacheInvalidateRelcacheByRelid(RelationGetRelid(rel));
	CommandCounterIncrement();
	table_close(rel, NoLock);
	PG_RETURN_INT64(before);
}

/*
 * eventlog.segment_info(topic) RETURNS TABLE(partition, seg_no, segment,
 * base_offset, end_offset, records, bytes, first_ts, last_ts, state): the
 * rows of the eventlog.segments view, from page headers.  Like
 * partition_stats: nothing for a topic the role may not read.
 */
PG_FUNCTION_INFO_V1(eventlog_segment_info);
Datum
eventlog_segment_info(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			relid = el_topic_relid(name, true);
	ElTopic    *topic;
	int			p;

	InitMaterializedSRF(fcinfo, 0);
	if (!OidIsValid(relid) || !el_may_see_topic_stats(relid))
		return (Datum) 0;
	topic = el_topic_get(relid, true);
	if (topic == NULL)
		return (Datum) 0;
	for (p = 0; p < topic->nparts; p++)
	{
		ElPartitionStore *part = &topic->parts[p];
		int			i;

		for (i = 0; i < part->nsegs; i++)
		{
			Datum		values[10];
			bool		nulls[10];
			SegInfo		info;
			Relation	seg;
			int64		records = 0;

			memset(nulls, 0, sizeof(nulls));
			seg_info(&part->segs[i], &info);
			seg = try_relation_open(part->segs[i].relid, AccessShareLock);
			if (seg)
			{
				records = el_segment_records(seg);
				relation_close(seg, AccessShareLock);
			}
			values[0] = Int32GetDatum(p);
			values[1] = Int32GetDatum(part->segs[i].seg_no);
			values[2] = ObjectIdGetDatum(part->segs[i].relid);
			if (info.first >= 0)
			{
				values[3] = Int64GetDatum(i == 0 ? Max(info.first, part->start_offset) :
										  info.first);
				values[4] = Int64GetDatum(info.next);
			}
			else if (part->segs[i].base_offset != EL_SEGMENT_NOT_STARTED)
			{
				/* made by a restore, nothing appended yet */
				values[3] = values[4] = Int64GetDatum(part->segs[i].base_offset);
			}
			else
				nulls[3] = nulls[4] = true;
			values[5] = Int64GetDatum(records);
			values[6] = Int64GetDatum(info.bytes);
			values[7] = TimestampTzGetDatum(info.first_ts);
			nulls[7] = info.first < 0;
			values[8] = TimestampTzGetDatum(info.last_ts);
			nulls[8] = info.last_ts == PG_INT64_MIN;
			values[9] = CStringGetTextDatum(info.closed && part->segs[i].compacted ? "compacted" :
											info.closed ? "closed" :
											info.first >= 0 ? "active" :
											part->segs[i].base_offset != EL_SEGMENT_NOT_STARTED ?
											"active" : "spare");
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
