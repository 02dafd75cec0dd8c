/* The client over https: a socat TLS terminator (certificate made with openssl for 127.0.0.1) in front of
 * the scripted server. Proves the CA from kubeconfig is used and verified, the bearer token from tokenFile
 * is sent, re-read after a 401 and the request retried once, and that a server certificate signed by an
 * unknown CA fails as a transport error. */
#include "tests/unit/unit.h"

#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/unit/kube_fake_server.h"

#include "common/kube/kube_client.h"

extern char **environ;

static uv_loop_t loop;
static struct fake_server srv;
static char dir[256];
static pid_t socat_pid, mtls_pid;
static int tls_port, mtls_port;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* Starts socat terminating TLS (server certificate cert0) on a free port and forwarding to the fake. */
static void start_socat(const char *opts, pid_t *out_pid, int *out_port)
{
    char spec[1400], target[128];
    *out_pid = 0;
    for (int attempt = 0; attempt < 5 && !*out_pid; attempt++) {
        int port = free_port();
        snprintf(spec, sizeof(spec), "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,%s,cert=%s/cert0.pem,key=%s/key0.pem",
                 port, opts, dir, dir);
        snprintf(target, sizeof(target), "TCP:127.0.0.1:%d", srv.port);
        char *argv[] = {"socat", spec, target, NULL};
        pid_t pid;
        ck_assert_int_eq(posix_spawnp(&pid, "socat", NULL, NULL, argv, environ), 0);
        for (int i = 0; i < 100 && !port_open(port); i++) fake_sleep_ms(20);
        if (port_open(port)) {
            *out_pid = pid;
            *out_port = port;
        } else {
            kill(pid, SIGTERM);
            waitpid(pid, NULL, 0);
        }
    }
    ck_assert_int_ne(*out_pid, 0);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "%s/kubetls-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    for (int i = 0; i < 2; i++) /* the server's CA, and an unrelated one */
        sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=kube-test "
           "-addext subjectAltName=IP:127.0.0.1,DNS:api.kube.test -keyout '%s/key%d.pem' -out '%s/cert%d.pem' 2>/dev/null",
           dir, i, dir, i);
    uv_loop_init(&loop);
    fake_init(&srv);
    start_socat("verify=0", &socat_pid, &tls_port);
    /* a second terminator that demands a client certificate signed by "CA 1" (cert1 is self-signed) */
    char opts[700];
    snprintf(opts, sizeof(opts), "verify=1,cafile=%s/cert1.pem", dir);
    start_socat(opts, &mtls_pid, &mtls_port);
    ck_assert_int_ne(socat_pid, 0);
}

static void teardown(void)
{
    uv_run(&loop, UV_RUN_DEFAULT);
    pid_t *pids[] = {&socat_pid, &mtls_pid};
    for (int i = 0; i < 2; i++)
        if (*pids[i]) {
            kill(*pids[i], SIGTERM);
            waitpid(*pids[i], NULL, 0);
            *pids[i] = 0;
        }
    fake_stop(&srv);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    sh("rm -rf '%s'", dir);
}

static struct kube_config *load_sni(int ca_index, const char *sni)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/kubeconfig", dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "current-context: t\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:%d\n"
            "    certificate-authority: cert%d.pem\n%s%s%s"
            "contexts:\n- name: t\n  context: {cluster: c, user: u}\n"
            "users:\n- name: u\n  user: {tokenFile: token}\n",
            tls_port, ca_index, sni ? "    tls-server-name: " : "", sni ? sni : "", sni ? "\n" : "");
    fclose(f);
    sh("printf 'tok-1\\n' > '%s/token'", dir);
    struct kube_config_opts o = {.kubeconfig = path};
    struct kube_config *c;
    struct err e;
    ck_assert_msg(kube_config_load(&o, &c, &e) == 0, "%s", e.msg);
    return c;
}

static struct kube_config *load(int ca_index) { return load_sni(ca_index, NULL); }

START_TEST(test_kube_client_tls_server_name_override)
{
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\"}");
    fake_start(&srv);
    struct kube_config *cfg = load_sni(0, "api.kube.test");
    char want[64];
    snprintf(want, sizeof(want), "https://api.kube.test:%d", tls_port);
    ck_assert_str_eq(cfg->server, want);
    struct kube_client *cli;
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &cli, NULL), 0);
    struct kube_response r;
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/a", NULL, 5000, &r), 0);
    kube_response_free(&r);
    kube_client_close(cli);
    uv_run(&loop, UV_RUN_DEFAULT);
    kube_config_free(cfg);
    /* a name the certificate does not carry fails verification */
    cfg = load_sni(0, "other.kube.test");
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &cli, NULL), 0);
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/a", NULL, 5000, &r), -1);
    ck_assert_int_eq(r.err, KUBE_ERR_TRANSPORT);
    kube_response_free(&r);
    kube_client_close(cli);
    uv_run(&loop, UV_RUN_DEFAULT);
    kube_config_free(cfg);
    ck_assert_int_eq(fake_nreq(&srv), 1);
}
END_TEST

START_TEST(test_kube_client_tls_token_reread_after_401)
{
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\"}");
    fake_reply(&srv, 401, "", "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401,\"message\":\"Unauthorized\"}");
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\"}");
    fake_start(&srv);
    struct kube_config *cfg = load(0);
    struct kube_client *cli;
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &cli, NULL), 0);
    struct kube_response r;
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/a", NULL, 5000, &r), 0);
    ck_assert_int_eq(r.attempts, 1);
    kube_response_free(&r);
    sh("printf 'tok-2' > '%s/token'", dir); /* rotated; the cached token is still fresh */
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/b", NULL, 5000, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.attempts, 2);
    kube_response_free(&r);
    ck_assert_int_eq(fake_nreq(&srv), 3);
    ck_assert_ptr_nonnull(strstr(srv.reqs[0].headers, "\r\nAuthorization: Bearer tok-1\r\n"));
    ck_assert_ptr_nonnull(strstr(srv.reqs[1].headers, "\r\nAuthorization: Bearer tok-1\r\n"));
    ck_assert_ptr_nonnull(strstr(srv.reqs[2].headers, "\r\nAuthorization: Bearer tok-2\r\n"));
    kube_client_close(cli);
    uv_run(&loop, UV_RUN_DEFAULT);
    kube_config_free(cfg);
}
END_TEST

START_TEST(test_kube_client_tls_unknown_ca_fails)
{
    fake_start(&srv);
    struct kube_config *cfg = load(1);
    struct kube_client *cli;
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &cli, NULL), 0);
    struct kube_response r;
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/a", NULL, 5000, &r), -1);
    ck_assert_int_eq(r.err, KUBE_ERR_TRANSPORT);
    ck_assert_ptr_nonnull(strcasestr(r.message, "certificate"));
    kube_response_free(&r);
    ck_assert_int_eq(fake_nreq(&srv), 0); /* nothing, the token least of all, went past the handshake */
    kube_client_close(cli);
    uv_run(&loop, UV_RUN_DEFAULT);
    kube_config_free(cfg);
}
END_TEST


/* A kubeconfig whose user runs ./plugin.sh (relative to the kubeconfig) as an exec credential plugin. */
static struct kube_config *load_exec(const char *script)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/plugin.sh", dir);
    FILE *f = fopen(path, "w");
    fputs(script, f);
    fclose(f);
    chmod(path, 0700);
    snprintf(path, sizeof(path), "%s/kubeconfig-exec", dir);
    f = fopen(path, "w");
    fprintf(f,
            "current-context: t\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:%d\n"
            "    certificate-authority: cert0.pem\n"
            "contexts:\n- name: t\n  context: {cluster: c, user: u}\n"
            "users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
            "      command: ./plugin.sh\n      interactiveMode: Never\n      env: [{name: DIR, value: '%s'}]\n",
            tls_port, dir);
    fclose(f);
    struct kube_config_opts o = {.kubeconfig = path};
    struct kube_config *c;
    struct err e;
    ck_assert_msg(kube_config_load(&o, &c, &e) == 0, "%s", e.msg);
    return c;
}

static const char PLUGIN[] =
    "#!/bin/sh\n"
    "echo run >> \"$DIR/runs\"\n"
    "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$DIR/exec-info\"\n"
    "printf '{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
    "\"status\":{\"token\":\"%s\"}}' \"$(cat \"$DIR/exec-token\")\"\n";

static int count_lines(const char *name)
{
    char path[600], line[64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof(line), f)) n++;
    if (f) fclose(f);
    return n;
}

START_TEST(test_kube_client_tls_exec_plugin_token)
{
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\"}");
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\"}");
    fake_reply(&srv, 401, "", "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401,\"message\":\"Unauthorized\"}");
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\"}");
    fake_start(&srv);
    sh("printf exec-1 > '%s/exec-token'", dir);
    struct kube_config *cfg = load_exec(PLUGIN);
    struct kube_client *cli;
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &cli, NULL), 0);
    struct kube_response r;
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/a", NULL, 10000, &r), 0);
    kube_response_free(&r);
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/b", NULL, 10000, &r), 0); /* cached credential */
    kube_response_free(&r);
    ck_assert_int_eq(count_lines("runs"), 1);
    sh("printf exec-2 > '%s/exec-token'", dir);
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/c", NULL, 10000, &r), 0); /* 401: the plugin runs again */
    ck_assert_int_eq(r.attempts, 2);
    kube_response_free(&r);
    ck_assert_int_eq(count_lines("runs"), 2);
    ck_assert_int_eq(fake_nreq(&srv), 4);
    ck_assert_ptr_nonnull(strstr(srv.reqs[0].headers, "\r\nAuthorization: Bearer exec-1\r\n"));
    ck_assert_ptr_nonnull(strstr(srv.reqs[2].headers, "\r\nAuthorization: Bearer exec-1\r\n"));
    ck_assert_ptr_nonnull(strstr(srv.reqs[3].headers, "\r\nAuthorization: Bearer exec-2\r\n"));
    char info[600];
    snprintf(info, sizeof(info), "grep -q '\"kind\":\"ExecCredential\"' '%s/exec-info'", dir);
    sh("%s", info);
    kube_client_close(cli);
    uv_run(&loop, UV_RUN_DEFAULT);
    kube_config_free(cfg);
}
END_TEST

START_TEST(test_kube_client_tls_exec_plugin_failure)
{
    fake_start(&srv);
    struct kube_config *cfg = load_exec("#!/bin/sh\necho 'no credentials for you' >&2\nexit 3\n");
    struct kube_client *cli;
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &cli, NULL), 0);
    struct kube_response r;
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/a", NULL, 10000, &r), -1);
    ck_assert_int_eq(r.err, KUBE_ERR_UNAUTHORIZED);
    ck_assert_ptr_nonnull(strstr(r.message, "failed with exit code 3"));
    kube_response_free(&r);
    ck_assert_int_eq(fake_nreq(&srv), 0);
    /* closing while a plugin runs: it is killed and nothing leaks */
    struct kube_config *slow = load_exec("#!/bin/sh\nsleep 5\n");
    struct kube_client *c2;
    ck_assert_int_eq(kube_client_new(&loop, slow, NULL, &c2, NULL), 0);
    ck_assert_int_eq(kube_request(c2, "GET", "/a", NULL, 10000, NULL, NULL, NULL), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    kube_client_close(c2);
    kube_client_close(cli);
    uint64_t t0 = uv_hrtime();
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_uint_lt((uv_hrtime() - t0) / 1000000, 2000);
    kube_config_free(cfg);
    kube_config_free(slow);
}
END_TEST


START_TEST(test_kube_client_tls_client_certificate)
{
    fake_reply(&srv, 200, "", "{\"kind\":\"Lease\"}");
    fake_start(&srv);
    char path[600];
    snprintf(path, sizeof(path), "%s/kubeconfig-mtls", dir);
    /* certificate as -data (base64 of the PEM), key as a file relative to the kubeconfig */
    sh("cd '%s' && { printf 'current-context: t\\nclusters:\\n- name: c\\n  cluster:\\n    server: https://127.0.0.1:%d\\n"
       "    certificate-authority: cert0.pem\\ncontexts:\\n- name: t\\n  context: {cluster: c, user: u}\\n"
       "users:\\n- name: u\\n  user:\\n    client-key: key1.pem\\n    client-certificate-data: '; "
       "base64 -w0 cert1.pem; printf '\\n'; } > kubeconfig-mtls", dir, mtls_port);
    struct kube_config_opts o = {.kubeconfig = path};
    struct kube_config *cfg;
    struct err e;
    ck_assert_msg(kube_config_load(&o, &cfg, &e) == 0, "%s", e.msg);
    struct kube_client *cli;
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &cli, NULL), 0);
    struct kube_response r;
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/a", NULL, 5000, &r), 0);
    kube_response_free(&r);
    kube_client_close(cli);
    uv_run(&loop, UV_RUN_DEFAULT);
    kube_config_free(cfg);
    /* without the certificate the terminator refuses the handshake */
    cfg = load(0);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", mtls_port);
    free(cfg->server);
    cfg->server = strdup(url);
    ck_assert_int_eq(kube_client_new(&loop, cfg, NULL, &cli, NULL), 0);
    ck_assert_int_eq(kube_request_sync(cli, "GET", "/a", NULL, 5000, &r), -1);
    ck_assert_int_eq(r.err, KUBE_ERR_TRANSPORT);
    kube_response_free(&r);
    kube_client_close(cli);
    uv_run(&loop, UV_RUN_DEFAULT);
    kube_config_free(cfg);
    ck_assert_int_eq(fake_nreq(&srv), 1);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("kube_client_tls");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_kube_client_tls_token_reread_after_401);
    tcase_add_test(tc, test_kube_client_tls_unknown_ca_fails);
    tcase_add_test(tc, test_kube_client_tls_server_name_override);
    tcase_add_test(tc, test_kube_client_tls_exec_plugin_token);
    tcase_add_test(tc, test_kube_client_tls_exec_plugin_failure);
    tcase_add_test(tc, test_kube_client_tls_client_certificate);
    suite_add_tcase(s, tc);
    return s;
}
