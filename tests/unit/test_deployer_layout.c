/* The local target's files: atomic writes at the production paths, referenced files before the config,
 * the header line read back, verification and a bounded diff, obsolete files removed, and the fence
 * (fake clock) stopping a push before its next write. */
#include "tests/unit/unit.h"
#include "workers/deployer/layout.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256], run_dir[PATH_MAX], cfgp[PATH_MAX], maps[PATH_MAX], certs[PATH_MAX], general[PATH_MAX];
static struct layout_paths paths;
static struct fence fence;
static struct deploy_gate gate;
static int64_t fake_now;
static int64_t tick; /* added to the clock at every reading: a push that takes time */

static int64_t fake_mono(void *ctx)
{
    (void)ctx;
    int64_t t = fake_now;
    fake_now += tick;
    return t;
}

static int64_t fake_gap(void *ctx)
{
    (void)ctx;
    return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    remove(p);
    return 0;
}

static void setup(void)
{
    snprintf(root, sizeof(root), "%s", "/tmp/htic-layout-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(run_dir, sizeof(run_dir), "%s/run", root);
    snprintf(cfgp, sizeof(cfgp), "%s/etc/haproxy.cfg", root);
    snprintf(maps, sizeof(maps), "%s/etc/maps", root);
    snprintf(certs, sizeof(certs), "%s/etc/ssl", root);
    snprintf(general, sizeof(general), "%s/etc/general", root);
    paths = (struct layout_paths){cfgp, maps, certs, general};
    fence_init(&fence);
    fence_update(&fence, "pod-a#1", 1000000, 0);
    deploy_gate_init(&gate, &fence);
    gate.mono_ms = fake_mono;
    gate.boot_minus_mono_ms = fake_gap;
    fake_now = 0;
    tick = 0;
}

static void teardown(void)
{
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct rundir_gen *gen(const char *cfg, const char *map_name, const char *map)
{
    struct rundir_file f[2] = {{RUNDIR_KIND_CONFIG, "haproxy.cfg", cfg, strlen(cfg)}};
    size_t n = 1;
    if (map_name) f[n++] = (struct rundir_file){RUNDIR_KIND_MAP, map_name, map, strlen(map)};
    char ck[RUNDIR_CHECKSUM_BUF];
    struct err e = {0};
    ck_assert_int_ge(rundir_write(run_dir, f, n, ck, &e), 0);
    struct rundir_gen *g = NULL;
    ck_assert_msg(rundir_open(run_dir, ck, &g, &e) == 0, "%s", e.msg);
    return g;
}

static char *slurp(const char *p)
{
    char *s = NULL;
    size_t n;
    if (rundir_read_file_at(AT_FDCWD, p, 1 << 20, &s, &n, NULL) != 0) return NULL;
    return s;
}

START_TEST(test_layout_writes_files_and_a_header_the_checksum_is_read_from)
{
    struct rundir_gen *g = gen("global\n", "hosts.map", "a.com be1\n");
    char header[LAYOUT_HEADER_MAX];
    ck_assert_int_eq(layout_header("pod-a#1", 7, g->checksum, header, sizeof(header)), 0);
    struct layout_stats st = {0};
    struct err e = {0};
    ck_assert_msg(layout_apply(&gate, INT64_MAX, &paths, g, header, &st, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(st.written, 2);
    char *cfg = slurp(cfgp);
    ck_assert_ptr_nonnull(cfg);
    ck_assert(!strncmp(cfg, "# haproxy-template-ic term=pod-a#1 generation=7 checksum=sha256:", 64));
    ck_assert_str_eq(strchr(cfg, '\n') + 1, "global\n");
    free(cfg);
    char map[PATH_MAX + 32];
    snprintf(map, sizeof(map), "%s/hosts.map", maps);
    char *m = slurp(map);
    ck_assert_str_eq(m, "a.com be1\n");
    free(m);
    char ck[RUNDIR_CHECKSUM_BUF], line[LAYOUT_HEADER_MAX];
    ck_assert_int_eq(layout_read_checksum(&paths, ck, line), 0);
    ck_assert_str_eq(ck, g->checksum);
    ck_assert_str_eq(line, header);
    ck_assert_int_eq(layout_verify(&paths, g, NULL, &e), 1);
    /* again: nothing to write */
    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(layout_apply(&gate, INT64_MAX, &paths, g, header, &st, &e), 0);
    ck_assert_uint_eq(st.written, 0);
    ck_assert_uint_eq(st.unchanged, 2);
    rundir_gen_free(g);
}
END_TEST

START_TEST(test_layout_verify_finds_an_edit_and_diffs_it)
{
    struct rundir_gen *g = gen("global\n    maxconn 100\n", NULL, NULL);
    char header[LAYOUT_HEADER_MAX];
    layout_header("t", 1, g->checksum, header, sizeof(header));
    struct layout_stats st = {0};
    ck_assert_int_eq(layout_apply(&gate, INT64_MAX, &paths, g, header, &st, NULL), 0);
    FILE *f = fopen(cfgp, "w");
    fprintf(f, "%sglobal\n    maxconn 999\n", header); /* the header still claims the generation */
    fclose(f);
    struct buf d;
    buf_init(&d);
    struct err e = {0};
    ck_assert_int_eq(layout_verify(&paths, g, &d, &e), 0);
    ck_assert_msg(strstr(buf_cstr(&d), "-    maxconn 100\n+    maxconn 999\n") != NULL, "%s", buf_cstr(&d));
    buf_free(&d);
    rundir_gen_free(g);
}
END_TEST

START_TEST(test_layout_unified_diff_is_bounded)
{
    struct buf d;
    buf_init(&d);
    char a[4000] = "", b[4000] = "";
    for (int i = 0; i < 100; i++) {
        snprintf(a + strlen(a), sizeof(a) - strlen(a), "a%d\n", i);
        snprintf(b + strlen(b), sizeof(b) - strlen(b), "b%d\n", i);
    }
    layout_unified_diff("x", a, strlen(a), b, strlen(b), 10, &d);
    ck_assert_msg(strstr(buf_cstr(&d), "... (190 more lines)") != NULL, "%s", buf_cstr(&d));
    buf_reset(&d);
    layout_unified_diff("x", a, strlen(a), a, strlen(a), 10, &d);
    ck_assert_str_eq(buf_cstr(&d), "");
    buf_free(&d);
}
END_TEST

START_TEST(test_layout_removes_only_obsolete_files_of_the_previous_generation)
{
    struct rundir_gen *p = gen("global\n", "old.map", "x y\n");
    struct rundir_gen *g = gen("global\n    maxconn 1\n", "new.map", "x z\n");
    struct layout_stats st = {0};
    ck_assert_int_eq(layout_apply(&gate, INT64_MAX, &paths, p, NULL, &st, NULL), 0);
    char other[PATH_MAX + 32], old[PATH_MAX + 32], nw[PATH_MAX + 32];
    snprintf(other, sizeof(other), "%s/not-ours.map", maps); /* never ours: left alone */
    fclose(fopen(other, "w"));
    ck_assert_int_eq(layout_apply(&gate, INT64_MAX, &paths, g, NULL, &st, NULL), 0);
    ck_assert_int_eq(layout_remove_obsolete(&gate, INT64_MAX, &paths, p, g, &st, NULL), 0);
    snprintf(old, sizeof(old), "%s/old.map", maps);
    snprintf(nw, sizeof(nw), "%s/new.map", maps);
    ck_assert_int_ne(access(old, F_OK), 0);
    ck_assert_int_eq(access(nw, F_OK), 0);
    ck_assert_int_eq(access(other, F_OK), 0);
    ck_assert_uint_eq(st.removed, 1);
    rundir_gen_free(p);
    rundir_gen_free(g);
}
END_TEST

START_TEST(test_layout_refuses_every_write_after_the_fence)
{
    struct rundir_gen *g = gen("global\n", "hosts.map", "a b\n");
    fake_now = 1000000; /* at the fence */
    struct layout_stats st = {0};
    struct err e = {0};
    ck_assert_int_eq(layout_apply(&gate, INT64_MAX, &paths, g, NULL, &st, &e), -1);
    ck_assert_msg(strstr(e.msg, "fence") != NULL, "%s", e.msg);
    ck_assert_uint_eq(st.written, 0);
    ck_assert_int_ne(access(cfgp, F_OK), 0);
    ck_assert_uint_ge(gate.refused, 1);
    rundir_gen_free(g);
}
END_TEST

START_TEST(test_layout_fence_passing_mid_push_stops_before_the_next_write)
{
    struct rundir_gen *g = gen("global\n", "hosts.map", "a b\n");
    /* each file takes two gate checks (before the temp file, before the rename); the clock moves 10 ms per
     * reading, and the fence passes after the map's rename: the config is never written */
    fence_update(&fence, "pod-a#2", 25, 0); /* a new term: a fence never moves back within one */
    tick = 10;
    struct layout_stats st = {0};
    struct err e = {0};
    ck_assert_int_eq(layout_apply(&gate, INT64_MAX, &paths, g, NULL, &st, &e), -1);
    ck_assert_uint_eq(st.written, 1);
    ck_assert_int_ne(access(cfgp, F_OK), 0);
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof(tmp), "%s/etc/.haproxy.cfg.htic-tmp", root);
    ck_assert_int_ne(access(tmp, F_OK), 0); /* no temp file left behind */
    rundir_gen_free(g);
}
END_TEST

START_TEST(test_layout_paths_stay_inside_the_configured_dirs)
{
    char out[PATH_MAX];
    ck_assert_int_eq(layout_prod_path(&paths, RUNDIR_KIND_MAP, "../../etc/passwd", out, sizeof(out)), -1);
    ck_assert_int_eq(layout_prod_path(&paths, RUNDIR_KIND_MAP, "..", out, sizeof(out)), -1);
    ck_assert_int_eq(layout_prod_path(&paths, RUNDIR_KIND_CRT_LIST, "l.txt", out, sizeof(out)), 0);
    ck_assert(!strncmp(out, general, strlen(general)));
    ck_assert_int_eq(layout_prod_path(&paths, RUNDIR_KIND_CERT, "c.pem", out, sizeof(out)), 0);
    ck_assert(!strncmp(out, certs, strlen(certs)));
    char h[LAYOUT_HEADER_MAX], ck[RUNDIR_CHECKSUM_BUF];
    ck_assert_int_eq(layout_header("has space", 1, "sha256:00", h, sizeof(h)), -1);
    ck_assert_int_eq(layout_parse_header("# haproxy-template-ic term=a checksum=sha256:zz\n", 48, ck, NULL), -1);
    ck_assert_int_eq(layout_parse_header("global\n", 7, ck, NULL), -1);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("deployer_layout");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_layout_writes_files_and_a_header_the_checksum_is_read_from);
    tcase_add_test(tc, test_layout_verify_finds_an_edit_and_diffs_it);
    tcase_add_test(tc, test_layout_unified_diff_is_bounded);
    tcase_add_test(tc, test_layout_removes_only_obsolete_files_of_the_previous_generation);
    tcase_add_test(tc, test_layout_refuses_every_write_after_the_fence);
    tcase_add_test(tc, test_layout_fence_passing_mid_push_stops_before_the_next_write);
    tcase_add_test(tc, test_layout_paths_stay_inside_the_configured_dirs);
    suite_add_tcase(s, tc);
    return s;
}
