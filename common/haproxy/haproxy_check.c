/* One haproxy -c of a generation (see haproxy_check.h).
 *
 * uv_spawn has no hook between fork and exec, so the rlimits are applied by util-linux's prlimit(1) (part of
 * Debian's essential set), which sets them on itself and execs haproxy: they hold from haproxy's first
 * instruction, with no window as prlimit(2) on a running child would leave. The child is its own session
 * (UV_PROCESS_DETACHED), so the timeout kills its whole process group. */
#include "common/haproxy/haproxy_check.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/haproxy/haproxy_report.h"

/* The rlimit wrapper (util-linux), looked up on PATH like haproxy. */
#define HAPROXY_CHECK_PRLIMIT "prlimit"
/* Searched after the validator's PATH: the usual dirs, /usr/sbin included (Debian's haproxy lives there). */
#define HAPROXY_CHECK_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Output quoted when haproxy fails without an [ALERT] (a crash, a missing library): its last bytes. */
#define HAPROXY_CHECK_TAIL_MAX 2048

/* haproxy -c's exit status for a config without errors that would not start (no listener, say). */
#define HAPROXY_CHECK_EXIT_WONT_START 2

enum { OUT = 0, ERR = 1 };

struct haproxy_check {
    uv_loop_t *loop;
    uv_process_t proc;
    uv_pipe_t pipes[2];
    uv_timer_t timer;
    struct buf output[2];     /* owned: stdout, stderr, each bounded by HAPROXY_CHECK_OUTPUT_MAX */
    char rbuf[65536];
    struct scratch sc;        /* owned: removed before the callback */
    haproxy_check_done_cb cb;
    void *data;
    int64_t started_ms, timeout_ms;
    int64_t exit_status;
    int term_signal;
    int open_handles;
    int spawned, exited, eof[2], finished, timed_out, aborted, refused;
    enum haproxy_check_outcome outcome;
    char *message;            /* owned */
    char *warnings;           /* owned */
};

const char *haproxy_check_outcome_name(enum haproxy_check_outcome o)
{
    switch (o) {
    case HAPROXY_CHECK_VALID: return "valid";
    case HAPROXY_CHECK_INVALID: return "invalid";
    case HAPROXY_CHECK_TIMEOUT: return "timeout";
    case HAPROXY_CHECK_ERROR: return "error";
    }
    return "error";
}

int haproxy_check_which(const char *name, char *out, size_t n)
{
    if (!name || !name[0]) return -1;
    if (strchr(name, '/')) {
        if (access(name, X_OK) < 0) return -1;
        return snprintf(out, n, "%s", name) < (int)n ? 0 : -1;
    }
    /* ours first, then the usual dirs: a PATH without /usr/sbin (a non-root shell) still finds haproxy */
    const char *env_path = getenv("PATH");
    char path[8192];
    snprintf(path, sizeof(path), "%s:%s", env_path ? env_path : "", HAPROXY_CHECK_DEFAULT_PATH);
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char cand[PATH_MAX];
        struct stat st;
        if (len > 0 && snprintf(cand, sizeof(cand), "%.*s/%s", (int)len, p, name) < (int)sizeof(cand) &&
            stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
            return snprintf(out, n, "%s", cand) < (int)n ? 0 : -1;
        p += len;
        if (*p == ':') p++;
    }
    return -1;
}

/* Every fd of ours above 2 gets FD_CLOEXEC, so haproxy inherits none (libuv passes on whatever is not
 * close-on-exec; the supervisor's IPC socket is not). Only stdio is passed on purpose. */
static void mark_fds_cloexec(void)
{
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        if (fd > 2 && fd != dirfd(d)) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    }
    closedir(d);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct haproxy_check *c = h->data;
    if (--c->open_handles > 0) return;
    scratch_remove(&c->sc);
    struct haproxy_check_result r = {
        .outcome = c->outcome,
        .message = c->message ? c->message : "out of memory while reporting",
        .warnings = c->warnings ? c->warnings : "",
        .duration_ms = clock_mono_ms() - c->started_ms,
    };
    if (c->cb) c->cb(c, &r, c->data);
    buf_free(&c->output[OUT]);
    buf_free(&c->output[ERR]);
    free(c->message);
    free(c->warnings);
    free(c);
}

static void close_handle(struct haproxy_check *c, uv_handle_t *h)
{
    if (uv_is_closing(h)) return;
    c->open_handles++;
    uv_close(h, on_handle_closed);
}

static char *tail_of(struct haproxy_check *c)
{
    struct buf all, plain;
    buf_init(&all);
    buf_init(&plain);
    buf_append(&all, buf_cstr(&c->output[ERR]), c->output[ERR].len);
    buf_append(&all, buf_cstr(&c->output[OUT]), c->output[OUT].len);
    size_t from = all.len > HAPROXY_CHECK_TAIL_MAX ? all.len - HAPROXY_CHECK_TAIL_MAX : 0;
    while (from < all.len && ((unsigned char)all.data[from] & 0xC0) == 0x80) from++;
    scratch_unroot(buf_cstr(&all) + from, all.len - from, c->sc.dir ? c->sc.dir : "", &plain);
    buf_free(&all);
    char *s = plain.oom ? NULL : buf_steal(&plain);
    buf_free(&plain);
    return s;
}

static void set_message(struct haproxy_check *c, enum haproxy_check_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_message(struct haproxy_check *c, enum haproxy_check_outcome o, const char *fmt, ...)
{
    c->outcome = o;
    struct buf b;
    buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    buf_puts(&b, line);
    free(c->message);
    c->message = b.oom ? NULL : buf_steal(&b);
    buf_free(&b);
}

/* Decides the outcome from how haproxy ended and what it printed, then closes everything. */
static void finish(struct haproxy_check *c)
{
    if (c->finished) return;
    c->finished = 1;
    if (c->refused) {
        /* outcome and message were set when the layout refused the generation */
    } else if (c->aborted) {
        set_message(c, HAPROXY_CHECK_ERROR, "aborted: the validator is shutting down");
    } else if (c->timed_out) {
        set_message(c, HAPROXY_CHECK_TIMEOUT, "haproxy -c did not finish within %lld ms and was killed",
                    (long long)c->timeout_ms);
    } else {
        struct buf all;
        buf_init(&all);
        buf_append(&all, buf_cstr(&c->output[ERR]), c->output[ERR].len);
        buf_putc(&all, '\n');
        buf_append(&all, buf_cstr(&c->output[OUT]), c->output[OUT].len);
        struct haproxy_report rep;
        int rc = haproxy_report_build(buf_cstr(&all), all.len, &c->sc, &rep);
        buf_free(&all);
        if (rc == 0) {
            c->warnings = rep.warnings;
            rep.warnings = NULL;
        }
        if (c->exited && c->term_signal == 0 && c->exit_status == 0) {
            c->outcome = HAPROXY_CHECK_VALID;
            c->message = strdup("");
        } else if (rc == 0 && rep.alerts > 0) {
            c->outcome = HAPROXY_CHECK_INVALID;
            c->message = rep.message;
            rep.message = NULL;
        } else {
            char *tail = tail_of(c);
            if (!c->term_signal && c->exit_status == HAPROXY_CHECK_EXIT_WONT_START)
                set_message(c, HAPROXY_CHECK_INVALID, "haproxy -c: %s", tail ? tail : "");
            else if (c->term_signal == SIGXCPU)
                set_message(c, HAPROXY_CHECK_ERROR, "haproxy -c ran out of its CPU limit (%d s)",
                            HAPROXY_CHECK_RLIMIT_CPU_S);
            else if (c->term_signal)
                set_message(c, HAPROXY_CHECK_ERROR, "haproxy -c was killed by signal %d (%s); output: %s",
                            c->term_signal, strsignal(c->term_signal), tail ? tail : "");
            else
                set_message(c, HAPROXY_CHECK_ERROR, "haproxy -c failed with exit status %lld and no alert; output: %s",
                            (long long)c->exit_status, tail ? tail : "");
            free(tail);
        }
        if (rc == 0) haproxy_report_free(&rep);
    }
    uv_timer_stop(&c->timer);
    close_handle(c, (uv_handle_t *)&c->timer);
    if (c->spawned) {
        close_handle(c, (uv_handle_t *)&c->proc);
        for (int i = 0; i < 2; i++) close_handle(c, (uv_handle_t *)&c->pipes[i]);
    }
}

static void maybe_finish(struct haproxy_check *c)
{
    if (c->exited && c->eof[OUT] && c->eof[ERR]) finish(c);
}

static void kill_group(struct haproxy_check *c)
{
    if (!c->spawned || c->exited) return;
    kill(-c->proc.pid, SIGKILL);
    uv_process_kill(&c->proc, SIGKILL);
}

static void on_timer(uv_timer_t *t)
{
    struct haproxy_check *c = t->data;
    if (c->refused) {
        finish(c);
    } else if (!c->exited) {
        c->timed_out = 1;
        kill_group(c);
    } else {
        /* exited, but something still holds its pipes: stop reading and report what we have */
        kill(-c->proc.pid, SIGKILL);
        finish(c);
    }
}

static void on_process_exit(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct haproxy_check *c = p->data;
    c->exited = 1;
    c->exit_status = exit_status;
    c->term_signal = term_signal;
    uv_timer_stop(&c->timer);
    uv_timer_start(&c->timer, on_timer, HAPROXY_CHECK_DRAIN_MS, 0);
    maybe_finish(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct haproxy_check *c = h->data;
    (void)suggested;
    *b = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct haproxy_check *c = s->data;
    int i = s == (uv_stream_t *)&c->pipes[OUT] ? OUT : ERR;
    if (n > 0) {
        size_t room = HAPROXY_CHECK_OUTPUT_MAX - c->output[i].len;
        buf_append(&c->output[i], b->base, (size_t)n < room ? (size_t)n : room);
        return;
    }
    if (n == 0) return;
    uv_read_stop(s);
    c->eof[i] = 1;
    maybe_finish(c);
}

int haproxy_check_start(uv_loop_t *loop, const struct haproxy_check_opts *o, const char *gen_dir,
                        haproxy_check_done_cb cb, void *data, struct haproxy_check **out, struct err *e)
{
    char haproxy[PATH_MAX], prlimit[PATH_MAX];
    if (haproxy_check_which(o->binary, haproxy, sizeof(haproxy)) < 0)
        return err_set(e, "haproxy binary %s not found or not executable", o->binary ? o->binary : "(none)");
    if (haproxy_check_which(HAPROXY_CHECK_PRLIMIT, prlimit, sizeof(prlimit)) < 0)
        return err_set(e, "prlimit (util-linux) not found: it applies haproxy -c's resource limits");
    struct haproxy_check *c = calloc(1, sizeof(*c));
    if (!c) return err_set(e, "out of memory");
    c->loop = loop;
    c->cb = cb;
    c->data = data;
    c->started_ms = clock_mono_ms();
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : HAPROXY_CHECK_TIMEOUT_MS;
    buf_init(&c->output[OUT]);
    buf_init(&c->output[ERR]);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;

    struct err le;
    err_clear(&le);
    if (scratch_layout(o->scratch_parent, gen_dir, &o->prod, &c->sc, &le) < 0) {
        char where[ERR_MSG_MAX + ERR_WHERE_MAX + 64];
        err_format(&le, where, sizeof(where));
        set_message(c, HAPROXY_CHECK_INVALID, "generation refused before haproxy -c: %s", where);
        c->refused = 1;
        uv_timer_start(&c->timer, on_timer, 0, 0);
        *out = c;
        return 0;
    }

    char cpu[32], as[48], nofile[32], fsize[48];
    snprintf(cpu, sizeof(cpu), "--cpu=%d", HAPROXY_CHECK_RLIMIT_CPU_S);
    snprintf(as, sizeof(as), "--as=%llu", (unsigned long long)HAPROXY_CHECK_RLIMIT_AS);
    snprintf(nofile, sizeof(nofile), "--nofile=%d", HAPROXY_CHECK_RLIMIT_NOFILE);
    snprintf(fsize, sizeof(fsize), "--fsize=%llu", (unsigned long long)HAPROXY_CHECK_RLIMIT_FSIZE);
    /* -f with the scratch path: haproxy names it in every alert, and that turns back into the production path */
    char cfg[PATH_MAX];
    snprintf(cfg, sizeof(cfg), "%s/%s", c->sc.cwd, c->sc.cfg_name);
    char *args[] = {prlimit, cpu, as, nofile, fsize, "--core=0", "--", haproxy, "-c", "-f", cfg, NULL};
    /* Nothing of ours: no service-account token, no kubeconfig, no proxy settings. */
    char *env[] = {NULL};
    for (int i = 0; i < 2; i++) {
        uv_pipe_init(loop, &c->pipes[i], 0);
        c->pipes[i].data = c;
    }
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->pipes[OUT]},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->pipes[ERR]},
    };
    uv_process_options_t po = {
        .exit_cb = on_process_exit,
        .file = prlimit,
        .args = args,
        .env = env,
        .cwd = c->sc.cwd,
        .flags = UV_PROCESS_DETACHED,
        .stdio_count = 3,
        .stdio = stdio,
    };
    c->proc.data = c;
    mark_fds_cloexec();
    int rc = uv_spawn(loop, &c->proc, &po);
    c->spawned = 1; /* initialised either way: the handle and the pipes must be closed */
    if (rc < 0) {
        err_set(e, "cannot start %s: %s", haproxy, uv_strerror(rc));
        /* nothing reports (cb is never called when start fails); c goes once its handles are closed */
        c->cb = NULL;
        c->finished = 1;
        close_handle(c, (uv_handle_t *)&c->timer);
        close_handle(c, (uv_handle_t *)&c->proc);
        for (int i = 0; i < 2; i++) close_handle(c, (uv_handle_t *)&c->pipes[i]);
        return -1;
    }
    for (int i = 0; i < 2; i++) uv_read_start((uv_stream_t *)&c->pipes[i], on_alloc, on_read);
    uv_timer_start(&c->timer, on_timer, (uint64_t)c->timeout_ms, 0);
    *out = c;
    return 0;
}

void haproxy_check_abort(struct haproxy_check *c)
{
    if (c->finished || c->aborted) return;
    c->aborted = 1;
    if (c->refused) return;
    kill_group(c);
}
