/* The indexed watched-resource store (see store.h): a hash table by namespace/name for identity, and an
 * array of the same entries kept in List() order, sorted lazily (only when read after a change), so an
 * initial sync of N objects costs one O(N log N) sort rather than N insertions. Fetch is a binary search
 * for the first entry whose leading index keys match. Index values are views into the blocks (strings) or
 * formatted into the entry (integers, booleans). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/store/packed_internal.h"
#include "common/store/packed_path.h"
#include "common/store/store.h"

#define STORE_FMT_MAX 24   /* a formatted int64 or boolean index value, with its NUL */

struct view {
    const char *s;
    uint32_t len;
};

struct entry {
    struct packed *p;      /* owned */
    size_t pos;            /* index in the sorted array */
    uint64_t idhash;       /* of namespace/name */
    uint32_t nfmt;         /* formatted index values after key[] */
    struct view ns, name;  /* into p */
    struct view key[];     /* index values: into p, or into the formatted text after the array */
};

struct store {
    char *name;                        /* owned */
    struct packed_keys *k;             /* borrowed */
    const struct packed_proj *proj;    /* borrowed */
    struct packed_path *paths[STORE_INDEX_MAX];   /* owned, the index */
    size_t npaths;
    struct packed_path *p_name, *p_ns, *p_rv;     /* owned: metadata.name, .namespace, .resourceVersion */
    struct entry **ht;                 /* owned table of borrowed entries: open addressing by identity */
    size_t htcap;
    struct entry **sorted;             /* owned array, owns the entries */
    size_t n, cap;
    int dirty;                         /* sorted needs sorting */
    size_t bytes;                      /* blocks and entries */
};

static size_t entry_size(size_t nkeys) { return sizeof(struct entry) + nkeys * sizeof(struct view); }
static size_t entry_bytes(const struct entry *en, size_t nkeys) { return entry_size(nkeys) + en->nfmt * STORE_FMT_MAX; }

static void entry_free(struct entry *en)
{
    if (!en) return;
    packed_free(en->p);
    free(en);
}

void store_free(struct store *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) entry_free(s->sorted[i]);
    free(s->sorted);
    free(s->ht);
    for (size_t i = 0; i < s->npaths; i++) packed_path_free(s->paths[i]);
    packed_path_free(s->p_name);
    packed_path_free(s->p_ns);
    packed_path_free(s->p_rv);
    free(s->name);
    free(s);
}

int store_new(struct packed_keys *k, const char *name, const char *const *index_by, size_t n,
              const struct packed_proj *proj, struct store **out, struct err *e)
{
    if (n == 0 || n > STORE_INDEX_MAX)
        return err_set(e, "%s: index_by needs 1 to %d paths, not %zu", name, STORE_INDEX_MAX, n);
    struct store *s = calloc(1, sizeof(*s));
    if (!s || !(s->name = strdup(name)) || !(s->ht = calloc(16, sizeof(*s->ht)))) {
        store_free(s);
        return err_set(e, "out of memory");
    }
    s->htcap = 16;
    s->k = k;
    s->proj = proj;
    for (size_t i = 0; i < n; i++) {
        struct err pe = {0};
        if (packed_path_compile(k, index_by[i], &s->paths[i], &pe) < 0) {
            store_free(s);
            return err_set(e, "%s: index_by[%zu]: %s", name, i, pe.msg);
        }
        s->npaths++;
    }
    if (packed_path_compile(k, "metadata.name", &s->p_name, e) < 0 ||
        packed_path_compile(k, "metadata.namespace", &s->p_ns, e) < 0 ||
        packed_path_compile(k, "metadata.resourceVersion", &s->p_rv, e) < 0) {
        store_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

static uint64_t id_hash(const char *ns, size_t nl, const char *name, size_t nm)
{
    return pk_hash_bytes(name, nm, pk_hash_bytes(ns, nl, 0x5707e));
}

static int same_id(const struct entry *en, const char *ns, size_t nl, const char *name, size_t nm)
{
    return en->ns.len == nl && en->name.len == nm && memcmp(en->ns.s, ns, nl) == 0 && memcmp(en->name.s, name, nm) == 0;
}

/* Slot of namespace/name in the table: the entry's, or the empty one where it would go. */
static size_t ht_find(const struct store *s, uint64_t h, const char *ns, size_t nl, const char *name, size_t nm)
{
    size_t m = s->htcap - 1, i = (size_t)h & m;
    while (s->ht[i] && !(s->ht[i]->idhash == h && same_id(s->ht[i], ns, nl, name, nm))) i = (i + 1) & m;
    return i;
}

static int ht_grow(struct store *s)
{
    size_t cap = s->htcap * 2;
    struct entry **ht = calloc(cap, sizeof(*ht));
    if (!ht) return -1;
    for (size_t i = 0; i < s->htcap; i++) {
        if (!s->ht[i]) continue;
        size_t j = (size_t)s->ht[i]->idhash & (cap - 1);
        while (ht[j]) j = (j + 1) & (cap - 1);
        ht[j] = s->ht[i];
    }
    free(s->ht);
    s->ht = ht;
    s->htcap = cap;
    return 0;
}

static void ht_remove(struct store *s, size_t i)
{
    size_t m = s->htcap - 1, hole = i;
    for (size_t q = (i + 1) & m; s->ht[q]; q = (q + 1) & m) {
        size_t home = (size_t)s->ht[q]->idhash & m;
        int stays = hole <= q ? (home > hole && home <= q) : (home > hole || home <= q);
        if (!stays) {
            s->ht[hole] = s->ht[q];
            hole = q;
        }
    }
    s->ht[hole] = NULL;
}

static void copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static void fill_event(struct store_event *ev, enum store_change c, const struct entry *en, const struct store *s)
{
    if (!ev) return;
    ev->change = c;
    copy_str(ev->namespace_, sizeof(ev->namespace_), en->ns.s, en->ns.len);
    copy_str(ev->name, sizeof(ev->name), en->name.s, en->name.len);
    struct packed_val rv;
    size_t rl = 0;
    const char *r = packed_path_eval(s->p_rv, packed_root(en->p), &rv) ? packed_str(rv, &rl) : NULL;
    copy_str(ev->resource_version, sizeof(ev->resource_version), r ? r : "", r ? rl : 0);
    ev->hash = c == STORE_DELETED ? 0 : packed_hash(en->p);
}

/* Builds the entry of block p (taking it), or fails naming the object and what is wrong. */
static int make_entry(struct store *s, struct packed *p, struct entry **out, struct err *e)
{
    struct packed_val root = packed_root(p), v;
    size_t nl = 0, nm = 0;
    const char *ns = "", *name = packed_path_eval(s->p_name, root, &v) ? packed_str(v, &nm) : NULL;
    if (!name || nm == 0) {
        packed_free(p);
        return err_set(e, "%s: object without a metadata.name string", s->name);
    }
    if (packed_path_eval(s->p_ns, root, &v)) {
        if (!(ns = packed_str(v, &nl))) {
            packed_free(p);
            return err_set(e, "%s: %.*s: metadata.namespace is not a string", s->name, (int)nm, name);
        }
    }
    if (nm > STORE_NAME_MAX || nl > STORE_NAMESPACE_MAX) {
        packed_free(p);
        return err_set(e, "%s: name or namespace too long (%zu, %zu; at most %d, %d)", s->name, nm, nl,
                       STORE_NAME_MAX, STORE_NAMESPACE_MAX);
    }
    /* the index values first: only integers and booleans need room in the entry for their text */
    struct packed_val kv[STORE_INDEX_MAX];
    size_t nfmt = 0;
    for (size_t i = 0; i < s->npaths; i++) {
        const struct packed_path *path = s->paths[i];
        if (!packed_path_eval(path, root, &kv[i])) {
            if (strcmp(path->src, "metadata.namespace") == 0) {   /* cluster-scoped object */
                kv[i] = (struct packed_val){0};
                continue;
            }
            err_set(e, "%s: %s%s%.*s: index key %s is missing", s->name, ns, nl ? "/" : "", (int)nm, name, path->src);
            packed_free(p);
            return -1;
        }
        enum packed_type t = packed_type(kv[i]);
        if (t == PACKED_INT || t == PACKED_BOOL) {
            nfmt++;
        } else if (t != PACKED_STRING) {
            err_set(e, "%s: %s%s%.*s: index key %s is not a string, integer or boolean", s->name, ns, nl ? "/" : "",
                    (int)nm, name, path->src);
            packed_free(p);
            return -1;
        }
    }
    size_t base = entry_size(s->npaths);
    struct entry *en = malloc(base + nfmt * STORE_FMT_MAX);
    if (!en) {
        packed_free(p);
        return err_set(e, "out of memory");
    }
    en->p = p;
    en->ns = (struct view){ns, (uint32_t)nl};
    en->name = (struct view){name, (uint32_t)nm};
    en->idhash = id_hash(ns, nl, name, nm);
    en->nfmt = (uint32_t)nfmt;
    char *f = (char *)en + base;
    for (size_t i = 0; i < s->npaths; i++) {
        struct view *out_kv = &en->key[i];
        size_t len;
        if (!kv[i].b) {
            *out_kv = (struct view){"", 0};
        } else if (packed_type(kv[i]) == PACKED_STRING) {
            out_kv->s = packed_str(kv[i], &len);
            out_kv->len = (uint32_t)len;
        } else {
            int w = packed_type(kv[i]) == PACKED_INT ? snprintf(f, STORE_FMT_MAX, "%" PRId64, packed_int(kv[i]))
                                                     : snprintf(f, STORE_FMT_MAX, "%s", packed_bool(kv[i]) ? "true" : "false");
            *out_kv = (struct view){f, (uint32_t)w};
            f += STORE_FMT_MAX;
        }
    }
    *out = en;
    return 0;
}

static int view_cmp(struct view a, const char *b, size_t bl)
{
    size_t n = a.len < bl ? a.len : bl;
    int c = memcmp(a.s, b, n);
    return c ? c : (a.len > bl) - (a.len < bl);
}

static size_t sort_nkeys;   /* qsort has no context argument in C11; stores sort one at a time */

static int entry_cmp(const void *x, const void *y)
{
    const struct entry *a = *(struct entry *const *)x, *b = *(struct entry *const *)y;
    for (size_t i = 0; i < sort_nkeys; i++) {
        int c = view_cmp(a->key[i], b->key[i].s, b->key[i].len);
        if (c) return c;
    }
    int c = view_cmp(a->ns, b->ns.s, b->ns.len);
    return c ? c : view_cmp(a->name, b->name.s, b->name.len);
}

static void ensure_sorted(struct store *s)
{
    if (!s->dirty) return;
    sort_nkeys = s->npaths;
    qsort(s->sorted, s->n, sizeof(*s->sorted), entry_cmp);
    for (size_t i = 0; i < s->n; i++) s->sorted[i]->pos = i;
    s->dirty = 0;
}

int store_upsert(struct store *s, struct packed *p, struct store_event *ev, struct err *e)
{
    if (p && packed_keys_of(p) != s->k) {
        packed_free(p);
        return err_set(e, "%s: object built with another key table", s->name);
    }
    struct entry *en = NULL;
    if (!p || make_entry(s, p, &en, e) < 0) return -1;
    size_t i = ht_find(s, en->idhash, en->ns.s, en->ns.len, en->name.s, en->name.len);
    struct entry *old = s->ht[i];
    if (old) {
        int same = packed_hash(old->p) == packed_hash(en->p);
        for (size_t k = 0; k < s->npaths && !s->dirty; k++)
            if (view_cmp(old->key[k], en->key[k].s, en->key[k].len)) s->dirty = 1;
        en->pos = old->pos;
        s->sorted[en->pos] = en;
        s->ht[i] = en;
        s->bytes += packed_size(en->p) + entry_bytes(en, s->npaths);
        s->bytes -= packed_size(old->p) + entry_bytes(old, s->npaths);
        fill_event(ev, same ? STORE_UNCHANGED : STORE_UPDATED, en, s);
        entry_free(old);
        return 0;
    }
    if ((s->n + 1) * 4 > s->htcap * 3) {
        if (ht_grow(s) < 0) {
            entry_free(en);
            return err_set(e, "out of memory");
        }
        i = ht_find(s, en->idhash, en->ns.s, en->ns.len, en->name.s, en->name.len);
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct entry **a = realloc(s->sorted, cap * sizeof(*a));
        if (!a) {
            entry_free(en);
            return err_set(e, "out of memory");
        }
        s->sorted = a;
        s->cap = cap;
    }
    en->pos = s->n;
    s->sorted[s->n++] = en;
    s->ht[i] = en;
    s->dirty = 1;
    s->bytes += packed_size(en->p) + entry_bytes(en, s->npaths);
    fill_event(ev, STORE_ADDED, en, s);
    return 0;
}

int store_upsert_json(struct store *s, json_object *obj, struct store_event *ev, struct err *e)
{
    struct packed *p;
    if (packed_from_json(s->k, obj, s->proj, &p, e) < 0) return -1;
    return store_upsert(s, p, ev, e);
}

int store_upsert_text(struct store *s, const char *text, size_t len, struct store_event *ev, struct err *e)
{
    struct packed *p;
    if (packed_from_text(s->k, text, len, s->proj, &p, e) < 0) return -1;
    return store_upsert(s, p, ev, e);
}

int store_delete(struct store *s, const char *ns, const char *name, struct store_event *ev, struct err *e)
{
    if (!ns) ns = "";
    size_t nl = strlen(ns), nm = strlen(name);
    size_t i = ht_find(s, id_hash(ns, nl, name, nm), ns, nl, name, nm);
    struct entry *en = s->ht[i];
    if (!en) {
        if (ev) {
            memset(ev, 0, sizeof(*ev));
            ev->change = STORE_UNCHANGED;
            copy_str(ev->namespace_, sizeof(ev->namespace_), ns, nl);
            copy_str(ev->name, sizeof(ev->name), name, nm);
        }
        return 0;
    }
    fill_event(ev, STORE_DELETED, en, s);
    ht_remove(s, i);
    struct entry *last = s->sorted[--s->n];
    if (last != en) {
        last->pos = en->pos;
        s->sorted[en->pos] = last;
        s->dirty = 1;
    }
    s->bytes -= packed_size(en->p) + entry_bytes(en, s->npaths);
    entry_free(en);
    return 0;
}

int store_delete_json(struct store *s, json_object *obj, struct store_event *ev, struct err *e)
{
    json_object *md, *ns = NULL, *name;
    if (!json_object_object_get_ex(obj, "metadata", &md) || !json_object_object_get_ex(md, "name", &name) ||
        !json_object_is_type(name, json_type_string))
        return err_set(e, "%s: deleted object without a metadata.name string", s->name);
    json_object_object_get_ex(md, "namespace", &ns);
    return store_delete(s, json_object_is_type(ns, json_type_string) ? json_object_get_string(ns) : "",
                        json_object_get_string(name), ev, e);
}

size_t store_count(const struct store *s) { return s->n; }

size_t store_bytes(const struct store *s)
{
    return sizeof(*s) + s->bytes + s->htcap * sizeof(*s->ht) + s->cap * sizeof(*s->sorted);
}

const struct packed *store_at(struct store *s, size_t i)
{
    ensure_sorted(s);
    return i < s->n ? s->sorted[i]->p : NULL;
}

const struct packed *store_get(const struct store *s, const char *ns, const char *name)
{
    if (!ns) ns = "";
    size_t nl = strlen(ns), nm = strlen(name);
    struct entry *en = s->ht[ht_find(s, id_hash(ns, nl, name, nm), ns, nl, name, nm)];
    return en ? en->p : NULL;
}

/* <0, 0, >0: entry's first n keys against the query. */
static int prefix_cmp(const struct entry *en, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int c = view_cmp(en->key[i], keys[i], strlen(keys[i]));
        if (c) return c;
    }
    return 0;
}

int store_fetch(struct store *s, const char *const *keys, size_t n, size_t *first, size_t *count, struct err *e)
{
    if (n == 0 || n > s->npaths)
        return err_set(e, "%s: Fetch takes 1 to %zu keys (index_by), not %zu", s->name, s->npaths, n);
    ensure_sorted(s);
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (prefix_cmp(s->sorted[mid], keys, n) < 0) lo = mid + 1;
        else hi = mid;
    }
    size_t end = lo;
    while (end < s->n && prefix_cmp(s->sorted[end], keys, n) == 0) end++;
    *first = lo;
    *count = end - lo;
    return 0;
}

int store_get_single(struct store *s, const char *const *keys, size_t n, const struct packed **out, struct err *e)
{
    size_t first, count;
    *out = NULL;
    if (store_fetch(s, keys, n, &first, &count, e) < 0) return -1;
    if (count > 1) return err_set(e, "%s: GetSingle matched %zu objects, expected at most one", s->name, count);
    if (count) *out = s->sorted[first]->p;
    return 0;
}
