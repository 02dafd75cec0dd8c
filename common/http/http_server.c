/* HTTP/1.1 server connections: accept, parse with http-parser, dispatch one request at a time, write whole
 * or chunked responses, enforce the limits of struct http_limits. See http_server.h for the contract.
 * Every abort of a pending request is reported from the connection's close callback, never from inside an
 * API call the handler made, so handlers may iterate their own lists while writing. */
#include "common/http/http_server.h"

#include <http_parser.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/http/http_head.h"
#include "common/log.h"

/* How long a closing connection waits for its peer to read the last response and hang up. */
#define HTTP_LINGER_MS 2000
/* Input buffer capacity a connection keeps once drained; a bigger one (a burst of pipelined requests, a
 * body) is freed, so a thousand idle keep-alive connections do not each hold their largest burst. */
#define HTTP_IN_KEEP_BYTES (16 * 1024)
/* glibc keeps freed heap memory mapped unless it is at the top of the heap, so connection buffers freed
 * in bulk (30 clients' answers) stayed in RSS after the clients left; after this much released by closed
 * connections, malloc_trim gives it back. One heap walk per 4 MiB costs nothing at normal rates. */
#define HTTP_TRIM_AFTER_BYTES (4 * 1024 * 1024)

enum conn_state { CONN_READING, CONN_HANDLING, CONN_CLOSING };

struct http_conn {
    struct http_conn *next, *prev;
    struct http_server *srv;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    int handles_open;
    enum conn_state state;
    int closing;
    int reading;          /* uv_read_start active */
    int request_started;  /* a request's first byte has arrived: its header/request deadlines run */
    int headers_done;     /* the current request's header is complete: only the request deadline runs */
    unsigned long served; /* complete requests so far: 0 means the first-byte timeout applies */
    uint64_t wait_since;  /* loop ms since this connection waits for its client (eviction order) */
    uint64_t request_start; /* loop ms of the current request's first byte */
    int resume_pending;   /* timer armed with 0 to parse pipelined input */
    int in_process;       /* process_input is running (a synchronous answer must not re-arm timers) */
    int paused;           /* not reading or parsing until pending_write drains to read_pause_pending */
    http_parser parser;
    struct http_head_check head; /* strict syntax of the current request's head, ahead of the parser */
    struct buf in;        /* received plaintext not yet parsed (owned) */
    struct buf field;     /* header name being parsed (owned) */
    struct buf value;     /* header value (or the URL) being parsed (owned) */
    int last_was_value;
    size_t header_bytes;
    int reject;           /* status to answer instead of dispatching (400/413/431) */
    int message_done;
    int in_message;       /* the parser is inside a request */
    struct http_request *req; /* being parsed or handled (owned) */
    void *filter_state;   /* owned by the filter */
    size_t pending_write;
    size_t pending_peak;  /* most of pending_write at once: what closing this connection gives back */
    char peer[64];
    int peer_port;
};

struct write_req {
    uv_write_t w;
    struct http_conn *conn;
    size_t len;
    char data[];
};

static void conn_close(struct http_conn *c);
static void conn_shutdown(struct http_conn *c);
static void process_input(struct http_conn *c);
static void arm_timer(struct http_conn *c, uint64_t ms);
static void arm_wait_timer(struct http_conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* ---- limits, small helpers ---- */

void http_server_init(struct http_server *srv, uv_loop_t *loop, http_on_request_fn on_request, void *data)
{
    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->on_request = on_request;
    srv->data = data;
    srv->limits.max_header_bytes = HTTP_MAX_HEADER_BYTES;
    srv->limits.max_headers = HTTP_MAX_HEADERS;
    srv->limits.max_body_bytes = HTTP_MAX_BODY_BYTES;
    srv->limits.max_connections = HTTP_MAX_CONNECTIONS;
    srv->limits.first_byte_timeout_ms = HTTP_FIRST_BYTE_TIMEOUT_MS;
    srv->limits.header_timeout_ms = HTTP_HEADER_TIMEOUT_MS;
    srv->limits.idle_timeout_ms = HTTP_IDLE_TIMEOUT_MS;
    srv->limits.request_timeout_ms = HTTP_REQUEST_TIMEOUT_MS;
    srv->limits.max_pending_write = HTTP_MAX_PENDING_WRITE;
    srv->limits.read_pause_pending = HTTP_READ_PAUSE_PENDING;
}

void http_server_set_filter(struct http_server *srv, const struct http_filter *filter) { srv->filter = filter; }

int http_server_port(const struct http_server *srv) { return srv->port; }

const char *http_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
    return NULL;
}

void http_request_on_abort(struct http_request *req, http_on_abort_fn fn, void *data)
{
    req->on_abort = fn;
    req->on_abort_data = data;
}

void http_request_close_after(struct http_request *req) { req->close_after = 1; }

void *http_request_filter_state(const struct http_request *req)
{
    return req->conn ? req->conn->filter_state : NULL;
}

size_t http_request_pending_write(const struct http_request *req)
{
    return req->conn ? req->conn->pending_write : 0;
}

static void request_free(struct http_request *r)
{
    if (!r) return;
    free(r->url);
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    buf_free(&r->body);
    free(r);
}

/* ---- writing ---- */

/* Backpressure: a client that sends requests without reading the answers would make us hold every
 * answer (up to max_pending_write each connection). Above read_pause_pending we stop reading and parsing
 * its input; the kernel's buffers fill and the client's sends block, until our writes drain. */
static void pause_reading(struct http_conn *c)
{
    if (c->paused) return;
    c->paused = 1;
    c->srv->reads_paused++;
    if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

static void resume_reading(struct http_conn *c)
{
    c->paused = 0;
    if (c->state != CONN_READING) return;
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
    c->resume_pending = 1; /* parse what is already buffered, from the loop */
    arm_timer(c, 0);
}

static void on_write_done(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    struct http_conn *c = wr->conn;
    c->pending_write -= wr->len;
    free(wr);
    if (status < 0 && status != UV_ECANCELED) conn_close(c);
    else if (c->paused && !c->closing && c->pending_write <= c->srv->limits.read_pause_pending)
        resume_reading(c);
}

static int write_wire(struct http_conn *c, const char *data, size_t n)
{
    if (n == 0) return 0;
    if (c->pending_write + n > c->srv->limits.max_pending_write) {
        log_warn("http client not reading, closing", "peer", c->peer);
        conn_close(c);
        return -1;
    }
    struct write_req *wr = malloc(sizeof(*wr) + n);
    if (!wr) {
        conn_close(c);
        return -1;
    }
    wr->conn = c;
    wr->len = n;
    memcpy(wr->data, data, n);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
    int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_write_done);
    if (rc < 0) {
        free(wr);
        conn_close(c);
        return -1;
    }
    c->pending_write += n;
    if (c->pending_write > c->pending_peak) c->pending_peak = c->pending_write;
    if (c->pending_write > c->srv->pending_write_peak) c->srv->pending_write_peak = c->pending_write;
    return 0;
}

static int conn_write(struct http_conn *c, const char *data, size_t n)
{
    if (c->closing) return -1;
    const struct http_filter *f = c->srv->filter;
    if (!f) return write_wire(c, data, n);
    struct buf wire;
    buf_init(&wire);
    int rc = f->output(c->filter_state, data, n, &wire);
    if (rc == 0 && wire.oom) rc = -1;
    if (rc == 0) rc = write_wire(c, wire.data, wire.len);
    else conn_close(c);
    buf_free(&wire);
    return rc;
}

/* ---- connection life cycle ---- */

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->handles_open > 0) return;
    struct http_server *srv = c->srv;
    struct http_request *r = c->req;
    c->req = NULL;
    if (r && r->on_abort) r->on_abort(r, r->on_abort_data);
    request_free(r);
    if (c->prev) c->prev->next = c->next;
    else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    srv->nconns--;
    srv->nclosing--;
    if (srv->filter && c->filter_state) srv->filter->conn_free(c->filter_state);
    srv->released_since_trim += c->pending_peak + c->in.cap;
    buf_free(&c->in);
    buf_free(&c->field);
    buf_free(&c->value);
    free(c);
    if (srv->released_since_trim >= HTTP_TRIM_AFTER_BYTES) {
        srv->released_since_trim = 0;
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }
    if (--srv->handles_open == 0 && srv->closing && srv->on_closed) srv->on_closed(srv);
}

static void conn_close(struct http_conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    c->srv->nclosing++;
    c->state = CONN_CLOSING;
    uv_timer_stop(&c->timer);
    if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

static void on_shutdown_done(uv_shutdown_t *s, int status)
{
    struct http_conn *c = s->data;
    if (status < 0) conn_close(c);
    /* else: wait for the peer's EOF or the linger timer */
}

/* Sends what is queued, then closes: used after "Connection: close" responses and rejects. */
static void conn_shutdown(struct http_conn *c)
{
    if (c->closing || c->state == CONN_CLOSING) return;
    c->state = CONN_CLOSING;
    /* Keep reading (and discarding) until the peer closes: closing with unread input would make the
     * kernel send a reset that can destroy the response we just queued (a "lingering close"). */
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown_done) < 0) conn_close(c);
    else arm_timer(c, HTTP_LINGER_MS);
}

static void on_conn_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    if (c->closing) return;
    if (c->resume_pending) {
        c->resume_pending = 0;
        if (c->state == CONN_READING) process_input(c);
        return;
    }
    if (c->state == CONN_CLOSING) {
        conn_close(c);
        return;
    }
    if (c->state == CONN_READING) {
        log_debug(c->request_started ? "http request too slow, closing"
                  : c->served          ? "http idle connection closed"
                                       : "http connection sent nothing, closing",
                  "peer", c->peer);
        conn_close(c);
    }
}

static void arm_timer(struct http_conn *c, uint64_t ms)
{
    uv_timer_stop(&c->timer);
    if (!c->closing) uv_timer_start(&c->timer, on_conn_timer, ms, 0);
}

/* The deadline of a connection waiting for its client, from fixed start points (never from the last
 * byte, so a trickle cannot push it back): the first byte of a new connection, the next request on a
 * kept-alive one, the end of the current request's header, the end of its body. */
static void arm_wait_timer(struct http_conn *c)
{
    const struct http_limits *l = &c->srv->limits;
    uint64_t deadline;
    if (!c->request_started) {
        deadline = c->wait_since + (c->served ? l->idle_timeout_ms : l->first_byte_timeout_ms);
    } else {
        uint64_t budget = l->request_timeout_ms;
        if (!c->headers_done && l->header_timeout_ms < budget) budget = l->header_timeout_ms;
        deadline = c->request_start + budget;
    }
    uint64_t now = uv_now(c->srv->loop);
    arm_timer(c, deadline > now ? deadline - now : 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    static char slab[64 * 1024]; /* the loop is single-threaded and reads are consumed at once */
    *b = uv_buf_init(slab, sizeof(slab));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct http_conn *c = s->data;
    if (nread == 0) return;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (c->state == CONN_CLOSING) return;
    if (c->state == CONN_READING && !c->request_started) {
        /* any byte (a TLS handshake too) starts the request: from now on the header deadline runs */
        c->request_started = 1;
        c->headers_done = 0;
        c->request_start = uv_now(c->srv->loop);
    }
    const struct http_filter *f = c->srv->filter;
    if (f) {
        struct buf wire;
        buf_init(&wire);
        int rc = f->input(c->filter_state, b->base, (size_t)nread, &c->in, &wire);
        if (rc == 0 && wire.len) rc = write_wire(c, wire.data, wire.len);
        buf_free(&wire);
        if (rc < 0 || c->in.oom) {
            conn_close(c);
            return;
        }
    } else if (buf_append(&c->in, b->base, (size_t)nread) < 0) {
        conn_close(c);
        return;
    }
    if (c->state == CONN_READING) {
        process_input(c);
    } else if (c->in.len > c->srv->limits.max_header_bytes + c->srv->limits.max_body_bytes) {
        /* a pipelining client far ahead of us: stop reading until the current request is done */
        uv_read_stop(s);
        c->reading = 0;
    }
}

/* ---- parsing ---- */

static int push_header(struct http_conn *c)
{
    struct http_request *r = c->req;
    if (!c->field.len) return 0;
    if (r->nheaders >= c->srv->limits.max_headers) {
        c->reject = 431;
        return -1;
    }
    struct http_header *h = realloc(r->headers, (r->nheaders + 1) * sizeof(*h));
    if (!h) return -1;
    r->headers = h;
    h[r->nheaders].name = strdup(buf_cstr(&c->field));
    h[r->nheaders].value = strdup(buf_cstr(&c->value));
    r->nheaders++;
    buf_reset(&c->field);
    buf_reset(&c->value);
    if (!h[r->nheaders - 1].name || !h[r->nheaders - 1].value) return -1;
    return 0;
}

static int count_header_bytes(struct http_conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > c->srv->limits.max_header_bytes) {
        c->reject = 431;
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct http_conn *c = p->data;
    request_free(c->req);
    c->req = calloc(1, sizeof(*c->req));
    if (!c->req) return -1;
    buf_init(&c->req->body);
    c->req->conn = c;
    snprintf(c->req->peer, sizeof(c->req->peer), "%s", c->peer);
    c->req->peer_port = c->peer_port;
    buf_reset(&c->field);
    buf_reset(&c->value);
    c->last_was_value = 0;
    c->header_bytes = 0;
    c->message_done = 0;
    c->in_message = 1;
    c->headers_done = 0;
    if (!c->request_started) { /* a pipelined request: its bytes are here already */
        c->request_started = 1;
        c->request_start = uv_now(c->srv->loop);
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (count_header_bytes(c, n) < 0) return -1;
    /* the URL may arrive in pieces: keep it in the value buffer until headers start */
    return buf_append(&c->value, at, n);
}

static int take_url(struct http_conn *c)
{
    struct http_request *r = c->req;
    if (r->url) return 0;
    r->url = buf_steal(&c->value);
    if (!r->url) r->url = strdup("");
    if (!r->url) return -1;
    const char *q = strchr(r->url, '?');
    r->path = q ? strndup(r->url, (size_t)(q - r->url)) : strdup(r->url);
    r->query = strdup(q ? q + 1 : "");
    return (r->path && r->query) ? 0 : -1;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (take_url(c) < 0 || count_header_bytes(c, n) < 0) return -1;
    if (c->last_was_value) {
        if (push_header(c) < 0) return -1;
        c->last_was_value = 0;
    }
    return buf_append(&c->field, at, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (count_header_bytes(c, n) < 0) return -1;
    c->last_was_value = 1;
    return buf_append(&c->value, at, n);
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->req;
    if (take_url(c) < 0) return -1;
    if (c->last_was_value && push_header(c) < 0) return -1;
    c->last_was_value = 0;
    c->headers_done = 1;
    r->method = http_method_str((enum http_method)p->method);
    r->http_minor = p->http_major == 1 && p->http_minor >= 1 ? 1 : 0; /* HTTP/1.2-1.9 are read as 1.1 */
    r->keep_alive = http_should_keep_alive(p);
    r->is_head = p->method == HTTP_HEAD;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->srv->limits.max_body_bytes) {
        c->reject = 413;
        return -1;
    }
    const char *expect = http_request_header(r, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && r->http_minor >= 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        conn_write(c, cont, sizeof(cont) - 1);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (c->req->body.len + n > c->srv->limits.max_body_bytes) {
        c->reject = 413;
        return -1;
    }
    return buf_append(&c->req->body, at, n);
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    c->message_done = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void reject(struct http_conn *c, int status)
{
    char head[256];
    const char *msg = status == 413   ? "request body too large\n"
                      : status == 431 ? "request headers too large\n"
                      : status == 505 ? "only HTTP/1.0 and HTTP/1.1 are served\n"
                                      : "bad request\n";
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     status, http_status_reason(status), strlen(msg), msg);
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    log_debug("http request rejected", "peer", c->peer, "status", code);
    request_free(c->req);
    c->req = NULL;
    conn_write(c, head, (size_t)n);
    conn_shutdown(c);
}

static void process_input(struct http_conn *c)
{
    c->resume_pending = 0; /* the timer is re-armed below (or stopped at dispatch) */
    c->in_process = 1;
    while (c->state == CONN_READING && !c->closing && c->in.len > 0) {
        if (c->pending_write > c->srv->limits.read_pause_pending) {
            pause_reading(c); /* the next request waits until the client has taken our answers */
            break;
        }
        c->message_done = 0;
        if (!http_head_check_done(&c->head)) {
            /* the parser consumes every byte of an unfinished head, so each byte is checked once */
            int bad = http_head_check_feed(&c->head, c->in.data, c->in.len);
            if (bad) {
                c->in_process = 0;
                reject(c, bad);
                return;
            }
        }
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->in.data, c->in.len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        memmove(c->in.data, c->in.data + n, c->in.len - n);
        c->in.len -= n;
        c->in.data[c->in.len] = '\0';
        if (c->in.len == 0 && c->in.cap > HTTP_IN_KEEP_BYTES) buf_free(&c->in);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
        } else if (e != HPE_OK) {
            int status = c->reject ? c->reject : e == HPE_HEADER_OVERFLOW ? 431 : 400;
            c->reject = 0;
            c->in_process = 0;
            reject(c, status);
            return;
        }
        if (!c->message_done) break; /* everything consumed, request incomplete */
        /* one complete request: hand it over */
        http_head_check_init(&c->head);
        c->in_message = 0;
        c->state = CONN_HANDLING;
        c->request_started = 0;
        c->served++;
        uv_timer_stop(&c->timer);
        c->srv->requests_total++;
        c->srv->on_request(c->req, c->srv->data);
    }
    c->in_process = 0;
    if (c->state != CONN_READING || c->closing) return;
    arm_wait_timer(c);
}

/* The handler is done with the current request: free it and go on with the next one (or close). */
static void finish_request(struct http_request *r)
{
    struct http_conn *c = r->conn;
    int keep = r->keep_alive && !r->close_after && r->streaming != 2;
    c->req = NULL;
    request_free(r);
    if (c->closing) return;
    if (!keep) {
        conn_shutdown(c);
        return;
    }
    c->state = CONN_READING;
    if (c->pending_write > c->srv->limits.read_pause_pending) pause_reading(c);
    else if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
    c->request_started = 0;
    c->wait_since = uv_now(c->srv->loop);
    if (c->in_process) return; /* answered from inside process_input: its loop goes on with the input */
    if (c->in.len) {
        /* pipelined bytes wait: parse them from the loop, not from inside the handler's call */
        c->resume_pending = 1;
        arm_timer(c, 0);
    } else {
        arm_wait_timer(c);
    }
}

/* ---- responses ---- */

static void put_headers(struct buf *b, const char *const *headers)
{
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        buf_printf(b, "%s: %s\r\n", headers[i], headers[i + 1]);
}

int http_respond(struct http_request *r, int status, const char *const *headers, const char *body, size_t len)
{
    struct http_conn *c = r->conn;
    if (r->streaming) return -1;
    int keep = r->keep_alive && !r->close_after;
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "HTTP/1.%d %d %s\r\n", r->http_minor ? 1 : 0, status, http_status_reason(status));
    put_headers(&b, headers);
    buf_printf(&b, "Content-Length: %zu\r\n", len);
    if (!keep) buf_puts(&b, "Connection: close\r\n");
    else if (r->http_minor == 0) buf_puts(&b, "Connection: keep-alive\r\n");
    buf_puts(&b, "\r\n");
    if (!r->is_head && len) buf_append(&b, body, len);
    int rc = b.oom ? -1 : conn_write(c, b.data, b.len);
    buf_free(&b);
    finish_request(r);
    return rc;
}

int http_respond_text(struct http_request *r, int status, const char *content_type, const char *body)
{
    const char *h[] = {"Content-Type", content_type, NULL};
    return http_respond(r, status, h, body, strlen(body));
}

int http_stream_start(struct http_request *r, int status, const char *const *headers)
{
    if (r->streaming) return -1;
    struct buf b;
    buf_init(&b);
    r->streaming = r->http_minor >= 1 ? 1 : 2;
    buf_printf(&b, "HTTP/1.%d %d %s\r\n", r->http_minor ? 1 : 0, status, http_status_reason(status));
    put_headers(&b, headers);
    if (r->streaming == 1) buf_puts(&b, "Transfer-Encoding: chunked\r\n");
    else buf_puts(&b, "Connection: close\r\n");
    buf_puts(&b, "\r\n");
    int rc = b.oom ? -1 : conn_write(r->conn, b.data, b.len);
    buf_free(&b);
    return rc;
}

int http_stream_write(struct http_request *r, const char *data, size_t len)
{
    if (!r->streaming) return -1;
    if (len == 0 || r->is_head) return 0;
    if (r->streaming == 2) return conn_write(r->conn, data, len);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "%zx\r\n", len);
    buf_append(&b, data, len);
    buf_puts(&b, "\r\n");
    int rc = b.oom ? -1 : conn_write(r->conn, b.data, b.len);
    buf_free(&b);
    return rc;
}

int http_stream_end(struct http_request *r)
{
    if (!r->streaming) return -1;
    int rc = 0;
    if (r->streaming == 1 && !r->is_head) rc = conn_write(r->conn, "0\r\n\r\n", 5);
    finish_request(r);
    return rc;
}

void http_request_drop(struct http_request *r)
{
    struct http_conn *c = r->conn;
    c->req = NULL;
    request_free(r);
    conn_close(c);
}

/* ---- listening ---- */

/* At the connection cap: drops the connection that has waited longest for its client (one lingering
 * after its last answer first), so a new client, such as the kubelet's probe, always gets in. Connections
 * a handler is working on (a watch stream, a slow answer) are never dropped. Returns 0 if room was made. */
static int drop_before(const struct http_conn *a, const struct http_conn *b)
{
    int a_lingers = a->state == CONN_CLOSING, b_lingers = b->state == CONN_CLOSING;
    if (a_lingers != b_lingers) return a_lingers;
    return a->wait_since <= b->wait_since; /* the list is newest first: "<=" keeps the oldest of equals */
}

static int make_room(struct http_server *srv, struct http_conn *fresh)
{
    struct http_conn *victim = NULL;
    for (struct http_conn *c = srv->conns; c; c = c->next) {
        if (c == fresh || c->closing || c->state == CONN_HANDLING) continue;
        if (!victim || drop_before(c, victim)) victim = c;
    }
    if (!victim) return -1;
    srv->conns_evicted++;
    log_debug("http connection limit reached, dropping the longest-waiting connection", "peer", victim->peer);
    conn_close(victim);
    return 0;
}

static void on_connection(uv_stream_t *ls, int status)
{
    struct http_server *srv = ls->data;
    if (status < 0 || srv->closing) return;
    struct http_conn *c = calloc(1, sizeof(*c));
    if (!c) return;
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    c->next = srv->conns;
    if (c->next) c->next->prev = c;
    srv->conns = c;
    srv->nconns++;
    srv->handles_open++;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    http_head_check_init(&c->head);
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    /* a closing connection still counts until its handles are closed: count only the live ones */
    if (srv->nconns - srv->nclosing > srv->limits.max_connections && make_room(srv, c) < 0) {
        srv->conns_rejected++;
        log_warn("http connection limit reached, every connection busy, closing new connection");
        conn_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    snprintf(c->peer, sizeof(c->peer), "unknown");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        char ip[48] = "";
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
            c->peer_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
            c->peer_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, c->peer_port);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (srv->filter) {
        c->filter_state = srv->filter->conn_new(srv->filter->data);
        if (!c->filter_state) {
            conn_close(c);
            return;
        }
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    c->reading = 1;
    c->state = CONN_READING;
    c->wait_since = uv_now(srv->loop);
    arm_wait_timer(c);
}

int http_server_listen(struct http_server *srv, const char *host, int port)
{
    struct sockaddr_storage ss;
    int rc;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0) {
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
        if (rc) return rc;
    }
    rc = uv_tcp_init(srv->loop, &srv->listener);
    if (rc) return rc;
    srv->listener.data = srv;
    srv->listening = 1;
    srv->handles_open++;
    rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection);
    if (rc) return rc;
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len) == 0)
        srv->port = bound.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&bound)->sin_port)
                                               : ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct http_server *srv = h->data;
    if (--srv->handles_open == 0 && srv->on_closed) srv->on_closed(srv);
}

void http_server_close(struct http_server *srv, void (*on_closed)(struct http_server *srv))
{
    if (srv->closing) return;
    srv->closing = 1;
    srv->on_closed = on_closed;
    int nothing_open = srv->handles_open == 0;
    if (srv->listening) {
        srv->listening = 0;
        uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    }
    for (struct http_conn *c = srv->conns; c; c = c->next) conn_close(c);
    if (nothing_open && on_closed) on_closed(srv);
}
