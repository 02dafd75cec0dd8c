/* Metrics: number formatting, the text exposition (HELP/TYPE, escaping, histograms, special values), the
 * registry's refusals and bounds, the JSON report and its merge under a role label, and a read-back of the
 * text by Debian's python3-prometheus-client. */
#include "tests/unit/unit.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/metrics.h"

static const char *fmt(double v)
{
    static char s[64];
    metrics_format_double(v, s, sizeof(s));
    return s;
}

static char *text_of(const struct metrics_registry *r)
{
    struct buf b;
    buf_init(&b);
    ck_assert_int_eq(metrics_write_text(r, &b), 0);
    return buf_steal(&b);
}

START_TEST(test_numbers_are_shortest_round_trip)
{
    ck_assert_str_eq(fmt(0), "0");
    ck_assert_str_eq(fmt(-0.0), "0");
    ck_assert_str_eq(fmt(1), "1");
    ck_assert_str_eq(fmt(-2.5), "-2.5");
    ck_assert_str_eq(fmt(0.1), "0.1");
    ck_assert_str_eq(fmt(0.005), "0.005");
    ck_assert_str_eq(fmt(0.1 + 0.2), "0.30000000000000004");
    ck_assert_str_eq(fmt(1e-9), "1e-09");
    ck_assert_str_eq(fmt(123456789012.0), "123456789012");
    ck_assert_str_eq(fmt(1e300), "1e+300");
    ck_assert_str_eq(fmt(NAN), "NaN");
    ck_assert_str_eq(fmt(INFINITY), "+Inf");
    ck_assert_str_eq(fmt(-INFINITY), "-Inf");
    unsigned seed = 42;
    for (int i = 0; i < 2000; i++) {
        double v = (rand_r(&seed) - RAND_MAX / 2) * pow(10, (rand_r(&seed) % 40) - 20) / 7.0;
        ck_assert_msg(strtod(fmt(v), NULL) == v, "%.17g printed as %s", v, fmt(v));
    }
}
END_TEST

START_TEST(test_counter_and_gauge_text)
{
    struct metrics_registry *r = metrics_registry_new();
    const char *const dir[] = {"direction", NULL};
    struct metric_family *frames = metrics_counter(r, "htic_ipc_frames_total", "IPC frames.", dir, NULL);
    struct metric_family *up = metrics_gauge(r, "htic_up", "1 while running.", NULL, NULL);
    struct metric_family *restarts = metrics_counter(r, "htic_child_restarts_total", "Restarts.", NULL, NULL);
    ck_assert_ptr_nonnull(frames);
    ck_assert_int_eq(metrics_counter_add(frames, (const char *const[]){"in"}, 3), 0);
    ck_assert_int_eq(metrics_counter_inc(frames, (const char *const[]){"out"}), 0);
    ck_assert_int_eq(metrics_counter_inc(frames, (const char *const[]){"in"}), 0);
    ck_assert_int_eq(metrics_gauge_set(up, NULL, 1), 0);
    ck_assert_int_eq(metrics_gauge_add(up, NULL, 0.5), 0);
    (void)restarts; /* registered, never incremented: shows 0 */
    char *t = text_of(r);
    ck_assert_str_eq(t, "# HELP htic_child_restarts_total Restarts.\n"
                        "# TYPE htic_child_restarts_total counter\n"
                        "htic_child_restarts_total 0\n"
                        "# HELP htic_ipc_frames_total IPC frames.\n"
                        "# TYPE htic_ipc_frames_total counter\n"
                        "htic_ipc_frames_total{direction=\"in\"} 4\n"
                        "htic_ipc_frames_total{direction=\"out\"} 1\n"
                        "# HELP htic_up 1 while running.\n"
                        "# TYPE htic_up gauge\n"
                        "htic_up 1.5\n");
    free(t);
    metrics_registry_free(r);
}
END_TEST

START_TEST(test_escaping_and_special_values)
{
    struct metrics_registry *r = metrics_registry_new();
    const char *const l[] = {"path", NULL};
    struct metric_family *g = metrics_gauge(r, "odd", "back\\slash and\nnewline \"quotes\" stay", l, NULL);
    metrics_gauge_set(g, (const char *const[]){"a\"b\\c\nd"}, NAN);
    metrics_gauge_set(g, (const char *const[]){"inf"}, INFINITY);
    metrics_gauge_set(g, (const char *const[]){"-inf"}, -INFINITY);
    struct metric_family *nohelp = metrics_gauge(r, "plain", NULL, NULL, NULL);
    metrics_gauge_set(nohelp, NULL, 1e-7);
    char *t = text_of(r);
    ck_assert_str_eq(t, "# HELP odd back\\\\slash and\\nnewline \"quotes\" stay\n"
                        "# TYPE odd gauge\n"
                        "odd{path=\"a\\\"b\\\\c\\nd\"} NaN\n"
                        "odd{path=\"inf\"} +Inf\n"
                        "odd{path=\"-inf\"} -Inf\n"
                        "# TYPE plain gauge\n"
                        "plain 1e-07\n");
    free(t);
    metrics_registry_free(r);
}
END_TEST

START_TEST(test_histogram_text_is_cumulative)
{
    struct metrics_registry *r = metrics_registry_new();
    const double b[] = {0.005, 0.1, 1};
    const char *const l[] = {"stage", NULL};
    struct metric_family *h = metrics_histogram(r, "htic_render_seconds", "Render time.", l, b, 3, NULL);
    ck_assert_ptr_nonnull(h);
    const char *const v[] = {"main"};
    const double obs[] = {0.001, 0.005, 0.05, 0.5, 2, 7};
    for (size_t i = 0; i < 6; i++) ck_assert_int_eq(metrics_histogram_observe(h, v, obs[i]), 0);
    ck_assert_int_eq(metrics_histogram_observe(h, v, NAN), -1);
    char *t = text_of(r);
    ck_assert_str_eq(t, "# HELP htic_render_seconds Render time.\n"
                        "# TYPE htic_render_seconds histogram\n"
                        "htic_render_seconds_bucket{stage=\"main\",le=\"0.005\"} 2\n"
                        "htic_render_seconds_bucket{stage=\"main\",le=\"0.1\"} 3\n"
                        "htic_render_seconds_bucket{stage=\"main\",le=\"1\"} 4\n"
                        "htic_render_seconds_bucket{stage=\"main\",le=\"+Inf\"} 6\n"
                        "htic_render_seconds_sum{stage=\"main\"} 9.556000000000001\n"
                        "htic_render_seconds_count{stage=\"main\"} 6\n");
    free(t);
    /* without labels; a trailing +Inf bound is accepted and implied */
    const double b2[] = {1, INFINITY};
    struct metric_family *h2 = metrics_histogram(r, "a_seconds", "", NULL, b2, 2, NULL);
    metrics_histogram_observe(h2, NULL, 3);
    t = text_of(r);
    ck_assert_ptr_nonnull(strstr(t, "# TYPE a_seconds histogram\na_seconds_bucket{le=\"1\"} 0\n"
                                    "a_seconds_bucket{le=\"+Inf\"} 1\na_seconds_sum 3\na_seconds_count 1\n"));
    free(t);
    metrics_registry_free(r);
}
END_TEST

START_TEST(test_registration_refusals)
{
    struct metrics_registry *r = metrics_registry_new();
    struct err e;
    err_clear(&e);
    ck_assert_ptr_null(metrics_counter(r, "9lives", "", NULL, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "invalid metric name"));
    ck_assert_ptr_null(metrics_counter(r, "a-b", "", NULL, NULL));
    ck_assert_ptr_null(metrics_counter(r, "", "", NULL, NULL));
    ck_assert_ptr_null(metrics_counter(r, "x", "", (const char *const[]){"__reserved", NULL}, &e));
    ck_assert_ptr_null(metrics_counter(r, "x", "", (const char *const[]){"a", "a", NULL}, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "given twice"));
    const double b[] = {1, 2};
    ck_assert_ptr_null(metrics_histogram(r, "h", "", (const char *const[]){"le", NULL}, b, 2, &e));
    const double bad[] = {2, 1};
    ck_assert_ptr_null(metrics_histogram(r, "h", "", NULL, bad, 2, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "strictly increasing"));
    const double nan_b[] = {NAN};
    ck_assert_ptr_null(metrics_histogram(r, "h", "", NULL, nan_b, 1, &e));
    const char *const l[] = {"a", NULL};
    struct metric_family *c = metrics_counter(r, "c_total", "", l, NULL);
    ck_assert_ptr_eq(metrics_counter(r, "c_total", "again", l, NULL), c); /* idempotent */
    ck_assert_ptr_null(metrics_gauge(r, "c_total", "", l, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "already registered"));
    ck_assert_ptr_null(metrics_counter(r, "c_total", "", NULL, NULL));
    metrics_registry_free(r);
}
END_TEST

START_TEST(test_update_refusals_and_series_bound)
{
    struct metrics_registry *r = metrics_registry_new();
    const char *const l[] = {"k", NULL};
    struct metric_family *c = metrics_counter(r, "c_total", "", l, NULL);
    struct metric_family *g = metrics_gauge(r, "g", "", NULL, NULL);
    ck_assert_int_eq(metrics_counter_add(c, (const char *const[]){"x"}, -1), -1);
    ck_assert_int_eq(metrics_counter_add(c, (const char *const[]){"x"}, NAN), -1);
    ck_assert_int_eq(metrics_counter_add(c, NULL, 1), -1);
    ck_assert_int_eq(metrics_counter_add(c, (const char *const[]){NULL}, 1), -1);
    ck_assert_int_eq(metrics_gauge_set(c, (const char *const[]){"x"}, 1), -1);
    ck_assert_int_eq(metrics_counter_inc(g, NULL), -1);
    ck_assert_int_eq(metrics_histogram_observe(g, NULL, 1), -1);
    ck_assert_int_eq(metrics_counter_inc(NULL, NULL), -1);
    ck_assert_int_eq(metrics_counter_inc(c, (const char *const[]){"caf\xc3\xa9"}), 0);  /* UTF-8 is fine */
    ck_assert_int_eq(metrics_counter_inc(c, (const char *const[]){"bad\xff"}), -1);
    ck_assert_int_eq(metrics_counter_inc(c, (const char *const[]){"cut\xc3"}), -1);
    ck_assert_int_eq(metrics_counter_inc(c, (const char *const[]){"overlong\xc0\xaf"}), -1);
    ck_assert_ptr_null(metrics_gauge(r, "g2", "bad \xfe help", NULL, NULL));
    char v[32];
    for (int i = 1; i < METRICS_MAX_SERIES; i++) { /* one series exists already */
        snprintf(v, sizeof(v), "v%d", i);
        ck_assert_int_eq(metrics_counter_inc(c, (const char *const[]){v}), 0);
    }
    ck_assert_int_eq(metrics_counter_inc(c, (const char *const[]){"one-too-many"}), -1);
    ck_assert_int_eq(metrics_counter_inc(c, (const char *const[]){"v7"}), 0); /* existing series still work */
    metrics_registry_free(r);
}
END_TEST

/* A child's registry as the renderer would fill it. */
static struct metrics_registry *child_registry(void)
{
    struct metrics_registry *r = metrics_registry_new();
    const char *const l[] = {"result", NULL};
    struct metric_family *c = metrics_counter(r, "htic_renders_total", "Renders.", l, NULL);
    metrics_counter_add(c, (const char *const[]){"ok"}, 5);
    metrics_counter_add(c, (const char *const[]){"error"}, 1);
    metrics_gauge_set(metrics_gauge(r, "htic_last_render_timestamp_seconds", "", NULL, NULL), NULL, 1764119514.25);
    metrics_gauge_set(metrics_gauge(r, "htic_ratio", "", NULL, NULL), NULL, NAN);
    const double b[] = {0.01, 0.1};
    struct metric_family *h = metrics_histogram(r, "htic_render_seconds", "Render time.", NULL, b, 2, NULL);
    metrics_histogram_observe(h, NULL, 0.005);
    metrics_histogram_observe(h, NULL, 0.05);
    metrics_histogram_observe(h, NULL, 3);
    return r;
}

START_TEST(test_report_merges_under_role_label)
{
    struct metrics_registry *child = child_registry(), *sup = metrics_registry_new();
    /* the wire form: serialise the IPC message, parse it back */
    struct json_object *arr = NULL;
    ck_assert_int_eq(metrics_to_json(child, &arr), 0);
    struct json_object *msg = json_object_new_object();
    json_object_object_add(msg, "type", json_object_new_string("metrics"));
    json_object_object_add(msg, "metrics", arr);
    char *wire = strdup(json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
    json_object_put(msg);
    ck_assert_ptr_nonnull(strstr(wire, "\"value\":\"NaN\""));
    ck_assert_ptr_nonnull(strstr(wire, "\"value\":1764119514.25"));
    struct json_object *parsed = json_tokener_parse(wire), *metrics;
    ck_assert(json_object_object_get_ex(parsed, "metrics", &metrics));
    struct err e;
    err_clear(&e);
    ck_assert_int_eq(metrics_merge_json(sup, metrics, "renderer", &e), 0);
    /* a second, identical report sets, it does not add */
    ck_assert_int_eq(metrics_merge_json(sup, metrics, "renderer", &e), 0);
    ck_assert_int_eq(metrics_merge_json(sup, metrics, "validator", &e), 0);
    char *t = text_of(sup);
    ck_assert_ptr_nonnull(strstr(t, "htic_renders_total{result=\"ok\",role=\"renderer\"} 5\n"));
    ck_assert_ptr_nonnull(strstr(t, "htic_renders_total{result=\"error\",role=\"validator\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(t, "htic_last_render_timestamp_seconds{role=\"renderer\"} 1764119514.25\n"));
    ck_assert_ptr_nonnull(strstr(t, "htic_ratio{role=\"renderer\"} NaN\n"));
    ck_assert_ptr_nonnull(strstr(t, "htic_render_seconds_bucket{role=\"renderer\",le=\"0.01\"} 1\n"
                                    "htic_render_seconds_bucket{role=\"renderer\",le=\"0.1\"} 2\n"
                                    "htic_render_seconds_bucket{role=\"renderer\",le=\"+Inf\"} 3\n"
                                    "htic_render_seconds_sum{role=\"renderer\"} 3.055\n"
                                    "htic_render_seconds_count{role=\"renderer\"} 3\n"));
    free(t);
    metrics_forget_role(sup, "renderer");
    t = text_of(sup);
    ck_assert_ptr_null(strstr(t, "renderer"));
    ck_assert_ptr_nonnull(strstr(t, "role=\"validator\""));
    free(t);
    /* the index survives the removal: re-merging adds the role back once, the other role is updated in place */
    ck_assert_int_eq(metrics_merge_json(sup, metrics, "renderer", &e), 0);
    ck_assert_int_eq(metrics_merge_json(sup, metrics, "validator", &e), 0);
    t = text_of(sup);
    const char *once = strstr(t, "htic_renders_total{result=\"ok\",role=\"renderer\"} 5\n");
    ck_assert_ptr_nonnull(once);
    ck_assert_ptr_null(strstr(once + 1, "htic_renders_total{result=\"ok\",role=\"renderer\"}"));
    const char *v = strstr(t, "htic_renders_total{result=\"ok\",role=\"validator\"} 5\n");
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_null(strstr(v + 1, "htic_renders_total{result=\"ok\",role=\"validator\"}"));
    free(t);
    json_object_put(parsed);
    free(wire);
    metrics_registry_free(child);
    metrics_registry_free(sup);
}
END_TEST

static int merge_text(struct metrics_registry *r, const char *json, struct err *e)
{
    struct json_object *j = json_tokener_parse(json);
    ck_assert_msg(j != NULL, "bad test JSON %s", json);
    err_clear(e);
    int rc = metrics_merge_json(r, j, "worker", e);
    json_object_put(j);
    return rc;
}

START_TEST(test_merge_refuses_bad_reports)
{
    struct metrics_registry *r = metrics_registry_new();
    struct err e;
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"{}", "must be an array"},
        {"[1]", "must be an object"},
        {"[{\"type\":\"gauge\"}]", "needs \"name\" and \"type\""},
        {"[{\"name\":\"x\",\"type\":\"summary\"}]", "unknown type"},
        {"[{\"name\":\"bad name\",\"type\":\"gauge\"}]", "invalid metric name"},
        {"[{\"name\":\"x\",\"type\":\"gauge\",\"labels\":[\"role\"]}]", "added by the merge"},
        {"[{\"name\":\"x\",\"type\":\"gauge\",\"labels\":[1]}]", "label names"},
        {"[{\"name\":\"x\",\"type\":\"gauge\",\"labels\":[\"a\"],\"series\":[{\"labels\":[],\"value\":1}]}]",
         "one string per label name"},
        {"[{\"name\":\"y\",\"type\":\"gauge\",\"series\":[{\"labels\":[],\"value\":\"many\"}]}]", "numeric \"value\""},
        {"[{\"name\":\"c\",\"type\":\"counter\",\"series\":[{\"labels\":[],\"value\":-1}]}]", "cannot be negative"},
        {"[{\"name\":\"u\",\"type\":\"gauge\",\"labels\":[\"a\"],\"series\":[{\"labels\":[\"\xff\"],\"value\":1}]}]",
         "not UTF-8"},
        {"[{\"name\":\"h\",\"type\":\"histogram\",\"series\":[]}]", "needs \"buckets\""},
        {"[{\"name\":\"h\",\"type\":\"histogram\",\"buckets\":[1,2],\"series\":[{\"labels\":[],\"counts\":[2,1],"
         "\"count\":2,\"sum\":1}]}]", "cumulative"},
        {"[{\"name\":\"h\",\"type\":\"histogram\",\"buckets\":[1,2],\"series\":[{\"labels\":[],\"counts\":[1,2],"
         "\"count\":1,\"sum\":1}]}]", "at least the last bucket"},
        {"[{\"name\":\"h3\",\"type\":\"histogram\",\"buckets\":[1],\"series\":[{\"labels\":[],\"counts\":[1.5],"
         "\"count\":2,\"sum\":1}]}]", "cumulative non-negative integers"},
        {"[{\"name\":\"h3\",\"type\":\"histogram\",\"buckets\":[1],\"series\":[{\"labels\":[],\"counts\":[1]}]}]",
         "\"count\" must be"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(merge_text(r, bad[i].json, &e) == -1, "accepted %s", bad[i].json);
        ck_assert_msg(strstr(e.msg, bad[i].why), "%s: got \"%s\", wanted \"%s\"", bad[i].json, e.msg, bad[i].why);
    }
    /* a family the supervisor already has with other labels conflicts; the valid family next to it merges */
    metrics_gauge(r, "mine", "", NULL, NULL);
    ck_assert_int_eq(merge_text(r, "[{\"name\":\"mine\",\"type\":\"gauge\",\"series\":[{\"labels\":[],\"value\":1}]},"
                                   "{\"name\":\"ok\",\"type\":\"gauge\",\"series\":[{\"labels\":[],\"value\":2}]}]", &e),
                     -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "already registered"));
    char *t = text_of(r);
    ck_assert_ptr_nonnull(strstr(t, "ok{role=\"worker\"} 2\n"));
    free(t);
    struct json_object *empty = json_object_new_array();
    ck_assert_int_eq(metrics_merge_json(r, empty, "", &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "invalid role"));
    json_object_put(empty);
    metrics_registry_free(r);
}
END_TEST

/* --- read back by python3-prometheus-client ---------------------------------------------------------- */

static void write_file(char *path, size_t n, const char *text)
{
    snprintf(path, n, "/tmp/htic-metrics-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

START_TEST(test_python_prometheus_client_reads_same_values)
{
    const char *root = getenv("HTIC_SOURCE_ROOT");
    ck_assert_ptr_nonnull(root);
    struct metrics_registry *child = child_registry(), *sup = metrics_registry_new();
    struct json_object *arr;
    metrics_to_json(child, &arr);
    ck_assert_int_eq(metrics_merge_json(sup, arr, "renderer", NULL), 0);
    json_object_put(arr);
    const char *const l[] = {"path", NULL};
    struct metric_family *g = metrics_gauge(sup, "htic_odd", "help with \\ and\nnewline", l, NULL);
    metrics_gauge_set(g, (const char *const[]){"a\"b\\c\nd"}, 0.1 + 0.2);
    metrics_gauge_set(g, (const char *const[]){"inf"}, -INFINITY);
    struct metric_family *c = metrics_counter(sup, "htic_child_restarts_total", "Restarts.",
                                              (const char *const[]){"child", NULL}, NULL);
    metrics_counter_add(c, (const char *const[]){"elector"}, 2);
    char *text = text_of(sup);
    const char *expected =
        "[[\"htic_renders_total\", {\"result\": \"ok\", \"role\": \"renderer\"}, 5],"
        " [\"htic_renders_total\", {\"result\": \"error\", \"role\": \"renderer\"}, 1],"
        " [\"htic_last_render_timestamp_seconds\", {\"role\": \"renderer\"}, 1764119514.25],"
        " [\"htic_ratio\", {\"role\": \"renderer\"}, \"NaN\"],"
        " [\"htic_render_seconds_bucket\", {\"role\": \"renderer\", \"le\": \"0.01\"}, 1],"
        " [\"htic_render_seconds_bucket\", {\"role\": \"renderer\", \"le\": \"0.1\"}, 2],"
        " [\"htic_render_seconds_bucket\", {\"role\": \"renderer\", \"le\": \"+Inf\"}, 3],"
        " [\"htic_render_seconds_sum\", {\"role\": \"renderer\"}, 3.055],"
        " [\"htic_render_seconds_count\", {\"role\": \"renderer\"}, 3],"
        " [\"htic_odd\", {\"path\": \"a\\\"b\\\\c\\nd\"}, 0.30000000000000004],"
        " [\"htic_odd\", {\"path\": \"inf\"}, \"-Inf\"],"
        " [\"htic_child_restarts_total\", {\"child\": \"elector\"}, 2]]";
    char tpath[64], epath[64], cmd[1024], out[4096];
    write_file(tpath, sizeof(tpath), text);
    write_file(epath, sizeof(epath), expected);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/unit/metrics_parse.py' %s %s 2>&1", root, tpath, epath);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    unlink(tpath);
    unlink(epath);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "python3-prometheus-client disagrees:\n%s\ntext:\n%s", out, text);
    /* the parser saw the declared types */
    ck_assert_ptr_nonnull(strstr(out, "\"htic_render_seconds\": \"histogram\""));
    ck_assert_ptr_nonnull(strstr(out, "\"htic_child_restarts\": \"counter\""));
    ck_assert_ptr_nonnull(strstr(out, "\"htic_odd\": \"gauge\""));
    free(text);
    metrics_registry_free(child);
    metrics_registry_free(sup);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_numbers_are_shortest_round_trip);
    tcase_add_test(tc, test_counter_and_gauge_text);
    tcase_add_test(tc, test_escaping_and_special_values);
    tcase_add_test(tc, test_histogram_text_is_cumulative);
    tcase_add_test(tc, test_registration_refusals);
    tcase_add_test(tc, test_update_refusals_and_series_bound);
    tcase_add_test(tc, test_report_merges_under_role_label);
    tcase_add_test(tc, test_merge_refuses_bad_reports);
    tcase_add_test(tc, test_python_prometheus_client_reads_same_values);
    suite_add_tcase(s, tc);
    return s;
}
