/* libFuzzer target for the strict HTTP/1.1 head check (common/http/http_head.c). The server's read path
 * needs a libuv TCP stream, so it is not reachable here; the check is what sees the hostile bytes first. The
 * input is fed whole and then in pieces of a size taken from its first byte (as reads arrive); both must
 * give the same verdict and the same "done", and a head the check accepts must end with CRLF CRLF.
 * Not for: http-parser (a Debian library) or the server's limits (tests/unit/test_http_server.c).
 * Run: build-fuzz/tests/fuzz/fuzz_http_head -max_total_time=300 -dict=tests/fuzz/fuzz_http_head.dict CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http/http_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The verdict after feeding data in pieces of `step` bytes, stopping at a refusal (as the server does). */
static int feed(const char *p, size_t n, size_t step, int *done)
{
    struct http_head_check h;
    http_head_check_init(&h);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0 && !http_head_check_done(&h); i += step)
        rc = http_head_check_feed(&h, p + i, n - i < step ? n - i : step);
    *done = http_head_check_done(&h);
    if (rc != 0 && rc != 400 && rc != 505) abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = 1 + data[0] % 16;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    int d1, d2, d3;
    int r1 = feed(p, n, n ? n : 1, &d1);
    int r2 = feed(p, n, step, &d2);
    int r3 = feed(p, n, 1, &d3);
    if (r1 != r2 || r1 != r3 || d1 != d2 || d1 != d3) {
        fprintf(stderr, "fuzz_http_head: whole %d/%d, by %zu %d/%d, by 1 %d/%d\n", r1, d1, step, r2, d2, r3, d3);
        abort();
    }
    if (r1 == 0 && d1) {
        const char *end = memmem(p, n, "\r\n\r\n", 4);
        if (!end) abort();
        /* no bare CR or LF, no NUL inside the accepted head */
        for (const char *q = p; q < end; q++) {
            if (*q == '\0') abort();
            if (*q == '\n' && (q == p || q[-1] != '\r')) abort();
            if (*q == '\r' && q[1] != '\n') abort();
        }
    }
    return 0;
}
