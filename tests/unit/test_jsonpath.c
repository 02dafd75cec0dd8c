/* The JSONPath subset: every accepted spelling selects what Kubernetes' JSONPath would, and what is not
 * supported is refused at compile time with its column. */
#include "tests/unit/unit.h"

#include <json-c/json.h>
#include <string.h>

#include "common/jsonpath/jsonpath.h"

static const char *DOC = "{\"metadata\": {\"name\": \"web\", \"labels\": {\"kubernetes.io/name\": \"x\", \"app\": \"shop\"}},"
                         " \"items\": [{\"n\": 1}, {\"n\": 2}, {\"n\": 3}]}";

/* The selected values as compact JSON joined by spaces. */
static const char *eval(const char *expr)
{
    static char out[1024];
    struct json_object *doc = json_tokener_parse(DOC), *res = json_object_new_array();
    struct jsonpath *p;
    struct err e;
    err_clear(&e);
    ck_assert_msg(jsonpath_compile(expr, &p, &e) == 0, "%s: %s", expr, e.msg);
    int n = jsonpath_eval(p, doc, res);
    ck_assert_int_eq((size_t)n, json_object_array_length(res));
    out[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(res); i++) {
        if (i) strcat(out, " ");
        strcat(out, json_object_to_json_string_ext(json_object_array_get_idx(res, i), JSON_C_TO_STRING_PLAIN));
    }
    jsonpath_free(p);
    json_object_put(res);
    json_object_put(doc);
    return out;
}

START_TEST(test_jsonpath_spellings_select_the_same)
{
    const char *names[] = {".metadata.name", "metadata.name", "$.metadata.name", "{.metadata.name}",
                           "{$.metadata.name}", "['metadata']['name']", ".metadata[\"name\"]", ".metadata.['name']"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) ck_assert_str_eq(eval(names[i]), "\"web\"");
    ck_assert_str_eq(eval("metadata.labels.kubernetes\\.io/name"), "\"x\"");
    ck_assert_str_eq(eval("metadata.labels['kubernetes.io/name']"), "\"x\"");
}
END_TEST

START_TEST(test_jsonpath_indexes_and_wildcards)
{
    ck_assert_str_eq(eval(".items[0].n"), "1");
    ck_assert_str_eq(eval(".items[-1].n"), "3");
    ck_assert_str_eq(eval(".items[*].n"), "1 2 3");
    ck_assert_str_eq(eval(".items.*.n"), "1 2 3");
    ck_assert_str_eq(eval(".items[5].n"), "");
    ck_assert_str_eq(eval(".metadata.absent"), "");
    ck_assert_str_eq(eval(".metadata.name.deeper"), "");
    ck_assert_str_eq(eval(".metadata.labels.app"), "\"shop\"");
}
END_TEST

START_TEST(test_jsonpath_unsupported_or_broken_refused)
{
    const char *bad[] = {"", "{}", "$", ".", "..metadata", "$..name", ".items[?(@.n>1)]", ".items[0:2]",
                         ".items[0,1]", ".items[", ".items[abc]", "['unterminated", "{.metadata.name",
                         ".metadata name", ".a]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct jsonpath *p = NULL;
        struct err e;
        err_clear(&e);
        ck_assert_msg(jsonpath_compile(bad[i], &p, &e) == -1, "accepted: %s", bad[i]);
        ck_assert_ptr_null(p);
        ck_assert_msg(e.msg[0], "no message for %s", bad[i]);
    }
    struct jsonpath *p = NULL;
    struct err e;
    err_clear(&e);
    ck_assert_int_eq(jsonpath_compile(".items[?(@.n)]", &p, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "filter expressions are not supported"));
    ck_assert_int_eq(e.column, 8);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("jsonpath");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_jsonpath_spellings_select_the_same);
    tcase_add_test(tc, test_jsonpath_indexes_and_wildcards);
    tcase_add_test(tc, test_jsonpath_unsupported_or_broken_refused);
    suite_add_tcase(s, tc);
    return s;
}
