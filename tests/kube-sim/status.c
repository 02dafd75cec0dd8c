/* Responses of the API: JSON bodies with kube's headers, exact Status objects for every error, and the
 * query-string helpers the handlers share. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "tests/kube-sim/api_internal.h"

const char *sim_user = "system:anonymous";
char sim_warning[512];

/* ---- responses ---- */

void sim_send_json(struct http_request *req, int code, const char *body, size_t len)
{
    char audit[40], warn[600];
    sim_uuid(audit);
    size_t o = (size_t)snprintf(warn, sizeof(warn), "299 - \"");
    for (const char *p = sim_warning; *p && o + 4 < sizeof(warn); p++) {
        if (*p == '"' || *p == '\\') warn[o++] = '\\';
        warn[o++] = *p;
    }
    warn[o++] = '"';
    warn[o] = '\0';
    const char *h[] = {"Content-Type", "application/json", "Cache-Control", "no-cache, private", "Audit-Id", audit,
                       sim_warning[0] ? "Warning" : NULL, warn, NULL};
    http_respond(req, code, h, body, len);
    sim_warning[0] = '\0';
}


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

struct json_object *sim_details_for(const struct sim_resource *r, const char *name)
{
    struct json_object *d = json_object_new_object();
    if (name) json_object_object_add(d, "name", json_object_new_string(name));
    json_object_object_add(d, "group", json_object_new_string(r->group));
    json_object_object_add(d, "kind", json_object_new_string(r->plural));
    return d;
}

void sim_send_not_found_path(struct http_request *req)
{
    sim_send_status(req, 404, "NotFound", "the server could not find the requested resource", json_object_new_object());
}

void sim_send_bad_request(struct http_request *req, const char *msg)
{
    sim_send_status(req, 400, "BadRequest", msg, NULL);
}

void sim_send_not_found(struct http_request *req, const struct sim_resource *r, const char *name)
{
    char q[128], msg[600];
    sim_resource_qualified(r, q, sizeof(q));
    snprintf(msg, sizeof(msg), "%s \"%s\" not found", q, name);
    sim_send_status(req, 404, "NotFound", msg, sim_details_for(r, name));
}

void sim_send_conflict(struct http_request *req, const struct sim_resource *r, const char *name, const char *why)
{
    char q[128], msg[1024];
    sim_resource_qualified(r, q, sizeof(q));
    snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on %s \"%s\": %s", q, name, why);
    sim_send_status(req, 409, "Conflict", msg, sim_details_for(r, name));
}

void sim_send_invalid(struct http_request *req, const struct sim_resource *r, const char *name,
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

void sim_send_obj(struct http_request *req, int code, const struct sim_obj *o)
{
    struct buf b;
    buf_init(&b);
    sim_obj_write_full(o, &b);
    sim_send_json(req, code, buf_cstr(&b), b.len);
    buf_free(&b);
}


/* ---- query helpers ---- */

int sim_query_bool(const char *query, const char *key)
{
    char v[16];
    if (http_query_get(query, key, v, sizeof(v)) != 1) return 0;
    return !(strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0);
}

/* 1 and the value if present; 0 absent; -1 too long or bad encoding (answered 400 by callers). */
int sim_qget(const char *query, const char *key, char *out, size_t n)
{
    int rc = http_query_get(query, key, out, n);
    if (rc != 1) out[0] = '\0';
    return rc;
}

int sim_parse_rv(const char *s, uint64_t *out)
{
    if (!*s) return -1;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || !isdigit((unsigned char)s[0])) return -1;
    *out = v;
    return 0;
}
