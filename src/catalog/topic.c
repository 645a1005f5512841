/*
 * topic.c
 *		Topic metadata: a backend-local cache over eventlog.topic_config
 *		and eventlog.segment_map, and the topic DDL functions.
 *
 * Each topic is a relation eventlog_topics."<topic>" USING eventlog that
 * holds no data itself: it routes inserts to, and scans across, its
 * partitions' segment relations eventlog_segments.t<relid>_p<n>_s<k>
 * (also USING eventlog).  Segment DDL therefore never locks the topic
 * relation, and retention can drop whole segments.
 *
 * The cache is keyed by topic relation OID and invalidated through the
 * relcache: every catalog change calls CacheInvalidateRelcacheByRelid() on
 * the topic relation, so other backends see it when the change commits.
 *
 * The cache is filled by index scans of the catalog tables
 * (systable_beginscan on their primary keys), as PostgreSQL fills its own
 * caches, not by SPI.  Table access method callbacks (a scan's start,
 * relation_size from the planner, VACUUM) and the produce and fetch paths
 * load topics; through SPI, each load ran a whole query in the middle of
 * whatever statement was running: parse analysis and planning, every
 * extension's executor hooks (ours flushes buffered inserts), privilege
 * checks as whichever role happened to touch the topic first, and the
 * transaction's snapshot, which under REPEATABLE READ is older than the
 * invalidation that triggered the load, so an out-of-date topic stayed
 * cached for the backend's later transactions.  SPI remains in the SQL
 * functions that change the catalog (create/alter/drop_topic, the export
 * import in topicdump.c).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_depend.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "commands/extension.h"
#include "commands/tablecmds.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/xid8.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "eventlog/eventlog.h"
#include "eventlog/sqlargs.h"
#include "eventlog/topic.h"

typedef struct TopicCacheEntry
{
	Oid			relid;			/* hash key */
	MemoryContext cxt;			/* holds topic and everything it points to */
	ElTopic    *topic;
} TopicCacheEntry;

static HTAB *topic_cache = NULL;

/* contexts of invalidated entries, freed at transaction end */
static List *graveyard = NIL;

static void
bury_entry(TopicCacheEntry *entry)
{
	MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);

	entry->topic->valid = false;
	graveyard = lappend(graveyard, entry->cxt);
	MemoryContextSwitchTo(old);
}

/*
 * The catalog tables, looked up by name once per backend (load_topic is on
 * hot paths) and forgotten when a relcache invalidation names one of them
 * or every relation, or when a schema changes (DROP EXTENSION drops them,
 * CREATE EXTENSION makes new ones).  Their primary-key indexes come from
 * the relcache, which keeps them current itself.
 */
static Oid	topic_config_relid = InvalidOid;
static Oid	segment_map_relid = InvalidOid;
static bool catalog_oids_valid = false;

/* columns of eventlog.topic_config and eventlog.segment_map (pg_eventlog--0.1.sql) */
#define Anum_topic_config_topic			1
#define Anum_topic_config_partitions	2
#define Anum_topic_config_retention		3
#define Anum_topic_config_retention_bytes	4
#define Anum_topic_config_cleanup_policy	5
#define Anum_topic_config_segment_bytes	6
#define Anum_topic_config_segment_interval	7
#define Anum_topic_config_delete_retention	8
#define Anum_topic_config_min_compaction_lag	10
#define Anum_segment_map_topic			1
#define Anum_segment_map_partition		2
#define Anum_segment_map_seg_no			3
#define Anum_segment_map_segrel			4
#define Anum_segment_map_base_offset	5
#define Anum_segment_map_min_offset		7
#define Anum_segment_map_compacted_xid	8
#define Anum_segment_map_replaced_segrel	9

static void
topic_inval_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	TopicCacheEntry *entry;

	if (!OidIsValid(relid) || relid == topic_config_relid ||
		relid == segment_map_relid)
		catalog_oids_valid = false;
	if (topic_cache == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(topic_cache, &relid, HASH_FIND, NULL);
		if (entry)
		{
			bury_entry(entry);
			hash_search(topic_cache, &relid, HASH_REMOVE, NULL);
		}
		return;
	}
	hash_seq_init(&status, topic_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		bury_entry(entry);
		hash_search(topic_cache, &entry->relid, HASH_REMOVE, NULL);
	}
}

/* OIDs of our schemas, looked up once (el_rel_role is on hot paths) */
static Oid	topics_nsp = InvalidOid;
static Oid	segments_nsp = InvalidOid;
static bool nsp_valid = false;

static void
namespace_inval_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	nsp_valid = false;
	catalog_oids_valid = false;
}

/*
 * Entries invalidated during a transaction may still be in use by its
 * scans (see el_topic_get); they are freed when it ends.
 */
static void
free_graveyard(void)
{
	ListCell   *lc;

	foreach(lc, graveyard)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(graveyard);
	graveyard = NIL;
}

static void
topic_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			free_graveyard();
			break;
		default:
			break;
	}
}

/* Called from _PG_init: callbacks registered once, inherited by backends. */
void
el_topic_register_callbacks(void)
{
	CacheRegisterRelcacheCallback(topic_inval_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, namespace_inval_callback, (Datum) 0);
	RegisterXactCallback(topic_xact_callback, NULL);
}

void
el_topic_cache_init(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TopicCacheEntry);
	ctl.hcxt = CacheMemoryContext;
	topic_cache = hash_create("eventlog topic cache", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static Oid
schema_oid(const char *name)
{
	return get_namespace_oid(name, true);
}

ElRelRole
el_rel_role(Relation rel)
{
	Oid			nsp = RelationGetNamespace(rel);

	if (!nsp_valid)
	{
		topics_nsp = schema_oid(EL_TOPICS_SCHEMA);
		segments_nsp = schema_oid(EL_SEGMENTS_SCHEMA);
		nsp_valid = OidIsValid(topics_nsp) && OidIsValid(segments_nsp);
	}
	if (nsp == topics_nsp && OidIsValid(nsp))
		return EL_ROLE_TOPIC;
	if (nsp == segments_nsp && OidIsValid(nsp))
		return EL_ROLE_SEGMENT;
	return EL_ROLE_OTHER;
}

/*
 * Does column attnum of a catalog table have the name and type load_topic
 * reads it with?  The tables are the extension's, so a mismatch means an
 * upgrade script and this library disagree: better an error than records
 * read with a wrong segment list.
 */
static void
check_catalog_column(Relation rel, AttrNumber attnum, const char *name, Oid type)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Form_pg_attribute att;

	if (attnum > desc->natts ||
		(att = TupleDescAttr(desc, attnum - 1))->attisdropped ||
		att->atttypid != type || strcmp(NameStr(att->attname), name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column %d of table %s.%s is not \"%s\" of type %s",
						attnum, EL_SCHEMA, RelationGetRelationName(rel), name,
						format_type_be(type)),
				 errhint("Update the extension with ALTER EXTENSION pg_eventlog UPDATE, or reinstall the library that matches it.")));
}

/*
 * Find the catalog tables (see topic_config_relid); false if the extension
 * is not installed in this database.
 */
static bool
catalog_lookup(void)
{
	Oid			nsp;
	Oid			cfg_relid;
	Oid			map_relid;
	Relation	rel;

	if (catalog_oids_valid)
		return true;
	nsp = schema_oid(EL_SCHEMA);
	if (!OidIsValid(nsp))
		return false;
	cfg_relid = get_relname_relid("topic_config", nsp);
	map_relid = get_relname_relid("segment_map", nsp);
	if (!OidIsValid(cfg_relid) || !OidIsValid(map_relid))
		return false;

	rel = table_open(cfg_relid, AccessShareLock);
	check_catalog_column(rel, Anum_topic_config_topic, "topic", TEXTOID);
	check_catalog_column(rel, Anum_topic_config_partitions, "partitions", INT4OID);
	check_catalog_column(rel, Anum_topic_config_retention, "retention", INTERVALOID);
	check_catalog_column(rel, Anum_topic_config_retention_bytes, "retention_bytes", INT8OID);
	check_catalog_column(rel, Anum_topic_config_cleanup_policy, "cleanup_policy", TEXTOID);
	check_catalog_column(rel, Anum_topic_config_segment_bytes, "segment_bytes", INT8OID);
	check_catalog_column(rel, Anum_topic_config_segment_interval, "segment_interval", INTERVALOID);
	check_catalog_column(rel, Anum_topic_config_delete_retention, "delete_retention", INTERVALOID);
	check_catalog_column(rel, Anum_topic_config_min_compaction_lag, "min_compaction_lag", INTERVALOID);
	table_close(rel, AccessShareLock);
	rel = table_open(map_relid, AccessShareLock);
	check_catalog_column(rel, Anum_segment_map_topic, "topic", TEXTOID);
	check_catalog_column(rel, Anum_segment_map_partition, "partition", INT4OID);
	check_catalog_column(rel, Anum_segment_map_seg_no, "seg_no", INT4OID);
	check_catalog_column(rel, Anum_segment_map_segrel, "segrel", REGCLASSOID);
	check_catalog_column(rel, Anum_segment_map_base_offset, "base_offset", INT8OID);
	check_catalog_column(rel, Anum_segment_map_min_offset, "min_offset", INT8OID);
	check_catalog_column(rel, Anum_segment_map_compacted_xid, "compacted_xid", XID8OID);
	check_catalog_column(rel, Anum_segment_map_replaced_segrel, "replaced_segrel", OIDOID);
	table_close(rel, AccessShareLock);

	topic_config_relid = cfg_relid;
	segment_map_relid = map_relid;
	catalog_oids_valid = true;
	return true;
}

/*
 * Begin a scan of a catalog table for one topic name, through its primary
 * key (whose first column is the topic).  The snapshot is the catalog
 * snapshot (systable_beginscan registers it): for a table without a
 * syscache it is taken afresh for every scan, so it sees every committed
 * catalog change and this transaction's own up to its last command
 * counter increment (callers that change the catalog and then read the
 * topic increment it, as topicdump.c does), as a catalog lookup must: the
 * cache is shared by every transaction of the backend, whatever its
 * isolation level.  The key compares with the column's collation, the one
 * its index is sorted by.
 */
static SysScanDesc
catalog_scan_topic(Relation rel, Datum topic, ScanKey key)
{
	Oid			pkey = RelationGetPrimaryKeyIndex(rel);

	StaticAssertStmt(Anum_topic_config_topic == 1 && Anum_segment_map_topic == 1,
					 "the topic is the first column of both catalog tables");
	ScanKeyEntryInitialize(key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(RelationGetDescr(rel), 0)->attcollation,
						   F_TEXTEQ, topic);
	return systable_beginscan(rel, pkey, OidIsValid(pkey), NULL, 1, key);
}

typedef struct SegmentRow
{
	int			partition;
	ElSegment	seg;
	int64		min_offset;		/* -1: none */
} SegmentRow;

/* An interval setting in microseconds (a month counts 30 days), -1 if NULL. */
static int64
interval_usecs(HeapTuple tup, int attnum, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, attnum, desc, &isnull);
	Interval   *iv;

	if (isnull)
		return -1;
	iv = DatumGetIntervalP(d);
	return iv->time + (int64) iv->day * USECS_PER_DAY +
		(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
}

static int64
int8_setting(HeapTuple tup, int attnum, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, attnum, desc, &isnull);

	return isnull ? -1 : DatumGetInt64(d);
}

/*
 * The segment size and age at which a partition rolls (README "Segments
 * and retention"): the topic's segment_bytes / segment_interval, or by
 * default a quarter of its retention (so that whole-segment retention
 * keeps at most about 1.25 times what it must), at most 64 MB / 1 day and
 * at least 1 MB / 1 minute when derived.
 */
#define EL_DEFAULT_SEGMENT_BYTES	(INT64CONST(64) * 1024 * 1024)
#define EL_MIN_DERIVED_SEGMENT_BYTES	(INT64CONST(1024) * 1024)
#define EL_DEFAULT_SEGMENT_INTERVAL	USECS_PER_DAY
#define EL_MIN_DERIVED_SEGMENT_INTERVAL	(60 * USECS_PER_SEC)
#define EL_DEFAULT_DELETE_RETENTION	USECS_PER_DAY

static void
topic_settings(ElTopic *topic, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		d;

	topic->retention_us = interval_usecs(tup, Anum_topic_config_retention, desc);
	topic->retention_bytes = int8_setting(tup, Anum_topic_config_retention_bytes, desc);
	d = heap_getattr(tup, Anum_topic_config_cleanup_policy, desc, &isnull);
	topic->policy_delete = isnull || strstr(TextDatumGetCString(d), "delete") != NULL;
	topic->policy_compact = !isnull && strstr(TextDatumGetCString(d), "compact") != NULL;
	/* defaults (README "Compaction"): tombstones stay a day, no lag */
	topic->delete_retention_us = interval_usecs(tup, Anum_topic_config_delete_retention, desc);
	if (topic->delete_retention_us < 0)
		topic->delete_retention_us = EL_DEFAULT_DELETE_RETENTION;
	topic->min_compaction_lag_us = interval_usecs(tup, Anum_topic_config_min_compaction_lag, desc);
	if (topic->min_compaction_lag_us < 0)
		topic->min_compaction_lag_us = 0;
	topic->segment_bytes = int8_setting(tup, Anum_topic_config_segment_bytes, desc);
	if (topic->segment_bytes < 0)
	{
		topic->segment_bytes = EL_DEFAULT_SEGMENT_BYTES;
		if (topic->retention_bytes > 0)
			topic->segment_bytes = Max(Min(topic->segment_bytes, topic->retention_bytes / 4),
									   EL_MIN_DERIVED_SEGMENT_BYTES);
	}
	topic->segment_interval_us = interval_usecs(tup, Anum_topic_config_segment_interval, desc);
	if (topic->segment_interval_us < 0)
	{
		topic->segment_interval_us = EL_DEFAULT_SEGMENT_INTERVAL;
		if (topic->retention_us > 0)
			topic->segment_interval_us = Max(Min(topic->segment_interval_us,
												 topic->retention_us / 4),
											 EL_MIN_DERIVED_SEGMENT_INTERVAL);
	}
}

static int
segment_row_cmp(const void *a, const void *b)
{
	const SegmentRow *x = (const SegmentRow *) a;
	const SegmentRow *y = (const SegmentRow *) b;

	if (x->partition != y->partition)
		return x->partition < y->partition ? -1 : 1;
	if (x->seg.seg_no != y->seg.seg_no)
		return x->seg.seg_no < y->seg.seg_no ? -1 : 1;
	return 0;
}

/*
 * Read a topic's catalog rows into a new ElTopic allocated in cxt.  No SPI
 * (see the header comment): callable wherever a transaction can open
 * relations.
 */
static ElTopic *
load_topic(Oid relid, MemoryContext cxt, bool missing_ok)
{
	char	   *relname = get_rel_name(relid);
	Datum		name;
	ElTopic    *topic;
	MemoryContext old;
	Relation	rel;
	Relation	catrel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	TupleDesc	desc;
	SegmentRow *rows;
	int			nrows = 0;
	int			maxrows = 16;
	int			nparts = 0;
	bool		found = false;
	HeapTuple	settings_tup = NULL;
	TupleDesc	settings_desc = NULL;
	int			i;

	if (relname == NULL)
	{
		if (missing_ok)
			return NULL;
		elog(ERROR, "cache lookup failed for relation %u", relid);
	}
	name = CStringGetTextDatum(relname);

	if (catalog_lookup())
	{
		catrel = table_open(topic_config_relid, AccessShareLock);
		scan = catalog_scan_topic(catrel, name, &key);
		tup = systable_getnext(scan);
		if (HeapTupleIsValid(tup))
		{
			bool		isnull;
			Datum		d = heap_getattr(tup, Anum_topic_config_partitions,
										 RelationGetDescr(catrel), &isnull);

			found = true;
			nparts = isnull ? 0 : DatumGetInt32(d);
			settings_tup = heap_copytuple(tup);
			settings_desc = CreateTupleDescCopy(RelationGetDescr(catrel));
		}
		systable_endscan(scan);
		table_close(catrel, AccessShareLock);
	}
	if (!found)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation \"%s\" is not a registered topic", relname),
				 errhint("Create topics with eventlog.create_topic().")));
	}

	/* the segments, in any order (a heap scan is possible): sorted below */
	rows = palloc(sizeof(SegmentRow) * maxrows);
	catrel = table_open(segment_map_relid, AccessShareLock);
	desc = RelationGetDescr(catrel);
	scan = catalog_scan_topic(catrel, name, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;		/* every column read is NOT NULL */

		if (nrows == maxrows)
		{
			maxrows *= 2;
			rows = repalloc(rows, sizeof(SegmentRow) * maxrows);
		}
		rows[nrows].partition =
			DatumGetInt32(heap_getattr(tup, Anum_segment_map_partition, desc, &isnull));
		rows[nrows].seg.seg_no =
			DatumGetInt32(heap_getattr(tup, Anum_segment_map_seg_no, desc, &isnull));
		rows[nrows].seg.relid =
			DatumGetObjectId(heap_getattr(tup, Anum_segment_map_segrel, desc, &isnull));
		rows[nrows].seg.base_offset =
			DatumGetInt64(heap_getattr(tup, Anum_segment_map_base_offset, desc, &isnull));
		if (isnull)
		{
			/*
			 * A spare segment, not started yet.  One this transaction made
			 * is left out: a roll into it would outlive a rollback that
			 * drops it (maintenance and producing in one transaction).
			 */
			if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data)))
				continue;
			rows[nrows].seg.base_offset = EL_SEGMENT_NOT_STARTED;
		}
		rows[nrows].min_offset =
			DatumGetInt64(heap_getattr(tup, Anum_segment_map_min_offset, desc, &isnull));
		if (isnull)
			rows[nrows].min_offset = -1;
		{
			Datum		cx = heap_getattr(tup, Anum_segment_map_compacted_xid, desc, &isnull);
			Datum		old;

			rows[nrows].seg.compacted = !isnull;
			rows[nrows].seg.swap_xid = isnull ? InvalidTransactionId :
				XidFromFullTransactionId(DatumGetFullTransactionId(cx));
			old = heap_getattr(tup, Anum_segment_map_replaced_segrel, desc, &isnull);
			rows[nrows].seg.prev_relid = isnull ? InvalidOid : DatumGetObjectId(old);
			if (!OidIsValid(rows[nrows].seg.prev_relid))
				rows[nrows].seg.swap_xid = InvalidTransactionId;
		}
		nrows++;
	}
	systable_endscan(scan);
	table_close(catrel, AccessShareLock);
	if (nrows > 1)
		qsort(rows, nrows, sizeof(SegmentRow), segment_row_cmp);

	old = MemoryContextSwitchTo(cxt);
	topic = palloc0(sizeof(ElTopic));
	topic->relid = relid;
	namestrcpy(&topic->name, relname);
	topic->nparts = nparts;
	topic->parts = palloc0(sizeof(ElPartitionStore) * Max(nparts, 1));
	MemoryContextSwitchTo(old);
	topic_settings(topic, settings_tup, settings_desc);
	for (i = 0; i < nparts; i++)
		topic->parts[i].active = -1;

	/* rows are sorted by partition: each partition's run is contiguous */
	for (i = 0; i < nrows;)
	{
		int			p = rows[i].partition;
		int			n = 0;
		ElSegment  *segs;

		while (i + n < nrows && rows[i + n].partition == p)
			n++;
		if (p >= 0 && p < nparts)
		{
			int			j;

			segs = MemoryContextAlloc(cxt, sizeof(ElSegment) * n);
			for (j = 0; j < n; j++)
			{
				segs[j] = rows[i + j].seg;
				topic->parts[p].start_offset = Max(topic->parts[p].start_offset,
												   rows[i + j].min_offset);
			}
			topic->parts[p].nsegs = n;
			topic->parts[p].segs = segs;
		}
		i += n;
	}
	pfree(rows);

	/*
	 * Stored columns: the topic's columns minus the derived ones.  hooks.c
	 * keeps every statement from changing them; should anything get past
	 * it, refuse to read records with a layout they were not written with.
	 */
	rel = relation_open(relid, NoLock);
	el_check_topic_relation(rel);
	topic->node = rel->rd_node;
	desc = RelationGetDescr(rel);
	old = MemoryContextSwitchTo(cxt);
	topic->storedesc = CreateTemplateTupleDesc(desc->natts - EL_NDERIVED);
	for (i = EL_NDERIVED; i < desc->natts; i++)
		TupleDescCopyEntry(topic->storedesc, i - EL_NDERIVED + 1, desc, i + 1);
	MemoryContextSwitchTo(old);
	relation_close(rel, NoLock);
	if (topic->storedesc->natts > 0 &&
		TupleDescAttr(topic->storedesc, 0)->atttypid == TIMESTAMPTZOID)
		topic->ts_natts = topic->storedesc->natts;

	/* what storage needs of each partition (elstore.h) */
	for (i = 0; i < nparts; i++)
	{
		topic->parts[i].partition = i;
		topic->parts[i].storedesc = topic->storedesc;
		topic->parts[i].ts_natts = topic->ts_natts;
	}

	topic->valid = true;
	return topic;
}

/* Did the transaction that wrote this catalog row end before horizon? */
static bool
row_settled(HeapTuple tup, TransactionId horizon)
{
	return HeapTupleHeaderXminFrozen(tup->t_data) ||
		TransactionIdPrecedes(HeapTupleHeaderGetXmin(tup->t_data), horizon);
}

/*
 * For VACUUM's removal of index entries (elam.c): is the catalog state of
 * each partition of the topic (settled[p], nparts of them) what every
 * snapshot, running or to come, reads?  So a reader with a segment list
 * loaded before a retention, delete_records or compaction change that
 * still reads the records it removed cannot exist any more.  A partition
 * is settled when every segment_map row of it, and every segment_trash
 * row of a segment it removed (the two-phase drop keeps those until no
 * snapshot can see the segment), was written by a transaction that ended
 * before horizon (GetOldestNonRemovableTransactionId).
 */
void
el_topic_settled_partitions(ElTopic *topic, TransactionId horizon, bool *settled)
{
	Datum		name = CStringGetTextDatum(NameStr(topic->name));
	Oid			trash_relid;
	Relation	catrel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	int			p;

	for (p = 0; p < topic->nparts; p++)
		settled[p] = true;
	if (!catalog_lookup())
		return;
	catrel = table_open(segment_map_relid, AccessShareLock);
	scan = catalog_scan_topic(catrel, name, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;

		p = DatumGetInt32(heap_getattr(tup, Anum_segment_map_partition,
									   RelationGetDescr(catrel), &isnull));
		if (p >= 0 && p < topic->nparts && !row_settled(tup, horizon))
			settled[p] = false;
	}
	systable_endscan(scan);
	table_close(catrel, AccessShareLock);

	/* segment_trash (segrel, topic, partition, ...): small, scanned whole */
	trash_relid = get_relname_relid("segment_trash", get_namespace_oid(EL_SCHEMA, false));
	if (!OidIsValid(trash_relid))
		return;
	catrel = table_open(trash_relid, AccessShareLock);
	ScanKeyEntryInitialize(&key, 0, 2, BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(RelationGetDescr(catrel), 1)->attcollation,
						   F_TEXTEQ, name);
	scan = systable_beginscan(catrel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, 3, RelationGetDescr(catrel), &isnull);

		p = isnull ? -1 : DatumGetInt32(d);
		if (p >= 0 && p < topic->nparts && !row_settled(tup, horizon))
			settled[p] = false;
	}
	systable_endscan(scan);
	table_close(catrel, AccessShareLock);
}

ElTopic *
el_topic_get(Oid relid, bool missing_ok)
{
	TopicCacheEntry *entry;
	bool		found;
	MemoryContext cxt;
	ElTopic    *topic;

	if (topic_cache == NULL)
		el_topic_cache_init();

	entry = hash_search(topic_cache, &relid, HASH_FIND, &found);
	if (found && entry->topic->valid)
		return entry->topic;

	cxt = AllocSetContextCreate(CacheMemoryContext, "eventlog topic",
								ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		topic = load_topic(relid, cxt, missing_ok);
	}
	PG_CATCH();
	{
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (topic == NULL)
	{
		MemoryContextDelete(cxt);
		return NULL;
	}

	/* an invalidation may have arrived while loading; the entry is fresh */
	entry = hash_search(topic_cache, &relid, HASH_ENTER, &found);
	if (found)
		bury_entry(entry);
	entry->cxt = cxt;
	entry->topic = topic;
	return topic;
}

void
el_topic_missing(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("topic \"%s\" does not exist", name),
			 errhint("Create it with eventlog.create_topic().")));
}

Oid
el_topic_relid(const char *name, bool missing_ok)
{
	Oid			nsp = schema_oid(EL_TOPICS_SCHEMA);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;

	if (!OidIsValid(relid) && !missing_ok)
		el_topic_missing(name);
	return relid;
}

/*
 * Look a topic up by name and lock its relation.  The name is looked up
 * again after the lock is granted (RangeVarGetRelidExtended's retry loop),
 * so a topic dropped while we waited is reported as missing instead of
 * failing with "could not open relation with OID".
 */
Oid
el_topic_lock(const char *name, LOCKMODE lockmode, bool missing_ok)
{
	RangeVar   *rv = makeRangeVar(EL_TOPICS_SCHEMA, pstrdup(name), -1);
	Oid			relid;

	relid = RangeVarGetRelidExtended(rv, lockmode, RVR_MISSING_OK, NULL, NULL);
	if (!OidIsValid(relid) && !missing_ok)
		el_topic_missing(name);
	return relid;
}

/*
 * Resolve a topic name given to a SQL function, lock and open its relation
 * and return its metadata.  The lock is taken before the metadata is read,
 * so the metadata cannot change under the caller.
 */
ElTopic *
el_topic_open(text *name, LOCKMODE lockmode, Relation *relp)
{
	char	   *str = text_to_cstring(name);
	Oid			relid = el_topic_lock(str, lockmode, false);
	Relation	rel = table_open(relid, NoLock);
	ElTopic    *topic;

	/* see changes committed since this transaction first locked the topic */
	AcceptInvalidationMessages();
	topic = el_topic_get(relid, false);

	if (relp)
		*relp = rel;
	else
		table_close(rel, NoLock);
	return topic;
}

void
el_check_partition(ElTopic *topic, int partition)
{
	if (partition < 0 || partition >= topic->nparts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition %d of topic \"%s\" does not exist",
						partition, NameStr(topic->name)),
				 errdetail("Topic \"%s\" has partitions 0 to %d.",
						   NameStr(topic->name), topic->nparts - 1)));
}

/*
 * Load a topic afresh, bypassing the cache entry: for a producer that
 * found its partition's last known segment closed.  The roller saw the next
 * segment committed, but the invalidation that announces it may not have
 * arrived here yet (a transaction's commit becomes visible a moment before
 * its invalidations are sent); a new catalog snapshot sees it.
 */
ElTopic *
el_topic_reload(Oid relid)
{
	TopicCacheEntry *entry;

	InvalidateCatalogSnapshot();
	AcceptInvalidationMessages();
	if (topic_cache != NULL &&
		(entry = hash_search(topic_cache, &relid, HASH_FIND, NULL)) != NULL)
	{
		bury_entry(entry);
		hash_search(topic_cache, &relid, HASH_REMOVE, NULL);
	}
	return el_topic_get(relid, false);
}

/*
 * Index of the segment new records of a partition go to: the producers'
 * hint, or else the last segment that has pages (spares made ahead of a
 * roll have none), or the first one.  Appends find out themselves when it
 * has been closed meanwhile (el_append_partition).
 */
static int
active_index(ElTopic *topic, int partition)
{
	ElPartitionStore *part = &topic->parts[partition];
	int			i;

	if (part->nsegs == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("partition %d of topic \"%s\" has no segment",
						partition, NameStr(topic->name)),
				 errhint("Load the topic's export (what COPY TO of the topic writes) to register its segments, or recreate the topic.")));
	if (part->active >= 0 && part->active < part->nsegs)
		return part->active;
	part->active = 0;
	for (i = part->nsegs - 1; i > 0; i--)
	{
		Relation	seg = try_relation_open(part->segs[i].relid, AccessShareLock);
		bool		started = seg != NULL && RelationGetNumberOfBlocks(seg) > 0;

		if (seg)
			relation_close(seg, AccessShareLock);
		if (started)
		{
			part->active = i;
			break;
		}
	}
	return part->active;
}

/* The segment new records of a partition go to. */
const ElSegment *
el_active_segment(ElTopic *topic, int partition)
{
	return &topic->parts[partition].segs[active_index(topic, partition)];
}

/* How appends to segment idx of a partition roll into the next one. */
static void
append_target(ElTopic *topic, int partition, int idx, ElAppendTarget *target)
{
	ElPartitionStore *part = &topic->parts[partition];

	target->topic_relid = topic->relid;
	target->topic_node = topic->node;
	target->topic_name = NameStr(topic->name);
	target->partition = partition;
	target->natts = topic->storedesc->natts;
	target->ts_natts = topic->ts_natts;
	target->next_relid = idx + 1 < part->nsegs ? part->segs[idx + 1].relid : InvalidOid;
	target->next_base = idx + 1 < part->nsegs ? part->segs[idx + 1].base_offset :
		EL_SEGMENT_NOT_STARTED;
	target->max_blocks = (BlockNumber) Min(Max(topic->segment_bytes / BLCKSZ, 1),
										   (int64) MaxBlockNumber);
	target->rewrite = false;
}

/*
 * The segment whose TOAST table a producer stores a record's large values
 * in: the partition's active one, but rolled first into the next segment
 * (if one is ready) once it has reached segment_bytes, its TOAST table
 * counted (el_segment_bytes).  An append checks the size only when its
 * tail page fills, and one page can point to megabytes of TOASTed values:
 * without this, such a segment would grow far past segment_bytes, and the
 * record's values would stay behind in the segment before the one it is
 * appended to.
 */
const ElSegment *
el_toast_segment(ElTopic *topic, int partition)
{
	ElPartitionStore *part = &topic->parts[partition];
	int			idx = active_index(topic, partition);
	ElAppendTarget target;
	Relation	seg;

	append_target(topic, partition, idx, &target);
	if (!OidIsValid(target.next_relid) || target.next_base != EL_SEGMENT_NOT_STARTED ||
		(seg = try_relation_open(part->segs[idx].relid, RowExclusiveLock)) == NULL)
		return &part->segs[idx];
	if (el_segment_bytes(seg) >= topic->segment_bytes)
	{
		Relation	next = relation_open(target.next_relid, RowExclusiveLock);
		int64		first,
					end,
					first_ts,
					last_ts;
		bool		closed;

		/* rolled by us, or already by someone else: on into the next one */
		if (el_segment_roll(seg, next, &target))
			part->active = idx + 1;
		else
		{
			el_segment_bounds(seg, &first, &end, &first_ts, &last_ts, &closed);
			if (closed)
				part->active = idx + 1;
		}
		relation_close(next, NoLock);
	}
	relation_close(seg, NoLock);
	return &part->segs[active_index(topic, partition)];
}

/*
 * Append encoded records to a partition (el_append_batch), following it
 * into its next segment whenever the one appended to is closed by a roll
 * (ours or another producer's or the worker's).  A producer never runs
 * DDL: the next segment was made ahead of time (maintenance keeps a spare
 * per partition).  Returns the records appended (all of them).
 */
int
el_append_partition(ElTopic *topic, int partition, char **entries, Size *lens,
					int n, const int64 *wants, int64 *offsets,
					TransactionId xid, CommandId cid)
{
	Oid			topic_relid = topic->relid;
	int			done = 0;
	int			reloads = 0;

	while (done < n)
	{
		ElPartitionStore *part = &topic->parts[partition];
		int			idx = active_index(topic, partition);
		const ElSegment *segment = &part->segs[idx];
		ElAppendTarget target;
		Relation	seg;
		int			k;

		append_target(topic, partition, idx, &target);
		seg = try_relation_open(segment->relid, RowExclusiveLock);
		if (seg == NULL)
		{
			/* dropped by retention: our segment list is out of date */
			if (++reloads > 3)
				elog(ERROR, "segment %u of topic \"%s\" is gone", segment->relid,
					 NameStr(topic->name));
			topic = el_topic_reload(topic_relid);
			continue;
		}
		k = el_append_batch(seg, segment->base_offset, entries + done, lens + done,
							n - done, wants ? wants + done : NULL, offsets + done,
							xid, cid, &target);
		pgstat_count_heap_insert(seg, k);
		relation_close(seg, NoLock);
		done += k;
		if (done >= n)
			break;

		/* the segment is closed: on to the next one */
		if (idx + 1 < part->nsegs)
			part->active = idx + 1;
		else
		{
			Oid			closed = segment->relid;
			int			i;

			if (++reloads > 3)
				elog(ERROR, "segment %u of topic \"%s\" is closed and has no next segment",
					 closed, NameStr(topic->name));
			topic = el_topic_reload(topic_relid);
			part = &topic->parts[partition];
			for (i = 0; i < part->nsegs; i++)
				if (part->segs[i].relid == closed)
					part->active = i + 1;
		}
	}
	return done;
}

/* ----------------------------------------------------------------
 * Topic DDL
 * ----------------------------------------------------------------
 */

/*
 * Kafka's topic name rule: [a-zA-Z0-9._-]+, here at most 63 bytes so the
 * name is the relation name, and not "." or "..".
 */
static void
check_topic_name(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len >= NAMEDATALEN || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid topic name \"%s\"", name),
				 errdetail("Topic names are 1 to %d bytes long and are not \".\" or \"..\".",
						   NAMEDATALEN - 1)));
	if (!el_name_chars_valid(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid topic name \"%s\"", name),
				 errdetail("Topic names may contain only ASCII letters, digits, \".\", \"_\" and \"-\".")));
}

/* Kafka's characters for topic and group names: [a-zA-Z0-9._-] */
bool
el_name_chars_valid(const char *name)
{
	const char *p;

	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

/* The columns of every topic relation (create_topic makes them). */
static const struct
{
	const char *name;
	Oid			type;
}			topic_columns[] =
{
	{"partition", INT4OID},
	{"offset", INT8OID},
	{"ts", TIMESTAMPTZOID},
	{"key", TEXTOID},
	{"value", JSONBOID},
	{"headers", JSONBOID}
};

/*
 * May rel be registered as a topic?  For relations not made by
 * create_topic (a restore creates the relation, then registers it).
 */
void
el_check_topic_relation(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool		ok = desc->natts == lengthof(topic_columns);
	int			i;

	check_topic_name(RelationGetRelationName(rel));
	for (i = 0; ok && i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		ok = !att->attisdropped && att->atttypid == topic_columns[i].type &&
			strcmp(NameStr(att->attname), topic_columns[i].name) == 0;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s\" does not have the columns of a topic",
						RelationGetRelationName(rel)),
				 errdetail("A topic relation has the columns (\"partition\" int, \"offset\" bigint, ts timestamptz, key text, value jsonb, headers jsonb).")));
}

void
el_check_partition_count(int partitions)
{
	if (partitions < 1 || partitions > EL_MAX_PARTITIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition count must be between 1 and %d", EL_MAX_PARTITIONS),
				 errdetail("The value given was %d.", partitions)));
}

static void
check_cleanup_policy(const char *policy)
{
	if (strcmp(policy, "delete") != 0 && strcmp(policy, "compact") != 0 &&
		strcmp(policy, "compact,delete") != 0 && strcmp(policy, "delete,compact") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid cleanup_policy \"%s\"", policy),
				 errhint("Use \"delete\", \"compact\" or \"compact,delete\".")));
}

void
el_spi_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
			int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);

	if (ret != expected)
		elog(ERROR, "SPI_execute failed for \"%s\": %s", sql, SPI_result_code_string(ret));
}

/*
 * Run catalog writes as the extension's owner: ordinary roles may read the
 * catalog but change it only through these functions.  The owner is
 * usually a superuser, so nothing the caller controls may run meanwhile:
 * a security-restricted operation with search_path pg_catalog, pg_temp
 * (the statements name every table with its schema; functions and
 * operators then resolve in pg_catalog only).
 */
void
el_catalog_owner_begin(ElCatalogOwner *state)
{
	Oid			nsp = schema_oid(EL_SCHEMA);
	HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for schema %u", nsp);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&state->save_userid, &state->save_sec);
	SetUserIdAndSecContext(owner, state->save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	state->guc_level = el_push_catalog_search_path();
}

/*
 * Open a GUC nest level with search_path = pg_catalog, pg_temp, so that
 * the functions and operators of the statements run until the level is
 * popped (AtEOXact_GUC) resolve in pg_catalog only.  Returns the level.
 */
int
el_push_catalog_search_path(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return level;
}

void
el_catalog_owner_end(ElCatalogOwner *state)
{
	AtEOXact_GUC(true, state->guc_level);
	SetUserIdAndSecContext(state->save_userid, state->save_sec);
}

/*
 * Record segrelid as segment seg_no of a partition: it goes away with its
 * topic and readers find it through segment_map.  Inside SPI, as the
 * catalog owner.
 */
void
el_register_segment(Oid segrelid, Oid topic_relid, const char *topic,
					int partition, int seg_no, int64 base_offset)
{
	Oid			types[5] = {TEXTOID, INT4OID, INT4OID, OIDOID, INT8OID};
	Datum		values[5];
	ObjectAddress seg_addr,
				topic_addr;

	ObjectAddressSet(seg_addr, RelationRelationId, segrelid);
	ObjectAddressSet(topic_addr, RelationRelationId, topic_relid);
	recordDependencyOn(&seg_addr, &topic_addr, DEPENDENCY_AUTO);

	values[0] = CStringGetTextDatum(topic);
	values[1] = Int32GetDatum(partition);
	values[2] = Int32GetDatum(seg_no);
	values[3] = ObjectIdGetDatum(segrelid);
	values[4] = Int64GetDatum(base_offset);
	/* base_offset < 0: a spare segment (NULL), started by a roll */
	el_spi_exec("INSERT INTO eventlog.segment_map (topic, partition, seg_no, segrel, base_offset)"
				" VALUES ($1, $2, $3, $4::regclass, $5)",
				5, types, values, base_offset < 0 ? "    n" : NULL, SPI_OK_INSERT);
}

/*
 * Give a segment relation to the topic's owner (segments are storage of
 * the topic, so they follow its owner).  As a recursion of the topic's
 * ALTER: the caller has checked the permissions.
 */
void
el_set_segment_owner(Oid segrelid, Oid owner)
{
	ATExecChangeOwner(segrelid, owner, true, AccessExclusiveLock);
}

/*
 * The topic a segment belongs to (its auto dependency, recorded by
 * el_register_segment), or InvalidOid for a segment no topic has adopted.
 */
Oid
el_segment_topic(Oid segrelid)
{
	Relation	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			topic = InvalidOid;

	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(segrelid));
	scan = systable_beginscan(depend, DependDependerIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);

		if (dep->refclassid == RelationRelationId && dep->deptype == DEPENDENCY_AUTO &&
			dep->objsubid == 0 && dep->refobjsubid == 0)
		{
			topic = dep->refobjid;
			break;
		}
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
	return topic;
}

/*
 * Create a segment relation of a topic, named segname in the segments
 * schema and owned by owner, and return it; nothing records it.  Inside
 * SPI.
 */
Oid
el_create_segment_relation(const char *topic, const char *segname, Oid owner)
{
	char	   *sql;
	Oid			segrelid;

	sql = psprintf("CREATE TABLE %s.%s (LIKE %s.%s) USING eventlog",
				   EL_SEGMENTS_SCHEMA, quote_identifier(segname),
				   EL_TOPICS_SCHEMA, quote_identifier(topic));
	el_spi_exec(sql, 0, NULL, NULL, NULL, SPI_OK_UTILITY);
	pfree(sql);
	segrelid = get_relname_relid(segname, schema_oid(EL_SEGMENTS_SCHEMA));
	el_set_segment_owner(segrelid, owner);
	return segrelid;
}

/* Create segment seg_no of a partition and record it.  Inside SPI. */
void
el_create_segment(Oid topic_relid, const char *topic, int partition, int seg_no,
				  int64 base_offset, Oid owner)
{
	char		segname[NAMEDATALEN];
	Oid			segrelid;

	snprintf(segname, sizeof(segname), "t%u_p%d_s%d", topic_relid, partition, seg_no);
	segrelid = el_create_segment_relation(topic, segname, owner);
	el_register_segment(segrelid, topic_relid, topic, partition, seg_no, base_offset);
}

#define NSETTINGS 7
static const char *const setting_names[NSETTINGS] = {
	"retention", "retention_bytes", "cleanup_policy", "segment_bytes",
	"segment_interval", "delete_retention", "min_compaction_lag"
};
static const Oid setting_types[NSETTINGS] = {
	INTERVALOID, INT8OID, TEXTOID, INT8OID, INTERVALOID, INTERVALOID, INTERVALOID
};

/*
 * SPI arguments for topic_config: $1 the topic name, $2 the partition count
 * (argument 1, NULL = unchanged for alter), $3.. the settings (arguments
 * 2..8).
 */
static void
catalog_args(FunctionCallInfo fcinfo, const char *topic, Oid *types,
			 Datum *values, char *nulls)
{
	int			i;

	types[0] = TEXTOID;
	values[0] = CStringGetTextDatum(topic);
	nulls[0] = ' ';
	types[1] = INT4OID;
	for (i = 1; i < 2 + NSETTINGS; i++)
	{
		if (i >= 2)
			types[i] = setting_types[i - 2];
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
}

/*
 * Validate topic settings, in the order of setting_names (NULL = unset):
 * what create/alter_topic accept and what a topic export may carry.
 */
void
el_check_settings(const Datum *values, const bool *isnull)
{
	int			i;

	for (i = 0; i < NSETTINGS; i++)
	{
		if (isnull[i])
			continue;
		if (setting_types[i] == INT8OID && DatumGetInt64(values[i]) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be positive", setting_names[i])));
		/* a segment holds at least two pages: a roll never makes empty ones */
		if (strcmp(setting_names[i], "segment_bytes") == 0 &&
			DatumGetInt64(values[i]) < 2 * BLCKSZ)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("segment_bytes must be at least %d", 2 * BLCKSZ),
					 errdetail("The value given was " INT64_FORMAT ".", DatumGetInt64(values[i]))));
		if (strcmp(setting_names[i], "segment_interval") == 0 &&
			DatumGetIntervalP(values[i])->time < USECS_PER_SEC &&
			DatumGetIntervalP(values[i])->day == 0 && DatumGetIntervalP(values[i])->month == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("segment_interval must be at least 1 second")));
		if (setting_types[i] == INTERVALOID)
		{
			Interval   *iv = DatumGetIntervalP(values[i]);
			bool		zero_ok = strcmp(setting_names[i], "delete_retention") == 0 ||
				strcmp(setting_names[i], "min_compaction_lag") == 0;

			/* compaction's two intervals may be 0 (as in Kafka) */
			if (iv->time < 0 || iv->day < 0 || iv->month < 0 ||
				(!zero_ok && iv->time == 0 && iv->day == 0 && iv->month == 0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg(zero_ok ? "%s must not be negative" :
								"%s must be a positive interval", setting_names[i])));
		}
		if (setting_types[i] == TEXTOID)
			check_cleanup_policy(TextDatumGetCString(values[i]));
	}
}

/* The settings arguments (2..8) of create/alter_topic. */
static void
check_settings(FunctionCallInfo fcinfo)
{
	Datum		values[NSETTINGS];
	bool		isnull[NSETTINGS];
	int			i;

	for (i = 0; i < NSETTINGS; i++)
	{
		isnull[i] = PG_ARGISNULL(i + 2);
		values[i] = isnull[i] ? (Datum) 0 : PG_GETARG_DATUM(i + 2);
	}
	el_check_settings(values, isnull);
}

/*
 * Serialize creators of one topic name: a second creator waits here for
 * the first one's transaction and then sees its topic (LockDatabaseObject
 * accepts invalidations), instead of failing on a catalog unique index.
 */
void
el_lock_topic_name(const char *topic)
{
	LockDatabaseObject(NamespaceRelationId, schema_oid(EL_TOPICS_SCHEMA),
					   (uint16) hash_any((const unsigned char *) topic, strlen(topic)),
					   ExclusiveLock);
}

PG_FUNCTION_INFO_V1(eventlog_create_topic);
Datum
eventlog_create_topic(PG_FUNCTION_ARGS)
{
	char	   *topic;
	int			partitions;
	Oid			nsp = schema_oid(EL_TOPICS_SCHEMA);
	Oid			relid;
	Oid			owner = GetUserId();
	ElCatalogOwner catowner;
	StringInfoData sql;
	Oid			types[2 + NSETTINGS];
	Datum		values[2 + NSETTINGS];
	char		nulls[2 + NSETTINGS];
	int			i;

	el_require_args(fcinfo, 1, "topic name");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition count must not be null")));
	topic = text_to_cstring(PG_GETARG_TEXT_PP(0));
	partitions = PG_GETARG_INT32(1);
	check_topic_name(topic);
	el_check_partition_count(partitions);
	check_settings(fcinfo);

	if (pg_namespace_aclcheck(nsp, owner, ACL_CREATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create topic \"%s\"", topic),
				 errhint("Creating topics requires CREATE privilege on schema %s.",
						 EL_TOPICS_SCHEMA)));

	el_lock_topic_name(topic);
	if (OidIsValid(get_relname_relid(topic, nsp)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("topic \"%s\" already exists", topic)));

	SPI_connect();

	/* the topic relation belongs to the caller */
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s.%s (",
					 EL_TOPICS_SCHEMA, quote_identifier(topic));
	for (i = 0; i < lengthof(topic_columns); i++)
		appendStringInfo(&sql, "%s%s %s", i > 0 ? ", " : "",
						 quote_identifier(topic_columns[i].name),
						 format_type_be(topic_columns[i].type));
	appendStringInfoString(&sql, ") USING eventlog");
	el_spi_exec(sql.data, 0, NULL, NULL, NULL, SPI_OK_UTILITY);
	relid = get_relname_relid(topic, nsp);

	el_catalog_owner_begin(&catowner);
	catalog_args(fcinfo, topic, types, values, nulls);
	el_spi_exec("INSERT INTO eventlog.topic_config (topic, partitions, retention,"
			 " retention_bytes, cleanup_policy, segment_bytes, segment_interval,"
			 " delete_retention, min_compaction_lag)"
			 " VALUES ($1, $2, $3, $4, coalesce($5, 'delete'), $6, $7, $8, $9)",
			 2 + NSETTINGS, types, values, nulls, SPI_OK_INSERT);

	for (i = 0; i < partitions; i++)
		el_create_segment(relid, topic, i, 0, 0, owner);
	el_catalog_owner_end(&catowner);

	SPI_finish();
	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(eventlog_alter_topic);
Datum
eventlog_alter_topic(PG_FUNCTION_ARGS)
{
	Relation	rel;
	ElTopic    *topic;
	char	   *name;
	Oid			relid;
	int			oldparts;
	ElCatalogOwner catowner;
	Oid			types[2 + NSETTINGS];
	Datum		values[2 + NSETTINGS];
	char		nulls[2 + NSETTINGS];
	int			i;

	el_require_args(fcinfo, 1, "topic name");
	check_settings(fcinfo);

	/* serializes with other ALTERs; producers are not blocked */
	topic = el_topic_open(PG_GETARG_TEXT_PP(0), ShareUpdateExclusiveLock, &rel);
	relid = RelationGetRelid(rel);
	name = pstrdup(NameStr(topic->name));
	oldparts = topic->nparts;

	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));

	if (!PG_ARGISNULL(1))
	{
		int			partitions = PG_GETARG_INT32(1);

		el_check_partition_count(partitions);
		if (partitions < oldparts)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("topic \"%s\" has %d partitions, cannot decrease to %d",
							name, oldparts, partitions),
					 errdetail("Partitions can only be added, as in Kafka: removing one would lose its records and move keys.")));
	}

	SPI_connect();
	el_catalog_owner_begin(&catowner);
	if (!PG_ARGISNULL(1))
	{
		for (i = oldparts; i < PG_GETARG_INT32(1); i++)
			el_create_segment(relid, name, i, 0, 0, rel->rd_rel->relowner);
	}
	catalog_args(fcinfo, name, types, values, nulls);
	el_spi_exec("UPDATE eventlog.topic_config SET"
			 " partitions = coalesce($2, partitions),"
			 " retention = coalesce($3, retention),"
			 " retention_bytes = coalesce($4, retention_bytes),"
			 " cleanup_policy = coalesce($5, cleanup_policy),"
			 " segment_bytes = coalesce($6, segment_bytes),"
			 " segment_interval = coalesce($7, segment_interval),"
			 " delete_retention = coalesce($8, delete_retention),"
			 " min_compaction_lag = coalesce($9, min_compaction_lag)"
			 " WHERE topic = $1",
			 2 + NSETTINGS, types, values, nulls, SPI_OK_UPDATE);
	el_catalog_owner_end(&catowner);
	SPI_finish();

	table_close(rel, NoLock);
	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(eventlog_drop_topic);
Datum
eventlog_drop_topic(PG_FUNCTION_ARGS)
{
	char	   *name;
	bool		if_exists = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	Oid			relid;
	StringInfoData sql;
	ElCatalogOwner catowner;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	el_require_args(fcinfo, 1, "topic name");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	/* lock first (owner only), so a concurrent drop is seen as "missing" */
	relid = RangeVarGetRelidExtended(makeRangeVar(EL_TOPICS_SCHEMA, name, -1),
									 AccessExclusiveLock, RVR_MISSING_OK,
									 RangeVarCallbackOwnsRelation, NULL);
	if (!OidIsValid(relid) && !if_exists)
		el_topic_missing(name);
	if (!OidIsValid(relid))
	{
		ereport(NOTICE,
				(errmsg("topic \"%s\" does not exist, skipping", name)));
		PG_RETURN_VOID();
	}

	/* DROP TABLE checks ownership and takes the lock; segments follow */
	SPI_connect();
	initStringInfo(&sql);
	appendStringInfo(&sql, "DROP TABLE %s.%s", EL_TOPICS_SCHEMA, quote_identifier(name));
	el_spi_exec(sql.data, 0, NULL, NULL, NULL, SPI_OK_UTILITY);

	el_catalog_owner_begin(&catowner);
	values[0] = CStringGetTextDatum(name);
	el_spi_exec("DELETE FROM eventlog.topic_config WHERE topic = $1",
			 1, types, values, NULL, SPI_OK_DELETE);
	el_catalog_owner_end(&catowner);
	SPI_finish();
	PG_RETURN_VOID();
}
