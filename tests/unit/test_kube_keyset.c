/* The keys-only informer's index: insert, replace (same and different resourceVersion length), delete with
 * backward shifts, and sweep, checked against a plain array over thousands of random operations, with
 * small key spaces so that probe runs collide, wrap the table's end and shrink under deletion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kube/kube_keyset.h"
#include "tests/unit/unit.h"

#define KEYS 300

struct ref {
    int present;
    char rv[16];
    uint64_t hash;
    uint32_t epoch;
};

static int gone_count;
static struct ref *gone_ref;

static void on_gone(void *data, const char *key)
{
    (void)data;
    int i = atoi(key + 1);
    ck_assert(gone_ref[i].present);
    gone_ref[i].present = 0;
    gone_count++;
}

static void check_all(struct kube_keyset *ks, struct ref *ref)
{
    size_t n = 0;
    char key[16];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        const struct kube_keyset_entry *e = kube_keyset_get(ks, key);
        if (!ref[i].present) {
            ck_assert_ptr_null(e);
            continue;
        }
        n++;
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(e->key, key);
        ck_assert_str_eq(e->rv, ref[i].rv);
        ck_assert_uint_eq(e->hash, ref[i].hash);
        ck_assert_uint_eq(e->epoch, ref[i].epoch);
    }
    ck_assert_uint_eq(kube_keyset_count(ks), n);
}

START_TEST(test_kube_keyset_matches_a_reference_under_random_operations)
{
    struct kube_keyset *ks = kube_keyset_new();
    ck_assert_ptr_nonnull(ks);
    struct ref ref[KEYS] = {0};
    unsigned seed = 12345;
    char key[16];
    uint32_t epoch = 1;
    for (int step = 0; step < 20000; step++) {
        int i = rand_r(&seed) % KEYS, op = rand_r(&seed) % 10;
        snprintf(key, sizeof(key), "k%d", i);
        if (op < 6) {
            struct ref *r = &ref[i];
            /* resourceVersions of varying length exercise in-place and reallocating replaces */
            snprintf(r->rv, sizeof(r->rv), "%d", rand_r(&seed) % (1 + rand_r(&seed) % 100000));
            r->hash = (uint64_t)rand_r(&seed) << 20 | (uint64_t)step;
            r->epoch = epoch;
            r->present = 1;
            ck_assert_int_eq(kube_keyset_put(ks, key, r->rv, r->hash, epoch), 0);
        } else if (op < 9) {
            ck_assert_int_eq(kube_keyset_del(ks, key), ref[i].present);
            ref[i].present = 0;
        } else if (rand_r(&seed) % 50 == 0) {
            /* a relist: a new epoch stamps some keys, the sweep removes the others */
            epoch++;
            for (int j = 0; j < KEYS; j++) {
                if (!ref[j].present || rand_r(&seed) % 3 == 0) continue;
                snprintf(key, sizeof(key), "k%d", j);
                ref[j].epoch = epoch;
                ck_assert_int_eq(kube_keyset_put(ks, key, ref[j].rv, ref[j].hash, epoch), 0);
            }
            int expect = 0;
            for (int j = 0; j < KEYS; j++) expect += ref[j].present && ref[j].epoch != epoch;
            gone_count = 0;
            gone_ref = ref;
            ck_assert_int_eq(kube_keyset_sweep(ks, epoch, on_gone, NULL), 0);
            ck_assert_int_eq(gone_count, expect);
        }
        if (step % 500 == 0) check_all(ks, ref);
    }
    check_all(ks, ref);
    ck_assert_uint_gt(kube_keyset_bytes(ks), 0);
    kube_keyset_free(ks);
    kube_keyset_free(NULL);
}
END_TEST

START_TEST(test_kube_keyset_costs_about_fifty_bytes_an_object)
{
    struct kube_keyset *ks = kube_keyset_new();
    char key[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "namespace-%d/ingress-%d", i % 50, i);
        ck_assert_int_eq(kube_keyset_put(ks, key, "123456789", (uint64_t)i, 1), 0);
    }
    /* keys of ~25 bytes: entry header, key, rv and a share of the table; far below a json-c object */
    size_t per = kube_keyset_bytes(ks) / 10000;
    ck_assert_uint_lt(per, 96);
    kube_keyset_free(ks);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("kube_keyset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_kube_keyset_matches_a_reference_under_random_operations);
    tcase_add_test(tc, test_kube_keyset_costs_about_fifty_bytes_an_object);
    suite_add_tcase(s, tc);
    return s;
}
