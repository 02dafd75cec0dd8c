/* A scripted HTTP/1.1 server for the Kubernetes client unit tests: plain sockets, one thread per connection,
 * canned raw responses sent in pieces with pauses (so chunked watch streams arrive split at chosen points),
 * optional hangs, and a record of every request. Binds 127.0.0.1 port 0. Header-only (static functions)
 * because each unit test is one source file. Responses carry "Connection: close". */
#ifndef HTIC_TEST_KUBE_FAKE_SERVER_H
#define HTIC_TEST_KUBE_FAKE_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"

#define FAKE_FN static __attribute__((unused))
#define FAKE_MAX_REQS 64
#define FAKE_MAX_SCRIPT 32
#define FAKE_MAX_PIECES 64

struct fake_req {
    char method[16];
    char target[2048];
    char headers[4096];
    char body[8192];
};

struct fake_resp {
    char *pieces[FAKE_MAX_PIECES]; /* owned (malloc) raw bytes; each written separately */
    int npieces;
    int piece_delay_ms;            /* pause between pieces */
    int hang_ms;                   /* pause before answering */
    int keep_open;                 /* after the pieces, hold the connection until the peer or stop closes it */
};

struct fake_server {
    int fd, port;
    pthread_t accept_thr;
    pthread_mutex_t mu;
    struct fake_req reqs[FAKE_MAX_REQS];
    int nreq;
    struct fake_resp script[FAKE_MAX_SCRIPT];
    int nscript;
    int active;      /* connection threads running */
    pthread_t conn_thr[256]; /* joined by fake_stop */
    int nthr;
    volatile int stop;
};

struct fake_conn {
    struct fake_server *s;
    int fd;
};

FAKE_FN void fake_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* Waits up to ms for fd to become readable (or closed); returns 1 if so, 0 on timeout or stop. */
FAKE_FN int fake_wait_readable(struct fake_server *s, int fd, int ms)
{
    while (ms > 0 && !s->stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int step = ms < 20 ? ms : 20;
        if (poll(&p, 1, step) > 0) return 1;
        ms -= step;
    }
    return 0;
}

FAKE_FN void fake_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

FAKE_FN void *fake_conn_main(void *arg)
{
    struct fake_conn *fc = arg;
    struct fake_server *s = fc->s;
    int fd = fc->fd;
    free(fc);
    char in[16384];
    size_t have = 0;
    char *hdr_end = NULL;
    while (!hdr_end && have < sizeof(in) - 1) {
        if (!fake_wait_readable(s, fd, 5000)) goto out;
        ssize_t r = recv(fd, in + have, sizeof(in) - 1 - have, 0);
        if (r <= 0) goto out;
        have += (size_t)r;
        in[have] = '\0';
        hdr_end = strstr(in, "\r\n\r\n");
    }
    if (!hdr_end) goto out;
    size_t hlen = (size_t)(hdr_end - in) + 4, clen = 0;
    const char *cl = strcasestr(in, "\r\nContent-Length:");
    if (cl && cl < hdr_end) clen = strtoul(cl + 17, NULL, 10);
    while (have < hlen + clen && have < sizeof(in) - 1) {
        if (!fake_wait_readable(s, fd, 5000)) break;
        ssize_t r = recv(fd, in + have, sizeof(in) - 1 - have, 0);
        if (r <= 0) break;
        have += (size_t)r;
    }
    in[have] = '\0';
    pthread_mutex_lock(&s->mu);
    int idx = s->nreq;
    if (idx < FAKE_MAX_REQS) {
        struct fake_req *q = &s->reqs[idx];
        sscanf(in, "%15s %2047s", q->method, q->target);
        size_t l = hlen < sizeof(q->headers) - 1 ? hlen : sizeof(q->headers) - 1;
        memcpy(q->headers, in, l);
        q->headers[l] = '\0';
        size_t bl = have - hlen < sizeof(q->body) - 1 ? have - hlen : sizeof(q->body) - 1;
        memcpy(q->body, in + hlen, bl);
        q->body[bl] = '\0';
        s->nreq++;
    }
    struct fake_resp *rsp = idx < s->nscript ? &s->script[idx] : NULL;
    pthread_mutex_unlock(&s->mu);
    if (!rsp) {
        static const char nope[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        fake_write_all(fd, nope, sizeof(nope) - 1);
        goto out;
    }
    if (rsp->hang_ms && fake_wait_readable(s, fd, rsp->hang_ms)) goto out; /* the client gave up */
    for (int i = 0; i < rsp->npieces && !s->stop; i++) {
        if (i && rsp->piece_delay_ms) fake_sleep_ms(rsp->piece_delay_ms);
        fake_write_all(fd, rsp->pieces[i], strlen(rsp->pieces[i]));
    }
    if (rsp->keep_open) {
        while (!s->stop) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 20) > 0) {
                char tmp[256];
                if (recv(fd, tmp, sizeof(tmp), 0) <= 0) break;
            }
        }
    }
out:
    shutdown(fd, SHUT_RDWR);
    close(fd);
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

FAKE_FN void *fake_accept_main(void *arg)
{
    struct fake_server *s = arg;
    while (!s->stop) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        int cfd = accept(s->fd, NULL, NULL);
        if (cfd < 0) continue;
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct fake_conn *fc = malloc(sizeof(*fc));
        fc->s = s;
        fc->fd = cfd;
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        pthread_t t;
        if (s->nthr >= 256 || pthread_create(&t, NULL, fake_conn_main, fc) != 0) {
            close(cfd);
            free(fc);
            pthread_mutex_lock(&s->mu);
            s->active--;
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        s->conn_thr[s->nthr++] = t;
    }
    return NULL;
}

FAKE_FN void fake_init(struct fake_server *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->fd, 64) != 0) abort();
    socklen_t al = sizeof(a);
    getsockname(s->fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
}

/* Starts serving; add the script before (or hold mu while adding). */
FAKE_FN void fake_start(struct fake_server *s) { pthread_create(&s->accept_thr, NULL, fake_accept_main, s); }

FAKE_FN void fake_stop(struct fake_server *s)
{
    s->stop = 1;
    pthread_join(s->accept_thr, NULL);
    for (int i = 0; i < s->nthr; i++) pthread_join(s->conn_thr[i], NULL); /* they notice stop within ~20 ms */
    close(s->fd);
    for (int i = 0; i < s->nscript; i++)
        for (int j = 0; j < s->script[i].npieces; j++) free(s->script[i].pieces[j]);
    pthread_mutex_destroy(&s->mu);
}

FAKE_FN int fake_nreq(struct fake_server *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->nreq;
    pthread_mutex_unlock(&s->mu);
    return n;
}

FAKE_FN struct fake_resp *fake_add(struct fake_server *s)
{
    pthread_mutex_lock(&s->mu);
    struct fake_resp *r = &s->script[s->nscript++];
    memset(r, 0, sizeof(*r));
    pthread_mutex_unlock(&s->mu);
    return r;
}

FAKE_FN void fake_piece(struct fake_resp *r, const char *bytes, size_t n)
{
    char *p = malloc(n + 1);
    memcpy(p, bytes, n);
    p[n] = '\0';
    r->pieces[r->npieces++] = p;
}

/* A complete response with Content-Length; extra_headers is "" or "Name: value\r\n..." */
FAKE_FN struct fake_resp *fake_reply(struct fake_server *s, int status, const char *extra_headers, const char *body)
{
    struct fake_resp *r = fake_add(s);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
               status, strlen(body), extra_headers, body);
    fake_piece(r, b.data, b.len);
    buf_free(&b);
    return r;
}

/* A chunked 200 stream of text, cut every `every` bytes into chunks written separately; ends the stream
 * (terminating chunk) unless keep_open. */
FAKE_FN struct fake_resp *fake_stream(struct fake_server *s, const char *text, size_t every, int keep_open)
{
    struct fake_resp *r = fake_add(s);
    static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                              "Connection: close\r\n\r\n";
    fake_piece(r, hdr, sizeof(hdr) - 1);
    size_t len = strlen(text);
    if (every == 0) every = len ? len : 1;
    size_t chunks = (len + every - 1) / every;
    size_t per = chunks > FAKE_MAX_PIECES - 3 ? (len + FAKE_MAX_PIECES - 4) / (FAKE_MAX_PIECES - 3) : every;
    struct buf b;
    buf_init(&b);
    for (size_t off = 0; off < len; off += per) {
        size_t n = len - off < per ? len - off : per;
        buf_reset(&b);
        buf_printf(&b, "%zx\r\n", n);
        buf_append(&b, text + off, n);
        buf_puts(&b, "\r\n");
        fake_piece(r, b.data, b.len);
    }
    if (!keep_open) fake_piece(r, "0\r\n\r\n", 5);
    buf_free(&b);
    r->piece_delay_ms = 3;
    r->keep_open = keep_open;
    return r;
}

#endif
