/* libFuzzer target for the IPC frame decoder (common/ipc.c) with the type-prefix rule and the raw hook. The
 * input is a byte stream as read from a socket. It is fed in one piece and again in pieces whose sizes come
 * from the input; both must hand over the same frames (type and body, parsed or raw) in the same order and
 * end with the same status. Types starting with 'r' are taken raw; every other frame is parsed, and its type
 * must be the one the prefix names. Every frame handed over must re-encode (parsed) or be whole (raw).
 * Not for: the channel's libuv side (tests/unit/test_ipc.c).
 * Run: build-fuzz/tests/fuzz/fuzz_ipc -max_total_time=300 -dict=tests/fuzz/fuzz_ipc.dict CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct log {
    struct buf b;  /* one line per frame: P|R type len hash */
};

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static int on_raw(void *data, const char *type, const char *frame, size_t len)
{
    if (type[0] != 'r') return 0;
    struct log *l = data;
    uint32_t n = (uint32_t)(unsigned char)frame[0] << 24 | (uint32_t)(unsigned char)frame[1] << 16 |
                 (uint32_t)(unsigned char)frame[2] << 8 | (unsigned char)frame[3];
    if (n + IPC_HEADER_LEN != len) abort();
    char peek[IPC_TYPE_MAX + 1];
    if (ipc_body_type(frame + 4, n, peek) != IPC_OK || strcmp(peek, type)) abort();
    buf_printf(&l->b, "R %s %zu %llx\n", type, len, (unsigned long long)fnv(frame, len));
    return 1;
}

static void on_frame(void *data, struct json_object *msg, const char *type)
{
    struct log *l = data;
    if (type[0] == 'r') abort();
    struct buf enc;
    buf_init(&enc);
    if (ipc_frame_encode(msg, &enc) != IPC_OK) {
        /* a frame we accepted must be one we could send */
        fprintf(stderr, "fuzz_ipc: accepted frame of type %s does not re-encode\n", type);
        abort();
    }
    buf_printf(&l->b, "P %s %zu %llx\n", type, enc.len, (unsigned long long)fnv(enc.data, enc.len));
    buf_free(&enc);
}

static int run(const uint8_t *data, size_t size, const uint8_t *cuts, size_t ncuts, struct log *l)
{
    struct ipc_decoder d;
    ipc_decoder_init(&d);
    d.raw = on_raw;
    int rc = IPC_OK;
    size_t i = 0, c = 0;
    while (i < size && rc == IPC_OK) {
        size_t n = ncuts ? 1 + cuts[c++ % ncuts] % 64 : size;
        if (n > size - i) n = size - i;
        rc = ipc_decoder_feed(&d, (const char *)data + i, n, on_frame, l);
        i += n;
    }
    buf_printf(&l->b, "end %d %llu\n", rc, (unsigned long long)d.frames);
    ipc_decoder_free(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16) return 0;
    size_t ncuts = data[0] % 8;
    if (ncuts + 1 > size) return 0;
    const uint8_t *cuts = data + 1;
    data += 1 + ncuts;
    size -= 1 + ncuts;
    struct log a, b;
    buf_init(&a.b);
    buf_init(&b.b);
    run(data, size, NULL, 0, &a);
    run(data, size, cuts, ncuts ? ncuts : 1, &b);
    if (a.b.len != b.b.len || memcmp(a.b.data, b.b.data, a.b.len)) {
        fprintf(stderr, "fuzz_ipc: whole:\n%s\nin pieces:\n%s\n", buf_cstr(&a.b), buf_cstr(&b.b));
        abort();
    }
    buf_free(&a.b);
    buf_free(&b.b);
    return 0;
}
