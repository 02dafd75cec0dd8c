/* The supervisor's routing of IPC messages: one table of {type, allowed senders, handled by a function or
 * forwarded as raw bytes to roles}. Pipeline traffic between roles passes through byte for byte: the
 * supervisor reads only the type from the frame's prefix (docs/ipc.md), never the body. A message of an
 * unknown type or from a role the table does not allow is refused (logged, counted, not delivered).
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
};

struct route_stats {
    uint64_t forwarded;        /* frames queued to a destination */
    uint64_t dropped;          /* ROUTE_DROP frames a destination missed */
    uint64_t handled;
};

struct router {
    const struct route *table;     /* borrowed */
    size_t n;
    const struct router_ops *ops;  /* borrowed */
    struct supervisor *s;          /* borrowed: passed to handlers and ops */
    struct route_stats *stats;     /* owned, n entries */
    struct buf *latest;            /* owned, n entries: newest frame of each ROUTE_KEEP_LATEST route */
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
/* `role` said hello: replays to it the newest frame of each ROUTE_KEEP_LATEST route that goes to it. */
void router_on_role_up(struct router *r, enum role_id role);
/* The route of type, or NULL; its index in *index when found. */
const struct route *router_find(const struct router *r, const char *type, size_t *index);
/* {"refused_unknown_type": n, "refused_sender": n, "routes": {type: {forwarded, dropped, handled}}} */
struct json_object *router_describe(const struct router *r);

#endif
