/*
 * viewapply.c
 *		Keeping materialized views current: reading a topic from a view's
 *		positions and applying the records to its table in set-based
 *		batches, and the database worker's pass over all views.
 *
 * A batch is read with fetch's reader (el_read_partition), so it never
 * passes a partition's stable offset: a record whose transaction commits
 * later than records behind it is read by a later batch, never skipped.
 * The batch becomes an ephemeral named relation (as a trigger's transition
 * table) that one INSERT ... ON CONFLICT statement merges into the table;
 * the positions are written in the same transaction.  An object lock per
 * view (taken conditionally by the worker) keeps one writer at a time.
 *
 * User expressions, filters and reducers run as the view's owner, in a
 * security-restricted operation with the search_path of create_view, as
 * REFRESH MATERIALIZED VIEW runs a view's query.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/queryenvironment.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/tuplestore.h"

#include "eventlog/eventlog.h"
#include "eventlog/fetch.h"
#include "eventlog/quota.h"
#include "eventlog/subxact.h"
#include "eventlog/topic.h"
#include "eventlog/view.h"

Oid			el_view_applying_relid = InvalidOid;
int			el_view_turn_timeout = 60000;
CommandId	el_view_applying_cid = InvalidCommandId;

/* a batch is being applied: code of a view's owner may be running */
static bool applying = false;

/* this transaction created a view (see el_view_created) */
bool		el_view_created_in_xact = false;

/* records read per partition and batch: bounds a batch's memory */
#define EL_VIEW_PART_BATCH	5000
/* objsubid of a view's writer lock (an object lock on its pg_class row) */
#define EL_VIEW_LOCK_SUBID	0x454c

static const char *const kind_names[] = {
	"latest", "count", "sum", "min", "max", "avg", "reduce"
};

ElViewKind
el_view_kind(const char *kind)
{
	int			i;

	for (i = 0; i < lengthof(kind_names); i++)
		if (strcmp(kind, kind_names[i]) == 0)
			return (ElViewKind) i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown view kind \"%s\"", kind),
			 errhint("The kinds are latest, count, sum, min, max, avg and reduce.")));
	return EL_VIEW_LATEST;		/* keep compiler quiet */
}

const char *
el_view_kind_name(ElViewKind kind)
{
	return kind_names[kind];
}

/*
 * The rows of one batch that a view takes into account, with its group
 * (eventlog_g) and, for aggregates, the aggregated value (eventlog_x).
 * User expressions are evaluated here, with only the batch in scope.
 */
static void
append_source(StringInfo sql, ElViewDef *def, bool all_columns)
{
	appendStringInfo(sql, "(SELECT (%s)::pg_catalog.text AS eventlog_g",
					 def->group_by ? def->group_by : "key");
	if (def->expr)
		appendStringInfo(sql, ", (%s) AS eventlog_x", def->expr);
	if (all_columns)
		appendStringInfoString(sql, ", \"partition\", \"offset\", ts, key, value, headers");
	appendStringInfo(sql, " FROM " EL_VIEW_BATCH_NAME " WHERE (%s) IS TRUE) s",
					 def->filter ? def->filter : "true");
}

/*
 * The statement that merges a batch into the view's table (for reduce:
 * the query whose rows the reducer folds; see apply_reduce).
 */
char *
el_view_apply_sql(ElViewDef *def, const char *v)
{
	StringInfoData sql;
	const char *agg = NULL;

	initStringInfo(&sql);
	switch (def->kind)
	{
		case EL_VIEW_LATEST:

			/*
			 * The batch's last record of each key wins; a tombstone deletes.
			 * The DELETE and the INSERT touch different keys.
			 */
			appendStringInfo(&sql,
							 "WITH b AS (SELECT DISTINCT ON (key) key, value, \"partition\", \"offset\", ts"
							 " FROM " EL_VIEW_BATCH_NAME
							 " WHERE key IS NOT NULL AND (%s) IS TRUE"
							 " ORDER BY key, \"offset\" DESC, \"partition\" DESC),"
							 " d AS (DELETE FROM %s v USING b WHERE b.value IS NULL AND v.key = b.key)"
							 " INSERT INTO %s AS v (key, value, \"partition\", \"offset\", ts)"
							 " SELECT key, value, \"partition\", \"offset\", ts FROM b WHERE value IS NOT NULL"
							 " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
							 " \"partition\" = excluded.\"partition\", \"offset\" = excluded.\"offset\","
							 " ts = excluded.ts",
							 def->filter ? def->filter : "true", v, v);
			break;
		case EL_VIEW_COUNT:
			agg = def->expr ? "pg_catalog.count(eventlog_x)" : "pg_catalog.count(*)";
			appendStringInfo(&sql, "INSERT INTO %s AS v (key, value) SELECT eventlog_g, %s FROM ",
							 v, agg);
			append_source(&sql, def, false);
			appendStringInfoString(&sql, " WHERE eventlog_g IS NOT NULL GROUP BY eventlog_g"
								   " ON CONFLICT (key) DO UPDATE SET value = v.value + excluded.value");
			break;
		case EL_VIEW_SUM:
			appendStringInfo(&sql, "INSERT INTO %s AS v (key, value) SELECT eventlog_g, pg_catalog.sum(eventlog_x) FROM ", v);
			append_source(&sql, def, false);
			appendStringInfoString(&sql, " WHERE eventlog_g IS NOT NULL GROUP BY eventlog_g"
								   " ON CONFLICT (key) DO UPDATE SET value = CASE"
								   " WHEN v.value IS NULL THEN excluded.value"
								   " WHEN excluded.value IS NULL THEN v.value"
								   " ELSE v.value + excluded.value END");
			break;
		case EL_VIEW_MIN:
		case EL_VIEW_MAX:
			appendStringInfo(&sql, "INSERT INTO %s AS v (key, value) SELECT eventlog_g, pg_catalog.%s(eventlog_x) FROM ",
							 v, def->kind == EL_VIEW_MIN ? "min" : "max");
			append_source(&sql, def, false);
			/* LEAST and GREATEST ignore NULLs, as min and max do */
			appendStringInfo(&sql, " WHERE eventlog_g IS NOT NULL GROUP BY eventlog_g"
							 " ON CONFLICT (key) DO UPDATE SET value = %s(v.value, excluded.value)",
							 def->kind == EL_VIEW_MIN ? "LEAST" : "GREATEST");
			break;
		case EL_VIEW_AVG:
			{
				const char *s = "CASE WHEN v.sum IS NULL THEN excluded.sum"
					" WHEN excluded.sum IS NULL THEN v.sum ELSE v.sum + excluded.sum END";
				const char *c = "(v.count + excluded.count)";

				/*
				 * avg's own final functions divide the sum by the count: the
				 * same division on the merged sum and count gives the same
				 * value (floating point sums aside, see the README).
				 */
				appendStringInfo(&sql, "INSERT INTO %s AS v (key, value, sum, count)"
								 " SELECT eventlog_g, pg_catalog.avg(eventlog_x), pg_catalog.sum(eventlog_x),"
								 " pg_catalog.count(eventlog_x) FROM ", v);
				append_source(&sql, def, false);
				appendStringInfo(&sql, " WHERE eventlog_g IS NOT NULL GROUP BY eventlog_g"
								 " ON CONFLICT (key) DO UPDATE SET sum = %s, count = %s, value = ",
								 s, c);
				if (strcmp(def->value_type, "interval") == 0)
					appendStringInfo(&sql, "(%s) / NULLIF(%s, 0::pg_catalog.int8)::float8", s, c);
				else
					appendStringInfo(&sql, "(%s)::%s / NULLIF(%s, 0::pg_catalog.int8)::%s",
									 s, def->value_type, c, def->value_type);
				break;
			}
		case EL_VIEW_REDUCE:
			appendStringInfoString(&sql, "SELECT s.eventlog_g, v.state, v.key IS NOT NULL,"
								   " s.\"partition\", s.\"offset\", s.ts, s.key, s.value, s.headers FROM ");
			append_source(&sql, def, true);
			appendStringInfo(&sql, " LEFT JOIN %s v ON v.key = s.eventlog_g"
							 " WHERE s.eventlog_g IS NOT NULL"
							 " ORDER BY s.eventlog_g, s.\"offset\", s.\"partition\"", v);
			break;
	}
	return sql.data;
}

/* Run a statement of the catalog owner; returns SPI_processed. */
static uint64
catalog_exec(const char *sql, int nargs, Oid *types, Datum *values,
			 const char *nulls, int expected)
{
	ElCatalogOwner catowner;
	int			ret;

	el_catalog_owner_begin(&catowner);
	ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	el_catalog_owner_end(&catowner);
	if (ret != expected)
		elog(ERROR, "SPI_execute failed for \"%s\": %s", sql, SPI_result_code_string(ret));
	return SPI_processed;
}

static char *
getstr(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *s = SPI_getvalue(tup, desc, col);

	return s;
}

/*
 * Read a view's definition (inside SPI); false if there is none.
 */
bool
el_view_load_def(const char *schema, const char *name, ElViewDef *def)
{
	Oid			types[2] = {NAMEOID, NAMEOID};
	Datum		values[2];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(schema));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(name));
	/*
	 * reducer::text: also while the catalog is 0.1's (regprocedure, before
	 * ALTER EXTENSION UPDATE), whose text form resolves back the same way
	 */
	if (catalog_exec("SELECT topic, kind, expr, group_by, filter,"
					 " pg_catalog.to_regprocedure(reducer::pg_catalog.text)::pg_catalog.oid, initial,"
					 " value_type, search_path, last_error IS NOT NULL,"
					 " pg_catalog.array_to_string(settings, E'\\n')"
					 " FROM eventlog.view_def WHERE view_schema = $1 AND view_name = $2",
					 2, types, values, NULL, SPI_OK_SELECT) == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	memset(def, 0, sizeof(*def));
	def->schema = pstrdup(schema);
	def->name = pstrdup(name);
	def->topic = getstr(tup, desc, 1);
	def->kind = el_view_kind(getstr(tup, desc, 2));
	def->expr = getstr(tup, desc, 3);
	def->group_by = getstr(tup, desc, 4);
	def->filter = getstr(tup, desc, 5);
	def->reducer = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
	if (isnull)
		def->reducer = InvalidOid;
	def->initial = SPI_getbinval(tup, desc, 7, &def->initial_null);
	if (!def->initial_null)
		def->initial = PointerGetDatum(PG_DETOAST_DATUM_COPY(def->initial));
	def->value_type = getstr(tup, desc, 8);
	def->search_path = getstr(tup, desc, 9);
	def->has_error = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
	def->settings = getstr(tup, desc, 11);
	return true;
}

static void
register_tuplestore(const char *name, TupleDesc desc, Tuplestorestate *ts, int64 n)
{
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));
	MemoryContext old;
	int			ret;

	enr->md.name = pstrdup(name);
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = desc;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = n;
	enr->reldata = ts;

	/*
	 * SPI allocates its query environment (once) and the list of relations
	 * in the current context, here a batch's: they must outlive the batch.
	 */
	old = MemoryContextSwitchTo(CurTransactionContext);
	ret = SPI_register_relation(enr);
	MemoryContextSwitchTo(old);
	if (ret != SPI_OK_REL_REGISTER)
		elog(ERROR, "SPI_register_relation failed: %s", SPI_result_code_string(ret));
}

typedef struct ApplyState
{
	ElViewDef  *def;
	Oid			relid;
	Oid			owner;
	char	   *qualname;
	char	   *sql;			/* el_view_apply_sql() */
	char	   *states_sql;		/* reduce: writes the folded states */
	TupleDesc	recdesc;		/* the topic's row type */
	TupleDesc	statedesc;		/* reduce: (key text, state jsonb) */
	FmgrInfo	reducer;
	/* the role that asked (refresh_view's caller) may not read the topic */
	bool		redact;
	char	   *caller_name;	/* for the redacted error */
} ApplyState;

/* one group's folded state, as a row of the states tuplestore */
static void
put_state(ApplyState *st, Tuplestorestate *states, const char *key,
		  Datum state, bool state_null)
{
	Datum		values[2] = {CStringGetTextDatum(key), state};
	bool		nulls[2] = {false, state_null};

	tuplestore_putvalues(states, st->statedesc, values, nulls);
}

/*
 * Run one of the maintainer's own writes to a view's table.  The guard
 * lets through only the statement run here, recognized by its table and
 * by its command id: a write that the owner's code (an expression, a
 * reducer, a trigger of the table) runs while it is under way runs with a
 * later command id, and is refused as any other write.
 */
static int
exec_own_write(Oid relid, const char *sql)
{
	int			ret;

	/*
	 * SPI advances the command counter before a statement that writes; once
	 * the current command id counts as used, that gives the next one.
	 */
	(void) GetCurrentCommandId(true);
	el_view_applying_cid = GetCurrentCommandId(false) + 1;
	el_view_applying_relid = relid;
	PG_TRY();
	{
		ret = SPI_execute(sql, false, 0);
	}
	PG_FINALLY();
	{
		el_view_applying_relid = InvalidOid;
		el_view_applying_cid = InvalidCommandId;
	}
	PG_END_TRY();
	return ret;
}

/*
 * Fold the batch's records into each group's state, in offset order, and
 * write the states with one statement.  A NULL state deletes the group's
 * row; its next record starts again from the initial state.
 */
static void
apply_reduce(ApplyState *st)
{
	SPITupleTable *tt;
	Tuplestorestate *states;
	char	   *cur = NULL;
	Datum		state = (Datum) 0;
	bool		state_null = true;
	int64		ngroups = 0;
	uint64		i;
	int			ret;
	MemoryContext foldcxt;

	if (pg_proc_aclcheck(st->def->reducer, st->owner, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s",
						format_procedure(st->def->reducer)),
				 errdetail("The reducer runs as the view's owner, who must have EXECUTE on it.")));
	foldcxt = AllocSetContextCreate(CurrentMemoryContext, "eventlog view fold",
									ALLOCSET_DEFAULT_SIZES);
	ret = SPI_execute(st->sql, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
	tt = SPI_tuptable;

	/*
	 * SPI leaves us in its procedure context, which lives as long as the
	 * whole refresh: the fold's per-record memory goes to a context of
	 * this batch instead.
	 */
	MemoryContextSwitchTo(foldcxt);
	states = tuplestore_begin_heap(false, false, work_mem);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = tt->vals[i];
		Datum		rv[6];
		bool		rn[6];
		HeapTuple	rec;
		bool		isnull;
		char	   *g = TextDatumGetCString(SPI_getbinval(tup, tt->tupdesc, 1, &isnull));
		int			c;
		LOCAL_FCINFO(fcinfo, 2);

		if (cur == NULL || strcmp(cur, g) != 0)
		{
			if (cur != NULL)
			{
				put_state(st, states, cur, state, state_null);
				ngroups++;
			}
			cur = g;
			if (DatumGetBool(SPI_getbinval(tup, tt->tupdesc, 3, &isnull)))
				state = SPI_getbinval(tup, tt->tupdesc, 2, &state_null);
			else
			{
				state = st->def->initial;
				state_null = st->def->initial_null;
			}
		}
		else if (state_null)
		{
			state = st->def->initial;
			state_null = st->def->initial_null;
		}
		for (c = 0; c < 6; c++)
			rv[c] = SPI_getbinval(tup, tt->tupdesc, 4 + c, &rn[c]);
		rec = heap_form_tuple(st->recdesc, rv, rn);

		InitFunctionCallInfoData(*fcinfo, &st->reducer, 2, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = state;
		fcinfo->args[0].isnull = state_null;
		fcinfo->args[1].value = heap_copy_tuple_as_datum(rec, st->recdesc);
		fcinfo->args[1].isnull = false;
		if (st->reducer.fn_strict && state_null)
			state_null = true;
		else
		{
			state = FunctionCallInvoke(fcinfo);
			state_null = fcinfo->isnull;
			if (!state_null)
				state = PointerGetDatum(PG_DETOAST_DATUM_COPY(state));
		}
	}
	if (cur != NULL)
	{
		put_state(st, states, cur, state, state_null);
		ngroups++;
	}
	SPI_freetuptable(tt);
	register_tuplestore(EL_VIEW_STATES_NAME, st->statedesc, states, ngroups);
	ret = exec_own_write(st->relid, st->states_sql);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
	SPI_unregister_relation(EL_VIEW_STATES_NAME);
	tuplestore_end(states);
	MemoryContextDelete(foldcxt);
}

/*
 * Everything that can run code of the view's owner (its expressions, its
 * reducer, triggers, index expressions and defaults of its table) runs as
 * the owner, in a security-restricted operation, with the search_path of
 * create_view: never with the rights of the worker or of the caller.
 */
typedef struct OwnerContext
{
	Oid			save_userid;
	int			save_sec;
	int			level;
} OwnerContext;

static void
owner_begin(ApplyState *st, OwnerContext *oc)
{
	GetUserIdAndSecContext(&oc->save_userid, &oc->save_sec);
	SetUserIdAndSecContext(st->owner, oc->save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	oc->level = NewGUCNestLevel();

	/*
	 * pg_temp last: left implicit, it would be searched first for tables,
	 * and the temporary tables of whoever calls refresh_view would stand
	 * in for the ones the owner's expressions name.
	 */
	(void) set_config_option("search_path",
							 psprintf("%s, pg_temp", st->def->search_path),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/* string literals read as create_view read them */
	(void) set_config_option("standard_conforming_strings", "on", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	/*
	 * Values computed as at create_view: a role that may read the table
	 * and calls refresh_view with, say, another TimeZone must not change
	 * the groups or values the records go to.
	 */
	if (st->def->settings != NULL)
	{
		char	   *line = pstrdup(st->def->settings);

		while (line != NULL && *line != '\0')
		{
			char	   *nl = strchr(line, '\n');
			char	   *eq;

			if (nl != NULL)
				*nl = '\0';
			eq = strchr(line, '=');
			if (eq != NULL)
			{
				*eq = '\0';

				/*
				 * A value this server does not know (a locale, after a
				 * restore elsewhere) must not stop the view for good.
				 */
				(void) set_config_option(line, eq + 1, PGC_USERSET, PGC_S_SESSION,
										 GUC_ACTION_SAVE, true, WARNING, false);
			}
			line = nl != NULL ? nl + 1 : NULL;
		}
	}
}

static void
owner_end(OwnerContext *oc)
{
	/*
	 * Undo every setting the owner's code changed, a plain SET too (as
	 * REFRESH MATERIALIZED VIEW does): they must not reach the session that
	 * refreshes, nor the worker that applies other owners' views next.
	 */
	AtEOXact_GUC(false, oc->level);
	SetUserIdAndSecContext(oc->save_userid, oc->save_sec);
}

/*
 * An error raised while a batch is applied (a cast that fails on a value,
 * a constraint of the table, an expression's own error) may quote the
 * records: its message, detail and context reach whoever called
 * refresh_view, who may read the view's table but not the topic.  For such
 * a caller the error is replaced by one that keeps only its SQLSTATE, as
 * eventlog.views shows last_error only to roles that may read the topic.
 * Everything that names no record (a cancel, a lock or serialization
 * failure) is raised as it is.  In PG_CATCH: no catalog access here.
 */
static void
redact_apply_error(ApplyState *st)
{
	int			code = geterrcode();

	if (code == ERRCODE_QUERY_CANCELED || code == ERRCODE_LOCK_NOT_AVAILABLE ||
		code == ERRCODE_T_R_DEADLOCK_DETECTED || code == ERRCODE_T_R_SERIALIZATION_FAILURE ||
		code == ERRCODE_ADMIN_SHUTDOWN || code == ERRCODE_OUT_OF_MEMORY)
		return;
	FlushErrorState();
	ereport(ERROR,
			(errcode(code),
			 errmsg("could not apply records of topic \"%s\" to materialized view %s",
					st->def->topic, st->qualname),
			 errdetail("The error may quote records of the topic, which role \"%s\" may not read.",
					   st->caller_name),
			 errhint("A role that may read the topic sees the error when it calls eventlog.refresh_view(), and in eventlog.views when the maintenance worker meets it.")));
}

/*
 * Apply one batch as the view's owner.
 */
static void
apply_batch(ApplyState *st, Tuplestorestate *batch, int64 n)
{
	OwnerContext oc;

	register_tuplestore(EL_VIEW_BATCH_NAME, st->recdesc, batch, n);
	owner_begin(st, &oc);
	applying = true;
	PG_TRY();
	{
		if (st->def->kind == EL_VIEW_REDUCE)
			apply_reduce(st);
		else
		{
			int			ret = exec_own_write(st->relid, st->sql);

			if (ret != SPI_OK_INSERT)
				elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
		}
	}
	PG_CATCH();
	{
		applying = false;
		if (st->redact)
			redact_apply_error(st);
		PG_RE_THROW();
	}
	PG_END_TRY();
	applying = false;
	owner_end(&oc);
	SPI_unregister_relation(EL_VIEW_BATCH_NAME);
}

static void
write_positions(ElViewDef *def, int nparts, int64 *pos, int64 *skipped)
{
	Oid			types[5] = {NAMEOID, NAMEOID, INT4ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[5];
	Datum	   *parts = palloc(sizeof(Datum) * nparts);
	Datum	   *pd = palloc(sizeof(Datum) * nparts);
	Datum	   *sd = palloc(sizeof(Datum) * nparts);
	int			p;

	for (p = 0; p < nparts; p++)
	{
		parts[p] = Int32GetDatum(p);
		pd[p] = Int64GetDatum(pos[p]);
		sd[p] = Int64GetDatum(skipped[p]);
	}
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(def->schema));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(def->name));
	values[2] = PointerGetDatum(construct_array(parts, nparts, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(pd, nparts, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = PointerGetDatum(construct_array(sd, nparts, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	(void) catalog_exec("INSERT INTO eventlog.view_position AS p"
						" (view_schema, view_name, \"partition\", next_offset, skipped)"
						" SELECT $1, $2, u.p, u.o, u.s FROM unnest($3, $4, $5) AS u(p, o, s)"
						" ON CONFLICT (view_schema, view_name, \"partition\") DO UPDATE"
						" SET next_offset = excluded.next_offset, skipped = excluded.skipped",
						5, types, values, NULL, SPI_OK_INSERT);
}

/*
 * The owner's code run by a batch may have dropped the view's topic (which
 * detaches the view) or the view itself: then neither reading on nor
 * writing the positions is right, and the whole refresh is undone.
 */
static void
check_still_there(ElViewDef *def, Oid topic_relid)
{
	Oid			types[3] = {NAMEOID, NAMEOID, TEXTOID};
	Datum		values[3];

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(def->schema));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(def->name));
	values[2] = CStringGetTextDatum(def->topic);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(topic_relid)) ||
		catalog_exec("SELECT 1 FROM eventlog.view_def WHERE view_schema = $1"
					 " AND view_name = $2 AND topic = $3",
					 3, types, values, NULL, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("materialized view \"%s.%s\" or its topic \"%s\" was dropped while the view was being refreshed",
						def->schema, def->name, def->topic),
				 errdetail("Code run by the view's expressions, reducer or table dropped it.")));
}

/*
 * Is the view's guard trigger there and enabled?  Its table is written only
 * with it: a pg_restore creates it after the table's rows and positions
 * are loaded, so nothing is applied to a half-restored view.
 */
static bool
guard_present(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	return catalog_exec("SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = $1"
						" AND tgname = 'eventlog_view_guard' AND tgenabled IN ('O', 'A')"
						" AND tgfoid = 'eventlog.view_guard()'::pg_catalog.regprocedure",
						1, types, values, NULL, SPI_OK_SELECT) > 0;
}

/*
 * Objects of the table that would change or hide the rows the maintainer
 * writes without an error: a rule (an INSTEAD rule on DELETE made a
 * rebuild keep the old rows and add the log to them again), a BEFORE row
 * trigger (which may skip or rewrite a row while the position moves on),
 * an inheritance parent or child (whose writes and rows bypass the guard),
 * row level security forced on the owner (a policy that hides a row from
 * DELETE made a rebuild or a tombstone leave it).  The view is not
 * maintained while its table has one.
 */
static void
check_table_objects(Oid relid, const char *schema, const char *name)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	if (catalog_exec("SELECT what FROM ("
					 " SELECT 0, 'FORCE ROW LEVEL SECURITY'"
					 "   FROM pg_catalog.pg_class WHERE oid = $1 AND relrowsecurity AND relforcerowsecurity"
					 " UNION ALL"
					 " SELECT 1, 'rule ' || pg_catalog.quote_ident(rulename::text)"
					 "   FROM pg_catalog.pg_rewrite WHERE ev_class = $1"
					 " UNION ALL"
					 " SELECT 2, 'BEFORE row trigger ' || pg_catalog.quote_ident(tgname::text)"
					 "   FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal"
					 "    AND tgenabled <> 'D' AND (tgtype::pg_catalog.int4 & 3) = 3"
					 " UNION ALL"
					 " SELECT 3, 'inheritance parent ' || inhparent::pg_catalog.regclass::text"
					 "   FROM pg_catalog.pg_inherits WHERE inhrelid = $1"
					 " UNION ALL"
					 " SELECT 4, 'inheritance child ' || inhrelid::pg_catalog.regclass::text"
					 "   FROM pg_catalog.pg_inherits WHERE inhparent = $1"
					 ") o(n, what) ORDER BY n, what LIMIT 1",
					 1, types, values, NULL, SPI_OK_SELECT) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("materialized view \"%s.%s\" cannot be maintained while its table has %s",
						schema, name,
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errdetail("Rules, BEFORE row triggers, inheritance parents or children and forced row level security of a view's table could change or hide the rows pg_eventlog writes."),
				 errhint("Drop it; AFTER triggers, indexes and grants work on a view's table.")));
}

static void
not_a_view(const char *schema, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("\"%s.%s\" is not an eventlog materialized view", schema, name)));
}

/*
 * Lock a view for writing it, in the one lock order of every path that
 * takes more than one of these locks: the view's topic, then the view's
 * writer lock, then its table.  drop_topic holds the topic and then
 * detaches the view, which needs its table; a refresh that held the table
 * while waiting for the topic deadlocked with it.  The topic is named by
 * the definition, read once before the locks to find it and again after
 * them (the last writer's positions and settings are read after the view's
 * lock); should the view have been made again on another topic in between,
 * the locks are given back and taken again.  With wait false every lock is
 * only tried (the worker never queues behind a lock): false if one is
 * taken.  Inside SPI.  Fills *def and *topic_relid (the topic locked
 * ACCESS SHARE).
 */
static bool
lock_view(const char *schema, const char *name, Oid relid, bool wait,
		  ElViewDef *def, Oid *topic_relid)
{
	int			attempt;

	for (attempt = 0;; attempt++)
	{
		ElViewDef	first;
		Oid			topic;

		if (!el_view_load_def(schema, name, &first))
			not_a_view(schema, name);
		if (wait)
			topic = el_topic_lock(first.topic, AccessShareLock, true);
		else
		{
			topic = el_topic_relid(first.topic, true);
			if (OidIsValid(topic) && !ConditionalLockRelationOid(topic, AccessShareLock))
				return false;
			/* dropped between the lookup and the lock */
			if (OidIsValid(topic) && !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(topic)))
				topic = InvalidOid;
		}
		if (wait)
			LockDatabaseObject(RelationRelationId, relid, EL_VIEW_LOCK_SUBID, ExclusiveLock);
		else if (!ConditionalLockDatabaseObject(RelationRelationId, relid, EL_VIEW_LOCK_SUBID,
												ExclusiveLock))
			return false;
		if (wait)
			LockRelationOid(relid, RowExclusiveLock);
		else if (!ConditionalLockRelationOid(relid, RowExclusiveLock))
			return false;

		/* read after the locks, with a new snapshot */
		if (!el_view_load_def(schema, name, def))
			not_a_view(schema, name);
		if (strcmp(def->topic, first.topic) == 0 || attempt >= 3)
		{
			if (!OidIsValid(topic) || strcmp(def->topic, first.topic) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("topic \"%s\" of materialized view \"%s.%s\" does not exist",
								def->topic, schema, name)));
			*topic_relid = topic;
			return true;
		}
		UnlockRelationOid(relid, RowExclusiveLock);
		UnlockDatabaseObject(RelationRelationId, relid, EL_VIEW_LOCK_SUBID, ExclusiveLock);
		if (OidIsValid(topic))
			UnlockRelationOid(topic, AccessShareLock);
	}
}

/*
 * Catch a view up with what its topic holds now (or, for rebuild, empty it
 * and start again from each partition's log start).  Inside a transaction;
 * connects to SPI itself.  With wait false, returns 0 and sets *busy when
 * another session is writing the view.  max_batches (0: no limit) bounds
 * the work of one call.  Returns the number of records read.
 */
int64
el_view_refresh(const char *schema, const char *name, bool wait, bool rebuild,
				int max_batches, bool *busy)
{
	ElViewDef	def;
	ApplyState	st;
	Oid			nsp = get_namespace_oid(schema, true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
	Oid			topic_relid;
	ElTopic    *topic;
	HeapTuple	tup;
	int64	   *pos;
	int64	   *skipped;
	bool	   *more;
	int			nparts;
	int			p;
	int			batches = 0;
	int64		total = 0;
	bool		changed = rebuild;
	Snapshot	snap;
	int64		save_budget;
	MemoryContext batchcxt;
	MemoryContext oldcxt;
	Oid			caller = GetUserId();

	*busy = false;

	/*
	 * A view's expression that refreshes a view would apply records that
	 * the outer refresh has read but not yet counted in its positions.
	 */
	if (applying)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot refresh a materialized view while a view's records are being applied")));
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table of materialized view \"%s.%s\" does not exist", schema, name)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!lock_view(schema, name, relid, wait, &def, &topic_relid))
	{
		SPI_finish();
		*busy = true;
		return 0;
	}
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table of materialized view \"%s.%s\" does not exist", schema, name)));
	st.owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	if (!guard_present(relid))
	{
		/*
		 * A restore in progress: not an error for the worker, nor a reason
		 * for a back-off; it looks again at the next wake-up or tick.
		 */
		if (!wait)
		{
			SPI_finish();
			return 0;
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table of materialized view \"%s.%s\" has no enabled trigger eventlog_view_guard",
						schema, name),
				 errdetail("The view is maintained only while its table is protected; a pg_restore creates the trigger after the table's rows.")));
	}
	check_table_objects(relid, schema, name);
	if (!OidIsValid(topic_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" of materialized view \"%s.%s\" does not exist",
						def.topic, schema, name)));
	AcceptInvalidationMessages();
	topic = el_topic_get(topic_relid, false);
	/* the owner may have lost the right to read the topic since */
	if (pg_class_aclcheck(topic_relid, st.owner, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("owner %s of materialized view \"%s.%s\" may not read topic \"%s\"",
						GetUserNameFromId(st.owner, false), schema, name, def.topic),
				 errhint("Grant SELECT on the topic to the view's owner again.")));

	st.def = &def;
	st.relid = relid;
	st.redact = pg_class_aclcheck(topic_relid, caller, ACL_SELECT) != ACLCHECK_OK;
	st.caller_name = GetUserNameFromId(caller, false);
	st.qualname = quote_qualified_identifier(schema, name);
	st.sql = el_view_apply_sql(&def, st.qualname);
	st.recdesc = lookup_rowtype_tupdesc_copy(get_rel_type_id(topic_relid), -1);
	if (def.kind == EL_VIEW_REDUCE)
	{
		st.statedesc = CreateTemplateTupleDesc(2);
		TupleDescInitEntry(st.statedesc, 1, "key", TEXTOID, -1, 0);
		TupleDescInitEntry(st.statedesc, 2, "state", JSONBOID, -1, 0);
		st.states_sql = psprintf("WITH d AS (DELETE FROM %s v USING " EL_VIEW_STATES_NAME " s"
								 " WHERE s.state IS NULL AND v.key = s.key)"
								 " INSERT INTO %s AS v (key, state) SELECT key, state FROM "
								 EL_VIEW_STATES_NAME " WHERE state IS NOT NULL"
								 " ON CONFLICT (key) DO UPDATE SET state = excluded.state",
								 st.qualname, st.qualname);
		if (!OidIsValid(def.reducer))	/* the DDL triggers keep it, but */
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("the reducer of materialized view %s does not exist", st.qualname),
					 errhint("Drop the view with eventlog.drop_view() and create it again.")));
		fmgr_info(def.reducer, &st.reducer);
	}

	nparts = topic->nparts;
	pos = palloc0(sizeof(int64) * nparts);
	skipped = palloc0(sizeof(int64) * nparts);
	more = palloc0(sizeof(bool) * nparts);
	for (p = 0; p < nparts; p++)
		pos[p] = -1;
	if (!rebuild)
	{
		Oid			types[2] = {NAMEOID, NAMEOID};
		Datum		values[2];
		uint64		i;

		values[0] = DirectFunctionCall1(namein, CStringGetDatum(schema));
		values[1] = DirectFunctionCall1(namein, CStringGetDatum(name));
		/* FOR UPDATE: in REPEATABLE READ a concurrent writer is an error */
		catalog_exec("SELECT \"partition\", next_offset, skipped FROM eventlog.view_position"
					 " WHERE view_schema = $1 AND view_name = $2 FOR UPDATE",
					 2, types, values, NULL, SPI_OK_SELECT);
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			int			part = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

			if (part < 0 || part >= nparts)
				continue;
			pos[part] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
			skipped[part] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		}
	}
	else
	{
		int			ret;
		OwnerContext oc;

		/* the table's triggers and rules are the owner's: they run as such */
		owner_begin(&st, &oc);
		applying = true;
		PG_TRY();
		{
			ret = exec_own_write(relid, psprintf("DELETE FROM %s", st.qualname));
		}
		PG_FINALLY();
		{
			applying = false;
		}
		PG_END_TRY();
		owner_end(&oc);
		if (ret != SPI_OK_DELETE)
			elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
	}
	for (p = 0; p < nparts; p++)
	{
		int64		start = el_partition_log_start(&topic->parts[p]);

		if (pos[p] < 0)
		{
			/* a new view, a rebuild or a partition added since */
			pos[p] = start;
			changed = true;
		}
		else if (pos[p] < start)
		{
			/*
			 * Retention or delete_records removed records this view never
			 * applied: go on from the log start and count what was lost.
			 */
			ereport(WARNING,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("materialized view \"%s.%s\" skips offsets " INT64_FORMAT " to " INT64_FORMAT " of partition %d of topic \"%s\"",
							schema, name, pos[p], start - 1, p, def.topic),
					 errdetail("The records were deleted by retention or delete_records before the view applied them."),
					 errhint("eventlog.views counts skipped offsets; eventlog.rebuild_view() re-derives the view from what the log still holds.")));
			skipped[p] += start - pos[p];
			pos[p] = start;
			changed = true;
		}
		more[p] = true;
	}

	snap = el_read_snapshot(true);
	save_budget = el_read_budget;
	el_read_budget = -1;
	batchcxt = AllocSetContextCreate(CurrentMemoryContext, "eventlog view batch",
									 ALLOCSET_DEFAULT_SIZES);

	/*
	 * The records read and what the owner's code produces are the owner's
	 * bytes, whoever applies them (the worker included): charged to the
	 * owner's quota.  An owner in debt makes a session that refreshes wait
	 * before each batch; the worker, which never sleeps for a quota, puts
	 * the view off (as a busy view) and applies the others meanwhile.
	 */
	el_quota_act_for(st.owner);
	for (;;)
	{
		Tuplestorestate *batch;
		int64		n = 0;
		bool		any = false;

		if (!wait && el_quota_debt_ms() > 0)
		{
			*busy = true;
			break;
		}
		if (wait)
		{
			(void) el_quota_throttle(EL_QUOTA_FETCH);
			(void) el_quota_throttle(EL_QUOTA_PRODUCE);
		}
		oldcxt = MemoryContextSwitchTo(batchcxt);
		batch = tuplestore_begin_heap(false, false, work_mem);
		for (p = 0; p < nparts; p++)
		{
			int64		next;
			int			got;

			if (!more[p])
				continue;
			got = el_read_partition(topic, p, pos[p], EL_VIEW_PART_BATCH, snap,
									batch, st.recdesc, &next);
			n += got;
			more[p] = (got == EL_VIEW_PART_BATCH);
			any |= more[p];
			if (next != pos[p])
				changed = true;
			pos[p] = next;
		}
		if (n > 0)
		{
			apply_batch(&st, batch, n);
			check_still_there(&def, topic_relid);
		}
		tuplestore_end(batch);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(batchcxt);
		total += n;
		batches++;
		if (!any || (max_batches > 0 && batches >= max_batches))
			break;
		CHECK_FOR_INTERRUPTS();
	}
	el_quota_act_end();
	el_read_budget = save_budget;
	UnregisterSnapshot(snap);
	MemoryContextDelete(batchcxt);

	if (changed)
		write_positions(&def, nparts, pos, skipped);
	if (def.has_error)
	{
		Oid			types[2] = {NAMEOID, NAMEOID};
		Datum		values[2];

		values[0] = DirectFunctionCall1(namein, CStringGetDatum(schema));
		values[1] = DirectFunctionCall1(namein, CStringGetDatum(name));
		catalog_exec("UPDATE eventlog.view_def SET last_error = NULL, error_count = 0,"
					 " retry_at = NULL WHERE view_schema = $1 AND view_name = $2",
					 2, types, values, NULL, SPI_OK_UPDATE);
	}
	SPI_finish();
	return total;
}

/* the scheduler's (maint/sched.c) note of the view a worker's turn runs */
ElViewTurnHook el_view_turn_hook = NULL;

/*
 * Record a view's failure: its next automatic attempt waits 1 s, 2 s, 4 s,
 * ... up to 5 minutes after the last failure.
 */
void
el_view_record_error(const char *schema, const char *name, const char *msg)
{
	Oid			types[3] = {NAMEOID, NAMEOID, TEXTOID};
	Datum		values[3];

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(schema));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(name));
	values[2] = CStringGetTextDatum(msg);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* from the failure, not from the start of the turn that failed */
	catalog_exec("UPDATE eventlog.view_def SET last_error = $3, last_error_at = clock_timestamp(),"
				 " error_count = error_count + 1,"
				 " retry_at = clock_timestamp() + least(power(2, least(error_count, 9)), 300) * interval '1 s'"
				 " WHERE view_schema = $1 AND view_name = $2",
				 3, types, values, NULL, SPI_OK_UPDATE);
	SPI_finish();
}

typedef struct PassItem
{
	char	   *schema;
	char	   *name;
	Oid			topic_relid;
	Oid			owner;			/* of the view's table */
	bool		due;
	double		wait_ms;
	bool		more;			/* worker_refresh_step: work is left */
	bool		busy;			/* another session writes the view */
} PassItem;

/* what a view's turn left to do */
#define EL_TURN_DONE	0
#define EL_TURN_MORE	1		/* the batch limit was reached */
#define EL_TURN_BUSY	2		/* the view or its topic was locked */

/* passes in a row that found a view busy */
static int	busy_streak = 0;

/* the owner whose views came first in the last pass (owners take turns) */
static Oid	first_owner = InvalidOid;

/*
 * One view's turn in the worker, in a subtransaction: an error (a cast
 * that fails on one record, a revoked privilege) is recorded in view_def
 * and logged, and the view is retried after its back-off.
 */
static void
worker_refresh_step(void *arg)
{
	PassItem   *item = (PassItem *) arg;

	/* records applied: there may be more than the batch limit took */
	item->more = el_view_refresh(item->schema, item->name, false, false, 20, &item->busy) > 0;
}

static int
worker_refresh_one(PassItem *item)
{
	ErrorData  *edata;

	item->more = false;
	item->busy = false;

	/*
	 * A turn longer than eventlog.view_turn_timeout (an owner's expression
	 * that sleeps, say) is cancelled like a statement and recorded as the
	 * view's error: the view backs off and the database's other views go
	 * on.  (A worker has no statement timeout of its own: it runs no
	 * client statements.)
	 */
	if (el_view_turn_timeout > 0)
		enable_timeout_after(STATEMENT_TIMEOUT, el_view_turn_timeout);
	if (el_view_turn_hook)
		el_view_turn_hook(item->schema, item->name, item->owner, true);
	edata = el_subxact_run(worker_refresh_step, item, true);
	if (el_view_turn_hook)
		el_view_turn_hook(item->schema, item->name, item->owner, false);
	if (el_view_turn_timeout > 0)
		disable_timeout(STATEMENT_TIMEOUT, false);
	if (edata == NULL)
		return item->more ? EL_TURN_MORE : item->busy ? EL_TURN_BUSY : EL_TURN_DONE;
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("could not maintain materialized view \"%s.%s\": %s",
					item->schema, item->name, edata->message),
			 errdetail("The error is recorded in eventlog.views; the view is retried with a back-off.")));
	el_view_record_error(item->schema, item->name, edata->message);
	FreeErrorData(edata);
	return EL_TURN_DONE;
}

/*
 * The worker's pass over the views of the topics listed (relation oids;
 * every view when all is true), and those backing off after an error.
 * Outside a transaction; each view's turn in a transaction of its own.
 *
 * Owners take turns: the pass starts with the owner after the one it
 * started with last time, and one owner's turns in a row stop once they
 * took owner_budget_ms, the rest of its views waiting for the next pass.
 * The topics of views left with work to do at once (the batch limit, or
 * their owner's budget) are appended to *again, those of views another
 * session holds to *later (in the caller's memory context); *nviews is
 * set to the number of views looked at.  Returns how many milliseconds may
 * pass before *later (or the back-off of a failed view) asks for a pass
 * (-1: none).
 */
long
el_view_pass(bool all, List *topics, int owner_budget_ms, List **again, List **later,
			 int *nviews)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext pass = AllocSetContextCreate(TopMemoryContext, "eventlog view pass",
											   ALLOCSET_DEFAULT_SIZES);
	List	   *items = NIL;
	ListCell   *lc;
	long		next = -1;
	bool		any_busy = false;
	Oid			owner = InvalidOid;
	TimestampTz owner_start = 0;
	int			start = 0;
	int			n;
	int			k;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("pg_eventlog", true)))
	{
		uint64		i;
		Datum	   *elems = palloc(sizeof(Datum) * (list_length(topics) + 1));
		Oid			types[2] = {BOOLOID, OIDARRAYOID};
		Datum		values[2];

		n = 0;
		foreach(lc, topics)
			elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
		values[0] = BoolGetDatum(all);
		values[1] = PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");

		/*
		 * Only views of topics that received commits, and those in
		 * back-off: a thousand idle views cost nothing at a commit on
		 * another topic.
		 */
		catalog_exec("SELECT d.view_schema, d.view_name, coalesce(t.oid, 0), coalesce(c.relowner, 0),"
					 " d.retry_at IS NULL OR d.retry_at <= now(),"
					 " coalesce(extract(epoch FROM d.retry_at - now()) * 1000, 0)::float8"
					 " FROM eventlog.view_def d"
					 " LEFT JOIN pg_catalog.pg_class t ON t.relname = d.topic"
					 "  AND t.relnamespace = '" EL_TOPICS_SCHEMA "'::pg_catalog.regnamespace"
					 " LEFT JOIN pg_catalog.pg_namespace s ON s.nspname = d.view_schema"
					 " LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = s.oid AND c.relname = d.view_name"
					 " WHERE $1 OR t.oid = ANY ($2) OR d.retry_at IS NOT NULL"
					 " ORDER BY 4, 1, 2",
					 2, types, values, NULL, SPI_OK_SELECT);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			MemoryContext old = MemoryContextSwitchTo(pass);
			PassItem   *item = palloc(sizeof(PassItem));
			bool		isnull;

			item->schema = SPI_getvalue(tup, desc, 1);
			item->name = SPI_getvalue(tup, desc, 2);
			item->topic_relid = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
			item->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
			item->due = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
			item->wait_ms = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));
			items = lappend(items, item);
			MemoryContextSwitchTo(old);
		}
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();

	/* start with the first view of the owner after the last first one */
	n = list_length(items);
	*nviews = n;
	for (k = 0; k < n; k++)
		if (((PassItem *) list_nth(items, k))->owner > first_owner)
		{
			start = k;
			break;
		}
	if (n > 0)
		first_owner = ((PassItem *) list_nth(items, start))->owner;

	for (k = 0; k < n; k++)
	{
		PassItem   *item = list_nth(items, (start + k) % n);
		MemoryContext old;

		if (!item->due)
		{
			long		w = (long) item->wait_ms + 1;

			if (next < 0 || w < next)
				next = w;
			continue;
		}
		if (item->owner != owner || owner_start == 0)
		{
			owner = item->owner;
			owner_start = GetCurrentTimestamp();
		}
		else if (owner_budget_ms > 0 &&
				 TimestampDifferenceExceeds(owner_start, GetCurrentTimestamp(), owner_budget_ms))
		{
			/* this owner had its share: the next pass, after the others */
			old = MemoryContextSwitchTo(caller);
			*again = list_append_unique_oid(*again, item->topic_relid);
			MemoryContextSwitchTo(old);
			continue;
		}
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		switch (worker_refresh_one(item))
		{
			case EL_TURN_MORE:
				old = MemoryContextSwitchTo(caller);
				*again = list_append_unique_oid(*again, item->topic_relid);
				MemoryContextSwitchTo(old);
				break;
			case EL_TURN_BUSY:
				any_busy = true;
				old = MemoryContextSwitchTo(caller);
				*later = list_append_unique_oid(*later, item->topic_relid);
				MemoryContextSwitchTo(old);
				break;
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(pass);

	/*
	 * A view another session holds (any role that may read its table can
	 * keep a refresh_view open) is looked at again after 40 ms, 80 ms, ...
	 * at most 1 s: not 50 times a second for as long as it is held.  The
	 * holder applies what it finds; commits on the topic still wake us.
	 */
	if (any_busy)
	{
		long		w;

		busy_streak = Min(busy_streak + 1, 6);
		w = Min(20L << busy_streak, 1000L);
		next = (next < 0) ? w : Min(next, w);
	}
	else
		busy_streak = 0;
	return next;
}
