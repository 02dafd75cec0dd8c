/* The validator's verdict without haproxy -c: a generation that only moves servers on their slots against a
 * valid one is recognised; any other difference (a map, a certificate, a new file, a new line, a host name
 * where an address was, a weight out of range) is not, with the reason; a base that is gone means the
 * check runs as usual. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pipeline/rundir.h"
#include "tests/unit/unit.h"
#include "workers/validator/slots.h"

static char run_dir[64];

static void setup(void)
{
    snprintf(run_dir, sizeof(run_dir), "/tmp/htic-slots-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(run_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", run_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *CFG = "global\n  maxconn 100\nbackend be_web\n  server SRV_1 10.0.0.1:8080 weight 1\n"
                         "  server SRV_2 127.0.0.1:1 disabled\n";

/* Writes haproxy.cfg cfg plus a map with map_text (and a cert when cert is set); fills sum. */
static void gen(const char *cfg, const char *map_text, const char *cert, char sum[RUNDIR_CHECKSUM_BUF])
{
    struct rundir_file f[3] = {{RUNDIR_KIND_CONFIG, "haproxy.cfg", cfg, strlen(cfg)},
                               {RUNDIR_KIND_MAP, "host.map", map_text, strlen(map_text)}};
    size_t n = 2;
    if (cert) f[n++] = (struct rundir_file){RUNDIR_KIND_CERT, "site.pem", cert, strlen(cert)};
    struct err e;
    err_clear(&e);
    ck_assert_msg(rundir_write(run_dir, f, n, sum, &e) >= 0, "%s", e.msg);
}

static int slots(const char *base, const char *sum, char *why)
{
    return slots_only_change(run_dir, base, sum, why, 512);
}

START_TEST(test_slots_accepts_address_port_weight_and_state_changes)
{
    char base[RUNDIR_CHECKSUM_BUF], next[RUNDIR_CHECKSUM_BUF], why[512] = "";
    gen(CFG, "a.example be_web\n", NULL, base);
    gen("global\n  maxconn 100\nbackend be_web\n  server SRV_1 10.0.0.9:9090 weight 7\n"
        "  server SRV_2 10.0.0.2:8080\n", "a.example be_web\n", NULL, next);
    ck_assert_int_eq(slots(base, next, why), 1);
}
END_TEST

START_TEST(test_slots_refuses_every_other_difference)
{
    char base[RUNDIR_CHECKSUM_BUF], next[RUNDIR_CHECKSUM_BUF], why[512];
    gen(CFG, "a.example be_web\n", NULL, base);
    gen(CFG, "b.example be_web\n", NULL, next);
    ck_assert_int_eq(slots(base, next, why), 0);
    ck_assert_msg(strstr(why, "host.map changed"), "%s", why);
    gen(CFG, "a.example be_web\n", "PEM", next);
    ck_assert_int_eq(slots(base, next, why), 0);
    ck_assert_msg(strstr(why, "files instead of"), "%s", why);
    const char *other[] = {
        "global\n  maxconn 200\nbackend be_web\n  server SRV_1 10.0.0.1:8080 weight 1\n  server SRV_2 127.0.0.1:1 disabled\n",
        "global\n  maxconn 100\nbackend be_web\n  server SRV_1 web.example:8080 weight 1\n  server SRV_2 127.0.0.1:1 disabled\n",
        "global\n  maxconn 100\nbackend be_web\n  server SRV_1 10.0.0.1:8080 weight 300\n  server SRV_2 127.0.0.1:1 disabled\n",
        "global\n  maxconn 100\nbackend be_web\n  server SRV_1 10.0.0.1:8080 weight 1\n  server SRV_2 127.0.0.1:1 disabled\n  server SRV_3 10.0.0.3:80\n",
        "global\n  maxconn 100\nbackend be_web\n  server SRV_1 10.0.0.1:8080 weight 1 check\n  server SRV_2 127.0.0.1:1 disabled\n",
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        gen(other[i], "a.example be_web\n", NULL, next);
        why[0] = '\0';
        ck_assert_msg(slots(base, next, why) == 0, "case %zu accepted", i);
        ck_assert_msg(why[0], "case %zu without a reason", i);
    }
}
END_TEST

START_TEST(test_slots_without_the_base_means_the_check_runs)
{
    char base[RUNDIR_CHECKSUM_BUF], why[512] = "";
    gen(CFG, "a.example be_web\n", NULL, base);
    const char *gone = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    ck_assert_int_eq(slots(gone, base, why), -1);
    ck_assert(why[0]);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("validator_slots");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_slots_accepts_address_port_weight_and_state_changes);
    tcase_add_test(tc, test_slots_refuses_every_other_difference);
    tcase_add_test(tc, test_slots_without_the_base_means_the_check_runs);
    suite_add_tcase(s, tc);
    return s;
}
