/* Duration parsing: Go's spellings, errors for bad input, formatting round trip. */
#include "tests/unit/unit.h"
#include <stdint.h>
#include <string.h>

#include "common/duration.h"

static int64_t ms(const char *s)
{
    int64_t v = -1;
    ck_assert_msg(duration_parse_ms(s, &v, NULL) == 0, "parse %s", s);
    return v;
}

START_TEST(test_duration_accepts_go_spellings)
{
    ck_assert_int_eq(ms("500ms"), 500);
    ck_assert_int_eq(ms("15s"), 15000);
    ck_assert_int_eq(ms("1m30s"), 90000);
    ck_assert_int_eq(ms("2h"), 7200000);
    ck_assert_int_eq(ms("1.5s"), 1500);
    ck_assert_int_eq(ms("0"), 0);
    ck_assert_int_eq(ms("0s"), 0);
    ck_assert_int_eq(ms("1h2m3s4ms"), 3723004);
    ck_assert_int_eq(ms("250us"), 1); /* positive durations never round to zero */
}
END_TEST

START_TEST(test_duration_refuses_bad_input)
{
    const char *bad[] = {"", "15", "s", "-1s", "1x", "1..5s", "abc", "1s2", "99999999999999999h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v;
        const char *why = NULL;
        ck_assert_msg(duration_parse_ms(bad[i], &v, &why) == -1, "accepted %s", bad[i]);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

START_TEST(test_duration_format_round_trips)
{
    const int64_t values[] = {0, 1, 500, 1000, 1500, 15000, 90000, 3600000, 3723004};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char s[32];
        duration_format_ms(values[i], s, sizeof(s));
        ck_assert_int_eq(ms(s), values[i]);
    }
    char s[32];
    duration_format_ms(90000, s, sizeof(s));
    ck_assert_str_eq(s, "1m30s");
}
END_TEST

/* Go's time.Duration.String() drops trailing zeros of the fraction: 1.5s, not 1.500s. */
START_TEST(test_duration_format_matches_go)
{
    const struct {
        int64_t ms;
        const char *go;
    } cases[] = {{1500, "1.5s"}, {1100, "1.1s"}, {1010, "1.01s"}, {1001, "1.001s"}, {3723004, "1h2m3.004s"},
                 {3720500, "1h2m0.5s"}, {60000, "1m0s"}, {999, "999ms"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char s[32];
        duration_format_ms(cases[i].ms, s, sizeof(s));
        ck_assert_str_eq(s, cases[i].go);
    }
}
END_TEST

/* Go accepts both micro signs: U+00B5 (micro sign) and U+03BC (Greek small mu). */
START_TEST(test_duration_accepts_both_micro_signs)
{
    ck_assert_int_eq(ms("2000\xc2\xb5s"), 2);
    ck_assert_int_eq(ms("2000\xce\xbcs"), 2);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("duration");
    TCase *tc = tcase_create("duration");
    tcase_add_test(tc, test_duration_accepts_go_spellings);
    tcase_add_test(tc, test_duration_refuses_bad_input);
    tcase_add_test(tc, test_duration_format_round_trips);
    tcase_add_test(tc, test_duration_format_matches_go);
    tcase_add_test(tc, test_duration_accepts_both_micro_signs);
    suite_add_tcase(s, tc);
    return s;
}
