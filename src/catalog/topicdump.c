/*
 * topicdump.c
 *		The topic export header: what makes the COPY of one topic relation
 *		self-contained, so that pg_restore (also with -j) needs nothing
 *		else to bring the topic back.
 *
 * COPY <topic> TO (what pg_dump runs) starts with one header row:
 * partition -1, offset NULL and, as the value, the topic's configuration
 * and segment list (format below).  COPY <topic> FROM recognizes that row
 * and registers the topic if the catalog does not know it yet (or grows
 * it to the exported partition count) before any record of the COPY is
 * routed.  The catalog tables topic_config and segment_map are therefore
 * not dumped on their own: parallel pg_restore loads independent tables
 * concurrently, and records could otherwise arrive before their topic's
 * catalog rows.
 *
 * Header value (a jsonb object):
 *	 {"eventlog_topic_export": 1, "partitions": n, "retention": ...,
 *	  "retention_bytes": ..., "cleanup_policy": ..., "segment_bytes": ...,
 *	  "segment_interval": ..., "delete_retention": ..., "created_at": ...,
 *	  "min_compaction_lag": ...,
 *	  "segments": [{"partition": p, "seg_no": s, "relation": name,
 *					"base_offset": o}, ...]}
 *
 * pg_dump also writes the (empty) segment relations as tables; the import
 * adopts them when they are there, unused, empty and the topic owner's,
 * and creates new segments otherwise (e.g. for a dump of the topic
 * relation alone).  Only the topic's owner may register or grow it this
 * way.  Into a topic with indexes or triggers COPY FROM skips the header
 * (hooks.c): the executor would hand the row to them.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "eventlog/elpage.h"
#include "eventlog/eventlog.h"
#include "eventlog/topic.h"
#include "eventlog/topicdump.h"

#define EXPORT_FORMAT 1

/*
 * Intervals travel as text: write and read them in one fixed style, not
 * the session's IntervalStyle; and resolve the queries' functions and
 * operators in pg_catalog only.  Returns the GUC nest level to pop.
 */
static int
fixed_gucs(void)
{
	int			level = el_push_catalog_search_path();

	(void) set_config_option("intervalstyle", "postgres", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return level;
}

Datum
el_topic_export_header(ElTopic *topic)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Datum		result;
	bool		isnull;
	int			level;

	args[0] = CStringGetTextDatum(NameStr(topic->name));
	level = fixed_gucs();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT pg_catalog.jsonb_build_object("
							  " 'eventlog_topic_export', " CppAsString2(EXPORT_FORMAT) ","
							  " 'partitions', c.partitions,"
							  " 'retention', c.retention,"
							  " 'retention_bytes', c.retention_bytes,"
							  " 'cleanup_policy', c.cleanup_policy,"
							  " 'segment_bytes', c.segment_bytes,"
							  " 'segment_interval', c.segment_interval,"
							  " 'delete_retention', c.delete_retention,"
							  " 'created_at', c.created_at,"
							  " 'min_compaction_lag', c.min_compaction_lag,"
							  " 'segments', (SELECT coalesce(pg_catalog.jsonb_agg("
							  "     pg_catalog.jsonb_build_object('partition', m.partition,"
							  "       'seg_no', m.seg_no, 'relation', r.relname,"
							  "       'base_offset', coalesce(m.base_offset, s.base_offset),"
							  "       'min_offset', m.min_offset)"
							  "     ORDER BY m.partition, m.seg_no), '[]')"
							  "   FROM eventlog.segment_map m"
							  "   JOIN pg_catalog.pg_class r ON r.oid = m.segrel"
							  "   LEFT JOIN eventlog.segment_info(c.topic) s ON s.segment = m.segrel"
							  "  WHERE m.topic = c.topic))"
							  " FROM eventlog.topic_config c WHERE c.topic = $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read the configuration of topic \"%s\"",
			 NameStr(topic->name));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	AtEOXact_GUC(true, level);
	return result;
}

bool
el_is_topic_header(TupleTableSlot *slot)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;

	if (desc->natts < EL_ATTNUM_VALUE ||
		TupleDescAttr(desc, EL_ATTNUM_PARTITION - 1)->atttypid != INT4OID ||
		TupleDescAttr(desc, EL_ATTNUM_OFFSET - 1)->atttypid != INT8OID ||
		TupleDescAttr(desc, EL_ATTNUM_VALUE - 1)->atttypid != JSONBOID)
		return false;
	slot_getsomeattrs(slot, EL_ATTNUM_VALUE);
	return !slot->tts_isnull[EL_ATTNUM_PARTITION - 1] &&
		DatumGetInt32(slot->tts_values[EL_ATTNUM_PARTITION - 1]) == EL_HEADER_PARTITION &&
		slot->tts_isnull[EL_ATTNUM_OFFSET - 1] &&
		!slot->tts_isnull[EL_ATTNUM_VALUE - 1];
}

/* What a header says, parsed and checked. */
typedef struct ExportHeader
{
	int			partitions;
	Datum		settings[7];	/* in the order of create_topic's arguments */
	bool		settings_null[7];
	Datum		created_at;
	bool		created_at_null;
	int			nsegs;
	int		   *seg_partition;
	int		   *seg_no;
	char	  **seg_relation;
	int64	   *seg_base;		/* -2: a spare segment */
	int64	   *seg_min;		/* min_offset, -1 if none */
} ExportHeader;

/* what the header's shape checks (parse_header's first query) find wrong */
static const char *const shape_problems[] = {
	gettext_noop("The value is not a topic export header of a format this version reads."),
	gettext_noop("The header gives no valid partition count."),
	gettext_noop("The segment list of the header is not an array.")
};

static void
bad_header(const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("invalid topic export header"),
			 errdetail_internal("%s", _(problem)),
			 errhint("A row with partition -1 is the header that COPY TO of a topic writes first; load files written by COPY TO unchanged.")));
}

/*
 * Parse the header.  Inside SPI: the results live in SPI's procedure
 * context and are used before SPI_finish.
 */
static void
parse_header(Datum hdr, ExportHeader *h)
{
	Oid			argtypes[1] = {JSONBOID};
	Datum		args[1] = {hdr};
	TupleDesc	td;
	HeapTuple	tup;
	bool		isnull;
	int			i;

	/* shapes first, so that a malformed header gets a message of ours */
	if (SPI_execute_with_args("SELECT jsonb_typeof(h) = 'object'"
							  "   AND jsonb_typeof(h->'eventlog_topic_export') = 'number'"
							  "   AND h->>'eventlog_topic_export' = '" CppAsString2(EXPORT_FORMAT) "',"
							  " jsonb_typeof(h->'partitions') = 'number'"
							  "   AND (h->>'partitions') ~ '^[0-9]{1,9}$',"
							  " coalesce(jsonb_typeof(h->'segments'), 'array') = 'array'"
							  " FROM (SELECT $1 AS h) s",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not parse a topic export header");
	td = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	for (i = 0; i < lengthof(shape_problems); i++)
		if (!DatumGetBool(SPI_getbinval(tup, td, i + 1, &isnull)) || isnull)
			bad_header(shape_problems[i]);

	if (SPI_execute_with_args("SELECT (h->>'partitions')::int,"
							  " (h->>'retention')::interval,"
							  " (h->>'retention_bytes')::bigint,"
							  " h->>'cleanup_policy',"
							  " (h->>'segment_bytes')::bigint,"
							  " (h->>'segment_interval')::interval,"
							  " (h->>'delete_retention')::interval,"
							  " (h->>'min_compaction_lag')::interval,"
							  " (h->>'created_at')::timestamptz"
							  " FROM (SELECT $1 AS h) s",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not parse a topic export header");
	td = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	h->partitions = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));
	el_check_partition_count(h->partitions);
	for (i = 0; i < lengthof(h->settings); i++)
		h->settings[i] = SPI_getbinval(tup, td, 2 + i, &h->settings_null[i]);
	el_check_settings(h->settings, h->settings_null);
	h->created_at = SPI_getbinval(tup, td, 9, &h->created_at_null);

	if (SPI_execute_with_args("SELECT CASE WHEN jsonb_typeof(e->'partition') = 'number'"
							  "   THEN (e->>'partition')::numeric END,"
							  " CASE WHEN jsonb_typeof(e->'seg_no') = 'number'"
							  "   THEN (e->>'seg_no')::numeric END,"
							  " e->>'relation',"
							  " CASE WHEN jsonb_typeof(e->'base_offset') = 'number'"
							  "   THEN (e->>'base_offset')::numeric END,"
							  " coalesce(jsonb_typeof(e->'base_offset'), 'null') = 'null',"
							  " CASE WHEN jsonb_typeof(e->'min_offset') = 'number'"
							  "   THEN (e->>'min_offset')::numeric END"
							  " FROM jsonb_array_elements(coalesce($1->'segments', '[]')) e",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not parse a topic export header");
	td = SPI_tuptable->tupdesc;
	h->nsegs = (int) SPI_processed;
	h->seg_partition = palloc(sizeof(int) * Max(h->nsegs, 1));
	h->seg_no = palloc(sizeof(int) * Max(h->nsegs, 1));
	h->seg_relation = palloc(sizeof(char *) * Max(h->nsegs, 1));
	h->seg_base = palloc(sizeof(int64) * Max(h->nsegs, 1));
	h->seg_min = palloc(sizeof(int64) * Max(h->nsegs, 1));
	for (i = 0; i < h->nsegs; i++)
	{
		char	   *p = SPI_getvalue(SPI_tuptable->vals[i], td, 1);
		char	   *n = SPI_getvalue(SPI_tuptable->vals[i], td, 2);
		char	   *b = SPI_getvalue(SPI_tuptable->vals[i], td, 4);
		char	   *spare = SPI_getvalue(SPI_tuptable->vals[i], td, 5);
		char	   *mo = SPI_getvalue(SPI_tuptable->vals[i], td, 6);
		char	   *end;

		/* a spare segment (not started) has no base offset: -1 */
		if (b == NULL && spare != NULL && strcmp(spare, "t") == 0)
			b = "-1";
		h->seg_min[i] = mo ? strtoll(mo, &end, 10) : -1;
		if (mo && (*end != '\0' || strlen(mo) > 19 || h->seg_min[i] < 0 ||
				   h->seg_min[i] > EL_MAX_OFFSET))
			bad_header(gettext_noop("A segment entry has an invalid min_offset."));

		h->seg_relation[i] = SPI_getvalue(SPI_tuptable->vals[i], td, 3);
		if (p == NULL || n == NULL || b == NULL)
			h->seg_partition[i] = -1;
		else
		{
			h->seg_partition[i] = (int) strtol(p, &end, 10);
			if (*end != '\0' || strlen(p) > 9)
				h->seg_partition[i] = -1;
			h->seg_no[i] = (int) strtol(n, &end, 10);
			if (*end != '\0' || strlen(n) > 9)
				h->seg_partition[i] = -1;
			h->seg_base[i] = strtoll(b, &end, 10);
			if (*end != '\0' || strlen(b) > 19)
				h->seg_partition[i] = -1;
			if (h->seg_base[i] == -1 && strcmp(b, "-1") == 0)
				h->seg_base[i] = -2;	/* spare, checked below */
		}
		/* a segment's base offset is a log end: at most EL_MAX_OFFSET */
		if (h->seg_partition[i] < 0 || h->seg_partition[i] >= h->partitions ||
			h->seg_no[i] < 0 || (h->seg_base[i] < 0 && h->seg_base[i] != -2) ||
			h->seg_base[i] > EL_MAX_OFFSET)
			bad_header(gettext_noop("A segment entry lacks a valid partition, seg_no or base_offset."));
	}
}

/*
 * May the relation named in a header become a segment of this topic?  Only
 * an empty, unregistered eventlog relation in the segments schema with the
 * topic's columns and owner: what pg_restore created for it.
 */
static Oid
adoptable_segment(Relation topic_rel, const char *name)
{
	Oid			nsp = get_namespace_oid(EL_SEGMENTS_SCHEMA, false);
	Oid			segrelid = name ? get_relname_relid(name, nsp) : InvalidOid;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	Relation	seg;
	TupleDesc	td,
				sd;
	bool		ok;
	int			i;

	if (!OidIsValid(segrelid))
		return InvalidOid;

	/*
	 * Self-exclusive, so two imports cannot both take one segment, but
	 * compatible with pg_restore's own (empty) COPY into the segment table.
	 */
	seg = table_open(segrelid, ShareUpdateExclusiveLock);
	td = RelationGetDescr(topic_rel);
	sd = RelationGetDescr(seg);
	ok = seg->rd_rel->relkind == RELKIND_RELATION &&
		seg->rd_rel->relam == topic_rel->rd_rel->relam &&
		seg->rd_rel->relowner == topic_rel->rd_rel->relowner &&
		RelationGetNumberOfBlocks(seg) == 0 &&
		sd->natts == td->natts;
	for (i = 0; ok && i < td->natts; i++)
		ok = !TupleDescAttr(sd, i)->attisdropped &&
			TupleDescAttr(sd, i)->atttypid == TupleDescAttr(td, i)->atttypid;
	table_close(seg, NoLock);
	if (!ok)
		return InvalidOid;

	args[0] = ObjectIdGetDatum(segrelid);
	if (SPI_execute_with_args("SELECT 1 FROM eventlog.segment_map WHERE segrel = $1",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read eventlog.segment_map");
	return SPI_processed == 0 ? segrelid : InvalidOid;
}

/*
 * Give partition p its segments: every segment of p the header lists, with
 * its base offset (NULL for a spare) and min_offset, each adopted if
 * pg_restore created it, else a new one.  Records then land in the segment
 * their offset belongs to: an append whose explicit offset reaches the
 * next segment's base offset rolls into it (elappend.c).
 */
static void
add_partition(Relation rel, const char *topic, ExportHeader *h, int p)
{
	Oid			relid = RelationGetRelid(rel);
	int			i;

	bool		any = false;

	for (i = 0; i < h->nsegs; i++)
	{
		Oid			segrelid;
		int64		base = h->seg_base[i] == -2 ? -1 : h->seg_base[i];

		if (h->seg_partition[i] != p)
			continue;
		segrelid = adoptable_segment(rel, h->seg_relation[i]);
		if (!OidIsValid(segrelid))
		{
			el_create_segment(relid, topic, p, h->seg_no[i], base,
							  rel->rd_rel->relowner);
			segrelid = get_relname_relid(psprintf("t%u_p%d_s%d", relid, p, h->seg_no[i]),
										 get_namespace_oid(EL_SEGMENTS_SCHEMA, false));
		}
		else
			el_register_segment(segrelid, relid, topic, p, h->seg_no[i], base);
		if (h->seg_min[i] >= 0)
		{
			Oid			types[2] = {OIDOID, INT8OID};
			Datum		values[2];

			values[0] = ObjectIdGetDatum(segrelid);
			values[1] = Int64GetDatum(h->seg_min[i]);
			el_spi_exec("UPDATE eventlog.segment_map SET min_offset = $2"
						" WHERE segrel = $1::regclass",
						2, types, values, NULL, SPI_OK_UPDATE);
		}
		any = true;
	}
	if (any)
		return;
	el_create_segment(relid, topic, p, 0, 0, rel->rd_rel->relowner);
}

/* The topic's partition count in the catalog, 0 if it is not registered. */
static int
catalog_partitions(Relation rel)
{
	ElTopic    *topic = el_topic_get(RelationGetRelid(rel), true);

	return topic ? topic->nparts : 0;
}

void
el_topic_import_header(Relation rel, TupleTableSlot *slot)
{
	Oid			relid = RelationGetRelid(rel);
	char	   *topic = pstrdup(RelationGetRelationName(rel));
	Datum		hdr = slot->tts_values[EL_ATTNUM_VALUE - 1];
	ExportHeader h;
	Oid			argtypes[10] = {TEXTOID, INT4OID, INTERVALOID, INT8OID, TEXTOID,
	INT8OID, INTERVALOID, INTERVALOID, INTERVALOID, TIMESTAMPTZOID};
	Datum		values[10];
	char		nulls[10];
	int			oldparts;
	ElCatalogOwner catowner;
	int			level;
	int			i;

	level = fixed_gucs();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	parse_header(hdr, &h);

	/*
	 * Usually (loading into a topic that has its partitions) there is
	 * nothing to do and no lock to take; otherwise only the owner may go on,
	 * with create_topic's and alter_topic's locks, and looks again.  A topic
	 * that exists keeps its settings.
	 */
	oldparts = catalog_partitions(rel);
	if (oldparts < h.partitions)
	{
		if (!pg_class_ownercheck(relid, GetUserId()))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of topic \"%s\" to load its export header", topic),
					 errdetail("The header registers the topic or adds partitions to it.")));
		el_lock_topic_name(topic);
		LockRelationOid(relid, ShareUpdateExclusiveLock);
		AcceptInvalidationMessages();
		oldparts = catalog_partitions(rel);
	}
	if (oldparts >= h.partitions)
	{
		SPI_finish();
		AtEOXact_GUC(true, level);
		return;
	}
	if (oldparts == 0)
		el_check_topic_relation(rel);

	values[0] = CStringGetTextDatum(topic);
	nulls[0] = ' ';
	values[1] = Int32GetDatum(h.partitions);
	nulls[1] = ' ';
	el_catalog_owner_begin(&catowner);
	if (oldparts == 0)
	{
		/* a topic the catalog does not know: register it as exported */
		for (i = 0; i < lengthof(h.settings); i++)
		{
			values[2 + i] = h.settings[i];
			nulls[2 + i] = h.settings_null[i] ? 'n' : ' ';
		}
		values[9] = h.created_at;
		nulls[9] = h.created_at_null ? 'n' : ' ';
		el_spi_exec("INSERT INTO eventlog.topic_config (topic, partitions, retention,"
					" retention_bytes, cleanup_policy, segment_bytes, segment_interval,"
					" delete_retention, min_compaction_lag, created_at) VALUES ($1, $2, $3, $4,"
					" coalesce($5, 'delete'), $6, $7, $8, $9, coalesce($10, now()))",
					10, argtypes, values, nulls, SPI_OK_INSERT);
	}
	else
	{
		/* a known topic with fewer partitions grows, as alter_topic would */
		el_spi_exec("UPDATE eventlog.topic_config SET partitions = $2 WHERE topic = $1",
					2, argtypes, values, NULL, SPI_OK_UPDATE);
	}
	for (i = oldparts; i < h.partitions; i++)
		add_partition(rel, topic, &h, i);
	el_catalog_owner_end(&catowner);
	SPI_finish();
	AtEOXact_GUC(true, level);

	/* the rest of this COPY routes with the new catalog rows */
	CacheInvalidateRelcacheByRelid(relid);
	CommandCounterIncrement();
}
