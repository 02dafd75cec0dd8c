/* The async client against a scripted server: JSON bodies and typed errors over the wire, request shape
 * (method, body, content type, headers), Retry-After honoured within the deadline, timeouts, transport
 * errors, cancellation and close with requests in flight, watch streams split at arbitrary points, a second
 * client not blocked by a slow first one, and the blocking convenience. */
#include "tests/unit/loop_spin.h"
#include "tests/unit/unit.h"

#include "tests/unit/kube_fake_server.h"

#include "common/kube/kube_client.h"
#include "common/kube/kube_watch.h"

struct result {
    int calls;
    struct kube_response r;
    uint64_t at_ms;
};

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
    struct err e;
    ck_assert_int_eq(kube_config_new_plain(url, "ns", &cfg, &e), 0);
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &cli, &e), 0);
}

static void teardown(void)
{
    if (cli) kube_client_close(cli);
    cli = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    fake_stop(&srv);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    kube_config_free(cfg);
}

static void on_done(void *data, struct kube_response *r)
{
    struct result *res = data;
    res->calls++;
    res->at_ms = uv_now(&loop);
    kube_response_move(&res->r, r);
}

struct until {
    struct result *res;
    int n;
};

static int reached(void *arg)
{
    struct until *u = arg;
    return u->res->calls >= u->n;
}

/* Runs the loop until n results arrived or ms passed. */
static void run_until(struct result *res, int n, int ms)
{
    struct until u = {res, n};
    loop_spin(&loop, ms, reached, &u);
}

START_TEST(test_kube_client_get_json_and_request_shape)
{
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"l\",\"resourceVersion\":\"7\"}}");
    fake_reply(&srv, 201, "", "{\"kind\":\"Lease\"}");
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\"}");
    fake_start(&srv);
    struct result a = {0}, b = {0}, c = {0};
    kube_response_init(&a.r);
    kube_response_init(&b.r);
    kube_response_init(&c.r);
    ck_assert_int_eq(kube_request(cli, "GET", "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l", NULL, 2000,
                                  on_done, &a, NULL), 0);
    run_until(&a, 1, 3000);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.r.err, KUBE_OK);
    ck_assert_int_eq(a.r.status, 200);
    ck_assert_int_eq(a.r.attempts, 1);
    struct json_object *md, *rv;
    ck_assert(json_object_object_get_ex(a.r.body, "metadata", &md));
    ck_assert(json_object_object_get_ex(md, "resourceVersion", &rv));
    ck_assert_str_eq(json_object_get_string(rv), "7");

    const char *body = "{\"kind\":\"Lease\",\"spec\":{}}";
    ck_assert_int_eq(kube_request(cli, "POST", "/apis/x/v1/leases", body, 2000, on_done, &b, NULL), 0);
    run_until(&b, 1, 3000);
    ck_assert_int_eq(b.r.status, 201);
    struct kube_request_opts o = {.method = "PATCH", .path = "/apis/x/v1/leases/l", .body = "{\"a\":null}",
                                  .timeout_ms = 2000};
    ck_assert_int_eq(kube_request_ex(cli, &o, on_done, &c, NULL), 0);
    run_until(&c, 1, 3000);
    ck_assert_int_eq(c.r.err, KUBE_OK);

    ck_assert_int_eq(fake_nreq(&srv), 3);
    ck_assert_str_eq(srv.reqs[0].method, "GET");
    ck_assert_str_eq(srv.reqs[0].target, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l");
    ck_assert_ptr_nonnull(strcasestr(srv.reqs[0].headers, "\r\nAccept: application/json\r\n"));
    ck_assert_ptr_nonnull(strcasestr(srv.reqs[0].headers, "\r\nUser-Agent: haproxy-template-ic/"));
    ck_assert_ptr_null(strcasestr(srv.reqs[0].headers, "Authorization"));
    ck_assert_str_eq(srv.reqs[1].method, "POST");
    ck_assert_str_eq(srv.reqs[1].body, body);
    ck_assert_ptr_nonnull(strcasestr(srv.reqs[1].headers, "\r\nContent-Type: application/json\r\n"));
    ck_assert_ptr_null(strcasestr(srv.reqs[1].headers, "Expect:"));
    ck_assert_str_eq(srv.reqs[2].method, "PATCH");
    ck_assert_ptr_nonnull(strcasestr(srv.reqs[2].headers, "\r\nContent-Type: application/merge-patch+json\r\n"));
    kube_response_free(&a.r);
    kube_response_free(&b.r);
    kube_response_free(&c.r);
}
END_TEST

START_TEST(test_kube_client_typed_errors_over_the_wire)
{
    fake_reply(&srv, 409, "",
               "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
               "\"leases.coordination.k8s.io \\\"x\\\" already exists\",\"reason\":\"AlreadyExists\",\"code\":409}");
    fake_reply(&srv, 409, "",
               "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"the object has been modified\","
               "\"reason\":\"Conflict\",\"code\":409}");
    fake_reply(&srv, 404, "", "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404,\"message\":\"nf\"}");
    fake_reply(&srv, 410, "", "{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":410,\"message\":\"old\"}");
    fake_reply(&srv, 401, "", "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401,\"message\":\"Unauthorized\"}");
    fake_start(&srv);
    enum kube_err want[] = {KUBE_ERR_ALREADY_EXISTS, KUBE_ERR_CONFLICT, KUBE_ERR_NOT_FOUND, KUBE_ERR_GONE,
                            KUBE_ERR_UNAUTHORIZED};
    for (int i = 0; i < 5; i++) {
        struct result r = {0};
        kube_response_init(&r.r);
        ck_assert_int_eq(kube_request(cli, "PUT", "/x", "{}", 2000, on_done, &r, NULL), 0);
        run_until(&r, 1, 3000);
        ck_assert_msg(r.r.err == want[i], "case %d got %s", i, kube_err_name(r.r.err));
        ck_assert_int_eq(r.r.attempts, 1); /* no token file: a 401 is not retried */
        kube_response_free(&r.r);
    }
}
END_TEST

START_TEST(test_kube_client_honours_retry_after)
{
    fake_reply(&srv, 429, "Retry-After: 1\r\n", "Too many requests, please try again later.");
    fake_reply(&srv, 500, "Retry-After: 1\r\n",
               "{\"kind\":\"Status\",\"reason\":\"ServerTimeout\",\"code\":500,\"message\":\"m\"}");
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\"}");
    fake_reply(&srv, 429, "Retry-After: 5\r\n", "Too many requests");
    fake_start(&srv);
    struct result r = {0};
    kube_response_init(&r.r);
    uint64_t t0 = uv_now(&loop);
    ck_assert_int_eq(kube_request(cli, "GET", "/x", NULL, 10000, on_done, &r, NULL), 0);
    run_until(&r, 1, 8000);
    ck_assert_int_eq(r.r.err, KUBE_OK);
    ck_assert_int_eq(r.r.attempts, 3);
    ck_assert_uint_ge(r.at_ms - t0, 1900); /* two waits of 1 s */
    ck_assert_uint_lt(r.at_ms - t0, 6000);
    kube_response_free(&r.r);

    /* Retry-After beyond the deadline: the 429 is returned at once with its delay */
    struct result q = {0};
    kube_response_init(&q.r);
    t0 = uv_now(&loop);
    ck_assert_int_eq(kube_request(cli, "GET", "/x", NULL, 1000, on_done, &q, NULL), 0);
    run_until(&q, 1, 3000);
    ck_assert_int_eq(q.r.err, KUBE_ERR_TOO_MANY_REQUESTS);
    ck_assert_int_eq(q.r.retry_after_ms, 5000);
    ck_assert_int_eq(q.r.attempts, 1);
    ck_assert_uint_lt(q.at_ms - t0, 900);
    kube_response_free(&q.r);
    struct kube_client_stats st;
    kube_client_get_stats(cli, &st);
    ck_assert_uint_eq(st.requests, 4);
    ck_assert_uint_eq(st.retries, 2);
    ck_assert_uint_eq(st.in_flight, 0);
}
END_TEST

START_TEST(test_kube_client_timeout_and_transport_errors)
{
    struct fake_resp *h = fake_reply(&srv, 200, "", "{}");
    h->hang_ms = 3000;
    fake_start(&srv);
    struct result r = {0};
    kube_response_init(&r.r);
    uint64_t t0 = uv_now(&loop);
    ck_assert_int_eq(kube_request(cli, "GET", "/slow", NULL, 300, on_done, &r, NULL), 0);
    run_until(&r, 1, 3000);
    ck_assert_int_eq(r.r.err, KUBE_ERR_TIMEOUT);
    ck_assert_int_eq(r.r.status, 0);
    ck_assert_uint_lt(r.at_ms - t0, 1500);
    kube_response_free(&r.r);

    /* a port nobody listens on */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &al);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    struct kube_config *dead_cfg;
    struct kube_client *dead;
    ck_assert_int_eq(kube_config_new_plain(url, NULL, &dead_cfg, NULL), 0);
    ck_assert_int_eq(kube_client_new(&loop, dead_cfg, NULL, &dead, NULL), 0);
    struct result t = {0};
    kube_response_init(&t.r);
    ck_assert_int_eq(kube_request(dead, "GET", "/x", NULL, 2000, on_done, &t, NULL), 0);
    run_until(&t, 1, 3000);
    ck_assert_int_eq(t.r.err, KUBE_ERR_TRANSPORT);
    ck_assert(t.r.message[0] != '\0');
    kube_response_free(&t.r);
    kube_client_close(dead);
    uv_run(&loop, UV_RUN_NOWAIT);
    kube_config_free(dead_cfg);
    close(fd);
}
END_TEST

START_TEST(test_kube_client_cancel_and_close_in_flight)
{
    for (int i = 0; i < 3; i++) fake_reply(&srv, 200, "", "{}")->hang_ms = 400;
    fake_start(&srv);
    struct result a = {0}, b = {0}, c = {0};
    struct kube_call *ca;
    ck_assert_int_eq(kube_request(cli, "GET", "/a", NULL, 5000, on_done, &a, &ca), 0);
    ck_assert_int_eq(kube_request(cli, "GET", "/b", NULL, 5000, on_done, &b, NULL), 0);
    ck_assert_int_eq(kube_request(cli, "GET", "/c", NULL, 5000, on_done, &c, NULL), 0);
    run_until(&a, 99, 100); /* connections are open */
    kube_call_cancel(ca);
    run_until(&b, 1, 3000);
    run_until(&c, 1, 3000);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(a.calls, 0);
    kube_response_free(&b.r);
    kube_response_free(&c.r);
    /* close with one more in flight: no callback, nothing leaks (ASan) */
    struct result d = {0};
    fake_reply(&srv, 200, "", "{}")->hang_ms = 1000;
    ck_assert_int_eq(kube_request(cli, "GET", "/d", NULL, 5000, on_done, &d, NULL), 0);
    run_until(&d, 99, 100);
    kube_client_close(cli);
    cli = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(d.calls, 0);
}
END_TEST

struct watch_seen {
    int events, done;
    int types[32];
    char names[32][16];
    struct kube_response r;
    unsigned long count;
    int stop_at;
    struct kube_watch *w;
};

static void on_watch_event(void *data, enum kube_watch_type t, struct json_object *obj)
{
    struct watch_seen *s = data;
    struct json_object *md, *nm;
    if (s->events < 32) {
        s->types[s->events] = t;
        s->names[s->events][0] = '\0';
        if (json_object_object_get_ex(obj, "metadata", &md) && json_object_object_get_ex(md, "name", &nm))
            snprintf(s->names[s->events], 16, "%s", json_object_get_string(nm));
    }
    s->events++;
    if (s->stop_at && s->events == s->stop_at) kube_watch_stop(s->w);
}

static void on_watch_done(void *data, struct kube_response *r, unsigned long events)
{
    struct watch_seen *s = data;
    s->done++;
    s->count = events;
    kube_response_move(&s->r, r);
}

static int watch_finished(void *arg)
{
    struct watch_seen *s = arg;
    return s->done || (s->stop_at && s->events >= s->stop_at);
}

static void run_watch(struct watch_seen *s, int ms) { loop_spin(&loop, ms, watch_finished, s); }

static const char WATCH[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"12\"}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"13\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"14\"}}}\n";

START_TEST(test_kube_client_watch_split_stream_and_error_event)
{
    struct buf text;
    buf_init(&text);
    buf_puts(&text, WATCH);
    buf_puts(&text, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                    "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (14)\",\"reason\":\"Expired\","
                    "\"code\":410}}\n");
    size_t splits[] = {1, 7, 50, 0};
    for (size_t i = 0; i < 4; i++) fake_stream(&srv, text.data, splits[i], 0);
    fake_start(&srv);
    for (size_t i = 0; i < 4; i++) {
        struct watch_seen s = {0};
        kube_response_init(&s.r);
        struct kube_watch_cbs cbs = {on_watch_event, on_watch_done};
        ck_assert_int_eq(kube_watch_start(cli, "/api/v1/pods?watch=1&resourceVersion=10", &cbs, &s, NULL), 0);
        run_watch(&s, 8000);
        ck_assert_int_eq(s.done, 1);
        ck_assert_int_eq(s.events, 5);
        ck_assert_int_eq(s.types[0], KUBE_WATCH_ADDED);
        ck_assert_int_eq(s.types[2], KUBE_WATCH_BOOKMARK);
        ck_assert_int_eq(s.types[3], KUBE_WATCH_DELETED);
        ck_assert_int_eq(s.types[4], KUBE_WATCH_ERROR);
        ck_assert_str_eq(s.names[3], "a");
        ck_assert_int_eq(s.r.err, KUBE_ERR_GONE);
        ck_assert_int_eq(s.r.status, 410);
        ck_assert_str_eq(s.r.message, "too old resource version: 1 (14)");
        kube_response_free(&s.r);
    }
    buf_free(&text);
}
END_TEST

START_TEST(test_kube_client_watch_clean_end_http_error_stop_and_garbage)
{
    fake_stream(&srv, WATCH, 13, 0);
    fake_reply(&srv, 403, "", "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"code\":403,\"message\":\"no\"}");
    fake_stream(&srv, WATCH, 0, 1); /* stays open: stopped from the event callback */
    fake_stream(&srv, "{\"type\":\"ADDED\",\"object\":{}}\nthis is not json\n", 5, 1);
    fake_start(&srv);
    struct kube_watch_cbs cbs = {on_watch_event, on_watch_done};

    struct watch_seen s = {0};
    ck_assert_int_eq(kube_watch_start(cli, "/w", &cbs, &s, NULL), 0);
    run_watch(&s, 5000);
    ck_assert_int_eq(s.done, 1);
    ck_assert_int_eq(s.r.err, KUBE_OK);
    ck_assert_int_eq(s.events, 4);
    ck_assert_uint_eq(s.count, 4);
    kube_response_free(&s.r);

    struct watch_seen f = {0};
    ck_assert_int_eq(kube_watch_start(cli, "/w", &cbs, &f, NULL), 0);
    run_watch(&f, 5000);
    ck_assert_int_eq(f.r.err, KUBE_ERR_FORBIDDEN);
    ck_assert_int_eq(f.events, 0);
    kube_response_free(&f.r);

    struct watch_seen st = {.stop_at = 2};
    ck_assert_int_eq(kube_watch_start(cli, "/w", &cbs, &st, &st.w), 0);
    run_watch(&st, 5000);
    run_until(&(struct result){0}, 1, 100);
    ck_assert_int_eq(st.events, 2);
    ck_assert_int_eq(st.done, 0);

    struct watch_seen g = {0};
    ck_assert_int_eq(kube_watch_start(cli, "/w", &cbs, &g, NULL), 0);
    run_watch(&g, 5000);
    ck_assert_int_eq(g.done, 1);
    ck_assert_int_eq(g.events, 1);
    ck_assert_int_eq(g.r.err, KUBE_ERR_DECODE);
    ck_assert_ptr_nonnull(strstr(g.r.message, "not a JSON object"));
    kube_response_free(&g.r);
}
END_TEST

START_TEST(test_kube_client_watch_client_deadline)
{
    fake_stream(&srv, WATCH, 0, 1); /* events, then silence on an open connection */
    fake_start(&srv);
    struct kube_watch_cbs cbs = {on_watch_event, on_watch_done};
    struct watch_seen s = {0};
    uint64_t t0 = uv_now(&loop);
    ck_assert_int_eq(kube_watch_start_timeout(cli, "/w", 400, &cbs, &s, NULL), 0);
    run_watch(&s, 5000);
    ck_assert_int_eq(s.done, 1);
    ck_assert_int_eq(s.events, 4);
    ck_assert_int_eq(s.r.err, KUBE_ERR_TIMEOUT);
    ck_assert_uint_lt(uv_now(&loop) - t0, 2000);
    kube_response_free(&s.r);
}
END_TEST

START_TEST(test_kube_client_second_client_not_blocked)
{
    fake_reply(&srv, 200, "", "{\"bulk\":true}")->hang_ms = 1500;
    fake_reply(&srv, 200, "", "{\"lease\":true}");
    fake_start(&srv);
    struct kube_client *elector;
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &elector, NULL), 0);
    struct result bulk = {0}, lease = {0};
    ck_assert_int_eq(kube_request(cli, "GET", "/bulk", NULL, 5000, on_done, &bulk, NULL), 0);
    run_until(&bulk, 99, 150); /* the bulk request reached the server first */
    uint64_t t0 = uv_now(&loop);
    ck_assert_int_eq(kube_request(elector, "GET", "/lease", NULL, 5000, on_done, &lease, NULL), 0);
    run_until(&lease, 1, 3000);
    ck_assert_int_eq(lease.r.err, KUBE_OK);
    ck_assert_uint_lt(lease.at_ms - t0, 800);
    ck_assert_int_eq(bulk.calls, 0);
    run_until(&bulk, 1, 3000);
    ck_assert_int_eq(bulk.r.err, KUBE_OK);
    kube_response_free(&bulk.r);
    kube_response_free(&lease.r);
    kube_client_close(elector);
}
END_TEST

struct observed {
    int n;
    char line[8][64];
};

static void on_observe(void *data, const char *method, long status, enum kube_err err, double seconds)
{
    struct observed *o = data;
    if (o->n < 8) snprintf(o->line[o->n], 64, "%s %ld %s %s", method, status, kube_err_name(err), seconds >= 0 ? "t" : "-");
    o->n++;
}

START_TEST(test_kube_client_observer_sees_every_attempt)
{
    fake_reply(&srv, 429, "Retry-After: 0\r\n", "Too many requests");
    fake_reply(&srv, 200, "", "{}");
    fake_reply(&srv, 404, "", "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}");
    fake_reply(&srv, 200, "", "{}")->hang_ms = 2000;
    fake_start(&srv);
    struct observed o = {0};
    struct kube_client_opts opts = {.on_attempt_done = on_observe, .observer_data = &o};
    struct kube_client *c;
    ck_assert_int_eq(kube_client_new(&loop, cfg, &opts, &c, NULL), 0);
    struct kube_response r;
    ck_assert_int_eq(kube_request_sync(c, "GET", "/a", NULL, 5000, &r), 0);
    kube_response_free(&r);
    kube_request_sync(c, "DELETE", "/b", NULL, 5000, &r);
    kube_response_free(&r);
    kube_request_sync(c, "GET", "/c", NULL, 300, &r);
    kube_response_free(&r);
    ck_assert_int_eq(o.n, 4);
    ck_assert_str_eq(o.line[0], "GET 429 TooManyRequests t");
    ck_assert_str_eq(o.line[1], "GET 200 OK t");
    ck_assert_str_eq(o.line[2], "DELETE 404 NotFound t");
    ck_assert_str_eq(o.line[3], "GET 0 Timeout t");
    kube_client_close(c);
}
END_TEST

START_TEST(test_kube_client_proxy_url)
{
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\"}");
    fake_start(&srv);
    char dir[256], path[400];
    snprintf(dir, sizeof(dir), "%s/kubeproxy-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/kubeconfig", dir);
    FILE *f = fopen(path, "w");
    /* the API server name does not resolve: only the proxy (our fake) can answer */
    fprintf(f, "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'http://api.invalid:6443', "
               "proxy-url: 'http://127.0.0.1:%d'}\ncontexts:\n- name: x\n  context: {cluster: c}\n", srv.port);
    fclose(f);
    struct kube_config_opts o = {.kubeconfig = path};
    struct kube_config *pc;
    struct err e;
    ck_assert_msg(kube_config_load(&o, &pc, &e) == 0, "%s", e.msg);
    unlink(path);
    rmdir(dir);
    struct kube_client *c;
    ck_assert_int_eq(kube_client_new(&loop, pc, NULL, &c, NULL), 0);
    struct kube_response r;
    ck_assert_int_eq(kube_request_sync(c, "GET", "/api/v1/namespaces", NULL, 5000, &r), 0);
    kube_response_free(&r);
    ck_assert_str_eq(srv.reqs[0].target, "http://api.invalid:6443/api/v1/namespaces"); /* absolute form */
    kube_client_close(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    kube_config_free(pc);
}
END_TEST

START_TEST(test_kube_client_rate_limit_per_client)
{
    for (int i = 0; i < 8; i++) fake_reply(&srv, 200, "", "{}");
    fake_start(&srv);
    struct kube_client_opts lim = {.qps = 10, .burst = 2};
    struct kube_client *bulk, *elector;
    ck_assert_int_eq(kube_client_new(&loop, cfg, &lim, &bulk, NULL), 0);
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &elector, NULL), 0);
    struct result r[6];
    memset(r, 0, sizeof(r));
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    for (int i = 0; i < 6; i++) ck_assert_int_eq(kube_request(bulk, "GET", "/bulk", NULL, 5000, on_done, &r[i], NULL), 0);
    struct result e = {0};
    ck_assert_int_eq(kube_request(elector, "GET", "/lease", NULL, 5000, on_done, &e, NULL), 0);
    run_until(&e, 1, 2000);
    ck_assert_int_eq(e.r.err, KUBE_OK);
    ck_assert_uint_lt(e.at_ms - t0, 150); /* the elector's client has its own (unlimited) bucket */
    run_until(&r[5], 1, 3000);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        ck_assert_int_eq(r[i].r.err, KUBE_OK);
        kube_response_free(&r[i].r);
    }
    /* a burst of 2, then one every 100 ms: the sixth starts 400 ms in */
    ck_assert_uint_ge(r[5].at_ms - t0, 380);
    ck_assert_uint_lt(r[1].at_ms - t0, 150);
    kube_response_free(&e.r);
    /* a wait beyond the deadline fails as Timeout, without reaching the server */
    struct kube_client_opts slow = {.qps = 0.5, .burst = 1};
    struct kube_client *s;
    ck_assert_int_eq(kube_client_new(&loop, cfg, &slow, &s, NULL), 0);
    struct result a = {0}, b = {0};
    ck_assert_int_eq(kube_request(s, "GET", "/x", NULL, 300, on_done, &a, NULL), 0);
    ck_assert_int_eq(kube_request(s, "GET", "/y", NULL, 300, on_done, &b, NULL), 0);
    run_until(&b, 1, 2000);
    ck_assert_int_eq(b.r.err, KUBE_ERR_TIMEOUT);
    ck_assert_int_eq(b.r.attempts, 0);
    run_until(&a, 1, 2000);
    ck_assert_int_eq(a.r.err, KUBE_OK);
    kube_response_free(&a.r);
    kube_response_free(&b.r);
    ck_assert_int_eq(fake_nreq(&srv), 8);
    kube_client_close(s);
    kube_client_close(bulk);
    kube_client_close(elector);
}
END_TEST

START_TEST(test_kube_client_sync_request)
{
    fake_reply(&srv, 404, "", "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404,\"message\":\"leases \\\"x\\\" not found\"}");
    fake_start(&srv);
    struct kube_response r;
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/x", NULL, 2000, &r), -1);
    ck_assert_int_eq(r.err, KUBE_ERR_NOT_FOUND);
    ck_assert_str_eq(r.message, "leases \"x\" not found");
    kube_response_free(&r);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("kube_client");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_kube_client_get_json_and_request_shape);
    tcase_add_test(tc, test_kube_client_typed_errors_over_the_wire);
    tcase_add_test(tc, test_kube_client_honours_retry_after);
    tcase_add_test(tc, test_kube_client_timeout_and_transport_errors);
    tcase_add_test(tc, test_kube_client_cancel_and_close_in_flight);
    tcase_add_test(tc, test_kube_client_watch_split_stream_and_error_event);
    tcase_add_test(tc, test_kube_client_watch_clean_end_http_error_stop_and_garbage);
    tcase_add_test(tc, test_kube_client_watch_client_deadline);
    tcase_add_test(tc, test_kube_client_second_client_not_blocked);
    tcase_add_test(tc, test_kube_client_sync_request);
    tcase_add_test(tc, test_kube_client_observer_sees_every_attempt);
    tcase_add_test(tc, test_kube_client_proxy_url);
    tcase_add_test(tc, test_kube_client_rate_limit_per_client);
    suite_add_tcase(s, tc);
    return s;
}
