/*
 * groupfuncs.c
 *		The SQL functions of consumer groups: poll(), commit(), seek(),
 *		leave(), configure_group() and group_members() (behind the
 *		consumer_groups and consumer_lag views).
 *
 * They check their arguments and privileges, then combine the parts of
 * the subsystem: membership in the shared-memory slot table
 * (groupslots.c, with the assignment rules of groupassign.c) and the
 * durable state in the consumer_group and group_offset tables
 * (groupoffsets.c).
 *
 * Safety does not rest on the shared-memory assignment alone: poll() locks
 * the group_offset row of every partition it serves (FOR UPDATE SKIP
 * LOCKED).  The lock lasts until the polling transaction ends, so a
 * partition that moved is skipped by its new owner until the previous
 * owner's transaction has committed or rolled back, and two transactions
 * never process the same records at once.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "catalog/pg_authid.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "eventlog/elstore.h"
#include "eventlog/eventlog.h"
#include "eventlog/fetch.h"
#include "eventlog/sqlargs.h"
#include "eventlog/group.h"
#include "eventlog/groupoffsets.h"
#include "eventlog/groupslots.h"
#include "eventlog/notify.h"
#include "eventlog/quota.h"
#include "eventlog/topic.h"

/* ----------------------------------------------------------------
 * Argument checks
 * ----------------------------------------------------------------
 */

static void
check_group_id(const char *group_id)
{
	size_t		len = strlen(group_id);

	if (len == 0 || len >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid consumer group name \"%s\"", group_id),
				 errdetail("Group names are 1 to %d bytes long.", NAMEDATALEN - 1)));
	if (!el_name_chars_valid(group_id))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid consumer group name \"%s\"", group_id),
				 errdetail("Group names may contain only ASCII letters, digits, \".\", \"_\" and \"-\".")));
}

/*
 * The member argument: a name makes a static member; NULL makes the
 * session itself the member, named after its backend pid.
 */
static char *
member_name(FunctionCallInfo fcinfo, int argno, bool *is_static)
{
	char	   *name;

	if (!PG_ARGISNULL(argno))
	{
		name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
		if (strlen(name) == 0 || strlen(name) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid member name \"%s\"", name),
					 errdetail("Member names are 1 to %d bytes long.", NAMEDATALEN - 1)));
		if (strncmp(name, "session-", 8) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("member names starting with \"session-\" are reserved"),
					 errhint("Leave member NULL to be the session's own member.")));
		*is_static = true;
		return name;
	}
	*is_static = false;
	return psprintf("session-%d", MyProcPid);
}

static void
unknown_group(const char *group_id, const char *topic)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("consumer group \"%s\" does not exist for topic \"%s\"", group_id, topic),
			 errhint("A group is created by its first eventlog.poll() or eventlog.seek().")));
}

/* ----------------------------------------------------------------
 * The SQL functions
 * ----------------------------------------------------------------
 */

/*
 * eventlog.poll(group_id, topic, max_records, wait, member)
 */
PG_FUNCTION_INFO_V1(eventlog_poll);
Datum
eventlog_poll(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *group_id;
	ElTopic    *topic;
	int			max_records;
	long		wait_ms;
	char	   *member;
	bool		is_static;
	ElGroupConfig cfg;
	TimestampTz deadline;
	int		   *parts;

	el_require_args(fcinfo, 2, "group_id and topic");
	group_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_group_id(group_id);
	max_records = PG_ARGISNULL(2) ? 500 : PG_GETARG_INT32(2);
	if (max_records < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_records must be at least 1")));
	wait_ms = el_wait_arg_ms(fcinfo, 3);
	member = member_name(fcinfo, 4, &is_static);

	topic = el_topic_open(PG_GETARG_TEXT_PP(1), AccessShareLock, NULL);
	el_check_read_privilege(topic);
	parts = palloc(sizeof(int) * topic->nparts);
	el_read_budget = el_quota_throttle(EL_QUOTA_FETCH);

	InitMaterializedSRF(fcinfo, 0);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	for (;;)
	{
		uint64		seq = el_notify_seq(topic->relid);
		int			nparts;
		bool		busy;
		int			total = 0;
		int			i;
		long		left;

		SPI_connect();
		/*
		 * The group's row says who may use the group: while another open
		 * transaction is creating it (busy), this role's rights cannot be
		 * checked, so it does not join (a membership change is a use of
		 * the group) and gets nothing until the row is there.
		 */
		busy = !el_group_load(group_id, NameStr(topic->name), topic->relid,
							  true, true, &cfg);
		nparts = busy ? 0 :
			el_slots_join(topic, group_id, member, is_static,
						  cfg.session_timeout_ms, cfg.max_poll_interval_ms,
						  cfg.mine, parts);

		for (i = 0; i < nparts && total < max_records; i++)
		{
			int			p = parts[i];
			int64		committed;
			int64		log_start;
			int64		log_end = el_partition_log_end(&topic->parts[p]);
			int64		next;
			Snapshot	snap;
			int			n;

			/*
			 * Caught up?  Then don't lock the offset row: an idle poll would
			 * otherwise cost a transaction id and a WAL flush every time.
			 */
			if (el_group_offset_caught_up(group_id, topic, p, log_end))
				continue;
			committed = el_group_offset_lock(group_id, topic, p, &cfg);

			if (committed < 0)
				continue;		/* previous owner's transaction still open */
			/* never wait beyond the end: that would skip what comes next */
			committed = Min(committed, log_end);
			log_start = el_partition_log_start(&topic->parts[p]);
			if (committed < log_start)
			{
				ereport(NOTICE,
						(errmsg("committed offset " INT64_FORMAT " of group \"%s\" is below the log start offset " INT64_FORMAT " of partition %d of topic \"%s\"; resuming there",
								committed, group_id, log_start, p, NameStr(topic->name))));
				committed = log_start;
			}
			/* the offset row was locked just now: read with a snapshot as new */
			snap = el_read_snapshot(true);
			n = el_read_partition(topic, p, committed, max_records - total, snap,
								  rsinfo->setResult, rsinfo->setDesc, &next);
			UnregisterSnapshot(snap);
			if (next > committed && cfg.auto_commit)
				el_group_offset_store(group_id, NameStr(topic->name), p, next);
			total += n;
		}
		SPI_finish();

		if (total > 0 || wait_ms == 0)
			break;
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (left <= 0 || IsolationUsesXactSnapshot())
			break;
		/* wake on a commit, or soon enough to pick up a rebalance */
		el_notify_wait(topic->relid, seq, Min(left, 1000));
	}
	return (Datum) 0;
}

/* Common checks of commit() and seek(): returns the topic. */
static ElTopic *
check_offset_args(FunctionCallInfo fcinfo, char **group_id, int *partition, int64 *next)
{
	ElTopic    *topic;
	int64		log_end;

	el_require_args(fcinfo, 4, "group_id, topic, partition and next_offset");
	*group_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_group_id(*group_id);
	topic = el_topic_open(PG_GETARG_TEXT_PP(1), AccessShareLock, NULL);
	el_check_read_privilege(topic);
	*partition = PG_GETARG_INT32(2);
	el_check_partition(topic, *partition);
	*next = PG_GETARG_INT64(3);
	if (*next < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("next_offset must not be negative")));
	log_end = el_partition_log_end(&topic->parts[*partition]);
	if (*next > log_end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("next_offset " INT64_FORMAT " is beyond the log end offset " INT64_FORMAT " of partition %d of topic \"%s\"",
						*next, log_end, *partition, NameStr(topic->name)),
				 errhint("Commit the offset after the last record processed.")));
	return topic;
}

/*
 * eventlog.commit(group_id, topic, partition, next_offset): manual commit.
 * A partition assigned to another live member cannot be committed from
 * here: after a rebalance the old owner's late commit is refused rather
 * than allowed to move the new owner's position.
 */
PG_FUNCTION_INFO_V1(eventlog_commit);
Datum
eventlog_commit(PG_FUNCTION_ARGS)
{
	char	   *group_id;
	int			partition;
	int64		next;
	ElTopic    *topic = check_offset_args(fcinfo, &group_id, &partition, &next);
	ElGroupConfig cfg;
	char		owner[NAMEDATALEN];

	SPI_connect();
	if (!el_group_load(group_id, NameStr(topic->name), topic->relid,
					   false, false, &cfg))
		unknown_group(group_id, NameStr(topic->name));

	if (el_slots_other_owner(topic->relid, group_id, partition, owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("partition %d of topic \"%s\" is assigned to member \"%s\" of group \"%s\"",
						partition, NameStr(topic->name), owner, group_id),
				 errdetail("Only the member that owns a partition commits its offsets."),
				 errhint("Use eventlog.seek() to reposition the group administratively.")));

	el_group_offset_store(group_id, NameStr(topic->name), partition, next);
	SPI_finish();
	PG_RETURN_VOID();
}

/* eventlog.seek(group_id, topic, partition, next_offset) */
PG_FUNCTION_INFO_V1(eventlog_seek);
Datum
eventlog_seek(PG_FUNCTION_ARGS)
{
	char	   *group_id;
	int			partition;
	int64		next;
	ElTopic    *topic = check_offset_args(fcinfo, &group_id, &partition, &next);
	ElGroupConfig cfg;

	SPI_connect();
	el_group_load(group_id, NameStr(topic->name), topic->relid, true, false, &cfg);
	el_group_offset_store(group_id, NameStr(topic->name), partition, next);
	SPI_finish();
	PG_RETURN_VOID();
}

/* eventlog.leave(group_id, topic, member) */
PG_FUNCTION_INFO_V1(eventlog_leave);
Datum
eventlog_leave(PG_FUNCTION_ARGS)
{
	char	   *group_id;
	ElTopic    *topic;
	char	   *member;
	bool		is_static;
	ElGroupConfig cfg;

	el_require_args(fcinfo, 2, "group_id and topic");
	group_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_group_id(group_id);
	member = member_name(fcinfo, 2, &is_static);
	topic = el_topic_open(PG_GETARG_TEXT_PP(1), AccessShareLock, NULL);
	el_check_read_privilege(topic);

	SPI_connect();
	if (!el_group_load(group_id, NameStr(topic->name), topic->relid,
					   false, false, &cfg))
		unknown_group(group_id, NameStr(topic->name));
	SPI_finish();

	el_slots_leave(topic->relid, group_id, member);
	PG_RETURN_VOID();
}

/*
 * eventlog.group_members(): the shared-memory membership of this database,
 * one row per member, with its assigned partitions.  Behind the views.
 *
 * Rows are copied under the slot table's lock and checked against the
 * catalog after it is released (no catalog access under an LWLock): the
 * slots of a topic dropped since are freed then.
 */
PG_FUNCTION_INFO_V1(eventlog_group_members);
Datum
eventlog_group_members(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ElMemberRow *rows;
	int			nrows;
	int			i,
				p;
	int			lastslot = -1;
	bool		gone = false;

	InitMaterializedSRF(fcinfo, 0);
	rows = el_slots_members(&nrows);

	for (i = 0; i < nrows; i++)
	{
		ElMemberRow *r = &rows[i];
		Datum		values[8];
		bool		nulls[8] = {false, false, false, false, false, false, false, false};
		Datum	   *parts;

		if (r->slot != lastslot)
		{
			/* a dropped topic's members are gone with it */
			lastslot = r->slot;
			gone = !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(r->topic_relid));
			if (gone)
				el_slots_release(r->slot, r->incarnation);
		}
		if (gone)
			continue;
		parts = palloc(sizeof(Datum) * Max(r->nparts, 1));
		for (p = 0; p < r->nparts; p++)
			parts[p] = Int32GetDatum(r->parts[p]);
		values[0] = CStringGetTextDatum(NameStr(r->group_id));
		values[1] = CStringGetTextDatum(NameStr(r->topic));
		values[2] = CStringGetTextDatum(NameStr(r->m.name));
		values[3] = Int32GetDatum(r->m.pid);
		nulls[3] = (r->m.pid == 0);
		values[4] = BoolGetDatum(r->m.is_static);
		values[5] = PointerGetDatum(construct_array(parts, r->nparts, INT4OID,
													4, true, TYPALIGN_INT));
		values[6] = TimestampTzGetDatum(r->m.joined_at);
		values[7] = TimestampTzGetDatum(r->m.last_poll);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * eventlog.configure_group(group_id, topic, session_timeout,
 * max_poll_interval, auto_offset_reset, auto_commit): create or change a
 * group's settings; NULL keeps a setting (or takes its default).
 *
 * Written in C so that the privilege check sees the caller's current role
 * (after SET ROLE, too), as every other function does; the catalog write
 * then runs as the catalog owner.
 */
static Datum
checked_timeout(FunctionCallInfo fcinfo, int argno, const char *what)
{
	int64		us;

	if (PG_ARGISNULL(argno))
		return (Datum) 0;
	us = el_interval_usecs(PG_GETARG_INTERVAL_P(argno));
	if (us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("session_timeout and max_poll_interval must be positive intervals")));
	if (us / 1000 > el_group_max_timeout_ms())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not exceed eventlog.max_session_timeout (%d s)",
						what, el_max_session_timeout),
				 errdetail("A member that stops polling keeps its group's slot for this long."),
				 errhint("Choose a shorter interval, or ask a superuser to raise eventlog.max_session_timeout.")));
	return PG_GETARG_DATUM(argno);
}

PG_FUNCTION_INFO_V1(eventlog_configure_group);
Datum
eventlog_configure_group(PG_FUNCTION_ARGS)
{
	char	   *group_id;
	ElTopic    *topic;
	Datum		settings[4];
	bool		isnull[4];
	int			i;

	el_require_args(fcinfo, 2, "group_id and topic");
	group_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_group_id(group_id);
	topic = el_topic_open(PG_GETARG_TEXT_PP(1), AccessShareLock, NULL);
	el_check_read_privilege(topic);

	settings[0] = checked_timeout(fcinfo, 2, "session_timeout");
	settings[1] = checked_timeout(fcinfo, 3, "max_poll_interval");
	settings[2] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	settings[3] = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	for (i = 0; i < 4; i++)
		isnull[i] = PG_ARGISNULL(2 + i);
	if (!PG_ARGISNULL(4))
	{
		char	   *reset = text_to_cstring(PG_GETARG_TEXT_PP(4));

		if (strcmp(reset, "earliest") != 0 && strcmp(reset, "latest") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid auto_offset_reset \"%s\"", reset),
					 errhint("Use \"earliest\" or \"latest\".")));
	}

	SPI_connect();
	el_group_configure(group_id, NameStr(topic->name), topic->relid,
					   settings, isnull);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * eventlog.grant_group(group_id, topic, role_name),
 * eventlog.revoke_group(group_id, topic, role_name) and
 * eventlog.alter_group_owner(group_id, topic, new_owner)
 */
static Oid
role_arg(FunctionCallInfo fcinfo, int argno, bool allow_public)
{
	const char *name = NameStr(*PG_GETARG_NAME(argno));

	if (allow_public && strcmp(name, "public") == 0)
		return ACL_ID_PUBLIC;
	return get_role_oid(name, false);
}

static Datum
change_group_rights(FunctionCallInfo fcinfo, bool grant, bool owner)
{
	char	   *group_id;
	ElTopic    *topic;
	Oid			role;

	el_require_args(fcinfo, 3, owner ? "group_id, topic and new_owner" :
					"group_id, topic and role_name");
	group_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_group_id(group_id);
	topic = el_topic_open(PG_GETARG_TEXT_PP(1), AccessShareLock, NULL);
	role = role_arg(fcinfo, 2, !owner);

	SPI_connect();
	el_group_set_rights(group_id, NameStr(topic->name), owner ? InvalidOid : role,
						grant, owner ? role : InvalidOid);
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(eventlog_grant_group);
Datum
eventlog_grant_group(PG_FUNCTION_ARGS)
{
	return change_group_rights(fcinfo, true, false);
}

PG_FUNCTION_INFO_V1(eventlog_revoke_group);
Datum
eventlog_revoke_group(PG_FUNCTION_ARGS)
{
	return change_group_rights(fcinfo, false, false);
}

PG_FUNCTION_INFO_V1(eventlog_alter_group_owner);
Datum
eventlog_alter_group_owner(PG_FUNCTION_ARGS)
{
	return change_group_rights(fcinfo, false, true);
}
