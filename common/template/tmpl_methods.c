/* Methods callable on values from templates: str (split, startswith, format, ...), dict (get, items, keys,
 * values, update, pop, ...), list (append, extend, pop, ...) and loop (cycle, changed), with Python's
 * semantics. Values borrowed from the JSON context are read-only: mutating them is a render error.
 * str.format itself is in tmpl_format.c. */
#include <ctype.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

static const char *const str_methods[] = {
    "capitalize", "center", "count", "endswith", "find", "format", "index", "isalnum", "isalpha", "isdigit",
    "islower", "isspace", "isupper", "join", "ljust", "lower", "lstrip", "partition", "removeprefix",
    "removesuffix", "replace", "rfind", "rjust", "rsplit", "rstrip", "split", "splitlines", "startswith",
    "strip", "title", "upper", "zfill", NULL};
static const char *const dict_methods[] = {"clear", "copy", "get", "items", "keys", "pop", "setdefault", "update",
                                           "values", NULL};
static const char *const list_methods[] = {"append", "clear", "copy", "count", "extend", "index", "insert", "pop",
                                           "remove", "reverse", "sort", NULL};
static const char *const loop_methods[] = {"changed", "cycle", NULL};

static int in_list(const char *const *l, const char *name)
{
    for (; *l; l++)
        if ((*l)[0] == name[0] && !strcmp(*l, name)) return 1;
    return 0;
}

/* first letters of every method name above: a cheap reject for attribute lookups like `.metadata` */
static int maybe_method(const char *name)
{
    switch (name[0]) {
    case 'a': case 'c': case 'e': case 'f': case 'g': case 'i': case 'j': case 'k': case 'l': case 'p':
    case 'r': case 's': case 't': case 'u': case 'v': case 'z':
        return 1;
    default:
        return 0;
    }
}

int tmpl_method_name_known(const char *name)
{
    return in_list(str_methods, name) || in_list(dict_methods, name) || in_list(list_methods, name) ||
           in_list(loop_methods, name);
}

int tmpl_method_exists(const tv *self, const char *name)
{
    if (!maybe_method(name)) return 0;
    switch (self->kind) {
    case TMPL_STR: return in_list(str_methods, name);
    case TMPL_DICT:
        if (self->flags & (VF_NS | VF_MODULE)) return 0;
        /* fallthrough */
    case TMPL_JDICT:
    case TMPL_PDICT: return in_list(dict_methods, name);
    case TMPL_LIST:
        if (self->flags & VF_TUPLE) return !strcmp(name, "count") || !strcmp(name, "index");
        /* fallthrough */
    case TMPL_JLIST:
    case TMPL_PLIST: return in_list(list_methods, name);
    case TMPL_LOOP: return in_list(loop_methods, name);
    default: return 0;
    }
}

static int nargs(struct tmpl_call *r, const struct node *n, struct args *a, uint32_t lo, uint32_t hi, const char *m)
{
    if (a->nkw) return tmpl_rerr(r, n, "%s() takes no keyword arguments", m);
    if (a->npos < lo || a->npos > hi) {
        if (lo == hi) return tmpl_rerr(r, n, "%s() takes exactly %u argument(s) (%u given)", m, lo, a->npos);
        return tmpl_rerr(r, n, "%s() takes from %u to %u arguments (%u given)", m, lo, hi, a->npos);
    }
    return 0;
}

static int need_str(struct tmpl_call *r, const struct node *n, const tv *v, const char *m)
{
    if (v->kind != TMPL_STR) return tmpl_rerr(r, n, "%s() argument must be str, not %s", m, tmpl_kind_name(v));
    return 0;
}

static int isws(char c) { return isspace((unsigned char)c) || (c >= 0x1c && c <= 0x1f); }

/* byte length of the (Python str.isspace) whitespace character at p[i], 0 if none; covers the non-ASCII
 * spaces too: U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 */
size_t tmpl_ws_at(const char *p, size_t len, size_t i)
{
    unsigned char c = (unsigned char)p[i];
    if (c < 0x80) return isws((char)c) ? 1 : 0;
    if (c == 0xC2 && i + 1 < len) return ((unsigned char)p[i + 1] == 0x85 || (unsigned char)p[i + 1] == 0xA0) ? 2 : 0;
    if (i + 2 >= len) return 0;
    unsigned char d = (unsigned char)p[i + 1], e = (unsigned char)p[i + 2];
    if (c == 0xE1 && d == 0x9A && e == 0x80) return 3;
    if (c == 0xE2 && d == 0x80 && ((e >= 0x80 && e <= 0x8A) || e == 0xA8 || e == 0xA9 || e == 0xAF)) return 3;
    if (c == 0xE2 && d == 0x81 && e == 0x9F) return 3;
    if (c == 0xE3 && d == 0x80 && e == 0x80) return 3;
    return 0;
}

/* whitespace ending at p[j-1]: its byte length, 0 if none */
size_t tmpl_ws_before(const char *p, size_t len, size_t j)
{
    for (size_t k = 1; k <= 3 && k <= j; k++)
        if (tmpl_ws_at(p, len, j - k) == k) return k;
    return 0;
}

static int do_split(struct tmpl_call *r, const struct node *n, tv *s, struct args *a, int right, tv *out)
{
    if (nargs(r, n, a, 0, 2, right ? "rsplit" : "split") < 0) return -1;
    tv sep = v_none();
    int64_t maxs = -1;
    if (a->npos > 0) sep = a->pos[0];
    if (a->npos > 1 && tmpl_v_as_int(r, n, &a->pos[1], &maxs) < 0) return -1;
    *out = tmpl_v_list(r, 0);
    const char *p = s->u.s;
    size_t len = s->len;
    tv *parts = NULL;
    size_t np = 0, cap = 0;
#define PUSH(x, l) do { if (np == cap) { cap = cap ? cap * 2 : 8; parts = tmpl_arena_realloc(r->ar, parts, np * sizeof(tv), cap * sizeof(tv)); if (!parts) return tmpl_rerr(r, n, "out of memory"); } parts[np++] = v_strn((x), (l)); } while (0)
    if (sep.kind == TMPL_NONE) {  /* runs of whitespace; the remainder after maxsplit keeps its far side */
        if (!right) {
            size_t i = 0, w;
            int64_t done = 0;
            while (i < len) {
                while (i < len && (w = tmpl_ws_at(p, len, i))) i += w;
                if (i >= len) break;
                if (maxs >= 0 && done >= maxs) {
                    PUSH(p + i, len - i);
                    break;
                }
                size_t j = i;
                while (j < len && !tmpl_ws_at(p, len, j)) j++;
                PUSH(p + i, j - i);
                done++;
                i = j;
            }
        } else {
            size_t i = len, w;
            int64_t done = 0;
            while (i > 0) {
                while (i > 0 && (w = tmpl_ws_before(p, len, i))) i -= w;
                if (!i) break;
                if (maxs >= 0 && done >= maxs) {
                    PUSH(p, i);
                    break;
                }
                size_t j = i;
                while (j > 0 && !tmpl_ws_before(p, len, j)) j--;
                PUSH(p + j, i - j);
                done++;
                i = j;
            }
            for (size_t k = 0; k < np / 2; k++) {
                tv t = parts[k];
                parts[k] = parts[np - 1 - k];
                parts[np - 1 - k] = t;
            }
        }
    } else {
        if (need_str(r, n, &sep, "split") < 0) return -1;
        if (!sep.len) return tmpl_rerr(r, n, "empty separator");
        if (!right) {
            size_t i = 0;
            int64_t done = 0;
            for (;;) {
                const char *m = (maxs < 0 || done < maxs) ? memmem(p + i, len - i, sep.u.s, sep.len) : NULL;
                if (!m) {
                    PUSH(p + i, len - i);
                    break;
                }
                PUSH(p + i, (size_t)(m - p) - i);
                i = (size_t)(m - p) + sep.len;
                done++;
            }
        } else {
            size_t end = len;
            int64_t done = 0;
            for (;;) {
                const char *m = NULL;
                if ((maxs < 0 || done < maxs) && end >= sep.len)
                    for (size_t k = end - sep.len + 1; k-- > 0;)
                        if (!memcmp(p + k, sep.u.s, sep.len)) {
                            m = p + k;
                            break;
                        }
                if (!m) {
                    PUSH(p, end);
                    break;
                }
                PUSH(m + sep.len, end - (size_t)(m - p) - sep.len);
                end = (size_t)(m - p);
                done++;
            }
            for (size_t k = 0; k < np / 2; k++) {
                tv t = parts[k];
                parts[k] = parts[np - 1 - k];
                parts[np - 1 - k] = t;
            }
        }
    }
#undef PUSH
    for (size_t i = 0; i < np; i++) tmpl_list_add(r, out, parts[i]);
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

static int affix(struct tmpl_call *r, const struct node *n, tv *sv, struct args *a, int ends, tv *out)
{
    if (nargs(r, n, a, 1, 3, ends ? "endswith" : "startswith") < 0) return -1;
    /* optional start/end (code point indices, Python slice rules) narrow the string first */
    int64_t cps = (int64_t)tmpl_utf8_len(sv->u.s, sv->len), b0 = 0, b1 = cps;
    for (uint32_t k = 1; k < a->npos; k++) {
        if (a->pos[k].kind == TMPL_NONE) continue;
        int64_t x;
        if (tmpl_v_as_int(r, n, &a->pos[k], &x) < 0) return -1;
        if (x < 0) x += cps;
        if (x < 0) x = 0;
        if (x > cps) x = cps;
        if (k == 1) b0 = x;
        else b1 = x;
    }
    if (b1 < b0) {
        *out = v_bool(0);
        return 0;
    }
    size_t o0 = tmpl_utf8_offset(sv->u.s, sv->len, (size_t)b0), o1 = tmpl_utf8_offset(sv->u.s, sv->len, (size_t)b1);
    tv sub = v_strn(sv->u.s + o0, o1 - o0);
    tv *s = &sub;
    tv *cands = &a->pos[0];
    size_t nc = 1;
    if (a->pos[0].kind == TMPL_LIST && (a->pos[0].flags & VF_TUPLE)) {
        cands = ((struct tlist *)a->pos[0].u.p)->it;
        nc = ((struct tlist *)a->pos[0].u.p)->len;
    }
    *out = v_bool(0);
    for (size_t i = 0; i < nc; i++) {
        if (cands[i].kind != TMPL_STR)
            return tmpl_rerr(r, n, "%s first arg must be str or a tuple of str, not %s", ends ? "endswith" : "startswith",
                             tmpl_kind_name(&cands[i]));
        if (cands[i].len <= s->len &&
            !memcmp(ends ? s->u.s + s->len - cands[i].len : s->u.s, cands[i].u.s, cands[i].len)) {
            *out = v_bool(1);
            return 0;
        }
    }
    return 0;
}

static int str_method(struct tmpl_call *r, const struct node *n, tv *s, const char *m, struct args *a, tv *out)
{
    const char *p = s->u.s;
    size_t len = s->len;
    if (!strcmp(m, "split")) return do_split(r, n, s, a, 0, out);
    if (!strcmp(m, "rsplit")) return do_split(r, n, s, a, 1, out);
    if (!strcmp(m, "startswith")) return affix(r, n, s, a, 0, out);
    if (!strcmp(m, "endswith")) return affix(r, n, s, a, 1, out);
    if (!strcmp(m, "format")) return tmpl_str_format(r, n, s, a, out);
    if (!strcmp(m, "lower") || !strcmp(m, "upper") || !strcmp(m, "title") || !strcmp(m, "capitalize")) {
        if (nargs(r, n, a, 0, 0, m) < 0) return -1;
        struct args none = {0};
        return tmpl_apply_filter(r, n, m, s, &none, out);
    }
    if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip")) {
        if (nargs(r, n, a, 0, 1, m) < 0) return -1;
        int has = a->npos && a->pos[0].kind != TMPL_NONE;
        if (has && need_str(r, n, &a->pos[0], m) < 0) return -1;
        size_t i = 0, j = len, w;
        if (has) {
            if (m[0] != 'r') while (i < j && memchr(a->pos[0].u.s, p[i], a->pos[0].len)) i++;
            if (m[0] != 'l') while (j > i && memchr(a->pos[0].u.s, p[j - 1], a->pos[0].len)) j--;
        } else {
            if (m[0] != 'r') while (i < j && (w = tmpl_ws_at(p, len, i))) i += w;
            if (m[0] != 'l') while (j > i && (w = tmpl_ws_before(p, len, j))) j -= w;
        }
        *out = v_strn(p + i, j - i);
        return 0;
    }
    if (!strcmp(m, "replace")) {
        if (nargs(r, n, a, 2, 3, m) < 0) return -1;
        if (need_str(r, n, &a->pos[0], m) < 0 || need_str(r, n, &a->pos[1], m) < 0) return -1;
        return tmpl_apply_filter(r, n, "replace", s, a, out);
    }
    if (!strcmp(m, "join")) {
        if (nargs(r, n, a, 1, 1, m) < 0) return -1;
        tv *items;
        size_t c;
        if (tmpl_v_iter(r, n, &a->pos[0], &items, &c) < 0) return -1;
        struct buf b;
        buf_init(&b);
        for (size_t i = 0; i < c; i++) {
            if (items[i].kind != TMPL_STR) {
                buf_free(&b);
                return tmpl_rerr(r, n, "sequence item %zu: expected str instance, %s found", i, tmpl_kind_name(&items[i]));
            }
            if (i) buf_append(&b, p, len);
            buf_append(&b, items[i].u.s, items[i].len);
        }
        return tmpl_ret_buf(r, n, &b, out);
    }
    if (!strcmp(m, "count") || !strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "index")) {
        if (nargs(r, n, a, 1, 1, m) < 0 || need_str(r, n, &a->pos[0], m) < 0) return -1;
        const tv *sub = &a->pos[0];
        if (!strcmp(m, "count")) {
            int64_t c = 0;
            if (!sub->len) c = (int64_t)tmpl_utf8_len(p, len) + 1;
            else
                for (size_t i = 0; i + sub->len <= len;) {
                    const char *x = memmem(p + i, len - i, sub->u.s, sub->len);
                    if (!x) break;
                    c++;
                    i = (size_t)(x - p) + sub->len;
                }
            *out = v_int(c);
            return 0;
        }
        const char *x = NULL;
        if (m[0] == 'r') {
            for (size_t k = len >= sub->len ? len - sub->len + 1 : 0; k-- > 0;)
                if (!memcmp(p + k, sub->u.s, sub->len)) {
                    x = p + k;
                    break;
                }
        } else {
            x = sub->len ? memmem(p, len, sub->u.s, sub->len) : p;
        }
        if (!x && m[0] == 'i') return tmpl_rerr(r, n, "substring not found");
        *out = v_int(x ? (int64_t)tmpl_utf8_len(p, (size_t)(x - p)) : -1);
        return 0;
    }
    if (!strncmp(m, "is", 2)) {
        if (nargs(r, n, a, 0, 0, m) < 0) return -1;
        if (!strcmp(m, "islower") || !strcmp(m, "isupper")) {
            int res;
            if (tmpl_apply_test(r, n, m + 2, s, a, &res) < 0) return -1;
            *out = v_bool(res);
            return 0;
        }
        int ok = len > 0;
        for (size_t i = 0; i < len && ok;) {
            unsigned char c = (unsigned char)p[i];
            if (c >= 0x80 && (!strcmp(m, "isalpha") || !strcmp(m, "isalnum"))) {
                tmpl_utf8_is_alpha_cp(p, len, &i, &ok);  /* letters of the scripts tmpl_unicode.c knows */
                continue;
            }
            if (!strcmp(m, "isspace")) {
                size_t w = tmpl_ws_at(p, len, i);
                ok = w != 0;
                i += w ? w : 1;
                continue;
            }
            if (!strcmp(m, "isdigit")) ok = isdigit(c);
            else if (!strcmp(m, "isalpha")) ok = isalpha(c);
            else ok = isalnum(c);
            i++;
        }
        *out = v_bool(ok);
        return 0;
    }
    if (!strcmp(m, "zfill")) {
        int64_t w;
        if (nargs(r, n, a, 1, 1, m) < 0 || tmpl_v_as_int(r, n, &a->pos[0], &w) < 0) return -1;
        int64_t cps = (int64_t)tmpl_utf8_len(p, len);
        if (w <= cps) {
            *out = *s;
            return 0;
        }
        if (w > (int64_t)r->outmax) return tmpl_rerr(r, n, "width too large");
        struct buf b;
        buf_init(&b);
        size_t st = 0;
        if (len && (p[0] == '+' || p[0] == '-')) {
            buf_putc(&b, p[0]);
            st = 1;
        }
        for (int64_t k = 0; k < w - cps; k++) buf_putc(&b, '0');
        buf_append(&b, p + st, len - st);
        return tmpl_ret_buf(r, n, &b, out);
    }
    if (!strcmp(m, "ljust") || !strcmp(m, "rjust") || !strcmp(m, "center")) {
        int64_t w;
        if (nargs(r, n, a, 1, 2, m) < 0 || tmpl_v_as_int(r, n, &a->pos[0], &w) < 0) return -1;
        const char *fill = " ";
        size_t fl = 1;
        if (a->npos > 1) {
            if (a->pos[1].kind != TMPL_STR || tmpl_utf8_len(a->pos[1].u.s, a->pos[1].len) != 1)
                return tmpl_rerr(r, n, "The fill character must be exactly one character long");
            fill = a->pos[1].u.s;
            fl = a->pos[1].len;
        }
        int64_t cps = (int64_t)tmpl_utf8_len(p, len);
        if (w <= cps) {
            *out = *s;
            return 0;
        }
        if (w > (int64_t)r->outmax) return tmpl_rerr(r, n, "width too large");
        int64_t marg = w - cps, left = m[0] == 'l' ? 0 : m[0] == 'r' ? marg : marg / 2 + (marg & w & 1);
        struct buf b;
        buf_init(&b);
        for (int64_t k = 0; k < left; k++) buf_append(&b, fill, fl);
        buf_append(&b, p, len);
        for (int64_t k = 0; k < marg - left; k++) buf_append(&b, fill, fl);
        return tmpl_ret_buf(r, n, &b, out);
    }
    if (!strcmp(m, "splitlines")) {
        if (nargs(r, n, a, 0, 0, m) < 0) return -1;
        *out = tmpl_v_list(r, 0);
        size_t i = 0;
        while (i < len) {
            size_t j = i;
            while (j < len && p[j] != '\n' && p[j] != '\r') j++;
            tmpl_list_add(r, out, v_strn(p + i, j - i));
            if (j < len && p[j] == '\r' && j + 1 < len && p[j + 1] == '\n') j++;
            i = j + 1;
        }
        return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    if (!strcmp(m, "partition")) {
        if (nargs(r, n, a, 1, 1, m) < 0 || need_str(r, n, &a->pos[0], m) < 0) return -1;
        if (!a->pos[0].len) return tmpl_rerr(r, n, "empty separator");
        const char *x = memmem(p, len, a->pos[0].u.s, a->pos[0].len);
        *out = tmpl_v_list(r, 3);
        out->flags = VF_TUPLE;
        if (!x) {
            tmpl_list_add(r, out, *s);
            tmpl_list_add(r, out, v_strn("", 0));
            tmpl_list_add(r, out, v_strn("", 0));
        } else {
            tmpl_list_add(r, out, v_strn(p, (size_t)(x - p)));
            tmpl_list_add(r, out, a->pos[0]);
            tmpl_list_add(r, out, v_strn(x + a->pos[0].len, len - (size_t)(x - p) - a->pos[0].len));
        }
        return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    if (!strcmp(m, "removeprefix") || !strcmp(m, "removesuffix")) {
        if (nargs(r, n, a, 1, 1, m) < 0 || need_str(r, n, &a->pos[0], m) < 0) return -1;
        const tv *x = &a->pos[0];
        *out = *s;
        if (x->len <= len) {
            if (m[6] == 'p' && !memcmp(p, x->u.s, x->len)) *out = v_strn(p + x->len, len - x->len);
            if (m[6] == 's' && !memcmp(p + len - x->len, x->u.s, x->len)) *out = v_strn(p, len - x->len);
        }
        return 0;
    }
    return tmpl_rerr(r, n, "str.%s() is not supported", m);
}

static int readonly(struct tmpl_call *r, const struct node *n, const tv *self, const char *m)
{
    if (v_is_borrowed(self))
        return tmpl_rerr(r, n, "%s(): values from the render context are read-only; copy first (e.g. |list or dict(x))", m);
    return 0;
}

static int dict_method(struct tmpl_call *r, const struct node *n, tv *d, const char *m, struct args *a, tv *out)
{
    if (!strcmp(m, "get")) {
        if (nargs(r, n, a, 1, 2, m) < 0) return -1;
        if (!tmpl_dict_get(d, &a->pos[0], out)) *out = a->npos > 1 ? a->pos[1] : v_none();
        return 0;
    }
    if (!strcmp(m, "items") || !strcmp(m, "keys") || !strcmp(m, "values")) {
        if (nargs(r, n, a, 0, 0, m) < 0) return -1;
        tv *ks, *vs;
        size_t c = tmpl_map_entries(r, d, &ks, &vs);
        *out = tmpl_v_list(r, (uint32_t)c);
        out->flags = m[0] == 'k' ? VF_VIEW_KEYS : m[0] == 'v' ? VF_VIEW_VALUES : VF_VIEW_ITEMS;
        for (size_t i = 0; i < c; i++) {
            if (m[0] == 'k') tmpl_list_add(r, out, ks[i]);
            else if (m[0] == 'v') tmpl_list_add(r, out, vs[i]);
            else {
                tv t = tmpl_v_list(r, 2);
                t.flags = VF_TUPLE;
                tmpl_list_add(r, &t, ks[i]);
                tmpl_list_add(r, &t, vs[i]);
                tmpl_list_add(r, out, t);
            }
        }
        return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    if (!strcmp(m, "copy")) {
        if (nargs(r, n, a, 0, 0, m) < 0) return -1;
        tv *ks, *vs;
        size_t c = tmpl_map_entries(r, d, &ks, &vs);
        *out = tmpl_v_dict(r);
        for (size_t i = 0; i < c; i++) tmpl_dict_put(r, out, ks[i], vs[i]);
        return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    if (readonly(r, n, d, m) < 0) return -1;
    if (!strcmp(m, "update")) {
        if (tmpl_dict_update_args(r, n, a, d, "update") < 0) return -1;
        *out = v_none();
        return 0;
    }
    if (!strcmp(m, "pop")) {
        if (nargs(r, n, a, 1, 2, m) < 0) return -1;
        if (!tmpl_dict_del(r, d, &a->pos[0], out)) {
            if (a->npos > 1) *out = a->pos[1];
            else {
                struct buf b;
                buf_init(&b);
                tmpl_v_repr(&a->pos[0], &b);
                tmpl_rerr(r, n, "KeyError: %s", buf_cstr(&b));
                buf_free(&b);
                return -1;
            }
        }
        return 0;
    }
    if (!strcmp(m, "setdefault")) {
        if (nargs(r, n, a, 1, 2, m) < 0) return -1;
        if (!tmpl_dict_get(d, &a->pos[0], out)) {
            *out = a->npos > 1 ? a->pos[1] : v_none();
            if (tmpl_dict_put(r, d, a->pos[0], *out) < 0) return tmpl_rerr(r, n, "out of memory");
        }
        return 0;
    }
    if (!strcmp(m, "clear")) {
        if (nargs(r, n, a, 0, 0, m) < 0) return -1;
        struct tdict *dd = d->u.p;
        dd->len = 0;
        dd->idx = NULL;
        dd->icap = 0;
        *out = v_none();
        return 0;
    }
    return tmpl_rerr(r, n, "dict.%s() is not supported", m);
}

static int list_method(struct tmpl_call *r, const struct node *n, tv *l, const char *m, struct args *a, tv *out)
{
    if (!strcmp(m, "count") || !strcmp(m, "index")) {
        if (nargs(r, n, a, 1, 1, m) < 0) return -1;
        size_t c = tmpl_v_len(l);
        int64_t cnt = 0;
        for (size_t i = 0; i < c; i++) {
            tv x = tmpl_seq_at(l, i);
            if (tmpl_v_eq(&x, &a->pos[0])) {
                if (m[0] == 'i') {
                    *out = v_int((int64_t)i);
                    return 0;
                }
                cnt++;
            }
        }
        if (m[0] == 'i') return tmpl_rerr(r, n, "list.index(x): x not in list");
        *out = v_int(cnt);
        return 0;
    }
    if (!strcmp(m, "copy")) {
        if (nargs(r, n, a, 0, 0, m) < 0) return -1;
        size_t c = tmpl_v_len(l);
        *out = tmpl_v_list(r, (uint32_t)c);
        for (size_t i = 0; i < c; i++) tmpl_list_add(r, out, tmpl_seq_at(l, i));
        return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    if (readonly(r, n, l, m) < 0) return -1;
    struct tlist *tl = l->u.p;
    *out = v_none();
    if (!strcmp(m, "append")) {
        if (nargs(r, n, a, 1, 1, m) < 0) return -1;
        if (tl->len >= TMPL_RANGE_MAX * 10) return tmpl_rerr(r, n, "list too long");
        return tmpl_list_add(r, l, a->pos[0]) < 0 ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    if (!strcmp(m, "extend")) {
        if (nargs(r, n, a, 1, 1, m) < 0) return -1;
        tv *items;
        size_t c;
        if (tmpl_v_iter(r, n, &a->pos[0], &items, &c) < 0) return -1;
        for (size_t i = 0; i < c; i++) tmpl_list_add(r, l, items[i]);
        return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    if (!strcmp(m, "pop")) {
        if (nargs(r, n, a, 0, 1, m) < 0) return -1;
        int64_t i = -1;
        if (a->npos && tmpl_v_as_int(r, n, &a->pos[0], &i) < 0) return -1;
        if (!tl->len) return tmpl_rerr(r, n, "pop from empty list");
        if (i < 0) i += tl->len;
        if (i < 0 || i >= tl->len) return tmpl_rerr(r, n, "pop index out of range");
        *out = tl->it[i];
        memmove(&tl->it[i], &tl->it[i + 1], (tl->len - (size_t)i - 1) * sizeof(tv));
        tl->len--;
        return 0;
    }
    if (!strcmp(m, "insert")) {
        if (nargs(r, n, a, 2, 2, m) < 0) return -1;
        int64_t i;
        if (tmpl_v_as_int(r, n, &a->pos[0], &i) < 0) return -1;
        if (i < 0) i += tl->len;
        if (i < 0) i = 0;
        if (i > tl->len) i = tl->len;
        if (tmpl_list_add(r, l, v_none()) < 0) return tmpl_rerr(r, n, "out of memory");
        memmove(&tl->it[i + 1], &tl->it[i], (tl->len - (size_t)i - 1) * sizeof(tv));
        tl->it[i] = a->pos[1];
        return 0;
    }
    if (!strcmp(m, "remove")) {
        if (nargs(r, n, a, 1, 1, m) < 0) return -1;
        for (uint32_t i = 0; i < tl->len; i++)
            if (tmpl_v_eq(&tl->it[i], &a->pos[0])) {
                memmove(&tl->it[i], &tl->it[i + 1], (tl->len - i - 1) * sizeof(tv));
                tl->len--;
                return 0;
            }
        return tmpl_rerr(r, n, "list.remove(x): x not in list");
    }
    if (!strcmp(m, "reverse")) {
        if (nargs(r, n, a, 0, 0, m) < 0) return -1;
        for (uint32_t i = 0; i < tl->len / 2; i++) {
            tv t = tl->it[i];
            tl->it[i] = tl->it[tl->len - 1 - i];
            tl->it[tl->len - 1 - i] = t;
        }
        return 0;
    }
    if (!strcmp(m, "sort")) {
        struct args fa = {0};
        tv rev = v_bool(0);
        for (uint32_t i = 0; i < a->nkw; i++)
            if (!strcmp(a->kwn[i], "reverse")) rev = a->kwv[i];
            else return tmpl_rerr(r, n, "sort() got an unexpected keyword argument '%s'", a->kwn[i]);
        tv fpos[2] = {rev, v_bool(1)};
        fa.pos = fpos;
        fa.npos = 2;
        tv sorted;
        if (tmpl_apply_filter(r, n, "sort", l, &fa, &sorted) < 0) return -1;
        struct tlist *sl = sorted.u.p;
        memcpy(tl->it, sl->it, tl->len * sizeof(tv));
        *out = v_none();
        return 0;
    }
    if (!strcmp(m, "clear")) {
        if (nargs(r, n, a, 0, 0, m) < 0) return -1;
        tl->len = 0;
        return 0;
    }
    return tmpl_rerr(r, n, "list.%s() is not supported", m);
}

static int loop_method(struct tmpl_call *r, const struct node *n, tv *lv, const char *m, struct args *a, tv *out)
{
    struct tloop *l = lv->u.p;
    if (!strcmp(m, "cycle")) {
        if (!a->npos) return tmpl_rerr(r, n, "no items for cycling given");
        *out = a->pos[l->index0 % a->npos];
        return 0;
    }
    /* changed(*values) */
    tv cur = tmpl_v_list(r, a->npos);
    cur.flags = VF_TUPLE;
    for (uint32_t i = 0; i < a->npos; i++) tmpl_list_add(r, &cur, a->pos[i]);
    if (!l->changed_init || !tmpl_v_eq(&cur, &l->last_changed)) {
        l->changed_init = 1;
        l->last_changed = cur;
        *out = v_bool(1);
    } else {
        *out = v_bool(0);
    }
    return 0;
}

int tmpl_call_method(struct tmpl_call *r, const struct node *n, tv *self, const char *name, struct args *a, tv *out)
{
    switch (self->kind) {
    case TMPL_STR: return str_method(r, n, self, name, a, out);
    case TMPL_DICT:
    case TMPL_JDICT:
    case TMPL_PDICT: return dict_method(r, n, self, name, a, out);
    case TMPL_LIST:
    case TMPL_JLIST:
    case TMPL_PLIST: return list_method(r, n, self, name, a, out);
    case TMPL_LOOP: return loop_method(r, n, self, name, a, out);
    default: return tmpl_rerr(r, n, "'%s' object has no attribute '%s'", tmpl_kind_name(self), name);
    }
}
