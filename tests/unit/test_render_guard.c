/* Injection guards: haproxy_arg / haproxy_text refuse values that would break out of their config line,
 * and a refusal in a template names the value and the store object it came from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/render/render.h"
#include "tests/unit/unit.h"

static int arg_ok(const char *s) { return render_check_arg(s, strlen(s), NULL) == 0; }
static int text_ok(const char *s) { return render_check_text(s, strlen(s), NULL) == 0; }

START_TEST(test_guard_arg_accepts_words_refuses_structure)
{
    ck_assert(arg_ok("roundrobin"));
    ck_assert(arg_ok("30s"));
    ck_assert(arg_ok("be_shop_web-8080"));
    ck_assert(arg_ok("x-forwarded-for"));
    ck_assert(!arg_ok(""));
    ck_assert(!arg_ok("roundrobin\n  server evil 6.6.6.6:80"));
    ck_assert(!arg_ok("30s\r"));
    ck_assert(!arg_ok("roundrobin # hidden"));
    ck_assert(!arg_ok("a#b"));
    ck_assert(!arg_ok("source if TRUE"));
    ck_assert(!arg_ok("a\tb"));
    ck_assert(!arg_ok("\"quoted"));
    ck_assert(!arg_ok("it's"));
    ck_assert(!arg_ok("trail\\"));
    ck_assert(!arg_ok("bell\a"));
    ck_assert(!arg_ok("del\x7f"));
    /* a NUL inside the value (JSON "\u0000") is seen through the length */
    ck_assert_int_eq(render_check_arg("a\0b", 3, NULL), -1);
    struct err e;
    err_clear(&e);
    ck_assert_int_eq(render_check_arg("x\ny", 3, &e), -1);
    ck_assert_str_eq(e.msg, "haproxy_arg refused \"x\\ny\": contains a newline");
}
END_TEST

START_TEST(test_guard_text_allows_quotes_refuses_breakouts)
{
    ck_assert(text_ok("X-Request-ID %[uuid()]"));
    ck_assert(text_ok("\"a # quoted hash\""));
    ck_assert(text_ok("'single # too'"));
    ck_assert(text_ok("escaped \\\" quote"));
    ck_assert(text_ok("\"it's\""));
    ck_assert(text_ok(""));
    ck_assert(!text_ok("value\nbackend evil"));
    ck_assert(!text_ok("value # comment"));
    ck_assert(!text_ok("\"unbalanced"));
    ck_assert(!text_ok("'unbalanced"));
    ck_assert(!text_ok("ends with \\"));
    ck_assert(!text_ok("escaped newline \\\n"));
    ck_assert(!text_ok("\"newline\ninside quotes\""));
    struct err e;
    err_clear(&e);
    char long_value[300];
    memset(long_value, 'a', sizeof(long_value));
    long_value[299] = 0;
    long_value[150] = '#';
    ck_assert_int_eq(render_check_text(long_value, strlen(long_value), &e), -1);
    ck_assert_msg(strstr(e.msg, "...\": contains '#'"), "%s", e.msg);   /* the value is cut for the log */
}
END_TEST

#define CONFIG(tmpl) "controller: {leader_election: {enabled: false, lease_namespace: default}}\n" \
    "haproxy:\n  endpoints:\n    - {name: local, master_socket: /run/haproxy-master.sock}\n"           \
    "watched_resources:\n"                                                                                \
    "  ingresses: {api_version: networking.k8s.io/v1, resources: ingresses, index_by: [metadata.namespace, metadata.name]}\n" \
    "haproxy_config:\n  template: |\n" tmpl

static int render_with(const char *yaml, const char *const *objects, size_t n, struct render_error *re, char **cfg_out)
{
    struct config *cfg = NULL;
    struct err_list errs;
    err_list_init(&errs);
    ck_assert_int_eq(config_load_string(yaml, "t.yaml", &cfg, &errs), 0);
    err_list_free(&errs);
    struct packed_keys *k = packed_keys_new();
    struct render_store *stores;
    size_t ns;
    struct err e;
    ck_assert_int_eq(render_stores_new(cfg, k, &stores, &ns, &e), 0);
    for (size_t i = 0; i < n; i++) {
        struct store_event ev;
        ck_assert_msg(store_upsert_text(stores[0].store, objects[i], strlen(objects[i]), &ev, &e) == 0, "%s", e.msg);
    }
    struct render *r;
    ck_assert_int_eq(render_new(cfg, &r, &e), 0);
    struct render_input in = {.stores = stores, .nstores = ns};
    struct render_result res;
    int rc = render_run(r, &in, &res, re);
    if (rc == 0 && cfg_out) *cfg_out = strdup(res.files[0].data.data ? res.files[0].data.data : "");
    render_result_free(&res);
    render_free(r);
    render_stores_free(stores, ns);
    packed_keys_free(k);
    config_free(cfg);
    return rc;
}

#define TEMPLATE                                                                                      \
    "    backend be\n"                                                                                \
    "    {% for i in resources.ingresses.List() %}\n"                                                 \
    "      balance {{ haproxy_arg(i.metadata.annotations['lb'] | default('roundrobin')) }}\n"         \
    "      http-request set-header X-Note {{ haproxy_text(i.metadata.annotations['note'] | default('\"\"')) }}\n" \
    "    {% endfor %}\n"

START_TEST(test_guard_in_template_names_the_object)
{
    const char *good[] = {
        "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"web\",\"annotations\":{\"lb\":\"leastconn\",\"note\":\"'hi there'\"}}}",
        "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"api\",\"annotations\":{}}}",
    };
    struct render_error re;
    char *cfg = NULL;
    ck_assert_msg(render_with(CONFIG(TEMPLATE), good, 2, &re, &cfg) == 0, "%s", re.e.msg);
    ck_assert_str_eq(cfg, "backend be\n  balance roundrobin\n  http-request set-header X-Note \"\"\n"
                          "  balance leastconn\n  http-request set-header X-Note 'hi there'\n");
    free(cfg);

    const char *attempts[][2] = {
        {"{\"metadata\":{\"namespace\":\"shop\",\"name\":\"evil\",\"annotations\":{\"lb\":\"roundrobin\\nbackend x\"}}}", "contains a newline"},
        {"{\"metadata\":{\"namespace\":\"shop\",\"name\":\"evil\",\"annotations\":{\"lb\":\"source if TRUE\"}}}", "whitespace"},
        {"{\"metadata\":{\"namespace\":\"shop\",\"name\":\"evil\",\"annotations\":{\"note\":\"x # rest\"}}}", "'#'"},
        {"{\"metadata\":{\"namespace\":\"shop\",\"name\":\"evil\",\"annotations\":{\"note\":\"\\\"open\"}}}", "unbalanced quote"},
    };
    for (size_t a = 0; a < sizeof(attempts) / sizeof(attempts[0]); a++) {
        const char *objs[] = {good[0], attempts[a][0], good[1]};
        ck_assert_int_eq(render_with(CONFIG(TEMPLATE), objs, 3, &re, NULL), -1);
        ck_assert_msg(strstr(re.e.msg, attempts[a][1]), "%s", re.e.msg);
        ck_assert_msg(strstr(re.e.msg, "(in ingresses shop/evil)"), "%s", re.e.msg);
        ck_assert_int_eq(re.has_object, 1);
        ck_assert_str_eq(re.resource, "ingresses");
        ck_assert_str_eq(re.namespace_, "shop");
        ck_assert_str_eq(re.name, "evil");
        ck_assert_str_eq(re.e.file, "haproxy.cfg");
        ck_assert_int_eq(re.e.line, a < 2 ? 3 : 4);
    }
    /* a bad value that does not come from an object: refused, nobody blamed */
    ck_assert_int_eq(render_with(CONFIG("    {{ haproxy_arg('a b') }}\n"), NULL, 0, &re, NULL), -1);
    ck_assert_int_eq(re.has_object, 0);
    ck_assert_msg(strstr(re.e.msg, "haproxy_arg refused \"a b\""), "%s", re.e.msg);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("render_guard");
    TCase *tc = tcase_create("render_guard");
    tcase_add_test(tc, test_guard_arg_accepts_words_refuses_structure);
    tcase_add_test(tc, test_guard_text_allows_quotes_refuses_breakouts);
    tcase_add_test(tc, test_guard_in_template_names_the_object);
    suite_add_tcase(s, tc);
    return s;
}
