/* The outcome of one Kubernetes API request: HTTP status, parsed body, and a typed error classified from the
 * Status body the way client-go does it (reason first, HTTP code second).
 *
 * Pure data and classification; the transport that fills it lives in kube_client.c. */
#ifndef HTIC_KUBE_RESPONSE_H
#define HTIC_KUBE_RESPONSE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum kube_err {
    KUBE_OK = 0,
    KUBE_ERR_BAD_REQUEST,       /* 400 BadRequest */
    KUBE_ERR_UNAUTHORIZED,      /* 401 */
    KUBE_ERR_FORBIDDEN,         /* 403 */
    KUBE_ERR_NOT_FOUND,         /* 404 */
    KUBE_ERR_METHOD_NOT_ALLOWED,/* 405 */
    KUBE_ERR_ALREADY_EXISTS,    /* 409 reason AlreadyExists (a create race; not a Conflict) */
    KUBE_ERR_CONFLICT,          /* 409 reason Conflict, or 409 with an unknown reason */
    KUBE_ERR_GONE,              /* 410 Expired or Gone: relist */
    KUBE_ERR_INVALID,           /* 422 Invalid */
    KUBE_ERR_TOO_MANY_REQUESTS, /* 429; retry_after_ms says when */
    KUBE_ERR_SERVER,            /* 5xx: InternalError, ServerTimeout, ServiceUnavailable, ... */
    KUBE_ERR_TIMEOUT,           /* our deadline passed, or the server's 504 Timeout */
    KUBE_ERR_TRANSPORT,         /* no HTTP response: connect, TLS, reset, DNS */
    KUBE_ERR_DECODE,            /* a 2xx response whose body is not the JSON we expected */
    KUBE_ERR_CANCELLED,         /* the client was closed while the request was in flight */
    KUBE_ERR_OTHER,             /* any other non-2xx status (406, 415, unknown 4xx) */
};

/* Stable name such as "NotFound", "AlreadyExists", "Timeout", "Transport" (for logs and tests). */
const char *kube_err_name(enum kube_err e);
/* Classification of an HTTP status and an optional Status reason (NULL or "" when the body had none). */
enum kube_err kube_err_classify(long http_status, const char *reason);

/* JSON nesting accepted in API bodies. json-c's default (32) is too shallow for managedFields of nested
 * objects and for CRD schemas; the tokener keeps its stack on the heap, so 128 costs nothing until used. */
#define KUBE_JSON_MAX_DEPTH 128

/* Kept from a Status or a non-JSON error body for messages; longer text is cut. */
#define KUBE_MESSAGE_MAX 512

struct kube_response {
    long status;                  /* HTTP status; 0 when no response arrived */
    enum kube_err err;            /* KUBE_OK for 2xx */
    struct json_object *body;     /* owned: parsed JSON body (object or Status), NULL if none or not JSON */
    struct buf raw;               /* owned: raw body bytes (empty for watch streams) */
    char reason[64];              /* Status reason ("NotFound", ...), "" if none */
    char message[KUBE_MESSAGE_MAX]; /* Status message, transport error text, or start of a text body */
    int64_t retry_after_ms;       /* from Retry-After or details.retryAfterSeconds; -1 when absent */
    int attempts;                 /* HTTP attempts made (retries on 429/5xx and the 401 token re-read) */
};

void kube_response_init(struct kube_response *r);
/* Frees what the response owns and re-initialises it. */
void kube_response_free(struct kube_response *r);
/* Moves src into dst (dst must be initialised or freed); src is left initialised and empty. */
void kube_response_move(struct kube_response *dst, struct kube_response *src);

/* Given r->status, r->raw and r->retry_after_ms (header), parses the body as JSON when it is JSON, fills
 * reason/message from a Status body, takes details.retryAfterSeconds when no header gave a value, and
 * sets r->err. A 2xx whose body is not JSON gets KUBE_ERR_DECODE unless allow_empty and the body is empty. */
void kube_response_finish(struct kube_response *r, int allow_empty);

/* Same classification for a Status object found elsewhere (a watch ERROR event). */
void kube_response_from_status(struct kube_response *r, struct json_object *status);

/* Parses a Retry-After header value: delay seconds, or an HTTP date (relative to now). Returns the delay in
 * ms, or -1 when the value is not understood. Values above KUBE_RETRY_AFTER_MAX_S are capped. */
#define KUBE_RETRY_AFTER_MAX_S 600
int64_t kube_retry_after_parse(const char *value, int64_t now_unix_s);

#endif
