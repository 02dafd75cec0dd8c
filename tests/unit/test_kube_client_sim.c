/* The client against the API simulator (tests/kube-sim, https with its generated CA and bearer tokens):
 * create/update conflicts and typed errors, Retry-After honoured, token rotation (401 → re-read → retry),
 * 403 from deny rules, paged lists, and informers: dropped watches resume without missing or duplicating an
 * event, bookmarks arrive, and a watch from a compacted resourceVersion (410) relists as a diff.
 *
 * The simulator is started per test on port 0 in a private directory and stopped even on failure (teardown,
 * and Check's fork mode kills the test process). It is driven through its control endpoint with this same
 * client. */
#include "tests/unit/loop_spin.h"
#include "tests/unit/unit.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/unit/kube_fake_server.h"

#include "common/kube/kube_client.h"
#include "common/kube/kube_informer.h"
#include "common/kube/kube_list.h"
#include "common/kube/kube_object.h"

extern char **environ;

static uv_loop_t loop;
static char dir[256];
static pid_t sim_pid;
static char url[128], control_url[128], ca_file[512];
static struct kube_config *cfg, *ctl_cfg;
static struct kube_client *cli, *writer, *ctl;

static void write_text(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_text(const char *name, const char *fmt, ...)
{
    char path[600], tmp[610];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
    ck_assert_int_eq(rename(tmp, path), 0); /* atomic, like the kubelet's token swap */
}

static const char *json_str(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* Starts kube-sim (https, token tok-1) with extra arguments, and the three clients. */
static void sim_start(const char *const *extra)
{
    const char *root = getenv("HTIC_BUILD_ROOT");
    char bin[600];
    snprintf(bin, sizeof(bin), "%s/tests/kube-sim/kube-sim", root ? root : "build");
    const char *env_bin = getenv("KUBE_SIM_BIN");
    if (env_bin && *env_bin) snprintf(bin, sizeof(bin), "%s", env_bin);
    char port_file[600];
    snprintf(port_file, sizeof(port_file), "%s/port.json", dir);
    const char *argv[32] = {bin, "--port", "0", "--control-port", "0", "--port-file", port_file, "--tls-dir", dir,
                            "--token", "tok-1:alice", "--auto-create-namespaces", "--log-level", "warn"};
    int n = 14;
    for (int i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    char log_path[600];
    snprintf(log_path, sizeof(log_path), "%s/sim.log", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    ck_assert_int_eq(posix_spawn(&sim_pid, bin, &fa, NULL, (char **)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    struct json_object *info = NULL;
    for (int i = 0; i < 500 && !info; i++) { /* up to 10 s */
        info = json_object_from_file(port_file);
        if (!info) fake_sleep_ms(20);
    }
    ck_assert_msg(info != NULL, "kube-sim did not announce its port (see %s)", log_path);
    snprintf(url, sizeof(url), "%s", json_str(info, "url"));
    snprintf(control_url, sizeof(control_url), "%s", json_str(info, "control_url"));
    snprintf(ca_file, sizeof(ca_file), "%s", json_str(info, "ca_file"));
    json_object_put(info);
    ck_assert_ptr_nonnull(strstr(url, "https://"));

    write_text("token", "tok-1\n");
    write_text("kubeconfig",
               "apiVersion: v1\nkind: Config\ncurrent-context: sim\n"
               "clusters:\n- name: sim\n  cluster:\n    server: %s\n    certificate-authority: %s\n"
               "contexts:\n- name: sim\n  context: {cluster: sim, user: u, namespace: default}\n"
               "users:\n- name: u\n  user: {tokenFile: token}\n",
               url, ca_file);
    char kc[600];
    snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
    struct kube_config_opts o = {.mode = KUBE_CONFIG_KUBECONFIG, .kubeconfig = kc};
    struct err e;
    ck_assert_msg(kube_config_load(&o, &cfg, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(kube_config_new_plain(control_url, NULL, &ctl_cfg, &e), 0);
    struct kube_client_opts co = {.user_agent = "informer-under-test/1.0"};
    struct kube_client_opts wo = {.user_agent = "sim-writer/1.0"};
    ck_assert_int_eq(kube_client_new(&loop, cfg, &co, &cli, &e), 0);
    ck_assert_int_eq(kube_client_new(&loop, cfg, &wo, &writer, &e), 0);
    ck_assert_int_eq(kube_client_new(&loop, ctl_cfg, NULL, &ctl, &e), 0);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "%s/kubesim-client-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    uv_loop_init(&loop);
    sim_pid = 0;
    cli = writer = ctl = NULL;
    cfg = ctl_cfg = NULL;
}

static void teardown(void)
{
    kube_client_close(cli);
    kube_client_close(writer);
    kube_client_close(ctl);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        int st, waited = 0;
        while (waitpid(sim_pid, &st, WNOHANG) == 0 && waited < 500) {
            fake_sleep_ms(10);
            waited++;
        }
        if (waited >= 500) {
            kill(sim_pid, SIGKILL);
            waitpid(sim_pid, &st, 0);
        }
    }
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    kube_config_free(cfg);
    kube_config_free(ctl_cfg);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* POST to the control endpoint; returns its stats reply (caller frees). */
static struct json_object *control(const char *path, const char *body)
{
    struct kube_response r;
    int rc = kube_request_sync(ctl, "POST", path, body ? body : "{}", 5000, &r);
    ck_assert_msg(rc == 0, "control %s: %s %s", path, kube_err_name(r.err), r.message);
    struct json_object *b = json_object_get(r.body);
    kube_response_free(&r);
    return b;
}

static void stats_rv(char *out, size_t n)
{
    struct kube_response r;
    ck_assert_int_eq(kube_request_sync(ctl, "GET", "/stats", NULL, 5000, &r), 0);
    snprintf(out, n, "%s", json_str(r.body, "resourceVersion"));
    kube_response_free(&r);
}

static enum kube_err api(struct kube_client *c, const char *method, const char *path, const char *body,
                         struct kube_response *out)
{
    struct kube_response tmp;
    if (!out) out = &tmp;
    kube_request_sync(c, method, path, body, 10000, out);
    enum kube_err e = out->err;
    if (out == &tmp) kube_response_free(&tmp);
    return e;
}

static void spin(int ms, int (*done)(void *), void *arg) { loop_spin(&loop, ms, done, arg); }

#define LEASES "/apis/coordination.k8s.io/v1/namespaces/default/leases"

START_TEST(test_kube_client_sim_lease_conflicts_and_typed_errors)
{
    sim_start(NULL);
    struct kube_response r;
    const char *lease = "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"l1\"},"
                        "\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":15}}";
    ck_assert_int_eq(api(cli, "POST", LEASES, lease, &r), KUBE_OK);
    ck_assert_int_eq(r.status, 201);
    char rv1[32];
    snprintf(rv1, sizeof(rv1), "%s", kube_object_meta_str(r.body, "resourceVersion"));
    kube_response_free(&r);
    ck_assert_int_eq(api(writer, "POST", LEASES, lease, &r), KUBE_ERR_ALREADY_EXISTS);
    ck_assert_int_eq(r.status, 409);
    kube_response_free(&r);

    char put[512];
    snprintf(put, sizeof(put),
             "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"l1\","
             "\"resourceVersion\":\"%s\"},\"spec\":{\"holderIdentity\":\"b\",\"leaseDurationSeconds\":15}}", rv1);
    ck_assert_int_eq(api(writer, "PUT", LEASES "/l1", put, NULL), KUBE_OK);
    ck_assert_int_eq(api(cli, "PUT", LEASES "/l1", put, &r), KUBE_ERR_CONFLICT); /* stale resourceVersion */
    ck_assert_ptr_nonnull(strstr(r.message, "the object has been modified"));
    kube_response_free(&r);
    ck_assert_int_eq(api(cli, "PUT", LEASES "/l1", lease, NULL), KUBE_ERR_INVALID); /* no resourceVersion */
    ck_assert_int_eq(api(cli, "POST", LEASES,
                         "{\"metadata\":{\"name\":\"bad\"},\"spec\":{\"leaseDurationSeconds\":0}}", NULL),
                     KUBE_ERR_INVALID);
    ck_assert_int_eq(api(cli, "GET", LEASES "/nope", NULL, &r), KUBE_ERR_NOT_FOUND);
    ck_assert_str_eq(r.reason, "NotFound");
    kube_response_free(&r);
    ck_assert_int_eq(api(cli, "PATCH", LEASES "/l1", "{\"spec\":{\"holderIdentity\":\"c\"}}", &r), KUBE_OK);
    struct json_object *spec;
    ck_assert(json_object_object_get_ex(r.body, "spec", &spec));
    ck_assert_str_eq(json_str(spec, "holderIdentity"), "c");
    kube_response_free(&r);
    ck_assert_int_eq(api(cli, "DELETE", LEASES "/l1", NULL, NULL), KUBE_OK);
    ck_assert_int_eq(api(cli, "GET", LEASES "/l1", NULL, NULL), KUBE_ERR_NOT_FOUND);

    json_object_put(control("/deny", "{\"rules\":[{\"verb\":\"create\",\"resource\":\"leases\"}]}"));
    ck_assert_int_eq(api(cli, "POST", LEASES, lease, &r), KUBE_ERR_FORBIDDEN);
    kube_response_free(&r);
}
END_TEST

START_TEST(test_kube_client_sim_retry_after_honoured)
{
    sim_start(NULL);
    struct kube_response r;
    json_object_put(control("/faults", "{\"errors\":{\"count\":2,\"code\":429,\"retry_after\":1}}"));
    uint64_t t0 = uv_now(&loop);
    ck_assert_int_eq(api(cli, "GET", LEASES, NULL, &r), KUBE_OK);
    uv_update_time(&loop);
    ck_assert_int_eq(r.attempts, 3);
    ck_assert_uint_ge(uv_now(&loop) - t0, 1900);
    kube_response_free(&r);

    json_object_put(control("/faults", "{\"errors\":{\"count\":1,\"code\":500,\"retry_after\":1}}"));
    ck_assert_int_eq(api(cli, "GET", LEASES, NULL, &r), KUBE_OK);
    ck_assert_int_eq(r.attempts, 2);
    kube_response_free(&r);

    /* a Retry-After beyond the deadline comes back at once, with its delay */
    json_object_put(control("/faults", "{\"errors\":{\"count\":1,\"code\":429,\"retry_after\":5}}"));
    t0 = uv_now(&loop);
    kube_request_sync(cli, "GET", LEASES, NULL, 2000, &r);
    uv_update_time(&loop);
    ck_assert_int_eq(r.err, KUBE_ERR_TOO_MANY_REQUESTS);
    ck_assert_int_eq(r.retry_after_ms, 5000);
    ck_assert_uint_lt(uv_now(&loop) - t0, 1500);
    kube_response_free(&r);
}
END_TEST

START_TEST(test_kube_client_sim_token_rotation)
{
    sim_start(NULL);
    struct kube_response r;
    ck_assert_int_eq(api(cli, "GET", LEASES, NULL, &r), KUBE_OK);
    ck_assert_int_eq(r.attempts, 1);
    kube_response_free(&r);
    /* the server now only accepts tok-2, and the file was rotated: 401, re-read, retry */
    json_object_put(control("/tokens", "{\"tokens\":[{\"token\":\"tok-2\",\"user\":\"alice\"}]}"));
    write_text("token", "tok-2\n");
    ck_assert_int_eq(api(cli, "GET", LEASES, NULL, &r), KUBE_OK);
    ck_assert_int_eq(r.attempts, 2);
    kube_response_free(&r);
    /* a token the server refuses stays a 401 after the one retry */
    json_object_put(control("/tokens", "{\"tokens\":[{\"token\":\"tok-3\",\"user\":\"alice\"}]}"));
    ck_assert_int_eq(api(cli, "GET", LEASES, NULL, &r), KUBE_ERR_UNAUTHORIZED);
    ck_assert_int_eq(r.attempts, 2);
    kube_response_free(&r);
}
END_TEST


struct list_out {
    int done, n, pages;
    enum kube_err err;
    char rv[64];
    struct json_object *items;
};

static void on_list_done(void *data, struct kube_response *r, struct kube_list_result *res)
{
    struct list_out *o = data;
    o->done = 1;
    o->err = r->err;
    if (!res) return;
    o->n = (int)json_object_array_length(res->items);
    o->pages = res->pages;
    o->items = json_object_get(res->items);
    snprintf(o->rv, sizeof(o->rv), "%s", res->resource_version);
}

static int list_done(void *a) { return ((struct list_out *)a)->done; }

static void list_all(struct kube_list_opts *o, struct list_out *out)
{
    memset(out, 0, sizeof(*out));
    ck_assert_int_eq(kube_list_start(cli, o, on_list_done, out, NULL), 0);
    spin(15000, list_done, out);
    ck_assert_int_eq(out->done, 1);
    ck_assert_msg(out->err == KUBE_OK, "list: %s", kube_err_name(out->err));
}

START_TEST(test_kube_client_sim_paged_list)
{
    struct buf seed;
    buf_init(&seed);
    buf_puts(&seed, "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[");
    for (int i = 0; i < 1234; i++)
        buf_printf(&seed, "%s{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-%04d\","
                          "\"namespace\":\"default\",\"labels\":{\"even\":\"%s\"}},\"data\":{\"k\":\"v\"}}",
                   i ? "," : "", i, i % 2 ? "no" : "yes");
    buf_puts(&seed, "]}");
    write_text("seed.json", "%s", seed.data);
    buf_free(&seed);
    char seed_path[600];
    snprintf(seed_path, sizeof(seed_path), "%s/seed.json", dir);
    const char *extra[] = {"--seed", seed_path, NULL};
    sim_start(extra);
    struct list_out out;
    struct kube_list_opts o = {.res = {.version = "v1", .resource = "configmaps", .namespace = "default"}};
    list_all(&o, &out);
    ck_assert_int_eq(out.n, 1234);
    ck_assert_int_eq(out.pages, 3);
    char rv[32];
    stats_rv(rv, sizeof(rv));
    ck_assert_str_eq(out.rv, rv);
    json_object_put(out.items);
    o.res.label_selector = "even=yes";
    o.limit = 100;
    list_all(&o, &out);
    ck_assert_int_eq(out.n, 617);
    ck_assert_int_ge(out.pages, 7);
    json_object_put(out.items);
}
END_TEST

struct seen {
    int adds, updates, deletes, synced, errors, gone;
};

static void on_add(void *d, struct json_object *o) { (void)o; ((struct seen *)d)->adds++; }
static void on_update(void *d, struct json_object *a, struct json_object *b)
{
    (void)a;
    (void)b;
    ((struct seen *)d)->updates++;
}
static void on_delete(void *d, struct json_object *o) { (void)o; ((struct seen *)d)->deletes++; }
static void on_synced(void *d) { ((struct seen *)d)->synced++; }
static void on_error(void *d, const char *phase, const struct kube_response *r)
{
    struct seen *s = d;
    s->errors++;
    if (r->err == KUBE_ERR_GONE) s->gone++;
}

static struct kube_informer *informer_ex(struct seen *s, int watch_list)
{
    static const struct kube_informer_cbs cbs = {on_add, on_update, on_delete, on_synced, on_error};
    struct kube_informer_opts o = {.res = {.version = "v1", .resource = "configmaps", .namespace = "default"},
                                   .backoff_initial_ms = 50, .backoff_max_ms = 200,
                                   .watch_timeout_min_s = 60, .watch_timeout_max_s = 60, .watch_list = watch_list};
    struct kube_informer *inf;
    ck_assert_int_eq(kube_informer_start(cli, &o, &cbs, s, &inf), 0);
    return inf;
}

static struct kube_informer *informer(struct seen *s) { return informer_ex(s, 0); }

static int synced_once(void *a) { return ((struct seen *)a)->synced >= 1; }
static int synced_twice(void *a) { return ((struct seen *)a)->synced >= 2; }

struct rv_wait {
    struct kube_informer *inf;
    const char *rv;
};
static int rv_reached(void *a)
{
    struct rv_wait *w = a;
    return strcmp(kube_informer_resource_version(w->inf), w->rv) == 0;
}

static void create_cm(const char *name)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"},"
                                 "\"data\":{\"k\":\"0\"}}", name);
    ck_assert_int_eq(api(writer, "POST", "/api/v1/namespaces/default/configmaps", body, NULL), KUBE_OK);
}

static void patch_cm(const char *name, int v)
{
    char path[128], body[64];
    snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps/%s", name);
    snprintf(body, sizeof(body), "{\"data\":{\"k\":\"%d\"}}", v);
    ck_assert_int_eq(api(writer, "PATCH", path, body, NULL), KUBE_OK);
}

static void delete_cm(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps/%s", name);
    ck_assert_int_eq(api(writer, "DELETE", path, NULL, NULL), KUBE_OK);
}

/* The store must hold exactly what a fresh list returns, at the same resourceVersions. */
static void store_matches_list(struct kube_informer *inf)
{
    struct list_out out;
    struct kube_list_opts o = {.res = {.version = "v1", .resource = "configmaps", .namespace = "default"}};
    list_all(&o, &out);
    ck_assert_int_eq((int)kube_informer_count(inf), out.n);
    for (int i = 0; i < out.n; i++) {
        struct json_object *it = json_object_array_get_idx(out.items, (size_t)i);
        struct json_object *mine = kube_informer_get(inf, "default", kube_object_meta_str(it, "name"));
        ck_assert_msg(mine != NULL, "missing %s", kube_object_meta_str(it, "name"));
        ck_assert_str_eq(kube_object_meta_str(mine, "resourceVersion"), kube_object_meta_str(it, "resourceVersion"));
    }
    json_object_put(out.items);
}

START_TEST(test_kube_client_sim_dropped_watches_lose_and_repeat_nothing)
{
    sim_start(NULL);
    char name[32];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "cm-%d", i);
        create_cm(name);
    }
    struct seen s = {0};
    struct kube_informer *inf = informer(&s);
    spin(5000, synced_once, &s);
    ck_assert_int_eq(s.synced, 1);
    ck_assert_int_eq(s.adds, 5);
    s.adds = 0;
    for (int i = 0; i < 30; i++) {
        if (i % 3 == 0) {
            snprintf(name, sizeof(name), "new-%d", i);
            create_cm(name);
        } else if (i % 3 == 1) {
            snprintf(name, sizeof(name), "cm-%d", i % 5);
            patch_cm(name, i);
        } else {
            snprintf(name, sizeof(name), "new-%d", i - 2);
            delete_cm(name);
        }
        if (i % 4 == 3) json_object_put(control("/watches/drop", "{\"clean\":false}"));
        spin(i % 2 ? 30 : 0, NULL, NULL); /* some writes land while the watch is down, some while it is up */
    }
    char rv[32];
    stats_rv(rv, sizeof(rv));
    struct rv_wait w = {inf, rv};
    spin(10000, rv_reached, &w);
    ck_assert_str_eq(kube_informer_resource_version(inf), rv);
    ck_assert_int_eq(s.adds, 10);
    ck_assert_int_eq(s.updates, 10);
    ck_assert_int_eq(s.deletes, 10);
    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    ck_assert_uint_eq(st.relists, 0);
    ck_assert_uint_ge(st.watches, 3);
    ck_assert_int_ge(s.errors, 1);
    store_matches_list(inf);
    kube_informer_stop(inf);
}
END_TEST

START_TEST(test_kube_client_sim_bookmarks_and_relist_after_410)
{
    const char *extra[] = {"--bookmark-interval", "200", NULL};
    sim_start(extra);
    create_cm("cm-0");
    create_cm("cm-1");
    create_cm("cm-2");
    struct seen s = {0};
    struct kube_informer *inf = informer(&s);
    spin(5000, synced_once, &s);
    ck_assert_int_eq(s.adds, 3);
    spin(800, NULL, NULL);
    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    ck_assert_uint_ge(st.bookmarks, 1);

    /* keep the informer away while history moves on and is compacted */
    json_object_put(control("/faults", "{\"refuse_client\":\"informer-under-test\"}"));
    json_object_put(control("/watches/drop", "{}"));
    spin(100, NULL, NULL);
    create_cm("cm-x");
    patch_cm("cm-0", 7);
    delete_cm("cm-1");
    json_object_put(control("/compact", "{}"));
    s.adds = s.updates = s.deletes = 0;
    json_object_put(control("/faults", "{\"refuse_client\":\"\"}"));
    spin(8000, synced_twice, &s);
    ck_assert_int_eq(s.synced, 2);
    ck_assert_int_ge(s.gone, 1);
    ck_assert_int_eq(s.adds, 1);
    ck_assert_int_eq(s.updates, 1);
    ck_assert_int_eq(s.deletes, 1);
    kube_informer_get_stats(inf, &st);
    ck_assert_uint_eq(st.relists, 1);
    store_matches_list(inf);
    kube_informer_stop(inf);
}
END_TEST


static int updated_once(void *a) { return ((struct seen *)a)->updates >= 1; }

START_TEST(test_kube_client_sim_streaming_list)
{
    sim_start(NULL);
    create_cm("cm-0");
    create_cm("cm-1");
    create_cm("cm-2");
    struct seen s = {0};
    struct kube_informer *inf = informer_ex(&s, 1);
    spin(5000, synced_once, &s);
    ck_assert_int_eq(s.synced, 1);
    ck_assert_int_eq(s.adds, 3);
    patch_cm("cm-1", 5);
    spin(3000, updated_once, &s);
    ck_assert_int_eq(s.updates, 1);
    ck_assert_int_eq(s.errors, 0);
    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert_uint_eq(st.watches, 1); /* the snapshot and the live events came on one stream */
    store_matches_list(inf);
    kube_informer_stop(inf);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("kube_client_sim");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_kube_client_sim_lease_conflicts_and_typed_errors);
    tcase_add_test(tc, test_kube_client_sim_retry_after_honoured);
    tcase_add_test(tc, test_kube_client_sim_token_rotation);
    tcase_add_test(tc, test_kube_client_sim_paged_list);
    tcase_add_test(tc, test_kube_client_sim_dropped_watches_lose_and_repeat_nothing);
    tcase_add_test(tc, test_kube_client_sim_bookmarks_and_relist_after_410);
    tcase_add_test(tc, test_kube_client_sim_streaming_list);
    suite_add_tcase(s, tc);
    return s;
}
