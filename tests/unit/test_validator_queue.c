/* The validator's latest-wins queue: one check at a time, only the newest waiting request kept (the replaced
 * one answered "superseded" and never run), verdicts reused by checksum within a bounded, aging cache. */
#include <string.h>

#include "tests/unit/unit.h"
#include "common/haproxy/haproxy_check.h"
#include "workers/validator/queue.h"

static struct validator_request *req(const char *id, const char *sum)
{
    return validator_request_new(id, sum, "/run/x/gen/abc", 0);
}

static const struct validator_verdict valid = {.ok = 1, .outcome = HAPROXY_CHECK_VALID, .message = "",
                                               .warnings = "w", .duration_ms = 12};
static const struct validator_verdict invalid = {.ok = 0, .outcome = HAPROXY_CHECK_INVALID,
                                                 .message = "bad line", .warnings = "", .duration_ms = 7};
static const struct validator_verdict timeout = {.ok = 0, .outcome = HAPROXY_CHECK_TIMEOUT,
                                                 .message = "killed", .warnings = "", .duration_ms = 30000};

START_TEST(test_validator_queue_runs_one_at_a_time_and_keeps_only_the_newest_waiting)
{
    struct validator_queue q;
    validator_queue_init(&q);
    struct validator_queue_actions a;
    validator_queue_submit(&q, req("r1", "sha256:1"), 0, &a);
    ck_assert_ptr_nonnull(a.run);
    ck_assert_str_eq(a.run->render_id, "r1");
    validator_queue_actions_free(&a);

    validator_queue_submit(&q, req("r2", "sha256:2"), 1, &a);
    ck_assert_ptr_null(a.run);
    ck_assert_ptr_null(a.superseded);
    validator_queue_actions_free(&a);

    validator_queue_submit(&q, req("r3", "sha256:3"), 2, &a);
    ck_assert_ptr_null(a.run);
    ck_assert_ptr_nonnull(a.superseded);
    ck_assert_str_eq(a.superseded->render_id, "r2");
    ck_assert_str_eq(a.superseded_by, "r3");
    validator_queue_actions_free(&a);

    validator_queue_done(&q, &valid, 3, &a);
    ck_assert_str_eq(a.finished->render_id, "r1");
    ck_assert_ptr_nonnull(a.run);
    ck_assert_str_eq(a.run->render_id, "r3"); /* r2 never runs */
    validator_queue_actions_free(&a);

    validator_queue_done(&q, &invalid, 4, &a);
    ck_assert_str_eq(a.finished->render_id, "r3");
    ck_assert_ptr_null(a.run);
    validator_queue_actions_free(&a);
    ck_assert_uint_eq(q.runs, 2);
    ck_assert_uint_eq(q.superseded, 1);
    validator_queue_free(&q);
}
END_TEST

START_TEST(test_validator_queue_same_checksum_as_running_is_answered_from_its_result)
{
    struct validator_queue q;
    validator_queue_init(&q);
    struct validator_queue_actions a;
    validator_queue_submit(&q, req("r1", "sha256:1"), 0, &a);
    validator_queue_actions_free(&a);
    validator_queue_submit(&q, req("r2", "sha256:1"), 1, &a);
    ck_assert_ptr_null(a.run);
    ck_assert_ptr_null(a.from_cache);
    validator_queue_actions_free(&a);

    validator_queue_done(&q, &invalid, 2, &a);
    ck_assert_str_eq(a.finished->render_id, "r1");
    ck_assert_ptr_null(a.run);
    ck_assert_ptr_nonnull(a.from_cache);
    ck_assert_str_eq(a.from_cache->render_id, "r2");
    ck_assert_str_eq(a.cached->message, "bad line");
    ck_assert_int_eq(a.cached->ok, 0);
    validator_queue_actions_free(&a);
    ck_assert_uint_eq(q.runs, 1);
    validator_queue_free(&q);
}
END_TEST

START_TEST(test_validator_queue_just_validated_checksum_needs_no_check_and_still_supersedes)
{
    struct validator_queue q;
    validator_queue_init(&q);
    struct validator_queue_actions a;
    validator_queue_submit(&q, req("r1", "sha256:1"), 0, &a);
    validator_queue_actions_free(&a);
    validator_queue_done(&q, &valid, 1, &a);
    validator_queue_actions_free(&a);

    validator_queue_submit(&q, req("r2", "sha256:2"), 2, &a); /* runs */
    validator_queue_actions_free(&a);
    validator_queue_submit(&q, req("r3", "sha256:3"), 3, &a); /* waits */
    validator_queue_actions_free(&a);
    validator_queue_submit(&q, req("r4", "sha256:1"), 4, &a); /* cached; r3 is now stale */
    ck_assert_ptr_null(a.run);
    ck_assert_str_eq(a.from_cache->render_id, "r4");
    ck_assert_int_eq(a.cached->ok, 1);
    ck_assert_str_eq(a.cached->warnings, "w");
    ck_assert_str_eq(a.superseded->render_id, "r3");
    validator_queue_actions_free(&a);

    validator_queue_done(&q, &valid, 5, &a);
    ck_assert_str_eq(a.finished->render_id, "r2");
    ck_assert_ptr_null(a.run);
    validator_queue_actions_free(&a);
    validator_queue_free(&q);
}
END_TEST

START_TEST(test_validator_queue_timeouts_are_not_cached)
{
    struct validator_queue q;
    validator_queue_init(&q);
    struct validator_queue_actions a;
    validator_queue_submit(&q, req("r1", "sha256:1"), 0, &a);
    validator_queue_actions_free(&a);
    validator_queue_done(&q, &timeout, 1, &a);
    validator_queue_actions_free(&a);
    validator_queue_submit(&q, req("r2", "sha256:1"), 2, &a);
    ck_assert_ptr_nonnull(a.run);
    ck_assert_ptr_null(a.from_cache);
    validator_queue_actions_free(&a);
    validator_queue_free(&q);
}
END_TEST

START_TEST(test_validator_queue_cache_is_bounded_and_ages)
{
    struct validator_queue q;
    validator_queue_init(&q);
    struct validator_queue_actions a;
    char id[32], sum[32];
    for (int i = 0; i <= VALIDATOR_QUEUE_CACHE_MAX; i++) {
        snprintf(id, sizeof(id), "r%d", i);
        snprintf(sum, sizeof(sum), "sha256:%d", i);
        validator_queue_submit(&q, req(id, sum), i, &a);
        ck_assert_ptr_nonnull(a.run);
        validator_queue_actions_free(&a);
        validator_queue_done(&q, &valid, i, &a);
        validator_queue_actions_free(&a);
    }
    /* the oldest (sha256:0) was pushed out; sha256:1 is still there */
    validator_queue_submit(&q, req("x", "sha256:0"), 100, &a);
    ck_assert_ptr_nonnull(a.run);
    validator_queue_actions_free(&a);
    validator_queue_done(&q, &valid, 100, &a);
    validator_queue_actions_free(&a);
    validator_queue_submit(&q, req("y", "sha256:2"), 200, &a);
    ck_assert_ptr_nonnull(a.from_cache);
    validator_queue_actions_free(&a);
    /* past the TTL it is checked again */
    validator_queue_submit(&q, req("z", "sha256:2"), 2 + VALIDATOR_QUEUE_CACHE_TTL_MS + 1, &a);
    ck_assert_ptr_null(a.from_cache);
    ck_assert_ptr_nonnull(a.run);
    validator_queue_actions_free(&a);
    validator_queue_free(&q);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("validator_queue");
    TCase *tc = tcase_create("queue");
    tcase_add_test(tc, test_validator_queue_runs_one_at_a_time_and_keeps_only_the_newest_waiting);
    tcase_add_test(tc, test_validator_queue_same_checksum_as_running_is_answered_from_its_result);
    tcase_add_test(tc, test_validator_queue_just_validated_checksum_needs_no_check_and_still_supersedes);
    tcase_add_test(tc, test_validator_queue_timeouts_are_not_cached);
    tcase_add_test(tc, test_validator_queue_cache_is_bounded_and_ages);
    suite_add_tcase(s, tc);
    return s;
}
