/* Template renderer: walks the AST of a compiled template, evaluating expressions to values and writing
 * output. Scoping follows Jinja2 (loop bodies, macros and `with` get their own frame; includes see the
 * including scope; imports without context see only globals). Depth, steps and output are bounded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

/* ---- errors ---- */

static void excerpt(const struct tmpl *t, int line, int col, char *out, size_t n)
{
    out[0] = '\0';
    if (!t || !t->src || line <= 0) return;
    const char *s = t->src, *end = t->src + t->srclen;
    for (int l = 1; l < line && s < end; s++)
        if (*s == '\n') l++;
    const char *e = s;
    while (e < end && *e != '\n') e++;
    size_t len = (size_t)(e - s), c = col > 0 ? (size_t)col - 1 : 0, from = 0;
    if (c > len) c = len;
    if (len > 120) {  /* keep the excerpt short around the column */
        from = c > 60 ? c - 60 : 0;
        if (len - from > 120) len = from + 120;
    }
    size_t k = (size_t)snprintf(out, n, "\n  %.*s\n  ", (int)(len - from), s + from);
    for (size_t i = from; i < c && k + 2 < n; i++) out[k++] = s[i] == '\t' ? '\t' : ' ';
    if (k + 2 < n) {
        out[k++] = '^';
        out[k] = '\0';
    }
}

static void fill_err(struct err *e, const struct tmpl *t, int line, int col, const char *msg)
{
    if (!e) return;
    err_clear(e);
    char ex[300];
    excerpt(t, line, col, ex, sizeof(ex));
    snprintf(e->msg, sizeof(e->msg), "%s%s", msg, ex);
    if (t) snprintf(e->file, sizeof(e->file), "%s", t->name);
    e->line = line;
    e->column = col;
}

int tmpl_syntax_error(struct tmpl *t, struct err *e, int line, int col, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fill_err(e, t, line, col, msg);
    return -1;
}

int tmpl_rerr(struct tmpl_call *r, const struct node *n, const char *fmt, ...)
{
    r->failed = 1;
    if (r->reported) return -1;
    r->reported = 1;
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fill_err(r->e, n ? n->t : NULL, n ? n->line : 0, n ? n->col : 0, msg);
    return -1;
}

int tmpl_call_error(struct tmpl_call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->pending, sizeof(c->pending), fmt, ap);
    va_end(ap);
    return -1;
}

tv tmpl_v_undef_attr(const tv *parent, const char *name)
{
    tv v = {0};
    v.flags = UF_ATTR;
    v.len = parent->kind | ((uint32_t)(parent->flags & VF_TUPLE) << 8);
    v.u.s = name;
    return v;
}

tv tmpl_v_undef_msg(const char *msg)
{
    tv v = {0};
    v.flags = UF_MSG;
    v.u.s = msg;
    return v;
}

static void undef_message(const tv *v, char *out, size_t n)
{
    if (!v->u.s) {
        snprintf(out, n, "value is undefined");
    } else if (v->flags == UF_MSG) {
        snprintf(out, n, "%s", v->u.s);
    } else if (v->flags == UF_ATTR) {
        tv p = {0};
        p.kind = (uint8_t)(v->len & 0xff);
        p.flags = (uint8_t)(v->len >> 8);
        snprintf(out, n, "'%s object' has no attribute '%s'", tmpl_kind_name(&p), v->u.s);
    } else {
        snprintf(out, n, "'%s' is undefined", v->u.s);
    }
}

int tmpl_undef_error(struct tmpl_call *r, const struct node *n, const tv *v)
{
    char m[300];
    undef_message(v, m, sizeof(m));
    return tmpl_rerr(r, n, "%s", m);
}

int tmpl_check_undef(struct tmpl_call *r, const struct node *n, const tv *v)
{
    if (v->kind == TMPL_UNDEF && r->strict) return tmpl_undef_error(r, n, v);
    return 0;
}

/* ---- frames ---- */

static struct frame *frame_new(struct tmpl_call *r, struct frame *parent)
{
    struct frame *f = tmpl_arena_alloc(r->ar, sizeof(*f));
    if (!f) return NULL;
    f->parent = parent;
    f->v = f->inl;
    f->cap = FRAME_INLINE;
    return f;
}

static int frame_set(struct tmpl_call *r, struct frame *f, const char *name, tv v)
{
    for (uint32_t i = 0; i < f->n; i++)
        if (f->v[i].name == name) {
            f->v[i].v = v;
            return 0;
        }
    if (f->n == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 8;
        struct fvar *nv = tmpl_arena_realloc(r->ar, f->v, f->cap * sizeof(*nv), cap * sizeof(*nv));
        if (!nv) return -1;
        f->v = nv;
        f->cap = cap;
    }
    f->v[f->n].name = name;
    f->v[f->n].v = v;
    f->n++;
    return 0;
}

static int frame_lookup(struct tmpl_call *r, const char *name, tv *out)
{
    int isolated = 0, hide_loop = 0;
    for (struct frame *f = r->frame; f; f = f->parent) {
        for (uint32_t i = f->n; i-- > 0;)
            if (f->v[i].name == name) {
                if (hide_loop && !strcmp(name, "loop")) break;
                *out = f->v[i].v;
                return 1;
            }
        if (f->isolated) isolated = 1;
        if (f->include) hide_loop = 1;
    }
    if (!isolated) {
        if (r->ctx.kind != TMPL_UNDEF && tmpl_dict_get_str(&r->ctx, name, out)) return 1;
        for (size_t i = 0; i < r->nvars; i++)
            if (!strcmp(r->vnames[i], name)) {
                *out = r->vvals[i];
                return 1;
            }
    }
    struct tmpl_env *env = r->env;
    for (size_t i = 0; i < env->ng; i++)
        if (env->gnames[i] == name || !strcmp(env->gnames[i], name)) {
            *out = env->gvals[i];
            return 1;
        }
    builtin_fn fn = tmpl_find_global(name);
    if (fn) {
        struct tfunc *f = tmpl_arena_alloc(r->ar, sizeof(*f));
        if (!f) return 0;
        f->name = name;
        f->fn = fn;
        tv v = {0};
        v.kind = TMPL_FUNC;
        v.u.p = f;
        *out = v;
        return 1;
    }
    return 0;
}

/* ---- packed attributes: names resolved to key ids once per render ---- */

static int packed_attr(struct tmpl_call *r, const tv *obj, const char *name, size_t len, tv *out)
{
    struct packed_val v = pv_of(obj), x;
    const struct packed_keys *keys = packed_keys_of(v.b);
    int64_t id;
    if (r->kcache) {
        struct kcache_entry *c = &r->kcache[((uintptr_t)name >> 3) % TMPL_KCACHE_SIZE];
        uint64_t changes = packed_keys_changes(keys);
        if (c->name != name || c->keys != keys || c->changes != changes) {
            c->name = name;
            c->keys = keys;
            c->changes = changes;
            c->id = packed_keys_find(keys, name, len);
        }
        id = c->id;
    } else {
        id = packed_keys_find(keys, name, len);
    }
    if (id < 0 || !packed_get_id(v, (uint32_t)id, &x)) return 0;
    *out = tmpl_v_from_packed(x);
    return 1;
}

/* ---- output ---- */

static int out_check(struct tmpl_call *r, const struct node *n)
{
    if (r->out->oom) return tmpl_rerr(r, n, "out of memory while writing output");
    if (r->out->len > r->outmax) return tmpl_rerr(r, n, "output exceeds %zu bytes", r->outmax);
    return 0;
}

static int render_to_string(struct tmpl_call *r, struct node **body, uint32_t nb, tv *out);
static int eval(struct tmpl_call *r, const struct node *n, tv *out);
static int exec_body(struct tmpl_call *r, struct node **body, uint32_t n);

/* ---- attribute and item access ---- */

static int loop_attr(struct tmpl_call *r, const struct node *n, struct tloop *l, const char *name, tv *out)
{
    if (!strcmp(name, "index")) *out = v_int(l->index0 + 1);
    else if (!strcmp(name, "index0")) *out = v_int(l->index0);
    else if (!strcmp(name, "revindex")) *out = v_int(l->length - l->index0);
    else if (!strcmp(name, "revindex0")) *out = v_int(l->length - l->index0 - 1);
    else if (!strcmp(name, "first")) *out = v_bool(l->index0 == 0);
    else if (!strcmp(name, "last")) *out = v_bool(l->index0 == l->length - 1);
    else if (!strcmp(name, "length")) *out = v_int(l->length);
    else if (!strcmp(name, "depth")) *out = v_int(l->depth);
    else if (!strcmp(name, "depth0")) *out = v_int(l->depth - 1);
    else if (!strcmp(name, "previtem"))
        *out = l->index0 > 0 ? l->items[l->index0 - 1] : tmpl_v_undef_msg("there is no previous item");
    else if (!strcmp(name, "nextitem"))
        *out = l->index0 + 1 < l->length ? l->items[l->index0 + 1] : tmpl_v_undef_msg("there is no next item");
    else {
        tv self = {0};
        self.kind = TMPL_LOOP;
        *out = tmpl_v_undef_attr(&self, name);
    }
    (void)r;
    (void)n;
    return 0;
}

static int bound_method(struct tmpl_call *r, const struct node *n, tv *self, const char *name, tv *out)
{
    struct tfunc *f = tmpl_arena_alloc(r->ar, sizeof(*f));
    if (!f) return tmpl_rerr(r, n, "out of memory");
    f->name = name;
    f->self = *self;
    tv v = {0};
    v.kind = TMPL_FUNC;
    v.u.p = f;
    *out = v;
    return 0;
}

static const char *cstr_tmp(struct tmpl_call *r, const tv *s)
{
    if (s->u.s[s->len] == '\0') return s->u.s;
    return tmpl_arena_strndup(r->ar, s->u.s, s->len);
}

int tmpl_getattr(struct tmpl_call *r, const struct node *n, tv *obj, const char *name, tv *out)
{
    switch (obj->kind) {
    case TMPL_UNDEF:
        return tmpl_undef_error(r, n, obj);
    case TMPL_DICT:
        if (obj->flags & (VF_NS | VF_MODULE)) {
            if (!tmpl_dict_get_str(obj, name, out)) *out = tmpl_v_undef_attr(obj, name);
            return 0;
        }
        /* fallthrough */
    case TMPL_JDICT:
    case TMPL_PDICT:
    case TMPL_LIST:
    case TMPL_JLIST:
    case TMPL_PLIST:
    case TMPL_STR:
        if (obj->kind == TMPL_LIST && (obj->flags & VF_GROUP) && (!strcmp(name, "grouper") || !strcmp(name, "list"))) {
            *out = tmpl_seq_at(obj, name[0] == 'g' ? 0 : 1);
            return 0;
        }
        if (tmpl_method_exists(obj, name)) return bound_method(r, n, obj, name, out);
        if (tmpl_v_is_map(obj) && tmpl_dict_get_str(obj, name, out)) return 0;
        *out = tmpl_v_undef_attr(obj, name);
        return 0;
    case TMPL_LOOP:
        if (tmpl_method_exists(obj, name)) return bound_method(r, n, obj, name, out);
        return loop_attr(r, n, obj->u.p, name, out);
    case TMPL_NATIVE: {
        struct tmpl_native *nat = obj->u.nat;
        if (nat->ops->get_attr) {
            r->pending[0] = '\0';
            int rc = nat->ops->get_attr(nat->self, name, out, r);
            if (rc < 0) return tmpl_rerr(r, n, "%s", r->pending[0] ? r->pending : "attribute lookup failed");
            if (rc > 0) return 0;
        }
        /* methods are called directly (obj.Name(...)); a bare obj.Name that get_attr does not know is
         * undefined, so `obj.Name is defined` tells what the native offers */
        *out = tmpl_v_undef_attr(obj, name);
        return 0;
    }
    case TMPL_MACRO:
        if (!strcmp(name, "name")) {
            const struct tmacro *m = obj->u.p;
            *out = m->name ? v_strn(m->name, strlen(m->name)) : v_strn("caller", 6);
            return 0;
        }
        /* fallthrough */
    default:
        *out = tmpl_v_undef_attr(obj, name);
        return 0;
    }
}

int tmpl_getitem(struct tmpl_call *r, const struct node *n, tv *obj, tv *key, tv *out)
{
    if (obj->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, obj);
    if ((tmpl_v_is_seq(obj) || obj->kind == TMPL_STR) && (key->kind == TMPL_INT || key->kind == TMPL_BOOL)) {
        int64_t len = obj->kind == TMPL_STR ? (int64_t)tmpl_utf8_len(obj->u.s, obj->len) : (int64_t)tmpl_v_len(obj);
        int64_t i = key->u.i;
        if (i < 0) i += len;
        if (i < 0 || i >= len) {
            char *m = tmpl_arena_alloc(r->ar, 64);
            if (!m) return tmpl_rerr(r, n, "out of memory");
            snprintf(m, 64, "'%s object' has no element %lld", tmpl_kind_name(obj), (long long)key->u.i);
            *out = tmpl_v_undef_msg(m);
            return 0;
        }
        if (obj->kind == TMPL_STR) {
            size_t a = tmpl_utf8_offset(obj->u.s, obj->len, (size_t)i), b = tmpl_utf8_offset(obj->u.s, obj->len, (size_t)i + 1);
            *out = v_strn(obj->u.s + a, b - a);
        } else {
            *out = tmpl_seq_at(obj, (size_t)i);
        }
        return 0;
    }
    if (tmpl_v_is_map(obj) || (obj->kind == TMPL_DICT)) {
        if (key->kind == TMPL_LIST || key->kind == TMPL_DICT || v_is_borrowed(key)) {
            if (!(key->flags & VF_TUPLE)) return tmpl_rerr(r, n, "unhashable type: '%s'", tmpl_kind_name(key));
        }
        if (tmpl_dict_get(obj, key, out)) return 0;
    }
    if (key->kind == TMPL_STR) {
        const char *k = cstr_tmp(r, key);
        if (!k) return tmpl_rerr(r, n, "out of memory");
        if (obj->kind == TMPL_NATIVE || obj->kind == TMPL_LOOP || tmpl_method_exists(obj, k) ||
            (obj->kind == TMPL_LIST && (obj->flags & VF_GROUP)))
            return tmpl_getattr(r, n, obj, k, out);
        *out = tmpl_v_undef_attr(obj, k);
        return 0;
    }
    char *m = tmpl_arena_alloc(r->ar, 64);
    if (!m) return tmpl_rerr(r, n, "out of memory");
    struct buf b;
    buf_init(&b);
    tmpl_v_repr(key, &b);
    snprintf(m, 64, "'%s object' has no element %s", tmpl_kind_name(obj), buf_cstr(&b));
    buf_free(&b);
    *out = tmpl_v_undef_msg(m);
    return 0;
}

static int slice_bound(struct tmpl_call *r, const struct node *n, int64_t *v, int present, const tv *x)
{
    if (!present || x->kind == TMPL_NONE) return 0;
    if (x->kind != TMPL_INT && x->kind != TMPL_BOOL)
        return tmpl_rerr(r, n, "slice indices must be integers or None");
    *v = x->u.i;
    return 1;
}

static int do_slice(struct tmpl_call *r, const struct node *n, tv *obj, const struct node *sl, tv *out)
{
    tv a = v_none(), b = v_none(), c = v_none();
    if (sl->a && eval(r, sl->a, &a) < 0) return -1;
    if (sl->b && eval(r, sl->b, &b) < 0) return -1;
    if (sl->c && eval(r, sl->c, &c) < 0) return -1;
    if (obj->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, obj);
    int64_t len;
    if (obj->kind == TMPL_STR) len = (int64_t)tmpl_utf8_len(obj->u.s, obj->len);
    else if (tmpl_v_is_seq(obj)) len = (int64_t)tmpl_v_len(obj);
    else return tmpl_rerr(r, n, "'%s' object is not subscriptable", tmpl_kind_name(obj));
    int64_t step = 1, start, stop;
    if (slice_bound(r, n, &step, sl->c != NULL, &c) < 0) return -1;
    if (step == 0) return tmpl_rerr(r, n, "slice step cannot be zero");
    start = step < 0 ? len - 1 : 0;
    stop = step < 0 ? -1 : len;
    int64_t v = 0;
    int rc = slice_bound(r, n, &v, sl->a != NULL, &a);
    if (rc < 0) return -1;
    if (rc) {
        if (v < 0) v += len;
        if (v < 0) v = step < 0 ? -1 : 0;
        if (v >= len) v = step < 0 ? len - 1 : len;
        start = v;
    }
    rc = slice_bound(r, n, &v, sl->b != NULL, &b);
    if (rc < 0) return -1;
    if (rc) {
        if (v < 0) v += len;
        if (v < 0) v = step < 0 ? -1 : 0;
        if (v >= len) v = step < 0 ? len - 1 : len;
        stop = v;
    }
    if (obj->kind == TMPL_STR) {
        struct buf bb;
        buf_init(&bb);
        for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
            size_t x = tmpl_utf8_offset(obj->u.s, obj->len, (size_t)i), y = tmpl_utf8_offset(obj->u.s, obj->len, (size_t)i + 1);
            buf_append(&bb, obj->u.s + x, y - x);
            if (__builtin_add_overflow(i, step, &i)) break;
        }
        *out = tmpl_v_str_copy(r, buf_cstr(&bb), bb.len);
        buf_free(&bb);
        return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    *out = tmpl_v_list(r, 0);
    out->flags = obj->flags & VF_TUPLE;
    for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
        if (tmpl_list_add(r, out, tmpl_seq_at(obj, (size_t)i)) < 0) return tmpl_rerr(r, n, "out of memory");
        if (__builtin_add_overflow(i, step, &i)) break;
    }
    return 0;
}

/* ---- arithmetic ---- */

static const char *opname(int op)
{
    switch (op) {
    case T_ADD: return "+";
    case T_SUB: return "-";
    case T_MUL: return "*";
    case T_DIV: return "/";
    case T_FLOORDIV: return "//";
    case T_MOD: return "%";
    case T_POW: return "**";
    default: return "?";
    }
}

static int concat_seq(struct tmpl_call *r, const struct node *n, tv *a, tv *b, tv *out)
{
    size_t na = tmpl_v_len(a), nb = tmpl_v_len(b);
    *out = tmpl_v_list(r, (uint32_t)(na + nb));
    if (r->failed) return tmpl_rerr(r, n, "out of memory");
    out->flags = a->flags & VF_TUPLE;
    for (size_t i = 0; i < na; i++) tmpl_list_add(r, out, tmpl_seq_at(a, i));
    for (size_t i = 0; i < nb; i++) tmpl_list_add(r, out, tmpl_seq_at(b, i));
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

static int repeat(struct tmpl_call *r, const struct node *n, tv *s, int64_t times, tv *out)
{
    if (times < 0) times = 0;
    if (s->kind == TMPL_STR) {
        if (s->len && (uint64_t)times > r->outmax / s->len) return tmpl_rerr(r, n, "string repetition too large");
        size_t total = (size_t)times * s->len;
        char *d = tmpl_arena_alloc(r->ar, total + 1);
        if (!d) return tmpl_rerr(r, n, "out of memory");
        for (int64_t i = 0; i < times; i++) memcpy(d + (size_t)i * s->len, s->u.s, s->len);
        *out = v_strn(d, total);
        return 0;
    }
    size_t len = tmpl_v_len(s);
    if (len && (uint64_t)times > TMPL_RANGE_MAX / len) return tmpl_rerr(r, n, "list repetition too large");
    *out = tmpl_v_list(r, (uint32_t)(len * (size_t)times));
    if (r->failed) return tmpl_rerr(r, n, "out of memory");
    out->flags = s->flags & VF_TUPLE;
    for (int64_t t = 0; t < times; t++)
        for (size_t i = 0; i < len; i++) tmpl_list_add(r, out, tmpl_seq_at(s, i));
    return 0;
}

static int arith(struct tmpl_call *r, const struct node *n, int op, tv *a, tv *b, tv *out)
{
    if (a->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, a);
    if (b->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, b);
    if (tmpl_v_is_num(a) && tmpl_v_is_num(b)) {
        int ints = a->kind != TMPL_FLOAT && b->kind != TMPL_FLOAT;
        int64_t x = a->u.i, y = b->u.i, z;
        double fx = tmpl_v_num(a), fy = tmpl_v_num(b);
        switch (op) {
        case T_ADD:
            if (ints) {
                if (__builtin_add_overflow(x, y, &z)) return tmpl_rerr(r, n, "integer overflow");
                *out = v_int(z);
            } else *out = v_float(fx + fy);
            return 0;
        case T_SUB:
            if (ints) {
                if (__builtin_sub_overflow(x, y, &z)) return tmpl_rerr(r, n, "integer overflow");
                *out = v_int(z);
            } else *out = v_float(fx - fy);
            return 0;
        case T_MUL:
            if (ints) {
                if (__builtin_mul_overflow(x, y, &z)) return tmpl_rerr(r, n, "integer overflow");
                *out = v_int(z);
            } else *out = v_float(fx * fy);
            return 0;
        case T_DIV:
            if (fy == 0) return tmpl_rerr(r, n, "division by zero");
            *out = v_float(fx / fy);
            return 0;
        case T_FLOORDIV:
            if (ints) {
                if (y == 0) return tmpl_rerr(r, n, "integer division or modulo by zero");
                if (x == INT64_MIN && y == -1) return tmpl_rerr(r, n, "integer overflow");
                z = x / y;
                if ((x % y != 0) && ((x < 0) != (y < 0))) z--;
                *out = v_int(z);
            } else {
                if (fy == 0) return tmpl_rerr(r, n, "float floor division by zero");
                *out = v_float(floor(fx / fy));
            }
            return 0;
        case T_MOD:
            if (ints) {
                if (y == 0) return tmpl_rerr(r, n, "integer division or modulo by zero");
                if (y == -1) { *out = v_int(0); return 0; }
                z = x % y;
                if (z != 0 && ((z < 0) != (y < 0))) z += y;
                *out = v_int(z);
            } else {
                if (fy == 0) return tmpl_rerr(r, n, "float modulo");
                double m = fmod(fx, fy);
                if (m != 0 && ((m < 0) != (fy < 0))) m += fy;
                *out = v_float(m);
            }
            return 0;
        case T_POW:
            if (ints && y >= 0) {
                int64_t res = 1, base = x;
                int64_t e2 = y;
                while (e2 > 0) {
                    if (e2 & 1)
                        if (__builtin_mul_overflow(res, base, &res)) return tmpl_rerr(r, n, "integer overflow");
                    e2 >>= 1;
                    if (e2 && __builtin_mul_overflow(base, base, &base)) return tmpl_rerr(r, n, "integer overflow");
                }
                *out = v_int(res);
                return 0;
            }
            if (fx == 0 && fy < 0) return tmpl_rerr(r, n, "0.0 cannot be raised to a negative power");
            *out = v_float(pow(fx, fy));
            return 0;
        }
    }
    if (op == T_ADD && a->kind == TMPL_STR && b->kind == TMPL_STR) {
        char *d = tmpl_arena_alloc(r->ar, (size_t)a->len + b->len + 1);
        if (!d) return tmpl_rerr(r, n, "out of memory");
        memcpy(d, a->u.s, a->len);
        memcpy(d + a->len, b->u.s, b->len);
        *out = v_strn(d, (size_t)a->len + b->len);
        return 0;
    }
    if (op == T_ADD && tmpl_v_is_seq(a) && tmpl_v_is_seq(b) && (a->flags & VF_TUPLE) == (b->flags & VF_TUPLE))
        return concat_seq(r, n, a, b, out);
    if (op == T_MUL && (a->kind == TMPL_STR || tmpl_v_is_seq(a)) && (b->kind == TMPL_INT || b->kind == TMPL_BOOL))
        return repeat(r, n, a, b->u.i, out);
    if (op == T_MUL && (b->kind == TMPL_STR || tmpl_v_is_seq(b)) && (a->kind == TMPL_INT || a->kind == TMPL_BOOL))
        return repeat(r, n, b, a->u.i, out);
    if (op == T_MOD && a->kind == TMPL_STR) {
        struct buf bb;
        buf_init(&bb);
        int rc;
        if (b->kind == TMPL_LIST && (b->flags & VF_TUPLE)) {
            struct tlist *l = b->u.p;
            rc = tmpl_py_percent_format(r, n, a->u.s, a->len, l->it, l->len, NULL, &bb);
        } else if (tmpl_v_is_map(b)) {
            rc = tmpl_py_percent_format(r, n, a->u.s, a->len, b, 1, b, &bb);
        } else {
            rc = tmpl_py_percent_format(r, n, a->u.s, a->len, b, 1, NULL, &bb);
        }
        if (rc == 0) *out = tmpl_v_str_copy(r, buf_cstr(&bb), bb.len);
        buf_free(&bb);
        return rc;
    }
    return tmpl_rerr(r, n, "unsupported operand type(s) for %s: '%s' and '%s'", opname(op), tmpl_kind_name(a), tmpl_kind_name(b));
}

/* ---- calls ---- */

static int eval_args(struct tmpl_call *r, const struct node *c, struct args *a)
{
    a->npos = a->nkw = 0;
    uint32_t extra = 0;
    tv star = {0}, dstar = {0};
    tv *sitems = NULL;
    size_t sn = 0;
    if (c->star) {
        if (eval(r, c->star, &star) < 0 || tmpl_v_iter(r, c->star, &star, &sitems, &sn) < 0) return -1;
        extra = (uint32_t)sn;
    }
    if (c->n + extra <= ARGS_INLINE) a->pos = a->pos_buf;
    else if (!(a->pos = tmpl_arena_alloc(r->ar, (c->n + extra + 1) * sizeof(tv))))
        return tmpl_rerr(r, c, "out of memory");
    for (uint32_t i = 0; i < c->n; i++)
        if (eval(r, c->list[i], &a->pos[i]) < 0) return -1;
    for (size_t i = 0; i < sn; i++) a->pos[c->n + i] = sitems[i];
    a->npos = c->n + extra;
    tv *dk = NULL, *dv = NULL;
    size_t dn = 0;
    if (c->dstar) {
        if (eval(r, c->dstar, &dstar) < 0) return -1;
        if (!tmpl_v_is_map(&dstar))
            return tmpl_rerr(r, c->dstar, "argument after ** must be a mapping, not %s", tmpl_kind_name(&dstar));
        dn = tmpl_map_entries(r, &dstar, &dk, &dv);
    }
    if (c->nn + dn <= ARGS_INLINE) {
        a->kwn = a->kwn_buf;
        a->kwv = a->kwv_buf;
    } else {
        a->kwn = tmpl_arena_alloc(r->ar, (c->nn + dn + 1) * sizeof(char *));
        a->kwv = tmpl_arena_alloc(r->ar, (c->nn + dn + 1) * sizeof(tv));
        if (!a->kwn || !a->kwv) return tmpl_rerr(r, c, "out of memory");
    }
    for (uint32_t i = 0; i < c->nn; i++) {
        a->kwn[i] = c->names[i];
        if (eval(r, c->list2[i], &a->kwv[i]) < 0) return -1;
    }
    for (size_t i = 0; i < dn; i++) {
        if (dk[i].kind != TMPL_STR) return tmpl_rerr(r, c->dstar, "keywords must be strings");
        a->kwn[c->nn + i] = tmpl_arena_strndup(r->ar, dk[i].u.s, dk[i].len);  /* not interned: per render */
        if (!a->kwn[c->nn + i]) return tmpl_rerr(r, c, "out of memory");
        a->kwv[c->nn + i] = dv[i];
    }
    a->nkw = c->nn + (uint32_t)dn;
    return 0;
}

static int call_macro(struct tmpl_call *r, const struct node *n, struct tmacro *m, struct args *a, tv *caller,
                      tv *out)
{
    const struct node *d = m->def;
    const char *mname = m->name ? m->name : "caller";
    if (r->depth >= TMPL_DEPTH_MAX) return tmpl_rerr(r, n, "maximum recursion depth (%d) exceeded", TMPL_DEPTH_MAX);
    struct frame *f = frame_new(r, m->closure);
    if (!f) return tmpl_rerr(r, n, "out of memory");
    uint32_t np = d->nn;
    if (caller && m->name && !(d->flags & NF_USES_CALLER))
        return tmpl_rerr(r, n, "macro '%s' was invoked with a call block but does not use caller()", mname);
    if (a->npos > np && !(d->flags & NF_USES_VARARGS))
        return tmpl_rerr(r, n, "macro '%s' takes not more than %u argument(s)", mname, np);
    tv kwargs = {0};
    if (d->flags & NF_USES_KWARGS) {
        kwargs = tmpl_v_dict(r);
        if (r->failed) return tmpl_rerr(r, n, "out of memory");
    }
    for (uint32_t k = 0; k < a->nkw; k++) {
        uint32_t p;
        for (p = 0; p < np; p++)
            if (d->names[p] == a->kwn[k] || !strcmp(d->names[p], a->kwn[k])) break;
        if (p < np) {
            if (p < a->npos)
                return tmpl_rerr(r, n, "macro '%s' got multiple values for argument '%s'", mname, d->names[p]);
            continue;
        }
        if (!strcmp(a->kwn[k], "caller") && !m->name) continue;
        if (!(d->flags & NF_USES_KWARGS))
            return tmpl_rerr(r, n, "macro '%s' takes no keyword argument '%s'", mname, a->kwn[k]);
        if (tmpl_dict_put(r, &kwargs, v_strn(a->kwn[k], strlen(a->kwn[k])), a->kwv[k]) < 0)
            return tmpl_rerr(r, n, "out of memory");
    }
    struct frame *saved = r->frame;
    r->frame = f;
    r->depth++;
    int rc = 0;
    for (uint32_t p = 0; p < np && rc == 0; p++) {
        tv v = {0};
        int have = 0;
        if (p < a->npos) {
            v = a->pos[p];
            have = 1;
        } else {
            for (uint32_t k = 0; k < a->nkw; k++)
                if (d->names[p] == a->kwn[k] || !strcmp(d->names[p], a->kwn[k])) {
                    v = a->kwv[k];
                    have = 1;
                }
        }
        if (!have && d->list2 && d->list2[p]) {
            if (eval(r, d->list2[p], &v) < 0) rc = -1;
        } else if (!have) {
            char *msg = tmpl_arena_alloc(r->ar, strlen(d->names[p]) + 40);
            if (msg) sprintf(msg, "parameter '%s' was not provided", d->names[p]);
            v = tmpl_v_undef_msg(msg ? msg : "parameter was not provided");
        }
        if (rc == 0 && frame_set(r, f, d->names[p], v) < 0) rc = tmpl_rerr(r, n, "out of memory");
    }
    if (rc == 0 && (d->flags & NF_USES_VARARGS)) {
        tv va = tmpl_v_list(r, 0);
        va.flags = VF_TUPLE;
        for (uint32_t i = np; i < a->npos; i++) tmpl_list_add(r, &va, a->pos[i]);
        frame_set(r, f, tmpl_intern(r->env, "varargs", 7), va);
    }
    if (rc == 0 && (d->flags & NF_USES_KWARGS)) frame_set(r, f, tmpl_intern(r->env, "kwargs", 6), kwargs);
    if (rc == 0 && caller) frame_set(r, f, tmpl_intern(r->env, "caller", 6), *caller);
    if (rc == 0 && r->failed) rc = tmpl_rerr(r, n, "out of memory");
    if (rc == 0) rc = render_to_string(r, d->list, d->n, out);
    r->depth--;
    r->frame = saved;
    return rc;
}

static int call_native(struct tmpl_call *r, const struct node *n, struct tmpl_native *nat, const char *name,
                       struct args *a, tv *out)
{
    if (!nat->ops->call_method) return tmpl_rerr(r, n, "'%s' object has no method '%s'", nat->ops->type_name, name);
    if (a->nkw) return tmpl_rerr(r, n, "%s.%s() takes no keyword arguments", nat->ops->type_name, name);
    for (uint32_t i = 0; i < a->npos; i++)
        if (a->pos[i].kind == TMPL_STR && a->pos[i].u.s[a->pos[i].len] != '\0') {
            a->pos[i] = tmpl_v_str_copy(r, a->pos[i].u.s, a->pos[i].len);
            if (r->failed) return tmpl_rerr(r, n, "out of memory");
        }
    r->pending[0] = '\0';
    *out = v_none();
    if (nat->ops->call_method(nat->self, name, a->pos, a->npos, out, r) < 0)
        return tmpl_rerr(r, n, "%s", r->pending[0] ? r->pending : "native call failed");
    return 0;
}

static int call_full(struct tmpl_call *r, const struct node *n, tv *callee, struct args *a, tv *caller, tv *out)
{
    switch (callee->kind) {
    case TMPL_MACRO:
        return call_macro(r, n, callee->u.p, a, caller, out);
    case TMPL_FUNC: {
        struct tfunc *f = callee->u.p;
        if (f->fn) return f->fn(r, n, a, out);
        if (f->self.kind == TMPL_NATIVE) return call_native(r, n, f->self.u.nat, f->name, a, out);
        return tmpl_call_method(r, n, &f->self, f->name, a, out);
    }
    case TMPL_NATIVE: {
        struct tmpl_native *nat = callee->u.nat;
        if (!nat->ops->call) return tmpl_rerr(r, n, "'%s' object is not callable", tmpl_kind_name(callee));
        if (a->nkw) return tmpl_rerr(r, n, "%s() takes no keyword arguments", tmpl_kind_name(callee));
        for (uint32_t i = 0; i < a->npos; i++)
            if (a->pos[i].kind == TMPL_STR && a->pos[i].u.s[a->pos[i].len] != '\0') {
                a->pos[i] = tmpl_v_str_copy(r, a->pos[i].u.s, a->pos[i].len);
                if (r->failed) return tmpl_rerr(r, n, "out of memory");
            }
        r->pending[0] = '\0';
        *out = v_none();
        if (nat->ops->call(nat->self, a->pos, a->npos, out, r) < 0)
            return tmpl_rerr(r, n, "%s", r->pending[0] ? r->pending : "native call failed");
        return 0;
    }
    case TMPL_UNDEF:
        return tmpl_undef_error(r, n, callee);
    default:
        return tmpl_rerr(r, n, "'%s' object is not callable", tmpl_kind_name(callee));
    }
}

static int eval_call(struct tmpl_call *r, const struct node *c, tv *caller, tv *out)
{
    const struct node *fn = c->a;
    tv callee;
    if (fn->kind == N_GETATTR) {
        tv obj;
        if (eval(r, fn->a, &obj) < 0) return -1;
        if (obj.kind == TMPL_NATIVE && obj.u.nat->ops->call_method) {
            int is_attr = 0;
            if (obj.u.nat->ops->get_attr) {
                r->pending[0] = '\0';
                int rc = obj.u.nat->ops->get_attr(obj.u.nat->self, fn->s, &callee, r);
                if (rc < 0) return tmpl_rerr(r, fn, "%s", r->pending[0] ? r->pending : "attribute lookup failed");
                is_attr = rc > 0;
            }
            if (!is_attr) {
                struct args a;
                if (eval_args(r, c, &a) < 0) return -1;
                return call_native(r, c, obj.u.nat, fn->s, &a, out);
            }
        } else if (obj.kind != TMPL_UNDEF && !(obj.kind == TMPL_DICT && (obj.flags & (VF_NS | VF_MODULE))) &&
                   tmpl_method_exists(&obj, fn->s)) {
            struct args a;
            if (eval_args(r, c, &a) < 0) return -1;
            return tmpl_call_method(r, c, &obj, fn->s, &a, out);
        } else if (tmpl_getattr(r, fn, &obj, fn->s, &callee) < 0) {
            return -1;
        }
    } else if (eval(r, fn, &callee) < 0) {
        return -1;
    }
    struct args a;
    if (eval_args(r, c, &a) < 0) return -1;
    return call_full(r, c, &callee, &a, caller, out);
}

/* ---- comparisons ---- */

static int contains(struct tmpl_call *r, const struct node *n, tv *item, tv *cont, int *res)
{
    switch (cont->kind) {
    case TMPL_UNDEF:
        if (tmpl_check_undef(r, n, cont) < 0) return -1;
        *res = 0;
        return 0;
    case TMPL_STR:
        if (item->kind != TMPL_STR)
            return tmpl_rerr(r, n, "'in <string>' requires string as left operand, not %s", tmpl_kind_name(item));
        *res = item->len == 0 || (item->len <= cont->len && memmem(cont->u.s, cont->len, item->u.s, item->len));
        return 0;
    case TMPL_LIST:
    case TMPL_JLIST:
    case TMPL_PLIST: {
        size_t len = tmpl_v_len(cont);
        for (size_t i = 0; i < len; i++) {
            tv x = tmpl_seq_at(cont, i);
            if (tmpl_v_eq(&x, item)) {
                *res = 1;
                return 0;
            }
        }
        *res = 0;
        return 0;
    }
    case TMPL_DICT:
    case TMPL_JDICT:
    case TMPL_PDICT: {
        if (cont->flags & VF_NS) return tmpl_rerr(r, n, "argument of type 'Namespace' is not iterable");
        tv dummy;
        *res = tmpl_dict_get(cont, item, &dummy);
        return 0;
    }
    default:
        return tmpl_rerr(r, n, "argument of type '%s' is not iterable", tmpl_kind_name(cont));
    }
}

static int compare_op(struct tmpl_call *r, const struct node *n, int op, tv *a, tv *b, int *res)
{
    if (r->strict && (tmpl_check_undef(r, n, a) < 0 || tmpl_check_undef(r, n, b) < 0)) return -1;
    int c;
    switch (op) {
    case T_EQ: *res = tmpl_v_eq(a, b); return 0;
    case T_NE: *res = !tmpl_v_eq(a, b); return 0;
    case 100: return contains(r, n, a, b, res);
    case 101:
        if (contains(r, n, a, b, res) < 0) return -1;
        *res = !*res;
        return 0;
    }
    if (tmpl_v_cmp(a, b, &c) < 0) {
        if (a->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, a);
        if (b->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, b);
        const char *o = op == T_LT ? "<" : op == T_LE ? "<=" : op == T_GT ? ">" : ">=";
        return tmpl_rerr(r, n, "'%s' not supported between instances of '%s' and '%s'", o, tmpl_kind_name(a), tmpl_kind_name(b));
    }
    switch (op) {
    case T_LT: *res = c < 0; break;
    case T_LE: *res = c <= 0; break;
    case T_GT: *res = c > 0; break;
    default: *res = c >= 0; break;
    }
    return 0;
}

static int truthy(struct tmpl_call *r, const struct node *n, const tv *v, int *res)
{
    if (tmpl_check_undef(r, n, v) < 0) return -1;
    *res = tmpl_v_truthy(v);
    return 0;
}

/* ---- expressions ---- */

static int stack_exhausted(const struct tmpl_call *r)
{
    const char *here = __builtin_frame_address(0);
    return r->stack_base && (size_t)(r->stack_base > here ? r->stack_base - here : here - r->stack_base) > TMPL_STACK_MAX;
}

static int eval(struct tmpl_call *r, const struct node *n, tv *out)
{
    if (stack_exhausted(r)) return tmpl_rerr(r, n, "template too deeply nested or recursive (stack limit)");
    if (++r->steps > r->max_steps) return tmpl_rerr(r, n, "render aborted after %lld evaluation steps", r->max_steps);
    switch (n->kind) {
    case N_CONST:
        *out = n->lit;
        return 0;
    case N_NAME:
        if (!frame_lookup(r, n->s, out)) {
            *out = v_undef();
            out->u.s = n->s;
        }
        return 0;
    case N_LIST:
    case N_TUPLE:
        *out = tmpl_v_list(r, n->n);
        if (r->failed) return tmpl_rerr(r, n, "out of memory");
        if (n->kind == N_TUPLE) out->flags = VF_TUPLE;
        for (uint32_t i = 0; i < n->n; i++) {
            tv x;
            if (eval(r, n->list[i], &x) < 0) return -1;
            tmpl_list_add(r, out, x);
        }
        return 0;
    case N_DICT:
        *out = tmpl_v_dict(r);
        if (r->failed) return tmpl_rerr(r, n, "out of memory");
        for (uint32_t i = 0; i < n->n; i++) {
            tv k, v;
            if (eval(r, n->list[i], &k) < 0 || eval(r, n->list2[i], &v) < 0) return -1;
            if ((tmpl_v_is_seq(&k) && !(k.flags & VF_TUPLE)) || tmpl_v_is_map(&k))
                return tmpl_rerr(r, n->list[i], "unhashable type: '%s'", tmpl_kind_name(&k));
            if (tmpl_dict_put(r, out, k, v) < 0) return tmpl_rerr(r, n, "out of memory");
        }
        return 0;
    case N_GETATTR: {
        tv obj;
        if (eval(r, n->a, &obj) < 0) return -1;
        if (!(n->flags & NF_MAYBE_METHOD)) {  /* fast paths: plain data */
            if (obj.kind == TMPL_PDICT) {
                if (!packed_attr(r, &obj, n->s, n->slen, out)) *out = tmpl_v_undef_attr(&obj, n->s);
                return 0;
            }
            tv key = v_strn(n->s, n->slen);
            if (obj.kind == TMPL_DICT && obj.flags == 0) {  /* not a namespace or module */
                if (!tmpl_dict_get_h(&obj, &key, n->hash, out)) *out = tmpl_v_undef_attr(&obj, n->s);
                return 0;
            }
            if (obj.kind == TMPL_JDICT) {
                if (!tmpl_dict_get(&obj, &key, out)) *out = tmpl_v_undef_attr(&obj, n->s);
                return 0;
            }
        }
        return tmpl_getattr(r, n, &obj, n->s, out);
    }
    case N_GETITEM: {
        tv obj, key;
        if (eval(r, n->a, &obj) < 0) return -1;
        if (n->b->kind == N_SLICE) return do_slice(r, n, &obj, n->b, out);
        if (eval(r, n->b, &key) < 0) return -1;
        return tmpl_getitem(r, n, &obj, &key, out);
    }
    case N_CALL:
        return eval_call(r, n, NULL, out);
    case N_FILTER: {
        tv v;
        if (n->a) {
            if (eval(r, n->a, &v) < 0) return -1;
        } else {
            v = r->blockval;
        }
        if (!n->ffn) return tmpl_rerr(r, n, "no filter named '%s'", n->s);
        struct args a;
        if (eval_args(r, n, &a) < 0) return -1;
        if (v.kind == TMPL_UNDEF && r->strict && strcmp(n->s, "default") && strcmp(n->s, "d"))
            return tmpl_undef_error(r, n, &v);
        return n->ffn(r, n, &v, &a, out);
    }
    case N_TEST: {
        tv v;
        if (eval(r, n->a, &v) < 0) return -1;
        if (!n->tfn) return tmpl_rerr(r, n, "no test named '%s'", n->s);
        struct args a;
        if (eval_args(r, n, &a) < 0) return -1;
        int res;
        if (n->tfn(r, n, &v, &a, &res) < 0) return -1;
        *out = v_bool((n->flags & NF_NEGATE) ? !res : res);
        return 0;
    }
    case N_BINOP: {
        tv a, b;
        if (eval(r, n->a, &a) < 0 || eval(r, n->b, &b) < 0) return -1;
        return arith(r, n, n->op, &a, &b, out);
    }
    case N_NEG:
    case N_POS: {
        tv a;
        if (eval(r, n->a, &a) < 0) return -1;
        if (a.kind == TMPL_UNDEF) return tmpl_undef_error(r, n, &a);
        if (!tmpl_v_is_num(&a)) return tmpl_rerr(r, n, "bad operand type for unary %s: '%s'", n->kind == N_NEG ? "-" : "+", tmpl_kind_name(&a));
        if (n->kind == N_POS) *out = a.kind == TMPL_BOOL ? v_int(a.u.i) : a;
        else if (a.kind == TMPL_FLOAT) *out = v_float(-a.u.f);
        else if (a.u.i == INT64_MIN) return tmpl_rerr(r, n, "integer overflow");
        else *out = v_int(-a.u.i);
        return 0;
    }
    case N_NOT: {
        tv a;
        int t;
        if (eval(r, n->a, &a) < 0 || truthy(r, n, &a, &t) < 0) return -1;
        *out = v_bool(!t);
        return 0;
    }
    case N_AND:
    case N_OR: {
        tv a;
        int t;
        if (eval(r, n->a, &a) < 0 || truthy(r, n, &a, &t) < 0) return -1;
        if ((n->kind == N_AND) ? !t : t) {
            *out = a;
            return 0;
        }
        return eval(r, n->b, out);
    }
    case N_CONCAT: {
        struct buf b;
        buf_init(&b);
        for (uint32_t i = 0; i < n->n; i++) {
            tv x;
            if (eval(r, n->list[i], &x) < 0 || tmpl_v_to_str(r, n, &x, &b) < 0) {
                buf_free(&b);
                return -1;
            }
        }
        if (b.oom) {
            buf_free(&b);
            return tmpl_rerr(r, n, "out of memory");
        }
        *out = tmpl_v_str_copy(r, buf_cstr(&b), b.len);
        buf_free(&b);
        return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
    }
    case N_COMPARE: {
        tv a;
        if (eval(r, n->a, &a) < 0) return -1;
        for (uint32_t i = 0; i < n->n; i++) {
            tv b;
            int res;
            if (eval(r, n->list[i], &b) < 0 || compare_op(r, n, n->ops[i], &a, &b, &res) < 0) return -1;
            if (!res) {
                *out = v_bool(0);
                return 0;
            }
            a = b;
        }
        *out = v_bool(1);
        return 0;
    }
    case N_COND: {
        tv c;
        int t;
        if (eval(r, n->b, &c) < 0 || truthy(r, n, &c, &t) < 0) return -1;
        if (t) return eval(r, n->a, out);
        if (n->c) return eval(r, n->c, out);
        char *m = tmpl_arena_alloc(r->ar, 120);
        if (!m) return tmpl_rerr(r, n, "out of memory");
        snprintf(m, 120, "the inline if-expression on line %d evaluated to false and no else section was defined.", n->line);
        *out = tmpl_v_undef_msg(m);
        return 0;
    }
    case N_BLOCKVAL:
        *out = r->blockval;
        return 0;
    default:
        return tmpl_rerr(r, n, "internal error: unexpected node %d in expression", n->kind);
    }
}

/* ---- statements ---- */

static int assign(struct tmpl_call *r, const struct node *target, tv v)
{
    if (target->kind == N_NAME) {
        if (frame_set(r, r->frame, target->s, v) < 0) return tmpl_rerr(r, target, "out of memory");
        return 0;
    }
    if (target->kind == N_NSREF) {
        tv ns;
        if (!frame_lookup(r, target->s, &ns) || ns.kind != TMPL_DICT || !(ns.flags & VF_NS))
            return tmpl_rerr(r, target, "cannot assign attribute on non-namespace object");
        if (tmpl_dict_put(r, &ns, v_strn(target->names[0], strlen(target->names[0])), v) < 0)
            return tmpl_rerr(r, target, "out of memory");
        return 0;
    }
    /* tuple unpacking */
    tv *items;
    size_t cnt;
    if (v.kind == TMPL_UNDEF) return tmpl_undef_error(r, target, &v);
    if (tmpl_v_iter(r, target, &v, &items, &cnt) < 0) return -1;
    if (cnt != target->n)
        return tmpl_rerr(r, target, cnt > target->n ? "too many values to unpack (expected %u)"
                                                : "not enough values to unpack (expected %u)", target->n);
    for (uint32_t i = 0; i < target->n; i++)
        if (assign(r, target->list[i], items[i]) < 0) return -1;
    return 0;
}

static int render_to_string(struct tmpl_call *r, struct node **body, uint32_t nb, tv *out)
{
    struct buf b;
    buf_init(&b);
    struct buf *saved = r->out;
    r->out = &b;
    int rc = exec_body(r, body, nb);
    r->out = saved;
    if (rc == 0) {
        *out = tmpl_v_str_copy(r, buf_cstr(&b), b.len);
        if (r->failed) rc = tmpl_rerr(r, NULL, "out of memory");
    }
    buf_free(&b);
    return rc;
}

static int exec_for(struct tmpl_call *r, const struct node *n)
{
    tv seq;
    if (eval(r, n->a, &seq) < 0) return -1;
    tv *items;
    size_t cnt;
    if (seq.kind == TMPL_UNDEF && !r->strict) {
        items = NULL;
        cnt = 0;
    } else if (tmpl_v_iter(r, n->a, &seq, &items, &cnt) < 0) {
        return -1;
    }
    struct frame *saved = r->frame;
    struct frame *f = frame_new(r, saved);
    if (!f) return tmpl_rerr(r, n, "out of memory");
    r->frame = f;
    if (n->b) {  /* inline filter: `for x in xs if cond` (into a copy: items may be immutable data) */
        tv *kept = tmpl_arena_alloc(r->ar, (cnt ? cnt : 1) * sizeof(tv));
        if (!kept) {
            r->frame = saved;
            return tmpl_rerr(r, n, "out of memory");
        }
        size_t k = 0;
        for (size_t i = 0; i < cnt; i++) {
            f->n = 0;
            tv c;
            int t;
            if (assign(r, n->c, items[i]) < 0 || eval(r, n->b, &c) < 0 || truthy(r, n->b, &c, &t) < 0) {
                r->frame = saved;
                return -1;
            }
            if (t) kept[k++] = items[i];
        }
        items = kept;
        cnt = k;
    }
    struct tloop *loop = tmpl_arena_alloc(r->ar, sizeof(*loop));
    if (!loop) {
        r->frame = saved;
        return tmpl_rerr(r, n, "out of memory");
    }
    loop->items = items;
    loop->length = (int64_t)cnt;
    loop->depth = 1;
    tv lv = {0};
    lv.kind = TMPL_LOOP;
    lv.u.p = loop;
    if (!r->env->name_loop && !(r->env->name_loop = tmpl_intern(r->env, "loop", 4))) {
        r->frame = saved;
        return tmpl_rerr(r, n, "out of memory");
    }
    const char *loopname = r->env->name_loop;
    int rc = 0;
    for (size_t i = 0; i < cnt; i++) {
        f->n = 0;
        loop->index0 = (int64_t)i;
        if (frame_set(r, f, loopname, lv) < 0) {
            rc = tmpl_rerr(r, n, "out of memory");
            break;
        }
        if (assign(r, n->c, items[i]) < 0 || exec_body(r, n->list, n->n) < 0) {
            rc = -1;
            break;
        }
        if (r->brk == 1) {
            r->brk = 0;
            break;
        }
        r->brk = 0;
    }
    if (rc == 0 && cnt == 0 && n->n2) {
        f->n = 0;
        rc = exec_body(r, n->list2, n->n2);
    }
    r->frame = saved;
    return rc;
}

static int load_for(struct tmpl_call *r, const struct node *n, tv *name, int ignore_missing, struct tmpl **out)
{
    tv *names = name;
    size_t cnt = 1;
    if (tmpl_v_is_seq(name) && tmpl_v_iter(r, n, name, &names, &cnt) < 0) return -1;
    for (size_t i = 0; i < cnt; i++) {
        if (names[i].kind == TMPL_UNDEF) return tmpl_undef_error(r, n, &names[i]);
        if (names[i].kind != TMPL_STR)
            return tmpl_rerr(r, n, "template name must be a string, not %s", tmpl_kind_name(&names[i]));
        const char *nm = cstr_tmp(r, &names[i]);
        if (!nm) return tmpl_rerr(r, n, "out of memory");
        int missing = 0;
        struct err e2;
        err_clear(&e2);
        if (tmpl_load(r->env, nm, out, &e2, &missing) == 0) return 1;
        if (!missing) {
            r->failed = 1;
            if (!r->reported && r->e) *r->e = e2;
            r->reported = 1;
            return -1;
        }
    }
    if (ignore_missing) return 0;
    struct buf b;
    buf_init(&b);
    if (cnt == 1) buf_append(&b, names[0].u.s, names[0].len);
    else tmpl_v_repr(name, &b);
    tmpl_rerr(r, n, "template not found: %s", buf_cstr(&b));
    buf_free(&b);
    return -1;
}

/* Renders template t as a module; returns the frame of its top-level names. */
static int run_module(struct tmpl_call *r, const struct node *n, struct tmpl *t, struct frame **mf)
{
    if (r->depth >= TMPL_DEPTH_MAX)
        return tmpl_rerr(r, n, "maximum include/import depth (%d) exceeded", TMPL_DEPTH_MAX);
    struct frame *f = frame_new(r, (n->flags & NF_WITH_CONTEXT) ? r->frame : NULL);
    if (!f) return tmpl_rerr(r, n, "out of memory");
    f->isolated = !(n->flags & NF_WITH_CONTEXT);
    struct frame *saved = r->frame;
    struct buf discard, *savedout = r->out;
    buf_init(&discard);
    r->frame = f;
    r->out = &discard;
    r->depth++;
    int rc = exec_body(r, t->body->list, t->body->n);
    r->depth--;
    r->out = savedout;
    r->frame = saved;
    buf_free(&discard);
    *mf = f;
    return rc;
}

static int exec_stmt(struct tmpl_call *r, const struct node *n)
{
    if (stack_exhausted(r)) return tmpl_rerr(r, n, "template too deeply nested or recursive (stack limit)");
    if (++r->steps > r->max_steps) return tmpl_rerr(r, n, "render aborted after %lld evaluation steps", r->max_steps);
    switch (n->kind) {
    case N_DATA:
        buf_append(r->out, n->s, n->slen);
        return out_check(r, n);
    case N_PRINT: {
        tv v;
        if (eval(r, n->a, &v) < 0) return -1;
        if (v.kind == TMPL_STR) buf_append(r->out, v.u.s, v.len);
        else if (tmpl_v_to_str(r, n, &v, r->out) < 0) return -1;
        return out_check(r, n);
    }
    case N_IF: {
        tv c;
        int t;
        if (eval(r, n->a, &c) < 0 || truthy(r, n->a, &c, &t) < 0) return -1;
        if (t) return exec_body(r, n->list, n->n);
        return exec_body(r, n->list2, n->n2);
    }
    case N_FOR:
        return exec_for(r, n);
    case N_SET: {
        tv v;
        if (eval(r, n->a, &v) < 0) return -1;
        return assign(r, n->c, v);
    }
    case N_SETBLOCK: {
        tv v;
        if (render_to_string(r, n->list, n->n, &v) < 0) return -1;
        if (n->a) {
            tv saved = r->blockval;
            r->blockval = v;
            int rc = eval(r, n->a, &v);
            r->blockval = saved;
            if (rc < 0) return -1;
        }
        return assign(r, n->c, v);
    }
    case N_MACRO: {
        struct tmacro *m = tmpl_arena_alloc(r->ar, sizeof(*m));
        if (!m) return tmpl_rerr(r, n, "out of memory");
        m->def = n;
        m->closure = r->frame;
        m->name = n->s;
        tv v = {0};
        v.kind = TMPL_MACRO;
        v.u.p = m;
        if (frame_set(r, r->frame, n->s, v) < 0) return tmpl_rerr(r, n, "out of memory");
        return 0;
    }
    case N_CALLBLOCK: {
        struct tmacro *m = tmpl_arena_alloc(r->ar, sizeof(*m));
        if (!m) return tmpl_rerr(r, n, "out of memory");
        m->def = n;
        m->closure = r->frame;
        tv caller = {0}, res;
        caller.kind = TMPL_MACRO;
        caller.u.p = m;
        if (eval_call(r, n->a, &caller, &res) < 0) return -1;
        if (tmpl_v_to_str(r, n, &res, r->out) < 0) return -1;
        return out_check(r, n);
    }
    case N_INCLUDE: {
        tv name;
        struct tmpl *t;
        if (eval(r, n->a, &name) < 0) return -1;
        int rc = load_for(r, n, &name, n->flags & NF_IGNORE_MISSING, &t);
        if (rc <= 0) return rc;
        if (r->depth >= TMPL_DEPTH_MAX) return tmpl_rerr(r, n, "maximum include depth (%d) exceeded", TMPL_DEPTH_MAX);
        struct frame *f = frame_new(r, (n->flags & NF_WITH_CONTEXT) ? r->frame : NULL);
        if (!f) return tmpl_rerr(r, n, "out of memory");
        f->isolated = !(n->flags & NF_WITH_CONTEXT);
        f->include = 1;
        struct frame *saved = r->frame;
        r->frame = f;
        r->depth++;
        rc = exec_body(r, t->body->list, t->body->n);
        r->depth--;
        r->frame = saved;
        return rc;
    }
    case N_IMPORT:
    case N_FROMIMPORT: {
        tv name;
        struct tmpl *t;
        struct frame *mf = NULL;
        if (eval(r, n->a, &name) < 0) return -1;
        if (load_for(r, n, &name, 0, &t) <= 0) return -1;
        if (run_module(r, n, t, &mf) < 0) return -1;
        if (n->kind == N_IMPORT) {
            tv mod = tmpl_v_dict(r);
            if (r->failed) return tmpl_rerr(r, n, "out of memory");
            mod.flags = VF_MODULE;
            for (uint32_t i = 0; i < mf->n; i++)
                if (mf->v[i].name[0] != '_')
                    tmpl_dict_put(r, &mod, v_strn(mf->v[i].name, strlen(mf->v[i].name)), mf->v[i].v);
            if (r->failed || frame_set(r, r->frame, n->s, mod) < 0) return tmpl_rerr(r, n, "out of memory");
            return 0;
        }
        for (uint32_t k = 0; k < n->nn; k++) {
            tv v;
            uint32_t i;
            for (i = 0; i < mf->n; i++)
                if (mf->v[i].name == n->names[k]) break;
            if (i < mf->n) {
                v = mf->v[i].v;
            } else {
                size_t ml = strlen(t->name) + strlen(n->names[k]) + 80;
                char *m = tmpl_arena_alloc(r->ar, ml);
                if (!m) return tmpl_rerr(r, n, "out of memory");
                snprintf(m, ml, "the template '%s' (imported on line %d) does not export the requested name '%s'",
                         t->name, n->line, n->names[k]);
                v = tmpl_v_undef_msg(m);
            }
            if (frame_set(r, r->frame, n->names2[k], v) < 0) return tmpl_rerr(r, n, "out of memory");
        }
        return 0;
    }
    case N_FILTERBLOCK: {
        tv v, res;
        if (render_to_string(r, n->list, n->n, &v) < 0) return -1;
        tv saved = r->blockval;
        r->blockval = v;
        int rc = eval(r, n->a, &res);
        r->blockval = saved;
        if (rc < 0 || tmpl_v_to_str(r, n, &res, r->out) < 0) return -1;
        return out_check(r, n);
    }
    case N_WITH: {
        tv *vals = tmpl_arena_alloc(r->ar, (n->n2 + 1) * sizeof(tv));
        if (!vals) return tmpl_rerr(r, n, "out of memory");
        for (uint32_t i = 0; i < n->n2; i++)
            if (eval(r, n->list2[i], &vals[i]) < 0) return -1;
        struct frame *f = frame_new(r, r->frame);
        if (!f) return tmpl_rerr(r, n, "out of memory");
        for (uint32_t i = 0; i < n->nn; i++)
            if (frame_set(r, f, n->names[i], vals[i]) < 0) return tmpl_rerr(r, n, "out of memory");
        struct frame *saved = r->frame;
        r->frame = f;
        int rc = exec_body(r, n->list, n->n);
        r->frame = saved;
        return rc;
    }
    case N_BREAK:
        r->brk = 1;
        return 0;
    case N_CONTINUE:
        r->brk = 2;
        return 0;
    default:
        return tmpl_rerr(r, n, "internal error: unexpected node %d in statement", n->kind);
    }
}

static int exec_body(struct tmpl_call *r, struct node **body, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (exec_stmt(r, body[i]) < 0) return -1;
        if (r->brk) return 0;
    }
    return 0;
}

int tmpl_render_root(struct tmpl_call *r, struct tmpl *t, struct buf *out)
{
    r->stack_base = __builtin_frame_address(0);
    r->frame = frame_new(r, NULL);
    if (!r->frame) return tmpl_rerr(r, t->body, "out of memory");
    r->out = out;
    r->cur = t;
    return exec_body(r, t->body->list, t->body->n);
}
