/* Config loading under hostile or careless input: nesting that would cost libyaml quadratic time, explicit
 * YAML tags, alias bombs that expand a few bytes of YAML into hundreds of megabytes, and allocation failures
 * that must fail the load rather than shorten what it returns. */
#include "tests/unit/unit.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* --- alias expansion ----------------------------------------------------------------------------------- */

#define MIB (1024 * 1024)

/* `key:` then an anchored string of `len` bytes in a sequence (items indented by `ind`), then `refs` aliases
 * of it. */
static char *aliased_list_at(const char *key, const char *ind, size_t len, size_t refs)
{
    char *big = malloc(len + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', len);
    big[len] = '\0';
    size_t cap = len + refs * 16 + strlen(VALID_REST) + strlen(key) + 64;
    char *doc = malloc(cap);
    ck_assert_ptr_nonnull(doc);
    int n = snprintf(doc, cap, "%s%s\n%s- &s %s\n", VALID_REST, key, ind, big);
    for (size_t i = 0; i < refs; i++) n += snprintf(doc + n, cap - (size_t)n, "%s- *s\n", ind);
    free(big);
    return doc;
}

static char *aliased_list(const char *key, size_t len, size_t refs) { return aliased_list_at(key, "  ", len, refs); }

START_TEST(test_aliased_strings_bounded_in_bytes)
{
    /* 1 MiB referenced 100 times: 100 MiB of copies, refused at CONFIG_MAX_EXPANDED_BYTES */
    char *doc = aliased_list("watched_resources_ignore_fields:", MIB, 100);
    struct loaded l = load_yaml(doc);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, 1);
    ck_assert_msg(strstr(l.errs.items[0].msg, "bytes of strings once aliases are expanded"), "%s", l.errs.items[0].msg);
    ck_assert_int_gt(l.errs.items[0].line, 7);
    loaded_free(&l);
    free(doc);
    /* the same in a free-form value, where each copy is a json-c string */
    doc = aliased_list_at("templating_settings:\n  extra_context:\n    a:", "      ", MIB, 100);
    l = load_yaml(doc);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, 1);
    ck_assert_ptr_nonnull(strstr(l.errs.items[0].msg, "bytes of strings once aliases are expanded"));
    loaded_free(&l);
    free(doc);
    /* a few reuses stay well within the bound */
    doc = aliased_list("watched_resources_ignore_fields:", MIB, 4);
    l = load_ok(doc);
    ck_assert_uint_eq(l.cfg->watched_resources_ignore_fields.len, 5);
    loaded_free(&l);
    free(doc);
}
END_TEST

START_TEST(test_aliased_keys_count_against_the_bound)
{
    /* a mapping with a 1 MiB key (explicit: libyaml limits plain keys to 1024 characters), aliased 100 times */
    char *big = malloc(MIB + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'k', MIB);
    big[MIB] = '\0';
    size_t cap = MIB + 100 * 16 + 256;
    char *doc = malloc(cap);
    ck_assert_ptr_nonnull(doc);
    int n = snprintf(doc, cap, VALID_REST "templating_settings:\n  extra_context:\n    a: &m\n      ? %s\n      : 1\n    b: [", big);
    for (int i = 0; i < 100; i++) n += snprintf(doc + n, cap - (size_t)n, "*m, ");
    snprintf(doc + n, cap - (size_t)n, "*m]\n");
    free(big);
    struct loaded l = load_yaml(doc);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, 1);
    ck_assert_ptr_nonnull(strstr(l.errs.items[0].msg, "bytes of strings once aliases are expanded"));
    loaded_free(&l);
    free(doc);
}
END_TEST

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#endif

#ifndef UNDER_ASAN
/* Under an address-space limit that lets only some of 30 copies of 1 MiB be made, the load fails: before,
 * parse_strings dropped the copies it could not make and the config loaded with a shorter list. (Not under
 * ASan, whose shadow memory needs more address space than any such limit.) */
START_TEST(test_allocation_failure_fails_the_load)
{
    char *doc = aliased_list("watched_resources_ignore_fields:", MIB, 29);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%ld", &pages) != 1) _exit(3);
        fclose(f);
        struct rlimit rl = {.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + 12 * MIB};
        rl.rlim_max = rl.rlim_cur;
        if (setrlimit(RLIMIT_AS, &rl) < 0) _exit(3);
        struct config *cfg = NULL;
        struct err_list errs;
        err_list_init(&errs);
        int rc = config_load_string(doc, "test.yaml", &cfg, &errs);
        if (rc == 0) _exit(1); /* loaded, with however many entries fit */
        for (size_t i = 0; i < errs.len; i++)
            if (!strstr(errs.items[i].msg, "out of memory")) _exit(2);
        _exit(0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    free(doc);
    ck_assert_msg(WIFEXITED(st), "child died");
    ck_assert_msg(WEXITSTATUS(st) == 0, "child exit %d (1: loaded a shorter list, 2: another error)", WEXITSTATUS(st));
}
END_TEST
#endif

/* --- careless input ------------------------------------------------------------------------------------ */

START_TEST(test_directory_as_config_named_as_such)
{
    char dir[] = "/tmp/cfgdir-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct config *cfg = NULL;
    struct err_list errs;
    err_list_init(&errs);
    ck_assert_int_eq(config_load_file(dir, &cfg, &errs), -1);
    rmdir(dir);
    ck_assert_uint_eq(errs.len, 1);
    ck_assert_msg(strstr(errs.items[0].msg, "is a directory"), "%s", errs.items[0].msg);
    ck_assert_str_eq(errs.items[0].file, dir);
    err_list_free(&errs);
}
END_TEST

START_TEST(test_nul_in_keys_refused)
{
    /* "port\0x" was read as "port" */
    struct loaded l = load_refused("controller:\n  http:\n    \"port\\0x\": 80\n" VALID_REST,
                                   "controller.http[\"port\\x00x\"]", "keys must not contain NUL");
    ck_assert_int_eq(l.errs.items[0].line, 3);
    loaded_free(&l);
    l = load_refused(VALID_REST "maps:\n  \"a\\0b\": {template: x}\n", "maps[\"a\\x00b\"]", "NUL");
    loaded_free(&l);
    l = load_refused(VALID_REST "templating_settings:\n  extra_context: {\"a\\0b\": 1}\n",
                     "templating_settings.extra_context[\"a\\x00b\"]", "NUL");
    loaded_free(&l);
}
END_TEST

START_TEST(test_control_characters_escaped_in_messages)
{
    struct loaded l = load_refused("controller:\n  \"bo\\ngus\\t\": 1\n" VALID_REST, "controller[\"bo\\ngus\\t\"]",
                                   "unknown key");
    loaded_free(&l);
    l = load_refused("controller:\n  leader_election:\n    lease_name: \"a\\nb\"\n" VALID_REST,
                     "controller.leader_election.lease_name", "\"a\\nb\"");
    loaded_free(&l);
    l = load_refused(VALID_REST "maps:\n  \"x\\ny\": {template: x}\n", "maps[\"x\\ny\"]", "invalid name \"x\\ny\"");
    for (size_t i = 0; i < l.errs.len; i++) {
        ck_assert_ptr_null(strchr(l.errs.items[i].msg, '\n'));
        ck_assert_ptr_null(strchr(l.errs.items[i].path, '\n'));
    }
    loaded_free(&l);
}
END_TEST

START_TEST(test_enabled_type_error_does_not_cascade)
{
    unsetenv("POD_NAMESPACE"); /* the lease_namespace rule would fail too if it ran */
    struct loaded l = load_refused("controller:\n  leader_election:\n    enabled: \"false\"\n" VALID_REST,
                                   "controller.leader_election.enabled", "expected true or false");
    ck_assert_uint_eq(l.errs.len, 1);
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
    TCase *a = tcase_create("aliases");
    tcase_add_checked_fixture(a, env_setup, env_teardown);
    tcase_add_test(a, test_aliased_strings_bounded_in_bytes);
    tcase_add_test(a, test_aliased_keys_count_against_the_bound);
#ifndef UNDER_ASAN
    tcase_add_test(a, test_allocation_failure_fails_the_load);
#endif
    suite_add_tcase(s, a);
    TCase *c = tcase_create("careless");
    tcase_add_checked_fixture(c, env_setup, env_teardown);
    tcase_add_test(c, test_directory_as_config_named_as_such);
    tcase_add_test(c, test_nul_in_keys_refused);
    tcase_add_test(c, test_control_characters_escaped_in_messages);
    tcase_add_test(c, test_enabled_type_error_does_not_cascade);
    suite_add_tcase(s, c);
    return s;
}
