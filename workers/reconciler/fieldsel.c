/* Field selectors (see fieldsel.h). */
#include "workers/reconciler/fieldsel.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fieldsel_free(struct fieldsel *f)
{
    for (size_t i = 0; i < f->len; i++) {
        free(f->terms[i].path);
        free(f->terms[i].value);
    }
    free(f->terms);
    f->terms = NULL;
    f->len = 0;
}

static int path_ok(const char *p, size_t n)
{
    if (n == 0 || p[0] == '.' || p[n - 1] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '_' || c == '-';
        if (!ok || (c == '.' && p[i + 1] == '.')) return 0;
    }
    return 1;
}

/* One term from s[0..n): path op value. */
static int parse_term(const char *s, size_t n, struct fieldsel_term *t, struct err *e)
{
    size_t i = 0;
    while (i < n && s[i] != '=' && s[i] != '!') i++;
    size_t plen = i;
    while (plen > 0 && s[plen - 1] == ' ') plen--;
    size_t p0 = 0;
    while (p0 < plen && s[p0] == ' ') p0++;
    if (i == n) return err_set(e, "field selector term \"%.*s\" has no operator (=, == or !=)", (int)n, s);
    if (s[i] == '!') {
        if (i + 1 >= n || s[i + 1] != '=') return err_set(e, "field selector term \"%.*s\": ! must be !=", (int)n, s);
        t->negate = 1;
        i += 2;
    } else {
        i += (i + 1 < n && s[i + 1] == '=') ? 2 : 1;
    }
    if (!path_ok(s + p0, plen - p0))
        return err_set(e, "field selector term \"%.*s\": \"%.*s\" is not a field path", (int)n, s, (int)(plen - p0), s + p0);
    struct buf v;
    buf_init(&v);
    for (; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) i++;
        else if (s[i] == '=') {
            buf_free(&v);
            return err_set(e, "field selector term \"%.*s\": unescaped = in the value", (int)n, s);
        }
        buf_putc(&v, s[i]);
    }
    t->path = strndup(s + p0, plen - p0);
    t->value = strdup(buf_cstr(&v));
    int oom = v.oom;
    buf_free(&v);
    if (oom || !t->path || !t->value) return err_set(e, "out of memory");
    return 0;
}

int fieldsel_parse(const char *s, struct fieldsel *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s) return 0;
    out->terms = calloc(FIELDSEL_TERMS_MAX, sizeof(out->terms[0]));
    if (!out->terms) return err_set(e, "out of memory");
    const char *p = s;
    for (;;) {
        const char *q = p;
        while (*q && !(*q == ',')) q += (*q == '\\' && q[1]) ? 2 : 1;
        if (out->len == FIELDSEL_TERMS_MAX) {
            fieldsel_free(out);
            return err_set(e, "field selector has more than %d terms", FIELDSEL_TERMS_MAX);
        }
        if (parse_term(p, (size_t)(q - p), &out->terms[out->len], e) < 0) {
            out->len++;
            fieldsel_free(out);
            return -1;
        }
        out->len++;
        if (!*q) break;
        p = q + 1;
    }
    return 0;
}

/* Field selectors kube-apiserver serves beyond metadata.name and metadata.namespace (the resources' own
 * GetAttrs / field label conversion funcs). Anything absent here is matched client-side, which is always
 * correct, only less selective on the wire. */
static const struct {
    const char *group, *resource, *field;
} server_fields[] = {
    {"", "pods", "spec.nodeName"},           {"", "pods", "spec.restartPolicy"},
    {"", "pods", "spec.schedulerName"},      {"", "pods", "spec.serviceAccountName"},
    {"", "pods", "spec.hostNetwork"},        {"", "pods", "status.phase"},
    {"", "pods", "status.podIP"},            {"", "pods", "status.nominatedNodeName"},
    {"", "secrets", "type"},                 {"", "namespaces", "status.phase"},
    {"", "nodes", "spec.unschedulable"},     {"", "replicationcontrollers", "status.replicas"},
    {"", "events", "involvedObject.kind"},   {"", "events", "involvedObject.namespace"},
    {"", "events", "involvedObject.name"},   {"", "events", "involvedObject.uid"},
    {"", "events", "reason"},                {"", "events", "type"},
};

int fieldsel_server_side(const char *group, const char *resource, const char *path)
{
    if (strcmp(path, "metadata.name") == 0 || strcmp(path, "metadata.namespace") == 0) return 1;
    const char *g = group && strcmp(group, "core") != 0 ? group : "";
    for (size_t i = 0; i < sizeof(server_fields) / sizeof(server_fields[0]); i++)
        if (strcmp(server_fields[i].group, g) == 0 && strcmp(server_fields[i].resource, resource) == 0 &&
            strcmp(server_fields[i].field, path) == 0)
            return 1;
    return 0;
}

static void put_escaped(struct buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == ',' || *v == '=') buf_putc(b, '\\');
        buf_putc(b, *v);
    }
}

int fieldsel_split(struct fieldsel *f, const char *group, const char *resource, struct buf *server,
                   struct fieldsel *client)
{
    memset(client, 0, sizeof(*client));
    if (f->len) {
        client->terms = calloc(f->len, sizeof(client->terms[0]));
        if (!client->terms) return -1;
    }
    int first = 1;
    for (size_t i = 0; i < f->len; i++) {
        struct fieldsel_term *t = &f->terms[i];
        if (fieldsel_server_side(group, resource, t->path)) {
            if (!first) buf_putc(server, ',');
            first = 0;
            buf_puts(server, t->path);
            buf_puts(server, t->negate ? "!=" : "=");
            put_escaped(server, t->value);
            free(t->path);
            free(t->value);
        } else {
            client->terms[client->len++] = *t;
        }
    }
    free(f->terms);
    f->terms = NULL;
    f->len = 0;
    if (!server->data) buf_puts(server, "");
    return server->oom ? -1 : 0;
}

/* The field's value as kube's field sets spell it: strings as is, numbers and booleans as text, anything
 * missing (or an object or array, which kube never exposes as a field) as "". */
static int field_text(struct json_object *obj, const char *path, char *out, size_t n)
{
    out[0] = '\0';
    struct json_object *cur = obj;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char name[256];
        if (len >= sizeof(name)) return 0;
        memcpy(name, p, len);
        name[len] = '\0';
        struct json_object *next = NULL;
        if (!json_object_is_type(cur, json_type_object) || !json_object_object_get_ex(cur, name, &next)) return 0;
        cur = next;
        p = dot ? dot + 1 : p + len;
    }
    if (!cur) return 0;
    int w = 0;
    switch (json_object_get_type(cur)) {
    case json_type_string: w = snprintf(out, n, "%s", json_object_get_string(cur)); break;
    case json_type_boolean: w = snprintf(out, n, "%s", json_object_get_boolean(cur) ? "true" : "false"); break;
    case json_type_int: w = snprintf(out, n, "%" PRId64, json_object_get_int64(cur)); break;
    case json_type_double: w = snprintf(out, n, "%s", json_object_get_string(cur)); break;
    default: break;
    }
    return w >= (int)n; /* truncated */
}

/* Longest field value compared: Kubernetes names are at most 253 bytes, label-like values 63; a longer value
 * is taken as equal to no selector value (a config holds none that long). */
#define FIELDSEL_VALUE_MAX 1024

int fieldsel_match(const struct fieldsel *f, struct json_object *obj)
{
    char v[FIELDSEL_VALUE_MAX];
    for (size_t i = 0; i < f->len; i++) {
        int truncated = field_text(obj, f->terms[i].path, v, sizeof(v));
        int eq = !truncated && strcmp(v, f->terms[i].value) == 0;
        if (eq == f->terms[i].negate) return 0;
    }
    return 1;
}
