/* libFuzzer target for the packed builders (common/store/packed_parse.c, packed_build.c): the input is JSON
 * text. It is packed from the buffer, from a file descriptor read in small chunks (chunk size from the input's
 * length, so chunk boundaries fall everywhere), and through json-c (strict tokener) with packed_from_json;
 * when two builders accept, their blocks must be byte-identical. An accepted block must survive
 * packed -> JSON -> packed and packed_copy unchanged, and once every block is freed the shared key table must
 * be empty (a leaked key reference is a bug too). Each step also runs with a projection.
 * Not for: the store (fuzz_store) or paths (fuzz_packed_path).
 * Run: build-fuzz/tests/fuzz/fuzz_packed -max_total_time=300 -dict=tests/fuzz/fuzz_packed.dict CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/store/packed.h"
#include "common/store/packed_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct packed_keys *keys;
static struct packed_proj *proj;
static int memfd = -1;

static void same(const struct packed *a, const struct packed *b, const char *what)
{
    if (packed_size(a) != packed_size(b) || memcmp(packed_bytes(a), packed_bytes(b), packed_size(a)) != 0 ||
        packed_hash(a) != packed_hash(b)) {
        fprintf(stderr, "fuzz_packed: blocks differ: %s\n", what);
        abort();
    }
}

static struct packed *from_fd(const uint8_t *data, size_t size, const struct packed_proj *pr, int *rc)
{
    if (ftruncate(memfd, 0) < 0 || lseek(memfd, 0, SEEK_SET) < 0) abort();
    if (size && write(memfd, data, size) != (ssize_t)size) abort();
    if (lseek(memfd, 0, SEEK_SET) < 0) abort();
    struct packed *p = NULL;
    struct err e;
    *rc = pk_from_fd_chunked(keys, memfd, 1 + size % 7, pr, &p, &e);
    return p;
}

static void one(const uint8_t *data, size_t size, const struct packed_proj *pr)
{
    struct err e;
    struct packed *t = NULL;
    int rt = packed_from_text(keys, (const char *)data, size, pr, &t, &e);
    int rf;
    struct packed *f = from_fd(data, size, pr, &rf);
    if ((rt == 0) != (rf == 0)) {
        fprintf(stderr, "fuzz_packed: text %d but fd %d\n", rt, rf);
        abort();
    }
    if (rt == 0) same(t, f, "text vs fd");

    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *j = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    size_t end = json_tokener_get_parse_end(tok);
    int jok = json_tokener_get_error(tok) == json_tokener_success;
    while (jok && end < size && strchr(" \t\r\n", data[end]) && data[end]) end++;
    if (end != size) jok = 0;
    json_tokener_free(tok);
    if (jok && rt == 0) {
        struct packed *pj = NULL;
        if (packed_from_json(keys, j, pr, &pj, &e) == 0) {
            same(t, pj, "text vs json-c");
            packed_free(pj);
        }
    }
    json_object_put(j);

    if (rt == 0) {
        struct buf out;
        buf_init(&out);
        if (packed_to_json(packed_root(t), &out) == 0 && !out.oom) {
            struct packed *back = NULL;
            if (packed_from_text(keys, buf_cstr(&out), out.len, NULL, &back, &e) != 0) {
                fprintf(stderr, "fuzz_packed: own JSON refused: %s\n", e.msg);
                abort();
            }
            same(t, back, "packed -> JSON -> packed");
            struct buf again;
            buf_init(&again);
            packed_to_json(packed_root(back), &again);
            if (again.len != out.len || memcmp(again.data, out.data, out.len)) {
                fprintf(stderr, "fuzz_packed: JSON text differs after a round trip\n");
                abort();
            }
            buf_free(&again);
            packed_free(back);
        }
        buf_free(&out);
        struct packed *c = NULL;
        if (packed_copy(keys, packed_root(t), &c, &e) == 0) {
            same(t, c, "packed_copy");
            packed_free(c);
        }
    }
    packed_free(t);
    packed_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    if (!keys) {
        keys = packed_keys_new();
        static const char *const paths[] = {"metadata.labels", "spec.a['x.y']", "status"};
        struct err e;
        if (!keys || packed_proj_new(paths, 3, 1, &proj, &e) < 0) abort();
        memfd = memfd_create("fuzz_packed", 0);
        if (memfd < 0) abort();
    }
    one(data, size, NULL);
    one(data, size, proj);
    if (packed_keys_count(keys) != 0) {
        fprintf(stderr, "fuzz_packed: %zu keys left in the table\n", packed_keys_count(keys));
        abort();
    }
    return 0;
}
