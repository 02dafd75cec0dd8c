/* config_section_equal (common/config/config.c): how a running role tells whether a new config touches what
 * it set up. A template edit leaves watched_resources equal; a changed selector or a secret (never shown
 * in /debug/vars) is seen; a path the schema lacks counts as changed. */
#include "tests/unit/config_test_util.h"
#include "tests/unit/unit.h"

#define WATCH "watched_resources:\n  ingresses:\n    api_version: networking.k8s.io/v1\n    resources: ingresses\n" \
              "    index_by: [metadata.namespace, metadata.name]\n"

static struct config *must(const char *yaml)
{
    setenv("POD_NAMESPACE", "ingress", 1); /* the lease namespace fallback, which every load resolves */
    struct loaded l = load_yaml(yaml);
    if (l.rc < 0) dump_errors(&l);
    ck_assert_int_eq(l.rc, 0);
    err_list_free(&l.errs);
    return l.cfg;
}

START_TEST(test_config_section_equal_tells_a_template_edit_from_a_watch_change)
{
    struct config *a = must(WATCH TARGETS "haproxy_config:\n  template: \"global\\n\"\n");
    struct config *b = must(WATCH TARGETS "haproxy_config:\n  template: \"global\\n  maxconn 5\\n\"\n");
    struct config *c = must("watched_resources:\n  ingresses:\n    api_version: networking.k8s.io/v1\n"
                            "    resources: ingresses\n    index_by: [metadata.namespace, metadata.name]\n"
                            "    label_selector: \"app=web\"\n" VALID_REST);
    ck_assert_int_eq(config_section_equal(a, b, "watched_resources"), 1);
    ck_assert_int_eq(config_section_equal(a, b, "haproxy_config"), 0);
    ck_assert_int_eq(config_section_equal(a, b, "controller.leader_election"), 1);
    ck_assert_int_eq(config_section_equal(a, b, "haproxy.pod_selector"), 1);
    ck_assert_int_eq(config_section_equal(a, c, "watched_resources"), 0);
    ck_assert_int_eq(config_section_equal(a, b, "no_such_key"), 0);
    ck_assert_int_eq(config_section_equal(a, b, "haproxy_config.template.x"), 0);
    config_free(a);
    config_free(b);
    config_free(c);
}
END_TEST

START_TEST(test_config_section_equal_sees_a_changed_secret)
{
    const char *fmt = "haproxy:\n  endpoints:\n    - name: x\n      url: http://127.0.0.1:5555\n  dataplane:\n"
                      "    username: %s\n    password_file: /run/pw\n" MAIN_TEMPLATE;
    char ya[512], yb[512];
    snprintf(ya, sizeof(ya), fmt, "alice");
    snprintf(yb, sizeof(yb), fmt, "bob");
    struct config *a = must(ya), *b = must(yb);
    ck_assert_int_eq(config_section_equal(a, b, "haproxy.dataplane"), 0);
    ck_assert_int_eq(config_section_equal(a, a, "haproxy.dataplane"), 1);
    config_free(a);
    config_free(b);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("config_section");
    TCase *tc = tcase_create("config_section");
    tcase_add_test(tc, test_config_section_equal_tells_a_template_edit_from_a_watch_change);
    tcase_add_test(tc, test_config_section_equal_sees_a_changed_secret);
    suite_add_tcase(s, tc);
    return s;
}
