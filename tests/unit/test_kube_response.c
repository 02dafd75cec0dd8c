/* Error mapping from HTTP status and Status bodies (reason first, code second, as client-go), Retry-After
 * from headers and details, text bodies, and REST paths with escaping. */
#include "tests/unit/unit.h"
#include <stdio.h>
#include <string.h>

#include "common/kube/kube_path.h"
#include "common/kube/kube_response.h"

static void finish(struct kube_response *r, long status, const char *body)
{
    kube_response_init(r);
    r->status = status;
    buf_puts(&r->raw, body);
    kube_response_finish(r, 0);
}

START_TEST(test_kube_response_maps_status_reasons)
{
    struct {
        long code;
        const char *reason;
        enum kube_err want;
    } cases[] = {
        {404, "NotFound", KUBE_ERR_NOT_FOUND},
        {409, "AlreadyExists", KUBE_ERR_ALREADY_EXISTS},
        {409, "Conflict", KUBE_ERR_CONFLICT},
        {409, "SomethingNew", KUBE_ERR_CONFLICT},
        {410, "Expired", KUBE_ERR_GONE},
        {410, "Gone", KUBE_ERR_GONE},
        {422, "Invalid", KUBE_ERR_INVALID},
        {401, "Unauthorized", KUBE_ERR_UNAUTHORIZED},
        {403, "Forbidden", KUBE_ERR_FORBIDDEN},
        {500, "ServerTimeout", KUBE_ERR_SERVER},
        {500, "InternalError", KUBE_ERR_SERVER},
        {503, "ServiceUnavailable", KUBE_ERR_SERVER},
        {504, "Timeout", KUBE_ERR_TIMEOUT},
        {400, "BadRequest", KUBE_ERR_BAD_REQUEST},
        {405, "MethodNotAllowed", KUBE_ERR_METHOD_NOT_ALLOWED},
        {415, "UnsupportedMediaType", KUBE_ERR_OTHER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                 "\"message\":\"msg %zu\",\"reason\":\"%s\",\"code\":%ld}",
                 i, cases[i].reason, cases[i].code);
        struct kube_response r;
        finish(&r, cases[i].code, body);
        ck_assert_msg(r.err == cases[i].want, "case %zu: %s", i, kube_err_name(r.err));
        ck_assert_str_eq(r.reason, cases[i].reason);
        char want[32];
        snprintf(want, sizeof(want), "msg %zu", i);
        ck_assert_str_eq(r.message, want);
        ck_assert_ptr_nonnull(r.body);
        kube_response_free(&r);
    }
    /* the reason wins over the code */
    ck_assert_int_eq(kube_err_classify(500, "NotFound"), KUBE_ERR_NOT_FOUND);
    ck_assert_int_eq(kube_err_classify(0, NULL), KUBE_ERR_TRANSPORT);
    ck_assert_int_eq(kube_err_classify(418, ""), KUBE_ERR_OTHER);
    ck_assert_int_eq(kube_err_classify(502, ""), KUBE_ERR_SERVER);
    ck_assert_str_eq(kube_err_name(KUBE_ERR_ALREADY_EXISTS), "AlreadyExists");
}
END_TEST

START_TEST(test_kube_response_text_and_retry_after)
{
    struct kube_response r;
    kube_response_init(&r);
    r.status = 429;
    r.retry_after_ms = kube_retry_after_parse(" 2\r\n", 0);
    buf_puts(&r.raw, "Too many requests, please try again later.\n");
    kube_response_finish(&r, 0);
    ck_assert_int_eq(r.err, KUBE_ERR_TOO_MANY_REQUESTS);
    ck_assert_int_eq(r.retry_after_ms, 2000);
    ck_assert_str_eq(r.message, "Too many requests, please try again later.");
    ck_assert_ptr_null(r.body);
    kube_response_free(&r);

    finish(&r, 500, "{\"kind\":\"Status\",\"reason\":\"ServerTimeout\",\"code\":500,\"message\":\"m\","
                    "\"details\":{\"retryAfterSeconds\":3}}");
    ck_assert_int_eq(r.retry_after_ms, 3000);
    kube_response_free(&r);

    finish(&r, 502, "<html>bad gateway</html>");
    ck_assert_int_eq(r.err, KUBE_ERR_SERVER);
    ck_assert_str_eq(r.message, "<html>bad gateway</html>");
    kube_response_free(&r);

    finish(&r, 200, "not json");
    ck_assert_int_eq(r.err, KUBE_ERR_DECODE);
    kube_response_free(&r);
    finish(&r, 200, "{\"kind\":\"Pod\"}");
    ck_assert_int_eq(r.err, KUBE_OK);
    kube_response_free(&r);

    ck_assert_int_eq(kube_retry_after_parse("abc", 0), -1);
    ck_assert_int_eq(kube_retry_after_parse("", 0), -1);
    ck_assert_int_eq(kube_retry_after_parse("99999", 0), KUBE_RETRY_AFTER_MAX_S * 1000);
    /* an HTTP date 5 s after "now" */
    ck_assert_int_eq(kube_retry_after_parse("Thu, 01 Jan 1970 00:00:15 GMT", 10), 5000);

    struct json_object *st = json_tokener_parse(
        "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old resource version: 1 (5)\"}");
    kube_response_init(&r);
    kube_response_from_status(&r, st);
    ck_assert_int_eq(r.err, KUBE_ERR_GONE);
    ck_assert_int_eq(r.status, 410);
    ck_assert_str_eq(r.message, "too old resource version: 1 (5)");
    json_object_put(st);
    kube_response_free(&r);
}
END_TEST

START_TEST(test_kube_path_builds_and_escapes)
{
    struct buf b;
    buf_init(&b);
    struct kube_resource pods = {.version = "v1", .resource = "pods", .namespace = "ns1"};
    ck_assert_int_eq(kube_path_build(&pods, NULL, &b), 0);
    ck_assert_str_eq(buf_cstr(&b), "/api/v1/namespaces/ns1/pods");
    buf_reset(&b);
    struct kube_resource leases = {.group = "coordination.k8s.io", .version = "v1", .resource = "leases",
                                   .namespace = "kube-system"};
    ck_assert_int_eq(kube_path_build(&leases, "my-lease", &b), 0);
    ck_assert_str_eq(buf_cstr(&b), "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/my-lease");
    buf_reset(&b);
    struct kube_resource ing = {.group = "networking.k8s.io", .version = "v1", .resource = "ingresses"};
    ck_assert_int_eq(kube_path_build(&ing, NULL, &b), 0);
    kube_path_query(&b, "labelSelector", "app in (a,b),!x");
    kube_path_query(&b, "watch", "1");
    kube_path_query(&b, "none", NULL);
    ck_assert_str_eq(buf_cstr(&b), "/apis/networking.k8s.io/v1/ingresses?labelSelector=app%20in%20%28a%2Cb%29%2C%21x&watch=1");
    buf_reset(&b);
    struct kube_resource bad = {.version = "v1"};
    ck_assert_int_eq(kube_path_build(&bad, NULL, &b), -1);
    ck_assert_int_eq(kube_path_build(&pods, "", &b), -1);
    buf_free(&b);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("kube_response");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_kube_response_maps_status_reasons);
    tcase_add_test(tc, test_kube_response_text_and_retry_after);
    tcase_add_test(tc, test_kube_path_builds_and_escapes);
    suite_add_tcase(s, tc);
    return s;
}
