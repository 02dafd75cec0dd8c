/* See ondemand.h. The cache is a json-c hash table by key; trimming scans it (the cache holds at most a few
 * thousand entries, and trims run once per fetched object). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/linkhash.h>

#include "common/store/ondemand.h"

/* ---- references ---- */

static int append_json_string(struct buf *out, const char *s, size_t n)
{
    if (buf_append(out, "\"", 1) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            if (buf_append(out, esc, 2) < 0) return -1;
        } else if (ch < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", ch);
            if (buf_append(out, esc, 6) < 0) return -1;
        } else if (buf_append(out, s + i, 1) < 0) {
            return -1;
        }
    }
    return buf_append(out, "\"", 1);
}

/* Does some path start with the member name (depth 0: its first step; depth 1: metadata.<name>)? */
static int wanted(const struct packed_path *const *paths, size_t n, int depth, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        const struct packed_path *p = paths[i];
        if (p->n <= (size_t)depth) continue;
        if (depth == 1 && (p->steps[0].index >= 0 || strcmp(p->steps[0].name, "metadata") != 0)) continue;
        const struct packed_path_step *s = &p->steps[depth];
        if (s->index < 0 && s->len == len && memcmp(s->name, name, len) == 0) return 1;
    }
    return 0;
}

static int append_member(struct buf *out, int *first, const char *k, size_t kl, struct packed_val v)
{
    if (!*first && buf_append(out, ",", 1) < 0) return -1;
    *first = 0;
    if (append_json_string(out, k, kl) < 0 || buf_append(out, ":", 1) < 0) return -1;
    return packed_to_json(v, out);
}

int ondemand_ref_json(const struct packed *full, const struct packed_path *const *paths, size_t n, struct buf *out)
{
    struct packed_val root = packed_root(full), md;
    int first = 1;
    if (buf_append(out, "{", 1) < 0) return -1;
    if (packed_get(root, "metadata", 8, &md) && packed_type(md) == PACKED_OBJECT) {
        if (buf_append(out, "\"metadata\":{", 12) < 0) return -1;
        int mfirst = 1;
        for (size_t i = 0; i < packed_len(md); i++) {
            const char *k;
            size_t kl;
            struct packed_val v;
            packed_member(md, i, &k, &kl, &v);
            int keep = !strcmp(k, "name") || !strcmp(k, "namespace") || !strcmp(k, "resourceVersion") ||
                       wanted(paths, n, 1, k, kl);
            if (keep && append_member(out, &mfirst, k, kl, v) < 0) return -1;
        }
        if (buf_append(out, "}", 1) < 0) return -1;
        first = 0;
    }
    for (size_t i = 0; i < packed_len(root); i++) {
        const char *k;
        size_t kl;
        struct packed_val v;
        packed_member(root, i, &k, &kl, &v);
        if (!strcmp(k, "metadata") || !wanted(paths, n, 0, k, kl)) continue;
        if (append_member(out, &first, k, kl, v) < 0) return -1;
    }
    char h[64];
    int hl = snprintf(h, sizeof(h), "%s\"" ONDEMAND_HASH_KEY "\":\"%016" PRIx64 "\"}", first ? "" : ",",
                      packed_hash(full));
    return buf_append(out, h, (size_t)hl);
}

int ondemand_is_ref(const struct packed *p)
{
    struct packed_val v;
    return packed_get(packed_root(p), ONDEMAND_HASH_KEY, sizeof(ONDEMAND_HASH_KEY) - 1, &v);
}

int ondemand_ident(const struct packed *p, char *key, size_t cap, const char **rv)
{
    struct packed_val md, v;
    const char *ns = "", *name = NULL;
    *rv = NULL;
    if (!packed_get(packed_root(p), "metadata", 8, &md)) return -1;
    if (packed_get(md, "name", 4, &v)) name = packed_str(v, NULL);
    if (packed_get(md, "namespace", 9, &v) && packed_str(v, NULL)) ns = packed_str(v, NULL);
    if (packed_get(md, "resourceVersion", 15, &v)) *rv = packed_str(v, NULL);
    if (!name) return -1;
    snprintf(key, cap, "%s/%s", ns, name);
    return 0;
}

/* ---- cache ---- */

struct centry {
    char *rv;            /* owned */
    struct packed *p;    /* owned; NULL for an error entry */
    char *error;         /* owned; NULL for an object */
    uint64_t used;       /* the render epoch that last read it (or that it was stored in) */
};

struct ondemand_cache {
    struct lh_table *t;  /* key (owned) -> struct centry (owned) */
    size_t max_bytes, bytes;
    uint64_t epoch;
};

static void centry_free(struct centry *ce)
{
    if (!ce) return;
    packed_free(ce->p);
    free(ce->rv);
    free(ce->error);
    free(ce);
}

static void free_lh(struct lh_entry *le)
{
    free(lh_entry_k(le));
    centry_free((struct centry *)lh_entry_v(le));
}

struct ondemand_cache *ondemand_cache_new(size_t max_bytes)
{
    struct ondemand_cache *c = calloc(1, sizeof(*c));
    if (!c || !(c->t = lh_kchar_table_new(64, free_lh))) {
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    c->epoch = 1;
    return c;
}

void ondemand_cache_free(struct ondemand_cache *c)
{
    if (!c) return;
    lh_table_free(c->t);
    free(c);
}

void ondemand_cache_begin(struct ondemand_cache *c) { c->epoch++; }

static struct centry *find(const struct ondemand_cache *c, const char *key)
{
    void *v = NULL;
    return lh_table_lookup_ex(c->t, key, &v) ? v : NULL;
}

const struct packed *ondemand_cache_get(struct ondemand_cache *c, const char *key, const char *rv)
{
    struct centry *ce = find(c, key);
    if (!ce || !ce->p || !rv || strcmp(ce->rv, rv) != 0) return NULL;
    ce->used = c->epoch;
    return ce->p;
}

const char *ondemand_cache_error(const struct ondemand_cache *c, const char *key, const char *rv)
{
    struct centry *ce = find(c, key);
    return ce && ce->error && rv && !strcmp(ce->rv, rv) ? ce->error : NULL;
}

static void drop(struct ondemand_cache *c, const char *key)
{
    struct centry *ce = find(c, key);
    if (!ce) return;
    if (ce->p) c->bytes -= packed_size(ce->p);
    lh_table_delete(c->t, key);
}

/* Least recently used first, never what the newest render (the current epoch, or the one before while no
 * render has begun since) read. */
static void trim(struct ondemand_cache *c)
{
    while (c->bytes > c->max_bytes) {
        struct lh_entry *le, *victim = NULL;
        uint64_t oldest = UINT64_MAX;
        lh_foreach(c->t, le) {
            struct centry *ce = (struct centry *)lh_entry_v(le);
            if (ce->p && ce->used + 1 < c->epoch && ce->used < oldest) {
                oldest = ce->used;
                victim = le;
            }
        }
        if (!victim) return;   /* all in the working set */
        drop(c, lh_entry_k(victim));
    }
}

static int put(struct ondemand_cache *c, const char *key, const char *rv, struct packed *p, const char *msg)
{
    struct centry *ce = calloc(1, sizeof(*ce));
    char *k = strdup(key);
    if (ce) {
        ce->rv = strdup(rv ? rv : "");
        ce->p = p;
        ce->error = msg ? strdup(msg) : NULL;
        ce->used = c->epoch;
    }
    if (!ce || !k || !ce->rv || (msg && !ce->error)) {
        centry_free(ce);
        free(k);
        return -1;
    }
    drop(c, key);
    if (lh_table_insert(c->t, k, ce) < 0) {
        centry_free(ce);
        free(k);
        return -1;
    }
    if (p) c->bytes += packed_size(p);
    trim(c);
    return 0;
}

int ondemand_cache_put(struct ondemand_cache *c, const char *key, const char *rv, struct packed *p)
{
    if (put(c, key, rv, p, NULL) < 0) {
        packed_free(p);
        return -1;
    }
    return 0;
}

int ondemand_cache_put_error(struct ondemand_cache *c, const char *key, const char *rv, const char *msg)
{
    return put(c, key, rv, NULL, msg);
}

void ondemand_cache_evict(struct ondemand_cache *c, const char *key, const char *keep_rv)
{
    struct centry *ce = find(c, key);
    if (ce && !(keep_rv && ce->p && !strcmp(ce->rv, keep_rv))) drop(c, key);
}

void ondemand_cache_clear_errors(struct ondemand_cache *c)
{
    struct lh_entry *le, *tmp;
    lh_foreach_safe(c->t, le, tmp) {
        if (((struct centry *)lh_entry_v(le))->error) lh_table_delete_entry(c->t, le);
    }
}

size_t ondemand_cache_count(const struct ondemand_cache *c) { return (size_t)lh_table_length(c->t); }
size_t ondemand_cache_bytes(const struct ondemand_cache *c) { return c->bytes; }
