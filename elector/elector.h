/* The elector's loop: runs lease.c's decision logic on libuv timers against a lease_api, and reports
 * leadership to the supervisor (became_leader, renewed, lost_leadership, new_leader_observed, the four
 * leader events, a periodic election report). Followers watch the Lease and check for expiry exactly when
 * their observation says it is due; polling takes over while the watch is down. Not for: HTTP (lease_api),
 * the IPC channel itself (main.c wires the sink to common/worker). */
#ifndef HTIC_ELECTOR_ELECTOR_H
#define HTIC_ELECTOR_ELECTOR_H

#include <json-c/json.h>
#include <stdint.h>
#include <uv.h>

#include "elector/lease.h"
#include "elector/lease_api.h"

/* The API's own message (Status.message) kept for an error line: the kube client bounds it to 512 too. */
#define ELECTOR_API_MESSAGE_MAX 512

/* Where the elector's messages go. send: control messages (never dropped); report: periodic, lossy. Both
 * borrow msg. */
struct elector_sink {
    void (*send)(void *data, struct json_object *msg);
    void (*report)(void *data, struct json_object *msg);
    void *data;
};

/* Clocks, replaceable by tests. NULL members take the real clocks. */
struct elector_clock {
    int64_t (*mono_ms)(void *data);
    int64_t (*boot_ms)(void *data);
    void (*wall)(void *data, struct lease_time *out);
    double (*rand01)(void *data);   /* jitter source, [0,1) */
    void *data;
};

struct elector_opts {
    struct lease_config lease;   /* durations and identity (borrowed) */
    const char *ns;              /* borrowed */
    const char *name;            /* borrowed */
    int watch;                   /* followers watch the Lease (1) or only poll, as client-go (0) */
    int64_t release_budget_ms;   /* bound of the release on shutdown; 0: renew_deadline (client-go's) */
    struct elector_clock clock;
};

enum elector_phase {
    ELECTOR_IDLE = 0,
    ELECTOR_CONTENDING,          /* acquire loop */
    ELECTOR_LEADING,             /* renew loop */
    ELECTOR_WAITING_DEPLOYER,    /* lost; waits for deployer_stopped before contending again */
    ELECTOR_RELEASING,           /* shutdown: releasing the Lease if still ours */
    ELECTOR_STOPPED,
};
const char *elector_phase_str(enum elector_phase p);

struct elector_stats {
    uint64_t attempts, requests, renewals, renew_failures, acquisitions, losses, watch_events, watch_restarts;
    int64_t last_renew_latency_ms;   /* send to answer of the last successful write */
};

struct elector {
    uv_loop_t *loop;
    struct elector_opts o;
    struct lease_api api;
    struct elector_sink sink;
    struct lease_state st;
    struct lease_attempt att;
    enum elector_phase phase;
    int in_attempt;
    int request_pending;
    int64_t attempt_start_ms;
    int64_t req_sent_mono, req_sent_boot;      /* the request in flight */
    int64_t write_sent_mono, write_sent_boot;  /* the last successful write of this attempt */
    int64_t fence_ms;                          /* -1 while not leading */
    int only_unreachable;                      /* every renewal since the last success timed out / errored */
    struct json_object *cached;                /* owned: the Lease object the API last returned */
    struct json_object *watched;               /* owned: the object of the last watch event, NULL before one */
    int watched_deleted;                       /* that event was DELETED */
    uint64_t watch_seq;                        /* watch events with an object, counted in order of arrival */
    uint64_t get_sent_watch_seq;               /* watch_seq when the GET in flight was sent */
    uv_timer_t attempt_timer, fence_timer, expiry_timer, request_timer, watch_timer;
    int watching, watch_healthy;
    int64_t release_deadline_ms;
    char last_api_message[ELECTOR_API_MESSAGE_MAX]; /* the API's words on the last answer, for the log */
    char term[TERM_MAX];                       /* common/term.h; the term we lead under */
    struct elector_stats stats;
    void (*on_stopped)(struct elector *el);    /* after shutdown finished (release done or given up) */
    int closing, open_handles;
    void (*on_closed)(struct elector *el);
    void *data;                                /* the owner's */
};

/* Validates opts (client-go's rules) and sets the elector up; 0 or -1 with e set. Borrows api and sink. */
int elector_init(struct elector *el, uv_loop_t *loop, const struct elector_opts *opts, struct lease_api api,
                 struct elector_sink sink, struct err *e);
/* Announces LeaderElectionStarted, starts the watch (if enabled) and the first attempt. */
int elector_start(struct elector *el);
/* The supervisor confirmed the deployer is gone: contend again. */
void elector_on_deployer_stopped(struct elector *el);
/* Graceful shutdown: stop contending; if we hold the Lease, report lost_leadership(graceful_shutdown) and
 * release it (bounded by renew_deadline); then on_stopped runs. Only for an orderly stop, when the supervisor
 * has confirmed the deployer gone (docs/leader-election.md, "Abandon, never release, without a supervisor"). */
void elector_shutdown(struct elector *el, void (*on_stopped)(struct elector *el));
/* The supervisor is gone: stop everything (timers, watch, the request in flight) and write nothing, so a held
 * Lease is left to expire; nobody can confirm the deployer stopped, and it may still act until its fence,
 * which comes before the expiry. on_stopped runs before the return. A release already under way (started by
 * an orderly shutdown) is left to finish. */
void elector_abandon(struct elector *el, void (*on_stopped)(struct elector *el));
/* Closes the timers; on_closed runs when libuv is done with them (then el may be freed). */
void elector_close(struct elector *el, void (*on_closed)(struct elector *el));

#endif
