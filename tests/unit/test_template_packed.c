/* The template engine over packed values (common/store/packed.h): a packed object as the render context,
 * natives returning lists of store objects with nothing copied, read-only containers, attribute names
 * resolved to key ids with a cache that never outlives a render nor a change of the key table (ids are
 * reused after keys are freed), several key tables in one render, and the edge values (empty containers, nesting, big ints, unicode keys, equality with literal
 * dicts, mixed sorting). Jinja2 conformance over packed contexts is tests/template/run_conformance.py. */
#include "tests/unit/unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/template.h"

static struct tmpl_env *mem_env(void)
{
    struct tmpl_options o = {.trim_blocks = 1, .lstrip_blocks = 1};
    struct tmpl_env *env = tmpl_env_new(NULL, &o);
    ck_assert_ptr_nonnull(env);
    return env;
}

static struct packed *pack(struct packed_keys *k, const char *json)
{
    struct packed *p;
    struct err e;
    ck_assert_msg(packed_from_text(k, json, strlen(json), NULL, &p, &e) == 0, "%s", e.msg);
    return p;
}

/* Renders src over ctx (a packed object) plus named values; returns malloc'd output, or NULL with *e. */
static char *render_vars(struct tmpl_env *env, const char *src, const struct tmpl_value *ctx, const char *const *names,
                         const struct tmpl_value *vals, size_t n, struct err *e)
{
    ck_assert_int_eq(tmpl_env_add(env, "t", src, strlen(src)), 0);
    struct tmpl *t;
    if (tmpl_compile(env, "t", &t, e) < 0) return NULL;
    struct buf out;
    buf_init(&out);
    if (tmpl_render_value(t, ctx, names, vals, n, &out, e) < 0) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal(&out);
}

static void expect(struct tmpl_env *env, const struct tmpl_value *ctx, const char *src, const char *want)
{
    struct err e;
    char *got = render_vars(env, src, ctx, NULL, NULL, 0, &e);
    ck_assert_msg(got != NULL, "%s: %s", src, e.msg);
    ck_assert_msg(!strcmp(got, want), "%s\n  got:  %s\n  want: %s", src, got, want);
    free(got);
}

START_TEST(test_template_packed_context_renders_in_place)
{
    struct packed_keys *k = packed_keys_new();
    struct packed *p = pack(k, "{\"name\": \"web\", \"ports\": [80, 443], \"meta\": {\"labels\": {\"app\": \"shop\"}}}");
    struct tmpl_value ctx = tmpl_value_packed(packed_root(p)), name;
    /* strings are pointers into the block, not copies */
    ck_assert_int_eq(tmpl_value_get(&ctx, "name", &name), 1);
    size_t len;
    const char *s = tmpl_value_cstr(&name, &len);
    const char *lo = packed_bytes(p), *hi = lo + packed_size(p);
    ck_assert(s >= lo && s + len < hi);
    ck_assert_int_eq(s[len], '\0');
    struct tmpl_env *env = mem_env();
    for (int i = 0; i < 2; i++)  /* rendered twice: nothing of the render stays in the data */
        expect(env, &ctx, "{{ name }}:{% for p in ports %}{{ p }},{% endfor %}{{ meta.labels.app }}|{{ meta.labels['app'] }}",
               "web:80,443,shop|shop");
    tmpl_env_free(env);
    packed_free(p);
    packed_keys_free(k);
}
END_TEST

/* A store-like native: List() returns a new list of the stored blocks' roots, GetSingle(name) one of them. */
struct objs {
    struct packed *p[3];
};

static int objs_call(void *self, const char *name, const struct tmpl_value *args, size_t nargs,
                     struct tmpl_value *out, struct tmpl_call *c)
{
    struct objs *o = self;
    if (!strcmp(name, "List")) {
        *out = tmpl_list_new(c);
        for (int i = 0; i < 3; i++)
            if (tmpl_list_push(c, out, tmpl_value_packed(packed_root(o->p[i]))) < 0) return -1;
        return 0;
    }
    if (!strcmp(name, "GetSingle") && nargs == 1) {
        const char *want = tmpl_value_cstr(&args[0], NULL);
        for (int i = 0; i < 3; i++) {
            struct tmpl_value obj = tmpl_value_packed(packed_root(o->p[i])), md, nm;
            if (tmpl_value_get(&obj, "metadata", &md) && tmpl_value_get(&md, "name", &nm) && want &&
                !strcmp(tmpl_value_cstr(&nm, NULL), want)) {
                *out = obj;
                return 0;
            }
        }
        *out = tmpl_value_none();
        return 0;
    }
    return tmpl_call_error(c, "no method %s()", name);
}

static const struct tmpl_native_ops objs_ops = {.type_name = "Store", .call_method = objs_call};

START_TEST(test_template_packed_natives_return_store_objects_uncopied)
{
    struct packed_keys *k = packed_keys_new();
    struct objs o = {{pack(k, "{\"metadata\": {\"name\": \"a\"}, \"spec\": {\"port\": 1}}"),
                      pack(k, "{\"metadata\": {\"name\": \"b\"}, \"spec\": {\"port\": 2}}"),
                      pack(k, "{\"metadata\": {\"name\": \"c\"}, \"spec\": {}}")}};
    struct tmpl_native nat = {&objs_ops, &o};
    const char *names[] = {"store"};
    struct tmpl_value vals[] = {tmpl_value_native(&nat)};
    struct tmpl_env *env = mem_env();
    struct err e;
    char *got = render_vars(env,
                            "{% for i in store.List() %}{{ i.metadata.name }}={{ i.spec.port|default('-') }} {% endfor %}"
                            "{{ store.GetSingle('b').spec }} {{ store.GetSingle('x') is none }} "
                            "{{ store.List()|selectattr('spec.port')|map(attribute='metadata.name')|join }} "
                            "{{ store.List()|selectattr('spec.port')|sort(attribute='spec.port', reverse=true)|map(attribute='metadata.name')|first }} "
                            "{{ store.GetSingle('a') == store.List()[0] }} {{ store.GetSingle('a') == {'metadata': {'name': 'a'}, 'spec': {'port': 1}} }}",
                            NULL, names, vals, 1, &e);
    ck_assert_msg(got != NULL, "%s", e.msg);
    ck_assert_str_eq(got, "a=1 b=2 c=- {'port': 2} True ab b True True");
    free(got);
    tmpl_env_free(env);
    for (int i = 0; i < 3; i++) packed_free(o.p[i]);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_template_packed_values_are_read_only)
{
    struct packed_keys *k = packed_keys_new();
    struct packed *p = pack(k, "{\"l\": [3, 1, 2], \"d\": {\"a\": 1}}");
    struct tmpl_value ctx = tmpl_value_packed(packed_root(p)), l, d;
    static const char *const mutations[] = {
        "{% set _ = l.append(1) %}", "{% set _ = l.sort() %}", "{% set _ = l.pop() %}", "{% set _ = l.reverse() %}",
        "{% set _ = d.update({'b': 2}) %}", "{% set _ = d.pop('a') %}", "{% set _ = d.setdefault('z', 1) %}",
        "{% set _ = d.clear() %}",
    };
    struct tmpl_env *env = mem_env();
    for (size_t i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
        struct err e;
        ck_assert_ptr_null(render_vars(env, mutations[i], &ctx, NULL, NULL, 0, &e));
        ck_assert_msg(strstr(e.msg, "read-only") != NULL, "%s: %s", mutations[i], e.msg);
    }
    /* sorting makes a copy, and the data is unchanged after everything above */
    expect(env, &ctx, "{{ l|sort }} {{ l }} {{ d }}", "[1, 2, 3] [3, 1, 2] {'a': 1}");
    /* the public builders refuse packed containers too */
    ck_assert_int_eq(tmpl_value_get(&ctx, "l", &l), 1);
    ck_assert_int_eq(tmpl_value_get(&ctx, "d", &d), 1);
    ck_assert_int_eq(tmpl_list_push(NULL, &l, tmpl_value_int(1)), -1);
    ck_assert_int_eq(tmpl_dict_set(NULL, &d, "x", tmpl_value_int(1)), -1);
    tmpl_env_free(env);
    packed_free(p);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_template_packed_key_ids_are_not_kept_across_renders)
{
    /* Render 1 resolves `o.x` to key x's id; the block is freed, so x's id is free; the next block reuses
     * that id for another key (y). A cache that outlived the render would read y's value for `o.x`. */
    struct packed_keys *k = packed_keys_new();
    struct tmpl_env *env = mem_env();
    const char *src = "{{ o.x }}";
    ck_assert_int_eq(tmpl_env_add(env, "t", src, strlen(src)), 0);
    struct tmpl *t;
    struct err e;
    ck_assert_int_eq(tmpl_compile(env, "t", &t, &e), 0);
    struct packed *p1 = pack(k, "{\"o\": {\"x\": 1}}");
    int64_t x_id = packed_keys_find(k, "x", 1);
    ck_assert_int_ge(x_id, 0);
    struct tmpl_value c1 = tmpl_value_packed(packed_root(p1));
    struct buf out;
    buf_init(&out);
    ck_assert_int_eq(tmpl_render_value(t, &c1, NULL, NULL, 0, &out, &e), 0);
    ck_assert_str_eq(buf_cstr(&out), "1");
    packed_free(p1);
    ck_assert_int_lt(packed_keys_find(k, "x", 1), 0);
    struct packed *p2 = pack(k, "{\"y\": 0, \"o\": {\"y\": 2, \"x\": 3}}");
    ck_assert_int_eq(packed_keys_find(k, "y", 1), x_id);  /* the id was reused: the test means something */
    struct tmpl_value c2 = tmpl_value_packed(packed_root(p2));
    buf_reset(&out);
    ck_assert_int_eq(tmpl_render_value(t, &c2, NULL, NULL, 0, &out, &e), 0);
    ck_assert_str_eq(buf_cstr(&out), "3");
    buf_free(&out);
    tmpl_env_free(env);
    packed_free(p2);
    packed_keys_free(k);
}
END_TEST

/* A native that replaces a block during the render (an on-demand fetch could): the only block holding key
 * x is freed, and the new block gives x's old id to another key and adds a key the render looked up before. */
struct swapper {
    struct packed_keys *k;
    struct packed *cur;
    int64_t old_x;
};

static int swap_call(void *self, const char *name, const struct tmpl_value *args, size_t nargs,
                     struct tmpl_value *out, struct tmpl_call *c)
{
    struct swapper *s = self;
    (void)name;
    (void)args;
    (void)nargs;
    (void)c;
    s->old_x = packed_keys_find(s->k, "x", 1);
    packed_free(s->cur);
    s->cur = pack(s->k, "{\"y\": \"wrong\", \"x\": \"right\", \"z\": \"new\"}");
    *out = tmpl_value_packed(packed_root(s->cur));
    return 0;
}

static const struct tmpl_native_ops swap_ops = {.type_name = "Swapper", .call_method = swap_call};

START_TEST(test_template_packed_key_ids_follow_blocks_changed_during_a_render)
{
    struct packed_keys *k = packed_keys_new();
    struct swapper sw = {.k = k, .cur = pack(k, "{\"x\": 1}")};
    struct tmpl_native nat = {&swap_ops, &sw};
    const char *names[] = {"a", "s"};
    struct tmpl_value vals[] = {tmpl_value_packed(packed_root(sw.cur)), tmpl_value_native(&nat)};
    struct tmpl_env *env = mem_env();
    struct err e;
    char *got = render_vars(env, "{{ a.x }} {{ a.z is defined }} {% set b = s.Swap() %}{{ b.x }} {{ b.z }}", NULL, names,
                            vals, 2, &e);
    ck_assert_msg(got != NULL, "%s", e.msg);
    ck_assert_int_eq(packed_keys_find(k, "y", 1), sw.old_x);  /* x's id went to y: the test means something */
    ck_assert_str_eq(got, "1 False right new");
    free(got);
    tmpl_env_free(env);
    packed_free(sw.cur);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_template_packed_lookups_across_key_tables)
{
    /* the same attribute node reads objects of two key tables where the key has different ids */
    struct packed_keys *k1 = packed_keys_new(), *k2 = packed_keys_new();
    struct packed *a = pack(k1, "{\"pad\": 0, \"other\": 1, \"x\": \"from-a\"}");
    struct packed *b = pack(k2, "{\"x\": \"from-b\", \"pad\": 0}");
    ck_assert_int_ne(packed_keys_find(k1, "x", 1), packed_keys_find(k2, "x", 1));
    const char *names[] = {"a", "b"};
    struct tmpl_value vals[] = {tmpl_value_packed(packed_root(a)), tmpl_value_packed(packed_root(b))};
    struct tmpl_env *env = mem_env();
    struct err e;
    char *got = render_vars(env, "{% for o in [a, b, a, b] %}{{ o.x }} {{ o.other is defined }};{% endfor %}{{ a == b }}",
                            NULL, names, vals, 2, &e);
    ck_assert_msg(got != NULL, "%s", e.msg);
    ck_assert_str_eq(got, "from-a True;from-b False;from-a True;from-b False;False");
    free(got);
    tmpl_env_free(env);
    packed_free(a);
    packed_free(b);
    packed_keys_free(k1);
    packed_keys_free(k2);
}
END_TEST

START_TEST(test_template_packed_context_must_be_an_object)
{
    struct packed_keys *k = packed_keys_new();
    struct packed *p = pack(k, "[1, 2]");
    struct tmpl_value arr = tmpl_value_packed(packed_root(p)), num = tmpl_value_int(1);
    struct tmpl_env *env = mem_env();
    struct err e;
    ck_assert_ptr_null(render_vars(env, "x", &arr, NULL, NULL, 0, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "must be an object"));
    ck_assert_ptr_null(render_vars(env, "x", &num, NULL, NULL, 0, &e));
    char *got = render_vars(env, "x{{ y is defined }}", NULL, NULL, NULL, 0, &e);  /* no context at all */
    ck_assert_str_eq(got, "xFalse");
    free(got);
    tmpl_env_free(env);
    packed_free(p);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_template_packed_edge_values)
{
    struct packed_keys *k = packed_keys_new();
    struct packed *p = pack(k,
        "{\"el\": [], \"ed\": {}, \"nest\": {\"a\": [{\"b\": [[], {\"c\": null}]}]},"
        " \"big\": 9223372036854775807, \"nbig\": -9223372036854775808, \"mid\": 268435456, \"f\": 0.1,"
        " \"uni\": {\"ключ\": \"значение\", \"日本\": [1]}, \"d\": {\"a\": 1, \"b\": [true, 2.5]},"
        " \"mixed\": [2, 1.5, false, -3], \"strs\": [\"b\", \"a\", \"B\"], \"bad\": [1, \"a\"]}");
    struct tmpl_value ctx = tmpl_value_packed(packed_root(p));
    struct tmpl_env *env = mem_env();
    expect(env, &ctx, "{{ el }}{{ ed }}{{ el|length }}{{ ed|length }}{{ el is sequence }}{{ ed is mapping }}{{ not el }}{{ not ed }}"
                      "{{ el == [] }}{{ ed == {} }}{{ el|tojson }}{{ ed|tojson }}",
           "[]{}00TrueTrueTrueTrueTrueTrue[]{}");
    expect(env, &ctx, "{{ nest }} {{ nest.a[0].b[1].c is none }} {{ nest.a[0].b[0]|length }} {{ nest|tojson }}",
           "{'a': [{'b': [[], {'c': None}]}]} True 0 {\"a\": [{\"b\": [[], {\"c\": null}]}]}");
    expect(env, &ctx, "{{ big }} {{ nbig }} {{ mid }} {{ mid - 1 }} {{ big == 9223372036854775807 }} {{ f }}",
           "9223372036854775807 -9223372036854775808 268435456 268435455 True 0.1");
    expect(env, &ctx, "{{ uni['ключ'] }} {{ uni['日本'][0] }} {{ uni|dictsort|map('first')|join(',') }} {{ uni.keys()|list }}",
           "значение 1 ключ,日本 ['ключ', '日本']");
    expect(env, &ctx, "{{ d == {'b': [true, 2.5], 'a': 1} }} {{ {'a': 1, 'b': [1, 2.5]} == d }} {{ d == {'a': 1} }} "
                      "{{ d != {'a': 1, 'b': [true, 2.5], 'c': 0} }} {{ d.b == (true, 2.5) }} {{ [d] == [{'a': 1, 'b': [true, 2.5]}] }}",
           "True True False True False True");
    expect(env, &ctx, "{{ mixed|sort }} {{ mixed|sort(reverse=true)|first }} {{ strs|sort }} {{ strs|sort(case_sensitive=true) }} "
                      "{{ mixed|min }} {{ mixed|max }}",
           "[-3, False, 1.5, 2] 2 ['a', 'b', 'B'] ['B', 'a', 'b'] -3 2");
    struct err e;
    ck_assert_ptr_null(render_vars(env, "{{ bad|sort }}", &ctx, NULL, NULL, 0, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "not supported between"));
    tmpl_env_free(env);
    packed_free(p);
    packed_keys_free(k);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("template_packed");
    TCase *tc = tcase_create("template_packed");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_template_packed_context_renders_in_place);
    tcase_add_test(tc, test_template_packed_natives_return_store_objects_uncopied);
    tcase_add_test(tc, test_template_packed_values_are_read_only);
    tcase_add_test(tc, test_template_packed_key_ids_are_not_kept_across_renders);
    tcase_add_test(tc, test_template_packed_key_ids_follow_blocks_changed_during_a_render);
    tcase_add_test(tc, test_template_packed_lookups_across_key_tables);
    tcase_add_test(tc, test_template_packed_context_must_be_an_object);
    tcase_add_test(tc, test_template_packed_edge_values);
    suite_add_tcase(s, tc);
    return s;
}
