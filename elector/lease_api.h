/* What the elector needs from the Kubernetes API, as a small table of operations on one Lease: get, create,
 * update, watch, cancel. elector.c drives the election through it; lease_kube.c implements it on the kube
 * client and the unit tests implement it in memory. Not for: anything but the one Lease. */
#ifndef HTIC_ELECTOR_LEASE_API_H
#define HTIC_ELECTOR_LEASE_API_H

#include <json-c/json.h>
#include <stdint.h>

#include "elector/lease.h"

struct lease_api_reply {
    enum lease_status st;
    struct json_object *obj;   /* borrowed for the callback: the Lease the API returned (st OK only) */
    long http_status;          /* 0 when no response arrived */
    const char *message;       /* for the log; may be NULL */
};

/* Completion of get/create/update: runs once, later, on the loop (never inside the call that started it),
 * unless the request was cancelled first. */
typedef void (*lease_api_done_cb)(void *data, const struct lease_api_reply *r);
/* A watch event: type ADDED, MODIFIED, DELETED or BOOKMARK; obj borrowed for the callback. */
typedef void (*lease_api_event_cb)(void *data, const char *type, struct json_object *obj);
/* The watch ended (closed by the server, error, timeout); not called after watch_stop. */
typedef void (*lease_api_watch_end_cb)(void *data, const char *why);

struct lease_api_ops {
    /* At most one request at a time. Each returns 0 (cb will run) or negative (cb will not run). The
     * timeout covers the whole request including retries; the adapter must not exceed it. */
    int (*get)(void *impl, int64_t timeout_ms, lease_api_done_cb cb, void *data);
    int (*create)(void *impl, struct json_object *body, int64_t timeout_ms, lease_api_done_cb cb, void *data);
    int (*update)(void *impl, struct json_object *body, int64_t timeout_ms, lease_api_done_cb cb, void *data);
    /* Cancels the request in flight, if any; its cb is not called. */
    void (*cancel)(void *impl);
    /* Watches the one Lease (the adapter picks the resourceVersion to start from). 0 or negative. */
    int (*watch_start)(void *impl, lease_api_event_cb on_event, lease_api_watch_end_cb on_end, void *data);
    void (*watch_stop)(void *impl);
};

struct lease_api {
    const struct lease_api_ops *ops;
    void *impl;
};

#endif
