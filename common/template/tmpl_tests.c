/* Jinja tests (`x is defined`, `x is divisibleby 3`, ...) and their registry, following Jinja2 3.1.
 * The global functions (range, dict, cycler...) are in tmpl_globals.c. */
#include <math.h>
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
    else if (v->kind == TMPL_PLIST || v->kind == TMPL_PDICT) *res = v->u.pb == o.u.pb && v->len == o.len;  /* block, slot */
    else *res = v->u.p == o.u.p;
    return 0;
}
T(in)
{
    tv seq;
    if (need_arg(r, n, a, "seq", &seq) < 0) return -1;
    switch (seq.kind) {
    case TMPL_STR:
        if (v->kind != TMPL_STR)
            return tmpl_rerr(r, n, "'in <string>' requires string as left operand, not %s", tmpl_kind_name(v));
        *res = v->len == 0 || memmem(seq.u.s, seq.len, v->u.s, v->len) != NULL;
        return 0;
    case TMPL_LIST:
    case TMPL_JLIST:
    case TMPL_PLIST:
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
    case TMPL_JDICT:
    case TMPL_PDICT: {
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
