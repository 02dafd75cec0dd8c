/* The deployer's job (see deploy.h). */
#include "workers/deployer/deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pipeline/rundir.h"
#include "workers/deployer/audit.h"
#include "workers/deployer/creds.h"
#include "workers/deployer/gate.h"
#include "workers/deployer/scheduler.h"
#include "workers/deployer/target_dpapi.h"
#include "workers/deployer/target_local.h"

/* Durations in seconds: a fast-lane push takes milliseconds, a reload at 10k backends 3.3 s. */
static const double duration_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

struct target_state {
    struct target *t;          /* owned */
    int busy;
    struct json_object *last_push;  /* owned */
    char last_error[512];
    int pod;                   /* from discovery's targets message (not haproxy.endpoints) */
    int gone;                  /* left discovery's set: freed once its action ends */
};

struct deploy {
    struct worker *w;
    struct deploy_gate gate;
    struct sched sched;
    struct audit audit;
    struct target_state *targets;  /* owned */
    size_t ntargets;
    int64_t lkg_generation;
    char lkg_checksum[RUNDIR_CHECKSUM_BUF];
    uv_timer_t kick_timer, drift_timer;
    int open_handles, closing;
    size_t inflight;               /* compares and pushes started and not ended: the job outlives them */
    struct metrics_registry *reg;  /* owned */
    struct creds *creds;           /* owned: the Data Plane API credentials every dpapi target borrows */
    struct metric_family *m_pushes, *m_reloads, *m_push_seconds, *m_reload_seconds, *m_runtime, *m_drift,
        *m_in_sync, *m_targets;
};

static struct target_state *state_of(struct deploy *d, const char *name)
{
    for (size_t i = 0; i < d->ntargets; i++)
        if (!strcmp(d->targets[i].t->name, name)) return &d->targets[i];
    return NULL;
}

static void report(struct deploy *d)
{
    metrics_gauge_set(d->m_in_sync, NULL, (double)sched_in_sync(&d->sched));
    metrics_gauge_set(d->m_targets, NULL, (double)d->ntargets);
    struct json_object *msg = ipc_msg_new("deploy_report"), *arr = json_object_new_array();
    for (size_t i = 0; i < d->ntargets; i++) {
        const struct target_state *ts = &d->targets[i];
        const struct sched_target *st = sched_find(&d->sched, ts->t->name);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(ts->t->name));
        json_object_object_add(o, "kind", json_object_new_string(ts->t->ops->kind));
        json_object_object_add(o, "checksum", st && st->running[0] ? json_object_new_string(st->running) : NULL);
        json_object_object_add(o, "in_sync", json_object_new_boolean(st && d->lkg_checksum[0] &&
                                                                     st->state != SCHED_ST_UNKNOWN &&
                                                                     !strcmp(st->running, d->lkg_checksum)));
        json_object_object_add(o, "last_push", ts->last_push ? json_object_get(ts->last_push) : NULL);
        json_object_object_add(o, "last_error", ts->last_error[0] ? json_object_new_string(ts->last_error) : NULL);
        json_object_array_add(arr, o);
    }
    json_object_object_add(msg, "targets", arr);
    worker_report(d->w, msg);
    json_object_put(msg);
    struct json_object *families = NULL;
    if (metrics_to_json(d->reg, &families) == 0) {
        struct json_object *m = ipc_msg_new("metrics");
        json_object_object_add(m, "metrics", families);
        worker_report(d->w, m);
        json_object_put(m);
    }
}

static void schedule(struct deploy *d);
static void maybe_free(struct deploy *d);

static void on_compared(struct target *t, const char *checksum, const char *diff, void *data)
{
    struct deploy *d = data;
    d->inflight--;
    if (d->closing) {
        maybe_free(d);
        return;
    }
    struct target_state *ts = state_of(d, t->name);
    const struct sched_target *st = sched_find(&d->sched, t->name);
    int was_in_sync = st && st->was_in_sync && d->lkg_checksum[0] && !strcmp(st->running, d->lkg_checksum);
    if (ts) ts->busy = 0;
    if (!checksum) {
        log_warn("cannot read what the target runs", "target", t->name, "error", diff);
        if (ts) snprintf(ts->last_error, sizeof(ts->last_error), "compare: %s", diff);
    } else if (diff && diff[0]) {
        /* the files do not match the generation their header names: drift (or an edit behind our back) */
        log_warn("target drifted from the generation it was given", "target", t->name, "diff", diff);
        audit_append(&d->audit, d->gate.fence->term, d->lkg_generation, d->lkg_checksum, t->name, "drift",
                     "found", diff);
        if (was_in_sync) metrics_counter_inc(d->m_drift, (const char *const[]){t->name});
    }
    sched_compared(&d->sched, t->name, checksum, deploy_gate_now(&d->gate));
    report(d);
    schedule(d);
}

static void on_pushed(struct target *t, const struct target_result *r, void *data)
{
    struct deploy *d = data;
    d->inflight--;
    if (d->closing) {
        maybe_free(d);
        return;
    }
    struct target_state *ts = state_of(d, t->name);
    const struct sched_target *st = sched_find(&d->sched, t->name);
    const char *reason = "";
    int64_t start = deploy_gate_now(&d->gate) - r->duration_ms, generation = 0;
    char checksum[RUNDIR_CHECKSUM_BUF] = "";
    if (st) {
        generation = st->inflight_generation;
        snprintf(checksum, sizeof(checksum), "%s", st->inflight);
        reason = st->drifted ? SCHED_REASON_DRIFT : st->failures ? SCHED_REASON_RETRY : SCHED_REASON_CHANGE;
    }
    const char *result = r->ok ? "ok" : "failed";
    metrics_counter_inc(d->m_pushes, (const char *const[]){t->name, r->lane, result});
    metrics_histogram_observe(d->m_push_seconds, (const char *const[]){r->lane}, (double)r->duration_ms / 1000.0);
    static const char *const runtime_kinds[] = TARGET_RUNTIME_KIND_NAMES;
    size_t by_kind = 0;
    for (size_t k = 0; k < TARGET_RUNTIME_KINDS; k++) {
        by_kind += r->runtime_by_kind[k];
        if (r->runtime_by_kind[k])
            metrics_counter_add(d->m_runtime, (const char *const[]){t->name, runtime_kinds[k]},
                                (double)r->runtime_by_kind[k]);
    }
    if (r->runtime_commands > by_kind)
        metrics_counter_add(d->m_runtime, (const char *const[]){t->name, "other"},
                            (double)(r->runtime_commands - by_kind));
    if (r->reloaded) {
        metrics_counter_inc(d->m_reloads, (const char *const[]){reason, r->ok ? "ok" : "refused"});
        metrics_histogram_observe(d->m_reload_seconds, NULL, (double)r->reload_ms / 1000.0);
    }
    if (r->ok && !strcmp(reason, SCHED_REASON_DRIFT)) metrics_counter_inc(d->m_drift, (const char *const[]){t->name});
    if (ts) {
        ts->busy = 0;
        json_object_put(ts->last_push);
        ts->last_push = json_object_new_object();
        json_object_object_add(ts->last_push, "generation", json_object_new_int64(generation));
        json_object_object_add(ts->last_push, "checksum", json_object_new_string(checksum));
        json_object_object_add(ts->last_push, "lane", json_object_new_string(r->lane));
        json_object_object_add(ts->last_push, "result", json_object_new_string(result));
        json_object_object_add(ts->last_push, "reason", json_object_new_string(reason));
        json_object_object_add(ts->last_push, "duration_ms", json_object_new_int64(r->duration_ms));
        json_object_object_add(ts->last_push, "runtime_commands", json_object_new_int64((int64_t)r->runtime_commands));
        json_object_object_add(ts->last_push, "rolled_back", json_object_new_boolean(r->rolled_back));
        if (r->ok) ts->last_error[0] = '\0';
        else snprintf(ts->last_error, sizeof(ts->last_error), "%s", r->error ? r->error : "failed");
    }
    if (r->ok)
        log_info("pushed", "target", t->name, "lane", r->lane, "checksum", checksum, "generation",
                 LOG_INT(generation), "duration_ms", LOG_INT(r->duration_ms));
    else
        log_warn("push failed", "target", t->name, "lane", r->lane, "checksum", checksum, "error",
                 r->error ? r->error : "", "rolled_back", r->rolled_back ? "yes" : "no");
    sched_pushed(&d->sched, t->name, r->ok, r->reloaded, start, r->running, deploy_gate_now(&d->gate));
    report(d);
    schedule(d);
}

static int fast_ok(void *ctx, const char *name, const char *from, const char *to)
{
    struct deploy *d = ctx;
    struct target_state *ts = state_of(d, name);
    return ts && ts->t->ops->fast_ok && ts->t->ops->fast_ok(ts->t, from, to);
}

static void on_kick_timer(uv_timer_t *t)
{
    schedule(t->data);
}

/* Frees the pods that left discovery's set and have no compare or push in flight. */
static void drop_at(struct deploy *d, size_t i)
{
    struct target_state *ts = &d->targets[i];
    json_object_put(ts->last_push);
    ts->t->ops->free(ts->t);
    memmove(ts, ts + 1, (d->ntargets - i - 1) * sizeof(*ts));
    d->ntargets--;
}

static void reap(struct deploy *d)
{
    for (size_t i = d->ntargets; i-- > 0;)
        if (d->targets[i].gone && !d->targets[i].busy) drop_at(d, i);
}

/* Starts everything due now and sleeps until the next thing that can become due. */
static void schedule(struct deploy *d)
{
    reap(d);
    /* the Secret's first read decides whether pushes can authenticate: wait for it (creds_on_ready) */
    if (d->creds && !creds_ready(d->creds)) return;
    struct sched_action a;
    int64_t now = deploy_gate_now(&d->gate);
    /* nothing starts without the fence's leave: a push is a side effect, and compares would only feed it */
    while (deploy_gate_check(&d->gate, INT64_MAX, NULL) == 0 && sched_next(&d->sched, now, fast_ok, d, &a)) {
        struct target_state *ts = state_of(d, a.target);
        char name[SCHED_NAME_MAX];
        snprintf(name, sizeof(name), "%s", a.target);
        if (!ts) { /* a scheduler target without an implementation cannot happen: targets come from here */
            if (a.kind == SCHED_COMPARE) sched_compared(&d->sched, name, NULL, now);
            else sched_pushed(&d->sched, name, 0, 0, now, NULL, now);
            continue;
        }
        ts->busy = 1;
        d->inflight++;
        if (a.kind == SCHED_COMPARE) {
            ts->t->ops->compare(ts->t, on_compared, d);
            return; /* on_compared scheduled again (the compare may have ended inside the call) */
        }
        struct target_push p = {.term = d->gate.fence->term, .generation = a.generation, .checksum = a.checksum,
                                .from = a.from, .reason = a.reason, .deadline_ms = a.deadline_ms};
        log_info("push", "target", name, "checksum", a.checksum, "generation", LOG_INT(a.generation), "reason",
                 a.reason);
        if (ts->t->ops->push(ts->t, &p, on_pushed, d) < 0) {
            ts->busy = 0;
            d->inflight--;
            sched_pushed(&d->sched, name, 0, 0, now, NULL, now);
        }
        return; /* on_pushed schedules again (it may have run inside the call) */
    }
    int64_t wake = sched_wake_ms(&d->sched, now);
    uv_timer_stop(&d->kick_timer);
    if (wake >= 0) uv_timer_start(&d->kick_timer, on_kick_timer, (uint64_t)(wake > now ? wake - now : 0), 0);
}

static void on_creds_ready(void *data)
{
    struct deploy *d = data;
    /* before the first leadership message there is nothing to start: its deploy_on_fence schedules */
    if (!d->closing && deploy_gate_check(&d->gate, INT64_MAX, NULL) == 0) schedule(d);
}

static void on_drift_timer(uv_timer_t *t)
{
    struct deploy *d = t->data;
    sched_recheck_all(&d->sched);
    schedule(d);
}

static int set_sched_targets(struct deploy *d)
{
    const char *names[SCHED_TARGETS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < d->ntargets && n < SCHED_TARGETS_MAX; i++)
        if (!d->targets[i].gone) names[n++] = d->targets[i].t->name;
    return sched_set_targets(&d->sched, names, n);
}

static int add_target(struct deploy *d, struct target *t, int pod)
{
    struct target_state *ts = t ? realloc(d->targets, (d->ntargets + 1) * sizeof(*ts)) : NULL;
    if (!ts) {
        if (t) t->ops->free(t);
        return -1;
    }
    d->targets = ts;
    memset(&ts[d->ntargets], 0, sizeof(ts[0]));
    ts[d->ntargets].pod = pod;
    ts[d->ntargets++].t = t;
    return 0;
}

struct deploy *deploy_new(struct worker *w, const struct fence *fence)
{
    const struct config *cfg = w->cfg;
    struct deploy *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->w = w;
    deploy_gate_init(&d->gate, fence);
    sched_init(&d->sched, cfg->deploy.min_deployment_interval_ms, cfg->deploy.deployment_timeout_ms,
               cfg->deploy.max_parallel);
    if (audit_open(&d->audit, cfg->controller.run_dir) < 0) {
        log_error("cannot open the deploy audit", "run_dir", cfg->controller.run_dir);
        free(d);
        return NULL;
    }
    d->reg = metrics_registry_new();
    static const char *const push_labels[] = {"target", "lane", "result", NULL};
    static const char *const reload_labels[] = {"reason", "result", NULL};
    static const char *const lane_label[] = {"lane", NULL};
    static const char *const target_label[] = {"target", NULL};
    static const char *const runtime_labels[] = {"target", "kind", NULL};
    d->m_pushes = metrics_counter(d->reg, "haproxy_ic_deploy_pushes_total", "Pushes by target, lane and result.",
                                  push_labels, NULL);
    d->m_reloads = metrics_counter(d->reg, "haproxy_ic_deploy_reloads_total",
                                   "HAProxy reloads by reason (initial, change, drift, retry) and result.",
                                   reload_labels, NULL);
    d->m_push_seconds = metrics_histogram(d->reg, "haproxy_ic_deploy_push_duration_seconds",
                                          "Push duration by lane.", lane_label, duration_buckets,
                                          sizeof(duration_buckets) / sizeof(duration_buckets[0]), NULL);
    d->m_reload_seconds = metrics_histogram(d->reg, "haproxy_ic_deploy_reload_duration_seconds",
                                            "From reload sent to the new worker confirmed by show proc.", NULL,
                                            duration_buckets, sizeof(duration_buckets) / sizeof(duration_buckets[0]),
                                            NULL);
    d->m_runtime = metrics_counter(d->reg, "haproxy_ic_deploy_runtime_commands_total",
                                   "Runtime API commands answered in the fast lane, by kind (server, map, ssl_cert).",
                                   runtime_labels, NULL);
    d->m_drift = metrics_counter(d->reg, "haproxy_ic_deploy_drift_repairs_total",
                                 "Drift found and repaired on a target that had been in sync.", target_label, NULL);
    d->m_in_sync = metrics_gauge(d->reg, "haproxy_ic_deploy_targets_in_sync", "Targets running the LKG.", NULL, NULL);
    d->m_targets = metrics_gauge(d->reg, "haproxy_ic_deploy_targets", "Targets the deployer pushes to.", NULL, NULL);

    const struct config_haproxy *h = &cfg->haproxy;
    if (h->dataplane.credentials_secret.name) {
        struct err e = {0};
        if (creds_new_secret(w->loop, cfg, &d->creds, &e) < 0)
            log_error("cannot read the Data Plane API credentials", "secret", h->dataplane.credentials_secret.name,
                      "error", e.msg);
    } else if (h->dataplane.password_file) {
        d->creds = creds_new_file(h->dataplane.username, h->dataplane.password_file);
    }
    for (size_t i = 0; i < h->endpoints.len; i++) {
        const struct config_endpoint *ep = &h->endpoints.items[i];
        struct target *t = NULL;
        if (ep->url) {
            struct target_dpapi_opts o = {.name = ep->name, .url = ep->url, .creds = d->creds,
                                          .run_dir = cfg->controller.run_dir};
            t = target_dpapi_new(w->loop, &o, &d->gate, &d->audit);
        } else {
            struct target_local_opts o = {.name = ep->name, .master_socket = ep->master_socket,
                                          .paths = {h->config_file, h->maps_dir, h->ssl_certs_dir, h->general_dir},
                                          .run_dir = cfg->controller.run_dir};
            t = target_local_new(w->loop, &o, &d->gate, &d->audit);
        }
        if (add_target(d, t, 0) < 0) log_error("cannot set up a target", "target", ep->name);
    }
    if (set_sched_targets(d) < 0) log_error("too many targets", "targets", LOG_UINT(d->ntargets));
    uv_timer_init(w->loop, &d->kick_timer);
    uv_timer_init(w->loop, &d->drift_timer);
    d->kick_timer.data = d->drift_timer.data = d;
    d->open_handles = 2;
    uint64_t drift = (uint64_t)cfg->deploy.drift_prevention_interval_ms;
    uv_timer_start(&d->drift_timer, on_drift_timer, drift, drift);
    report(d); /* the targets it will push to, before any push */
    if (d->creds) creds_on_ready(d->creds, on_creds_ready, d); /* schedule() waits for it */
    return d;
}

void deploy_on_lkg(struct deploy *d, struct json_object *msg)
{
    const char *ck = ipc_msg_str(msg, "checksum");
    int64_t gen = ipc_msg_int(msg, "generation", -1);
    if (!ck || rundir_checksum_check(ck) < 0 || gen < 0) {
        log_warn("lkg message without a valid checksum and generation: ignored");
        return;
    }
    if (d->lkg_checksum[0] && gen < d->lkg_generation) return;
    snprintf(d->lkg_checksum, sizeof(d->lkg_checksum), "%s", ck);
    d->lkg_generation = gen;
    sched_set_lkg(&d->sched, gen, ck);
    log_info("new LKG to deploy", "checksum", ck, "generation", LOG_INT(gen));
    report(d);
    schedule(d);
}

/* A pod's Data Plane API URL from its address (IPv6 in brackets) and port. */
static int pod_url(const char *address, int port, char *out, size_t n)
{
    if (!address || !address[0] || port <= 0 || port > 65535 || strpbrk(address, "/[]@ ")) return -1;
    int w = strchr(address, ':') ? snprintf(out, n, "http://[%s]:%d", address, port)
                                 : snprintf(out, n, "http://%s:%d", address, port);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

void deploy_on_targets(struct deploy *d, struct json_object *msg)
{
    /* Discovery's pods become Data Plane API targets; haproxy.endpoints stay as configured. */
    struct json_object *arr = NULL;
    if (d->closing || !json_object_object_get_ex(msg, "targets", &arr) || !json_object_is_type(arr, json_type_array))
        return;
    size_t n = json_object_array_length(arr), pods = 0;
    for (size_t i = 0; i < d->ntargets; i++) d->targets[i].gone |= d->targets[i].pod; /* kept below if listed */
    for (size_t k = 0; k < n; k++) {
        struct json_object *o = json_object_array_get_idx(arr, k);
        const char *kind = ipc_msg_str(o, "kind"), *ns = ipc_msg_str(o, "namespace"), *pod = ipc_msg_str(o, "pod");
        if (!kind || strcmp(kind, "pod") != 0 || !pod) continue;
        char name[SCHED_NAME_MAX], url[256];
        if (snprintf(name, sizeof(name), "%s/%s", ns ? ns : "", pod) >= (int)sizeof(name) ||
            pod_url(ipc_msg_str(o, "address"), (int)ipc_msg_int(o, "port", 0), url, sizeof(url)) < 0) {
            log_warn("pod target without a usable name, address or port: skipped", "pod", pod);
            continue;
        }
        pods++;
        struct target_state *ts = state_of(d, name);
        if (ts && !ts->pod) {
            log_warn("pod target named like a configured endpoint: skipped", "target", name);
            continue;
        }
        if (ts && !strcmp(target_dpapi_url(ts->t), url)) {
            ts->gone = 0;
            continue;
        }
        if (ts && ts->busy) { /* a new address: the old target ends its action first, the next message adds it */
            log_info("pod target moved: replaced once its action ends", "target", name);
            continue;
        }
        if (ts) drop_at(d, (size_t)(ts - d->targets));
        struct target_dpapi_opts op = {.name = name, .url = url, .creds = d->creds,
                                       .run_dir = d->w->cfg->controller.run_dir};
        if (add_target(d, target_dpapi_new(d->w->loop, &op, &d->gate, &d->audit), 1) < 0)
            log_error("cannot set up a pod target", "target", name);
    }
    reap(d);
    if (set_sched_targets(d) < 0) log_error("too many targets", "targets", LOG_UINT(d->ntargets));
    log_info("targets from discovery", "pods", LOG_UINT(pods), "targets", LOG_UINT(d->ntargets));
    report(d);
    schedule(d);
}

void deploy_on_fence(struct deploy *d)
{
    if (!d->closing) schedule(d);
}

static void maybe_free(struct deploy *d)
{
    if (d->open_handles || d->inflight) return;
    for (size_t i = 0; i < d->ntargets; i++) {
        json_object_put(d->targets[i].last_push);
        d->targets[i].t->ops->free(d->targets[i].t);
    }
    free(d->targets);
    creds_free(d->creds);
    sched_free(&d->sched);
    audit_close(&d->audit);
    metrics_registry_free(d->reg);
    free(d);
}

static void on_closed(uv_handle_t *h)
{
    struct deploy *d = h->data;
    d->open_handles--;
    maybe_free(d);
}

void deploy_close(struct deploy *d)
{
    if (!d || d->closing) return;
    d->closing = 1;
    creds_cancel(d->creds, d);
    uv_timer_stop(&d->kick_timer);
    uv_timer_stop(&d->drift_timer);
    uv_close((uv_handle_t *)&d->kick_timer, on_closed);
    uv_close((uv_handle_t *)&d->drift_timer, on_closed);
}
