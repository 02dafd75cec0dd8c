/* The REST surface of kube-sim: authentication, routing of /api and /apis paths, discovery, and the verbs
 * get, list, create, update, patch, delete and deletecollection with kube-apiserver's write rules and exact
 * Status bodies. Watches are in watch.c, faults in control.c. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "tests/kube-sim/sim.h"

#define MAX_SEGMENTS 8
#define MAX_LIST_LIMIT 100000 /* larger limits are served as this many per page */

static const char *g_user = "system:anonymous"; /* user of the request being handled (synchronous) */
static char g_warning[512]; /* Warning header text for the response being built, "" for none */

/* ---- time, ids ---- */

void sim_now(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
    int64_t off = g_sim ? g_sim->faults.clock_offset_ms : 0;
    int64_t ns = (int64_t)ts->tv_nsec + (off % 1000) * 1000000;
    ts->tv_sec += off / 1000;
    while (ns < 0) ns += 1000000000, ts->tv_sec--;
    while (ns >= 1000000000) ns -= 1000000000, ts->tv_sec++;
    ts->tv_nsec = ns;
}

void sim_time_rfc3339(char *out, size_t n)
{
    struct timespec ts;
    sim_now(&ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sim_time_micro(char *out, size_t n)
{
    struct timespec ts;
    sim_now(&ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

void sim_uuid(char *out)
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        for (int i = 0; i < 16; i++) b[i] = (unsigned char)rand();
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* ---- responses ---- */

void sim_send_json(struct http_request *req, int code, const char *body, size_t len)
{
    char audit[40], warn[600];
    sim_uuid(audit);
    size_t o = (size_t)snprintf(warn, sizeof(warn), "299 - \"");
    for (const char *p = g_warning; *p && o + 4 < sizeof(warn); p++) {
        if (*p == '"' || *p == '\\') warn[o++] = '\\';
        warn[o++] = *p;
    }
    warn[o++] = '"';
    warn[o] = '\0';
    const char *h[] = {"Content-Type", "application/json", "Cache-Control", "no-cache, private", "Audit-Id", audit,
                       g_warning[0] ? "Warning" : NULL, warn, NULL};
    http_respond(req, code, h, body, len);
    g_warning[0] = '\0';
}

/* -1 when answered (Strict and an unknown field). */
static int unknown_fields(struct http_request *req, const struct sim_resource *r, struct json_object *o,
                          const char *name);

static void send_status_ex(struct http_request *req, int code, const char *reason, const char *message,
                           struct json_object *details, int retry_after)
{
    struct json_object *st = json_object_new_object();
    json_object_object_add(st, "kind", json_object_new_string("Status"));
    json_object_object_add(st, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(st, "metadata", json_object_new_object());
    json_object_object_add(st, "status", json_object_new_string(code < 400 ? "Success" : "Failure"));
    if (message) json_object_object_add(st, "message", json_object_new_string(message));
    if (reason && reason[0]) json_object_object_add(st, "reason", json_object_new_string(reason));
    if (details) {
        if (retry_after > 0) json_object_object_add(details, "retryAfterSeconds", json_object_new_int(retry_after));
        json_object_object_add(st, "details", details);
    }
    if (code >= 300) json_object_object_add(st, "code", json_object_new_int(code)); /* kube's Success has none */
    size_t len;
    const char *s = json_object_to_json_string_length(st, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                      &len);
    char audit[40], ra[16];
    sim_uuid(audit);
    snprintf(ra, sizeof(ra), "%d", retry_after);
    const char *h[] = {"Content-Type", "application/json", "Cache-Control", "no-cache, private", "Audit-Id", audit,
                       retry_after > 0 ? "Retry-After" : NULL, ra, NULL};
    http_respond(req, code, h, s, len);
    json_object_put(st);
}

void sim_send_status(struct http_request *req, int code, const char *reason, const char *message,
                     struct json_object *details)
{
    int ra = 0;
    struct json_object *v;
    if (details && json_object_object_get_ex(details, "retryAfterSeconds", &v)) ra = json_object_get_int(v);
    send_status_ex(req, code, reason, message, details, ra);
}

static struct json_object *details_for(const struct sim_resource *r, const char *name)
{
    struct json_object *d = json_object_new_object();
    if (name) json_object_object_add(d, "name", json_object_new_string(name));
    json_object_object_add(d, "group", json_object_new_string(r->group));
    json_object_object_add(d, "kind", json_object_new_string(r->plural));
    return d;
}

static void send_not_found_path(struct http_request *req)
{
    sim_send_status(req, 404, "NotFound", "the server could not find the requested resource", json_object_new_object());
}

static void send_bad_request(struct http_request *req, const char *msg)
{
    sim_send_status(req, 400, "BadRequest", msg, NULL);
}

static void send_not_found(struct http_request *req, const struct sim_resource *r, const char *name)
{
    char q[128], msg[600];
    sim_resource_qualified(r, q, sizeof(q));
    snprintf(msg, sizeof(msg), "%s \"%s\" not found", q, name);
    sim_send_status(req, 404, "NotFound", msg, details_for(r, name));
}

static void send_conflict(struct http_request *req, const struct sim_resource *r, const char *name, const char *why)
{
    char q[128], msg[1024];
    sim_resource_qualified(r, q, sizeof(q));
    snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on %s \"%s\": %s", q, name, why);
    sim_send_status(req, 409, "Conflict", msg, details_for(r, name));
}

static void send_invalid(struct http_request *req, const struct sim_resource *r, const char *name,
                         const struct sim_invalid *inv)
{
    if (inv->code != 422) {
        sim_send_status(req, inv->code, inv->reason, inv->message, NULL);
        return;
    }
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "name", json_object_new_string(name));
    json_object_object_add(d, "group", json_object_new_string(r->group));
    json_object_object_add(d, "kind", json_object_new_string(r->kind));
    struct json_object *causes = json_object_new_array(), *c = json_object_new_object();
    json_object_object_add(c, "reason", json_object_new_string(inv->cause_reason));
    json_object_object_add(c, "message", json_object_new_string(inv->cause_msg));
    json_object_object_add(c, "field", json_object_new_string(inv->field));
    json_object_array_add(causes, c);
    json_object_object_add(d, "causes", causes);
    sim_send_status(req, 422, "Invalid", inv->message, d);
}

static void send_obj(struct http_request *req, int code, const struct sim_obj *o)
{
    struct buf b;
    buf_init(&b);
    sim_obj_write_full(o, &b);
    sim_send_json(req, code, buf_cstr(&b), b.len);
    buf_free(&b);
}

/* ---- audit ---- */

const char *sim_client_id(const struct http_request *req)
{
    const char *c = http_request_header(req, "X-Sim-Client");
    if (c && *c) return c;
    c = http_request_header(req, "User-Agent");
    return c ? c : "";
}

void sim_audit(struct sim *sim, const struct http_request *req, const char *verb, const struct sim_obj *o,
               const char *user)
{
    sim->writes++;
    if (!sim->audit) return;
    char t[48];
    sim_time_micro(t, sizeof(t));
    struct json_object *a = json_object_new_object();
    json_object_object_add(a, "time", json_object_new_string(t));
    json_object_object_add(a, "client", json_object_new_string(req ? sim_client_id(req) : "seed"));
    json_object_object_add(a, "user", json_object_new_string(user ? user : ""));
    json_object_object_add(a, "peer", json_object_new_string(req ? req->peer : ""));
    json_object_object_add(a, "verb", json_object_new_string(verb));
    json_object_object_add(a, "resource", json_object_new_string(o->res->plural));
    json_object_object_add(a, "namespace", json_object_new_string(o->ns));
    json_object_object_add(a, "name", json_object_new_string(o->name));
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)o->rv);
    json_object_object_add(a, "resourceVersion", json_object_new_string(rv));
    json_object_object_add(a, "uid", json_object_new_string(o->uid));
    struct json_object *obj = json_tokener_parse(o->json);
    if (obj) json_object_object_add(a, "object", obj);
    fprintf(sim->audit, "%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(sim->audit);
    json_object_put(a);
}

/* ---- query helpers ---- */

int sim_query_bool(const char *query, const char *key)
{
    char v[16];
    if (http_query_get(query, key, v, sizeof(v)) != 1) return 0;
    return !(strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0);
}

/* 1 and the value if present; 0 absent; -1 too long or bad encoding (answered 400 by callers). */
static int qget(const char *query, const char *key, char *out, size_t n)
{
    int rc = http_query_get(query, key, out, n);
    if (rc != 1) out[0] = '\0';
    return rc;
}

static int parse_rv(const char *s, uint64_t *out)
{
    if (!*s) return -1;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || !isdigit((unsigned char)s[0])) return -1;
    *out = v;
    return 0;
}

/* ---- discovery ---- */

static void put_verbs(struct buf *b, const struct sim_resource *r)
{
    (void)r;
    buf_puts(b, "[\"create\",\"delete\",\"deletecollection\",\"get\",\"list\",\"patch\",\"update\",\"watch\"]");
}

static void send_resource_list(struct http_request *req, const char *group, const char *version)
{
    struct buf b;
    buf_init(&b);
    char gv[128];
    if (group[0]) snprintf(gv, sizeof(gv), "%s/%s", group, version);
    else snprintf(gv, sizeof(gv), "%s", version);
    buf_printf(&b, "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"%s\",\"resources\":[", gv);
    int first = 1;
    for (size_t i = 0; i < sim_nresources; i++) {
        const struct sim_resource *r = &sim_resources[i];
        if (strcmp(r->group, group) || strcmp(r->version, version)) continue;
        buf_printf(&b, "%s{\"name\":\"%s\",\"singularName\":\"%s\",\"namespaced\":%s,\"kind\":\"%s\",\"verbs\":",
                   first ? "" : ",", r->plural, r->singular, r->namespaced ? "true" : "false", r->kind);
        put_verbs(&b, r);
        if (r->short_names) buf_printf(&b, ",\"shortNames\":[\"%s\"]", r->short_names);
        buf_puts(&b, "}");
        if (r->has_status)
            buf_printf(&b, ",{\"name\":\"%s/status\",\"singularName\":\"\",\"namespaced\":%s,\"kind\":\"%s\","
                           "\"verbs\":[\"get\",\"patch\",\"update\"]}",
                       r->plural, r->namespaced ? "true" : "false", r->kind);
        first = 0;
    }
    buf_puts(&b, "]}");
    if (first) send_not_found_path(req);
    else sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
}

static void put_group(struct buf *b, const char *group)
{
    const char *version = NULL;
    for (size_t i = 0; i < sim_nresources; i++)
        if (strcmp(sim_resources[i].group, group) == 0) version = sim_resources[i].version;
    buf_printf(b, "{\"name\":\"%s\",\"versions\":[{\"groupVersion\":\"%s/%s\",\"version\":\"%s\"}],"
                  "\"preferredVersion\":{\"groupVersion\":\"%s/%s\",\"version\":\"%s\"}}",
               group, group, version, version, group, version, version);
}

static int group_served(const char *group)
{
    for (size_t i = 0; i < sim_nresources; i++)
        if (sim_resources[i].group[0] && strcmp(sim_resources[i].group, group) == 0) return 1;
    return 0;
}

static void send_group_list(struct http_request *req)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[");
    int first = 1;
    for (size_t i = 0; i < sim_nresources; i++) {
        const char *g = sim_resources[i].group;
        if (!g[0]) continue;
        int seen = 0;
        for (size_t j = 0; j < i; j++) seen |= strcmp(sim_resources[j].group, g) == 0;
        if (seen) continue;
        if (!first) buf_putc(&b, ',');
        put_group(&b, g);
        first = 0;
    }
    buf_puts(&b, "]}");
    sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
}

/* A minimal OpenAPI v3: enough for kubectl apply's default (strict) validation to trust the server and send
 * fieldValidation=Strict; no schemas. */
static void send_openapi_index(struct http_request *req)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"paths\":{\"api/v1\":{\"serverRelativeURL\":\"/openapi/v3/api/v1?hash=1\"}");
    for (size_t i = 0; i < sim_nresources; i++) {
        const struct sim_resource *r = &sim_resources[i];
        int seen = !r->group[0];
        for (size_t j = 0; j < i && !seen; j++) seen = strcmp(sim_resources[j].group, r->group) == 0;
        if (seen) continue;
        buf_printf(&b, ",\"apis/%s/%s\":{\"serverRelativeURL\":\"/openapi/v3/apis/%s/%s?hash=1\"}", r->group,
                   r->version, r->group, r->version);
    }
    buf_puts(&b, "}}");
    sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
}

static void send_openapi_gv(struct http_request *req, const char *group, const char *version)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"openapi\":\"3.0.0\",\"info\":{\"title\":\"Kubernetes\",\"version\":\"v1.32.4\"},\"paths\":{");
    int first = 1;
    for (size_t i = 0; i < sim_nresources; i++) {
        const struct sim_resource *r = &sim_resources[i];
        if (strcmp(r->group, group) || strcmp(r->version, version)) continue;
        char path[300];
        if (r->group[0])
            snprintf(path, sizeof(path), "/apis/%s/%s/%s%s/{name}", r->group, r->version,
                     r->namespaced ? "namespaces/{namespace}/" : "", r->plural);
        else
            snprintf(path, sizeof(path), "/api/%s/%s%s/{name}", r->version, r->namespaced ? "namespaces/{namespace}/" : "",
                     r->plural);
        buf_printf(&b,
                   "%s\"%s\":{\"patch\":{\"x-kubernetes-action\":\"patch\",\"x-kubernetes-group-version-kind\":"
                   "{\"group\":\"%s\",\"version\":\"%s\",\"kind\":\"%s\"},\"parameters\":[{\"name\":"
                   "\"fieldValidation\",\"in\":\"query\",\"schema\":{\"type\":\"string\",\"uniqueItems\":true}}],"
                   "\"requestBody\":{\"content\":{\"application/json-patch+json\":{\"schema\":{\"type\":\"object\"}},"
                   "\"application/merge-patch+json\":{\"schema\":{\"type\":\"object\"}}},\"required\":true},"
                   "\"responses\":{\"200\":{\"description\":\"OK\"}}}}",
                   first ? "" : ",", path, r->group, r->version, r->kind);
        first = 0;
    }
    buf_puts(&b, "}}");
    if (first) send_not_found_path(req);
    else sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
}

static int discovery(struct sim *sim, struct http_request *req, char **seg, int nseg)
{
    if (nseg >= 2 && strcmp(seg[0], "openapi") == 0 && strcmp(seg[1], "v3") == 0) {
        if (nseg == 2) send_openapi_index(req);
        else if (nseg == 4 && strcmp(seg[2], "api") == 0) send_openapi_gv(req, "", seg[3]);
        else if (nseg == 5 && strcmp(seg[2], "apis") == 0) send_openapi_gv(req, seg[3], seg[4]);
        else send_not_found_path(req);
        return 1;
    }
    const char *p = req->path;
    if (strcmp(p, "/version") == 0) {
        static const char v[] = "{\"major\":\"1\",\"minor\":\"32\",\"gitVersion\":\"v1.32.4\",\"gitCommit\":"
                                "\"59526cd4867447956156ae3a602fcbac10a2c335\",\"gitTreeState\":\"clean\",\"buildDate\":"
                                "\"2025-04-22T16:03:13Z\",\"goVersion\":\"go1.23.6\",\"compiler\":\"gc\",\"platform\":"
                                "\"linux/amd64\"}";
        sim_send_json(req, 200, v, sizeof(v) - 1);
        return 1;
    }
    if (strcmp(p, "/healthz") == 0 || strcmp(p, "/livez") == 0 || strcmp(p, "/readyz") == 0) {
        http_respond_text(req, 200, "text/plain; charset=utf-8", "ok");
        return 1;
    }
    if (strcmp(p, "/api") == 0 || strcmp(p, "/api/") == 0) {
        char body[256];
        int n = snprintf(body, sizeof(body),
                         "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],\"serverAddressByClientCIDRs\":[{\"clientCIDR\":"
                         "\"0.0.0.0/0\",\"serverAddress\":\"127.0.0.1:%d\"}]}",
                         sim->api.port);
        sim_send_json(req, 200, body, (size_t)n);
        return 1;
    }
    if (strcmp(p, "/apis") == 0 || strcmp(p, "/apis/") == 0) {
        send_group_list(req);
        return 1;
    }
    if (nseg == 2 && strcmp(seg[0], "api") == 0) {
        if (strcmp(seg[1], "v1") == 0) send_resource_list(req, "", "v1");
        else send_not_found_path(req);
        return 1;
    }
    if (nseg == 2 && strcmp(seg[0], "apis") == 0) {
        if (!group_served(seg[1])) {
            send_not_found_path(req);
            return 1;
        }
        struct buf g, out;
        buf_init(&g);
        buf_init(&out);
        put_group(&g, seg[1]);
        buf_printf(&out, "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",%s", buf_cstr(&g) + 1);
        sim_send_json(req, 200, buf_cstr(&out), out.len);
        buf_free(&out);
        buf_free(&g);
        return 1;
    }
    if (nseg == 3 && strcmp(seg[0], "apis") == 0) {
        send_resource_list(req, seg[1], seg[2]);
        return 1;
    }
    return 0;
}

/* ---- auth ---- */

static int authenticate(struct sim *sim, struct http_request *req)
{
    static char cert_user[128];
    g_user = "system:anonymous";
    if (sim->tls && sim_tls_peer_user(http_request_filter_state(req), cert_user, sizeof(cert_user)) == 0) {
        g_user = cert_user; /* a verified client certificate authenticates as its CN */
        return 0;
    }
    if (!sim->opt.auth) return 0;
    const char *h = http_request_header(req, "Authorization");
    if (h && strncasecmp(h, "bearer ", 7) == 0) {
        const char *tok = h + 7;
        while (*tok == ' ') tok++;
        for (size_t i = 0; i < sim->ntokens; i++)
            if (strcmp(sim->tokens[i].token, tok) == 0) {
                g_user = sim->tokens[i].user;
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
        if (sim->tokens[i].readonly && strcmp(sim->tokens[i].user, g_user) == 0) denied = 1;
    for (size_t i = 0; i < sim->ndenies && !denied; i++) {
        const struct sim_deny *d = &sim->denies[i];
        if ((d->verb[0] && strcmp(d->verb, verb) && strcmp(d->verb, "*")) ||
            (d->resource[0] && strcmp(d->resource, r->plural) && strcmp(d->resource, "*")) ||
            (d->user[0] && strcmp(d->user, g_user)))
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
             subject, g_user, verb, r->plural, r->group, where);
    sim_send_status(req, 403, "Forbidden", msg, details_for(r, name && name[0] ? name : NULL));
    return -1;
}

/* ---- request bodies ---- */

static struct json_object *parse_body(struct http_request *req, const struct sim_resource *r, int allow_array)
{
    const char *ct = http_request_header(req, "Content-Type");
    if (ct && (strstr(ct, "protobuf") || strstr(ct, "yaml") || strstr(ct, "cbor"))) {
        sim_send_status(req, 415, "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: "
                        "application/json, application/merge-patch+json, application/strategic-merge-patch+json, "
                        "application/json-patch+json",
                        NULL);
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(64);
    struct json_object *o = json_tokener_parse_ex(tok, buf_cstr(&req->body), (int)req->body.len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!o || e != json_tokener_success || (!json_object_is_type(o, json_type_object) &&
                                            !(allow_array && json_object_is_type(o, json_type_array)))) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s in version \"%s\" cannot be handled as a %s: %s", r->kind, r->version,
                 r->kind, o ? "expected a JSON object" : json_tokener_error_desc(e));
        json_object_put(o);
        send_bad_request(req, msg);
        return NULL;
    }
    return o;
}

static struct json_object *meta_of(struct json_object *o)
{
    struct json_object *m;
    if (json_object_object_get_ex(o, "metadata", &m) && json_object_is_type(m, json_type_object)) return m;
    m = json_object_new_object();
    json_object_object_add(o, "metadata", m);
    return m;
}

static const char *mget(struct json_object *meta, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(meta, k, &v) && v ? json_object_get_string(v) : NULL;
}

/* Defaults kind/apiVersion and namespace; checks them against the URL. -1 when answered. */
static int check_identity(struct http_request *req, const struct sim_resource *r, struct json_object *o,
                          const char *ns)
{
    char av[128];
    sim_resource_api_version(r, av, sizeof(av));
    struct json_object *v;
    if (json_object_object_get_ex(o, "apiVersion", &v) && v && strcmp(json_object_get_string(v), av) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "the API version in the data (%s) does not match the expected API version (%s)",
                 json_object_get_string(v), av);
        send_bad_request(req, msg);
        return -1;
    }
    if (json_object_object_get_ex(o, "kind", &v) && v && strcmp(json_object_get_string(v), r->kind) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s in version \"%s\" cannot be handled as a %s: the kind in the data (%s) does "
                 "not match the expected kind (%s)", r->kind, r->version, r->kind, json_object_get_string(v), r->kind);
        send_bad_request(req, msg);
        return -1;
    }
    json_object_object_add(o, "kind", json_object_new_string(r->kind));
    json_object_object_add(o, "apiVersion", json_object_new_string(av));
    struct json_object *meta = meta_of(o);
    if (r->namespaced) {
        const char *bns = mget(meta, "namespace");
        if (bns && bns[0] && strcmp(bns, ns) != 0) {
            send_bad_request(req, "the namespace of the provided object does not match the namespace sent on the request");
            return -1;
        }
        json_object_object_add(meta, "namespace", json_object_new_string(ns));
    } else {
        json_object_object_del(meta, "namespace");
    }
    return 0;
}

static const char *field_manager(struct http_request *req, char *out, size_t n)
{
    if (qget(req->query, "fieldManager", out, n) == 1 && out[0]) return out;
    const char *ua = http_request_header(req, "User-Agent");
    snprintf(out, n, "%s", ua ? ua : "unknown");
    char *slash = strchr(out, '/');
    if (slash) *slash = '\0';
    return out;
}

/* One managedFields entry per manager and operation, time refreshed on write. */
static void touch_managed_fields(struct http_request *req, struct json_object *meta, const char *op,
                                 const char *av)
{
    char mgr[160], t[40];
    field_manager(req, mgr, sizeof(mgr));
    sim_time_rfc3339(t, sizeof(t));
    struct json_object *mf, *out = json_object_new_array();
    if (json_object_object_get_ex(meta, "managedFields", &mf) && json_object_is_type(mf, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(mf); i++) {
            struct json_object *e = json_object_array_get_idx(mf, i), *m, *o;
            if (json_object_object_get_ex(e, "manager", &m) && json_object_object_get_ex(e, "operation", &o) &&
                strcmp(json_object_get_string(m), mgr) == 0 && strcmp(json_object_get_string(o), op) == 0)
                continue;
            json_object_array_add(out, json_object_get(e));
        }
    }
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "manager", json_object_new_string(mgr));
    json_object_object_add(e, "operation", json_object_new_string(op));
    json_object_object_add(e, "apiVersion", json_object_new_string(av));
    json_object_object_add(e, "time", json_object_new_string(t));
    json_object_object_add(e, "fieldsType", json_object_new_string("FieldsV1"));
    json_object_object_add(e, "fieldsV1", json_object_new_object());
    json_object_array_add(out, e);
    json_object_object_add(meta, "managedFields", out);
}

static int namespace_exists(struct sim *sim, const char *ns)
{
    return sim_store_get(&sim->store, sim_resource_find("", "v1", "namespaces"), "", ns) != NULL;
}

static void create_namespace(struct sim *sim, const char *ns)
{
    struct json_object *o = json_object_new_object();
    struct json_object *meta = meta_of(o);
    json_object_object_add(meta, "name", json_object_new_string(ns));
    char err[256];
    sim_store_insert_new(sim, sim_resource_find("", "v1", "namespaces"), o, err, sizeof(err));
    json_object_put(o);
}

/* Server-side fields of a new object; used by API creates and by seeding. */
static void prepare_create(const struct sim_resource *r, struct json_object *o, int from_api)
{
    struct json_object *meta = meta_of(o);
    char uid[40], t[40];
    sim_uuid(uid);
    sim_time_rfc3339(t, sizeof(t));
    json_object_object_add(meta, "uid", json_object_new_string(uid));
    json_object_object_add(meta, "creationTimestamp", json_object_new_string(t));
    json_object_object_del(meta, "deletionTimestamp");
    json_object_object_del(meta, "selfLink");
    if (r->has_generation) json_object_object_add(meta, "generation", json_object_new_int(1));
    else json_object_object_del(meta, "generation");
    if (strcmp(r->plural, "namespaces") == 0) {
        struct json_object *labels;
        if (!json_object_object_get_ex(meta, "labels", &labels) || !json_object_is_type(labels, json_type_object)) {
            labels = json_object_new_object();
            json_object_object_add(meta, "labels", labels);
        }
        json_object_object_add(labels, "kubernetes.io/metadata.name", json_object_new_string(mget(meta, "name")));
        struct json_object *spec = json_object_new_object(), *fin = json_object_new_array();
        json_object_array_add(fin, json_object_new_string("kubernetes"));
        json_object_object_add(spec, "finalizers", fin);
        json_object_object_add(o, "spec", spec);
        struct json_object *st = json_object_new_object();
        json_object_object_add(st, "phase", json_object_new_string("Active"));
        json_object_object_add(o, "status", st);
    } else if (from_api && (strcmp(r->plural, "ingresses") == 0 || strcmp(r->plural, "services") == 0)) {
        json_object_object_del(o, "status");
    }
}

int sim_store_insert_new(struct sim *sim, const struct sim_resource *r, struct json_object *o, char *err,
                         size_t errlen)
{
    struct sim_invalid inv;
    if (sim_validate_object(r, o, &inv) < 0) {
        snprintf(err, errlen, "%s", inv.message);
        return -1;
    }
    struct json_object *meta = meta_of(o);
    const char *ns = r->namespaced ? mget(meta, "namespace") : "";
    if (r->namespaced && (!ns || !ns[0])) {
        ns = "default";
        json_object_object_add(meta, "namespace", json_object_new_string("default"));
    }
    if (!r->namespaced) json_object_object_del(meta, "namespace");
    const char *name = mget(meta, "name");
    if (sim_store_get(&sim->store, r, ns, name)) {
        char q[128];
        sim_resource_qualified(r, q, sizeof(q));
        snprintf(err, errlen, "%s \"%s\" already exists", q, name);
        return -1;
    }
    if (r->namespaced && !namespace_exists(sim, ns)) create_namespace(sim, ns);
    json_object_object_del(meta, "resourceVersion");
    prepare_create(r, o, 0);
    struct sim_obj *ob = sim_obj_new(r, o, sim->store.rv + 1);
    sim_store_commit(&sim->store, SIM_ADDED, ob, NULL);
    return 0;
}

/* ---- writes ---- */

struct target {
    const struct sim_resource *r;
    char ns[SIM_MAX_NAME + 1];
    char name[SIM_MAX_NAME + 1];
    char sub[32];
};

static int dry_run(struct http_request *req)
{
    char v[16];
    return qget(req->query, "dryRun", v, sizeof(v)) == 1 && strcmp(v, "All") == 0;
}

static int check_field_validation(struct http_request *req, const char *opts_kind)
{
    char v[32];
    if (qget(req->query, "fieldValidation", v, sizeof(v)) != 1 || !v[0]) return 0;
    if (!strcmp(v, "Ignore") || !strcmp(v, "Warn") || !strcmp(v, "Strict")) return 0;
    char msg[512];
    snprintf(msg, sizeof(msg), "%s.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"%s\": "
             "supported values: \"Ignore\", \"Strict\", \"Warn\"", opts_kind, v);
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "group", json_object_new_string("meta.k8s.io"));
    json_object_object_add(d, "kind", json_object_new_string(opts_kind));
    sim_send_status(req, 422, "Invalid", msg, d);
    return -1;
}

/* Stores o (a full object with kind/apiVersion) as a new version of prev (NULL: create) and answers. */
static void commit_and_respond(struct sim *sim, struct http_request *req, const struct sim_resource *r,
                               struct json_object *o, struct sim_obj *prev, const char *verb, int created_code)
{
    if (dry_run(req)) {
        struct sim_obj *tmp = sim_obj_new(r, o, prev ? prev->rv : sim->store.rv);
        send_obj(req, prev ? 200 : created_code, tmp);
        sim_obj_unref(tmp);
        return;
    }
    struct sim_obj *ob = sim_obj_new(r, o, sim->store.rv + 1);
    sim_store_commit(&sim->store, prev ? SIM_MODIFIED : SIM_ADDED, sim_obj_ref(ob), prev);
    sim_audit(sim, req, verb, ob, g_user);
    send_obj(req, prev ? 200 : created_code, ob);
    sim_obj_unref(ob);
}

static void do_create(struct sim *sim, struct http_request *req, const struct target *t, struct json_object *o,
                      int code, const char *verb)
{
    const struct sim_resource *r = t->r;
    struct json_object *meta = meta_of(o);
    if (mget(meta, "resourceVersion") && mget(meta, "resourceVersion")[0] && strcmp(verb, "create") == 0) {
        sim_send_status(req, 500, "", "resourceVersion should not be set on objects to be created", NULL);
        return;
    }
    json_object_object_del(meta, "resourceVersion");
    const char *name = mget(meta, "name");
    const char *gen = mget(meta, "generateName");
    if ((!name || !name[0]) && gen && gen[0]) {
        static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
        char nm[SIM_MAX_NAME + 8];
        unsigned char rnd[5];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) memset(rnd, 7, sizeof(rnd));
        int n = snprintf(nm, sizeof(nm) - 6, "%s", gen);
        for (int i = 0; i < 5; i++) nm[n + i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
        nm[n + 5] = '\0';
        json_object_object_add(meta, "name", json_object_new_string(nm));
    }
    if (unknown_fields(req, r, o, mget(meta, "name") ? mget(meta, "name") : "") < 0) return;
    struct sim_invalid inv;
    if (sim_validate_object(r, o, &inv) < 0) {
        send_invalid(req, r, mget(meta, "name") ? mget(meta, "name") : "", &inv);
        return;
    }
    name = mget(meta, "name");
    if (r->namespaced && !namespace_exists(sim, t->ns)) {
        if (sim->opt.auto_namespaces) {
            create_namespace(sim, t->ns);
        } else {
            char msg[400];
            snprintf(msg, sizeof(msg), "namespaces \"%s\" not found", t->ns);
            struct json_object *d = json_object_new_object();
            json_object_object_add(d, "name", json_object_new_string(t->ns));
            json_object_object_add(d, "kind", json_object_new_string("namespaces"));
            sim_send_status(req, 404, "NotFound", msg, d);
            return;
        }
    }
    if (sim_store_get(&sim->store, r, t->ns, name)) {
        char q[128], msg[600];
        sim_resource_qualified(r, q, sizeof(q));
        snprintf(msg, sizeof(msg), "%s \"%s\" already exists", q, name);
        sim_send_status(req, 409, "AlreadyExists", msg, details_for(r, name));
        return;
    }
    prepare_create(r, o, 1);
    char av[128];
    sim_resource_api_version(r, av, sizeof(av));
    touch_managed_fields(req, meta, "Update", av);
    commit_and_respond(sim, req, r, o, NULL, verb, code);
}

/* Go decodes a JSON null into a nil field, which is then omitted: drop null members of objects. */
static void strip_nulls(struct json_object *o)
{
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++) strip_nulls(json_object_array_get_idx(o, i));
        return;
    }
    if (!json_object_is_type(o, json_type_object)) return;
    char *nulls[64];
    int n = 0;
    json_object_object_foreach(o, k, v)
    {
        if (!v && n < 64) nulls[n++] = k;
        else strip_nulls(v);
    }
    for (int i = 0; i < n; i++) json_object_object_del(o, nulls[i]);
}

static int unknown_fields(struct http_request *req, const struct sim_resource *r, struct json_object *o,
                          const char *name)
{
    strip_nulls(o);
    char mode[32];
    if (qget(req->query, "fieldValidation", mode, sizeof(mode)) != 1) mode[0] = '\0';
    struct sim_invalid inv;
    g_warning[0] = '\0';
    if (sim_check_unknown_fields(r, o, mode, g_warning, sizeof(g_warning), &inv) < 0) {
        send_invalid(req, r, name, &inv);
        return -1;
    }
    return 0;
}

static void handle_create(struct sim *sim, struct http_request *req, const struct target *t)
{
    if (check_field_validation(req, "CreateOptions") < 0) return;
    struct json_object *o = parse_body(req, t->r, 0);
    if (!o) return;
    if (check_identity(req, t->r, o, t->ns) == 0) do_create(sim, req, t, o, 201, "create");
    json_object_put(o);
}

static int spec_changed(struct json_object *a, struct json_object *b)
{
    struct json_object *sa = NULL, *sb = NULL;
    json_object_object_get_ex(a, "spec", &sa);
    json_object_object_get_ex(b, "spec", &sb);
    if (!sa && !sb) return 0;
    if (!sa || !sb) return 1;
    return !json_object_equal(sa, sb);
}

/* The common part of PUT and PATCH once the new full object is known: preconditions already checked. */
static void update_existing(struct sim *sim, struct http_request *req, const struct target *t, struct json_object *o,
                            struct sim_obj *prev, const char *verb)
{
    const struct sim_resource *r = t->r;
    struct json_object *old = sim_obj_parse(prev);
    struct json_object *meta = meta_of(o), *ometa = meta_of(old), *v;
    char av[128];
    sim_resource_api_version(r, av, sizeof(av));
    json_object_object_add(old, "kind", json_object_new_string(r->kind));
    json_object_object_add(old, "apiVersion", json_object_new_string(av));
    if (t->sub[0]) {
        /* status subresource: only status changes */
        struct json_object *st = NULL;
        json_object_object_get_ex(o, "status", &st);
        struct json_object *n = NULL;
        json_object_deep_copy(old, &n, NULL);
        if (st) json_object_object_add(n, "status", json_object_get(st));
        else json_object_object_del(n, "status");
        json_object_put(o);
        o = n;
        meta = meta_of(o);
    } else if (r->has_status && strcmp(r->plural, "namespaces") != 0) {
        if (json_object_object_get_ex(old, "status", &v)) json_object_object_add(o, "status", json_object_get(v));
        else json_object_object_del(o, "status");
    } else if (strcmp(r->plural, "namespaces") == 0) {
        if (json_object_object_get_ex(old, "status", &v)) json_object_object_add(o, "status", json_object_get(v));
    }
    /* server-owned metadata comes from the stored object */
    const char *keep[] = {"uid", "creationTimestamp", "generation", "deletionTimestamp", NULL};
    for (int i = 0; keep[i]; i++) {
        if (json_object_object_get_ex(ometa, keep[i], &v)) json_object_object_add(meta, keep[i], json_object_get(v));
        else json_object_object_del(meta, keep[i]);
    }
    struct json_object *mf;
    if (!json_object_object_get_ex(meta, "managedFields", &mf) || !mf ||
        (json_object_is_type(mf, json_type_array) && json_object_array_length(mf) == 0)) {
        if (json_object_object_get_ex(ometa, "managedFields", &v)) json_object_object_add(meta, "managedFields", json_object_get(v));
        else json_object_object_del(meta, "managedFields");
    }
    json_object_object_add(meta, "resourceVersion", json_object_new_string(mget(ometa, "resourceVersion")));
    if (unknown_fields(req, r, o, t->name) < 0) {
        json_object_put(o);
        json_object_put(old);
        return;
    }
    struct sim_invalid inv;
    if (sim_validate_object(r, o, &inv) < 0) {
        send_invalid(req, r, t->name, &inv);
        json_object_put(o);
        json_object_put(old);
        return;
    }
    if (json_object_equal(o, old)) {
        /* no-op write: same resourceVersion, no event */
        send_obj(req, 200, prev);
    } else {
        if (r->has_generation && !t->sub[0] && spec_changed(o, old)) {
            int64_t g = json_object_object_get_ex(ometa, "generation", &v) ? json_object_get_int64(v) : 1;
            json_object_object_add(meta, "generation", json_object_new_int64(g + 1));
        }
        touch_managed_fields(req, meta, "Update", av);
        commit_and_respond(sim, req, r, o, prev, verb, 200);
    }
    json_object_put(o);
    json_object_put(old);
}

static void handle_update(struct sim *sim, struct http_request *req, const struct target *t)
{
    const struct sim_resource *r = t->r;
    if (check_field_validation(req, "UpdateOptions") < 0) return;
    struct json_object *o = parse_body(req, r, 0);
    if (!o) return;
    if (check_identity(req, r, o, t->ns) < 0) {
        json_object_put(o);
        return;
    }
    struct json_object *meta = meta_of(o);
    const char *bname = mget(meta, "name");
    if (!bname || strcmp(bname, t->name) != 0) {
        char msg[700];
        snprintf(msg, sizeof(msg), "the name of the object (%s) does not match the name on the URL (%s)",
                 bname ? bname : "", t->name);
        send_bad_request(req, msg);
        json_object_put(o);
        return;
    }
    struct sim_obj *prev = sim_store_get(&sim->store, r, t->ns, t->name);
    const char *uid = mget(meta, "uid");
    const char *rv = mget(meta, "resourceVersion");
    if (!prev) {
        if (t->sub[0] || !r->create_on_update) {
            send_not_found(req, r, t->name);
        } else if (uid && uid[0]) {
            char why[400];
            snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object meta: ", uid);
            send_conflict(req, r, t->name, why);
        } else {
            json_object_object_del(meta, "resourceVersion");
            do_create(sim, req, t, o, 201, "update");
        }
        json_object_put(o);
        return;
    }
    if (!rv || !rv[0]) {
        if (r->require_rv_on_update) {
            char q[128], msg[600];
            sim_resource_qualified(r, q, sizeof(q));
            snprintf(msg, sizeof(msg), "%s \"%s\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be "
                     "specified for an update", q, t->name);
            struct json_object *d = json_object_new_object();
            json_object_object_add(d, "name", json_object_new_string(t->name));
            json_object_object_add(d, "group", json_object_new_string(r->group));
            json_object_object_add(d, "kind", json_object_new_string(r->kind));
            struct json_object *causes = json_object_new_array(), *c = json_object_new_object();
            json_object_object_add(c, "reason", json_object_new_string("FieldValueInvalid"));
            json_object_object_add(c, "message", json_object_new_string("Invalid value: 0x0: must be specified for an update"));
            json_object_object_add(c, "field", json_object_new_string("metadata.resourceVersion"));
            json_object_array_add(causes, c);
            json_object_object_add(d, "causes", causes);
            sim_send_status(req, 422, "Invalid", msg, d);
            json_object_put(o);
            return;
        }
    } else {
        uint64_t n;
        char cur[32];
        snprintf(cur, sizeof(cur), "%llu", (unsigned long long)prev->rv);
        if (parse_rv(rv, &n) < 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "invalid resource version: %.200s", rv);
            send_bad_request(req, msg);
            json_object_put(o);
            return;
        }
        if (n != prev->rv) {
            send_conflict(req, r, t->name,
                          "the object has been modified; please apply your changes to the latest version and try again");
            json_object_put(o);
            return;
        }
    }
    if (uid && uid[0] && strcmp(uid, prev->uid) != 0) {
        char why[400];
        snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object meta: %s", uid,
                 prev->uid);
        send_conflict(req, r, t->name, why);
        json_object_put(o);
        return;
    }
    update_existing(sim, req, t, o, prev, "update");
}

static void handle_patch(struct sim *sim, struct http_request *req, const struct target *t)
{
    const struct sim_resource *r = t->r;
    if (check_field_validation(req, "PatchOptions") < 0) return;
    const char *ct = http_request_header(req, "Content-Type");
    if (!ct) ct = "";
    int kind; /* 1 merge, 2 strategic, 3 json patch */
    if (strncmp(ct, "application/merge-patch+json", 28) == 0) kind = 1;
    else if (strncmp(ct, "application/strategic-merge-patch+json", 38) == 0) kind = 2;
    else if (strncmp(ct, "application/json-patch+json", 27) == 0) kind = 3;
    else {
        sim_send_status(req, 415, "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: "
                        "application/json-patch+json, application/merge-patch+json, "
                        "application/strategic-merge-patch+json",
                        NULL);
        return;
    }
    struct sim_obj *prev = sim_store_get(&sim->store, r, t->ns, t->name);
    if (!prev) {
        send_not_found(req, r, t->name);
        return;
    }
    struct json_object *struct_tok = NULL;
    {
        struct json_tokener *tok = json_tokener_new_ex(64);
        struct_tok = json_tokener_parse_ex(tok, buf_cstr(&req->body), (int)req->body.len);
        enum json_tokener_error e = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (!struct_tok || e != json_tokener_success) {
            json_object_put(struct_tok);
            send_bad_request(req, "error decoding patch: invalid JSON");
            return;
        }
    }
    struct json_object *old = sim_obj_parse(prev), *o = NULL;
    char av[128];
    sim_resource_api_version(r, av, sizeof(av));
    json_object_object_add(old, "kind", json_object_new_string(r->kind));
    json_object_object_add(old, "apiVersion", json_object_new_string(av));
    if (kind == 3) {
        char err[300];
        json_object_deep_copy(old, &o, NULL);
        if (sim_json_patch(&o, struct_tok, err, sizeof(err)) < 0) {
            sim_send_status(req, 422, "Invalid", err, NULL);
            json_object_put(o);
            json_object_put(old);
            json_object_put(struct_tok);
            return;
        }
    } else {
        if (!json_object_is_type(struct_tok, json_type_object)) {
            send_bad_request(req, "error decoding patch: a merge patch must be a JSON object");
            json_object_put(old);
            json_object_put(struct_tok);
            return;
        }
        o = sim_merge_patch(old, struct_tok, kind == 2);
    }
    json_object_put(struct_tok);
    /* a resourceVersion in the patch is a precondition */
    struct json_object *meta = meta_of(o);
    const char *rv = mget(meta, "resourceVersion");
    char cur[32];
    snprintf(cur, sizeof(cur), "%llu", (unsigned long long)prev->rv);
    if (rv && strcmp(rv, cur) != 0) {
        send_conflict(req, r, t->name,
                      "the object has been modified; please apply your changes to the latest version and try again");
        json_object_put(o);
        json_object_put(old);
        return;
    }
    const char *nm = mget(meta, "name");
    if (!nm || strcmp(nm, t->name) != 0 || check_identity(req, r, o, t->ns) < 0) {
        if (!nm || strcmp(nm, t->name) != 0) send_bad_request(req, "the name of the object does not match the name on the URL");
        json_object_put(o);
        json_object_put(old);
        return;
    }
    json_object_put(old);
    update_existing(sim, req, t, o, prev, "patch");
}

static void delete_one(struct sim *sim, struct http_request *req, struct sim_obj *prev, const char *verb)
{
    struct json_object *o = sim_obj_parse(prev);
    struct sim_obj *gone = sim_obj_new(prev->res, o, sim->store.rv + 1);
    json_object_put(o);
    sim_obj_ref(prev);
    sim_store_commit(&sim->store, SIM_DELETED, sim_obj_ref(gone), prev);
    sim_audit(sim, req, verb, gone, g_user);
    sim_obj_unref(prev);
    sim_obj_unref(gone);
}

static void delete_namespace_contents(struct sim *sim, struct http_request *req, const char *ns)
{
    for (size_t i = 0; i < sim_nresources; i++) {
        const struct sim_resource *r = &sim_resources[i];
        if (!r->namespaced) continue;
        size_t from, to;
        sim_store_range(&sim->store, r, ns, &from, &to);
        while (to > from) {
            struct sim_obj *o = sim->store.tables[i].items[from];
            delete_one(sim, req, o, "delete");
            sim_store_range(&sim->store, r, ns, &from, &to);
        }
    }
}

static void handle_delete(struct sim *sim, struct http_request *req, const struct target *t)
{
    const struct sim_resource *r = t->r;
    struct sim_obj *prev = sim_store_get(&sim->store, r, t->ns, t->name);
    if (!prev) {
        send_not_found(req, r, t->name);
        return;
    }
    if (req->body.len) {
        struct json_object *opts = json_tokener_parse(buf_cstr(&req->body)), *pre, *v;
        if (opts && json_object_object_get_ex(opts, "preconditions", &pre)) {
            if (json_object_object_get_ex(pre, "uid", &v) && v && strcmp(json_object_get_string(v), prev->uid)) {
                char why[400];
                snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                         json_object_get_string(v), prev->uid);
                send_conflict(req, r, t->name, why);
                json_object_put(opts);
                return;
            }
            char cur[32];
            snprintf(cur, sizeof(cur), "%llu", (unsigned long long)prev->rv);
            if (json_object_object_get_ex(pre, "resourceVersion", &v) && v && strcmp(json_object_get_string(v), cur)) {
                char why[400];
                snprintf(why, sizeof(why), "Precondition failed: ResourceVersion in precondition: %s, "
                         "ResourceVersion in object meta: %s", json_object_get_string(v), cur);
                send_conflict(req, r, t->name, why);
                json_object_put(opts);
                return;
            }
        }
        json_object_put(opts);
    }
    if (dry_run(req)) {
        send_obj(req, 200, prev);
        return;
    }
    sim_obj_ref(prev);
    if (strcmp(r->plural, "namespaces") == 0) delete_namespace_contents(sim, req, t->name);
    delete_one(sim, req, prev, "delete");
    if (r->delete_returns_object) {
        send_obj(req, 200, prev);
    } else {
        struct json_object *d = details_for(r, t->name);
        json_object_object_add(d, "uid", json_object_new_string(prev->uid));
        sim_send_status(req, 200, "", NULL, d);
    }
    sim_obj_unref(prev);
}

/* ---- list ---- */

struct list_opts {
    struct sim_selector labels, fields;
    uint64_t limit;
    char cont[1024];
    uint64_t rv;       /* snapshot revision */
    char start[2 * SIM_MAX_NAME + 4];
    int has_selector;
};

static void b64url(const char *in, size_t n, struct buf *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)in[i + 2];
        buf_putc(out, t[(v >> 18) & 63]);
        buf_putc(out, t[(v >> 12) & 63]);
        if (i + 1 < n) buf_putc(out, t[(v >> 6) & 63]);
        if (i + 2 < n) buf_putc(out, t[v & 63]);
    }
}

static int unb64url(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (const char *p = in; *p && *p != '='; p++) {
        const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *f = strchr(t, *p);
        if (!f) return -1;
        v = (v << 6) | (unsigned)(f - t);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= outlen) return -1;
            out[o++] = (char)((v >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return 0;
}

static void make_continue(uint64_t rv, const char *start, struct buf *out)
{
    struct json_object *c = json_object_new_object();
    json_object_object_add(c, "v", json_object_new_string("meta.k8s.io/v1"));
    json_object_object_add(c, "rv", json_object_new_int64((int64_t)rv));
    json_object_object_add(c, "start", json_object_new_string(start));
    const char *s = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN);
    b64url(s, strlen(s), out);
    json_object_put(c);
}

static void send_list_opts_invalid(struct http_request *req, const char *field, const char *cause_reason,
                                   const char *cause)
{
    char msg[600];
    snprintf(msg, sizeof(msg), "ListOptions.meta.k8s.io \"\" is invalid: %s: %s", field, cause);
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "group", json_object_new_string("meta.k8s.io"));
    json_object_object_add(d, "kind", json_object_new_string("ListOptions"));
    struct json_object *causes = json_object_new_array(), *c = json_object_new_object();
    json_object_object_add(c, "reason", json_object_new_string(cause_reason));
    json_object_object_add(c, "message", json_object_new_string(cause));
    json_object_object_add(c, "field", json_object_new_string(field));
    json_object_array_add(causes, c);
    json_object_object_add(d, "causes", causes);
    sim_send_status(req, 422, "Invalid", msg, d);
}

/* Parses selectors; -1 when answered. */
static int parse_selectors(struct http_request *req, const struct sim_resource *r, struct sim_selector *labels,
                           struct sim_selector *fields)
{
    char ls[4096], fs[4096], err[600];
    memset(labels, 0, sizeof(*labels));
    memset(fields, 0, sizeof(*fields));
    if (qget(req->query, "labelSelector", ls, sizeof(ls)) < 0 || qget(req->query, "fieldSelector", fs, sizeof(fs)) < 0) {
        send_bad_request(req, "invalid selector: too long or badly encoded");
        return -1;
    }
    if (sim_label_selector_parse(ls, labels, err, sizeof(err)) < 0) {
        send_bad_request(req, err); /* "unable to parse requirement: ..." */
        return -1;
    }
    if (sim_field_selector_parse(fs, r, fields, err, sizeof(err)) < 0) {
        sim_selector_free(labels);
        send_bad_request(req, err);
        return -1;
    }
    return 0;
}

static void handle_list(struct sim *sim, struct http_request *req, const struct target *t)
{
    const struct sim_resource *r = t->r;
    struct list_opts lo;
    memset(&lo, 0, sizeof(lo));
    char rvs[64], match[32], limit[32];
    qget(req->query, "resourceVersion", rvs, sizeof(rvs));
    qget(req->query, "resourceVersionMatch", match, sizeof(match));
    qget(req->query, "limit", limit, sizeof(limit));
    int has_cont = qget(req->query, "continue", lo.cont, sizeof(lo.cont)) == 1 && lo.cont[0];
    if (http_query_get(req->query, "sendInitialEvents", (char[8]){0}, 8) == 1) {
        send_list_opts_invalid(req, "sendInitialEvents", "FieldValueForbidden",
                               "Forbidden: sendInitialEvents is forbidden for list");
        return;
    }
    if (match[0] && !rvs[0]) {
        send_list_opts_invalid(req, "resourceVersionMatch", "FieldValueForbidden",
                               "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
        return;
    }
    if (match[0] && has_cont) {
        send_list_opts_invalid(req, "resourceVersionMatch", "FieldValueForbidden",
                               "Forbidden: resourceVersionMatch is forbidden when continue is provided");
        return;
    }
    if (match[0] && strcmp(match, "Exact") && strcmp(match, "NotOlderThan")) {
        char c[200];
        snprintf(c, sizeof(c), "Unsupported value: \"%s\": supported values: \"Exact\", \"NotOlderThan\"", match);
        send_list_opts_invalid(req, "resourceVersionMatch", "FieldValueNotSupported", c);
        return;
    }
    uint64_t want = 0;
    if (rvs[0] && parse_rv(rvs, &want) < 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid resource version: %s", rvs);
        send_bad_request(req, msg);
        return;
    }
    if (strcmp(match, "Exact") == 0 && want == 0) {
        send_list_opts_invalid(req, "resourceVersionMatch", "FieldValueForbidden",
                               "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
        return;
    }
    if (limit[0]) {
        char *end;
        lo.limit = strtoull(limit, &end, 10);
        if (*end) lo.limit = 0;
        if (lo.limit > MAX_LIST_LIMIT) lo.limit = MAX_LIST_LIMIT;
    }
    lo.rv = sim->store.rv;
    if (has_cont) {
        if (rvs[0] && want != 0) {
            send_bad_request(req, "specifying resource version is not allowed when using continue");
            return;
        }
        char dec[1100];
        struct json_object *c = NULL, *v;
        if (unb64url(lo.cont, dec, sizeof(dec)) < 0 || !(c = json_tokener_parse(dec)) ||
            !json_object_object_get_ex(c, "rv", &v) || !json_object_object_get_ex(c, "start", &v)) {
            json_object_put(c);
            send_bad_request(req, "invalid continue token: continue key is not valid: illegal base64 data");
            return;
        }
        json_object_object_get_ex(c, "rv", &v);
        lo.rv = (uint64_t)json_object_get_int64(v);
        json_object_object_get_ex(c, "start", &v);
        snprintf(lo.start, sizeof(lo.start), "%s", json_object_get_string(v));
        json_object_put(c);
        if (lo.rv < sim->store.hist_floor) {
            struct buf tok;
            buf_init(&tok);
            make_continue(sim->store.rv, lo.start, &tok);
            struct json_object *st = json_object_new_object();
            json_object_object_add(st, "kind", json_object_new_string("Status"));
            json_object_object_add(st, "apiVersion", json_object_new_string("v1"));
            struct json_object *m = json_object_new_object();
            json_object_object_add(m, "continue", json_object_new_string(buf_cstr(&tok)));
            json_object_object_add(st, "metadata", m);
            json_object_object_add(st, "status", json_object_new_string("Failure"));
            json_object_object_add(st, "message", json_object_new_string(
                "The provided continue parameter is too old to display a consistent list result. You can start a new "
                "list without the continue parameter, or use the continue token in this response to retrieve the "
                "remainder of the results. Continuing with the provided token results in an inconsistent list - "
                "objects that were created, modified, or deleted between the time the first chunk was returned and "
                "now may show up in the list."));
            json_object_object_add(st, "reason", json_object_new_string("Expired"));
            json_object_object_add(st, "code", json_object_new_int(410));
            size_t len;
            const char *s = json_object_to_json_string_length(st, JSON_C_TO_STRING_PLAIN, &len);
            sim_send_json(req, 410, s, len);
            json_object_put(st);
            buf_free(&tok);
            return;
        }
    } else if (rvs[0] && want != 0) {
        int exact = strcmp(match, "Exact") == 0 || (!match[0] && lo.limit > 0);
        if (want > sim->store.rv) {
            char msg[200];
            snprintf(msg, sizeof(msg), "Timeout: Too large resource version: %llu, current: %llu",
                     (unsigned long long)want, (unsigned long long)sim->store.rv);
            struct json_object *d = json_object_new_object(), *causes = json_object_new_array(),
                               *c = json_object_new_object();
            json_object_object_add(c, "reason", json_object_new_string("ResourceVersionTooLarge"));
            json_object_object_add(c, "message", json_object_new_string("Too large resource version"));
            json_object_array_add(causes, c);
            json_object_object_add(d, "causes", causes);
            json_object_object_add(d, "retryAfterSeconds", json_object_new_int(1));
            sim_send_status(req, 504, "Timeout", msg, d);
            return;
        }
        if (exact) {
            if (want < sim->store.hist_floor) {
                sim_send_status(req, 410, "Expired", "The resourceVersion for the provided list is too old.", NULL);
                return;
            }
            lo.rv = want;
        }
    }
    if (parse_selectors(req, r, &lo.labels, &lo.fields) < 0) return;
    lo.has_selector = lo.labels.n || lo.fields.n;
    size_t n;
    int gone;
    struct sim_obj **items = sim_store_snapshot(&sim->store, r, t->ns, lo.rv, &n, &gone);
    if (gone) {
        sim_selector_free(&lo.labels);
        sim_selector_free(&lo.fields);
        sim_send_status(req, 410, "Expired", "The resourceVersion for the provided list is too old.", NULL);
        return;
    }
    struct buf b;
    buf_init(&b);
    char av[128];
    sim_resource_api_version(r, av, sizeof(av));
    buf_printf(&b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%llu\"", r->list_kind,
               av, (unsigned long long)lo.rv);
    struct buf body;
    buf_init(&body);
    buf_puts(&body, "},\"items\":[");
    size_t count = 0, i = 0;
    for (i = 0; i < n; i++) {
        if (lo.start[0] && strcmp(items[i]->key, lo.start) < 0) continue;
        if (!sim_label_selector_match(&lo.labels, items[i]) || !sim_field_selector_match(&lo.fields, items[i])) continue;
        if (lo.limit && count == lo.limit) break;
        if (count) buf_putc(&body, ',');
        buf_append(&body, items[i]->json, items[i]->len);
        count++;
    }
    buf_puts(&body, "]}");
    if (i < n) {
        /* more remain: continue at the next matching key */
        size_t remaining = 0;
        const char *next = NULL;
        for (size_t j = i; j < n; j++) {
            if (!sim_label_selector_match(&lo.labels, items[j]) || !sim_field_selector_match(&lo.fields, items[j]))
                continue;
            if (!next) next = items[j]->key;
            remaining++;
        }
        if (next) {
            buf_puts(&b, ",\"continue\":\"");
            make_continue(lo.rv, next, &b);
            buf_putc(&b, '"');
            if (!lo.has_selector) buf_printf(&b, ",\"remainingItemCount\":%zu", remaining);
        }
    }
    buf_append(&b, body.data, body.len);
    sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
    buf_free(&body);
    for (size_t k = 0; k < n; k++) sim_obj_unref(items[k]);
    free(items);
    sim_selector_free(&lo.labels);
    sim_selector_free(&lo.fields);
}

static void handle_get(struct sim *sim, struct http_request *req, const struct target *t)
{
    struct sim_obj *o = sim_store_get(&sim->store, t->r, t->ns, t->name);
    if (!o) send_not_found(req, t->r, t->name);
    else send_obj(req, 200, o);
}

static void handle_delete_collection(struct sim *sim, struct http_request *req, const struct target *t)
{
    struct sim_selector labels, fields;
    if (parse_selectors(req, t->r, &labels, &fields) < 0) return;
    size_t from, to;
    sim_store_range(&sim->store, t->r, t->ns, &from, &to);
    struct sim_table *tab = &sim->store.tables[t->r - sim_resources];
    size_t cnt = 0;
    struct sim_obj **victims = malloc((to - from + 1) * sizeof(*victims));
    if (!victims) abort();
    for (size_t i = from; i < to; i++)
        if (sim_label_selector_match(&labels, tab->items[i]) && sim_field_selector_match(&fields, tab->items[i]))
            victims[cnt++] = sim_obj_ref(tab->items[i]);
    struct buf b;
    buf_init(&b);
    char av[128];
    sim_resource_api_version(t->r, av, sizeof(av));
    buf_printf(&b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{},\"items\":[", t->r->list_kind, av);
    for (size_t i = 0; i < cnt; i++) {
        if (i) buf_putc(&b, ',');
        buf_append(&b, victims[i]->json, victims[i]->len);
        if (!dry_run(req)) delete_one(sim, req, victims[i], "deletecollection");
        sim_obj_unref(victims[i]);
    }
    free(victims);
    buf_puts(&b, "]}");
    sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
    sim_selector_free(&labels);
    sim_selector_free(&fields);
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
        send_bad_request(req, "malformed request path");
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
        send_not_found_path(req);
        return;
    }
    if (strcmp(req->method, "GET") == 0 && discovery(sim, req, seg, nseg)) return;
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
        send_not_found_path(req);
        return;
    }
    int legacy_watch = 0;
    if (strcmp(seg[i], "watch") == 0) {
        legacy_watch = 1;
        i++;
    }
    struct target t;
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
        send_not_found_path(req);
        return;
    }
    if (!t.r->namespaced && ns[0]) {
        send_not_found_path(req);
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
            send_not_found(req, t.r, t.name);
            return;
        }
    }
    if (authorize(sim, req, verb, t.r, t.ns, t.name) < 0) return;
    if (watch) sim_watch_start(sim, req, t.r, t.ns, name);
    else if (!strcmp(verb, "get")) handle_get(sim, req, &t);
    else if (!strcmp(verb, "list")) handle_list(sim, req, &t);
    else if (!strcmp(verb, "create")) handle_create(sim, req, &t);
    else if (!strcmp(verb, "update")) handle_update(sim, req, &t);
    else if (!strcmp(verb, "patch")) handle_patch(sim, req, &t);
    else if (!strcmp(verb, "delete")) handle_delete(sim, req, &t);
    else handle_delete_collection(sim, req, &t);
}

void sim_api_on_request(struct http_request *req, void *data)
{
    struct sim *sim = data;
    sim->requests++;
    log_debug("request", "method", req->method, "url", req->url, "client", sim_client_id(req));
    if (sim_faults_apply(sim, req)) return;
    sim_api_handle(sim, req);
}
