/* libFuzzer target: the watch stream parser fed in chunks cut where the input says, and the JSON object
 * handling behind it (Status classification, store keys, projection). Build with -Dfuzz=true and clang; see
 * docs/kube-client.md for the command and the runs done. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/kube/kube_object.h"
#include "common/kube/kube_response.h"
#include "common/kube/kube_watch_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(void *d, enum kube_watch_type t, struct json_object *obj)
{
    (void)d;
    struct buf key;
    buf_init(&key);
    kube_object_key(obj, &key);
    buf_free(&key);
    (void)kube_object_meta_str(obj, "resourceVersion");
    if (t == KUBE_WATCH_ERROR) {
        struct kube_response r;
        kube_response_init(&r);
        kube_response_from_status(&r, obj);
        kube_response_free(&r);
    } else {
        kube_object_project(obj);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    /* the first two bytes choose the chunk size; the rest is the stream */
    size_t step = (size_t)data[0] % 64 + 1 + (size_t)(data[1] % 4) * 97;
    const char *s = (const char *)data + 2;
    size_t n = size - 2;
    struct kube_watch_parser p;
    kube_watch_parser_init(&p);
    p.max_event = 4096;
    int rc = KUBE_WATCH_PARSE_OK;
    for (size_t off = 0; off < n && rc == KUBE_WATCH_PARSE_OK; off += step)
        rc = kube_watch_parser_feed(&p, s + off, n - off < step ? n - off : step, on_event, NULL);
    if (rc == KUBE_WATCH_PARSE_OK) kube_watch_parser_finish(&p, on_event, NULL);
    kube_watch_parser_free(&p);

    /* the same bytes as a response body with an error status */
    struct kube_response r;
    kube_response_init(&r);
    r.status = 400 + data[0] % 200;
    buf_append(&r.raw, s, n);
    kube_response_finish(&r, data[1] & 1);
    kube_response_free(&r);
    return 0;
}
