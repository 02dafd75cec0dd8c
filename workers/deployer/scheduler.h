/* The deployer's push scheduler: which target gets which generation when. PURE: no I/O, no clock (every
 * call takes now_ms), so it is unit-tested on a fake clock. The deployer asks sched_next() for the next
 * action, starts it, and reports its end with sched_compared() / sched_pushed().
 *
 * Rules: every target is brought to the newest LKG. A target is first compared (its running checksum read
 * back), so a new leader pushes only where targets differ (no push storm on takeover). Reloads of one
 * target are at least min_deployment_interval apart, counted from the start of the previous reload
 * (leading edge: a change after quiet goes at once; changes within the interval coalesce to the newest, as
 * only the newest LKG is ever pushed; arrivals never reset the wait, so the latency is at most the
 * interval plus one push). A change the target can apply without a reload (the fast lane, asked through
 * a callback) is not held by the interval. At most max_parallel pushes at once (0 = unlimited); a failed
 * push is retried with exponential backoff. Targets that disappear from the set are forgotten.
 * Not for: doing the push (target.h) or the fence (fence.h: the deployer checks it before every write). */
#ifndef HTIC_DEPLOYER_SCHEDULER_H
#define HTIC_DEPLOYER_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "common/pipeline/rundir.h"

/* Targets come from discovery (one per HAProxy pod) and haproxy.endpoints: far below this in any cluster
 * we know; a target list longer than this is cut and logged by the caller. */
#define SCHED_TARGETS_MAX 4096
/* A target name is a pod name or an endpoint name: Kubernetes names are at most 253 bytes. */
#define SCHED_NAME_MAX 256
/* Retry backoff after a failed push or compare: 500 ms, doubling, at most 30 s, so a target that comes
 * back is served within 30 s and a broken one costs one attempt every 30 s. */
#define SCHED_BACKOFF_BASE_MS 500
#define SCHED_BACKOFF_MAX_MS 30000

enum sched_state {
    SCHED_ST_UNKNOWN = 0,  /* its running checksum must be read back first */
    SCHED_ST_IDLE,
    SCHED_ST_COMPARING,
    SCHED_ST_PUSHING,
};

struct sched_target {
    char name[SCHED_NAME_MAX];
    enum sched_state state;
    char running[RUNDIR_CHECKSUM_BUF];   /* checksum on the target as last learned; "" none or unknown */
    char inflight[RUNDIR_CHECKSUM_BUF];  /* being pushed */
    int64_t inflight_generation;
    int64_t last_reload_ms;              /* start of its last reload; INT64_MIN: none yet */
    int64_t retry_at_ms;                 /* no attempt before this (backoff) */
    int failures;                        /* consecutive failures of push or compare */
    int removed;                         /* left the set while busy: forgotten when its action ends */
    int recheck;                         /* a compare was asked for while it was busy */
    int was_in_sync;                     /* it ran the LKG once: a later mismatch found by a compare is drift */
    int drifted;                         /* the next push repairs drift */
};

struct sched {
    struct sched_target *t;  /* owned */
    size_t n, cap;
    char want[RUNDIR_CHECKSUM_BUF];  /* the newest LKG; "" before the first */
    int64_t want_generation;
    int64_t interval_ms;   /* deploy.min_deployment_interval */
    int64_t timeout_ms;    /* deploy.deployment_timeout */
    int max_parallel;      /* deploy.max_parallel; 0 = unlimited */
    size_t cursor;         /* where the next scan starts, so no target starves under max_parallel */
};

enum sched_kind { SCHED_NONE = 0, SCHED_COMPARE, SCHED_PUSH };

/* Why a push happens (the reloads-by-reason metric and the audit). */
#define SCHED_REASON_INITIAL "initial"  /* first push to a target since this deployer started */
#define SCHED_REASON_CHANGE "change"    /* a new LKG */
#define SCHED_REASON_DRIFT "drift"      /* the target stopped matching the LKG behind our back */
#define SCHED_REASON_RETRY "retry"      /* after a failure */

struct sched_action {
    enum sched_kind kind;
    const char *target;        /* borrowed until the action is reported done */
    const char *checksum;      /* SCHED_PUSH: what to push */
    const char *from;          /* SCHED_PUSH: what the target runs ("" unknown) */
    int64_t generation;
    int64_t deadline_ms;       /* SCHED_PUSH: now + deployment_timeout */
    const char *reason;
};

/* 1 if the target can go from checksum `from` to `to` without a reload (the fast lane). */
typedef int (*sched_fast_fn)(void *ctx, const char *target, const char *from, const char *to);

void sched_init(struct sched *s, int64_t interval_ms, int64_t timeout_ms, int max_parallel);
void sched_free(struct sched *s);
/* The newest LKG. An older generation than the one held is ignored (returns 0 either way). */
void sched_set_lkg(struct sched *s, int64_t generation, const char *checksum);
/* Replaces the target set: new names start UNKNOWN (compared at once), missing ones are forgotten (after
 * their action ends if busy). Names are cut to SCHED_NAME_MAX-1 by the caller's validation; returns -1 if
 * more than SCHED_TARGETS_MAX or a name too long (nothing changed). */
int sched_set_targets(struct sched *s, const char *const *names, size_t n);
/* The next action due at now_ms, or 0 (out->kind SCHED_NONE). fast may be NULL (never fast). */
int sched_next(struct sched *s, int64_t now_ms, sched_fast_fn fast, void *ctx, struct sched_action *out);
/* The earliest time after now_ms at which sched_next could return something without any other event (an
 * interval or a backoff ending), or -1. */
int64_t sched_wake_ms(const struct sched *s, int64_t now_ms);
/* A compare ended: checksum is what the target runs ("" none of ours), NULL if it could not be read. */
void sched_compared(struct sched *s, const char *target, const char *checksum, int64_t now_ms);
/* A push ended. reloaded: the target reloaded (started at start_ms), which starts its interval; a failed
 * reload counts too (HAProxy did the work). running: what the target runs afterwards ("" unknown, NULL:
 * the pushed checksum when ok, unchanged otherwise). */
void sched_pushed(struct sched *s, const char *target, int ok, int reloaded, int64_t start_ms, const char *running,
                  int64_t now_ms);
/* Drift prevention: compare every target again (idle ones at once, busy ones when their action ends). */
void sched_recheck_all(struct sched *s);
/* Targets known to run the newest LKG. */
size_t sched_in_sync(const struct sched *s);
const struct sched_target *sched_find(const struct sched *s, const char *target);

#endif
