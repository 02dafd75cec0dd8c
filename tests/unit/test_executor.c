/* The executor's message handlers with a fake send function and a real run directory: the LKG announced
 * and persisted, quarantine over render_request / rendered / validated messages, a restart that restores
 * the LKG without a new generation, a corrupt lkg.json, malformed messages, and the /debug/vars
 * "pipeline" object and metrics that go out with every step. */
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/pipeline/rundir.h"
#include "common/pipeline/spill.h"
#include "tests/unit/unit.h"
#include "workers/executor/executor.h"
#include "workers/executor/lkg.h"

static char run_dir[256];
static char A[RUNDIR_CHECKSUM_BUF], B[RUNDIR_CHECKSUM_BUF], C[RUNDIR_CHECKSUM_BUF];
static struct json_object *sent; /* every message sent, in order; each {"lossy":b,"msg":...} */
static const struct gen_clock now = {5000, 1764878497000};

static void fake_send(void *data, struct json_object *msg, int lossy)
{
    (void)data;
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "lossy", json_object_new_boolean(lossy));
    json_object_object_add(e, "msg", json_object_get(msg));
    json_object_array_add(sent, e);
}

static void gen(const char *cfg, char out[RUNDIR_CHECKSUM_BUF])
{
    struct rundir_file f[1] = {{RUNDIR_KIND_CONFIG, "haproxy.cfg", cfg, strlen(cfg)}};
    ck_assert_int_ge(rundir_write(run_dir, f, 1, out, NULL), 0);
}

static void setup(void)
{
    snprintf(run_dir, sizeof(run_dir), "/tmp/htic-executor-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(run_dir));
    gen("global # a\n", A);
    gen("global # b\n", B);
    gen("global # c\n", C);
    sent = json_object_new_array();
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    json_object_put(sent);
    nftw(run_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The last message of that type sent since index from, or NULL; *lossy set if given. */
static struct json_object *last_of(const char *type, size_t from, int *lossy)
{
    struct json_object *hit = NULL;
    for (size_t i = from; i < json_object_array_length(sent); i++) {
        struct json_object *e = json_object_array_get_idx(sent, i), *m, *l;
        json_object_object_get_ex(e, "msg", &m);
        json_object_object_get_ex(e, "lossy", &l);
        if (strcmp(json_object_get_string(json_object_object_get(m, "type")), type) == 0) {
            hit = m;
            if (lossy) *lossy = json_object_get_boolean(l);
        }
    }
    return hit;
}

static size_t count_of(const char *type, size_t from)
{
    size_t n = 0;
    for (size_t i = from; i < json_object_array_length(sent); i++) {
        struct json_object *m = json_object_object_get(json_object_array_get_idx(sent, i), "msg");
        n += strcmp(json_object_get_string(json_object_object_get(m, "type")), type) == 0;
    }
    return n;
}

static struct json_object *at(struct json_object *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save, *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
        o = json_object_object_get(o, k);
    return o;
}

static int64_t num(struct json_object *o, const char *path) { return json_object_get_int64(at(o, path)); }
static const char *text(struct json_object *o, const char *path) { return json_object_get_string(at(o, path)); }

static int on(struct executor *x, const char *json)
{
    struct json_object *m = json_tokener_parse(json);
    ck_assert_ptr_nonnull(m);
    int rc = executor_on_message(x, m, json_object_get_string(json_object_object_get(m, "type")), &now);
    json_object_put(m);
    return rc;
}

static int onf(struct executor *x, const char *fmt, const char *a, const char *b)
{
    char buf[2048];
    snprintf(buf, sizeof(buf), fmt, a, b);
    return on(x, buf);
}

/* The series of the family name in the last metrics message, or NULL when it has no such family. */
static struct json_object *series_of(const char *name)
{
    struct json_object *m = last_of("metrics", 0, NULL);
    ck_assert_ptr_nonnull(m);
    struct json_object *fams = json_object_object_get(m, "metrics");
    for (size_t i = 0; i < json_object_array_length(fams); i++) {
        struct json_object *f = json_object_array_get_idx(fams, i);
        if (strcmp(text(f, "name"), name) == 0) return json_object_object_get(f, "series");
    }
    return NULL;
}

static double metric(const char *name, const char *label)
{
    struct json_object *series = series_of(name);
    for (size_t k = 0; series && k < json_object_array_length(series); k++) {
        struct json_object *s = json_object_array_get_idx(series, k);
        struct json_object *labels = json_object_object_get(s, "labels");
        if (label && strcmp(json_object_get_string(json_object_array_get_idx(labels, 0)), label) != 0) continue;
        return json_object_get_double(json_object_object_get(s, "value"));
    }
    ck_abort_msg("metric %s %s not found", name, label ? label : "");
    return -1;
}

static void start(struct executor *x)
{
    ck_assert_int_eq(executor_init(x, run_dir, fake_send, NULL, 100), 0);
    ck_assert_int_eq(executor_start(x, &now), 0);
}

/* LKG A (generation 1) from a first candidate. */
static void publish_a(struct executor *x)
{
    start(x);
    onf(x, "{\"type\":\"rendered\",\"render_id\":\"1\",\"checksum\":\"%s\",\"trial\":false,\"synced\":true,"
           "\"objects\":{\"ingresses\":2},\"changed\":[{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"x\"},"
           "{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"y\"}]}",
        A, NULL);
    onf(x, "{\"type\":\"validated\",\"render_id\":\"1\",\"checksum\":\"%s\",\"ok\":true,\"outcome\":\"valid\",\"message\":\"\"}", A, NULL);
}

START_TEST(test_executor_start_without_lkg_asks_for_a_candidate)
{
    struct executor x;
    start(&x);
    int lossy = 0;
    struct json_object *rq = last_of("render_request", 0, &lossy);
    ck_assert_ptr_nonnull(rq);
    ck_assert_int_eq(lossy, 0);
    ck_assert_int_eq(json_object_get_boolean(at(rq, "trial")), 0);
    ck_assert_uint_eq(json_object_array_length(at(rq, "exclude")), 0);
    struct json_object *rep = last_of("pipeline_report", 0, &lossy);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(lossy, 1);
    ck_assert(json_object_is_type(at(rep, "pipeline.lkg"), json_type_null));
    ck_assert(json_object_is_type(at(rep, "pipeline.last_error"), json_type_null));
    ck_assert_int_eq(num(rep, "pipeline.generation"), 0);
    ck_assert_int_eq(json_object_get_boolean(at(rep, "pipeline.synced")), 0);
    ck_assert_uint_eq(count_of("lkg", 0), 0);
    executor_free(&x);
}
END_TEST

START_TEST(test_executor_publishes_persists_and_reports_the_lkg)
{
    struct executor x;
    publish_a(&x);
    int lossy = 1;
    struct json_object *l = last_of("lkg", 0, &lossy);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(lossy, 0);
    ck_assert_int_eq(num(l, "generation"), 1);
    ck_assert_str_eq(text(l, "checksum"), A);
    char dir[PATH_MAX];
    ck_assert_int_eq(rundir_gen_path(run_dir, A, dir, sizeof(dir)), 0);
    ck_assert_str_eq(text(l, "dir"), dir);
    ck_assert_str_eq(text(l, "at"), "2025-12-04T20:01:37.000Z");
    struct lkg_state s;
    ck_assert_int_eq(lkg_load(run_dir, &s, NULL), 1);
    ck_assert_uint_eq(s.lkg.generation, 1);
    lkg_state_free(&s);
    struct json_object *rep = last_of("pipeline_report", 0, NULL);
    ck_assert_int_eq(json_object_get_boolean(at(rep, "pipeline.synced")), 1);
    ck_assert_int_eq(num(rep, "pipeline.generation"), 1);
    ck_assert_int_eq(num(rep, "pipeline.lkg.generation"), 1);
    ck_assert_str_eq(text(rep, "pipeline.lkg.checksum"), A);
    ck_assert_int_eq(num(rep, "pipeline.objects.ingresses"), 2);
    ck_assert_uint_eq(json_object_array_length(at(rep, "pipeline.quarantined")), 0);
    ck_assert(metric("haproxy_ic_pipeline_generations_total", "published") == 1);
    ck_assert(metric("haproxy_ic_pipeline_lkg_generation", NULL) == 1);
    ck_assert_int_eq(x.gc_wanted, 1);
    const char *keep[EXECUTOR_GC_KEEP];
    size_t n;
    executor_gc_keep(&x, keep, &n);
    ck_assert_uint_ge(n, 1);
    ck_assert_str_eq(keep[0], A);
    executor_free(&x);
}
END_TEST

/* LKG A, then candidate B (x and y changed) fails; the trial with x only (C) passes: y is quarantined. */
static void quarantine_y(struct executor *x)
{
    publish_a(x);
    size_t from = json_object_array_length(sent);
    onf(x, "{\"type\":\"rendered\",\"render_id\":\"2\",\"checksum\":\"%s\",\"changed\":["
           "{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"x\"},"
           "{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"y\"}]}",
        B, NULL);
    onf(x, "{\"type\":\"validated\",\"render_id\":\"2\",\"checksum\":\"%s\",\"ok\":false,\"outcome\":\"invalid\","
           "\"message\":\"[ALERT] haproxy.cfg:7: unknown keyword 'bogus'\"}",
        B, NULL);
    struct json_object *rq = last_of("render_request", from, NULL);
    ck_assert_ptr_nonnull(rq);
    ck_assert_int_eq(json_object_get_boolean(at(rq, "trial")), 1);
    ck_assert_uint_eq(json_object_array_length(at(rq, "exclude")), 1);
    ck_assert_str_eq(text(json_object_array_get_idx(at(rq, "exclude"), 0), "name"), "y");
    char id[32];
    ck_assert(json_object_is_type(at(rq, "render_id"), json_type_string)); /* ids are strings on the wire */
    snprintf(id, sizeof(id), "%s", text(rq, "render_id"));
    char buf[512];
    snprintf(buf, sizeof(buf), "{\"type\":\"rendered\",\"render_id\":\"%s\",\"checksum\":\"%s\",\"trial\":true}", id, C);
    on(x, buf);
    snprintf(buf, sizeof(buf), "{\"type\":\"validated\",\"render_id\":\"%s\",\"checksum\":\"%s\",\"ok\":true,\"outcome\":\"valid\"}", id, C);
    on(x, buf);
}

START_TEST(test_executor_quarantines_over_messages)
{
    struct executor x;
    quarantine_y(&x);
    struct json_object *l = last_of("lkg", 0, NULL);
    ck_assert_str_eq(text(l, "checksum"), C);
    ck_assert_int_eq(num(l, "generation"), 3); /* A = 1, B = 2 (failed), C = 3 */
    struct json_object *rq = last_of("render_request", 0, NULL);
    ck_assert_int_eq(json_object_get_boolean(at(rq, "trial")), 0); /* the standing set, for the renderer */
    ck_assert_str_eq(text(json_object_array_get_idx(at(rq, "exclude"), 0), "name"), "y");
    struct json_object *rep = last_of("pipeline_report", 0, NULL);
    struct json_object *q = at(rep, "pipeline.quarantined");
    ck_assert_uint_eq(json_object_array_length(q), 1);
    struct json_object *q0 = json_object_array_get_idx(q, 0);
    ck_assert_str_eq(text(q0, "resource"), "ingresses");
    ck_assert_str_eq(text(q0, "namespace"), "shop");
    ck_assert_str_eq(text(q0, "name"), "y");
    ck_assert_ptr_nonnull(strstr(text(q0, "reason"), "unknown keyword 'bogus'"));
    ck_assert_int_eq(num(rep, "pipeline.last_error.generation"), 2);
    ck_assert_str_eq(text(rep, "pipeline.last_error.stage"), "validate");
    ck_assert(metric("haproxy_ic_pipeline_quarantined_objects", NULL) == 1);
    ck_assert(metric("haproxy_ic_pipeline_generations_total", "failed") == 1);
    ck_assert(metric("haproxy_ic_pipeline_generations_total", "published") == 2);
    ck_assert(metric("haproxy_ic_pipeline_bisection_trials_total", NULL) == 1);
    ck_assert(metric("haproxy_ic_pipeline_lkg_info", C) == 1); /* the alert on disagreeing replicas reads it */
    ck_assert(metric("haproxy_ic_pipeline_lkg_info", A) == 0);
    struct lkg_state s;
    ck_assert_int_eq(lkg_load(run_dir, &s, NULL), 1);
    ck_assert_uint_eq(s.nquarantined, 1);
    ck_assert_str_eq(s.quarantined[0].obj.name, "y");
    lkg_state_free(&s);
    /* The renderer's candidate with y excluded is the LKG: no new generation, last_error cleared. */
    size_t from = json_object_array_length(sent);
    onf(&x, "{\"type\":\"rendered\",\"render_id\":\"3\",\"checksum\":\"%s\",\"excluded\":["
            "{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"y\"}]}",
        C, NULL);
    rep = last_of("pipeline_report", from, NULL);
    ck_assert_int_eq(num(rep, "pipeline.generation"), 3);
    ck_assert(json_object_is_type(at(rep, "pipeline.last_error"), json_type_null));
    ck_assert_uint_eq(count_of("lkg", from), 0);
    executor_free(&x);
}
END_TEST

START_TEST(test_executor_restart_restores_the_lkg_without_a_new_generation)
{
    struct executor x;
    quarantine_y(&x);
    executor_free(&x);
    size_t from = json_object_array_length(sent);
    struct executor x2;
    start(&x2);
    struct json_object *l = last_of("lkg", from, NULL);
    ck_assert_ptr_nonnull(l); /* announced again, for a deployer that starts later */
    ck_assert_int_eq(num(l, "generation"), 3);
    ck_assert_str_eq(text(l, "checksum"), C);
    struct json_object *rq = last_of("render_request", from, NULL);
    ck_assert_int_eq(json_object_get_boolean(at(rq, "trial")), 0);
    ck_assert_uint_eq(json_object_array_length(at(rq, "exclude")), 1);
    onf(&x2, "{\"type\":\"rendered\",\"render_id\":\"1\",\"checksum\":\"%s\",\"excluded\":["
             "{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"y\"}]}",
        C, NULL);
    struct json_object *rep = last_of("pipeline_report", from, NULL);
    ck_assert_int_eq(num(rep, "pipeline.generation"), 3);
    ck_assert_int_eq(num(rep, "pipeline.lkg.generation"), 3);
    ck_assert_uint_eq(json_object_array_length(at(rep, "pipeline.quarantined")), 1);
    ck_assert_uint_eq(count_of("lkg", from), 1);
    executor_free(&x2);
}
END_TEST

START_TEST(test_executor_corrupt_lkg_json_starts_without_lkg)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/lkg.json", run_dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"version\":1,\"gener", f);
    fclose(f);
    struct executor x;
    start(&x);
    ck_assert_uint_eq(count_of("lkg", 0), 0);
    ck_assert(json_object_is_type(at(last_of("pipeline_report", 0, NULL), "pipeline.lkg"), json_type_null));
    executor_free(&x);
}
END_TEST

START_TEST(test_executor_ignores_malformed_messages)
{
    struct executor x;
    start(&x);
    size_t from = json_object_array_length(sent);
    ck_assert_int_eq(on(&x, "{\"type\":\"rendered\",\"render_id\":\"1\"}"), -1);
    ck_assert_int_eq(on(&x, "{\"type\":\"rendered\",\"render_id\":\"1\",\"checksum\":\"md5:00\"}"), -1);
    ck_assert_int_eq(on(&x, "{\"type\":\"rendered\",\"render_id\":\"-4\",\"checksum\":\"sha256:00\"}"), -1);
    ck_assert_int_eq(onf(&x, "{\"type\":\"rendered\",\"render_id\":\"1\",\"checksum\":\"%s\",\"changed\":[{\"name\":\"x\"}]}",
                         A, NULL),
                     -1);
    ck_assert_int_eq(onf(&x, "{\"type\":\"rendered\",\"render_id\":\"1\",\"checksum\":\"%s\",\"changed\":{}}", A, NULL), -1);
    ck_assert_int_eq(onf(&x, "{\"type\":\"validated\",\"render_id\":\"1\",\"checksum\":\"%s\"}", A, NULL), -1);
    ck_assert_int_eq(on(&x, "{\"type\":\"render_failed\"}"), -1);
    ck_assert_int_eq(on(&x, "{\"type\":\"targets\",\"targets\":[]}"), 0);
    ck_assert_uint_eq(json_object_array_length(sent), from); /* nothing sent, nothing changed */
    ck_assert_uint_eq(x.sm.last_generation, 0);
    executor_free(&x);
}
END_TEST

START_TEST(test_executor_render_failure_names_template_line_and_column)
{
    struct executor x;
    publish_a(&x);
    on(&x, "{\"type\":\"render_failed\",\"render_id\":\"9\",\"template\":\"haproxy.cfg\",\"line\":3,\"column\":5,"
           "\"message\":\"'foo' is undefined\",\"changed\":[]}");
    struct json_object *rep = last_of("pipeline_report", 0, NULL);
    ck_assert_str_eq(text(rep, "pipeline.last_error.stage"), "render");
    ck_assert_str_eq(text(rep, "pipeline.last_error.message"), "haproxy.cfg:3:5: 'foo' is undefined");
    ck_assert_int_eq(num(rep, "pipeline.last_error.generation"), 2);
    ck_assert_int_eq(num(rep, "pipeline.lkg.generation"), 1); /* the LKG keeps serving */
    executor_free(&x);
}
END_TEST


/* The validator's answers that are no verdict: a timeout or an error running haproxy on a candidate is
 * last_error only (no bisection, no quarantine, asked again after the retry delay); during a bisection every
 * trial answered "error" quarantines nothing, and a superseded trial is re-asked at once. */
START_TEST(test_executor_inconclusive_validations_blame_no_object)
{
    struct executor x;
    publish_a(&x);
    size_t from = json_object_array_length(sent);
    onf(&x, "{\"type\":\"rendered\",\"render_id\":\"2\",\"checksum\":\"%s\",\"changed\":["
            "{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"x\"},"
            "{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"y\"}]}",
        B, NULL);
    onf(&x, "{\"type\":\"validated\",\"render_id\":\"2\",\"checksum\":\"%s\",\"ok\":false,\"outcome\":\"timeout\","
            "\"message\":\"haproxy -c did not finish within 30 s\"}",
        B, NULL);
    ck_assert_ptr_null(last_of("render_request", from, NULL)); /* nothing bisected */
    struct json_object *rep = last_of("pipeline_report", from, NULL);
    ck_assert_uint_eq(json_object_array_length(at(rep, "pipeline.quarantined")), 0);
    ck_assert_str_eq(text(rep, "pipeline.last_error.stage"), "validate");
    ck_assert_ptr_nonnull(strstr(text(rep, "pipeline.last_error.message"), "did not finish"));
    ck_assert_str_eq(text(last_of("lkg", 0, NULL), "checksum"), A);
    /* asked again once the retry delay has passed, not before */
    struct gen_clock soon = {now.mono_ms + GEN_RETRY_INCONCLUSIVE_MS - 1, now.wall_ms}, later = soon;
    later.mono_ms += 2;
    executor_on_tick(&x, &soon);
    ck_assert_ptr_null(last_of("render_request", from, NULL));
    executor_on_tick(&x, &later);
    struct json_object *rq = last_of("render_request", from, NULL);
    ck_assert_ptr_nonnull(rq);
    ck_assert_int_eq(json_object_get_boolean(at(rq, "trial")), 0);
    /* the same candidate now validates: it becomes the LKG */
    onf(&x, "{\"type\":\"validated\",\"render_id\":\"2\",\"checksum\":\"%s\",\"ok\":true,\"outcome\":\"valid\"}", B,
        NULL);
    ck_assert_str_eq(text(last_of("lkg", 0, NULL), "checksum"), B);
    executor_free(&x);
}
END_TEST

START_TEST(test_executor_bisection_on_errors_and_superseded_trials_quarantines_nothing)
{
    struct executor x;
    publish_a(&x);
    size_t from = json_object_array_length(sent);
    onf(&x, "{\"type\":\"rendered\",\"render_id\":\"2\",\"checksum\":\"%s\",\"changed\":["
            "{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"x\"},"
            "{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"y\"}]}",
        B, NULL);
    onf(&x, "{\"type\":\"validated\",\"render_id\":\"2\",\"checksum\":\"%s\",\"ok\":false,\"outcome\":\"invalid\","
            "\"message\":\"[ALERT] bad\"}",
        B, NULL);
    char id[32], buf[512];
    for (int round = 0; round < 6; round++) {
        struct json_object *rq = last_of("render_request", from, NULL);
        ck_assert_ptr_nonnull(rq);
        ck_assert_int_eq(json_object_get_boolean(at(rq, "trial")), 1);
        snprintf(id, sizeof(id), "%s", text(rq, "render_id"));
        from = json_object_array_length(sent);
        snprintf(buf, sizeof(buf), "{\"type\":\"rendered\",\"render_id\":\"%s\",\"checksum\":\"%s\",\"trial\":true}",
                 id, C);
        on(&x, buf);
        const char *outcome = round % 2 ? "error" : "superseded";
        snprintf(buf, sizeof(buf),
                 "{\"type\":\"validated\",\"render_id\":\"%s\",\"checksum\":\"%s\",\"ok\":false,\"outcome\":\"%s\"}",
                 id, C, outcome);
        on(&x, buf);
        if (round % 2) { /* error: re-asked after the retry delay */
            ck_assert_ptr_null(last_of("render_request", from, NULL));
            struct gen_clock later = {now.mono_ms + GEN_RETRY_INCONCLUSIVE_MS + 1, now.wall_ms};
            executor_on_tick(&x, &later);
        }
        ck_assert_ptr_nonnull(last_of("render_request", from, NULL));
        ck_assert_str_ne(text(last_of("render_request", from, NULL), "render_id"), id); /* a new id */
    }
    struct json_object *rep = last_of("pipeline_report", 0, NULL);
    ck_assert_uint_eq(json_object_array_length(at(rep, "pipeline.quarantined")), 0);
    ck_assert_str_eq(text(last_of("lkg", 0, NULL), "checksum"), A);
    executor_free(&x);
}
END_TEST

START_TEST(test_executor_refuses_numeric_render_ids)
{
    struct executor x;
    start(&x);
    ck_assert_int_eq(onf(&x, "{\"type\":\"rendered\",\"render_id\":1,\"checksum\":\"%s\"}", A, NULL), -1);
    ck_assert_int_eq(onf(&x, "{\"type\":\"validated\",\"render_id\":\"1\",\"checksum\":\"%s\",\"ok\":true}", A, NULL),
                     -1); /* no outcome */
    executor_free(&x);
}
END_TEST

/* A first candidate listing the whole cluster comes with its changed list spilled to a file (the frame could
 * not hold it): the executor reads it back, removes the file and publishes as usual. */
START_TEST(test_executor_reads_a_spilled_changed_list)
{
    struct executor x;
    start(&x);
    struct json_object *m = json_tokener_parse("{\"type\":\"rendered\",\"render_id\":\"1\",\"trial\":false}");
    json_object_object_add(m, "checksum", json_object_new_string(A));
    struct json_object *changed = json_object_new_array();
    for (int i = 0; i < 20000; i++) {
        struct json_object *o = json_object_new_object();
        char name[32];
        snprintf(name, sizeof(name), "ing-%d", i);
        json_object_object_add(o, "resource", json_object_new_string("ingresses"));
        json_object_object_add(o, "namespace", json_object_new_string("shop"));
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_array_add(changed, o);
    }
    json_object_object_add(m, "changed", changed);
    struct err e;
    ck_assert_int_eq(spill_field(m, "changed", run_dir, 0, &e), 1);
    char path[512];
    snprintf(path, sizeof(path), "%s/spill/%s", run_dir, json_object_get_string(json_object_object_get(m, "changed_file")));
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(on(&x, json_object_to_json_string(m)), 0);
    ck_assert_int_ne(access(path, F_OK), 0);
    onf(&x, "{\"type\":\"validated\",\"render_id\":\"1\",\"checksum\":\"%s\",\"ok\":true,\"outcome\":\"valid\"}", A, NULL);
    ck_assert_str_eq(text(last_of("lkg", 0, NULL), "checksum"), A);
    json_object_put(m);
    executor_free(&x);
}
END_TEST

/* count and sum of an unlabelled histogram in the last metrics message (0, 0 before any observation) */
static void histogram(const char *name, int64_t *count, double *sum)
{
    struct json_object *series = series_of(name);
    ck_assert_msg(series != NULL, "histogram %s not found", name);
    *count = 0, *sum = 0;
    if (json_object_array_length(series) == 0) return;
    struct json_object *s = json_object_array_get_idx(series, 0);
    *count = json_object_get_int64(json_object_object_get(s, "count"));
    *sum = json_object_get_double(json_object_object_get(s, "sum"));
}

/* The clock of these tests is at 5000 ms: a candidate whose oldest event was at 3500 ms and that becomes the
 * LKG is observed at 1.5 s; one superseded by the next candidate is observed when that one is published; one
 * that renders the LKG already held is observed at once; a candidate without event_ms is not observed. */
START_TEST(test_executor_observes_event_to_lkg_when_the_lkg_includes_the_event)
{
    struct executor x;
    start(&x);
    int64_t count = -1;
    double sum = -1;
    onf(&x, "{\"type\":\"rendered\",\"render_id\":\"1\",\"checksum\":\"%s\",\"trial\":false,\"event_ms\":3500,"
            "\"changed\":[]}", A, NULL);
    histogram("haproxy_ic_pipeline_event_to_lkg_seconds", &count, &sum);
    ck_assert_int_eq(count, 0);   /* rendered is not yet published */
    onf(&x, "{\"type\":\"validated\",\"render_id\":\"1\",\"checksum\":\"%s\",\"ok\":true,\"outcome\":\"valid\"}", A, NULL);
    histogram("haproxy_ic_pipeline_event_to_lkg_seconds", &count, &sum);
    ck_assert_int_eq(count, 1);
    ck_assert_double_eq_tol(sum, 1.5, 1e-9);
    /* B (event at 4000) is superseded by C (4500) before its check answers; C's publication includes both */
    onf(&x, "{\"type\":\"rendered\",\"render_id\":\"2\",\"checksum\":\"%s\",\"trial\":false,\"event_ms\":4000,"
            "\"changed\":[]}", B, NULL);
    onf(&x, "{\"type\":\"rendered\",\"render_id\":\"3\",\"checksum\":\"%s\",\"trial\":false,\"event_ms\":4500,"
            "\"changed\":[]}", C, NULL);
    onf(&x, "{\"type\":\"validated\",\"render_id\":\"3\",\"checksum\":\"%s\",\"ok\":true,\"outcome\":\"valid\"}", C, NULL);
    histogram("haproxy_ic_pipeline_event_to_lkg_seconds", &count, &sum);
    ck_assert_int_eq(count, 3);
    ck_assert_double_eq_tol(sum, 1.5 + 1.0 + 0.5, 1e-9);
    /* a change that renders the LKG held (C again): in the LKG at once */
    onf(&x, "{\"type\":\"rendered\",\"render_id\":\"4\",\"checksum\":\"%s\",\"trial\":false,\"event_ms\":4900,"
            "\"changed\":[]}", C, NULL);
    histogram("haproxy_ic_pipeline_event_to_lkg_seconds", &count, &sum);
    ck_assert_int_eq(count, 4);
    ck_assert_double_eq_tol(sum, 3.1, 1e-9);
    /* no event_ms (a trial, or a renderer before this field): nothing to observe */
    onf(&x, "{\"type\":\"rendered\",\"render_id\":\"5\",\"checksum\":\"%s\",\"trial\":false,\"changed\":[]}", A, NULL);
    onf(&x, "{\"type\":\"validated\",\"render_id\":\"5\",\"checksum\":\"%s\",\"ok\":true,\"outcome\":\"valid\"}", A, NULL);
    ck_assert_str_eq(text(last_of("lkg", 0, NULL), "checksum"), A);
    histogram("haproxy_ic_pipeline_event_to_lkg_seconds", &count, &sum);
    ck_assert_int_eq(count, 4);
    executor_free(&x);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("executor");
    TCase *tc = tcase_create("executor");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_executor_start_without_lkg_asks_for_a_candidate);
    tcase_add_test(tc, test_executor_publishes_persists_and_reports_the_lkg);
    tcase_add_test(tc, test_executor_quarantines_over_messages);
    tcase_add_test(tc, test_executor_restart_restores_the_lkg_without_a_new_generation);
    tcase_add_test(tc, test_executor_corrupt_lkg_json_starts_without_lkg);
    tcase_add_test(tc, test_executor_ignores_malformed_messages);
    tcase_add_test(tc, test_executor_render_failure_names_template_line_and_column);
    tcase_add_test(tc, test_executor_inconclusive_validations_blame_no_object);
    tcase_add_test(tc, test_executor_bisection_on_errors_and_superseded_trials_quarantines_nothing);
    tcase_add_test(tc, test_executor_refuses_numeric_render_ids);
    tcase_add_test(tc, test_executor_reads_a_spilled_changed_list);
    tcase_add_test(tc, test_executor_observes_event_to_lkg_when_the_lkg_includes_the_event);
    suite_add_tcase(s, tc);
    return s;
}
