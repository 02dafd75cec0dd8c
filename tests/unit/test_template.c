/* Template engine API: compile once / render many, the native-object hook (a fake watched-resource store
 * with List/Fetch/GetSingle, as the renderer worker will register), error locations, strict mode, globals,
 * and the named bounds (recursion depth, range size, output size). Jinja2 conformance itself is checked
 * by tests/template/run_conformance.py. */
#include "tests/unit/unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/template.h"

static struct tmpl_env *mem_env(int strict)
{
    struct tmpl_options o = {.trim_blocks = 1, .lstrip_blocks = 1, .strict = strict};
    struct tmpl_env *env = tmpl_env_new(NULL, &o);
    ck_assert_ptr_nonnull(env);
    return env;
}

static void add(struct tmpl_env *env, const char *name, const char *src)
{
    ck_assert_int_eq(tmpl_env_add(env, name, src, strlen(src)), 0);
}

/* renders `name` with a JSON context string; returns malloc'd output or NULL (error in *e) */
static char *render(struct tmpl_env *env, const char *name, const char *ctx, struct err *e)
{
    struct tmpl *t;
    if (tmpl_compile(env, name, &t, e) < 0) return NULL;
    json_object *j = ctx ? json_tokener_parse(ctx) : NULL;
    struct buf out;
    buf_init(&out);
    int rc = tmpl_render(t, j, &out, e);
    json_object_put(j);
    if (rc < 0) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal(&out);
}

START_TEST(test_template_compile_once_render_many)
{
    struct tmpl_env *env = mem_env(0);
    add(env, "t", "{% for x in xs %}{{ x * k }},{% endfor %}");
    struct tmpl *t1, *t2;
    struct err e;
    ck_assert_int_eq(tmpl_compile(env, "t", &t1, &e), 0);
    ck_assert_int_eq(tmpl_compile(env, "t", &t2, &e), 0);
    ck_assert_ptr_eq(t1, t2);
    for (int k = 1; k <= 3; k++) {
        char ctx[64];
        snprintf(ctx, sizeof(ctx), "{\"xs\": [1, 2], \"k\": %d}", k);
        json_object *j = json_tokener_parse(ctx);
        struct buf out;
        buf_init(&out);
        ck_assert_int_eq(tmpl_render(t1, j, &out, &e), 0);
        char want[32];
        snprintf(want, sizeof(want), "%d,%d,", k, 2 * k);
        ck_assert_str_eq(buf_cstr(&out), want);
        buf_free(&out);
        json_object_put(j);
    }
    tmpl_free(t1);
    tmpl_env_free(env);
}
END_TEST

/* ---- a fake store: items indexed by metadata.namespace + metadata.name, like the renderer's stores ---- */

struct fake_store {
    json_object *items;  /* array */
    int calls;
};

static int store_call(void *self, const char *name, const struct tmpl_value *args, size_t nargs,
                      struct tmpl_value *out, struct tmpl_call *c)
{
    struct fake_store *s = self;
    s->calls++;
    if (!strcmp(name, "List")) {
        if (nargs) return tmpl_call_error(c, "List() takes no arguments");
        *out = tmpl_value_json(s->items);
        return 0;
    }
    if (!strcmp(name, "Fetch") || !strcmp(name, "GetSingle")) {
        if (nargs < 1 || nargs > 2) return tmpl_call_error(c, "%s() takes 1 or 2 keys", name);
        const char *k[2] = {NULL, NULL};
        for (size_t i = 0; i < nargs; i++) {
            k[i] = tmpl_value_cstr(&args[i], NULL);
            if (!k[i]) return tmpl_call_error(c, "%s() keys must be strings", name);
        }
        struct tmpl_value list = tmpl_list_new(c);
        size_t n = json_object_array_length(s->items);
        for (size_t i = 0; i < n; i++) {
            json_object *it = json_object_array_get_idx(s->items, i), *md, *ns, *nm;
            json_object_object_get_ex(it, "metadata", &md);
            json_object_object_get_ex(md, "namespace", &ns);
            json_object_object_get_ex(md, "name", &nm);
            if (strcmp(json_object_get_string(ns), k[0])) continue;
            if (k[1] && strcmp(json_object_get_string(nm), k[1])) continue;
            if (!strcmp(name, "GetSingle")) {
                *out = tmpl_value_json(it);
                return 0;
            }
            tmpl_list_push(c, &list, tmpl_value_json(it));
        }
        *out = !strcmp(name, "GetSingle") ? tmpl_value_none() : list;
        return 0;
    }
    if (!strcmp(name, "Stats")) {  /* a dict built by the native */
        struct tmpl_value d = tmpl_dict_new(c);
        tmpl_dict_set(c, &d, "count", tmpl_value_int((int64_t)json_object_array_length(s->items)));
        tmpl_dict_set(c, &d, "kind", tmpl_value_str(c, "Ingress", 7));
        *out = d;
        return 0;
    }
    return tmpl_call_error(c, "store has no method %s()", name);
}

static const struct tmpl_native_ops store_ops = {.type_name = "Store", .call_method = store_call};

struct fake_resources {
    struct tmpl_native ingresses;
};

static int resources_attr(void *self, const char *name, struct tmpl_value *out, struct tmpl_call *c)
{
    struct fake_resources *r = self;
    (void)c;
    if (!strcmp(name, "ingresses")) {
        *out = tmpl_value_native(&r->ingresses);
        return 1;
    }
    return 0;
}

static const struct tmpl_native_ops resources_ops = {.type_name = "Resources", .get_attr = resources_attr};

START_TEST(test_template_native_store_wrapper)
{
    struct fake_store store = {.items = json_tokener_parse(
        "[{\"metadata\": {\"namespace\": \"shop\", \"name\": \"web\"}, \"spec\": {\"port\": 80}},"
        " {\"metadata\": {\"namespace\": \"shop\", \"name\": \"api\"}, \"spec\": {\"port\": 8080}},"
        " {\"metadata\": {\"namespace\": \"blog\", \"name\": \"web\"}, \"spec\": {\"port\": 81}}]")};
    struct fake_resources res = {.ingresses = {&store_ops, &store}};
    struct tmpl_native resources = {&resources_ops, &res};
    struct tmpl_env *env = mem_env(0);
    add(env, "t",
        "{% for i in resources.ingresses.List() %}{{ i.metadata.name }}:{{ i.spec.port }} {% endfor %}|"
        "{{ resources.ingresses.Fetch('shop')|length }}|{{ resources.ingresses.GetSingle('blog', 'web').spec.port }}|"
        "{{ resources.ingresses.GetSingle('x', 'y') is none }}|{{ resources.nope is defined }}|"
        "{{ resources.ingresses.Stats() }}");
    struct tmpl *t;
    struct err e;
    ck_assert_int_eq(tmpl_compile(env, "t", &t, &e), 0);
    const char *names[] = {"resources"};
    struct tmpl_value vals[] = {tmpl_value_native(&resources)};
    struct buf out;
    buf_init(&out);
    ck_assert_msg(tmpl_render_vars(t, NULL, names, vals, 1, &out, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(buf_cstr(&out), "web:80 api:8080 web:81 |2|81|True|False|{'count': 3, 'kind': 'Ingress'}");
    ck_assert_int_eq(store.calls, 5);
    buf_free(&out);

    /* an error raised by the native names the template line and column */
    add(env, "bad", "ok\n{{ resources.ingresses.Fetch(1) }}");
    ck_assert_int_eq(tmpl_compile(env, "bad", &t, &e), 0);
    buf_init(&out);
    ck_assert_int_eq(tmpl_render_vars(t, NULL, names, vals, 1, &out, &e), -1);
    ck_assert_str_eq(e.file, "bad");
    ck_assert_int_eq(e.line, 2);
    ck_assert_ptr_nonnull(strstr(e.msg, "keys must be strings"));
    buf_free(&out);
    tmpl_env_free(env);
    json_object_put(store.items);
}
END_TEST

START_TEST(test_template_syntax_error_names_line_column_and_shows_caret)
{
    struct tmpl_env *env = mem_env(0);
    add(env, "cfg", "global\n  maxconn {{ conn + }}\n");
    struct err e;
    ck_assert_ptr_null(render(env, "cfg", "{}", &e));
    ck_assert_str_eq(e.file, "cfg");
    ck_assert_int_eq(e.line, 2);
    ck_assert_int_eq(e.column, 21);
    ck_assert_ptr_nonnull(strstr(e.msg, "\n    maxconn {{ conn + }}\n"));
    ck_assert_ptr_nonnull(strstr(e.msg, "^"));
    char line[1024];
    err_format(&e, line, sizeof(line));
    ck_assert_ptr_nonnull(strstr(line, "cfg:2:21: "));
    tmpl_env_free(env);
}
END_TEST

START_TEST(test_template_render_error_in_include_names_included_template)
{
    struct tmpl_env *env = mem_env(0);
    add(env, "main", "a\n{% include 'part' %}");
    add(env, "part", "x\ny\n{{ fail('stop here') }}");
    struct err e;
    ck_assert_ptr_null(render(env, "main", "{}", &e));
    ck_assert_str_eq(e.file, "part");
    ck_assert_int_eq(e.line, 3);
    ck_assert_ptr_nonnull(strstr(e.msg, "stop here"));
    tmpl_env_free(env);
}
END_TEST

START_TEST(test_template_strict_mode_refuses_undefined)
{
    struct tmpl_env *lax = mem_env(0), *strict = mem_env(1);
    const char *src = "[{{ nope }}]";
    add(lax, "t", src);
    add(strict, "t", src);
    struct err e;
    char *out = render(lax, "t", "{}", &e);
    ck_assert_str_eq(out, "[]");
    free(out);
    ck_assert_ptr_null(render(strict, "t", "{}", &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "'nope' is undefined"));
    tmpl_env_free(lax);
    tmpl_env_free(strict);
}
END_TEST

START_TEST(test_template_globals_and_replaced_source)
{
    struct tmpl_env *env = mem_env(0);
    json_object *g = json_tokener_parse("{\"dir\": \"/etc/haproxy\"}");
    ck_assert_int_eq(tmpl_env_set_global(env, "paths", tmpl_value_json(g)), 0);
    add(env, "t", "{{ paths.dir }}/maps");
    struct err e;
    char *out = render(env, "t", NULL, &e);
    ck_assert_str_eq(out, "/etc/haproxy/maps");
    free(out);
    add(env, "t", "v2 {{ paths.dir }}");  /* a new source replaces the compiled template */
    out = render(env, "t", NULL, &e);
    ck_assert_str_eq(out, "v2 /etc/haproxy");
    free(out);
    /* the context wins over a global of the same name */
    out = render(env, "t", "{\"paths\": {\"dir\": \"/ctx\"}}", &e);
    ck_assert_str_eq(out, "v2 /ctx");
    free(out);
    tmpl_env_free(env);
    json_object_put(g);
}
END_TEST

START_TEST(test_template_bounds_recursion_range_and_size)
{
    struct tmpl_env *env = mem_env(0);
    struct err e;
    add(env, "rec", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
    ck_assert_ptr_null(render(env, "rec", "{}", &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "recursion depth"));
    add(env, "self", "{% include 'self' %}");
    ck_assert_ptr_null(render(env, "self", "{}", &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "depth"));
    add(env, "range", "{{ range(100000000)|length }}");
    ck_assert_ptr_null(render(env, "range", "{}", &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "range()"));
    add(env, "big", "{{ 'x' * 300000000 }}");
    ck_assert_ptr_null(render(env, "big", "{}", &e));
    char deep[1024];
    size_t k = (size_t)snprintf(deep, sizeof(deep), "{{ ");
    for (int i = 0; i < 300; i++) deep[k++] = '(';
    deep[k++] = '1';
    for (int i = 0; i < 300; i++) deep[k++] = ')';
    snprintf(deep + k, sizeof(deep) - k, " }}");
    add(env, "deep", deep);
    ck_assert_ptr_null(render(env, "deep", "{}", &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "nested too deeply"));
    /* deep expressions inside deep recursion: a clear error, never a stack overflow */
    char rec[2048];
    k = (size_t)snprintf(rec, sizeof(rec), "{%% macro f(n) %%}{%% if n > 0 %%}{{ ");
    for (int i = 0; i < 60; i++) k += (size_t)snprintf(rec + k, sizeof(rec) - k, "('' ~ ");
    k += (size_t)snprintf(rec + k, sizeof(rec) - k, "f(n - 1)");
    for (int i = 0; i < 60; i++) rec[k++] = ')';
    snprintf(rec + k, sizeof(rec) - k, " }}{%% endif %%}{%% endmacro %%}{{ f(250) }}");
    add(env, "stack", rec);
    ck_assert_ptr_null(render(env, "stack", "{}", &e));
    ck_assert_msg(strstr(e.msg, "stack limit") || strstr(e.msg, "recursion depth"), "%s", e.msg);
    /* deeply nested values (built in a loop) print, compare and sort without exhausting the stack */
    add(env, "nest", "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}"
                     "{{ (ns.l|string)[:3] }}{{ ns.l == ns.l }}{{ [ns.l] == [[ns.l]] }}");
    char *nest = render(env, "nest", "{}", &e);
    ck_assert_msg(nest != NULL, "%s", e.msg);
    ck_assert_str_eq(nest, "[[[TrueFalse");
    free(nest);
    tmpl_env_free(env);
}
END_TEST

START_TEST(test_template_invalid_utf8_is_handled)
{
    /* stray continuation bytes and NULs: Jinja2 would refuse to decode such a template; we must not crash
     * (found by fuzzing: iterating such a string overflowed the item array) */
    struct tmpl_env *env = mem_env(0);
    static const char src[] = "{{ '\xa5\x9d\x9c\x00]I o \xe2\x80'|map(attribute='x')|list|length }}|"
                              "{{ '\x9d\x9c" "ab'|list|length }}|{{ '\xa5z'|upper }}|{{ '\x9d\x9c'[::-1]|length }}|"
                              "{{ '\xa5xy'|replace('', '-')|length }}|{{ '\xa5'|center(5)|length }}";
    ck_assert_int_eq(tmpl_env_add(env, "t", src, sizeof(src) - 1), 0);
    struct err e;
    char *out = render(env, "t", "{}", &e);
    ck_assert_msg(out != NULL, "%s", e.msg);
    ck_assert_str_eq(out, "8|3|\xa5Z|0|5|5");  /* no crash; values follow the byte-level splitting */
    free(out);
    tmpl_env_free(env);
}
END_TEST

START_TEST(test_template_directory_loader_refuses_parent_paths)
{
    struct tmpl_env *env = tmpl_env_new("/nonexistent-dir-for-test", NULL);
    struct tmpl *t;
    struct err e;
    ck_assert_int_eq(tmpl_compile(env, "../etc/passwd", &t, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "not found"));
    ck_assert_int_eq(tmpl_compile(env, "missing.j2", &t, &e), -1);
    tmpl_env_free(env);
}
END_TEST

START_TEST(test_template_context_must_be_object)
{
    struct tmpl_env *env = mem_env(0);
    add(env, "t", "x");
    struct tmpl *t;
    struct err e;
    ck_assert_int_eq(tmpl_compile(env, "t", &t, &e), 0);
    json_object *arr = json_object_new_array();
    struct buf out;
    buf_init(&out);
    ck_assert_int_eq(tmpl_render(t, arr, &out, &e), -1);
    json_object_put(arr);
    buf_free(&out);
    tmpl_env_free(env);
}
END_TEST

START_TEST(test_template_context_values_are_read_only)
{
    struct tmpl_env *env = mem_env(0);
    add(env, "t", "{% set _ = items.append(3) %}");
    struct err e;
    ck_assert_ptr_null(render(env, "t", "{\"items\": [1]}", &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "read-only"));
    tmpl_env_free(env);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("template");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_template_compile_once_render_many);
    tcase_add_test(tc, test_template_native_store_wrapper);
    tcase_add_test(tc, test_template_syntax_error_names_line_column_and_shows_caret);
    tcase_add_test(tc, test_template_render_error_in_include_names_included_template);
    tcase_add_test(tc, test_template_strict_mode_refuses_undefined);
    tcase_add_test(tc, test_template_globals_and_replaced_source);
    tcase_add_test(tc, test_template_bounds_recursion_range_and_size);
    tcase_add_test(tc, test_template_invalid_utf8_is_handled);
    tcase_add_test(tc, test_template_directory_loader_refuses_parent_paths);
    tcase_add_test(tc, test_template_context_must_be_object);
    tcase_add_test(tc, test_template_context_values_are_read_only);
    suite_add_tcase(s, tc);
    return s;
}
