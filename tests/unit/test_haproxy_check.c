/* haproxy -c of a generation (common/haproxy: the validator role and the validate CLI) against the real haproxy
 * (haproxy.binary, default `haproxy`; Debian's 2.6 in CI): a generation laid out as on the target passes or fails
 * as it would there, the message quotes the lines haproxy names in production paths, the process runs with an empty
 * environment and no inherited fd, and one that hangs is killed at the timeout. Fake binaries (shell scripts) stand
 * in where the real one cannot show it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/unit/loop_spin.h"
#include "tests/unit/unit.h"
#include "common/haproxy/haproxy_check.h"
#include "common/haproxy/haproxy_report.h"

/* Production paths that exist nowhere: only the scratch layout can make them readable. */
#define PROD "/srv/htic-validator-test"

static char tmp[512];          /* the test's private dir */
static char gen[1024];          /* the generation dir */
static char scratch[1024];  /* scratch parent */

struct done {
    int called;
    enum haproxy_check_outcome outcome;
    char *message;
    char *warnings;
};

static void on_done(struct haproxy_check *c, const struct haproxy_check_result *r, void *data)
{
    (void)c;
    struct done *d = data;
    d->called++;
    d->outcome = r->outcome;
    d->message = strdup(r->message);
    d->warnings = strdup(r->warnings);
}

static int is_done(void *arg) { return ((struct done *)arg)->called; }

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void gen_file(const char *sub, const char *name, const char *text)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", gen, sub);
    mkdir(dir, 0755);
    write_file(dir, name, text, 0644);
}

static void setup(void)
{
    log_init("test", LOG_FORMAT_LOGFMT, LOG_LEVEL_ERROR);
    const char *t = getenv("TMPDIR");
    snprintf(tmp, sizeof(tmp), "%s/htic-vcheck-XXXXXX", t && t[0] ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(gen, sizeof(gen), "%s/gen", tmp);
    snprintf(scratch, sizeof(scratch), "%s/scratch", tmp);
    ck_assert_int_eq(mkdir(gen, 0755), 0);
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *binary(void)
{
    const char *b = getenv("HTIC_TEST_HAPROXY");
    return b && b[0] ? b : "haproxy";
}

/* Runs one check of gen with the given binary and timeout; the scratch parent must be empty afterwards. */
static struct done run_check(const char *bin, int64_t timeout_ms)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct haproxy_check_opts o = {
        .binary = bin,
        .prod = {.config_file = PROD "/etc/haproxy.cfg", .maps_dir = PROD "/maps", .ssl_certs_dir = PROD "/ssl",
                 .general_dir = PROD "/general"},
        .scratch_parent = scratch,
        .timeout_ms = timeout_ms,
    };
    struct done d = {0};
    struct haproxy_check *c = NULL;
    struct err e;
    err_clear(&e);
    ck_assert_msg(haproxy_check_start(&loop, &o, gen, on_done, &d, &c, &e) == 0, "start: %s", e.msg);
    loop_spin(&loop, 20000, is_done, &d);
    ck_assert_int_eq(d.called, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    DIR *dir = opendir(scratch);
    ck_assert_ptr_nonnull(dir);
    struct dirent *de;
    while ((de = readdir(dir))) ck_assert_msg(de->d_name[0] == '.', "scratch left behind: %s", de->d_name);
    closedir(dir);
    return d;
}

static void done_free(struct done *d)
{
    free(d->message);
    free(d->warnings);
}

#define CFG_HEAD                                                                                          \
    "global\n"                                                                                            \
    "    maxconn 100\n"                                                                                   \
    "defaults\n"                                                                                          \
    "    mode http\n"                                                                                     \
    "    timeout client 5s\n"                                                                             \
    "    timeout server 5s\n"                                                                             \
    "    timeout connect 5s\n"

START_TEST(test_haproxy_check_valid_config_passes_and_keeps_warnings)
{
    gen_file(".", "haproxy.cfg",
             CFG_HEAD "frontend fe\n    mode tcp\n    bind 127.0.0.1:8080\n    default_backend be\n"
                      "backend be\n    mode tcp\n    option forwardfor\n    server s1 127.0.0.1:1\n");
    struct done d = run_check(binary(), 0);
    ck_assert_msg(d.outcome == HAPROXY_CHECK_VALID, "outcome %d: %s", d.outcome, d.message);
    ck_assert_str_eq(d.message, "");
    ck_assert_ptr_nonnull(strstr(d.warnings, "forwardfor"));
    done_free(&d);
}
END_TEST

START_TEST(test_haproxy_check_syntax_error_quotes_the_line_in_production_paths)
{
    gen_file(".", "haproxy.cfg",
             CFG_HEAD                              /* lines 1-7 */
             "frontend fe\n"                       /* 8 */
             "    bind 127.0.0.1:8080\n"           /* 9 */
             "    bogus_keyword here\n"            /* 10 */
             "    default_backend be\n"            /* 11 */
             "backend be\n"                        /* 12 */
             "    server s1 127.0.0.1:1\n");       /* 13 */
    struct done d = run_check(binary(), 0);
    ck_assert_msg(d.outcome == HAPROXY_CHECK_INVALID, "outcome %d: %s", d.outcome, d.message);
    ck_assert_msg(strstr(d.message, "[" PROD "/etc/haproxy.cfg:10]"), "%s", d.message);
    ck_assert_msg(strstr(d.message, "unknown keyword 'bogus_keyword'"), "%s", d.message);
    ck_assert_msg(strstr(d.message, ">    10 |     bogus_keyword here\n"), "%s", d.message);
    ck_assert_msg(strstr(d.message, "      8 | frontend fe\n"), "%s", d.message);
    ck_assert_msg(strstr(d.message, "     12 | backend be\n"), "%s", d.message);
    ck_assert_msg(!strstr(d.message, "     13 |"), "%s", d.message);
    ck_assert_msg(!strstr(d.message, "Error(s) found"), "summary line kept: %s", d.message);
    ck_assert_msg(!strstr(d.message, scratch), "scratch path shown: %s", d.message);
    done_free(&d);
}
END_TEST

START_TEST(test_haproxy_check_config_that_would_not_start_is_invalid)
{
    gen_file(".", "haproxy.cfg", CFG_HEAD "backend be\n    server s1 127.0.0.1:1\n");
    struct done d = run_check(binary(), 0);
    ck_assert_msg(d.outcome == HAPROXY_CHECK_INVALID, "outcome %d: %s", d.outcome, d.message);
    ck_assert_msg(strstr(d.message, "no listener"), "%s", d.message);
    done_free(&d);
}
END_TEST

/* A config routing through the map PROD/maps/<used>, and a generation holding hosts.map. */
static void map_config(const char *used)
{
    char cfg[2048];
    snprintf(cfg, sizeof(cfg),
             CFG_HEAD "frontend fe\n    bind 127.0.0.1:8080\n"
                      "    use_backend %%[req.hdr(host),lower,map(" PROD "/maps/%s,be)]\n"
                      "    default_backend be\n"
                      "backend be\n    server s1 127.0.0.1:1\n",
             used);
    gen_file(".", "haproxy.cfg", cfg);
    gen_file("maps", "hosts.map", "example.com be\n");
}

START_TEST(test_haproxy_check_map_by_production_path_passes_once_laid_out)
{
    map_config("hosts.map");
    struct done d = run_check(binary(), 0);
    ck_assert_msg(d.outcome == HAPROXY_CHECK_VALID, "outcome %d: %s", d.outcome, d.message);
    done_free(&d);
}
END_TEST

START_TEST(test_haproxy_check_missing_map_fails_naming_it)
{
    map_config("absent.map");
    struct done d = run_check(binary(), 0);
    ck_assert_msg(d.outcome == HAPROXY_CHECK_INVALID, "outcome %d: %s", d.outcome, d.message);
    ck_assert_msg(strstr(d.message, "<" PROD "/maps/absent.map>"), "%s", d.message);
    ck_assert_msg(strstr(d.message, ">    10 |"), "%s", d.message);
    done_free(&d);
}
END_TEST

START_TEST(test_haproxy_check_crt_list_errors_name_the_certificate_never_its_content)
{
    gen_file(".", "haproxy.cfg",
             CFG_HEAD "frontend fe\n    bind 127.0.0.1:8443 ssl crt-list " PROD "/general/sni.crtlist\n"
                      "    default_backend be\n"
                      "backend be\n    server s1 127.0.0.1:1\n");
    gen_file("certs", "bad.pem", "PRIVATE-KEY-BYTES\n");
    gen_file("crt-lists", "sni.crtlist", PROD "/ssl/bad.pem [alpn h2]\n");
    struct done d = run_check(binary(), 0);
    ck_assert_msg(d.outcome == HAPROXY_CHECK_INVALID, "outcome %d: %s", d.outcome, d.message);
    ck_assert_msg(strstr(d.message, "'" PROD "/ssl/bad.pem'"), "%s", d.message);
    ck_assert_msg(!strstr(d.message, "PRIVATE-KEY-BYTES"), "%s", d.message);
    done_free(&d);
}
END_TEST

START_TEST(test_haproxy_check_crt_list_line_is_quoted)
{
    gen_file(".", "haproxy.cfg",
             CFG_HEAD "frontend fe\n    bind 127.0.0.1:8443 ssl crt-list " PROD "/general/sni.crtlist\n"
                      "    default_backend be\n"
                      "backend be\n    server s1 127.0.0.1:1\n");
    gen_file("crt-lists", "sni.crtlist", PROD "/ssl/a.pem [bogus-keyword x]\n");
    gen_file("certs", "a.pem", "x\n");
    struct done d = run_check(binary(), 0);
    ck_assert_msg(d.outcome == HAPROXY_CHECK_INVALID, "outcome %d: %s", d.outcome, d.message);
    ck_assert_msg(strstr(d.message, "  " PROD "/general/sni.crtlist:\n  >     1 | " PROD "/ssl/a.pem [bogus-keyword"),
                  "%s", d.message);
    done_free(&d);
}
END_TEST

START_TEST(test_haproxy_check_names_of_credentials_are_refused_before_running)
{
    gen_file(".", "haproxy.cfg",
             CFG_HEAD "frontend fe\n    bind 127.0.0.1:8080\n"
                      "    errorfile 503 /var/run/secrets/kubernetes.io/serviceaccount/token\n"
                      "    default_backend be\nbackend be\n    server s1 127.0.0.1:1\n");
    /* a binary that would say "valid" to anything: the refusal must come before it runs */
    char fake[PATH_MAX];
    snprintf(fake, sizeof(fake), "%s/fake-haproxy", tmp);
    write_file(tmp, "fake-haproxy", "#!/bin/sh\nexit 0\n", 0755);
    struct done d = run_check(fake, 0);
    ck_assert_msg(d.outcome == HAPROXY_CHECK_INVALID, "outcome %d: %s", d.outcome, d.message);
    ck_assert_msg(strstr(d.message, PROD "/etc/haproxy.cfg:10"), "%s", d.message);
    ck_assert_msg(strstr(d.message, "/run/secrets"), "%s", d.message);
    done_free(&d);
}
END_TEST

START_TEST(test_haproxy_check_symlink_in_generation_is_refused)
{
    gen_file(".", "haproxy.cfg", CFG_HEAD);
    char dir[PATH_MAX], link[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/maps", gen);
    mkdir(dir, 0755);
    snprintf(link, sizeof(link), "%s/leak.map", dir);
    ck_assert_int_eq(symlink("/etc/passwd", link), 0);
    struct done d = run_check(binary(), 0);
    ck_assert_msg(d.outcome == HAPROXY_CHECK_INVALID, "outcome %d: %s", d.outcome, d.message);
    ck_assert_msg(strstr(d.message, PROD "/maps/leak.map") && strstr(d.message, "symlink"), "%s", d.message);
    done_free(&d);
}
END_TEST

START_TEST(test_haproxy_check_a_hanging_binary_is_killed_at_the_timeout)
{
    gen_file(".", "haproxy.cfg", CFG_HEAD);
    char script[PATH_MAX * 2], fake[PATH_MAX], pidfile[PATH_MAX];
    snprintf(pidfile, sizeof(pidfile), "%s/pid", tmp);
    /* the shell forks sleep (no exec) so the group kill must reach a grandchild holding the pipes */
    snprintf(script, sizeof(script), "#!/bin/sh\necho $$ > %s\n/bin/sleep 30\necho woke\n", pidfile);
    snprintf(fake, sizeof(fake), "%s/fake-haproxy", tmp);
    write_file(tmp, "fake-haproxy", script, 0755);
    struct done d = run_check(fake, 300);
    ck_assert_msg(d.outcome == HAPROXY_CHECK_TIMEOUT, "outcome %d: %s", d.outcome, d.message);
    ck_assert_msg(strstr(d.message, "300 ms"), "%s", d.message);
    FILE *f = fopen(pidfile, "r");
    ck_assert_ptr_nonnull(f);
    int pid = 0;
    ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    ck_assert_int_eq(kill(pid, 0), -1);
    ck_assert_int_eq(errno, ESRCH);
    done_free(&d);
}
END_TEST

START_TEST(test_haproxy_check_runs_with_an_empty_environment_and_no_inherited_fd)
{
    gen_file(".", "haproxy.cfg", CFG_HEAD);
    setenv("HTIC_TEST_CREDENTIAL", "do-not-leak", 1);
    /* an fd without close-on-exec, as the supervisor's IPC socket is in a real validator */
    int fd = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, 42), 42);
    close(fd);
    char script[PATH_MAX * 3], fake[PATH_MAX], envfile[PATH_MAX], fdfile[PATH_MAX];
    snprintf(envfile, sizeof(envfile), "%s/env", tmp);
    snprintf(fdfile, sizeof(fdfile), "%s/fds", tmp);
    snprintf(script, sizeof(script),
             "#!/bin/sh\ncat /proc/$$/environ > %s\nls /proc/$$/fd > %s\necho 'Configuration file is valid'\n",
             envfile, fdfile);
    snprintf(fake, sizeof(fake), "%s/fake-haproxy", tmp);
    write_file(tmp, "fake-haproxy", script, 0755);
    struct done d = run_check(fake, 0);
    close(42);
    unsetenv("HTIC_TEST_CREDENTIAL");
    ck_assert_msg(d.outcome == HAPROXY_CHECK_VALID, "outcome %d: %s", d.outcome, d.message);
    struct stat st;
    ck_assert_int_eq(stat(envfile, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    FILE *f = fopen(fdfile, "r");
    ck_assert_ptr_nonnull(f);
    char line[64];
    while (fgets(line, sizeof(line), f)) {
        int n = atoi(line);
        /* 0-2 are stdio; dash keeps its stdin at 10 and its script at 11, ls its listing at 3 */
        ck_assert_msg(n <= 3 || n == 10 || n == 11, "fd %d inherited", n);
        ck_assert_int_ne(n, 42);
    }
    fclose(f);
    done_free(&d);
}
END_TEST

START_TEST(test_validator_rewrite_respects_path_boundaries_and_longest_prefix)
{
    const char *prefixes[] = {"/etc/haproxy", "/etc/haproxy/maps"};
    const char *in = "map(/etc/haproxy/maps/a.map) /etc/haproxy/maps2/b x/etc/haproxy/c '/etc/haproxy'\n2nd\n";
    struct buf out;
    buf_init(&out);
    ck_assert_int_eq(scratch_rewrite(in, strlen(in), prefixes, 2, "/S", &out), 0);
    ck_assert_str_eq(buf_cstr(&out),
                     "map(/S/etc/haproxy/maps/a.map) /S/etc/haproxy/maps2/b x/etc/haproxy/c '/S/etc/haproxy'\n2nd\n");
    struct buf back;
    buf_init(&back);
    ck_assert_int_eq(scratch_unroot(buf_cstr(&out), out.len, "/S", &back), 0);
    ck_assert_str_eq(buf_cstr(&back), in);
    buf_free(&out);
    buf_free(&back);
}
END_TEST

/* Found by fuzz_haproxy_report: a line number past any file ([haproxy.cfg:9223372036854775807]) overflowed
 * the context arithmetic; such a reference quotes nothing, a real one next to it still does. */
START_TEST(test_validator_report_ignores_line_numbers_past_any_file)
{
    gen_file(".", "haproxy.cfg", CFG_HEAD);
    const struct scratch_paths prod = {.config_file = PROD "/etc/haproxy.cfg", .maps_dir = PROD "/maps",
                                       .ssl_certs_dir = PROD "/ssl", .general_dir = PROD "/general"};
    struct scratch sc;
    struct err e;
    err_clear(&e);
    ck_assert_msg(scratch_layout(scratch, gen, &prod, &sc, &e) == 0, "%s", e.msg);
    static const char out[] = "[ALERT]    (1) : parsing [haproxy.cfg:9223372036854775807] : x\n"
                              "[ALERT]    (1) : parsing [haproxy.cfg:99999999999] : y\n"
                              "[ALERT]    (1) : parsing [haproxy.cfg:2] : z\n";
    struct haproxy_report r;
    ck_assert_int_eq(haproxy_report_build(out, sizeof(out) - 1, &sc, &r), 0);
    ck_assert_uint_eq(r.alerts, 3);
    const char *first = strstr(r.message, "  " PROD "/etc/haproxy.cfg:\n");
    ck_assert_msg(first != NULL, "%s", r.message);
    ck_assert_msg(strstr(first + 1, "  " PROD "/etc/haproxy.cfg:\n") == NULL, "quoted for a bogus line: %s", r.message);
    ck_assert_msg(strstr(r.message, ">     2 |     maxconn 100\n"), "%s", r.message);
    haproxy_report_free(&r);
    scratch_remove(&sc);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("haproxy_check");
    TCase *tc = tcase_create("haproxy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_haproxy_check_valid_config_passes_and_keeps_warnings);
    tcase_add_test(tc, test_haproxy_check_syntax_error_quotes_the_line_in_production_paths);
    tcase_add_test(tc, test_haproxy_check_config_that_would_not_start_is_invalid);
    tcase_add_test(tc, test_haproxy_check_map_by_production_path_passes_once_laid_out);
    tcase_add_test(tc, test_haproxy_check_missing_map_fails_naming_it);
    tcase_add_test(tc, test_haproxy_check_crt_list_errors_name_the_certificate_never_its_content);
    tcase_add_test(tc, test_haproxy_check_crt_list_line_is_quoted);
    tcase_add_test(tc, test_haproxy_check_names_of_credentials_are_refused_before_running);
    tcase_add_test(tc, test_haproxy_check_symlink_in_generation_is_refused);
    tcase_add_test(tc, test_haproxy_check_a_hanging_binary_is_killed_at_the_timeout);
    tcase_add_test(tc, test_haproxy_check_runs_with_an_empty_environment_and_no_inherited_fd);
    tcase_add_test(tc, test_validator_rewrite_respects_path_boundaries_and_longest_prefix);
    tcase_add_test(tc, test_validator_report_ignores_line_numbers_past_any_file);
    suite_add_tcase(s, tc);
    return s;
}
