/* common/validate's text pieces: numbered excerpts (clamped, marked, long lines cut) and the bounded unified
 * diff (one hunk with context, the final-newline note, the cap on output lines, the fallback when the
 * line-matching table would be too large). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/validate/validate.h"
#include "tests/unit/unit.h"

static char *diff(const char *a, const char *b)
{
    struct buf out;
    buf_init(&out);
    ck_assert_int_eq(validate_diff(a, strlen(a), "a", b, strlen(b), "b", &out), 0);
    return buf_steal(&out);
}

START_TEST(test_validate_excerpt_marks_the_line_and_clamps)
{
    const char *t = "one\ntwo\nthree\n";
    struct buf b;
    buf_init(&b);
    validate_excerpt(t, strlen(t), 0, 9, 2, &b);
    ck_assert_str_eq(buf_cstr(&b), "     1 | one\n >   2 | two\n     3 | three\n");
    buf_free(&b);
    ck_assert_int_eq(validate_line_of(t, 0), 1);
    ck_assert_int_eq(validate_line_of(t, 8), 3);
}
END_TEST

START_TEST(test_validate_excerpt_cuts_long_lines)
{
    char line[VALIDATE_LINE_MAX * 2 + 1];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = 0;
    struct buf b;
    buf_init(&b);
    validate_excerpt(line, strlen(line), 1, 1, 0, &b);
    ck_assert_uint_eq(b.len, strlen("     1 | ") + VALIDATE_LINE_MAX + 3 + 1);
    ck_assert(strstr(buf_cstr(&b), "x...\n") != NULL);
    buf_free(&b);
}
END_TEST

START_TEST(test_validate_diff_equal_texts_give_nothing)
{
    char *d = diff("a\nb\n", "a\nb\n");
    ck_assert_str_eq(d, "");
    free(d);
}
END_TEST

START_TEST(test_validate_diff_one_hunk_with_context)
{
    char *d = diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n");
    ck_assert_str_eq(d, "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
    free(d);
}
END_TEST

START_TEST(test_validate_diff_insertions_keep_common_lines)
{
    char *d = diff("x\ny\n", "x\nnew\ny\n");
    ck_assert_str_eq(d, "--- a\n+++ b\n@@ -1,2 +1,3 @@\n x\n+new\n y\n");
    free(d);
}
END_TEST

START_TEST(test_validate_diff_notes_a_missing_final_newline)
{
    char *d = diff("x\n", "x");
    ck_assert(strstr(d, "(a ends with a newline, b does not)") != NULL);
    free(d);
}
END_TEST

/* 5000 lines each, all different: 25 M cells, over the bound; shown removed then added, capped. */
START_TEST(test_validate_diff_large_inputs_are_bounded)
{
    struct buf a, b;
    buf_init(&a);
    buf_init(&b);
    for (int i = 0; i < 5000; i++) {
        buf_printf(&a, "a%d\n", i);
        buf_printf(&b, "b%d\n", i);
    }
    struct buf out;
    buf_init(&out);
    ck_assert_int_eq(validate_diff(a.data, a.len, "a", b.data, b.len, "b", &out), 0);
    size_t lines = 0;
    for (size_t i = 0; i < out.len; i++) lines += out.data[i] == '\n';
    ck_assert_uint_eq(lines, 3 + VALIDATE_DIFF_LINES_MAX + 1);
    ck_assert(strstr(buf_cstr(&out), "-a0\n-a1\n") != NULL);
    ck_assert(strstr(buf_cstr(&out), "... 9940 more diff lines\n") != NULL);
    buf_free(&out);
    buf_free(&a);
    buf_free(&b);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("validate_text");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, test_validate_excerpt_marks_the_line_and_clamps);
    tcase_add_test(tc, test_validate_excerpt_cuts_long_lines);
    tcase_add_test(tc, test_validate_diff_equal_texts_give_nothing);
    tcase_add_test(tc, test_validate_diff_one_hunk_with_context);
    tcase_add_test(tc, test_validate_diff_insertions_keep_common_lines);
    tcase_add_test(tc, test_validate_diff_notes_a_missing_final_newline);
    tcase_add_test(tc, test_validate_diff_large_inputs_are_bounded);
    suite_add_tcase(s, tc);
    return s;
}
