/* Field selectors: parsing (=, ==, !=, commas, escapes, errors), which terms go to the API server for which
 * resource, and client-side matching (nested paths, numbers and booleans as text, missing fields as ""). */
#include <string.h>

#include "tests/unit/unit.h"
#include "workers/reconciler/fieldsel.h"

static int matches(const char *sel, const char *json)
{
    struct fieldsel f;
    struct err e;
    ck_assert_int_eq(fieldsel_parse(sel, &f, &e), 0);
    struct json_object *o = json_tokener_parse(json);
    ck_assert_ptr_nonnull(o);
    int m = fieldsel_match(&f, o);
    json_object_put(o);
    fieldsel_free(&f);
    return m;
}

static const char *ING = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"prod\"},\"spec\":{\"ingressClassName\":"
                         "\"haproxy\",\"replicas\":3,\"paused\":false},\"type\":\"a,b=c\"}";

START_TEST(test_fieldsel_matches_equal_and_not_equal)
{
    ck_assert_int_eq(matches("spec.ingressClassName=haproxy", ING), 1);
    ck_assert_int_eq(matches("spec.ingressClassName==haproxy", ING), 1);
    ck_assert_int_eq(matches("spec.ingressClassName!=haproxy", ING), 0);
    ck_assert_int_eq(matches("spec.ingressClassName=nginx", ING), 0);
    ck_assert_int_eq(matches("spec.ingressClassName!=nginx", ING), 1);
    ck_assert_int_eq(matches("", ING), 1);
    ck_assert_int_eq(matches(NULL, ING), 1);
}
END_TEST

START_TEST(test_fieldsel_comma_is_and)
{
    ck_assert_int_eq(matches("metadata.namespace=prod,spec.ingressClassName=haproxy", ING), 1);
    ck_assert_int_eq(matches("metadata.namespace=prod,spec.ingressClassName=nginx", ING), 0);
    ck_assert_int_eq(matches("metadata.namespace!=dev, metadata.name=web", ING), 1);
}
END_TEST

START_TEST(test_fieldsel_missing_numbers_and_booleans)
{
    ck_assert_int_eq(matches("spec.replicas=3", ING), 1);
    ck_assert_int_eq(matches("spec.paused=false", ING), 1);
    ck_assert_int_eq(matches("spec.nothing=", ING), 1);
    ck_assert_int_eq(matches("spec.nothing!=x", ING), 1);
    ck_assert_int_eq(matches("spec.nothing=x", ING), 0);
    ck_assert_int_eq(matches("spec=x", ING), 0); /* an object is no field value */
    ck_assert_int_eq(matches("metadata.name.deeper=x", ING), 0);
}
END_TEST

START_TEST(test_fieldsel_escaped_values)
{
    ck_assert_int_eq(matches("type=a\\,b\\=c", ING), 1);
    ck_assert_int_eq(matches("type!=a\\,b\\=c,metadata.name=web", ING), 0);
}
END_TEST

START_TEST(test_fieldsel_refuses_bad_selectors)
{
    const char *bad[] = {"spec.x", "=v", "a..b=v", ".a=v", "a!v", "a=b=c", "a=v,", "a b=v"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fieldsel f;
        struct err e;
        err_clear(&e);
        ck_assert_msg(fieldsel_parse(bad[i], &f, &e) == -1, "accepted %s", bad[i]);
        ck_assert(e.msg[0] != '\0');
    }
    struct buf many;
    buf_init(&many);
    for (int i = 0; i <= FIELDSEL_TERMS_MAX; i++) buf_printf(&many, "%sa=%d", i ? "," : "", i);
    struct fieldsel f;
    ck_assert_int_eq(fieldsel_parse(buf_cstr(&many), &f, NULL), -1);
    buf_free(&many);
}
END_TEST

START_TEST(test_fieldsel_server_side_per_resource)
{
    ck_assert_int_eq(fieldsel_server_side("networking.k8s.io", "ingresses", "metadata.name"), 1);
    ck_assert_int_eq(fieldsel_server_side("networking.k8s.io", "ingresses", "metadata.namespace"), 1);
    ck_assert_int_eq(fieldsel_server_side("networking.k8s.io", "ingresses", "spec.ingressClassName"), 0);
    ck_assert_int_eq(fieldsel_server_side("", "secrets", "type"), 1);
    ck_assert_int_eq(fieldsel_server_side("core", "secrets", "type"), 1);
    ck_assert_int_eq(fieldsel_server_side("", "configmaps", "type"), 0);
    ck_assert_int_eq(fieldsel_server_side("", "pods", "spec.nodeName"), 1);
    ck_assert_int_eq(fieldsel_server_side("apps", "pods", "spec.nodeName"), 0);
}
END_TEST

START_TEST(test_fieldsel_split_keeps_only_unserved_terms_here)
{
    struct fieldsel f, client;
    ck_assert_int_eq(fieldsel_parse("type=kubernetes.io/tls,metadata.name!=a\\,b,data.x=1", &f, NULL), 0);
    struct buf server;
    buf_init(&server);
    ck_assert_int_eq(fieldsel_split(&f, "", "secrets", &server, &client), 0);
    ck_assert_str_eq(buf_cstr(&server), "type=kubernetes.io/tls,metadata.name!=a\\,b");
    ck_assert_uint_eq(client.len, 1);
    ck_assert_str_eq(client.terms[0].path, "data.x");
    ck_assert_uint_eq(f.len, 0);
    fieldsel_free(&client);
    buf_free(&server);

    ck_assert_int_eq(fieldsel_parse("spec.ingressClassName=haproxy", &f, NULL), 0);
    buf_init(&server);
    ck_assert_int_eq(fieldsel_split(&f, "networking.k8s.io", "ingresses", &server, &client), 0);
    ck_assert_str_eq(buf_cstr(&server), "");
    ck_assert_uint_eq(client.len, 1);
    fieldsel_free(&client);
    buf_free(&server);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("reconciler_fieldsel");
    TCase *tc = tcase_create("fieldsel");
    tcase_add_test(tc, test_fieldsel_matches_equal_and_not_equal);
    tcase_add_test(tc, test_fieldsel_comma_is_and);
    tcase_add_test(tc, test_fieldsel_missing_numbers_and_booleans);
    tcase_add_test(tc, test_fieldsel_escaped_values);
    tcase_add_test(tc, test_fieldsel_refuses_bad_selectors);
    tcase_add_test(tc, test_fieldsel_server_side_per_resource);
    tcase_add_test(tc, test_fieldsel_split_keeps_only_unserved_terms_here);
    suite_add_tcase(s, tc);
    return s;
}
