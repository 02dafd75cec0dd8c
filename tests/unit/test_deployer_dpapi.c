/* The Data Plane API target: reading our header back from a stored raw config, the reload object, and a
 * push against a scripted server (version conflict re-read and retried, Reload-Id polled, basic auth with
 * the password file read at use), and a push refused by the fence before any request. */
#include "tests/unit/unit.h"
#include "tests/unit/kube_fake_server.h"
#include "tests/unit/loop_spin.h"
#include "workers/deployer/target_dpapi.h"

#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#define CK "sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(test_dpapi_header_found_among_the_servers_top_comments)
{
    char ck[RUNDIR_CHECKSUM_BUF];
    const char *stored = "# _md5hash=abc\n# _version=4\n# Dataplaneapi managed File\n"
                         "# haproxy-template-ic term=a#1 generation=3 checksum=" CK "\nglobal\n";
    ck_assert_int_eq(target_dpapi_find_header(stored, strlen(stored), ck), 0);
    ck_assert_str_eq(ck, CK);
    const char *none = "# _md5hash=abc\n# _version=4\nglobal\n  daemon\n";
    ck_assert_int_eq(target_dpapi_find_header(none, strlen(none), ck), 0);
    ck_assert_str_eq(ck, "");
    /* below the first section: not a header of ours, only text that looks like it */
    const char *late = "global\n# haproxy-template-ic term=a#1 generation=3 checksum=" CK "\n";
    ck_assert_int_eq(target_dpapi_find_header(late, strlen(late), ck), 0);
    ck_assert_str_eq(ck, "");
    const char *bad = "# _version=4\n# haproxy-template-ic term=a#1 generation=3 checksum=md5:zz\nglobal\n";
    ck_assert_int_eq(target_dpapi_find_header(bad, strlen(bad), ck), -1);
}
END_TEST

START_TEST(test_dpapi_reload_status_parsed)
{
    char st[32];
    const char *ok = "{\"id\":\"2026-01-01-3\",\"status\":\"succeeded\",\"reload_timestamp\":1}\n";
    ck_assert_int_eq(target_dpapi_reload_status(ok, strlen(ok), st, sizeof(st)), 0);
    ck_assert_str_eq(st, "succeeded");
    const char *pending = "{\"status\":\"in_progress\"}";
    ck_assert_int_eq(target_dpapi_reload_status(pending, strlen(pending), st, sizeof(st)), 0);
    ck_assert_str_eq(st, "in_progress");
    ck_assert_int_eq(target_dpapi_reload_status("[]", 2, st, sizeof(st)), -1);
    ck_assert_int_eq(target_dpapi_reload_status("{\"status\":3}", 12, st, sizeof(st)), -1);
    ck_assert_int_eq(target_dpapi_reload_status("not json", 8, st, sizeof(st)), -1);
}
END_TEST

START_TEST(test_dpapi_storage_names_the_api_would_rename_are_refused)
{
    ck_assert_int_eq(target_dpapi_storage_name_ok(RUNDIR_KIND_MAP, "hosts.map"), 1);
    ck_assert_int_eq(target_dpapi_storage_name_ok(RUNDIR_KIND_MAP, "hosts"), 0);      /* .map appended */
    ck_assert_int_eq(target_dpapi_storage_name_ok(RUNDIR_KIND_MAP, "a.b.map"), 0);    /* a.b -> a_b */
    ck_assert_int_eq(target_dpapi_storage_name_ok(RUNDIR_KIND_CERT, "tls_example-1.pem"), 1);
    ck_assert_int_eq(target_dpapi_storage_name_ok(RUNDIR_KIND_CERT, "tls.example.com.pem"), 0);
    ck_assert_int_eq(target_dpapi_storage_name_ok(RUNDIR_KIND_FILE, "errors 503.http"), 0);
    ck_assert_int_eq(target_dpapi_storage_name_ok(RUNDIR_KIND_FILE, "page503"), 1);
    ck_assert_int_eq(target_dpapi_storage_name_ok(RUNDIR_KIND_FILE, ""), 0);
}
END_TEST

/* ---- pushes on a loop against the scripted server ---- */

static char root[256], run_dir[PATH_MAX], pwfile[PATH_MAX];
static struct creds *creds;
static struct fence fence;
static struct deploy_gate gate;
static struct audit aud;
static int64_t fake_now;
static int pushed;
static struct target_result res;
static char res_error[1024];

static int64_t fake_mono(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static int64_t fake_gap(void *ctx)
{
    (void)ctx;
    return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    remove(p);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(root, sizeof(root), "%s", "/tmp/htic-dpapi-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(run_dir, sizeof(run_dir), "%s/run", root);
    ck_assert_int_eq(mkdir(run_dir, 0700), 0);
    snprintf(pwfile, sizeof(pwfile), "%s/password", root);
    write_text(pwfile, "pw-one\n");
    creds = creds_new_file("admin", pwfile);
    ck_assert_ptr_nonnull(creds);
    fence_init(&fence);
    fence_update(&fence, "pod-a#1", 1000000, 0);
    deploy_gate_init(&gate, &fence);
    gate.mono_ms = fake_mono;
    gate.boot_minus_mono_ms = fake_gap;
    fake_now = 1000;
    ck_assert_int_eq(audit_open(&aud, run_dir), 0);
    pushed = 0;
    memset(&res, 0, sizeof(res));
}

static void teardown(void)
{
    audit_close(&aud);
    creds_free(creds);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_pushed(struct target *t, const struct target_result *r, void *data)
{
    (void)t, (void)data;
    res = *r;
    snprintf(res_error, sizeof(res_error), "%s", r->error ? r->error : "");
    res.error = res_error;
    pushed++;
}

static int is_pushed(void *arg)
{
    (void)arg;
    return pushed > 0;
}

static struct target *make(uv_loop_t *loop, int port, char ck[RUNDIR_CHECKSUM_BUF])
{
    const char *cfg = "global\n  daemon\n";
    struct rundir_file f[1] = {{RUNDIR_KIND_CONFIG, "haproxy.cfg", cfg, strlen(cfg)}};
    struct err e = {0};
    ck_assert_int_ge(rundir_write(run_dir, f, 1, ck, &e), 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    struct target_dpapi_opts o = {.name = "pod-a", .url = url, .creds = creds,
                                  .run_dir = run_dir};
    struct target *t = target_dpapi_new(loop, &o, &gate, &aud);
    ck_assert_ptr_nonnull(t);
    return t;
}

static void finish(uv_loop_t *loop, struct target *t)
{
    t->ops->free(t);
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

START_TEST(test_dpapi_push_retries_a_conflict_and_waits_for_the_reload)
{
    struct fake_server srv;
    fake_init(&srv);
    fake_reply(&srv, 200, "Configuration-Version: 7\r\n", "# _md5hash=x\n# _version=7\nglobal\n");
    fake_reply(&srv, 409, "", "{\"code\":409,\"message\":\"version mismatch\"}");
    fake_reply(&srv, 200, "", "8\n");
    fake_reply(&srv, 202, "Reload-Id: 2026-01-01-3\r\n", "stored\n");
    fake_reply(&srv, 200, "", "{\"status\":\"in_progress\"}");
    fake_reply(&srv, 200, "", "{\"id\":\"2026-01-01-3\",\"status\":\"succeeded\"}");
    fake_start(&srv);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char ck[RUNDIR_CHECKSUM_BUF];
    struct target *t = make(&loop, srv.port, ck);
    struct target_push p = {.term = "pod-a#1", .generation = 5, .checksum = ck, .from = "", .reason = "change",
                            .deadline_ms = INT64_MAX};
    ck_assert_int_eq(t->ops->push(t, &p, on_pushed, NULL), 0);
    /* the password is read at each request: a rotation between two requests is used by the next one */
    write_text(pwfile, "pw-two\n");
    loop_spin(&loop, 10000, is_pushed, NULL);
    ck_assert_int_eq(pushed, 1);
    ck_assert_msg(res.ok, "%s", res.error);
    ck_assert_int_eq(res.reloaded, 1);
    ck_assert_str_eq(res.running, ck);
    ck_assert_int_eq(fake_nreq(&srv), 6);
    ck_assert_str_eq(srv.reqs[0].method, "GET");
    ck_assert_str_eq(srv.reqs[0].target, "/v3/services/haproxy/configuration/raw");
    ck_assert_str_eq(srv.reqs[1].target, "/v3/services/haproxy/configuration/raw?version=7");
    ck_assert_str_eq(srv.reqs[2].target, "/v3/services/haproxy/configuration/version");
    ck_assert_str_eq(srv.reqs[3].target, "/v3/services/haproxy/configuration/raw?version=8");
    ck_assert_str_eq(srv.reqs[5].target, "/v3/services/haproxy/reloads/2026-01-01-3");
    ck_assert_ptr_nonnull(strstr(srv.reqs[3].body, "# haproxy-template-ic term=pod-a#1 generation=5 checksum="));
    ck_assert_ptr_nonnull(strstr(srv.reqs[3].headers, "Content-Type: text/plain"));
    /* "admin:pw-one" and "admin:pw-two" in base64 */
    ck_assert_ptr_nonnull(strstr(srv.reqs[0].headers, "Authorization: Basic YWRtaW46cHctb25l"));
    ck_assert_ptr_nonnull(strstr(srv.reqs[5].headers, "Authorization: Basic YWRtaW46cHctdHdv"));
    finish(&loop, t);
    fake_stop(&srv);
}
END_TEST

START_TEST(test_dpapi_push_past_the_fence_sends_nothing)
{
    struct fake_server srv;
    fake_init(&srv);
    fake_start(&srv);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char ck[RUNDIR_CHECKSUM_BUF];
    struct target *t = make(&loop, srv.port, ck);
    fake_now = 2000000; /* past the fence */
    struct target_push p = {.term = "pod-a#1", .generation = 5, .checksum = ck, .from = "", .reason = "change",
                            .deadline_ms = INT64_MAX};
    ck_assert_int_eq(t->ops->push(t, &p, on_pushed, NULL), 0);
    loop_spin(&loop, 2000, is_pushed, NULL);
    ck_assert_int_eq(pushed, 1);
    ck_assert_int_eq(res.ok, 0);
    ck_assert_ptr_nonnull(strstr(res.error, "fence"));
    ck_assert_int_eq(fake_nreq(&srv), 0);
    finish(&loop, t);
    fake_stop(&srv);
}
END_TEST

START_TEST(test_dpapi_refused_reload_is_a_failed_push)
{
    struct fake_server srv;
    fake_init(&srv);
    fake_reply(&srv, 200, "Configuration-Version: 2\r\n", "# _version=2\nglobal\n");
    fake_reply(&srv, 202, "Reload-Id: 2026-01-01-0\r\n", "stored\n");
    fake_reply(&srv, 200, "", "{\"id\":\"2026-01-01-0\",\"status\":\"failed\",\"response\":\"[ALERT] ...\"}");
    fake_start(&srv);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char ck[RUNDIR_CHECKSUM_BUF];
    struct target *t = make(&loop, srv.port, ck);
    struct target_push p = {.term = "pod-a#1", .generation = 5, .checksum = ck, .from = "", .reason = "change",
                            .deadline_ms = INT64_MAX};
    ck_assert_int_eq(t->ops->push(t, &p, on_pushed, NULL), 0);
    loop_spin(&loop, 10000, is_pushed, NULL);
    ck_assert_int_eq(pushed, 1);
    ck_assert_int_eq(res.ok, 0);
    ck_assert_int_eq(res.reloaded, 1);
    ck_assert_ptr_nonnull(strstr(res.error, "refused"));
    ck_assert_str_eq(res.running, ""); /* the old config was none of ours */
    finish(&loop, t);
    fake_stop(&srv);
}
END_TEST

START_TEST(test_dpapi_credentials_taken_from_a_secret_without_quoting_values_in_errors)
{
    char user[CREDS_USER_MAX], pw[CREDS_PASSWORD_MAX];
    struct err e = {0};
    /* "ops" and "p4ss\n" (a value written by echo) */
    struct json_object *ok = json_tokener_parse("{\"data\":{\"u\":\"b3Bz\",\"p\":\"cDRzcwo=\"}}");
    ck_assert_int_eq(creds_from_secret(ok, "u", "p", user, sizeof(user), pw, sizeof(pw), &e), 0);
    ck_assert_str_eq(user, "ops");
    ck_assert_str_eq(pw, "p4ss");
    ck_assert_int_eq(creds_from_secret(ok, "u", "password", user, sizeof(user), pw, sizeof(pw), &e), -1);
    ck_assert_str_eq(e.msg, "has no key password");
    json_object_put(ok);
    struct json_object *bad = json_tokener_parse("{\"data\":{\"u\":\"b3Bz\",\"p\":\"c2VjcmV0!!\"}}");
    ck_assert_int_eq(creds_from_secret(bad, "u", "p", user, sizeof(user), pw, sizeof(pw), &e), -1);
    ck_assert_ptr_null(strstr(e.msg, "c2VjcmV0"));
    ck_assert_ptr_nonnull(strstr(e.msg, "key p"));
    json_object_put(bad);
    struct json_object *none = json_tokener_parse("{\"metadata\":{}}");
    ck_assert_int_eq(creds_from_secret(none, "u", "p", user, sizeof(user), pw, sizeof(pw), &e), -1);
    ck_assert_str_eq(e.msg, "has no data");
    json_object_put(none);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("deployer_dpapi");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_dpapi_header_found_among_the_servers_top_comments);
    tcase_add_test(tc, test_dpapi_reload_status_parsed);
    tcase_add_test(tc, test_dpapi_storage_names_the_api_would_rename_are_refused);
    tcase_add_test(tc, test_dpapi_credentials_taken_from_a_secret_without_quoting_values_in_errors);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("loop");
    tcase_add_checked_fixture(tl, setup, teardown);
    tcase_set_timeout(tl, 30);
    tcase_add_test(tl, test_dpapi_push_retries_a_conflict_and_waits_for_the_reload);
    tcase_add_test(tl, test_dpapi_push_past_the_fence_sends_nothing);
    tcase_add_test(tl, test_dpapi_refused_reload_is_a_failed_push);
    suite_add_tcase(s, tl);
    return s;
}
