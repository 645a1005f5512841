/*
 * viewdef.c
 *		SQL functions of materialized views: create_view, refresh_view,
 *		rebuild_view, drop_view, and the guard trigger of their tables.
 *
 * create_view checks everything before it creates anything: the kind and
 * the arguments it takes, that each expression is one SQL expression,
 * that the aggregate and the merge statement plan over the topic's
 * columns, and the reducer's signature.  An error leaves nothing behind
 * (the function's transaction rolls back the table and the catalog rows).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "common/keywords.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/queryenvironment.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/tuplestore.h"

#include "eventlog/eventlog.h"
#include "eventlog/fetch.h"
#include "eventlog/sqlargs.h"
#include "eventlog/subxact.h"
#include "eventlog/topic.h"
#include "eventlog/view.h"

/*
 * The SQL scanner's view of an expression's parentheses (string literals,
 * quoted names and comments aside): never more closed than opened, and
 * no semicolon.  Then the parentheses around it in the view's statements
 * enclose all of it.
 */
static bool
parens_balanced(const char *expr)
{
	core_yy_extra_type extra;
	core_yyscan_t scanner = scanner_init(expr, &extra, &ScanKeywords, ScanKeywordTokens);
	core_YYSTYPE val;
	YYLTYPE		loc;
	int			depth = 0;
	int			tok;
	bool		ok = true;

	while ((tok = core_yylex(&val, &loc, scanner)) != 0)
	{
		if (tok == '(' || tok == '[')
			depth++;
		else if (tok == ')' || tok == ']')
			depth--;
		else if (tok == ';')
			ok = false;
		if (depth < 0)
			ok = false;
	}
	scanner_finish(scanner);
	return ok && depth == 0;
}

/*
 * Accept only a single expression: the text is pasted into the view's
 * statements, so it must not close a parenthesis and go on with clauses
 * or statements of its own.
 */
static void
check_expression(const char *what, const char *expr)
{
	List	   *raw;
	RawStmt    *rs;
	SelectStmt *s;
	bool		ok;

	if (expr == NULL)
		return;
	ok = parens_balanced(expr);
	raw = ok ? raw_parser(psprintf("SELECT (%s)", expr), RAW_PARSE_DEFAULT) : NIL;
	ok = ok && list_length(raw) == 1;
	if (ok)
	{
		rs = linitial_node(RawStmt, raw);
		s = (SelectStmt *) rs->stmt;
		ok = IsA(s, SelectStmt) && s->op == SETOP_NONE &&
			list_length(s->targetList) == 1 &&
			((ResTarget *) linitial(s->targetList))->name == NULL &&
			s->fromClause == NIL && s->whereClause == NULL &&
			s->groupClause == NIL && s->havingClause == NULL &&
			s->windowClause == NIL && s->sortClause == NIL &&
			s->limitCount == NULL && s->limitOffset == NULL &&
			s->lockingClause == NIL && s->withClause == NULL &&
			s->distinctClause == NIL && s->intoClause == NULL &&
			s->valuesLists == NIL;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("%s must be a single SQL expression", what),
				 errdetail("The text given was: %s", expr),
				 errhint("Expressions may use the record's columns \"partition\", \"offset\", ts, key, value and headers.")));
}

static void
require_null(FunctionCallInfo fcinfo, int argno, const char *arg, ElViewKind kind)
{
	if (!PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a view of kind %s takes no %s", el_view_kind_name(kind), arg)));
}

static char *
text_arg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * Resolve a view's name as a relation name (schema-qualified or through
 * search_path); the view must exist.
 */
static Oid
resolve_view(text *name, char **schema, char **relname)
{
	RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(text_to_cstring(name)));
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	ElViewDef	def;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("materialized view \"%s\" does not exist", text_to_cstring(name))));
	*schema = get_namespace_name(get_rel_namespace(relid));
	*relname = get_rel_name(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!el_view_load_def(*schema, *relname, &def))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an eventlog materialized view", text_to_cstring(name))));
	SPI_finish();
	return relid;
}

static void
register_empty_batch(TupleDesc desc)
{
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));

	enr->md.name = EL_VIEW_BATCH_NAME;
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = desc;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = 0;
	enr->reldata = tuplestore_begin_heap(false, false, work_mem);
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "SPI_register_relation failed");
}

static void
check_reducer(Oid reducer, Oid rowtype, const char *topic)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(reducer));
	Form_pg_proc f;
	bool		ok;
	AclResult	acl;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", reducer)));
	f = (Form_pg_proc) GETSTRUCT(tup);
	ok = f->prokind == PROKIND_FUNCTION && !f->proretset && f->pronargs == 2 &&
		f->proargtypes.values[0] == JSONBOID &&
		f->proargtypes.values[1] == rowtype && f->prorettype == JSONBOID;
	ReleaseSysCache(tup);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("function %s cannot be the reducer of a view of topic \"%s\"",
						format_procedure(reducer), topic),
				 errdetail("A reducer is a function (state jsonb, rec %s) RETURNS jsonb.",
						   format_type_be_qualified(rowtype))));
	acl = pg_proc_aclcheck(reducer, GetUserId(), ACL_EXECUTE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(reducer));
}

typedef struct PerRecordCheck
{
	const char *sql;
} PerRecordCheck;

static void
prepare_check(void *arg)
{
	if (SPI_prepare(((PerRecordCheck *) arg)->sql, 0, NULL) == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
}

/*
 * Plan an owner's expression where only a per-record expression is
 * accepted: in the WHERE clause of a query over the (empty) batch, which
 * refuses aggregates, window functions and set-returning functions.  The
 * planner's error speaks of that internal query ("not allowed in WHERE",
 * with the query text and a position in it), so it is caught and raised
 * again in the caller's terms: which argument, what is wrong with it.
 * Planned only, never run: run, a pseudo-constant expression becomes a
 * one-time filter evaluated even over the empty batch (an owner's
 * pg_sleep would hold create_view; TAP 033).
 */
static void
check_per_record(StringInfo sql, const char *what, const char *expr)
{
	PerRecordCheck check;
	ErrorData  *edata;

	if (expr == NULL)
		return;
	resetStringInfo(sql);
	appendStringInfo(sql, "SELECT 1 FROM " EL_VIEW_BATCH_NAME " WHERE (%s) IS %s", expr,
					 strcmp(what, "filter") == 0 ? "TRUE" : "NULL");
	check.sql = sql->data;
	edata = el_subxact_run(prepare_check, &check, false);
	if (edata == NULL)
		return;
	if (edata->sqlerrcode == ERRCODE_GROUPING_ERROR ||
		edata->sqlerrcode == ERRCODE_WINDOWING_ERROR ||
		(edata->sqlerrcode == ERRCODE_FEATURE_NOT_SUPPORTED &&
		 strstr(edata->message, "set-returning") != NULL))
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("%s of a materialized view must be computed from one record", what),
				 errdetail("\"%s\" contains an aggregate, a window function or a set-returning function, whose result would depend on how records are batched.",
						   expr),
				 errhint("To aggregate per key, choose kind count, sum, min, max or avg and give expr the per-record value to aggregate.")));
	if (edata->sqlerrcode == ERRCODE_DATATYPE_MISMATCH && strcmp(what, "filter") == 0)
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("filter of a materialized view must be of type boolean"),
				 errhint("Compare or cast, for example (value->>'paid')::boolean.")));
	ereport(ERROR,
			(errcode(edata->sqlerrcode),
			 errmsg("invalid %s of a materialized view: %s", what, edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 errhint("%s", edata->hint ? edata->hint :
					 "Expressions may use the topic's columns (partition, offset, ts, key, value, headers) and functions the view's owner may execute.")));
}

typedef struct ResultTypeQuery
{
	const char *sql;
	char	   *type;
} ResultTypeQuery;

static void
run_result_type(void *arg)
{
	ResultTypeQuery *q = (ResultTypeQuery *) arg;
	int			ret = SPI_execute(q->sql, true, 0);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
	q->type = format_type_be_qualified(SPI_gettypeid(SPI_tuptable->tupdesc, 1));
}

/*
 * The type of the first column of a query over the empty batch: the
 * aggregate of a kind over expr.  An expr the aggregate does not take
 * (sum of text) is reported in the caller's terms, not as the internal
 * query's error.
 */
static char *
result_type(const char *sql, const char *kind, const char *expr)
{
	ResultTypeQuery q;
	ErrorData  *edata;
	MemoryContext cxt = CurrentMemoryContext;

	q.sql = sql;
	q.type = NULL;
	edata = el_subxact_run(run_result_type, &q, false);
	if (edata != NULL)
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("a materialized view of kind %s cannot aggregate expr \"%s\": %s",
						kind, expr ? expr : "*", edata->message),
				 errhint("Cast expr to a type the aggregate takes, for example (value->>'amount')::numeric.")));
	return MemoryContextStrdup(cxt, q.type);
}

/*
 * eventlog.create_view(view_name, topic, kind, expr, group_by, filter,
 * reducer, initial)
 */
PG_FUNCTION_INFO_V1(eventlog_create_view);
Datum
eventlog_create_view(PG_FUNCTION_ARGS)
{
	char	   *view_name;
	char	   *kindstr;
	ElViewKind	kind;
	ElViewDef	def;
	ElTopic    *topic;
	RangeVar   *rv;
	Oid			nsp;
	char	   *qualname;
	TupleDesc	recdesc;
	StringInfoData sql;
	Datum		values[9];
	char		nulls[9];
	char	   *sum_type = NULL;
	ElCatalogOwner catowner;
	bool		busy;
	int			p;
	int			guclevel;

	el_require_args(fcinfo, 3, "view_name, topic and kind");
	view_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	kindstr = text_to_cstring(PG_GETARG_TEXT_PP(2));
	kind = el_view_kind(kindstr);

	memset(&def, 0, sizeof(def));
	def.kind = kind;
	def.expr = text_arg(fcinfo, 3);
	def.group_by = text_arg(fcinfo, 4);
	def.filter = text_arg(fcinfo, 5);
	def.reducer = PG_ARGISNULL(6) ? InvalidOid : PG_GETARG_OID(6);
	def.initial_null = PG_ARGISNULL(7);
	def.initial = def.initial_null ? (Datum) 0 : PG_GETARG_DATUM(7);
	switch (kind)
	{
		case EL_VIEW_LATEST:
			require_null(fcinfo, 3, "expr", kind);
			require_null(fcinfo, 4, "group_by", kind);
			/* FALLTHROUGH */
		case EL_VIEW_COUNT:
		case EL_VIEW_SUM:
		case EL_VIEW_MIN:
		case EL_VIEW_MAX:
		case EL_VIEW_AVG:
			require_null(fcinfo, 6, "reducer", kind);
			require_null(fcinfo, 7, "initial", kind);
			if (kind != EL_VIEW_LATEST && kind != EL_VIEW_COUNT && def.expr == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("a view of kind %s needs an expr", kindstr),
						 errhint("For example expr => '(value->>''amount'')::numeric'.")));
			break;
		case EL_VIEW_REDUCE:
			require_null(fcinfo, 3, "expr", kind);
			if (!OidIsValid(def.reducer))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("a view of kind reduce needs a reducer"),
						 errhint("A reducer is a function (state jsonb, rec eventlog_topics.<topic>) RETURNS jsonb.")));
			break;
	}

	/*
	 * Expressions are read as every apply reads them (viewapply.c), with
	 * standard_conforming_strings on: a backslash in a string literal must
	 * not end it here and not there.
	 */
	guclevel = NewGUCNestLevel();
	(void) set_config_option("standard_conforming_strings", "on", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	check_expression("expr", def.expr);
	check_expression("group_by", def.group_by);
	check_expression("filter", def.filter);

	topic = el_topic_open(PG_GETARG_TEXT_PP(1), AccessShareLock, NULL);
	el_check_read_privilege(topic);
	def.topic = pstrdup(NameStr(topic->name));

	rv = makeRangeVarFromNameList(stringToQualifiedNameList(view_name));
	if (rv->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a materialized view cannot be a temporary table")));
	nsp = RangeVarGetCreationNamespace(rv);
	if (isAnyTempNamespace(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a materialized view cannot be a temporary table")));
	def.schema = get_namespace_name(nsp);
	def.name = pstrdup(rv->relname);
	if (strlen(def.name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("view name \"%s\" is too long", def.name),
				 errdetail("A view's table name has at most %d bytes.", NAMEDATALEN - 1)));
	if (strcmp(def.schema, EL_SCHEMA) == 0 || strcmp(def.schema, EL_TOPICS_SCHEMA) == 0 ||
		strcmp(def.schema, "eventlog_segments") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_SCHEMA_NAME),
				 errmsg("a materialized view cannot be created in schema \"%s\"", def.schema),
				 errhint("Name a schema of your own, as for CREATE TABLE.")));
	if (OidIsValid(get_relname_relid(def.name, nsp)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", view_name),
				 errhint("A materialized view creates a table of its own; choose another name.")));
	if (kind == EL_VIEW_REDUCE)
		check_reducer(def.reducer, get_rel_type_id(topic->relid), def.topic);
	def.search_path = pstrdup(GetConfigOption("search_path", false, false));
	{
		static const char *const pinned[] = {EL_VIEW_PINNED_SETTINGS};
		StringInfoData settings;
		int			i;

		initStringInfo(&settings);
		for (i = 0; i < lengthof(pinned); i++)
			appendStringInfo(&settings, "%s%s=%s", i > 0 ? "\n" : "", pinned[i],
							 GetConfigOption(pinned[i], false, false));
		def.settings = settings.data;
	}
	qualname = quote_qualified_identifier(def.schema, def.name);
	recdesc = lookup_rowtype_tupdesc_copy(get_rel_type_id(topic->relid), -1);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	register_empty_batch(recdesc);

	/*
	 * An expression is computed per record: an aggregate, a window function
	 * or a set-returning function would make a value depend on how the
	 * records were cut into batches (or multiply them).  Where a WHERE
	 * clause refuses them, with PostgreSQL's own message.
	 */
	initStringInfo(&sql);
	check_per_record(&sql, "expr", def.expr);
	check_per_record(&sql, "group_by", def.group_by);
	check_per_record(&sql, "filter", def.filter);

	/* the value column's type: the aggregate's over the topic's columns */
	resetStringInfo(&sql);
	if (kind != EL_VIEW_LATEST && kind != EL_VIEW_REDUCE)
	{
		const char *agg = kind == EL_VIEW_COUNT ? (def.expr ? "count(eventlog_x)" : "count(*)") :
			kind == EL_VIEW_SUM ? "sum(eventlog_x)" :
			kind == EL_VIEW_MIN ? "min(eventlog_x)" :
			kind == EL_VIEW_MAX ? "max(eventlog_x)" : "avg(eventlog_x)";

		appendStringInfo(&sql, "SELECT pg_catalog.%s FROM (SELECT (%s)::pg_catalog.text AS eventlog_g",
						 agg, def.group_by ? def.group_by : "key");
		if (def.expr)
			appendStringInfo(&sql, ", (%s) AS eventlog_x", def.expr);
		appendStringInfo(&sql, " FROM " EL_VIEW_BATCH_NAME " WHERE (%s) IS TRUE) s GROUP BY eventlog_g",
						 def.filter ? def.filter : "true");
		def.value_type = result_type(sql.data, el_view_kind_name(kind), def.expr);
		if (kind == EL_VIEW_AVG)
		{
			char	   *s = strstr(sql.data, "avg(eventlog_x)");

			memcpy(s, "sum", 3);
			sum_type = result_type(sql.data, el_view_kind_name(kind), def.expr);
		}
	}

	resetStringInfo(&sql);
	switch (kind)
	{
		case EL_VIEW_LATEST:
			appendStringInfo(&sql, "CREATE TABLE %s (key pg_catalog.text PRIMARY KEY, value pg_catalog.jsonb,"
							 " \"partition\" pg_catalog.int4, \"offset\" pg_catalog.int8,"
							 " ts pg_catalog.timestamptz)", qualname);
			break;
		case EL_VIEW_REDUCE:
			appendStringInfo(&sql, "CREATE TABLE %s (key pg_catalog.text PRIMARY KEY, state pg_catalog.jsonb)",
							 qualname);
			break;
		case EL_VIEW_AVG:
			appendStringInfo(&sql, "CREATE TABLE %s (key pg_catalog.text PRIMARY KEY, value %s,"
							 " sum %s, count pg_catalog.int8 NOT NULL)",
							 qualname, def.value_type, sum_type);
			break;
		default:
			appendStringInfo(&sql, "CREATE TABLE %s (key pg_catalog.text PRIMARY KEY, value %s)",
							 qualname, def.value_type);
			break;
	}
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create the table of view %s", qualname);
	resetStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TRIGGER eventlog_view_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE"
					 " ON %s FOR EACH STATEMENT EXECUTE FUNCTION eventlog.view_guard()", qualname);
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create the guard trigger of view %s", qualname);
	CommandCounterIncrement();

	/* plan the merge statement(s) now: their errors belong to create_view */
	{
		char	   *apply = el_view_apply_sql(&def, qualname);

		if (SPI_prepare(apply, 0, NULL) == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	}

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(def.schema));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(def.name));
	values[2] = CStringGetTextDatum(def.topic);
	values[3] = CStringGetTextDatum(el_view_kind_name(kind));
	memset(nulls, ' ', sizeof(nulls));
	values[4] = def.expr ? CStringGetTextDatum(def.expr) : (Datum) 0;
	nulls[4] = def.expr ? ' ' : 'n';
	values[5] = def.group_by ? CStringGetTextDatum(def.group_by) : (Datum) 0;
	nulls[5] = def.group_by ? ' ' : 'n';
	values[6] = def.filter ? CStringGetTextDatum(def.filter) : (Datum) 0;
	nulls[6] = def.filter ? ' ' : 'n';
	/* by identity, not oid: see view_def.reducer in the extension script */
	values[7] = OidIsValid(def.reducer) ?
		CStringGetTextDatum(format_procedure_qualified(def.reducer)) : (Datum) 0;
	nulls[7] = OidIsValid(def.reducer) ? ' ' : 'n';
	values[8] = def.initial;
	nulls[8] = def.initial_null ? 'n' : ' ';
	el_catalog_owner_begin(&catowner);
	el_spi_exec("INSERT INTO eventlog.view_def (view_schema, view_name, topic, kind, expr,"
				" group_by, filter, reducer, initial, value_type, search_path, settings)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
				" pg_catalog.string_to_array($12, E'\\n'))",
				12,
				(Oid[]) {NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
					TEXTOID, JSONBOID, TEXTOID, TEXTOID, TEXTOID},
				(Datum[]) {values[0], values[1], values[2], values[3], values[4], values[5],
					values[6], values[7], values[8],
					def.value_type ? CStringGetTextDatum(def.value_type) : (Datum) 0,
				CStringGetTextDatum(def.search_path), CStringGetTextDatum(def.settings)},
				(char[]) {nulls[0], nulls[1], nulls[2], nulls[3], nulls[4], nulls[5], nulls[6],
					nulls[7], nulls[8], def.value_type ? ' ' : 'n', ' ', ' '},
				SPI_OK_INSERT);
	/* positions: each partition's log start, as a new consumer's earliest */
	for (p = 0; p < topic->nparts; p++)
		el_spi_exec("INSERT INTO eventlog.view_position (view_schema, view_name, \"partition\", next_offset)"
					" VALUES ($1, $2, $3, $4)", 4,
					(Oid[]) {NAMEOID, NAMEOID, INT4OID, INT8OID},
					(Datum[]) {values[0], values[1], Int32GetDatum(p),
					Int64GetDatum(el_partition_log_start(&topic->parts[p]))},
					NULL, SPI_OK_INSERT);
	el_catalog_owner_end(&catowner);
	SPI_unregister_relation(EL_VIEW_BATCH_NAME);
	SPI_finish();

	/* populate it from what the topic holds, as CREATE MATERIALIZED VIEW */
	CommandCounterIncrement();
	(void) el_view_refresh(def.schema, def.name, true, false, 0, &busy);
	AtEOXact_GUC(false, guclevel);
	el_view_created_in_xact = true;
	PG_RETURN_VOID();
}

/*
 * eventlog.refresh_view(view_name): catch up now; any role that may read
 * the view's table may ask (the records are applied as its owner).
 */
PG_FUNCTION_INFO_V1(eventlog_refresh_view);
Datum
eventlog_refresh_view(PG_FUNCTION_ARGS)
{
	char	   *schema;
	char	   *name;
	Oid			relid;
	bool		busy;
	AclResult	acl;

	el_require_args(fcinfo, 1, "view_name");
	relid = resolve_view(PG_GETARG_TEXT_PP(0), &schema, &name);
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, name);
	PG_RETURN_INT64(el_view_refresh(schema, name, true, false, 0, &busy));
}

/* eventlog.rebuild_view(view_name): the owner's */
PG_FUNCTION_INFO_V1(eventlog_rebuild_view);
Datum
eventlog_rebuild_view(PG_FUNCTION_ARGS)
{
	char	   *schema;
	char	   *name;
	Oid			relid;
	bool		busy;

	el_require_args(fcinfo, 1, "view_name");
	relid = resolve_view(PG_GETARG_TEXT_PP(0), &schema, &name);
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, name);
	PG_RETURN_INT64(el_view_refresh(schema, name, true, true, 0, &busy));
}

/* eventlog.drop_view(view_name): the owner's, as DROP TABLE */
PG_FUNCTION_INFO_V1(eventlog_drop_view);
Datum
eventlog_drop_view(PG_FUNCTION_ARGS)
{
	char	   *schema;
	char	   *name;
	Oid			relid;
	ElCatalogOwner catowner;
	Datum		values[2];

	el_require_args(fcinfo, 1, "view_name");
	relid = resolve_view(PG_GETARG_TEXT_PP(0), &schema, &name);
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, name);
	/* wait for a writer of the view to finish */
	LockRelationOid(relid, AccessExclusiveLock);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(schema));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(name));
	el_catalog_owner_begin(&catowner);
	el_spi_exec("DELETE FROM eventlog.view_position WHERE view_schema = $1 AND view_name = $2",
				2, (Oid[]) {NAMEOID, NAMEOID}, values, NULL, SPI_OK_DELETE);
	el_spi_exec("DELETE FROM eventlog.view_def WHERE view_schema = $1 AND view_name = $2",
				2, (Oid[]) {NAMEOID, NAMEOID}, values, NULL, SPI_OK_DELETE);
	el_catalog_owner_end(&catowner);
	if (SPI_execute(psprintf("DROP TABLE %s", quote_qualified_identifier(schema, name)),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not drop the table of view %s.%s", schema, name);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * Statement trigger on every view's table: refuses writes (INSERT, UPDATE,
 * DELETE, TRUNCATE, COPY FROM, MERGE), the owner's too, except the
 * maintainer's own statements on that very table.
 */
PG_FUNCTION_INFO_V1(eventlog_view_guard);
Datum
eventlog_view_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const char *op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("eventlog.view_guard() must be called as a trigger")));
	if (OidIsValid(el_view_applying_relid) &&
		RelationGetRelid(td->tg_relation) == el_view_applying_relid &&
		ActiveSnapshotSet() && GetActiveSnapshot()->curcid == el_view_applying_cid)
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		op = "INSERT";
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		op = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		op = "DELETE";
	else
		op = "TRUNCATE";
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("cannot %s table \"%s\" of an eventlog materialized view", op,
					RelationGetRelationName(td->tg_relation)),
			 errdetail("Only pg_eventlog's maintenance writes to a view's table, also not its owner."),
			 errhint("Use eventlog.refresh_view() or eventlog.rebuild_view(); eventlog.drop_view() drops it.")));
	return PointerGetDatum(NULL);
}
