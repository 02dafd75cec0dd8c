/* Template values: construction, lists and dicts (ordered, arena-backed), Python-compatible truthiness,
 * equality, ordering, str() and repr() (including Python's shortest float repr). Packed and JSON arrays and
 * objects from the caller (the context, natives' results) are read in place (borrowed), never copied. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

tv tmpl_v_str_copy(struct tmpl_call *r, const char *s, size_t n)
{
    if (n > UINT32_MAX - 1) {
        r->failed = 1;
        return v_undef();
    }
    char *d = tmpl_arena_strndup(r->ar, s, n);
    if (!d) {
        r->failed = 1;
        return v_undef();
    }
    return v_strn(d, n);
}

tv tmpl_v_from_json(json_object *j)
{
    tv v = {0};
    switch (json_object_get_type(j)) {
    case json_type_null: v.kind = TMPL_NONE; break;
    case json_type_boolean: v = v_bool(json_object_get_boolean(j)); break;
    case json_type_int: v = v_int(json_object_get_int64(j)); break;
    case json_type_double: v = v_float(json_object_get_double(j)); break;
    case json_type_string: v = v_strn(json_object_get_string(j), (size_t)json_object_get_string_len(j)); break;
    case json_type_array: v.kind = TMPL_JLIST; v.u.j = j; break;
    case json_type_object: v.kind = TMPL_JDICT; v.u.j = j; break;
    }
    return v;
}

tv tmpl_v_from_packed(struct packed_val p)
{
    tv v = {0};
    switch (packed_type(p)) {
    case PACKED_NULL: v.kind = TMPL_NONE; break;
    case PACKED_BOOL: v = v_bool(packed_bool(p)); break;
    case PACKED_INT: v = v_int(packed_int(p)); break;
    case PACKED_DOUBLE: v = v_float(packed_double(p)); break;
    case PACKED_STRING: {
        size_t n;
        const char *s = packed_str(p, &n);
        v = v_strn(s, n);  /* n < PACKED_STRING_MAX, fits len */
        break;
    }
    case PACKED_ARRAY: v.kind = TMPL_PLIST; v.u.pb = p.b; v.len = p.s; break;
    case PACKED_OBJECT: v.kind = TMPL_PDICT; v.u.pb = p.b; v.len = p.s; break;
    }
    return v;
}

tv tmpl_v_list(struct tmpl_call *r, uint32_t cap)
{
    tv v = {0};
    struct tlist *l = tmpl_arena_alloc(r->ar, sizeof(*l));
    if (!l) {
        r->failed = 1;
        return v;
    }
    if (cap) {
        l->it = tmpl_arena_alloc(r->ar, cap * sizeof(tv));
        if (!l->it) {
            r->failed = 1;
            return v;
        }
        l->cap = cap;
    }
    v.kind = TMPL_LIST;
    v.u.p = l;
    return v;
}

tv tmpl_v_dict(struct tmpl_call *r)
{
    tv v = {0};
    struct tdict *d = tmpl_arena_alloc(r->ar, sizeof(*d));
    if (!d) {
        r->failed = 1;
        return v;
    }
    v.kind = TMPL_DICT;
    v.u.p = d;
    return v;
}

int tmpl_list_add(struct tmpl_call *r, tv *list, tv item)
{
    struct tlist *l = list->u.p;
    if (l->len == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 8;
        tv *n = tmpl_arena_realloc(r->ar, l->it, l->cap * sizeof(tv), cap * sizeof(tv));
        if (!n) {
            r->failed = 1;
            return -1;
        }
        l->it = n;
        l->cap = cap;
    }
    l->it[l->len++] = item;
    return 0;
}

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

uint32_t tmpl_v_hash(const tv *v)
{
    switch (v->kind) {
    case TMPL_STR: return hash_bytes(v->u.s, v->len);
    case TMPL_BOOL:
    case TMPL_INT: return (uint32_t)(v->u.i ^ (v->u.i >> 32)) * 2654435761u;
    case TMPL_FLOAT:
        if (v->u.f == floor(v->u.f) && fabs(v->u.f) < 9e18) {
            int64_t i = (int64_t)v->u.f;
            return (uint32_t)(i ^ (i >> 32)) * 2654435761u;
        }
        return hash_bytes((const char *)&v->u.f, sizeof(double));
    case TMPL_NONE: return 7;
    default: return (uint32_t)((uintptr_t)v->u.p >> 4);
    }
}

static void dict_reindex(struct tdict *d, struct tmpl_call *r)
{
    uint32_t icap = 16;
    while (icap < d->len * 2 + 2) icap *= 2;
    uint32_t *idx = tmpl_arena_alloc(r->ar, icap * sizeof(uint32_t));
    if (!idx) {
        d->idx = NULL;
        d->icap = 0;
        return;
    }
    for (uint32_t i = 0; i < d->len; i++) {
        uint32_t p = d->e[i].h & (icap - 1);
        while (idx[p]) p = (p + 1) & (icap - 1);
        idx[p] = i + 1;
    }
    d->idx = idx;
    d->icap = icap;
}

static inline int key_eq(const tv *k, const tv *key)
{
    if (key->kind == TMPL_STR)  /* the common case, without a call */
        return k->kind == TMPL_STR && k->len == key->len && (k->u.s == key->u.s || !memcmp(k->u.s, key->u.s, key->len));
    return tmpl_v_eq(k, key);
}

static int64_t dict_find(const struct tdict *d, const tv *key, uint32_t h)
{
    if (d->idx) {
        uint32_t p = h & (d->icap - 1);
        while (d->idx[p]) {
            const struct tdent *e = &d->e[d->idx[p] - 1];
            if (e->h == h && key_eq(&e->k, key)) return d->idx[p] - 1;
            p = (p + 1) & (d->icap - 1);
        }
        return -1;
    }
    for (uint32_t i = 0; i < d->len; i++)
        if (d->e[i].h == h && key_eq(&d->e[i].k, key)) return i;
    return -1;
}

int tmpl_dict_put(struct tmpl_call *r, tv *dict, tv key, tv val)
{
    struct tdict *d = dict->u.p;
    uint32_t h = tmpl_v_hash(&key);
    int64_t i = dict_find(d, &key, h);
    if (i >= 0) {
        d->e[i].v = val;
        return 0;
    }
    if (d->len == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 8;
        struct tdent *n = tmpl_arena_realloc(r->ar, d->e, d->cap * sizeof(*n), cap * sizeof(*n));
        if (!n) {
            r->failed = 1;
            return -1;
        }
        d->e = n;
        d->cap = cap;
    }
    d->e[d->len].k = key;
    d->e[d->len].v = val;
    d->e[d->len].h = h;
    d->len++;
    if (d->len > 8 && (!d->idx || d->len * 2 >= d->icap)) dict_reindex(d, r);
    else if (d->idx) {
        uint32_t p = h & (d->icap - 1);
        while (d->idx[p]) p = (p + 1) & (d->icap - 1);
        d->idx[p] = d->len;
    }
    return 0;
}

/* json-c's own lookup compares every probed key with strcmp; small objects (the common case: metadata,
 * spec...) are faster to scan in insertion order comparing lengths first. */
#define JDICT_SCAN_MAX 12

int tmpl_dict_get(const tv *dict, const tv *key, tv *out)
{
    if (dict->kind == TMPL_PDICT) {
        struct packed_val x;
        if (key->kind != TMPL_STR || !packed_get(pv_of(dict), key->u.s, key->len, &x)) return 0;
        *out = tmpl_v_from_packed(x);
        return 1;
    }
    if (dict->kind == TMPL_JDICT) {
        if (key->kind != TMPL_STR) return 0;
        struct lh_table *t = json_object_get_object(dict->u.j);
        if (!t) return 0;
        if (t->count <= JDICT_SCAN_MAX) {
            for (struct lh_entry *e = t->head; e; e = e->next) {
                const char *k = (const char *)lh_entry_k(e);
                uint32_t i = 0;
                while (i < key->len && k[i] == key->u.s[i] && k[i]) i++;  /* stops at k's end */
                if (i == key->len && k[i] == '\0') {
                    *out = tmpl_v_from_json((json_object *)lh_entry_v(e));
                    return 1;
                }
            }
            return 0;
        }
        char tmp[256];
        const char *k = key->u.s;
        if (k[key->len] != '\0' || strlen(k) != key->len) {
            if (key->len >= sizeof(tmp) || memchr(k, 0, key->len)) return 0;
            memcpy(tmp, k, key->len);
            tmp[key->len] = '\0';
            k = tmp;
        }
        json_object *j;
        if (!json_object_object_get_ex(dict->u.j, k, &j)) return 0;
        *out = tmpl_v_from_json(j);
        return 1;
    }
    if (dict->kind != TMPL_DICT) return 0;
    const struct tdict *d = dict->u.p;
    int64_t i = dict_find(d, key, tmpl_v_hash(key));
    if (i < 0) return 0;
    *out = d->e[i].v;
    return 1;
}

int tmpl_dict_get_h(const tv *dict, const tv *key, uint32_t h, tv *out)
{
    const struct tdict *d = dict->u.p;
    int64_t i = dict_find(d, key, h);
    if (i < 0) return 0;
    *out = d->e[i].v;
    return 1;
}

int tmpl_dict_get_str(const tv *dict, const char *key, tv *out)
{
    tv k = v_strn(key, strlen(key));
    return tmpl_dict_get(dict, &k, out);
}

int tmpl_dict_del(struct tmpl_call *r, tv *dict, const tv *key, tv *out)
{
    struct tdict *d = dict->u.p;
    int64_t i = dict_find(d, key, tmpl_v_hash(key));
    if (i < 0) return 0;
    if (out) *out = d->e[i].v;
    memmove(&d->e[i], &d->e[i + 1], (d->len - (uint32_t)i - 1) * sizeof(struct tdent));
    d->len--;
    if (d->idx) dict_reindex(d, r);
    return 1;
}

size_t tmpl_utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

size_t tmpl_utf8_offset(const char *s, size_t n, size_t cps)
{
    size_t i = 0, c = 0;
    while (i < n) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (c == cps) return i;
            c++;
        }
        i++;
    }
    return n;
}

size_t tmpl_v_len(const tv *v)
{
    switch (v->kind) {
    case TMPL_STR: return tmpl_utf8_len(v->u.s, v->len);
    case TMPL_LIST: return ((struct tlist *)v->u.p)->len;
    case TMPL_DICT: return ((struct tdict *)v->u.p)->len;
    case TMPL_JLIST: return json_object_array_length(v->u.j);
    case TMPL_JDICT: return (size_t)json_object_object_length(v->u.j);
    case TMPL_PLIST:
    case TMPL_PDICT: return packed_len(pv_of(v));
    default: return 0;
    }
}

int tmpl_v_is_seq(const tv *v) { return v->kind == TMPL_LIST || v->kind == TMPL_JLIST || v->kind == TMPL_PLIST; }
int tmpl_v_is_map(const tv *v)
{
    return (v->kind == TMPL_DICT && !(v->flags & (VF_NS | VF_MODULE))) || v->kind == TMPL_JDICT || v->kind == TMPL_PDICT;
}

tv tmpl_seq_at(const tv *v, size_t i)
{
    if (v->kind == TMPL_LIST) return ((struct tlist *)v->u.p)->it[i];
    if (v->kind == TMPL_PLIST) {
        struct packed_val x = {0};
        packed_at(pv_of(v), i, &x);
        return tmpl_v_from_packed(x);
    }
    return tmpl_v_from_json(json_object_array_get_idx(v->u.j, i));
}

size_t tmpl_map_entries(struct tmpl_call *r, const tv *m, tv **keys, tv **vals)
{
    size_t n = tmpl_v_len(m);
    *keys = tmpl_arena_alloc(r->ar, (n ? n : 1) * sizeof(tv));
    if (vals) *vals = tmpl_arena_alloc(r->ar, (n ? n : 1) * sizeof(tv));
    if (!*keys || (vals && !*vals)) {
        r->failed = 1;
        return 0;
    }
    if (m->kind == TMPL_DICT) {
        const struct tdict *d = m->u.p;
        for (uint32_t i = 0; i < d->len; i++) {
            (*keys)[i] = d->e[i].k;
            if (vals) (*vals)[i] = d->e[i].v;
        }
        return d->len;
    }
    if (m->kind == TMPL_PDICT) {
        for (size_t i = 0; i < n; i++) {
            const char *k;
            size_t kl;
            struct packed_val x;
            packed_member(pv_of(m), i, &k, &kl, &x);
            (*keys)[i] = v_strn(k, kl);
            if (vals) (*vals)[i] = tmpl_v_from_packed(x);
        }
        return n;
    }
    size_t i = 0;
    json_object_object_foreach(m->u.j, k, val) {
        if (i >= n) break;
        (*keys)[i] = v_strn(k, strlen(k));
        if (vals) (*vals)[i] = tmpl_v_from_json(val);
        i++;
    }
    return i;
}

const char *tmpl_kind_name(const tv *v)
{
    switch (v->kind) {
    case TMPL_UNDEF: return "Undefined";
    case TMPL_NONE: return "NoneType";
    case TMPL_BOOL: return "bool";
    case TMPL_INT: return "int";
    case TMPL_FLOAT: return "float";
    case TMPL_STR: return "str";
    case TMPL_LIST: return v->flags & VF_TUPLE ? "tuple" : "list";
    case TMPL_JLIST:
    case TMPL_PLIST: return "list";
    case TMPL_DICT: return v->flags & VF_NS ? "Namespace" : v->flags & VF_MODULE ? "TemplateModule" : "dict";
    case TMPL_JDICT:
    case TMPL_PDICT: return "dict";
    case TMPL_MACRO: return "Macro";
    case TMPL_FUNC: return "function";
    case TMPL_LOOP: return "LoopContext";
    case TMPL_NATIVE: return v->u.nat->ops->type_name ? v->u.nat->ops->type_name : "native";
    }
    return "object";
}

int tmpl_v_iter(struct tmpl_call *r, const struct node *n, tv *v, tv **items, size_t *count)
{
    size_t len;
    switch (v->kind) {
    case TMPL_UNDEF:
        if (tmpl_check_undef(r, n, v) < 0) return -1;
        *items = NULL;
        *count = 0;
        return 0;
    case TMPL_LIST: {
        struct tlist *l = v->u.p;
        *items = tmpl_arena_alloc(r->ar, (l->len ? l->len : 1) * sizeof(tv));
        if (!*items) return tmpl_rerr(r, n, "out of memory");
        if (l->len) memcpy(*items, l->it, l->len * sizeof(tv));
        *count = l->len;
        return 0;
    }
    case TMPL_JLIST:
        len = json_object_array_length(v->u.j);
        *items = tmpl_arena_alloc(r->ar, (len ? len : 1) * sizeof(tv));
        if (!*items) return tmpl_rerr(r, n, "out of memory");
        for (size_t i = 0; i < len; i++) (*items)[i] = tmpl_v_from_json(json_object_array_get_idx(v->u.j, i));
        *count = len;
        return 0;
    case TMPL_PLIST: {
        struct packed_val p = pv_of(v);
        len = packed_len(p);
        *items = tmpl_arena_alloc(r->ar, (len ? len : 1) * sizeof(tv));
        if (!*items) return tmpl_rerr(r, n, "out of memory");
        for (size_t i = 0; i < len; i++) {
            struct packed_val x;
            packed_at(p, i, &x);
            (*items)[i] = tmpl_v_from_packed(x);
        }
        *count = len;
        return 0;
    }
    case TMPL_DICT:
    case TMPL_JDICT:
    case TMPL_PDICT:
        if (v->flags & VF_NS) return tmpl_rerr(r, n, "'Namespace' object is not iterable");
        *count = tmpl_map_entries(r, v, items, NULL);
        if (r->failed) return tmpl_rerr(r, n, "out of memory");
        return 0;
    case TMPL_STR: {
        len = v->len;  /* bytes: an upper bound even for invalid UTF-8 (stray continuation bytes) */
        *items = tmpl_arena_alloc(r->ar, (len ? len : 1) * sizeof(tv));
        if (!*items) return tmpl_rerr(r, n, "out of memory");
        size_t i = 0, k = 0;
        while (i < v->len) {
            size_t j = i + 1;
            while (j < v->len && ((unsigned char)v->u.s[j] & 0xC0) == 0x80) j++;
            (*items)[k++] = v_strn(v->u.s + i, j - i);
            i = j;
        }
        *count = k;
        return 0;
    }
    default:
        return tmpl_rerr(r, n, "'%s' object is not iterable", tmpl_kind_name(v));
    }
}

int tmpl_v_truthy(const tv *v)
{
    switch (v->kind) {
    case TMPL_UNDEF:
    case TMPL_NONE: return 0;
    case TMPL_BOOL:
    case TMPL_INT: return v->u.i != 0;
    case TMPL_FLOAT: return v->u.f != 0.0;
    case TMPL_STR: return v->len != 0;
    case TMPL_LIST:
    case TMPL_JLIST:
    case TMPL_JDICT:
    case TMPL_PLIST:
    case TMPL_PDICT: return tmpl_v_len(v) != 0;
    case TMPL_DICT: return (v->flags & (VF_NS | VF_MODULE)) ? 1 : tmpl_v_len(v) != 0;
    default: return 1;
    }
}

int tmpl_v_is_num(const tv *v) { return v->kind == TMPL_INT || v->kind == TMPL_FLOAT || v->kind == TMPL_BOOL; }
double tmpl_v_num(const tv *v) { return v->kind == TMPL_FLOAT ? v->u.f : (double)v->u.i; }

/* Containers nest at most this deep in comparisons and repr(): a structure that contains itself (possible
 * through append/update) or absurd nesting must not exhaust the C stack. */
#define VALUE_NEST_MAX 200

static int eq_d(const tv *a, const tv *b, int depth);

int tmpl_v_eq(const tv *a, const tv *b) { return eq_d(a, b, 0); }

static int eq_d(const tv *a, const tv *b, int depth)
{
    if (depth > VALUE_NEST_MAX) return 0;
    if (a->kind == b->kind && (a->kind == TMPL_LIST || a->kind == TMPL_DICT) && a->u.p == b->u.p &&
        (a->flags & VF_TUPLE) == (b->flags & VF_TUPLE))
        return 1;  /* the same object, as Python's identity shortcut */
    if (a->kind == b->kind && (a->kind == TMPL_PLIST || a->kind == TMPL_PDICT) && a->u.pb == b->u.pb && a->len == b->len)
        return 1;  /* the same packed value */
    if (tmpl_v_is_num(a) && tmpl_v_is_num(b)) {
        if (a->kind != TMPL_FLOAT && b->kind != TMPL_FLOAT) return a->u.i == b->u.i;
        return tmpl_v_num(a) == tmpl_v_num(b);
    }
    if (a->kind == TMPL_STR && b->kind == TMPL_STR)
        return a->len == b->len && (a->u.s == b->u.s || memcmp(a->u.s, b->u.s, a->len) == 0);
    if (tmpl_v_is_seq(a) && tmpl_v_is_seq(b)) {
        if ((a->flags & VF_TUPLE) != (b->flags & VF_TUPLE)) return 0;
        if ((a->kind == TMPL_LIST ? a->flags & VF_VIEW_ITEMS : 0) != (b->kind == TMPL_LIST ? b->flags & VF_VIEW_ITEMS : 0))
            return 0;  /* a dict view never equals a list */
        size_t n = tmpl_v_len(a);
        if (n != tmpl_v_len(b)) return 0;
        for (size_t i = 0; i < n; i++) {
            tv x = tmpl_seq_at(a, i), y = tmpl_seq_at(b, i);
            if (!eq_d(&x, &y, depth + 1)) return 0;
        }
        return 1;
    }
    if (tmpl_v_is_map(a) && tmpl_v_is_map(b)) {
        if (tmpl_v_len(a) != tmpl_v_len(b)) return 0;
        if (a->kind == TMPL_JDICT) {
            json_object_object_foreach(a->u.j, k, val) {
                tv x = tmpl_v_from_json(val), y;
                if (!tmpl_dict_get_str(b, k, &y) || !eq_d(&x, &y, depth + 1)) return 0;
            }
            return 1;
        }
        if (a->kind == TMPL_PDICT) {
            for (size_t i = 0, n = tmpl_v_len(a); i < n; i++) {
                const char *k;
                size_t kl;
                struct packed_val p;
                packed_member(pv_of(a), i, &k, &kl, &p);
                tv x = tmpl_v_from_packed(p), key = v_strn(k, kl), y;
                if (!tmpl_dict_get(b, &key, &y) || !eq_d(&x, &y, depth + 1)) return 0;
            }
            return 1;
        }
        const struct tdict *d = a->u.p;
        for (uint32_t i = 0; i < d->len; i++) {
            tv y;
            if (!tmpl_dict_get(b, &d->e[i].k, &y) || !eq_d(&d->e[i].v, &y, depth + 1)) return 0;
        }
        return 1;
    }
    if (a->kind != b->kind) return 0;
    if (a->kind == TMPL_UNDEF || a->kind == TMPL_NONE) return 1;
    return a->u.p == b->u.p;
}

static int cmp_d(const tv *a, const tv *b, int *cmp, int depth);

int tmpl_v_cmp(const tv *a, const tv *b, int *cmp) { return cmp_d(a, b, cmp, 0); }

static int cmp_d(const tv *a, const tv *b, int *cmp, int depth)
{
    if (depth > VALUE_NEST_MAX) return -1;
    if (tmpl_v_is_num(a) && tmpl_v_is_num(b)) {
        if (a->kind != TMPL_FLOAT && b->kind != TMPL_FLOAT) *cmp = (a->u.i > b->u.i) - (a->u.i < b->u.i);
        else {
            double x = tmpl_v_num(a), y = tmpl_v_num(b);
            *cmp = (x > y) - (x < y);
        }
        return 0;
    }
    if (a->kind == TMPL_STR && b->kind == TMPL_STR) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->u.s, b->u.s, n);
        *cmp = c ? (c > 0) - (c < 0) : (a->len > b->len) - (a->len < b->len);
        return 0;
    }
    if (tmpl_v_is_seq(a) && tmpl_v_is_seq(b) && (a->flags & VF_TUPLE) == (b->flags & VF_TUPLE)) {
        size_t na = tmpl_v_len(a), nb = tmpl_v_len(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            tv x = tmpl_seq_at(a, i), y = tmpl_seq_at(b, i);
            if (eq_d(&x, &y, depth + 1)) continue;
            return cmp_d(&x, &y, cmp, depth + 1);
        }
        *cmp = (na > nb) - (na < nb);
        return 0;
    }
    return -1;
}

void tmpl_fmt_float(double d, struct buf *b)
{
    if (isnan(d)) { buf_puts(b, "nan"); return; }
    if (isinf(d)) { buf_puts(b, d < 0 ? "-inf" : "inf"); return; }
    if (d == 0) { buf_puts(b, signbit(d) ? "-0.0" : "0.0"); return; }
    char tmp[64];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* tmp: [-]D[.DDD]e[+-]XX */
    char digits[32];
    int nd = 0, neg = 0;
    const char *s = tmp;
    if (*s == '-') { neg = 1; s++; }
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9') digits[nd++] = *s;
    int e = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (neg) buf_putc(b, '-');
    if (e >= -4 && e < 16) {
        if (e >= 0) {
            for (int i = 0; i <= e; i++) buf_putc(b, i < nd ? digits[i] : '0');
            buf_putc(b, '.');
            if (nd > e + 1) buf_append(b, digits + e + 1, (size_t)(nd - e - 1));
            else buf_putc(b, '0');
        } else {
            buf_puts(b, "0.");
            for (int i = 0; i < -e - 1; i++) buf_putc(b, '0');
            buf_append(b, digits, (size_t)nd);
        }
    } else {
        buf_putc(b, digits[0]);
        if (nd > 1) {
            buf_putc(b, '.');
            buf_append(b, digits + 1, (size_t)(nd - 1));
        }
        buf_printf(b, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
}

static void repr_str(const char *s, size_t n, struct buf *b)
{
    char q = '\'';
    if (memchr(s, '\'', n) && !memchr(s, '"', n)) q = '"';
    buf_putc(b, q);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == (unsigned char)q || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
        } else if (c == '\n') buf_puts(b, "\\n");
        else if (c == '\r') buf_puts(b, "\\r");
        else if (c == '\t') buf_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f) buf_printf(b, "\\x%02x", c);
        else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                 ((unsigned char)s[i + 1] <= 0xA0 || (unsigned char)s[i + 1] == 0xAD)) {
            buf_printf(b, "\\x%02x", (unsigned char)s[i + 1]);
            i++;
        } else if ((c == 0xE1 || c == 0xE2 || c == 0xE3 || c == 0xEF) && i + 2 < n) {
            /* the non-printable separators and format characters Python escapes as \uXXXX */
            uint32_t cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)((unsigned char)s[i + 1] & 0x3F) << 6) |
                          ((unsigned char)s[i + 2] & 0x3F);
            if (cp == 0x1680 || cp == 0x180E || (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
                (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF) {
                buf_printf(b, "\\u%04x", cp);
                i += 2;
            } else {
                buf_putc(b, (char)c);
            }
        } else buf_putc(b, (char)c);
    }
    buf_putc(b, q);
}

struct repr_stack {
    const void *seen[VALUE_NEST_MAX + 1];
    int n;
};

static void repr_d(const tv *v, struct buf *b, struct repr_stack *st);

void tmpl_v_repr(const tv *v, struct buf *b)
{
    struct repr_stack st;
    st.n = 0;
    repr_d(v, b, &st);
}

static void repr_d(const tv *v, struct buf *b, struct repr_stack *st)
{
    /* Only the engine's own containers can contain themselves; packed values share their block pointer, so
     * they are not tracked (their nesting is bounded by PACKED_DEPTH_MAX, below VALUE_NEST_MAX). */
    int tracked = v->kind == TMPL_LIST || v->kind == TMPL_DICT || v->kind == TMPL_JLIST || v->kind == TMPL_JDICT;
    if (tracked) {
        int dict = v->kind == TMPL_DICT || v->kind == TMPL_JDICT;
        for (int k = 0; k < st->n; k++)
            if (st->seen[k] == v->u.p) {  /* contains itself: Python prints [...] / {...} */
                buf_puts(b, !dict ? "[...]" : (v->flags & VF_NS) ? "<Namespace {...}>" : "{...}");
                return;
            }
        if (st->n > VALUE_NEST_MAX) {
            buf_puts(b, "...");
            return;
        }
        st->seen[st->n++] = v->u.p;
    }
    switch (v->kind) {
    case TMPL_STR: repr_str(v->u.s, v->len, b); return;
    case TMPL_UNDEF: buf_puts(b, "Undefined"); return;  /* repr() of Jinja's Undefined */
    case TMPL_LIST:
    case TMPL_JLIST:
    case TMPL_PLIST: {
        int tuple = v->flags & VF_TUPLE;
        int view = v->kind == TMPL_LIST ? (v->flags & VF_VIEW_ITEMS) : 0;
        if (view) buf_puts(b, view == VF_VIEW_KEYS ? "dict_keys(" : view == VF_VIEW_VALUES ? "dict_values(" : "dict_items(");
        size_t n = tmpl_v_len(v);
        buf_putc(b, tuple ? '(' : '[');
        for (size_t i = 0; i < n; i++) {
            if (i) buf_puts(b, ", ");
            tv x = tmpl_seq_at(v, i);
            repr_d(&x, b, st);
        }
        if (tuple && n == 1) buf_putc(b, ',');
        buf_putc(b, tuple ? ')' : ']');
        if (view) buf_putc(b, ')');
        if (tracked) st->n--;
        return;
    }
    case TMPL_PDICT:
        buf_putc(b, '{');
        for (size_t i = 0, n = tmpl_v_len(v); i < n; i++) {
            const char *k;
            size_t kl;
            struct packed_val p;
            packed_member(pv_of(v), i, &k, &kl, &p);
            if (i) buf_puts(b, ", ");
            repr_str(k, kl, b);
            buf_puts(b, ": ");
            tv x = tmpl_v_from_packed(p);
            repr_d(&x, b, st);
        }
        buf_putc(b, '}');
        return;
    case TMPL_DICT:
    case TMPL_JDICT: {
        if (v->flags & VF_NS) buf_puts(b, "<Namespace ");
        buf_putc(b, '{');
        int first = 1;
        if (v->kind == TMPL_JDICT) {
            json_object_object_foreach(v->u.j, k, val) {
                if (!first) buf_puts(b, ", ");
                first = 0;
                repr_str(k, strlen(k), b);
                buf_puts(b, ": ");
                tv x = tmpl_v_from_json(val);
                repr_d(&x, b, st);
            }
        } else {
            const struct tdict *d = v->u.p;
            for (uint32_t i = 0; i < d->len; i++) {
                if (i) buf_puts(b, ", ");
                repr_d(&d->e[i].k, b, st);
                buf_puts(b, ": ");
                repr_d(&d->e[i].v, b, st);
            }
        }
        buf_putc(b, '}');
        if (v->flags & VF_NS) buf_putc(b, '>');
        st->n--;
        return;
    }
    default:
        tmpl_v_to_str(NULL, NULL, v, b);
    }
}

int tmpl_v_to_str(struct tmpl_call *r, const struct node *n, const tv *v, struct buf *b)
{
    switch (v->kind) {
    case TMPL_UNDEF:
        if (r && tmpl_check_undef(r, n, v) < 0) return -1;
        return 0;
    case TMPL_NONE: buf_puts(b, "None"); return 0;
    case TMPL_BOOL: buf_puts(b, v->u.i ? "True" : "False"); return 0;
    case TMPL_INT: {
        char tmp[24];
        char *p = tmp + sizeof(tmp);
        uint64_t u = v->u.i < 0 ? (uint64_t)0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v->u.i < 0) *--p = '-';
        buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
        return 0;
    }
    case TMPL_FLOAT: tmpl_fmt_float(v->u.f, b); return 0;
    case TMPL_STR: buf_append(b, v->u.s, v->len); return 0;
    case TMPL_LIST:
    case TMPL_JLIST:
    case TMPL_JDICT:
    case TMPL_PLIST:
    case TMPL_PDICT: tmpl_v_repr(v, b); return 0;
    case TMPL_DICT:
        if (v->flags & VF_MODULE) {
            buf_puts(b, "<TemplateModule>");
            return 0;
        }
        tmpl_v_repr(v, b);
        return 0;
    case TMPL_MACRO: {
        const struct tmacro *m = v->u.p;
        if (m->name) buf_printf(b, "<Macro '%s'>", m->name);
        else buf_puts(b, "<Macro 'caller'>");
        return 0;
    }
    case TMPL_FUNC: {
        const struct tfunc *f = v->u.p;
        buf_printf(b, "<built-in method %s>", f->name);
        return 0;
    }
    case TMPL_LOOP: {
        const struct tloop *l = v->u.p;
        buf_printf(b, "<LoopContext %lld/%lld>", (long long)l->index0 + 1, (long long)l->length);
        return 0;
    }
    case TMPL_NATIVE: buf_printf(b, "<%s>", tmpl_kind_name(v)); return 0;
    }
    return 0;
}

int tmpl_v_str(struct tmpl_call *r, const struct node *n, const tv *v, tv *out)
{
    if (v->kind == TMPL_STR) {
        *out = *v;
        out->flags = 0;
        return 0;
    }
    struct buf b;
    buf_init(&b);
    if (tmpl_v_to_str(r, n, v, &b) < 0) {
        buf_free(&b);
        return -1;
    }
    if (b.oom) {
        buf_free(&b);
        return tmpl_rerr(r, n, "out of memory");
    }
    *out = tmpl_v_str_copy(r, buf_cstr(&b), b.len);
    buf_free(&b);
    if (r->failed && out->kind == TMPL_UNDEF) return tmpl_rerr(r, n, "out of memory");
    return 0;
}

/* ---- public constructors ---- */
struct tmpl_value tmpl_value_none(void) { return v_none(); }
struct tmpl_value tmpl_value_bool(int b) { return v_bool(b); }
struct tmpl_value tmpl_value_int(int64_t i) { return v_int(i); }
struct tmpl_value tmpl_value_json(json_object *j) { return tmpl_v_from_json(j); }
struct tmpl_value tmpl_value_packed(struct packed_val v) { return tmpl_v_from_packed(v); }
struct tmpl_value tmpl_value_native(struct tmpl_native *n)
{
    tv v = {0};
    v.kind = TMPL_NATIVE;
    v.u.nat = n;
    return v;
}
struct tmpl_value tmpl_value_str(struct tmpl_call *c, const char *s, size_t n) { return tmpl_v_str_copy(c, s, n); }
struct tmpl_value tmpl_list_new(struct tmpl_call *c) { return tmpl_v_list(c, 0); }
int tmpl_list_push(struct tmpl_call *c, struct tmpl_value *list, struct tmpl_value item)
{
    if (list->kind != TMPL_LIST) return -1;
    return tmpl_list_add(c, list, item);
}
struct tmpl_value tmpl_dict_new(struct tmpl_call *c) { return tmpl_v_dict(c); }
int tmpl_dict_set(struct tmpl_call *c, struct tmpl_value *dict, const char *key, struct tmpl_value v)
{
    if (dict->kind != TMPL_DICT) return -1;
    tv k = tmpl_v_str_copy(c, key, strlen(key));
    if (k.kind != TMPL_STR) return -1;
    return tmpl_dict_put(c, dict, k, v);
}

const char *tmpl_value_cstr(const struct tmpl_value *v, size_t *len)
{
    if (v->kind != TMPL_STR) return NULL;
    if (len) *len = v->len;
    return v->u.s;
}

int tmpl_value_get(const struct tmpl_value *dict, const char *key, struct tmpl_value *out)
{
    return tmpl_dict_get_str(dict, key, out);
}
