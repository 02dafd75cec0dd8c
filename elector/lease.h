/* The Lease election algorithm, client-go's tryAcquireOrRenew step by step, as pure decision logic.
 *
 * No I/O and no clock reads: every function takes the monotonic time (ms) and the wall time it needs, and an
 * attempt is driven by feeding it the outcome of each request. elector.c runs it on the loop and lease_json.c
 * turns API objects into records; the unit tests run it on a fake clock. Not for: HTTP, JSON, timers. */
#ifndef HTIC_ELECTOR_LEASE_H
#define HTIC_ELECTOR_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/lease_rules.h" /* LEASE_IDENTITY_MAX (the term's), LEASE_JITTER_FACTOR, the timing rules */

/* What another client may write into holderIdentity, preferredHolder or strategy: Kubernetes bounds these
 * only by the size of the object, and etcd refuses any request over its default --max-request-bytes
 * (1.5 MiB), so no stored Lease holds a longer string. Longer is refused as unreadable. */
#define LEASE_FOREIGN_STR_MAX (1536u * 1024u)
/* A foreign string longer than our identity bound is kept in a shortened form (lease_json.c): its first
 * LEASE_IDENTITY_MAX bytes (cut at a UTF-8 boundary) and "...[N bytes, fnv1a64 HEX]". The form is longer
 * than any identity we accept, so it is never taken for ours, and it differs between two holders unless
 * their 64-bit hashes collide (a writer able to forge that could write any holder anyway). The suffix is at
 * most 4 + 7 + 16 + 16 + 1 = 44 bytes. */
#define LEASE_FOREIGN_KEPT_MAX TERM_HOLDER_MAX
/* resourceVersion and uid are opaque decimal strings / UUIDs; 128 is far above anything etcd produces. */
#define LEASE_RV_MAX 128
/* "2006-01-02T15:04:05.000000Z" plus room for a 5-digit year and NUL. */
#define LEASE_MICROTIME_LEN 40
/* Writes of ours remembered to tell them from a record naming us that someone else wrote: the last one
 * the API confirmed and every one sent since whose outcome is unknown (a timeout or transport error: it may
 * still be applied). Within one term those are at most renew_deadline / retry_period; beyond 64 the oldest
 * is forgotten, and a record of ours read as a twin's costs a wait of lease_duration, never safety. */
#define LEASE_WRITES_REMEMBERED 64
/* Floor of the per-request timeout: client-go uses max(1 s, RenewDeadline/2). */
#define LEASE_REQUEST_TIMEOUT_MIN_MS 1000

/* A wall-clock instant as written into acquireTime/renewTime: Unix seconds and microseconds, or unset. */
struct lease_time {
    int64_t sec;
    int32_t usec;    /* 0..999999 */
    int set;         /* 0: absent or null */
};

/* client-go's LeaderElectionRecord, mapped onto Lease.spec (leaderTransitions <-> leaseTransitions). */
struct lease_record {
    char holder[LEASE_FOREIGN_KEPT_MAX + 1];   /* "" when absent; foreign ones maybe shortened */
    int32_t duration_s;                    /* leaseDurationSeconds; 0 when absent */
    struct lease_time acquire;
    struct lease_time renew;
    int32_t transitions;                   /* leaseTransitions; 0 when absent */
    char strategy[LEASE_FOREIGN_KEPT_MAX + 1];         /* compared only; never written by us */
    char preferred_holder[LEASE_FOREIGN_KEPT_MAX + 1]; /* compared only; never written by us */
};

/* A Lease as the API returned it: the record plus the metadata the state machine needs. */
struct lease_object {
    struct lease_record rec;
    char resource_version[LEASE_RV_MAX + 1];
    char uid[LEASE_RV_MAX + 1];
};

/* Timing configuration, in ms (as client-go's LeaderElectionConfig). */
struct lease_config {
    int64_t lease_duration_ms;
    int64_t renew_deadline_ms;
    int64_t retry_period_ms;
    const char *identity;   /* borrowed; must outlive the elector */
};

/* client-go's checks in client-go's order and words, plus ours (lease_duration >= 1s). 0 or -1 with e set. */
int lease_config_validate(const struct lease_config *cfg, struct err *e);
/* Non-fatal warnings (retry + renew_deadline >= lease_duration, lease_duration < 2*retry): writes up to
 * max messages into out (each ERR_MSG_MAX); returns how many. */
int lease_config_warnings(const struct lease_config *cfg, char out[][ERR_MSG_MAX], int max);

/* MicroTime: always UTC, exactly six fractional digits, "Z". out needs LEASE_MICROTIME_LEN. */
void lease_microtime_format(const struct lease_time *t, char *out, size_t n);
/* Lenient parse: RFC3339 with 0-9 fractional digits (truncated to micro), "Z" or +-hh:mm. 0 or -1. */
int lease_microtime_parse(const char *s, struct lease_time *out);

/* The record compared between two GETs as client-go does, but times to the microsecond (a renewal inside
 * the same second is a renewal: docs/leader-election.md). 1 if the same. */
int lease_record_same_raw(const struct lease_record *a, const struct lease_record *b);

/* ---- the state machine ---- */

/* What the caller must do next. */
enum lease_action {
    LEASE_ACT_NONE = 0,   /* the attempt is over: see lease_attempt.result */
    LEASE_ACT_GET,        /* GET the lease; report with lease_attempt_on_get */
    LEASE_ACT_CREATE,     /* POST lease_attempt.desired; report with lease_attempt_on_create */
    LEASE_ACT_UPDATE,     /* PUT lease_attempt.desired over the cached object with resourceVersion
                             lease_attempt.rv (and its uid); report with lease_attempt_on_update */
};

/* How a request ended, as far as the algorithm cares. */
enum lease_status {
    LEASE_ST_OK = 0,
    LEASE_ST_NOT_FOUND,   /* 404 */
    LEASE_ST_CONFLICT,    /* 409: stale resourceVersion, uid precondition, AlreadyExists */
    LEASE_ST_INVALID,     /* 422 (or 400): the request can never succeed; a configuration error */
    LEASE_ST_UNAUTHORIZED, /* 401: our credentials were refused (token expired, revoked or wrong) */
    LEASE_ST_FORBIDDEN,   /* 403: RBAC does not allow the verb on leases */
    LEASE_ST_ERROR,       /* 429, 5xx, transport error */
    LEASE_ST_TIMEOUT,     /* our deadline cut the request off */
};
const char *lease_status_str(enum lease_status st);

enum lease_result {
    LEASE_RES_PENDING = 0,
    LEASE_RES_ACQUIRED,   /* true: we hold it (created, took over, or renewed) */
    LEASE_RES_FAILED,     /* false: see reason */
};

/* Why an attempt ended the way it did (for logs and metrics). */
enum lease_reason {
    LEASE_WHY_NONE = 0,
    LEASE_WHY_RENEWED_FAST,        /* fast-path PUT through the cached object */
    LEASE_WHY_RENEWED_SLOW,        /* GET showed us as holder, PUT kept acquireTime/transitions */
    LEASE_WHY_CREATED,             /* GET 404, POST 201 */
    LEASE_WHY_TOOK_OVER,           /* empty or expired holder replaced, transitions + 1 */
    LEASE_WHY_HELD_BY_OTHER,       /* another holder, not yet expired by our observation */
    LEASE_WHY_GET_FAILED,
    LEASE_WHY_CREATE_FAILED,       /* includes 409 AlreadyExists: lost the create race */
    LEASE_WHY_UPDATE_FAILED,       /* slow-path PUT failed (409 = someone wrote in between) */
    LEASE_WHY_UNREADABLE,          /* the GET returned something we cannot parse */
    LEASE_WHY_DUPLICATE_IDENTITY,  /* the GET showed a record naming us that we did not write */
};
const char *lease_reason_str(enum lease_reason r);
/* The API verb of the request that ended an attempt with r: "get", "create" or "update" (RBAC's words);
 * "" for reasons that are no failed request. */
const char *lease_reason_verb(enum lease_reason r);

/* The elector's memory between attempts (client-go's LeaderElector fields). */
struct lease_state {
    struct lease_config cfg;
    struct lease_record observed;      /* last seen by GET/watch or last written by us */
    int64_t observed_mono_ms;          /* when observed was last set; -1 never */
    struct lease_record observed_raw;  /* last record seen by GET/watch, not updated by our writes */
    int have_raw;
    char cached_rv[LEASE_RV_MAX + 1];  /* resourceVersion of the object last returned by the API */
    char cached_uid[LEASE_RV_MAX + 1];
    int have_cached;                   /* a cached object exists (fast path possible) */
    char reported_leader[LEASE_FOREIGN_KEPT_MAX + 1];
    int reported_any;                  /* reported_leader is meaningful */
    uint64_t slow_path_renewals;       /* client-go's leader_election_slowpath_total */
    /* The records this process wrote or may have written (ring, newest at writes_next - 1; see
     * LEASE_WRITES_REMEMBERED): renewTime to the microsecond makes each one ours alone. */
    struct lease_record_mark {
        struct lease_time acquire, renew;
        int32_t duration_s, transitions;
    } writes[LEASE_WRITES_REMEMBERED];
    int nwrites, writes_next;
    int ok_writes;                     /* writes that succeeded in this process */
    /* Another replica wrote a record naming us: from now on such a record is treated as another holder's
     * (taken only once expired by our observation), so two replicas sharing an identity do not take the
     * Lease from each other in turn. */
    int distrust_own_identity;
};

void lease_state_init(struct lease_state *s, const struct lease_config *cfg);
/* 1 if r (naming us) is one of the records this process wrote. */
int lease_record_is_ours(const struct lease_state *s, const struct lease_record *r);
/* IsLeader(): the observed record names us. */
int lease_is_leader(const struct lease_state *s);
/* isLeaseValid(now): observed_mono + observed.leaseDurationSeconds > now (the lease's own duration). */
int lease_is_valid(const struct lease_state *s, int64_t now_mono_ms);
/* When the observed record expires by our observation (observed_mono + duration); -1 if never observed. */
int64_t lease_expiry_mono(const struct lease_state *s);
/* setObservedRecord: observed = r, observed time = now. */
void lease_set_observed(struct lease_state *s, const struct lease_record *r, int64_t now_mono_ms);
/* Feeds a record seen outside an attempt (a watch event): the same raw comparison as after a GET, so a
 * change restarts the expiry clock and an unchanged record does not. Returns 1 if it counted as a change. */
int lease_observe(struct lease_state *s, const struct lease_object *o, int64_t now_mono_ms);
/* maybeReportTransition, except that an empty holder is no leader, never a new one. */
enum lease_leader_change {
    LEASE_LEADER_SAME = 0,   /* nothing to report */
    LEASE_LEADER_NEW,        /* out filled: the observed holder differs from the last reported one */
    LEASE_LEADER_NONE,       /* the Lease was released (holder ""): no leader until someone acquires it; the
                              * next holder is reported even if it is the one before the release */
};
enum lease_leader_change lease_take_new_leader(struct lease_state *s, char *out, size_t n);

/* One tryAcquireOrRenew. */
struct lease_attempt {
    struct lease_record desired;     /* what CREATE/UPDATE must write */
    char rv[LEASE_RV_MAX + 1];       /* resourceVersion the UPDATE must carry */
    char uid[LEASE_RV_MAX + 1];      /* uid of the cached object (the fast path's precondition) */
    int64_t start_mono_ms;           /* client-go judges validity at the attempt's `now` */
    enum lease_action pending;       /* the request in flight */
    int fast_path;                   /* the pending UPDATE is the optimistic one */
    int fast_path_ran;
    int takeover;                    /* the pending UPDATE replaces another holder */
    enum lease_result result;
    enum lease_reason reason;
    enum lease_status last_status;   /* status of the request that ended it */
};

/* Starts an attempt at monotonic now with wall time `wall` (for acquireTime/renewTime). Returns the first
 * action: UPDATE (fast path) when we lead and the lease is valid by our observation, else GET. */
enum lease_action lease_attempt_begin(struct lease_state *s, struct lease_attempt *a, int64_t now_mono_ms,
                                      const struct lease_time *wall);
/* Outcome of the UPDATE; `written` is the API's answer (NULL unless OK; its rv becomes the cached one). */
enum lease_action lease_attempt_on_update(struct lease_state *s, struct lease_attempt *a, enum lease_status st,
                                          const struct lease_object *written, int64_t now_mono_ms);
/* Outcome of the GET: `fetched` NULL unless OK. A parse failure is reported as st=OK with fetched=NULL. */
enum lease_action lease_attempt_on_get(struct lease_state *s, struct lease_attempt *a, enum lease_status st,
                                       const struct lease_object *fetched, int64_t now_mono_ms);
enum lease_action lease_attempt_on_create(struct lease_state *s, struct lease_attempt *a, enum lease_status st,
                                          const struct lease_object *created, int64_t now_mono_ms);
/* Ends the attempt as failed without sending the pending request (no budget left, or it could not be
 * built or started). */
void lease_attempt_abort(struct lease_state *s, struct lease_attempt *a, enum lease_status st);

/* ---- release ---- */

/* Builds the release record from a freshly fetched lease: only if both the observed record (one of our
 * writes) and the fetched one name us (client-go checks only the former). holder "", leaseDurationSeconds 1, acquireTime =
 * renewTime = wall, transitions unchanged from the fetch. Returns 1 if a PUT is due, 0 if not ours. */
int lease_release_record(const struct lease_state *s, const struct lease_object *fetched,
                         const struct lease_time *wall, struct lease_record *out);
/* After the release PUT succeeded: observe the released record so IsLeader() turns false. */
void lease_release_done(struct lease_state *s, const struct lease_record *released, int64_t now_mono_ms);

/* ---- timing arithmetic ---- */

/* The deployer's fence: send time of the successful renew + renew_deadline (monotonic ms). */
int64_t lease_fence_ms(int64_t renew_sent_mono_ms, int64_t renew_deadline_ms);
/* The timeout for one request: max(1 s, renew_deadline/2), cut to what is left before budget_end_mono_ms
 * (pass -1 for no budget, as in the acquire loop). Returns 0 when nothing is left: do not send. */
int64_t lease_request_timeout_ms(const struct lease_config *cfg, int64_t now_mono_ms, int64_t budget_end_mono_ms);
/* Acquire-loop sleep: retry * (1 + r * 1.2) for r in [0,1). */
int64_t lease_jitter_ms(int64_t retry_period_ms, double r);
/* How long the machine was suspended between two readings of both clocks: the boot-time elapsed minus the
 * monotonic elapsed (CLOCK_MONOTONIC stops during suspend, CLOCK_BOOTTIME does not). Never negative. */
int64_t lease_suspended_ms(int64_t mono_then, int64_t boot_then, int64_t mono_now, int64_t boot_now);
/* The tolerated gap before a suspend counts as lost leadership: min(1 s, (lease - renew_deadline) / 2). */
int64_t lease_suspend_margin_ms(const struct lease_config *cfg);

#endif
