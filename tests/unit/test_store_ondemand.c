/* common/store/ondemand.c: what a reference keeps of an object, and the cache of fetched objects (exact
 * resourceVersion only, eviction on change, the byte bound that spares the newest render's working set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/store/ondemand.h"
#include "tests/unit/unit.h"

static struct packed_keys *k;

static void setup(void) { k = packed_keys_new(); }
static void teardown(void) { packed_keys_free(k); }

static struct packed *pack(const char *json)
{
    struct packed *p = NULL;
    struct err e;
    ck_assert_int_eq(packed_from_text(k, json, strlen(json), NULL, &p, &e), 0);
    return p;
}

#define SECRET(rv, data) "{\"metadata\":{\"name\":\"tls\",\"namespace\":\"shop\",\"resourceVersion\":\"" rv "\"," \
    "\"uid\":\"u1\",\"labels\":{\"app\":\"web\"},\"annotations\":{\"a\":\"b\"}},\"type\":\"kubernetes.io/tls\"," \
    "\"data\":{\"tls.crt\":\"" data "\"}}"

START_TEST(test_ondemand_reference_keeps_identity_index_keys_and_the_content_hash)
{
    struct packed *full = pack(SECRET("7", "AAAA")), *other = pack(SECRET("8", "BBBB"));
    struct packed_path *paths[2];
    struct err e;
    ck_assert_int_eq(packed_path_compile(k, "metadata.labels['app']", &paths[0], &e), 0);
    ck_assert_int_eq(packed_path_compile(k, "type", &paths[1], &e), 0);
    struct buf j;
    buf_init(&j);
    ck_assert_int_eq(ondemand_ref_json(full, (const struct packed_path *const *)paths, 2, &j), 0);
    char want[512];
    snprintf(want, sizeof(want), "{\"metadata\":{\"name\":\"tls\",\"namespace\":\"shop\",\"resourceVersion\":\"7\","
             "\"labels\":{\"app\":\"web\"}},\"type\":\"kubernetes.io/tls\",\"" ONDEMAND_HASH_KEY "\":\"%016llx\"}",
             (unsigned long long)packed_hash(full));
    ck_assert_str_eq(buf_cstr(&j), want);   /* no data, no uid, no annotations */
    struct packed *ref = pack(buf_cstr(&j));
    ck_assert(ondemand_is_ref(ref));
    ck_assert(!ondemand_is_ref(full));
    char key[128];
    const char *rv;
    ck_assert_int_eq(ondemand_ident(ref, key, sizeof(key), &rv), 0);
    ck_assert_str_eq(key, "shop/tls");
    ck_assert_str_eq(rv, "7");
    /* a change the reference does not show (data) still changes it */
    struct buf j2;
    buf_init(&j2);
    ck_assert_int_eq(ondemand_ref_json(other, (const struct packed_path *const *)paths, 2, &j2), 0);
    struct packed *ref2 = pack(buf_cstr(&j2));
    ck_assert_uint_ne(packed_hash(ref), packed_hash(ref2));
    buf_free(&j);
    buf_free(&j2);
    packed_free(ref);
    packed_free(ref2);
    packed_free(full);
    packed_free(other);
    packed_path_free(paths[0]);
    packed_path_free(paths[1]);
}
END_TEST

START_TEST(test_ondemand_cache_serves_exact_versions_and_evicts_on_change)
{
    struct ondemand_cache *c = ondemand_cache_new(1 << 20);
    ck_assert_int_eq(ondemand_cache_put(c, "secrets/shop/tls", "7", pack(SECRET("7", "AAAA"))), 0);
    ck_assert_ptr_nonnull(ondemand_cache_get(c, "secrets/shop/tls", "7"));
    ck_assert_ptr_null(ondemand_cache_get(c, "secrets/shop/tls", "8"));   /* never another version */
    ondemand_cache_evict(c, "secrets/shop/tls", "7");                      /* a change to the cached version */
    ck_assert_ptr_nonnull(ondemand_cache_get(c, "secrets/shop/tls", "7"));
    ondemand_cache_evict(c, "secrets/shop/tls", "8");                      /* a change to another one */
    ck_assert_ptr_null(ondemand_cache_get(c, "secrets/shop/tls", "7"));
    ck_assert_int_eq((int)ondemand_cache_count(c), 0);
    ck_assert_int_eq((int)ondemand_cache_bytes(c), 0);
    ck_assert_int_eq(ondemand_cache_put_error(c, "secrets/shop/tls", "8", "boom"), 0);
    ck_assert_str_eq(ondemand_cache_error(c, "secrets/shop/tls", "8"), "boom");
    ck_assert_ptr_null(ondemand_cache_error(c, "secrets/shop/tls", "9"));
    ondemand_cache_clear_errors(c);
    ck_assert_ptr_null(ondemand_cache_error(c, "secrets/shop/tls", "8"));
    ondemand_cache_free(c);
}
END_TEST

START_TEST(test_ondemand_cache_bound_spares_the_newest_renders_reads)
{
    struct packed *probe = pack(SECRET("1", "AAAA"));
    size_t one = packed_size(probe);
    packed_free(probe);
    struct ondemand_cache *c = ondemand_cache_new(3 * one);   /* room for three */
    char key[32];
    for (int i = 0; i < 6; i++) {   /* read by one render: all kept, over the bound */
        snprintf(key, sizeof(key), "s/shop/o%d", i);
        ck_assert_int_eq(ondemand_cache_put(c, key, "1", pack(SECRET("1", "AAAA"))), 0);
    }
    ck_assert_int_eq((int)ondemand_cache_count(c), 6);
    ondemand_cache_begin(c);   /* the next render reads o4 and o5 only */
    ck_assert_ptr_nonnull(ondemand_cache_get(c, "s/shop/o4", "1"));
    ck_assert_ptr_nonnull(ondemand_cache_get(c, "s/shop/o5", "1"));
    ondemand_cache_begin(c);   /* and the one after reads o5 and a new one */
    ck_assert_ptr_nonnull(ondemand_cache_get(c, "s/shop/o5", "1"));
    ck_assert_int_eq(ondemand_cache_put(c, "s/shop/o6", "1", pack(SECRET("1", "AAAA"))), 0);
    /* o0..o3 (unread for two renders) went first; o4 (read by the previous render) and o5, o6 stay */
    ck_assert_int_eq((int)ondemand_cache_count(c), 3);
    ck_assert_ptr_nonnull(ondemand_cache_get(c, "s/shop/o4", "1"));
    ck_assert_ptr_null(ondemand_cache_get(c, "s/shop/o0", "1"));
    ck_assert_uint_le(ondemand_cache_bytes(c), 3 * one);
    ondemand_cache_free(c);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("store_ondemand");
    TCase *tc = tcase_create("store_ondemand");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ondemand_reference_keeps_identity_index_keys_and_the_content_hash);
    tcase_add_test(tc, test_ondemand_cache_serves_exact_versions_and_evicts_on_change);
    tcase_add_test(tc, test_ondemand_cache_bound_spares_the_newest_renders_reads);
    suite_add_tcase(s, tc);
    return s;
}
