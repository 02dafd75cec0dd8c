/* The deployer's scheduler on a fake clock: compare before push (no storm on takeover), leading-edge
 * interval with coalescing and no timer reset, the fast lane not held by the interval, max_parallel,
 * backoff, new and removed targets, drift. */
#include "tests/unit/unit.h"
#include "workers/deployer/scheduler.h"

#include <stdio.h>
#include <string.h>

#define A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void targets(struct sched *s, const char *a, const char *b)
{
    const char *names[2] = {a, b};
    ck_assert_int_eq(sched_set_targets(s, names, b ? 2 : (a ? 1 : 0)), 0);
}

/* Runs the compare of every UNKNOWN target and answers with running. */
static void compare_all(struct sched *s, int64_t now, const char *running)
{
    struct sched_action a;
    for (;;) {
        const struct sched_target *busy = NULL;
        for (size_t i = 0; i < s->n; i++)
            if (s->t[i].state == SCHED_ST_UNKNOWN) busy = &s->t[i];
        if (!busy) return;
        ck_assert_int_eq(sched_next(s, now, NULL, NULL, &a), 1);
        ck_assert_int_eq(a.kind, SCHED_COMPARE);
        char name[SCHED_NAME_MAX];
        snprintf(name, sizeof(name), "%s", a.target);
        sched_compared(s, name, running, now);
    }
}

START_TEST(test_sched_takeover_compares_first_and_pushes_nothing_in_sync)
{
    struct sched s;
    sched_init(&s, 2000, 30000, 0);
    sched_set_lkg(&s, 7, A);
    targets(&s, "t1", "t2");
    compare_all(&s, 0, A);
    struct sched_action a;
    ck_assert_int_eq(sched_next(&s, 0, NULL, NULL, &a), 0);
    ck_assert_uint_eq(sched_in_sync(&s), 2);
    ck_assert_int_eq(sched_wake_ms(&s, 0), -1);
    sched_free(&s);
}
END_TEST

START_TEST(test_sched_pushes_only_the_target_that_differs)
{
    struct sched s;
    sched_init(&s, 2000, 30000, 0);
    sched_set_lkg(&s, 7, A);
    targets(&s, "t1", "t2");
    struct sched_action a;
    ck_assert_int_eq(sched_next(&s, 0, NULL, NULL, &a), 1);
    ck_assert_str_eq(a.target, "t1");
    sched_compared(&s, "t1", B, 0);
    ck_assert_int_eq(sched_next(&s, 0, NULL, NULL, &a), 1);
    ck_assert_int_eq(a.kind, SCHED_COMPARE);
    ck_assert_str_eq(a.target, "t2");
    sched_compared(&s, "t2", A, 0);
    ck_assert_int_eq(sched_next(&s, 5, NULL, NULL, &a), 1);
    ck_assert_int_eq(a.kind, SCHED_PUSH);
    ck_assert_str_eq(a.target, "t1");
    ck_assert_str_eq(a.checksum, A);
    ck_assert_str_eq(a.from, B);
    ck_assert_str_eq(a.reason, SCHED_REASON_INITIAL);
    ck_assert_int_eq(a.deadline_ms, 30005);
    ck_assert_int_eq(a.generation, 7);
    ck_assert_int_eq(sched_next(&s, 5, NULL, NULL, &a), 0);
    sched_free(&s);
}
END_TEST

START_TEST(test_sched_interval_leading_edge_coalesces_without_reset)
{
    struct sched s;
    sched_init(&s, 2000, 30000, 0);
    targets(&s, "t1", NULL);
    compare_all(&s, 0, "");
    struct sched_action a;
    ck_assert_int_eq(sched_next(&s, 0, NULL, NULL, &a), 0); /* no LKG yet */
    sched_set_lkg(&s, 1, A);
    /* after quiet: at once */
    ck_assert_int_eq(sched_next(&s, 100, NULL, NULL, &a), 1);
    ck_assert_str_eq(a.checksum, A);
    sched_pushed(&s, "t1", 1, 1, 100, NULL, 300);
    /* two changes inside the interval: nothing before 2100, then only the newest */
    sched_set_lkg(&s, 2, B);
    ck_assert_int_eq(sched_next(&s, 500, NULL, NULL, &a), 0);
    ck_assert_int_eq(sched_wake_ms(&s, 500), 2100);
    sched_set_lkg(&s, 3, C); /* a later arrival does not move the wake-up */
    ck_assert_int_eq(sched_wake_ms(&s, 1900), 2100);
    ck_assert_int_eq(sched_next(&s, 2099, NULL, NULL, &a), 0);
    ck_assert_int_eq(sched_next(&s, 2100, NULL, NULL, &a), 1);
    ck_assert_str_eq(a.checksum, C);
    ck_assert_str_eq(a.reason, SCHED_REASON_CHANGE);
    sched_pushed(&s, "t1", 1, 1, 2100, NULL, 2200);
    ck_assert_uint_eq(sched_in_sync(&s), 1);
    sched_free(&s);
}
END_TEST

START_TEST(test_sched_older_generation_is_ignored)
{
    struct sched s;
    sched_init(&s, 0, 30000, 0);
    sched_set_lkg(&s, 5, B);
    sched_set_lkg(&s, 4, A);
    ck_assert_str_eq(s.want, B);
    sched_free(&s);
}
END_TEST

static int always_fast(void *ctx, const char *target, const char *from, const char *to)
{
    (void)target;
    (void)from;
    (void)to;
    ++*(int *)ctx;
    return 1;
}

START_TEST(test_sched_fast_lane_is_not_held_by_the_interval)
{
    struct sched s;
    int asked = 0;
    sched_init(&s, 2000, 30000, 0);
    targets(&s, "t1", NULL);
    compare_all(&s, 0, A);
    sched_set_lkg(&s, 2, B);
    struct sched_action a;
    ck_assert_int_eq(sched_next(&s, 10, always_fast, &asked, &a), 1);
    ck_assert_int_eq(asked, 0); /* no reload yet: no need to ask */
    sched_pushed(&s, "t1", 1, 1, 10, NULL, 20);
    sched_set_lkg(&s, 3, C);
    ck_assert_int_eq(sched_next(&s, 30, NULL, NULL, &a), 0);
    ck_assert_int_eq(sched_next(&s, 30, always_fast, &asked, &a), 1);
    ck_assert_int_eq(asked, 1);
    ck_assert_str_eq(a.from, B);
    sched_pushed(&s, "t1", 1, 0, 30, NULL, 40); /* no reload: the interval still counts from 10 */
    ck_assert_int_eq(s.t[0].last_reload_ms, 10);
    sched_free(&s);
}
END_TEST

START_TEST(test_sched_max_parallel_bounds_pushes_and_rotates)
{
    struct sched s;
    sched_init(&s, 0, 30000, 1);
    targets(&s, "t1", "t2");
    compare_all(&s, 0, "");
    sched_set_lkg(&s, 1, A);
    struct sched_action a;
    ck_assert_int_eq(sched_next(&s, 0, NULL, NULL, &a), 1);
    char first[SCHED_NAME_MAX];
    snprintf(first, sizeof(first), "%s", a.target);
    ck_assert_int_eq(sched_next(&s, 0, NULL, NULL, &a), 0);
    ck_assert_int_eq(sched_wake_ms(&s, 0), -1); /* the push's end wakes the deployer */
    sched_pushed(&s, first, 1, 1, 0, NULL, 10);
    ck_assert_int_eq(sched_next(&s, 10, NULL, NULL, &a), 1);
    ck_assert_str_ne(a.target, first);
    sched_free(&s);
}
END_TEST

START_TEST(test_sched_failed_push_backs_off_exponentially_and_new_lkg_resets)
{
    struct sched s;
    sched_init(&s, 0, 30000, 0);
    targets(&s, "t1", NULL);
    compare_all(&s, 0, "");
    sched_set_lkg(&s, 1, A);
    struct sched_action a;
    int64_t now = 0, expect = SCHED_BACKOFF_BASE_MS;
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(sched_next(&s, now, NULL, NULL, &a), 1);
        if (i) ck_assert_str_eq(a.reason, SCHED_REASON_RETRY);
        sched_pushed(&s, "t1", 0, 1, now, NULL, now);
        ck_assert_int_eq(sched_next(&s, now + expect - 1, NULL, NULL, &a), 0);
        ck_assert_int_eq(sched_wake_ms(&s, now), now + expect);
        now += expect;
        expect = expect * 2 > SCHED_BACKOFF_MAX_MS ? SCHED_BACKOFF_MAX_MS : expect * 2;
    }
    ck_assert_int_eq(expect, SCHED_BACKOFF_MAX_MS);
    sched_set_lkg(&s, 2, B);
    ck_assert_int_eq(sched_next(&s, now - SCHED_BACKOFF_MAX_MS + 1, NULL, NULL, &a), 1);
    ck_assert_str_eq(a.checksum, B);
    sched_free(&s);
}
END_TEST

START_TEST(test_sched_removed_target_is_forgotten_even_while_busy)
{
    struct sched s;
    sched_init(&s, 0, 30000, 0);
    targets(&s, "t1", "t2");
    compare_all(&s, 0, "");
    sched_set_lkg(&s, 1, A);
    struct sched_action a;
    ck_assert_int_eq(sched_next(&s, 0, NULL, NULL, &a), 1);
    ck_assert_str_eq(a.target, "t1");
    targets(&s, "t2", NULL);
    ck_assert_ptr_null(sched_find(&s, "t1"));
    sched_pushed(&s, "t1", 1, 1, 0, NULL, 5);
    ck_assert_uint_eq(s.n, 1);
    targets(&s, "t2", "t3"); /* a new one is compared at once */
    ck_assert_int_eq(sched_next(&s, 5, NULL, NULL, &a), 1);
    if (a.kind == SCHED_PUSH) {
        ck_assert_str_eq(a.target, "t2");
        ck_assert_int_eq(sched_next(&s, 5, NULL, NULL, &a), 1);
    }
    ck_assert_int_eq(a.kind, SCHED_COMPARE);
    ck_assert_str_eq(a.target, "t3");
    sched_free(&s);
}
END_TEST

START_TEST(test_sched_recheck_finds_drift_and_repairs_it)
{
    struct sched s;
    sched_init(&s, 2000, 30000, 0);
    targets(&s, "t1", NULL);
    sched_set_lkg(&s, 1, A);
    compare_all(&s, 0, A);
    sched_recheck_all(&s);
    compare_all(&s, 100, ""); /* the files no longer match */
    struct sched_action a;
    ck_assert_int_eq(sched_next(&s, 100, NULL, NULL, &a), 1);
    ck_assert_int_eq(a.kind, SCHED_PUSH);
    ck_assert_str_eq(a.reason, SCHED_REASON_DRIFT);
    /* a recheck asked while it pushes comes after the push */
    sched_recheck_all(&s);
    sched_pushed(&s, "t1", 1, 1, 100, NULL, 200);
    ck_assert_int_eq(sched_next(&s, 200, NULL, NULL, &a), 1);
    ck_assert_int_eq(a.kind, SCHED_COMPARE);
    sched_compared(&s, "t1", A, 210);
    ck_assert_int_eq(sched_next(&s, 210, NULL, NULL, &a), 0);
    sched_free(&s);
}
END_TEST

START_TEST(test_sched_unreadable_target_is_compared_again_after_backoff)
{
    struct sched s;
    sched_init(&s, 0, 30000, 0);
    targets(&s, "t1", NULL);
    struct sched_action a;
    ck_assert_int_eq(sched_next(&s, 0, NULL, NULL, &a), 1);
    sched_compared(&s, "t1", NULL, 0);
    ck_assert_int_eq(sched_next(&s, SCHED_BACKOFF_BASE_MS - 1, NULL, NULL, &a), 0);
    ck_assert_int_eq(sched_wake_ms(&s, 0), SCHED_BACKOFF_BASE_MS);
    ck_assert_int_eq(sched_next(&s, SCHED_BACKOFF_BASE_MS, NULL, NULL, &a), 1);
    ck_assert_int_eq(a.kind, SCHED_COMPARE);
    sched_free(&s);
}
END_TEST

START_TEST(test_sched_refuses_too_many_or_too_long_targets)
{
    struct sched s;
    sched_init(&s, 0, 30000, 0);
    char longname[SCHED_NAME_MAX + 1];
    memset(longname, 'x', SCHED_NAME_MAX);
    longname[SCHED_NAME_MAX] = '\0';
    const char *names[] = {longname};
    ck_assert_int_eq(sched_set_targets(&s, names, 1), -1);
    ck_assert_int_eq(sched_set_targets(&s, names, SCHED_TARGETS_MAX + 1), -1);
    ck_assert_uint_eq(s.n, 0);
    sched_free(&s);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("deployer_scheduler");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sched_takeover_compares_first_and_pushes_nothing_in_sync);
    tcase_add_test(tc, test_sched_pushes_only_the_target_that_differs);
    tcase_add_test(tc, test_sched_interval_leading_edge_coalesces_without_reset);
    tcase_add_test(tc, test_sched_older_generation_is_ignored);
    tcase_add_test(tc, test_sched_fast_lane_is_not_held_by_the_interval);
    tcase_add_test(tc, test_sched_max_parallel_bounds_pushes_and_rotates);
    tcase_add_test(tc, test_sched_failed_push_backs_off_exponentially_and_new_lkg_resets);
    tcase_add_test(tc, test_sched_removed_target_is_forgotten_even_while_busy);
    tcase_add_test(tc, test_sched_recheck_finds_drift_and_repairs_it);
    tcase_add_test(tc, test_sched_unreadable_target_is_compared_again_after_backoff);
    tcase_add_test(tc, test_sched_refuses_too_many_or_too_long_targets);
    suite_add_tcase(s, tc);
    return s;
}
