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

Suite *suite_under_test(void)
{
    Suite *s = suite_create("deployer_mcli");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_mcli_answers_end_at_the_next_prompt);
    tcase_add_test(tc, test_mcli_show_proc_is_parsed);
    tcase_add_test(tc, test_mcli_answer_success_rules);
    suite_add_tcase(s, tc);
    return s;
}
