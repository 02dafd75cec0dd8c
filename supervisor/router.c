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
    r->kept = calloc(n ? n : 1, sizeof(*r->kept));
    if (!r->stats || !r->kept) {
        router_free(r);
        return -1;
    }
    for (size_t i = 0; i < n; i++) buf_init(&r->kept[i].frame);
    return 0;
}

void router_free(struct router *r)
{
    if (r->kept)
        for (size_t i = 0; i < r->n; i++) buf_free(&r->kept[i].frame);
    free(r->kept);
    free(r->stats);
    r->kept = NULL;
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

/* from's frame went to `to`: past the high mark, `to` is congested and every sender whose frame reaches it
 * while it is stops being read until it drains. */
static void hold_sender_if_congested(struct router *r, enum role_id from, enum role_id to)
{
    unsigned bit = ROUTE_ROLE(to);
    if (!(r->congested & bit)) {
        size_t queued = r->ops->queued(r->s, to);
        if (queued <= ROUTER_QUEUE_HIGH) return;
        if (r->ops->notify_drained(r->s, to, ROUTER_QUEUE_LOW) < 0) return;
        r->congested |= bit;
        r->congestions++;
        log_info("ipc destination congested, pausing its senders", "child", r->ops->role_name(to), "queued_bytes",
                 LOG_UINT(queued), "resume_below_bytes", LOG_UINT(ROUTER_QUEUE_LOW));
    }
    if (r->waits_for[from] & bit) return;
    if (r->waits_for[from] == 0) {
        r->ops->pause(r->s, from);
        r->pauses++;
        log_info("ipc sender paused", "child", r->ops->role_name(from), "for", r->ops->role_name(to));
    }
    r->waits_for[from] |= bit;
}

/* `to` no longer holds anyone back (drained, or gone with its queue). */
static void release_senders(struct router *r, enum role_id to)
{
    unsigned bit = ROUTE_ROLE(to);
    r->congested &= ~bit;
    for (int f = 0; f < ROLE_COUNT; f++) {
        if (!(r->waits_for[f] & bit)) continue;
        r->waits_for[f] &= ~bit;
        if (r->waits_for[f] == 0) {
            log_info("ipc sender resumed", "child", r->ops->role_name((enum role_id)f), "after",
                     r->ops->role_name(to));
            r->ops->resume(r->s, (enum role_id)f);
        }
    }
}

static void forward(struct router *r, size_t i, enum role_id from, const char *frame, size_t len)
{
    const struct route *rt = &r->table[i];
    if (rt->absent == ROUTE_KEEP_LATEST) {
        struct route_kept *k = &r->kept[i];
        buf_reset(&k->frame);
        buf_append(&k->frame, frame, len); /* out of memory: nothing kept, the next frame tries again */
        if (k->frame.oom) buf_free(&k->frame);
        /* a new frame is not the one a destination died of, nor a replay */
        k->withheld = 0;
        k->replayed = 0;
    }
    for (int to = 0; to < ROLE_COUNT; to++) {
        if (!(rt->to & ROUTE_ROLE(to))) continue;
        if (r->ops->send_frame(r->s, (enum role_id)to, frame, len) == 0) {
            r->stats[i].forwarded++;
            hold_sender_if_congested(r, from, (enum role_id)to);
        } else if (rt->absent == ROUTE_DROP) {
            r->stats[i].dropped++;
        }
    }
}

int router_on_frame(struct router *r, enum role_id from, const char *type, const char *frame, size_t len)
{
    r->replay[from].heard = 1; /* any frame: the sender got past what was replayed to it, or is not hung on it */
    size_t i;
    const struct route *rt = allowed(r, from, type, &i);
    if (!rt) return 1;
    if (rt->handle) return 0;
    forward(r, i, from, frame, len);
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
    unsigned bit = ROUTE_ROLE(role);
    int replayed = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct route *rt = &r->table[i];
        if (rt->handle || rt->absent != ROUTE_KEEP_LATEST || !(rt->to & bit)) continue;
        struct route_kept *k = &r->kept[i];
        if (k->frame.len == 0 || (k->withheld & bit)) continue;
        if (r->ops->send_frame(r->s, role, k->frame.data, k->frame.len) != 0) continue;
        r->stats[i].forwarded++;
        k->replayed |= bit;
        replayed = 1;
    }
    if (replayed) r->replay[role] = (struct route_replay){.at_ms = r->ops->now_ms(r->s), .heard = 0};
}

void router_on_drained(struct router *r, enum role_id role) { release_senders(r, role); }

void router_on_role_down(struct router *r, enum role_id role, int crashed)
{
    unsigned bit = ROUTE_ROLE(role);
    release_senders(r, role);
    r->waits_for[role] = 0; /* its paused channel went with it; the next one starts reading */
    struct route_replay rp = r->replay[role];
    r->replay[role] = (struct route_replay){0};
    int64_t since = rp.at_ms ? r->ops->now_ms(r->s) - rp.at_ms : 0;
    int suspect = crashed && rp.at_ms && (since < ROUTER_REPLAY_SUSPECT_MS || !rp.heard);
    for (size_t i = 0; i < r->n; i++) {
        struct route_kept *k = &r->kept[i];
        if (!(k->replayed & bit)) continue;
        k->replayed &= ~bit;
        if (!suspect) continue;
        k->withheld |= bit;
        r->stats[i].withheld++;
        log_warn("kept frame withheld: its destination died right after its replay", "type", r->table[i].type,
                 "child", r->ops->role_name(role), "bytes", LOG_UINT(k->frame.len), "after_ms", LOG_INT(since),
                 "heard_since", rp.heard ? "yes" : "no");
    }
}

struct json_object *router_describe(const struct router *r)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "refused_unknown_type", json_object_new_int64((int64_t)r->refused_unknown));
    json_object_object_add(o, "refused_sender", json_object_new_int64((int64_t)r->refused_sender));
    json_object_object_add(o, "congestions", json_object_new_int64((int64_t)r->congestions));
    json_object_object_add(o, "pauses", json_object_new_int64((int64_t)r->pauses));
    struct json_object *congested = json_object_new_array(), *paused = json_object_new_array();
    for (int role = 0; role < ROLE_COUNT; role++) {
        const char *name = r->ops->role_name((enum role_id)role);
        if (r->congested & ROUTE_ROLE(role)) json_object_array_add(congested, json_object_new_string(name));
        if (r->waits_for[role]) json_object_array_add(paused, json_object_new_string(name));
    }
    json_object_object_add(o, "congested", congested);
    json_object_object_add(o, "paused", paused);
    struct json_object *routes = json_object_new_object();
    for (size_t i = 0; i < r->n; i++) {
        struct json_object *s = json_object_new_object();
        json_object_object_add(s, "forwarded", json_object_new_int64((int64_t)r->stats[i].forwarded));
        json_object_object_add(s, "dropped", json_object_new_int64((int64_t)r->stats[i].dropped));
        json_object_object_add(s, "handled", json_object_new_int64((int64_t)r->stats[i].handled));
        json_object_object_add(s, "withheld", json_object_new_int64((int64_t)r->stats[i].withheld));
        json_object_object_add(routes, r->table[i].type, s);
    }
    json_object_object_add(o, "routes", routes);
    return o;
}
