/* Template filters: Jinja2's built-ins that HAProxy templates use plus the original controller's additions
 * (b64decode, b64encode, regex_replace, regex_search, glob_match, sort_by, strip), and their registry.
 * Each follows Jinja2 3.1's implementation; deliberate differences are listed in docs/templates.md. Not here:
 * argument helpers (tmpl_args.c), regex translation and cache (tmpl_regex.c), %-formatting (tmpl_format.c). */
#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

#define F(name) static int f_##name(struct tmpl_call *r, const struct node *n, tv *v, struct args *a, tv *out)

static int bool_arg(struct args *a, uint32_t pos, const char *name, int dflt)
{
    tv x;
    if (!tmpl_arg_get(a, pos, name, &x)) return dflt;
    return tmpl_v_truthy(&x);
}

/* ---- attribute paths (make_attrgetter): "a.b.0" ---- */

static int attr_path(struct tmpl_call *r, const struct node *n, tv *obj, const char *path, size_t plen, tv *out)
{
    tv cur = *obj;
    size_t i = 0;
    while (i <= plen) {
        size_t j = i;
        while (j < plen && path[j] != '.') j++;
        tv key;
        int isint = j > i;
        for (size_t k = i; k < j; k++)
            if (!isdigit((unsigned char)path[k])) isint = 0;
        if (isint) {
            int64_t x = 0;
            for (size_t k = i; k < j && x < INT64_MAX / 10 - 10; k++) x = x * 10 + (path[k] - '0');
            key = v_int(x);
        } else {
            key = tmpl_v_str_copy(r, path + i, j - i);
            if (r->failed) return tmpl_rerr(r, n, "out of memory");
        }
        if (cur.kind == TMPL_UNDEF) {
            *out = cur;
            return 0;
        }
        if (tmpl_getitem(r, n, &cur, &key, &cur) < 0) return -1;
        i = j + 1;
        if (j >= plen) break;
    }
    *out = cur;
    return 0;
}

static tv lower_key(struct tmpl_call *r, tv k)
{
    if (k.kind != TMPL_STR) return k;
    int ascii = 1;
    for (uint32_t i = 0; i < k.len && ascii; i++) ascii = (unsigned char)k.u.s[i] < 0x80;
    if (!ascii) {  /* str.lower() beyond ASCII */
        struct buf b;
        buf_init(&b);
        tmpl_utf8_case(k.u.s, k.len, CASE_LOWER, &b);
        tv out = b.oom ? k : tmpl_v_str_copy(r, buf_cstr(&b), b.len);
        buf_free(&b);
        return out;
    }
    char *d = tmpl_arena_alloc(r->ar, (size_t)k.len + 1);
    if (!d) {
        r->failed = 1;
        return k;
    }
    for (uint32_t i = 0; i < k.len; i++) d[i] = (char)tolower((unsigned char)k.u.s[i]);
    return v_strn(d, k.len);
}

/* ---- stable merge sort on (key, item) pairs; fails on unorderable keys like Python ---- */

struct kv {
    tv k, v;
};

static int sort_pairs(struct tmpl_call *r, const struct node *n, struct kv *p, size_t cnt, int reverse)
{
    if (cnt < 2) return 0;
    struct kv *tmp = tmpl_arena_alloc(r->ar, cnt * sizeof(*tmp));
    if (!tmp) return tmpl_rerr(r, n, "out of memory");
    for (size_t w = 1; w < cnt; w *= 2) {
        for (size_t lo = 0; lo < cnt; lo += 2 * w) {
            size_t mid = lo + w < cnt ? lo + w : cnt, hi = lo + 2 * w < cnt ? lo + 2 * w : cnt;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int c;
                if (tmpl_v_cmp(&p[j].k, &p[i].k, &c) < 0) {
                    if (p[i].k.kind == TMPL_UNDEF) return tmpl_undef_error(r, n, &p[i].k);
                    if (p[j].k.kind == TMPL_UNDEF) return tmpl_undef_error(r, n, &p[j].k);
                    return tmpl_rerr(r, n, "'<' not supported between instances of '%s' and '%s'", tmpl_kind_name(&p[j].k),
                                     tmpl_kind_name(&p[i].k));
                }
                /* take right only if strictly before left (stable) */
                if (reverse ? c > 0 : c < 0) tmp[k++] = p[j++];
                else tmp[k++] = p[i++];
            }
            while (i < mid) tmp[k++] = p[i++];
            while (j < hi) tmp[k++] = p[j++];
        }
        memcpy(p, tmp, cnt * sizeof(*p));
    }
    return 0;
}

/* key for sort/min/max/unique/groupby: attribute (dotted, comma list when multi) and case folding */
static int make_key(struct tmpl_call *r, const struct node *n, tv *item, const tv *attr, int multi, int fold,
                    const tv *dflt, tv *out)
{
    if (!attr || attr->kind == TMPL_NONE || attr->kind == TMPL_UNDEF) {
        *out = fold ? lower_key(r, *item) : *item;
        return 0;
    }
    if (attr->kind == TMPL_INT) {
        tv key = *attr;
        if (tmpl_getitem(r, n, item, &key, out) < 0) return -1;
        return 0;
    }
    if (attr->kind != TMPL_STR) return tmpl_rerr(r, n, "attribute must be a string");
    const char *s = attr->u.s;
    size_t len = attr->len;
    if (multi && memchr(s, ',', len)) {
        tv t = tmpl_v_list(r, 0);
        t.flags = VF_TUPLE;
        size_t i = 0;
        while (i <= len) {
            size_t j = i;
            while (j < len && s[j] != ',') j++;
            tv x;
            if (attr_path(r, n, item, s + i, j - i, &x) < 0) return -1;
            if (fold) x = lower_key(r, x);
            tmpl_list_add(r, &t, x);
            i = j + 1;
        }
        *out = t;
        return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    if (attr_path(r, n, item, s, len, out) < 0) return -1;
    if (out->kind == TMPL_UNDEF && dflt) *out = *dflt;
    if (fold) *out = lower_key(r, *out);
    return 0;
}

static int to_items(struct tmpl_call *r, const struct node *n, tv *v, tv **items, size_t *cnt)
{
    if (v->kind == TMPL_UNDEF) {
        if (tmpl_check_undef(r, n, v) < 0) return -1;
        *items = NULL;
        *cnt = 0;
        return 0;
    }
    return tmpl_v_iter(r, n, v, items, cnt);
}

static tv list_of(struct tmpl_call *r, tv *items, size_t cnt)
{
    tv l = tmpl_v_list(r, (uint32_t)cnt);
    if (r->failed) return l;
    for (size_t i = 0; i < cnt; i++) tmpl_list_add(r, &l, items[i]);
    return l;
}

static tv tuple2(struct tmpl_call *r, tv a, tv b)
{
    tv t = tmpl_v_list(r, 2);
    t.flags = VF_TUPLE;
    if (!r->failed) {
        tmpl_list_add(r, &t, a);
        tmpl_list_add(r, &t, b);
    }
    return t;
}

/* ---- filters ---- */

F(abs)
{
    (void)a;
    if (v->kind == TMPL_INT || v->kind == TMPL_BOOL) {
        if (v->u.i == INT64_MIN) return tmpl_rerr(r, n, "integer overflow");
        *out = v_int(v->u.i < 0 ? -v->u.i : v->u.i);
        return 0;
    }
    if (v->kind == TMPL_FLOAT) {
        *out = v_float(fabs(v->u.f));
        return 0;
    }
    if (v->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, v);
    return tmpl_rerr(r, n, "bad operand type for abs(): '%s'", tmpl_kind_name(v));
}

F(attr)
{
    tv name;
    if (!tmpl_arg_get(a, 0, "name", &name)) return tmpl_rerr(r, n, "attr() missing argument 'name'");
    if (name.kind != TMPL_STR) return tmpl_rerr(r, n, "attribute name must be a string");
    const char *nm = tmpl_arena_strndup(r->ar, name.u.s, name.len);
    if (!nm) return tmpl_rerr(r, n, "out of memory");
    if (v->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, v);
    if (v->kind == TMPL_NATIVE || v->kind == TMPL_LOOP || tmpl_method_exists(v, nm) ||
        (v->kind == TMPL_DICT && (v->flags & (VF_NS | VF_MODULE))))
        return tmpl_getattr(r, n, v, nm, out);
    *out = tmpl_v_undef_attr(v, nm);
    return 0;
}

F(batch)
{
    tv cnt, fill;
    int64_t size;
    if (!tmpl_arg_get(a, 0, "linecount", &cnt)) return tmpl_rerr(r, n, "batch() missing argument 'linecount'");
    if (tmpl_v_as_int(r, n, &cnt, &size) < 0) return -1;
    int has_fill = tmpl_arg_get(a, 1, "fill_with", &fill) && fill.kind != TMPL_NONE;
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    *out = tmpl_v_list(r, 0);
    tv cur = {0};
    for (size_t i = 0; i < c; i++) {
        if (cur.kind == TMPL_UNDEF || tmpl_v_len(&cur) == (size_t)size) {
            if (cur.kind != TMPL_UNDEF) tmpl_list_add(r, out, cur);
            cur = tmpl_v_list(r, 0);
        }
        tmpl_list_add(r, &cur, items[i]);
        if (size <= 0) return tmpl_rerr(r, n, "batch() linecount must be positive");
    }
    if (cur.kind != TMPL_UNDEF && tmpl_v_len(&cur)) {
        if (has_fill)
            while (tmpl_v_len(&cur) < (size_t)size) tmpl_list_add(r, &cur, fill);
        tmpl_list_add(r, out, cur);
    }
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

F(capitalize)
{
    (void)a;
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    struct buf b;
    buf_init(&b);
    tmpl_utf8_case(s, len, CASE_CAPITALIZE, &b);
    return tmpl_ret_buf(r, n, &b, out);
}

static int pad_center(struct tmpl_call *r, const struct node *n, const char *s, size_t len, int64_t width,
                      const char *fill, size_t flen, int how, tv *out)
{
    int64_t cps = (int64_t)tmpl_utf8_len(s, len);
    if (width <= cps) {
        *out = v_strn(s, len);
        return 0;
    }
    if (width > (int64_t)r->outmax) return tmpl_rerr(r, n, "width too large");
    int64_t marg = width - cps, left;
    if (how == 0) left = marg / 2 + (marg & width & 1);
    else if (how < 0) left = 0;
    else left = marg;
    struct buf b;
    buf_init(&b);
    for (int64_t i = 0; i < left; i++) buf_append(&b, fill, flen);
    buf_append(&b, s, len);
    for (int64_t i = 0; i < marg - left; i++) buf_append(&b, fill, flen);
    return tmpl_ret_buf(r, n, &b, out);
}

F(center)
{
    tv w;
    int64_t width = 80;
    if (tmpl_arg_get(a, 0, "width", &w) && tmpl_v_as_int(r, n, &w, &width) < 0) return -1;
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    return pad_center(r, n, s, len, width, " ", 1, 0, out);
}

F(length)
{
    (void)a;
    switch (v->kind) {
    case TMPL_STR:
    case TMPL_LIST:
    case TMPL_JLIST:
    case TMPL_JDICT:
    case TMPL_PLIST:
    case TMPL_PDICT:
    case TMPL_UNDEF:
        *out = v_int((int64_t)tmpl_v_len(v));
        return 0;
    case TMPL_DICT:
        if (!(v->flags & (VF_NS | VF_MODULE))) {
            *out = v_int((int64_t)tmpl_v_len(v));
            return 0;
        }
        /* fallthrough */
    default:
        return tmpl_rerr(r, n, "object of type '%s' has no len()", tmpl_kind_name(v));
    }
}

F(default)
{
    tv d = v_strn("", 0);
    tmpl_arg_get(a, 0, "default_value", &d);
    int boolean = bool_arg(a, 1, "boolean", 0);
    if (v->kind == TMPL_UNDEF || (boolean && !tmpl_v_truthy(v))) *out = d;
    else *out = *v;
    return 0;
}

F(dictsort)
{
    int cs = bool_arg(a, 0, "case_sensitive", 0);
    tv by = v_strn("key", 3);
    tmpl_arg_get(a, 1, "by", &by);
    int reverse = bool_arg(a, 2, "reverse", 0);
    int pos;
    if (by.kind == TMPL_STR && by.len == 3 && !memcmp(by.u.s, "key", 3)) pos = 0;
    else if (by.kind == TMPL_STR && by.len == 5 && !memcmp(by.u.s, "value", 5)) pos = 1;
    else return tmpl_rerr(r, n, "You can only sort by either \"key\" or \"value\"");
    if (!tmpl_v_is_map(v)) {
        if (v->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, v);
        return tmpl_rerr(r, n, "'%s' object has no attribute 'items'", tmpl_kind_name(v));
    }
    tv *ks, *vs;
    size_t c = tmpl_map_entries(r, v, &ks, &vs);
    struct kv *p = tmpl_arena_alloc(r->ar, (c + 1) * sizeof(*p));
    if (!p) return tmpl_rerr(r, n, "out of memory");
    for (size_t i = 0; i < c; i++) {
        p[i].v = tuple2(r, ks[i], vs[i]);
        p[i].k = pos ? vs[i] : ks[i];
        if (!cs) p[i].k = lower_key(r, p[i].k);
    }
    if (sort_pairs(r, n, p, c, reverse) < 0) return -1;
    *out = tmpl_v_list(r, (uint32_t)c);
    for (size_t i = 0; i < c; i++) tmpl_list_add(r, out, p[i].v);
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

static void html_escape(const char *s, size_t len, struct buf *b)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&#34;"); break;
        case '\'': buf_puts(b, "&#39;"); break;
        default: buf_putc(b, s[i]);
        }
    }
}

F(escape)
{
    (void)a;
    if (v->kind == TMPL_STR && (v->flags & VF_MARKUP)) {
        *out = *v;
        return 0;
    }
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    struct buf b;
    buf_init(&b);
    html_escape(s, len, &b);
    if (tmpl_ret_buf(r, n, &b, out) < 0) return -1;
    out->flags = VF_MARKUP;
    return 0;
}

F(safe)
{
    (void)a;
    if (tmpl_v_str(r, n, v, out) < 0) return -1;
    out->flags = VF_MARKUP;
    return 0;
}

F(first)
{
    (void)a;
    if (tmpl_v_is_seq(v)) {
        *out = tmpl_v_len(v) ? tmpl_seq_at(v, 0) : tmpl_v_undef_msg("No first item, sequence was empty.");
        return 0;
    }
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    *out = c ? items[0] : tmpl_v_undef_msg("No first item, sequence was empty.");
    return 0;
}

F(last)
{
    (void)a;
    tv *items;
    size_t c;
    if (tmpl_v_is_seq(v)) {
        size_t len = tmpl_v_len(v);
        *out = len ? tmpl_seq_at(v, len - 1) : tmpl_v_undef_msg("No last item, sequence was empty.");
        return 0;
    }
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    *out = c ? items[c - 1] : tmpl_v_undef_msg("No last item, sequence was empty.");
    return 0;
}

/* Python float(): strips whitespace, accepts underscores between digits, inf/nan */
static int parse_float(const char *s, size_t len, double *out)
{
    char tmp[128];
    while (len && isspace((unsigned char)*s)) { s++; len--; }
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (!len || len >= sizeof(tmp)) return -1;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_') {
            if (!i || i + 1 >= len || !isdigit((unsigned char)s[i - 1]) || !isdigit((unsigned char)s[i + 1])) return -1;
            continue;
        }
        tmp[k++] = s[i];
    }
    tmp[k] = '\0';
    const char *t = tmp + (tmp[0] == '+' || tmp[0] == '-');
    if (!strcasecmp(t, "inf") || !strcasecmp(t, "infinity") || !strcasecmp(t, "nan")) {
        *out = strtod(tmp, NULL);
        return 0;
    }
    for (const char *p = t; *p; p++)
        if (!isdigit((unsigned char)*p) && *p != '.' && *p != 'e' && *p != 'E' && *p != '+' && *p != '-') return -1;
    char *end;
    *out = strtod(tmp, &end);
    return *end ? -1 : 0;
}

F(float)
{
    tv d = v_float(0.0);
    tmpl_arg_get(a, 0, "default", &d);
    if (v->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, v);  /* Undefined.__float__ raises */
    if (v->kind == TMPL_FLOAT) *out = *v;
    else if (v->kind == TMPL_INT || v->kind == TMPL_BOOL) *out = v_float((double)v->u.i);
    else if (v->kind == TMPL_STR) {
        double f;
        *out = parse_float(v->u.s, v->len, &f) == 0 ? v_float(f) : d;
    } else *out = d;
    return 0;
}

/* Python int(str, base) */
static int parse_int(const char *s, size_t len, int base, int64_t *out)
{
    while (len && isspace((unsigned char)*s)) { s++; len--; }
    while (len && isspace((unsigned char)s[len - 1])) len--;
    int neg = 0;
    if (len && (*s == '+' || *s == '-')) {
        neg = *s == '-';
        s++;
        len--;
    }
    if (len >= 2 && s[0] == '0') {
        char p = (char)(s[1] | 0x20);
        if ((p == 'x' && (base == 16 || base == 0)) || (p == 'o' && (base == 8 || base == 0)) ||
            (p == 'b' && (base == 2 || base == 0))) {
            base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
            s += 2;
            len -= 2;
            if (len && *s == '_') { s++; len--; }
        }
    }
    if (base == 0) base = 10;
    if (!len) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_' && i && i + 1 < len && s[i + 1] != '_') continue;
        int d = isdigit((unsigned char)s[i]) ? s[i] - '0' : isalpha((unsigned char)s[i]) ? (tolower((unsigned char)s[i]) - 'a' + 10) : 99;
        if (d >= base) return -1;
        if (v > (INT64_MAX - d) / base) return -1;
        v = v * base + d;
    }
    *out = neg ? -v : v;
    return 0;
}

F(int)
{
    tv d = v_int(0), b = v_int(10);
    tmpl_arg_get(a, 0, "default", &d);
    tmpl_arg_get(a, 1, "base", &b);
    int64_t base = b.kind == TMPL_INT ? b.u.i : 10;
    if (v->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, v);  /* Undefined.__int__ raises */
    if (v->kind == TMPL_INT) *out = *v;
    else if (v->kind == TMPL_BOOL) *out = v_int(v->u.i);
    else if (v->kind == TMPL_FLOAT) {
        if (isnan(v->u.f) || isinf(v->u.f) || fabs(v->u.f) >= 9.2e18) *out = d;
        else *out = v_int((int64_t)v->u.f);
    } else if (v->kind == TMPL_STR) {
        int64_t i;
        double f;
        if (parse_int(v->u.s, v->len, (int)base, &i) == 0) *out = v_int(i);
        else if (parse_float(v->u.s, v->len, &f) == 0 && !isnan(f) && !isinf(f) && fabs(f) < 9.2e18)
            *out = v_int((int64_t)f);
        else *out = d;
    } else *out = d;
    return 0;
}

F(format)
{
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    struct buf b;
    buf_init(&b);
    int rc;
    if (a->nkw && a->npos) {
        buf_free(&b);
        return tmpl_rerr(r, n, "can't handle positional and keyword arguments at the same time");
    }
    if (a->nkw) {
        tv d = tmpl_v_dict(r);
        for (uint32_t i = 0; i < a->nkw; i++) tmpl_dict_put(r, &d, v_strn(a->kwn[i], strlen(a->kwn[i])), a->kwv[i]);
        rc = tmpl_py_percent_format(r, n, s, len, &d, 1, &d, &b);
    } else if (a->npos == 1 && tmpl_v_is_map(&a->pos[0])) {
        rc = tmpl_py_percent_format(r, n, s, len, a->pos, 1, &a->pos[0], &b);
    } else {
        rc = tmpl_py_percent_format(r, n, s, len, a->pos, a->npos, NULL, &b);
    }
    if (rc < 0) {
        buf_free(&b);
        return -1;
    }
    return tmpl_ret_buf(r, n, &b, out);
}

F(groupby)
{
    tv attr, dflt;
    if (!tmpl_arg_get(a, 0, "attribute", &attr)) return tmpl_rerr(r, n, "groupby() missing argument 'attribute'");
    int has_d = tmpl_arg_get(a, 1, "default", &dflt);
    int cs = bool_arg(a, 2, "case_sensitive", 0);
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    struct kv *p = tmpl_arena_alloc(r->ar, (c + 1) * sizeof(*p));
    if (!p) return tmpl_rerr(r, n, "out of memory");
    for (size_t i = 0; i < c; i++) {
        p[i].v = items[i];
        if (make_key(r, n, &items[i], &attr, 0, !cs, has_d ? &dflt : NULL, &p[i].k) < 0) return -1;
    }
    if (sort_pairs(r, n, p, c, 0) < 0) return -1;
    *out = tmpl_v_list(r, 0);
    for (size_t i = 0; i < c;) {
        size_t j = i;
        tv grp = tmpl_v_list(r, 0);
        while (j < c && tmpl_v_eq(&p[j].k, &p[i].k)) tmpl_list_add(r, &grp, p[j++].v);
        tv g = p[i].k;
        if (!cs) {  /* grouper shows the first item's original value */
            if (make_key(r, n, &p[i].v, &attr, 0, 0, has_d ? &dflt : NULL, &g) < 0) return -1;
        }
        tv t = tuple2(r, g, grp);
        t.flags |= VF_GROUP;
        tmpl_list_add(r, out, t);
        i = j;
    }
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

F(indent)
{
    tv w;
    const char *ind = "    ";
    size_t il = 4;
    char spaces[256];
    if (tmpl_arg_get(a, 0, "width", &w)) {
        if (w.kind == TMPL_STR) {
            ind = w.u.s;
            il = w.len;
        } else {
            int64_t k;
            if (tmpl_v_as_int(r, n, &w, &k) < 0) return -1;
            if (k < 0) k = 0;
            if (k > 100000) return tmpl_rerr(r, n, "indent width too large");
            char *sp = k < (int64_t)sizeof(spaces) ? spaces : tmpl_arena_alloc(r->ar, (size_t)k);
            if (!sp) return tmpl_rerr(r, n, "out of memory");
            memset(sp, ' ', (size_t)k);
            ind = sp;
            il = (size_t)k;
        }
    }
    int first = bool_arg(a, 1, "first", 0), blank = bool_arg(a, 2, "blank", 0);
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    struct buf b;
    buf_init(&b);
    if (first) buf_append(&b, ind, il);
    /* split on \n (s + "\n").splitlines() */
    size_t i = 0;
    int lineno = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '\n') j++;
        if (lineno > 0) {
            buf_putc(&b, '\n');
            if (blank || j > i) buf_append(&b, ind, il);
        }
        buf_append(&b, s + i, j - i);
        lineno++;
        i = j + 1;
        if (j == len) break;
        if (i == len) {  /* text ended with "\n": one more empty line, then the quirk newline */
            buf_putc(&b, '\n');
            if (blank) buf_append(&b, ind, il);
            break;
        }
    }
    return tmpl_ret_buf(r, n, &b, out);
}

F(items)
{
    (void)a;
    if (v->kind == TMPL_UNDEF) {
        *out = tmpl_v_list(r, 0);
        return 0;
    }
    if (!tmpl_v_is_map(v)) return tmpl_rerr(r, n, "Can only get item pairs from a mapping.");
    tv *ks, *vs;
    size_t c = tmpl_map_entries(r, v, &ks, &vs);
    *out = tmpl_v_list(r, (uint32_t)c);
    for (size_t i = 0; i < c; i++) tmpl_list_add(r, out, tuple2(r, ks[i], vs[i]));
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

F(join)
{
    tv d = v_strn("", 0), attr;
    tmpl_arg_get(a, 0, "d", &d);
    int has_attr = tmpl_arg_get(a, 1, "attribute", &attr) && attr.kind != TMPL_NONE;
    const char *sep;
    size_t sl;
    if (tmpl_str_of(r, n, &d, &sep, &sl) < 0) return -1;
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < c; i++) {
        if (i) buf_append(&b, sep, sl);
        tv x = items[i];
        if (has_attr && make_key(r, n, &items[i], &attr, 0, 0, NULL, &x) < 0) {
            buf_free(&b);
            return -1;
        }
        if (tmpl_v_to_str(r, n, &x, &b) < 0) {
            buf_free(&b);
            return -1;
        }
    }
    return tmpl_ret_buf(r, n, &b, out);
}

F(list)
{
    (void)a;
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    *out = list_of(r, items, c);
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

static int map_case(struct tmpl_call *r, const struct node *n, tv *v, int upper, tv *out)
{
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    struct buf b;
    buf_init(&b);
    tmpl_utf8_case(s, len, upper ? CASE_UPPER : CASE_LOWER, &b);
    return tmpl_ret_buf(r, n, &b, out);
}

F(lower) { (void)a; return map_case(r, n, v, 0, out); }
F(upper) { (void)a; return map_case(r, n, v, 1, out); }

F(map)
{
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    tv attr, dflt;
    int has_attr = 0, has_d = 0;
    for (uint32_t i = 0; i < a->nkw; i++) {
        if (!strcmp(a->kwn[i], "attribute")) { attr = a->kwv[i]; has_attr = 1; }
        else if (!strcmp(a->kwn[i], "default")) { dflt = a->kwv[i]; has_d = 1; }
    }
    *out = tmpl_v_list(r, (uint32_t)c);
    if (has_attr || !a->npos) {
        if (!has_attr) return tmpl_rerr(r, n, "map requires a filter argument");
        for (size_t i = 0; i < c; i++) {
            tv x;
            if (make_key(r, n, &items[i], &attr, 0, 0, has_d ? &dflt : NULL, &x) < 0) return -1;
            tmpl_list_add(r, out, x);
        }
        return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    if (a->pos[0].kind != TMPL_STR) return tmpl_rerr(r, n, "map filter name must be a string");
    const char *fname = tmpl_arena_strndup(r->ar, a->pos[0].u.s, a->pos[0].len);
    if (!fname) return tmpl_rerr(r, n, "out of memory");
    struct args sub = *a;
    sub.pos++;
    sub.npos--;
    for (size_t i = 0; i < c; i++) {
        tv x;
        if (tmpl_apply_filter(r, n, fname, &items[i], &sub, &x) < 0) return -1;
        tmpl_list_add(r, out, x);
    }
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

static int minmax(struct tmpl_call *r, const struct node *n, tv *v, struct args *a, int want_max, tv *out)
{
    int cs = bool_arg(a, 0, "case_sensitive", 0);
    tv attr = v_none();
    tmpl_arg_get(a, 1, "attribute", &attr);
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    if (!c) {
        *out = tmpl_v_undef_msg(want_max ? "No aggregated item, sequence was empty." : "No aggregated item, sequence was empty.");
        return 0;
    }
    size_t best = 0;
    tv bk;
    if (make_key(r, n, &items[0], &attr, 0, !cs, NULL, &bk) < 0) return -1;
    for (size_t i = 1; i < c; i++) {
        tv k;
        int cmp;
        if (make_key(r, n, &items[i], &attr, 0, !cs, NULL, &k) < 0) return -1;
        if (tmpl_v_cmp(&k, &bk, &cmp) < 0)
            return tmpl_rerr(r, n, "'%s' not supported between instances of '%s' and '%s'", want_max ? ">" : "<",
                             tmpl_kind_name(&k), tmpl_kind_name(&bk));
        if (want_max ? cmp > 0 : cmp < 0) {
            best = i;
            bk = k;
        }
    }
    *out = items[best];
    return 0;
}

F(max) { return minmax(r, n, v, a, 1, out); }
F(min) { return minmax(r, n, v, a, 0, out); }

F(replace)
{
    tv o, nw, cnt;
    if (!tmpl_arg_get(a, 0, "old", &o) || !tmpl_arg_get(a, 1, "new", &nw))
        return tmpl_rerr(r, n, "replace() needs old and new");
    int64_t count = -1;
    if (tmpl_arg_get(a, 2, "count", &cnt) && cnt.kind != TMPL_NONE && tmpl_v_as_int(r, n, &cnt, &count) < 0) return -1;
    const char *s, *os, *ns;
    size_t len, ol, nl;
    if (tmpl_str_of(r, n, v, &s, &len) < 0 || tmpl_str_of(r, n, &o, &os, &ol) < 0 || tmpl_str_of(r, n, &nw, &ns, &nl) < 0) return -1;
    struct buf b;
    buf_init(&b);
    size_t i = 0;
    int64_t done = 0;
    if (ol == 0) {  /* Python inserts `new` between every character */
        size_t cps = tmpl_utf8_len(s, len);
        for (size_t k = 0; k <= cps; k++) {
            if (count < 0 || done < count) {
                buf_append(&b, ns, nl);
                done++;
            }
            if (k < cps) {
                size_t x = tmpl_utf8_offset(s, len, k), y = tmpl_utf8_offset(s, len, k + 1);
                buf_append(&b, s + x, y - x);
            }
        }
        return tmpl_ret_buf(r, n, &b, out);
    }
    while (i < len) {
        const char *m = (count < 0 || done < count) ? memmem(s + i, len - i, os, ol) : NULL;
        if (!m) {
            buf_append(&b, s + i, len - i);
            break;
        }
        buf_append(&b, s + i, (size_t)(m - (s + i)));
        buf_append(&b, ns, nl);
        i = (size_t)(m - s) + ol;
        done++;
        if (b.len > r->outmax) {
            buf_free(&b);
            return tmpl_rerr(r, n, "result too large");
        }
    }
    return tmpl_ret_buf(r, n, &b, out);
}

static int select_common(struct tmpl_call *r, const struct node *n, tv *v, struct args *a, int by_attr, int want,
                         tv *out)
{
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    uint32_t off = 0;
    tv attr = {0};
    if (by_attr) {
        if (!a->npos) return tmpl_rerr(r, n, "missing parameter for attribute name");
        attr = a->pos[0];
        off = 1;
    }
    const char *test = NULL;
    if (a->npos > off) {
        if (a->pos[off].kind != TMPL_STR) return tmpl_rerr(r, n, "test name must be a string");
        test = tmpl_arena_strndup(r->ar, a->pos[off].u.s, a->pos[off].len);
        if (!test) return tmpl_rerr(r, n, "out of memory");
    }
    struct args sub = {0};
    if (a->npos > off + 1) {
        sub.pos = a->pos + off + 1;
        sub.npos = a->npos - off - 1;
    }
    sub.kwn = a->kwn;
    sub.kwv = a->kwv;
    sub.nkw = a->nkw;
    *out = tmpl_v_list(r, 0);
    for (size_t i = 0; i < c; i++) {
        tv x = items[i];
        if (by_attr && make_key(r, n, &items[i], &attr, 0, 0, NULL, &x) < 0) return -1;
        int res;
        if (test) {
            if (tmpl_apply_test(r, n, test, &x, &sub, &res) < 0) return -1;
        } else {
            if (tmpl_check_undef(r, n, &x) < 0) return -1;
            res = tmpl_v_truthy(&x);
        }
        if (res == want) tmpl_list_add(r, out, items[i]);
    }
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

F(select) { return select_common(r, n, v, a, 0, 1, out); }
F(reject) { return select_common(r, n, v, a, 0, 0, out); }
F(selectattr) { return select_common(r, n, v, a, 1, 1, out); }
F(rejectattr) { return select_common(r, n, v, a, 1, 0, out); }

F(reverse)
{
    (void)a;
    if (v->kind == TMPL_STR) {
        char *d = tmpl_arena_alloc(r->ar, (size_t)v->len + 1);
        if (!d) return tmpl_rerr(r, n, "out of memory");
        size_t k = v->len;
        for (size_t i = 0; i < v->len;) {
            size_t j = i + 1;
            while (j < v->len && ((unsigned char)v->u.s[j] & 0xC0) == 0x80) j++;
            k -= j - i;
            memcpy(d + k, v->u.s + i, j - i);
            i = j;
        }
        *out = v_strn(d, v->len);
        return 0;
    }
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    *out = tmpl_v_list(r, (uint32_t)c);
    for (size_t i = c; i-- > 0;) tmpl_list_add(r, out, items[i]);
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

static double round_half_even(double x, int64_t prec)
{
    char tmp[512];
    if (prec > 300) return x;
    if (prec >= 0) {
        snprintf(tmp, sizeof(tmp), "%.*f", (int)prec, x);
        return strtod(tmp, NULL);
    }
    double p = pow(10.0, (double)-prec);
    double y = x / p;
    snprintf(tmp, sizeof(tmp), "%.0f", y);
    return strtod(tmp, NULL) * p;
}

F(round)
{
    tv pv = v_int(0), mv = v_strn("common", 6);
    tmpl_arg_get(a, 0, "precision", &pv);
    tmpl_arg_get(a, 1, "method", &mv);
    int64_t prec;
    if (tmpl_v_as_int(r, n, &pv, &prec) < 0) return -1;
    if (mv.kind != TMPL_STR || (!(mv.len == 6 && !memcmp(mv.u.s, "common", 6)) && !(mv.len == 4 && !memcmp(mv.u.s, "ceil", 4)) &&
        !(mv.len == 5 && !memcmp(mv.u.s, "floor", 5))))
        return tmpl_rerr(r, n, "method must be common, ceil or floor");
    if (!tmpl_v_is_num(v)) {
        if (v->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, v);
        return tmpl_rerr(r, n, "type %s doesn't define __round__ method", tmpl_kind_name(v));
    }
    if (mv.u.s[0] == 'c' && mv.u.s[1] == 'o') {
        if (v->kind != TMPL_FLOAT) {
            *out = v_int(v->u.i);  /* round(int, n) stays an int for n >= 0 */
            if (prec < 0) {
                double d = round_half_even((double)v->u.i, prec);
                *out = v_int((int64_t)d);
            }
            return 0;
        }
        *out = v_float(round_half_even(v->u.f, prec));
        return 0;
    }
    double p = pow(10.0, (double)prec), x = tmpl_v_num(v) * p;
    *out = v_float((mv.u.s[0] == 'c' ? ceil(x) : floor(x)) / p);
    return 0;
}

F(slice)
{
    tv sv, fill;
    int64_t slices;
    if (!tmpl_arg_get(a, 0, "slices", &sv)) return tmpl_rerr(r, n, "slice() missing argument 'slices'");
    if (tmpl_v_as_int(r, n, &sv, &slices) < 0) return -1;
    if (slices <= 0) return tmpl_rerr(r, n, "slice() needs a positive number of slices");
    int has_fill = tmpl_arg_get(a, 1, "fill_with", &fill) && fill.kind != TMPL_NONE;
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    if (slices > TMPL_RANGE_MAX) return tmpl_rerr(r, n, "too many slices");
    size_t per = c / (size_t)slices, extra = c % (size_t)slices, off = 0;
    *out = tmpl_v_list(r, 0);
    for (size_t s = 0; s < (size_t)slices; s++) {
        size_t start = off + s * per, end = start + per;
        if (s < extra) off++;
        if (s < extra) end++;
        tv part = tmpl_v_list(r, 0);
        for (size_t i = start; i < end && i < c; i++) tmpl_list_add(r, &part, items[i]);
        if (has_fill && s >= extra) tmpl_list_add(r, &part, fill);
        tmpl_list_add(r, out, part);
    }
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

F(sort)
{
    int reverse = bool_arg(a, 0, "reverse", 0), cs = bool_arg(a, 1, "case_sensitive", 0);
    tv attr = v_none();
    tmpl_arg_get(a, 2, "attribute", &attr);
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    struct kv *p = tmpl_arena_alloc(r->ar, (c + 1) * sizeof(*p));
    if (!p) return tmpl_rerr(r, n, "out of memory");
    for (size_t i = 0; i < c; i++) {
        p[i].v = items[i];
        if (make_key(r, n, &items[i], &attr, 1, !cs, NULL, &p[i].k) < 0) return -1;
    }
    if (sort_pairs(r, n, p, c, reverse) < 0) return -1;
    *out = tmpl_v_list(r, (uint32_t)c);
    for (size_t i = 0; i < c; i++) tmpl_list_add(r, out, p[i].v);
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

F(string)
{
    (void)a;
    if (v->kind == TMPL_STR) {
        *out = *v;
        return 0;
    }
    return tmpl_v_str(r, n, v, out);
}

F(sum)
{
    tv attr = v_none(), start = v_int(0);
    tmpl_arg_get(a, 0, "attribute", &attr);
    tmpl_arg_get(a, 1, "start", &start);
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    tv acc = start;
    for (size_t i = 0; i < c; i++) {
        tv x;
        if (make_key(r, n, &items[i], &attr, 0, 0, NULL, &x) < 0) return -1;
        if (!tmpl_v_is_num(&acc) || !tmpl_v_is_num(&x)) {
            if (x.kind == TMPL_UNDEF) return tmpl_undef_error(r, n, &x);
            return tmpl_rerr(r, n, "unsupported operand type(s) for +: '%s' and '%s'", tmpl_kind_name(&acc), tmpl_kind_name(&x));
        }
        if (acc.kind != TMPL_FLOAT && x.kind != TMPL_FLOAT) {
            int64_t z;
            if (__builtin_add_overflow(acc.u.i, x.u.i, &z)) return tmpl_rerr(r, n, "integer overflow");
            acc = v_int(z);
        } else acc = v_float(tmpl_v_num(&acc) + tmpl_v_num(&x));
    }
    *out = acc;
    return 0;
}

F(title)
{
    (void)a;
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    struct buf b;
    buf_init(&b);
    tmpl_utf8_case(s, len, CASE_TITLE, &b);
    return tmpl_ret_buf(r, n, &b, out);
}

static int json_str(const char *s, size_t len, struct buf *b)
{
    buf_putc(b, '"');
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            switch (c) {
            case '"': buf_puts(b, "\\\""); break;
            case '\\': buf_puts(b, "\\\\"); break;
            case '\n': buf_puts(b, "\\n"); break;
            case '\r': buf_puts(b, "\\r"); break;
            case '\t': buf_puts(b, "\\t"); break;
            case '\b': buf_puts(b, "\\b"); break;
            case '\f': buf_puts(b, "\\f"); break;
            case '<': buf_puts(b, "\\u003c"); break;
            case '>': buf_puts(b, "\\u003e"); break;
            case '&': buf_puts(b, "\\u0026"); break;
            case '\'': buf_puts(b, "\\u0027"); break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    if (c == 0x7f) buf_putc(b, (char)c);
                    else buf_printf(b, "\\u%04x", c);
                } else buf_putc(b, (char)c);
            }
            i++;
            continue;
        }
        uint32_t cp;
        int extra;
        if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; extra = 1; }
        else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; extra = 2; }
        else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; extra = 3; }
        else { cp = 0xFFFD; extra = 0; }
        i++;
        for (int k = 0; k < extra && i < len; k++, i++) cp = (cp << 6) | ((unsigned char)s[i] & 0x3F);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            buf_printf(b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        } else {
            buf_printf(b, "\\u%04x", cp);
        }
    }
    buf_putc(b, '"');
    return 0;
}

static int key_cmp_str(const void *x, const void *y)
{
    const tv *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->u.s, b->u.s, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int to_json(struct tmpl_call *r, const struct node *n, const tv *v, int indent, int level, struct buf *b)
{
    if (level > TMPL_PARSE_DEPTH_MAX) return tmpl_rerr(r, n, "tojson: value nested too deeply");
    switch (v->kind) {
    case TMPL_NONE: buf_puts(b, "null"); return 0;
    case TMPL_BOOL: buf_puts(b, v->u.i ? "true" : "false"); return 0;
    case TMPL_INT: buf_printf(b, "%lld", (long long)v->u.i); return 0;
    case TMPL_FLOAT:
        if (isnan(v->u.f)) buf_puts(b, "NaN");
        else if (isinf(v->u.f)) buf_puts(b, v->u.f < 0 ? "-Infinity" : "Infinity");
        else tmpl_fmt_float(v->u.f, b);
        return 0;
    case TMPL_STR: return json_str(v->u.s, v->len, b);
    case TMPL_LIST:
    case TMPL_JLIST:
    case TMPL_PLIST: {
        size_t c = tmpl_v_len(v);
        if (!c) {
            buf_puts(b, "[]");
            return 0;
        }
        buf_putc(b, '[');
        for (size_t i = 0; i < c; i++) {
            if (i) buf_putc(b, ',');
            if (indent >= 0) {
                buf_putc(b, '\n');
                for (int k = 0; k < indent * (level + 1); k++) buf_putc(b, ' ');
            } else if (i) buf_putc(b, ' ');
            tv x = tmpl_seq_at(v, i);
            if (to_json(r, n, &x, indent, level + 1, b) < 0) return -1;
        }
        if (indent >= 0) {
            buf_putc(b, '\n');
            for (int k = 0; k < indent * level; k++) buf_putc(b, ' ');
        }
        buf_putc(b, ']');
        return 0;
    }
    case TMPL_DICT:
    case TMPL_JDICT:
    case TMPL_PDICT: {
        if (v->flags & (VF_NS | VF_MODULE))
            return tmpl_rerr(r, n, "Object of type %s is not JSON serializable", tmpl_kind_name(v));
        tv *ks, *vs;
        size_t c = tmpl_map_entries(r, v, &ks, &vs);
        if (!c) {
            buf_puts(b, "{}");
            return 0;
        }
        for (size_t i = 0; i < c; i++)
            if (ks[i].kind != TMPL_STR) return tmpl_rerr(r, n, "tojson: only string keys are supported");
        size_t *idx = tmpl_arena_alloc(r->ar, c * sizeof(size_t));
        tv *sorted = tmpl_arena_alloc(r->ar, c * sizeof(tv));
        if (!idx || !sorted) return tmpl_rerr(r, n, "out of memory");
        memcpy(sorted, ks, c * sizeof(tv));
        qsort(sorted, c, sizeof(tv), key_cmp_str);
        buf_putc(b, '{');
        for (size_t i = 0; i < c; i++) {
            if (i) buf_putc(b, ',');
            if (indent >= 0) {
                buf_putc(b, '\n');
                for (int k = 0; k < indent * (level + 1); k++) buf_putc(b, ' ');
            } else if (i) buf_putc(b, ' ');
            json_str(sorted[i].u.s, sorted[i].len, b);
            buf_puts(b, ": ");
            tv x;
            tmpl_dict_get(v, &sorted[i], &x);
            if (to_json(r, n, &x, indent, level + 1, b) < 0) return -1;
        }
        if (indent >= 0) {
            buf_putc(b, '\n');
            for (int k = 0; k < indent * level; k++) buf_putc(b, ' ');
        }
        buf_putc(b, '}');
        return 0;
    }
    case TMPL_UNDEF:
        return tmpl_rerr(r, n, "Object of type Undefined is not JSON serializable");
    default:
        return tmpl_rerr(r, n, "Object of type %s is not JSON serializable", tmpl_kind_name(v));
    }
}

F(tojson)
{
    tv iv;
    int indent = -1;
    if (tmpl_arg_get(a, 0, "indent", &iv) && iv.kind != TMPL_NONE) {
        int64_t k;
        if (tmpl_v_as_int(r, n, &iv, &k) < 0) return -1;
        if (k < 0) k = 0;
        if (k > 64) k = 64;
        indent = (int)k;
    }
    struct buf b;
    buf_init(&b);
    if (to_json(r, n, v, indent, 0, &b) < 0) {
        buf_free(&b);
        return -1;
    }
    if (tmpl_ret_buf(r, n, &b, out) < 0) return -1;
    out->flags = VF_MARKUP;
    return 0;
}

static int strip_common(struct tmpl_call *r, const struct node *n, tv *v, struct args *a, int mode, tv *out)
{
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    tv ch;
    int has = tmpl_arg_get(a, 0, "chars", &ch) && ch.kind != TMPL_NONE;
    if (has && ch.kind != TMPL_STR) return tmpl_rerr(r, n, "strip arg must be None or str");
    size_t i = 0, j = len, w;
    if (has) {
        if (mode <= 0) while (i < j && memchr(ch.u.s, s[i], ch.len)) i++;
        if (mode >= 0) while (j > i && memchr(ch.u.s, s[j - 1], ch.len)) j--;
    } else {
        if (mode <= 0) while (i < j && (w = tmpl_ws_at(s, len, i))) i += w;
        if (mode >= 0) while (j > i && (w = tmpl_ws_before(s, len, j))) j -= w;
    }
    *out = v_strn(s + i, j - i);
    return 0;
}

F(trim) { return strip_common(r, n, v, a, 0, out); }

F(truncate)
{
    tv lv = v_int(255), ev = v_strn("...", 3), lw = v_int(5);
    tmpl_arg_get(a, 0, "length", &lv);
    int killwords = bool_arg(a, 1, "killwords", 0);
    tmpl_arg_get(a, 2, "end", &ev);
    if (tmpl_arg_get(a, 3, "leeway", &lw) && lw.kind == TMPL_NONE) lw = v_int(5);
    int64_t length, leeway;
    if (tmpl_v_as_int(r, n, &lv, &length) < 0 || tmpl_v_as_int(r, n, &lw, &leeway) < 0) return -1;
    const char *s, *es;
    size_t len, el;
    if (tmpl_str_of(r, n, v, &s, &len) < 0 || tmpl_str_of(r, n, &ev, &es, &el) < 0) return -1;
    int64_t cps = (int64_t)tmpl_utf8_len(s, len), ecps = (int64_t)tmpl_utf8_len(es, el);
    if (length < ecps) return tmpl_rerr(r, n, "expected length >= %lld, got %lld", (long long)ecps, (long long)length);
    if (leeway < 0) return tmpl_rerr(r, n, "expected leeway >= 0, got %lld", (long long)leeway);
    if (cps <= length + leeway) {
        *out = *v;
        if (v->kind != TMPL_STR) *out = v_strn(s, len);
        return 0;
    }
    size_t cut = tmpl_utf8_offset(s, len, (size_t)(length - ecps));
    struct buf b;
    buf_init(&b);
    if (killwords) {
        buf_append(&b, s, cut);
    } else {
        size_t k = cut;
        while (k > 0 && s[k - 1] != ' ') k--;
        buf_append(&b, s, k ? k - 1 : cut);
    }
    buf_append(&b, es, el);
    return tmpl_ret_buf(r, n, &b, out);
}

F(unique)
{
    int cs = bool_arg(a, 0, "case_sensitive", 0);
    tv attr = v_none();
    tmpl_arg_get(a, 1, "attribute", &attr);
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    tv seen = tmpl_v_dict(r);
    *out = tmpl_v_list(r, 0);
    for (size_t i = 0; i < c; i++) {
        tv k, dummy;
        if (make_key(r, n, &items[i], &attr, 0, !cs, NULL, &k) < 0) return -1;
        if ((tmpl_v_is_seq(&k) && !(k.flags & VF_TUPLE)) || tmpl_v_is_map(&k))
            return tmpl_rerr(r, n, "unhashable type: '%s'", tmpl_kind_name(&k));
        if (tmpl_dict_get(&seen, &k, &dummy)) continue;
        tmpl_dict_put(r, &seen, k, v_none());
        tmpl_list_add(r, out, items[i]);
    }
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

static void url_quote(const char *s, size_t len, int for_qs, struct buf *b)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || (!for_qs && c == '/')) buf_putc(b, (char)c);
        else if (for_qs && c == ' ') buf_putc(b, '+');
        else buf_printf(b, "%%%02X", c);
    }
}

F(urlencode)
{
    (void)a;
    struct buf b;
    buf_init(&b);
    if (v->kind == TMPL_STR) {
        url_quote(v->u.s, v->len, 0, &b);
        return tmpl_ret_buf(r, n, &b, out);
    }
    tv *ks = NULL, *vs = NULL;
    size_t c;
    if (tmpl_v_is_map(v)) {
        c = tmpl_map_entries(r, v, &ks, &vs);
    } else if (tmpl_v_is_seq(v)) {
        tv *items;
        if (tmpl_v_iter(r, n, v, &items, &c) < 0) return -1;
        ks = tmpl_arena_alloc(r->ar, (c + 1) * sizeof(tv));
        vs = tmpl_arena_alloc(r->ar, (c + 1) * sizeof(tv));
        if (!ks || !vs) return tmpl_rerr(r, n, "out of memory");
        for (size_t i = 0; i < c; i++) {
            if (!tmpl_v_is_seq(&items[i]) || tmpl_v_len(&items[i]) != 2)
                return tmpl_rerr(r, n, "urlencode expects pairs");
            ks[i] = tmpl_seq_at(&items[i], 0);
            vs[i] = tmpl_seq_at(&items[i], 1);
        }
    } else {
        const char *s;
        size_t len;
        if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
        url_quote(s, len, 0, &b);
        return tmpl_ret_buf(r, n, &b, out);
    }
    for (size_t i = 0; i < c; i++) {
        const char *s;
        size_t len;
        if (i) buf_putc(&b, '&');
        if (tmpl_str_of(r, n, &ks[i], &s, &len) < 0) { buf_free(&b); return -1; }
        url_quote(s, len, 1, &b);
        buf_putc(&b, '=');
        if (tmpl_str_of(r, n, &vs[i], &s, &len) < 0) { buf_free(&b); return -1; }
        url_quote(s, len, 1, &b);
    }
    return tmpl_ret_buf(r, n, &b, out);
}

F(wordcount)
{
    (void)a;
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    int64_t cnt = 0;
    int in = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int w = isalnum(c) || c == '_' || c >= 0x80;
        if (w && !in) cnt++;
        in = w;
    }
    *out = v_int(cnt);
    return 0;
}

/* ---- the original controller's filters ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

F(b64encode)
{
    (void)a;
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t x = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < len) x |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < len) x |= (unsigned char)s[i + 2];
        buf_putc(&b, b64chars[(x >> 18) & 63]);
        buf_putc(&b, b64chars[(x >> 12) & 63]);
        buf_putc(&b, i + 1 < len ? b64chars[(x >> 6) & 63] : '=');
        buf_putc(&b, i + 2 < len ? b64chars[x & 63] : '=');
    }
    return tmpl_ret_buf(r, n, &b, out);
}

static int utf8_valid(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        int extra;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { extra = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { extra = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { extra = 3; cp = c & 0x07; }
        else return 0;
        if (i + (size_t)extra >= len + 0 && i + (size_t)extra > len - 1) return 0;
        for (int k = 1; k <= extra; k++) {
            if ((s[i + (size_t)k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + (size_t)k] & 0x3F);
        }
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += (size_t)extra + 1;
    }
    return 1;
}

F(b64decode)
{
    (void)a;
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    struct buf b;
    buf_init(&b);
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    size_t valid = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        const char *p = c ? strchr(b64chars, c) : NULL;
        if (c == '=') {
            pad++;
            continue;
        }
        if (!p) continue;  /* Python's b64decode discards characters outside the alphabet */
        if (pad) {
            buf_free(&b);
            return tmpl_rerr(r, n, "b64decode: invalid base64 input");
        }
        valid++;
        acc = (acc << 6) | (uint32_t)(p - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_putc(&b, (char)((acc >> bits) & 0xFF));
        }
    }
    if (valid % 4 == 1 || (valid + (size_t)pad) % 4 != 0) {
        buf_free(&b);
        return tmpl_rerr(r, n, "b64decode: invalid base64 input (incorrect padding)");
    }
    if (!utf8_valid((const unsigned char *)buf_cstr(&b), b.len)) {
        buf_free(&b);
        return tmpl_rerr(r, n, "b64decode: decoded data is not valid UTF-8");
    }
    return tmpl_ret_buf(r, n, &b, out);
}

F(regex_search)
{
    tv pat;
    if (!tmpl_arg_get(a, 0, "pattern", &pat)) return tmpl_rerr(r, n, "regex_search() needs a pattern");
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    regex_t *re;
    if (tmpl_regex_compile(r, n, &pat, &re) < 0) return -1;
    const char *cs = tmpl_arena_strndup(r->ar, s, len);
    if (!cs) return tmpl_rerr(r, n, "out of memory");
    regmatch_t m[1];
    if (regexec(re, cs, 1, m, 0) == 0) *out = v_strn(cs + m[0].rm_so, (size_t)(m[0].rm_eo - m[0].rm_so));
    else *out = v_none();
    return 0;
}

F(regex_replace)
{
    tv pat, rep;
    if (!tmpl_arg_get(a, 0, "pattern", &pat) || !tmpl_arg_get(a, 1, "replacement", &rep))
        return tmpl_rerr(r, n, "regex_replace() needs pattern and replacement");
    const char *s, *rs;
    size_t len, rl;
    if (tmpl_str_of(r, n, v, &s, &len) < 0 || tmpl_str_of(r, n, &rep, &rs, &rl) < 0) return -1;
    regex_t *re;
    if (tmpl_regex_compile(r, n, &pat, &re) < 0) return -1;
    const char *cs = tmpl_arena_strndup(r->ar, s, len);
    if (!cs) return tmpl_rerr(r, n, "out of memory");
    struct buf b;
    buf_init(&b);
    size_t pos = 0;
    regmatch_t m[10];
    int prev_empty_end = -1;
    while (pos <= len) {
        if (regexec(re, cs + pos, 10, m, pos ? REG_NOTBOL : 0) != 0) break;
        size_t ms = pos + (size_t)m[0].rm_so, me = pos + (size_t)m[0].rm_eo;
        if (ms == me && (int)ms == prev_empty_end) {
            if (pos >= len) break;
            buf_putc(&b, cs[pos]);
            pos++;
            continue;
        }
        buf_append(&b, cs + pos, ms - pos);
        for (size_t i = 0; i < rl; i++) {
            if (rs[i] == '\\' && i + 1 < rl) {
                char x = rs[i + 1];
                int g = -1;
                if (x >= '0' && x <= '9') {
                    g = x - '0';
                    i++;
                } else if (x == 'g' && i + 2 < rl && rs[i + 2] == '<') {
                    const char *e = memchr(rs + i + 3, '>', rl - i - 3);
                    if (e) {
                        g = atoi(rs + i + 3);
                        i = (size_t)(e - rs);
                    }
                } else if (x == '\\') {
                    buf_putc(&b, '\\');
                    i++;
                    continue;
                } else if (x == 'n') {
                    buf_putc(&b, '\n');
                    i++;
                    continue;
                }
                if (g >= 0) {
                    if (g >= 10 || (size_t)g > re->re_nsub) {
                        buf_free(&b);
                        return tmpl_rerr(r, n, "invalid group reference %d", g);
                    }
                    if (m[g].rm_so >= 0) buf_append(&b, cs + pos + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
                    continue;
                }
            }
            buf_putc(&b, rs[i]);
        }
        if (me == ms) {
            prev_empty_end = (int)me;
            if (me < len) buf_putc(&b, cs[me]);
            pos = me + 1;
        } else {
            prev_empty_end = (int)me;
            pos = me;
        }
        if (b.len > r->outmax) break;
    }
    if (pos < len) buf_append(&b, cs + pos, len - pos);
    return tmpl_ret_buf(r, n, &b, out);
}

F(glob_match)
{
    tv pat;
    if (!tmpl_arg_get(a, 0, "pattern", &pat)) return tmpl_rerr(r, n, "glob_match() needs a pattern");
    const char *ps;
    size_t pl;
    if (tmpl_str_of(r, n, &pat, &ps, &pl) < 0) return -1;
    const char *p = tmpl_arena_strndup(r->ar, ps, pl);
    if (!p) return tmpl_rerr(r, n, "out of memory");
    if (v->kind == TMPL_STR) {
        const char *s = tmpl_arena_strndup(r->ar, v->u.s, v->len);
        if (!s) return tmpl_rerr(r, n, "out of memory");
        *out = v_bool(fnmatch(p, s, 0) == 0);
        return 0;
    }
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    *out = tmpl_v_list(r, 0);
    for (size_t i = 0; i < c; i++) {
        const char *s;
        size_t len;
        if (tmpl_str_of(r, n, &items[i], &s, &len) < 0) return -1;
        const char *cs = tmpl_arena_strndup(r->ar, s, len);
        if (!cs) return tmpl_rerr(r, n, "out of memory");
        if (fnmatch(p, cs, 0) == 0) tmpl_list_add(r, out, items[i]);
    }
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

/* sort_by(keys): keys is a string or a list of "path[:desc|:exists|:length]" with an optional "$." prefix */
F(sort_by)
{
    tv keys;
    if (!tmpl_arg_get(a, 0, "keys", &keys)) return tmpl_rerr(r, n, "sort_by() needs keys");
    tv *kl = &keys;
    size_t nk = 1;
    if (tmpl_v_is_seq(&keys) && tmpl_v_iter(r, n, &keys, &kl, &nk) < 0) return -1;
    tv *items;
    size_t c;
    if (to_items(r, n, v, &items, &c) < 0) return -1;
    struct kv *p = tmpl_arena_alloc(r->ar, (c + 1) * sizeof(*p));
    if (!p) return tmpl_rerr(r, n, "out of memory");
    for (size_t i = 0; i < c; i++) p[i].v = items[i];
    for (size_t k = nk; k-- > 0;) {
        if (kl[k].kind != TMPL_STR) return tmpl_rerr(r, n, "sort_by keys must be strings");
        const char *s = kl[k].u.s;
        size_t len = kl[k].len;
        if (len >= 2 && s[0] == '$' && s[1] == '.') { s += 2; len -= 2; }
        int desc = 0, exists = 0, length = 0;
        const char *colon = memchr(s, ':', len);
        while (colon) {
            size_t ml = len - (size_t)(colon - s) - 1;
            const char *mod = colon + 1;
            const char *next = memchr(mod, ':', ml);
            size_t l2 = next ? (size_t)(next - mod) : ml;
            if (l2 == 4 && !memcmp(mod, "desc", 4)) desc = 1;
            else if (l2 == 6 && !memcmp(mod, "exists", 6)) exists = 1;
            else if (l2 == 6 && !memcmp(mod, "length", 6)) length = 1;
            else return tmpl_rerr(r, n, "sort_by: unknown modifier '%.*s'", (int)l2, mod);
            len = (size_t)(colon - s);
            colon = NULL;
            if (next) {
                /* several modifiers: re-scan from the first colon */
                const char *m2 = next + 1;
                size_t l3 = ml - l2 - 1;
                if (l3 == 4 && !memcmp(m2, "desc", 4)) desc = 1;
                else if (l3 == 6 && !memcmp(m2, "exists", 6)) exists = 1;
                else if (l3 == 6 && !memcmp(m2, "length", 6)) length = 1;
                else return tmpl_rerr(r, n, "sort_by: unknown modifier '%.*s'", (int)l3, m2);
            }
        }
        for (size_t i = 0; i < c; i++) {
            tv x;
            if (attr_path(r, n, &p[i].v, s, len, &x) < 0) return -1;
            tv key;
            if (exists) key = v_bool(x.kind != TMPL_UNDEF && x.kind != TMPL_NONE);
            else if (length) key = v_int((int64_t)tmpl_v_len(&x));
            else key = x.kind == TMPL_UNDEF || x.kind == TMPL_NONE ? tuple2(r, v_int(0), v_int(0)) : tuple2(r, v_int(1), x);
            p[i].k = key;
        }
        if (sort_pairs(r, n, p, c, desc) < 0) return -1;
    }
    *out = tmpl_v_list(r, (uint32_t)c);
    for (size_t i = 0; i < c; i++) tmpl_list_add(r, out, p[i].v);
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

F(strip) { return strip_common(r, n, v, a, 0, out); }

/* ---- registry ---- */

struct fentry {
    const char *name;
    filter_fn fn;
};
static const struct fentry filters[] = {
    {"abs", f_abs}, {"attr", f_attr}, {"b64decode", f_b64decode}, {"b64encode", f_b64encode},
    {"batch", f_batch}, {"capitalize", f_capitalize}, {"center", f_center}, {"count", f_length},
    {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape}, {"escape", f_escape},
    {"first", f_first}, {"float", f_float}, {"format", f_format}, {"glob_match", f_glob_match},
    {"groupby", f_groupby}, {"indent", f_indent}, {"int", f_int}, {"items", f_items}, {"join", f_join},
    {"last", f_last}, {"length", f_length}, {"list", f_list}, {"lower", f_lower}, {"map", f_map},
    {"max", f_max}, {"min", f_min}, {"regex_replace", f_regex_replace}, {"regex_search", f_regex_search},
    {"reject", f_reject}, {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse},
    {"round", f_round}, {"safe", f_safe}, {"select", f_select}, {"selectattr", f_selectattr},
    {"slice", f_slice}, {"sort", f_sort}, {"sort_by", f_sort_by}, {"string", f_string}, {"strip", f_strip},
    {"sum", f_sum}, {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim}, {"truncate", f_truncate},
    {"unique", f_unique}, {"upper", f_upper}, {"urlencode", f_urlencode}, {"wordcount", f_wordcount},
};

filter_fn tmpl_find_filter(const char *name)
{
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
        if (!strcmp(filters[i].name, name)) return filters[i].fn;
    return NULL;
}

int tmpl_apply_filter(struct tmpl_call *r, const struct node *n, const char *name, tv *val, struct args *a, tv *out)
{
    filter_fn fn = tmpl_find_filter(name);
    if (!fn) return tmpl_rerr(r, n, "no filter named '%s'", name);
    return fn(r, n, val, a, out);
}
