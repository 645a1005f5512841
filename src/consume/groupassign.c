/*
 * groupassign.c
 *		Consumer-group membership and partition assignment.
 *
 * Every live member gets floor(P/M) or ceil(P/M) of the P partitions
 * (balanced), and members keep what they hold whenever their quota allows
 * (sticky), so a join or a leave moves as few partitions as possible.
 * Members expire when their backend is gone (session members), when they
 * have been silent for longer than the session timeout (static members),
 * or when they have not polled within the max poll interval (all).
 *
 * These functions only transform the slot they are given: no SPI, no
 * catalog access, no locking.  The caller (groupslots.c) holds the lock
 * that guards the slot and passes in what they would otherwise look up
 * themselves (the time, the caller's pid, whether a backend is alive),
 * which keeps the rules in one place and independent of shared memory.
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "eventlog/groupassign.h"

/* The member called name, or -1. */
int
el_member_find(const ElGroupSlot *s, const char *name)
{
	int			i;

	for (i = 0; i < s->nmembers; i++)
		if (strcmp(NameStr(s->members[i].name), name) == 0)
			return i;
	return -1;
}

/*
 * Join (or refresh) a member polling from backend pid.  *joined says
 * whether it is new; a new member gets join_seq, which orders members by
 * age for the tie-break of el_group_rebalance().  Returns the member's
 * index, or -1 if the group is full (nothing changed then).
 */
int
el_member_join(ElGroupSlot *s, const char *name, bool is_static, int pid,
			   uint64 join_seq, TimestampTz now, bool *joined)
{
	int			i = el_member_find(s, name);
	ElMember   *m;

	*joined = false;
	if (i >= 0)
	{
		s->members[i].pid = pid;
		s->members[i].last_poll = now;
		return i;
	}
	if (s->nmembers >= EL_GROUP_MAX_MEMBERS)
		return -1;
	m = &s->members[s->nmembers];
	memset(m, 0, sizeof(ElMember));
	namestrcpy(&m->name, name);
	m->pid = pid;
	m->is_static = is_static;
	m->join_seq = join_seq;
	m->joined_at = now;
	m->last_poll = now;
	s->generation++;
	*joined = true;
	return s->nmembers++;
}

/*
 * Remove member idx.  The last member takes its index (members are not
 * kept in any order), so owner[] is renumbered; the removed member's
 * partitions are left unowned for el_group_rebalance() to hand out.
 */
void
el_member_remove(ElGroupSlot *s, int idx)
{
	int			last = s->nmembers - 1;
	int			p;

	for (p = 0; p < EL_MAX_PARTITIONS; p++)
	{
		if (s->owner[p] == idx)
			s->owner[p] = -1;
		else if (s->owner[p] == last)
			s->owner[p] = idx;
	}
	if (idx != last)
		s->members[idx] = s->members[last];
	s->nmembers--;
	s->generation++;
}

/* Has a member been silent for longer than ms milliseconds? */
static bool
silent_for(const ElMember *m, TimestampTz now, int64 ms)
{
	/* ms is bounded by eventlog.max_session_timeout: no overflow */
	return now - m->last_poll > ms * 1000;
}

/*
 * Drop members that are gone: session members whose backend exited,
 * static members silent for longer than the session timeout, and any
 * member that has not polled within the max poll interval.
 */
void
el_members_expire(ElGroupSlot *s, TimestampTz now, ElBackendAlive alive)
{
	int			i = 0;

	while (i < s->nmembers)
	{
		ElMember   *m = &s->members[i];
		bool		gone = false;

		if (!m->is_static && (m->pid == 0 || !alive(m->pid)))
			gone = true;
		else if (m->is_static && silent_for(m, now, s->session_timeout_ms))
			gone = true;
		else if (silent_for(m, now, s->max_poll_interval_ms))
			gone = true;
		if (gone)
			el_member_remove(s, i);
		else
			i++;
	}
}

/*
 * Backend pid exits: its session members leave at once, and static
 * members it polled for stay (until their session timeout) without a
 * backend.
 */
void
el_members_detach_pid(ElGroupSlot *s, int pid)
{
	int			j = 0;

	while (j < s->nmembers)
	{
		if (s->members[j].pid == pid && !s->members[j].is_static)
			el_member_remove(s, j);
		else
		{
			if (s->members[j].pid == pid)
				s->members[j].pid = 0;
			j++;
		}
	}
}

/*
 * Balanced, sticky assignment.  Quotas: P / M each, and one more for the
 * P % M members that already hold the most (ties: earliest joined), which
 * is what keeps moves to a minimum.  Members keep their partitions up to
 * their quota; the rest are handed to members below quota.
 */
void
el_group_rebalance(ElGroupSlot *s)
{
	int			M = s->nmembers;
	int			P = s->nparts;
	int			count[EL_GROUP_MAX_MEMBERS];
	int			quota[EL_GROUP_MAX_MEMBERS];
	int			kept[EL_GROUP_MAX_MEMBERS];
	int			order[EL_GROUP_MAX_MEMBERS];
	int			i,
				j,
				p;
	bool		changed = false;

	for (p = P; p < EL_MAX_PARTITIONS; p++)
		s->owner[p] = -1;
	if (M == 0)
	{
		for (p = 0; p < P; p++)
			s->owner[p] = -1;
		return;
	}
	memset(count, 0, sizeof(count));
	memset(kept, 0, sizeof(kept));
	for (p = 0; p < P; p++)
		if (s->owner[p] >= 0 && s->owner[p] < M)
			count[s->owner[p]]++;
		else
			s->owner[p] = -1;

	/* order: most partitions held first, then join order (insertion sort) */
	for (i = 0; i < M; i++)
	{
		order[i] = i;
		for (j = i; j > 0; j--)
		{
			int			a = order[j - 1],
						b = order[j];

			if (count[a] > count[b] ||
				(count[a] == count[b] && s->members[a].join_seq < s->members[b].join_seq))
				break;
			order[j - 1] = b;
			order[j] = a;
		}
	}
	for (i = 0; i < M; i++)
		quota[order[i]] = P / M + (i < P % M ? 1 : 0);

	for (p = 0; p < P; p++)
	{
		int			o = s->owner[p];

		if (o < 0)
			continue;
		if (kept[o] < quota[o])
			kept[o]++;
		else
		{
			s->owner[p] = -1;
			changed = true;
		}
	}
	for (p = 0; p < P; p++)
	{
		if (s->owner[p] >= 0)
			continue;
		for (i = 0; i < M; i++)
		{
			int			m = order[M - 1 - i];	/* least loaded first */

			if (kept[m] < quota[m])
			{
				s->owner[p] = m;
				kept[m]++;
				changed = true;
				break;
			}
		}
	}
	if (changed)
		s->generation++;
}

/*
 * The partitions of member idx in serving order: ascending, starting at
 * the first one at or after start (mod P), so that successive polls with
 * a rotating start do not always serve the same partition first when
 * max_records runs out.  parts needs room for s->nparts entries; returns
 * how many were stored.
 */
int
el_member_partitions(const ElGroupSlot *s, int idx, int start, int *parts)
{
	int			n = 0;
	int			p;

	for (p = 0; p < s->nparts; p++)
	{
		int			q = (p + start) % s->nparts;

		if (s->owner[q] == idx)
			parts[n++] = q;
	}
	return n;
}

/*
 * When the slot frees itself if nobody polls again: the latest of its
 * members' expiry times (the max poll interval, or the session timeout for
 * static members if that is shorter).  Also the last poll of any member
 * and the number of static members.  Session members whose backend exits
 * leave at once, before that.
 */
void
el_group_expiry(const ElGroupSlot *s, TimestampTz *last_poll,
				TimestampTz *expires_at, int *static_members)
{
	int			j;

	*last_poll = 0;
	*expires_at = 0;
	*static_members = 0;
	for (j = 0; j < s->nmembers; j++)
	{
		const ElMember *m = &s->members[j];
		int64		ms = s->max_poll_interval_ms;
		TimestampTz until;

		if (m->is_static)
		{
			(*static_members)++;
			ms = Min(ms, s->session_timeout_ms);
		}
		until = m->last_poll + ms * 1000;
		*last_poll = Max(*last_poll, m->last_poll);
		*expires_at = Max(*expires_at, until);
	}
}
