/* The growable buffer: appends, printf, steal, and sizes that cannot be honoured (an append whose length
 * would overflow size_t) refused rather than wrapped into a small allocation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "tests/unit/unit.h"

START_TEST(test_buf_appends_and_steals)
{
    struct buf b;
    buf_init(&b);
    ck_assert_str_eq(buf_cstr(&b), "");
    ck_assert_int_eq(buf_puts(&b, "ab"), 0);
    ck_assert_int_eq(buf_printf(&b, "%d-%s", 12, "x"), 0);
    ck_assert_int_eq(buf_putc(&b, '!'), 0);
    ck_assert_str_eq(buf_cstr(&b), "ab12-x!");
    ck_assert_int_eq((int)b.len, 7);
    char *s = buf_steal(&b);
    ck_assert_str_eq(s, "ab12-x!");
    free(s);
    ck_assert_int_eq((int)b.len, 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_refuses_a_length_that_would_wrap)
{
    struct buf b;
    buf_init(&b);
    ck_assert_int_eq(buf_puts(&b, "abc"), 0);
    /* len + extra + 1 wraps to a small number: must not be taken as "fits" */
    ck_assert_int_eq(buf_reserve(&b, SIZE_MAX - 2), -1);
    ck_assert_int_eq(buf_reserve(&b, SIZE_MAX), -1);
    ck_assert_str_eq(buf_cstr(&b), "abc");
    buf_free(&b);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, test_buf_appends_and_steals);
    tcase_add_test(tc, test_buf_refuses_a_length_that_would_wrap);
    suite_add_tcase(s, tc);
    return s;
}
