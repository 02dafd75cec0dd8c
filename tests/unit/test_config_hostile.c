/* Config loading under hostile or careless input: nesting that would cost libyaml quadratic time, explicit
 * YAML tags, alias bombs that expand a few bytes of YAML into hundreds of megabytes, and allocation failures
 * that must fail the load rather than shorten what it returns. */
#include "tests/unit/unit.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/config_test_util.h"

static void env_setup(void)
{
    setenv("POD_NAMESPACE", "ingress", 1);
    config_set_sa_namespace_file("/nonexistent/serviceaccount/namespace");
}

static void env_teardown(void) { config_set_sa_namespace_file(NULL); }

/* prefix, then `open` n times, then suffix; caller frees. */
static char *repeat(const char *prefix, const char *open, size_t n, const char *suffix)
{
    size_t lp = strlen(prefix), lo = strlen(open), ls = strlen(suffix);
    char *s = malloc(lp + lo * n + ls + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, prefix, lp);
    for (size_t i = 0; i < n; i++) memcpy(s + lp + i * lo, open, lo);
    memcpy(s + lp + lo * n, suffix, ls + 1);
    return s;
}

/* --- nesting ------------------------------------------------------------------------------------------- */

START_TEST(test_deep_flow_nesting_refused_before_loading)
{
    /* 100 000 levels took libyaml longer than 15 s before the pre-pass; now the load stops at the bound. */
    char *doc = repeat(VALID_REST "templating_settings:\n  extra_context: {a: ", "[", 100000, "\n");
    struct loaded l = load_yaml(doc);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, 1);
    ck_assert_ptr_nonnull(strstr(l.errs.items[0].msg, "nested deeper than 64 levels"));
    ck_assert_int_eq(l.errs.items[0].line, 8);
    ck_assert_int_gt(l.errs.items[0].column, 20);
    loaded_free(&l);
    free(doc);
}
END_TEST

START_TEST(test_deep_flow_mappings_on_many_lines_refused)
{
    char *doc = repeat(VALID_REST "templating_settings:\n  extra_context:\n", "    {a:\n", 100000, "\n");
    struct loaded l = load_yaml(doc);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, 1);
    ck_assert_ptr_nonnull(strstr(l.errs.items[0].msg, "nested deeper"));
    ck_assert_int_gt(l.errs.items[0].line, 60);
    loaded_free(&l);
    free(doc);
}
END_TEST

START_TEST(test_deep_block_nesting_refused)
{
    char *doc = repeat(VALID_REST "templating_settings:\n  extra_context:\n    a:\n      ", "- ", 100000, "x\n");
    struct loaded l = load_yaml(doc);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, 1);
    ck_assert_ptr_nonnull(strstr(l.errs.items[0].msg, "nested deeper"));
    loaded_free(&l);
    free(doc);
}
END_TEST

START_TEST(test_nesting_at_the_bound_accepted)
{
    /* root, templating_settings and extra_context are three levels; 61 more reach exactly 64. */
    char *open = repeat(VALID_REST "templating_settings:\n  extra_context: {a: ", "[", 60, "");
    char *doc = repeat(open, "]", 60, "}\n");
    struct loaded l = load_ok(doc);
    loaded_free(&l);
    free(open);
    free(doc);
}
END_TEST

/* --- tags ---------------------------------------------------------------------------------------------- */

START_TEST(test_str_tag_makes_a_string)
{
    struct loaded l = load_refused("controller:\n  http:\n    port: !!str 80\n" VALID_REST, "controller.http.port",
                                   "expected an integer, got the string \"80\"");
    loaded_free(&l);
    l = load_refused("controller:\n  leader_election:\n    enabled: ! true\n" VALID_REST,
                     "controller.leader_election.enabled", "expected true or false, got the string");
    loaded_free(&l);
    /* and in free-form values, a string rather than the number */
    l = load_ok(VALID_REST "templating_settings:\n  extra_context: {a: !!str 80, b: 80}\n");
    ck_assert(json_object_is_type(json_object_object_get(l.cfg->templating_settings.extra_context, "a"),
                                  json_type_string));
    ck_assert(json_object_is_type(json_object_object_get(l.cfg->templating_settings.extra_context, "b"),
                                  json_type_int));
    loaded_free(&l);
}
END_TEST

START_TEST(test_unknown_tags_refused)
{
    const char *docs[] = {
        "controller:\n  http:\n    port: !!int 80\n" VALID_REST,
        "controller:\n  http:\n    port: !custom 80\n" VALID_REST,
        "controller:\n  http: !!seq {port: 80}\n" VALID_REST,
        "controller: !!str {http: {port: 80}}\n" VALID_REST,
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct loaded l = load_yaml(docs[i]);
        ck_assert_int_eq(l.rc, -1);
        ck_assert_uint_eq(l.errs.len, 1);
        ck_assert_msg(strstr(l.errs.items[0].msg, "unsupported YAML tag"), "case %zu: %s", i, l.errs.items[0].msg);
        ck_assert_int_gt(l.errs.items[0].line, 0);
        loaded_free(&l);
    }
    /* the tags that only say what the node already is are fine */
    struct loaded l = load_ok("controller: !!map\n  http: !!map {port: 80}\n" VALID_REST);
    ck_assert_int_eq(l.cfg->controller.http.port, 80);
    loaded_free(&l);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("config_hostile");
    TCase *n = tcase_create("nesting");
    tcase_add_checked_fixture(n, env_setup, env_teardown);
    tcase_add_test(n, test_deep_flow_nesting_refused_before_loading);
    tcase_add_test(n, test_deep_flow_mappings_on_many_lines_refused);
    tcase_add_test(n, test_deep_block_nesting_refused);
    tcase_add_test(n, test_nesting_at_the_bound_accepted);
    suite_add_tcase(s, n);
    TCase *t = tcase_create("tags");
    tcase_add_checked_fixture(t, env_setup, env_teardown);
    tcase_add_test(t, test_str_tag_makes_a_string);
    tcase_add_test(t, test_unknown_tags_refused);
    suite_add_tcase(s, t);
    return s;
}
