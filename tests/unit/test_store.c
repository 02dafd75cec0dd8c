/* The indexed store: upserts and deletes with their events, identical content reported as no change,
 * Fetch and GetSingle over full and partial index keys, refusal of objects missing an index key (naming the
 * object and the path), the projection, and determinism: shuffled event orders give the same List() and
 * the same bytes. */
#include <stdio.h>
#include <stdlib.h>

#include "common/store/packed_path.h"
#include "common/store/store.h"
#include "tests/unit/unit.h"

static void slice_json(char *out, size_t n, int i, const char *rv, const char *ip)
{
    snprintf(out, n,
             "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"svc-%d-%c\","
             "\"namespace\":\"ns-%d\",\"resourceVersion\":\"%s\",\"labels\":{\"kubernetes.io/service-name\":\"svc-%d\"},"
             "\"managedFields\":[{\"manager\":\"x\"}]},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"%s\"],"
             "\"conditions\":{\"ready\":true}}],\"ports\":[{\"port\":%d}]}",
             i / 2, 'a' + i % 2, i % 3, rv, i / 2, ip, 8000 + i % 5);
}

static struct store *slices_store(struct packed_keys *k, struct packed_proj **proj)
{
    const char *idx[] = {"metadata.namespace", "metadata.labels['kubernetes.io/service-name']"};
    struct err e = {0};
    ck_assert_int_eq(packed_proj_new(NULL, 0, 1, proj, &e), 0);
    struct store *s;
    ck_assert_msg(store_new(k, "endpoints", idx, 2, *proj, &s, &e) == 0, "%s", e.msg);
    return s;
}

static void upsert_text(struct store *s, const char *t, struct store_event *ev)
{
    struct err e = {0};
    ck_assert_msg(store_upsert_text(s, t, strlen(t), ev, &e) == 0, "%s", e.msg);
}

static const char *name_of(const struct packed *p)
{
    struct packed_val m, v;
    ck_assert(packed_get(packed_root(p), "metadata", 8, &m) && packed_get(m, "name", 4, &v));
    return packed_str(v, NULL);
}

START_TEST(test_store_events_report_added_updated_unchanged_deleted)
{
    struct packed_keys *k = packed_keys_new();
    struct packed_proj *proj;
    struct store *s = slices_store(k, &proj);
    char t[1024];
    struct store_event ev;
    slice_json(t, sizeof(t), 4, "100", "10.0.0.1");
    upsert_text(s, t, &ev);
    ck_assert_int_eq(ev.change, STORE_ADDED);
    ck_assert_str_eq(ev.namespace_, "ns-1");
    ck_assert_str_eq(ev.name, "svc-2-a");
    ck_assert_str_eq(ev.resource_version, "100");
    uint64_t h = ev.hash;
    ck_assert_uint_ne(h, 0);
    /* a new resourceVersion with the same content (managedFields differ but are projected away) */
    slice_json(t, sizeof(t), 4, "101", "10.0.0.1");
    char *mf = strstr(t, "\"manager\":\"x\"");
    mf[11] = 'y';
    upsert_text(s, t, &ev);
    ck_assert_int_eq(ev.change, STORE_UNCHANGED);
    ck_assert_str_eq(ev.resource_version, "101");
    ck_assert_uint_eq(ev.hash, h);
    ck_assert_uint_eq(store_count(s), 1);
    slice_json(t, sizeof(t), 4, "102", "10.0.0.2");
    upsert_text(s, t, &ev);
    ck_assert_int_eq(ev.change, STORE_UPDATED);
    ck_assert_uint_ne(ev.hash, h);
    struct err e = {0};
    ck_assert_int_eq(store_delete(s, "ns-1", "svc-2-a", &ev, &e), 0);
    ck_assert_int_eq(ev.change, STORE_DELETED);
    ck_assert_str_eq(ev.resource_version, "102");
    ck_assert_uint_eq(store_count(s), 0);
    ck_assert_int_eq(store_delete(s, "ns-1", "svc-2-a", &ev, &e), 0);
    ck_assert_int_eq(ev.change, STORE_UNCHANGED);
    /* the json-c path, and a delete by object */
    json_object *j = json_tokener_parse(t);
    ck_assert_int_eq(store_upsert_json(s, j, &ev, &e), 0);
    ck_assert_int_eq(ev.change, STORE_ADDED);
    ck_assert_ptr_nonnull(store_get(s, "ns-1", "svc-2-a"));
    ck_assert_int_eq(store_delete_json(s, j, &ev, &e), 0);
    ck_assert_int_eq(ev.change, STORE_DELETED);
    json_object_put(j);
    ck_assert_uint_eq(store_count(s), 0);
    store_free(s);
    packed_proj_free(proj);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_store_fetch_and_get_single_match_leading_keys)
{
    struct packed_keys *k = packed_keys_new();
    struct packed_proj *proj;
    struct store *s = slices_store(k, &proj);
    char t[1024];
    for (int i = 0; i < 30; i++) {
        slice_json(t, sizeof(t), i, "1", "10.0.0.1");
        upsert_text(s, t, NULL);
    }
    size_t first, count;
    struct err e = {0};
    const char *q1[] = {"ns-0"};
    ck_assert_int_eq(store_fetch(s, q1, 1, &first, &count, &e), 0);
    ck_assert_uint_eq(count, 10);
    const char *prev = "";
    for (size_t i = first; i < first + count; i++) {   /* ordered by service name, then name */
        struct packed_val m, v;
        packed_get(packed_root(store_at(s, i)), "metadata", 8, &m);
        packed_get(m, "namespace", 9, &v);
        ck_assert_str_eq(packed_str(v, NULL), "ns-0");
        ck_assert_int_gt(strcmp(name_of(store_at(s, i)), prev), 0);
        prev = name_of(store_at(s, i));
    }
    /* svc-3: slices i=6 (ns-0) and i=7 (ns-1) */
    const char *q2[] = {"ns-0", "svc-3"};
    ck_assert_int_eq(store_fetch(s, q2, 2, &first, &count, &e), 0);
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(name_of(store_at(s, first)), "svc-3-a");
    const struct packed *one;
    ck_assert_int_eq(store_get_single(s, q2, 2, &one, &e), 0);
    ck_assert_str_eq(name_of(one), "svc-3-a");
    const char *q3[] = {"ns-0", "svc-nope"};
    ck_assert_int_eq(store_get_single(s, q3, 2, &one, &e), 0);
    ck_assert_ptr_null(one);
    ck_assert_int_eq(store_fetch(s, q3, 2, &first, &count, &e), 0);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(store_get_single(s, q1, 1, &one, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "matched 10 objects"));
    const char *q4[] = {"a", "b", "c"};
    ck_assert_int_eq(store_fetch(s, q4, 3, &first, &count, &e), -1);
    ck_assert_int_eq(store_fetch(s, q4, 0, &first, &count, &e), -1);
    /* List() covers everything in order: namespace, service, name */
    ck_assert_uint_eq(store_count(s), 30);
    ck_assert_str_eq(name_of(store_at(s, 0)), "svc-0-a");
    ck_assert_ptr_null(store_at(s, 30));
    ck_assert_uint_gt(store_bytes(s), 30 * 200);
    store_free(s);
    packed_proj_free(proj);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_store_refuses_an_object_missing_an_index_key)
{
    struct packed_keys *k = packed_keys_new();
    struct packed_proj *proj;
    struct store *s = slices_store(k, &proj);
    struct err e = {0};
    const char *t = "{\"metadata\":{\"name\":\"lonely\",\"namespace\":\"ns-9\",\"resourceVersion\":\"5\"}}";
    ck_assert_int_eq(store_upsert_text(s, t, strlen(t), NULL, &e), -1);
    ck_assert_msg(strstr(e.msg, "ns-9/lonely") && strstr(e.msg, "metadata.labels['kubernetes.io/service-name']") &&
                      strstr(e.msg, "missing"),
                  "%s", e.msg);
    ck_assert_uint_eq(store_count(s), 0);
    t = "{\"metadata\":{\"namespace\":\"ns-9\"}}";
    ck_assert_int_eq(store_upsert_text(s, t, strlen(t), NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "metadata.name"));
    t = "{\"metadata\":{\"name\":\"x\",\"labels\":{\"kubernetes.io/service-name\":[1]}}}";
    ck_assert_int_eq(store_upsert_text(s, t, strlen(t), NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "not a string"));
    /* a cluster-scoped object has namespace "", and an integer key is indexed as its decimal text */
    const char *idx[] = {"metadata.namespace", "spec.port"};
    struct store *s2;
    ck_assert_int_eq(store_new(k, "classes", idx, 2, NULL, &s2, &e), 0);
    t = "{\"metadata\":{\"name\":\"c1\"},\"spec\":{\"port\":8080}}";
    ck_assert_int_eq(store_upsert_text(s2, t, strlen(t), NULL, &e), 0);
    const char *q[] = {"", "8080"};
    const struct packed *one;
    ck_assert_int_eq(store_get_single(s2, q, 2, &one, &e), 0);
    ck_assert_ptr_nonnull(one);
    ck_assert_ptr_eq(store_get(s2, NULL, "c1"), one);
    const char *bad[] = {"spec.rules[x]"};
    ck_assert_int_eq(store_new(k, "bad", bad, 1, NULL, &s2 /* unchanged on failure */, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "index_by[0]"));
    store_free(s2);
    store_free(s);
    packed_proj_free(proj);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    packed_keys_free(k);
}
END_TEST

static unsigned rng;   /* rand_r state of the replay */
static uint32_t rnd(uint32_t n) { return (uint32_t)rand_r(&rng) % n; }

/* Applies a history to a fresh store: every object gets versions 0..2, some deleted and re-added; the final
 * state is version 2 of every object whose index is not a multiple of 7. The order of objects is shuffled;
 * each object's own events stay in order (as an informer delivers them). */
static struct store *replay(struct packed_keys *k, const struct packed_proj *proj, int nobj, unsigned seed)
{
    const char *idx[] = {"metadata.namespace", "metadata.labels['kubernetes.io/service-name']"};
    struct store *s;
    struct err e = {0};
    ck_assert_int_eq(store_new(k, "endpoints", idx, 2, proj, &s, &e), 0);
    int *next = calloc((size_t)nobj, sizeof(int));
    int remaining = nobj;
    rng = seed;
    char t[1024], rv[16], ip[32];
    while (remaining) {
        int i = (int)rnd((uint32_t)nobj);
        if (next[i] > 4) continue;
        int step = next[i]++;
        if (step == 4) remaining--;
        int version = step < 2 ? step : step == 2 ? -1 : 2;   /* v0, v1, delete, v2, (v2 again or delete) */
        if (step == 4 && i % 7 != 0) continue;
        if (step == 4) version = -1;
        if (version < 0) {
            char ns[16], name[32];
            snprintf(ns, sizeof(ns), "ns-%d", i % 3);
            snprintf(name, sizeof(name), "svc-%d-%c", i / 2, 'a' + i % 2);
            ck_assert_int_eq(store_delete(s, ns, name, NULL, &e), 0);
            continue;
        }
        snprintf(rv, sizeof(rv), "%d", i * 10 + version);
        snprintf(ip, sizeof(ip), "10.%d.0.%d", version, i % 250);
        slice_json(t, sizeof(t), i, rv, ip);
        if (rnd(2)) {
            upsert_text(s, t, NULL);
        } else {
            json_object *j = json_tokener_parse(t);
            ck_assert_int_eq(store_upsert_json(s, j, NULL, &e), 0);
            json_object_put(j);
        }
    }
    free(next);
    return s;
}

static char *list_json(struct store *s)
{
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < store_count(s); i++) {
        packed_to_json(packed_root(store_at(s, i)), &b);
        buf_putc(&b, '\n');
    }
    return buf_steal(&b);
}

START_TEST(test_store_shuffled_event_orders_give_the_same_list_and_bytes)
{
    struct packed_keys *k = packed_keys_new();
    struct packed_proj *proj;
    struct err e = {0};
    ck_assert_int_eq(packed_proj_new(NULL, 0, 1, &proj, &e), 0);
    enum { N = 150 };
    struct store *ref = replay(k, proj, N, 1);
    ck_assert_uint_eq(store_count(ref), N - (N + 6) / 7);
    char *want = list_json(ref);
    for (unsigned seed = 2; seed < 8; seed++) {
        struct store *s = replay(k, proj, N, seed * 7777);
        char *got = list_json(s);
        ck_assert_str_eq(got, want);
        ck_assert_uint_eq(store_count(s), store_count(ref));
        for (size_t i = 0; i < store_count(s); i++) {
            const struct packed *a = store_at(s, i), *b = store_at(ref, i);
            ck_assert_uint_eq(packed_size(a), packed_size(b));
            ck_assert(memcmp(packed_bytes(a), packed_bytes(b), packed_size(a)) == 0);
            ck_assert_uint_eq(packed_hash(a), packed_hash(b));
        }
        free(got);
        store_free(s);
    }
    free(want);
    store_free(ref);
    packed_proj_free(proj);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_store_ignore_fields_make_a_status_change_no_change)
{
    struct packed_keys *k = packed_keys_new();
    const char *ignore[] = {"status", "metadata.annotations['example.com/noise']"};
    struct packed_proj *proj;
    struct err e = {0};
    ck_assert_int_eq(packed_proj_new(ignore, 2, 1, &proj, &e), 0);
    const char *idx[] = {"metadata.namespace", "metadata.name"};
    struct store *s;
    ck_assert_int_eq(store_new(k, "ingresses", idx, 2, proj, &s, &e), 0);
    struct store_event ev;
    const char *a = "{\"metadata\":{\"name\":\"i\",\"namespace\":\"n\",\"resourceVersion\":\"1\",\"annotations\":"
                    "{\"example.com/noise\":\"1\"}},\"spec\":{\"x\":1},\"status\":{\"lb\":[]}}";
    const char *b = "{\"metadata\":{\"name\":\"i\",\"namespace\":\"n\",\"resourceVersion\":\"2\",\"annotations\":"
                    "{\"example.com/noise\":\"2\"}},\"spec\":{\"x\":1},\"status\":{\"lb\":[{\"ip\":\"1.2.3.4\"}]}}";
    const char *c = "{\"metadata\":{\"name\":\"i\",\"namespace\":\"n\",\"resourceVersion\":\"3\"},\"spec\":{\"x\":2}}";
    upsert_text(s, a, &ev);
    ck_assert_int_eq(ev.change, STORE_ADDED);
    upsert_text(s, b, &ev);
    ck_assert_int_eq(ev.change, STORE_UNCHANGED);
    upsert_text(s, c, &ev);
    ck_assert_int_eq(ev.change, STORE_UPDATED);
    store_free(s);
    packed_proj_free(proj);
    packed_keys_free(k);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_events_report_added_updated_unchanged_deleted);
    tcase_add_test(tc, test_store_fetch_and_get_single_match_leading_keys);
    tcase_add_test(tc, test_store_refuses_an_object_missing_an_index_key);
    tcase_add_test(tc, test_store_shuffled_event_orders_give_the_same_list_and_bytes);
    tcase_add_test(tc, test_store_ignore_fields_make_a_status_change_no_change);
    suite_add_tcase(s, tc);
    return s;
}
