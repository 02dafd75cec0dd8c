/* Reading packed blocks: types, scalars, member lookup (interned id, then scan or binary search), array
 * index, iteration in document order, deep equality, and compact JSON out (for /debug/vars, tojson, tests).
 * Readers never copy: strings are pointers into the block, valid while the block lives. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/store/packed_internal.h"

struct packed_val packed_root(const struct packed *p) { return (struct packed_val){.b = p, .s = p->root}; }
size_t packed_size(const struct packed *p) { return p->size; }
uint64_t packed_hash(const struct packed *p) { return p->hash; }
const void *packed_bytes(const struct packed *p) { return p; }
struct packed_keys *packed_keys_of(const struct packed *p) { return p->keys; }

enum packed_type packed_type(struct packed_val v)
{
    switch (PK_TAG(v.s)) {
    case PK_SMALLINT: case PK_BIGINT: return PACKED_INT;
    case PK_CONST: return PK_PAY(v.s) == 0 ? PACKED_NULL : PACKED_BOOL;
    case PK_DBL: return PACKED_DOUBLE;
    case PK_STR: return PACKED_STRING;
    case PK_ARR: return PACKED_ARRAY;
    case PK_OBJ: return PACKED_OBJECT;
    }
    return PACKED_NULL;
}

int packed_bool(struct packed_val v) { return v.s == PK_TRUE; }

int64_t packed_int(struct packed_val v)
{
    int64_t i;
    switch (PK_TAG(v.s)) {
    case PK_SMALLINT: return (int64_t)((int32_t)v.s >> 3);
    case PK_BIGINT: memcpy(&i, &pk_words(v.b)[PK_PAY(v.s)], 8); return i;
    case PK_DBL: {
        double d = packed_double(v);
        return d >= -9.2e18 && d <= 9.2e18 ? (int64_t)d : 0;
    }
    }
    return 0;
}

double packed_double(struct packed_val v)
{
    if (PK_TAG(v.s) == PK_DBL) {
        double d;
        memcpy(&d, &pk_words(v.b)[PK_PAY(v.s)], 8);
        return d;
    }
    if (packed_type(v) == PACKED_INT) return (double)packed_int(v);
    return 0;
}

const char *packed_str(struct packed_val v, size_t *len)
{
    if (PK_TAG(v.s) != PK_STR) return NULL;
    return pk_strat(v.b, PK_PAY(v.s), len);
}

size_t packed_len(struct packed_val v)
{
    switch (PK_TAG(v.s)) {
    case PK_ARR: case PK_OBJ: return pk_words(v.b)[PK_PAY(v.s)];
    case PK_STR: { size_t n; pk_strat(v.b, PK_PAY(v.s), &n); return n; }
    }
    return 0;
}

int packed_at(struct packed_val v, size_t i, struct packed_val *out)
{
    if (PK_TAG(v.s) != PK_ARR) return 0;
    const uint32_t *W = pk_words(v.b) + PK_PAY(v.s);
    if (i >= W[0]) return 0;
    *out = (struct packed_val){.b = v.b, .s = W[1 + i]};
    return 1;
}

int packed_get_id(struct packed_val v, uint32_t id, struct packed_val *out)
{
    if (PK_TAG(v.s) != PK_OBJ) return 0;
    const uint32_t *W = pk_words(v.b) + PK_PAY(v.s);
    uint32_t n = W[0];
    const uint32_t *keys = W + 1, *vals = W + 1 + n;
    if (n <= PACKED_SCAN_MAX) {
        for (uint32_t i = 0; i < n; i++)
            if (keys[i] == id) {
                *out = (struct packed_val){.b = v.b, .s = vals[i]};
                return 1;
            }
        return 0;
    }
    const uint32_t *idx = W + 1 + 2 * n;
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2, k = keys[idx[mid]];
        if (k == id) {
            *out = (struct packed_val){.b = v.b, .s = vals[idx[mid]]};
            return 1;
        }
        if (k < id) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

int packed_get(struct packed_val v, const char *key, size_t klen, struct packed_val *out)
{
    if (PK_TAG(v.s) != PK_OBJ) return 0;
    int64_t id = packed_keys_find(v.b->keys, key, klen);
    return id >= 0 && packed_get_id(v, (uint32_t)id, out);
}

int packed_member(struct packed_val v, size_t i, const char **key, size_t *klen, struct packed_val *out)
{
    if (PK_TAG(v.s) != PK_OBJ) return 0;
    const uint32_t *W = pk_words(v.b) + PK_PAY(v.s);
    uint32_t n = W[0];
    if (i >= n) return 0;
    const struct pk_key *k = pk_keyent(v.b->keys, W[1 + i]);
    if (key) *key = k->s;
    if (klen) *klen = k->len;
    if (out) *out = (struct packed_val){.b = v.b, .s = W[1 + n + i]};
    return 1;
}

int packed_equal(struct packed_val a, struct packed_val b)
{
    enum packed_type ta = packed_type(a), tb = packed_type(b);
    if ((ta == PACKED_INT || ta == PACKED_DOUBLE) && (tb == PACKED_INT || tb == PACKED_DOUBLE)) {
        if (ta == PACKED_INT && tb == PACKED_INT) return packed_int(a) == packed_int(b);
        return packed_double(a) == packed_double(b);
    }
    if (ta != tb) return 0;
    switch (ta) {
    case PACKED_NULL: return 1;
    case PACKED_BOOL: return a.s == b.s;
    case PACKED_STRING: {
        size_t na, nb;
        const char *sa = packed_str(a, &na), *sb = packed_str(b, &nb);
        return na == nb && memcmp(sa, sb, na) == 0;
    }
    case PACKED_ARRAY: {
        size_t n = packed_len(a);
        if (n != packed_len(b)) return 0;
        for (size_t i = 0; i < n; i++) {
            struct packed_val x, y;
            packed_at(a, i, &x);
            packed_at(b, i, &y);
            if (!packed_equal(x, y)) return 0;
        }
        return 1;
    }
    case PACKED_OBJECT: {   /* as JSON objects: same members, order aside */
        size_t n = packed_len(a);
        if (n != packed_len(b)) return 0;
        for (size_t i = 0; i < n; i++) {
            const char *k;
            size_t kl;
            struct packed_val x, y;
            packed_member(a, i, &k, &kl, &x);
            if (!packed_get(b, k, kl, &y) || !packed_equal(x, y)) return 0;
        }
        return 1;
    }
    default: return 0;
    }
}

static int put_string(struct buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_putc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_append(out, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            buf_append(out, esc, 6);
            continue;
        }
        buf_append(out, esc, 2);
    }
    buf_append(out, s + run, n - run);
    return buf_putc(out, '"');
}

/* The shortest %.*g that reads back as the same double, with ".0" when it would read back as an int. */
static int put_double(struct buf *out, double d)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    if (!strpbrk(tmp, ".eEn")) strcat(tmp, ".0");
    return buf_puts(out, tmp);
}

static int to_json(struct packed_val v, struct buf *out)
{
    switch (packed_type(v)) {
    case PACKED_NULL: return buf_puts(out, "null");
    case PACKED_BOOL: return buf_puts(out, packed_bool(v) ? "true" : "false");
    case PACKED_INT: return buf_printf(out, "%lld", (long long)packed_int(v));
    case PACKED_DOUBLE: return put_double(out, packed_double(v));
    case PACKED_STRING: {
        size_t n;
        const char *s = packed_str(v, &n);
        return put_string(out, s, n);
    }
    case PACKED_ARRAY: {
        buf_putc(out, '[');
        for (size_t i = 0, n = packed_len(v); i < n; i++) {
            struct packed_val c;
            packed_at(v, i, &c);
            if (i) buf_putc(out, ',');
            to_json(c, out);
        }
        return buf_putc(out, ']');
    }
    case PACKED_OBJECT: {
        buf_putc(out, '{');
        for (size_t i = 0, n = packed_len(v); i < n; i++) {
            const char *k;
            size_t kl;
            struct packed_val c;
            packed_member(v, i, &k, &kl, &c);
            if (i) buf_putc(out, ',');
            put_string(out, k, kl);
            buf_putc(out, ':');
            to_json(c, out);
        }
        return buf_putc(out, '}');
    }
    }
    return -1;
}

int packed_to_json(struct packed_val v, struct buf *out)
{
    to_json(v, out);
    return out->oom ? -1 : 0;
}
