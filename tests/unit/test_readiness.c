/* The pipeline half of /readyz (supervisor/readiness.c): ready only with synced true and an LKG object; a
 * report without either (or no report) says which is missing. */
#include "supervisor/readiness.h"
#include "tests/unit/unit.h"

static struct json_object *report(const char *json) { return json_tokener_parse(json); }

START_TEST(test_readiness_needs_synced_and_an_lkg)
{
    struct json_object *both = report("{\"synced\":true,\"lkg\":{\"generation\":1,\"checksum\":\"sha256:00\"}}");
    struct json_object *no_lkg = report("{\"synced\":true,\"lkg\":null}");
    struct json_object *not_synced = report("{\"synced\":false,\"lkg\":{\"generation\":1}}");
    struct json_object *lkg_not_object = report("{\"synced\":true,\"lkg\":1}");
    ck_assert_int_eq(readiness_pipeline_ready(both), 1);
    ck_assert_int_eq(readiness_pipeline_ready(no_lkg), 0);
    ck_assert_int_eq(readiness_pipeline_ready(not_synced), 0);
    ck_assert_int_eq(readiness_pipeline_ready(lkg_not_object), 0);
    ck_assert_int_eq(readiness_pipeline_ready(NULL), 0);
    ck_assert_str_eq(readiness_pipeline_why(no_lkg), "no last-known-good configuration yet");
    ck_assert_str_eq(readiness_pipeline_why(not_synced), "the watched resources have not synced");
    ck_assert_str_eq(readiness_pipeline_why(NULL), "no pipeline report yet");
    json_object_put(both);
    json_object_put(no_lkg);
    json_object_put(not_synced);
    json_object_put(lkg_not_object);
}
END_TEST

START_TEST(test_readiness_synced_must_be_a_boolean)
{
    struct json_object *s = report("{\"synced\":\"true\",\"lkg\":{}}");
    ck_assert_int_eq(readiness_pipeline_ready(s), 0);
    json_object_put(s);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("readiness");
    TCase *tc = tcase_create("readiness");
    tcase_add_test(tc, test_readiness_needs_synced_and_an_lkg);
    tcase_add_test(tc, test_readiness_synced_must_be_a_boolean);
    suite_add_tcase(s, tc);
    return s;
}
