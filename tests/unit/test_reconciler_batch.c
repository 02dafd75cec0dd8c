/* The reconciler's batcher on a fake clock: leading edge, coalescing per key (latest wins), add+delete
 * cancelling, unchanged content not queued, a change back to what the renderer holds cancelling, the
 * maximum latency under a steady stream, key order, and a refused item retried on its next change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "workers/reconciler/batch.h"

static char log_buf[4096];
static int refuse_next;

static int emit(void *data, const struct batch_item *it)
{
    (void)data;
    char one[512];
    snprintf(one, sizeof(one), "%s%s@%s%s%s;", it->op == BATCH_UPSERT ? "+" : "-", it->key, it->rv,
             it->json ? "=" : "", it->json ? it->json : "");
    strncat(log_buf, one, sizeof(log_buf) - strlen(log_buf) - 1);
    free(it->json);
    if (refuse_next) {
        refuse_next = 0;
        return -1;
    }
    return 0;
}

static const char *take(struct batch *b)
{
    log_buf[0] = '\0';
    batch_take(b, emit, NULL);
    return log_buf;
}

static int up(struct batch *b, const char *key, const char *rv, uint64_t h, const char *json, int64_t now)
{
    return batch_upsert(b, key, rv, h, json, strlen(json), now);
}

START_TEST(test_batch_first_change_after_quiet_is_due_at_once)
{
    struct batch b;
    batch_init(&b);
    ck_assert_int_eq(batch_due_ms(&b), -1);
    ck_assert_int_eq(up(&b, "ns/a", "1", 11, "{A1}", 1000), 1);
    ck_assert_int_eq(batch_due_ms(&b), 1000);
    ck_assert_str_eq(take(&b), "+ns/a@1={A1};");
    ck_assert_int_eq(batch_due_ms(&b), -1);
    /* within the quiet time: the window waits BATCH_QUIET_MS after the last change */
    up(&b, "ns/a", "2", 12, "{A2}", 1050);
    ck_assert_int_eq(batch_due_ms(&b), 1050 + BATCH_QUIET_MS);
    up(&b, "ns/b", "3", 21, "{B}", 1080);
    ck_assert_int_eq(batch_due_ms(&b), 1080 + BATCH_QUIET_MS);
    ck_assert_str_eq(take(&b), "+ns/a@2={A2};+ns/b@3={B};");
    /* quiet again for long enough: the next change leads */
    up(&b, "ns/a", "4", 13, "{A3}", 1180 + BATCH_QUIET_MS);
    ck_assert_int_eq(batch_due_ms(&b), 1180 + BATCH_QUIET_MS);
    batch_free(&b);
}
END_TEST

START_TEST(test_batch_oldest_is_the_first_waiting_change)
{
    struct batch b;
    batch_init(&b);
    ck_assert_int_eq(batch_oldest_ms(&b), -1);
    up(&b, "ns/a", "1", 1, "{1}", 1000);
    up(&b, "ns/b", "2", 2, "{2}", 1040);
    up(&b, "ns/a", "3", 3, "{3}", 1070); /* a later change of the same key keeps the batch's start */
    ck_assert_int_eq(batch_oldest_ms(&b), 1000);
    take(&b);
    ck_assert_int_eq(batch_oldest_ms(&b), -1);
    /* a change cancelled back to what the renderer holds waits for nothing; the next one starts anew */
    up(&b, "ns/a", "4", 4, "{4}", 2000);
    up(&b, "ns/a", "5", 3, "{3}", 2010);
    ck_assert_int_eq(batch_oldest_ms(&b), -1);
    up(&b, "ns/b", "6", 6, "{6}", 2020);
    ck_assert_int_eq(batch_oldest_ms(&b), 2020);
    batch_free(&b);
}
END_TEST

START_TEST(test_batch_coalesces_per_key_latest_wins)
{
    struct batch b;
    batch_init(&b);
    up(&b, "ns/a", "1", 1, "{1}", 0);
    take(&b);
    up(&b, "ns/a", "2", 2, "{2}", 10);
    up(&b, "ns/a", "3", 3, "{3}", 20);
    up(&b, "ns/a", "4", 4, "{4}", 30);
    ck_assert_uint_eq(batch_queued(&b), 1);
    ck_assert_str_eq(take(&b), "+ns/a@4={4};");
    batch_free(&b);
}
END_TEST

START_TEST(test_batch_add_then_delete_in_a_window_cancels)
{
    struct batch b;
    batch_init(&b);
    up(&b, "ns/x", "1", 1, "{x}", 0);
    take(&b);
    up(&b, "ns/a", "2", 5, "{a}", 10);
    ck_assert_int_eq(batch_delete(&b, "ns/a", "3", 20), 1);
    ck_assert_uint_eq(batch_queued(&b), 0);
    ck_assert_int_eq(batch_due_ms(&b), -1);
    ck_assert_str_eq(take(&b), "");
    ck_assert_uint_eq(batch_live(&b), 1);
    /* a key never seen: deleting it is nothing */
    ck_assert_int_eq(batch_delete(&b, "ns/zz", "4", 30), 0);
    /* update then delete of a key the renderer holds is a delete */
    up(&b, "ns/x", "5", 2, "{x2}", 40);
    batch_delete(&b, "ns/x", "6", 50);
    ck_assert_str_eq(take(&b), "-ns/x@6;");
    ck_assert_uint_eq(batch_live(&b), 0);
    batch_free(&b);
}
END_TEST

START_TEST(test_batch_unchanged_content_is_not_forwarded)
{
    struct batch b;
    batch_init(&b);
    up(&b, "ns/a", "1", 7, "{a}", 0);
    take(&b);
    ck_assert_int_eq(up(&b, "ns/a", "2", 7, "{a}", 500), 0);
    ck_assert_int_eq(batch_due_ms(&b), -1);
    /* a change and its revert inside one window: the renderer holds the reverted content already */
    ck_assert_int_eq(up(&b, "ns/a", "3", 8, "{a'}", 600), 1);
    ck_assert_int_eq(up(&b, "ns/a", "4", 7, "{a}", 610), 1);
    ck_assert_uint_eq(batch_queued(&b), 0);
    ck_assert_str_eq(take(&b), "");
    /* delete and re-create with the same content inside a window */
    batch_delete(&b, "ns/a", "5", 700);
    up(&b, "ns/a", "6", 7, "{a}", 710);
    ck_assert_str_eq(take(&b), "");
    batch_free(&b);
}
END_TEST

START_TEST(test_batch_steady_stream_goes_out_at_max_latency)
{
    struct batch b;
    batch_init(&b);
    up(&b, "ns/a", "0", 1, "{}", 0);
    take(&b); /* the leading edge */
    int64_t now = 10;
    uint64_t h = 100;
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)h);
    up(&b, "ns/a", rv, h++, "{}", now);
    int64_t first = now, flushed_at = -1;
    for (; now < 5000; now += 10) { /* a change every 10 ms, never BATCH_QUIET_MS of quiet */
        if (batch_due_ms(&b) <= now) {
            flushed_at = now;
            break;
        }
        snprintf(rv, sizeof(rv), "%llu", (unsigned long long)h);
        up(&b, "ns/a", rv, h++, "{}", now);
    }
    ck_assert_int_eq(flushed_at, first + BATCH_MAX_LATENCY_MS);
    ck_assert_uint_eq(batch_take(&b, emit, NULL), 1);
    batch_free(&b);
}
END_TEST

START_TEST(test_batch_takes_in_key_order_whatever_the_event_order)
{
    const char *keys[] = {"ns/c", "a/z", "ns/a", "ns/b"};
    for (int round = 0; round < 4; round++) {
        struct batch b;
        batch_init(&b);
        for (int i = 0; i < 4; i++) up(&b, keys[(i + round) % 4], "1", 1, "{}", i);
        ck_assert_str_eq(take(&b), "+a/z@1={};+ns/a@1={};+ns/b@1={};+ns/c@1={};");
        batch_free(&b);
    }
}
END_TEST

START_TEST(test_batch_refused_item_is_retried_on_its_next_change)
{
    struct batch b;
    batch_init(&b);
    refuse_next = 1;
    up(&b, "ns/big", "1", 5, "{big}", 0);
    take(&b);
    /* the same content again after a refusal is sent: the renderer does not hold it */
    ck_assert_int_eq(up(&b, "ns/big", "2", 5, "{big}", 1000), 1);
    ck_assert_str_eq(take(&b), "+ns/big@2={big};");
    /* a refused, never delivered key that is deleted needs no delete */
    refuse_next = 1;
    up(&b, "ns/other", "3", 9, "{o}", 2000);
    take(&b);
    batch_delete(&b, "ns/other", "4", 3000);
    ck_assert_str_eq(take(&b), "");
    batch_free(&b);
}
END_TEST

START_TEST(test_batch_many_keys_grow_and_reset)
{
    struct batch b;
    batch_init(&b);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "ns/k%05d", i);
        ck_assert_int_eq(up(&b, key, "1", (uint64_t)i + 1, "{}", 0), 1);
    }
    ck_assert_uint_eq(batch_live(&b), 5000);
    ck_assert_uint_eq(batch_take(&b, emit, NULL), 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof(key), "ns/k%05d", i);
        batch_delete(&b, key, "2", 10);
    }
    ck_assert_uint_eq(batch_take(&b, emit, NULL), 2500);
    ck_assert_uint_eq(batch_live(&b), 2500);
    batch_reset(&b);
    ck_assert_uint_eq(batch_live(&b), 0);
    ck_assert_int_eq(up(&b, "ns/k00001", "1", 2, "{}", 20), 1); /* forgotten: sent again */
    batch_free(&b);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("reconciler_batch");
    TCase *tc = tcase_create("batch");
    tcase_add_test(tc, test_batch_first_change_after_quiet_is_due_at_once);
    tcase_add_test(tc, test_batch_coalesces_per_key_latest_wins);
    tcase_add_test(tc, test_batch_add_then_delete_in_a_window_cancels);
    tcase_add_test(tc, test_batch_unchanged_content_is_not_forwarded);
    tcase_add_test(tc, test_batch_steady_stream_goes_out_at_max_latency);
    tcase_add_test(tc, test_batch_takes_in_key_order_whatever_the_event_order);
    tcase_add_test(tc, test_batch_refused_item_is_retried_on_its_next_change);
    tcase_add_test(tc, test_batch_many_keys_grow_and_reset);
    tcase_add_test(tc, test_batch_oldest_is_the_first_waiting_change);
    suite_add_tcase(s, tc);
    return s;
}
