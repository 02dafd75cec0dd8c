/* The target set (see targets.h). A handful of pods at most: a sorted array with linear search is enough. */
#include "workers/discovery/targets.h"

#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"

void targets_init(struct targets *t, int dataplane_port)
{
    memset(t, 0, sizeof(*t));
    t->port = dataplane_port;
}

static void target_free(struct target *x)
{
    free(x->name);
    free(x->namespace);
    free(x->address);
    free(x->url);
    free(x->master_socket);
    memset(x, 0, sizeof(*x));
}

void targets_free(struct targets *t)
{
    for (size_t i = 0; i < t->len; i++) target_free(&t->items[i]);
    free(t->items);
    free(t->published);
    memset(t, 0, sizeof(*t));
}

static int str_cmp_null(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

static int target_cmp(const struct target *a, const struct target *b)
{
    int c = strcmp(a->name, b->name);
    if (c) return c;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    return str_cmp_null(a->namespace, b->namespace);
}

/* Inserts x (its strings now owned by the set) at its sorted place. */
static int insert(struct targets *t, struct target *x)
{
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct target *n = realloc(t->items, cap * sizeof(*n));
        if (!n) return -1;
        t->items = n;
        t->cap = cap;
    }
    size_t i = t->len;
    while (i > 0 && target_cmp(&t->items[i - 1], x) > 0) i--;
    memmove(&t->items[i + 1], &t->items[i], (t->len - i) * sizeof(*x));
    t->items[i] = *x;
    t->len++;
    return 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int targets_add_static(struct targets *t, const struct config_endpoint *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct target x = {.kind = TARGET_STATIC, .name = dup_or_null(eps[i].name),
                           .url = dup_or_null(eps[i].url), .master_socket = dup_or_null(eps[i].master_socket)};
        if (!x.name || (eps[i].url && !x.url) || (eps[i].master_socket && !x.master_socket) || insert(t, &x) < 0) {
            target_free(&x);
            return -1;
        }
    }
    return 0;
}

static struct json_object *get(struct json_object *o, const char *k)
{
    struct json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *get_str(struct json_object *o, const char *k)
{
    struct json_object *v = get(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int targets_pod_is_ready(struct json_object *pod)
{
    struct json_object *md = get(pod, "metadata"), *st = get(pod, "status");
    if (get(md, "deletionTimestamp")) return 0;
    const char *phase = get_str(st, "phase"), *ip = get_str(st, "podIP");
    if (!phase || strcmp(phase, "Running") != 0 || !ip || !*ip) return 0;
    struct json_object *conds = get(st, "conditions");
    if (!conds || !json_object_is_type(conds, json_type_array)) return 0;
    size_t n = json_object_array_length(conds);
    for (size_t i = 0; i < n; i++) {
        struct json_object *c = json_object_array_get_idx(conds, i);
        const char *type = get_str(c, "type"), *status = get_str(c, "status");
        if (type && strcmp(type, "Ready") == 0) return status && strcmp(status, "True") == 0;
    }
    return 0;
}

/* Index of the pod target namespace/name, or -1. */
static long find_pod(const struct targets *t, const char *ns, const char *name)
{
    for (size_t i = 0; i < t->len; i++) {
        const struct target *x = &t->items[i];
        if (x->kind == TARGET_POD && strcmp(x->name, name) == 0 && str_cmp_null(x->namespace, ns) == 0) return (long)i;
    }
    return -1;
}

static void remove_at(struct targets *t, size_t i)
{
    target_free(&t->items[i]);
    memmove(&t->items[i], &t->items[i + 1], (t->len - i - 1) * sizeof(t->items[0]));
    t->len--;
}

int targets_pod_update(struct targets *t, struct json_object *pod)
{
    struct json_object *md = get(pod, "metadata");
    const char *name = get_str(md, "name"), *ns = get_str(md, "namespace");
    if (!name || !*name) return -1;
    long at = find_pod(t, ns, name);
    if (at >= 0) remove_at(t, (size_t)at);
    if (!targets_pod_is_ready(pod)) return 0;
    struct target x = {.kind = TARGET_POD, .name = strdup(name), .namespace = dup_or_null(ns),
                       .address = dup_or_null(get_str(get(pod, "status"), "podIP")), .port = t->port};
    if (!x.name || (ns && !x.namespace) || !x.address || insert(t, &x) < 0) {
        target_free(&x);
        return -1;
    }
    return 0;
}

void targets_pod_delete(struct targets *t, struct json_object *pod)
{
    struct json_object *md = get(pod, "metadata");
    const char *name = get_str(md, "name");
    if (!name) return;
    long at = find_pod(t, get_str(md, "namespace"), name);
    if (at >= 0) remove_at(t, (size_t)at);
}

size_t targets_count(const struct targets *t, enum target_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < t->len; i++) n += t->items[i].kind == kind;
    return n;
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
    if (v) json_object_object_add(o, k, json_object_new_string(v));
}

struct json_object *targets_to_json(const struct targets *t)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < t->len; i++) {
        const struct target *x = &t->items[i];
        struct json_object *o = json_object_new_object();
        add_str(o, "name", x->name);
        if (x->kind == TARGET_POD) {
            add_str(o, "namespace", x->namespace);
            add_str(o, "pod", x->name);
            add_str(o, "address", x->address);
            json_object_object_add(o, "port", json_object_new_int(x->port));
            add_str(o, "kind", "pod");
        } else {
            add_str(o, "kind", "static");
            add_str(o, "url", x->url);
            add_str(o, "master_socket", x->master_socket);
        }
        json_object_array_add(arr, o);
    }
    return arr;
}

struct json_object *targets_take_changed(struct targets *t)
{
    struct json_object *j = targets_to_json(t);
    const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    if (t->published && strcmp(t->published, s) == 0) {
        json_object_put(j);
        return NULL;
    }
    char *copy = strdup(s);
    if (!copy) {
        json_object_put(j);
        return NULL;
    }
    free(t->published);
    t->published = copy;
    return j;
}
