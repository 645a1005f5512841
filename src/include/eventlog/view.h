/*
 * view.h
 *		Materialized views of topics: tables kept current from a topic's
 *		records by set-based batches (viewapply.c), created, dropped and
 *		refreshed through SQL functions (viewdef.c).
 *
 * A view is a heap table in a schema the user names, plus a row of
 * eventlog.view_def (its definition, by schema and table name) and one row
 * of eventlog.view_position per partition (the next offset to apply).  The
 * rows of the table and the positions change in one transaction, so each
 * record is applied exactly once.  A statement trigger on the table
 * (eventlog.view_guard) refuses every write but the maintainer's.
 */
#ifndef EVENTLOG_VIEW_H
#define EVENTLOG_VIEW_H

#include "fmgr.h"
#include "nodes/pg_list.h"

typedef enum ElViewKind
{
	EL_VIEW_LATEST,
	EL_VIEW_COUNT,
	EL_VIEW_SUM,
	EL_VIEW_MIN,
	EL_VIEW_MAX,
	EL_VIEW_AVG,
	EL_VIEW_REDUCE
} ElViewKind;

typedef struct ElViewDef
{
	char	   *schema;
	char	   *name;
	char	   *topic;
	ElViewKind	kind;
	char	   *expr;			/* NULL: none (count(*)) */
	char	   *group_by;		/* NULL: the record key */
	char	   *filter;			/* NULL: every record */
	Oid			reducer;
	Datum		initial;		/* jsonb */
	bool		initial_null;
	char	   *value_type;		/* aggregates: type of the value column */
	char	   *search_path;	/* as at create_view */
	char	   *settings;		/* "name=value" lines, as at create_view */
	bool		has_error;		/* last_error is set */
} ElViewDef;

/*
 * The relation the maintainer is writing to right now, and the command id
 * of its statement: the guard lets that statement through, and only it.
 */
extern Oid	el_view_applying_relid;
extern CommandId el_view_applying_cid;

/* eventlog.view_turn_timeout: longest turn of one view in the worker, ms */
extern int	el_view_turn_timeout;

#define EL_VIEW_BATCH_NAME	"eventlog_batch"
#define EL_VIEW_STATES_NAME "eventlog_states"

/*
 * Settings that change what an expression computes from a record (a date
 * in a time zone, a float or a timestamp as text): each view keeps those
 * of create_view, so that who applies its records does not matter.
 */
#define EL_VIEW_PINNED_SETTINGS \
	"TimeZone", "DateStyle", "IntervalStyle", "extra_float_digits", \
	"bytea_output", "lc_monetary"

/* viewapply.c */
extern ElViewKind el_view_kind(const char *kind);
extern const char *el_view_kind_name(ElViewKind kind);
extern char *el_view_apply_sql(ElViewDef *def, const char *qualname);
extern int64 el_view_refresh(const char *schema, const char *name, bool wait,
							 bool rebuild, int max_batches, bool *busy);
extern bool el_view_load_def(const char *schema, const char *name, ElViewDef *def);

/* set in a create_view's transaction: its commit tells the scheduler */
extern bool el_view_created_in_xact;

/*
 * The worker's pass over views (maint/worker.c runs it).  Upper layers
 * register el_view_turn_hook to hear when one view's turn begins and ends
 * (the scheduler ends a turn that overruns eventlog.view_turn_timeout).
 */
typedef void (*ElViewTurnHook) (const char *schema, const char *name, Oid owner, bool begin);
extern ElViewTurnHook el_view_turn_hook;
extern long el_view_pass(bool all, List *topics, int owner_budget_ms,
						 List **again, List **later, int *nviews);
extern void el_view_record_error(const char *schema, const char *name, const char *msg);

#endif							/* EVENTLOG_VIEW_H */
