/*
 * quota.h
 *		Per-role byte-rate quotas on producing and fetching: token buckets
 *		in shared memory, charged as bytes are used, waited for at the
 *		start of the next call.
 */
#ifndef EVENTLOG_QUOTA_H
#define EVENTLOG_QUOTA_H

typedef enum ElQuotaDir
{
	EL_QUOTA_PRODUCE = 0,
	EL_QUOTA_FETCH = 1
} ElQuotaDir;

extern int	el_max_quota_roles;
extern int	el_quota_max_delay_ms;

extern Size el_quota_shmem_size(void);
extern void el_quota_shmem_request(void);
extern void el_quota_shmem_init(void);
extern void el_quota_register_callbacks(void);

/* charge bytes used (no wait); cheap when the role has no quota */
extern void el_quota_charge(ElQuotaDir dir, int64 bytes);

/*
 * At the start of a call: wait (interruptibly, at most
 * eventlog.quota_max_delay) while the role's bucket is in debt.  Returns
 * the bytes a fetch may read now (-1: no limit).
 */
extern int64 el_quota_throttle(ElQuotaDir dir);

/* would bytes moved now be charged (cheap; scans test it per row) */
extern bool el_quota_charging(ElQuotaDir dir);

/*
 * A materialized view's batch (viewapply.c): the bytes are its owner's
 * until el_quota_act_end(); el_quota_debt_ms() says how long the owner's
 * buckets stay in debt (the worker puts the view off, never sleeps).
 */
extern void el_quota_act_for(Oid role);
extern void el_quota_act_end(void);
extern long el_quota_debt_ms(void);

/* roles that go away (hooks.c); inside SPI */
extern void el_quota_forget_role(Oid roleid);
extern bool el_quota_role_has_row(Oid roleid);
extern void el_quota_drop_role(Oid roleid);

#endif							/* EVENTLOG_QUOTA_H */
