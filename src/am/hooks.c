/*
 * hooks.c
 *		Keep statements away from what they must not change, before they
 *		start: records (immutable), a topic's definition (its columns are
 *		the layout of every stored record), and segments (managed by the
 *		extension).
 *
 * The access method's update/delete/lock callbacks already raise errors,
 * but some statements never reach them (MERGE with only INSERT actions,
 * ON CONFLICT with no index, TRUNCATE, which only swaps the topic
 * relation's empty file), and DDL can reach a topic indirectly: through an
 * inheritance or partition parent, a rule, the extension's membership.
 * Each utility statement that can reach a topic or segment has one check
 * below; el_process_utility only dispatches.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_publication.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/tablecmds.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planmain.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "parser/parsetree.h"
#include "replication/walsender.h"
#include "storage/bufmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "eventlog/elam.h"
#include "eventlog/groupoffsets.h"
#include "eventlog/hooks.h"
#include "eventlog/maint.h"
#include "eventlog/eventlog.h"
#include "eventlog/pending.h"
#include "eventlog/quota.h"
#include "eventlog/topic.h"

Oid			el_copy_to_relid = InvalidOid;
bool		el_copy_to_header = false;
Oid			el_copy_from_relid = InvalidOid;
int			el_executor_depth = 0;

static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;
static ExecutorRun_hook_type prev_executor_run = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;
static planner_hook_type prev_planner = NULL;

/* ------------------------------------------------------------------------
 * Which relations are ours
 * ------------------------------------------------------------------------
 */

/*
 * What relid is to the extension, from pg_class alone: a topic or segment
 * relation uses the eventlog access method and lives in the extension's
 * schema for it.  An ordinary table that someone created in one of those
 * schemas is nothing special.
 */
static ElRelRole
relid_role(Oid relid)
{
	HeapTuple	tup;
	Form_pg_class form;
	ElRelRole	role = EL_ROLE_OTHER;

	if (!OidIsValid(relid))
		return EL_ROLE_OTHER;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return EL_ROLE_OTHER;
	form = (Form_pg_class) GETSTRUCT(tup);
	if (OidIsValid(form->relam) &&
		form->relam == get_table_am_oid("eventlog", true))
	{
		if (form->relnamespace == get_namespace_oid(EL_TOPICS_SCHEMA, true))
			role = EL_ROLE_TOPIC;
		else if (form->relnamespace == get_namespace_oid(EL_SEGMENTS_SCHEMA, true))
			role = EL_ROLE_SEGMENT;
	}
	ReleaseSysCache(tup);
	return role;
}

static bool
is_topic_rel(Oid relid)
{
	return relid_role(relid) == EL_ROLE_TOPIC;
}

static bool
is_segment_rel(Oid relid)
{
	return relid_role(relid) == EL_ROLE_SEGMENT;
}

static bool
is_eventlog_rel(Oid relid)
{
	return relid_role(relid) != EL_ROLE_OTHER;
}

/* The topic or segment a statement names, or InvalidOid. */
static Oid
eventlog_rel_named(RangeVar *rv)
{
	Oid			relid;

	if (rv == NULL)
		return InvalidOid;
	relid = RangeVarGetRelid(rv, NoLock, true);
	return is_eventlog_rel(relid) ? relid : InvalidOid;
}

static bool
is_extension_schema(const char *nspname)
{
	return strcmp(nspname, EL_SCHEMA) == 0 ||
		strcmp(nspname, EL_TOPICS_SCHEMA) == 0 ||
		strcmp(nspname, EL_SEGMENTS_SCHEMA) == 0;
}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------
 */

static void
refuse(ElModification what, Oid relid)
{
	Relation	rel = relation_open(relid, NoLock);

	el_refuse_modification(what, rel);
}

static void
refuse_layout_change(Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot change the definition of eventlog relation \"%s\"",
					get_rel_name(relid)),
			 errdetail("A topic's columns, name and schema are the layout of every record stored in its segments; segments are managed by the extension."),
			 errhint("Create a new topic.  A topic's owner, statistics targets, triggers and replica identity can be altered.")));
}

/*
 * A topic or segment is neither a partition nor an inheritance parent or
 * child: a recursing ALTER TABLE on a parent would change a topic's columns
 * behind every other check here, and scans of a parent would mix the log
 * with other tables' rows.
 */
static void
refuse_hierarchy(Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("eventlog relation \"%s\" cannot be part of an inheritance or partition hierarchy",
					get_rel_name(relid)),
			 errdetail("Topics and their segments are never parents, children or partitions of other tables."),
			 errhint("Combine a topic with other tables in a view (UNION ALL) instead.")));
}

static void
refuse_segment_change(Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot change eventlog segment \"%s\" directly", get_rel_name(relid)),
			 errdetail("Segments are the storage of a topic and follow it: they are created, given away and dropped with it."),
			 errhint("Change or drop the topic instead.")));
}

/* ------------------------------------------------------------------------
 * Queries: refused at parse analysis
 * ------------------------------------------------------------------------
 */

/*
 * Publications FOR ALL TABLES include every ordinary table, and to
 * PostgreSQL's publishability check (is_publishable_class) segments are
 * ordinary tables: a subscriber would try to sync them and fail, as it
 * needs a table of each name.  What a publication replicates is read from
 * the view pg_catalog.pg_publication_tables (by CREATE SUBSCRIPTION and
 * ALTER SUBSCRIPTION ... REFRESH PUBLICATION, over the replication
 * connection, and by users), so a query that names that view reads
 * eventlog.publication_tables instead: the same columns, segments left
 * out.  Topics stay in, and their records arrive as the topic's rows.
 * (A view defined over pg_publication_tables still sees the segments.)
 */
static Oid	pubtables_oid = InvalidOid;

static void
substitute_publication_tables(Query *q)
{
	ListCell   *lc;
	Oid			ours = InvalidOid;

	if (!OidIsValid(pubtables_oid))
		pubtables_oid = get_relname_relid("pg_publication_tables", PG_CATALOG_NAMESPACE);
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind != RTE_RELATION || rte->relid != pubtables_oid ||
			!OidIsValid(pubtables_oid))
			continue;
		if (!OidIsValid(ours))
		{
			Oid			nsp = get_namespace_oid("eventlog", true);

			if (OidIsValid(nsp))
				ours = get_relname_relid("publication_tables", nsp);
			if (!OidIsValid(ours))
				return;
		}
		rte->relid = ours;
	}
}

static bool
check_query_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		ListCell   *lc;

		substitute_publication_tables(q);

		if (q->resultRelation > 0)
		{
			RangeTblEntry *rte = rt_fetch(q->resultRelation, q->rtable);

			if (rte->rtekind == RTE_RELATION && is_eventlog_rel(rte->relid))
			{
				switch (q->commandType)
				{
					case CMD_UPDATE:
						refuse(EL_MOD_UPDATE, rte->relid);
						break;
					case CMD_DELETE:
						refuse(EL_MOD_DELETE, rte->relid);
						break;
					case CMD_MERGE:
						refuse(EL_MOD_MERGE, rte->relid);
						break;
					case CMD_INSERT:
						if (q->onConflict != NULL)
							refuse(EL_MOD_ON_CONFLICT, rte->relid);
						break;
					default:
						break;
				}
			}
		}
		foreach(lc, q->rowMarks)
		{
			RowMarkClause *rc = lfirst_node(RowMarkClause, lc);
			RangeTblEntry *rte = rt_fetch(rc->rti, q->rtable);

			if (rte->rtekind == RTE_RELATION && is_eventlog_rel(rte->relid))
				refuse(EL_MOD_LOCK, rte->relid);
		}
		return query_tree_walker(q, check_query_walker, context, 0);
	}
	return expression_tree_walker(node, check_query_walker, context);
}

static void
el_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);
	if (get_namespace_oid(EL_TOPICS_SCHEMA, true) != InvalidOid)
		check_query_walker((Node *) query, NULL);
}

/*
 * Topics are read forward only.  A SCROLL cursor over one gets a
 * Materialize node on top, as the planner does for any plan that cannot
 * run backward; the planner believes a sequential scan always can.
 */
static PlannedStmt *
el_planner(Query *parse, const char *query_string, int cursorOptions,
		   ParamListInfo boundParams)
{
	PlannedStmt *result;
	ListCell   *lc;

	if (prev_planner)
		result = prev_planner(parse, query_string, cursorOptions, boundParams);
	else
		result = standard_planner(parse, query_string, cursorOptions, boundParams);

	if (!(cursorOptions & CURSOR_OPT_SCROLL) || IsA(result->planTree, Material))
		return result;
	foreach(lc, result->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_RELATION && is_topic_rel(rte->relid))
		{
			result->planTree = materialize_finished_plan(result->planTree);
			break;
		}
	}
	return result;
}

/* ------------------------------------------------------------------------
 * Utility statements: one check per statement type
 * ------------------------------------------------------------------------
 */

static void
call_process_utility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

/*
 * TRUNCATE of a topic without pages is harmless, and pg_restore issues it
 * on tables it has just created; only a topic holding records is refused.
 */
static bool
eventlog_rel_is_empty(Oid relid)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	bool		empty = true;

	if (el_rel_role(rel) == EL_ROLE_TOPIC)
	{
		ElTopic    *topic = el_topic_get(relid, true);
		ElSegmentPos pos = EL_SEGMENT_POS_START;
		const ElSegment *segment;

		while (topic && empty &&
			   (segment = el_next_segment(topic->parts, topic->nparts, &pos)) != NULL)
		{
			Relation	seg = relation_open(segment->relid, AccessShareLock);

			empty = RelationGetNumberOfBlocks(seg) == 0;
			relation_close(seg, NoLock);
		}
	}
	else
		empty = RelationGetNumberOfBlocks(rel) == 0;
	relation_close(rel, NoLock);
	return empty;
}

/*
 * TRUNCATE: a topic holding records is refused.  A segment reads as empty
 * through SQL, so TRUNCATE leaves it alone: pg_restore -j truncates the
 * segment tables it created before loading their (empty) data, possibly
 * after the topic's COPY has filled them (topicdump.c).  Returns the
 * statement to run, with the segments taken out.
 */
static PlannedStmt *
check_truncate(PlannedStmt *pstmt, bool *readOnlyTree)
{
	TruncateStmt *stmt = (TruncateStmt *) pstmt->utilityStmt;
	List	   *keep = NIL;
	ListCell   *lc;

	foreach(lc, stmt->relations)
	{
		RangeVar   *rv = lfirst_node(RangeVar, lc);
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		if (is_segment_rel(relid))
			continue;
		if (is_topic_rel(relid) && !eventlog_rel_is_empty(relid))
			refuse(EL_MOD_TRUNCATE, relid);
		keep = lappend(keep, rv);
	}
	if (list_length(keep) == list_length(stmt->relations))
		return pstmt;
	pstmt = copyObject(pstmt);
	((TruncateStmt *) pstmt->utilityStmt)->relations = keep;
	*readOnlyTree = false;
	return pstmt;
}

/*
 * ALTER TABLE (and ALTER INDEX/VIEW/... on a table).  On a topic only what
 * leaves its record layout alone: owner, statistics targets, triggers,
 * replica identity.  On any table: no command that makes a topic or
 * segment a partition, parent or child.  Returns the new owner of a topic
 * for give_segments_to_owner().
 */
static RoleSpec *
check_alter_table(AlterTableStmt *stmt)
{
	Oid			relid = eventlog_rel_named(stmt->relation);
	RoleSpec   *new_topic_owner = NULL;
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Oid			other = InvalidOid;

		switch (cmd->subtype)
		{
			case AT_AttachPartition:
			case AT_DetachPartition:
			case AT_DetachPartitionFinalize:
				other = eventlog_rel_named(castNode(PartitionCmd, cmd->def)->name);
				break;
			case AT_AddInherit:
			case AT_DropInherit:
				other = eventlog_rel_named(castNode(RangeVar, cmd->def));
				break;
			default:
				break;
		}
		if (OidIsValid(other))
			refuse_hierarchy(other);
		if (!OidIsValid(relid))
			continue;

		switch (cmd->subtype)
		{
			case AT_ChangeOwner:

				/*
				 * A segment follows its topic's owner.  One no topic has
				 * adopted yet is pg_restore's, which sets its owner.
				 */
				if (is_segment_rel(relid))
				{
					if (OidIsValid(el_segment_topic(relid)))
						refuse_segment_change(relid);
					break;
				}
				new_topic_owner = cmd->newowner;
				break;
			case AT_SetStatistics:
			case AT_EnableTrig:
			case AT_DisableTrig:
			case AT_EnableTrigAll:
			case AT_DisableTrigAll:
			case AT_EnableTrigUser:
			case AT_DisableTrigUser:
			case AT_EnableAlwaysTrig:
			case AT_EnableReplicaTrig:
			case AT_ReplicaIdentity:
				break;
			case AT_AttachPartition:
			case AT_DetachPartition:
			case AT_DetachPartitionFinalize:
			case AT_AddInherit:
			case AT_DropInherit:
				refuse_hierarchy(relid);
				break;
			default:
				refuse_layout_change(relid);
		}
	}
	return new_topic_owner;
}

/* CREATE TABLE ... INHERITS (topic) or PARTITION OF topic */
static void
check_create(CreateStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->inhRelations)
	{
		Oid			relid = eventlog_rel_named(lfirst_node(RangeVar, lc));

		if (OidIsValid(relid))
			refuse_hierarchy(relid);
	}
}

/*
 * ALTER ... RENAME: a topic's name is the topic's name in the catalog and
 * its columns are the record layout.  Renaming its triggers, indexes or
 * constraints is harmless.  The extension's schemas are named in code.
 */
static void
check_rename(RenameStmt *stmt)
{
	switch (stmt->renameType)
	{
		case OBJECT_TRIGGER:
		case OBJECT_POLICY:
		case OBJECT_TABCONSTRAINT:
		case OBJECT_RULE:
			return;
		case OBJECT_SCHEMA:
			if (is_extension_schema(stmt->subname))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot rename schema \"%s\"", stmt->subname),
						 errdetail("The schema belongs to extension pg_eventlog, which finds its objects by name.")));
			return;
		default:
			{
				Oid			relid = eventlog_rel_named(stmt->relation);

				if (OidIsValid(relid))
					refuse_layout_change(relid);
			}
	}
}

static void
check_set_schema(AlterObjectSchemaStmt *stmt)
{
	Oid			relid = eventlog_rel_named(stmt->relation);

	if (OidIsValid(relid))
		refuse_layout_change(relid);
}

/*
 * Rules are refused on topics and segments: an INSTEAD rule would swallow
 * produce() (which needs the inserted row back) and an ON SELECT rule
 * would hide the log.  Triggers do everything a rule could here.
 */
static void
check_rule(RuleStmt *stmt)
{
	Oid			relid = eventlog_rel_named(stmt->relation);

	if (OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot create rules on eventlog relation \"%s\"",
						get_rel_name(relid)),
				 errdetail("Rules could redirect or swallow the records produced to a topic."),
				 errhint("Use a trigger on the topic instead.")));
}

/*
 * The extension's members are exactly what its script created: taking its
 * catalog out of it would make pg_dump dump the catalog twice (and the
 * restore fail), and a topic added to it would no longer be dumped.
 * pg_upgrade's restore (binary upgrade mode, which only pg_upgrade starts
 * a server in) rebuilds the members one by one with ALTER EXTENSION ADD:
 * that is the script's set again.
 */
static void
check_extension_contents(AlterExtensionContentsStmt *stmt)
{
	if (strcmp(stmt->extname, "pg_eventlog") != 0 || creating_extension ||
		IsBinaryUpgrade)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot add objects to or drop objects from extension \"%s\"",
					stmt->extname),
			 errdetail("pg_dump and the extension's own code rely on its members being exactly those its script creates.")));
}

/*
 * DROP TABLE of a segment that still belongs to a topic would cut the
 * topic's log; segments go with their topic (or with retention).  A
 * segment no topic refers to any more (pg_restore made it, the topic's
 * drop cleans it up in on_sql_drop) may be dropped.
 */
static void
check_drop(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_TABLE)
		return;
	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		if (is_segment_rel(relid) && el_segment_topic(relid) != InvalidOid)
			refuse_segment_change(relid);
	}
}

/*
 * What a publication may carry: topics (their records travel as the
 * topic's rows) and the user's own tables.  Never segments (storage) nor
 * the extension's catalog tables (schema eventlog): a subscriber without
 * the extension has no such tables, so its subscription would fail, and
 * one with it would take the publisher's topics and offsets into its own
 * catalog.  PostgreSQL's FOR ALL TABLES includes every ordinary table of
 * the database and nothing can take tables out of it, so in a database
 * with the extension it is refused (and the extension is not created in a
 * database that has such a publication); FOR TABLES IN SCHEMA
 * eventlog_topics publishes every topic, present and future.
 */
#define EL_PUBLISH_HINT "Publish topics with FOR TABLES IN SCHEMA eventlog_topics or FOR TABLE eventlog_topics.<topic>, and your own tables by name or schema."

static void
refuse_publishing(const char *what, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot publish %s \"%s\"", what, name),
			 errdetail("Segments are the storage of topics and schema \"%s\" is pg_eventlog's catalog; a publication carries topics and the user's own tables only.",
					   EL_SCHEMA),
			 errhint(EL_PUBLISH_HINT)));
}

static void
check_publication_objects(List *pubobjects)
{
	ListCell   *lc;

	foreach(lc, pubobjects)
	{
		PublicationObjSpec *obj = lfirst_node(PublicationObjSpec, lc);

		if (obj->pubobjtype == PUBLICATIONOBJ_TABLE && obj->pubtable)
		{
			Oid			relid = RangeVarGetRelid(obj->pubtable->relation, NoLock, true);

			if (is_segment_rel(relid))
				refuse_publishing("eventlog segment", get_rel_name(relid));
			if (OidIsValid(relid) && get_rel_namespace(relid) == get_namespace_oid(EL_SCHEMA, true))
				refuse_publishing("pg_eventlog catalog table", get_rel_name(relid));
		}
		else if (obj->pubobjtype == PUBLICATIONOBJ_TABLES_IN_SCHEMA ||
				 obj->pubobjtype == PUBLICATIONOBJ_TABLES_IN_CUR_SCHEMA)
		{
			const char *nspname = obj->name;

			if (obj->pubobjtype == PUBLICATIONOBJ_TABLES_IN_CUR_SCHEMA)
			{
				List	   *path = fetch_search_path(false);

				nspname = path != NIL ? get_namespace_name(linitial_oid(path)) : NULL;
			}
			if (nspname && (strcmp(nspname, EL_SEGMENTS_SCHEMA) == 0 ||
							strcmp(nspname, EL_SCHEMA) == 0))
				refuse_publishing("schema", nspname);
		}
	}
}

static void
check_create_publication(CreatePublicationStmt *stmt)
{
	if (stmt->for_all_tables && OidIsValid(get_extension_oid("pg_eventlog", true)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot create publication \"%s\" FOR ALL TABLES in a database with pg_eventlog",
						stmt->pubname),
				 errdetail("FOR ALL TABLES would publish pg_eventlog's catalog tables (schema \"%s\") and segments, which subscribers must not receive.",
						   EL_SCHEMA),
				 errhint(EL_PUBLISH_HINT)));
	check_publication_objects(stmt->pubobjects);
}

/* CREATE EXTENSION pg_eventlog: not beside a FOR ALL TABLES publication */
static void
check_create_extension(CreateExtensionStmt *stmt)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *pubname = NULL;

	/* (installed already: IF NOT EXISTS does nothing, else the usual error) */
	if (strcmp(stmt->extname, "pg_eventlog") != 0 ||
		OidIsValid(get_extension_oid("pg_eventlog", true)))
		return;
	rel = table_open(PublicationRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (pubname == NULL && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_publication pub = (Form_pg_publication) GETSTRUCT(tup);

		if (pub->puballtables)
			pubname = pstrdup(NameStr(pub->pubname));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (pubname)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot create extension pg_eventlog in a database with publication \"%s\" FOR ALL TABLES",
						pubname),
				 errdetail("It would publish pg_eventlog's catalog tables (schema \"%s\") and segments, which subscribers must not receive.",
						   EL_SCHEMA),
				 errhint("Drop the publication, create the extension, then publish topics with FOR TABLES IN SCHEMA eventlog_topics and your own tables by name or schema.")));
}

/*
 * COPY FROM hands every row it reads to the topic's indexes and row
 * triggers after the access method took it, also the export header
 * (topicdump.c) that the access method consumes instead of storing.  Into
 * a topic with indexes or triggers COPY FROM therefore skips header rows
 * with a WHERE condition: such a topic is registered already (an index
 * cannot be built on one that is not), and its records still route.
 *
 * The condition reads "partition", which needs SELECT on it: a producer
 * with INSERT alone loads without it, and a header row among its records
 * is refused by the access method (take_headers() in produce.c).
 */
static bool topic_has_indexes_or_triggers(Oid relid);

static bool
header_rows_need_skipping(Oid relid)
{
	Oid			user = GetUserId();

	if (pg_class_aclcheck(relid, user, ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck(relid, EL_ATTNUM_PARTITION, user, ACL_SELECT) != ACLCHECK_OK)
		return false;
	return topic_has_indexes_or_triggers(relid);
}

static bool
topic_has_indexes_or_triggers(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	bool		result;

	if (!HeapTupleIsValid(tup))
		return false;
	result = ((Form_pg_class) GETSTRUCT(tup))->relhasindex ||
		((Form_pg_class) GETSTRUCT(tup))->relhastriggers;
	ReleaseSysCache(tup);
	return result;
}

static void
skip_export_headers(CopyStmt *stmt)
{
	List	   *raw = raw_parser("SELECT WHERE \"partition\" IS DISTINCT FROM -1",
								 RAW_PARSE_DEFAULT);
	SelectStmt *sel = (SelectStmt *) linitial_node(RawStmt, raw)->stmt;
	Node	   *cond = sel->whereClause;

	if (stmt->whereClause)
		cond = (Node *) makeBoolExpr(AND_EXPR, list_make2(stmt->whereClause, cond), -1);
	stmt->whereClause = cond;
}

/*
 * The export header (topicdump.c) needs the partition and value columns:
 * COPY without a column list (or pg_dump's full list) writes it.
 */
static bool
copy_has_header_columns(CopyStmt *stmt)
{
	bool		partition = false;
	bool		value = false;
	ListCell   *lc;

	if (stmt->attlist == NIL)
		return true;
	foreach(lc, stmt->attlist)
	{
		const char *col = strVal(lfirst(lc));

		partition |= strcmp(col, "partition") == 0;
		value |= strcmp(col, "value") == 0;
	}
	return partition && value;
}

/*
 * COPY topic TO writes the export header and log-end markers (elam.c),
 * except to a logical replication subscriber; COPY topic FROM reads them
 * back (produce.c, topicdump.c).
 */
static void
copy_topic(Oid relid, PlannedStmt *pstmt, const char *queryString,
		   bool readOnlyTree, ProcessUtilityContext context,
		   ParamListInfo params, QueryEnvironment *queryEnv,
		   DestReceiver *dest, QueryCompletion *qc)
{
	CopyStmt   *stmt = (CopyStmt *) pstmt->utilityStmt;
	Oid			save_to = el_copy_to_relid;
	Oid			save_from = el_copy_from_relid;
	bool		save_header = el_copy_to_header;

	if (stmt->is_from)
	{
		el_copy_from_relid = relid;
		if (header_rows_need_skipping(relid))
		{
			pstmt = copyObject(pstmt);
			readOnlyTree = false;
			skip_export_headers((CopyStmt *) pstmt->utilityStmt);
		}
	}
	else if (am_walsender)
	{
		/*
		 * A logical replication subscriber's initial table sync (PG 15 runs
		 * COPY <topic> (columns) TO STDOUT over its replication connection,
		 * on the slot's snapshot): plain rows, the records visible to that
		 * snapshot, never the export header or log-end markers, which are
		 * pg_dump's.  Only a walsender runs SQL on a replication connection.
		 */
		el_copy_to_relid = InvalidOid;
		el_copy_to_header = false;
	}
	else
	{
		el_copy_to_relid = relid;
		el_copy_to_header = copy_has_header_columns(stmt);
	}
	PG_TRY();
	{
		call_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		el_copy_to_relid = save_to;
		el_copy_from_relid = save_from;
		el_copy_to_header = save_header;
	}
	PG_END_TRY();
}

/*
 * Segments are the topic's storage and belong to the topic's owner:
 * ALTER TABLE <topic> OWNER TO gives them away too (as a recursion: the
 * ALTER of the topic has checked the permissions).
 */
static void
give_segments_to_owner(RangeVar *topic_rv, RoleSpec *newowner)
{
	Oid			relid = RangeVarGetRelid(topic_rv, NoLock, true);
	Oid			owner = get_rolespec_oid(newowner, false);
	ElTopic    *topic;
	ElSegmentPos pos = EL_SEGMENT_POS_START;
	const ElSegment *segment;

	if (!OidIsValid(relid))
		return;
	topic = el_topic_get(relid, true);
	while (topic && (segment = el_next_segment(topic->parts, topic->nparts, &pos)) != NULL)
		el_set_segment_owner(segment->relid, owner);
}

/*
 * Roles: consumer groups name their owner and grantees, and quotas their
 * role, by OID in the extension's tables, which pg_shdepend does not know.
 * So, as for PostgreSQL's own objects: DROP ROLE is refused while a role
 * owns groups, may use groups of others or has a quota; REASSIGN OWNED
 * gives its groups away; DROP OWNED drops its groups (with their
 * committed offsets), revokes its USAGE on others' and removes its quota
 * (superusers only).  Like REASSIGN OWNED and DROP OWNED, this sees the
 * current database only.  The statements run first, with their
 * permission checks; the extension's part follows in the same
 * transaction.
 */
static bool
extension_here(void)
{
	return OidIsValid(get_extension_oid("pg_eventlog", true));
}

static void
check_drop_role(DropRoleStmt *stmt)
{
	ListCell   *lc;

	if (!extension_here() || !has_createrole_privilege(GetUserId()))
		return;					/* DROP ROLE refuses it anyway */
	SPI_connect();
	foreach(lc, stmt->roles)
	{
		RoleSpec   *spec = lfirst_node(RoleSpec, lc);
		Oid			roleid;
		int64		owned;
		int64		granted;
		bool		quota;
		StringInfoData detail;

		if (spec->roletype != ROLESPEC_CSTRING)
			continue;
		roleid = get_role_oid(spec->rolename, true);
		if (!OidIsValid(roleid))
			continue;
		/* its quota buckets go if the DROP commits */
		el_quota_forget_role(roleid);
		el_group_role_dependents(roleid, &owned, &granted);
		quota = el_quota_role_has_row(roleid);
		if (owned == 0 && granted == 0 && !quota)
			continue;
		initStringInfo(&detail);
		if (owned > 0)
			appendStringInfo(&detail, ngettext("owner of %lld consumer group",
											   "owner of %lld consumer groups",
											   owned), (long long) owned);
		if (granted > 0)
			appendStringInfo(&detail, ngettext("%sprivileges for %lld consumer group",
											   "%sprivileges for %lld consumer groups",
											   granted),
							 detail.len > 0 ? "\n" : "", (long long) granted);
		if (quota)
			appendStringInfo(&detail, _("%sa quota (eventlog.set_quota)"),
							 detail.len > 0 ? "\n" : "");
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("role \"%s\" cannot be dropped because some objects depend on it",
						spec->rolename),
				 errdetail_internal("%s", detail.data),
				 errhint("Run REASSIGN OWNED and DROP OWNED in each database with pg_eventlog, or use eventlog.alter_group_owner(), eventlog.revoke_group() and eventlog.set_quota(role, NULL, NULL).")));
	}
	SPI_finish();
}

/* After REASSIGN OWNED or DROP OWNED: the extension's part */
static void
roles_owned(Node *parsetree)
{
	List	   *roles;
	Oid			newrole = InvalidOid;
	ListCell   *lc;

	if (!extension_here())
		return;
	if (IsA(parsetree, ReassignOwnedStmt))
	{
		roles = ((ReassignOwnedStmt *) parsetree)->roles;
		newrole = get_rolespec_oid(((ReassignOwnedStmt *) parsetree)->newrole, false);
	}
	else
		roles = ((DropOwnedStmt *) parsetree)->roles;
	SPI_connect();
	foreach(lc, roles)
	{
		Oid			roleid = get_rolespec_oid(lfirst_node(RoleSpec, lc), false);

		if (OidIsValid(newrole))
			el_groups_reassign_owned(roleid, newrole);
		else
		{
			(void) el_groups_drop_owned(roleid);
			el_quota_drop_role(roleid);
		}
	}
	SPI_finish();
}

/*
 * pg_dump and segments removed by maintenance.  A segment in segment_trash
 * is dropped once no snapshot can still see its segment_map row; pg_dump's
 * snapshot is newer than the removal, so a pass may drop it while pg_dump
 * runs, but pg_dump lists every table of its snapshot, the segment too,
 * and then locks and copies each by name: "relation does not exist" ended
 * the whole dump.  So in a transaction-snapshot transaction (pg_dump's,
 * REPEATABLE READ or SERIALIZABLE) a segment that its snapshot still lists
 * but that is gone now is locked and copied as the empty table it was (a
 * segment's COPY TO writes no rows anyway); a name the snapshot never saw
 * is still an error.  A segment that pg_dump did lock is not dropped (the
 * pass takes its lock conditionally).
 */
static bool
segment_dropped_since_snapshot(const RangeVar *rv)
{
	Oid			nsp;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key[2];
	bool		seen;

	if (rv->schemaname == NULL || strcmp(rv->schemaname, EL_SEGMENTS_SCHEMA) != 0 ||
		!IsolationUsesXactSnapshot() ||
		OidIsValid(RangeVarGetRelid(rv, NoLock, true)) ||
		!OidIsValid(nsp = get_namespace_oid(EL_SEGMENTS_SCHEMA, true)))
		return false;
	ScanKeyInit(&key[0], Anum_pg_class_relname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(rv->relname));
	ScanKeyInit(&key[1], Anum_pg_class_relnamespace, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(nsp));
	rel = table_open(RelationRelationId, AccessShareLock);
	scan = systable_beginscan(rel, ClassNameNspIndexId, true, GetTransactionSnapshot(),
							  2, key);
	seen = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return seen;
}

/* LOCK TABLE's check (SELECT for ACCESS SHARE), before the lock is taken */
static void
segment_lock_check(const RangeVar *rv, Oid relid, Oid oldrelid, void *arg)
{
	if (OidIsValid(relid) && pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, rv->relname);
}

/*
 * LOCK TABLE ... IN ACCESS SHARE MODE, as pg_dump locks what it dumps:
 * segments are locked first (a segment locked is not dropped while the
 * rest waits), and one dropped since the transaction's snapshot is left
 * out.  Returns the statement to run, NULL if nothing is left of it.
 */
static PlannedStmt *
lock_segments(PlannedStmt *pstmt, bool *readOnlyTree, ProcessUtilityContext context)
{
	LockStmt   *stmt = (LockStmt *) pstmt->utilityStmt;
	List	   *keep = NIL;
	bool		dropped = false;
	ListCell   *lc;

	if (stmt->mode != AccessShareLock)
		return pstmt;
	foreach(lc, stmt->relations)
	{
		RangeVar   *rv = lfirst_node(RangeVar, lc);

		if (rv->schemaname && strcmp(rv->schemaname, EL_SEGMENTS_SCHEMA) == 0)
		{
			(void) RangeVarGetRelidExtended(rv, AccessShareLock,
											RVR_MISSING_OK | (stmt->nowait ? RVR_NOWAIT : 0),
											segment_lock_check, NULL);
			if (segment_dropped_since_snapshot(rv))
			{
				dropped = true;
				continue;
			}
		}
		keep = lappend(keep, rv);
	}
	if (!dropped)
		return pstmt;
	if (keep == NIL)
	{
		RequireTransactionBlock(context == PROCESS_UTILITY_TOPLEVEL, "LOCK TABLE");
		return NULL;
	}
	pstmt = copyObject(pstmt);
	((LockStmt *) pstmt->utilityStmt)->relations = copyObject(keep);
	*readOnlyTree = false;
	return pstmt;
}

/*
 * COPY of a segment dropped since the transaction's snapshot, TO: the
 * rows of a query that has none, which is what the segment's COPY wrote.
 */
static PlannedStmt *
copy_dropped_segment(PlannedStmt *pstmt, bool *readOnlyTree)
{
	CopyStmt   *stmt = (CopyStmt *) pstmt->utilityStmt;
	RawStmt    *empty;

	if (stmt->is_from || stmt->relation == NULL ||
		!segment_dropped_since_snapshot(stmt->relation))
		return pstmt;
	empty = linitial_node(RawStmt, raw_parser("SELECT WHERE false", RAW_PARSE_DEFAULT));
	pstmt = copyObject(pstmt);
	stmt = (CopyStmt *) pstmt->utilityStmt;
	stmt->relation = NULL;
	stmt->attlist = NIL;
	stmt->whereClause = NULL;
	stmt->query = empty->stmt;
	*readOnlyTree = false;
	return pstmt;
}

static void
el_process_utility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	RoleSpec   *new_topic_owner = NULL;

	switch (nodeTag(parsetree))
	{
		case T_TruncateStmt:
			pstmt = check_truncate(pstmt, &readOnlyTree);
			break;
		case T_AlterTableStmt:
			new_topic_owner = check_alter_table((AlterTableStmt *) parsetree);
			break;
		case T_CreateStmt:
			check_create((CreateStmt *) parsetree);
			break;
		case T_RenameStmt:
			check_rename((RenameStmt *) parsetree);
			if (((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
				el_stop_db_worker(((RenameStmt *) parsetree)->subname);
			break;
		case T_AlterObjectSchemaStmt:
			check_set_schema((AlterObjectSchemaStmt *) parsetree);
			break;
		case T_RuleStmt:
			check_rule((RuleStmt *) parsetree);
			break;
		case T_AlterExtensionContentsStmt:
			check_extension_contents((AlterExtensionContentsStmt *) parsetree);
			break;
		case T_DropStmt:
			check_drop((DropStmt *) parsetree);
			break;
		case T_DropRoleStmt:
			check_drop_role((DropRoleStmt *) parsetree);
			break;
		case T_ReassignOwnedStmt:
		case T_DropOwnedStmt:
			call_process_utility(pstmt, queryString, readOnlyTree, context,
								 params, queryEnv, dest, qc);
			roles_owned(parsetree);
			return;
		case T_DropdbStmt:
			el_stop_db_worker(((DropdbStmt *) parsetree)->dbname);
			break;
		case T_CreatedbStmt:
			{
				ListCell   *lc;

				foreach(lc, ((CreatedbStmt *) parsetree)->options)
				{
					DefElem    *opt = (DefElem *) lfirst(lc);

					if (strcmp(opt->defname, "template") == 0 && opt->arg)
						el_stop_db_worker(defGetString(opt));
				}
			}
			break;
		case T_CreatePublicationStmt:
			check_create_publication((CreatePublicationStmt *) parsetree);
			break;
		case T_CreateExtensionStmt:
			check_create_extension((CreateExtensionStmt *) parsetree);
			break;
		case T_AlterPublicationStmt:
			check_publication_objects(((AlterPublicationStmt *) parsetree)->pubobjects);
			break;
		case T_LockStmt:
			pstmt = lock_segments(pstmt, &readOnlyTree, context);
			if (pstmt == NULL)
				return;
			break;
		case T_CopyStmt:
			{
				Oid			relid = InvalidOid;

				pstmt = copy_dropped_segment(pstmt, &readOnlyTree);
				parsetree = pstmt->utilityStmt;

				if (((CopyStmt *) parsetree)->relation)
					relid = RangeVarGetRelid(((CopyStmt *) parsetree)->relation, NoLock, true);
				if (is_topic_rel(relid))
				{
					copy_topic(relid, pstmt, queryString, readOnlyTree, context,
							   params, queryEnv, dest, qc);
					return;
				}
			}
			break;
		default:
			break;
	}

	call_process_utility(pstmt, queryString, readOnlyTree, context, params,
						 queryEnv, dest, qc);
	if (new_topic_owner)
		give_segments_to_owner(((AlterTableStmt *) parsetree)->relation,
							   new_topic_owner);
}

/*
 * An INSERT without RETURNING may buffer its topic records (pending.h);
 * they are appended before the statement's run ends.  Nested statements
 * (SPI inside functions) decide for themselves and restore the flag.
 */
static void
el_executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
				bool execute_once)
{
	bool		save = el_defer_inserts;

	el_defer_inserts = (queryDesc->operation == CMD_INSERT &&
						!queryDesc->plannedstmt->hasReturning &&
						!queryDesc->plannedstmt->hasModifyingCTE);
	el_executor_depth++;
	PG_TRY();
	{
		if (prev_executor_run)
			prev_executor_run(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
		el_pending_flush();
	}
	PG_FINALLY();
	{
		el_defer_inserts = save;
		el_executor_depth--;
	}
	PG_END_TRY();
}

void
el_install_hooks(void)
{
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = el_executor_run;
	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = el_post_parse_analyze;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = el_process_utility;
	prev_planner = planner_hook;
	planner_hook = el_planner;
}
