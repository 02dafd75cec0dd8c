/* HAProxy master CLI client (see mcli.h). */
#include "workers/deployer/mcli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROMPT_WORD "master"

struct mcli {
    uv_pipe_t pipe;
    uv_connect_t connect;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_buf_t wbuf;
    struct buf out;         /* the batch being written */
    struct buf in;          /* answers not yet split */
    struct mcli_cmd *cmds;  /* owned */
    size_t n, sent, answered;
    int greeted, expect_close, finished, open_handles;
    struct deploy_gate *gate;
    int64_t deadline_ms, start_ms;
    char error[256];
    mcli_done_cb cb;
    void *data;
};

size_t mcli_prompt_len(const char *buf, size_t len)
{
    size_t w = strlen(PROMPT_WORD);
    if (len < w + 2 || memcmp(buf, PROMPT_WORD, w) != 0) return 0;
    size_t i = w;
    if (buf[i] == '[') {
        const char *close = memchr(buf + i, ']', len - i);
        if (!close || close - buf > 64) return 0;
        i = (size_t)(close - buf) + 1;
    }
    if (i + 2 > len || buf[i] != '>' || buf[i + 1] != ' ') return 0;
    return i + 2;
}

int mcli_next_answer(const char *buf, size_t len, size_t *ans_len, size_t *consumed)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n') continue;
        size_t p = mcli_prompt_len(buf + i + 1, len - i - 1);
        if (!p) continue;
        *ans_len = i;
        *consumed = i + 1 + p;
        return 1;
    }
    return 0;
}

int mcli_cmd_add(struct mcli_cmd **cmds, size_t *n, size_t *cap, const char *fmt, ...)
{
    if (*n >= MCLI_COMMANDS_MAX) return -1;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        struct mcli_cmd *t = realloc(*cmds, c * sizeof(*t));
        if (!t) return -1;
        *cmds = t;
        *cap = c;
    }
    struct buf b;
    buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    int w = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (w < 0) return -1;
    if ((size_t)w < sizeof(tmp)) {
        buf_append(&b, tmp, (size_t)w);
    } else {
        va_start(ap, fmt);
        char *big = malloc((size_t)w + 1);
        if (big) vsnprintf(big, (size_t)w + 1, fmt, ap);
        va_end(ap);
        if (!big) return -1;
        buf_append(&b, big, (size_t)w);
        free(big);
    }
    buf_putc(&b, '\n');
    if (b.oom) {
        buf_free(&b);
        return -1;
    }
    (*cmds)[*n].line = buf_steal(&b);
    (*cmds)[*n].answer = NULL;
    (*n)++;
    return 0;
}

void mcli_cmds_free(struct mcli_cmd *cmds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cmds[i].line);
        free(cmds[i].answer);
    }
    free(cmds);
}

static void on_closed(uv_handle_t *h)
{
    struct mcli *m = h->data;
    if (--m->open_handles) return;
    struct mcli_result r = {.ok = m->error[0] == '\0', .error = m->error, .answered = m->answered,
                            .duration_ms = deploy_gate_now(m->gate) - m->start_ms};
    m->cb(m, m->cmds, m->n, &r, m->data);
    mcli_cmds_free(m->cmds, m->n);
    buf_free(&m->in);
    buf_free(&m->out);
    free(m);
}

static void finish(struct mcli *m, const char *error)
{
    if (m->finished) return;
    m->finished = 1;
    if (error) snprintf(m->error, sizeof(m->error), "%s", error);
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, on_closed);
    uv_close((uv_handle_t *)&m->pipe, on_closed);
}

static void on_written(uv_write_t *req, int status)
{
    struct mcli *m = req->data;
    if (status < 0 && !m->finished && !(m->expect_close && m->sent == m->n))
        finish(m, uv_strerror(status));
}

/* Writes the next batch (the first with the `prompt` that turns interactive mode on). */
static void send_batch(struct mcli *m)
{
    if (m->finished) return;
    if (deploy_gate_check(m->gate, m->deadline_ms, NULL) < 0) {
        finish(m, "fence: refused before the next master CLI batch");
        return;
    }
    buf_reset(&m->out);
    if (m->sent == 0) buf_puts(&m->out, "prompt\n");
    size_t first = m->sent;
    while (m->sent < m->n) {
        size_t l = strlen(m->cmds[m->sent].line);
        if (l > MCLI_BATCH_MAX) {
            finish(m, "a master CLI command is larger than HAProxy's buffer");
            return;
        }
        if (m->sent > first && m->out.len + l > MCLI_BATCH_MAX) break;
        buf_append(&m->out, m->cmds[m->sent].line, l);
        m->sent++;
    }
    if (m->out.oom) {
        finish(m, "out of memory");
        return;
    }
    m->wbuf = uv_buf_init(m->out.data, (unsigned)m->out.len);
    m->wreq.data = m;
    int rc = uv_write(&m->wreq, (uv_stream_t *)&m->pipe, &m->wbuf, 1, on_written);
    if (rc < 0) finish(m, uv_strerror(rc));
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(suggested);
    b->len = b->base ? suggested : 0;
}

/* The answer without payload prompts ("+ ") in front and newlines at the end. */
static char *clean_answer(const char *a, size_t len)
{
    while (len >= 2 && a[0] == '+' && a[1] == ' ') a += 2, len -= 2;
    while (len && (a[len - 1] == '\n' || a[len - 1] == ' ')) len--;
    while (len && a[0] == '\n') a++, len--;
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, a, len);
        s[len] = '\0';
    }
    return s;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct mcli *m = st->data;
    if (nread > 0 && !m->finished) buf_append(&m->in, b->base, (size_t)nread);
    free(b->base);
    if (m->finished) return;
    if (nread < 0) {
        if (nread == UV_EOF && m->expect_close && m->sent == m->n) {
            m->answered = m->n;
            finish(m, NULL);
        } else {
            finish(m, nread == UV_EOF ? "the master CLI closed the connection" : uv_strerror((int)nread));
        }
        return;
    }
    if (m->in.len > MCLI_ANSWER_MAX) {
        finish(m, "master CLI answers too large");
        return;
    }
    size_t off = 0;
    if (!m->greeted) {
        size_t p = mcli_prompt_len(m->in.data, m->in.len);
        if (!p) return;
        m->greeted = 1;
        off = p;
    }
    size_t alen, used;
    while (m->answered < m->sent && mcli_next_answer(m->in.data + off, m->in.len - off, &alen, &used)) {
        m->cmds[m->answered].answer = clean_answer(m->in.data + off, alen);
        m->answered++;
        off += used;
    }
    if (off) {
        memmove(m->in.data, m->in.data + off, m->in.len - off);
        m->in.len -= off;
    }
    if (m->answered == m->n && !m->expect_close) finish(m, NULL);
    else if (m->answered == m->sent && m->sent < m->n) send_batch(m);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct mcli *m = req->data;
    if (m->finished) return;
    if (status < 0) {
        finish(m, uv_strerror(status));
        return;
    }
    int rc = uv_read_start((uv_stream_t *)&m->pipe, on_alloc, on_read);
    if (rc < 0) {
        finish(m, uv_strerror(rc));
        return;
    }
    send_batch(m);
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, "master CLI timeout (deadline or fence)");
}

int mcli_run(uv_loop_t *loop, const char *path, struct mcli_cmd *cmds, size_t n, int expect_close,
             struct deploy_gate *gate, int64_t deadline_ms, mcli_done_cb cb, void *data)
{
    int64_t budget;
    struct mcli *m = n ? calloc(1, sizeof(*m)) : NULL;
    if (!m || deploy_gate_check(gate, deadline_ms, &budget) < 0) {
        free(m);
        mcli_cmds_free(cmds, n);
        return -1;
    }
    m->cmds = cmds;
    m->n = n;
    m->expect_close = expect_close;
    m->gate = gate;
    m->deadline_ms = deadline_ms;
    m->start_ms = deploy_gate_now(gate);
    m->cb = cb;
    m->data = data;
    buf_init(&m->in);
    buf_init(&m->out);
    uv_pipe_init(loop, &m->pipe, 0);
    uv_timer_init(loop, &m->timer);
    m->pipe.data = m->timer.data = m->connect.data = m;
    m->open_handles = 2;
    /* the whole exchange ends before the fence (or the push's deadline) */
    uv_timer_start(&m->timer, on_timeout, (uint64_t)budget, 0);
    uv_pipe_connect(&m->connect, &m->pipe, path, on_connect);
    return 0;
}

int mcli_parse_proc(const char *text, struct mcli_proc *out)
{
    memset(out, 0, sizeof(*out));
    int seen_master = 0, in_workers = 0;
    const char *line = text;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char l[512];
        snprintf(l, sizeof(l), "%.*s", (int)(len < sizeof(l) ? len : sizeof(l) - 1), line);
        if (l[0] == '#') {
            in_workers = strncmp(l, "# workers", 9) == 0;
        } else {
            long long pid, reloads;
            char type[32];
            if (sscanf(l, "%lld %31s %lld", &pid, type, &reloads) == 3) {
                if (!strcmp(type, "master")) {
                    const char *f = strstr(l, "[failed: ");
                    out->master_reloads = reloads;
                    out->failed = f ? strtoll(f + 9, NULL, 10) : 0;
                    seen_master = 1;
                } else if (in_workers && !strcmp(type, "worker") && out->nworkers < MCLI_PROC_MAX) {
                    out->workers[out->nworkers++] = (pid_t)pid;
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return seen_master ? 0 : -1;
}

/* s ends with the line want (the whole answer, or its last line). */
static int last_line_is(const char *s, const char *want)
{
    size_t n = strlen(s), w = strlen(want);
    return n >= w && !strcmp(s + n - w, want) && (n == w || s[n - w - 1] == '\n');
}

int mcli_answer_ok(const char *cmd, const char *answer)
{
    if (!answer) return 0;
    if (!strncmp(cmd, "@1 ", 3)) cmd += 3;
    /* ssl cert transactions: "Transaction created|updated for certificate <path>!", then "Committing <path>"
     * with a dot per step and "Success!" (or "Failed!" and why) on its own line */
    if (!strncmp(cmd, "set ssl cert ", 13))
        return !strncmp(answer, "Transaction created ", 20) || !strncmp(answer, "Transaction updated ", 20);
    if (!strncmp(cmd, "commit ssl cert ", 16)) return !strncmp(answer, "Committing ", 11) && last_line_is(answer, "Success!");
    if (!strncmp(cmd, "abort ssl cert ", 15)) return !strncmp(answer, "Transaction aborted ", 20);
    /* `set server ... addr` reports what changed; state and weight answer nothing on success */
    if (strstr(cmd, " addr ")) return !strncmp(answer, "IP changed", 10) || !strncmp(answer, "no need to change", 17);
    if (strstr(cmd, "prepare map")) return !strncmp(answer, "New version created", 19);
    return answer[0] == '\0';
}

/* ---- show ssl cert ---- */

/* path with runs of '/' and "/./" collapsed (lexically: "..", symlinks and crt-base stay as spelled). */
static char *normalise_path(const char *p, size_t len)
{
    char *o = malloc(len + 1);
    if (!o) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '/' && n && o[n - 1] == '/') continue;
        if (p[i] == '.' && n && o[n - 1] == '/' && (i + 1 == len || p[i + 1] == '/')) {
            i++; /* "/./" (or a final "/."): skip the dot and its slash */
            continue;
        }
        o[n++] = p[i];
    }
    if (n > 1 && o[n - 1] == '/') n--;
    o[n] = '\0';
    return o;
}

static int by_norm(const void *a, const void *b)
{
    return strcmp(((const struct mcli_ssl_cert *)a)->norm, ((const struct mcli_ssl_cert *)b)->norm);
}

int mcli_parse_ssl_certs(const char *text, struct mcli_ssl_certs *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    int in_names = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
        if (len && line[0] == '#') {
            in_names = len >= 10 && !strncmp(line, "# filename", 10);
        } else if (in_names && len && line[0] != '*' && len <= MCLI_SSL_CERT_NAME_MAX) {
            if (out->n == cap) {
                size_t c = cap ? cap * 2 : 16;
                struct mcli_ssl_cert *t = realloc(out->items, c * sizeof(*t));
                if (!t) goto oom;
                out->items = t;
                cap = c;
            }
            struct mcli_ssl_cert *e = &out->items[out->n];
            e->name = strndup(line, len);
            e->norm = e->name ? normalise_path(line, len) : NULL;
            if (!e->norm) {
                free(e->name);
                goto oom;
            }
            out->n++;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (out->n) qsort(out->items, out->n, sizeof(*out->items), by_norm);
    return 0;
oom:
    mcli_ssl_certs_free(out);
    return -1;
}

const char *mcli_ssl_certs_find(const struct mcli_ssl_certs *c, const char *path)
{
    struct mcli_ssl_cert key = {.norm = normalise_path(path, strlen(path))};
    if (!key.norm || !c->n) {
        free(key.norm);
        return NULL;
    }
    const struct mcli_ssl_cert *hit = bsearch(&key, c->items, c->n, sizeof(*c->items), by_norm);
    free(key.norm);
    return hit ? hit->name : NULL;
}

void mcli_ssl_certs_free(struct mcli_ssl_certs *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].norm);
        free(c->items[i].name);
    }
    free(c->items);
    c->items = NULL;
    c->n = 0;
}
