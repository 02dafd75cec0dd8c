/* The elector's loop (see elector.h): attempts of lease.c's state machine chained over lease_api requests,
 * the acquire and renew loops on timers, the fence, the follower watch and expiry timer, release on
 * shutdown, and the messages to the supervisor. */
#include "elector/elector.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/ipc.h"
#include "common/log.h"
#include "elector/lease_json.h"

/* After the watch ends, wait this long before watching again (the acquire loop polls meanwhile). */
#define ELECTOR_WATCH_RETRY_MS 1000

static void start_attempt(struct elector *el);
static void run_action(struct elector *el, enum lease_action act);
static void release_step(struct elector *el);

const char *elector_phase_str(enum elector_phase p)
{
    switch (p) {
    case ELECTOR_IDLE: return "idle";
    case ELECTOR_CONTENDING: return "contending";
    case ELECTOR_LEADING: return "leading";
    case ELECTOR_WAITING_DEPLOYER: return "waiting_deployer";
    case ELECTOR_RELEASING: return "releasing";
    case ELECTOR_STOPPED: return "stopped";
    }
    return "unknown";
}

/* ---- clocks ---- */

static int64_t now_mono(struct elector *el)
{
    return el->o.clock.mono_ms ? el->o.clock.mono_ms(el->o.clock.data) : clock_mono_ms();
}

static int64_t now_boot(struct elector *el)
{
    return el->o.clock.boot_ms ? el->o.clock.boot_ms(el->o.clock.data) : clock_boot_ms();
}

static void now_wall(struct elector *el, struct lease_time *t)
{
    if (el->o.clock.wall) {
        el->o.clock.wall(el->o.clock.data, t);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    t->sec = ts.tv_sec;
    t->usec = (int32_t)(ts.tv_nsec / 1000);
    t->set = 1;
}

static double rand01(struct elector *el)
{
    if (el->o.clock.rand01) return el->o.clock.rand01(el->o.clock.data);
    return (double)random() / ((double)RAND_MAX + 1.0);
}

static void timer_at(struct elector *el, uv_timer_t *t, uv_timer_cb cb, int64_t when_mono)
{
    /* libuv counts a timeout from the loop's cached time, which lags by the length of the current loop
     * iteration: refresh it so the timer does not fire early by that much. */
    uv_update_time(t->loop);
    int64_t d = when_mono - now_mono(el);
    uv_timer_stop(t);
    uv_timer_start(t, cb, (uint64_t)(d > 0 ? d : 0), 0);
}

/* ---- messages ---- */

static void send_msg(struct elector *el, struct json_object *m)
{
    if (el->sink.send) el->sink.send(el->sink.data, m);
    json_object_put(m);
}

static void send_event(struct elector *el, const char *name, const char *const *kv)
{
    struct json_object *m = ipc_msg_new("event");
    struct json_object *f = json_object_new_object();
    json_object_object_add(m, "event", json_object_new_string(name));
    for (; kv && kv[0]; kv += 2) json_object_object_add(f, kv[0], json_object_new_string(kv[1] ? kv[1] : ""));
    json_object_object_add(m, "fields", f);
    send_msg(el, m);
}

static void send_report(struct elector *el)
{
    struct json_object *m = ipc_msg_new("election_report");
    json_object_object_add(m, "phase", json_object_new_string(elector_phase_str(el->phase)));
    json_object_object_add(m, "is_leader", json_object_new_boolean(el->phase == ELECTOR_LEADING));
    json_object_object_add(m, "identity", json_object_new_string(el->o.lease.identity));
    json_object_object_add(m, "lease_holder", json_object_new_string(el->st.observed.holder));
    json_object_object_add(m, "term", json_object_new_string(el->term));
    json_object_object_add(m, "lease_transitions", json_object_new_int(el->st.observed.transitions));
    json_object_object_add(m, "attempts", json_object_new_int64((int64_t)el->stats.attempts));
    json_object_object_add(m, "requests", json_object_new_int64((int64_t)el->stats.requests));
    json_object_object_add(m, "renewals", json_object_new_int64((int64_t)el->stats.renewals));
    json_object_object_add(m, "acquisitions", json_object_new_int64((int64_t)el->stats.acquisitions));
    json_object_object_add(m, "renew_failures", json_object_new_int64((int64_t)el->stats.renew_failures));
    json_object_object_add(m, "slowpath_renewals", json_object_new_int64((int64_t)el->st.slow_path_renewals));
    json_object_object_add(m, "last_renew_latency_ms", json_object_new_int64(el->stats.last_renew_latency_ms));
    json_object_object_add(m, "watch_healthy", json_object_new_boolean(el->watch_healthy));
    if (el->sink.report) el->sink.report(el->sink.data, m);
    json_object_put(m);
}

static void report_new_leader(struct elector *el)
{
    char id[LEASE_FOREIGN_KEPT_MAX + 1];
    enum lease_leader_change ch = lease_take_new_leader(&el->st, id, sizeof(id));
    if (ch == LEASE_LEADER_NONE) log_info("lease released: no leader until someone acquires it");
    if (ch != LEASE_LEADER_NEW) return;
    struct json_object *m = ipc_msg_new("new_leader_observed");
    json_object_object_add(m, "identity", json_object_new_string(id));
    send_msg(el, m);
    int self = strcmp(id, el->o.lease.identity) == 0;
    const char *kv[] = {"identity", id, "is_self", self ? "true" : "false", NULL};
    send_event(el, "NewLeaderObserved", kv);
}

/* ---- leadership transitions ---- */

static void cancel_request(struct elector *el)
{
    if (el->request_pending && el->api.ops->cancel) el->api.ops->cancel(el->api.impl);
    el->request_pending = 0;
    uv_timer_stop(&el->request_timer);
    el->in_attempt = 0;
}

static void lose(struct elector *el, const char *reason)
{
    if (el->phase != ELECTOR_LEADING) return;
    cancel_request(el);
    uv_timer_stop(&el->attempt_timer);
    uv_timer_stop(&el->fence_timer);
    el->phase = ELECTOR_WAITING_DEPLOYER;
    el->fence_ms = -1;
    el->stats.losses++;
    log_warn("lost leadership", "reason", reason, "term", el->term);
    struct json_object *m = ipc_msg_new("lost_leadership");
    json_object_object_add(m, "reason", json_object_new_string(reason));
    json_object_object_add(m, "term", json_object_new_string(el->term));
    send_msg(el, m);
    const char *kv[] = {"identity", el->o.lease.identity, "reason", reason, "term", el->term, NULL};
    send_event(el, "LostLeadership", kv);
    send_report(el);
}

static void on_fence_timer(uv_timer_t *t)
{
    struct elector *el = t->data;
    if (el->phase != ELECTOR_LEADING) return;
    if (now_mono(el) < el->fence_ms) {
        timer_at(el, &el->fence_timer, on_fence_timer, el->fence_ms);
        return;
    }
    lose(el, el->only_unreachable ? "api_unreachable" : "renew_deadline_exceeded");
}

/* A suspend since the last successful renewal: real time went on while our monotonic clock stood still. */
static int suspended(struct elector *el)
{
    int64_t gap = lease_suspended_ms(el->write_sent_mono, el->write_sent_boot, now_mono(el), now_boot(el));
    return gap > lease_suspend_margin_ms(&el->st.cfg);
}

static void on_attempt_timer(uv_timer_t *t) { start_attempt(t->data); }

static void schedule_attempt(struct elector *el, int64_t when_mono)
{
    timer_at(el, &el->attempt_timer, on_attempt_timer, when_mono);
}

static void on_expiry_timer(uv_timer_t *t)
{
    struct elector *el = t->data;
    if (el->phase == ELECTOR_CONTENDING && !el->in_attempt) start_attempt(el);
}

/* Follower: check again exactly when our observation says the lease expires. */
static void arm_expiry(struct elector *el)
{
    uv_timer_stop(&el->expiry_timer);
    if (el->phase != ELECTOR_CONTENDING) return;
    int64_t exp = lease_expiry_mono(&el->st);
    if (exp < 0 || !el->st.observed.holder[0]) return;
    timer_at(el, &el->expiry_timer, on_expiry_timer, exp);
}

static void acquired(struct elector *el)
{
    int64_t now = now_mono(el);
    el->stats.last_renew_latency_ms = now - el->write_sent_mono;
    if (suspended(el)) {
        /* The write was sent before a suspend: its send time says nothing about now. */
        if (el->phase == ELECTOR_LEADING) {
            lose(el, "suspended");
        } else {
            log_warn("machine was suspended during the acquisition; renewing before leading");
            schedule_attempt(el, now);
        }
        return;
    }
    el->fence_ms = lease_fence_ms(el->write_sent_mono, el->st.cfg.renew_deadline_ms);
    el->only_unreachable = 1;
    if (el->phase == ELECTOR_CONTENDING) {
        el->phase = ELECTOR_LEADING;
        el->stats.acquisitions++;
        uv_timer_stop(&el->expiry_timer);
        term_format(el->term, el->st.observed.holder, el->st.observed.transitions);
        log_info("became leader", "term", el->term, "reason", lease_reason_str(el->att.reason));
        struct json_object *m = ipc_msg_new("became_leader");
        json_object_object_add(m, "term", json_object_new_string(el->term));
        json_object_object_add(m, "identity", json_object_new_string(el->o.lease.identity));
        json_object_object_add(m, "transitions", json_object_new_int(el->st.observed.transitions));
        json_object_object_add(m, "fence_mono_ms", json_object_new_int64(el->fence_ms));
        json_object_object_add(m, "sleep_ms", json_object_new_int64(el->write_sent_boot - el->write_sent_mono));
        send_msg(el, m);
        const char *kv[] = {"identity", el->o.lease.identity, "term", el->term, NULL};
        send_event(el, "BecameLeader", kv);
        /* client-go's renew loop starts right after acquisition. */
        schedule_attempt(el, now);
    } else {
        char term[TERM_MAX];
        term_format(term, el->st.observed.holder, el->st.observed.transitions);
        if (strcmp(term, el->term) != 0) {
            /* Someone blanked our Lease (a client-go replica releasing what it wrongly thought it held, or an
             * operator) and this write took it back: that is a new term, and a term is never extended into
             * another. Step down; the deployer is stopped and we acquire again under the new term. */
            lose(el, "lease_taken");
            return;
        }
        el->stats.renewals++;
        struct json_object *m = ipc_msg_new("renewed");
        json_object_object_add(m, "fence_mono_ms", json_object_new_int64(el->fence_ms));
        json_object_object_add(m, "sleep_ms", json_object_new_int64(el->write_sent_boot - el->write_sent_mono));
        send_msg(el, m);
        schedule_attempt(el, now + el->st.cfg.retry_period_ms);
    }
    timer_at(el, &el->fence_timer, on_fence_timer, el->fence_ms);
}

static void attempt_failed(struct elector *el)
{
    struct lease_attempt *a = &el->att;
    int64_t now = now_mono(el);
    int duplicate = a->reason == LEASE_WHY_DUPLICATE_IDENTITY;
    if (duplicate)
        log_error("another replica writes the Lease under this identity: two replicas with one identity both "
                  "lead; give each its own (POD_NAME or controller.leader_election.identity); standing aside",
                  "identity", el->o.lease.identity, "phase", elector_phase_str(el->phase));
    else if (a->last_status == LEASE_ST_UNAUTHORIZED)
        log_error("lease request unauthorized (401): the API refused our credentials; the token may have "
                  "expired or be wrong (service account token, or the kubeconfig's user)",
                  "verb", lease_reason_verb(a->reason), "api_message", el->last_api_message);
    else if (a->last_status == LEASE_ST_FORBIDDEN)
        log_error("lease request forbidden (403): RBAC does not allow this verb on this resource for our "
                  "user; grant get, create and update on it",
                  "verb", lease_reason_verb(a->reason), "resource", "leases.coordination.k8s.io", "namespace",
                  el->o.ns, "name", el->o.name, "api_message", el->last_api_message);
    else if (a->last_status == LEASE_ST_INVALID)
        log_error("lease request invalid: the API refused the Lease we sent; check the lease settings",
                  "verb", lease_reason_verb(a->reason), "api_message", el->last_api_message);
    else if (a->reason != LEASE_WHY_HELD_BY_OTHER)
        log_warn("lease attempt failed", "step", lease_reason_str(a->reason), "status",
                 lease_status_str(a->last_status), "phase", elector_phase_str(el->phase));
    if (el->phase == ELECTOR_LEADING) {
        el->stats.renew_failures++;
        if (a->last_status != LEASE_ST_TIMEOUT && a->last_status != LEASE_ST_ERROR) el->only_unreachable = 0;
        if (!lease_is_leader(&el->st) || duplicate || a->reason == LEASE_WHY_HELD_BY_OTHER) {
            /* The lease names someone else (valid by our observation), or another replica under our identity:
             * no point waiting for the deadline. */
            lose(el, duplicate || lease_is_leader(&el->st) ? "duplicate_identity" : "lease_taken");
            return;
        }
        /* Poll every retry_period from the start of each attempt, while the fence allows. */
        int64_t next = el->attempt_start_ms + el->st.cfg.retry_period_ms;
        if (next < now) next = now;
        if (next < el->fence_ms) schedule_attempt(el, next);
        return;
    }
    if (el->phase != ELECTOR_CONTENDING) return;
    arm_expiry(el);
    /* With a healthy watch a follower does not poll a lease held by someone else: the watch shows a release
     * at once and the expiry timer fires when our observation runs out. Errors and a broken watch fall back to
     * client-go's jittered polling. */
    if (el->watch_healthy && a->reason == LEASE_WHY_HELD_BY_OTHER) return;
    schedule_attempt(el, now + lease_jitter_ms(el->st.cfg.retry_period_ms, rand01(el)));
}

static void attempt_done(struct elector *el)
{
    el->in_attempt = 0;
    report_new_leader(el);
    if (el->att.result == LEASE_RES_ACQUIRED) acquired(el);
    else attempt_failed(el);
    send_report(el);
}

/* ---- requests ---- */

static void keep_cached(struct elector *el, struct json_object *obj)
{
    if (!obj) return;
    json_object_put(el->cached);
    el->cached = json_object_get(obj);
}

/* Parses the API's object; NULL (unreadable) on failure, which fails the attempt. */
static const struct lease_object *parse_reply(struct elector *el, const struct lease_api_reply *r,
                                              struct lease_object *buf)
{
    if (r->st != LEASE_ST_OK || !r->obj) return NULL;
    struct err e;
    if (lease_json_parse(r->obj, buf, &e) < 0) {
        log_error("unreadable lease from the API", "error", e.msg);
        return NULL;
    }
    keep_cached(el, r->obj);
    return buf;
}

static const char *rv_of(struct json_object *obj)
{
    struct json_object *meta, *rv;
    if (!obj || !json_object_object_get_ex(obj, "metadata", &meta) ||
        !json_object_object_get_ex(meta, "resourceVersion", &rv))
        return "";
    return json_object_get_string(rv);
}

/* A follower's GET answer is older than the watch when a watch event arrived while the GET was in flight
 * and names another resourceVersion: resourceVersions are opaque (equality only), so the order of arrival
 * decides, and the event that came last is the newest record we know. Deciding on the older answer moved
 * the observation back (a released Lease after the next holder was already seen) and wasted a takeover on
 * a stale resourceVersion. A leader decides by its own writes, never by the watch. */
static int get_answer_is_stale(const struct elector *el, const struct lease_api_reply *r)
{
    if (el->phase != ELECTOR_CONTENDING || el->watch_seq == el->get_sent_watch_seq || !el->watched) return 0;
    if (r->st == LEASE_ST_NOT_FOUND) return !el->watched_deleted;
    if (r->st != LEASE_ST_OK) return 0;
    return el->watched_deleted || strcmp(rv_of(r->obj), rv_of(el->watched)) != 0;
}

static void on_request_done(void *data, const struct lease_api_reply *r)
{
    struct elector *el = data;
    if (!el->request_pending) return;
    el->request_pending = 0;
    uv_timer_stop(&el->request_timer);
    if (el->phase == ELECTOR_RELEASING) return; /* not expected: the release uses its own callbacks */
    snprintf(el->last_api_message, sizeof(el->last_api_message), "%s", r->message ? r->message : "");
    struct lease_api_reply newer;
    if (el->att.pending == LEASE_ACT_GET && get_answer_is_stale(el, r)) {
        log_debug("lease read older than the last watch event; deciding on the event", "read_rv", rv_of(r->obj),
                  "watched_rv", rv_of(el->watched));
        newer = (struct lease_api_reply){.st = el->watched_deleted ? LEASE_ST_NOT_FOUND : LEASE_ST_OK,
                                         .obj = el->watched_deleted ? NULL : el->watched};
        r = &newer;
    }
    struct lease_object obj;
    const struct lease_object *o = parse_reply(el, r, &obj);
    int64_t now = now_mono(el);
    enum lease_action pending = el->att.pending, next;
    if (pending == LEASE_ACT_GET) {
        next = lease_attempt_on_get(&el->st, &el->att, r->st, o, now);
    } else if (pending == LEASE_ACT_CREATE || pending == LEASE_ACT_UPDATE) {
        /* An unreadable answer to a successful write still counts as written (the write happened). */
        enum lease_status st = r->st;
        if (st == LEASE_ST_OK) {
            el->write_sent_mono = el->req_sent_mono;
            el->write_sent_boot = el->req_sent_boot;
        }
        next = pending == LEASE_ACT_CREATE ? lease_attempt_on_create(&el->st, &el->att, st, o, now)
                                           : lease_attempt_on_update(&el->st, &el->att, st, o, now);
    } else {
        return;
    }
    run_action(el, next);
}

static void on_request_timer(uv_timer_t *t)
{
    struct elector *el = t->data;
    if (!el->request_pending) return;
    if (el->api.ops->cancel) el->api.ops->cancel(el->api.impl);
    struct lease_api_reply r = {.st = LEASE_ST_TIMEOUT, .message = "elector deadline"};
    if (el->phase == ELECTOR_RELEASING) {
        el->request_pending = 0;
        log_warn("lease release timed out");
        el->release_deadline_ms = 0; /* give up */
        release_step(el);
        return;
    }
    on_request_done(el, &r);
}

static void run_action(struct elector *el, enum lease_action act)
{
    if (act == LEASE_ACT_NONE) {
        attempt_done(el);
        return;
    }
    int64_t now = now_mono(el);
    int64_t budget_end = el->phase == ELECTOR_LEADING ? el->fence_ms : -1;
    int64_t timeout = lease_request_timeout_ms(&el->st.cfg, now, budget_end);
    if (timeout <= 0) {
        lease_attempt_abort(&el->st, &el->att, LEASE_ST_TIMEOUT);
        attempt_done(el);
        return;
    }
    struct json_object *body = NULL;
    if (act == LEASE_ACT_CREATE) body = lease_json_for_create(el->o.ns, el->o.name, &el->att.desired);
    else if (act == LEASE_ACT_UPDATE) body = lease_json_for_update(el->cached, &el->att.desired, el->att.rv);
    if (act != LEASE_ACT_GET && !body) {
        lease_attempt_abort(&el->st, &el->att, LEASE_ST_ERROR);
        attempt_done(el);
        return;
    }
    el->req_sent_mono = now;
    el->req_sent_boot = now_boot(el);
    el->get_sent_watch_seq = el->watch_seq;
    el->request_pending = 1;
    el->stats.requests++;
    int rc = act == LEASE_ACT_GET      ? el->api.ops->get(el->api.impl, timeout, on_request_done, el)
             : act == LEASE_ACT_CREATE ? el->api.ops->create(el->api.impl, body, timeout, on_request_done, el)
                                       : el->api.ops->update(el->api.impl, body, timeout, on_request_done, el);
    json_object_put(body);
    if (rc < 0) {
        el->request_pending = 0;
        lease_attempt_abort(&el->st, &el->att, LEASE_ST_ERROR);
        attempt_done(el);
        return;
    }
    uv_timer_start(&el->request_timer, on_request_timer, (uint64_t)timeout, 0);
}

static void start_attempt(struct elector *el)
{
    if (el->in_attempt) return;
    if (el->phase != ELECTOR_CONTENDING && el->phase != ELECTOR_LEADING) return;
    int64_t now = now_mono(el);
    if (el->phase == ELECTOR_LEADING) {
        /* Before anything is written: a suspend, or a fence already passed, ends leadership. */
        if (suspended(el)) {
            lose(el, "suspended");
            return;
        }
        if (now >= el->fence_ms) {
            lose(el, el->only_unreachable ? "api_unreachable" : "renew_deadline_exceeded");
            return;
        }
    }
    uv_timer_stop(&el->attempt_timer);
    el->in_attempt = 1;
    el->attempt_start_ms = now;
    el->stats.attempts++;
    struct lease_time w;
    now_wall(el, &w);
    run_action(el, lease_attempt_begin(&el->st, &el->att, now, &w));
}

/* ---- watch ---- */

static void watch_begin(struct elector *el);

static void on_watch_timer(uv_timer_t *t) { watch_begin(t->data); }

static void on_watch_event(void *data, const char *type, struct json_object *obj)
{
    struct elector *el = data;
    el->stats.watch_events++;
    el->watch_healthy = 1;
    if (strcmp(type, "BOOKMARK") == 0) return;
    el->watch_seq++;
    json_object_put(el->watched);
    el->watched = json_object_get(obj);
    el->watched_deleted = strcmp(type, "DELETED") == 0;
    if (el->phase == ELECTOR_LEADING) {
        /* A leader decides by its own renewals only (watch events may lag behind its writes), but an event
         * that does not name us is a reason to renew now rather than at the next period: the fast-path PUT
         * either succeeds on our resourceVersion or fails with a conflict, and the GET then shows whether
         * the Lease was taken. */
        /* An event naming us with a resourceVersion other than our last write's is either our own write
         * seen late (the renewal is then a harmless extra) or another replica under our identity: the renewal
         * shows which (LEASE_WHY_DUPLICATE_IDENTITY). */
        struct lease_object lo;
        struct err le;
        int changed = strcmp(type, "DELETED") == 0 ||
                      (lease_json_parse(obj, &lo, &le) == 0 &&
                       (strcmp(lo.rec.holder, el->o.lease.identity) != 0 ||
                        strcmp(lo.resource_version, el->st.cached_rv) != 0));
        if (changed && !el->in_attempt) {
            log_info("lease changed under the leader, renewing now");
            start_attempt(el);
        }
        return;
    }
    if (el->phase != ELECTOR_CONTENDING && el->phase != ELECTOR_WAITING_DEPLOYER) return;
    int64_t now = now_mono(el);
    if (strcmp(type, "DELETED") == 0) {
        log_info("lease deleted");
        if (el->phase == ELECTOR_CONTENDING && !el->in_attempt) start_attempt(el);
        return;
    }
    struct lease_object o;
    struct err e;
    if (lease_json_parse(obj, &o, &e) < 0) {
        log_warn("unreadable lease in watch event", "error", e.msg);
        return;
    }
    lease_observe(&el->st, &o, now);
    report_new_leader(el);
    if (el->phase != ELECTOR_CONTENDING || el->in_attempt) return;
    if (!o.rec.holder[0] || !lease_is_valid(&el->st, now)) start_attempt(el);
    else arm_expiry(el);
}

static void on_watch_end(void *data, const char *why)
{
    struct elector *el = data;
    int was_healthy = el->watch_healthy;
    el->watching = el->watch_healthy = 0;
    el->stats.watch_restarts++;
    if (was_healthy) log_info("lease watch ended; polling until it is back", "why", why ? why : "");
    else log_debug("lease watch failed again", "why", why ? why : "");
    if (el->phase == ELECTOR_RELEASING || el->phase == ELECTOR_STOPPED || el->closing) return;
    if (el->phase == ELECTOR_CONTENDING && !el->in_attempt && !uv_is_active((uv_handle_t *)&el->attempt_timer))
        schedule_attempt(el, now_mono(el) + lease_jitter_ms(el->st.cfg.retry_period_ms, rand01(el)));
    uv_timer_start(&el->watch_timer, on_watch_timer, ELECTOR_WATCH_RETRY_MS, 0);
}

static void watch_begin(struct elector *el)
{
    if (!el->o.watch || el->watching || !el->api.ops->watch_start) return;
    if (el->phase == ELECTOR_RELEASING || el->phase == ELECTOR_STOPPED || el->closing) return;
    if (el->api.ops->watch_start(el->api.impl, on_watch_event, on_watch_end, el) < 0) {
        uv_timer_start(&el->watch_timer, on_watch_timer, ELECTOR_WATCH_RETRY_MS, 0);
        return;
    }
    el->watching = 1; /* healthy once an event arrives (the server sends the current object first) */
}

static void watch_end_now(struct elector *el)
{
    uv_timer_stop(&el->watch_timer);
    if (el->watching && el->api.ops->watch_stop) el->api.ops->watch_stop(el->api.impl);
    el->watching = el->watch_healthy = 0;
}

/* ---- life cycle ---- */

int elector_init(struct elector *el, uv_loop_t *loop, const struct elector_opts *opts, struct lease_api api,
                 struct elector_sink sink, struct err *e)
{
    memset(el, 0, sizeof(*el));
    if (lease_config_validate(&opts->lease, e) < 0) return -1;
    if (!opts->ns || !opts->ns[0] || !opts->name || !opts->name[0])
        return err_set(e, "lease namespace and name must be set");
    if (!api.ops || !api.ops->get || !api.ops->create || !api.ops->update)
        return err_set(e, "lease api incomplete");
    el->loop = loop;
    el->o = *opts;
    el->api = api;
    el->sink = sink;
    el->fence_ms = -1;
    lease_state_init(&el->st, &opts->lease);
    uv_timer_t *timers[] = {&el->attempt_timer, &el->fence_timer, &el->expiry_timer, &el->request_timer,
                            &el->watch_timer};
    for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = el;
    }
    return 0;
}

int elector_start(struct elector *el)
{
    char lease[600];
    snprintf(lease, sizeof(lease), "%s/%s", el->o.ns, el->o.name);
    el->phase = ELECTOR_CONTENDING;
    const char *kv[] = {"identity", el->o.lease.identity, "lease", lease, NULL};
    send_event(el, "LeaderElectionStarted", kv);
    char warn[4][ERR_MSG_MAX];
    int n = lease_config_warnings(&el->o.lease, warn, 4);
    for (int i = 0; i < n; i++) log_warn("leader election settings", "warning", warn[i]);
    watch_begin(el);
    schedule_attempt(el, now_mono(el));
    return 0;
}

void elector_on_deployer_stopped(struct elector *el)
{
    if (el->phase != ELECTOR_WAITING_DEPLOYER) return;
    log_info("deployer stopped; contending again");
    el->phase = ELECTOR_CONTENDING;
    schedule_attempt(el, now_mono(el));
}

/* ---- release ---- */

static void release_finish(struct elector *el, const char *how)
{
    log_info("leader election stopped", "release", how);
    cancel_request(el);
    el->phase = ELECTOR_STOPPED;
    send_report(el);
    if (el->on_stopped) el->on_stopped(el);
}

static void on_release_put_done(void *data, const struct lease_api_reply *r);

static void on_release_get_done(void *data, const struct lease_api_reply *r)
{
    struct elector *el = data;
    if (!el->request_pending) return;
    el->request_pending = 0;
    uv_timer_stop(&el->request_timer);
    if (r->st != LEASE_ST_OK) {
        release_finish(el, r->st == LEASE_ST_NOT_FOUND ? "lease_gone" : "get_failed");
        return;
    }
    struct lease_object o;
    struct err e;
    struct lease_record rel;
    struct lease_time w;
    now_wall(el, &w);
    if (!r->obj || lease_json_parse(r->obj, &o, &e) < 0) {
        release_finish(el, "unreadable");
        return;
    }
    if (!lease_release_record(&el->st, &o, &w, &rel)) {
        release_finish(el, "not_ours");
        return;
    }
    int64_t now = now_mono(el);
    int64_t timeout = lease_request_timeout_ms(&el->st.cfg, now, el->release_deadline_ms);
    struct json_object *body = lease_json_for_update(r->obj, &rel, o.resource_version);
    if (timeout <= 0 || !body) {
        json_object_put(body);
        release_finish(el, "out_of_time");
        return;
    }
    el->att.desired = rel; /* kept for on_release_put_done */
    el->request_pending = 1;
    el->stats.requests++;
    int rc = el->api.ops->update(el->api.impl, body, timeout, on_release_put_done, el);
    json_object_put(body);
    if (rc < 0) {
        el->request_pending = 0;
        release_finish(el, "put_failed");
        return;
    }
    uv_timer_start(&el->request_timer, on_request_timer, (uint64_t)timeout, 0);
}

static void on_release_put_done(void *data, const struct lease_api_reply *r)
{
    struct elector *el = data;
    if (!el->request_pending) return;
    el->request_pending = 0;
    uv_timer_stop(&el->request_timer);
    if (r->st == LEASE_ST_OK) {
        lease_release_done(&el->st, &el->att.desired, now_mono(el));
        release_finish(el, "released");
    } else if (r->st == LEASE_ST_CONFLICT) {
        release_step(el); /* an in-flight renewal moved the resourceVersion: read again */
    } else {
        release_finish(el, "put_failed");
    }
}

static void release_step(struct elector *el)
{
    int64_t now = now_mono(el);
    int64_t timeout = lease_request_timeout_ms(&el->st.cfg, now, el->release_deadline_ms);
    if (timeout <= 0) {
        release_finish(el, "out_of_time");
        return;
    }
    el->request_pending = 1;
    el->stats.requests++;
    if (el->api.ops->get(el->api.impl, timeout, on_release_get_done, el) < 0) {
        el->request_pending = 0;
        release_finish(el, "get_failed");
        return;
    }
    uv_timer_start(&el->request_timer, on_request_timer, (uint64_t)timeout, 0);
}

/* Both ways of stopping: no more attempts, watch events or expiry checks, and no request left in flight. */
static void stop_contending(struct elector *el)
{
    cancel_request(el);
    watch_end_now(el);
    uv_timer_stop(&el->attempt_timer);
    uv_timer_stop(&el->expiry_timer);
}

void elector_shutdown(struct elector *el, void (*on_stopped)(struct elector *el))
{
    el->on_stopped = on_stopped;
    if (el->phase == ELECTOR_RELEASING || el->phase == ELECTOR_STOPPED) return;
    int was_leading = el->phase == ELECTOR_LEADING;
    stop_contending(el);
    if (was_leading) lose(el, "graceful_shutdown"); /* the supervisor kills the deployer first */
    uv_timer_stop(&el->fence_timer);
    /* Release only what our last observation says is ours (client-go's IsLeader); release_step also checks
     * that the fetched lease still names us. */
    if (el->phase == ELECTOR_IDLE || !lease_is_leader(&el->st)) {
        release_finish(el, "not_leader");
        return;
    }
    el->phase = ELECTOR_RELEASING;
    int64_t budget = el->st.cfg.renew_deadline_ms;
    if (el->o.release_budget_ms > 0 && el->o.release_budget_ms < budget) budget = el->o.release_budget_ms;
    el->release_deadline_ms = now_mono(el) + budget;
    release_step(el);
}

void elector_abandon(struct elector *el, void (*on_stopped)(struct elector *el))
{
    el->on_stopped = on_stopped;
    if (el->phase == ELECTOR_RELEASING || el->phase == ELECTOR_STOPPED) return;
    int was_leading = el->phase == ELECTOR_LEADING;
    stop_contending(el);
    uv_timer_stop(&el->fence_timer);
    el->fence_ms = -1;
    el->phase = ELECTOR_STOPPED;
    /* No message: the channel they would go to is what ended. */
    if (was_leading)
        log_warn("supervisor gone: leader election stopped without releasing the lease; others take over at its "
                 "expiry", "term", el->term);
    else log_info("supervisor gone: leader election stopped");
    if (el->on_stopped) el->on_stopped(el);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct elector *el = h->data;
    if (--el->open_handles == 0) {
        json_object_put(el->cached);
        el->cached = NULL;
        json_object_put(el->watched);
        el->watched = NULL;
        if (el->on_closed) el->on_closed(el);
    }
}

void elector_close(struct elector *el, void (*on_closed)(struct elector *el))
{
    if (el->closing) return;
    el->closing = 1;
    el->on_closed = on_closed;
    cancel_request(el);
    watch_end_now(el);
    uv_timer_t *timers[] = {&el->attempt_timer, &el->fence_timer, &el->expiry_timer, &el->request_timer,
                            &el->watch_timer};
    el->open_handles = (int)(sizeof(timers) / sizeof(timers[0]));
    for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
        uv_timer_stop(timers[i]);
        uv_close((uv_handle_t *)timers[i], on_timer_closed);
    }
}
