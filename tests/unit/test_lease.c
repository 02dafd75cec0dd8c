/* The Lease decision logic on a fake clock: client-go's tryAcquireOrRenew, release, MicroTime and the timing
 * arithmetic, one test per edge case of the Lease spec (k8s-lease-and-api-protocol.md section 6) that can be
 * expressed without I/O. */
#include "tests/unit/unit.h"
#include <stdio.h>
#include <string.h>

#include "elector/lease.h"

#define ME "pod-a_1111"
#define OTHER "pod-b_2222"

static struct lease_config cfg_default(void)
{
    struct lease_config c = {.lease_duration_ms = 15000, .renew_deadline_ms = 10000, .retry_period_ms = 2000,
                             .identity = ME};
    return c;
}

static struct lease_time wall(int64_t sec, int32_t usec)
{
    struct lease_time t = {.sec = sec, .usec = usec, .set = 1};
    return t;
}

static struct lease_object obj(const char *holder, int32_t dur, int64_t acq, int64_t renew, int32_t trans,
                               const char *rv)
{
    struct lease_object o;
    memset(&o, 0, sizeof(o));
    snprintf(o.rec.holder, sizeof(o.rec.holder), "%s", holder);
    o.rec.duration_s = dur;
    o.rec.acquire = wall(acq, 0);
    o.rec.renew = wall(renew, 0);
    o.rec.transitions = trans;
    snprintf(o.resource_version, sizeof(o.resource_version), "%s", rv);
    snprintf(o.uid, sizeof(o.uid), "uid-1");
    return o;
}

/* The object the API returns after a write of a: the desired record with a new resourceVersion. */
static struct lease_object written(const struct lease_attempt *a, const char *rv)
{
    struct lease_object o;
    memset(&o, 0, sizeof(o));
    o.rec = a->desired;
    snprintf(o.resource_version, sizeof(o.resource_version), "%s", rv);
    snprintf(o.uid, sizeof(o.uid), "uid-1");
    return o;
}

/* One slow-path attempt at `now` against a GET answer; returns the next action after the GET. */
static enum lease_action get_then(struct lease_state *s, struct lease_attempt *a, int64_t now,
                                  const struct lease_object *fetched)
{
    struct lease_time w = wall(1700000000 + now / 1000, 0);
    ck_assert_int_eq(lease_attempt_begin(s, a, now, &w), LEASE_ACT_GET);
    return lease_attempt_on_get(s, a, fetched ? LEASE_ST_OK : LEASE_ST_NOT_FOUND, fetched, now);
}

/* Become leader by creating the lease at `now`; the created object gets resourceVersion rv. */
static void become_leader_by_create(struct lease_state *s, int64_t now, const char *rv)
{
    struct lease_attempt a;
    ck_assert_int_eq(get_then(s, &a, now, NULL), LEASE_ACT_CREATE);
    struct lease_object o = written(&a, rv);
    ck_assert_int_eq(lease_attempt_on_create(s, &a, LEASE_ST_OK, &o, now), LEASE_ACT_NONE);
    ck_assert_int_eq(a.result, LEASE_RES_ACQUIRED);
    ck_assert(lease_is_leader(s));
}

/* ---- configuration ---- */

START_TEST(test_lease_config_checks_in_client_go_order)
{
    struct err e;
    struct lease_config c = cfg_default();
    ck_assert_int_eq(lease_config_validate(&c, &e), 0);

    c.lease_duration_ms = 10000; /* == renew deadline; also breaks nothing else */
    ck_assert_int_eq(lease_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.msg, "leaseDuration must be greater than renewDeadline");

    c = cfg_default();
    c.retry_period_ms = 8334; /* 1.2 * 8334 > 10000 */
    ck_assert_int_eq(lease_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.msg, "renewDeadline must be greater than retryPeriod*JitterFactor");

    c = cfg_default();
    c.retry_period_ms = 0;
    ck_assert_int_eq(lease_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.msg, "retryPeriod must be greater than zero");

    c = cfg_default();
    c.renew_deadline_ms = 0;
    c.retry_period_ms = -1;
    ck_assert_int_eq(lease_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.msg, "renewDeadline must be greater than zero");

    c = cfg_default();
    c.identity = "";
    ck_assert_int_eq(lease_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.msg, "Lock identity is empty");

    /* Ours: under a second would be written as leaseDurationSeconds 0 and refused by the API. */
    c = cfg_default();
    c.lease_duration_ms = 900;
    c.renew_deadline_ms = 800;
    c.retry_period_ms = 100;
    ck_assert_int_eq(lease_config_validate(&c, &e), -1);
    ck_assert(strstr(e.msg, "at least 1s") != NULL);
}
END_TEST

START_TEST(test_lease_config_warns_about_thin_margins)
{
    char w[4][ERR_MSG_MAX];
    struct lease_config c = cfg_default();
    ck_assert_int_eq(lease_config_warnings(&c, w, 4), 0);
    c.lease_duration_ms = 12000; /* 2 + 10 >= 12 */
    ck_assert_int_eq(lease_config_warnings(&c, w, 4), 1);
    ck_assert(strstr(w[0], "retryPeriod + renewDeadline") != NULL);
    /* section 6.20: leaseDurationSeconds below 2 x retryPeriod */
    c = (struct lease_config){.lease_duration_ms = 3000, .renew_deadline_ms = 2500, .retry_period_ms = 2000,
                              .identity = ME};
    ck_assert_int_eq(lease_config_warnings(&c, w, 4), 2);
    ck_assert(strstr(w[1], "2 x retryPeriod") != NULL);
    c = (struct lease_config){.lease_duration_ms = 1000, .renew_deadline_ms = 600, .retry_period_ms = 150,
                              .identity = ME};
    ck_assert_int_eq(lease_config_warnings(&c, w, 4), 2);
    ck_assert(strstr(w[0], "sooner") != NULL);
    ck_assert(strstr(w[1], "whole seconds") != NULL);
}
END_TEST

/* ---- MicroTime (section 6.27) ---- */

START_TEST(test_lease_microtime_has_exactly_six_digits)
{
    char s[LEASE_MICROTIME_LEN];
    struct lease_time t = wall(1740823512, 654321);
    lease_microtime_format(&t, s, sizeof(s));
    ck_assert_str_eq(s, "2025-03-01T10:05:12.654321Z");
    t = wall(1740823512, 0); /* trailing zeros kept */
    lease_microtime_format(&t, s, sizeof(s));
    ck_assert_str_eq(s, "2025-03-01T10:05:12.000000Z");
    t = wall(0, 5);
    lease_microtime_format(&t, s, sizeof(s));
    ck_assert_str_eq(s, "1970-01-01T00:00:00.000005Z");
    t = wall(951782400, 1); /* leap day 2000 */
    lease_microtime_format(&t, s, sizeof(s));
    ck_assert_str_eq(s, "2000-02-29T00:00:00.000001Z");
}
END_TEST

START_TEST(test_lease_microtime_parses_leniently)
{
    struct lease_time t;
    ck_assert_int_eq(lease_microtime_parse("2025-03-01T10:05:12.654321Z", &t), 0);
    ck_assert_int_eq(t.sec, 1740823512);
    ck_assert_int_eq(t.usec, 654321);
    ck_assert_int_eq(t.set, 1);
    ck_assert_int_eq(lease_microtime_parse("2025-03-01T10:05:12Z", &t), 0);
    ck_assert_int_eq(t.usec, 0);
    ck_assert_int_eq(lease_microtime_parse("2025-03-01T10:05:12.123Z", &t), 0);
    ck_assert_int_eq(t.usec, 123000);
    ck_assert_int_eq(lease_microtime_parse("2020-02-28T20:11:41.636526400Z", &t), 0); /* truncated */
    ck_assert_int_eq(t.usec, 636526);
    ck_assert_int_eq(lease_microtime_parse("2025-03-01T12:05:12.000001+02:00", &t), 0);
    ck_assert_int_eq(t.sec, 1740823512);
    ck_assert_int_eq(lease_microtime_parse("2025-03-01T08:35:12.5-01:30", &t), 0);
    ck_assert_int_eq(t.sec, 1740823512);
    ck_assert_int_eq(t.usec, 500000);

    /* round trip */
    char s[LEASE_MICROTIME_LEN];
    struct lease_time in = wall(4102444799, 999999), out;
    lease_microtime_format(&in, s, sizeof(s));
    ck_assert_str_eq(s, "2099-12-31T23:59:59.999999Z");
    ck_assert_int_eq(lease_microtime_parse(s, &out), 0);
    ck_assert_int_eq(out.sec, in.sec);
    ck_assert_int_eq(out.usec, in.usec);

    const char *bad[] = {"", "2025-03-01", "2025-03-01 10:05:12Z", "2025-13-01T10:05:12Z",
                         "2025-02-29T10:05:12Z", "2025-03-01T10:05:12.Z", "2025-03-01T10:05:12.1234567890Z",
                         "2025-03-01T10:05:12", "2025-03-01T10:05:12Zjunk", "2025-03-01T24:00:00Z",
                         "2025-03-01T10:05:12+0200"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(lease_microtime_parse(bad[i], &t) == -1, "accepted %s", bad[i]);
    ck_assert_int_eq(lease_microtime_parse(NULL, &t), -1);
}
END_TEST

/* ---- acquiring ---- */

START_TEST(test_lease_created_when_not_found)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    ck_assert_int_eq(get_then(&s, &a, 100, NULL), LEASE_ACT_CREATE);
    ck_assert_str_eq(a.desired.holder, ME);
    ck_assert_int_eq(a.desired.duration_s, 15);
    ck_assert_int_eq(a.desired.transitions, 0);
    ck_assert_int_eq(a.desired.acquire.sec, a.desired.renew.sec);
    struct lease_object o = written(&a, "10");
    ck_assert_int_eq(lease_attempt_on_create(&s, &a, LEASE_ST_OK, &o, 120), LEASE_ACT_NONE);
    ck_assert_int_eq(a.result, LEASE_RES_ACQUIRED);
    ck_assert_int_eq(a.reason, LEASE_WHY_CREATED);
    ck_assert_int_eq(s.observed_mono_ms, 120);
    ck_assert_str_eq(s.cached_rv, "10");
    char id[LEASE_IDENTITY_MAX + 1];
    ck_assert_int_eq(lease_take_new_leader(&s, id, sizeof(id)), 1); /* fires for ourselves too */
    ck_assert_str_eq(id, ME);
    ck_assert_int_eq(lease_take_new_leader(&s, id, sizeof(id)), 0);
}
END_TEST

/* 6.8: two candidates race to create; the loser waits a full lease duration of no change. */
START_TEST(test_lease_create_race_loser_waits_full_duration)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    ck_assert_int_eq(get_then(&s, &a, 0, NULL), LEASE_ACT_CREATE);
    ck_assert_int_eq(lease_attempt_on_create(&s, &a, LEASE_ST_CONFLICT, NULL, 5), LEASE_ACT_NONE);
    ck_assert_int_eq(a.result, LEASE_RES_FAILED);
    ck_assert_int_eq(a.reason, LEASE_WHY_CREATE_FAILED);
    ck_assert(!lease_is_leader(&s));

    struct lease_object w = obj(OTHER, 15, 1000, 1000, 0, "7");
    ck_assert_int_eq(get_then(&s, &a, 2000, &w), LEASE_ACT_NONE);
    ck_assert_int_eq(a.reason, LEASE_WHY_HELD_BY_OTHER);
    ck_assert_int_eq(lease_expiry_mono(&s), 17000);
    /* The same record again: no change, the clock keeps running from 2000. */
    ck_assert_int_eq(get_then(&s, &a, 16999, &w), LEASE_ACT_NONE);
    ck_assert_int_eq(a.reason, LEASE_WHY_HELD_BY_OTHER);
    ck_assert_int_eq(get_then(&s, &a, 17000, &w), LEASE_ACT_UPDATE);
    ck_assert_str_eq(a.rv, "7");
    ck_assert_int_eq(a.desired.transitions, 1);
}
END_TEST

/* 6.1 / 6.2: an empty (or absent) holder is acquirable at once; transitions + 1, acquireTime = now. */
START_TEST(test_lease_empty_holder_acquired_at_once)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    struct lease_object released = obj("", 1, 500, 500, 4, "30");
    ck_assert_int_eq(get_then(&s, &a, 1000, &released), LEASE_ACT_UPDATE);
    ck_assert_int_eq(a.desired.transitions, 5);
    ck_assert_int_eq(a.desired.acquire.sec, 1700000001);
    ck_assert_str_eq(a.rv, "30");
    struct lease_object o = written(&a, "31");
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_OK, &o, 1010), LEASE_ACT_NONE);
    ck_assert_int_eq(a.result, LEASE_RES_ACQUIRED);
    ck_assert_int_eq(a.reason, LEASE_WHY_TOOK_OVER);
    ck_assert(lease_is_leader(&s));
    ck_assert_int_eq(s.observed.transitions, 5);
}
END_TEST

/* Expiry is judged from when we saw the record change, with the lease's own duration (6.4, 6.19). */
START_TEST(test_lease_not_taken_before_observed_expiry)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    /* renewTime far in the past: ignored. The holder's duration (20 s) rules, not our 15 s. */
    struct lease_object held = obj(OTHER, 20, 1, 1, 2, "5");
    ck_assert_int_eq(get_then(&s, &a, 50000, &held), LEASE_ACT_NONE);
    ck_assert_int_eq(a.reason, LEASE_WHY_HELD_BY_OTHER);
    ck_assert_int_eq(get_then(&s, &a, 65000, &held), LEASE_ACT_NONE); /* our 15 s would have expired */
    ck_assert_int_eq(get_then(&s, &a, 69999, &held), LEASE_ACT_NONE);
    ck_assert_int_eq(get_then(&s, &a, 70000, &held), LEASE_ACT_UPDATE);
    ck_assert_int_eq(a.desired.transitions, 3);
    ck_assert_int_eq(a.desired.duration_s, 15); /* we write our own duration */
}
END_TEST

START_TEST(test_lease_future_renew_time_changes_nothing)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    struct lease_object held = obj(OTHER, 15, 4000000000, 4000000000, 0, "5");
    ck_assert_int_eq(get_then(&s, &a, 0, &held), LEASE_ACT_NONE);
    ck_assert_int_eq(get_then(&s, &a, 14999, &held), LEASE_ACT_NONE);
    ck_assert_int_eq(get_then(&s, &a, 15000, &held), LEASE_ACT_UPDATE);
}
END_TEST

/* A renewal by the holder restarts our clock, a change in the sub-second part only too (6.5, 6.6: client-go
 * would not see it; docs/leader-election.md "Renewals compared to the microsecond"). */
START_TEST(test_lease_change_restarts_clock_at_microsecond_precision)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    struct lease_object r1 = obj(OTHER, 15, 100, 100, 0, "5");
    ck_assert_int_eq(get_then(&s, &a, 0, &r1), LEASE_ACT_NONE);
    struct lease_object r2 = r1;
    r2.rec.renew.usec = 900000; /* same whole second: a renewal all the same */
    snprintf(r2.resource_version, sizeof(r2.resource_version), "6");
    ck_assert_int_eq(get_then(&s, &a, 10000, &r2), LEASE_ACT_NONE);
    ck_assert_int_eq(lease_expiry_mono(&s), 25000);
    ck_assert_str_eq(s.cached_rv, "6"); /* and the PUT would carry the newest resourceVersion */
    struct lease_object r3 = r1;
    r3.rec.renew.sec = 90; /* a backwards wall-clock jump is still a change */
    ck_assert_int_eq(get_then(&s, &a, 12000, &r3), LEASE_ACT_NONE);
    ck_assert_int_eq(lease_expiry_mono(&s), 27000);
    ck_assert_int_eq(get_then(&s, &a, 26999, &r3), LEASE_ACT_NONE);
    ck_assert_int_eq(get_then(&s, &a, 27000, &r3), LEASE_ACT_UPDATE);
}
END_TEST

/* 6.18: labels or annotations edited by a human do not reset the expiry clock. */
START_TEST(test_lease_metadata_only_change_is_not_a_change)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    struct lease_object r1 = obj(OTHER, 15, 100, 100, 0, "5");
    ck_assert_int_eq(get_then(&s, &a, 0, &r1), LEASE_ACT_NONE);
    struct lease_object r2 = r1;
    snprintf(r2.resource_version, sizeof(r2.resource_version), "9");
    ck_assert_int_eq(lease_observe(&s, &r2, 8000), 0);
    ck_assert_int_eq(get_then(&s, &a, 15000, &r2), LEASE_ACT_UPDATE);
    ck_assert_str_eq(a.rv, "9");
}
END_TEST

/* Two renewals within one wall second are two renewals: the expiry counts from the second one (the chaos
 * soak's seed 1204: a restarted elector renewed 0.53 s after its predecessor, inside the same second, and a
 * follower compared at whole seconds took over 3.47 s after the real last renewal of a 4 s lease). */
START_TEST(test_lease_renewal_within_the_same_second_restarts_the_clock)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    struct lease_object r1 = obj(OTHER, 15, 100, 100, 0, "5");
    r1.rec.renew.usec = 237000;
    ck_assert_int_eq(get_then(&s, &a, 0, &r1), LEASE_ACT_NONE);
    struct lease_object r2 = r1;
    r2.rec.renew.usec = 773000;
    snprintf(r2.resource_version, sizeof(r2.resource_version), "6");
    ck_assert_int_eq(lease_observe(&s, &r2, 536), 1);
    ck_assert_int_eq(lease_expiry_mono(&s), 15536);
    ck_assert_int_eq(get_then(&s, &a, 15000, &r2), LEASE_ACT_NONE);
}
END_TEST

/* 6.17: strategy/preferredHolder count as changes, and we never write them. */
START_TEST(test_lease_strategy_fields_compared_not_written)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    struct lease_object r1 = obj(OTHER, 15, 100, 100, 0, "5");
    ck_assert_int_eq(get_then(&s, &a, 0, &r1), LEASE_ACT_NONE);
    struct lease_object r2 = r1;
    snprintf(r2.rec.preferred_holder, sizeof(r2.rec.preferred_holder), "%s", ME);
    snprintf(r2.rec.strategy, sizeof(r2.rec.strategy), "OldestEmulationVersion");
    ck_assert_int_eq(lease_observe(&s, &r2, 5000), 1);
    ck_assert_int_eq(get_then(&s, &a, 19999, &r2), LEASE_ACT_NONE);
    ck_assert_int_eq(get_then(&s, &a, 20000, &r2), LEASE_ACT_UPDATE);
    ck_assert_str_eq(a.desired.strategy, "");
    ck_assert_str_eq(a.desired.preferred_holder, "");
}
END_TEST

/* 6.3: leaseDurationSeconds absent or 0 while held by someone else: expired as soon as observed. */
START_TEST(test_lease_zero_duration_taken_over)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    struct lease_object z = obj(OTHER, 0, 100, 100, 3, "5");
    /* The GET answered within the same millisecond: expired at once. */
    ck_assert_int_eq(get_then(&s, &a, 1000, &z), LEASE_ACT_UPDATE);
    ck_assert_int_eq(a.desired.transitions, 4);

    /* A slower GET (observed after the attempt's `now`): as in client-go, the next attempt takes it. */
    lease_state_init(&s, &c);
    struct lease_time w = wall(1700000000, 0);
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 1000, &w), LEASE_ACT_GET);
    ck_assert_int_eq(lease_attempt_on_get(&s, &a, LEASE_ST_OK, &z, 1040), LEASE_ACT_NONE);
    ck_assert_int_eq(get_then(&s, &a, 1041, &z), LEASE_ACT_UPDATE);
}
END_TEST

/* ---- renewing ---- */

START_TEST(test_lease_fast_path_renews_through_cached_object)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    become_leader_by_create(&s, 0, "10");
    int64_t acq = s.observed.acquire.sec;

    struct lease_attempt a;
    struct lease_time w = wall(1700000002, 250000);
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 2000, &w), LEASE_ACT_UPDATE);
    ck_assert(a.fast_path);
    ck_assert_str_eq(a.rv, "10");
    ck_assert_int_eq(a.desired.acquire.sec, acq); /* acquireTime kept */
    ck_assert_int_eq(a.desired.renew.sec, 1700000002);
    ck_assert_int_eq(a.desired.renew.usec, 250000);
    ck_assert_int_eq(a.desired.transitions, 0);
    struct lease_object o = written(&a, "11");
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_OK, &o, 2030), LEASE_ACT_NONE);
    ck_assert_int_eq(a.result, LEASE_RES_ACQUIRED);
    ck_assert_int_eq(a.reason, LEASE_WHY_RENEWED_FAST);
    ck_assert_str_eq(s.cached_rv, "11");
    ck_assert_int_eq(s.observed_mono_ms, 2030);
    ck_assert_int_eq(s.slow_path_renewals, 0);
}
END_TEST

/* 6.9 / 6.13: fast-path 409 falls back to GET + PUT in the same attempt with the fresh resourceVersion. */
START_TEST(test_lease_fast_path_conflict_falls_back_to_slow_path)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    become_leader_by_create(&s, 0, "10");
    struct lease_attempt a;
    struct lease_time w2 = wall(1700000002, 0), w = wall(1700000004, 0);
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 2000, &w2), LEASE_ACT_UPDATE);
    /* its answer never came; the attempt then ran out of budget before its GET */
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_TIMEOUT, NULL, 3000), LEASE_ACT_GET);
    lease_attempt_abort(&s, &a, LEASE_ST_TIMEOUT);
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 4000, &w), LEASE_ACT_UPDATE);
    /* That PUT reached the server after we had timed out: the cached rv is stale. */
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_CONFLICT, NULL, 4010), LEASE_ACT_GET);
    struct lease_object ours = obj(ME, 15, 1700000000, 1700000002, 0, "12");
    ck_assert_int_eq(lease_attempt_on_get(&s, &a, LEASE_ST_OK, &ours, 4020), LEASE_ACT_UPDATE);
    ck_assert_str_eq(a.rv, "12");
    ck_assert_int_eq(a.desired.acquire.sec, 1700000000);
    ck_assert_int_eq(a.desired.transitions, 0);
    struct lease_object o = written(&a, "13");
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_OK, &o, 4030), LEASE_ACT_NONE);
    ck_assert_int_eq(a.reason, LEASE_WHY_RENEWED_SLOW);
    ck_assert_int_eq(s.slow_path_renewals, 1);
}
END_TEST

/* 6.9: a slow-path PUT conflict ends the attempt; no retry with the same stale resourceVersion. */
START_TEST(test_lease_slow_path_conflict_ends_attempt)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    struct lease_object rel = obj("", 1, 100, 100, 1, "20");
    ck_assert_int_eq(get_then(&s, &a, 0, &rel), LEASE_ACT_UPDATE);
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_CONFLICT, NULL, 10), LEASE_ACT_NONE);
    ck_assert_int_eq(a.result, LEASE_RES_FAILED);
    ck_assert_int_eq(a.reason, LEASE_WHY_UPDATE_FAILED);
    ck_assert_int_eq(a.last_status, LEASE_ST_CONFLICT);
    ck_assert(!lease_is_leader(&s));
}
END_TEST

/* 6.10: the lease is deleted while we hold it: 409 (uid), GET 404, POST; transitions kept from the fast path;
 * no new-leader report. */
START_TEST(test_lease_deleted_while_held_is_recreated)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    struct lease_object rel = obj("", 1, 100, 100, 6, "20");
    ck_assert_int_eq(get_then(&s, &a, 0, &rel), LEASE_ACT_UPDATE);
    struct lease_object o = written(&a, "21");
    lease_attempt_on_update(&s, &a, LEASE_ST_OK, &o, 5);
    ck_assert(lease_is_leader(&s));
    ck_assert_int_eq(s.observed.transitions, 7);
    char id[LEASE_IDENTITY_MAX + 1];
    ck_assert_int_eq(lease_take_new_leader(&s, id, sizeof(id)), 1);

    struct lease_time w = wall(1700000002, 0);
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 2000, &w), LEASE_ACT_UPDATE);
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_CONFLICT, NULL, 2001), LEASE_ACT_GET);
    ck_assert_int_eq(lease_attempt_on_get(&s, &a, LEASE_ST_NOT_FOUND, NULL, 2002), LEASE_ACT_CREATE);
    ck_assert_int_eq(a.desired.transitions, 7);
    o = written(&a, "40");
    ck_assert_int_eq(lease_attempt_on_create(&s, &a, LEASE_ST_OK, &o, 2003), LEASE_ACT_NONE);
    ck_assert_int_eq(a.result, LEASE_RES_ACQUIRED);
    ck_assert(lease_is_leader(&s));
    ck_assert_int_eq(lease_take_new_leader(&s, id, sizeof(id)), 0);
}
END_TEST

/* 6.10, second half: another candidate recreated it first: we fail every attempt and must step down. */
START_TEST(test_lease_deleted_and_taken_by_other)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    become_leader_by_create(&s, 0, "10");
    struct lease_attempt a;
    struct lease_time w = wall(1700000002, 0);
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 2000, &w), LEASE_ACT_UPDATE);
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_CONFLICT, NULL, 2001), LEASE_ACT_GET);
    struct lease_object theirs = obj(OTHER, 15, 1700000001, 1700000001, 0, "50");
    ck_assert_int_eq(lease_attempt_on_get(&s, &a, LEASE_ST_OK, &theirs, 2002), LEASE_ACT_NONE);
    ck_assert_int_eq(a.reason, LEASE_WHY_HELD_BY_OTHER);
    ck_assert(!lease_is_leader(&s));
    /* Further attempts go straight to GET: no fast path for a non-leader. */
    ck_assert_int_eq(get_then(&s, &a, 4000, &theirs), LEASE_ACT_NONE);
    ck_assert_int_eq(a.reason, LEASE_WHY_HELD_BY_OTHER);
}
END_TEST

/* 6.7: restarting with the same identity while the old record is valid: we are leader at once, keeping
 * acquireTime and transitions (slow path). */
START_TEST(test_lease_same_identity_restart_resumes)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    struct lease_object mine = obj(ME, 15, 1600000000, 1699999999, 9, "77");
    ck_assert_int_eq(get_then(&s, &a, 0, &mine), LEASE_ACT_UPDATE);
    ck_assert_int_eq(a.desired.acquire.sec, 1600000000);
    ck_assert_int_eq(a.desired.transitions, 9);
    struct lease_object o = written(&a, "78");
    lease_attempt_on_update(&s, &a, LEASE_ST_OK, &o, 3);
    ck_assert_int_eq(a.reason, LEASE_WHY_RENEWED_SLOW);
    ck_assert_int_eq(s.slow_path_renewals, 1);
}
END_TEST

/* After our lease expired by our own observation (e.g. renewals failed), we no longer take the fast path;
 * an old record naming us is still ours to renew (client-go treats it as ours whatever its age). */
START_TEST(test_lease_expired_own_record_goes_slow_path)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    become_leader_by_create(&s, 0, "10");
    struct lease_attempt a;
    struct lease_time w = wall(1700000020, 0);
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 20000, &w), LEASE_ACT_GET);
    struct lease_object mine = obj(ME, 15, 1700000000, 1700000000, 0, "10");
    ck_assert_int_eq(lease_attempt_on_get(&s, &a, LEASE_ST_OK, &mine, 20001), LEASE_ACT_UPDATE);
    ck_assert_int_eq(a.desired.transitions, 0);
}
END_TEST

/* 6.12 / 6.15 / 6.16: errors end the attempt as failed, whatever they are. */
START_TEST(test_lease_errors_fail_the_attempt)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    enum lease_status errs[] = {LEASE_ST_ERROR, LEASE_ST_TIMEOUT, LEASE_ST_UNAUTHORIZED, LEASE_ST_FORBIDDEN,
                                LEASE_ST_INVALID, LEASE_ST_CONFLICT};
    struct lease_time w = wall(1700000000, 0);
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        ck_assert_int_eq(lease_attempt_begin(&s, &a, 0, &w), LEASE_ACT_GET);
        ck_assert_int_eq(lease_attempt_on_get(&s, &a, errs[i], NULL, 1), LEASE_ACT_NONE);
        ck_assert_int_eq(a.result, LEASE_RES_FAILED);
        ck_assert_int_eq(a.reason, LEASE_WHY_GET_FAILED);
        ck_assert_int_eq(a.last_status, errs[i]);
    }
    /* 6.16: namespace missing -> POST 404 */
    ck_assert_int_eq(get_then(&s, &a, 0, NULL), LEASE_ACT_CREATE);
    ck_assert_int_eq(lease_attempt_on_create(&s, &a, LEASE_ST_NOT_FOUND, NULL, 1), LEASE_ACT_NONE);
    ck_assert_int_eq(a.reason, LEASE_WHY_CREATE_FAILED);
    /* unparsable answer */
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 0, &w), LEASE_ACT_GET);
    ck_assert_int_eq(lease_attempt_on_get(&s, &a, LEASE_ST_OK, NULL, 1), LEASE_ACT_NONE);
    ck_assert_int_eq(a.reason, LEASE_WHY_UNREADABLE);
    /* an abort (no budget left) before sending */
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 0, &w), LEASE_ACT_GET);
    lease_attempt_abort(&s, &a, LEASE_ST_TIMEOUT);
    ck_assert_int_eq(a.result, LEASE_RES_FAILED);
    ck_assert_int_eq(a.pending, LEASE_ACT_NONE);
    ck_assert(!lease_is_leader(&s));
    /* a reply for a request that is not pending does not count */
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_OK, NULL, 2), LEASE_ACT_NONE);
    ck_assert_int_eq(a.result, LEASE_RES_FAILED);
    ck_assert(!lease_is_leader(&s));
}
END_TEST

/* ---- watching, reporting ---- */

START_TEST(test_lease_watch_release_reported_and_acquirable)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    char id[LEASE_IDENTITY_MAX + 1];
    struct lease_object held = obj(OTHER, 15, 100, 100, 2, "5");
    ck_assert_int_eq(get_then(&s, &a, 0, &held), LEASE_ACT_NONE);
    ck_assert_int_eq(lease_take_new_leader(&s, id, sizeof(id)), LEASE_LEADER_NEW);
    ck_assert_str_eq(id, OTHER);
    struct lease_object rel = obj("", 1, 110, 110, 2, "6");
    ck_assert_int_eq(lease_observe(&s, &rel, 3000), 1);
    /* a release is no leader, never a new leader named "" (issue 13 item 14) */
    strcpy(id, "unchanged");
    ck_assert_int_eq(lease_take_new_leader(&s, id, sizeof(id)), LEASE_LEADER_NONE);
    ck_assert_str_eq(id, "unchanged");
    ck_assert_int_eq(lease_take_new_leader(&s, id, sizeof(id)), LEASE_LEADER_SAME);
    ck_assert_int_eq(get_then(&s, &a, 3001, &rel), LEASE_ACT_UPDATE);
    ck_assert_int_eq(a.desired.transitions, 3);
    /* the holder before the release, back again, is reported again: a new term */
    struct lease_object back = obj(OTHER, 15, 120, 120, 3, "7");
    ck_assert_int_eq(lease_observe(&s, &back, 3100), 1);
    ck_assert_int_eq(lease_take_new_leader(&s, id, sizeof(id)), LEASE_LEADER_NEW);
    ck_assert_str_eq(id, OTHER);
}
END_TEST

/* ---- release (section 1.6, 6.36) ---- */

/* Issue 13 item 8: after a write of ours, a record naming us that we did not write is another replica
 * under our identity; once seen, such a record is waited out like another holder's, and never released. */
START_TEST(test_lease_record_naming_us_not_written_by_us_is_a_duplicate)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    become_leader_by_create(&s, 0, "10");
    ck_assert(lease_record_is_ours(&s, &s.observed));
    struct lease_object twin = obj(ME, 15, 1700000001, 1700000001, 0, "11");
    ck_assert(!lease_record_is_ours(&s, &twin.rec));
    struct lease_time w1 = wall(1700000001, 500);
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 1000, &w1), LEASE_ACT_UPDATE);
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_CONFLICT, NULL, 1001), LEASE_ACT_GET);
    ck_assert_int_eq(lease_attempt_on_get(&s, &a, LEASE_ST_OK, &twin, 1002), LEASE_ACT_NONE);
    ck_assert_int_eq(a.reason, LEASE_WHY_DUPLICATE_IDENTITY);
    ck_assert_str_eq(lease_reason_str(a.reason), "duplicate_identity");
    /* no fast path over the twin's record, no release of it */
    struct lease_time w = wall(1700000002, 0);
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 2000, &w), LEASE_ACT_GET);
    struct lease_record rel;
    ck_assert_int_eq(lease_release_record(&s, &twin, &w, &rel), 0);
    /* the twin renews: held by another while valid by our observation */
    struct lease_object renewed = obj(ME, 15, 1700000001, 1700000003, 0, "12");
    ck_assert_int_eq(lease_attempt_on_get(&s, &a, LEASE_ST_OK, &renewed, 3000), LEASE_ACT_NONE);
    ck_assert_int_eq(a.reason, LEASE_WHY_HELD_BY_OTHER);
    /* it stops renewing: taken over at expiry as a new term */
    ck_assert_int_eq(get_then(&s, &a, 18001, &renewed), LEASE_ACT_UPDATE);
    ck_assert_int_eq(a.desired.transitions, 1);
    ck_assert(a.takeover);
}
END_TEST

/* Only writes that were or may have been applied count as ours: a refused or unsent one is forgotten, a
 * confirmed one supersedes those before it. */
START_TEST(test_lease_remembers_only_writes_that_may_have_been_applied)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_attempt a;
    become_leader_by_create(&s, 0, "10");
    struct lease_record created = s.observed;
    struct lease_time w2 = wall(1700000002, 0), w4 = wall(1700000004, 0), w6 = wall(1700000006, 0);
    /* sent, timed out: may have been applied */
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 2000, &w2), LEASE_ACT_UPDATE);
    struct lease_record maybe = a.desired;
    lease_attempt_on_update(&s, &a, LEASE_ST_TIMEOUT, NULL, 2500);
    lease_attempt_abort(&s, &a, LEASE_ST_TIMEOUT);
    ck_assert(lease_record_is_ours(&s, &maybe));
    ck_assert(lease_record_is_ours(&s, &created));
    /* refused: never applied */
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 4000, &w4), LEASE_ACT_UPDATE);
    struct lease_record refused = a.desired;
    lease_attempt_on_update(&s, &a, LEASE_ST_FORBIDDEN, NULL, 4001);
    ck_assert(!lease_record_is_ours(&s, &refused));
    lease_attempt_abort(&s, &a, LEASE_ST_TIMEOUT);
    /* confirmed: the older ones no longer count */
    ck_assert_int_eq(lease_attempt_begin(&s, &a, 6000, &w6), LEASE_ACT_UPDATE);
    struct lease_object o = written(&a, "12");
    ck_assert_int_eq(lease_attempt_on_update(&s, &a, LEASE_ST_OK, &o, 6001), LEASE_ACT_NONE);
    ck_assert(lease_record_is_ours(&s, &o.rec));
    ck_assert(!lease_record_is_ours(&s, &maybe));
    ck_assert(!lease_record_is_ours(&s, &created));
}
END_TEST

START_TEST(test_lease_release_only_if_still_ours)
{
    struct lease_config c = cfg_default();
    struct lease_state s;
    lease_state_init(&s, &c);
    struct lease_record r;
    struct lease_time w = wall(1700000100, 42);
    struct lease_object mine = obj(ME, 15, 1700000000, 1700000090, 4, "60");
    /* never led: nothing to release */
    ck_assert_int_eq(lease_release_record(&s, &mine, &w, &r), 0);

    become_leader_by_create(&s, 0, "10");
    ck_assert_int_eq(lease_release_record(&s, &mine, &w, &r), 1);
    ck_assert_str_eq(r.holder, "");
    ck_assert_int_eq(r.duration_s, 1);
    ck_assert_int_eq(r.transitions, 4);
    ck_assert_int_eq(r.acquire.sec, 1700000100);
    ck_assert_int_eq(r.renew.usec, 42);
    ck_assert_int_eq(r.acquire.set, 1);

    /* the fetched lease names another holder: taken over without us knowing: leave it alone */
    struct lease_object theirs = obj(OTHER, 15, 1700000095, 1700000095, 5, "61");
    ck_assert_int_eq(lease_release_record(&s, &theirs, &w, &r), 0);
    ck_assert_int_eq(lease_release_record(&s, NULL, &w, &r), 0);

    lease_release_record(&s, &mine, &w, &r);
    lease_release_done(&s, &r, 100);
    ck_assert(!lease_is_leader(&s));
}
END_TEST

/* ---- timing ---- */

START_TEST(test_lease_fence_and_request_timeouts)
{
    struct lease_config c = cfg_default();
    ck_assert_int_eq(lease_fence_ms(12345, 10000), 22345);
    /* max(1 s, renew_deadline / 2) when the budget allows */
    ck_assert_int_eq(lease_request_timeout_ms(&c, 0, -1), 5000);
    ck_assert_int_eq(lease_request_timeout_ms(&c, 0, 100000), 5000);
    /* cut to what is left of the budget */
    ck_assert_int_eq(lease_request_timeout_ms(&c, 8000, 10000), 2000);
    ck_assert_int_eq(lease_request_timeout_ms(&c, 9999, 10000), 1);
    ck_assert_int_eq(lease_request_timeout_ms(&c, 10000, 10000), 0);
    ck_assert_int_eq(lease_request_timeout_ms(&c, 12000, 10000), 0);
    c.renew_deadline_ms = 1500;
    ck_assert_int_eq(lease_request_timeout_ms(&c, 0, -1), 1000);
    /* a request never outlives the fence (6.12) */
    c = cfg_default();
    for (int64_t now = 0; now < 12000; now += 250) {
        int64_t fence = lease_fence_ms(0, c.renew_deadline_ms);
        int64_t t = lease_request_timeout_ms(&c, now, fence);
        ck_assert(now + t <= fence || t == 0);
    }
}
END_TEST

START_TEST(test_lease_jitter_range)
{
    ck_assert_int_eq(lease_jitter_ms(2000, 0.0), 2000);
    ck_assert_int_eq(lease_jitter_ms(2000, 0.5), 3200);
    ck_assert_int_lt(lease_jitter_ms(2000, 0.9999999), 4400);
    ck_assert_int_ge(lease_jitter_ms(2000, 0.9999999), 4399);
    ck_assert_int_eq(lease_jitter_ms(2000, -3), 2000);
    ck_assert_int_lt(lease_jitter_ms(2000, 7), 4400);
}
END_TEST

/* 6.37: suspend shows as CLOCK_BOOTTIME running ahead of CLOCK_MONOTONIC. */
START_TEST(test_lease_suspend_detected_from_boottime_gap)
{
    struct lease_config c = cfg_default();
    ck_assert_int_eq(lease_suspend_margin_ms(&c), 1000);
    ck_assert_int_eq(lease_suspended_ms(1000, 5000, 3000, 7000), 0);      /* both advanced 2 s */
    ck_assert_int_eq(lease_suspended_ms(1000, 5000, 3000, 67000), 60000); /* 60 s asleep */
    ck_assert_int_eq(lease_suspended_ms(1000, 5000, 3000, 6999), 0);      /* reading jitter: never < 0 */
    c.lease_duration_ms = 11000;
    ck_assert_int_eq(lease_suspend_margin_ms(&c), 500);
}
END_TEST

START_TEST(test_lease_reason_and_status_names)
{
    ck_assert_str_eq(lease_reason_str(LEASE_WHY_TOOK_OVER), "took_over");
    ck_assert_str_eq(lease_status_str(LEASE_ST_CONFLICT), "conflict");
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("lease");
    TCase *tc = tcase_create("lease");
    tcase_add_test(tc, test_lease_config_checks_in_client_go_order);
    tcase_add_test(tc, test_lease_config_warns_about_thin_margins);
    tcase_add_test(tc, test_lease_microtime_has_exactly_six_digits);
    tcase_add_test(tc, test_lease_microtime_parses_leniently);
    tcase_add_test(tc, test_lease_created_when_not_found);
    tcase_add_test(tc, test_lease_create_race_loser_waits_full_duration);
    tcase_add_test(tc, test_lease_empty_holder_acquired_at_once);
    tcase_add_test(tc, test_lease_not_taken_before_observed_expiry);
    tcase_add_test(tc, test_lease_future_renew_time_changes_nothing);
    tcase_add_test(tc, test_lease_change_restarts_clock_at_microsecond_precision);
    tcase_add_test(tc, test_lease_metadata_only_change_is_not_a_change);
    tcase_add_test(tc, test_lease_renewal_within_the_same_second_restarts_the_clock);
    tcase_add_test(tc, test_lease_strategy_fields_compared_not_written);
    tcase_add_test(tc, test_lease_zero_duration_taken_over);
    tcase_add_test(tc, test_lease_fast_path_renews_through_cached_object);
    tcase_add_test(tc, test_lease_fast_path_conflict_falls_back_to_slow_path);
    tcase_add_test(tc, test_lease_slow_path_conflict_ends_attempt);
    tcase_add_test(tc, test_lease_deleted_while_held_is_recreated);
    tcase_add_test(tc, test_lease_deleted_and_taken_by_other);
    tcase_add_test(tc, test_lease_same_identity_restart_resumes);
    tcase_add_test(tc, test_lease_record_naming_us_not_written_by_us_is_a_duplicate);
    tcase_add_test(tc, test_lease_remembers_only_writes_that_may_have_been_applied);
    tcase_add_test(tc, test_lease_expired_own_record_goes_slow_path);
    tcase_add_test(tc, test_lease_errors_fail_the_attempt);
    tcase_add_test(tc, test_lease_watch_release_reported_and_acquirable);
    tcase_add_test(tc, test_lease_release_only_if_still_ours);
    tcase_add_test(tc, test_lease_fence_and_request_timeouts);
    tcase_add_test(tc, test_lease_jitter_range);
    tcase_add_test(tc, test_lease_suspend_detected_from_boottime_gap);
    tcase_add_test(tc, test_lease_reason_and_status_names);
    suite_add_tcase(s, tc);
    return s;
}
