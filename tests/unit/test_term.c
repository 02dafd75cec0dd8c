/* Leadership terms (common/term.h): the one format, a maximal identity kept whole, nothing cut. */
#include "tests/unit/unit.h"

#include <string.h>

#include "common/term.h"

START_TEST(test_term_is_identity_hash_transitions)
{
    char t[TERM_MAX];
    ck_assert_int_eq(term_format(t, "pod-a_1111", 7), 0);
    ck_assert_str_eq(t, "pod-a_1111#7");
    ck_assert_int_eq(term_format(t, "pod-a", INT32_MIN), 0);
    ck_assert_str_eq(t, "pod-a#-2147483648");
}
END_TEST

START_TEST(test_term_of_a_maximal_identity_is_not_cut)
{
    char id[TERM_IDENTITY_MAX + 2], t[TERM_MAX], copy[TERM_MAX];
    memset(id, 'x', TERM_IDENTITY_MAX);
    id[TERM_IDENTITY_MAX] = '\0';
    ck_assert_int_eq(term_format(t, id, INT32_MIN), 0);
    ck_assert_uint_eq(strlen(t), TERM_MAX - 1);
    ck_assert_str_eq(t + TERM_IDENTITY_MAX, "#-2147483648");
    ck_assert_int_eq(term_copy(copy, t), 0);
    ck_assert_str_eq(copy, t);
    /* one character more is refused, never cut */
    id[TERM_IDENTITY_MAX] = 'x';
    id[TERM_IDENTITY_MAX + 1] = '\0';
    ck_assert_int_eq(term_format(t, id, 1), -1);
    ck_assert_str_eq(t, "");
}
END_TEST

START_TEST(test_term_copy_refuses_what_does_not_fit)
{
    char big[TERM_MAX + 1], out[TERM_MAX] = "kept";
    memset(big, 'y', TERM_MAX);
    big[TERM_MAX] = '\0';
    ck_assert_int_eq(term_copy(out, big), -1);
    ck_assert_str_eq(out, "kept");
    ck_assert_int_eq(term_copy(out, NULL), -1);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("term");
    TCase *tc = tcase_create("term");
    tcase_add_test(tc, test_term_is_identity_hash_transitions);
    tcase_add_test(tc, test_term_of_a_maximal_identity_is_not_cut);
    tcase_add_test(tc, test_term_copy_refuses_what_does_not_fit);
    suite_add_tcase(s, tc);
    return s;
}
