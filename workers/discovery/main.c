/* The discovery role: finds the HAProxy targets (pods by haproxy.pod_selector, plus the fixed
 * haproxy.endpoints) and publishes the set as a `targets` message whenever it changes (docs/ipc.md), with a
 * gauge and an event. Runs on every replica, leader or not. Without a pod_selector it publishes the fixed
 * endpoints once and never touches Kubernetes (bare metal works without a cluster).
 * Not for: deciding what a target is (targets.c) or talking to the targets (the deployer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"
#include "common/kube/kube_client.h"
#include "common/kube/kube_config.h"
#include "common/kube/kube_setup.h"
#include "common/kube/kube_informer.h"
#include "common/kube/kube_object.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/worker.h"
#include "supervisor/roles.h"
#include "workers/discovery/targets.h"

struct discovery {
    struct worker *w;
    struct kube_config *kcfg;      /* owned; NULL without a pod_selector */
    struct kube_client *client;    /* owned */
    struct kube_informer *inf;     /* owned */
    struct targets set;
    struct metrics_registry *reg;  /* owned */
    struct metric_family *gauge, *changes;
    /* Changes are published from a zero-delay timer, not from the callback: a relist reports its whole
     * difference (adds and updates, then deletes) in one go, and the set in between is not one that existed. */
    uv_timer_t publish_timer;
    int timer_ready;
    char ns[256];
    int synced;                    /* the informer's first list is in: publish from now on */
};

static struct discovery role;

static void publish(struct discovery *d)
{
    struct json_object *arr = targets_take_changed(&d->set);
    if (!arr) return;
    struct json_object *msg = ipc_msg_new("targets");
    json_object_object_add(msg, "targets", arr);
    worker_send(d->w, msg);
    json_object_put(msg);

    size_t pods = targets_count(&d->set, TARGET_POD), statics = targets_count(&d->set, TARGET_STATIC);
    metrics_gauge_set(d->gauge, (const char *const[]){"pod"}, (double)pods);
    metrics_gauge_set(d->gauge, (const char *const[]){"static"}, (double)statics);
    metrics_counter_inc(d->changes, NULL);
    struct json_object *fam;
    if (metrics_to_json(d->reg, &fam) == 0) {
        struct json_object *m = ipc_msg_new("metrics");
        json_object_object_add(m, "metrics", fam);
        worker_report(d->w, m);
        json_object_put(m);
    }
    char np[24], ns[24];
    snprintf(np, sizeof(np), "%zu", pods);
    snprintf(ns, sizeof(ns), "%zu", statics);
    worker_event(d->w, "TargetsChanged", "pods", np, "static", ns, NULL);
    log_info("targets changed", "pods", np, "static", ns);
}

static void on_publish_timer(uv_timer_t *t) { publish(t->data); }

static void publish_soon(struct discovery *d)
{
    if (d->synced && !uv_is_active((uv_handle_t *)&d->publish_timer)) uv_timer_start(&d->publish_timer, on_publish_timer, 0, 0);
}

static void on_pod_added(void *data, struct json_object *pod)
{
    struct discovery *d = data;
    if (targets_pod_update(&d->set, pod) < 0) log_warn("pod not taken as a target", "pod", kube_object_meta_str(pod, "name"));
    publish_soon(d);
}

static void on_pod_updated(void *data, struct json_object *old_pod, struct json_object *pod)
{
    (void)old_pod;
    on_pod_added(data, pod);
}

static void on_pod_deleted(void *data, struct json_object *pod)
{
    struct discovery *d = data;
    targets_pod_delete(&d->set, pod);
    publish_soon(d);
}

/* After the first list and after every relist (the relist's differences came in as add/update/delete). */
static void on_pods_synced(void *data)
{
    struct discovery *d = data;
    if (!d->synced) log_info("pods listed", "namespace", d->ns);
    d->synced = 1;
    uv_timer_stop(&d->publish_timer);
    publish(d);
}

static void close_kube(struct discovery *d)
{
    if (d->inf) kube_informer_stop(d->inf);
    d->inf = NULL;
    if (d->client) kube_client_close(d->client);
    d->client = NULL;
    if (d->timer_ready) uv_close((uv_handle_t *)&d->publish_timer, NULL);
    d->timer_ready = 0;
}

static void on_shutdown(struct worker *w, const char *why)
{
    (void)why;
    close_kube(w->data);
    worker_stop(w);
}

static int init_metrics(struct discovery *d)
{
    d->reg = metrics_registry_new();
    if (!d->reg) return -1;
    d->gauge = metrics_gauge(d->reg, "haproxy_ic_discovery_targets", "HAProxy targets in the published set, by kind.",
                             (const char *const[]){"kind", NULL}, NULL);
    d->changes = metrics_counter(d->reg, "haproxy_ic_discovery_target_set_changes_total",
                                 "Times the published target set changed (the first publication included).", NULL, NULL);
    return d->gauge && d->changes ? 0 : -1;
}

static int start_pod_informer(struct discovery *d, const struct config *cfg)
{
    const struct config_pod_selector *ps = &cfg->haproxy.pod_selector;
    /* The controller's namespace: config_schema_controller.c resolves lease_namespace from POD_NAMESPACE, then
     * the service-account file, whether or not leader election is on. */
    const char *ns = ps->namespace && *ps->namespace ? ps->namespace : cfg->controller.leader_election.lease_namespace;
    if (!ns || !*ns) {
        log_error("haproxy.pod_selector.namespace is empty and the controller's namespace is unknown: set it, or "
                  "POD_NAMESPACE");
        return -1;
    }
    snprintf(d->ns, sizeof(d->ns), "%s", ns);
    const struct config_kubernetes *k = &cfg->controller.kubernetes;
    struct err e;
    err_clear(&e);
    if (kube_setup_bulk(d->w->loop, k, "discovery", &d->kcfg, &d->client, &e) < 0) {
        log_error("cannot reach the Kubernetes API", "error", e.msg);
        return -1;
    }
    struct kube_informer_opts io = {.res = {.group = "", .version = "v1", .resource = "pods", .namespace = d->ns,
                                            .label_selector = ps->match_labels}};
    struct kube_informer_cbs cbs = {.on_add = on_pod_added, .on_update = on_pod_updated,
                                    .on_delete = on_pod_deleted, .on_synced = on_pods_synced};
    if (kube_informer_start(d->client, &io, &cbs, d, &d->inf) < 0) {
        log_error("cannot start the pod informer", "namespace", d->ns);
        return -1;
    }
    log_info("watching HAProxy pods", "namespace", d->ns, "selector", ps->match_labels, "server", d->kcfg->server);
    return 0;
}

/* A new config: what discovery set up at start (the pod informer, the fixed endpoints, the port it gives
 * pods) is redone by a restart, which publishes the new set at once; anything else needs nothing. */
static enum worker_config_result discovery_on_config(struct worker *w, const struct config *next, const char **why)
{
    static const char *const used[] = {"haproxy.pod_selector", "haproxy.endpoints", "haproxy.dataplane.port",
                                       "controller.kubernetes"};
    if (config_sections_equal(w->cfg, next, used, sizeof(used) / sizeof(used[0]))) return WORKER_CONFIG_APPLIED;
    *why = "the HAProxy targets' settings changed";
    return WORKER_CONFIG_RESTART;
}

static int on_start(struct worker *w)
{
    struct discovery *d = w->data;
    d->w = w;
    w->on_config = discovery_on_config;
    if (!w->cfg) {
        log_error("discovery needs --config");
        return -1;
    }
    const struct config *cfg = w->cfg;
    targets_init(&d->set, cfg->haproxy.dataplane.port);
    uv_timer_init(w->loop, &d->publish_timer);
    d->publish_timer.data = d;
    d->timer_ready = 1;
    if (init_metrics(d) < 0 || targets_add_static(&d->set, cfg->haproxy.endpoints.items, cfg->haproxy.endpoints.len) < 0) {
        log_error("out of memory");
        return -1;
    }
    if (!cfg->haproxy.pod_selector.match_labels) {
        publish(d); /* the fixed endpoints are the whole set, known now */
        return 0;
    }
    return start_pod_informer(d, cfg);
}

int discovery_main(int argc, char **argv)
{
    memset(&role, 0, sizeof(role));
    int status = worker_main(argc, argv, NULL, on_shutdown, on_start, &role);
    targets_free(&role.set);
    metrics_registry_free(role.reg);
    kube_config_free(role.kcfg);
    memset(&role, 0, sizeof(role));
    return status;
}
