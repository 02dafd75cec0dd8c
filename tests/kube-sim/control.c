/* Fault injection and test control. API requests pass sim_faults_apply() first (refuse or hang one client,
 * N injected errors, added latency); the control listener (plain http, never faulted) changes faults,
 * tokens, deny rules and bookmark interval, drops watches, compacts history and reports counters. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "tests/kube-sim/sim.h"

struct sim_pending {
    struct sim_pending *next, *prev;
    struct sim *sim;
    struct http_request *req; /* NULL once answered or gone */
    uv_timer_t timer;
    int hang;
};

static void on_pending_closed(uv_handle_t *h) { free(h->data); }

static void pending_release(struct sim_pending *p)
{
    struct sim *sim = p->sim;
    if (p->prev) p->prev->next = p->next;
    else sim->pending = p->next;
    if (p->next) p->next->prev = p->prev;
    p->req = NULL;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_pending_closed);
}

static void on_pending_abort(struct http_request *req, void *data)
{
    (void)req;
    pending_release(data);
}

static void on_pending_timer(uv_timer_t *t)
{
    struct sim_pending *p = t->data;
    struct http_request *req = p->req;
    struct sim *sim = p->sim;
    http_request_on_abort(req, NULL, NULL);
    pending_release(p);
    sim_api_handle(sim, req);
}

static void add_pending(struct sim *sim, struct http_request *req, uint64_t delay_ms, int hang)
{
    struct sim_pending *p = calloc(1, sizeof(*p));
    if (!p) abort();
    p->sim = sim;
    p->req = req;
    p->hang = hang;
    p->timer.data = p;
    uv_timer_init(sim->loop, &p->timer);
    p->next = sim->pending;
    if (p->next) p->next->prev = p;
    sim->pending = p;
    http_request_on_abort(req, on_pending_abort, p);
    if (!hang) uv_timer_start(&p->timer, on_pending_timer, delay_ms, 0);
}

/* Answers hung requests (when the hang fault is lifted) from the loop, not from inside the control call. */
static void release_hung(struct sim *sim)
{
    for (struct sim_pending *p = sim->pending; p; p = p->next)
        if (p->hang) {
            p->hang = 0;
            uv_timer_start(&p->timer, on_pending_timer, 0, 0);
        }
}

void sim_pending_close_all(struct sim *sim)
{
    while (sim->pending) {
        struct sim_pending *p = sim->pending;
        if (p->req) http_request_drop(p->req);
        pending_release(p);
    }
}

static int client_matches(const char *pattern, const struct http_request *req)
{
    if (!pattern[0]) return 1;
    if (strncmp(pattern, "port:", 5) == 0) return atoi(pattern + 5) == req->peer_port; /* source port */
    const char *c = sim_client_id(req);
    const char *ua = http_request_header(req, "User-Agent");
    return strstr(c, pattern) != NULL || (ua && strstr(ua, pattern) != NULL);
}

static int verb_matches(const char *verb, const struct http_request *req)
{
    if (!verb[0]) return 1;
    if (strcasecmp(verb, req->method) == 0) return 1;
    const char *m = req->method;
    if (!strcmp(m, "GET")) return !strcmp(verb, "get") || !strcmp(verb, "list") || !strcmp(verb, "watch");
    if (!strcmp(m, "POST")) return !strcmp(verb, "create");
    if (!strcmp(m, "PUT")) return !strcmp(verb, "update");
    if (!strcmp(m, "PATCH")) return !strcmp(verb, "patch");
    if (!strcmp(m, "DELETE")) return !strcmp(verb, "delete");
    return 0;
}

/* The resource an API path names (best effort, for the ServerTimeout message), or NULL. */
static const struct sim_resource *resource_of_path(const char *path)
{
    char buf[512], *seg[8], *save = NULL;
    int n = 0;
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = strtok_r(buf, "/", &save); p && n < 8; p = strtok_r(NULL, "/", &save)) seg[n++] = p;
    int i = (n >= 3 && !strcmp(seg[0], "api")) ? 2 : (n >= 4 && !strcmp(seg[0], "apis")) ? 3 : -1;
    if (i < 0) return NULL;
    const char *group = i == 2 ? "" : seg[1], *version = i == 2 ? seg[1] : seg[2];
    if (i < n && !strcmp(seg[i], "watch")) i++;
    if (i + 2 < n && !strcmp(seg[i], "namespaces") && sim_resource_find(group, version, seg[i + 2]))
        return sim_resource_find(group, version, seg[i + 2]);
    return i < n ? sim_resource_find(group, version, seg[i]) : NULL;
}

static const char *verb_of(const struct http_request *req)
{
    const char *m = req->method;
    return !strcmp(m, "POST") ? "create" : !strcmp(m, "PUT") ? "update" : !strcmp(m, "PATCH") ? "patch"
         : !strcmp(m, "DELETE") ? "delete" : "get";
}

static void send_injected_error(struct sim *sim, struct http_request *req)
{
    struct sim_faults *f = &sim->faults;
    char ra[16];
    snprintf(ra, sizeof(ra), "%d", f->retry_after);
    if (f->error_code == 429) {
        const char *h[] = {"Content-Type", "text/plain; charset=utf-8", "Retry-After", f->retry_after > 0 ? ra : "1",
                           "X-Kubernetes-Pf-Flowschema-Uid", "sim", "X-Kubernetes-Pf-Prioritylevel-Uid", "sim", NULL};
        static const char body[] = "Too many requests, please try again later.\n";
        http_respond(req, 429, h, body, sizeof(body) - 1);
        return;
    }
    struct json_object *d = json_object_new_object();
    if (f->retry_after > 0) json_object_object_add(d, "retryAfterSeconds", json_object_new_int(f->retry_after));
    switch (f->error_code) {
    case 500:
        if (f->retry_after > 0) {
            /* kube's storage-unreachable answer: "The update operation against leases.coordination.k8s.io
             * could not be completed at this time, please try again." */
            const struct sim_resource *r = resource_of_path(req->path);
            char q[128] = "", msg[300];
            if (r) sim_resource_qualified(r, q, sizeof(q));
            snprintf(msg, sizeof(msg), "The %s operation against %s could not be completed at this time, please "
                     "try again.", verb_of(req), r ? q : "the resource");
            json_object_object_add(d, "name", json_object_new_string(verb_of(req)));
            if (r) {
                json_object_object_add(d, "group", json_object_new_string(r->group));
                json_object_object_add(d, "kind", json_object_new_string(r->plural));
            }
            sim_send_status(req, 500, "ServerTimeout", msg, d);
        } else {
            sim_send_status(req, 500, "InternalError", "Internal error occurred: injected fault", d);
        }
        break;
    case 503:
        sim_send_status(req, 503, "ServiceUnavailable", "the server is currently unable to handle the request", d);
        break;
    case 504:
        sim_send_status(req, 504, "Timeout", "Timeout: request did not complete within the allotted timeout", d);
        break;
    default:
        sim_send_status(req, f->error_code, "InternalError", "injected fault", d);
    }
}

int sim_faults_apply(struct sim *sim, struct http_request *req)
{
    struct sim_faults *f = &sim->faults;
    if (!strcmp(req->path, "/healthz") || !strcmp(req->path, "/livez") || !strcmp(req->path, "/readyz")) return 0;
    if (f->refuse_client[0] && client_matches(f->refuse_client, req)) {
        http_request_drop(req);
        return 1;
    }
    if (f->hang_client[0] && client_matches(f->hang_client, req)) {
        add_pending(sim, req, 0, 1);
        return 1;
    }
    if (f->errors_left > 0 && verb_matches(f->error_verb, req) && client_matches(f->error_client, req) &&
        strncmp(req->path, f->error_path, strlen(f->error_path)) == 0) {
        f->errors_left--;
        send_injected_error(sim, req);
        return 1;
    }
    if (f->latency_ms && strncmp(req->path, f->latency_path, strlen(f->latency_path)) == 0 &&
        verb_matches(f->latency_verb, req)) {
        add_pending(sim, req, f->latency_ms, 0);
        return 1;
    }
    return 0;
}

/* ---- control endpoint ---- */

static void reply(struct http_request *req, int code, const char *body)
{
    const char *h[] = {"Content-Type", "application/json", NULL};
    http_respond(req, code, h, body, strlen(body));
}

static const char *jstr(struct json_object *o, const char *k, const char *def)
{
    struct json_object *v;
    return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : def;
}

static int has(struct json_object *o, const char *k) { return json_object_object_get_ex(o, k, NULL); }

static void set_faults(struct sim *sim, struct json_object *b)
{
    struct sim_faults *f = &sim->faults;
    struct json_object *v;
    if (json_object_object_get_ex(b, "latency_ms", &v)) f->latency_ms = (uint64_t)json_object_get_int64(v);
    if (has(b, "latency_path")) snprintf(f->latency_path, sizeof(f->latency_path), "%s", jstr(b, "latency_path", ""));
    if (has(b, "latency_verb")) snprintf(f->latency_verb, sizeof(f->latency_verb), "%s", jstr(b, "latency_verb", ""));
    if (json_object_object_get_ex(b, "errors", &v) && json_object_is_type(v, json_type_object)) {
        struct json_object *x;
        f->errors_left = json_object_object_get_ex(v, "count", &x) ? json_object_get_int(x) : 1;
        f->error_code = json_object_object_get_ex(v, "code", &x) ? json_object_get_int(x) : 500;
        f->retry_after = json_object_object_get_ex(v, "retry_after", &x) ? json_object_get_int(x) : 0;
        snprintf(f->error_verb, sizeof(f->error_verb), "%s", jstr(v, "verb", ""));
        snprintf(f->error_path, sizeof(f->error_path), "%s", jstr(v, "path", ""));
        snprintf(f->error_client, sizeof(f->error_client), "%s", jstr(v, "client", ""));
    }
    if (has(b, "hang_client")) {
        snprintf(f->hang_client, sizeof(f->hang_client), "%s", jstr(b, "hang_client", ""));
        if (!f->hang_client[0]) release_hung(sim);
    }
    if (has(b, "refuse_client"))
        snprintf(f->refuse_client, sizeof(f->refuse_client), "%s", jstr(b, "refuse_client", ""));
    if (json_object_object_get_ex(b, "clock_offset_ms", &v)) f->clock_offset_ms = json_object_get_int64(v);
}

static void stats(struct sim *sim, struct http_request *req)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"resourceVersion\":\"%llu\",\"objects\":%zu,\"watches\":%zu,\"requests\":%lu,\"writes\":%lu,"
             "\"historyFloor\":\"%llu\",\"errorsLeft\":%d,\"connections\":%zu}",
             (unsigned long long)sim->store.rv, sim->store.nobjects, sim->nwatches, sim->requests, sim->writes,
             (unsigned long long)sim->store.hist_floor, sim->faults.errors_left, sim->api.nconns);
    reply(req, 200, body);
}

void sim_control_on_request(struct http_request *req, void *data)
{
    struct sim *sim = data;
    const char *p = req->path;
    int post = strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0;
    if (!strcmp(p, "/healthz")) {
        reply(req, 200, "{\"ok\":true}");
        return;
    }
    if (!strcmp(p, "/stats")) {
        stats(sim, req);
        return;
    }
    if (!post) {
        reply(req, 405, "{\"error\":\"use POST\"}");
        return;
    }
    struct json_object *b = req->body.len ? json_tokener_parse(buf_cstr(&req->body)) : json_object_new_object();
    if (!b || !json_object_is_type(b, json_type_object)) {
        json_object_put(b);
        reply(req, 400, "{\"error\":\"body must be a JSON object\"}");
        return;
    }
    int ok = 1;
    if (!strcmp(p, "/faults")) {
        set_faults(sim, b);
    } else if (!strcmp(p, "/faults/reset")) {
        memset(&sim->faults, 0, sizeof(sim->faults));
        release_hung(sim);
    } else if (!strcmp(p, "/watches/drop")) {
        struct json_object *v;
        int clean = json_object_object_get_ex(b, "clean", &v) && json_object_get_boolean(v);
        sim_watch_drop_all(sim, clean);
    } else if (!strcmp(p, "/watches/pause")) {
        struct json_object *v;
        sim_watch_set_paused(sim, !json_object_object_get_ex(b, "paused", &v) || json_object_get_boolean(v));
    } else if (!strcmp(p, "/compact")) {
        sim_store_compact(&sim->store);
    } else if (!strcmp(p, "/bookmarks")) {
        struct json_object *v;
        if (json_object_object_get_ex(b, "interval_ms", &v) && json_object_get_int64(v) > 0)
        {
            sim->bookmark_ms = (uint64_t)json_object_get_int64(v);
            sim_watch_bookmarks_changed(sim);
        }
    } else if (!strcmp(p, "/tokens")) {
        struct json_object *arr;
        if (json_object_object_get_ex(b, "tokens", &arr) && json_object_is_type(arr, json_type_array)) {
            sim->ntokens = 0;
            for (size_t i = 0; i < json_object_array_length(arr) && sim->ntokens < SIM_MAX_TOKENS; i++) {
                struct json_object *t = json_object_array_get_idx(arr, i), *ro;
                struct sim_token *tk = &sim->tokens[sim->ntokens++];
                snprintf(tk->token, sizeof(tk->token), "%s", jstr(t, "token", ""));
                snprintf(tk->user, sizeof(tk->user), "%s", jstr(t, "user", "test-user"));
                tk->readonly = json_object_object_get_ex(t, "readonly", &ro) && json_object_get_boolean(ro);
            }
        } else {
            ok = 0;
        }
    } else if (!strcmp(p, "/deny")) {
        struct json_object *arr;
        if (json_object_object_get_ex(b, "rules", &arr) && json_object_is_type(arr, json_type_array)) {
            sim->ndenies = 0;
            for (size_t i = 0; i < json_object_array_length(arr) && sim->ndenies < SIM_MAX_TOKENS; i++) {
                struct json_object *t = json_object_array_get_idx(arr, i);
                struct sim_deny *d = &sim->denies[sim->ndenies++];
                snprintf(d->verb, sizeof(d->verb), "%s", jstr(t, "verb", ""));
                snprintf(d->resource, sizeof(d->resource), "%s", jstr(t, "resource", ""));
                snprintf(d->user, sizeof(d->user), "%s", jstr(t, "user", ""));
            }
        } else {
            ok = 0;
        }
    } else {
        json_object_put(b);
        reply(req, 404, "{\"error\":\"unknown control path\"}");
        return;
    }
    json_object_put(b);
    if (!ok) reply(req, 400, "{\"error\":\"bad control body\"}");
    else stats(sim, req);
    log_info("control", "path", p);
}
