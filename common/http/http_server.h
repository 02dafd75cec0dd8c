/* A small HTTP/1.1 server on a libuv loop (http-parser underneath), used by the supervisor's /metrics and
 * health endpoints and by the Kubernetes API simulator. One request at a time per connection (pipelined
 * requests wait in the input buffer), keep-alive, bounded sizes and times, whole responses or chunked
 * streams. An optional byte filter (struct http_filter) lets a caller add TLS without this file knowing it.
 * Not a general web server: no HTTP/2, no upgrade, no trailers; request heads are held to RFC 9112
 * (http_head.h) rather than read leniently. */
#ifndef HTIC_HTTP_SERVER_H
#define HTIC_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"

/* Defaults for struct http_limits; every number is a bound on what a client can make us hold or wait. */
#define HTTP_MAX_HEADER_BYTES (32 * 1024)      /* request line + headers; kube requests carry < 4 KiB */
#define HTTP_MAX_HEADERS 100                    /* header lines per request */
#define HTTP_MAX_BODY_BYTES (8 * 1024 * 1024)   /* request body; kube's own limit is 3 MiB per object */
/* Connection slots are few (64 in the supervisor) and one probe must always get one: a client that holds
 * a slot without making progress is dropped quickly, and at the cap the longest-waiting connection that no
 * handler is working on is dropped to admit the new one (http_server.c, make_room). */
#define HTTP_MAX_CONNECTIONS 1024               /* open connections per server; see make_room at the cap */
#define HTTP_FIRST_BYTE_TIMEOUT_MS 5000         /* connect to first request byte: kubelet, Prometheus and
                                                 * curl send at once; 5 s is many round trips on a bad link */
#define HTTP_HEADER_TIMEOUT_MS 10000            /* first byte to end of the header: a real client's header
                                                 * is one or two segments; a trickle (slowloris) is cut */
#define HTTP_IDLE_TIMEOUT_MS 90000              /* between complete requests of a keep-alive connection:
                                                 * longer than a 60 s scrape interval, so scrapers reuse it */
#define HTTP_REQUEST_TIMEOUT_MS 30000           /* first byte to last byte of one request (slow body) */
#define HTTP_MAX_PENDING_WRITE (32 * 1024 * 1024) /* unsent response bytes before a reader counts as stuck */
#define HTTP_READ_PAUSE_PENDING (64 * 1024)     /* unsent answers above which a connection's further
                                                 * (pipelined) requests wait: a client that sends without
                                                 * reading costs this plus one answer, not 32 MiB; many
                                                 * small answers fit, so a reading client never waits */

struct http_limits {
    size_t max_header_bytes;
    size_t max_headers;
    size_t max_body_bytes;
    size_t max_connections;
    uint64_t first_byte_timeout_ms;
    uint64_t header_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t request_timeout_ms;
    size_t max_pending_write;
    size_t read_pause_pending;
};

struct http_header {
    char *name;   /* owned by the request */
    char *value;  /* owned by the request */
};

struct http_conn;
struct http_request;

/* Called once per complete request. The handler answers with http_respond() or http_stream_*() now or
 * later; a handler that answers later must set http_request_on_abort() and stop using the request once
 * that callback ran. */
typedef void (*http_on_request_fn)(struct http_request *req, void *data);
typedef void (*http_on_abort_fn)(struct http_request *req, void *data);

struct http_request {
    const char *method;          /* "GET", "POST", ... (static string) */
    char *url;                   /* raw request target, owned */
    char *path;                  /* target up to '?', not decoded, owned */
    char *query;                 /* after '?', not decoded, "" if none, owned */
    struct http_header *headers; /* owned array */
    size_t nheaders;
    struct buf body;             /* owned; NUL-terminated */
    int http_minor;              /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
    char peer[64];               /* "ip:port" of the client */
    int peer_port;
    void *user;                  /* free for the handler */

    /* private */
    struct http_conn *conn;
    http_on_abort_fn on_abort;
    void *on_abort_data;
    int keep_alive;
    int streaming;               /* 0 none, 1 chunked, 2 raw until close (HTTP/1.0) */
    int is_head;
    int close_after;
};

/* Turns plaintext into wire bytes and back for one connection, e.g. TLS over memory BIOs. */
struct http_filter {
    /* Per-connection state; NULL on failure (the connection is closed). */
    void *(*conn_new)(void *filter_data);
    /* Bytes from the network: appends decoded bytes to plain and bytes to send back to wire. <0 closes. */
    int (*input)(void *state, const char *in, size_t n, struct buf *plain, struct buf *wire);
    /* Plaintext to send: appends wire bytes. <0 closes. */
    int (*output)(void *state, const char *plain, size_t n, struct buf *wire);
    void (*conn_free)(void *state);
    void *data;
};

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int listening;
    int closing;
    int port;                      /* bound port once listening */
    struct http_limits limits;     /* defaults set by init; adjust before listen */
    http_on_request_fn on_request;
    void *data;
    const struct http_filter *filter; /* NULL: plain HTTP */
    struct http_conn *conns;       /* owned list */
    size_t nconns;
    size_t nclosing;               /* of nconns, closed and waiting for their handles */
    size_t released_since_trim;    /* buffer bytes closed connections gave back since malloc_trim */
    int handles_open;
    void (*on_closed)(struct http_server *srv);
    /* counters, for tests and metrics */
    unsigned long requests_total;
    unsigned long conns_rejected;  /* at the cap with every connection busy in a handler */
    unsigned long conns_evicted;   /* waiting connections dropped at the cap to admit a new one */
    unsigned long reads_paused;    /* times a connection stopped being read until its answers drain */
    size_t pending_write_peak;     /* most unsent bytes any connection has held */
};

void http_server_init(struct http_server *srv, uv_loop_t *loop, http_on_request_fn on_request, void *data);
void http_server_set_filter(struct http_server *srv, const struct http_filter *filter);
/* Binds and listens; port 0 picks a free port (see http_server_port). Returns 0 or a negative uv error. */
int http_server_listen(struct http_server *srv, const char *host, int port);
int http_server_port(const struct http_server *srv);
/* Stops listening and closes every connection (pending requests get their on_abort); on_closed (may be
 * NULL) runs once every handle is closed, after which srv may be freed. */
void http_server_close(struct http_server *srv, void (*on_closed)(struct http_server *srv));

/* Request helpers. */
const char *http_request_header(const struct http_request *req, const char *name); /* case-insensitive */
void http_request_on_abort(struct http_request *req, http_on_abort_fn fn, void *data);
/* Closes the connection once this request's response is sent. */
void http_request_close_after(struct http_request *req);

/* Whole response: status line, the given headers (name, value, name, value, ..., NULL; may be NULL),
 * Content-Length, and body. The request is finished and freed afterwards. */
int http_respond(struct http_request *req, int status, const char *const *headers, const char *body,
                 size_t len);
/* Convenience: one Content-Type and a NUL-terminated body. */
int http_respond_text(struct http_request *req, int status, const char *content_type, const char *body);

/* Streaming response with chunked transfer encoding (raw until close for HTTP/1.0 clients). */
int http_stream_start(struct http_request *req, int status, const char *const *headers);
int http_stream_write(struct http_request *req, const char *data, size_t len);
/* Ends the stream cleanly; the request is freed. */
int http_stream_end(struct http_request *req);
/* Ends the stream by closing the connection without the final chunk (what a dying server does). The
 * request is freed; on_abort is not called. Works for non-streaming requests too. */
void http_request_drop(struct http_request *req);
/* The http_filter's per-connection state of this request's connection (NULL without a filter), e.g. to
 * read a TLS peer certificate. */
void *http_request_filter_state(const struct http_request *req);
/* Bytes queued for this request's connection and not yet written (to spot slow readers). */
size_t http_request_pending_write(const struct http_request *req);

const char *http_status_reason(int status);

/* Query string helpers (http_query.c). Finds key in a raw query string and percent-decodes its value into
 * out (NUL-terminated). Returns 1 found, 0 absent, -1 value too long or badly encoded. */
int http_query_get(const char *query, const char *key, char *out, size_t outlen);
/* Percent-decodes (and '+' to space when form is set) in place-safe manner into out; -1 on bad input. */
int http_url_decode(const char *in, size_t n, char *out, size_t outlen, int form);

#endif
