/* The fast-lane classifier: endpoint-only changes on slots become runtime operations; anything else goes
 * to the reload lane with a reason. */
#include "tests/unit/unit.h"
#include "common/haproxy/diff.h"

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

#define CERT_BLOCK "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
#define KEY_BLOCK "-----BEGIN PRIVATE KEY-----\nMIIBkey\n-----END PRIVATE KEY-----\n"

static int payloads(const char *pem, size_t max, struct diff_cert_payloads *out, char *why)
{
    return diff_cert_payloads(pem, strlen(pem), max, out, why, 256);
}

START_TEST(test_diff_cert_payload_drops_empty_lines_and_text_between_blocks)
{
    /* an empty line ends a CLI payload: one inside the PEM would cut the certificate short */
    const char *pem = "Bag Attributes\r\n" CERT_BLOCK "\n\r\n   \n" KEY_BLOCK "\n";
    struct diff_cert_payloads p;
    char why[256] = "";
    ck_assert_int_eq(payloads(pem, 4096, &p, why), 0);
    ck_assert_str_eq(p.pem, CERT_BLOCK KEY_BLOCK);
    ck_assert_ptr_null(p.key);
    ck_assert_ptr_null(strstr(p.pem, "\n\n"));
    diff_cert_payloads_free(&p);
}
END_TEST

START_TEST(test_diff_cert_payload_too_large_splits_the_key_apart)
{
    const char *pem = CERT_BLOCK CERT_BLOCK "-----BEGIN EC PARAMETERS-----\nBggq\n-----END EC PARAMETERS-----\n"
                      "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n";
    struct diff_cert_payloads p;
    char why[256] = "";
    size_t chain = 2 * strlen(CERT_BLOCK), keylen = 128; /* the two key blocks */
    ck_assert_uint_gt(keylen, chain);
    ck_assert_int_eq(payloads(pem, keylen, &p, why), 0);
    ck_assert_str_eq(p.pem, CERT_BLOCK CERT_BLOCK);
    ck_assert_str_eq(p.key, "-----BEGIN EC PARAMETERS-----\nBggq\n-----END EC PARAMETERS-----\n"
                            "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n");
    diff_cert_payloads_free(&p);
    /* a part over the bound: the runtime API cannot take it */
    ck_assert_int_eq(payloads(pem, keylen - 1, &p, why), 1);
    ck_assert_ptr_nonnull(strstr(why, "over the"));
    ck_assert_ptr_null(p.pem);
}
END_TEST

START_TEST(test_diff_cert_payload_refuses_what_is_not_a_certificate)
{
    struct diff_cert_payloads p;
    char why[256] = "";
    ck_assert_int_eq(payloads(KEY_BLOCK, 4096, &p, why), 1);
    ck_assert_str_eq(why, "no certificate in the file");
    ck_assert_int_eq(payloads("-----BEGIN CERTIFICATE-----\nMIIB\n", 4096, &p, why), 1);
    ck_assert_str_eq(why, "a PEM block without its END line");
    ck_assert_int_eq(payloads(CERT_BLOCK CERT_BLOCK, strlen(CERT_BLOCK), &p, why), 1);
    ck_assert_ptr_nonnull(strstr(why, "no key to send apart"));
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
    tcase_add_test(tc, test_diff_cert_payload_drops_empty_lines_and_text_between_blocks);
    tcase_add_test(tc, test_diff_cert_payload_too_large_splits_the_key_apart);
    tcase_add_test(tc, test_diff_cert_payload_refuses_what_is_not_a_certificate);
    suite_add_tcase(s, tc);
    return s;
}
