/* Building packed blocks: the builder both input paths drive (strings, numbers, containers emitted when
 * they close), the json-c path (the informer's: one json-c tree alive at a time, owned by the caller), the
 * canonical copy, the projection trie applied while converting, and freeing a block with its key
 * references. The text path (no json-c tree) is packed_parse.c; readers are packed_read.c. */
#include <math.h>
#include <stdlib.h>

#include "common/store/packed_internal.h"
#include "common/store/packed_path.h"

#define BUILD_WORDS_INIT 256   /* first word-region size: a projected Ingress needs about 150 words */
#define BUILD_STR_INIT 1024    /* first string-region size */

void pk_builder_init(struct pk_builder *b, struct packed_keys *k, struct err *e)
{
    memset(b, 0, sizeof(*b));
    b->k = k;
    b->e = e;
    b->wn = PK_HDR_WORDS;   /* the header becomes words 0..7 of the block */
}

void pk_builder_free(struct pk_builder *b)
{
    free(b->w);
    free(b->s);
    free(b->pk);
    free(b->pv);
    free(b->sortbuf);
    for (size_t i = 0; i < b->nkn; i++) pk_keys_release(b->k, b->newkeys[i]);
    free(b->newkeys);
    memset(b, 0, sizeof(*b));
}

static int too_big(struct pk_builder *b)
{
    return err_set(b->e, "value larger than %zu bytes packed", PACKED_BLOCK_MAX);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem, size_t init)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : init;
    while (c < need) c *= 2;
    void *n = realloc(*p, c * elem);
    if (!n) return -1;
    *p = n;
    *cap = c;
    return 0;
}

/* Reserves n words at the end of the word region; returns their index or -1. */
static int64_t words(struct pk_builder *b, size_t n)
{
    if ((b->wn + n) * 4 + b->sn > PACKED_BLOCK_MAX) return too_big(b);
    if (grow((void **)&b->w, &b->wcap, b->wn + n, 4, BUILD_WORDS_INIT) < 0) return err_set(b->e, "out of memory");
    size_t at = b->wn;
    b->wn += n;
    return (int64_t)at;
}

int pk_use_key(struct pk_builder *b, const char *s, size_t n, uint32_t *id)
{
    int created;
    if (pk_keys_intern(b->k, s, n, id, &created, b->e) < 0) return -1;
    if (created) {
        if (grow((void **)&b->newkeys, &b->nkcap, b->nkn + 1, 4, 16) < 0) {
            pk_keys_release(b->k, *id);
            return err_set(b->e, "out of memory");
        }
        b->newkeys[b->nkn++] = *id;
    }
    return 0;
}

int pk_string(struct pk_builder *b, const char *s, size_t n, uint32_t *slot)
{
    if (n > PACKED_STRING_MAX) return err_set(b->e, "string of %zu bytes (at most %zu)", n, PACKED_STRING_MAX);
    if (b->wn * 4 + b->sn + n + 5 > PACKED_BLOCK_MAX) return too_big(b);
    if (grow((void **)&b->s, &b->scap, b->sn + n + 5, 1, BUILD_STR_INIT) < 0) return err_set(b->e, "out of memory");
    *slot = PK_MK(PK_STR, b->sn);
    unsigned char *q = (unsigned char *)b->s + b->sn;
    size_t v = n;
    while (v >= 0x80) {
        *q++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *q++ = (unsigned char)v;
    memcpy(q, s, n);
    q[n] = 0;
    b->sn = (size_t)((char *)q + n + 1 - b->s);
    return 0;
}

int pk_int(struct pk_builder *b, int64_t i, uint32_t *slot)
{
    if (i >= PK_SMALL_MIN && i <= PK_SMALL_MAX) {
        *slot = PK_MK(PK_SMALLINT, (uint32_t)i & (PK_PAY_MAX - 1));
        return 0;
    }
    int64_t at = words(b, 2);
    if (at < 0) return -1;
    memcpy(&b->w[at], &i, 8);
    *slot = PK_MK(PK_BIGINT, at);
    return 0;
}

int pk_double(struct pk_builder *b, double d, uint32_t *slot)
{
    if (!isfinite(d)) return err_set(b->e, "number is not finite (JSON has no NaN or Infinity)");
    int64_t at = words(b, 2);
    if (at < 0) return -1;
    memcpy(&b->w[at], &d, 8);
    *slot = PK_MK(PK_DBL, at);
    return 0;
}

int pk_push(struct pk_builder *b, uint32_t key, uint32_t slot)
{
    if (b->pn >= PACKED_BLOCK_MAX / 4) return too_big(b);
    if (b->pn == b->pcap) {
        size_t cap = b->pcap ? b->pcap * 2 : 64;
        uint32_t *k = realloc(b->pk, cap * 4);
        if (!k) return err_set(b->e, "out of memory");
        b->pk = k;
        uint32_t *v = realloc(b->pv, cap * 4);
        if (!v) return err_set(b->e, "out of memory");
        b->pv = v;
        b->pcap = cap;
    }
    b->pk[b->pn] = key;
    b->pv[b->pn++] = slot;
    return 0;
}

int pk_close_array(struct pk_builder *b, size_t mark, uint32_t *slot)
{
    size_t n = b->pn - mark;
    if (n > PACKED_MEMBERS_MAX) return err_set(b->e, "array of %zu elements (at most %zu)", n, PACKED_MEMBERS_MAX);
    int64_t at = words(b, 1 + n);
    if (at < 0) return -1;
    b->w[at] = (uint32_t)n;
    if (n) memcpy(&b->w[at + 1], &b->pv[mark], n * 4);
    b->pn = mark;
    *slot = PK_MK(PK_ARR, at);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts (key id, position) of the n pending members at mark into sortbuf. */
static int sort_members(struct pk_builder *b, size_t mark, size_t n)
{
    if (grow((void **)&b->sortbuf, &b->sortcap, n, 8, 16) < 0) return err_set(b->e, "out of memory");
    for (size_t i = 0; i < n; i++) b->sortbuf[i] = (uint64_t)b->pk[mark + i] << 32 | i;
    qsort(b->sortbuf, n, 8, cmp_u64);
    return 0;
}

/* JSON text may repeat a key; like json-c (and Python) the member keeps its first position and takes the
 * last value. The earlier values stay behind in the regions as garbage, so the block is copied at the end. */
static int collapse_duplicates(struct pk_builder *b, size_t mark, size_t *np)
{
    size_t n = *np;
    if (sort_members(b, mark, n) < 0) return -1;
    int any = 0;
    for (size_t i = 1; i < n; i++)
        if (b->sortbuf[i] >> 32 == b->sortbuf[i - 1] >> 32) any = 1;
    if (!any) return 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && b->sortbuf[j + 1] >> 32 == b->sortbuf[i] >> 32) j++;
        uint32_t first = (uint32_t)b->sortbuf[i], last = (uint32_t)b->sortbuf[j];
        b->pv[mark + first] = b->pv[mark + last];
        for (size_t r = i + 1; r <= j; r++) b->pk[mark + (uint32_t)b->sortbuf[r]] = PK_NOKEY;
        i = j + 1;
    }
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (b->pk[mark + i] == PK_NOKEY) continue;
        b->pk[mark + out] = b->pk[mark + i];
        b->pv[mark + out++] = b->pv[mark + i];
    }
    *np = out;
    b->pn = mark + out;
    b->dup = 1;
    return sort_members(b, mark, out);
}

int pk_close_object(struct pk_builder *b, size_t mark, uint32_t *slot)
{
    size_t n = b->pn - mark;
    if (n > PACKED_MEMBERS_MAX) return err_set(b->e, "object of %zu members (at most %zu)", n, PACKED_MEMBERS_MAX);
    int sorted = 0;
    if (n > PACKED_SCAN_MAX) {
        if (collapse_duplicates(b, mark, &n) < 0) return -1;
        sorted = 1;
    } else {
        for (size_t i = 1; i < n && !sorted; i++)
            for (size_t j = 0; j < i; j++)
                if (b->pk[mark + i] == b->pk[mark + j]) {
                    if (collapse_duplicates(b, mark, &n) < 0) return -1;
                    sorted = 1;
                    break;
                }
    }
    int idx = n > PACKED_SCAN_MAX;
    if (idx && !sorted && sort_members(b, mark, n) < 0) return -1;
    int64_t at = words(b, 1 + 2 * n + (idx ? n : 0));
    if (at < 0) return -1;
    b->w[at] = (uint32_t)n;
    if (n) {
        memcpy(&b->w[at + 1], &b->pk[mark], n * 4);
        memcpy(&b->w[at + 1 + n], &b->pv[mark], n * 4);
    }
    if (idx)
        for (size_t i = 0; i < n; i++) b->w[at + 1 + 2 * n + i] = (uint32_t)b->sortbuf[i];
    b->pn = mark;
    *slot = PK_MK(PK_OBJ, at);
    return 0;
}

static int copy_val(struct pk_builder *b, const struct packed *src, uint32_t s, int depth, uint32_t *out);

int pk_finish(struct pk_builder *b, uint32_t root, struct packed **out)
{
    size_t wb = b->wn * 4, total = wb + b->sn;
    if (total > PACKED_BLOCK_MAX) {
        too_big(b);
        pk_builder_free(b);
        return -1;
    }
    /* the word region becomes the block: a large one grows in place (mremap), nothing is copied twice */
    char *blk = realloc(b->w, total);
    if (!blk) {
        err_set(b->e, "out of memory");
        pk_builder_free(b);
        return -1;
    }
    b->w = NULL;
    if (b->sn) memcpy(blk + wb, b->s, b->sn);
    struct packed *p = (struct packed *)(void *)blk;
    p->keys = b->k;
    p->hash = 0;
    p->size = (uint32_t)total;
    p->str_off = (uint32_t)wb;
    p->root = root;
    p->nwords = (uint32_t)b->wn;
    if (b->dup) {
        struct pk_builder b2;
        pk_builder_init(&b2, b->k, b->e);
        uint32_t r2;
        int rc = copy_val(&b2, p, root, 0, &r2);
        free(p);   /* no references were taken for it */
        if (rc < 0) {
            pk_builder_free(&b2);
            pk_builder_free(b);
            return -1;
        }
        rc = pk_finish(&b2, r2, out);
        pk_builder_free(b);   /* keys created by this build are referenced by the copy now, or freed */
        return rc;
    }
    pk_refs(p, +1);
    p->hash = pk_content_hash(p);
    *out = p;
    pk_builder_free(b);
    return 0;
}

/* --- from json-c --- */

static int depth_err(struct pk_builder *b)
{
    return err_set(b->e, "nested deeper than %d", PACKED_DEPTH_MAX);
}

static int from_json(struct pk_builder *b, json_object *j, const struct packed_proj *proj, int depth, uint32_t *out)
{
    switch (json_object_get_type(j)) {
    case json_type_null: *out = PK_NULL; return 0;
    case json_type_boolean: *out = json_object_get_boolean(j) ? PK_TRUE : PK_FALSE; return 0;
    case json_type_int: {
        int64_t i = json_object_get_int64(j);
        if (i == INT64_MAX && json_object_get_uint64(j) > (uint64_t)INT64_MAX)
            return err_set(b->e, "integer out of the int64 range");
        return pk_int(b, i, out);
    }
    case json_type_double: return pk_double(b, json_object_get_double(j), out);
    case json_type_string:
        return pk_string(b, json_object_get_string(j), (size_t)json_object_get_string_len(j), out);
    case json_type_array: {
        if (depth >= PACKED_DEPTH_MAX) return depth_err(b);
        size_t mark = b->pn, n = json_object_array_length(j);
        for (size_t i = 0; i < n; i++) {
            uint32_t s;
            if (from_json(b, json_object_array_get_idx(j, i), NULL, depth + 1, &s) < 0 || pk_push(b, PK_NOKEY, s) < 0)
                return -1;
        }
        return pk_close_array(b, mark, out);
    }
    case json_type_object: {
        if (depth >= PACKED_DEPTH_MAX) return depth_err(b);
        size_t mark = b->pn;
        json_object_object_foreach(j, k, v) {
            size_t kl = strlen(k);
            const struct packed_proj *pc = proj ? pk_proj_child(proj, k, kl) : NULL;
            if (pc && pc->drop) continue;
            uint32_t id, s;
            if (pk_use_key(b, k, kl, &id) < 0 || from_json(b, v, pc, depth + 1, &s) < 0 || pk_push(b, id, s) < 0)
                return -1;
        }
        return pk_close_object(b, mark, out);
    }
    }
    return err_set(b->e, "unknown json-c type");
}

int packed_from_json(struct packed_keys *k, json_object *j, const struct packed_proj *proj, struct packed **out,
                     struct err *e)
{
    struct pk_builder b;
    pk_builder_init(&b, k, e);
    uint32_t root;
    if (from_json(&b, j, proj, 0, &root) < 0) {
        pk_builder_free(&b);
        return -1;
    }
    return pk_finish(&b, root, out);
}

/* --- canonical copy --- */

static int copy_val(struct pk_builder *b, const struct packed *src, uint32_t s, int depth, uint32_t *out)
{
    const uint32_t *W = pk_words(src);
    uint32_t pay = PK_PAY(s);
    switch (PK_TAG(s)) {
    case PK_SMALLINT: case PK_CONST: *out = s; return 0;
    case PK_BIGINT: { int64_t i; memcpy(&i, &W[pay], 8); return pk_int(b, i, out); }
    case PK_DBL: { double d; memcpy(&d, &W[pay], 8); return pk_double(b, d, out); }
    case PK_STR: { size_t n; const char *str = pk_strat(src, pay, &n); return pk_string(b, str, n, out); }
    case PK_ARR: {
        if (depth >= PACKED_DEPTH_MAX) return depth_err(b);
        size_t mark = b->pn, n = W[pay];
        for (size_t i = 0; i < n; i++) {
            uint32_t c;
            if (copy_val(b, src, W[pay + 1 + i], depth + 1, &c) < 0 || pk_push(b, PK_NOKEY, c) < 0) return -1;
        }
        return pk_close_array(b, mark, out);
    }
    case PK_OBJ: {
        if (depth >= PACKED_DEPTH_MAX) return depth_err(b);
        size_t mark = b->pn, n = W[pay];
        for (size_t i = 0; i < n; i++) {
            uint32_t id = W[pay + 1 + i], c;
            if (src->keys != b->k) {   /* another table: intern by text */
                const struct pk_key *key = pk_keyent(src->keys, id);
                if (pk_use_key(b, key->s, key->len, &id) < 0) return -1;
            }
            if (copy_val(b, src, W[pay + 1 + n + i], depth + 1, &c) < 0 || pk_push(b, id, c) < 0) return -1;
        }
        return pk_close_object(b, mark, out);
    }
    }
    return err_set(b->e, "corrupt packed slot");
}

int packed_copy(struct packed_keys *k, struct packed_val v, struct packed **out, struct err *e)
{
    struct pk_builder b;
    pk_builder_init(&b, k, e);
    uint32_t root;
    if (copy_val(&b, v.b, v.s, 0, &root) < 0) {
        pk_builder_free(&b);
        return -1;
    }
    return pk_finish(&b, root, out);
}

/* --- references and hashes --- */

static void refs_val(const struct packed *p, uint32_t s, int delta)
{
    const uint32_t *W = pk_words(p);
    uint32_t pay = PK_PAY(s);
    if (PK_TAG(s) == PK_ARR) {
        for (uint32_t i = 0, n = W[pay]; i < n; i++) refs_val(p, W[pay + 1 + i], delta);
    } else if (PK_TAG(s) == PK_OBJ) {
        uint32_t n = W[pay];
        for (uint32_t i = 0; i < n; i++) {
            uint32_t id = W[pay + 1 + i];
            struct pk_key *key = pk_keyent(p->keys, id);
            if (delta > 0) {
                key->refs++;
            } else if (--key->refs == 0) {
                pk_keys_release(p->keys, id);
            }
            refs_val(p, W[pay + 1 + n + i], delta);
        }
    }
}

void pk_refs(const struct packed *p, int delta) { refs_val(p, p->root, delta); }

void packed_free(struct packed *p)
{
    if (!p) return;
    pk_refs(p, -1);
    free(p);
}

static inline uint64_t comb(uint64_t h, uint64_t x)
{
    return pk_mix(h ^ (x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

static int key_is(const struct packed *p, uint32_t id, const char *s, size_t n)
{
    const struct pk_key *k = pk_keyent(p->keys, id);
    return k->len == n && memcmp(k->s, s, n) == 0;
}

/* level: 0 inside, 1 the root object, 2 the root's metadata (whose resourceVersion is left out). */
static uint64_t hash_val(const struct packed *p, uint32_t s, int level)
{
    const uint32_t *W = pk_words(p);
    uint32_t pay = PK_PAY(s);
    switch (PK_TAG(s)) {
    case PK_SMALLINT: case PK_BIGINT: {
        int64_t i;
        if (PK_TAG(s) == PK_SMALLINT) i = (int64_t)((int32_t)s >> 3);
        else memcpy(&i, &W[pay], 8);
        return comb(0x11, (uint64_t)i);
    }
    case PK_CONST: return comb(0x22, pay);
    case PK_DBL: { uint64_t u; memcpy(&u, &W[pay], 8); return comb(0x33, u); }
    case PK_STR: { size_t n; const char *str = pk_strat(p, pay, &n); return pk_hash_bytes(str, n, 0x44); }
    case PK_ARR: {
        uint64_t h = comb(0x55, W[pay]);
        for (uint32_t i = 0, n = W[pay]; i < n; i++) h = comb(h, hash_val(p, W[pay + 1 + i], 0));
        return h;
    }
    case PK_OBJ: {
        uint32_t n = W[pay];
        uint64_t h = 0x66;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t id = W[pay + 1 + i];
            int sub = 0;
            if (level == 2 && key_is(p, id, "resourceVersion", 15)) continue;
            if (level == 1 && key_is(p, id, "metadata", 8)) sub = 2;
            h = comb(comb(h, pk_keyent(p->keys, id)->hash), hash_val(p, W[pay + 1 + n + i], sub));
        }
        return h;
    }
    }
    return 0;
}

uint64_t pk_content_hash(const struct packed *p) { return hash_val(p, p->root, 1); }

/* --- projection --- */

const struct packed_proj *pk_proj_child(const struct packed_proj *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->nkids; i++)
        if (p->kids[i].len == len && memcmp(p->kids[i].name, name, len) == 0) return &p->kids[i];
    return NULL;
}

static void proj_clear(struct packed_proj *p)
{
    for (size_t i = 0; i < p->nkids; i++) proj_clear(&p->kids[i]);
    free(p->kids);
    free(p->name);
}

void packed_proj_free(struct packed_proj *p)
{
    if (!p) return;
    proj_clear(p);
    free(p);
}

static int proj_add(struct packed_proj *root, const char *src, struct err *e)
{
    struct packed_path_step *steps;
    size_t n;
    if (packed_path_parse(src, &steps, &n, e) < 0) return -1;
    struct packed_proj *at = root;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (steps[i].index >= 0) {
            rc = err_set(e, "%s: fields to drop are member names, not array indexes", src);
            break;
        }
        struct packed_proj *c = (struct packed_proj *)pk_proj_child(at, steps[i].name, steps[i].len);
        if (!c) {
            struct packed_proj *k = realloc(at->kids, (at->nkids + 1) * sizeof(*k));
            if (!k) {
                rc = err_set(e, "out of memory");
                break;
            }
            at->kids = k;
            c = &at->kids[at->nkids++];
            memset(c, 0, sizeof(*c));
            c->name = steps[i].name;   /* moved */
            c->len = steps[i].len;
            steps[i].name = NULL;
        }
        if (i + 1 == n) c->drop = 1;
        at = c;
    }
    packed_path_steps_free(steps, n);
    return rc;
}

int packed_proj_new(const char *const *paths, size_t n, int builtin, struct packed_proj **out, struct err *e)
{
    static const char *const builtins[] = {
        "metadata.managedFields",
        "metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']",
    };
    struct packed_proj *p = calloc(1, sizeof(*p));
    if (!p) return err_set(e, "out of memory");
    for (size_t i = 0; builtin && i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (proj_add(p, builtins[i], e) < 0) goto fail;
    for (size_t i = 0; i < n; i++)
        if (proj_add(p, paths[i], e) < 0) goto fail;
    *out = p;
    return 0;
fail:
    packed_proj_free(p);
    return -1;
}
