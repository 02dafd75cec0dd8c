/* The renderer role: holds the one full copy of the watched objects (objects.c) and the compiled templates
 * (common/render), renders a candidate after each applied batch once every resource has synced, writes it
 * to the run directory and tells the validator and executor (`rendered`, or `render_failed`). Answers the
 * executor's `render_request` (trials with objects held at their LKG version; the standing quarantine set)
 * and follows `lkg` to know those versions. Runs on every replica, leader or not.
 * In: deltas (raw frames, parsed with the packed streaming parser), synced, targets, render_request, lkg.
 * Out: rendered, render_failed, resync (at start: a restarted renderer has no objects), metrics.
 * Not for: debouncing (the reconciler batches), validation, choosing the LKG. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/linkhash.h>

#include "common/clock.h"
#include "common/config/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pipeline/heap_trim.h"
#include "common/pipeline/spill.h"
#include "common/render/render.h"
#include "common/worker.h"
#include "supervisor/roles.h"
#include "workers/renderer/objects.h"

/* A render of 10k Ingresses takes tens of milliseconds; a pathological template up to seconds. */
static const double duration_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct renderer_role {
    struct worker *w;
    struct objects objs;
    struct render *render;          /* owned */
    uv_check_t check;               /* renders after the I/O of a loop turn: coalesces frames read together */
    int dirty;                      /* a candidate is due */
    int64_t next_id;                /* candidate render_ids: pid-based start, counting up */
    char last[RUNDIR_CHECKSUM_BUF]; /* the generation written last: files it holds are linked, not written */
    struct metrics_registry *reg;   /* owned */
    struct metric_family *duration, *results, *objects;
    struct metric_family *od_cached, *od_fetches;   /* store: on-demand */
    int stopping;
    int incomplete;                 /* the last render waits for on-demand objects (objects_after_render) */
    int cand_waiting;               /* a candidate waits for them */
    uint64_t od_reported;           /* objs.fetches already added to od_fetches */
    struct json_object *pending_trial; /* owned: a render_request to do again once they are fetched */
};

static struct renderer_role role;

static void send_metrics(struct renderer_role *r)
{
    for (size_t i = 0; i < r->objs.n; i++)
        metrics_gauge_set(r->objects, (const char *const[]){r->objs.stores[i].name},
                          (double)store_count(r->objs.stores[i].store));
    metrics_gauge_set(r->od_cached, NULL, (double)ondemand_cache_count(r->objs.cache));
    metrics_counter_add(r->od_fetches, NULL, (double)(r->objs.fetches - r->od_reported));
    r->od_reported = r->objs.fetches;
    struct json_object *families = NULL;
    if (metrics_to_json(r->reg, &families) < 0) return;
    struct json_object *m = ipc_msg_new("metrics");
    json_object_object_add(m, "metrics", families);
    worker_report(r->w, m);
    json_object_put(m);
}

static struct json_object *objs_json(const struct held_obj *o, size_t n)
{
    struct json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        struct json_object *j = json_object_new_object();
        json_object_object_add(j, "resource", json_object_new_string(o[i].resource));
        json_object_object_add(j, "namespace", json_object_new_string(o[i].namespace_));
        json_object_object_add(j, "name", json_object_new_string(o[i].name));
        json_object_array_add(a, j);
    }
    return a;
}

/* The standing exclusion set as held_obj (strings owned by *buf, one allocation). */
static int standing(struct renderer_role *r, struct held_obj **out, size_t *n, char **buf)
{
    size_t cnt = (size_t)lh_table_length(r->objs.excluded), bytes = 0, i = 0;
    struct lh_entry *le;
    lh_foreach(r->objs.excluded, le) bytes += strlen(lh_entry_k(le)) + 1;
    *out = calloc(cnt ? cnt : 1, sizeof(**out));
    *buf = malloc(bytes ? bytes : 1);
    *n = 0;
    if (!*out || !*buf) return -1;
    char *p = *buf;
    lh_foreach(r->objs.excluded, le) {
        strcpy(p, lh_entry_k(le));
        char *a = strchr(p, '/'), *b = a ? strchr(a + 1, '/') : NULL;
        size_t len = strlen(p);
        if (a && b) {
            *a = *b = 0;
            (*out)[i++] = (struct held_obj){p, a + 1, b + 1};
        }
        p += len + 1;
    }
    *n = i;
    return 0;
}

/* render_id is a decimal string on the wire (docs/ipc.md): ours, and the executor's we echo. */
static void add_render_id(struct json_object *m, int64_t id)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)id);
    json_object_object_add(m, "render_id", json_object_new_string(buf));
}

/* The id of a render_request: digits only, within int64. 0, or -1 when absent or not such a string. */
static int parse_render_id(struct json_object *msg, int64_t *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(msg, "render_id", &v) || !json_object_is_type(v, json_type_string)) return -1;
    const char *s = json_object_get_string(v);
    int64_t id = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || id > (INT64_MAX - 9) / 10) return -1;
        id = id * 10 + (*s - '0');
    }
    *out = id;
    return 0;
}

/* Sends a message whose `changed` list may be too long for a frame (a first candidate lists every object):
 * spilled to <run_dir>/spill/ when it is (common/pipeline/spill.h). A send that still fails is logged: a
 * lost candidate would leave the executor without an LKG until the next change. */
static void send_with_changes(struct renderer_role *r, struct json_object *m)
{
    struct err e;
    err_clear(&e);
    if (spill_field(m, "changed", r->w->cfg->controller.run_dir, 0, &e) < 0)
        log_error("cannot spill the changed list, sending it inline", "error", e.msg);
    if (worker_send(r->w, m) < 0)
        log_error("pipeline message not sent", "type", json_object_get_string(json_object_object_get(m, "type")));
}

/* A candidate carries the oldest reconciler event time among its changes: the executor observes the
 * event-to-LKG latency from it when an LKG includes them. Trials re-render what candidates had. */
static void add_event_ms(struct renderer_role *r, struct json_object *m, int trial)
{
    if (!trial && r->objs.event_ms > 0) json_object_object_add(m, "event_ms", json_object_new_int64(r->objs.event_ms));
}

static void send_failed(struct renderer_role *r, int64_t id, int trial, const struct render_error *re)
{
    struct json_object *m = ipc_msg_new("render_failed");
    add_render_id(m, id);
    json_object_object_add(m, "trial", json_object_new_boolean(trial));
    json_object_object_add(m, "template", json_object_new_string(re->e.file));
    json_object_object_add(m, "line", json_object_new_int(re->e.line));
    json_object_object_add(m, "column", json_object_new_int(re->e.column));
    json_object_object_add(m, "message", json_object_new_string(re->e.msg));
    json_object_object_add(m, "changed", trial ? json_object_new_array() : objects_changed_json(&r->objs));
    if (re->has_object) {   /* the object a guard refused a value of: the executor can quarantine it at once */
        struct held_obj o = {re->resource, re->namespace_, re->name};
        json_object_object_add(m, "object", objs_json(&o, 1));
    }
    json_object_object_add(m, "synced", json_object_new_boolean(objects_all_synced(&r->objs)));
    json_object_object_add(m, "objects", objects_counts_json(&r->objs));
    add_event_ms(r, m, trial);
    send_with_changes(r, m);
    json_object_put(m);
}

/* store: on-demand, after a render: sends the fetches it needs. 1: the render waits for them (its result is
 * dropped, nothing is answered yet); 0: go on, with *rc and *re turned into a failure when a fetch failed. */
static int ondemand_step(struct renderer_role *r, int rc_render, struct render_result *res, struct render_error *re)
{
    struct json_object *fetch = NULL;
    struct err e;
    err_clear(&e);
    int st = objects_after_render(&r->objs, &fetch, &e);
    for (size_t i = 0; i < json_object_array_length(fetch); i++)
        if (worker_send(r->w, json_object_array_get_idx(fetch, i)) < 0) log_error("fetch not sent");
    json_object_put(fetch);
    r->incomplete = st > 0;
    if (st == 0) return 0;
    if (rc_render == 0) render_result_free(res);
    if (st > 0) return 1;
    memset(re, 0, sizeof(*re));
    re->e = e;
    snprintf(re->e.file, sizeof(re->e.file), "on-demand fetch");   /* no template position: what failed is named */
    return -1;
}

/* Renders the current objects with excl held at their LKG version, writes the generation and answers. */
static void render_and_send(struct renderer_role *r, int64_t id, int trial, const struct held_obj *excl, size_t nexcl)
{
    const struct config *cfg = r->w->cfg;
    struct render_store *view = NULL;
    struct render_result res;
    struct render_error re;
    struct err e;
    err_clear(&e);
    memset(&re, 0, sizeof(re));
    int64_t t0 = clock_mono_ms();
    int rc = objects_view(&r->objs, excl, nexcl, &view, &e);
    if (rc < 0) {
        re.e = e;
    } else {
        struct render_input in = {.stores = view, .nstores = r->objs.n, .targets = r->objs.targets,
                                  .resolve = objects_resolve, .resolve_data = &r->objs};
        objects_render_begin(&r->objs);
        rc = render_run(r->render, &in, &res, &re);
        objects_view_free(&r->objs, view);
        int od = ondemand_step(r, rc, &res, &re);
        if (od > 0) {   /* answered once the objects it read are fetched */
            if (!trial) r->cand_waiting = 1;
            return;
        }
        if (od < 0) rc = -1;
    }
    char checksum[RUNDIR_CHECKSUM_BUF] = "";
    int64_t t_write = clock_mono_ms();
    if (rc == 0) {
        struct rundir_file *files;
        if (render_result_files(&res, &files) < 0) {
            rc = -1;
            err_set(&re.e, "out of memory");
        } else {
            if (rundir_write_from(cfg->controller.run_dir, r->last[0] ? r->last : NULL, files, res.nfiles, checksum,
                                  &re.e) < 0)
                rc = -1;
            else
                memcpy(r->last, checksum, sizeof(r->last));
            free(files);
        }
        render_result_free(&res);
    }
    int64_t t_end = clock_mono_ms();
    metrics_histogram_observe(r->duration, NULL, (double)(t_end - t0) / 1000.0);
    metrics_counter_inc(r->results, (const char *const[]){rc == 0 ? "ok" : "error", trial ? "trial" : "candidate"});
    if (rc < 0) {
        log_warn("render failed", "render_id", LOG_INT(id), "template", re.e.file, "line", LOG_INT(re.e.line),
                 "error", re.e.msg);
        send_failed(r, id, trial, &re);
    } else {
        char dir[4096];
        rundir_gen_path(cfg->controller.run_dir, checksum, dir, sizeof(dir));
        struct json_object *m = ipc_msg_new("rendered");
        add_render_id(m, id);
        json_object_object_add(m, "checksum", json_object_new_string(checksum));
        json_object_object_add(m, "dir", json_object_new_string(dir));
        json_object_object_add(m, "trial", json_object_new_boolean(trial));
        json_object_object_add(m, "changed", trial ? json_object_new_array() : objects_changed_json(&r->objs));
        json_object_object_add(m, "excluded", objs_json(excl, nexcl));
        json_object_object_add(m, "synced", json_object_new_boolean(objects_all_synced(&r->objs)));
        json_object_object_add(m, "objects", objects_counts_json(&r->objs));
        add_event_ms(r, m, trial);
        send_with_changes(r, m);
        json_object_put(m);
        log_info("rendered", "render_id", LOG_INT(id), "checksum", checksum, "trial", trial ? "true" : "false",
                 "render_ms", LOG_INT(t_write - t0), "write_ms", LOG_INT(t_end - t_write));
        if (!trial && held_candidate(r->objs.held, checksum, excl, nexcl) < 0) log_error("out of memory");
    }
    if (!trial) objects_clear_changed(&r->objs);   /* `changed` is since the previous candidate, whatever its outcome */
    send_metrics(r);
    heap_trim("after a render");   /* its buffers and view are freed: tens of MB at 10k Ingresses */
}

static void render_candidate(struct renderer_role *r)
{
    struct held_obj *excl;
    size_t n;
    char *buf;
    r->dirty = 0;
    r->cand_waiting = 0;
    if (standing(r, &excl, &n, &buf) == 0) render_and_send(r, r->next_id++, 0, excl, n);
    free(excl);
    free(buf);
}

static void on_check(uv_check_t *h)
{
    struct renderer_role *r = h->data;
    uv_check_stop(h);
    if (r->dirty && !r->stopping && objects_all_synced(&r->objs)) render_candidate(r);
}

static void schedule(struct renderer_role *r)
{
    r->dirty = 1;
    uv_check_start(&r->check, on_check);
}

static void on_render_request(struct renderer_role *r, struct json_object *msg);

/* store: on-demand: a fetched object (or a failed fetch) lets a waiting render go on. */
static void on_fetched(struct renderer_role *r, const char *body, size_t len)
{
    struct err e;
    err_clear(&e);
    int n = objects_apply_fetched(&r->objs, body, len, &e);
    if (n < 0) log_warn("fetched frame refused", "error", e.msg);
    if (n <= 0) return;
    if (r->cand_waiting) schedule(r);
    struct json_object *t = r->pending_trial;
    r->pending_trial = NULL;
    if (t) on_render_request(r, t);
    json_object_put(t);
}

static int on_raw(struct ipc_channel *ch, const char *type, const char *frame, size_t len)
{
    (void)ch;
    struct renderer_role *r = &role;
    if (!strcmp(type, "fetched") && !r->stopping) {
        on_fetched(r, frame + IPC_HEADER_LEN, len - IPC_HEADER_LEN);
        return 1;
    }
    if (strcmp(type, "deltas") || r->stopping) return 0;
    struct err e;
    err_clear(&e);
    int n = objects_apply_deltas(&r->objs, frame + IPC_HEADER_LEN, len - IPC_HEADER_LEN, &e);
    if (n < 0) log_warn("deltas frame refused", "error", e.msg);
    if (n > 0) schedule(r);
    return 1;
}

static void on_render_request(struct renderer_role *r, struct json_object *msg)
{
    struct json_object *v, *ex = NULL;
    int64_t id;
    if (parse_render_id(msg, &id) < 0) {
        log_warn("render_request without a decimal string render_id ignored");
        return;
    }
    int trial = json_object_object_get_ex(msg, "trial", &v) && json_object_get_boolean(v);
    struct err e;
    err_clear(&e);
    if (spill_restore(msg, "exclude", r->w->cfg->controller.run_dir, 0, &e) < 0) {
        log_warn("render_request refused", "error", e.msg);
        return;
    }
    json_object_object_get_ex(msg, "exclude", &ex);
    struct held_obj *excl;
    size_t n;
    if (objects_parse_exclude(ex, &excl, &n, &e) < 0) {
        log_warn("render_request refused", "error", e.msg);
        return;
    }
    if (trial) {
        render_and_send(r, id, 1, excl, n);
        if (r->incomplete) {   /* done again when the objects it read are fetched */
            json_object_put(r->pending_trial);
            r->pending_trial = json_object_get(msg);
        }
    } else {
        /* the quarantine set: every candidate from now on holds these back */
        if (objects_set_excluded(&r->objs, excl, n) < 0) log_error("out of memory");
        if (objects_all_synced(&r->objs)) render_candidate(r);
    }
    free(excl);
}

static void on_message(struct worker *w, struct json_object *msg, const char *type)
{
    struct renderer_role *r = w->data;
    struct err e;
    err_clear(&e);
    if (r->stopping) return;
    if (!strcmp(type, "synced")) {
        const char *res = ipc_msg_str(msg, "resource");
        int was = objects_all_synced(&r->objs);
        int n = res ? objects_synced(&r->objs, res, &e) : -1;
        if (n < 0) log_warn("synced message ignored", "resource", res ? res : "", "error", e.msg);
        if (n > 0 || (!was && objects_all_synced(&r->objs))) schedule(r);
        else if (r->dirty) schedule(r);
    } else if (!strcmp(type, "targets")) {
        struct json_object *t;
        int n = json_object_object_get_ex(msg, "targets", &t) ? objects_set_targets(&r->objs, t, &e) : -1;
        if (n < 0) log_warn("targets message ignored", "error", e.msg);
        if (n > 0) schedule(r);
    } else if (!strcmp(type, "render_request")) {
        on_render_request(r, msg);
    } else if (!strcmp(type, "lkg")) {
        const char *sum = ipc_msg_str(msg, "checksum");
        if (sum && held_on_lkg(r->objs.held, sum) == 0)
            log_info("last-known-good not rendered by this process yet: matched against the next candidate", "checksum", sum);
    }
}

static void on_check_closed(uv_handle_t *h) { (void)h; }

static void on_shutdown(struct worker *w, const char *why)
{
    struct renderer_role *r = w->data;
    (void)why;
    r->stopping = 1;
    uv_close((uv_handle_t *)&r->check, on_check_closed);
    worker_stop(w);
}

static int metrics_init(struct renderer_role *r)
{
    r->reg = metrics_registry_new();
    if (!r->reg) return -1;
    r->duration = metrics_histogram(r->reg, "haproxy_ic_render_duration_seconds",
                                    "Time of one render, writing the generation included.", NULL, duration_buckets,
                                    sizeof(duration_buckets) / sizeof(duration_buckets[0]), NULL);
    r->results = metrics_counter(r->reg, "haproxy_ic_renders_total", "Renders by result (ok, error) and kind (candidate, trial).",
                                 (const char *const[]){"result", "kind", NULL}, NULL);
    r->objects = metrics_gauge(r->reg, "haproxy_ic_renderer_objects", "Objects in the renderer's store of each watched resource.",
                               (const char *const[]){"resource", NULL}, NULL);
    r->od_cached = metrics_gauge(r->reg, "haproxy_ic_renderer_on_demand_cached_objects",
                                 "Objects of store: on-demand resources held in the renderer's cache.", NULL, NULL);
    r->od_fetches = metrics_counter(r->reg, "haproxy_ic_renderer_on_demand_fetches_total",
                                    "Objects of store: on-demand resources asked of the reconciler.", NULL, NULL);
    return r->duration && r->results && r->objects && r->od_cached && r->od_fetches ? 0 : -1;
}

/* A new config: the templates are compiled again and a candidate is rendered with them over the objects
 * already held (no relist). A change to watched_resources (the stores' names and indexes) is taken by a
 * restart instead: the restarted renderer builds its stores and asks for a resync. */
static enum worker_config_result renderer_on_config(struct worker *w, const struct config *next, const char **why)
{
    struct renderer_role *r = w->data;
    if (!config_section_equal(w->cfg, next, "watched_resources")) {
        *why = "watched_resources changed";
        return WORKER_CONFIG_RESTART;
    }
    struct render *fresh = NULL;
    struct err e;
    err_clear(&e);
    if (render_new(next, &fresh, &e) < 0 || objects_use_config(&r->objs, next) < 0) {
        log_error("new templates not taken", "template", e.file, "line", LOG_INT(e.line), "error", e.msg);
        render_free(fresh);
        *why = "the new templates did not compile here";
        return WORKER_CONFIG_RESTART;
    }
    render_free(r->render);
    r->render = fresh;
    log_info("templates replaced: rendering a candidate with them");
    schedule(r);
    return WORKER_CONFIG_APPLIED;
}

static int on_start(struct worker *w)
{
    struct renderer_role *r = w->data;
    r->w = w;
    w->on_config = renderer_on_config;
    if (!w->cfg) {
        log_error("the renderer needs --config");
        return -1;
    }
    struct err e;
    err_clear(&e);
    if (metrics_init(r) < 0 || objects_init(&r->objs, w->cfg, &e) < 0) {
        log_error("renderer cannot start", "error", e.msg[0] ? e.msg : "out of memory");
        return -1;
    }
    if (render_new(w->cfg, &r->render, &e) < 0) {
        log_error("templates do not compile", "template", e.file, "line", LOG_INT(e.line), "error", e.msg);
        return -1;
    }
    uv_check_init(w->loop, &r->check);
    r->check.data = r;
    r->next_id = (int64_t)getpid() * 1000000;
    w->ch.on_raw = on_raw;
    /* a restarted renderer has no objects: every resource is listed again, and what the listing does not
     * name is dropped at its synced */
    objects_begin_listing(&r->objs);
    struct json_object *m = ipc_msg_new("resync");
    worker_send(w, m);
    json_object_put(m);
    log_info("renderer ready", "resources", LOG_UINT(r->objs.n));
    if (r->objs.n == 0) schedule(r);   /* nothing to wait for */
    send_metrics(r);
    return 0;
}

int renderer_main(int argc, char **argv)
{
    memset(&role, 0, sizeof(role));
    int status = worker_main(argc, argv, on_message, on_shutdown, on_start, &role);
    render_free(role.render);
    json_object_put(role.pending_trial);
    objects_free(&role.objs);
    metrics_registry_free(role.reg);
    memset(&role, 0, sizeof(role));
    return status;
}
