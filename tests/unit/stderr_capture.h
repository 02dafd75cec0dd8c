/* For unit tests that check log lines: runs a function with stderr redirected into a pipe and returns what
 * it wrote. Header-only (static) so each test binary stays one file. */
#ifndef HTIC_TEST_STDERR_CAPTURE_H
#define HTIC_TEST_STDERR_CAPTURE_H

#include <check.h>
#include <stddef.h>
#include <unistd.h>

/* Runs fn with stderr redirected into a pipe and returns what was written (at most n - 1 bytes). */
static inline void capture(void (*fn)(void), char *out, size_t n)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t k = read(fds[0], out, n - 1);
    out[k > 0 ? k : 0] = '\0';
    close(fds[0]);
}

#endif
