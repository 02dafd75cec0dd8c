/* Watch stream parser: events split at every byte position, several events per chunk, blank lines and CRLF,
 * malformed JSON, unknown types, oversized events, a stream ending inside an event, stopping from the
 * callback. */
#include "tests/unit/unit.h"
#include <stdio.h>
#include <string.h>

#include "common/kube/kube_response.h"
#include "common/kube/kube_watch_parser.h"

static const char STREAM[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"},"
    "\"note\":\"split \\n inside a string is escaped\"}}\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"3\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"4\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";

struct seen {
    int n;
    int types[16];
    char rv[16][16];
    int stop_after;
};

static int on_event(void *data, enum kube_watch_type t, struct json_object *obj)
{
    struct seen *s = data;
    struct json_object *md, *rv;
    if (s->n < 16) {
        s->types[s->n] = t;
        s->rv[s->n][0] = '\0';
        if (json_object_object_get_ex(obj, "metadata", &md) && json_object_object_get_ex(md, "resourceVersion", &rv))
            snprintf(s->rv[s->n], sizeof(s->rv[0]), "%s", json_object_get_string(rv));
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static void check_all(const struct seen *s)
{
    ck_assert_int_eq(s->n, 5);
    ck_assert_int_eq(s->types[0], KUBE_WATCH_ADDED);
    ck_assert_int_eq(s->types[1], KUBE_WATCH_MODIFIED);
    ck_assert_int_eq(s->types[2], KUBE_WATCH_BOOKMARK);
    ck_assert_int_eq(s->types[3], KUBE_WATCH_DELETED);
    ck_assert_int_eq(s->types[4], KUBE_WATCH_ERROR);
    ck_assert_str_eq(s->rv[2], "3");
    ck_assert_str_eq(s->rv[3], "4");
}

START_TEST(test_kube_watch_parser_every_two_way_split)
{
    size_t len = strlen(STREAM);
    for (size_t cut = 0; cut <= len; cut++) {
        struct kube_watch_parser p;
        struct seen s = {0};
        kube_watch_parser_init(&p);
        ck_assert_int_eq(kube_watch_parser_feed(&p, STREAM, cut, on_event, &s), 0);
        ck_assert_int_eq(kube_watch_parser_feed(&p, STREAM + cut, len - cut, on_event, &s), 0);
        ck_assert_int_eq(kube_watch_parser_finish(&p, on_event, &s), 0);
        check_all(&s);
        kube_watch_parser_free(&p);
    }
}
END_TEST

START_TEST(test_kube_watch_parser_three_way_splits_and_bytes)
{
    size_t len = strlen(STREAM);
    for (size_t a = 0; a <= len; a += 7) {
        for (size_t b = a; b <= len; b += 11) {
            struct kube_watch_parser p;
            struct seen s = {0};
            kube_watch_parser_init(&p);
            ck_assert_int_eq(kube_watch_parser_feed(&p, STREAM, a, on_event, &s), 0);
            ck_assert_int_eq(kube_watch_parser_feed(&p, STREAM + a, b - a, on_event, &s), 0);
            ck_assert_int_eq(kube_watch_parser_feed(&p, STREAM + b, len - b, on_event, &s), 0);
            check_all(&s);
            kube_watch_parser_free(&p);
        }
    }
    struct kube_watch_parser p;
    struct seen s = {0};
    kube_watch_parser_init(&p);
    for (size_t i = 0; i < len; i++) ck_assert_int_eq(kube_watch_parser_feed(&p, STREAM + i, 1, on_event, &s), 0);
    check_all(&s);
    ck_assert_uint_eq(p.events, 5);
    kube_watch_parser_free(&p);
}
END_TEST

static int feed_all(const char *text, struct seen *s, struct kube_watch_parser *p)
{
    kube_watch_parser_init(p);
    int rc = kube_watch_parser_feed(p, text, strlen(text), on_event, s);
    if (rc == 0) rc = kube_watch_parser_finish(p, on_event, s);
    return rc;
}

START_TEST(test_kube_watch_parser_rejects_bad_input)
{
    struct {
        const char *text;
        int rc;
    } cases[] = {
        {"{\"type\":\"ADDED\",\"object\":{}}\nnot json\n", KUBE_WATCH_PARSE_BAD_JSON},
        {"{\"type\":\"ADDED\",\"object\":{}} trailing\n", KUBE_WATCH_PARSE_BAD_JSON},
        {"{\"type\":\"RENAMED\",\"object\":{}}\n", KUBE_WATCH_PARSE_BAD_EVENT},
        {"{\"type\":\"ADDED\",\"object\":[1]}\n", KUBE_WATCH_PARSE_BAD_EVENT},
        {"{\"type\":\"ADDED\"}\n", KUBE_WATCH_PARSE_BAD_EVENT},
        {"{\"object\":{}}\n", KUBE_WATCH_PARSE_BAD_EVENT},
        {"[1,2]\n", KUBE_WATCH_PARSE_BAD_EVENT},
        {"{\"type\":\"ADDED\",\"object\":{\"a\":", KUBE_WATCH_PARSE_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kube_watch_parser p;
        struct seen s = {0};
        ck_assert_msg(feed_all(cases[i].text, &s, &p) == cases[i].rc, "case %zu", i);
        ck_assert_msg(p.why[0] != '\0', "case %zu has a reason", i);
        kube_watch_parser_free(&p);
    }
    /* a final event without its newline is still delivered */
    struct kube_watch_parser p;
    struct seen s = {0};
    ck_assert_int_eq(feed_all("{\"type\":\"ADDED\",\"object\":{}}", &s, &p), 0);
    ck_assert_int_eq(s.n, 1);
    kube_watch_parser_free(&p);
}
END_TEST

START_TEST(test_kube_watch_parser_bounds_event_size)
{
    struct kube_watch_parser p;
    struct seen s = {0};
    kube_watch_parser_init(&p);
    p.max_event = 64;
    char big[200];
    memset(big, 'x', sizeof(big));
    ck_assert_int_eq(kube_watch_parser_feed(&p, "{\"type\":\"ADDED\",\"object\":{\"a\":\"", 31, on_event, &s), 0);
    ck_assert_int_eq(kube_watch_parser_feed(&p, big, sizeof(big), on_event, &s), KUBE_WATCH_PARSE_TOO_LONG);
    ck_assert_int_eq(s.n, 0);
    kube_watch_parser_free(&p);
}
END_TEST

/* {"type":"ADDED","object":{"a":{"a":...}}} nested `depth` objects deep */
static int feed_nested(int depth)
{
    struct kube_watch_parser p;
    struct seen s = {0};
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof(text), "{\"type\":\"ADDED\",\"object\":");
    for (int i = 0; i < depth; i++) n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"a\":");
    n += (size_t)snprintf(text + n, sizeof(text) - n, "1");
    for (int i = 0; i < depth; i++) text[n++] = '}';
    text[n++] = '}';
    text[n++] = '\n';
    kube_watch_parser_init(&p);
    int rc = kube_watch_parser_feed(&p, text, n, on_event, &s);
    kube_watch_parser_free(&p);
    return rc;
}

START_TEST(test_kube_watch_parser_nesting_bound)
{
    ck_assert_int_eq(feed_nested(60), KUBE_WATCH_PARSE_OK); /* deeper than json-c's default of 32 */
    ck_assert_int_eq(feed_nested(KUBE_JSON_MAX_DEPTH + 5), KUBE_WATCH_PARSE_BAD_JSON);
}
END_TEST

START_TEST(test_kube_watch_parser_callback_can_stop)
{
    struct kube_watch_parser p;
    struct seen s = {.stop_after = 2};
    kube_watch_parser_init(&p);
    ck_assert_int_eq(kube_watch_parser_feed(&p, STREAM, strlen(STREAM), on_event, &s), KUBE_WATCH_PARSE_STOPPED);
    ck_assert_int_eq(s.n, 2);
    kube_watch_parser_free(&p);
    ck_assert_str_eq(kube_watch_type_name(KUBE_WATCH_BOOKMARK), "BOOKMARK");
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("kube_watch_parser");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_kube_watch_parser_every_two_way_split);
    tcase_add_test(tc, test_kube_watch_parser_three_way_splits_and_bytes);
    tcase_add_test(tc, test_kube_watch_parser_rejects_bad_input);
    tcase_add_test(tc, test_kube_watch_parser_bounds_event_size);
    tcase_add_test(tc, test_kube_watch_parser_callback_can_stop);
    tcase_add_test(tc, test_kube_watch_parser_nesting_bound);
    suite_add_tcase(s, tc);
    return s;
}
