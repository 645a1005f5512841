/*
 * groupoffsets.c
 *		Reading and writing the durable state of consumer groups:
 *	eventlog.consumer_group	 settings per (group, topic)
 *	eventlog.group_offset	 committed offset per (group, topic, partition)
 *
 * poll() advances group_offset inside the caller's transaction: COMMIT
 * acknowledges, ROLLBACK redelivers (design.md promise 4).  Safety of a
 * partition's hand-over rests on the offset row too: poll() locks the row
 * of every partition it serves (FOR UPDATE SKIP LOCKED) until its
 * transaction ends, so a partition that moved is skipped by its new owner
 * until the previous owner's transaction has committed or rolled back.
 *
 * poll() runs these statements for every partition, every time, so each
 * is planned once per backend: SPI_prepare on first use, kept with
 * SPI_keepplan.  The plan cache re-plans a kept plan by itself when the
 * tables change (an extension re-created under the same names, say) or
 * when it runs under another search_path; every statement names its
 * tables and operators with their schema, so the text means the same
 * whatever the path.  Each plan is always run in the same context (as the
 * caller, or as the catalog owner with its fixed search_path), so it is
 * not re-planned back and forth.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "eventlog/elstore.h"
#include "eventlog/eventlog.h"
#include "eventlog/fetch.h"
#include "eventlog/sqlargs.h"
#include "eventlog/group.h"
#include "eventlog/groupoffsets.h"

int			el_max_session_timeout = 30 * 60;	/* seconds */

/* The statements, each prepared once per backend (see plan()). */
typedef enum ElGroupStmt
{
	STMT_GROUP_READ,			/* as the caller */
	STMT_GROUP_CREATE,			/* as the catalog owner, from here on */
	STMT_GROUP_CONFIGURE,
	STMT_GROUP_LOCK,
	STMT_GROUP_SET_RIGHTS,
	STMT_OFFSET_CAUGHT_UP,		/* as the caller */
	STMT_OFFSET_LOCK,
	STMT_OFFSET_EXISTS,
	STMT_OFFSET_CREATE,
	STMT_OFFSET_STORE,
	NUM_GROUP_STMTS
} ElGroupStmt;

typedef struct ElStmtDef
{
	const char *sql;
	int			nargs;
	Oid			types[8];
} ElStmtDef;

#define OFFSET_ROW \
	" FROM eventlog.group_offset" \
	" WHERE group_id OPERATOR(pg_catalog.=) $1 AND topic OPERATOR(pg_catalog.=) $2" \
	" AND partition OPERATOR(pg_catalog.=) $3"

static const ElStmtDef stmt_defs[NUM_GROUP_STMTS] = {
	[STMT_GROUP_READ] = {
		"SELECT session_timeout, max_poll_interval, auto_offset_reset,"
		" auto_commit, xmin, owner, acl FROM eventlog.consumer_group"
		" WHERE group_id OPERATOR(pg_catalog.=) $1"
		" AND topic OPERATOR(pg_catalog.=) $2",
		2, {TEXTOID, TEXTOID}
	},
	[STMT_GROUP_CREATE] = {
		"INSERT INTO eventlog.consumer_group (group_id, topic, owner)"
		" VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		3, {TEXTOID, TEXTOID, REGROLEOID}
	},
	[STMT_GROUP_CONFIGURE] = {
		"INSERT INTO eventlog.consumer_group AS g"
		" (group_id, topic, session_timeout, max_poll_interval,"
		"  auto_offset_reset, auto_commit, owner)"
		" VALUES ($1, $2, coalesce($3, '45 s'), coalesce($4, '5 min'),"
		"  coalesce($5, 'earliest'), coalesce($6, true), $7)"
		" ON CONFLICT ON CONSTRAINT consumer_group_pkey DO UPDATE"
		" SET session_timeout = coalesce($3, g.session_timeout),"
		" max_poll_interval = coalesce($4, g.max_poll_interval),"
		" auto_offset_reset = coalesce($5, g.auto_offset_reset),"
		" auto_commit = coalesce($6, g.auto_commit)",
		7, {TEXTOID, TEXTOID, INTERVALOID, INTERVALOID, TEXTOID, BOOLOID, REGROLEOID}
	},
	[STMT_GROUP_LOCK] = {
		"SELECT owner, acl FROM eventlog.consumer_group"
		" WHERE group_id OPERATOR(pg_catalog.=) $1"
		" AND topic OPERATOR(pg_catalog.=) $2 FOR UPDATE",
		2, {TEXTOID, TEXTOID}
	},
	[STMT_GROUP_SET_RIGHTS] = {
		"UPDATE eventlog.consumer_group SET owner = $3, acl = $4"
		" WHERE group_id OPERATOR(pg_catalog.=) $1"
		" AND topic OPERATOR(pg_catalog.=) $2",
		4, {TEXTOID, TEXTOID, REGROLEOID, ACLITEMARRAYOID}
	},
	[STMT_OFFSET_CAUGHT_UP] = {
		"SELECT committed_offset" OFFSET_ROW,
		3, {TEXTOID, TEXTOID, INT4OID}
	},
	[STMT_OFFSET_LOCK] = {
		"SELECT committed_offset" OFFSET_ROW " FOR UPDATE SKIP LOCKED",
		3, {TEXTOID, TEXTOID, INT4OID}
	},
	[STMT_OFFSET_EXISTS] = {
		"SELECT 1" OFFSET_ROW,
		3, {TEXTOID, TEXTOID, INT4OID}
	},
	[STMT_OFFSET_CREATE] = {
		"INSERT INTO eventlog.group_offset"
		" (group_id, topic, partition, committed_offset)"
		" VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
		" RETURNING committed_offset",
		4, {TEXTOID, TEXTOID, INT4OID, INT8OID}
	},
	[STMT_OFFSET_STORE] = {
		"INSERT INTO eventlog.group_offset AS o"
		" (group_id, topic, partition, committed_offset)"
		" VALUES ($1, $2, $3, $4)"
		" ON CONFLICT (group_id, topic, partition) DO UPDATE"
		" SET committed_offset = EXCLUDED.committed_offset,"
		" committed_at = pg_catalog.now()",
		4, {TEXTOID, TEXTOID, INT4OID, INT8OID}
	},
};

static SPIPlanPtr stmt_plans[NUM_GROUP_STMTS];

/*
 * The kept plan of a statement, prepared on first use in the context (role
 * and search_path) it is always run in.  Inside SPI.
 */
static SPIPlanPtr
plan(ElGroupStmt stmt)
{
	if (stmt_plans[stmt] == NULL)
	{
		const ElStmtDef *def = &stmt_defs[stmt];
		SPIPlanPtr	p = SPI_prepare(def->sql, def->nargs, (Oid *) def->types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 def->sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed for \"%s\"", def->sql);
		stmt_plans[stmt] = p;
	}
	return stmt_plans[stmt];
}

/* Run a statement; an unexpected result code is an internal error. */
static void
run(ElGroupStmt stmt, Datum *args, const char *nulls, long count, int expected)
{
	int			ret = SPI_execute_plan(plan(stmt), args, nulls, false, count);

	if (ret != expected)
		elog(ERROR, "SPI_execute_plan failed for \"%s\": %s",
			 stmt_defs[stmt].sql, SPI_result_code_string(ret));
}

/*
 * The longest session_timeout and max_poll_interval a group may have, in
 * milliseconds: a static member (or a member that stopped polling) keeps
 * its group's slot at most that long.
 */
int64
el_group_max_timeout_ms(void)
{
	return (int64) el_max_session_timeout * 1000;
}

/*
 * A timeout of the consumer_group table in milliseconds, bounded by
 * eventlog.max_session_timeout: rows written before the setting was
 * lowered get the new bound too.
 */
static int64
timeout_to_ms(Datum d)
{
	int64		us = el_interval_usecs(DatumGetIntervalP(d));

	return Max(Min(us / 1000, el_group_max_timeout_ms()), 1);
}

/*
 * Creating a consumer_group or group_offset row with INSERT ... ON CONFLICT
 * waits for any other transaction that inserted the same key and is still
 * open, and poll() must never wait for another member's transaction.  So
 * creators first take a transaction-level lock that poll() only tries:
 * whoever does not get it treats the row as busy.  Advisory lock tag with
 * field4 outside the values the SQL advisory functions use (1 and 2).
 * A hash collision only makes a creation wait for a later poll.
 */
#define EL_CREATE_LOCK_GROUP	0xFFFF
static bool
create_lock(Oid topic_relid, const char *group_id, int partition, bool nowait)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, topic_relid,
						 hash_bytes((const unsigned char *) group_id, strlen(group_id)),
						 partition < 0 ? EL_CREATE_LOCK_GROUP : 3 + partition);
	return LockAcquire(&tag, ExclusiveLock, false, nowait) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * Read (and with create, make) the group's row into cfg; false if there is
 * none.  With create and nowait, false means that another open transaction
 * is creating it, and cfg holds the defaults meanwhile.
 */
bool
el_group_load(const char *group_id, const char *topic, Oid topic_relid,
			  bool create, bool nowait, ElGroupConfig *cfg)
{
	Datum		args[3];
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	td;
	Datum		acl;

	args[0] = CStringGetTextDatum(group_id);
	args[1] = CStringGetTextDatum(topic);
	args[2] = ObjectIdGetDatum(GetUserId());	/* the creator owns it */
	run(STMT_GROUP_READ, args, NULL, 1, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		ElCatalogOwner catowner;

		if (!create)
			return false;
		if (!create_lock(topic_relid, group_id, -1, nowait))
		{
			/* being created by another transaction: defaults for now */
			cfg->session_timeout_ms = Min(45 * 1000, el_group_max_timeout_ms());
			cfg->max_poll_interval_ms = Min(5 * 60 * 1000, el_group_max_timeout_ms());
			cfg->latest = false;
			cfg->auto_commit = true;
			cfg->mine = false;
			cfg->owner = InvalidOid;
			return false;
		}
		el_catalog_owner_begin(&catowner);
		run(STMT_GROUP_CREATE, args, NULL, 0, SPI_OK_INSERT);
		el_catalog_owner_end(&catowner);
		return el_group_load(group_id, topic, topic_relid, false, false, cfg);
	}
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	cfg->session_timeout_ms = timeout_to_ms(SPI_getbinval(tup, td, 1, &isnull));
	cfg->max_poll_interval_ms = timeout_to_ms(SPI_getbinval(tup, td, 2, &isnull));
	cfg->latest = strcmp(TextDatumGetCString(SPI_getbinval(tup, td, 3, &isnull)), "latest") == 0;
	cfg->auto_commit = DatumGetBool(SPI_getbinval(tup, td, 4, &isnull));
	cfg->mine = TransactionIdIsCurrentTransactionId(DatumGetTransactionId(SPI_getbinval(tup, td, 5, &isnull)));
	cfg->owner = DatumGetObjectId(SPI_getbinval(tup, td, 6, &isnull));
	acl = SPI_getbinval(tup, td, 7, &isnull);
	el_group_check_access(group_id, topic, cfg->owner,
						  isnull ? NULL : DatumGetAclP(acl), false);
	return true;
}

/* A role's name for messages, or its OID if it was dropped */
static char *
role_name_or_oid(Oid roleid)
{
	char	   *name = GetUserNameFromId(roleid, true);

	return name ? name : psprintf("%u", roleid);
}

/*
 * May the current role use the group (USAGE), or with manage, grant it and
 * give it away?  The owner and the members of the owning role (superusers
 * too) may do everything; roles granted USAGE (directly, through a role
 * whose privileges they have, or to PUBLIC) may use it.  The current role
 * is the one checked, as everywhere: SET ROLE counts, and inside a
 * SECURITY DEFINER function the definer's rights apply, as for tables.
 */
void
el_group_check_access(const char *group_id, const char *topic, Oid owner,
					  Acl *acl, bool manage)
{
	Oid			me = GetUserId();

	if (has_privs_of_role(me, owner))
		return;
	if (manage)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of consumer group \"%s\" of topic \"%s\"",
						group_id, topic),
				 errdetail("The group belongs to role \"%s\".", role_name_or_oid(owner)),
				 errhint("Only the group's owner, members of the owning role and superusers grant, revoke and give away a group.")));
	if (acl == NULL || aclmask(acl, me, owner, ACL_USAGE, ACLMASK_ANY) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for consumer group \"%s\" of topic \"%s\"",
						group_id, topic),
				 errdetail("The group belongs to role \"%s\", which has not granted it to role \"%s\".",
						   role_name_or_oid(owner), role_name_or_oid(me)),
				 errhint("Ask the group's owner to run eventlog.grant_group(), or use a group of your own.")));
}

/*
 * Change a group's rights: grant or revoke USAGE for grantee
 * (ACL_ID_PUBLIC for PUBLIC), or with new_owner valid, give the group to
 * that role.  The current role must manage the group; a new owner must be
 * a role whose privileges the current role has (as ALTER ... OWNER TO).
 */
void
el_group_set_rights(const char *group_id, const char *topic, Oid grantee,
					bool grant, Oid new_owner)
{
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	ElCatalogOwner catowner;
	bool		isnull;
	Oid			owner;
	Datum		d;
	Acl		   *acl;

	args[0] = CStringGetTextDatum(group_id);
	args[1] = CStringGetTextDatum(topic);
	el_catalog_owner_begin(&catowner);
	run(STMT_GROUP_LOCK, args, NULL, 1, SPI_OK_SELECT);
	el_catalog_owner_end(&catowner);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("consumer group \"%s\" does not exist for topic \"%s\"", group_id, topic),
				 errhint("A group is created by its first eventlog.poll() or eventlog.seek().")));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	acl = isnull ? make_empty_acl() : DatumGetAclPCopy(d);
	el_group_check_access(group_id, topic, owner, NULL, true);

	if (OidIsValid(new_owner))
	{
		if (!has_privs_of_role(GetUserId(), new_owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be able to SET ROLE \"%s\"", role_name_or_oid(new_owner)),
					 errhint("A group can only be given to a role whose privileges you have, as with ALTER ... OWNER TO.")));
		/* the grants are the old owner's: they go with it, as grantor */
		if (ACL_NUM(acl) > 0)
			acl = aclnewowner(acl, owner, new_owner);
		owner = new_owner;
	}
	else
	{
		AclItem		item;

		item.ai_grantee = grantee;
		item.ai_grantor = owner;
		ACLITEM_SET_PRIVS_GOPTIONS(item, ACL_USAGE, ACL_NO_RIGHTS);
		acl = aclupdate(acl, &item, grant ? ACL_MODECHG_ADD : ACL_MODECHG_DEL,
						owner, DROP_RESTRICT);
	}

	args[2] = ObjectIdGetDatum(owner);
	args[3] = PointerGetDatum(acl);
	if (ACL_NUM(acl) == 0)
		nulls[3] = 'n';
	el_catalog_owner_begin(&catowner);
	run(STMT_GROUP_SET_RIGHTS, args, nulls, 0, SPI_OK_UPDATE);
	el_catalog_owner_end(&catowner);
}

/*
 * Create or change a group's row: settings[] are session_timeout,
 * max_poll_interval, auto_offset_reset and auto_commit, already checked;
 * a NULL keeps the setting (or takes its default).
 */
void
el_group_configure(const char *group_id, const char *topic, Oid topic_relid,
				   Datum *settings, const bool *isnull)
{
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	ElCatalogOwner catowner;
	ElGroupConfig cfg;
	int			i;

	args[0] = CStringGetTextDatum(group_id);
	args[1] = CStringGetTextDatum(topic);
	args[6] = ObjectIdGetDatum(GetUserId());	/* owner of a new group */
	for (i = 0; i < 4; i++)
	{
		args[2 + i] = isnull[i] ? (Datum) 0 : settings[i];
		if (isnull[i])
			nulls[2 + i] = 'n';
	}

	/* a poll() that sees the row being created skips it instead of waiting */
	(void) create_lock(topic_relid, group_id, -1, false);
	/* changing an existing group needs the right to use it */
	(void) el_group_load(group_id, topic, topic_relid, false, false, &cfg);
	el_catalog_owner_begin(&catowner);
	run(STMT_GROUP_CONFIGURE, args, nulls, 0, SPI_OK_INSERT);
	el_catalog_owner_end(&catowner);
}

static void
offset_key(Datum *args, const char *group_id, const char *topic, int partition)
{
	args[0] = CStringGetTextDatum(group_id);
	args[1] = CStringGetTextDatum(topic);
	args[2] = Int32GetDatum(partition);
}

/*
 * Is the group's committed offset at log_end already?  Read without a row
 * lock: an idle poll must not cost a transaction id and a WAL flush.
 */
bool
el_group_offset_caught_up(const char *group_id, ElTopic *topic, int partition,
						  int64 log_end)
{
	Datum		args[3];
	bool		isnull;
	int64		committed;

	offset_key(args, group_id, NameStr(topic->name), partition);
	run(STMT_OFFSET_CAUGHT_UP, args, NULL, 1, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return false;
	committed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											1, &isnull));
	return committed >= log_end;
}

/*
 * Lock the partition's offset row and return the committed offset, or -1
 * if the row is locked by another transaction (the partition is still being
 * processed by its previous owner).  Creates the row at the group's reset
 * position if there is none.
 */
int64
el_group_offset_lock(const char *group_id, ElTopic *topic, int partition,
					 const ElGroupConfig *cfg)
{
	Datum		args[4];
	bool		isnull;
	ElCatalogOwner catowner;
	int64		start;

	offset_key(args, group_id, NameStr(topic->name), partition);
	el_catalog_owner_begin(&catowner);
	run(STMT_OFFSET_LOCK, args, NULL, 1, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		el_catalog_owner_end(&catowner);
		return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}

	/*
	 * Not locked by us: either the row exists and another transaction holds
	 * it (skip it: INSERT ... ON CONFLICT below would wait for that
	 * transaction), or nobody has created it yet, or another open
	 * transaction is creating it (then the creation lock is taken).
	 */
	run(STMT_OFFSET_EXISTS, args, NULL, 1, SPI_OK_SELECT);
	if (SPI_processed == 1 || !create_lock(topic->relid, group_id, partition, true))
	{
		el_catalog_owner_end(&catowner);
		return -1;
	}

	start = cfg->latest ? el_partition_log_end(&topic->parts[partition]) :
		el_partition_log_start(&topic->parts[partition]);
	args[3] = Int64GetDatum(start);
	run(STMT_OFFSET_CREATE, args, NULL, 0, SPI_OK_INSERT_RETURNING);
	el_catalog_owner_end(&catowner);
	if (SPI_processed == 1)
		return start;
	return -1;					/* exists, locked by someone else */
}

/* Set the group's committed offset of a partition (creating the row). */
void
el_group_offset_store(const char *group_id, const char *topic, int partition,
					  int64 next)
{
	Datum		args[4];
	ElCatalogOwner catowner;

	offset_key(args, group_id, topic, partition);
	args[3] = Int64GetDatum(next);
	el_catalog_owner_begin(&catowner);
	run(STMT_OFFSET_STORE, args, NULL, 0, SPI_OK_INSERT);
	el_catalog_owner_end(&catowner);
}

/* ------------------------------------------------------------------------
 * Roles that go away (hooks.c: DROP ROLE, REASSIGN OWNED, DROP OWNED)
 *
 * Group owners and grantees are role OIDs in this database's catalog
 * tables, which pg_shdepend does not know: these keep them right, in the
 * current database only (as DROP OWNED and REASSIGN OWNED, which act on
 * the objects of the current database).
 * ------------------------------------------------------------------------
 */

/* Does the role own (*owned) or may it use (*granted) groups? */
void
el_group_role_dependents(Oid roleid, int64 *owned, int64 *granted)
{
	Datum		arg = ObjectIdGetDatum(roleid);
	ElCatalogOwner catowner;
	bool		isnull;

	el_catalog_owner_begin(&catowner);
	el_spi_exec("SELECT pg_catalog.count(*) FILTER (WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1),"
				" pg_catalog.count(*) FILTER (WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.<>) $1"
				"  AND EXISTS (SELECT FROM pg_catalog.aclexplode(acl) e"
				"              WHERE e.grantee OPERATOR(pg_catalog.=) $1))"
				" FROM eventlog.consumer_group",
				1, (Oid[]) {OIDOID}, &arg, NULL, SPI_OK_SELECT);
	el_catalog_owner_end(&catowner);
	*owned = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*granted = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

/*
 * The groups (group_id, topic pairs) whose owner is roleid, or with
 * grantee, whose ACL names roleid and whose owner is another role.
 */
static int
groups_of_role(Oid roleid, bool grantee, char ***group_ids, char ***topics)
{
	Datum		arg = ObjectIdGetDatum(roleid);
	ElCatalogOwner catowner;
	int			n;
	int			i;

	el_catalog_owner_begin(&catowner);
	if (grantee)
		el_spi_exec("SELECT group_id, topic FROM eventlog.consumer_group"
					" WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.<>) $1"
					" AND EXISTS (SELECT FROM pg_catalog.aclexplode(acl) e"
					"             WHERE e.grantee OPERATOR(pg_catalog.=) $1)"
					" ORDER BY 1, 2",
					1, (Oid[]) {OIDOID}, &arg, NULL, SPI_OK_SELECT);
	else
		el_spi_exec("SELECT group_id, topic FROM eventlog.consumer_group"
					" WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1 ORDER BY 1, 2",
					1, (Oid[]) {OIDOID}, &arg, NULL, SPI_OK_SELECT);
	el_catalog_owner_end(&catowner);
	n = (int) SPI_processed;
	*group_ids = palloc(sizeof(char *) * Max(n, 1));
	*topics = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		(*group_ids)[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		(*topics)[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	return n;
}

/*
 * REASSIGN OWNED BY oldrole TO newrole: its groups go to newrole as with
 * alter_group_owner() (the grants stay, with the new owner as grantor).
 * The statement has checked that the current role has the privileges of
 * both.
 */
void
el_groups_reassign_owned(Oid oldrole, Oid newrole)
{
	char	  **group_ids;
	char	  **topics;
	int			n = groups_of_role(oldrole, false, &group_ids, &topics);
	int			i;

	if (oldrole == newrole)
		return;
	for (i = 0; i < n; i++)
		el_group_set_rights(group_ids[i], topics[i], InvalidOid, false, newrole);
}

/*
 * DROP OWNED BY roleid: its groups are dropped with their committed
 * offsets, and its USAGE on the groups of other roles is revoked.  The
 * statement has checked that the current role has its privileges.
 * Returns the number of groups dropped.
 */
int64
el_groups_drop_owned(Oid roleid)
{
	Datum		arg = ObjectIdGetDatum(roleid);
	ElCatalogOwner catowner;
	char	  **group_ids;
	char	  **topics;
	int			n;
	int			i;
	int64		dropped;

	el_catalog_owner_begin(&catowner);
	el_spi_exec("DELETE FROM eventlog.group_offset o USING eventlog.consumer_group g"
				" WHERE g.owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
				" AND o.group_id OPERATOR(pg_catalog.=) g.group_id"
				" AND o.topic OPERATOR(pg_catalog.=) g.topic",
				1, (Oid[]) {OIDOID}, &arg, NULL, SPI_OK_DELETE);
	el_spi_exec("DELETE FROM eventlog.consumer_group"
				" WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {OIDOID}, &arg, NULL, SPI_OK_DELETE);
	dropped = (int64) SPI_processed;
	el_catalog_owner_end(&catowner);

	n = groups_of_role(roleid, true, &group_ids, &topics);
	for (i = 0; i < n; i++)
	{
		Datum		args[4];
		char		nulls[4] = {' ', ' ', ' ', ' '};
		bool		isnull;
		Datum		d;
		Acl		   *acl;
		AclItem    *items;
		int			j,
					k = 0;

		args[0] = CStringGetTextDatum(group_ids[i]);
		args[1] = CStringGetTextDatum(topics[i]);
		el_catalog_owner_begin(&catowner);
		run(STMT_GROUP_LOCK, args, NULL, 1, SPI_OK_SELECT);
		el_catalog_owner_end(&catowner);
		if (SPI_processed == 0)
			continue;
		args[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (isnull)
			continue;
		/* the items that do not name the role, compacted in a copy */
		acl = DatumGetAclPCopy(d);
		items = ACL_DAT(acl);
		for (j = 0; j < ACL_NUM(acl); j++)
			if (items[j].ai_grantee != roleid)
				items[k++] = items[j];
		ARR_DIMS(acl)[0] = k;
		SET_VARSIZE(acl, ACL_N_SIZE(k));
		args[3] = PointerGetDatum(acl);
		if (k == 0)
			nulls[3] = 'n';
		el_catalog_owner_begin(&catowner);
		run(STMT_GROUP_SET_RIGHTS, args, nulls, 0, SPI_OK_UPDATE);
		el_catalog_owner_end(&catowner);
	}
	return dropped;
}
