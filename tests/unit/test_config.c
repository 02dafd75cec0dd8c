/* Config loading: the leader-election rules (client-go's, the original controller's 13 scenarios and
 * more), environment defaults, and every error path of the loader (unknown key, wrong type, bad duration,
 * YAML syntax, empty and missing files, several errors at once), with file:line:col: path: message. */
#include "tests/unit/unit.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/config_test_util.h"

static char sa_file[64];

/* Every test starts without POD_* variables and with an absent service-account file. */
static void env_setup(void)
{
    unsetenv("POD_NAME");
    unsetenv("POD_NAMESPACE");
    setenv("POD_NAMESPACE", "ingress", 1);
    config_set_sa_namespace_file("/nonexistent/serviceaccount/namespace");
}

static void env_teardown(void)
{
    config_set_sa_namespace_file(NULL);
    if (sa_file[0]) unlink(sa_file);
    sa_file[0] = '\0';
}

static struct loaded load_le(const char *le_body)
{
    char doc[4096];
    snprintf(doc, sizeof(doc), "controller:\n  leader_election:\n%s" VALID_REST, le_body);
    return load_yaml(doc);
}

static void le_refused(const char *le_body, const char *key, const char *part)
{
    char doc[4096], path[256];
    snprintf(doc, sizeof(doc), "controller:\n  leader_election:\n%s" VALID_REST, le_body);
    snprintf(path, sizeof(path), "controller.leader_election.%s", key);
    struct loaded l = load_refused(doc, path, part);
    loaded_free(&l);
}

/* --- leader election: the validation scenarios --------------------------------------------------------- */

START_TEST(test_le_defaults_are_client_go_values)
{
    setenv("POD_NAME", "ic-0", 1);
    struct loaded l = load_ok(VALID_REST);
    const struct config_leader_election *le = &l.cfg->controller.leader_election;
    ck_assert(le->enabled);
    ck_assert_str_eq(le->lease_name, "haproxy-template-ic-leader");
    ck_assert_str_eq(le->lease_namespace, "ingress");
    ck_assert_str_eq(le->identity, "ic-0");
    ck_assert_int_eq(le->lease_duration_ms, 15000);
    ck_assert_int_eq(le->renew_deadline_ms, 10000);
    ck_assert_int_eq(le->retry_period_ms, 2000);
    loaded_free(&l);
}
END_TEST

START_TEST(test_le_valid_custom_values_accepted)
{
    struct loaded l = load_le("    lease_name: my.lease-1\n    lease_namespace: kube-system\n"
                              "    lease_duration: 1m\n    renew_deadline: 30s\n    retry_period: 5s\n");
    if (l.rc) dump_errors(&l);
    ck_assert_int_eq(l.rc, 0);
    const struct config_leader_election *le = &l.cfg->controller.leader_election;
    ck_assert_str_eq(le->lease_name, "my.lease-1");
    ck_assert_str_eq(le->lease_namespace, "kube-system");
    ck_assert_int_eq(le->lease_duration_ms, 60000);
    ck_assert_int_eq(le->renew_deadline_ms, 30000);
    ck_assert_int_eq(le->retry_period_ms, 5000);
    loaded_free(&l);
}
END_TEST

START_TEST(test_le_disabled_skips_election_rules)
{
    unsetenv("POD_NAMESPACE"); /* no namespace anywhere: fine when no Lease is used */
    struct loaded l = load_le("    enabled: false\n    lease_duration: 1s\n    renew_deadline: 5s\n    retry_period: 10s\n");
    if (l.rc) dump_errors(&l);
    ck_assert_int_eq(l.rc, 0);
    ck_assert(!l.cfg->controller.leader_election.enabled);
    ck_assert_ptr_null(l.cfg->controller.leader_election.lease_namespace);
    loaded_free(&l);
}
END_TEST

START_TEST(test_le_lease_duration_equal_to_renew_deadline_refused)
{
    le_refused("    lease_duration: 10s\n    renew_deadline: 10s\n", "renew_deadline",
               "renew_deadline (10s) must be shorter than lease_duration (10s)");
}
END_TEST

START_TEST(test_le_lease_duration_shorter_than_renew_deadline_refused)
{
    le_refused("    lease_duration: 10s\n    renew_deadline: 20s\n", "renew_deadline",
               "renew_deadline (20s) must be shorter than lease_duration (10s)");
}
END_TEST

START_TEST(test_le_renew_deadline_at_jitter_bound_refused)
{
    /* client-go: renew_deadline must be strictly greater than 1.2 x retry_period */
    le_refused("    renew_deadline: 12s\n    retry_period: 10s\n    lease_duration: 20s\n", "renew_deadline",
               "must be longer than 1.2 x retry_period (1.2 x 10s = 12s)");
}
END_TEST

START_TEST(test_le_renew_deadline_equal_to_retry_period_refused)
{
    le_refused("    renew_deadline: 2s\n    retry_period: 2s\n", "renew_deadline", "1.2 x retry_period");
}
END_TEST

START_TEST(test_le_renew_deadline_just_above_jitter_bound_accepted)
{
    struct loaded l = load_le("    renew_deadline: 2401ms\n    retry_period: 2s\n");
    if (l.rc) dump_errors(&l);
    ck_assert_int_eq(l.rc, 0);
    loaded_free(&l);
}
END_TEST

START_TEST(test_le_zero_lease_duration_refused)
{
    le_refused("    lease_duration: 0s\n", "lease_duration", "must be greater than zero");
}
END_TEST

START_TEST(test_le_zero_renew_deadline_refused)
{
    le_refused("    renew_deadline: \"0\"\n", "renew_deadline", "must be greater than zero");
}
END_TEST

START_TEST(test_le_zero_retry_period_refused)
{
    le_refused("    retry_period: 0ms\n", "retry_period", "must be greater than zero");
}
END_TEST

START_TEST(test_le_negative_duration_refused)
{
    le_refused("    retry_period: -2s\n", "retry_period", "must not be negative");
}
END_TEST

START_TEST(test_le_empty_lease_name_refused)
{
    le_refused("    lease_name: \"\"\n", "lease_name", "must not be empty");
}
END_TEST

START_TEST(test_le_lease_name_not_dns1123_subdomain_refused)
{
    le_refused("    lease_name: My_Lease\n", "lease_name", "DNS-1123 subdomain");
    le_refused("    lease_name: -lead\n", "lease_name", "DNS-1123 subdomain");
    le_refused("    lease_name: a..b\n", "lease_name", "DNS-1123 subdomain");
    char body[600] = "    lease_name: ";
    for (int i = 0; i < 5; i++) strcat(body, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."); /* 255 characters */
    strcat(body, "a\n");
    le_refused(body, "lease_name", "DNS-1123 subdomain");
}
END_TEST

START_TEST(test_le_lease_namespace_not_dns1123_label_refused)
{
    le_refused("    lease_namespace: kube.system\n", "lease_namespace", "DNS-1123 label");
    setenv("POD_NAMESPACE", "Bad_NS", 1);
    le_refused("    enabled: true\n", "lease_namespace", "\"Bad_NS\" (from POD_NAMESPACE) must be a DNS-1123 label");
}
END_TEST

START_TEST(test_le_namespace_missing_everywhere_refused)
{
    unsetenv("POD_NAMESPACE");
    le_refused("    enabled: true\n", "lease_namespace", "not set, POD_NAMESPACE is empty");
}
END_TEST

START_TEST(test_le_namespace_from_serviceaccount_file)
{
    unsetenv("POD_NAMESPACE");
    snprintf(sa_file, sizeof(sa_file), "/tmp/htic-sa-XXXXXX");
    int fd = mkstemp(sa_file);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "team-a\n", 7), 7);
    close(fd);
    config_set_sa_namespace_file(sa_file);
    struct loaded l = load_ok(VALID_REST);
    ck_assert_str_eq(l.cfg->controller.leader_election.lease_namespace, "team-a");
    loaded_free(&l);
    /* POD_NAMESPACE wins over the file; an explicit key wins over both */
    setenv("POD_NAMESPACE", "from-env", 1);
    l = load_ok(VALID_REST);
    ck_assert_str_eq(l.cfg->controller.leader_election.lease_namespace, "from-env");
    loaded_free(&l);
    l = load_le("    lease_namespace: explicit\n");
    ck_assert_int_eq(l.rc, 0);
    ck_assert_str_eq(l.cfg->controller.leader_election.lease_namespace, "explicit");
    loaded_free(&l);
}
END_TEST

START_TEST(test_le_identity_from_pod_name_else_hostname)
{
    struct loaded l = load_ok(VALID_REST);
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    ck_assert_str_eq(l.cfg->controller.leader_election.identity, host);
    loaded_free(&l);
    setenv("POD_NAME", "ic-7d9f-abc", 1);
    l = load_ok(VALID_REST);
    ck_assert_str_eq(l.cfg->controller.leader_election.identity, "ic-7d9f-abc");
    loaded_free(&l);
    l = load_le("    identity: replica-a\n");
    ck_assert_int_eq(l.rc, 0);
    ck_assert_str_eq(l.cfg->controller.leader_election.identity, "replica-a");
    loaded_free(&l);
}
END_TEST

START_TEST(test_le_every_violation_reported_once)
{
    struct loaded l = load_le("    lease_name: BAD\n    lease_duration: 0s\n    renew_deadline: 0s\n    retry_period: 0s\n");
    ck_assert_int_eq(l.rc, -1);
    ck_assert_ptr_nonnull(find_error(&l, "controller.leader_election.lease_name", "DNS-1123"));
    ck_assert_ptr_nonnull(find_error(&l, "controller.leader_election.lease_duration", "greater than zero"));
    ck_assert_ptr_nonnull(find_error(&l, "controller.leader_election.renew_deadline", "greater than zero"));
    ck_assert_ptr_nonnull(find_error(&l, "controller.leader_election.retry_period", "greater than zero"));
    /* zero values are not also reported as ordering violations */
    ck_assert_uint_eq(l.errs.len, 4);
    loaded_free(&l);
}
END_TEST

START_TEST(test_le_unparsable_duration_does_not_cascade)
{
    /* a bad renew_deadline is reported once, not again as an ordering violation */
    struct loaded l = load_le("    renew_deadline: soon\n");
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, 1);
    ck_assert_ptr_nonnull(find_error(&l, "controller.leader_election.renew_deadline", "invalid duration \"soon\""));
    loaded_free(&l);
}
END_TEST

/* --- loader error paths -------------------------------------------------------------------------------- */

START_TEST(test_unknown_key_refused_with_path_and_position)
{
    struct loaded l = load_refused("controller:\n  leader_election:\n    ttl: 15s\n" VALID_REST,
                                   "controller.leader_election.ttl", "unknown key");
    const struct err *e = find_error(&l, "controller.leader_election.ttl", "unknown key");
    ck_assert_int_eq(e->line, 3);
    ck_assert_int_eq(e->column, 5);
    char out[1024];
    err_format(e, out, sizeof(out));
    ck_assert_str_eq(out, "test.yaml:3:5: controller.leader_election.ttl: unknown key (known keys: enabled, "
                          "lease_name, lease_namespace, identity, lease_duration, renew_deadline, retry_period)");
    loaded_free(&l);
    l = load_refused("contoller: {}\n" VALID_REST, "contoller", "did you mean \"controller\"?");
    loaded_free(&l);
}
END_TEST

START_TEST(test_wrong_type_refused_with_line_and_column)
{
    struct loaded l = load_refused("controller:\n  http:\n    port: [8080]\n" VALID_REST, "controller.http.port",
                                   "expected an integer, got a sequence");
    const struct err *e = find_error(&l, "controller.http.port", "expected");
    ck_assert_int_eq(e->line, 3);
    ck_assert_int_eq(e->column, 11);
    loaded_free(&l);
    l = load_refused("controller:\n  leader_election:\n    enabled: \"true\"\n" VALID_REST,
                     "controller.leader_election.enabled", "expected true or false, got the string \"true\"");
    loaded_free(&l);
    l = load_refused("controller: 5\n" VALID_REST, "controller", "expected a mapping, got a scalar");
    loaded_free(&l);
    l = load_refused("controller:\n  http:\n    port: 70000\n" VALID_REST, "controller.http.port",
                     "70000 is out of range (0 to 65535)");
    loaded_free(&l);
    l = load_refused("controller:\n  logging:\n    level: verbose\n" VALID_REST, "controller.logging.level",
                     "\"verbose\" is not one of: debug, info, warn, error");
    loaded_free(&l);
}
END_TEST

START_TEST(test_bad_duration_refused)
{
    le_refused("    lease_duration: 15\n", "lease_duration", "invalid duration \"15\": missing unit");
    le_refused("    lease_duration: 15 seconds\n", "lease_duration", "invalid duration");
    le_refused("    lease_duration: {}\n", "lease_duration", "expected a duration such as 500ms, 15s or 1m30s");
    struct loaded l = load_refused("controller:\n  shutdown_timeout: 1h\n" VALID_REST, "controller.shutdown_timeout",
                                   "1h is out of range (1s to 10m0s)");
    loaded_free(&l);
}
END_TEST

START_TEST(test_yaml_syntax_error_has_position)
{
    struct loaded l = load_yaml("controller:\n  http: {port: 1\n" VALID_REST);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, 1);
    ck_assert_ptr_nonnull(strstr(l.errs.items[0].msg, "YAML syntax error"));
    ck_assert_int_gt(l.errs.items[0].line, 1);
    ck_assert_int_gt(l.errs.items[0].column, 0);
    loaded_free(&l);
    l = load_yaml("a: b: c\n");
    ck_assert_int_eq(l.rc, -1);
    ck_assert_int_eq(l.errs.items[0].line, 1);
    loaded_free(&l);
}
END_TEST

START_TEST(test_empty_config_refused)
{
    const char *empties[] = {"", "\n\n", "# only a comment\n", "---\n"};
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        struct loaded l = load_yaml(empties[i]);
        ck_assert_int_eq(l.rc, -1);
        ck_assert_uint_ge(l.errs.len, 1);
        ck_assert_msg(strstr(l.errs.items[0].msg, "empty") || strstr(l.errs.items[0].msg, "required"),
                      "case %zu: %s", i, l.errs.items[0].msg);
        loaded_free(&l);
    }
    struct loaded l = load_refused("[1, 2]\n", "", "expected a mapping, got a sequence");
    loaded_free(&l);
}
END_TEST

START_TEST(test_missing_file_refused)
{
    struct err_list errs;
    err_list_init(&errs);
    struct config *cfg = (struct config *)1;
    ck_assert_int_eq(config_load_file("/nonexistent/dir/config.yaml", &cfg, &errs), -1);
    ck_assert_ptr_null(cfg);
    ck_assert_uint_eq(errs.len, 1);
    char out[1024];
    err_format(&errs.items[0], out, sizeof(out));
    ck_assert_str_eq(out, "/nonexistent/dir/config.yaml: cannot open: No such file or directory");
    err_list_free(&errs);
}
END_TEST

static void write_temp(char *path, size_t n, const char *text)
{
    snprintf(path, n, "/tmp/htic-config-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

START_TEST(test_file_loads_and_names_itself_in_errors)
{
    char path[64];
    write_temp(path, sizeof(path), "controller:\n  http:\n    port: 9100\n" VALID_REST);
    struct err_list errs;
    err_list_init(&errs);
    struct config *cfg = NULL;
    ck_assert_int_eq(config_load_file(path, &cfg, &errs), 0);
    ck_assert_int_eq(cfg->controller.http.port, 9100);
    ck_assert_str_eq(cfg->source, path);
    config_free(cfg);
    unlink(path);
    write_temp(path, sizeof(path), "controller:\n  bogus: 1\n" VALID_REST);
    ck_assert_int_eq(config_load_file(path, &cfg, &errs), -1);
    ck_assert_uint_eq(errs.len, 1);
    ck_assert_str_eq(errs.items[0].file, path);
    unlink(path);
    err_list_free(&errs);
    /* a file with a NUL byte is not YAML text */
    snprintf(path, sizeof(path), "/tmp/htic-config-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_eq(write(fd, "a: 1\0\n", 6), 6);
    close(fd);
    err_list_init(&errs);
    ck_assert_int_eq(config_load_file(path, &cfg, &errs), -1);
    ck_assert_ptr_nonnull(strstr(errs.items[0].msg, "NUL"));
    unlink(path);
    err_list_free(&errs);
}
END_TEST

START_TEST(test_several_errors_all_reported_in_input_order)
{
    struct loaded l = load_yaml("controller:\n"
                                "  http:\n"
                                "    port: high\n"           /* 3: wrong type */
                                "    adress: 1.2.3.4\n"      /* 4: unknown key */
                                "  leader_election:\n"
                                "    retry_period: 2\n"      /* 6: bad duration */
                                "  logging: {format: xml}\n" /* 7: bad enum */
                                "deploy:\n"
                                "  deployment_timeout: 0s\n" /* 9: out of range */
                                TARGETS);                    /* and haproxy_config missing */
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, 6);
    /* a missing key is reported where its mapping starts: the root, line 1 */
    ck_assert_str_eq(l.errs.items[0].path, "haproxy_config");
    ck_assert_str_eq(l.errs.items[1].path, "controller.http.port");
    ck_assert_str_eq(l.errs.items[2].path, "controller.http.adress");
    ck_assert_str_eq(l.errs.items[3].path, "controller.leader_election.retry_period");
    ck_assert_str_eq(l.errs.items[4].path, "controller.logging.format");
    ck_assert_str_eq(l.errs.items[5].path, "deploy.deployment_timeout");
    ck_assert_int_eq(l.errs.items[5].line, 9);
    loaded_free(&l);
}
END_TEST

START_TEST(test_problem_list_is_bounded)
{
    char doc[16384] = "controller:\n";
    for (int i = 0; i < 150; i++) snprintf(doc + strlen(doc), sizeof(doc) - strlen(doc), "  unknown_%03d: 1\n", i);
    strcat(doc, VALID_REST);
    struct loaded l = load_yaml(doc);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, CONFIG_MAX_ERRORS + 1);
    ck_assert_str_eq(l.errs.items[0].path, "controller.unknown_000");
    ck_assert_str_eq(l.errs.items[CONFIG_MAX_ERRORS].msg, "more than 100 problems; the rest are not listed");
    loaded_free(&l);
}
END_TEST

START_TEST(test_duplicate_key_refused)
{
    struct loaded l = load_refused("controller:\n  run_dir: /a\n  run_dir: /b\n" VALID_REST, "controller.run_dir",
                                   "duplicate key (first given on line 2)");
    loaded_free(&l);
}
END_TEST

START_TEST(test_second_document_refused)
{
    struct loaded l = load_refused(VALID_REST "---\ncontroller: {}\n", "", "only one YAML document");
    loaded_free(&l);
}
END_TEST

START_TEST(test_null_value_takes_default)
{
    struct loaded l = load_ok("controller:\n  http:\n    port:\n  leader_election: ~\n" VALID_REST);
    ck_assert_int_eq(l.cfg->controller.http.port, 8080);
    ck_assert_int_eq(l.cfg->controller.leader_election.lease_duration_ms, 15000);
    loaded_free(&l);
}
END_TEST

START_TEST(test_nul_in_string_refused)
{
    struct loaded l = load_refused("controller:\n  run_dir: \"/a\\0b\"\n" VALID_REST, "controller.run_dir", "NUL");
    loaded_free(&l);
}
END_TEST

START_TEST(test_self_referencing_alias_bounded)
{
    struct loaded l = load_yaml(VALID_REST "templating_settings:\n  extra_context: &a {x: [*a]}\n");
    ck_assert_int_eq(l.rc, -1);
    ck_assert_ptr_nonnull(strstr(l.errs.items[0].msg, "nested deeper"));
    loaded_free(&l);
    /* a billion laughs stays bounded by the node budget */
    l = load_yaml(VALID_REST "templating_settings:\n  extra_context:\n"
                             "    a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                             "    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                             "    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                             "    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                             "    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                             "    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                             "    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n");
    ck_assert_int_eq(l.rc, -1);
    ck_assert_uint_eq(l.errs.len, 1);
    ck_assert_ptr_nonnull(strstr(l.errs.items[0].msg, "aliases are expanded"));
    loaded_free(&l);
}
END_TEST

/* --- output -------------------------------------------------------------------------------------------- */

START_TEST(test_describe_json_shows_effective_values_redacted)
{
    struct loaded l = load_ok("controller:\n  leader_election:\n    lease_duration: 1m30s\n"
                              "haproxy:\n  endpoints: [{name: a, url: \"http://10.0.0.5:5555\"}]\n"
                              "  dataplane: {username: admin, password_file: /etc/htic/pw}\n" MAIN_TEMPLATE);
    struct json_object *o = NULL;
    ck_assert_int_eq(config_describe_json(l.cfg, &o), 0);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    ck_assert_ptr_nonnull(strstr(s, "\"lease_duration\":\"1m30s\""));
    ck_assert_ptr_nonnull(strstr(s, "\"renew_deadline\":\"10s\""));
    ck_assert_ptr_nonnull(strstr(s, "\"level\":\"info\""));
    ck_assert_ptr_nonnull(strstr(s, "\"username\":\"<redacted>\""));
    ck_assert_ptr_null(strstr(s, "admin"));
    ck_assert_ptr_nonnull(strstr(s, "\"source\":\"test.yaml\""));
    json_object_put(o);
    loaded_free(&l);
}
END_TEST

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char data[1 << 20];
    size_t n = fread(data, 1, sizeof(data) - 1, f);
    fclose(f);
    data[n] = '\0';
    return data;
}

START_TEST(test_docs_reference_is_current)
{
    const char *root = getenv("HTIC_SOURCE_ROOT");
    ck_assert_ptr_nonnull(root);
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/configuration.md", root);
    const char *doc = read_all(path);
    ck_assert_msg(doc != NULL, "cannot read %s", path);
    char *md = NULL;
    ck_assert_int_eq(config_reference_markdown(&md), 0);
    ck_assert_msg(strstr(doc, md) != NULL,
                  "docs/configuration.md is out of date: paste the output of "
                  "`haproxy-template-ic validate-config --reference` into it");
    free(md);
}
END_TEST

/* validate-config through the real binary: one line per problem, exit status. */
static int run_cli(const char *file, char *out, size_t n)
{
    const char *bin = getenv("HTIC_BIN");
    ck_assert_ptr_nonnull(bin);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "POD_NAMESPACE=ns '%s' validate-config '%s' 2>&1", bin, file);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t k = fread(out, 1, n - 1, p);
    out[k] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_validate_config_cli)
{
    char path[64], out[8192], want[256];
    write_temp(path, sizeof(path), VALID_REST);
    ck_assert_int_eq(run_cli(path, out, sizeof(out)), 0);
    snprintf(want, sizeof(want), "config OK: %s\n", path);
    ck_assert_str_eq(out, want);
    unlink(path);
    write_temp(path, sizeof(path), "controller:\n  leader_election:\n    renew_deadline: 20s\n  bogus: 1\n" TARGETS);
    ck_assert_int_eq(run_cli(path, out, sizeof(out)), 1);
    snprintf(want, sizeof(want), "%s:3:21: controller.leader_election.renew_deadline: renew_deadline (20s) must be "
             "shorter than lease_duration (15s)\n", path);
    ck_assert_msg(strstr(out, want), "got: %s", out);
    snprintf(want, sizeof(want), "%s:4:3: controller.bogus: unknown key", path);
    ck_assert_msg(strstr(out, want), "got: %s", out);
    snprintf(want, sizeof(want), "%s:1:1: haproxy_config: required key is missing\n", path);
    ck_assert_msg(strstr(out, want), "got: %s", out);
    ck_assert_msg(strstr(out, "3 problems in"), "got: %s", out);
    unlink(path);
    ck_assert_int_eq(run_cli("/nonexistent.yaml", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "/nonexistent.yaml: cannot open"), "got: %s", out);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("config");
    TCase *le = tcase_create("leader_election");
    tcase_add_checked_fixture(le, env_setup, env_teardown);
    tcase_add_test(le, test_le_defaults_are_client_go_values);
    tcase_add_test(le, test_le_valid_custom_values_accepted);
    tcase_add_test(le, test_le_disabled_skips_election_rules);
    tcase_add_test(le, test_le_lease_duration_equal_to_renew_deadline_refused);
    tcase_add_test(le, test_le_lease_duration_shorter_than_renew_deadline_refused);
    tcase_add_test(le, test_le_renew_deadline_at_jitter_bound_refused);
    tcase_add_test(le, test_le_renew_deadline_equal_to_retry_period_refused);
    tcase_add_test(le, test_le_renew_deadline_just_above_jitter_bound_accepted);
    tcase_add_test(le, test_le_zero_lease_duration_refused);
    tcase_add_test(le, test_le_zero_renew_deadline_refused);
    tcase_add_test(le, test_le_zero_retry_period_refused);
    tcase_add_test(le, test_le_negative_duration_refused);
    tcase_add_test(le, test_le_empty_lease_name_refused);
    tcase_add_test(le, test_le_lease_name_not_dns1123_subdomain_refused);
    tcase_add_test(le, test_le_lease_namespace_not_dns1123_label_refused);
    tcase_add_test(le, test_le_namespace_missing_everywhere_refused);
    tcase_add_test(le, test_le_namespace_from_serviceaccount_file);
    tcase_add_test(le, test_le_identity_from_pod_name_else_hostname);
    tcase_add_test(le, test_le_every_violation_reported_once);
    tcase_add_test(le, test_le_unparsable_duration_does_not_cascade);
    suite_add_tcase(s, le);

    TCase *ld = tcase_create("loader");
    tcase_add_checked_fixture(ld, env_setup, env_teardown);
    tcase_add_test(ld, test_unknown_key_refused_with_path_and_position);
    tcase_add_test(ld, test_wrong_type_refused_with_line_and_column);
    tcase_add_test(ld, test_bad_duration_refused);
    tcase_add_test(ld, test_yaml_syntax_error_has_position);
    tcase_add_test(ld, test_empty_config_refused);
    tcase_add_test(ld, test_missing_file_refused);
    tcase_add_test(ld, test_file_loads_and_names_itself_in_errors);
    tcase_add_test(ld, test_several_errors_all_reported_in_input_order);
    tcase_add_test(ld, test_duplicate_key_refused);
    tcase_add_test(ld, test_problem_list_is_bounded);
    tcase_add_test(ld, test_second_document_refused);
    tcase_add_test(ld, test_null_value_takes_default);
    tcase_add_test(ld, test_nul_in_string_refused);
    tcase_add_test(ld, test_self_referencing_alias_bounded);
    tcase_add_test(ld, test_describe_json_shows_effective_values_redacted);
    tcase_add_test(ld, test_docs_reference_is_current);
    tcase_add_test(ld, test_validate_config_cli);
    suite_add_tcase(s, ld);
    return s;
}
