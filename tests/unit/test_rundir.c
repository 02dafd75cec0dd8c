/* The run directory: the canonical checksum (pinned against an independent computation), one directory per
 * content, names refused before any path is built, tampered or partial generations refused by the reader,
 * and garbage collection keeping exactly what it is told to (plus live writers' temp dirs). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/pipeline/rundir.h"
#include "tests/unit/unit.h"

static char run_dir[256]; /* short, so paths built from it always fit */

static void setup(void)
{
    snprintf(run_dir, sizeof(run_dir), "/tmp/htic-rundir-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(run_dir));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void teardown(void) { nftw(run_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

#define F(k, n, s) {RUNDIR_KIND_##k, n, s, sizeof(s) - 1}

static const struct rundir_file sample[] = {
    F(CONFIG, "haproxy.cfg", "global\n"),
    F(MAP, "hosts.map", "a b\n"),
    F(CERT, "x.pem", "PEM"),
    F(CRT_LIST, "list", ""),
};
#define NSAMPLE (sizeof(sample) / sizeof(sample[0]))
/* hashlib: sha256 over the sorted lines kind\0name\0sha256(content)\n of the sample. */
static const char sample_sum[] = "sha256:189f40ab53ac02969f53fd5b26ee87ce4b485b9170b0125691d4eb40eba6352d";

static int count_gen_entries(void)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/gen", run_dir);
    int n = 0;
    DIR *d = opendir(p);
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') n++;
        else if (strncmp(de->d_name, ".tmp-", 5) == 0) n += 1000;
    closedir(d);
    return n;
}

static void gen_file(const char *checksum, const char *rel, char *out, size_t n)
{
    char dir[PATH_MAX];
    ck_assert_int_eq(rundir_gen_path(run_dir, checksum, dir, sizeof(dir)), 0);
    ck_assert_int_lt(snprintf(out, n, "%s/%s", dir, rel), (int)n);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_rundir_checksum_is_the_canonical_manifest_digest)
{
    char sum[RUNDIR_CHECKSUM_BUF];
    struct err e;
    ck_assert_int_eq(rundir_checksum(sample, NSAMPLE, sum, &e), 0);
    ck_assert_str_eq(sum, sample_sum);
}
END_TEST

START_TEST(test_rundir_checksum_ignores_file_order)
{
    struct rundir_file rev[NSAMPLE];
    for (size_t i = 0; i < NSAMPLE; i++) rev[i] = sample[NSAMPLE - 1 - i];
    char a[RUNDIR_CHECKSUM_BUF], b[RUNDIR_CHECKSUM_BUF];
    ck_assert_int_eq(rundir_checksum(rev, NSAMPLE, a, NULL), 0);
    ck_assert_int_eq(rundir_write(run_dir, rev, NSAMPLE, b, NULL), 0);
    ck_assert_str_eq(a, sample_sum);
    ck_assert_str_eq(b, sample_sum);
}
END_TEST

START_TEST(test_rundir_checksum_changes_with_content_and_name)
{
    struct rundir_file f[NSAMPLE];
    memcpy(f, sample, sizeof(f));
    char a[RUNDIR_CHECKSUM_BUF], b[RUNDIR_CHECKSUM_BUF];
    f[1].data = "a c\n";
    ck_assert_int_eq(rundir_checksum(f, NSAMPLE, a, NULL), 0);
    ck_assert_str_ne(a, sample_sum);
    memcpy(f, sample, sizeof(f));
    f[1].name = "hosts2.map";
    ck_assert_int_eq(rundir_checksum(f, NSAMPLE, b, NULL), 0);
    ck_assert_str_ne(b, sample_sum);
    ck_assert_str_ne(a, b);
    /* The same name under another kind is another file. */
    memcpy(f, sample, sizeof(f));
    f[1].kind = RUNDIR_KIND_FILE;
    ck_assert_int_eq(rundir_checksum(f, NSAMPLE, b, NULL), 0);
    ck_assert_str_ne(b, sample_sum);
}
END_TEST

START_TEST(test_rundir_same_content_twice_is_one_directory)
{
    char a[RUNDIR_CHECKSUM_BUF], b[RUNDIR_CHECKSUM_BUF];
    struct err e;
    ck_assert_int_eq(rundir_write(run_dir, sample, NSAMPLE, a, &e), 0);
    ck_assert_int_eq(rundir_write(run_dir, sample, NSAMPLE, b, &e), 1);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(count_gen_entries(), 1); /* one generation, no temp dir left */
    char p[PATH_MAX];
    gen_file(a, "maps/hosts.map", p, sizeof(p));
    FILE *fp = fopen(p, "r");
    ck_assert_ptr_nonnull(fp);
    char buf[16] = {0};
    ck_assert_uint_eq(fread(buf, 1, sizeof(buf), fp), 4);
    fclose(fp);
    ck_assert_str_eq(buf, "a b\n");
}
END_TEST

static ino_t inode_of(const char *checksum, const char *rel)
{
    char p[PATH_MAX];
    gen_file(checksum, rel, p, sizeof(p));
    struct stat st;
    ck_assert_int_eq(lstat(p, &st), 0);
    return st.st_ino;
}

START_TEST(test_rundir_write_from_links_the_files_the_base_has)
{
    char a[RUNDIR_CHECKSUM_BUF], b[RUNDIR_CHECKSUM_BUF];
    struct err e;
    ck_assert_int_eq(rundir_write(run_dir, sample, NSAMPLE, a, &e), 0);
    struct rundir_file f[NSAMPLE];
    memcpy(f, sample, sizeof(f));
    f[1].data = "a c\n"; /* the map changes, the rest does not */
    ck_assert_msg(rundir_write_from(run_dir, a, f, NSAMPLE, b, &e) == 0, "%s", e.msg);
    ck_assert_str_ne(a, b);
    ck_assert_uint_eq(inode_of(a, "certs/x.pem"), inode_of(b, "certs/x.pem"));
    ck_assert_uint_eq(inode_of(a, "haproxy.cfg"), inode_of(b, "haproxy.cfg"));
    ck_assert_uint_ne(inode_of(a, "maps/hosts.map"), inode_of(b, "maps/hosts.map"));
    /* both verify; the same files written without a base give the same checksum */
    struct rundir_gen *g = NULL;
    ck_assert_msg(rundir_open(run_dir, b, &g, &e) == 0, "%s", e.msg);
    rundir_gen_free(g);
    ck_assert_msg(rundir_open(run_dir, a, &g, &e) == 0, "%s", e.msg);
    rundir_gen_free(g);
    char c[RUNDIR_CHECKSUM_BUF];
    ck_assert_int_eq(rundir_checksum(f, NSAMPLE, c, NULL), 0);
    ck_assert_str_eq(b, c);
}
END_TEST

START_TEST(test_rundir_write_from_writes_what_the_base_lost)
{
    char a[RUNDIR_CHECKSUM_BUF], b[RUNDIR_CHECKSUM_BUF], p[PATH_MAX];
    struct err e;
    ck_assert_int_eq(rundir_write(run_dir, sample, NSAMPLE, a, &e), 0);
    gen_file(a, "certs/x.pem", p, sizeof(p));
    write_text(p, "damaged, and longer than it was"); /* a crash or a hand left it so */
    struct rundir_file f[NSAMPLE];
    memcpy(f, sample, sizeof(f));
    f[1].data = "a c\n";
    ck_assert_msg(rundir_write_from(run_dir, a, f, NSAMPLE, b, &e) == 0, "%s", e.msg);
    ck_assert_uint_ne(inode_of(a, "certs/x.pem"), inode_of(b, "certs/x.pem"));
    struct rundir_gen *g = NULL;
    ck_assert_msg(rundir_open(run_dir, b, &g, &e) == 0, "%s", e.msg);
    rundir_gen_free(g);
    /* a base that does not exist is no base */
    char c[RUNDIR_CHECKSUM_BUF];
    f[1].data = "a d\n";
    ck_assert_int_eq(rundir_write_from(run_dir, "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                                       f, NSAMPLE, c, &e), 0);
    ck_assert_msg(rundir_open(run_dir, c, &g, &e) == 0, "%s", e.msg);
    rundir_gen_free(g);
}
END_TEST

START_TEST(test_rundir_sync_needs_the_generation)
{
    char a[RUNDIR_CHECKSUM_BUF];
    struct err e;
    ck_assert_int_eq(rundir_write(run_dir, sample, NSAMPLE, a, &e), 0);
    ck_assert_msg(rundir_sync(run_dir, a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(rundir_sync(run_dir, "sha256:0000000000000000000000000000000000000000000000000000000000000000", &e), -1);
    ck_assert_int_eq(rundir_sync(run_dir, "not a checksum", &e), -1);
}
END_TEST

START_TEST(test_rundir_reader_returns_the_manifest)
{
    char sum[RUNDIR_CHECKSUM_BUF];
    ck_assert_int_eq(rundir_write(run_dir, sample, NSAMPLE, sum, NULL), 0);
    struct rundir_gen *g = NULL;
    struct err e;
    ck_assert_msg(rundir_open(run_dir, sum, &g, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(g->nfiles, NSAMPLE);
    /* canonical order: cert, config, crt-list, map */
    ck_assert_int_eq(g->files[0].kind, RUNDIR_KIND_CERT);
    ck_assert_int_eq(g->files[1].kind, RUNDIR_KIND_CONFIG);
    ck_assert_int_eq(g->files[2].kind, RUNDIR_KIND_CRT_LIST);
    ck_assert_str_eq(g->files[3].name, "hosts.map");
    ck_assert_uint_eq(g->files[3].size, 4);
    rundir_gen_free(g);
}
END_TEST

START_TEST(test_rundir_bad_names_are_refused)
{
    static const char *bad[] = {"", ".", "..", "a/b", "../x", "a..b", "x\ny", "tab\there", "del\x7f"};
    char sum[RUNDIR_CHECKSUM_BUF];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rundir_file f[2] = {F(CONFIG, "haproxy.cfg", "x"), {RUNDIR_KIND_MAP, bad[i], "y", 1}};
        struct err e;
        ck_assert_msg(rundir_write(run_dir, f, 2, sum, &e) == -1, "name %zu accepted", i);
        ck_assert(e.msg[0]);
    }
    char longname[RUNDIR_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    struct rundir_file f[2] = {F(CONFIG, "haproxy.cfg", "x"), {RUNDIR_KIND_MAP, longname, "y", 1}};
    ck_assert_int_eq(rundir_write(run_dir, f, 2, sum, NULL), -1);
    longname[RUNDIR_NAME_MAX] = '\0'; /* exactly the bound is fine */
    ck_assert_int_eq(rundir_write(run_dir, f, 2, sum, NULL), 0);
    ck_assert_int_eq(rundir_name_check("ingress_ns_name.pem", NULL), 0);
    ck_assert_int_eq(count_gen_entries(), 1); /* nothing of the refused ones reached the disk */
}
END_TEST

START_TEST(test_rundir_config_rules_are_enforced)
{
    char sum[RUNDIR_CHECKSUM_BUF];
    struct err e;
    struct rundir_file none[1] = {F(MAP, "m", "x")};
    ck_assert_int_eq(rundir_checksum(none, 1, sum, &e), -1);
    struct rundir_file two[2] = {F(CONFIG, "haproxy.cfg", "x"), F(CONFIG, "haproxy.cfg", "y")};
    ck_assert_int_eq(rundir_checksum(two, 2, sum, &e), -1);
    struct rundir_file misnamed[1] = {F(CONFIG, "other.cfg", "x")};
    ck_assert_int_eq(rundir_checksum(misnamed, 1, sum, &e), -1);
    struct rundir_file dup[3] = {F(CONFIG, "haproxy.cfg", "x"), F(MAP, "m", "1"), F(MAP, "m", "2")};
    ck_assert_int_eq(rundir_checksum(dup, 3, sum, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "twice"));
    struct rundir_file kind[1] = {{RUNDIR_KIND_COUNT, "haproxy.cfg", "x", 1}};
    ck_assert_int_eq(rundir_checksum(kind, 1, sum, &e), -1);
}
END_TEST

static void expect_refused(const char *sum, const char *why)
{
    struct rundir_gen *g = NULL;
    struct err e;
    ck_assert_msg(rundir_open(run_dir, sum, &g, &e) == -1, "accepted: %s", why);
    ck_assert_ptr_null(g);
    ck_assert(e.msg[0]);
}

START_TEST(test_rundir_tampered_file_is_detected)
{
    char sum[RUNDIR_CHECKSUM_BUF], p[PATH_MAX];
    ck_assert_int_eq(rundir_write(run_dir, sample, NSAMPLE, sum, NULL), 0);
    gen_file(sum, "maps/hosts.map", p, sizeof(p));
    write_text(p, "a X\n"); /* same size, other bytes */
    expect_refused(sum, "changed content");
    /* Writing the same content again repairs it. */
    char again[RUNDIR_CHECKSUM_BUF];
    ck_assert_int_eq(rundir_write(run_dir, sample, NSAMPLE, again, NULL), 0);
    struct rundir_gen *g = NULL;
    ck_assert_int_eq(rundir_open(run_dir, sum, &g, NULL), 0);
    rundir_gen_free(g);
}
END_TEST

START_TEST(test_rundir_partial_or_padded_generation_is_refused)
{
    char sum[RUNDIR_CHECKSUM_BUF], p[PATH_MAX];
    ck_assert_int_eq(rundir_write(run_dir, sample, NSAMPLE, sum, NULL), 0);
    gen_file(sum, "certs/x.pem", p, sizeof(p));
    ck_assert_int_eq(unlink(p), 0);
    expect_refused(sum, "missing file");
    write_text(p, "PEM");
    gen_file(sum, "maps/extra.map", p, sizeof(p));
    write_text(p, "");
    expect_refused(sum, "extra file");
    ck_assert_int_eq(unlink(p), 0);
    gen_file(sum, "files", p, sizeof(p));
    ck_assert_int_eq(mkdir(p, 0755), 0);
    expect_refused(sum, "extra directory");
    ck_assert_int_eq(rmdir(p), 0);
    gen_file(sum, "certs/x.pem", p, sizeof(p));
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(symlink("/etc/hostname", p), 0);
    expect_refused(sum, "symlink");
    ck_assert_int_eq(unlink(p), 0);
    write_text(p, "PEM");
    struct rundir_gen *g = NULL;
    ck_assert_int_eq(rundir_open(run_dir, sum, &g, NULL), 0); /* restored: accepted again */
    rundir_gen_free(g);
    gen_file(sum, "manifest.json", p, sizeof(p));
    ck_assert_int_eq(truncate(p, 20), 0);
    expect_refused(sum, "truncated manifest");
}
END_TEST

START_TEST(test_rundir_manifest_cannot_lie)
{
    char sum[RUNDIR_CHECKSUM_BUF], p[PATH_MAX];
    ck_assert_int_eq(rundir_write(run_dir, sample, NSAMPLE, sum, NULL), 0);
    /* Change a file and its manifest entry consistently: the entries no longer hash to the checksum. */
    gen_file(sum, "certs/x.pem", p, sizeof(p));
    write_text(p, "EVIL");
    struct rundir_file f[NSAMPLE];
    memcpy(f, sample, sizeof(f));
    f[2].data = "EVIL";
    f[2].len = 4;
    char other[RUNDIR_CHECKSUM_BUF];
    ck_assert_int_eq(rundir_write(run_dir, f, NSAMPLE, other, NULL), 0);
    char src[PATH_MAX], dst[PATH_MAX];
    gen_file(other, "manifest.json", src, sizeof(src));
    gen_file(sum, "manifest.json", dst, sizeof(dst));
    FILE *in = fopen(src, "r");
    ck_assert_ptr_nonnull(in);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, in);
    fclose(in);
    buf[n] = '\0';
    char *at = strstr(buf, other);
    ck_assert_ptr_nonnull(at);
    memcpy(at, sum, strlen(sum)); /* claim the old checksum */
    write_text(dst, buf);
    expect_refused(sum, "manifest rewritten to match tampered content");
    expect_refused("sha256:zz", "malformed checksum");
    expect_refused("sha256:0000000000000000000000000000000000000000000000000000000000000000", "absent");
}
END_TEST

/* A pid that surely belongs to no process: a child that has exited and been reaped. */
static pid_t dead_pid(void)
{
    pid_t p = fork();
    if (p == 0) _exit(0);
    ck_assert_int_gt(p, 0);
    waitpid(p, NULL, 0);
    return p;
}

START_TEST(test_rundir_gc_keeps_what_it_must)
{
    char s[3][RUNDIR_CHECKSUM_BUF];
    for (int i = 0; i < 3; i++) {
        struct rundir_file f[1] = {{RUNDIR_KIND_CONFIG, "haproxy.cfg", "abc", (size_t)i + 1}};
        ck_assert_int_eq(rundir_write(run_dir, f, 1, s[i], NULL), 0);
    }
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/gen/.tmp-%ld-1", run_dir, (long)dead_pid());
    ck_assert_int_eq(mkdir(p, 0755), 0);
    strcat(p, "/maps"); /* a dead writer's half-written tree */
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/gen/.tmp-%ld-7", run_dir, (long)getppid()); /* a live writer */
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/gen/not-ours", run_dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    const char *keep[] = {s[0], s[2]};
    struct rundir_gc_stats st;
    /* Fresh generations are kept while min_age has not passed. */
    ck_assert_int_eq(rundir_gc(run_dir, keep, 2, 3600, &st, NULL), 0);
    ck_assert_uint_eq(st.removed, 0);
    ck_assert_uint_eq(st.kept, 3);
    ck_assert_uint_eq(st.tmp_removed, 1);
    ck_assert_int_eq(rundir_gc(run_dir, keep, 2, 0, &st, NULL), 0);
    ck_assert_uint_eq(st.removed, 1);
    ck_assert_uint_eq(st.kept, 2);
    ck_assert_uint_eq(st.failed, 0);
    struct rundir_gen *g = NULL;
    ck_assert_int_eq(rundir_open(run_dir, s[0], &g, NULL), 0);
    rundir_gen_free(g);
    ck_assert_int_eq(rundir_open(run_dir, s[2], &g, NULL), 0);
    rundir_gen_free(g);
    ck_assert_int_eq(rundir_open(run_dir, s[1], &g, NULL), -1);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0); /* not-ours left alone */
    snprintf(p, sizeof(p), "%s/gen/.tmp-%ld-7", run_dir, (long)getppid());
    ck_assert_int_eq(stat(p, &sb), 0); /* the live writer's temp dir too */
    /* Keeping nothing removes every generation. */
    ck_assert_int_eq(rundir_gc(run_dir, NULL, 0, 0, &st, NULL), 0);
    ck_assert_uint_eq(st.removed, 2);
}
END_TEST

START_TEST(test_rundir_gc_of_a_missing_gen_dir_is_nothing)
{
    struct rundir_gc_stats st;
    ck_assert_int_eq(rundir_gc(run_dir, NULL, 0, 0, &st, NULL), 0);
    ck_assert_uint_eq(st.removed + st.kept + st.tmp_removed, 0);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("rundir");
    TCase *tc = tcase_create("rundir");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rundir_checksum_is_the_canonical_manifest_digest);
    tcase_add_test(tc, test_rundir_checksum_ignores_file_order);
    tcase_add_test(tc, test_rundir_checksum_changes_with_content_and_name);
    tcase_add_test(tc, test_rundir_same_content_twice_is_one_directory);
    tcase_add_test(tc, test_rundir_reader_returns_the_manifest);
    tcase_add_test(tc, test_rundir_write_from_links_the_files_the_base_has);
    tcase_add_test(tc, test_rundir_write_from_writes_what_the_base_lost);
    tcase_add_test(tc, test_rundir_sync_needs_the_generation);
    tcase_add_test(tc, test_rundir_bad_names_are_refused);
    tcase_add_test(tc, test_rundir_config_rules_are_enforced);
    tcase_add_test(tc, test_rundir_tampered_file_is_detected);
    tcase_add_test(tc, test_rundir_partial_or_padded_generation_is_refused);
    tcase_add_test(tc, test_rundir_manifest_cannot_lie);
    tcase_add_test(tc, test_rundir_gc_keeps_what_it_must);
    tcase_add_test(tc, test_rundir_gc_of_a_missing_gen_dir_is_nothing);
    suite_add_tcase(s, tc);
    return s;
}
