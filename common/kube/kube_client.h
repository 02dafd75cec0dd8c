/* Non-blocking Kubernetes API requests on a libuv loop: one libcurl multi handle per client, driven by
 * uv_poll + uv_timer, completion callbacks on the loop.
 *
 * A process may create several clients (the elector has its own: own multi, own connections, never queued
 * behind bulk traffic). Each request has a total deadline. 429 and 5xx answers carrying Retry-After are
 * retried while the deadline allows; a 401 re-reads the token file and retries once. Watches and other
 * long responses use kube_stream_start (kube_watch.h builds on it). Not thread-safe: one loop, one thread. */
#ifndef HTIC_KUBE_CLIENT_H
#define HTIC_KUBE_CLIENT_H

#include <stddef.h>
#include <uv.h>

#include "common/err.h"
#include "common/kube/kube_config.h"
#include "common/kube/kube_response.h"

/* A full list of 10k objects is tens of MiB; 512 MiB bounds a runaway response. */
#define KUBE_BODY_MAX (512u << 20)
/* client-go's REST layer retries Retry-After answers up to 10 times, within the caller's deadline. */
#define KUBE_DEFAULT_RETRIES 10
#define KUBE_DEFAULT_TIMEOUT_MS 30000

struct kube_client;
struct kube_call; /* one request in flight; valid until its completion callback starts */

struct kube_client_opts {
    const char *user_agent;  /* NULL: "haproxy-template-ic/<version> (linux/<arch>) kubernetes/unknown" */
    int default_timeout_ms;  /* for requests with timeout_ms 0; 0 here: KUBE_DEFAULT_TIMEOUT_MS */
    /* Optional observer of every HTTP attempt, for metrics in the style of client-go's
     * rest_client_requests_total{code,method} and rest_client_request_duration_seconds: status is 0 when no
     * response came (err says why); a stream reports once, when it ends. Must not close the client. */
    void (*on_attempt_done)(void *data, const char *method, long status, enum kube_err err, double seconds);
    void *observer_data;
    /* Client-side rate limit over every attempt of this client (token bucket, FIFO): qps tokens per second,
     * at most burst at once. qps 0: unlimited. Each client has its own bucket, so the elector's client never
     * waits for bulk traffic's tokens. A request whose deadline passes while it waits fails as Timeout. */
    double qps;
    int burst;                /* 0 with qps > 0: 1 */
};

/* r is owned by the client and freed when the callback returns; keep parts with kube_response_move or
 * json_object_get(r->body). */
typedef void (*kube_response_cb)(void *data, struct kube_response *r);
/* Body bytes of a 2xx streaming response as they arrive (called on the loop, outside libcurl). Return 0 to
 * go on; non-zero aborts the request, which then completes with KUBE_ERR_DECODE. */
typedef int (*kube_chunk_cb)(void *data, const char *bytes, size_t len);

struct kube_request_opts {
    const char *method;        /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path;          /* "/apis/.../leases/x?query" (escaped; see kube_path.h); appended to server */
    const char *body;          /* NULL for none */
    size_t body_len;           /* 0: strlen(body) */
    const char *content_type;  /* NULL: application/json, or application/merge-patch+json for PATCH */
    int timeout_ms;            /* total deadline over all attempts; 0: client default; < 0: none (watches) */
    int max_retries;           /* Retry-After retries (429, 5xx); 0: none */
};

/* The config is borrowed and must outlive the client. opts may be NULL. */
int kube_client_new(uv_loop_t *loop, struct kube_config *config, const struct kube_client_opts *opts,
                    struct kube_client **out, struct err *e);
/* Cancels every request without calling its callback, closes connections and frees the client once libuv
 * has closed its handles (run the loop). Safe from inside a callback of this client. Stop the informers,
 * watches and lists built on this client first: their handles are invalid once it is closed. */
void kube_client_close(struct kube_client *c);
struct kube_config *kube_client_config(struct kube_client *c);
uv_loop_t *kube_client_loop(struct kube_client *c);

/* Starts a request; cb runs on the loop exactly once, unless the call is cancelled first. *out (may be
 * NULL) receives the handle for kube_call_cancel. Returns 0, or -1 when the request could not be started
 * (out of memory, client closing); cb is then not called. */
int kube_request_ex(struct kube_client *c, const struct kube_request_opts *o, kube_response_cb cb, void *data,
                    struct kube_call **out);
/* Shorthand: body is JSON or NULL, KUBE_DEFAULT_RETRIES retries. */
int kube_request(struct kube_client *c, const char *method, const char *path, const char *body, int timeout_ms,
                 kube_response_cb cb, void *data, struct kube_call **out);
/* A streaming request: on_chunk gets the body of a 2xx response piece by piece (r->raw stays empty), a non-2xx
 * body is collected into r->raw and classified as usual; on_done runs once at the end. No retries. */
int kube_stream_start(struct kube_client *c, const struct kube_request_opts *o, kube_chunk_cb on_chunk,
                      kube_response_cb on_done, void *data, struct kube_call **out);
/* Stops the request; its callbacks are never called afterwards. Only valid before its completion callback
 * has started. */
void kube_call_cancel(struct kube_call *call);

/* Blocking convenience for CLI tools and tests: runs the client's loop until the request completes. Never
 * call it from a callback running on that loop. *out must be freed with kube_response_free. */
int kube_request_sync(struct kube_client *c, const char *method, const char *path, const char *body,
                      int timeout_ms, struct kube_response *out);

/* Counters for tests and metrics. */
struct kube_client_stats {
    unsigned long requests;   /* HTTP attempts started */
    unsigned long retries;    /* Retry-After and 401 retries */
    unsigned long in_flight;  /* calls not yet completed */
};
void kube_client_get_stats(const struct kube_client *c, struct kube_client_stats *out);

#endif
