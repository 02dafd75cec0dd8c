/* The global functions every template sees: range, dict, namespace, fail, cycler and joiner (the last two
 * are natives whose state lives in the render arena), following Jinja2 3.1. Not for env globals set with
 * tmpl_env_set_global (tmpl_env.c) nor for the Jinja tests (tmpl_tests.c). */
#include <string.h>

#include "common/template/tmpl_internal.h"

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

static int g_dict(struct tmpl_call *r, const struct node *n, struct args *a, tv *out)
{
    *out = tmpl_v_dict(r);
    if (r->failed) return tmpl_rerr(r, n, "out of memory");
    return tmpl_dict_update_args(r, n, a, out, "dict");
}

static int g_namespace(struct tmpl_call *r, const struct node *n, struct args *a, tv *out)
{
    *out = tmpl_v_dict(r);
    if (r->failed) return tmpl_rerr(r, n, "out of memory");
    out->flags = VF_NS;
    return tmpl_dict_update_args(r, n, a, out, "namespace");
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
