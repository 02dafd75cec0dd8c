/* The elector's loop on a real libuv loop against an in-memory Lease server (a fake lease_api with
 * kube-apiserver's write semantics: resourceVersion and uid preconditions, 409 on stale writes, AlreadyExists,
 * MicroTime width check, watch events). Short durations (lease 1 s) keep each test around a second or two.
 * Proves: one leader at a time, loss before anyone else can take over when cut off, graceful release seen
 * at once through the watch, takeover with the watch broken or absent, no contention before
 * deployer_stopped, suspend detection, no polling by a follower while the watch is healthy. */
#include "tests/unit/unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <inttypes.h>

#include "common/clock.h"
#include "common/ipc.h"
#include "elector/elector.h"
#include "elector/lease_json.h"
#include "elector/lease_kube.h"

/* ---- the fake server ---- */

#define MAX_CLIENTS 4

struct fake_client;

struct fake_server {
    struct json_object *lease; /* owned; NULL: not found */
    int64_t rv;
    int uid_seq;
    struct fake_client *clients[MAX_CLIENTS];
    int nclients;
    int bad_microtime; /* writes with a MicroTime not of six digits */
};

struct fake_client {
    struct fake_server *srv;
    uv_loop_t *loop;
    uv_timer_t deliver;
    int partitioned;        /* requests never answer; watch goes silent */
    int watch_refused;      /* watch_start fails */
    int latency_ms;
    int read_at_send;       /* a GET is answered with the Lease as it was when sent (a slow answer) */
    enum lease_status refuse; /* not OK: every request is answered with this status */
    struct json_object *early; /* read_at_send: the answer, owned until delivered */
    enum lease_status early_st;
    /* the request in flight */
    int pending;
    const char *verb;
    struct json_object *body;
    lease_api_done_cb cb;
    void *cb_data;
    unsigned long requests, gets, writes;
    /* the watch */
    lease_api_event_cb on_event;
    lease_api_watch_end_cb on_end;
    void *watch_data;
    int watching;
};

static void notify(struct fake_server *s, const char *type)
{
    for (int i = 0; i < s->nclients; i++) {
        struct fake_client *c = s->clients[i];
        if (!c->watching || c->partitioned) continue;
        struct json_object *copy = NULL;
        if (s->lease) json_object_deep_copy(s->lease, &copy, NULL);
        else copy = json_tokener_parse("{\"metadata\":{}}");
        c->on_event(c->watch_data, type, copy);
        json_object_put(copy);
    }
}

static const char *meta_str(struct json_object *o, const char *key)
{
    struct json_object *m, *v;
    if (!json_object_object_get_ex(o, "metadata", &m) || !json_object_object_get_ex(m, key, &v)) return "";
    return json_object_get_string(v);
}

static void set_meta(struct json_object *o, const char *key, const char *val)
{
    struct json_object *m;
    json_object_object_get_ex(o, "metadata", &m);
    json_object_object_add(m, key, json_object_new_string(val));
}

static int microtime_ok(struct json_object *body)
{
    struct json_object *spec, *v;
    if (!json_object_object_get_ex(body, "spec", &spec)) return 1;
    const char *keys[] = {"acquireTime", "renewTime"};
    for (int i = 0; i < 2; i++) {
        if (!json_object_object_get_ex(spec, keys[i], &v) || !v) continue;
        const char *s = json_object_get_string(v);
        const char *dot = strchr(s, '.');
        if (!dot || strlen(dot) != 8 || dot[7] != 'Z') return 0;
    }
    return 1;
}

static void store(struct fake_server *s, struct json_object *body)
{
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, ++s->rv);
    struct json_object *copy = NULL;
    json_object_deep_copy(body, &copy, NULL);
    set_meta(copy, "resourceVersion", rv);
    json_object_put(s->lease);
    s->lease = copy;
}

/* Applies the request to the server now; returns the status and (OK) the object (new ref). */
static enum lease_status apply(struct fake_client *c, struct json_object **out)
{
    struct fake_server *s = c->srv;
    *out = NULL;
    if (strcmp(c->verb, "GET") == 0) {
        if (!s->lease) return LEASE_ST_NOT_FOUND;
        json_object_deep_copy(s->lease, out, NULL);
        return LEASE_ST_OK;
    }
    if (!microtime_ok(c->body)) {
        s->bad_microtime++;
        return LEASE_ST_INVALID;
    }
    if (strcmp(c->verb, "POST") == 0) {
        if (s->lease) return LEASE_ST_CONFLICT; /* AlreadyExists */
        char uid[32];
        snprintf(uid, sizeof(uid), "uid-%d", ++s->uid_seq);
        store(s, c->body);
        set_meta(s->lease, "uid", uid);
        notify(s, "ADDED");
    } else {
        if (!s->lease) return LEASE_ST_CONFLICT; /* our PUTs carry a uid: precondition fails */
        if (strcmp(meta_str(c->body, "resourceVersion"), meta_str(s->lease, "resourceVersion")) != 0 ||
            strcmp(meta_str(c->body, "uid"), meta_str(s->lease, "uid")) != 0)
            return LEASE_ST_CONFLICT;
        char uid[64];
        snprintf(uid, sizeof(uid), "%s", meta_str(s->lease, "uid"));
        store(s, c->body);
        set_meta(s->lease, "uid", uid);
        notify(s, "MODIFIED");
    }
    json_object_deep_copy(s->lease, out, NULL);
    return LEASE_ST_OK;
}

static void on_deliver(uv_timer_t *t)
{
    struct fake_client *c = t->data;
    if (!c->pending || c->partitioned) return;
    struct json_object *obj;
    struct lease_api_reply r = {0};
    if (c->refuse != LEASE_ST_OK) {
        r.st = c->refuse;
        obj = NULL;
    } else if (c->read_at_send && strcmp(c->verb, "GET") == 0) {
        r.st = c->early_st;
        obj = c->early;
        c->early = NULL;
    } else {
        r.st = apply(c, &obj);
    }
    r.obj = obj;
    c->pending = 0;
    json_object_put(c->body);
    c->body = NULL;
    c->cb(c->cb_data, &r);
    json_object_put(obj);
}

static int start_req(struct fake_client *c, const char *verb, struct json_object *body, lease_api_done_cb cb,
                     void *data)
{
    ck_assert_msg(!c->pending, "two requests in flight");
    c->pending = 1;
    c->verb = verb;
    c->body = body ? json_object_get(body) : NULL;
    c->cb = cb;
    c->cb_data = data;
    c->requests++;
    if (c->read_at_send && strcmp(verb, "GET") == 0) c->early_st = apply(c, &c->early);
    if (strcmp(verb, "GET") == 0) c->gets++;
    else c->writes++;
    uv_timer_start(&c->deliver, on_deliver, (uint64_t)c->latency_ms, 0);
    return 0;
}

static int f_get(void *impl, int64_t t, lease_api_done_cb cb, void *d) { return start_req(impl, "GET", NULL, cb, d); }
static int f_create(void *impl, struct json_object *b, int64_t t, lease_api_done_cb cb, void *d)
{
    return start_req(impl, "POST", b, cb, d);
}
static int f_update(void *impl, struct json_object *b, int64_t t, lease_api_done_cb cb, void *d)
{
    return start_req(impl, "PUT", b, cb, d);
}
static void f_cancel(void *impl)
{
    struct fake_client *c = impl;
    c->pending = 0;
    json_object_put(c->body);
    c->body = NULL;
    json_object_put(c->early);
    c->early = NULL;
    uv_timer_stop(&c->deliver);
}
static int f_watch_start(void *impl, lease_api_event_cb ev, lease_api_watch_end_cb end, void *d)
{
    struct fake_client *c = impl;
    if (c->watch_refused) return -1;
    c->on_event = ev;
    c->on_end = end;
    c->watch_data = d;
    c->watching = 1;
    return 0;
}
static void f_watch_stop(void *impl) { ((struct fake_client *)impl)->watching = 0; }

static const struct lease_api_ops fake_ops = {f_get, f_create, f_update, f_cancel, f_watch_start, f_watch_stop};

/* ---- a replica: elector + fake client + recorded messages ---- */

#define MAX_MSGS 256

struct msg_rec {
    char type[32];
    char detail[128]; /* reason, term, identity or event name */
    int64_t fence;
    int64_t at;       /* monotonic ms when sent */
};

struct replica {
    const char *id;
    struct fake_client fc;
    struct elector el;
    struct msg_rec msgs[MAX_MSGS];
    int nmsgs;
    int stopped;
    int64_t boot_offset; /* added to CLOCK_MONOTONIC to fake CLOCK_BOOTTIME */
};

static void on_sink(void *data, struct json_object *m)
{
    struct replica *r = data;
    if (r->nmsgs >= MAX_MSGS) return;
    struct msg_rec *x = &r->msgs[r->nmsgs++];
    const char *type = ipc_msg_str(m, "type");
    snprintf(x->type, sizeof(x->type), "%s", type);
    const char *d = ipc_msg_str(m, "reason");
    if (!d) d = ipc_msg_str(m, "term");
    if (!d) d = ipc_msg_str(m, "identity");
    if (!d) d = ipc_msg_str(m, "event");
    snprintf(x->detail, sizeof(x->detail), "%s", d ? d : "");
    x->fence = ipc_msg_int(m, "fence_mono_ms", -1);
    x->at = clock_mono_ms();
}

static int64_t fake_boot(void *data) { return clock_mono_ms() + ((struct replica *)data)->boot_offset; }

/* Followers compare renewTime at whole seconds (as client-go does), so with sub-second test periods every
 * millisecond of wall time is made a second apart: each renewal is then a visible change. */
static void fake_wall(void *data, struct lease_time *t)
{
    t->sec = 1700000000 + clock_mono_ms();
    t->usec = 0;
    t->set = 1;
}

static struct lease_config fast_cfg(const char *id)
{
    struct lease_config c = {.lease_duration_ms = 1000, .renew_deadline_ms = 600, .retry_period_ms = 150,
                             .identity = id};
    return c;
}

static void replica_init(struct replica *r, uv_loop_t *loop, struct fake_server *srv, const char *id, int watch)
{
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->fc.srv = srv;
    r->fc.loop = loop;
    r->fc.latency_ms = 2;
    uv_timer_init(loop, &r->fc.deliver);
    r->fc.deliver.data = &r->fc;
    srv->clients[srv->nclients++] = &r->fc;
    struct elector_opts o = {.lease = fast_cfg(id), .ns = "ns", .name = "lease", .watch = watch};
    o.clock.boot_ms = fake_boot;
    o.clock.wall = fake_wall;
    o.clock.data = r;
    struct elector_sink sink = {.send = on_sink, .report = NULL, .data = r};
    struct lease_api api = {&fake_ops, &r->fc};
    struct err e;
    ck_assert_msg(elector_init(&r->el, loop, &o, api, sink, &e) == 0, "%s", e.msg);
    r->el.data = r;
    ck_assert_int_eq(elector_start(&r->el), 0);
}

static void replica_close(struct replica *r)
{
    elector_close(&r->el, NULL);
    f_cancel(&r->fc);
    uv_close((uv_handle_t *)&r->fc.deliver, NULL);
}

/* Index of the first message of type (and detail, if given) at or after index from; -1 if none. */
static int find_msg(const struct replica *r, const char *type, const char *detail, int from)
{
    for (int i = from; i < r->nmsgs; i++)
        if (strcmp(r->msgs[i].type, type) == 0 && (!detail || strcmp(r->msgs[i].detail, detail) == 0)) return i;
    return -1;
}

static int count_msg(const struct replica *r, const char *type)
{
    int n = 0;
    for (int i = 0; i < r->nmsgs; i++) n += strcmp(r->msgs[i].type, type) == 0;
    return n;
}

static void on_tick_noop(uv_timer_t *t) { (void)t; }

/* Runs the loop for ms milliseconds, or until pred(arg) holds (checked every few ms). Returns pred's value. */
static int run_ms(uv_loop_t *loop, int64_t ms, int (*pred)(void *), void *arg)
{
    int64_t end = clock_mono_ms() + ms;
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick_noop, 5, 5);
    int ok = 0;
    while (clock_mono_ms() < end) {
        uv_run(loop, UV_RUN_ONCE);
        if (pred && pred(arg)) {
            ok = 1;
            break;
        }
    }
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

static int is_leading(void *arg) { return ((struct replica *)arg)->el.phase == ELECTOR_LEADING; }
static int is_waiting(void *arg) { return ((struct replica *)arg)->el.phase == ELECTOR_WAITING_DEPLOYER; }
static int has_stopped(void *arg) { return ((struct replica *)arg)->stopped; }
static int is_pending(void *arg) { return ((struct fake_client *)arg)->pending; }

static void finish_test(uv_loop_t *loop, struct fake_server *srv, struct replica **rs, int n)
{
    for (int i = 0; i < n; i++) replica_close(rs[i]);
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
    json_object_put(srv->lease);
    ck_assert_int_eq(srv->bad_microtime, 0);
}

static const char *holder(struct fake_server *s)
{
    struct json_object *spec, *h;
    if (!s->lease || !json_object_object_get_ex(s->lease, "spec", &spec) ||
        !json_object_object_get_ex(spec, "holderIdentity", &h))
        return NULL;
    return json_object_get_string(h);
}

static int transitions(struct fake_server *s)
{
    struct json_object *spec, *h;
    if (!s->lease || !json_object_object_get_ex(s->lease, "spec", &spec) ||
        !json_object_object_get_ex(spec, "leaseTransitions", &h))
        return -1;
    return json_object_get_int(h);
}

/* ---- tests ---- */

START_TEST(test_elector_acquires_and_renews_with_fence)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 2000, is_leading, &a));
    run_ms(&loop, 500, NULL, NULL);
    ck_assert_str_eq(holder(&srv), "a");
    int b = find_msg(&a, "became_leader", "a#0", 0);
    ck_assert_int_ge(b, 0);
    ck_assert_int_ge(find_msg(&a, "event", "LeaderElectionStarted", 0), 0);
    ck_assert_int_ge(find_msg(&a, "event", "BecameLeader", 0), 0);
    ck_assert_int_ge(find_msg(&a, "new_leader_observed", "a", 0), 0);
    /* the fence is the send time of the write plus renew_deadline: a little under 600 ms ahead */
    ck_assert_int_le(a.msgs[b].fence - a.msgs[b].at, 600);
    ck_assert_int_gt(a.msgs[b].fence - a.msgs[b].at, 500);
    /* renewals every retry_period (150 ms) extend it: about 3 in 500 ms, plus the immediate one */
    int renewed = count_msg(&a, "renewed");
    ck_assert_int_ge(renewed, 3);
    ck_assert_int_le(renewed, 6);
    int64_t last = -1;
    for (int i = 0; i < a.nmsgs; i++)
        if (a.msgs[i].fence >= 0) {
            ck_assert_int_gt(a.msgs[i].fence, last);
            last = a.msgs[i].fence;
        }
    ck_assert_int_eq(count_msg(&a, "lost_leadership"), 0);
    struct replica *rs[] = {&a};
    finish_test(&loop, &srv, rs, 1);
}
END_TEST

START_TEST(test_elector_one_leader_among_three)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica r[3];
    const char *ids[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) replica_init(&r[i], &loop, &srv, ids[i], 1);
    run_ms(&loop, 1500, NULL, NULL);
    int leaders = 0, became = 0;
    for (int i = 0; i < 3; i++) {
        leaders += r[i].el.phase == ELECTOR_LEADING;
        became += count_msg(&r[i], "became_leader");
        ck_assert_int_eq(count_msg(&r[i], "lost_leadership"), 0);
    }
    ck_assert_int_eq(leaders, 1);
    ck_assert_int_eq(became, 1);
    for (int i = 0; i < 3; i++) ck_assert_int_ge(find_msg(&r[i], "new_leader_observed", holder(&srv), 0), 0);
    struct replica *rs[] = {&r[0], &r[1], &r[2]};
    finish_test(&loop, &srv, rs, 3);
}
END_TEST

/* The leader cut off from the API loses leadership by its fence, before the follower can take over. */
START_TEST(test_elector_cut_off_leader_steps_down_before_takeover)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a, b;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    replica_init(&b, &loop, &srv, "b", 1);
    run_ms(&loop, 300, NULL, NULL);
    a.fc.partitioned = 1;
    ck_assert(run_ms(&loop, 3000, is_leading, &b));
    int lost = find_msg(&a, "lost_leadership", "api_unreachable", 0);
    ck_assert_int_ge(lost, 0);
    int became = find_msg(&b, "became_leader", NULL, 0);
    ck_assert_int_ge(became, 0);
    /* a's last fence passed before b became leader, and a said so before b acquired */
    int64_t last_fence = -1;
    for (int i = 0; i < a.nmsgs; i++)
        if (a.msgs[i].fence > last_fence) last_fence = a.msgs[i].fence;
    ck_assert_int_le(a.msgs[lost].at, last_fence + 20);
    ck_assert_int_lt(last_fence, b.msgs[became].at);
    ck_assert_int_lt(a.msgs[lost].at, b.msgs[became].at);
    /* b waited a full lease duration after a's last renewal */
    ck_assert_int_ge(b.msgs[became].at - (last_fence - 600), 1000);
    ck_assert_str_eq(holder(&srv), "b");
    ck_assert_int_eq(transitions(&srv), 1);
    struct replica *rs[] = {&a, &b};
    finish_test(&loop, &srv, rs, 2);
}
END_TEST

static void on_stopped(struct elector *el) { ((struct replica *)el->data)->stopped = 1; }

/* Graceful handoff: the leader releases; the follower sees it on the watch and acquires at once. */
START_TEST(test_elector_release_seen_through_watch)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a, b;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    replica_init(&b, &loop, &srv, "b", 1);
    run_ms(&loop, 300, NULL, NULL);
    elector_shutdown(&a.el, on_stopped);
    int64_t t0 = clock_mono_ms();
    ck_assert(run_ms(&loop, 1000, has_stopped, &a));
    ck_assert_int_ge(find_msg(&a, "lost_leadership", "graceful_shutdown", 0), 0);
    ck_assert(run_ms(&loop, 1000, is_leading, &b));
    int64_t handoff = clock_mono_ms() - t0;
    ck_assert_msg(handoff < 100, "handoff took %" PRId64 " ms", handoff); /* far below retry_period jitter */
    ck_assert_str_eq(holder(&srv), "b");
    ck_assert_int_eq(transitions(&srv), 1); /* the release kept transitions; b's takeover added one */
    struct replica *rs[] = {&a, &b};
    finish_test(&loop, &srv, rs, 2);
}
END_TEST

/* With the API hung, the release gives up at its budget instead of outliving the supervisor's stage. */
START_TEST(test_elector_release_bounded_when_api_hangs)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    a.el.o.release_budget_ms = 200;
    a.fc.partitioned = 1;
    int64_t t0 = clock_mono_ms();
    elector_shutdown(&a.el, on_stopped);
    ck_assert(run_ms(&loop, 1000, has_stopped, &a));
    int64_t took = clock_mono_ms() - t0;
    ck_assert_msg(took >= 190 && took < 400, "release gave up after %" PRId64 " ms", took);
    ck_assert_int_ge(find_msg(&a, "lost_leadership", "graceful_shutdown", 0), 0);
    ck_assert_str_eq(holder(&srv), "a"); /* not released: followers take over at expiry */
    f_cancel(&a.fc);
    struct replica *rs[] = {&a};
    finish_test(&loop, &srv, rs, 1);
}
END_TEST

/* The release writes only if the lease is still ours; a follower's shutdown writes nothing. */
START_TEST(test_elector_follower_shutdown_writes_nothing)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a, b;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    replica_init(&b, &loop, &srv, "b", 1);
    run_ms(&loop, 200, NULL, NULL);
    unsigned long writes = b.fc.writes;
    elector_shutdown(&b.el, on_stopped);
    ck_assert(run_ms(&loop, 500, has_stopped, &b));
    ck_assert_int_eq(b.fc.writes, writes);
    ck_assert_int_eq(count_msg(&b, "lost_leadership"), 0);
    ck_assert_str_eq(holder(&srv), "a");
    struct replica *rs[] = {&a, &b};
    finish_test(&loop, &srv, rs, 2);
}
END_TEST

/* The supervisor is gone (elector_abandon): the leader stops at once, writes nothing (not even with a request
 * in flight), sends nothing, and the follower takes over only when the Lease expired by its observation. */
START_TEST(test_elector_abandon_writes_nothing_and_others_wait_for_expiry)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a, b;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    replica_init(&b, &loop, &srv, "b", 1);
    run_ms(&loop, 300, NULL, NULL);
    a.fc.latency_ms = 50; /* the next renewal stays in flight long enough to be abandoned mid-way */
    ck_assert(run_ms(&loop, 1000, is_pending, &a.fc));
    unsigned long writes = a.fc.writes;
    int msgs = a.nmsgs;
    int64_t t0 = clock_mono_ms();
    elector_abandon(&a.el, on_stopped);
    ck_assert(a.stopped);
    ck_assert_int_eq(a.el.phase, ELECTOR_STOPPED);
    ck_assert(!a.fc.pending);
    ck_assert(run_ms(&loop, 3000, is_leading, &b));
    int64_t took = clock_mono_ms() - t0;
    ck_assert_int_eq(a.fc.writes, writes);
    ck_assert_int_eq(a.nmsgs, msgs);
    /* b last saw a's renewal at most one retry_period (150 ms) before the abandon */
    ck_assert_msg(took >= 1000 - 160, "taken over %" PRId64 " ms after the abandon, before expiry", took);
    ck_assert_str_eq(holder(&srv), "b");
    ck_assert_int_eq(transitions(&srv), 1); /* a takeover, no release in between */
    /* an orderly shutdown after the abandon changes nothing */
    elector_shutdown(&a.el, on_stopped);
    ck_assert_int_eq(a.fc.writes, writes);
    struct replica *rs[] = {&a, &b};
    finish_test(&loop, &srv, rs, 2);
}
END_TEST

/* Correctness with the watch broken (refused) or disabled: the follower takes over by polling. */
static void takeover_after_crash(int watch, int refuse)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a, b;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    replica_init(&b, &loop, &srv, "b", watch);
    if (refuse && b.fc.watching) {
        /* break the watch: it ends, and every restart is refused */
        b.fc.watch_refused = 1;
        b.fc.watching = 0;
        b.fc.on_end(b.fc.watch_data, "test broke it");
    }
    run_ms(&loop, 300, NULL, NULL);
    /* crash: a stops without releasing */
    replica_close(&a);
    srv.clients[0] = &b.fc; /* a's client is gone */
    srv.nclients = 1;
    int64_t t0 = clock_mono_ms();
    ck_assert(run_ms(&loop, 3000, is_leading, &b));
    int64_t took = clock_mono_ms() - t0;
    /* lease 1 s after b's last observation of a's renewal, plus at most one jittered poll (2.2 x 150 ms) */
    ck_assert_msg(took >= 1000 - 160 && took <= 1000 + 330 + 100, "takeover after %" PRId64 " ms", took);
    ck_assert_int_eq(b.el.watch_healthy, watch && !refuse);
    struct replica *rs[] = {&b};
    finish_test(&loop, &srv, rs, 1);
}

START_TEST(test_elector_takeover_with_watch_broken)
{
    takeover_after_crash(1, 1);
}
END_TEST

START_TEST(test_elector_takeover_without_watch)
{
    takeover_after_crash(0, 0);
}
END_TEST

START_TEST(test_elector_takeover_with_watch_at_expiry)
{
    takeover_after_crash(1, 0);
}
END_TEST

/* A follower with a healthy watch makes no polling requests while the leader renews. */
START_TEST(test_elector_follower_does_not_poll_while_watching)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a, b;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    replica_init(&b, &loop, &srv, "b", 1);
    run_ms(&loop, 200, NULL, NULL);
    unsigned long before = b.fc.requests;
    run_ms(&loop, 1500, NULL, NULL); /* longer than the lease: the renewals keep pushing expiry away */
    ck_assert_int_eq(b.fc.requests, before);
    ck_assert_int_gt(b.el.stats.watch_events, 5);
    ck_assert(is_leading(&a));
    struct replica *rs[] = {&a, &b};
    finish_test(&loop, &srv, rs, 2);
}
END_TEST

/* After a loss the elector does not contend until the supervisor confirms the deployer is gone. */
START_TEST(test_elector_waits_for_deployer_stopped)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    a.fc.partitioned = 1;
    ck_assert(run_ms(&loop, 1500, is_waiting, &a));
    f_cancel(&a.fc); /* the request the elector abandoned */
    a.fc.partitioned = 0;
    unsigned long before = a.fc.requests;
    run_ms(&loop, 600, NULL, NULL);
    ck_assert_int_eq(a.fc.requests, before);
    ck_assert(is_waiting(&a));
    elector_on_deployer_stopped(&a.el);
    ck_assert(run_ms(&loop, 1000, is_leading, &a)); /* its own record, nobody took over: leads again */
    ck_assert_int_eq(count_msg(&a, "became_leader"), 2);
    struct replica *rs[] = {&a};
    finish_test(&loop, &srv, rs, 1);
}
END_TEST

/* A suspend (CLOCK_BOOTTIME ahead of CLOCK_MONOTONIC) ends leadership before anything is written. */
START_TEST(test_elector_suspend_loses_before_writing)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    run_ms(&loop, 100, NULL, NULL);
    a.boot_offset = 30000;
    unsigned long writes = a.fc.writes;
    ck_assert(run_ms(&loop, 500, is_waiting, &a));
    ck_assert_int_ge(find_msg(&a, "lost_leadership", "suspended", 0), 0);
    ck_assert_int_le(a.fc.writes, writes + 1); /* at most the write already in flight */
    struct replica *rs[] = {&a};
    finish_test(&loop, &srv, rs, 1);
}
END_TEST

/* Someone else holds the lease now (deleted and recreated behind our back): the leader steps down at once
 * with lease_taken instead of waiting for its deadline. */
START_TEST(test_elector_lease_taken_steps_down)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    /* delete and recreate held by x */
    struct json_object *o = json_tokener_parse(
        "{\"metadata\":{\"name\":\"lease\",\"namespace\":\"ns\",\"uid\":\"uid-x\"},\"spec\":{\"holderIdentity\":"
        "\"x\",\"leaseDurationSeconds\":15,\"leaseTransitions\":0}}");
    store(&srv, o);
    json_object_put(o);
    int64_t t0 = clock_mono_ms();
    ck_assert(run_ms(&loop, 1000, is_waiting, &a));
    ck_assert_int_lt(clock_mono_ms() - t0, 300);
    ck_assert_int_ge(find_msg(&a, "lost_leadership", "lease_taken", 0), 0);
    ck_assert_int_ge(find_msg(&a, "new_leader_observed", "x", 0), 0);
    ck_assert_str_eq(holder(&srv), "x");
    struct replica *rs[] = {&a};
    finish_test(&loop, &srv, rs, 1);
}
END_TEST

/* Issue 13 item 6: an expired Lease whose holder (written by another client) is far longer than any
 * identity we accept is taken over once our observation of it expires, not refused as unreadable. */
START_TEST(test_elector_takes_over_an_expired_lease_with_a_long_foreign_holder)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    char ghost[4097];
    memset(ghost, 'g', sizeof(ghost) - 1);
    ghost[sizeof(ghost) - 1] = '\0';
    struct json_object *o = json_tokener_parse(
        "{\"metadata\":{\"name\":\"lease\",\"namespace\":\"ns\",\"uid\":\"uid-g\"},\"spec\":{"
        "\"leaseDurationSeconds\":1,\"leaseTransitions\":4,\"renewTime\":\"2024-01-01T00:00:00.000000Z\"}}"), *spec;
    json_object_object_get_ex(o, "spec", &spec);
    json_object_object_add(spec, "holderIdentity", json_object_new_string(ghost));
    store(&srv, o);
    json_object_put(o);
    struct replica a;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 3000, is_leading, &a));
    ck_assert_str_eq(holder(&srv), "a");
    ck_assert_int_eq(transitions(&srv), 5);
    struct replica *rs[] = {&a};
    finish_test(&loop, &srv, rs, 1);
}
END_TEST

/* Issue 13 item 8: a second replica under the leader's identity resumes the Lease (as client-go would, it
 * cannot tell itself from the first); the first sees a record naming it that it did not write, steps down
 * with duplicate_identity, and from then on treats that record as another holder's: one leader, no
 * taking the Lease from each other in turn. */
START_TEST(test_elector_duplicate_identity_steps_down_once)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a1, a2;
    replica_init(&a1, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a1));
    run_ms(&loop, 200, NULL, NULL);
    replica_init(&a2, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a2));
    ck_assert(run_ms(&loop, 1000, is_waiting, &a1));
    ck_assert_int_ge(find_msg(&a1, "lost_leadership", "duplicate_identity", 0), 0);
    elector_on_deployer_stopped(&a1.el);
    run_ms(&loop, 2500, NULL, NULL); /* over two lease durations: a2 renews, a1 must not take it back */
    ck_assert(is_leading(&a2));
    ck_assert_int_eq(a1.el.phase, ELECTOR_CONTENDING);
    ck_assert_int_eq(count_msg(&a1, "became_leader"), 1);
    ck_assert_int_eq(count_msg(&a2, "became_leader"), 1);
    ck_assert_int_eq(count_msg(&a2, "lost_leadership"), 0);
    struct replica *rs[] = {&a1, &a2};
    finish_test(&loop, &srv, rs, 2);
}
END_TEST

static int observes_b(void *arg) { return strcmp(((struct replica *)arg)->el.st.observed.holder, "b") == 0; }

/* Issue 13 item 14: on a graceful handoff a follower whose read of the released Lease is answered after the
 * watch showed the next holder decides on the watch (no takeover on the stale resourceVersion, no
 * observation moved back to ""), and no replica reports the release as a new leader "". */
START_TEST(test_elector_follower_ignores_a_read_older_than_the_watch)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    struct replica a, b, c;
    replica_init(&a, &loop, &srv, "a", 1);
    ck_assert(run_ms(&loop, 1000, is_leading, &a));
    replica_init(&b, &loop, &srv, "b", 1);
    replica_init(&c, &loop, &srv, "c", 1);
    c.fc.read_at_send = 1;
    c.fc.latency_ms = 60;
    run_ms(&loop, 300, NULL, NULL);
    ck_assert_int_eq(c.fc.writes, 0);
    elector_shutdown(&a.el, on_stopped);
    ck_assert(run_ms(&loop, 1000, is_leading, &b));
    ck_assert(run_ms(&loop, 1000, observes_b, &c));
    run_ms(&loop, 100, NULL, NULL);
    ck_assert_int_eq(c.fc.writes, 0); /* no takeover PUT on the read that still showed the release */
    ck_assert(observes_b(&c));
    struct replica *all[] = {&a, &b, &c};
    for (int i = 0; i < 3; i++) ck_assert_int_eq(find_msg(all[i], "new_leader_observed", "", 0), -1);
    ck_assert_int_ge(find_msg(&c, "new_leader_observed", "b", 0), 0);
    finish_test(&loop, &srv, all, 3);
}
END_TEST

/* Runs one replica whose every request fails with the kube client's error err (mapped as lease_kube.c
 * maps it) for a while; returns what it logged (owned). */
static char *log_of_refused_replica(enum kube_err err)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_server srv = {0};
    FILE *cap = tmpfile();
    ck_assert_ptr_nonnull(cap);
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(cap), 2);
    struct replica a;
    replica_init(&a, &loop, &srv, "a", 0);
    a.fc.refuse = lease_kube_status(err);
    run_ms(&loop, 300, NULL, NULL);
    struct replica *rs[] = {&a};
    finish_test(&loop, &srv, rs, 1);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long n = ftell(cap);
    char *text = calloc(1, (size_t)n + 1);
    rewind(cap);
    ck_assert_int_eq(fread(text, 1, (size_t)n, cap), n);
    fclose(cap);
    return text;
}

/* Issue 13 item 11: a 401 is a credentials problem and says so; a 403 names the verb and the resource. */
START_TEST(test_elector_tells_401_from_403)
{
    char *t401 = log_of_refused_replica(KUBE_ERR_UNAUTHORIZED);
    ck_assert_msg(strstr(t401, "unauthorized (401)") && strstr(t401, "token"), "%s", t401);
    ck_assert_msg(!strstr(t401, "RBAC") && !strstr(t401, "forbidden"), "%s", t401);
    free(t401);
    char *t403 = log_of_refused_replica(KUBE_ERR_FORBIDDEN);
    ck_assert_msg(strstr(t403, "forbidden (403)") && strstr(t403, "RBAC"), "%s", t403);
    ck_assert_msg(strstr(t403, "verb=get") && strstr(t403, "resource=leases.coordination.k8s.io") &&
                      strstr(t403, "namespace=ns"),
                  "%s", t403);
    ck_assert_msg(!strstr(t403, "credentials"), "%s", t403);
    free(t403);
}
END_TEST

START_TEST(test_elector_refuses_bad_settings)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake_client fc = {0};
    struct elector el;
    struct elector_opts o = {.lease = fast_cfg("a"), .ns = "ns", .name = "lease"};
    struct lease_api api = {&fake_ops, &fc};
    struct elector_sink sink = {0};
    struct err e;
    o.lease.renew_deadline_ms = 2000;
    ck_assert_int_eq(elector_init(&el, &loop, &o, api, sink, &e), -1);
    ck_assert_str_eq(e.msg, "leaseDuration must be greater than renewDeadline");
    o.lease = fast_cfg("a");
    o.name = "";
    ck_assert_int_eq(elector_init(&el, &loop, &o, api, sink, &e), -1);
    ck_assert(strstr(e.msg, "name") != NULL);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* The kube adapter's error mapping: what makes an attempt fall back, fail, or count as a lost race. */
START_TEST(test_elector_kube_errors_map_to_lease_status)
{
    ck_assert_int_eq(lease_kube_status(KUBE_OK), LEASE_ST_OK);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_NOT_FOUND), LEASE_ST_NOT_FOUND);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_ALREADY_EXISTS), LEASE_ST_CONFLICT);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_CONFLICT), LEASE_ST_CONFLICT);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_INVALID), LEASE_ST_INVALID);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_BAD_REQUEST), LEASE_ST_INVALID);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_FORBIDDEN), LEASE_ST_FORBIDDEN);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_UNAUTHORIZED), LEASE_ST_UNAUTHORIZED);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_TIMEOUT), LEASE_ST_TIMEOUT);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_TRANSPORT), LEASE_ST_ERROR);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_SERVER), LEASE_ST_ERROR);
    ck_assert_int_eq(lease_kube_status(KUBE_ERR_TOO_MANY_REQUESTS), LEASE_ST_ERROR);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("elector");
    TCase *tc = tcase_create("elector");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_elector_acquires_and_renews_with_fence);
    tcase_add_test(tc, test_elector_one_leader_among_three);
    tcase_add_test(tc, test_elector_cut_off_leader_steps_down_before_takeover);
    tcase_add_test(tc, test_elector_release_seen_through_watch);
    tcase_add_test(tc, test_elector_follower_shutdown_writes_nothing);
    tcase_add_test(tc, test_elector_abandon_writes_nothing_and_others_wait_for_expiry);
    tcase_add_test(tc, test_elector_release_bounded_when_api_hangs);
    tcase_add_test(tc, test_elector_takeover_with_watch_broken);
    tcase_add_test(tc, test_elector_takeover_without_watch);
    tcase_add_test(tc, test_elector_takeover_with_watch_at_expiry);
    tcase_add_test(tc, test_elector_follower_does_not_poll_while_watching);
    tcase_add_test(tc, test_elector_waits_for_deployer_stopped);
    tcase_add_test(tc, test_elector_suspend_loses_before_writing);
    tcase_add_test(tc, test_elector_lease_taken_steps_down);
    tcase_add_test(tc, test_elector_takes_over_an_expired_lease_with_a_long_foreign_holder);
    tcase_add_test(tc, test_elector_follower_ignores_a_read_older_than_the_watch);
    tcase_add_test(tc, test_elector_duplicate_identity_steps_down_once);
    tcase_add_test(tc, test_elector_tells_401_from_403);
    tcase_add_test(tc, test_elector_refuses_bad_settings);
    tcase_add_test(tc, test_elector_kube_errors_map_to_lease_status);
    suite_add_tcase(s, tc);
    return s;
}
