/* Spilled message fields: a list over the limit goes to a file and comes back equal, the file is removed
 * once read, names that could leave the spill directory are refused, small lists stay inline, orphans are
 * swept by age. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "common/pipeline/spill.h"
#include "tests/unit/unit.h"

static char run_dir[64];

static void setup(void)
{
    snprintf(run_dir, sizeof(run_dir), "/tmp/htic-spill-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(run_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", run_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static struct json_object *message_with(size_t n)
{
    struct json_object *m = json_object_new_object(), *a = json_object_new_array();
    json_object_object_add(m, "type", json_object_new_string("rendered"));
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_new_object();
        char name[32];
        snprintf(name, sizeof(name), "ingress-%zu", i);
        json_object_object_add(o, "resource", json_object_new_string("ingresses"));
        json_object_object_add(o, "namespace", json_object_new_string("shop"));
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_array_add(a, o);
    }
    json_object_object_add(m, "changed", a);
    return m;
}

START_TEST(test_spill_moves_a_long_list_to_a_file_and_back)
{
    struct json_object *m = message_with(20000), *orig = message_with(20000);
    struct err e;
    err_clear(&e);
    ck_assert_int_eq(spill_field(m, "changed", run_dir, 0, &e), 1);
    ck_assert(!json_object_object_get_ex(m, "changed", NULL));
    struct json_object *f;
    ck_assert(json_object_object_get_ex(m, "changed_file", &f));
    size_t len;
    json_object_to_json_string_length(m, JSON_C_TO_STRING_PLAIN, &len);
    ck_assert_uint_lt(len, 200); /* the frame carries a name, not the list */
    char path[256];
    snprintf(path, sizeof(path), "%s/spill/%s", run_dir, json_object_get_string(f));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);

    /* a copy as the second receiver (the validator) would hold it: keep leaves the file */
    struct json_object *copy = NULL;
    ck_assert_int_eq(json_object_deep_copy(m, &copy, NULL), 0);
    ck_assert_int_eq(spill_restore(copy, "changed", run_dir, 1, &e), 1);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(spill_restore(m, "changed", run_dir, 0, &e), 1);
    ck_assert_int_ne(stat(path, &st), 0); /* read back: removed */
    ck_assert(json_object_equal(json_object_object_get(m, "changed"), json_object_object_get(orig, "changed")));
    ck_assert(!json_object_object_get_ex(m, "changed_file", NULL));
    json_object_put(copy);
    json_object_put(m);
    json_object_put(orig);
}
END_TEST

START_TEST(test_spill_keeps_short_lists_inline_and_refuses_foreign_names)
{
    struct json_object *m = message_with(3);
    struct err e;
    err_clear(&e);
    ck_assert_int_eq(spill_field(m, "changed", run_dir, 0, &e), 0);
    ck_assert(json_object_object_get_ex(m, "changed", NULL));
    ck_assert_int_eq(spill_restore(m, "changed", run_dir, 0, &e), 0); /* nothing to read back */
    const char *bad[] = {"../lkg.json", "x.json", "1-2.json/../../etc", "/etc/passwd", "1-2.jsonx", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_object *b = json_object_new_object();
        json_object_object_add(b, "changed_file", json_object_new_string(bad[i]));
        err_clear(&e);
        ck_assert_int_eq(spill_restore(b, "changed", run_dir, 0, &e), -1);
        ck_assert(e.msg[0]);
        json_object_put(b);
    }
    /* a well-formed name with no file behind it, and a file that is not a JSON array */
    struct json_object *b = json_object_new_object();
    json_object_object_add(b, "changed_file", json_object_new_string("1-1.json"));
    ck_assert_int_eq(spill_restore(b, "changed", run_dir, 0, &e), -1);
    char path[256];
    snprintf(path, sizeof(path), "%s/spill", run_dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/spill/1-1.json", run_dir);
    FILE *fp = fopen(path, "w");
    fputs("{\"not\": \"a list\"}", fp);
    fclose(fp);
    ck_assert_int_eq(spill_restore(b, "changed", run_dir, 0, &e), -1);
    json_object_put(b);
    json_object_put(m);
}
END_TEST

START_TEST(test_spill_sweep_removes_old_orphans_only)
{
    struct json_object *a = message_with(20000), *b = message_with(20000);
    struct err e;
    ck_assert_int_eq(spill_field(a, "changed", run_dir, 0, &e), 1);
    ck_assert_int_eq(spill_field(b, "changed", run_dir, 0, &e), 1);
    char old[256], fresh[256];
    snprintf(old, sizeof(old), "%s/spill/%s", run_dir, json_object_get_string(json_object_object_get(a, "changed_file")));
    snprintf(fresh, sizeof(fresh), "%s/spill/%s", run_dir, json_object_get_string(json_object_object_get(b, "changed_file")));
    struct utimbuf t = {.actime = 1000, .modtime = 1000};
    ck_assert_int_eq(utime(old, &t), 0);
    spill_sweep(run_dir, SPILL_ORPHAN_AGE_S);
    ck_assert_int_ne(access(old, F_OK), 0);
    ck_assert_int_eq(access(fresh, F_OK), 0);
    json_object_put(a);
    json_object_put(b);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("spill");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_spill_moves_a_long_list_to_a_file_and_back);
    tcase_add_test(tc, test_spill_keeps_short_lists_inline_and_refuses_foreign_names);
    tcase_add_test(tc, test_spill_sweep_removes_old_orphans_only);
    suite_add_tcase(s, tc);
    return s;
}
