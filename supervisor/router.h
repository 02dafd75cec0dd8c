/* The supervisor's routing of IPC messages: one table of {type, allowed senders, handled by a function or
 * forwarded as raw bytes to roles}. Pipeline traffic between roles passes through byte for byte: the
 * supervisor reads only the type from the frame's prefix (docs/ipc.md), never the body. A message of an
 * unknown type or from a role the table does not allow is refused (logged, counted, not delivered).
 * Forwarding is bounded: a destination with more than ROUTER_QUEUE_HIGH bytes waiting stops the reading of
 * the senders whose frames go to it until it drains (backpressure, never loss), and a kept frame that was
 * replayed into a destination which then died at once is not replayed to it again (no crash loop).
 * Not for: what a handled message means (supervisor.c, leadership.c) or the channel itself (common/ipc.c). */
#ifndef HTIC_SUPERVISOR_ROUTER_H
#define HTIC_SUPERVISOR_ROUTER_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "supervisor/roles.h"

#define ROUTE_ROLE(id) (1u << (id))
#define ROUTE_ANY_ROLE ((1u << ROLE_COUNT) - 1u)

/* A destination with more than this waiting unsent (its frames and the supervisor's own) makes the router stop
 * reading the channels of the senders whose frames go to it. Four maximal frames (IPC_FRAME_MAX): a reader
 * that is merely a few frames behind never pauses anyone, while one that is stopped, swapping or stuck costs
 * the supervisor (PID 1 in the pod) a few MiB per destination instead of everything its sources send (an
 * initial list of 10k objects is 20-30 MB in one burst). What a read already under way still hands over
 * (at most 64 KiB per sender) and the frame that crossed the mark come on top. */
#define ROUTER_QUEUE_HIGH (4u << 20)
/* The senders read again once the destination is down to this: a quarter of the high mark, so that a resume
 * buys 3 MiB of writes before the next pause instead of a pause per frame. */
#define ROUTER_QUEUE_LOW (1u << 20)
/* A destination that dies this soon after a kept frame was replayed to it on its hello, or before it sent
 * anything at all after the replay (a hang on the frame, killed as hung), is taken to have died of that frame:
 * it is not replayed to that destination again, else every restart would crash on it until the crash-loop
 * cap takes the whole pod down. Five seconds covers a parse and a validation of a large configuration; a
 * death later than that, after the destination answered, is not blamed on the replay. */
#define ROUTER_REPLAY_SUSPECT_MS 5000

struct supervisor;

/* A handled message, parsed; from is a role the route allows. */
typedef void (*route_handler)(struct supervisor *s, enum role_id from, struct json_object *msg);

enum route_absent {
    ROUTE_DROP,          /* a destination that is not up misses the message (counted as dropped) */
    ROUTE_KEEP_LATEST,   /* the newest frame is kept and replayed to each destination when it says hello */
};

struct route {
    const char *type;
    unsigned from;             /* ROUTE_ROLE mask of the roles that may send it */
    route_handler handle;      /* handled by the supervisor (the body is parsed), or NULL: forwarded */
    unsigned to;               /* forwarded: ROUTE_ROLE mask of the destinations */
    enum route_absent absent;  /* forwarded: what a destination that is not up gets */
};

struct router_ops {
    /* Queues frame to role; returns -1 when that role is not up (not running or no hello yet). */
    int (*send_frame)(struct supervisor *s, enum role_id to, const char *frame, size_t len);
    const char *(*role_name)(enum role_id r);
    /* Flow control. Bytes waiting to be written to role. */
    size_t (*queued)(struct supervisor *s, enum role_id to);
    /* Calls router_on_drained(to) once role's queue is down to mark; returns -1 (nothing will follow) when it
     * already is, or role has no channel. */
    int (*notify_drained)(struct supervisor *s, enum role_id to, size_t mark);
    /* Stop and restart reading role's channel (its heartbeats too: the hung check must know). */
    void (*pause)(struct supervisor *s, enum role_id from);
    void (*resume)(struct supervisor *s, enum role_id from);
    int64_t (*now_ms)(struct supervisor *s);  /* CLOCK_MONOTONIC milliseconds */
};

struct route_stats {
    uint64_t forwarded;        /* frames queued to a destination */
    uint64_t dropped;          /* ROUTE_DROP frames a destination missed */
    uint64_t handled;
    uint64_t withheld;         /* ROUTE_KEEP_LATEST: kept frames no longer replayed to a destination they killed */
};

/* The newest frame of a ROUTE_KEEP_LATEST route and who must not get it again. */
struct route_kept {
    struct buf frame;          /* owned; empty: nothing kept */
    unsigned replayed;         /* ROUTE_ROLE mask: replayed on hello, not yet past suspicion */
    unsigned withheld;         /* ROUTE_ROLE mask: died of it after a replay; cleared by a newer frame */
};

/* A destination's last replay, to tell a death caused by a replayed frame from a later one. */
struct route_replay {
    int64_t at_ms;             /* 0: no replay under suspicion */
    int heard;                 /* the destination sent a frame since */
};

struct router {
    const struct route *table;     /* borrowed */
    size_t n;
    const struct router_ops *ops;  /* borrowed */
    struct supervisor *s;          /* borrowed: passed to handlers and ops */
    struct route_stats *stats;     /* owned, n entries */
    struct route_kept *kept;       /* owned, n entries: for ROUTE_KEEP_LATEST routes */
    struct route_replay replay[ROLE_COUNT];
    unsigned congested;            /* ROUTE_ROLE mask: destinations past ROUTER_QUEUE_HIGH, not yet drained */
    unsigned waits_for[ROLE_COUNT];/* per sender: the congested destinations it is paused for; 0: reading */
    uint64_t congestions;          /* times a destination passed ROUTER_QUEUE_HIGH */
    uint64_t pauses;               /* times a sender's reading was stopped */
    uint64_t refused_unknown;      /* frames whose type is in no route */
    uint64_t refused_sender;       /* frames from a role the route does not allow */
};

/* Returns 0, or -1 when out of memory. */
int router_init(struct router *r, const struct route *table, size_t n, const struct router_ops *ops,
                struct supervisor *s);
void router_free(struct router *r);
/* The channel's raw hook for a frame from `from`: 1 when the router took it (forwarded, dropped or refused),
 * 0 when it is a handled type to be parsed and passed to router_dispatch. */
int router_on_frame(struct router *r, enum role_id from, const char *type, const char *frame, size_t len);
/* A parsed message of a handled route: calls its handler (refused like router_on_frame otherwise). */
void router_dispatch(struct router *r, enum role_id from, struct json_object *msg, const char *type);
/* `role` said hello: replays to it the newest frame of each ROUTE_KEEP_LATEST route that goes to it (unless
 * it died of that frame before). */
void router_on_role_up(struct router *r, enum role_id role);
/* `role` exited: its queue is gone (senders paused for it read again), its own pause ends with its channel,
 * and, when it crashed (an exit nobody asked for, or killed as hung), a replay it died of right away is
 * withheld from it from now on (logged with type and size, counted). */
void router_on_role_down(struct router *r, enum role_id role, int crashed);
/* `role`'s queue came down to ROUTER_QUEUE_LOW (ops->notify_drained): the senders paused for it read again. */
void router_on_drained(struct router *r, enum role_id role);
/* The route of type, or NULL; its index in *index when found. */
const struct route *router_find(const struct router *r, const char *type, size_t *index);
/* {"refused_unknown_type": n, "refused_sender": n, "congestions": n, "pauses": n, "congested": [role],
 *  "paused": [role], "routes": {type: {forwarded, dropped, handled, withheld}}} */
struct json_object *router_describe(const struct router *r);

#endif
