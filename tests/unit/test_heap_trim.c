/* heap_trim: memory freed in the middle of the heap (many small blocks, the shape of a freed json-c tree,
 * with a few live blocks among them so nothing is at the top to shrink) goes back to the kernel: resident
 * memory drops by most of what was freed. Without the trim glibc keeps it (checked: the assertion fails when
 * heap_trim does nothing). Under AddressSanitizer the allocator is ASan's and malloc_trim does nothing, so
 * the test only runs on glibc's allocator. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pipeline/heap_trim.h"
#include "tests/unit/unit.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* 40 MB in 200-byte blocks: far above glibc's trim and mmap thresholds as a sum, below each as a block. */
#define BLOCKS 200000
#define BLOCK_SIZE 200
#define KEEP_EVERY 4096

static long resident_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    long size = 0, res = 0;
    ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &res), 2);
    fclose(f);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

START_TEST(test_heap_trim_returns_freed_blocks_from_the_middle_of_the_heap)
{
#ifdef UNDER_ASAN
    return;
#endif
    static char *blocks[BLOCKS];
    for (size_t i = 0; i < BLOCKS; i++) {
        blocks[i] = malloc(BLOCK_SIZE);
        ck_assert_ptr_nonnull(blocks[i]);
        memset(blocks[i], 'x', BLOCK_SIZE); /* touched: resident */
    }
    for (size_t i = 0; i < BLOCKS; i++)
        if (i % KEEP_EVERY) {
            free(blocks[i]);
            blocks[i] = NULL;
        }
    long before = resident_kb();
    heap_trim("test");
    long after = resident_kb();
    long freed_kb = (long)BLOCKS * BLOCK_SIZE / 1024;
    ck_assert_msg(before - after > freed_kb / 2, "resident %ld kB before the trim, %ld kB after (freed %ld kB)", before,
                  after, freed_kb);
    for (size_t i = 0; i < BLOCKS; i++) free(blocks[i]);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("heap_trim");
    TCase *tc = tcase_create("heap_trim");
    tcase_add_test(tc, test_heap_trim_returns_freed_blocks_from_the_middle_of_the_heap);
    suite_add_tcase(s, tc);
    return s;
}
