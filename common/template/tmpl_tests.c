/* Template tests (`x is defined`, `x is divisibleby 3`, ...) and global functions (range, dict, namespace,
 * fail, cycler, joiner), following Jinja2 3.1. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

#define T(name) static int t_##name(struct tmpl_call *r, const struct node *n, tv *v, struct args *a, int *res)

static int need_arg(struct tmpl_call *r, const struct node *n, struct args *a, const char *name, tv *out)
{
    if (!tmpl_arg_get(a, 0, name, out)) return tmpl_rerr(r, n, "test needs an argument '%s'", name);
    return 0;
}

T(defined) { (void)r; (void)n; (void)a; *res = v->kind != TMPL_UNDEF; return 0; }
T(undefined) { (void)r; (void)n; (void)a; *res = v->kind == TMPL_UNDEF; return 0; }
T(none) { (void)r; (void)n; (void)a; *res = v->kind == TMPL_NONE; return 0; }
T(boolean) { (void)r; (void)n; (void)a; *res = v->kind == TMPL_BOOL; return 0; }
T(true) { (void)r; (void)n; (void)a; *res = v->kind == TMPL_BOOL && v->u.i; return 0; }
T(false) { (void)r; (void)n; (void)a; *res = v->kind == TMPL_BOOL && !v->u.i; return 0; }
T(number) { (void)r; (void)n; (void)a; *res = tmpl_v_is_num(v); return 0; }
T(integer) { (void)r; (void)n; (void)a; *res = v->kind == TMPL_INT; return 0; }
T(float) { (void)r; (void)n; (void)a; *res = v->kind == TMPL_FLOAT; return 0; }
T(string) { (void)r; (void)n; (void)a; *res = v->kind == TMPL_STR; return 0; }
T(mapping) { (void)r; (void)n; (void)a; *res = tmpl_v_is_map(v); return 0; }
T(iterable)
{
    (void)r; (void)n; (void)a;
    *res = v->kind == TMPL_STR || tmpl_v_is_seq(v) || tmpl_v_is_map(v) || v->kind == TMPL_UNDEF;
    return 0;
}
T(sequence)
{
    (void)r; (void)n; (void)a;
    *res = v->kind == TMPL_STR || tmpl_v_is_seq(v) || tmpl_v_is_map(v) || v->kind == TMPL_UNDEF;
    return 0;
}
T(callable)
{
    (void)r; (void)n; (void)a;
    *res = v->kind == TMPL_MACRO || v->kind == TMPL_FUNC || (v->kind == TMPL_NATIVE && v->u.nat->ops->call);
    return 0;
}
T(sameas)
{
    tv o;
    if (need_arg(r, n, a, "other", &o) < 0) return -1;
    if (v->kind != o.kind) *res = 0;
    else if (v->kind == TMPL_NONE || v->kind == TMPL_UNDEF) *res = 1;
    else if (v->kind == TMPL_BOOL || v->kind == TMPL_INT) *res = v->u.i == o.u.i;
    else if (v->kind == TMPL_STR) *res = v->u.s == o.u.s && v->len == o.len;
    else *res = v->u.p == o.u.p;
    return 0;
}
T(in)
{
    tv seq;
    if (need_arg(r, n, a, "seq", &seq) < 0) return -1;
    switch (seq.kind) {
    case TMPL_STR:
        if (v->kind != TMPL_STR) return tmpl_rerr(r, n, "'in <string>' requires string as left operand, not %s", tmpl_kind_name(v));
        *res = v->len == 0 || memmem(seq.u.s, seq.len, v->u.s, v->len) != NULL;
        return 0;
    case TMPL_LIST:
    case TMPL_JLIST:
        *res = 0;
        for (size_t i = 0; i < tmpl_v_len(&seq); i++) {
            tv x = tmpl_seq_at(&seq, i);
            if (tmpl_v_eq(&x, v)) {
                *res = 1;
                break;
            }
        }
        return 0;
    case TMPL_DICT:
    case TMPL_JDICT: {
        tv d;
        *res = tmpl_dict_get(&seq, v, &d);
        return 0;
    }
    case TMPL_UNDEF:
        *res = 0;
        return tmpl_check_undef(r, n, &seq);
    default:
        return tmpl_rerr(r, n, "argument of type '%s' is not iterable", tmpl_kind_name(&seq));
    }
}
T(eq) { tv o; if (need_arg(r, n, a, "other", &o) < 0) return -1; *res = tmpl_v_eq(v, &o); return 0; }
T(ne) { tv o; if (need_arg(r, n, a, "other", &o) < 0) return -1; *res = !tmpl_v_eq(v, &o); return 0; }

static int order(struct tmpl_call *r, const struct node *n, tv *v, struct args *a, int *c)
{
    tv o;
    if (need_arg(r, n, a, "other", &o) < 0) return -1;
    if (tmpl_v_cmp(v, &o, c) < 0) {
        if (v->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, v);
        return tmpl_rerr(r, n, "comparison not supported between instances of '%s' and '%s'", tmpl_kind_name(v), tmpl_kind_name(&o));
    }
    return 0;
}
T(lt) { int c; if (order(r, n, v, a, &c) < 0) return -1; *res = c < 0; return 0; }
T(le) { int c; if (order(r, n, v, a, &c) < 0) return -1; *res = c <= 0; return 0; }
T(gt) { int c; if (order(r, n, v, a, &c) < 0) return -1; *res = c > 0; return 0; }
T(ge) { int c; if (order(r, n, v, a, &c) < 0) return -1; *res = c >= 0; return 0; }

static int int_of(struct tmpl_call *r, const struct node *n, tv *v, int64_t *x, double *f, int *isf)
{
    *isf = 0;
    if (v->kind == TMPL_INT || v->kind == TMPL_BOOL) {
        *x = v->u.i;
        return 0;
    }
    if (v->kind == TMPL_FLOAT) {
        *isf = 1;
        *f = v->u.f;
        return 0;
    }
    if (v->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, v);
    return tmpl_rerr(r, n, "unsupported operand type(s) for %%: '%s' and 'int'", tmpl_kind_name(v));
}

T(even)
{
    (void)a;
    int64_t x = 0;
    double f = 0;
    int isf;
    if (int_of(r, n, v, &x, &f, &isf) < 0) return -1;
    *res = isf ? fmod(f, 2.0) == 0 : x % 2 == 0;
    return 0;
}
T(odd)
{
    (void)a;
    int64_t x = 0;
    double f = 0;
    int isf;
    if (int_of(r, n, v, &x, &f, &isf) < 0) return -1;
    *res = isf ? fabs(fmod(f, 2.0)) == 1 : x % 2 != 0;
    return 0;
}
T(divisibleby)
{
    tv o;
    if (need_arg(r, n, a, "num", &o) < 0) return -1;
    int64_t x = 0;
    double f = 0;
    int isf;
    if (int_of(r, n, v, &x, &f, &isf) < 0) return -1;
    if (!tmpl_v_is_num(&o)) return tmpl_rerr(r, n, "divisibleby needs a number");
    if (tmpl_v_num(&o) == 0) return tmpl_rerr(r, n, "integer division or modulo by zero");
    if (isf || o.kind == TMPL_FLOAT) *res = fmod(isf ? f : (double)x, tmpl_v_num(&o)) == 0;
    else *res = o.u.i == -1 ? 1 : x % o.u.i == 0;
    return 0;
}
T(lower)
{
    (void)a;
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    *res = tmpl_utf8_is_case(s, len, 0);
    return 0;
}
T(upper)
{
    (void)a;
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, v, &s, &len) < 0) return -1;
    *res = tmpl_utf8_is_case(s, len, 1);
    return 0;
}
T(escaped) { (void)r; (void)n; (void)a; *res = v->kind == TMPL_STR && (v->flags & VF_MARKUP); return 0; }
T(filter)
{
    (void)a;
    *res = v->kind == TMPL_STR && tmpl_find_filter(v->u.s) != NULL;
    (void)r;
    (void)n;
    return 0;
}
T(test)
{
    (void)a;
    *res = v->kind == TMPL_STR && tmpl_find_test(v->u.s) != NULL;
    (void)r;
    (void)n;
    return 0;
}

struct tentry {
    const char *name;
    test_fn fn;
};
static const struct tentry tests[] = {
    {"!=", t_ne}, {"<", t_lt}, {"<=", t_le}, {"==", t_eq}, {">", t_gt}, {">=", t_ge},
    {"boolean", t_boolean}, {"callable", t_callable}, {"defined", t_defined}, {"divisibleby", t_divisibleby},
    {"eq", t_eq}, {"equalto", t_eq}, {"escaped", t_escaped}, {"even", t_even}, {"false", t_false},
    {"filter", t_filter}, {"float", t_float}, {"ge", t_ge}, {"greaterthan", t_gt}, {"gt", t_gt}, {"in", t_in},
    {"integer", t_integer}, {"iterable", t_iterable}, {"le", t_le}, {"lessthan", t_lt}, {"lower", t_lower},
    {"lt", t_lt}, {"mapping", t_mapping}, {"ne", t_ne}, {"none", t_none}, {"number", t_number}, {"odd", t_odd},
    {"sameas", t_sameas}, {"sequence", t_sequence}, {"string", t_string}, {"test", t_test}, {"true", t_true},
    {"undefined", t_undefined}, {"upper", t_upper},
};

test_fn tmpl_find_test(const char *name)
{
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!strcmp(tests[i].name, name)) return tests[i].fn;
    return NULL;
}

int tmpl_apply_test(struct tmpl_call *r, const struct node *n, const char *name, tv *val, struct args *a, int *res)
{
    test_fn fn = tmpl_find_test(name);
    if (!fn) return tmpl_rerr(r, n, "no test named '%s'", name);
    return fn(r, n, val, a, res);
}

/* ---- globals ---- */

static int g_range(struct tmpl_call *r, const struct node *n, struct args *a, tv *out)
{
    int64_t start = 0, stop, step = 1;
    if (a->nkw) return tmpl_rerr(r, n, "range() takes no keyword arguments");
    if (a->npos < 1 || a->npos > 3) return tmpl_rerr(r, n, "range expected 1 to 3 arguments, got %u", a->npos);
    int64_t v[3];
    for (uint32_t i = 0; i < a->npos; i++)
        if (tmpl_v_as_int(r, n, &a->pos[i], &v[i]) < 0) return -1;
    if (a->npos == 1) stop = v[0];
    else {
        start = v[0];
        stop = v[1];
        if (a->npos == 3) step = v[2];
    }
    if (step == 0) return tmpl_rerr(r, n, "range() arg 3 must not be zero");
    uint64_t cnt = 0;  /* exact, in unsigned arithmetic */
    if (step > 0 && start < stop) cnt = ((uint64_t)stop - (uint64_t)start - 1) / (uint64_t)step + 1;
    if (step < 0 && start > stop) cnt = ((uint64_t)start - (uint64_t)stop - 1) / ((uint64_t)0 - (uint64_t)step) + 1;
    if (cnt > TMPL_RANGE_MAX) return tmpl_rerr(r, n, "range() would produce more than %d items", TMPL_RANGE_MAX);
    *out = tmpl_v_list(r, (uint32_t)cnt);
    if (r->failed) return tmpl_rerr(r, n, "out of memory");
    int64_t x = start;
    for (int64_t i = 0; i < (int64_t)cnt; i++) {
        tmpl_list_add(r, out, v_int(x));
        if (__builtin_add_overflow(x, step, &x)) break;
    }
    return 0;
}

static int fill_dict(struct tmpl_call *r, const struct node *n, struct args *a, tv *d, const char *what)
{
    if (a->npos > 1) return tmpl_rerr(r, n, "%s expected at most 1 positional argument, got %u", what, a->npos);
    if (a->npos == 1) {
        tv *src = &a->pos[0];
        if (tmpl_v_is_map(src) || (src->kind == TMPL_DICT)) {
            tv *ks, *vs;
            size_t c = tmpl_map_entries(r, src, &ks, &vs);
            for (size_t i = 0; i < c; i++) tmpl_dict_put(r, d, ks[i], vs[i]);
        } else {
            tv *items;
            size_t c;
            if (tmpl_v_iter(r, n, src, &items, &c) < 0) return -1;
            for (size_t i = 0; i < c; i++) {
                if (!tmpl_v_is_seq(&items[i]) || tmpl_v_len(&items[i]) != 2)
                    return tmpl_rerr(r, n, "%s sequence elements must be pairs", what);
                tv k = tmpl_seq_at(&items[i], 0);
                if ((tmpl_v_is_seq(&k) && !(k.flags & VF_TUPLE)) || tmpl_v_is_map(&k)) return tmpl_rerr(r, n, "unhashable type: '%s'", tmpl_kind_name(&k));
                tmpl_dict_put(r, d, k, tmpl_seq_at(&items[i], 1));
            }
        }
    }
    for (uint32_t i = 0; i < a->nkw; i++) tmpl_dict_put(r, d, v_strn(a->kwn[i], strlen(a->kwn[i])), a->kwv[i]);
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

static int g_dict(struct tmpl_call *r, const struct node *n, struct args *a, tv *out)
{
    *out = tmpl_v_dict(r);
    if (r->failed) return tmpl_rerr(r, n, "out of memory");
    return fill_dict(r, n, a, out, "dict");
}

static int g_namespace(struct tmpl_call *r, const struct node *n, struct args *a, tv *out)
{
    *out = tmpl_v_dict(r);
    if (r->failed) return tmpl_rerr(r, n, "out of memory");
    out->flags = VF_NS;
    return fill_dict(r, n, a, out, "namespace");
}

static int g_fail(struct tmpl_call *r, const struct node *n, struct args *a, tv *out)
{
    (void)out;
    tv m = v_strn("fail() called", 13);
    tmpl_arg_get(a, 0, "message", &m);
    const char *s;
    size_t len;
    if (tmpl_str_of(r, n, &m, &s, &len) < 0) return -1;
    return tmpl_rerr(r, n, "%.*s", (int)len, s);
}

/* cycler(*items): .next(), .current, .reset(); joiner(sep=', '): '' on the first call, sep afterwards.
 * Both are natives whose state lives in the render arena. */
struct cycler {
    struct tmpl_native nat;
    tv *items;
    uint32_t n, pos;
};

static int cycler_attr(void *self, const char *name, struct tmpl_value *out, struct tmpl_call *c)
{
    struct cycler *cy = self;
    (void)c;
    if (strcmp(name, "current")) return 0;
    *out = cy->items[cy->pos];
    return 1;
}

static int cycler_method(void *self, const char *name, const struct tmpl_value *args, size_t nargs,
                         struct tmpl_value *out, struct tmpl_call *c)
{
    struct cycler *cy = self;
    (void)args;
    if (nargs) return tmpl_call_error(c, "cycler.%s() takes no arguments", name);
    if (!strcmp(name, "next")) {
        *out = cy->items[cy->pos];
        cy->pos = (cy->pos + 1) % cy->n;
        return 0;
    }
    if (!strcmp(name, "reset")) {
        cy->pos = 0;
        *out = v_none();
        return 0;
    }
    return tmpl_call_error(c, "'Cycler' object has no attribute '%s'", name);
}

static const struct tmpl_native_ops cycler_ops = {.type_name = "Cycler", .get_attr = cycler_attr,
                                                  .call_method = cycler_method};

static int g_cycler(struct tmpl_call *r, const struct node *n, struct args *a, tv *out)
{
    if (a->nkw) return tmpl_rerr(r, n, "cycler() takes no keyword arguments");
    if (!a->npos) return tmpl_rerr(r, n, "at least one item has to be provided");
    struct cycler *cy = tmpl_arena_alloc(r->ar, sizeof(*cy));
    if (!cy || !(cy->items = tmpl_arena_alloc(r->ar, a->npos * sizeof(tv)))) return tmpl_rerr(r, n, "out of memory");
    memcpy(cy->items, a->pos, a->npos * sizeof(tv));
    cy->n = a->npos;
    cy->nat.ops = &cycler_ops;
    cy->nat.self = cy;
    *out = tmpl_value_native(&cy->nat);
    return 0;
}

struct joiner {
    struct tmpl_native nat;
    tv sep;
    int used;
};

static int joiner_call(void *self, const struct tmpl_value *args, size_t nargs, struct tmpl_value *out,
                       struct tmpl_call *c)
{
    struct joiner *j = self;
    (void)args;
    if (nargs) return tmpl_call_error(c, "joiner takes no arguments");
    *out = j->used ? j->sep : v_strn("", 0);
    j->used = 1;
    return 0;
}

static const struct tmpl_native_ops joiner_ops = {.type_name = "Joiner", .call = joiner_call};

static int g_joiner(struct tmpl_call *r, const struct node *n, struct args *a, tv *out)
{
    tv sep = v_strn(", ", 2);
    tmpl_arg_get(a, 0, "sep", &sep);
    if (a->npos > 1) return tmpl_rerr(r, n, "joiner() takes at most 1 argument");
    struct joiner *j = tmpl_arena_alloc(r->ar, sizeof(*j));
    if (!j) return tmpl_rerr(r, n, "out of memory");
    if (tmpl_v_str(r, n, &sep, &j->sep) < 0) return -1;
    j->nat.ops = &joiner_ops;
    j->nat.self = j;
    *out = tmpl_value_native(&j->nat);
    return 0;
}

struct gentry {
    const char *name;
    builtin_fn fn;
};
static const struct gentry globals[] = {
    {"cycler", g_cycler}, {"dict", g_dict}, {"fail", g_fail}, {"joiner", g_joiner}, {"namespace", g_namespace},
    {"range", g_range},
};

builtin_fn tmpl_find_global(const char *name)
{
    for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++)
        if (!strcmp(globals[i].name, name)) return globals[i].fn;
    return NULL;
}
