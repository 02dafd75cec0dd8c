/* The master CLI client's parsers: answers split at prompts (also master[ReloadFailed]> and payload "+ "
 * prompts), show proc, and which answers are successes. */
#include "tests/unit/unit.h"
#include "workers/deployer/mcli.h"

#include <string.h>

START_TEST(test_mcli_answers_end_at_the_next_prompt)
{
    /* as HAProxy 2.6 sent it to "prompt\n@1 show map\n@1 set server ...\n" after the greeting */
    const char *s = "# id (file) description\n\nmaster> IP changed from 'a' to 'b'\n\nmaster[ReloadFailed]> \nmas";
    size_t alen, used, len = strlen(s);
    ck_assert_int_eq(mcli_next_answer(s, len, &alen, &used), 1);
    ck_assert_int_eq(alen, strlen("# id (file) description\n"));
    s += used, len -= used;
    ck_assert_int_eq(mcli_next_answer(s, len, &alen, &used), 1);
    ck_assert(!strncmp(s, "IP changed", 10));
    s += used, len -= used;
    ck_assert_int_eq(mcli_next_answer(s, len, &alen, &used), 0); /* "\nmas": the prompt is not complete */
    ck_assert_uint_eq(mcli_prompt_len("master> x", 9), 8);
    ck_assert_uint_eq(mcli_prompt_len("master[ReloadFailed]> ", 22), 22);
    ck_assert_uint_eq(mcli_prompt_len("masterx> ", 9), 0);
}
END_TEST

START_TEST(test_mcli_show_proc_is_parsed)
{
    const char *s = "#<PID>          <type>          <reloads>       <uptime>        <version>\n"
                    "26989           master          2 [failed: 1]   0d00h00m31s     2.6.12-1+deb12u4\n"
                    "# workers\n"
                    "29153           worker          0               0d00h00m01s     2.6.12-1+deb12u4\n"
                    "# old workers\n"
                    "26990           worker          1               0d00h00m22s     2.6.12-1+deb12u4\n"
                    "# programs\n";
    struct mcli_proc p;
    ck_assert_int_eq(mcli_parse_proc(s, &p), 0);
    ck_assert_int_eq(p.master_reloads, 2);
    ck_assert_int_eq(p.failed, 1);
    ck_assert_uint_eq(p.nworkers, 1);
    ck_assert_int_eq(p.workers[0], 29153);
    ck_assert_int_eq(mcli_parse_proc("Unknown command.", &p), -1);
}
END_TEST

START_TEST(test_mcli_answer_success_rules)
{
    ck_assert_int_eq(mcli_answer_ok("@1 set server be/s addr 1.2.3.4 port 80\n", "IP changed from 'x' to 'y'"), 1);
    ck_assert_int_eq(mcli_answer_ok("@1 set server be/s addr 1.2.3.4 port 80\n", "no need to change the addr"), 1);
    ck_assert_int_eq(mcli_answer_ok("@1 set server be/s addr 1.2.3.4 port 80\n", "No such server."), 0);
    ck_assert_int_eq(mcli_answer_ok("@1 set server be/s weight 3\n", ""), 1);
    ck_assert_int_eq(mcli_answer_ok("@1 set server be/s weight 3\n", "No such server."), 0);
    ck_assert_int_eq(mcli_answer_ok("@1 prepare map /m\n", "New version created: 4"), 1);
    ck_assert_int_eq(mcli_answer_ok("@1 commit map @4 /m\n", "Unknown map identifier."), 0);
    ck_assert_int_eq(mcli_answer_ok("@1 commit map @4 /m\n", NULL), 0);
}
END_TEST

/* The answers real HAProxy 2.6.12 gave through the master CLI (recorded by hand with socat). */
START_TEST(test_mcli_ssl_cert_answers)
{
    const char *set = "@1 set ssl cert /etc/ssl/a.pem <<\n-----BEGIN CERTIFICATE-----\n";
    ck_assert_int_eq(mcli_answer_ok(set, "Transaction created for certificate /etc/ssl/a.pem!"), 1);
    ck_assert_int_eq(mcli_answer_ok(set, "Transaction updated for certificate /etc/ssl/a.pem!"), 1);
    ck_assert_int_eq(mcli_answer_ok(set, "Can't replace a certificate which is not referenced by the configuration!\n"
                                         "Can't update /etc/ssl/a.pem!"), 0);
    ck_assert_int_eq(mcli_answer_ok(set, "unable to load certificate from file '/etc/ssl/a.pem'.\n"
                                         "Can't load the payload\nCan't update /etc/ssl/a.pem!"), 0);
    ck_assert_int_eq(mcli_answer_ok(set, ""), 0);
    const char *commit = "@1 commit ssl cert /etc/ssl/a.pem\n";
    ck_assert_int_eq(mcli_answer_ok(commit, "Committing /etc/ssl/a.pem.\nSuccess!"), 1);
    ck_assert_int_eq(mcli_answer_ok(commit, "Committing /etc/ssl/a.pem....\nSuccess!"), 1);
    ck_assert_int_eq(mcli_answer_ok(commit, "The transaction must contain at least a certificate and a private key!\n"
                                            "Can't commit /etc/ssl/a.pem!"), 0);
    ck_assert_int_eq(mcli_answer_ok(commit, "Committing /etc/ssl/a.pem.\nFailed!\nSuccess! is not the last line"), 0);
    ck_assert_int_eq(mcli_answer_ok(commit, "No ongoing transaction! !\nCan't commit /etc/ssl/a.pem!"), 0);
    ck_assert_int_eq(mcli_answer_ok(commit, ""), 0);
    ck_assert_int_eq(mcli_answer_ok("@1 abort ssl cert /etc/ssl/a.pem\n",
                                    "Transaction aborted for certificate '/etc/ssl/a.pem'!"), 1);
    ck_assert_int_eq(mcli_answer_ok("@1 abort ssl cert /etc/ssl/a.pem\n", "No ongoing transaction!"), 0);
}
END_TEST

START_TEST(test_mcli_show_ssl_cert_names_are_found_by_normalised_path)
{
    /* as 2.6.12 answers with a transaction open: "*" lines are transactions, not certificates */
    const char *answer = "# transaction\n*/etc/ssl/b.pem\n# filename\n/etc/haproxy//ssl/b.pem\n"
                         "/etc/haproxy/ssl/./a.pem\n/etc/other/../haproxy/ssl/c.pem\n";
    struct mcli_ssl_certs c;
    ck_assert_int_eq(mcli_parse_ssl_certs(answer, &c), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_str_eq(mcli_ssl_certs_find(&c, "/etc/haproxy/ssl/b.pem"), "/etc/haproxy//ssl/b.pem");
    ck_assert_str_eq(mcli_ssl_certs_find(&c, "/etc/haproxy/ssl//a.pem"), "/etc/haproxy/ssl/./a.pem");
    /* ".." is not resolved: through a symlink it may name another file */
    ck_assert_ptr_null(mcli_ssl_certs_find(&c, "/etc/haproxy/ssl/c.pem"));
    ck_assert_ptr_null(mcli_ssl_certs_find(&c, "/etc/ssl/b.pem"));
    ck_assert_ptr_null(mcli_ssl_certs_find(&c, "/etc/haproxy/ssl/.a.pem"));
    mcli_ssl_certs_free(&c);
    ck_assert_int_eq(mcli_parse_ssl_certs("# filename\n", &c), 0);
    ck_assert_ptr_null(mcli_ssl_certs_find(&c, "/x"));
    mcli_ssl_certs_free(&c);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("deployer_mcli");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_mcli_answers_end_at_the_next_prompt);
    tcase_add_test(tc, test_mcli_show_proc_is_parsed);
    tcase_add_test(tc, test_mcli_answer_success_rules);
    tcase_add_test(tc, test_mcli_ssl_cert_answers);
    tcase_add_test(tc, test_mcli_show_ssl_cert_names_are_found_by_normalised_path);
    suite_add_tcase(s, tc);
    return s;
}
