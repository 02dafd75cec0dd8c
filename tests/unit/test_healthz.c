/* The /healthz rule (supervisor/healthz.c): a frozen elector that claims leadership fails the probe once
 * lease_duration + retry_period passed without a renewal; a slow renewal inside that bound does not. */
#include "supervisor/healthz.h"
#include "tests/unit/unit.h"

/* A tight but valid timing: lease 3 s, renew_deadline 2 s, retry 500 ms (the integration tests' values). */
#define LEASE 3000
#define RETRY 500

START_TEST(test_healthz_late_renewal_within_the_tolerance_stays_green)
{
    /* just past lease_duration: a renewal slowed by the machine, not a stuck elector */
    ck_assert_int_eq(healthz_leader_stale(1, 1000, 1000 + LEASE + 1, LEASE, RETRY), 0);
    ck_assert_int_eq(healthz_leader_stale(1, 1000, 1000 + LEASE + RETRY, LEASE, RETRY), 0);
}
END_TEST

START_TEST(test_healthz_frozen_elector_that_claims_leadership_goes_red)
{
    ck_assert_int_eq(healthz_leader_stale(1, 1000, 1000 + LEASE + RETRY + 1, LEASE, RETRY), 1);
    /* an elector that said lost_leadership claims nothing: never stale */
    ck_assert_int_eq(healthz_leader_stale(0, 1000, 1000 + 10 * LEASE, LEASE, RETRY), 0);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("healthz");
    TCase *tc = tcase_create("healthz");
    tcase_add_test(tc, test_healthz_late_renewal_within_the_tolerance_stays_green);
    tcase_add_test(tc, test_healthz_frozen_elector_that_claims_leadership_goes_red);
    suite_add_tcase(s, tc);
    return s;
}
