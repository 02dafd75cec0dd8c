/* The fast-lane classifier: endpoint-only changes on slots become runtime operations; anything else goes
 * to the reload lane with a reason. */
#include "tests/unit/unit.h"
#include "workers/deployer/diff.h"

#include <string.h>

#define HEAD "global\n    maxconn 100\ndefaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:8080\n    default_backend be\n"

static struct diff_plan plan_of(const char *a, const char *b)
{
    struct diff_plan p;
    ck_assert_int_eq(diff_configs(a, strlen(a), b, strlen(b), &p), 0);
    return p;
}

START_TEST(test_diff_same_config_is_fast_with_no_ops)
{
    const char *a = HEAD "backend be\n    server SRV_1 10.0.0.1:80 check\n";
    struct diff_plan p = plan_of(a, a);
    ck_assert_int_eq(p.fast, 1);
    ck_assert_uint_eq(p.nops, 0);
    diff_plan_free(&p);
}
END_TEST

START_TEST(test_diff_slot_address_weight_state_changes_become_ops)
{
    const char *a = HEAD "backend be\n    server SRV_1 10.0.0.1:80 check weight 10\n"
                         "    server SRV_2 127.0.0.1:1 check disabled\n"
                         "listen li\n    server SRV_1 10.0.0.9:80\n";
    const char *b = HEAD "backend be\n    server SRV_1 10.0.0.2:8080 check weight 20\n"
                         "    server SRV_2 10.0.0.3:81 check\n"
                         "listen li\n    server SRV_1 10.0.0.9:80 disabled\n";
    struct diff_plan p = plan_of(a, b);
    ck_assert_msg(p.fast, "%s", p.reason);
    ck_assert_uint_eq(p.nops, 3);
    ck_assert_str_eq(p.ops[0].backend, "be");
    ck_assert_str_eq(p.ops[0].server, "SRV_1");
    ck_assert_uint_eq(p.ops[0].what, DIFF_SET_ADDR | DIFF_SET_WEIGHT);
    ck_assert_str_eq(p.ops[0].addr, "10.0.0.2");
    ck_assert_int_eq(p.ops[0].port, 8080);
    ck_assert_int_eq(p.ops[0].weight, 20);
    ck_assert_uint_eq(p.ops[1].what, DIFF_SET_ADDR | DIFF_SET_STATE);
    ck_assert_int_eq(p.ops[1].enabled, 1);
    ck_assert_str_eq(p.ops[2].backend, "li");
    ck_assert_uint_eq(p.ops[2].what, DIFF_SET_STATE);
    ck_assert_int_eq(p.ops[2].enabled, 0);
    diff_plan_free(&p);
}
END_TEST

START_TEST(test_diff_ipv6_addresses_are_fast)
{
    const char *a = HEAD "backend be\n    server SRV_1 [::1]:80\n";
    const char *b = HEAD "backend be\n    server SRV_1 [fe80::2]:81\n";
    struct diff_plan p = plan_of(a, b);
    ck_assert_msg(p.fast, "%s", p.reason);
    ck_assert_str_eq(p.ops[0].addr, "fe80::2");
    ck_assert_int_eq(p.ops[0].port, 81);
    diff_plan_free(&p);
}
END_TEST

static void assert_slow(const char *a, const char *b, const char *reason)
{
    struct diff_plan p = plan_of(a, b);
    ck_assert_int_eq(p.fast, 0);
    ck_assert_msg(strstr(p.reason, reason) != NULL, "want %s, reason: %s", reason, p.reason);
    diff_plan_free(&p);
}

START_TEST(test_diff_changes_that_do_not_fit_take_the_reload_lane)
{
    const char *base = HEAD "backend be\n    server SRV_1 10.0.0.1:80 check\n";
    /* more endpoints than slots: a server line added */
    assert_slow(base, HEAD "backend be\n    server SRV_1 10.0.0.1:80 check\n    server SRV_2 10.0.0.2:80 check\n",
                "added or removed");
    /* a new backend */
    assert_slow(base, HEAD "backend b2\n    server SRV_1 10.0.0.1:80 check\n", "section line");
    /* an option */
    assert_slow(base, HEAD "backend be\n    server SRV_1 10.0.0.1:80 check inter 5s\n", "options");
    assert_slow(base, HEAD "backend be\n    balance leastconn\n", "other than a server");
    /* outside backends */
    assert_slow(base, "global\n    maxconn 200\ndefaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:8080\n"
                      "    default_backend be\nbackend be\n    server SRV_1 10.0.0.1:80 check\n",
                "outside backends");
    /* a host name cannot be set at runtime */
    assert_slow(base, HEAD "backend be\n    server SRV_1 example.com:80 check\n", "not an IP");
    assert_slow(base, HEAD "backend be\n    server SRV_2 10.0.0.1:80 check\n", "renamed");
    assert_slow(base, HEAD "backend be\n    server SRV_1 10.0.0.1 check\n", "port");
    assert_slow(HEAD "backend be\n    server SRV_1 10.0.0.1:80 weight 5\n", HEAD "backend be\n    server SRV_1 10.0.0.1:80\n",
                "weight was removed");
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("deployer_diff");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_diff_same_config_is_fast_with_no_ops);
    tcase_add_test(tc, test_diff_slot_address_weight_state_changes_become_ops);
    tcase_add_test(tc, test_diff_ipv6_addresses_are_fast);
    tcase_add_test(tc, test_diff_changes_that_do_not_fit_take_the_reload_lane);
    suite_add_tcase(s, tc);
    return s;
}
