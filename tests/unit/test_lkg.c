/* The LKG on disk: a round trip keeps generation, checksum, time and quarantine; a missing, corrupt or
 * truncated lkg.json, or one naming a generation that is gone or tampered with, starts without an LKG and
 * says why; the write leaves no temp file and replaces the old file whole. */
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/pipeline/rundir.h"
#include "tests/unit/unit.h"
#include "workers/executor/lkg.h"

static char run_dir[256]; /* short, so paths built from it always fit */
static char sum[RUNDIR_CHECKSUM_BUF];

static void setup(void)
{
    snprintf(run_dir, sizeof(run_dir), "/tmp/htic-lkg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(run_dir));
    struct rundir_file f[2] = {{RUNDIR_KIND_CONFIG, "haproxy.cfg", "global\n", 7}, {RUNDIR_KIND_MAP, "h.map", "a b\n", 4}};
    ck_assert_int_eq(rundir_write(run_dir, f, 2, sum, NULL), 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void teardown(void) { nftw(run_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void write_lkg_text(const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/lkg.json", run_dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void save_sample(void)
{
    struct gen_lkg lkg = {.generation = 42, .at_wall_ms = 1764878497123};
    snprintf(lkg.checksum, sizeof(lkg.checksum), "%s", sum);
    struct gen_quarantined q[2] = {
        {{"ingresses", "shop", "cart"}, "validate: [haproxy.cfg:12] unknown keyword \"x\"", 1764878490000},
        {{"ingresses", "", "cluster-wide"}, "render: ingress.j2:3:1: newline in host", 1764878491000},
    };
    struct err e;
    ck_assert_msg(lkg_save(run_dir, &lkg, q, 2, &e) == 0, "%s", e.msg);
}

START_TEST(test_lkg_round_trip)
{
    save_sample();
    struct lkg_state s;
    struct err why;
    ck_assert_int_eq(lkg_load(run_dir, &s, &why), 1);
    ck_assert_uint_eq(s.lkg.generation, 42);
    ck_assert_str_eq(s.lkg.checksum, sum);
    ck_assert_int_eq(s.lkg.at_wall_ms, 1764878497123);
    ck_assert_uint_eq(s.nquarantined, 2);
    ck_assert_str_eq(s.quarantined[0].obj.name, "cart");
    ck_assert_str_eq(s.quarantined[1].obj.namespace, "");
    ck_assert_str_eq(s.quarantined[0].reason, "validate: [haproxy.cfg:12] unknown keyword \"x\"");
    ck_assert_int_eq(s.quarantined[1].since_wall_ms, 1764878491000);
    lkg_state_free(&s);
    /* No temp file left beside it. */
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/.lkg.json.tmp-%ld", run_dir, (long)getpid());
    ck_assert_int_ne(access(p, F_OK), 0);
}
END_TEST

START_TEST(test_lkg_missing_file_is_no_lkg_without_complaint)
{
    struct lkg_state s;
    struct err why;
    ck_assert_int_eq(lkg_load(run_dir, &s, &why), 0);
    ck_assert_str_eq(why.msg, "");
    ck_assert_uint_eq(s.nquarantined, 0);
}
END_TEST

static void expect_rejected(const char *text, const char *reason_part)
{
    write_lkg_text(text);
    struct lkg_state s;
    struct err why;
    ck_assert_int_eq(lkg_load(run_dir, &s, &why), 0);
    ck_assert_msg(strstr(why.msg, reason_part), "why: %s (wanted %s)", why.msg, reason_part);
    ck_assert_uint_eq(s.nquarantined, 0);
    ck_assert_ptr_null(s.quarantined);
}

START_TEST(test_lkg_corrupt_file_starts_without_lkg)
{
    expect_rejected("{\"version\":1,\"generation\":4", "not one JSON object"); /* truncated */
    expect_rejected("garbage", "not one JSON object");
    expect_rejected("{} {}", "not one JSON object");
    expect_rejected("[1]", "not one JSON object");
    expect_rejected("{\"version\":9}", "version");
    char buf[1024];
    snprintf(buf, sizeof(buf), "{\"version\":1,\"generation\":0,\"checksum\":\"%s\",\"at_ms\":1,\"quarantined\":[]}", sum);
    expect_rejected(buf, "generation");
    expect_rejected("{\"version\":1,\"generation\":3,\"checksum\":\"sha256:12\",\"at_ms\":1,\"quarantined\":[]}",
                    "checksum");
    snprintf(buf, sizeof(buf), "{\"version\":1,\"generation\":3,\"checksum\":\"%s\",\"at_ms\":1,\"quarantined\":[{}]}",
             sum);
    expect_rejected(buf, "quarantined entry 0");
    snprintf(buf, sizeof(buf), "{\"version\":1,\"generation\":3,\"checksum\":\"%s\",\"at_ms\":1}", sum);
    expect_rejected(buf, "quarantined");
}
END_TEST

START_TEST(test_lkg_naming_a_missing_or_tampered_generation_starts_without_lkg)
{
    save_sample();
    char p[PATH_MAX + 16], dir[PATH_MAX];
    ck_assert_int_eq(rundir_gen_path(run_dir, sum, dir, sizeof(dir)), 0);
    snprintf(p, sizeof(p), "%s/maps/h.map", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("a c\n", f);
    fclose(f);
    struct lkg_state s;
    struct err why;
    ck_assert_int_eq(lkg_load(run_dir, &s, &why), 0);
    ck_assert_ptr_nonnull(strstr(why.msg, "generation 42"));
    ck_assert_ptr_nonnull(strstr(why.msg, "does not match"));
    /* Garbage-collected away entirely. */
    struct rundir_gc_stats st;
    ck_assert_int_eq(rundir_gc(run_dir, NULL, 0, 0, &st, NULL), 0);
    ck_assert_int_eq(lkg_load(run_dir, &s, &why), 0);
    ck_assert_ptr_nonnull(strstr(why.msg, "cannot be used"));
}
END_TEST

START_TEST(test_lkg_save_replaces_the_previous_file)
{
    save_sample();
    struct gen_lkg lkg = {.generation = 43, .at_wall_ms = 5};
    snprintf(lkg.checksum, sizeof(lkg.checksum), "%s", sum);
    ck_assert_int_eq(lkg_save(run_dir, &lkg, NULL, 0, NULL), 0);
    struct lkg_state s;
    ck_assert_int_eq(lkg_load(run_dir, &s, NULL), 1);
    ck_assert_uint_eq(s.lkg.generation, 43);
    ck_assert_uint_eq(s.nquarantined, 0);
    lkg_state_free(&s);
}
END_TEST

START_TEST(test_lkg_time_is_rfc3339_utc)
{
    char at[40];
    lkg_format_time(1764878497123, at, sizeof(at));
    ck_assert_str_eq(at, "2025-12-04T20:01:37.123Z");
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("lkg");
    TCase *tc = tcase_create("lkg");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lkg_round_trip);
    tcase_add_test(tc, test_lkg_missing_file_is_no_lkg_without_complaint);
    tcase_add_test(tc, test_lkg_corrupt_file_starts_without_lkg);
    tcase_add_test(tc, test_lkg_naming_a_missing_or_tampered_generation_starts_without_lkg);
    tcase_add_test(tc, test_lkg_save_replaces_the_previous_file);
    tcase_add_test(tc, test_lkg_time_is_rfc3339_utc);
    suite_add_tcase(s, tc);
    return s;
}
