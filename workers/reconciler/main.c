/* The reconciler role: one informer per watched_resources entry on one shared bulk Kubernetes client,
 * forwarding each resource's changes to the renderer as batched `deltas` and `synced` messages
 * (docs/ipc.md). Runs on every replica, leader or not. A `resync` message starts every listing from scratch
 * (for a renderer that lost its objects). Metrics: objects per resource, items forwarded, objects refused.
 * Not for: keeping objects (the renderer holds the one full copy; see watch.h for what stays here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"
#include "common/kube/kube_client.h"
#include "common/kube/kube_config.h"
#include "common/kube/kube_setup.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/store/packed.h"
#include "common/worker.h"
#include "supervisor/roles.h"
#include "workers/reconciler/fetch.h"
#include "workers/reconciler/watch.h"

struct reconciler {
    struct worker *w;
    struct kube_config *kcfg;      /* owned */
    struct kube_client *client;    /* owned */
    struct packed_keys *keys;      /* owned; every block is freed as soon as its JSON is out */
    struct packed_proj *proj;      /* owned */
    struct watch **watches;        /* owned array; each owned */
    size_t n;
    struct fetcher fetcher;        /* store: on-demand GETs in flight */
    struct watch_stats *reported;  /* owned, n entries: the totals already added to the counters */
    struct metrics_registry *reg;  /* owned */
    struct metric_family *objects, *items, *refused;
};

static struct reconciler role;

static int send_msg(void *data, struct json_object *msg) { return worker_send(((struct reconciler *)data)->w, msg); }

static void report_metrics(struct reconciler *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *res[] = {watch_name(r->watches[i])};
        struct watch_stats st, *last = &r->reported[i];
        watch_get_stats(r->watches[i], &st);
        metrics_gauge_set(r->objects, res, (double)watch_objects(r->watches[i]));
        /* the watch keeps totals; the counters get what was added since the last report */
        metrics_counter_add(r->items, (const char *const[]){res[0], "upsert"}, (double)(st.upserts - last->upserts));
        metrics_counter_add(r->items, (const char *const[]){res[0], "delete"}, (double)(st.deletes - last->deletes));
        *last = st;
    }
    struct json_object *fam;
    if (metrics_to_json(r->reg, &fam) < 0) return;
    struct json_object *m = ipc_msg_new("metrics");
    json_object_object_add(m, "metrics", fam);
    worker_report(r->w, m);
    json_object_put(m);
}

static void on_flushed(void *data) { report_metrics(data); }

static void on_refused(void *data, const char *resource, const char *key, size_t bytes)
{
    struct reconciler *r = data;
    char b[24];
    snprintf(b, sizeof(b), "%zu", bytes);
    metrics_counter_inc(r->refused, (const char *const[]){resource});
    worker_event(r->w, "ObjectTooLarge", "resource", resource, "key", key, "bytes", b, NULL);
}

static void stop_all(struct reconciler *r)
{
    fetch_cancel_all(&r->fetcher);
    for (size_t i = 0; i < r->n; i++) watch_stop(r->watches[i]);
    free(r->watches);
    r->watches = NULL;
    free(r->reported);
    r->reported = NULL;
    r->n = 0;
    if (r->client) kube_client_close(r->client);
    r->client = NULL;
}

static void on_message(struct worker *w, struct json_object *msg, const char *type)
{
    struct reconciler *r = w->data;
    if (!strcmp(type, "fetch")) {
        if (fetch_on_message(&r->fetcher, r->watches, r->n, msg) < 0)
            log_warn("fetch refused: not an on-demand resource or malformed");
        return;
    }
    if (strcmp(type, "resync") != 0) return;
    log_info("resync requested: listing every resource again");
    for (size_t i = 0; i < r->n; i++) watch_restart(r->watches[i]);
}

static void on_shutdown(struct worker *w, const char *why)
{
    (void)why;
    stop_all(w->data);
    worker_stop(w);
}

static int init_metrics(struct reconciler *r)
{
    r->reg = metrics_registry_new();
    if (!r->reg) return -1;
    r->objects = metrics_gauge(r->reg, "haproxy_ic_reconciler_objects", "Objects of each watched resource.",
                               (const char *const[]){"resource", NULL}, NULL);
    r->items = metrics_counter(r->reg, "haproxy_ic_reconciler_changes_total",
                               "Changes forwarded to the renderer, by resource and op.",
                               (const char *const[]){"resource", "op", NULL}, NULL);
    r->refused = metrics_counter(r->reg, "haproxy_ic_reconciler_refused_objects_total",
                                 "Objects too large for one IPC frame, not forwarded.",
                                 (const char *const[]){"resource", NULL}, NULL);
    return r->objects && r->items && r->refused ? 0 : -1;
}

/* A new config: the informers, the projection and the API client are built from these sections; a change
 * to any is taken by a restart, whose fresh listing (deltas with synced: false, then synced) the renderer
 * applies like a resync. Anything else (templates, the deploy settings) needs nothing here. */
static enum worker_config_result reconciler_on_config(struct worker *w, const struct config *next, const char **why)
{
    static const char *const used[] = {"watched_resources", "watched_resources_ignore_fields",
                                       "controller.kubernetes"};
    if (config_sections_equal(w->cfg, next, used, sizeof(used) / sizeof(used[0]))) return WORKER_CONFIG_APPLIED;
    *why = "the watched resources changed";
    return WORKER_CONFIG_RESTART;
}

static int on_start(struct worker *w)
{
    struct reconciler *r = w->data;
    r->w = w;
    w->on_config = reconciler_on_config;
    if (!w->cfg) {
        log_error("the reconciler needs --config");
        return -1;
    }
    const struct config *cfg = w->cfg;
    if (init_metrics(r) < 0) return -1;
    if (cfg->watched_resources.len == 0) {
        log_info("no watched_resources: nothing to watch");
        return 0;
    }
    struct err e;
    err_clear(&e);
    const struct config_strlist *ign = &cfg->watched_resources_ignore_fields;
    r->keys = packed_keys_new();
    if (!r->keys || packed_proj_new((const char *const *)ign->items, ign->len, 1, &r->proj, &e) < 0) {
        log_error("watched_resources_ignore_fields refused", "error", e.msg[0] ? e.msg : "out of memory");
        return -1;
    }
    const struct config_kubernetes *k = &cfg->controller.kubernetes;
    if (kube_setup_bulk(w->loop, k, "reconciler", &r->kcfg, &r->client, &e) < 0) {
        log_error("cannot reach the Kubernetes API", "error", e.msg);
        return -1;
    }
    r->watches = calloc(cfg->watched_resources.len, sizeof(r->watches[0]));
    r->reported = calloc(cfg->watched_resources.len, sizeof(r->reported[0]));
    if (!r->watches || !r->reported) return -1;
    struct watch_env env = {.loop = w->loop, .client = r->client, .keys = r->keys, .proj = r->proj,
                            .send = send_msg, .refused = on_refused, .flushed = on_flushed, .data = r};
    for (size_t i = 0; i < cfg->watched_resources.len; i++) {
        if (watch_start(&env, &cfg->watched_resources.items[i], &r->watches[r->n], &e) < 0) {
            log_error("watched resource refused", "resource", cfg->watched_resources.items[i].name, "error", e.msg);
            return -1;
        }
        r->n++;
    }
    return 0;
}

int reconciler_main(int argc, char **argv)
{
    memset(&role, 0, sizeof(role));
    int status = worker_main(argc, argv, on_message, on_shutdown, on_start, &role);
    packed_proj_free(role.proj);
    packed_keys_free(role.keys);
    metrics_registry_free(role.reg);
    kube_config_free(role.kcfg);
    memset(&role, 0, sizeof(role));
    return status;
}
