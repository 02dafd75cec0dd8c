/* Routing of IPC messages by type (see router.h). */
#include "supervisor/router.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

int router_init(struct router *r, const struct route *table, size_t n, const struct router_ops *ops,
                struct supervisor *s)
{
    memset(r, 0, sizeof(*r));
    r->table = table;
    r->n = n;
    r->ops = ops;
    r->s = s;
    r->stats = calloc(n ? n : 1, sizeof(*r->stats));
    r->latest = calloc(n ? n : 1, sizeof(*r->latest));
    if (!r->stats || !r->latest) {
        router_free(r);
        return -1;
    }
    for (size_t i = 0; i < n; i++) buf_init(&r->latest[i]);
    return 0;
}

void router_free(struct router *r)
{
    if (r->latest)
        for (size_t i = 0; i < r->n; i++) buf_free(&r->latest[i]);
    free(r->latest);
    free(r->stats);
    r->latest = NULL;
    r->stats = NULL;
}

const struct route *router_find(const struct router *r, const char *type, size_t *index)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->table[i].type, type) == 0) {
            if (index) *index = i;
            return &r->table[i];
        }
    return NULL;
}

/* The route that may carry type from `from`, or NULL after logging and counting the refusal. */
static const struct route *allowed(struct router *r, enum role_id from, const char *type, size_t *index)
{
    const struct route *rt = router_find(r, type, index);
    if (!rt) {
        r->refused_unknown++;
        log_warn("ipc message refused", "reason", "unknown type", "type", type, "child", r->ops->role_name(from));
        return NULL;
    }
    if (!(rt->from & ROUTE_ROLE(from))) {
        r->refused_sender++;
        log_warn("ipc message refused", "reason", "not a sender of this type", "type", type, "child",
                 r->ops->role_name(from));
        return NULL;
    }
    return rt;
}

static void forward(struct router *r, size_t i, const char *frame, size_t len)
{
    const struct route *rt = &r->table[i];
    if (rt->absent == ROUTE_KEEP_LATEST) {
        buf_reset(&r->latest[i]);
        buf_append(&r->latest[i], frame, len); /* out of memory: nothing kept, the next frame tries again */
        if (r->latest[i].oom) buf_free(&r->latest[i]);
    }
    for (int to = 0; to < ROLE_COUNT; to++) {
        if (!(rt->to & ROUTE_ROLE(to))) continue;
        if (r->ops->send_frame(r->s, (enum role_id)to, frame, len) == 0) r->stats[i].forwarded++;
        else if (rt->absent == ROUTE_DROP) r->stats[i].dropped++;
    }
}

int router_on_frame(struct router *r, enum role_id from, const char *type, const char *frame, size_t len)
{
    size_t i;
    const struct route *rt = allowed(r, from, type, &i);
    if (!rt) return 1;
    if (rt->handle) return 0;
    forward(r, i, frame, len);
    return 1;
}

void router_dispatch(struct router *r, enum role_id from, struct json_object *msg, const char *type)
{
    size_t i;
    const struct route *rt = allowed(r, from, type, &i);
    if (!rt || !rt->handle) return;
    r->stats[i].handled++;
    rt->handle(r->s, from, msg);
}

void router_on_role_up(struct router *r, enum role_id role)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct route *rt = &r->table[i];
        if (rt->handle || rt->absent != ROUTE_KEEP_LATEST || !(rt->to & ROUTE_ROLE(role))) continue;
        if (r->latest[i].len == 0) continue;
        if (r->ops->send_frame(r->s, role, r->latest[i].data, r->latest[i].len) == 0) r->stats[i].forwarded++;
    }
}

struct json_object *router_describe(const struct router *r)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "refused_unknown_type", json_object_new_int64((int64_t)r->refused_unknown));
    json_object_object_add(o, "refused_sender", json_object_new_int64((int64_t)r->refused_sender));
    struct json_object *routes = json_object_new_object();
    for (size_t i = 0; i < r->n; i++) {
        struct json_object *s = json_object_new_object();
        json_object_object_add(s, "forwarded", json_object_new_int64((int64_t)r->stats[i].forwarded));
        json_object_object_add(s, "dropped", json_object_new_int64((int64_t)r->stats[i].dropped));
        json_object_object_add(s, "handled", json_object_new_int64((int64_t)r->stats[i].handled));
        json_object_object_add(routes, r->table[i].type, s);
    }
    json_object_object_add(o, "routes", routes);
    return o;
}
