/* config_load_fd on the supervisor's sealed memfd snapshot, read by many processes at once: every child of
 * the supervisor inherits the same open file description, so a read that used its shared offset would see
 * other children's positions. Each reader here must parse exactly what the parent parsed. */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "tests/unit/config_test_util.h"
#include "tests/unit/unit.h"

/* Enough readers and rounds that interleaved reads of a shared offset show up on every run (before the fix
 * each run of this test failed), few enough to stay well under a second on two cores. */
#define READERS 32
#define ROUNDS 20
/* Large enough that one load needs many reads, so readers overlap inside one load. */
#define PADDING_LINES 20000

static int make_snapshot(const char *text, size_t len)
{
    int fd = memfd_create("test-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ck_assert_int_ge(fd, 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        ck_assert_int_gt(n, 0);
        off += (size_t)n;
    }
    ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), 0);
    return fd;
}

static char *describe(const struct config *cfg)
{
    struct json_object *o;
    ck_assert_int_eq(config_describe_json(cfg, &o), 0);
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* In a forked reader: 0 when every round parsed to `want`. */
static int read_rounds(int fd, const char *want)
{
    for (int i = 0; i < ROUNDS; i++) {
        struct err_list errs;
        err_list_init(&errs);
        struct config *cfg = NULL;
        int rc = config_load_fd(fd, "snapshot.yaml", &cfg, &errs);
        err_list_free(&errs);
        if (rc < 0) return 1;
        struct json_object *o;
        int same = config_describe_json(cfg, &o) == 0 &&
                   strcmp(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), want) == 0;
        json_object_put(o);
        config_free(cfg);
        if (!same) return 2;
    }
    return 0;
}

START_TEST(test_config_snapshot_read_by_many_processes_at_once_parses_the_same_everywhere)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, VALID_REST);
    for (int i = 0; i < PADDING_LINES; i++) buf_puts(&b, "# padding: a long comment line that only costs reading\n");
    ck_assert(!b.oom);
    int fd = make_snapshot(b.data, b.len);
    buf_free(&b);

    struct err_list errs;
    err_list_init(&errs);
    struct config *cfg = NULL;
    ck_assert_int_eq(config_load_fd(fd, "snapshot.yaml", &cfg, &errs), 0);
    err_list_free(&errs);
    char *want = describe(cfg);
    config_free(cfg);

    pid_t pids[READERS];
    for (int i = 0; i < READERS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) _exit(read_rounds(fd, want));
    }
    int failed = 0;
    for (int i = 0; i < READERS; i++) {
        int st;
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
    }
    free(want);
    close(fd);
    ck_assert_int_eq(failed, 0);
}
END_TEST

START_TEST(test_config_snapshot_read_leaves_the_shared_offset_alone)
{
    int fd = make_snapshot(VALID_REST, strlen(VALID_REST));
    ck_assert_int_eq(lseek(fd, 7, SEEK_SET), 7);
    struct err_list errs;
    err_list_init(&errs);
    struct config *cfg = NULL;
    ck_assert_int_eq(config_load_fd(fd, "snapshot.yaml", &cfg, &errs), 0);
    err_list_free(&errs);
    config_free(cfg);
    ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 7);
    close(fd);
}
END_TEST

START_TEST(test_config_snapshot_with_a_nul_byte_is_refused)
{
    static const char text[] = "haproxy_config:\n  template: \"global\"\0\n";
    int fd = make_snapshot(text, sizeof(text) - 1);
    struct err_list errs;
    err_list_init(&errs);
    struct config *cfg = NULL;
    ck_assert_int_eq(config_load_fd(fd, "snapshot.yaml", &cfg, &errs), -1);
    ck_assert_ptr_null(cfg);
    ck_assert_uint_ge(errs.len, 1);
    ck_assert_ptr_nonnull(strstr(errs.items[0].msg, "NUL"));
    err_list_free(&errs);
    close(fd);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("config_snapshot");
    TCase *tc = tcase_create("snapshot");
    tcase_set_timeout(tc, 60);
    setenv("POD_NAMESPACE", "ingress", 1); /* the Lease's namespace, which the valid config leaves out */
    tcase_add_test(tc, test_config_snapshot_read_by_many_processes_at_once_parses_the_same_everywhere);
    tcase_add_test(tc, test_config_snapshot_read_leaves_the_shared_offset_alone);
    tcase_add_test(tc, test_config_snapshot_with_a_nul_byte_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
