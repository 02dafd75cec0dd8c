/* kubeconfig and in-cluster loading: merging of several files (first definition wins), relative paths,
 * contexts, TLS and credential fields and their conflicts, plain-http credential dropping, token file
 * re-reading and rotation, and the order of sources in auto mode. */
#include "tests/unit/unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/kube/kube_config.h"

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "%s/kubecfg-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("POD_NAMESPACE");
    setenv("HOME", dir, 1);
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    mkdir(p, 0700);
    *slash = '/';
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* A kubeconfig with one cluster c, one user u and the current context x joining them. */
static const char *write_one(const char *name, const char *cluster, const char *user)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "current-context: x\nclusters:\n- name: c\n  cluster: %s\ncontexts:\n- name: x\n"
             "  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: %s\n", cluster, user);
    return write_file(name, text);
}

static struct kube_config *load_ok(const struct kube_config_opts *o)
{
    struct kube_config *c = NULL;
    struct err e;
    err_clear(&e);
    int rc = kube_config_load(o, &c, &e);
    ck_assert_msg(rc == 0, "load failed: %s", e.msg);
    return c;
}

static void load_fails(const struct kube_config_opts *o, const char *needle)
{
    struct kube_config *c = NULL;
    struct err e;
    err_clear(&e);
    ck_assert_int_eq(kube_config_load(o, &c, &e), -1);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "error \"%s\" lacks \"%s\"", e.msg, needle);
}

/* "-----BEGIN CERTIFICATE-----\nabc\n" */
#define PEM_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmFiYwo="

START_TEST(test_kube_config_kubeconfig_fields)
{
    write_file("certs/ca.pem", "CA");
    const char *p = write_file("kc/config",
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        "clusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/k8s/clusters/c-1/\n"
        "    certificate-authority: ../certs/ca.pem\n"
        "- name: c2\n  cluster:\n    server: https://[::1]:6443\n    certificate-authority-data: " PEM_B64 "\n"
        "contexts:\n- name: dev\n  context: {cluster: c1, user: u1, namespace: team-a}\n"
        "- name: other\n  context: {cluster: c2, user: u2}\n"
        "users:\n- name: u1\n  user:\n    token: static-token\n"
        "- name: u2\n  user:\n    client-certificate-data: " PEM_B64 "\n    client-key: /abs/key.pem\n");
    struct kube_config_opts o = {.kubeconfig = p};
    struct kube_config *c = load_ok(&o);
    ck_assert_str_eq(c->server, "https://10.0.0.1:6443/k8s/clusters/c-1");
    ck_assert_int_eq(c->https, 1);
    ck_assert_str_eq(c->namespace, "team-a");
    char want[600];
    snprintf(want, sizeof(want), "%s/kc/../certs/ca.pem", dir);
    ck_assert_str_eq(c->ca_file, want);
    ck_assert_str_eq(kube_config_token(c, 1000), "static-token");
    ck_assert_int_eq(kube_config_token_invalidate(c), 0);
    ck_assert_ptr_nonnull(strstr(c->source, "context dev"));
    kube_config_free(c);

    o.context = "other";
    c = load_ok(&o);
    ck_assert_str_eq(c->server, "https://[::1]:6443");
    ck_assert_str_eq(c->namespace, "default");
    ck_assert_uint_eq(c->ca_pem_len, 32);
    ck_assert_int_eq(memcmp(c->ca_pem, "-----BEGIN CERTIFICATE-----\nabc\n", 32), 0);
    ck_assert_int_eq(memcmp(c->client_cert_pem, "-----BEGIN", 10), 0);
    ck_assert_str_eq(c->client_key_file, "/abs/key.pem");
    ck_assert_ptr_null(kube_config_token(c, 1000));
    kube_config_free(c);

    o.context = "missing";
    load_fails(&o, "context \"missing\" not found");
}
END_TEST

START_TEST(test_kube_config_merges_files_first_wins)
{
    const char *a = write_file("a.yaml",
        "clusters:\n- name: shared\n  cluster: {server: 'https://first:1'}\n"
        "users:\n- name: me\n  user: {token: from-a}\n");
    const char *b = write_file("b.yaml",
        "current-context: ctx\n"
        "clusters:\n- name: shared\n  cluster: {server: 'https://second:2', insecure-skip-tls-verify: true}\n"
        "contexts:\n- name: ctx\n  context: {cluster: shared, user: me}\n"
        "users:\n- name: me\n  user: {token: from-b}\n");
    char env[1200];
    snprintf(env, sizeof(env), "%s/missing.yaml:%s:%s:%s", dir, a, b, a);
    setenv("KUBECONFIG", env, 1);
    struct kube_config *c = load_ok(NULL);
    ck_assert_str_eq(c->server, "https://first:1");
    ck_assert_int_eq(c->insecure_skip_tls_verify, 0); /* the later definition is discarded whole */
    ck_assert_str_eq(kube_config_token(c, 1), "from-a");
    kube_config_free(c);
}
END_TEST

START_TEST(test_kube_config_rejects_conflicts)
{
    struct {
        const char *user;
        const char *cluster;
        const char *needle;
    } cases[] = {
        {"{token: t, username: u, password: p}", "{server: 'https://h'}", "more than one authentication method"},
        {"{client-certificate: /c.pem}", "{server: 'https://h'}", "client-certificate and client-key"},
        {"{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}}", "{server: 'https://h'}",
         "interactiveMode must be specified for u to use exec authentication plugin"},
        {"{exec: {command: aws}}", "{server: 'https://h'}", "exec plugin: apiVersion must be specified"},
        {"{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws, interactiveMode: Always}}",
         "{server: 'https://h'}", "requires interactive mode"},
        {"{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws, env: [{name: X}]}}",
         "{server: 'https://h'}", "env[0] needs a name and a value"},
        {"{auth-provider: {name: gcp}}", "{server: 'https://h'}", "auth-provider"},
        {"{token: t}", "{server: 'https://h', insecure-skip-tls-verify: true, certificate-authority: /ca}",
         "insecure flag is not allowed"},
        {"{token: t}", "{server: 'ftp://h'}", "must start with https:// or http://"},
        {"{token: t}", "{certificate-authority: /ca}", "has no server"},
        {"{token: t}", "{server: 'https://h', certificate-authority-data: '!!!'}", "not valid base64"},
        {"{token: t}", "{server: 'https://h', proxy-url: 'ftp://p'}", "proxy-url \"ftp://p\" must be"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kube_config_opts o = {.kubeconfig = write_one("bad.yaml", cases[i].cluster, cases[i].user)};
        load_fails(&o, cases[i].needle);
        load_fails(&o, "bad.yaml"); /* names the file */
    }
    struct kube_config_opts o = {.kubeconfig = write_file("nocur.yaml", "clusters: []\n")};
    load_fails(&o, "no current-context");
    o.kubeconfig = write_file("broken.yaml", "clusters:\n  - name: [\n");
    struct kube_config *c = NULL;
    struct err e;
    err_clear(&e);
    ck_assert_int_eq(kube_config_load(&o, &c, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.file, "broken.yaml"));
    ck_assert_int_gt(e.line, 0);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/nope.yaml", dir);
    o.kubeconfig = missing;
    load_fails(&o, "no such file");
}
END_TEST

START_TEST(test_kube_config_plain_http_sends_no_credentials)
{
    write_file("tok", "file-token\n");
    char text[1024];
    snprintf(text, sizeof(text),
             "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:8080'}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
             "users:\n- name: u\n  user: {tokenFile: %s/tok}\n", dir);
    struct kube_config_opts o = {.kubeconfig = write_file("http.yaml", text)};
    struct kube_config *c = load_ok(&o);
    ck_assert_int_eq(c->https, 0);
    ck_assert_ptr_null(kube_config_token(c, 1));
    kube_config_free(c);
}
END_TEST

START_TEST(test_kube_config_in_cluster_and_token_rotation)
{
    write_file("sa/token", "  tok-1\n");
    write_file("sa/namespace", "prod\n");
    write_file("sa/ca.crt", "CA");
    char sa[600];
    snprintf(sa, sizeof(sa), "%s/sa", dir);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    struct kube_config_opts o = {.service_account_dir = sa};
    struct kube_config *c = load_ok(&o); /* auto: no KUBECONFIG, in-cluster possible */
    ck_assert_str_eq(c->server, "https://[fd00::1]:443");
    ck_assert_str_eq(c->namespace, "prod");
    ck_assert_str_eq(c->source, "in-cluster");
    ck_assert_ptr_nonnull(strstr(c->ca_file, "sa/ca.crt"));
    ck_assert_str_eq(kube_config_token(c, 1000), "tok-1");

    write_file("sa/token", "tok-2");
    ck_assert_str_eq(kube_config_token(c, 1000 + KUBE_TOKEN_REFRESH_MS - 1), "tok-1"); /* cached */
    ck_assert_str_eq(kube_config_token(c, 1000 + KUBE_TOKEN_REFRESH_MS), "tok-2");   /* re-read */
    write_file("sa/token", "tok-3");
    ck_assert_int_eq(kube_config_token_invalidate(c), 1);                              /* after a 401 */
    ck_assert_str_eq(kube_config_token(c, 1000 + KUBE_TOKEN_REFRESH_MS + 1), "tok-3");
    write_file("sa/token", " \n");
    kube_config_token_invalidate(c);
    ck_assert_str_eq(kube_config_token(c, 1000 + KUBE_TOKEN_REFRESH_MS + 2), "tok-3"); /* empty keeps old */
    char tok[700];
    snprintf(tok, sizeof(tok), "%s/sa/token", dir);
    unlink(tok);
    kube_config_token_invalidate(c);
    ck_assert_str_eq(kube_config_token(c, 1000 + KUBE_TOKEN_REFRESH_MS + 3), "tok-3"); /* error keeps old */
    kube_config_free(c);

    write_file("sa/token", "t");
    setenv("POD_NAMESPACE", "from-env", 1);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    o.mode = KUBE_CONFIG_IN_CLUSTER;
    c = load_ok(&o);
    ck_assert_str_eq(c->server, "https://10.96.0.1:443");
    ck_assert_str_eq(c->namespace, "from-env");
    kube_config_free(c);

    unsetenv("KUBERNETES_SERVICE_HOST");
    load_fails(&o, "KUBERNETES_SERVICE_HOST");
}
END_TEST

START_TEST(test_kube_config_auto_order)
{
    char sa[600];
    snprintf(sa, sizeof(sa), "%s/sa", dir);
    struct kube_config_opts o = {.service_account_dir = sa};
    load_fails(&o, "no Kubernetes configuration");
    /* ~/.kube/config is the last resort */
    write_file(".kube/config", "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://home'}\n"
                               "contexts:\n- name: x\n  context: {cluster: c}\n");
    struct kube_config *c = load_ok(&o);
    ck_assert_str_eq(c->server, "https://home");
    kube_config_free(c);
    /* in-cluster comes before ~/.kube/config */
    write_file("sa/token", "t");
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    c = load_ok(&o);
    ck_assert_str_eq(c->source, "in-cluster");
    kube_config_free(c);
    /* only kubeconfig when asked */
    o.mode = KUBE_CONFIG_KUBECONFIG;
    c = load_ok(&o);
    ck_assert_str_eq(c->server, "https://home");
    kube_config_free(c);
}
END_TEST


START_TEST(test_kube_config_exec_plugin)
{
    struct kube_config_opts o = {.kubeconfig = write_file("exec.yaml",
        "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h:6443'}\n"
        "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
        "users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
        "      command: ./bin/plugin\n      args: [get-token, --cluster, c1]\n"
        "      env: [{name: MODE, value: test}]\n      interactiveMode: Never\n")};
    struct kube_config *c = load_ok(&o);
    ck_assert_ptr_nonnull(c->exec);
    char want[600];
    snprintf(want, sizeof(want), "%s/./bin/plugin", dir);
    ck_assert_str_eq(c->exec->command, want);
    ck_assert_str_eq(c->exec->argv[1], "get-token");
    ck_assert_str_eq(c->exec->argv[3], "c1");
    ck_assert_ptr_null(c->exec->argv[4]);
    ck_assert_str_eq(c->exec->env[0], "MODE=test");
    ck_assert_ptr_nonnull(strstr(c->exec->exec_info, "\"interactive\":false"));
    ck_assert_int_eq(kube_config_exec_needed(c, 1000), 1);
    ck_assert_ptr_null(kube_config_token(c, 1));

    struct {
        const char *out;
        const char *needle;
    } bad[] = {
        {"not json", "not a JSON object"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"status\":{\"token\":\"t\"}}",
         "configured to use API version client.authentication.k8s.io/v1, plugin returned version "
         "client.authentication.k8s.io/v1beta1"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\"}", "didn't return a status field"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{}}", "didn't return a token or cert/key pair"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"clientCertificateData\":\"C\"}}",
         "only certificate or key, not both"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"soon\"}}",
         "not RFC 3339"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct err e;
        err_clear(&e);
        ck_assert_int_eq(kube_config_exec_output(c, bad[i].out, strlen(bad[i].out), &e), -1);
        ck_assert_msg(strstr(e.msg, bad[i].needle) != NULL, "case %zu: %s", i, e.msg);
    }
    const char *good = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
                       "\"status\":{\"token\":\"exec-tok\",\"expirationTimestamp\":\"2030-01-01T01:00:00.5+01:00\"}}";
    ck_assert_int_eq(kube_config_exec_output(c, good, strlen(good), NULL), 0);
    ck_assert_int_eq(c->exec_expiry, 1893456000); /* 2030-01-01T00:00:00Z */
    ck_assert_int_eq(kube_config_exec_needed(c, 1893455999), 0);
    ck_assert_int_eq(kube_config_exec_needed(c, 1893456000), 1);
    ck_assert_str_eq(kube_config_token(c, 1), "exec-tok");
    ck_assert_int_eq(kube_config_token_invalidate(c), 1); /* a 401: run the plugin again */
    ck_assert_int_eq(kube_config_exec_needed(c, 1), 1);
    ck_assert_ptr_null(kube_config_token(c, 1));
    kube_config_free(c);

    /* never run for a plain http server */
    o.kubeconfig = write_file("exec-http.yaml",
        "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'http://h:8080'}\n"
        "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
        "users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: p}\n");
    c = load_ok(&o);
    ck_assert_ptr_null(c->exec);
    ck_assert_int_eq(kube_config_exec_needed(c, 1), 0);
    kube_config_free(c);
}
END_TEST

START_TEST(test_kube_config_base64)
{
    unsigned char out[64];
    ck_assert_int_eq(kube_base64_decode("aGVsbG8=", 8, out), 5);
    ck_assert_int_eq(memcmp(out, "hello", 5), 0);
    ck_assert_int_eq(kube_base64_decode("aGVs\nbG8", 8, out), 5);
    ck_assert_int_eq(kube_base64_decode("aGVsbG8=x", 9, out), -1);
    ck_assert_int_eq(kube_base64_decode("a", 1, out), -1);
    ck_assert_int_eq(kube_base64_decode("", 0, out), 0);
}
END_TEST

/* A YAML error says it is the kubeconfig's, with file, line and column in the message itself (the elector
 * logs only the message, under "cannot reach the Kubernetes API"). */
START_TEST(test_kube_config_yaml_error_names_file_line_column)
{
    struct kube_config_opts o = {.kubeconfig = write_file("broken.yaml", "clusters:\n- name: a\n  cluster: {server: [\n")};
    struct kube_config *c = NULL;
    struct err e;
    err_clear(&e);
    ck_assert_int_eq(kube_config_load(&o, &c, &e), -1);
    char want[700];
    snprintf(want, sizeof(want), "kubeconfig %s:4:1: invalid YAML", o.kubeconfig);
    ck_assert_msg(strstr(e.msg, want), "\"%s\" lacks \"%s\"", e.msg, want);
    ck_assert_int_eq(e.line, 4);
}
END_TEST

/* token (or another credential or cluster key) given a mapping was read as absent: requests went out
 * unauthenticated. */
START_TEST(test_kube_config_credential_of_wrong_type_refused)
{
    static const struct {
        const char *user, *cluster, *needle;
    } cases[] = {
        {"{token: {value: t}}", "{server: 'https://h'}", "user \"u\": token must be a string, got a mapping"},
        {"{tokenFile: [a, b]}", "{server: 'https://h'}", "user \"u\": tokenFile must be a string, got a list"},
        {"{client-key-data: {a: b}, client-certificate-data: x}", "{server: 'https://h'}", "client-key-data must be a string"},
        {"{token: t}", "{server: {url: 'https://h'}}", "cluster \"c\": server must be a string, got a mapping"},
        {"{token: t}", "{server: 'https://h', certificate-authority: [x]}", "certificate-authority must be a string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kube_config_opts o = {.kubeconfig = write_one("wrongtype.yaml", cases[i].cluster, cases[i].user)};
        load_fails(&o, cases[i].needle);
    }
    /* a token given as a plain scalar that YAML reads as a number is still a token */
    struct kube_config_opts o = {.kubeconfig = write_one("numtoken.yaml", "{server: 'https://h'}", "{token: 12345}")};
    struct kube_config *c = load_ok(&o);
    ck_assert_str_eq(kube_config_token(c, 1), "12345");
    kube_config_free(c);
}
END_TEST

/* 100 000 nested `[` (libyaml's cost grows with the flow depth on every token): refused at the depth bound,
 * as soon as the parser reaches it, with the kubeconfig's line. */
START_TEST(test_kube_config_deep_nesting_refused)
{
    size_t n = 100000;
    char *text = malloc(n + 16);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "clusters: ", 10);
    memset(text + 10, '[', n);
    memcpy(text + 10 + n, "\n", 2);
    const char *path = write_file("deep", text);
    free(text);
    struct kube_config_opts o = {.mode = KUBE_CONFIG_KUBECONFIG, .kubeconfig = path};
    load_fails(&o, "nested too deeply");
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("kube_config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_kube_config_kubeconfig_fields);
    tcase_add_test(tc, test_kube_config_merges_files_first_wins);
    tcase_add_test(tc, test_kube_config_rejects_conflicts);
    tcase_add_test(tc, test_kube_config_plain_http_sends_no_credentials);
    tcase_add_test(tc, test_kube_config_in_cluster_and_token_rotation);
    tcase_add_test(tc, test_kube_config_auto_order);
    tcase_add_test(tc, test_kube_config_base64);
    tcase_add_test(tc, test_kube_config_exec_plugin);
    tcase_add_test(tc, test_kube_config_deep_nesting_refused);
    tcase_add_test(tc, test_kube_config_yaml_error_names_file_line_column);
    tcase_add_test(tc, test_kube_config_credential_of_wrong_type_refused);
    suite_add_tcase(s, tc);
    return s;
}
