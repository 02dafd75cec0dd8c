/* Logging: one line per event with time, level, role, pid; values quoted and escaped; JSON mode valid. */
#include "tests/unit/unit.h"
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/unit/stderr_capture.h"

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

static void emit_numbers(void)
{
    log_init("x", LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
    log_info("numbers", "min", LOG_INT(INT64_MIN), "pid", LOG_INT(4242), "max", LOG_UINT(UINT64_MAX));
}

START_TEST(test_log_numbers_need_no_buffer_at_the_call_site)
{
    char out[4096];
    capture(emit_numbers, out, sizeof(out));
    ck_assert_ptr_nonnull(strstr(out, "msg=numbers min=-9223372036854775808 pid=4242 max=18446744073709551615\n"));
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

/* A line cut at LOG_LINE_MAX must still be one well-formed line: valid JSON (and valid UTF-8) in JSON mode,
 * a closed quote in logfmt; never half an escape or half a character. */
static const char *long_value;
static enum log_format long_format;

static void emit_long_value(void)
{
    log_init("x", long_format, LOG_LEVEL_INFO);
    log_info("big", "k", "v", "big", long_value, "after", "z");
}

static void emit_repeated(enum log_format fmt, const char *unit, char *out, size_t n)
{
    static char big[20000];
    size_t k = strlen(unit), len = 0;
    while (len + k < sizeof(big)) {
        memcpy(big + len, unit, k);
        len += k;
    }
    big[len] = '\0';
    long_value = big;
    long_format = fmt;
    capture(emit_long_value, out, n);
}

static struct json_object *parse_strict(const char *line)
{
    struct json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *o = json_tokener_parse_ex(tok, line, (int)strlen(line) - 1); /* without the \n */
    enum json_tokener_error e = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (e != json_tokener_success) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

START_TEST(test_log_cut_json_line_stays_valid_json)
{
    static const char *const units[] = {"y", "\x01", "\"", "\xc3\xa9", "\xe2\x82\xac", "a b"};
    static char out[32768];
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        emit_repeated(LOG_FORMAT_JSON, units[i], out, sizeof(out));
        ck_assert_int_le((int)strlen(out), 8192);
        ck_assert_int_eq((int)(strchr(out, '\n') - out), (int)strlen(out) - 1);
        struct json_object *o = parse_strict(out);
        ck_assert_msg(o != NULL, "unit %zu: cut line is not valid JSON: ...%s", i, out + strlen(out) - 40);
        struct json_object *v;
        ck_assert(json_object_object_get_ex(o, "truncated", &v));
        ck_assert(json_object_get_boolean(v));
        ck_assert(json_object_object_get_ex(o, "big", &v));
        const char *big = json_object_get_string(v);
        ck_assert_str_eq(big + strlen(big) - 3, "...");
        json_object_put(o);
    }
}
END_TEST

START_TEST(test_log_cut_logfmt_value_keeps_its_quotes_closed)
{
    static char out[32768];
    emit_repeated(LOG_FORMAT_LOGFMT, "a b", out, sizeof(out));
    ck_assert_int_le((int)strlen(out), 8192);
    size_t n = strlen(out);
    ck_assert_str_eq(out + n - 5, "...\"\n");
    int quotes = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i] == '"' && (i == 0 || out[i - 1] != '\\')) quotes++;
    ck_assert_int_eq(quotes % 2, 0);
    emit_repeated(LOG_FORMAT_LOGFMT, "\x01", out, sizeof(out));
    n = strlen(out);
    ck_assert_msg(strcmp(out + n - 5, "...\"\n") == 0, "no half escape: %s", out + n - 20);
}
END_TEST

/* Keys are data too (the commentator logs the fields a child reports): a key must not break the line. */
static void emit_odd_key(void)
{
    log_init("supervisor", LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
    const char *pairs[] = {"a b\nlevel=error msg=\"forged\"", "v"};
    log_write_pairs(LOG_LEVEL_INFO, "event", pairs, 1);
}

START_TEST(test_log_logfmt_key_cannot_break_the_line)
{
    char out[4096];
    capture(emit_odd_key, out, sizeof(out));
    ck_assert_int_eq((int)(strchr(out, '\n') - out), (int)strlen(out) - 1); /* exactly one line */
    ck_assert_ptr_null(strstr(out, "level=error"));
    ck_assert_ptr_nonnull(strstr(out, " a_b_level_error_msg__forged_=v"));
}
END_TEST

/* Values can carry bytes from outside (an API error, a peer's identity): invalid UTF-8 must not make a JSON
 * line invalid. Bad bytes become U+FFFD; good multi-byte characters pass untouched. */
static void emit_bad_utf8(void)
{
    log_init("supervisor", LOG_FORMAT_JSON, LOG_LEVEL_INFO);
    log_info("odd", "v", "a\xff" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e\xc3\xa9" "f\xe2\x82\xac");
}

START_TEST(test_log_json_line_is_valid_utf8_whatever_the_value)
{
    char out[4096];
    capture(emit_bad_utf8, out, sizeof(out));
    struct json_object *o = parse_strict(out);
    ck_assert_msg(o != NULL, "not valid JSON/UTF-8: %s", out);
    struct json_object *v;
    ck_assert(json_object_object_get_ex(o, "v", &v));
    ck_assert_str_eq(json_object_get_string(v), "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
                                                "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "e\xc3\xa9" "f\xe2\x82\xac");
    json_object_put(o);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, test_log_logfmt_line_has_role_pid_and_escapes);
    tcase_add_test(tc, test_log_json_line_parses);
    tcase_add_test(tc, test_log_long_value_is_cut_not_overflowed);
    tcase_add_test(tc, test_log_cut_json_line_stays_valid_json);
    tcase_add_test(tc, test_log_cut_logfmt_value_keeps_its_quotes_closed);
    tcase_add_test(tc, test_log_logfmt_key_cannot_break_the_line);
    tcase_add_test(tc, test_log_json_line_is_valid_utf8_whatever_the_value);
    tcase_add_test(tc, test_log_numbers_need_no_buffer_at_the_call_site);
    suite_add_tcase(s, tc);
    return s;
}
