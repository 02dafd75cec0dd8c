/* Logging: one line per event with time, level, role, pid; values quoted and escaped; JSON mode valid. */
#include "tests/unit/unit.h"
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* Runs fn with stderr redirected into a pipe and returns what was written. */
static void capture(void (*fn)(void), char *out, size_t n)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t k = read(fds[0], out, n - 1);
    out[k > 0 ? k : 0] = '\0';
    close(fds[0]);
}

static void emit_logfmt(void)
{
    log_init("elector", LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
    log_info("lease acquired", "holder", "pod-a", "note", "two words \"quoted\"\n");
    log_debug("hidden");
}

START_TEST(test_log_logfmt_line_has_role_pid_and_escapes)
{
    char out[4096];
    capture(emit_logfmt, out, sizeof(out));
    ck_assert_ptr_nonnull(strstr(out, " level=info role=elector pid="));
    ck_assert_ptr_nonnull(strstr(out, "msg=\"lease acquired\" holder=pod-a note=\"two words \\\"quoted\\\"\\n\""));
    ck_assert_ptr_null(strstr(out, "hidden"));
    ck_assert_int_eq((int)(strchr(out, '\n') - out), (int)strlen(out) - 1); /* exactly one line */
}
END_TEST

static void emit_json(void)
{
    log_init("supervisor", LOG_FORMAT_JSON, LOG_LEVEL_DEBUG);
    log_warn("child restarted", "child", "renderer", "weird", "a\tb\x01");
}

START_TEST(test_log_json_line_parses)
{
    char out[4096];
    capture(emit_json, out, sizeof(out));
    struct json_object *o = json_tokener_parse(out);
    ck_assert_ptr_nonnull(o);
    struct json_object *v;
    ck_assert(json_object_object_get_ex(o, "level", &v));
    ck_assert_str_eq(json_object_get_string(v), "warn");
    ck_assert(json_object_object_get_ex(o, "weird", &v));
    ck_assert_str_eq(json_object_get_string(v), "a\tb\x01");
    ck_assert(json_object_object_get_ex(o, "pid", &v));
    json_object_put(o);
}
END_TEST

static void emit_long(void)
{
    static char big[20000];
    memset(big, 'y', sizeof(big) - 1);
    log_init("x", LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
    log_info("big", "v", big);
}

START_TEST(test_log_long_value_is_cut_not_overflowed)
{
    static char out[32768];
    capture(emit_long, out, sizeof(out));
    ck_assert_int_lt((int)strlen(out), 8200);
    ck_assert_ptr_nonnull(strstr(out, "...\n"));
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, test_log_logfmt_line_has_role_pid_and_escapes);
    tcase_add_test(tc, test_log_json_line_parses);
    tcase_add_test(tc, test_log_long_value_is_cut_not_overflowed);
    suite_add_tcase(s, tc);
    return s;
}
