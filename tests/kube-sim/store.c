/* The in-memory store: per resource a key-sorted array of immutable object versions, one cluster-wide
 * revision counter, and a bounded ring of events that serves watch resumes, exact-revision lists and paged
 * lists from a snapshot. Objects are kept as serialized JSON (plus the labels and fields selectors need),
 * which keeps 50k objects cheap; writers parse, change and re-serialize. */
#include <stdlib.h>
#include <string.h>

#include "tests/kube-sim/sim.h"

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) abort(); /* test tool: running out of memory is fatal */
    return d;
}

static const char *get_path_string(struct json_object *o, const char *path)
{
    char part[128];
    const char *p = path;
    while (o && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof(part)) return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, part, &o)) return NULL;
        p += n + (dot ? 1 : 0);
    }
    return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

struct sim_obj *sim_obj_new(const struct sim_resource *res, struct json_object *o, uint64_t rv)
{
    struct sim_obj *ob = calloc(1, sizeof(*ob));
    if (!ob) abort();
    ob->refs = 1;
    ob->res = res;
    ob->rv = rv;
    struct json_object *meta = NULL;
    if (!json_object_object_get_ex(o, "metadata", &meta) || !json_object_is_type(meta, json_type_object)) {
        meta = json_object_new_object();
        json_object_object_add(o, "metadata", meta);
    }
    char rvs[32];
    snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)rv);
    json_object_object_add(meta, "resourceVersion", json_object_new_string(rvs));
    ob->name = xstrdup(get_path_string(o, "metadata.name"));
    ob->ns = xstrdup(res->namespaced ? get_path_string(o, "metadata.namespace") : "");
    const char *uid = get_path_string(o, "metadata.uid");
    snprintf(ob->uid, sizeof(ob->uid), "%s", uid ? uid : "");
    size_t kl = strlen(ob->ns) + strlen(ob->name) + 2;
    ob->key = malloc(kl);
    if (!ob->key) abort();
    if (res->namespaced) snprintf(ob->key, kl, "%s/%s", ob->ns, ob->name);
    else snprintf(ob->key, kl, "%s", ob->name);
    struct json_object *labels;
    if (json_object_object_get_ex(meta, "labels", &labels) && json_object_is_type(labels, json_type_object)) {
        size_t n = (size_t)json_object_object_length(labels);
        ob->labels = calloc(n ? n : 1, sizeof(*ob->labels));
        if (!ob->labels) abort();
        json_object_object_foreach(labels, k, v)
        {
            ob->labels[ob->nlabels].key = xstrdup(k);
            ob->labels[ob->nlabels].value = xstrdup(json_object_get_string(v));
            ob->nlabels++;
        }
    }
    for (int i = 0; i < SIM_MAX_EXTRA_FIELDS && res->extra_fields[i]; i++) {
        const char *v = get_path_string(o, res->extra_fields[i]);
        ob->fields[i] = v ? xstrdup(v) : NULL;
    }
    /* stored without kind/apiVersion: lists carry none; single responses add them in front */
    struct json_object *kind = NULL, *av = NULL;
    if (json_object_object_get_ex(o, "kind", &kind)) json_object_get(kind);
    if (json_object_object_get_ex(o, "apiVersion", &av)) json_object_get(av);
    json_object_object_del(o, "kind");
    json_object_object_del(o, "apiVersion");
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                      &len);
    ob->json = malloc(len + 1);
    if (!ob->json) abort();
    memcpy(ob->json, s, len + 1);
    ob->len = len;
    if (kind) json_object_object_add(o, "kind", kind);
    if (av) json_object_object_add(o, "apiVersion", av);
    return ob;
}

struct sim_obj *sim_obj_ref(struct sim_obj *o)
{
    if (o) o->refs++;
    return o;
}

void sim_obj_unref(struct sim_obj *o)
{
    if (!o || --o->refs > 0) return;
    free(o->ns);
    free(o->name);
    free(o->key);
    free(o->json);
    for (size_t i = 0; i < o->nlabels; i++) {
        free(o->labels[i].key);
        free(o->labels[i].value);
    }
    free(o->labels);
    for (int i = 0; i < SIM_MAX_EXTRA_FIELDS; i++) free(o->fields[i]);
    free(o);
}

struct json_object *sim_obj_parse(const struct sim_obj *o)
{
    struct json_object *j = json_tokener_parse(o->json);
    if (!j) abort(); /* we serialized it ourselves */
    return j;
}

void sim_obj_write_full(const struct sim_obj *o, struct buf *b)
{
    char av[128];
    sim_resource_api_version(o->res, av, sizeof(av));
    buf_printf(b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\"", o->res->kind, av);
    if (o->len > 2) buf_putc(b, ',');
    buf_append(b, o->json + 1, o->len - 1);
}

/* ---- tables ---- */

int sim_store_init(struct sim_store *s, size_t history)
{
    memset(s, 0, sizeof(*s));
    s->tables = calloc(sim_nresources, sizeof(*s->tables));
    s->hist_cap = history ? history : SIM_DEFAULT_HISTORY;
    s->hist = calloc(s->hist_cap, sizeof(*s->hist));
    return (s->tables && s->hist) ? 0 : -1;
}

static void event_clear(struct sim_event *e)
{
    sim_obj_unref(e->obj);
    sim_obj_unref(e->prev);
    memset(e, 0, sizeof(*e));
}

void sim_store_free(struct sim_store *s)
{
    for (size_t i = 0; s->tables && i < sim_nresources; i++) {
        for (size_t j = 0; j < s->tables[i].n; j++) sim_obj_unref(s->tables[i].items[j]);
        free(s->tables[i].items);
    }
    free(s->tables);
    for (size_t i = 0; s->hist && i < s->hist_len; i++) event_clear(&s->hist[(s->hist_head + i) % s->hist_cap]);
    free(s->hist);
    memset(s, 0, sizeof(*s));
}

static struct sim_table *table_of(struct sim_store *s, const struct sim_resource *r)
{
    return &s->tables[r - sim_resources];
}

/* Index of the first item with key >= key. */
static size_t lower_bound(struct sim_obj **items, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(items[mid]->key, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void make_key(const struct sim_resource *r, const char *ns, const char *name, char *out, size_t n)
{
    if (r->namespaced) snprintf(out, n, "%s/%s", ns ? ns : "", name);
    else snprintf(out, n, "%s", name);
}

struct sim_obj *sim_store_get(struct sim_store *s, const struct sim_resource *r, const char *ns, const char *name)
{
    struct sim_table *t = table_of(s, r);
    char key[2 * SIM_MAX_NAME + 4];
    make_key(r, ns, name, key, sizeof(key));
    size_t i = lower_bound(t->items, t->n, key);
    return (i < t->n && strcmp(t->items[i]->key, key) == 0) ? t->items[i] : NULL;
}

void sim_store_range(struct sim_store *s, const struct sim_resource *r, const char *ns, size_t *from, size_t *to)
{
    struct sim_table *t = table_of(s, r);
    if (!r->namespaced || !ns || !ns[0]) {
        *from = 0;
        *to = t->n;
        return;
    }
    char lo[SIM_MAX_NAME + 4], hi[SIM_MAX_NAME + 4];
    snprintf(lo, sizeof(lo), "%s/", ns);
    snprintf(hi, sizeof(hi), "%s0", ns); /* '0' follows '/' */
    *from = lower_bound(t->items, t->n, lo);
    *to = lower_bound(t->items, t->n, hi);
}

static void table_put(struct sim_table *t, struct sim_obj *o)
{
    size_t i = lower_bound(t->items, t->n, o->key);
    if (i < t->n && strcmp(t->items[i]->key, o->key) == 0) {
        sim_obj_unref(t->items[i]);
        t->items[i] = o;
        return;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct sim_obj **it = realloc(t->items, cap * sizeof(*it));
        if (!it) abort();
        t->items = it;
        t->cap = cap;
    }
    memmove(t->items + i + 1, t->items + i, (t->n - i) * sizeof(*t->items));
    t->items[i] = o;
    t->n++;
}

static void table_remove(struct sim_table *t, const char *key)
{
    size_t i = lower_bound(t->items, t->n, key);
    if (i >= t->n || strcmp(t->items[i]->key, key) != 0) return;
    sim_obj_unref(t->items[i]);
    memmove(t->items + i, t->items + i + 1, (t->n - i - 1) * sizeof(*t->items));
    t->n--;
}

void sim_store_commit(struct sim_store *s, enum sim_event_type type, struct sim_obj *obj, struct sim_obj *prev)
{
    struct sim_table *t = table_of(s, obj->res);
    sim_obj_ref(prev); /* the table may drop its reference to prev below; the event keeps this one */
    if (obj->rv > s->rv) s->rv = obj->rv;
    if (type == SIM_DELETED) {
        table_remove(t, obj->key);
        s->nobjects--;
    } else {
        if (type == SIM_ADDED) s->nobjects++;
        table_put(t, sim_obj_ref(obj));
    }
    /* history ring: evicting the oldest raises the floor */
    if (s->hist_len == s->hist_cap) {
        struct sim_event *old = &s->hist[s->hist_head];
        s->hist_floor = old->rv;
        event_clear(old);
        s->hist_head = (s->hist_head + 1) % s->hist_cap;
        s->hist_len--;
    }
    struct sim_event *e = &s->hist[(s->hist_head + s->hist_len) % s->hist_cap];
    e->rv = obj->rv;
    e->type = type;
    e->obj = obj; /* takes the caller's reference */
    e->prev = prev;
    s->hist_len++;
    if (g_sim) sim_watch_broadcast(g_sim, e);
}

void sim_store_compact(struct sim_store *s)
{
    for (size_t i = 0; i < s->hist_len; i++) event_clear(&s->hist[(s->hist_head + i) % s->hist_cap]);
    s->hist_len = 0;
    s->hist_head = 0;
    s->hist_floor = s->rv;
}

void sim_store_history_after(struct sim_store *s, uint64_t after, sim_event_fn fn, void *data)
{
    /* binary search the ring for the first rv > after */
    size_t lo = 0, hi = s->hist_len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->hist[(s->hist_head + mid) % s->hist_cap].rv <= after) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = lo; i < s->hist_len; i++) fn(&s->hist[(s->hist_head + i) % s->hist_cap], data);
}

static int cmp_obj_key(const void *a, const void *b)
{
    return strcmp((*(struct sim_obj *const *)a)->key, (*(struct sim_obj *const *)b)->key);
}

struct sim_obj **sim_store_snapshot(struct sim_store *s, const struct sim_resource *r, const char *ns,
                                    uint64_t rv, size_t *n, int *gone)
{
    *gone = 0;
    *n = 0;
    if (rv < s->hist_floor) {
        *gone = 1;
        return NULL;
    }
    size_t from, to;
    sim_store_range(s, r, ns, &from, &to);
    struct sim_table *t = table_of(s, r);
    size_t cap = (to - from) + 16, len = 0;
    struct sim_obj **out = malloc(cap * sizeof(*out));
    if (!out) abort();
    for (size_t i = from; i < to; i++) out[len++] = sim_obj_ref(t->items[i]);
    if (rv >= s->rv) {
        *n = len;
        return out;
    }
    /* undo the events after rv, newest first */
    for (size_t k = s->hist_len; k-- > 0;) {
        struct sim_event *e = &s->hist[(s->hist_head + k) % s->hist_cap];
        if (e->rv <= rv) break;
        if (e->obj->res != r) continue;
        if (r->namespaced && ns && ns[0] && strcmp(e->obj->ns, ns) != 0) continue;
        /* find the current entry for this key in out (kept sorted) */
        size_t i = lower_bound(out, len, e->obj->key);
        int present = i < len && strcmp(out[i]->key, e->obj->key) == 0;
        if (e->type == SIM_ADDED) {
            if (present) {
                sim_obj_unref(out[i]);
                memmove(out + i, out + i + 1, (len - i - 1) * sizeof(*out));
                len--;
            }
        } else if (e->type == SIM_MODIFIED) {
            if (present) {
                sim_obj_unref(out[i]);
                out[i] = sim_obj_ref(e->prev);
            }
        } else if (!present && e->prev) {
            if (len == cap) {
                cap *= 2;
                struct sim_obj **o2 = realloc(out, cap * sizeof(*out));
                if (!o2) abort();
                out = o2;
            }
            memmove(out + i + 1, out + i, (len - i) * sizeof(*out));
            out[i] = sim_obj_ref(e->prev);
            len++;
        }
    }
    qsort(out, len, sizeof(*out), cmp_obj_key); /* already sorted; cheap safety */
    *n = len;
    return out;
}
