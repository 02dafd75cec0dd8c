/* Lease JSON: reading what the API returns (absent and null fields, bounds, bad types) and writing what
 * client-go writes (whole spec replaced, metadata kept, MicroTime with six digits). */
#include "tests/unit/unit.h"
#include <stdlib.h>
#include <string.h>

#include "elector/lease.h"
#include "elector/lease_json.h"

static struct json_object *parse(const char *s)
{
    struct json_object *o = json_tokener_parse(s);
    ck_assert_ptr_nonnull(o);
    return o;
}

START_TEST(test_lease_json_reads_full_object)
{
    struct json_object *o = parse(
        "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":\"l\","
        "\"namespace\":\"ns\",\"uid\":\"u-1\",\"resourceVersion\":\"48213\",\"labels\":{\"a\":\"b\"}},"
        "\"spec\":{\"holderIdentity\":\"node-a\",\"leaseDurationSeconds\":15,"
        "\"acquireTime\":\"2025-03-01T10:00:00.123456Z\",\"renewTime\":\"2025-03-01T10:05:12.654321Z\","
        "\"leaseTransitions\":3,\"strategy\":\"OldestEmulationVersion\",\"preferredHolder\":\"node-b\"}}");
    struct lease_object l;
    struct err e;
    ck_assert_int_eq(lease_json_parse(o, &l, &e), 0);
    ck_assert_str_eq(l.rec.holder, "node-a");
    ck_assert_int_eq(l.rec.duration_s, 15);
    ck_assert_int_eq(l.rec.acquire.usec, 123456);
    ck_assert_int_eq(l.rec.renew.sec, 1740823512);
    ck_assert_int_eq(l.rec.transitions, 3);
    ck_assert_str_eq(l.rec.strategy, "OldestEmulationVersion");
    ck_assert_str_eq(l.rec.preferred_holder, "node-b");
    ck_assert_str_eq(l.resource_version, "48213");
    ck_assert_str_eq(l.uid, "u-1");
    json_object_put(o);
}
END_TEST

/* 6.2 / 6.3: absent holder and duration read as "" and 0; null times read as unset. */
START_TEST(test_lease_json_absent_fields_read_as_zero)
{
    struct json_object *o = parse("{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"renewTime\":null}}");
    struct lease_object l;
    ck_assert_int_eq(lease_json_parse(o, &l, NULL), 0);
    ck_assert_str_eq(l.rec.holder, "");
    ck_assert_int_eq(l.rec.duration_s, 0);
    ck_assert_int_eq(l.rec.renew.set, 0);
    ck_assert_int_eq(l.rec.acquire.set, 0);
    json_object_put(o);
    o = parse("{\"metadata\":{}}");
    ck_assert_int_eq(lease_json_parse(o, &l, NULL), 0);
    ck_assert_str_eq(l.resource_version, "");
    json_object_put(o);
}
END_TEST

START_TEST(test_lease_json_refuses_bad_types_naming_the_field)
{
    struct {
        const char *json, *needle;
    } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"spec\":{}}", "no metadata"},
        {"{\"metadata\":{},\"spec\":{\"holderIdentity\":5}}", "spec.holderIdentity"},
        {"{\"metadata\":{},\"spec\":{\"leaseDurationSeconds\":\"15\"}}", "spec.leaseDurationSeconds"},
        {"{\"metadata\":{},\"spec\":{\"leaseTransitions\":4294967296}}", "int32"},
        {"{\"metadata\":{},\"spec\":{\"renewTime\":\"yesterday\"}}", "spec.renewTime"},
        {"{\"metadata\":{},\"spec\":[]}", "lease.spec"},
        {"{\"metadata\":{\"resourceVersion\":7}}", "metadata.resourceVersion"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_object *o = parse(bad[i].json);
        struct lease_object l;
        struct err e;
        ck_assert_int_eq(lease_json_parse(o, &l, &e), -1);
        ck_assert_msg(strstr(e.msg, bad[i].needle) != NULL, "%s: %s", bad[i].json, e.msg);
        json_object_put(o);
    }
    struct lease_object l;
    ck_assert_int_eq(lease_json_parse(NULL, &l, NULL), -1);
}
END_TEST

/* Parses a Lease whose spec.holderIdentity is the n bytes of s (the test's own buffer). */
static int parse_holder(const char *s, size_t n, struct lease_object *l, struct err *e)
{
    struct json_object *o = parse("{\"metadata\":{},\"spec\":{}}"), *spec;
    json_object_object_get_ex(o, "spec", &spec);
    json_object_object_add(spec, "holderIdentity", json_object_new_string_len(s, (int)n));
    int rc = lease_json_parse(o, l, e);
    json_object_put(o);
    return rc;
}

/* Issue 13 item 6: Kubernetes bounds a holder only by the object's size; a long foreign one is read (in a
 * shortened form that tells holders apart and never equals an identity we accept), never refused. */
START_TEST(test_lease_json_reads_a_holder_of_any_length_the_api_can_store)
{
    size_t n = LEASE_FOREIGN_STR_MAX;
    char *big = malloc(n + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', n + 1);
    big[n + 1] = '\0';
    static struct lease_object a, b, c; /* large: off the stack */
    struct err e;
    ck_assert_int_eq(parse_holder(big, 600, &a, &e), 0);
    ck_assert_uint_gt(strlen(a.rec.holder), LEASE_IDENTITY_MAX);
    ck_assert_int_eq(strncmp(a.rec.holder, big, LEASE_IDENTITY_MAX), 0);
    ck_assert(strstr(a.rec.holder, "...[600 bytes, fnv1a64 ") != NULL);
    ck_assert_int_eq(parse_holder(big, 600, &b, &e), 0);
    ck_assert_str_eq(a.rec.holder, b.rec.holder); /* the same holder reads the same */
    big[599] = 'y';
    ck_assert_int_eq(parse_holder(big, 600, &c, &e), 0);
    ck_assert_str_ne(a.rec.holder, c.rec.holder); /* a change past the kept prefix is still a change */
    ck_assert_int_eq(parse_holder(big, n, &a, &e), 0);
    ck_assert(strstr(a.rec.holder, "...[1572864 bytes") != NULL);
    ck_assert_int_eq(parse_holder(big, n + 1, &a, &e), -1); /* more than etcd stores */
    ck_assert(strstr(e.msg, "spec.holderIdentity") != NULL);
    /* exactly the identity bound is kept whole */
    ck_assert_int_eq(parse_holder(big, LEASE_IDENTITY_MAX, &a, &e), 0);
    ck_assert_uint_eq(strlen(a.rec.holder), LEASE_IDENTITY_MAX);
    /* the prefix is not cut inside a UTF-8 sequence: "a" then 2-byte characters put one across the bound */
    big[0] = 'a';
    for (size_t i = 1; i + 1 < 800; i += 2) {
        big[i] = (char)0xc3;
        big[i + 1] = (char)0xa9;
    }
    ck_assert_int_eq(parse_holder(big, 799, &a, &e), 0);
    ck_assert_int_eq(a.rec.holder[LEASE_IDENTITY_MAX - 1], '.');
    free(big);
}
END_TEST

static struct lease_record rec(void)
{
    struct lease_record r;
    memset(&r, 0, sizeof(r));
    strcpy(r.holder, "me");
    r.duration_s = 15;
    r.acquire = (struct lease_time){.sec = 1740823512, .usec = 0, .set = 1};
    r.renew = (struct lease_time){.sec = 1740823513, .usec = 7, .set = 1};
    r.transitions = 2;
    strcpy(r.strategy, "x/y"); /* never written */
    return r;
}

START_TEST(test_lease_json_create_body)
{
    struct lease_record r = rec();
    struct json_object *o = lease_json_for_create("ns1", "lease1", &r);
    ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                     "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
                     "\"lease1\",\"namespace\":\"ns1\"},\"spec\":{\"holderIdentity\":\"me\","
                     "\"leaseDurationSeconds\":15,\"acquireTime\":\"2025-03-01T10:05:12.000000Z\","
                     "\"renewTime\":\"2025-03-01T10:05:13.000007Z\",\"leaseTransitions\":2}}");
    json_object_put(o);
    /* an empty holder is written, and an unset time is null */
    r.holder[0] = '\0';
    r.acquire.set = 0;
    struct json_object *spec = lease_json_spec(&r);
    ck_assert_str_eq(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                     "{\"holderIdentity\":\"\",\"leaseDurationSeconds\":15,\"acquireTime\":null,"
                     "\"renewTime\":\"2025-03-01T10:05:13.000007Z\",\"leaseTransitions\":2}");
    json_object_put(spec);
}
END_TEST

START_TEST(test_lease_json_update_keeps_metadata_replaces_spec)
{
    struct json_object *cached = parse(
        "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":\"l\","
        "\"namespace\":\"ns\",\"uid\":\"u-1\",\"resourceVersion\":\"5\",\"labels\":{\"a\":\"b\"},"
        "\"annotations\":{\"c\":\"d\"},\"managedFields\":[{\"manager\":\"x\"}]},"
        "\"spec\":{\"holderIdentity\":\"old\",\"strategy\":\"s/t\",\"preferredHolder\":\"p\"}}");
    struct lease_record r = rec();
    struct json_object *o = lease_json_for_update(cached, &r, "9");
    ck_assert_ptr_nonnull(o);
    struct lease_object l;
    ck_assert_int_eq(lease_json_parse(o, &l, NULL), 0);
    ck_assert_str_eq(l.resource_version, "9");
    ck_assert_str_eq(l.uid, "u-1");
    ck_assert_str_eq(l.rec.holder, "me");
    ck_assert_str_eq(l.rec.strategy, "");        /* dropped, as client-go does */
    ck_assert_str_eq(l.rec.preferred_holder, "");
    struct json_object *meta, *x;
    json_object_object_get_ex(o, "metadata", &meta);
    ck_assert(json_object_object_get_ex(meta, "labels", &x));
    ck_assert(json_object_object_get_ex(meta, "annotations", &x));
    ck_assert(!json_object_object_get_ex(meta, "managedFields", &x));
    /* the cached object itself is untouched */
    ck_assert_int_eq(lease_json_parse(cached, &l, NULL), 0);
    ck_assert_str_eq(l.resource_version, "5");
    ck_assert_str_eq(l.rec.holder, "old");
    json_object_put(o);
    json_object_put(cached);
    ck_assert_ptr_null(lease_json_for_update(NULL, &r, "1"));
    struct json_object *nometa = parse("{\"spec\":{}}");
    ck_assert_ptr_null(lease_json_for_update(nometa, &r, "1"));
    json_object_put(nometa);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("lease_json");
    TCase *tc = tcase_create("lease_json");
    tcase_add_test(tc, test_lease_json_reads_full_object);
    tcase_add_test(tc, test_lease_json_absent_fields_read_as_zero);
    tcase_add_test(tc, test_lease_json_refuses_bad_types_naming_the_field);
    tcase_add_test(tc, test_lease_json_reads_a_holder_of_any_length_the_api_can_store);
    tcase_add_test(tc, test_lease_json_create_body);
    tcase_add_test(tc, test_lease_json_update_keeps_metadata_replaces_spec);
    suite_add_tcase(s, tc);
    return s;
}
