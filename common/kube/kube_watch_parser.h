/* Incremental parser for Kubernetes watch streams: newline-delimited JSON events
 * {"type":"ADDED","object":{...}} arriving in chunks whose boundaries bear no relation to event boundaries.
 *
 * Pure (no I/O): feed it bytes as they arrive, it calls back once per complete event. kube_watch.c drives it
 * from a streaming HTTP request. */
#ifndef HTIC_KUBE_WATCH_PARSER_H
#define HTIC_KUBE_WATCH_PARSER_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* One event is one object; kube-apiserver refuses objects over ~3 MiB (its request size limit) and etcd
 * stores at most 1.5 MiB, so 8 MiB per line is generous while bounding what a broken stream can make us
 * hold. */
#define KUBE_WATCH_EVENT_MAX (8u << 20)

enum kube_watch_type {
    KUBE_WATCH_ADDED = 1,
    KUBE_WATCH_MODIFIED,
    KUBE_WATCH_DELETED,
    KUBE_WATCH_BOOKMARK,
    KUBE_WATCH_ERROR,
};
const char *kube_watch_type_name(enum kube_watch_type t);

enum kube_watch_parse_err {
    KUBE_WATCH_PARSE_OK = 0,
    KUBE_WATCH_PARSE_TOO_LONG = -1,   /* an event line above max_event bytes */
    KUBE_WATCH_PARSE_BAD_JSON = -2,   /* a line that is not one JSON object */
    KUBE_WATCH_PARSE_BAD_EVENT = -3,  /* no string "type", unknown type, or "object" not an object */
    KUBE_WATCH_PARSE_TRUNCATED = -4,  /* kube_watch_parser_finish: the stream ended inside an event */
    KUBE_WATCH_PARSE_STOPPED = -5,    /* the callback asked to stop */
};
const char *kube_watch_parse_err_str(int code);

/* Borrowed object, valid during the call (take a reference with json_object_get to keep it). Return 0 to go
 * on, non-zero to stop: feed then returns KUBE_WATCH_PARSE_STOPPED without looking at further bytes. */
typedef int (*kube_watch_event_cb)(void *data, enum kube_watch_type type, struct json_object *object);

struct kube_watch_parser {
    struct buf line;      /* owned: bytes of the event not yet terminated by '\n' */
    struct json_tokener *tok; /* owned, created on first use, reset for every event */
    size_t max_event;     /* KUBE_WATCH_EVENT_MAX unless set lower (tests, fuzzing) */
    uint64_t events;      /* delivered so far */
    char why[160];        /* detail of the last error, for logs */
};

void kube_watch_parser_init(struct kube_watch_parser *p);
/* Returns KUBE_WATCH_PARSE_OK or an error; after an error the stream is unusable (free the parser). Blank
 * lines (and "\r\n" endings) are skipped. */
int kube_watch_parser_feed(struct kube_watch_parser *p, const char *data, size_t len, kube_watch_event_cb cb,
                           void *cb_data);
/* At end of stream: an unterminated final event is parsed if complete JSON, else TRUNCATED. */
int kube_watch_parser_finish(struct kube_watch_parser *p, kube_watch_event_cb cb, void *cb_data);
void kube_watch_parser_free(struct kube_watch_parser *p);

#endif
