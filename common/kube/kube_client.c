/* libcurl multi on a libuv loop (see kube_client.h).
 *
 * libcurl tells us which sockets to poll (socket callback) and when to wake it (timer callback); uv_poll and
 * uv_timer call curl_multi_socket_action. libcurl callbacks only buffer bytes: user callbacks run afterwards
 * from after_curl(), never inside libcurl, so they may start, cancel or close anything. A call's memory is
 * released through uv_close of its retry timer, so it stays valid for the rest of a dispatch round. */
#include "common/kube/kube_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <time.h>

#include "common/log.h"

#ifndef HTIC_VERSION
#define HTIC_VERSION "0"
#endif
#if defined(__x86_64__)
#define KUBE_ARCH "amd64"
#elif defined(__aarch64__)
#define KUBE_ARCH "arm64"
#else
#define KUBE_ARCH "unknown"
#endif

/* Larger receive buffers cut the number of write callbacks for big lists; libcurl caps this at 512 KiB. */
#define KUBE_RECV_BUFFER (256 * 1024)

enum call_state { CALL_RUNNING, CALL_WAITING, CALL_DEAD };

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct kube_client *c;
    struct sock_ctx *prev, *next;
};

struct kube_client {
    uv_loop_t *loop;
    struct kube_config *cfg;   /* borrowed */
    CURLM *multi;              /* owned */
    uv_timer_t timer;          /* curl's wake-up timer */
    char *user_agent;          /* owned */
    int default_timeout_ms;
    void (*observe)(void *data, const char *method, long status, enum kube_err err, double seconds);
    void *observe_data;
    double qps, burst, tokens; /* rate limiter; qps 0: off. tokens may go negative: reservations ahead */
    uint64_t tokens_at;        /* uv_now of the last refill */
    struct kube_call *calls;   /* every call not yet freed (dead ones included) */
    struct sock_ctx *socks;    /* polled sockets */
    int refs;                  /* the client itself + calls not yet freed + the timer */
    int dispatching;
    int closing, multi_closed;
    struct exec_run *exec;     /* the credential plugin running, or NULL */
    struct kube_client_stats stats;
};

/* One run of the exec credential plugin: the process, its stdout, and a timer that kills it. */
struct exec_run {
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    struct buf output;
    struct kube_client *c;
    int64_t exit_status;
    int term_signal;
    int exited, eof, too_big, detached, timed_out, open_handles;
};

struct kube_call {
    struct kube_client *c;
    struct kube_call *prev, *next;
    enum call_state state;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    char *url, *method, *body, *content_type;
    size_t body_len;
    uint64_t deadline;         /* uv_now ms; 0: none */
    uint64_t attempt_start;    /* uv_hrtime of the attempt in flight */
    int retries_left;
    int auth_retried;
    int waiting_cred;          /* CALL_WAITING for the exec plugin, not for a Retry-After */
    int streaming, stream_2xx, stream_checked, aborted, too_big;
    kube_response_cb cb;
    kube_chunk_cb on_chunk;
    void *data;
    struct kube_response resp;
    struct buf pending;        /* stream bytes waiting for dispatch */
    uv_timer_t retry_timer;
    char curl_err[CURL_ERROR_SIZE];
};

static void after_curl(struct kube_client *c);
static void client_unref(struct kube_client *c);
static int start_limited(struct kube_call *call);

/* ---- libcurl glue ---- */

static void on_sock_closed(uv_handle_t *h) { free(h->data); }

static void sock_remove(struct sock_ctx *s)
{
    struct kube_client *c = s->c;
    if (s->prev) s->prev->next = s->next;
    else c->socks = s->next;
    if (s->next) s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    s->poll.data = s;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock_ctx *s = h->data;
    struct kube_client *c = s->c;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    after_curl(c);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct kube_client *c = userp;
    struct sock_ctx *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(c->multi, fd, NULL);
            sock_remove(s);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s) return -1;
        s->fd = fd;
        s->c = c;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->next = c->socks;
        if (c->socks) c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

static void on_curl_timer_fired(uv_timer_t *t)
{
    struct kube_client *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    after_curl(c);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct kube_client *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_curl_timer_fired, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_curl_write(char *ptr, size_t size, size_t n, void *userp)
{
    struct kube_call *call = userp;
    size_t len = size * n;
    if (call->state != CALL_RUNNING) return 0;
    if (call->streaming && !call->stream_checked) {
        long code = 0;
        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &code);
        call->stream_checked = 1;
        call->stream_2xx = code >= 200 && code < 300;
    }
    struct buf *dst = (call->streaming && call->stream_2xx) ? &call->pending : &call->resp.raw;
    if (dst->len + len > KUBE_BODY_MAX || buf_append(dst, ptr, len) < 0) {
        call->too_big = 1;
        return 0;
    }
    return len;
}

static size_t on_curl_header(char *ptr, size_t size, size_t n, void *userp)
{
    struct kube_call *call = userp;
    size_t len = size * n;
    if (len >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        call->resp.retry_after_ms = -1; /* a new response (after 100 Continue, say) */
    } else if (len > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0) {
        char v[64];
        size_t vl = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
        memcpy(v, ptr + 12, vl);
        v[vl] = '\0';
        call->resp.retry_after_ms = kube_retry_after_parse(v, (int64_t)time(NULL));
    }
    return len;
}

/* ---- call life cycle ---- */

static void on_call_closed(uv_handle_t *h)
{
    struct kube_call *call = h->data;
    struct kube_client *c = call->c;
    if (call->prev) call->prev->next = call->next;
    else c->calls = call->next;
    if (call->next) call->next->prev = call->prev;
    free(call->url);
    free(call->method);
    free(call->body);
    free(call->content_type);
    kube_response_free(&call->resp);
    buf_free(&call->pending);
    free(call);
    client_unref(c);
}

static void drop_easy(struct kube_call *call)
{
    if (call->easy) {
        if (!call->c->multi_closed) curl_multi_remove_handle(call->c->multi, call->easy);
        curl_easy_cleanup(call->easy);
        call->easy = NULL;
    }
    curl_slist_free_all(call->headers);
    call->headers = NULL;
    curl_slist_free_all(call->connect_to);
    call->connect_to = NULL;
}

static void release(struct kube_call *call)
{
    call->state = CALL_DEAD;
    drop_easy(call);
    uv_timer_stop(&call->retry_timer);
    call->c->stats.in_flight--;
    uv_close((uv_handle_t *)&call->retry_timer, on_call_closed);
}

static void complete(struct kube_call *call)
{
    call->state = CALL_DEAD;
    drop_easy(call);
    if (call->cb) call->cb(call->data, &call->resp);
    call->state = CALL_RUNNING; /* so release() does its work once */
    release(call);
}

static void fail_now(struct kube_call *call, enum kube_err err, const char *msg)
{
    call->resp.err = err;
    call->resp.status = 0;
    snprintf(call->resp.message, sizeof(call->resp.message), "%s", msg);
    complete(call);
}

static struct curl_slist *add_header(struct curl_slist *l, const char *h, int *ok)
{
    struct curl_slist *n = curl_slist_append(l, h);
    if (!n) {
        *ok = 0;
        return l;
    }
    return n;
}

static int start_attempt_now(struct kube_call *call)
{
    struct kube_client *c = call->c;
    struct kube_config *cfg = c->cfg;
    uint64_t now = uv_now(c->loop);
    long timeout = 0;
    if (call->deadline) {
        if (now >= call->deadline) return -2;
        timeout = (long)(call->deadline - now);
    }
    int attempts = call->resp.attempts;
    kube_response_free(&call->resp);
    call->resp.attempts = attempts;
    buf_reset(&call->pending);
    call->stream_checked = call->stream_2xx = 0;
    call->curl_err[0] = '\0';
    CURL *h = curl_easy_init();
    if (!h) return -1;
    call->easy = h;
    int ok = 1;
    struct curl_slist *hd = NULL;
    hd = add_header(hd, "Accept: application/json", &ok);
    hd = add_header(hd, "Expect:", &ok);
    if (call->body) {
        char ct[160];
        snprintf(ct, sizeof(ct), "Content-Type: %s", call->content_type);
        hd = add_header(hd, ct, &ok);
    }
    if (cfg->https) {
        const char *tok = kube_config_token(cfg, now);
        if (tok && *tok) {
            size_t n = strlen(tok) + 32;
            char *auth = malloc(n);
            if (!auth) ok = 0;
            else {
                snprintf(auth, n, "Authorization: Bearer %s", tok);
                hd = add_header(hd, auth, &ok);
                memset(auth, 0, n);
                free(auth);
            }
        }
    }
    call->headers = hd;
    if (!ok) return -1;
    curl_easy_setopt(h, CURLOPT_URL, call->url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, call);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_curl_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_curl_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, call->curl_err);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L); /* client-go's dialer: 30 s keep-alive */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
    if (!call->streaming) curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)KUBE_RECV_BUFFER); /* watches: default 16 KiB */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (timeout > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    if (cfg->proxy_url) curl_easy_setopt(h, CURLOPT_PROXY, cfg->proxy_url);
    if (strcmp(call->method, "GET") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    if (call->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
    }
    if (cfg->https) {
        if (cfg->connect_to) {
            call->connect_to = curl_slist_append(NULL, cfg->connect_to);
            if (!call->connect_to) return -1;
            curl_easy_setopt(h, CURLOPT_CONNECT_TO, call->connect_to);
        }
        if (cfg->insecure_skip_tls_verify) {
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        } else if (cfg->ca_pem) {
            struct curl_blob b = {.data = cfg->ca_pem, .len = cfg->ca_pem_len, .flags = CURL_BLOB_COPY};
            curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
        } else if (cfg->ca_file) {
            curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
        }
        if (cfg->exec_cert_pem && cfg->exec_key_pem) {
            /* the exec plugin's pair replaces the kubeconfig's certificate and key together */
            struct curl_blob b = {.data = cfg->exec_cert_pem, .len = cfg->exec_cert_pem_len, .flags = CURL_BLOB_COPY};
            struct curl_blob k = {.data = cfg->exec_key_pem, .len = cfg->exec_key_pem_len, .flags = CURL_BLOB_COPY};
            curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
            curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
            curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &k);
            curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
        } else {
            if (cfg->client_cert_pem) {
                struct curl_blob b = {.data = cfg->client_cert_pem, .len = cfg->client_cert_pem_len,
                                      .flags = CURL_BLOB_COPY};
                curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
                curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
            } else if (cfg->client_cert_file) {
                curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->client_cert_file);
            }
            if (cfg->client_key_pem) {
                struct curl_blob b = {.data = cfg->client_key_pem, .len = cfg->client_key_pem_len,
                                      .flags = CURL_BLOB_COPY};
                curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
                curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
            } else if (cfg->client_key_file) {
                curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->client_key_file);
            }
        }
        if (cfg->username) {
            curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(h, CURLOPT_USERNAME, cfg->username);
            curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
        }
    }
    if (curl_multi_add_handle(c->multi, h) != CURLM_OK) return -1;
    call->attempt_start = uv_hrtime();
    call->state = CALL_RUNNING;
    call->resp.attempts++;
    c->stats.requests++;
    return 0;
}

/* ---- exec credential plugin ---- */

static void exec_handle_closed(uv_handle_t *h)
{
    struct exec_run *r = h->data;
    if (--r->open_handles > 0) return;
    struct kube_client *c = r->c;
    buf_free(&r->output);
    free(r);
    client_unref(c);
}

static void on_cred_wait_timeout(uv_timer_t *t)
{
    struct kube_call *call = t->data;
    call->waiting_cred = 0;
    fail_now(call, KUBE_ERR_TIMEOUT, "deadline passed while the exec credential plugin ran");
}

/* Both the exit and the end of stdout are in: take the credential and release the waiting calls. */
static void exec_finish(struct exec_run *r)
{
    if (!r->exited || !r->eof) return;
    struct kube_client *c = r->c;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->proc, exec_handle_closed);
    uv_close((uv_handle_t *)&r->out, exec_handle_closed);
    uv_close((uv_handle_t *)&r->timer, exec_handle_closed);
    if (r->detached) return;
    c->exec = NULL;
    struct err e;
    err_clear(&e);
    int ok = 0;
    if (r->timed_out)
        err_set(&e, "exec plugin %s: no answer within %d ms", c->cfg->exec->command, KUBE_EXEC_TIMEOUT_MS);
    else if (r->too_big)
        err_set(&e, "exec plugin %s: output larger than %u bytes", c->cfg->exec->command, KUBE_EXEC_OUTPUT_MAX);
    else if (r->term_signal)
        err_set(&e, "exec plugin %s: killed by signal %d", c->cfg->exec->command, r->term_signal);
    else if (r->exit_status != 0)
        err_set(&e, "exec: executable %s failed with exit code %lld", c->cfg->exec->command,
                (long long)r->exit_status);
    else
        ok = kube_config_exec_output(c->cfg, buf_cstr(&r->output), r->output.len, &e) == 0;
    if (!ok) log_warn("exec credential plugin failed", "error", e.msg);
    c->dispatching++;
    for (struct kube_call *call = c->calls; call && !c->closing; call = call->next) {
        if (call->state != CALL_WAITING || !call->waiting_cred) continue;
        call->waiting_cred = 0;
        uv_timer_stop(&call->retry_timer);
        if (!ok) {
            fail_now(call, KUBE_ERR_UNAUTHORIZED, e.msg);
            continue;
        }
        int rc = start_limited(call);
        if (rc < 0) fail_now(call, rc == -2 ? KUBE_ERR_TIMEOUT : KUBE_ERR_TRANSPORT, "cannot start the request");
    }
    c->dispatching--;
    if (c->closing && !c->dispatching && !c->multi_closed) kube_client_close(c);
}

static void on_exec_exit(uv_process_t *p, int64_t status, int sig)
{
    struct exec_run *r = p->data;
    r->exited = 1;
    r->exit_status = status;
    r->term_signal = sig;
    exec_finish(r);
}

static void on_exec_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(suggested);
    b->len = b->base ? suggested : 0;
}

static void on_exec_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct exec_run *r = s->data;
    if (n > 0) {
        if (r->output.len + (size_t)n > KUBE_EXEC_OUTPUT_MAX || buf_append(&r->output, b->base, (size_t)n) < 0)
            r->too_big = 1;
    } else if (n < 0) {
        uv_read_stop(s);
        r->eof = 1;
    }
    free(b->base);
    if (r->eof) exec_finish(r);
}

/* Kills the plugin's whole process group (it runs as a group leader) and stops waiting for its output,
 * which a surviving grandchild could keep open. */
static void exec_kill(struct exec_run *r)
{
    if (r->proc.pid > 0) kill(-r->proc.pid, SIGKILL);
    uv_process_kill(&r->proc, SIGKILL);
    if (!r->eof) {
        uv_read_stop((uv_stream_t *)&r->out);
        r->eof = 1;
    }
}

static void on_exec_timeout(uv_timer_t *t)
{
    struct exec_run *r = t->data;
    log_warn("exec credential plugin timed out, killing it", "command", r->c->cfg->exec->command);
    r->timed_out = 1;
    exec_kill(r);
    exec_finish(r);
}

extern char **environ;

static int exec_start(struct kube_client *c)
{
    struct kube_exec *x = c->cfg->exec;
    struct exec_run *r = calloc(1, sizeof(*r));
    if (!r) return -1;
    size_t ne = 0, nx = 0;
    while (environ && environ[ne]) ne++;
    while (x->env[nx]) nx++;
    char **envp = calloc(ne + nx + 2, sizeof(char *));
    if (!envp) {
        free(r);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) != 0) envp[k++] = environ[i];
    for (size_t i = 0; i < nx; i++) envp[k++] = x->env[i];
    envp[k++] = x->exec_info;
    r->c = c;
    buf_init(&r->output);
    uv_pipe_init(c->loop, &r->out, 0);
    r->out.data = r;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t po = {.exit_cb = on_exec_exit, .file = x->command, .args = x->argv, .env = envp,
                               .stdio_count = 3, .stdio = stdio, .flags = UV_PROCESS_DETACHED};
    r->proc.data = r;
    int rc = uv_spawn(c->loop, &r->proc, &po);
    free(envp);
    if (rc != 0) {
        log_warn("exec credential plugin cannot start", "command", x->command, "error", uv_strerror(rc));
        r->open_handles = 2;
        c->refs++;
        r->detached = 1;
        uv_close((uv_handle_t *)&r->proc, exec_handle_closed);
        uv_close((uv_handle_t *)&r->out, exec_handle_closed);
        return -1;
    }
    uv_read_start((uv_stream_t *)&r->out, on_exec_alloc, on_exec_read);
    uv_timer_init(c->loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_exec_timeout, KUBE_EXEC_TIMEOUT_MS, 0);
    r->open_handles = 3;
    c->refs++;
    c->exec = r;
    return 0;
}

/* ---- client-side rate limit ---- */

/* Takes a token; returns how long the caller must wait for it (0: go now). Like Go's rate.Limiter
 * reservations, waiting callers are served in order. */
static uint64_t limiter_reserve(struct kube_client *c)
{
    uint64_t now = uv_now(c->loop);
    c->tokens += (double)(now - c->tokens_at) * c->qps / 1000.0;
    if (c->tokens > c->burst) c->tokens = c->burst;
    c->tokens_at = now;
    c->tokens -= 1.0;
    if (c->tokens >= 0) return 0;
    return (uint64_t)(-c->tokens * 1000.0 / c->qps + 0.999);
}

static void on_limiter_timer(uv_timer_t *t)
{
    struct kube_call *call = t->data;
    if (call->deadline && uv_now(call->c->loop) >= call->deadline) {
        fail_now(call, KUBE_ERR_TIMEOUT, "deadline passed while waiting for the client rate limit");
        return;
    }
    int rc = start_attempt_now(call);
    if (rc < 0) fail_now(call, rc == -2 ? KUBE_ERR_TIMEOUT : KUBE_ERR_TRANSPORT, "cannot start the request");
}

/* Starts an attempt now, or parks the call until the rate limiter lets it go (or its deadline passes). */
static int start_limited(struct kube_call *call)
{
    struct kube_client *c = call->c;
    if (c->qps <= 0) return start_attempt_now(call);
    uint64_t wait = limiter_reserve(c);
    if (!wait) return start_attempt_now(call);
    uint64_t now = uv_now(c->loop);
    if (call->deadline && now >= call->deadline) return -2;
    if (call->deadline && now + wait > call->deadline) wait = call->deadline - now;
    call->state = CALL_WAITING;
    uv_timer_start(&call->retry_timer, on_limiter_timer, wait, 0);
    return 0;
}

/* Starts an attempt, or parks the call until the exec plugin has produced a credential. */
static int start_attempt(struct kube_call *call)
{
    struct kube_client *c = call->c;
    if (!kube_config_exec_needed(c->cfg, (int64_t)time(NULL))) return start_limited(call);
    if (call->deadline && uv_now(c->loop) >= call->deadline) return -2;
    if (!c->exec && exec_start(c) < 0) return -3;
    call->state = CALL_WAITING;
    call->waiting_cred = 1;
    if (call->deadline) uv_timer_start(&call->retry_timer, on_cred_wait_timeout, call->deadline - uv_now(c->loop), 0);
    return 0;
}

static void on_retry_timer(uv_timer_t *t)
{
    struct kube_call *call = t->data;
    int rc = start_attempt(call);
    if (rc == -2) fail_now(call, KUBE_ERR_TIMEOUT, "deadline passed before a retry");
    else if (rc < 0) fail_now(call, KUBE_ERR_TRANSPORT, "cannot start the retry");
}

static void observe(struct kube_call *call, long status, enum kube_err err);

/* Hands buffered stream bytes to the owner; returns 0 when the call is still running afterwards. */
static int deliver_pending(struct kube_call *call)
{
    if (call->pending.len == 0) return 0;
    struct buf chunk = call->pending;
    buf_init(&call->pending);
    int stop = call->on_chunk ? call->on_chunk(call->data, chunk.data, chunk.len) : 0;
    if (call->state == CALL_DEAD) { /* cancelled from the callback */
        buf_free(&chunk);
        return -1;
    }
    /* keep the allocation for the next round */
    buf_free(&call->pending);
    call->pending = chunk;
    buf_reset(&call->pending);
    if (stop) {
        call->aborted = 1;
        observe(call, 200, KUBE_ERR_DECODE);
        fail_now(call, KUBE_ERR_DECODE, "stream aborted by its reader");
        return -1;
    }
    return 0;
}

static void observe(struct kube_call *call, long status, enum kube_err err)
{
    struct kube_client *c = call->c;
    if (c->observe)
        c->observe(c->observe_data, call->method, status, err, (double)(uv_hrtime() - call->attempt_start) / 1e9);
}

static void on_attempt_done(struct kube_call *call, CURLcode res)
{
    struct kube_client *c = call->c;
    long code = 0;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &code);
    drop_easy(call);
    if (call->state != CALL_RUNNING) return;
    if (res != CURLE_OK || call->too_big)
        observe(call, 0, call->too_big ? KUBE_ERR_OTHER : res == CURLE_OPERATION_TIMEDOUT ? KUBE_ERR_TIMEOUT
                                                                                            : KUBE_ERR_TRANSPORT);
    if (call->streaming && call->stream_2xx && deliver_pending(call) < 0) return;
    struct kube_response *r = &call->resp;
    if (call->too_big) {
        r->status = code;
        fail_now(call, KUBE_ERR_OTHER, "response body larger than KUBE_BODY_MAX");
        return;
    }
    if (res != CURLE_OK) {
        char msg[KUBE_MESSAGE_MAX];
        snprintf(msg, sizeof(msg), "%s", call->curl_err[0] ? call->curl_err : curl_easy_strerror(res));
        fail_now(call, res == CURLE_OPERATION_TIMEDOUT ? KUBE_ERR_TIMEOUT : KUBE_ERR_TRANSPORT, msg);
        return;
    }
    r->status = code;
    kube_response_finish(r, call->streaming);
    observe(call, code, r->err);
    if (code == 401 && !call->auth_retried && kube_config_token_invalidate(c->cfg)) {
        call->auth_retried = 1;
        c->stats.retries++;
        int rc = start_attempt(call);
        if (rc == 0) return;
        fail_now(call, rc == -2 ? KUBE_ERR_TIMEOUT : KUBE_ERR_TRANSPORT, "cannot retry after 401");
        return;
    }
    int retryable = code == 429 || (code >= 500 && code < 600 && r->retry_after_ms >= 0);
    if (retryable && call->retries_left > 0 && !call->streaming) {
        uint64_t delay = r->retry_after_ms >= 0 ? (uint64_t)r->retry_after_ms : 1000;
        uint64_t now = uv_now(c->loop);
        if (!call->deadline || now + delay < call->deadline) {
            call->retries_left--;
            call->state = CALL_WAITING;
            c->stats.retries++;
            uv_timer_start(&call->retry_timer, on_retry_timer, delay, 0);
            return;
        }
    }
    complete(call);
}

static void after_curl(struct kube_client *c)
{
    c->dispatching++;
    for (struct kube_call *call = c->calls; call && !c->closing; call = call->next)
        if (call->state == CALL_RUNNING && call->streaming && call->pending.len) deliver_pending(call);
    CURLMsg *m;
    int left;
    while (!c->closing && (m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        struct kube_call *call = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&call);
        if (call) on_attempt_done(call, m->data.result);
    }
    c->dispatching--;
    if (c->closing && !c->dispatching && !c->multi_closed) kube_client_close(c);
}

/* ---- public API ---- */

static void on_timer_closed(uv_handle_t *h) { client_unref(h->data); }

static void client_unref(struct kube_client *c)
{
    if (--c->refs > 0) return;
    free(c->user_agent);
    free(c);
}

int kube_client_new(uv_loop_t *loop, struct kube_config *config, const struct kube_client_opts *opts,
                    struct kube_client **out, struct err *e)
{
    static int curl_ready;
    *out = NULL;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return err_set(e, "libcurl initialisation failed");
        curl_ready = 1;
    }
    struct kube_client *c = calloc(1, sizeof(*c));
    if (!c) return err_set(e, "out of memory");
    c->loop = loop;
    c->cfg = config;
    c->default_timeout_ms = opts && opts->default_timeout_ms > 0 ? opts->default_timeout_ms : KUBE_DEFAULT_TIMEOUT_MS;
    if (opts) {
        c->observe = opts->on_attempt_done;
        c->observe_data = opts->observer_data;
        if (opts->qps > 0) {
            c->qps = opts->qps;
            c->burst = opts->burst > 0 ? opts->burst : 1;
            c->tokens = c->burst;
            c->tokens_at = uv_now(loop);
        }
    }
    if (opts && opts->user_agent)
        c->user_agent = strdup(opts->user_agent);
    else if (asprintf(&c->user_agent, "haproxy-template-ic/%s (linux/%s) kubernetes/unknown", HTIC_VERSION,
                      KUBE_ARCH) < 0)
        c->user_agent = NULL;
    c->multi = curl_multi_init();
    if (!c->user_agent || !c->multi) {
        if (c->multi) curl_multi_cleanup(c->multi);
        free(c->user_agent);
        free(c);
        return err_set(e, "out of memory");
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->refs = 2; /* the client and its timer */
    *out = c;
    return 0;
}

void kube_client_close(struct kube_client *c)
{
    if (!c || c->multi_closed) return;
    c->closing = 1;
    for (struct kube_call *call = c->calls; call; call = call->next)
        if (call->state != CALL_DEAD) release(call);
    if (c->exec) {
        struct exec_run *r = c->exec;
        r->detached = 1; /* its handles close by themselves once it is gone */
        c->exec = NULL;
        exec_kill(r);
        exec_finish(r);
    }
    if (c->dispatching) return; /* after_curl finishes the job */
    c->multi_closed = 1;
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->socks) sock_remove(c->socks);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    client_unref(c);
}

struct kube_config *kube_client_config(struct kube_client *c) { return c->cfg; }
uv_loop_t *kube_client_loop(struct kube_client *c) { return c->loop; }

void kube_client_get_stats(const struct kube_client *c, struct kube_client_stats *out) { *out = c->stats; }

static struct kube_call *call_new(struct kube_client *c, const struct kube_request_opts *o)
{
    if (c->closing || !o || !o->method || !o->path) return NULL;
    struct kube_call *call = calloc(1, sizeof(*call));
    if (!call) return NULL;
    call->c = c;
    kube_response_init(&call->resp);
    buf_init(&call->pending);
    const char *ct = o->content_type ? o->content_type
                                     : strcmp(o->method, "PATCH") == 0 ? "application/merge-patch+json"
                                                                       : "application/json";
    call->method = strdup(o->method);
    call->content_type = strdup(ct);
    int ok = call->method && call->content_type && asprintf(&call->url, "%s%s", c->cfg->server, o->path) >= 0;
    if (ok && o->body) {
        call->body_len = o->body_len ? o->body_len : strlen(o->body);
        call->body = malloc(call->body_len + 1);
        if (call->body) {
            memcpy(call->body, o->body, call->body_len);
            call->body[call->body_len] = '\0';
        } else {
            ok = 0;
        }
    }
    if (!ok) {
        free(call->method);
        free(call->content_type);
        free(call->url);
        free(call->body);
        free(call);
        return NULL;
    }
    int t = o->timeout_ms == 0 ? c->default_timeout_ms : o->timeout_ms;
    if (t > 0) call->deadline = uv_now(c->loop) + (uint64_t)t;
    call->retries_left = o->max_retries > 0 ? o->max_retries : 0;
    uv_timer_init(c->loop, &call->retry_timer);
    call->retry_timer.data = call;
    call->next = c->calls;
    if (c->calls) c->calls->prev = call;
    c->calls = call;
    c->refs++;
    c->stats.in_flight++;
    return call;
}

static int launch(struct kube_call *call, struct kube_call **out)
{
    if (start_attempt(call) < 0) {
        release(call);
        return -1;
    }
    if (out) *out = call;
    return 0;
}

int kube_request_ex(struct kube_client *c, const struct kube_request_opts *o, kube_response_cb cb, void *data,
                    struct kube_call **out)
{
    if (out) *out = NULL;
    struct kube_call *call = call_new(c, o);
    if (!call) return -1;
    call->cb = cb;
    call->data = data;
    return launch(call, out);
}

int kube_request(struct kube_client *c, const char *method, const char *path, const char *body, int timeout_ms,
                 kube_response_cb cb, void *data, struct kube_call **out)
{
    struct kube_request_opts o = {.method = method, .path = path, .body = body, .timeout_ms = timeout_ms,
                                  .max_retries = KUBE_DEFAULT_RETRIES};
    return kube_request_ex(c, &o, cb, data, out);
}

int kube_stream_start(struct kube_client *c, const struct kube_request_opts *o, kube_chunk_cb on_chunk,
                      kube_response_cb on_done, void *data, struct kube_call **out)
{
    if (out) *out = NULL;
    struct kube_call *call = call_new(c, o);
    if (!call) return -1;
    call->streaming = 1;
    call->retries_left = 0;
    call->on_chunk = on_chunk;
    call->cb = on_done;
    call->data = data;
    return launch(call, out);
}

void kube_call_cancel(struct kube_call *call)
{
    if (!call || call->state == CALL_DEAD) return;
    release(call);
}

struct sync_ctx {
    int done;
    struct kube_response *out;
};

static void on_sync_done(void *data, struct kube_response *r)
{
    struct sync_ctx *s = data;
    kube_response_move(s->out, r);
    s->done = 1;
}

int kube_request_sync(struct kube_client *c, const char *method, const char *path, const char *body,
                      int timeout_ms, struct kube_response *out)
{
    kube_response_init(out);
    struct sync_ctx s = {.done = 0, .out = out};
    if (kube_request(c, method, path, body, timeout_ms, on_sync_done, &s, NULL) < 0) {
        out->err = KUBE_ERR_TRANSPORT;
        snprintf(out->message, sizeof(out->message), "cannot start the request");
        return -1;
    }
    while (!s.done)
        if (uv_run(c->loop, UV_RUN_ONCE) == 0 && !s.done) break;
    if (!s.done) {
        out->err = KUBE_ERR_TRANSPORT;
        snprintf(out->message, sizeof(out->message), "loop stopped before the response");
        return -1;
    }
    return out->err == KUBE_OK ? 0 : -1;
}
