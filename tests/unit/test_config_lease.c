/* The config loader and the elector judge a leader-election setting by the same rules: every combination
 * of durations around the rules' edges is accepted by both or refused by both (before, a lease_duration
 * under 1s passed validate-config and the elector then refused to start), and an identity the elector
 * would refuse is refused by the config. */
#include "tests/unit/unit.h"

#include <stdlib.h>
#include <string.h>

#include "elector/lease.h"
#include "tests/unit/config_test_util.h"

static void env_setup(void)
{
    unsetenv("POD_NAME");
    setenv("POD_NAMESPACE", "ingress", 1);
    config_set_sa_namespace_file("/nonexistent/serviceaccount/namespace");
}

static void env_teardown(void) { config_set_sa_namespace_file(NULL); }

START_TEST(test_config_and_elector_agree_on_timing)
{
    /* 0 is "unset" to neither: the config parses "0s" as zero */
    static const int64_t ms[] = {0, 1, 500, 999, 1000, 1001, 1200, 1201, 2000, 2400, 2401, 3000, 10000, 15000};
    size_t n = sizeof(ms) / sizeof(ms[0]), checked = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            for (size_t k = 0; k < n; k++) {
                char doc[1024];
                snprintf(doc, sizeof(doc),
                         "controller:\n  leader_election:\n    identity: pod-a\n    lease_duration: %lldms\n"
                         "    renew_deadline: %lldms\n    retry_period: %lldms\n" VALID_REST,
                         (long long)ms[i], (long long)ms[j], (long long)ms[k]);
                struct loaded l = load_yaml(doc);
                struct lease_config lc = {.lease_duration_ms = ms[i], .renew_deadline_ms = ms[j],
                                          .retry_period_ms = ms[k], .identity = "pod-a"};
                struct err e;
                err_clear(&e);
                int elector_ok = lease_config_validate(&lc, &e) == 0;
                ck_assert_msg((l.rc == 0) == elector_ok, "%lld/%lld/%lld ms: config %s, elector %s (%s)",
                              (long long)ms[i], (long long)ms[j], (long long)ms[k], l.rc == 0 ? "accepts" : "refuses",
                              elector_ok ? "accepts" : "refuses", e.msg);
                loaded_free(&l);
                checked++;
            }
    ck_assert_uint_eq(checked, n * n * n);
}
END_TEST

START_TEST(test_lease_duration_under_a_second_refused)
{
    struct loaded l = load_refused("controller:\n  leader_election:\n    lease_duration: 900ms\n"
                                   "    renew_deadline: 500ms\n    retry_period: 100ms\n" VALID_REST,
                                   "controller.leader_election.lease_duration", "under 1s");
    ck_assert_uint_eq(l.errs.len, 1);
    loaded_free(&l);
}
END_TEST

START_TEST(test_identity_longer_than_the_elector_takes_refused)
{
    char id[LEASE_IDENTITY_MAX + 2], doc[LEASE_IDENTITY_MAX + 512];
    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    snprintf(doc, sizeof(doc), "controller:\n  leader_election:\n    identity: %s\n" VALID_REST, id);
    struct loaded l = load_refused(doc, "controller.leader_election.identity", "513 characters long (from identity)");
    ck_assert_int_eq(l.errs.items[0].line, 3);
    loaded_free(&l);
    /* from POD_NAME too */
    setenv("POD_NAME", id, 1);
    l = load_refused(VALID_REST, "controller.leader_election.identity", "(from POD_NAME)");
    loaded_free(&l);
    /* the bound itself is fine, for the config and the elector */
    id[LEASE_IDENTITY_MAX] = '\0';
    setenv("POD_NAME", id, 1);
    l = load_ok(VALID_REST);
    struct lease_config lc = {.lease_duration_ms = 15000, .renew_deadline_ms = 10000, .retry_period_ms = 2000,
                              .identity = l.cfg->controller.leader_election.identity};
    ck_assert_int_eq(lease_config_validate(&lc, NULL), 0);
    loaded_free(&l);
    /* and disabled election does not care */
    id[LEASE_IDENTITY_MAX] = 'a';
    setenv("POD_NAME", id, 1);
    l = load_ok("controller:\n  leader_election:\n    enabled: false\n" VALID_REST);
    loaded_free(&l);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("config_lease");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, env_setup, env_teardown);
    tcase_add_test(tc, test_config_and_elector_agree_on_timing);
    tcase_add_test(tc, test_lease_duration_under_a_second_refused);
    tcase_add_test(tc, test_identity_longer_than_the_elector_takes_refused);
    suite_add_tcase(s, tc);
    return s;
}
