/* The REST entry point of kube-sim: authentication (bearer tokens, client certificates), authorization
 * (read-only tokens, deny rules), content negotiation and routing of /api and /apis paths to discovery,
 * the read and write handlers (list.c, write.c) and watches (watch.c). Faults are applied before (control.c). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "tests/kube-sim/api_internal.h"

#define MAX_SEGMENTS 8

/* ---- auth ---- */

static int authenticate(struct sim *sim, struct http_request *req)
{
    static char cert_user[128];
    sim_user = "system:anonymous";
    if (sim->tls && sim_tls_peer_user(http_request_filter_state(req), cert_user, sizeof(cert_user)) == 0) {
        sim_user = cert_user; /* a verified client certificate authenticates as its CN */
        return 0;
    }
    if (!sim->opt.auth) return 0;
    const char *h = http_request_header(req, "Authorization");
    if (h && strncasecmp(h, "bearer ", 7) == 0) {
        const char *tok = h + 7;
        while (*tok == ' ') tok++;
        for (size_t i = 0; i < sim->ntokens; i++)
            if (strcmp(sim->tokens[i].token, tok) == 0) {
                sim_user = sim->tokens[i].user;
                return 0;
            }
    }
    sim_send_status(req, 401, "Unauthorized", "Unauthorized", NULL);
    return -1;
}

static int authorize(struct sim *sim, struct http_request *req, const char *verb, const struct sim_resource *r,
                     const char *ns, const char *name)
{
    int denied = 0;
    int write = strcmp(verb, "get") && strcmp(verb, "list") && strcmp(verb, "watch");
    for (size_t i = 0; i < sim->ntokens && write; i++)
        if (sim->tokens[i].readonly && strcmp(sim->tokens[i].user, sim_user) == 0) denied = 1;
    for (size_t i = 0; i < sim->ndenies && !denied; i++) {
        const struct sim_deny *d = &sim->denies[i];
        if ((d->verb[0] && strcmp(d->verb, verb) && strcmp(d->verb, "*")) ||
            (d->resource[0] && strcmp(d->resource, r->plural) && strcmp(d->resource, "*")) ||
            (d->user[0] && strcmp(d->user, sim_user)))
            continue;
        denied = 1;
    }
    if (!denied) return 0;
    char q[128], msg[1024], where[300] = "";
    sim_resource_qualified(r, q, sizeof(q));
    if (r->namespaced && ns && ns[0]) snprintf(where, sizeof(where), " in the namespace \"%s\"", ns);
    else snprintf(where, sizeof(where), " at the cluster scope");
    char subject[600];
    if (name && name[0]) snprintf(subject, sizeof(subject), "%s \"%s\"", q, name);
    else snprintf(subject, sizeof(subject), "%s", q);
    snprintf(msg, sizeof(msg), "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\"%s",
             subject, sim_user, verb, r->plural, r->group, where);
    sim_send_status(req, 403, "Forbidden", msg, sim_details_for(r, name && name[0] ? name : NULL));
    return -1;
}


/* ---- routing ---- */

static int split_path(char *path, char **seg, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(path, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (n == max) return -1;
        seg[n++] = p;
    }
    return n;
}

static int accept_ok(struct http_request *req)
{
    const char *a = http_request_header(req, "Accept");
    if (!a || !*a || strstr(a, "json") || strstr(a, "*/*")) return 1;
    sim_send_status(req, 406, "NotAcceptable",
                    "only the following media types are accepted: application/json, application/json;stream=watch",
                    NULL);
    return 0;
}

void sim_api_handle(struct sim *sim, struct http_request *req)
{
    char pathbuf[1024], decoded[1024];
    if (http_url_decode(req->path, strlen(req->path), decoded, sizeof(decoded), 0) < 0) {
        sim_send_bad_request(req, "malformed request path");
        return;
    }
    snprintf(pathbuf, sizeof(pathbuf), "%s", decoded);
    char *seg[MAX_SEGMENTS];
    int nseg = split_path(pathbuf, seg, MAX_SEGMENTS);
    int public_path = strcmp(req->path, "/version") == 0 || strcmp(req->path, "/healthz") == 0 ||
                      strcmp(req->path, "/livez") == 0 || strcmp(req->path, "/readyz") == 0;
    if (!public_path && authenticate(sim, req) < 0) return;
    if (!accept_ok(req)) return;
    if (nseg < 0) {
        sim_send_not_found_path(req);
        return;
    }
    if (strcmp(req->method, "GET") == 0 && sim_discovery(sim, req, seg, nseg)) return;
    /* /api/v1/... or /apis/g/v/... */
    const char *group, *version;
    int i;
    if (nseg >= 3 && strcmp(seg[0], "api") == 0 && strcmp(seg[1], "v1") == 0) {
        group = "";
        version = "v1";
        i = 2;
    } else if (nseg >= 4 && strcmp(seg[0], "apis") == 0) {
        group = seg[1];
        version = seg[2];
        i = 3;
    } else {
        sim_send_not_found_path(req);
        return;
    }
    int legacy_watch = 0;
    if (strcmp(seg[i], "watch") == 0) {
        legacy_watch = 1;
        i++;
    }
    struct sim_target t;
    memset(&t, 0, sizeof(t));
    int rest = nseg - i;
    const char *plural = NULL, *name = NULL, *sub = NULL, *ns = "";
    if (rest >= 3 && strcmp(seg[i], "namespaces") == 0 && sim_resource_find(group, version, seg[i + 2]) &&
        sim_resource_find(group, version, seg[i + 2])->namespaced) {
        ns = seg[i + 1];
        plural = seg[i + 2];
        name = rest >= 4 ? seg[i + 3] : NULL;
        sub = rest >= 5 ? seg[i + 4] : NULL;
        if (rest > 5) plural = NULL;
    } else if (rest >= 1) {
        plural = seg[i];
        name = rest >= 2 ? seg[i + 1] : NULL;
        sub = rest >= 3 ? seg[i + 2] : NULL;
        if (rest > 3) plural = NULL;
    }
    t.r = plural ? sim_resource_find(group, version, plural) : NULL;
    if (!t.r || (sub && !(t.r->has_status && strcmp(sub, "status") == 0))) {
        sim_send_not_found_path(req);
        return;
    }
    if (!t.r->namespaced && ns[0]) {
        sim_send_not_found_path(req);
        return;
    }
    snprintf(t.ns, sizeof(t.ns), "%s", ns);
    snprintf(t.name, sizeof(t.name), "%s", name ? name : "");
    snprintf(t.sub, sizeof(t.sub), "%s", sub ? sub : "");
    const char *m = req->method;
    int is_get = strcmp(m, "GET") == 0;
    int watch = legacy_watch || (is_get && sim_query_bool(req->query, "watch"));
    if (legacy_watch && !is_get) {
        sim_send_status(req, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource", json_object_new_object());
        return;
    }
    const char *verb = watch ? "watch"
                       : is_get ? (name ? "get" : "list")
                       : strcmp(m, "POST") == 0 ? "create"
                       : strcmp(m, "PUT") == 0 ? "update"
                       : strcmp(m, "PATCH") == 0 ? "patch"
                       : strcmp(m, "DELETE") == 0 ? (name ? "delete" : "deletecollection")
                       : NULL;
    if (!verb || (name && strcmp(verb, "create") == 0) || (!name && (!strcmp(verb, "update") || !strcmp(verb, "patch"))) ||
        (t.sub[0] && strcmp(verb, "get") && strcmp(verb, "update") && strcmp(verb, "patch"))) {
        sim_send_status(req, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                        json_object_new_object());
        return;
    }
    if (name && !sim_validate_name(name, 0) && strcmp(verb, "watch") != 0) {
        /* kube answers names it cannot store with 404 on reads; keep that */
        if (!strcmp(verb, "get") || !strcmp(verb, "delete")) {
            sim_send_not_found(req, t.r, t.name);
            return;
        }
    }
    if (authorize(sim, req, verb, t.r, t.ns, t.name) < 0) return;
    if (watch) sim_watch_start(sim, req, t.r, t.ns, name);
    else if (!strcmp(verb, "get")) sim_handle_get(sim, req, &t);
    else if (!strcmp(verb, "list")) sim_handle_list(sim, req, &t);
    else if (!strcmp(verb, "create")) sim_handle_create(sim, req, &t);
    else if (!strcmp(verb, "update")) sim_handle_update(sim, req, &t);
    else if (!strcmp(verb, "patch")) sim_handle_patch(sim, req, &t);
    else if (!strcmp(verb, "delete")) sim_handle_delete(sim, req, &t);
    else sim_handle_delete_collection(sim, req, &t);
}

void sim_api_on_request(struct http_request *req, void *data)
{
    struct sim *sim = data;
    sim->requests++;
    log_debug("request", "method", req->method, "url", req->url, "client", sim_client_id(req));
    if (sim_faults_apply(sim, req)) return;
    sim_api_handle(sim, req);
}
