/*
 * fetch.c
 *		Stateless reads: eventlog.fetch(), offset_for_time() and the
 *		per-partition figures behind the eventlog.partitions view.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "common/int.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "executor/tuptable.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/inval.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "eventlog/elstore.h"
#include "eventlog/eventlog.h"
#include "eventlog/fetch.h"
#include "eventlog/notify.h"
#include "eventlog/pending.h"
#include "eventlog/quota.h"
#include "eventlog/stats.h"
#include "eventlog/sqlargs.h"
#include "eventlog/subxact.h"

/*
 * Bytes the current fetch() or poll() may still read (-1: no limit): set
 * from the role's fetch quota at the start of the call (quota.c), so that
 * a throttled read returns a shorter batch.
 */
int64		el_read_budget = -1;

static void check_log_start(ElTopic *topic, const ElPartitionStore *part, int64 from);
static int	read_part(ElTopic *topic, const ElPartitionStore *part, int64 from_offset,
					  int max_records, Snapshot snapshot,
					  Tuplestorestate *tupstore, TupleDesc tupdesc, int64 *next);

/*
 * The partition as this reader's snapshot sees it.  A REPEATABLE READ (or
 * SERIALIZABLE) transaction reads every statement with one snapshot, so
 * its log start, segments included, is the one of that snapshot: what
 * eventlog.partitions showed it earlier in the transaction stays readable
 * however far retention or delete_records moved the log start since.  In
 * READ COMMITTED each statement sees the catalog as it is now (the cached
 * topic).
 */
static const ElPartitionStore *
reader_partition(ElTopic *topic, int partition)
{
	if (IsolationUsesXactSnapshot())
		return el_partition_as_of(topic, partition, GetActiveSnapshot());
	return &topic->parts[partition];
}

void
el_check_read_privilege(ElTopic *topic)
{
	if (pg_class_aclcheck(topic->relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read topic \"%s\"", NameStr(topic->name)),
				 errhint("Reading requires SELECT privilege on the topic relation.")));
}

/*
 * Read up to max_records records of one partition from from_offset, in
 * offset order, stopping at the first record whose transaction is not
 * settled for the snapshot.  Rows go to tupstore; returns the count and,
 * in *next, the offset to read from next time.
 */
int
el_read_partition(ElTopic *topic, int partition, int64 from_offset,
				  int max_records, Snapshot snapshot,
				  Tuplestorestate *tupstore, TupleDesc tupdesc, int64 *next)
{
	return read_part(topic, &topic->parts[partition], from_offset, max_records,
					 snapshot, tupstore, tupdesc, next);
}

/* el_read_partition() of one partition's store (reader_partition()) */
static int
read_part(ElTopic *topic, const ElPartitionStore *part, int64 from_offset,
		  int max_records, Snapshot snapshot,
		  Tuplestorestate *tupstore, TupleDesc tupdesc, int64 *next)
{
	int			partition = part->partition;
	ElCursor	cur;
	TupleTableSlot *slot = MakeSingleTupleTableSlot(tupdesc, &TTSOpsMinimalTuple);
	char	   *buf = palloc(BLCKSZ + 64);
	const char *entry;
	uint16		len;
	int64		off;
	int64		base_ts;
	int			n = 0;
	int64		bytes = 0;

	*next = from_offset;
	/* this backend's own routed-but-unappended records come first */
	if (!el_pending_empty())
		el_pending_flush();
	el_cursor_init(&cur, part, from_offset, snapshot, EL_READ_STOP);
	for (;;)
	{
		MinimalTuple mt;

		if (n >= max_records)
			break;
		if (el_read_budget >= 0 && bytes >= el_read_budget && n > 0)
			break;				/* the role's fetch quota: a shorter batch */
		if (!el_cursor_next_raw(&cur, &off, &entry, &len, &base_ts))
		{
			/*
			 * Exhausted: everything before cur.want is settled and what was
			 * not returned belongs to aborted transactions (the cursor stops
			 * before an open one).  Move past it, so that a consumer does
			 * not rescan it forever and its lag can reach 0.
			 */
			*next = Max(*next, cur.want);
			break;
		}
		/* rows go into the tuplestore as built, no deform/form round trip */
		mt = el_record_to_minimal(entry, len, tupdesc->natts, partition, off, base_ts, buf);
		ExecStoreMinimalTuple(mt, slot, false);
		tuplestore_puttupleslot(tupstore, slot);
		*next = off + 1;
		n++;
		/* charged as produce() charged it: stored record bytes */
		bytes += el_entry_charge(entry, len, topic->storedesc,
								 (char *) mt + mt->t_hoff - MINIMAL_TUPLE_OFFSET + 16);
	}
	el_cursor_end(&cur);
	if (n > 0)
	{
		if (el_read_budget >= 0)
			el_read_budget = Max(el_read_budget - bytes, 0);
		el_stats_fetched(topic->relid, n, bytes);
	}
	ExecDropSingleTupleTableSlot(slot);
	pfree(buf);
	return n;
}

/*
 * Snapshot for one attempt of a waiting read.  In READ COMMITTED each
 * attempt after a wake-up needs a new snapshot to see the commit that woke
 * it; in REPEATABLE READ the transaction snapshot is the answer.
 */
Snapshot
el_read_snapshot(bool fresh)
{
	if (fresh && !IsolationUsesXactSnapshot())
		return RegisterSnapshot(GetLatestSnapshot());
	return RegisterSnapshot(GetActiveSnapshot());
}

/*
 * Kafka's OFFSET_OUT_OF_RANGE: a fetch from below the log start offset
 * (records deleted by retention or delete_records) is an error that names
 * the log start, never a silent jump forward.  SQLSTATE 22003
 * (numeric_value_out_of_range).
 */
static void
check_log_start(ElTopic *topic, const ElPartitionStore *part, int64 from)
{
	int64		log_start = el_partition_log_start(part);

	if (from < log_start)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("offset " INT64_FORMAT " is below the log start offset " INT64_FORMAT " of partition %d of topic \"%s\"",
						from, log_start, part->partition, NameStr(topic->name)),
				 errdetail("Records below the log start offset were deleted by retention or delete_records (Kafka's OFFSET_OUT_OF_RANGE)."),
				 errhint("Fetch from offset " INT64_FORMAT ", or from a later one, or from 'earliest'.", log_start)));
}

/* A decimal offset (surrounding spaces allowed), as int8in reads one */
static bool
scan_offset(const char *str, int64 *result)
{
	char	   *end;

	errno = 0;
	*result = strtoi64(str, &end, 10);
	if (end == str || errno != 0)
		return false;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	return *end == '\0';
}

/* Where a fetch starts: an offset, or one of Kafka's named positions */
typedef enum FetchStart
{
	FETCH_AT_OFFSET,
	FETCH_EARLIEST,				/* the log start offset */
	FETCH_LATEST				/* the stable offset: only what commits next */
} FetchStart;

/*
 * fetch() from an offset or a named position.  A named position is
 * resolved under the topic's lock with the snapshot the records are read
 * with, so 'earliest' never fails with "below the log start offset"
 * however often retention or delete_records move it.
 */
static Datum
fetch_records(FunctionCallInfo fcinfo, FetchStart start, int64 from)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ElTopic    *topic;
	const ElPartitionStore *part;
	int			partition;
	int			max_records;
	long		wait_ms;
	TimestampTz deadline;
	bool		fresh = false;

	partition = PG_GETARG_INT32(1);
	max_records = PG_ARGISNULL(3) ? 500 : PG_GETARG_INT32(3);
	wait_ms = el_wait_arg_ms(fcinfo, 4);
	if (start == FETCH_AT_OFFSET && from < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_offset must not be negative"),
				 errhint("Offsets start at 0; use from_offset => 'earliest' for the partition's log start.")));
	if (max_records < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_records must be at least 1")));

	topic = el_topic_open(PG_GETARG_TEXT_PP(0), AccessShareLock, NULL);
	el_check_partition(topic, partition);
	el_check_read_privilege(topic);
	part = reader_partition(topic, partition);
	if (start == FETCH_EARLIEST)
		from = el_partition_log_start(part);
	else if (start == FETCH_LATEST)
	{
		ElPartitionStats st;

		/* this backend's own buffered records count (pending.h) */
		if (!el_pending_empty())
			el_pending_flush();
		el_partition_stats(part, GetActiveSnapshot(), &st);
		from = st.stable_offset;
	}
	check_log_start(topic, part, from);
	el_read_budget = el_quota_throttle(EL_QUOTA_FETCH);

	InitMaterializedSRF(fcinfo, 0);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	for (;;)
	{
		uint64		seq = el_notify_seq(topic->relid);
		Snapshot	snap = el_read_snapshot(fresh);
		int64		next;
		int			n;
		long		left;

		n = read_part(topic, part, from, max_records, snap,
					  rsinfo->setResult, rsinfo->setDesc, &next);
		UnregisterSnapshot(snap);
		if (n > 0 || wait_ms == 0)
			break;
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (left <= 0 || IsolationUsesXactSnapshot())
			break;
		el_notify_wait(topic->relid, seq, left);
		fresh = true;
	}
	return (Datum) 0;
}

/*
 * eventlog.fetch(topic, partition, from_offset bigint, max_records, wait)
 */
PG_FUNCTION_INFO_V1(eventlog_fetch);
Datum
eventlog_fetch(PG_FUNCTION_ARGS)
{
	el_require_args(fcinfo, 3, "topic, partition and from_offset");
	return fetch_records(fcinfo, FETCH_AT_OFFSET, PG_GETARG_INT64(2));
}

/*
 * eventlog.fetch(topic, partition, from_offset text, max_records, wait):
 * 'earliest' (the log start offset), 'latest' (the stable offset: what
 * commits from now on), or an offset written as text.
 */
PG_FUNCTION_INFO_V1(eventlog_fetch_from);
Datum
eventlog_fetch_from(PG_FUNCTION_ARGS)
{
	char	   *pos;
	int64		from = 0;

	el_require_args(fcinfo, 3, "topic, partition and from_offset");
	pos = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (pg_strcasecmp(pos, "earliest") == 0)
		return fetch_records(fcinfo, FETCH_EARLIEST, 0);
	if (pg_strcasecmp(pos, "latest") == 0)
		return fetch_records(fcinfo, FETCH_LATEST, 0);
	if (!scan_offset(pos, &from))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid from_offset \"%s\"", pos),
				 errhint("Give an offset, 'earliest' (the log start offset) or 'latest' (the stable offset).")));
	return fetch_records(fcinfo, FETCH_AT_OFFSET, from);
}

/*
 * eventlog.offset_for_time(topic, partition, ts): earliest offset whose
 * record time is >= ts, NULL if none.
 */
PG_FUNCTION_INFO_V1(eventlog_offset_for_time);
Datum
eventlog_offset_for_time(PG_FUNCTION_ARGS)
{
	ElTopic    *topic;
	int			partition;
	TimestampTz ts;
	ElCursor	cur;
	Datum	   *values;
	bool	   *isnull;
	int64		off;
	int64		result = -1;
	int			tsatt = -1;
	int			i;
	MemoryContext tmp,
				old;

	el_require_args(fcinfo, 3, "topic, partition and ts");
	partition = PG_GETARG_INT32(1);
	ts = PG_GETARG_TIMESTAMPTZ(2);
	topic = el_topic_open(PG_GETARG_TEXT_PP(0), AccessShareLock, NULL);
	el_check_partition(topic, partition);
	el_check_read_privilege(topic);

	for (i = 0; i < topic->storedesc->natts; i++)
		if (strcmp(NameStr(TupleDescAttr(topic->storedesc, i)->attname), "ts") == 0)
			tsatt = EL_NDERIVED + i;
	if (tsatt < 0)
		PG_RETURN_NULL();

	values = palloc(sizeof(Datum) * (EL_NDERIVED + topic->storedesc->natts));
	isnull = palloc(sizeof(bool) * (EL_NDERIVED + topic->storedesc->natts));
	tmp = AllocSetContextCreate(CurrentMemoryContext, "offset_for_time",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(tmp);
	/* the time index finds the page to start from when ts is the first column */
	off = 0;
	/* this backend's own buffered records count too (pending.h) */
	if (!el_pending_empty())
		el_pending_flush();
	if (tsatt == EL_NDERIVED && topic->ts_natts > 0)
		off = el_time_start_offset(&topic->parts[partition], ts);
	if (off >= 0)
	{
		el_cursor_init(&cur, &topic->parts[partition], off, GetActiveSnapshot(), EL_READ_SKIP);
		while (el_cursor_next(&cur, &off, values, isnull))
		{
			if (!isnull[tsatt] && DatumGetTimestampTz(values[tsatt]) >= ts)
			{
				result = off;
				break;
			}
		}
		el_cursor_end(&cur);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	if (result < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(result);
}

/*
 * May the current role see a topic's offsets, sizes and groups?  Like
 * pg_stat_activity, which shows other roles' queries only to members of
 * pg_read_all_stats: a role that may read the topic (SELECT), or one with
 * pg_read_all_stats.
 */
bool
el_may_see_topic_stats(Oid relid)
{
	return pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK ||
		has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
}

/*
 * One partition's figures, computed in an internal subtransaction (as a
 * PL/pgSQL exception block does): a partition that cannot be read (a
 * damaged page, say) must not take down eventlog.partitions or
 * eventlog.consumer_lag, which span every topic.  Its error becomes a
 * WARNING naming the topic and partition, and its figures are NULL.  A
 * cancel (or statement timeout) is not swallowed.  Returns whether the
 * figures were computed.
 */
typedef struct PartitionStatsArgs
{
	const ElPartitionStore *part;
	ElPartitionStats *st;
} PartitionStatsArgs;

static void
partition_stats_step(void *arg)
{
	PartitionStatsArgs *a = (PartitionStatsArgs *) arg;

	/* (the caller flushed this backend's buffered records) */
	el_partition_stats(a->part, GetActiveSnapshot(), a->st);
}

static bool
partition_stats_guarded(ElTopic *topic, int partition, ElPartitionStats *st)
{
	PartitionStatsArgs a = {reader_partition(topic, partition), st};
	ErrorData  *edata = el_subxact_run(partition_stats_step, &a, false);

	if (edata == NULL)
		return true;
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("could not read partition %d of topic \"%s\": %s",
					partition, NameStr(topic->name), edata->message),
			 errdetail("The partition's figures are shown as NULL.")));
	FreeErrorData(edata);
	return false;
}

/*
 * eventlog.partition_stats(topic) RETURNS TABLE(partition, log_start_offset,
 * log_end_offset, stable_offset, segments, bytes): behind eventlog.partitions
 * and eventlog.consumer_lag.  No rows for a topic the current role may not
 * see (el_may_see_topic_stats).
 */
PG_FUNCTION_INFO_V1(eventlog_partition_stats);
Datum
eventlog_partition_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ElTopic    *topic;
	Oid			relid;
	int			p;

	/* a topic dropped concurrently simply has no partitions any more */
	relid = el_topic_lock(text_to_cstring(PG_GETARG_TEXT_PP(0)), AccessShareLock, true);
	InitMaterializedSRF(fcinfo, 0);
	if (!OidIsValid(relid) || !el_may_see_topic_stats(relid))
		return (Datum) 0;
	AcceptInvalidationMessages();
	topic = el_topic_get(relid, true);
	if (topic == NULL)
		return (Datum) 0;
	/* this backend's own buffered records count, outside the guard */
	if (!el_pending_empty())
		el_pending_flush();
	for (p = 0; p < topic->nparts; p++)
	{
		ElPartitionStats st;
		Datum		values[6];
		bool		isnull[6] = {false, false, false, false, false, false};

		values[0] = Int32GetDatum(p);
		if (partition_stats_guarded(topic, p, &st))
		{
			values[1] = Int64GetDatum(st.log_start_offset);
			values[2] = Int64GetDatum(st.log_end_offset);
			values[3] = Int64GetDatum(st.stable_offset);
			values[4] = Int32GetDatum(st.segments);
			values[5] = Int64GetDatum(st.bytes);
		}
		else
		{
			memset(values + 1, 0, sizeof(Datum) * 5);
			memset(isnull + 1, true, sizeof(bool) * 5);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}
