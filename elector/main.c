/* The elector role's process: reads controller.leader_election and controller.kubernetes from the config,
 * opens its own Kubernetes client (never shared with bulk traffic), runs the elector, and wires it to the
 * supervisor: messages out through the worker's channel, `deployer_stopped` and `shutdown` in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/config/config.h"
#include "common/kube/kube_client.h"
#include "common/kube/kube_config.h"
#include "common/log.h"
#include "common/worker.h"
#include "supervisor/roles.h"
#include "elector/election_metrics.h"
#include "elector/elector.h"
#include "elector/lease_kube.h"

/* Time kept back from the supervisor's stage bound for closing handles and exiting after the release. */
#define ELECTOR_EXIT_MARGIN_MS 500

struct elector_role {
    struct worker *w;
    struct kube_config *kcfg;    /* owned */
    struct kube_client *client;  /* owned */
    struct lease_kube *lk;       /* owned */
    struct elector el;
    struct election_metrics metrics;
    int el_ready;
    int stopping;
};

static struct elector_role role;

static void sink_send(void *data, struct json_object *msg) { worker_send(data, msg); }

/* Every attempt's report updates our metrics here, before the lossy send, so no renewal goes unmeasured
 * even when a report is skipped on a backed-up channel. */
static void sink_report(void *data, struct json_object *msg)
{
    struct worker *w = data;
    struct elector_role *r = w->data;
    worker_report(w, msg);
    struct json_object *families = election_metrics_on_report(&r->metrics, msg);
    if (!families) return;
    struct json_object *m = ipc_msg_new("metrics");
    json_object_object_add(m, "metrics", families);
    worker_report(w, m);
    json_object_put(m);
}

static void on_elector_closed(struct elector *el)
{
    struct elector_role *r = el->data;
    lease_kube_free(r->lk);
    r->lk = NULL;
    if (r->client) kube_client_close(r->client);
    r->client = NULL;
    worker_stop(r->w);
}

static void on_elector_stopped(struct elector *el) { elector_close(el, on_elector_closed); }

static void on_message(struct worker *w, struct json_object *msg, const char *type)
{
    struct elector_role *r = w->data;
    if (strcmp(type, "deployer_stopped") == 0 && r->el_ready) elector_on_deployer_stopped(&r->el);
}

static void on_shutdown(struct worker *w, const char *why)
{
    struct elector_role *r = w->data;
    if (r->stopping) return;
    r->stopping = 1;
    if (!r->el_ready) {
        if (r->client) kube_client_close(r->client);
        r->client = NULL;
        worker_stop(w);
        return;
    }
    /* Release only on an orderly stop: the supervisor's `shutdown`, sent after it reaped the deployer (a
     * SIGTERM to this process alone still releases too, as before). With the supervisor gone the deployer may
     * outlive it for a moment with a valid fence: a release would let another replica lead while it can still
     * write, so the Lease is left to expire (after that fence). */
    if (strcmp(why, WORKER_WHY_SUPERVISOR_GONE) == 0) elector_abandon(&r->el, on_elector_stopped);
    else elector_shutdown(&r->el, on_elector_stopped);
}

/* An unset identity falls back to POD_NAME, then to the hostname (common/config). Outside a pod the
 * hostname is shared by every instance on the host and by hostNetwork pods: say so once, at start, since two
 * replicas under one identity both lead until the elector notices (duplicate_identity). */
static void warn_if_hostname_identity(const char *identity)
{
    const char *pod = getenv("POD_NAME");
    char host[256] = "";
    if (pod && *pod) return;
    if (gethostname(host, sizeof(host) - 1) != 0 || strcmp(host, identity) != 0) return;
    log_warn("leader election identity is the hostname (POD_NAME is unset): every instance on this host and "
             "every hostNetwork pod on it gets the same one; set controller.leader_election.identity per instance",
             "identity", identity);
}

static int on_start(struct worker *w)
{
    struct elector_role *r = w->data;
    r->w = w;
    if (!w->cfg) {
        log_error("the elector needs --config");
        return -1;
    }
    const struct config_leader_election *le = &w->cfg->controller.leader_election;
    const struct config_kubernetes *k = &w->cfg->controller.kubernetes;
    struct err e;
    err_clear(&e);
    struct kube_config_opts ko = {.mode = KUBE_CONFIG_AUTO,
                                  .kubeconfig = k->kubeconfig && k->kubeconfig[0] ? k->kubeconfig : NULL,
                                  .context = k->context && k->context[0] ? k->context : NULL};
    /* The identity in the User-Agent lets an operator (and the simulator's fault injection) tell replicas
     * apart in the API server's logs. */
    char ua[LEASE_IDENTITY_MAX + 64];
    snprintf(ua, sizeof(ua), "haproxy-template-ic-elector/%s (%s)", HTIC_VERSION, le->identity);
    struct kube_client_opts copts = {.user_agent = ua};
    if (kube_config_load(&ko, &r->kcfg, &e) < 0 || kube_client_new(w->loop, r->kcfg, &copts, &r->client, &e) < 0 ||
        lease_kube_new(r->client, le->lease_namespace, le->lease_name, &r->lk, &e) < 0) {
        log_error("cannot reach the Kubernetes API", "error", e.msg);
        return -1;
    }
    struct elector_opts o = {
        .lease = {.lease_duration_ms = le->lease_duration_ms, .renew_deadline_ms = le->renew_deadline_ms,
                  .retry_period_ms = le->retry_period_ms, .identity = le->identity},
        .ns = le->lease_namespace,
        .name = le->lease_name,
        .watch = 1,
        /* The supervisor gives each shutdown stage a quarter of shutdown_timeout; finish the release within
         * it (less a margin for the exit) rather than be killed mid-way. Followers take over at expiry if a
         * release cannot be written in that time. */
        .release_budget_ms = w->cfg->controller.shutdown_timeout_ms / 4 - ELECTOR_EXIT_MARGIN_MS,
    };
    struct elector_sink sink = {.send = sink_send, .report = sink_report, .data = w};
    if (elector_init(&r->el, w->loop, &o, lease_kube_api(r->lk), sink, &e) < 0) {
        log_error("leader election settings refused", "error", e.msg);
        return -1;
    }
    r->el.data = r;
    r->el_ready = 1;
    warn_if_hostname_identity(le->identity);
    log_info("leader election starting", "identity", le->identity, "namespace", le->lease_namespace, "lease",
             le->lease_name, "server", r->kcfg->server);
    return elector_start(&r->el);
}

int elector_main(int argc, char **argv)
{
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    memset(&role, 0, sizeof(role));
    if (election_metrics_init(&role.metrics) < 0) return 1;
    int status = worker_main(argc, argv, on_message, on_shutdown, on_start, &role);
    election_metrics_free(&role.metrics);
    kube_config_free(role.kcfg);
    role.kcfg = NULL;
    return status;
}
