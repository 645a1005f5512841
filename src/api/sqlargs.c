/*
 * sqlargs.c
 *		Checks of SQL function arguments shared by the SQL entry points.
 */
#include "postgres.h"

#include <limits.h>

#include "common/int.h"
#include "utils/timestamp.h"

#include "eventlog/sqlargs.h"

/*
 * The first nargs arguments must not be NULL; names lists them as the
 * message shows them ("topic, partition and ts").  They are SQL argument
 * names, which are not translated.
 */
void
el_require_args(FunctionCallInfo fcinfo, int nargs, const char *names)
{
	int			i;

	for (i = 0; i < nargs; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", names)));
}

/*
 * An interval as microseconds (months of 30 days, as interval comparison
 * counts them), saturating at the int64 limits instead of overflowing: a
 * wait of a million years must not wrap around and turn negative.
 */
int64
el_interval_usecs(const Interval *iv)
{
	int64		months;
	int64		days;
	int64		sum;

	if (pg_mul_s64_overflow((int64) iv->month, DAYS_PER_MONTH * USECS_PER_DAY, &months))
		months = iv->month > 0 ? PG_INT64_MAX : PG_INT64_MIN;
	if (pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &days))
		days = iv->day > 0 ? PG_INT64_MAX : PG_INT64_MIN;
	if (pg_add_s64_overflow(months, days, &sum))
		sum = days > 0 ? PG_INT64_MAX : PG_INT64_MIN;
	if (pg_add_s64_overflow(sum, iv->time, &sum))
		sum = iv->time > 0 ? PG_INT64_MAX : PG_INT64_MIN;
	return sum;
}

/*
 * A wait in milliseconds.  Waits beyond INT_MAX ms (about 24.8 days, the
 * longest a latch can sleep at once) are clamped to it; a caller that
 * wants to wait forever gets the longest wait there is instead of an error.
 */
static long
interval_ms(Interval *iv)
{
	int64		us = el_interval_usecs(iv);

	if (us < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait must not be negative")));
	return (long) Min(us / 1000, (int64) INT_MAX);
}

long
el_wait_arg_ms(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return 0;
	return interval_ms(PG_GETARG_INTERVAL_P(argno));
}

