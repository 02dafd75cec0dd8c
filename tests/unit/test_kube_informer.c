/* Paged lists and the informer against a scripted server: pages joined from one snapshot, an expired
 * continue token restarting unpaged, list then watch from the list's resourceVersion with bookmarks,
 * projection, relist on an ERROR 410 reported as a diff, a dropped watch resumed from the last version
 * (no relist), 429 Retry-After honoured, list errors retried with backoff, stopping from a callback. */
#include "tests/unit/loop_spin.h"
#include "tests/unit/unit.h"

#include "tests/unit/kube_fake_server.h"

#include "common/kube/kube_informer.h"
#include "common/kube/kube_list.h"

static uv_loop_t loop;
static struct fake_server srv;
static struct kube_config *cfg;
static struct kube_client *cli;

static void setup(void)
{
    uv_loop_init(&loop);
    fake_init(&srv);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
    ck_assert_int_eq(kube_config_new_plain(url, "ns", &cfg, NULL), 0);
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &cli, NULL), 0);
}

static void teardown(void)
{
    kube_client_close(cli);
    uv_run(&loop, UV_RUN_DEFAULT);
    fake_stop(&srv);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    kube_config_free(cfg);
}

static void spin(int ms, int (*done)(void *), void *arg) { loop_spin(&loop, ms, done, arg); }

#define POD(name, rv) "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv "\"}}"

/* ---- kube_list ---- */

struct list_out {
    int done;
    enum kube_err err;
    int n, pages, restarted;
    char rv[64];
};

static void on_list(void *data, struct kube_response *r, struct kube_list_result *res)
{
    struct list_out *o = data;
    o->done = 1;
    o->err = r->err;
    if (res) {
        o->n = (int)json_object_array_length(res->items);
        o->pages = res->pages;
        o->restarted = res->restarted;
        snprintf(o->rv, sizeof(o->rv), "%s", res->resource_version);
    }
}

static int list_done(void *a) { return ((struct list_out *)a)->done; }

START_TEST(test_kube_list_pages_and_expired_continue)
{
    fake_reply(&srv, 200, "", "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"50\",\"continue\":\"tok1\"},"
                              "\"items\":[" POD("a", "1") "," POD("b", "2") "]}");
    fake_reply(&srv, 200, "", "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"50\"},\"items\":[" POD("c", "3") "]}");
    /* second list: the continue token has expired */
    fake_reply(&srv, 200, "", "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"60\",\"continue\":\"tok2\"},"
                              "\"items\":[" POD("a", "1") "," POD("b", "2") "]}");
    fake_reply(&srv, 410, "", "{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":410,\"message\":\"The provided continue parameter is too old\"}");
    fake_reply(&srv, 200, "", "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"70\"},\"items\":[" POD("a", "1") "," POD("c", "3") "," POD("d", "4") "]}");
    fake_start(&srv);
    struct kube_list_opts o = {.res = {.version = "v1", .resource = "pods", .namespace = "ns",
                                       .label_selector = "app=web"},
                               .limit = 2};
    struct list_out out = {0};
    ck_assert_int_eq(kube_list_start(cli, &o, on_list, &out, NULL), 0);
    spin(3000, list_done, &out);
    ck_assert_int_eq(out.err, KUBE_OK);
    ck_assert_int_eq(out.n, 3);
    ck_assert_int_eq(out.pages, 2);
    ck_assert_str_eq(out.rv, "50");
    ck_assert_str_eq(srv.reqs[0].target, "/api/v1/namespaces/ns/pods?labelSelector=app%3Dweb&limit=2");
    ck_assert_str_eq(srv.reqs[1].target, "/api/v1/namespaces/ns/pods?labelSelector=app%3Dweb&limit=2&continue=tok1");

    struct list_out again = {0};
    ck_assert_int_eq(kube_list_start(cli, &o, on_list, &again, NULL), 0);
    spin(3000, list_done, &again);
    ck_assert_int_eq(again.err, KUBE_OK);
    ck_assert_int_eq(again.restarted, 1);
    ck_assert_int_eq(again.n, 3);
    ck_assert_str_eq(again.rv, "70");
    ck_assert_str_eq(srv.reqs[4].target, "/api/v1/namespaces/ns/pods?labelSelector=app%3Dweb");
}
END_TEST

/* ---- informer ---- */

struct seen {
    int adds, updates, deletes, synced, errors;
    char log[2048];
    int stop_on_add;
    int projected_ok;
    struct kube_informer *inf;
    enum kube_err last_err;
};

static void note(struct seen *s, const char *what, struct json_object *o)
{
    struct json_object *md, *nm;
    const char *name = "?";
    if (json_object_object_get_ex(o, "metadata", &md) && json_object_object_get_ex(md, "name", &nm))
        name = json_object_get_string(nm);
    struct json_object *ann, *v;
    if (strcmp(name, "a") == 0 && !s->projected_ok && json_object_object_get_ex(md, "annotations", &ann) &&
        !json_object_object_get_ex(md, "managedFields", &v) &&
        !json_object_object_get_ex(ann, "kubectl.kubernetes.io/last-applied-configuration", &v) &&
        json_object_object_get_ex(ann, "keep", &v))
        s->projected_ok = 1;
    size_t l = strlen(s->log);
    snprintf(s->log + l, sizeof(s->log) - l, "%s%s ", what, name);
}

static void on_add(void *d, struct json_object *o)
{
    struct seen *s = d;
    s->adds++;
    note(s, "+", o);
    if (s->stop_on_add && s->adds == s->stop_on_add) kube_informer_stop(s->inf);
}
static void on_update(void *d, struct json_object *old, struct json_object *o)
{
    (void)old;
    struct seen *s = d;
    s->updates++;
    note(s, "~", o);
}
static void on_delete(void *d, struct json_object *o)
{
    struct seen *s = d;
    s->deletes++;
    note(s, "-", o);
}
static void on_synced(void *d)
{
    struct seen *s = d;
    s->synced++;
    size_t l = strlen(s->log);
    snprintf(s->log + l, sizeof(s->log) - l, "| ");
}
static void on_error(void *d, const char *phase, const struct kube_response *r)
{
    struct seen *s = d;
    s->errors++;
    s->last_err = r->err;
}

static const struct kube_informer_cbs CBS = {on_add, on_update, on_delete, on_synced, on_error};

/* An ingress informer with short backoffs; page_size 0 means 10. */
static struct kube_informer *start_with(struct seen *s, int page_size, int watch_list, int keys_only)
{
    struct kube_informer_opts o = {.res = {.group = "networking.k8s.io", .version = "v1", .resource = "ingresses"},
                                   .page_size = page_size ? page_size : 10, .backoff_initial_ms = 50,
                                   .backoff_max_ms = 200, .watch_timeout_min_s = 30, .watch_timeout_max_s = 30,
                                   .watch_list = watch_list, .keys_only = keys_only};
    struct kube_informer *inf;
    ck_assert_int_eq(kube_informer_start(cli, &o, &CBS, s, &inf), 0);
    s->inf = inf;
    return inf;
}

static struct kube_informer *start(struct seen *s) { return start_with(s, 0, 0, 0); }

static int nreq_at_least_4(void *a) { (void)a; return fake_nreq(&srv) >= 4; }

START_TEST(test_kube_informer_list_watch_relist_on_410)
{
    fake_reply(&srv, 200, "",
               "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
               "{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"5\",\"managedFields\":[{\"manager\":\"x\"}],"
               "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{big}\",\"keep\":\"me\"}}},"
               POD("b", "6") "," POD("c", "7") "]}");
    fake_stream(&srv,
                "{\"type\":\"ADDED\",\"object\":" POD("d", "11") "}\n"
                "{\"type\":\"MODIFIED\",\"object\":" POD("a", "12") "}\n"
                "{\"type\":\"ADDED\",\"object\":" POD("c", "7") "}\n" /* unchanged: no callback */
                "{\"type\":\"DELETED\",\"object\":" POD("b", "13") "}\n"
                "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Ingress\",\"metadata\":{\"resourceVersion\":\"20\"}}}\n"
                "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old resource version: 20 (30)\"}}\n",
                17, 0);
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"40\"},\"items\":["
                              POD("a", "12") "," POD("c", "35") "," POD("e", "36") "]}");
    fake_stream(&srv, "", 0, 1);
    fake_start(&srv);
    struct seen s = {0};
    struct kube_informer *inf = start(&s);
    spin(5000, nreq_at_least_4, NULL);
    spin(100, NULL, NULL);
    ck_assert_str_eq(s.log, "+a +b +c | +d ~a -b ~c +e -d | ");
    ck_assert_int_eq(s.projected_ok, 1);
    ck_assert_int_eq(s.errors, 1);
    ck_assert_int_eq(s.last_err, KUBE_ERR_GONE);
    ck_assert_int_eq(fake_nreq(&srv), 4);
    ck_assert_str_eq(srv.reqs[0].target, "/apis/networking.k8s.io/v1/ingresses?limit=10");
    ck_assert_str_eq(srv.reqs[1].target,
                     "/apis/networking.k8s.io/v1/ingresses?watch=1&allowWatchBookmarks=true&resourceVersion=10&timeoutSeconds=30");
    ck_assert_str_eq(srv.reqs[2].target, "/apis/networking.k8s.io/v1/ingresses?limit=10");
    ck_assert_str_eq(srv.reqs[3].target,
                     "/apis/networking.k8s.io/v1/ingresses?watch=1&allowWatchBookmarks=true&resourceVersion=40&timeoutSeconds=30");
    ck_assert_int_eq(kube_informer_count(inf), 3);
    ck_assert_ptr_nonnull(kube_informer_get(inf, "ns", "e"));
    ck_assert_ptr_null(kube_informer_get(inf, "ns", "d"));
    ck_assert_int_eq(kube_informer_has_synced(inf), 1);
    ck_assert_str_eq(kube_informer_resource_version(inf), "40");
    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    ck_assert_uint_eq(st.lists, 2);
    ck_assert_uint_eq(st.relists, 1);
    ck_assert_uint_eq(st.bookmarks, 1);
    kube_informer_stop(inf);
}
END_TEST


static int nreq_at_least(void *a) { return fake_nreq(&srv) >= *(int *)a; }

START_TEST(test_kube_informer_dropped_watch_resumes_without_relist)
{
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" POD("a", "5") "]}");
    /* the connection drops in the middle of the third event */
    struct fake_resp *drop = fake_stream(&srv,
                "{\"type\":\"ADDED\",\"object\":" POD("b", "11") "}\n"
                "{\"type\":\"MODIFIED\",\"object\":" POD("a", "12") "}\n"
                "{\"type\":\"DELETED\",\"obj", 9, 1);
    drop->keep_open = 0;
    fake_reply(&srv, 429, "Retry-After: 1\r\n", "Too many requests, please try again later.");
    fake_stream(&srv, "{\"type\":\"DELETED\",\"object\":" POD("b", "13") "}\n", 0, 1);
    fake_start(&srv);
    struct seen s = {0};
    struct kube_informer *inf = start(&s);
    int want = 4;
    uint64_t t0 = uv_now(&loop);
    spin(6000, nreq_at_least, &want);
    spin(150, NULL, NULL);
    ck_assert_uint_ge(uv_now(&loop) - t0, 1000); /* the 429's Retry-After was honoured */
    ck_assert_str_eq(s.log, "+a | +b ~a -b ");
    ck_assert_int_eq(fake_nreq(&srv), 4);
    ck_assert_ptr_nonnull(strstr(srv.reqs[2].target, "watch=1&allowWatchBookmarks=true&resourceVersion=12&"));
    ck_assert_ptr_nonnull(strstr(srv.reqs[3].target, "watch=1&allowWatchBookmarks=true&resourceVersion=12&"));
    ck_assert_int_eq(s.errors, 2);
    ck_assert_int_eq(s.synced, 1);
    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert_uint_eq(st.watches, 3);
    ck_assert_str_eq(kube_informer_resource_version(inf), "13");
    kube_informer_stop(inf);
}
END_TEST

START_TEST(test_kube_informer_too_large_resource_version_relists)
{
    /* the server was restarted with other objects: it has not reached our version 20 and says so (504,
     * "Too large resource version"); resuming the watch would wait forever, so the informer relists */
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"20\"},\"items\":[" POD("a", "5") "," POD("b", "6") "]}");
    fake_stream(&srv,
                "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":504,\"reason\":\"Timeout\","
                "\"message\":\"Too large resource version: 20, current: 4\",\"details\":{\"causes\":[{\"reason\":"
                "\"ResourceVersionTooLarge\",\"message\":\"Too large resource version\"}],\"retryAfterSeconds\":1}}}\n",
                0, 0);
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"4\"},\"items\":[" POD("a", "3") "," POD("c", "4") "]}");
    fake_stream(&srv, "", 0, 1);
    fake_start(&srv);
    struct seen s = {0};
    struct kube_informer *inf = start(&s);
    int want = 4;
    spin(6000, nreq_at_least, &want);
    spin(100, NULL, NULL);
    ck_assert_str_eq(s.log, "+a +b | ~a +c -b | ");
    ck_assert_int_eq(s.last_err, KUBE_ERR_TIMEOUT);
    ck_assert_str_eq(srv.reqs[2].target, "/apis/networking.k8s.io/v1/ingresses?limit=10");
    ck_assert_ptr_nonnull(strstr(srv.reqs[3].target, "resourceVersion=4&"));
    kube_informer_stop(inf);
}
END_TEST

START_TEST(test_kube_informer_list_errors_back_off_and_stop_from_callback)
{
    fake_reply(&srv, 500, "", "{\"kind\":\"Status\",\"reason\":\"InternalError\",\"code\":500,\"message\":\"boom\"}");
    fake_reply(&srv, 403, "", "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"code\":403,\"message\":\"no\"}");
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" POD("a", "5") "," POD("b", "6") "," POD("c", "7") "]}");
    fake_start(&srv);
    struct seen s = {.stop_on_add = 2};
    start(&s);
    int want = 3;
    spin(4000, nreq_at_least, &want);
    spin(300, NULL, NULL);
    ck_assert_int_eq(s.errors, 2);
    ck_assert_int_eq(s.last_err, KUBE_ERR_FORBIDDEN);
    ck_assert_str_eq(s.log, "+a +b ");
    ck_assert_int_eq(s.synced, 0);
    ck_assert_int_eq(fake_nreq(&srv), 3); /* stopped: no watch */
}
END_TEST


static struct kube_informer *start_watch_list(struct seen *s) { return start_with(s, 0, 1, 0); }

#define END_BOOKMARK(rv) "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Ingress\",\"metadata\":{\"resourceVersion\":\"" rv \
                         "\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n"

START_TEST(test_kube_informer_streaming_list)
{
    /* the first stream breaks before its end bookmark: the snapshot is dropped and streamed again */
    struct fake_resp *broken = fake_stream(&srv, "{\"type\":\"ADDED\",\"object\":" POD("a", "5") "}\n", 0, 1);
    broken->keep_open = 0;
    fake_stream(&srv,
                "{\"type\":\"ADDED\",\"object\":" POD("a", "5") "}\n"
                "{\"type\":\"ADDED\",\"object\":" POD("b", "6") "}\n"
                "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Ingress\",\"metadata\":{\"resourceVersion\":\"8\"}}}\n"
                END_BOOKMARK("10")
                "{\"type\":\"MODIFIED\",\"object\":" POD("a", "11") "}\n",
                13, 1);
    fake_start(&srv);
    struct seen s = {0};
    struct kube_informer *inf = start_watch_list(&s);
    int want = 2;
    spin(3000, nreq_at_least, &want);
    spin(300, NULL, NULL);
    ck_assert_str_eq(s.log, "+a +b | ~a ");
    ck_assert_int_eq(s.errors, 1);
    ck_assert_int_eq(fake_nreq(&srv), 2);
    ck_assert_str_eq(srv.reqs[1].target,
                     "/apis/networking.k8s.io/v1/ingresses?watch=1&allowWatchBookmarks=true&sendInitialEvents=true"
                     "&resourceVersionMatch=NotOlderThan&resourceVersion=&timeoutSeconds=30");
    ck_assert_str_eq(kube_informer_resource_version(inf), "11");
    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    ck_assert_uint_eq(st.lists, 2);
    ck_assert_uint_eq(st.watches, 2);
    kube_informer_stop(inf);
}
END_TEST

START_TEST(test_kube_informer_streaming_list_refused_falls_back)
{
    fake_reply(&srv, 422, "",
               "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
               "\"ListOptions.meta.k8s.io \\\"\\\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is "
               "forbidden for watch unless the WatchList feature gate is enabled\",\"reason\":\"Invalid\",\"code\":422}");
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" POD("a", "5") "]}");
    fake_stream(&srv, "{\"type\":\"MODIFIED\",\"object\":" POD("a", "11") "}\n", 0, 1);
    fake_stream(&srv, "", 0, 1);
    fake_start(&srv);
    struct seen s = {0};
    struct kube_informer *inf = start_watch_list(&s);
    int want = 3;
    spin(3000, nreq_at_least, &want);
    spin(200, NULL, NULL);
    ck_assert_str_eq(s.log, "+a | ~a ");
    ck_assert_int_eq(fake_nreq(&srv), 3);
    ck_assert_str_eq(srv.reqs[1].target, "/apis/networking.k8s.io/v1/ingresses?limit=10");
    ck_assert_ptr_nonnull(strstr(srv.reqs[2].target, "resourceVersion=10&"));
    kube_informer_stop(inf);
}
END_TEST


/* ---- keys-only mode ---- */

static struct kube_informer *start_keys_only(struct seen *s, int page_size) { return start_with(s, page_size, 0, 1); }

START_TEST(test_kube_informer_keys_only_reports_content_changes_and_relist_deletions)
{
    fake_reply(&srv, 200, "",
               "{\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"t\"},\"items\":["
               "{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"5\",\"managedFields\":[{\"manager\":\"x\"}],"
               "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{big}\",\"keep\":\"me\"}}},"
               POD("b", "6") "]}");
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" POD("c", "7") "]}");
    fake_stream(&srv,
                "{\"type\":\"ADDED\",\"object\":" POD("d", "11") "}\n"
                "{\"type\":\"MODIFIED\",\"object\":" POD("a", "12") "}\n" /* annotation gone: changed */
                "{\"type\":\"MODIFIED\",\"object\":" POD("c", "14") "}\n" /* new version, same content */
                "{\"type\":\"DELETED\",\"object\":" POD("b", "13") "}\n"
                "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old\"}}\n",
                17, 0);
    /* the relist: a unchanged, c at a new version with the same content, d gone, e new */
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"40\"},\"items\":["
                              POD("a", "12") "," POD("c", "35") "," POD("e", "36") "]}");
    fake_stream(&srv, "", 0, 1);
    fake_start(&srv);
    struct seen s = {0};
    struct kube_informer *inf = start_keys_only(&s, 2);
    int want = 5;
    spin(5000, nreq_at_least, &want);
    spin(100, NULL, NULL);
    ck_assert_str_eq(s.log, "+a +b +c | +d ~a -b +e -d | ");
    ck_assert_int_eq(s.projected_ok, 1);
    ck_assert_int_eq(kube_informer_count(inf), 3);
    ck_assert_ptr_null(kube_informer_get(inf, "ns", "e")); /* no objects are kept */
    ck_assert_uint_gt(kube_informer_index_bytes(inf), 0);
    ck_assert_str_eq(kube_informer_resource_version(inf), "40");
    kube_informer_stop(inf);
}
END_TEST

START_TEST(test_kube_informer_keys_only_stop_during_a_page)
{
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" POD("a", "5") "," POD("b", "6") "," POD("c", "7") "]}");
    fake_start(&srv);
    struct seen s = {.stop_on_add = 2};
    start_keys_only(&s, 10);
    int want = 1;
    spin(3000, nreq_at_least, &want);
    spin(200, NULL, NULL);
    ck_assert_str_eq(s.log, "+a +b ");
    ck_assert_int_eq(s.synced, 0);
    ck_assert_int_eq(fake_nreq(&srv), 1);
}
END_TEST

START_TEST(test_kube_informer_keys_only_relist_sweeps_what_it_did_not_list)
{
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" POD("a", "5") "," POD("b", "6") "]}");
    fake_stream(&srv,
                "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old\"}}\n",
                0, 0);
    fake_reply(&srv, 200, "", "{\"metadata\":{\"resourceVersion\":\"20\"},\"items\":[" POD("b", "6") "]}");
    fake_stream(&srv, "", 0, 1);
    fake_start(&srv);
    struct seen s = {0};
    struct kube_informer *inf = start_keys_only(&s, 10);
    int want = 4;
    spin(3000, nreq_at_least, &want);
    spin(100, NULL, NULL);
    ck_assert_str_eq(s.log, "+a +b | -a | ");
    ck_assert_int_eq(kube_informer_count(inf), 1);
    kube_informer_stop(inf);
}
END_TEST

START_TEST(test_kube_informer_keys_only_streaming_list_reports_a_delete_before_its_end)
{
    fake_stream(&srv,
                "{\"type\":\"ADDED\",\"object\":" POD("a", "5") "}\n"
                "{\"type\":\"ADDED\",\"object\":" POD("b", "6") "}\n"
                "{\"type\":\"DELETED\",\"object\":" POD("a", "7") "}\n"
                END_BOOKMARK("10"),
                0, 1);
    fake_start(&srv);
    struct seen s = {0};
    struct kube_informer *inf = start_with(&s, 0, 1, 1);
    int want = 1;
    spin(3000, nreq_at_least, &want);
    spin(200, NULL, NULL);
    ck_assert_str_eq(s.log, "+a +b -a | ");
    ck_assert_int_eq(kube_informer_count(inf), 1);
    kube_informer_stop(inf);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("kube_informer");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_kube_list_pages_and_expired_continue);
    tcase_add_test(tc, test_kube_informer_list_watch_relist_on_410);
    tcase_add_test(tc, test_kube_informer_too_large_resource_version_relists);
    tcase_add_test(tc, test_kube_informer_dropped_watch_resumes_without_relist);
    tcase_add_test(tc, test_kube_informer_list_errors_back_off_and_stop_from_callback);
    tcase_add_test(tc, test_kube_informer_streaming_list);
    tcase_add_test(tc, test_kube_informer_streaming_list_refused_falls_back);
    tcase_add_test(tc, test_kube_informer_keys_only_reports_content_changes_and_relist_deletions);
    tcase_add_test(tc, test_kube_informer_keys_only_stop_during_a_page);
    tcase_add_test(tc, test_kube_informer_keys_only_relist_sweeps_what_it_did_not_list);
    tcase_add_test(tc, test_kube_informer_keys_only_streaming_list_reports_a_delete_before_its_end);
    suite_add_tcase(s, tc);
    return s;
}
