/*
 * hooks.c
 *		Refuse statements that would change records, before they start.
 *
 * The access method's update/delete/lock callbacks already raise errors,
 * but some statements never reach them (MERGE with only INSERT actions,
 * ON CONFLICT with no index, TRUNCATE, which only swaps the topic
 * relation's empty file).  Checking at parse analysis gives every one the
 * same clear error and changes nothing.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/tablecmds.h"
#include "nodes/nodeFuncs.h"
#include "nodes/makefuncs.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "parser/parsetree.h"
#include "storage/bufmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "elam.h"
#include "executor/executor.h"
#include "pending.h"
#include "eventlog.h"
#include "topic.h"

Oid			el_copy_to_relid = InvalidOid;
bool		el_copy_to_header = false;
Oid			el_copy_from_relid = InvalidOid;

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

static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;
static ExecutorRun_hook_type prev_executor_run = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* Is relid in the extension's schema nspname?  Cheap: a namespace check. */
static bool
rel_in_schema(Oid relid, const char *nspname)
{
	Oid			nsp = get_rel_namespace(relid);

	return OidIsValid(nsp) && nsp == get_namespace_oid(nspname, true);
}

static bool
is_topic_rel(Oid relid)
{
	return rel_in_schema(relid, EL_TOPICS_SCHEMA);
}

static bool
is_segment_rel(Oid relid)
{
	return rel_in_schema(relid, EL_SEGMENTS_SCHEMA);
}

/* Is relid a topic or segment relation? */
static bool
is_eventlog_rel(Oid relid)
{
	return is_topic_rel(relid) || is_segment_rel(relid);
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
		int			p,
					s;

		for (p = 0; topic && empty && p < topic->nparts; p++)
			for (s = 0; empty && s < topic->parts[p].nsegs; s++)
			{
				Relation	seg = relation_open(topic->parts[p].segs[s].relid, AccessShareLock);

				empty = RelationGetNumberOfBlocks(seg) == 0;
				relation_close(seg, NoLock);
			}
	}
	else
		empty = RelationGetNumberOfBlocks(rel) == 0;
	relation_close(rel, NoLock);
	return empty;
}

static void
refuse(const char *what, Oid relid)
{
	Relation	rel = relation_open(relid, NoLock);

	el_refuse_modification(what, rel);
}

static void
refuse_layout_change(Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot change the columns, name or schema of topic relation \"%s\"",
					get_rel_name(relid)),
			 errdetail("A topic's columns are the layout of every record stored in its segments."),
			 errhint("Create a new topic; owner, statistics, triggers and replica identity can be altered.")));
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

		if (q->resultRelation > 0)
		{
			RangeTblEntry *rte = rt_fetch(q->resultRelation, q->rtable);

			if (rte->rtekind == RTE_RELATION && is_eventlog_rel(rte->relid))
			{
				switch (q->commandType)
				{
					case CMD_UPDATE:
						refuse("UPDATE", rte->relid);
						break;
					case CMD_DELETE:
						refuse("DELETE from", rte->relid);
						break;
					case CMD_MERGE:
						refuse("MERGE into", rte->relid);
						break;
					case CMD_INSERT:
						if (q->onConflict != NULL)
							refuse("use INSERT ... ON CONFLICT on", rte->relid);
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
				refuse("lock rows of", rte->relid);
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
 * COPY FROM hands every row it reads to the topic's indexes and row
 * triggers after the access method took it, also the export header
 * (topicdump.c) that the access method consumes instead of storing.  Into
 * a topic with indexes or triggers COPY FROM therefore skips header rows
 * with a WHERE condition: such a topic is registered already (an index
 * cannot be built on one that is not), and its records still route.
 */
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
	int			p,
				s;

	if (!OidIsValid(relid))
		return;
	topic = el_topic_get(relid, true);
	for (p = 0; topic && p < topic->nparts; p++)
		for (s = 0; s < topic->parts[p].nsegs; s++)
			ATExecChangeOwner(topic->parts[p].segs[s].relid, owner, true,
							  AccessExclusiveLock);
}

static void
el_process_utility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	RoleSpec   *new_topic_owner = NULL;

	if (IsA(parsetree, TruncateStmt))
	{
		List	   *keep = NIL;
		ListCell   *lc;

		foreach(lc, ((TruncateStmt *) parsetree)->relations)
		{
			RangeVar   *rv = lfirst_node(RangeVar, lc);
			Oid			relid = RangeVarGetRelid(rv, NoLock, true);

			/*
			 * A segment reads as empty through SQL, so TRUNCATE leaves it
			 * alone.  pg_restore -j truncates the segment tables it
			 * created before loading their (empty) data, possibly after
			 * the topic's COPY has filled them (topicdump.c).
			 */
			if (OidIsValid(relid) && is_segment_rel(relid))
				continue;
			if (OidIsValid(relid) && is_eventlog_rel(relid) && !eventlog_rel_is_empty(relid))
				refuse("TRUNCATE", relid);
			keep = lappend(keep, rv);
		}
		if (list_length(keep) != list_length(((TruncateStmt *) parsetree)->relations))
		{
			pstmt = copyObject(pstmt);
			parsetree = pstmt->utilityStmt;
			((TruncateStmt *) parsetree)->relations = keep;
			readOnlyTree = false;
		}
	}

	/*
	 * A topic's columns are its segments' record layout: changing them
	 * (or renaming the relation, which names the topic) would misread
	 * every stored record.  Owner, statistics, triggers and replica
	 * identity may change.
	 */
	if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);

		if (OidIsValid(relid) && is_eventlog_rel(relid))
		{
			ListCell   *lc;

			foreach(lc, stmt->cmds)
			{
				AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

				switch (cmd->subtype)
				{
					case AT_ChangeOwner:
						if (!is_segment_rel(relid))
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
					default:
						refuse_layout_change(relid);
				}
			}
		}
	}
	if ((IsA(parsetree, RenameStmt) &&
		 ((RenameStmt *) parsetree)->relation != NULL &&
		 (((RenameStmt *) parsetree)->renameType == OBJECT_TABLE ||
		  ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN)) ||
		(IsA(parsetree, AlterObjectSchemaStmt) &&
		 ((AlterObjectSchemaStmt *) parsetree)->relation != NULL))
	{
		RangeVar   *rv = IsA(parsetree, RenameStmt) ?
		((RenameStmt *) parsetree)->relation :
		((AlterObjectSchemaStmt *) parsetree)->relation;
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		if (OidIsValid(relid) && is_eventlog_rel(relid))
			refuse_layout_change(relid);
	}

	/*
	 * COPY topic TO writes the export header and log-end markers (elam.c);
	 * COPY topic FROM reads them back (produce.c, topicdump.c).
	 */
	if (IsA(parsetree, CopyStmt) && ((CopyStmt *) parsetree)->relation != NULL)
	{
		CopyStmt   *stmt = (CopyStmt *) parsetree;
		Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);

		if (OidIsValid(relid) && is_topic_rel(relid))
		{
			Oid			save_to = el_copy_to_relid;
			Oid			save_from = el_copy_from_relid;
			bool		save_header = el_copy_to_header;

			if (stmt->is_from)
			{
				el_copy_from_relid = relid;
				if (topic_has_indexes_or_triggers(relid))
				{
					pstmt = copyObject(pstmt);
					readOnlyTree = false;
					skip_export_headers((CopyStmt *) pstmt->utilityStmt);
				}
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
			return;
		}
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
}
