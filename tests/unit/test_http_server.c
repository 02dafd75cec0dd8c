/* HTTP server: keep-alive, pipelining, chunked streaming, limits (slow and idle clients, huge headers and
 * bodies, connection cap), bad requests and aborts. The server runs its loop in a thread; the tests are a
 * raw-socket client with receive timeouts so nothing can hang. */
#include "tests/unit/unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/http/http_head.h"
#include "common/http/http_server.h"

struct fixture {
    uv_loop_t loop;
    struct http_server srv;
    uv_async_t stop;
    pthread_t th;
    atomic_int aborts;
    atomic_int closed;
};

static struct fixture F;

struct later {
    uv_timer_t t;
    struct http_request *req;
    int step;
};

static void on_later_closed(uv_handle_t *h) { free(h->data); }

static void on_slow_abort(struct http_request *req, void *data)
{
    struct later *l = data;
    atomic_fetch_add(&F.aborts, 1);
    l->req = NULL;
    uv_timer_stop(&l->t);
    uv_close((uv_handle_t *)&l->t, on_later_closed);
}

static void on_later(uv_timer_t *t)
{
    struct later *l = t->data;
    if (!l->req) return;
    if (l->step < 0) { /* /slow: one answer */
        http_respond_text(l->req, 200, "text/plain", "slow done");
        l->req = NULL;
        uv_close((uv_handle_t *)&l->t, on_later_closed);
        return;
    }
    if (l->step >= 1000) { /* /flood: 64 KiB per tick until the server gives up on the reader */
        static char block[64 * 1024];
        memset(block, 'x', sizeof(block));
        if (l->step++ < 1000 + 2048) http_stream_write(l->req, block, sizeof(block));
        return;
    }
    if (l->step < 3) {
        char chunk[32];
        int n = snprintf(chunk, sizeof(chunk), "{\"n\":%d}\n", l->step);
        http_stream_write(l->req, chunk, (size_t)n);
        l->step++;
        return;
    }
    http_stream_end(l->req);
    l->req = NULL;
    uv_timer_stop(&l->t);
    uv_close((uv_handle_t *)&l->t, on_later_closed);
}

static void on_request(struct http_request *req, void *data)
{
    (void)data;
    char x[64] = "";
    if (strcmp(req->path, "/hello") == 0) {
        char body[256];
        http_query_get(req->query, "x", x, sizeof(x));
        snprintf(body, sizeof(body), "hello %s x=%s", req->method, x);
        http_respond_text(req, 200, "text/plain", body);
    } else if (strcmp(req->path, "/echo") == 0) {
        const char *h[] = {"Content-Type", "application/octet-stream", NULL};
        http_respond(req, 200, h, req->body.data ? req->body.data : "", req->body.len);
    } else if (strcmp(req->path, "/stream") == 0 || strcmp(req->path, "/slow") == 0) {
        struct later *l = calloc(1, sizeof(*l));
        l->req = req;
        l->step = req->path[1] == 's' && req->path[2] == 'l' ? -1 : 0;
        l->t.data = l;
        uv_timer_init(&F.loop, &l->t);
        http_request_on_abort(req, on_slow_abort, l);
        if (l->step == 0) {
            const char *h[] = {"Content-Type", "application/json", NULL};
            http_stream_start(req, 200, h);
            uv_timer_start(&l->t, on_later, 10, 10);
        } else {
            uv_timer_start(&l->t, on_later, 300, 0);
        }
    } else if (strcmp(req->path, "/flood") == 0) {
        struct later *l = calloc(1, sizeof(*l));
        l->req = req;
        l->step = 1000; /* flood mode */
        l->t.data = l;
        uv_timer_init(&F.loop, &l->t);
        http_request_on_abort(req, on_slow_abort, l);
        http_stream_start(req, 200, NULL);
        uv_timer_start(&l->t, on_later, 1, 1);
    } else if (strcmp(req->path, "/big") == 0) { /* 4 KiB answers: pipelined, they pile up fast */
        static char big[4096];
        memset(big, 'b', sizeof(big));
        http_respond(req, 200, NULL, big, sizeof(big));
    } else if (strcmp(req->path, "/hold") == 0) { /* never answered: held until the client goes */
        struct later *l = calloc(1, sizeof(*l));
        l->req = req;
        l->t.data = l;
        uv_timer_init(&F.loop, &l->t);
        http_request_on_abort(req, on_slow_abort, l);
    } else if (strcmp(req->path, "/drop") == 0) {
        http_stream_start(req, 200, NULL);
        http_stream_write(req, "partial", 7);
        http_request_drop(req);
    } else if (strcmp(req->path, "/close") == 0) {
        http_request_close_after(req);
        http_respond_text(req, 200, "text/plain", "bye");
    } else {
        http_respond_text(req, 404, "text/plain", "not found");
    }
}

static void on_srv_closed(struct http_server *srv)
{
    (void)srv;
    atomic_store(&F.closed, 1);
}

static void on_stop(uv_async_t *a)
{
    http_server_close(&F.srv, on_srv_closed);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_thread(void *arg)
{
    (void)arg;
    uv_run(&F.loop, UV_RUN_DEFAULT);
    return NULL;
}

static void start_with(void (*tweak)(struct http_limits *))
{
    memset(&F, 0, sizeof(F));
    ck_assert_int_eq(uv_loop_init(&F.loop), 0);
    http_server_init(&F.srv, &F.loop, on_request, NULL);
    if (tweak) tweak(&F.srv.limits);
    ck_assert_int_eq(http_server_listen(&F.srv, "127.0.0.1", 0), 0);
    ck_assert_int_gt(http_server_port(&F.srv), 0);
    uv_async_init(&F.loop, &F.stop, on_stop);
    pthread_create(&F.th, NULL, loop_thread, NULL);
}

static void start(void) { start_with(NULL); }

static void stop(void)
{
    uv_async_send(&F.stop);
    pthread_join(F.th, NULL);
    ck_assert_int_eq(atomic_load(&F.closed), 1);
    ck_assert_int_eq(uv_loop_close(&F.loop), 0);
}

static int connect_client(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)F.srv.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return; /* the server may close early (limits); the read side reports it */
        s += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s) { send_all(fd, s, strlen(s)); }

/* Reads until the peer closes or timeout; returns what arrived (static). */
static char rbuf[1 << 16];
static size_t rlen;

/* Reads until needle has appeared `count` times in the received bytes, or EOF/timeout. Returns 1 if found. */
static int read_until(int fd, const char *needle, int count)
{
    for (;;) {
        int seen = 0;
        for (const char *p = rbuf; (p = strstr(p, needle)) != NULL; p += strlen(needle)) seen++;
        if (seen >= count) return 1;
        if (rlen + 1 >= sizeof(rbuf)) return 0;
        ssize_t n = recv(fd, rbuf + rlen, sizeof(rbuf) - rlen - 1, 0);
        if (n <= 0) return 0;
        rlen += (size_t)n;
        rbuf[rlen] = '\0';
    }
}

/* Reads until at least n bytes have arrived in all; 1 if they did. */
static int read_bytes(int fd, size_t n)
{
    while (rlen < n) {
        if (rlen + 1 >= sizeof(rbuf)) return 0;
        ssize_t got = recv(fd, rbuf + rlen, sizeof(rbuf) - rlen - 1, 0);
        if (got <= 0) return 0;
        rlen += (size_t)got;
        rbuf[rlen] = '\0';
    }
    return 1;
}

/* 1 if the server closed the connection (EOF) before the receive timeout. */
static int read_to_eof(int fd)
{
    for (;;) {
        if (rlen + 1 >= sizeof(rbuf)) rlen = 0;
        ssize_t n = recv(fd, rbuf + rlen, sizeof(rbuf) - rlen - 1, 0);
        if (n == 0) return 1;
        if (n < 0) return errno == ECONNRESET;
        rlen += (size_t)n;
        rbuf[rlen] = '\0';
    }
}

static void reset_rbuf(void)
{
    rlen = 0;
    rbuf[0] = '\0';
}

START_TEST(test_http_keep_alive_serves_two_requests_on_one_connection)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /hello?x=a%20b HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_until(fd, "x=a b", 1));
    ck_assert_ptr_nonnull(strstr(rbuf, "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_nonnull(strstr(rbuf, "Content-Length: 15\r\n"));
    ck_assert_ptr_null(strstr(rbuf, "Connection: close"));
    send_str(fd, "GET /hello?x=2 HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_until(fd, "x=2", 1));
    ck_assert_uint_eq(F.srv.requests_total, 2);
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_pipelined_requests_answered_in_order)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde"
                 "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /hello?x=3 HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_until(fd, "HTTP/1.1 200", 4));
    char *a = strstr(rbuf, "x=1"), *b = strstr(rbuf, "abcde"), *c = strstr(rbuf, "slow done"),
         *d = strstr(rbuf, "x=3");
    ck_assert(a && b && c && d);
    ck_assert(a < b && b < c && c < d);
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_pipelined_batches_back_to_back)
{
    /* a batch answered entirely from one read must leave the connection ready for the next batch */
    start();
    int fd = connect_client();
    for (int round = 0; round < 3; round++) {
        reset_rbuf();
        send_str(fd, "GET /hello?x=a HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /hello?x=b HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /hello?x=c HTTP/1.1\r\nHost: t\r\n\r\n");
        ck_assert_msg(read_until(fd, "HTTP/1.1 200", 3), "round %d", round);
        ck_assert(read_until(fd, "x=c", 1));
    }
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_chunked_request_body_is_decoded)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
    ck_assert(read_until(fd, "abcdefg", 1));
    ck_assert_ptr_nonnull(strstr(rbuf, "Content-Length: 7\r\n"));
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_expect_continue_gets_interim_response)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    ck_assert(read_until(fd, "HTTP/1.1 100 Continue\r\n\r\n", 1));
    send_str(fd, "xyz");
    ck_assert(read_until(fd, "xyz", 1));
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_chunked_stream_delivers_every_chunk_then_terminator)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_until(fd, "0\r\n\r\n", 1));
    ck_assert_ptr_nonnull(strstr(rbuf, "Transfer-Encoding: chunked\r\n"));
    ck_assert_ptr_nonnull(strstr(rbuf, "8\r\n{\"n\":0}\n\r\n8\r\n{\"n\":1}\n\r\n8\r\n{\"n\":2}\n\r\n0\r\n\r\n"));
    /* the connection stays usable after the stream */
    send_str(fd, "GET /hello?x=after HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_until(fd, "x=after", 1));
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_10_stream_is_raw_until_close)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /stream HTTP/1.0\r\n\r\n");
    ck_assert(read_to_eof(fd));
    ck_assert_ptr_null(strstr(rbuf, "chunked"));
    ck_assert_ptr_nonnull(strstr(rbuf, "\r\n\r\n{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n"));
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_dropped_stream_closes_without_terminator)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /drop HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_to_eof(fd));
    ck_assert_ptr_null(strstr(rbuf, "0\r\n\r\n"));
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_connection_close_honoured)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    ck_assert(read_to_eof(fd));
    ck_assert_ptr_nonnull(strstr(rbuf, "Connection: close\r\n"));
    close(fd);
    fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /close HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_to_eof(fd));
    ck_assert_ptr_nonnull(strstr(rbuf, "bye"));
    close(fd);
    stop();
}
END_TEST

static void short_times(struct http_limits *l)
{
    l->request_timeout_ms = 200;
    l->idle_timeout_ms = 300;
}

START_TEST(test_http_slow_client_cut_off)
{
    start_with(short_times);
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: ");
    uint64_t t0 = uv_hrtime();
    ck_assert(read_to_eof(fd));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ck_assert_uint_ge(ms, 150);
    ck_assert_uint_eq(rlen, 0);
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_idle_keepalive_connection_closed)
{
    start_with(short_times);
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_until(fd, "hello GET", 1));
    uint64_t t0 = uv_hrtime();
    ck_assert(read_to_eof(fd));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ck_assert_uint_ge(ms, 200);
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_huge_header_refused_with_431)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    size_t n = HTTP_MAX_HEADER_BYTES + 1000;
    char *big = malloc(n + 200);
    int off = sprintf(big, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(big + off, 'a', n);
    strcpy(big + off + n, "\r\n\r\n");
    send_all(fd, big, strlen(big));
    free(big);
    ck_assert(read_to_eof(fd));
    ck_assert_ptr_nonnull(strstr(rbuf, "HTTP/1.1 431 "));
    ck_assert_ptr_nonnull(strstr(rbuf, "Connection: close"));
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_too_many_headers_refused_with_431)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS + 5; i++) buf_printf(&b, "X-H%d: v\r\n", i);
    buf_puts(&b, "\r\n");
    send_all(fd, b.data, b.len);
    buf_free(&b);
    ck_assert(read_to_eof(fd));
    ck_assert_ptr_nonnull(strstr(rbuf, "HTTP/1.1 431 "));
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_big_body_refused_with_413)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    char req[256];
    snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
             HTTP_MAX_BODY_BYTES + 1);
    send_str(fd, req);
    ck_assert(read_to_eof(fd));
    ck_assert_ptr_nonnull(strstr(rbuf, "HTTP/1.1 413 "));
    close(fd);
    stop();
}
END_TEST

static void small_body(struct http_limits *l) { l->max_body_bytes = 16; }

START_TEST(test_http_big_chunked_body_refused_with_413)
{
    start_with(small_body);
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "10\r\n0123456789abcdef\r\n1\r\nX\r\n0\r\n\r\n");
    ck_assert(read_to_eof(fd));
    ck_assert_ptr_nonnull(strstr(rbuf, "HTTP/1.1 413 "));
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_garbage_gets_400_and_close)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "THIS IS NOT HTTP\r\n\r\n");
    ck_assert(read_to_eof(fd));
    ck_assert_ptr_nonnull(strstr(rbuf, "HTTP/1.1 400 "));
    close(fd);
    stop();
}
END_TEST

static void two_conns(struct http_limits *l) { l->max_connections = 2; }

START_TEST(test_http_connection_cap_closes_new_connection_when_all_are_in_handlers)
{
    /* connections a handler is working on are never dropped to make room: the newcomer is refused */
    start_with(two_conns);
    int a = connect_client(), b = connect_client();
    send_str(a, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    send_str(b, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 500 && F.srv.requests_total < 2; i++) usleep(10 * 1000);
    ck_assert_uint_eq(F.srv.requests_total, 2);
    int c = connect_client();
    reset_rbuf();
    send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_to_eof(c));
    ck_assert_uint_eq(rlen, 0);
    ck_assert_uint_eq(F.srv.conns_rejected, 1);
    ck_assert_uint_eq(F.srv.conns_evicted, 0);
    close(a);
    close(b);
    close(c);
    stop();
}
END_TEST

static void cap_of_64(struct http_limits *l) { l->max_connections = 64; } /* what the supervisor uses */

START_TEST(test_http_idle_sockets_at_the_cap_do_not_lock_out_a_probe)
{
    /* 70 clients hold connections without finishing a request (half send nothing, half a header that
     * never ends); a probe that comes after them must still be answered: the oldest waiting connection
     * makes room for it. */
    start_with(cap_of_64);
    int idle[70];
    for (int i = 0; i < 70; i++) {
        idle[i] = connect_client();
        if (i % 2) send_str(idle[i], "GET /hello HTTP/1.1\r\nHost: t\r\nX-Never: ");
    }
    int probe = connect_client();
    reset_rbuf();
    send_str(probe, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_msg(read_until(probe, "hello GET", 1), "probe not answered: [%s]", rbuf);
    ck_assert_ptr_nonnull(strstr(rbuf, "HTTP/1.1 200 OK\r\n"));
    ck_assert_uint_ge(F.srv.conns_evicted, 7);
    ck_assert_uint_eq(F.srv.conns_rejected, 0);
    close(probe);
    for (int i = 0; i < 70; i++) close(idle[i]);
    stop();
}
END_TEST

static void short_first_byte(struct http_limits *l)
{
    l->first_byte_timeout_ms = 200;
    l->idle_timeout_ms = 60000;
    l->header_timeout_ms = 300;
    l->request_timeout_ms = 60000;
}

START_TEST(test_http_silent_connection_closed_after_first_byte_timeout)
{
    start_with(short_first_byte);
    int fd = connect_client(); /* receive timeout 5 s: far beyond 200 ms, far below the 60 s idle time */
    reset_rbuf();
    ck_assert(read_to_eof(fd));
    ck_assert_uint_eq(rlen, 0);
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_trickled_header_cut_off_at_header_timeout)
{
    /* a byte every 50 ms keeps the connection busy but the header never ends: the header deadline
     * (300 ms from the first byte) closes it long before the 60 s request timeout */
    start_with(short_first_byte);
    int fd = connect_client();
    send_str(fd, "GET /hello HTTP/1.1\r\nX-Slow: ");
    int closed = 0;
    for (int i = 0; i < 200 && !closed; i++) { /* at most 10 s */
        usleep(50 * 1000);
        char ch;
        ssize_t n = recv(fd, &ch, 1, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) closed = 1;
        else if (send(fd, "a", 1, MSG_NOSIGNAL) < 0) closed = 1;
    }
    ck_assert(closed);
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_keepalive_connection_outlives_first_byte_timeout)
{
    /* between complete requests the long idle timeout applies, not the first-byte one */
    start_with(short_first_byte);
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_until(fd, "x=1", 1));
    usleep(600 * 1000); /* three first-byte timeouts */
    send_str(fd, "GET /hello?x=2 HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(read_until(fd, "x=2", 1));
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_client_gone_during_async_request_reports_abort)
{
    start();
    int fd = connect_client();
    send_str(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(50 * 1000);
    close(fd);
    for (int i = 0; i < 200 && atomic_load(&F.aborts) == 0; i++) usleep(10 * 1000);
    ck_assert_int_eq(atomic_load(&F.aborts), 1);
    stop();
}
END_TEST

START_TEST(test_http_server_close_aborts_pending_requests)
{
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(50 * 1000);
    stop();
    ck_assert_int_eq(atomic_load(&F.aborts), 1);
    ck_assert(read_to_eof(fd));
    close(fd);
}
END_TEST

static void small_pending(struct http_limits *l) { l->max_pending_write = 256 * 1024; }

START_TEST(test_http_reader_that_stops_reading_is_cut_off)
{
    start_with(small_pending);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)F.srv.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    send_str(fd, "GET /flood HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 1000 && atomic_load(&F.aborts) == 0; i++) usleep(10 * 1000);
    ck_assert_int_eq(atomic_load(&F.aborts), 1);
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_pipelining_client_that_does_not_read_is_paused)
{
    /* 2000 pipelined requests for 4 KiB each, sent at once and not read: the server must stop taking
     * requests while the answers it holds for this client exceed read_pause_pending, then answer every
     * one once the client reads */
    start();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)F.srv.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);

    /* one answer alone, to know its size */
    static const char one[] = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
    reset_rbuf();
    send_str(fd, one);
    ck_assert(read_until(fd, "\r\n\r\n", 1));
    size_t answer = (size_t)(strstr(rbuf, "\r\n\r\n") + 4 - rbuf) + 4096;
    ck_assert(read_bytes(fd, answer));

    enum { N = 2000 };
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < N; i++) buf_puts(&b, one);
    ssize_t sent = send(fd, b.data, b.len, MSG_NOSIGNAL);
    ck_assert_int_eq(sent, (ssize_t)b.len);
    buf_free(&b);
    for (int i = 0; i < 500 && F.srv.requests_total < 2; i++) usleep(10 * 1000);
    usleep(300 * 1000); /* let the server run ahead as far as it will */
    size_t peak = F.srv.pending_write_peak;
    ck_assert_msg(peak <= F.srv.limits.read_pause_pending + answer, "peak %zu", peak);
    ck_assert_uint_ge(F.srv.reads_paused, 1); /* 8 MB of answers: more than loopback's buffers hold */

    /* now read: every answer arrives */
    size_t want = (size_t)N * answer, got = 0;
    char chunk[65536];
    while (got < want) {
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) break;
        got += (size_t)n;
    }
    ck_assert_uint_eq(got, want);
    ck_assert_uint_eq(F.srv.requests_total, N + 1);
    close(fd);
    stop();
}
END_TEST

/* Request heads and what the server must answer: 0 for served (200), else the refusal. */
static const struct head_case {
    const char *head;
    int status;
} head_cases[] = {
    {"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 0},
    {"GET /hello HTTP/1.0\r\n\r\n", 0},
    {"\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 0},                /* an empty line first is ignored */
    {"GET /hello HTTP/1.1\r\nHost: t\r\nX-A:\tb c \r\nX-E:\r\n\r\n", 0}, /* tab, inner space, empty */
    {"GET /hello HTTP/1.1\r\nX-Hi: \xc3\xa9t\xc3\xa9\r\n\r\n", 0},     /* obs-text */
    {"GET /hello HTTP/1.2\r\nHost: t\r\n\r\n", 0},                   /* a later 1.x reads as 1.1 */
    {"GET /hello HTTP/2.0\r\nHost: t\r\n\r\n", 505},
    {"GET /hello HTTP/9.9\r\nHost: t\r\n\r\n", 505},
    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},                        /* the HTTP/2 preface */
    {"GET /hello\r\n\r\n", 400},                                      /* HTTP/0.9 style */
    {"GET /hello\r\nHost: t\r\n\r\n", 400},
    {"GET /hello HTTP/1.10\r\n\r\n", 400},
    {"GET /hello http/1.1\r\n\r\n", 400},
    {"GET /hello HTTP/1.1 \r\n\r\n", 400},
    {"GET  /hello HTTP/1.1\r\n\r\n", 400},
    {"GET /hello  HTTP/1.1\r\n\r\n", 400},
    {"GET /hello HTTP/1.1\r\nFoo Bar: x\r\n\r\n", 400},               /* space in a field name */
    {"GET /hello HTTP/1.1\r\nFoo : x\r\n\r\n", 400},                  /* space before the colon */
    {"GET /hello HTTP/1.1\r\n Host: t\r\n\r\n", 400},                 /* space before the first field */
    {"GET /hello HTTP/1.1\r\nX-A: a\r\n  b\r\n\r\n", 400},             /* obs-fold */
    {"GET /hello HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", 400},             /* obs-fold with a tab */
    {"GET /hello HTTP/1.1\nHost: t\n\n", 400},                        /* bare LF everywhere */
    {"GET /hello HTTP/1.1\r\nHost: t\n\r\n", 400},                    /* one bare LF */
    {"GET /hello HTTP/1.1\r\nHost: t\r\n\n", 400},                    /* bare LF ending the head */
    {"GET /hello HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400},                 /* bare CR */
    {"GET /hello HTTP/1.1\r\nX-A: a\x01" "b\r\n\r\n", 400},           /* a control byte in a value */
    {"GET /hello HTTP/1.1\r\nNoColon\r\n\r\n", 400},
    {"GET /hello HTTP/1.1\r\n: x\r\n\r\n", 400},                      /* empty field name */
};

START_TEST(test_http_head_check_same_answer_whole_or_byte_by_byte)
{
    for (size_t i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++) {
        const char *head = head_cases[i].head;
        struct http_head_check whole, bytes;
        http_head_check_init(&whole);
        int a = http_head_check_feed(&whole, head, strlen(head));
        http_head_check_init(&bytes);
        int b = 0;
        for (size_t j = 0; head[j] && b == 0; j++) b = http_head_check_feed(&bytes, head + j, 1);
        ck_assert_msg(a == head_cases[i].status && b == a, "case %zu: %d whole, %d byte by byte, want %d", i, a,
                      b, head_cases[i].status);
        if (a == 0) ck_assert_msg(http_head_check_done(&whole) && http_head_check_done(&bytes), "case %zu", i);
    }
}
END_TEST

START_TEST(test_http_malformed_heads_refused_with_400_and_versions_with_505)
{
    start();
    for (size_t i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++) {
        int fd = connect_client();
        reset_rbuf();
        send_str(fd, head_cases[i].head);
        shutdown(fd, SHUT_WR); /* no more bytes: the server answers what it has */
        read_to_eof(fd);
        char want[32];
        snprintf(want, sizeof(want), " %d ", head_cases[i].status ? head_cases[i].status : 200);
        ck_assert_msg(strncmp(rbuf, "HTTP/1.", 7) == 0 && strncmp(rbuf + 8, want, strlen(want)) == 0,
                      "case %zu: got [%.40s], want%s", i, rbuf, want);
        close(fd);
    }
    stop();
}
END_TEST

START_TEST(test_http_bad_head_after_a_good_pipelined_request)
{
    /* the check starts afresh for each request of a connection, bodies are not looked at */
    start();
    int fd = connect_client();
    reset_rbuf();
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\nA b\nc\r\n "
                 "GET /hello?x=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /hello HTTP/1.1\r\nBad Name: x\r\n\r\n");
    ck_assert(read_to_eof(fd));
    char *a = strstr(rbuf, "A b\nc\r\n "), *b = strstr(rbuf, "x=2"), *c = strstr(rbuf, "HTTP/1.1 400 ");
    ck_assert_msg(a && b && c && a < b && b < c, "[%s]", rbuf);
    close(fd);
    stop();
}
END_TEST

START_TEST(test_http_query_get_decodes_and_bounds)
{
    char out[16];
    ck_assert_int_eq(http_query_get("a=1&labelSelector=app%3Dweb%2Ctier+in+(x)&w", "labelSelector", out, 8), -1);
    char big[64];
    ck_assert_int_eq(http_query_get("a=1&labelSelector=app%3Dweb%2Ctier+in+(x)&w", "labelSelector", big,
                                    sizeof(big)), 1);
    ck_assert_str_eq(big, "app=web,tier in (x)");
    ck_assert_int_eq(http_query_get("a=1&w", "w", out, sizeof(out)), 1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(http_query_get("a=1&w", "b", out, sizeof(out)), 0);
    ck_assert_int_eq(http_query_get("", "b", out, sizeof(out)), 0);
    ck_assert_int_eq(http_query_get("a=%zz", "a", out, sizeof(out)), -1);
    ck_assert_int_eq(http_query_get("a=%4", "a", out, sizeof(out)), -1);
    ck_assert_int_eq(http_query_get("aa=1&a=2", "a", out, sizeof(out)), 1);
    ck_assert_str_eq(out, "2");
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("http_server");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_http_keep_alive_serves_two_requests_on_one_connection);
    tcase_add_test(tc, test_http_pipelined_requests_answered_in_order);
    tcase_add_test(tc, test_http_pipelined_batches_back_to_back);
    tcase_add_test(tc, test_http_chunked_request_body_is_decoded);
    tcase_add_test(tc, test_http_expect_continue_gets_interim_response);
    tcase_add_test(tc, test_http_chunked_stream_delivers_every_chunk_then_terminator);
    tcase_add_test(tc, test_http_10_stream_is_raw_until_close);
    tcase_add_test(tc, test_http_dropped_stream_closes_without_terminator);
    tcase_add_test(tc, test_http_connection_close_honoured);
    tcase_add_test(tc, test_http_slow_client_cut_off);
    tcase_add_test(tc, test_http_idle_keepalive_connection_closed);
    tcase_add_test(tc, test_http_huge_header_refused_with_431);
    tcase_add_test(tc, test_http_too_many_headers_refused_with_431);
    tcase_add_test(tc, test_http_big_body_refused_with_413);
    tcase_add_test(tc, test_http_big_chunked_body_refused_with_413);
    tcase_add_test(tc, test_http_garbage_gets_400_and_close);
    tcase_add_test(tc, test_http_connection_cap_closes_new_connection_when_all_are_in_handlers);
    tcase_add_test(tc, test_http_idle_sockets_at_the_cap_do_not_lock_out_a_probe);
    tcase_add_test(tc, test_http_silent_connection_closed_after_first_byte_timeout);
    tcase_add_test(tc, test_http_trickled_header_cut_off_at_header_timeout);
    tcase_add_test(tc, test_http_keepalive_connection_outlives_first_byte_timeout);
    tcase_add_test(tc, test_http_client_gone_during_async_request_reports_abort);
    tcase_add_test(tc, test_http_server_close_aborts_pending_requests);
    tcase_add_test(tc, test_http_reader_that_stops_reading_is_cut_off);
    tcase_add_test(tc, test_http_pipelining_client_that_does_not_read_is_paused);
    tcase_add_test(tc, test_http_head_check_same_answer_whole_or_byte_by_byte);
    tcase_add_test(tc, test_http_malformed_heads_refused_with_400_and_versions_with_505);
    tcase_add_test(tc, test_http_bad_head_after_a_good_pipelined_request);
    tcase_add_test(tc, test_http_query_get_decodes_and_bounds);
    suite_add_tcase(s, tc);
    return s;
}
