/* The supervisor's HTTP endpoints: /healthz (liveness; fails when an elector that claims leadership stopped
 * renewing, the rule in healthz.h), /readyz (not shutting down, every expected child up now, and the pipeline
 * once synced with a last-known-good, latched: readiness.h), /metrics (Prometheus text) and
 * /debug/vars (JSON: children, leadership, effective config with secrets redacted). */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/config/config.h"
#include "common/log.h"
#include "supervisor/healthz.h"
#include "supervisor/readiness.h"
#include "supervisor/supervisor.h"

static void serve_healthz(struct supervisor *s, struct http_request *req)
{
    /* The deployer was already killed at the fence (renew_deadline); this is about the elector. */
    if (s->opts.election_enabled &&
        healthz_leader_stale(s->lead.elector_claims, s->lead.last_renew_ms, clock_mono_ms(),
                             s->opts.lease_duration_ms, s->opts.retry_period_ms)) {
        http_respond_text(req, 500, "text/plain; charset=utf-8",
                          "unhealthy: the elector claims leadership but has not renewed for lease_duration + "
                          "retry_period\n");
        return;
    }
    http_respond_text(req, 200, "text/plain; charset=utf-8", "ok\n");
}

static void serve_readyz(struct supervisor *s, struct http_request *req)
{
    if (s->stage != RUNNING) {
        http_respond_text(req, 503, "text/plain; charset=utf-8", "shutting down\n");
        return;
    }
    /* Current state, not history: a child being restarted makes the replica unready until it is back. */
    for (int r = 0; r < ROLE_COUNT; r++) {
        const struct child *c = &s->children[r];
        if (supervisor_expects_child(s, (enum role_id)r) && !(child_running(c) && c->hello)) {
            char msg[96];
            snprintf(msg, sizeof(msg), "not ready: %s is not up\n", c->role);
            http_respond_text(req, 503, "text/plain; charset=utf-8", msg);
            return;
        }
    }
    if (!s->pipeline_ready) {
        char msg[128];
        snprintf(msg, sizeof(msg), "not ready: %s\n", readiness_pipeline_why(s->pipeline));
        http_respond_text(req, 503, "text/plain; charset=utf-8", msg);
        return;
    }
    http_respond_text(req, 200, "text/plain; charset=utf-8", "ok\n");
}

static const char *state_name(enum child_state st)
{
    switch (st) {
    case CHILD_IDLE: return "idle";
    case CHILD_RUNNING: return "running";
    case CHILD_BACKOFF: return "backoff";
    case CHILD_DEAD: return "dead";
    }
    return "?";
}

static struct json_object *describe(struct supervisor *s)
{
    int64_t now = clock_mono_ms();
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_string(HTIC_VERSION));
    json_object_object_add(o, "pid", json_object_new_int64(getpid()));
    json_object_object_add(o, "uptime_seconds", json_object_new_double((double)(now - s->started_ms) / 1000.0));
    json_object_object_add(o, "ready", json_object_new_boolean(s->ready_sent && s->stage == RUNNING));
    json_object_object_add(o, "restarts_total", json_object_new_int64((int64_t)s->restarts_total));

    struct json_object *kids = json_object_new_object();
    for (int r = 0; r < ROLE_COUNT; r++) {
        const struct child *c = &s->children[r];
        struct json_object *k = json_object_new_object();
        json_object_object_add(k, "state", json_object_new_string(state_name(c->state)));
        json_object_object_add(k, "pid", json_object_new_int64(c->pid));
        json_object_object_add(k, "restarts", json_object_new_int64((int64_t)c->restarts));
        json_object_object_add(k, "last_heard_ms_ago",
                               c->pid > 0 ? json_object_new_int64(now - c->last_heartbeat_ms) : NULL);
        json_object_object_add(kids, c->role, k);
    }
    json_object_object_add(o, "children", kids);

    const struct leadership *l = &s->lead;
    struct json_object *le = json_object_new_object();
    json_object_object_add(le, "enabled", json_object_new_boolean(s->opts.election_enabled));
    json_object_object_add(le, "is_leader", json_object_new_boolean(l->is_leader));
    json_object_object_add(le, "identity", json_object_new_string(s->opts.identity));
    json_object_object_add(le, "lease_name", json_object_new_string(s->opts.lease_name));
    json_object_object_add(le, "lease_holder", json_object_new_string(l->is_leader ? s->opts.identity
                                                                                  : l->observed_leader));
    json_object_object_add(le, "term", json_object_new_string(l->is_leader ? l->term : ""));
    json_object_object_add(le, "time_as_leader", json_object_new_double(leadership_time_as_leader(s)));
    json_object_object_add(le, "transitions", json_object_new_int64((int64_t)l->transitions));
    json_object_object_add(le, "fence_left_ms",
                           l->is_leader && l->fence_ms >= 0 ? json_object_new_int64(l->fence_ms - now) : NULL);
    if (l->elector_report) {
        struct json_object *rep = NULL;
        json_object_deep_copy(l->elector_report, &rep, NULL);
        if (rep) json_object_object_del(rep, "type");
        json_object_object_add(le, "elector", rep);
    }
    json_object_object_add(o, "leader_election", le);
    json_object_object_add(o, "ipc", router_describe(&s->router));
    json_object_object_add(o, "pipeline", s->pipeline ? json_object_get(s->pipeline) : NULL);
    struct json_object *targets = NULL, *dep = json_object_new_object();
    if (s->deploy_report && json_object_object_get_ex(s->deploy_report, "targets", &targets))
        json_object_object_add(dep, "targets", json_object_get(targets));
    else
        json_object_object_add(dep, "targets", json_object_new_array()); /* not the leader, or nothing yet */
    json_object_object_add(o, "deploy", dep);

    struct json_object *cfg = NULL;
    if (s->cfg && config_describe_json(s->cfg, &cfg) == 0) {
        config_runtime_describe(s, cfg);
        json_object_object_add(o, "config", cfg);
    }
    return o;
}

static void serve_debug_vars(struct supervisor *s, struct http_request *req)
{
    struct json_object *o = describe(s);
    size_t n;
    const char *body = json_object_to_json_string_length(o, JSON_C_TO_STRING_PRETTY, &n);
    const char *headers[] = {"Content-Type", "application/json", NULL};
    http_respond(req, 200, headers, body, n);
    json_object_put(o);
}

static void on_http_request(struct http_request *req, void *data)
{
    struct supervisor *s = data;
    int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (!get) {
        const char *headers[] = {"Allow", "GET, HEAD", "Content-Type", "text/plain; charset=utf-8", NULL};
        const char *msg = "method not allowed\n";
        http_respond(req, 405, headers, msg, strlen(msg));
        return;
    }
    if (strcmp(req->path, "/healthz") == 0) serve_healthz(s, req);
    else if (strcmp(req->path, "/readyz") == 0) serve_readyz(s, req);
    else if (strcmp(req->path, "/metrics") == 0) supervisor_metrics_serve(s, req);
    else if (strcmp(req->path, "/debug/vars") == 0) serve_debug_vars(s, req);
    else http_respond_text(req, 404, "text/plain; charset=utf-8", "not found\n");
}

int http_api_start(struct supervisor *s)
{
    http_server_init(&s->http, s->loop, on_http_request, s);
    /* These endpoints answer small GETs: anything larger is not for us. */
    s->http.limits.max_body_bytes = 4096;
    s->http.limits.max_header_bytes = 16 * 1024;
    s->http.limits.max_connections = 64;
    s->http.limits.request_timeout_ms = 5000;
    int rc = http_server_listen(&s->http, s->opts.http_address, s->opts.http_port);
    if (rc < 0) {
        log_error("cannot listen for HTTP", "address", s->opts.http_address, "port", LOG_INT(s->opts.http_port),
                  "error", uv_strerror(rc));
        return -1;
    }
    log_info("serving HTTP", "address", s->opts.http_address, "port", LOG_INT(http_server_port(&s->http)));
    return 0;
}

void http_api_close(struct supervisor *s) { http_server_close(&s->http, NULL); }
