/* See objects.h. Keys: "ns/name" inside one resource (seen sets), "resource/ns/name" across resources
 * (changed, excluded); neither part can hold a '/'. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/linkhash.h>

#include "common/ipc.h"
#include "common/log.h"
#include "workers/renderer/objects.h"

static void free_key(struct lh_entry *e) { free(lh_entry_k(e)); }

static struct lh_table *key_set(void) { return lh_kchar_table_new(256, free_key); }

static void free_key_value(struct lh_entry *e)
{
    free(lh_entry_k(e));
    free((void *)lh_entry_v(e));
}

/* key -> resourceVersion, both owned */
static struct lh_table *rv_map(void) { return lh_kchar_table_new(64, free_key_value); }

static int rv_map_set(struct lh_table *t, const char *key, const char *rv)
{
    lh_table_delete(t, key);
    char *k = strdup(key), *v = strdup(rv ? rv : "");
    if (!k || !v || lh_table_insert(t, k, v) < 0) {
        free(k);
        free(v);
        return -1;
    }
    return 0;
}

static const char *rv_map_get(struct lh_table *t, const char *key)
{
    void *v = NULL;
    return lh_table_lookup_ex(t, key, &v) ? v : NULL;
}

static int set_add(struct lh_table *t, const char *key)
{
    if (lh_table_lookup_ex(t, key, NULL)) return 0;
    char *k = strdup(key);
    if (!k || lh_table_insert(t, k, NULL) < 0) {
        free(k);
        return -1;
    }
    return 1;
}

static void set_clear(struct lh_table **t)
{
    lh_table_free(*t);
    *t = key_set();
}

int objects_init(struct objects *o, const struct config *cfg, struct err *e)
{
    memset(o, 0, sizeof(*o));
    o->cfg = cfg;
    o->keys = packed_keys_new();
    o->held = held_new();
    o->changed = key_set();
    o->excluded = key_set();
    o->cache = ondemand_cache_new(ONDEMAND_CACHE_BYTES);
    o->misses = rv_map();
    o->inflight = rv_map();
    if (!o->keys || !o->held || !o->changed || !o->excluded || !o->cache || !o->misses || !o->inflight)
        return err_set(e, "out of memory");
    if (render_stores_new(cfg, o->keys, &o->stores, &o->n, e) < 0) return -1;
    if (render_targets_store_new(o->keys, &o->targets, e) < 0) return -1;
    o->res = calloc(o->n ? o->n : 1, sizeof(o->res[0]));
    if (!o->res) return err_set(e, "out of memory");
    for (size_t i = 0; i < o->n; i++) {
        o->res[i].name = o->stores[i].name;
        o->res[i].on_demand = cfg->watched_resources.items[i].store == CONFIG_STORE_ON_DEMAND;
        if (!(o->res[i].seen = key_set())) return err_set(e, "out of memory");
    }
    return 0;
}

void objects_free(struct objects *o)
{
    for (size_t i = 0; o->res && i < o->n; i++) lh_table_free(o->res[i].seen);
    free(o->res);
    render_stores_free(o->stores, o->n);
    store_free(o->targets);
    held_free(o->held);
    if (o->changed) lh_table_free(o->changed);
    if (o->excluded) lh_table_free(o->excluded);
    if (o->misses) lh_table_free(o->misses);
    if (o->inflight) lh_table_free(o->inflight);
    ondemand_cache_free(o->cache);
    packed_keys_free(o->keys);
    memset(o, 0, sizeof(*o));
}

int objects_use_config(struct objects *o, const struct config *cfg)
{
    if (cfg->watched_resources.len != o->n) return -1;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(cfg->watched_resources.items[i].name, o->stores[i].name) != 0) return -1;
    for (size_t i = 0; i < o->n; i++) o->stores[i].name = o->res[i].name = cfg->watched_resources.items[i].name;
    o->cfg = cfg;
    return 0;
}

static int res_index(const struct objects *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->stores[i].name, name)) return (int)i;
    return -1;
}

static void global_key(char *out, size_t n, const char *res, const char *ns, const char *name)
{
    snprintf(out, n, "%s/%s/%s", res, ns, name);
}

/* A change is about to happen to (res, ns, name), whose current version is cur: keep what held needs,
 * note it changed, and release it from the standing exclusion (it is retried). */
static int will_change(struct objects *o, size_t r, const char *ns, const char *name, const struct packed *cur,
                       const char *new_rv)
{
    struct held_obj h = {o->stores[r].name, ns, name};
    char key[512];
    global_key(key, sizeof(key), o->stores[r].name, ns, name);
    if (o->res[r].on_demand) {
        /* the version being replaced is kept as the object itself when it is cached (a trial can then hold
         * it at its LKG version); the cache forgets it, and what was asked for it */
        char id[STORE_NAMESPACE_MAX + STORE_NAME_MAX + 2];
        const char *rv = NULL, *frv = rv_map_get(o->inflight, key);
        const struct packed *full = cur && ondemand_ident(cur, id, sizeof(id), &rv) == 0 ?
                                    ondemand_cache_get(o->cache, key, rv) : NULL;
        if (held_before_change(o->held, o->keys, &h, full ? full : cur) < 0) return -1;
        ondemand_cache_evict(o->cache, key, new_rv);
        if (frv && !(new_rv && !strcmp(frv, new_rv))) lh_table_delete(o->inflight, key);
    } else if (held_before_change(o->held, o->keys, &h, cur) < 0) {
        return -1;
    }
    lh_table_delete(o->excluded, key);
    return set_add(o->changed, key) < 0 ? -1 : 0;
}

static const char *str_member(struct packed_val v, const char *k)
{
    struct packed_val m;
    return packed_get(v, k, strlen(k), &m) ? packed_str(m, NULL) : NULL;
}

static int apply_upsert(struct objects *o, size_t r, struct packed_val obj)
{
    struct store *s = o->stores[r].store;
    struct packed *p = NULL;
    struct err e;
    err_clear(&e);
    if (packed_type(obj) != PACKED_OBJECT || packed_copy(o->keys, obj, &p, &e) < 0) {
        log_warn("deltas item without an object skipped", "resource", o->stores[r].name);
        return 0;
    }
    struct packed_val md;
    const char *ns = "", *name = NULL;
    if (packed_get(packed_root(p), "metadata", 8, &md)) {
        name = str_member(md, "name");
        if (str_member(md, "namespace")) ns = str_member(md, "namespace");
    }
    if (!name) {
        packed_free(p);
        log_warn("deltas object without metadata.name skipped", "resource", o->stores[r].name);
        return 0;
    }
    char seen[STORE_NAMESPACE_MAX + STORE_NAME_MAX + 2];
    snprintf(seen, sizeof(seen), "%s/%s", ns, name);
    if (o->res[r].listing && set_add(o->res[r].seen, seen) < 0) {
        packed_free(p);
        return -1;
    }
    const struct packed *cur = store_get(s, ns, name);
    int same = cur && packed_hash(cur) == packed_hash(p);
    char nsc[STORE_NAMESPACE_MAX + 1], namec[STORE_NAME_MAX + 1];
    snprintf(nsc, sizeof(nsc), "%s", ns);   /* ns and name point into p, which the store may free */
    snprintf(namec, sizeof(namec), "%s", name);
    char idk[STORE_NAMESPACE_MAX + STORE_NAME_MAX + 2];
    const char *nrv = NULL;
    ondemand_ident(p, idk, sizeof(idk), &nrv);
    if (!same && will_change(o, r, nsc, namec, cur, nrv) < 0) {
        packed_free(p);
        return -1;
    }
    struct store_event ev;
    if (store_upsert(s, p, &ev, &e) < 0) {
        log_warn("deltas object refused", "resource", o->stores[r].name, "namespace", nsc, "name", namec, "error", e.msg);
        return 0;
    }
    return same ? 0 : 1;
}

static int apply_delete(struct objects *o, size_t r, const char *key)
{
    const char *slash = strchr(key, '/');
    char ns[STORE_NAMESPACE_MAX + 1] = "";
    const char *name = key;
    if (slash) {
        snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
        name = slash + 1;
    }
    const struct packed *cur = store_get(o->stores[r].store, ns, name);
    if (!cur) return 0;
    if (will_change(o, r, ns, name, cur, NULL) < 0) return -1;
    struct store_event ev;
    struct err e;
    if (store_delete(o->stores[r].store, ns, name, &ev, &e) < 0) return -1;
    return 1;
}

int objects_apply_deltas(struct objects *o, const char *body, size_t len, struct err *e)
{
    struct packed *frame = NULL;
    if (packed_from_text(o->keys, body, len, NULL, &frame, e) < 0) return -1;
    struct packed_val root = packed_root(frame), items, sv;
    const char *resource = str_member(root, "resource");
    int r = resource ? res_index(o, resource) : -1;
    int rc = 0;
    if (r < 0) {
        rc = err_set(e, "deltas for %s, which is not a watched resource", resource ? resource : "(none)");
    } else if (!packed_get(root, "items", 5, &items) || packed_type(items) != PACKED_ARRAY ||
               packed_len(items) > OBJECTS_ITEMS_MAX) {
        rc = err_set(e, "deltas for %s without a bounded items array", resource);
    }
    if (rc == 0 && packed_get(root, "synced", 6, &sv) && packed_type(sv) == PACKED_BOOL && !packed_bool(sv) &&
        !o->res[r].listing) {
        o->res[r].listing = 1;   /* a (re)started reconciler's listing: a sweep follows at synced */
        set_clear(&o->res[r].seen);
        lh_table_free(o->inflight);   /* a restarted reconciler will not answer its predecessor's fetches */
        o->inflight = rv_map();
    }
    int changes = 0;
    for (size_t i = 0; rc == 0 && i < packed_len(items); i++) {
        struct packed_val it, obj;
        packed_at(items, i, &it);
        const char *op = str_member(it, "op"), *key = str_member(it, "key");
        int c = 0;
        if (op && !strcmp(op, "upsert") && packed_get(it, "object", 6, &obj)) c = apply_upsert(o, (size_t)r, obj);
        else if (op && !strcmp(op, "delete") && key) c = apply_delete(o, (size_t)r, key);
        else log_warn("deltas item with an unknown op skipped", "resource", resource);
        if (c < 0) rc = err_set(e, "out of memory");
        changes += c > 0;
        o->applied++;
    }
    struct packed_val ev;   /* the reconciler's event time, carried on to `rendered` (docs/ipc.md) */
    if (rc == 0 && changes > 0 && packed_get(root, "event_ms", 8, &ev) && packed_type(ev) == PACKED_INT &&
        packed_int(ev) > 0 && (!o->event_ms || packed_int(ev) < o->event_ms))
        o->event_ms = packed_int(ev);
    packed_free(frame);
    return rc < 0 ? -1 : changes;
}

int objects_synced(struct objects *o, const char *resource, struct err *e)
{
    int r = res_index(o, resource);
    if (r < 0) return err_set(e, "synced for %s, which is not a watched resource", resource);
    struct objects_res *res = &o->res[r];
    int dropped = 0;
    if (res->listing) {
        /* every object the listing did not name is gone; collect first, deleting moves positions */
        struct store *s = o->stores[r].store;
        size_t n = store_count(s), ng = 0;
        char **gone = calloc(n ? n : 1, sizeof(char *));
        if (!gone) return err_set(e, "out of memory");
        for (size_t i = 0; i < n; i++) {
            struct packed_val md;
            const struct packed *p = store_at(s, i);
            if (!packed_get(packed_root(p), "metadata", 8, &md)) continue;
            const char *ns = str_member(md, "namespace"), *name = str_member(md, "name");
            char key[STORE_NAMESPACE_MAX + STORE_NAME_MAX + 2];
            snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name ? name : "");
            if (!lh_table_lookup_ex(res->seen, key, NULL)) gone[ng++] = strdup(key);
        }
        for (size_t i = 0; i < ng; i++) {
            int c = gone[i] ? apply_delete(o, (size_t)r, gone[i]) : -1;
            if (c > 0) dropped++;
            free(gone[i]);
        }
        free(gone);
        res->listing = 0;
        set_clear(&res->seen);
    }
    res->synced = 1;
    return dropped;
}

int objects_all_synced(const struct objects *o)
{
    for (size_t i = 0; i < o->n; i++)
        if (!o->res[i].synced) return 0;
    return 1;
}

void objects_begin_listing(struct objects *o)
{
    lh_table_free(o->inflight);
    o->inflight = rv_map();
    for (size_t i = 0; i < o->n; i++) {
        o->res[i].listing = 1;
        set_clear(&o->res[i].seen);
    }
}

int objects_set_targets(struct objects *o, struct json_object *targets, struct err *e)
{
    if (!json_object_is_type(targets, json_type_array)) return err_set(e, "targets is not a list");
    struct store *s;
    if (render_targets_store_new(o->keys, &s, e) < 0) return -1;
    for (size_t i = 0; i < json_object_array_length(targets); i++) {
        json_object *t = json_object_array_get_idx(targets, i), *v;
        if (!json_object_is_type(t, json_type_object)) continue;
        json_object *obj = json_object_new_object(), *md = json_object_new_object();
        json_object_object_foreach(t, k, val) json_object_object_add(obj, k, json_object_get(val));
        const char *name = json_object_object_get_ex(t, "name", &v) ? json_object_get_string(v) : "";
        const char *ns = json_object_object_get_ex(t, "namespace", &v) ? json_object_get_string(v) : "";
        json_object_object_add(md, "name", json_object_new_string(name));
        json_object_object_add(md, "namespace", json_object_new_string(ns));
        json_object_object_add(obj, "metadata", md);
        struct store_event ev;
        struct err ue;
        if (store_upsert_json(s, obj, &ev, &ue) < 0) log_warn("target refused", "name", name, "error", ue.msg);
        json_object_put(obj);
    }
    /* changed when the sets differ in content (same List() order, same hashes) */
    int changed = store_count(s) != store_count(o->targets);
    for (size_t i = 0; !changed && i < store_count(s); i++)
        changed = packed_hash(store_at(s, i)) != packed_hash(store_at(o->targets, i));
    store_free(o->targets);
    o->targets = s;
    return changed;
}

int objects_view(struct objects *o, const struct held_obj *excl, size_t nexcl, struct render_store **out,
                 struct err *e)
{
    struct render_store *copies;
    size_t n;
    *out = NULL;
    if (render_stores_new(o->cfg, o->keys, &copies, &n, e) < 0) return -1;
    for (size_t r = 0; r < o->n; r++) {
        int affected = 0;
        for (size_t i = 0; i < nexcl; i++) affected |= !strcmp(excl[i].resource, o->stores[r].name);
        if (!affected) {
            store_free(copies[r].store);
            copies[r].store = o->stores[r].store;   /* borrowed */
            continue;
        }
        struct store *live = o->stores[r].store, *c = copies[r].store;
        int rc = 0;
        for (size_t i = 0; i < store_count(live) && rc == 0; i++) {
            struct packed *p;
            struct store_event ev;
            if ((rc = packed_copy(o->keys, packed_root(store_at(live, i)), &p, e)) == 0) rc = store_upsert(c, p, &ev, e);
        }
        for (size_t i = 0; i < nexcl && rc == 0; i++) {
            if (strcmp(excl[i].resource, o->stores[r].name)) continue;
            const struct packed *lkg;
            if (!held_lkg_version(o->held, &excl[i], &lkg)) continue;   /* unchanged since the LKG */
            struct store_event ev;
            struct packed *p;
            if (!lkg) rc = store_delete(c, excl[i].namespace_, excl[i].name, &ev, e);
            else if ((rc = packed_copy(o->keys, packed_root(lkg), &p, e)) == 0) rc = store_upsert(c, p, &ev, e);
        }
        if (rc < 0) {
            objects_view_free(o, copies);
            return -1;
        }
    }
    *out = copies;
    return 0;
}

void objects_view_free(struct objects *o, struct render_store *view)
{
    if (!view) return;
    for (size_t r = 0; r < o->n; r++)
        if (view[r].store == o->stores[r].store) view[r].store = NULL;
    render_stores_free(view, o->n);
}

struct json_object *objects_key_json(const char *key)
{
    const char *a = strchr(key, '/'), *b = a ? strchr(a + 1, '/') : NULL;
    json_object *j = json_object_new_object();
    if (!a || !b) return j;
    json_object_object_add(j, "resource", json_object_new_string_len(key, (int)(a - key)));
    json_object_object_add(j, "namespace", json_object_new_string_len(a + 1, (int)(b - a - 1)));
    json_object_object_add(j, "name", json_object_new_string(b + 1));
    return j;
}

static int key_cmp(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

struct json_object *objects_changed_json(const struct objects *o)
{
    /* sorted, so the message is the same whatever order the changes came in */
    size_t n = (size_t)lh_table_length(o->changed), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(char *));
    json_object *arr = json_object_new_array();
    struct lh_entry *le;
    if (!keys) return arr;
    lh_foreach(o->changed, le) keys[i++] = lh_entry_k(le);
    qsort(keys, n, sizeof(char *), key_cmp);
    for (i = 0; i < n; i++) json_object_array_add(arr, objects_key_json(keys[i]));
    free(keys);
    return arr;
}

struct json_object *objects_counts_json(const struct objects *o)
{
    json_object *j = json_object_new_object();
    for (size_t i = 0; i < o->n; i++)
        json_object_object_add(j, o->stores[i].name, json_object_new_int64((int64_t)store_count(o->stores[i].store)));
    return j;
}

int objects_parse_exclude(struct json_object *arr, struct held_obj **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    if (!arr) return 0;
    if (!json_object_is_type(arr, json_type_array) || json_object_array_length(arr) > OBJECTS_EXCLUDE_MAX)
        return err_set(e, "exclude is not a bounded list");
    size_t len = json_object_array_length(arr);
    *out = calloc(len ? len : 1, sizeof(**out));
    if (!*out) return err_set(e, "out of memory");
    for (size_t i = 0; i < len; i++) {
        json_object *it = json_object_array_get_idx(arr, i), *r, *ns, *nm;
        if (!json_object_object_get_ex(it, "resource", &r) || !json_object_object_get_ex(it, "name", &nm)) {
            free(*out);
            *out = NULL;
            return err_set(e, "exclude entry %zu lacks resource or name", i);
        }
        (*out)[i].resource = json_object_get_string(r);
        (*out)[i].name = json_object_get_string(nm);
        (*out)[i].namespace_ = json_object_object_get_ex(it, "namespace", &ns) ? json_object_get_string(ns) : "";
    }
    *n = len;
    return 0;
}

void objects_clear_changed(struct objects *o)
{
    set_clear(&o->changed);
    o->event_ms = 0;
}

int objects_set_excluded(struct objects *o, const struct held_obj *x, size_t n)
{
    set_clear(&o->excluded);
    for (size_t i = 0; i < n; i++) {
        char key[512];
        global_key(key, sizeof(key), x[i].resource, x[i].namespace_, x[i].name);
        if (set_add(o->excluded, key) < 0) return -1;
    }
    return 0;
}

/* ---- store: on-demand ---- */

void objects_render_begin(struct objects *o)
{
    ondemand_cache_begin(o->cache);
    lh_table_free(o->misses);
    o->misses = rv_map();
    o->fetch_error[0] = 0;
}

int objects_resolve(void *data, const char *resource, const struct packed *p, int peek, const struct packed **out)
{
    struct objects *o = data;
    char id[STORE_NAMESPACE_MAX + STORE_NAME_MAX + 2], key[512];
    const char *rv = NULL;
    *out = p;
    if (!ondemand_is_ref(p)) return 1;
    if (ondemand_ident(p, id, sizeof(id), &rv) < 0) return 0;
    snprintf(key, sizeof(key), "%s/%s", resource, id);
    const struct packed *full = ondemand_cache_get(o->cache, key, rv);
    if (full) {
        *out = full;
        return 1;
    }
    if (peek) return 0;
    const char *err = ondemand_cache_error(o->cache, key, rv);
    if (err && !o->fetch_error[0]) snprintf(o->fetch_error, sizeof(o->fetch_error), "%s", err);
    if (!err && rv_map_set(o->misses, key, rv) < 0) log_error("out of memory");
    return 0;
}

/* The live reference's resourceVersion of key "resource/ns/name" (NULL: no such object). */
static const char *live_rv(struct objects *o, const char *key, int *res)
{
    const char *a = strchr(key, '/'), *b = a ? strchr(a + 1, '/') : NULL;
    if (!a || !b) return NULL;
    char rname[128], ns[STORE_NAMESPACE_MAX + 1];
    snprintf(rname, sizeof(rname), "%.*s", (int)(a - key), key);
    snprintf(ns, sizeof(ns), "%.*s", (int)(b - a - 1), a + 1);
    *res = res_index(o, rname);
    if (*res < 0) return NULL;
    const struct packed *p = store_get(o->stores[*res].store, ns, b + 1);
    char id[STORE_NAMESPACE_MAX + STORE_NAME_MAX + 2];
    const char *rv = NULL;
    return p && ondemand_ident(p, id, sizeof(id), &rv) == 0 ? rv : NULL;
}

int objects_after_render(struct objects *o, struct json_object **fetch, struct err *e)
{
    *fetch = json_object_new_array();
    struct json_object *per[64] = {0};   /* a `fetch` message's items per resource (first 64 resources) */
    struct json_object *msg[64] = {0};
    int failed = 0, waiting = 0;
    if (o->fetch_error[0]) {
        err_set(e, "%s", o->fetch_error);
        failed = 1;
    }
    struct lh_entry *le;
    lh_foreach(o->misses, le) {
        const char *key = lh_entry_k(le), *rv = lh_entry_v(le);
        int r = -1;
        const char *cur = live_rv(o, key, &r);
        if (!cur || strcmp(cur, rv) != 0) {
            /* a trial holds it at a version that was replaced and not kept: it cannot be fetched again */
            if (!failed) err_set(e, "on-demand object %s: version %s is not at hand any more (the API serves %s only)",
                                 key, rv, cur ? cur : "none");
            failed = 1;
            continue;
        }
        waiting = 1;
        const char *asked = rv_map_get(o->inflight, key);
        if ((asked && !strcmp(asked, rv)) || r >= 64) continue;
        if (!per[r] || json_object_array_length(per[r]) >= ONDEMAND_FETCH_BATCH) {
            msg[r] = ipc_msg_new("fetch");
            json_object_object_add(msg[r], "resource", json_object_new_string(o->stores[r].name));
            per[r] = json_object_new_array();
            json_object_object_add(msg[r], "items", per[r]);
            json_object_array_add(*fetch, msg[r]);
        }
        struct json_object *it = json_object_new_object();
        const char *id = strchr(key, '/') + 1;
        json_object_object_add(it, "key", json_object_new_string(id));
        json_object_object_add(it, "rv", json_object_new_string(rv));
        json_object_array_add(per[r], it);
        if (rv_map_set(o->inflight, key, rv) < 0) log_error("out of memory");
        o->fetches++;
    }
    /* reported: the next render asks again */
    if (o->fetch_error[0]) ondemand_cache_clear_errors(o->cache);
    return failed ? -1 : waiting;
}

/* Does full carry the content hash the live reference of id ("ns/name") in resource r names? */
static int same_content(struct objects *o, int r, const char *id, const struct packed *full)
{
    const char *slash = strchr(id, '/');
    char ns[STORE_NAMESPACE_MAX + 1];
    if (!slash) return 0;
    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - id), id);
    const struct packed *ref = store_get(o->stores[r].store, ns, slash + 1);
    struct packed_val h;
    const char *hs = ref && packed_get(packed_root(ref), ONDEMAND_HASH_KEY, sizeof(ONDEMAND_HASH_KEY) - 1, &h)
                     ? packed_str(h, NULL) : NULL;
    char mine[24];
    snprintf(mine, sizeof(mine), "%016" PRIx64, packed_hash(full));
    return hs && !strcmp(hs, mine);
}

int objects_apply_fetched(struct objects *o, const char *body, size_t len, struct err *e)
{
    struct packed *frame = NULL;
    if (packed_from_text(o->keys, body, len, NULL, &frame, e) < 0) return -1;
    struct packed_val root = packed_root(frame), obj;
    const char *resource = str_member(root, "resource"), *id = str_member(root, "key");
    const char *rv = str_member(root, "rv"), *want = str_member(root, "want_rv"), *error = str_member(root, "error");
    int r = resource ? res_index(o, resource) : -1, rc = 0;
    char key[512];
    if (r < 0 || !id || !want || !o->res[r].on_demand) {
        packed_free(frame);
        return err_set(e, "fetched for %s, which is not an on-demand resource, or without key", resource ? resource : "(none)");
    }
    snprintf(key, sizeof(key), "%s/%s", resource, id);
    int dummy;
    const char *cur = live_rv(o, key, &dummy);
    if (error) {
        /* gone (404): the delete is on its way, nothing to report; another failure fails the render */
        struct packed_val g;
        int gone = packed_get(root, "gone", 4, &g) && packed_bool(g);
        if (!gone) {
            lh_table_delete(o->inflight, key);
            rc = ondemand_cache_put_error(o->cache, key, want, error) < 0 ? -1 : 1;
        }
    } else if (packed_get(root, "object", 6, &obj) && packed_type(obj) == PACKED_OBJECT) {
        struct packed *p = NULL;
        if (packed_copy(o->keys, obj, &p, e) < 0 || ondemand_cache_put(o->cache, key, rv ? rv : "", p) < 0) {
            rc = -1;
        } else {
            int fits = cur && rv && !strcmp(cur, rv);
            if (!fits && cur && same_content(o, r, id, p)) {
                /* a newer version whose projected content is the reference's (a change the projection hides,
                 * which the reconciler does not forward): it stands for the reference's version */
                struct packed *q = NULL;
                if (packed_copy(o->keys, packed_root(p), &q, e) == 0 && ondemand_cache_put(o->cache, key, cur, q) == 0)
                    fits = 1;
            }
            if (fits) lh_table_delete(o->inflight, key);   /* else: stays asked until the new reference comes */
            rc = fits;
        }
    }
    packed_free(frame);
    return rc;
}
