/* Child process management for the supervisor (see child.h). */
#include "supervisor/child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

static void on_restart_timer(uv_timer_t *t);

/* Signals the child only while its pid is still ours. libuv reaps every child that exited before it calls any
 * of their exit callbacks, so inside one exit callback (the elector's, which kills the deployer) another child
 * may already be reaped with c->pid still set: that pid is free for the kernel to reuse, and a kill would hit
 * whatever process got it. waitid(WNOWAIT) tells a live or unreaped child (ours) from a reaped one. */
static void signal_child(struct child *c, int sig)
{
    if (c->pid <= 0) return;
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) return; /* reaped: not ours */
    if (si.si_pid == c->pid) return; /* already exited; its exit callback is on the way */
    kill(c->pid, sig);
}

void child_init(struct child *c, uv_loop_t *loop, const char *role, const char *exe, const char *config_path,
                const struct child_ops *ops, void *data, int restartable)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->role, sizeof(c->role), "%s", role);
    c->loop = loop;
    c->exe = exe;
    c->config_path = config_path;
    c->config_fd = -1;
    c->ops = ops;
    c->data = data;
    c->restartable = restartable;
    c->backoff_ms = c->backoff_first_ms = CHILD_BACKOFF_FIRST_MS;
    c->backoff_max_ms = CHILD_BACKOFF_MAX_MS;
    uv_timer_init(loop, &c->restart_timer);
    c->restart_timer.data = c;
}

static void on_channel_message(struct ipc_channel *ch, struct json_object *msg, const char *type)
{
    struct child *c = ch->data;
    if (!c) return;
    c->last_heartbeat_ms = clock_mono_ms(); /* any message proves the child's loop turns */
    if (strcmp(type, "hello") == 0) c->hello = 1;
    if (c->ops->on_message) c->ops->on_message(c, msg, type);
}

static int on_channel_frame(struct ipc_channel *ch, const char *type, const char *frame, size_t len)
{
    struct child *c = ch->data;
    if (!c || !c->ops->on_frame) return 0;
    c->last_heartbeat_ms = clock_mono_ms(); /* a forwarded frame proves the loop turns as well */
    return c->ops->on_frame(c, type, frame, len);
}

static void free_channel(struct ipc_channel *ch) { free(ch); }

static void on_channel_closed(struct ipc_channel *ch, const char *reason)
{
    struct child *c = ch->data;
    if (!c) return;
    /* A bad frame or a closed pipe from a live child means it cannot be talked to: restart it. */
    if (c->state == CHILD_RUNNING && c->pid > 0 && !c->stop_requested) {
        log_warn("child channel ended, killing child", "child", c->role, "child_pid", LOG_INT(c->pid), "reason",
                 reason);
        signal_child(c, SIGKILL);
    }
}

static void drop_channel(struct child *c)
{
    c->paused = 0;
    if (!c->ch) return;
    c->ch->data = NULL;
    ipc_channel_close(c->ch, free_channel);
    c->ch = NULL;
}

static void on_proc_closed(uv_handle_t *h) { free(h); }

static void describe_exit(int64_t status, int sig, char *out, size_t n)
{
    if (sig) snprintf(out, n, "signal %d (%s)", sig, strsignal(sig));
    else snprintf(out, n, "exit status %lld", (long long)status);
}

static int record_crash(struct child *c, int64_t now)
{
    c->crash_ms[c->crash_count % (CHILD_CRASH_LOOP_MAX + 1)] = now;
    c->crash_count++;
    if (c->crash_count <= CHILD_CRASH_LOOP_MAX) return 0;
    /* the oldest of the last MAX+1 crashes still inside the window means a loop */
    int64_t oldest = c->crash_ms[c->crash_count % (CHILD_CRASH_LOOP_MAX + 1)];
    return now - oldest < CHILD_CRASH_LOOP_WINDOW_MS;
}

static void on_proc_exit(uv_process_t *p, int64_t status, int term_signal)
{
    struct child *c = p->data;
    int expected = c->stop_requested;
    char how[96];
    describe_exit(status, term_signal, how, sizeof(how));
    pid_t pid = c->pid;
    int64_t now = clock_mono_ms();
    uv_close((uv_handle_t *)p, on_proc_closed);
    c->proc = NULL;
    drop_channel(c);
    c->pid = 0;
    c->hello = 0;

    if (expected || c->disabled || c->state == CHILD_DEAD || !c->restartable) {
        log_info("child exited", "child", c->role, "child_pid", LOG_INT(pid), "how", how);
        if (c->state != CHILD_DEAD) c->state = CHILD_IDLE;
    } else {
        if (now - c->started_ms > CHILD_STABLE_MS) c->backoff_ms = c->backoff_first_ms;
        if (record_crash(c, now)) {
            log_error("child is crash looping, giving up", "child", c->role, "child_pid", LOG_INT(pid), "how", how);
            c->state = CHILD_DEAD;
        } else {
            c->restarts++;
            log_warn("child crashed, restarting", "child", c->role, "child_pid", LOG_INT(pid), "how", how,
                     "restart_in_ms", LOG_INT(c->backoff_ms), "restarts", LOG_UINT(c->restarts));
            c->state = CHILD_BACKOFF;
            uv_timer_start(&c->restart_timer, on_restart_timer, (uint64_t)c->backoff_ms, 0);
            c->backoff_ms *= 2;
            if (c->backoff_ms > c->backoff_max_ms) c->backoff_ms = c->backoff_max_ms;
        }
    }
    c->stop_requested = 0;
    if (c->ops->on_exit) c->ops->on_exit(c, status, term_signal, expected);
}

static void on_restart_timer(uv_timer_t *t)
{
    struct child *c = t->data;
    if (c->state == CHILD_BACKOFF) child_spawn(c);
}

/* A spawn that failed (no fork, no fds, the executable briefly missing) is tried again with the same backoff
 * as a crash: a child that is neither running nor scheduled would be gone for good. */
static void retry_spawn_later(struct child *c)
{
    if (!c->restartable) return;
    log_warn("child not started, trying again", "child", c->role, "retry_in_ms", LOG_INT(c->backoff_ms));
    c->state = CHILD_BACKOFF;
    uv_timer_start(&c->restart_timer, on_restart_timer, (uint64_t)c->backoff_ms, 0);
    c->backoff_ms *= 2;
    if (c->backoff_ms > c->backoff_max_ms) c->backoff_ms = c->backoff_max_ms;
}

int child_spawn(struct child *c)
{
    if (c->state == CHILD_RUNNING || c->state == CHILD_DEAD || c->disabled) return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int rc = -errno;
        log_error("socketpair failed", "child", c->role, "error", strerror(errno));
        retry_spawn_later(c);
        return rc;
    }
    char parent[16], fdstr[8];
    snprintf(parent, sizeof(parent), "%d", (int)getpid());
    snprintf(fdstr, sizeof(fdstr), "3");
    char *args[16];
    int n = 0;
    args[n++] = (char *)c->exe;
    args[n++] = "--role";
    args[n++] = c->role;
    args[n++] = "--ipc-fd";
    args[n++] = fdstr;
    args[n++] = "--parent";
    args[n++] = parent;
    if (c->config_path) {
        args[n++] = "--config";
        args[n++] = (char *)c->config_path;
    }
    if (c->config_fd >= 0) {
        args[n++] = "--config-fd";
        args[n++] = "4";
    }
    args[n] = NULL;

    uv_stdio_container_t stdio[5] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = STDOUT_FILENO},
        {.flags = UV_INHERIT_FD, .data.fd = STDERR_FILENO},
        {.flags = UV_INHERIT_FD, .data.fd = sv[1]},
        {.flags = c->config_fd >= 0 ? UV_INHERIT_FD : UV_IGNORE, .data.fd = c->config_fd},
    };
    uv_process_options_t opts = {
        .file = c->exe,
        .args = args,
        .exit_cb = on_proc_exit,
        .stdio_count = 5,
        .stdio = stdio,
    };
    uv_process_t *proc = calloc(1, sizeof(*proc));
    if (!proc) {
        close(sv[0]);
        close(sv[1]);
        retry_spawn_later(c);
        return UV_ENOMEM;
    }
    proc->data = c;
    int rc = uv_spawn(c->loop, proc, &opts);
    close(sv[1]);
    if (rc) {
        close(sv[0]);
        log_error("cannot start child", "child", c->role, "error", uv_strerror(rc));
        /* uv_spawn failures still need the handle closed */
        uv_close((uv_handle_t *)proc, on_proc_closed);
        retry_spawn_later(c);
        return rc;
    }
    c->proc = proc;
    c->pid = proc->pid;
    c->state = CHILD_RUNNING;
    c->stop_requested = 0;
    c->hello = 0;
    c->paused = 0;
    c->started_ms = c->last_heartbeat_ms = clock_mono_ms();

    c->ch = calloc(1, sizeof(*c->ch));
    if (!c->ch || ipc_channel_init(c->ch, c->loop, sv[0], on_channel_message, on_channel_closed, c) ||
        ipc_channel_start(c->ch)) {
        log_error("cannot open child channel", "child", c->role);
        if (!c->ch) close(sv[0]);
        signal_child(c, SIGKILL);
        return -1;
    }
    c->ch->on_raw = on_channel_frame;
    log_info("child started", "child", c->role, "child_pid", LOG_INT(c->pid));
    return 0;
}

int child_spawn_now(struct child *c)
{
    uv_timer_stop(&c->restart_timer);
    if (c->state == CHILD_BACKOFF) c->state = CHILD_IDLE;
    return child_spawn(c);
}

void child_drain(struct child *c)
{
    if (c->ch) ipc_channel_drain(c->ch);
}

int child_send_frame(struct child *c, const char *frame, size_t len)
{
    if (!child_up(c) || !c->ch) return -1;
    return ipc_channel_send_frame(c->ch, frame, len);
}

size_t child_queued_bytes(const struct child *c) { return c->ch ? c->ch->queued_bytes : 0; }

static void on_channel_drained(struct ipc_channel *ch)
{
    struct child *c = ch->data;
    if (c && c->ops->on_drained) c->ops->on_drained(c);
}

int child_notify_drained(struct child *c, size_t mark)
{
    if (!c->ch) return -1;
    return ipc_channel_notify_drained(c->ch, mark, on_channel_drained);
}

void child_pause_reading(struct child *c)
{
    if (!c->ch || c->paused) return;
    c->paused = 1;
    ipc_channel_pause(c->ch);
}

void child_resume_reading(struct child *c)
{
    if (!c->paused) return;
    c->paused = 0;
    /* its heartbeats waited behind the pause: it gets a whole CHILD_HUNG_MS from now, not from its last one */
    c->last_heartbeat_ms = clock_mono_ms();
    if (c->ch) ipc_channel_resume(c->ch);
}

int64_t child_silence_ms(const struct child *c, int64_t now) { return c->paused ? 0 : now - c->last_heartbeat_ms; }

int child_send(struct child *c, struct json_object *msg)
{
    if (c->state != CHILD_RUNNING || !c->ch) return -1;
    return ipc_channel_send(c->ch, msg);
}

void child_request_stop(struct child *c)
{
    uv_timer_stop(&c->restart_timer);
    if (c->state == CHILD_BACKOFF) c->state = CHILD_IDLE;
    if (c->state != CHILD_RUNNING) return;
    c->stop_requested = 1;
    struct json_object *m = ipc_msg_new("shutdown");
    if (child_send(c, m) < 0) signal_child(c, SIGTERM);
    json_object_put(m);
}

void child_kill(struct child *c, const char *why)
{
    uv_timer_stop(&c->restart_timer);
    if (c->state == CHILD_BACKOFF) c->state = CHILD_IDLE;
    if (c->pid <= 0) return;
    log_warn("killing child", "child", c->role, "child_pid", LOG_INT(c->pid), "why", why);
    c->stop_requested = 1;
    signal_child(c, SIGKILL);
}

void child_kill_hung(struct child *c, const char *why)
{
    if (c->pid <= 0) return;
    log_warn("killing hung child", "child", c->role, "child_pid", LOG_INT(c->pid), "why", why);
    signal_child(c, SIGKILL);
}

int child_running(const struct child *c) { return c->pid > 0; }

int child_up(const struct child *c) { return c->state == CHILD_RUNNING && c->pid > 0 && c->hello; }

int child_restart_pending(const struct child *c) { return c->state == CHILD_BACKOFF; }

int child_stopping(const struct child *c) { return c->pid > 0 && c->stop_requested; }

int child_crash_looping(const struct child *c) { return c->state == CHILD_DEAD && c->crash_count > 0; }

void child_disable(struct child *c)
{
    uv_timer_stop(&c->restart_timer);
    c->disabled = 1;
    if (c->state == CHILD_BACKOFF) c->state = CHILD_IDLE;
}

void child_close(struct child *c)
{
    drop_channel(c);
    uv_close((uv_handle_t *)&c->restart_timer, NULL);
}
