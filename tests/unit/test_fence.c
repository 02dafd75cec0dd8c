/* The deployer's fence: nothing before the first term, nothing at or after the fence, extensions only
 * forward within a term, a new term replaces the fence, and disabled mode has none. */
#include "tests/unit/unit.h"
#include "workers/deployer/fence.h"

#include <string.h>

#include "common/term.h"

START_TEST(test_fence_refuses_before_first_leadership_message)
{
    struct fence f;
    fence_init(&f);
    ck_assert_int_eq(fence_allows(&f, 0, 0), 0);
    ck_assert_int_eq(fence_allows(&f, 1000000, 0), 0);
}
END_TEST

START_TEST(test_fence_allows_only_before_the_fence)
{
    struct fence f;
    fence_init(&f);
    fence_update(&f, "pod-a#1", 10000, 0);
    ck_assert_int_eq(fence_allows(&f, 9999, 0), 1);
    ck_assert_int_eq(fence_allows(&f, 10000, 0), 0);
    ck_assert_int_eq(fence_allows(&f, 20000, 0), 0);
    ck_assert_int_eq(fence_left_ms(&f, 9000), 1000);
}
END_TEST

START_TEST(test_fence_never_moves_back_within_a_term)
{
    struct fence f;
    fence_init(&f);
    fence_update(&f, "pod-a#1", 10000, 0);
    fence_update(&f, "pod-a#1", 8000, 0); /* a late, reordered renewal report */
    ck_assert_int_eq(fence_allows(&f, 9000, 0), 1);
    fence_update(&f, "pod-a#1", 12000, 0);
    ck_assert_int_eq(fence_allows(&f, 11000, 0), 1);
}
END_TEST

START_TEST(test_fence_new_term_replaces_the_fence)
{
    struct fence f;
    fence_init(&f);
    fence_update(&f, "pod-a#1", 10000, 0);
    fence_update(&f, "pod-a#2", 5000, 0);
    ck_assert_str_eq(f.term, "pod-a#2");
    ck_assert_int_eq(fence_allows(&f, 6000, 0), 0);
}
END_TEST

START_TEST(test_fence_disabled_mode_has_no_fence)
{
    struct fence f;
    fence_init(&f);
    fence_update(&f, "disabled", FENCE_NONE, 0);
    ck_assert_int_eq(fence_allows(&f, INT64_MAX - 1, 0), 1);
    ck_assert(fence_left_ms(&f, 0) == INT64_MAX);
}
END_TEST

START_TEST(test_fence_refuses_after_a_suspend)
{
    struct fence f;
    fence_init(&f);
    fence_update(&f, "pod-a#1", 10000, 5000); /* boot clock 5 s ahead of monotonic when set */
    ck_assert_int_eq(fence_allows(&f, 9000, 5000), 1);
    ck_assert_int_eq(fence_allows(&f, 9000, 5000 + FENCE_SUSPEND_SLACK_MS), 1);
    /* the machine slept 30 s: monotonic says 9 s, the world is 39 s on */
    ck_assert_int_eq(fence_allows(&f, 9000, 35000), 0);
    /* a fence set after the wake-up is trusted again */
    fence_update(&f, "pod-a#1", 12000, 35000);
    ck_assert_int_eq(fence_allows(&f, 9500, 35000), 1);
}
END_TEST

/* Two terms of one maximal-length identity differ only after the 300th character: a fence that cut them
 * would take the second for the first and keep the first's later fence. */
START_TEST(test_fence_keeps_a_maximal_term_whole)
{
    char id[TERM_IDENTITY_MAX + 1], t1[TERM_MAX], t2[TERM_MAX];
    memset(id, 'a', TERM_IDENTITY_MAX);
    id[TERM_IDENTITY_MAX] = '\0';
    ck_assert_int_eq(term_format(t1, id, INT32_MIN), 0);
    ck_assert_int_eq(term_format(t2, id, INT32_MIN + 1), 0);
    ck_assert_uint_eq(strlen(t1), TERM_MAX - 1);
    struct fence f;
    fence_init(&f);
    ck_assert_int_eq(fence_update(&f, t1, 10000, 0), 0);
    ck_assert_str_eq(f.term, t1);
    ck_assert_int_eq(fence_update(&f, t2, 5000, 0), 0);
    ck_assert_str_eq(f.term, t2);
    ck_assert_int_eq(fence_allows(&f, 6000, 0), 0); /* the new term's earlier fence holds */
}
END_TEST

START_TEST(test_fence_refuses_a_term_too_long_to_keep)
{
    char t[TERM_MAX + 1];
    memset(t, 'b', TERM_MAX);
    t[TERM_MAX] = '\0';
    struct fence f;
    fence_init(&f);
    fence_update(&f, "pod-a#1", 10000, 0);
    ck_assert_int_eq(fence_update(&f, t, 20000, 0), -1);
    ck_assert_str_eq(f.term, "pod-a#1");
    ck_assert_int_eq(fence_allows(&f, 15000, 0), 0);
}
END_TEST

/* Issue 13 item 9: the deployer's own exit comes a grace after the fence (after a live supervisor's kill)
 * and always before anyone else may lead (half the lease_duration - renew_deadline margin at most). */
START_TEST(test_fence_exit_comes_after_the_fence_and_before_a_takeover)
{
    ck_assert_int_eq(fence_exit_grace_ms(15000, 10000), FENCE_EXIT_GRACE_MS);
    ck_assert_int_eq(fence_exit_grace_ms(1000, 900), 50);
    ck_assert_int_eq(fence_exit_grace_ms(1000, 1000), 0);
    struct fence f;
    fence_init(&f);
    ck_assert(fence_exit_at_ms(&f, 200) == -1); /* no term yet */
    fence_update(&f, "pod-a#1", 10000, 0);
    ck_assert(fence_exit_at_ms(&f, 200) == 10200);
    fence_update(&f, "pod-a#1", 12000, 0); /* a renewal moves the exit too */
    ck_assert(fence_exit_at_ms(&f, 200) == 12200);
    fence_update(&f, "disabled", FENCE_NONE, 0);
    ck_assert(fence_exit_at_ms(&f, 200) == -1);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("fence");
    TCase *tc = tcase_create("fence");
    tcase_add_test(tc, test_fence_refuses_before_first_leadership_message);
    tcase_add_test(tc, test_fence_allows_only_before_the_fence);
    tcase_add_test(tc, test_fence_never_moves_back_within_a_term);
    tcase_add_test(tc, test_fence_new_term_replaces_the_fence);
    tcase_add_test(tc, test_fence_disabled_mode_has_no_fence);
    tcase_add_test(tc, test_fence_refuses_after_a_suspend);
    tcase_add_test(tc, test_fence_keeps_a_maximal_term_whole);
    tcase_add_test(tc, test_fence_refuses_a_term_too_long_to_keep);
    tcase_add_test(tc, test_fence_exit_comes_after_the_fence_and_before_a_takeover);
    suite_add_tcase(s, tc);
    return s;
}
