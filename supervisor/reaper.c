/* Orphan reaping when PID 1 (see reaper.h). */
#include "supervisor/reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

/* /proc/self/task/<tid>/children is read in chunks of this size; pids cut at a chunk's end are completed by
 * the next read, so any number of children is handled with a fixed buffer. */
#define REAPER_READ_CHUNK 4096
/* The sweep timer: an orphan missed by a SIGCHLD sweep (only possible in the fallback below, when an exited
 * child of ours is first in line) waits at most this long. */
#define REAPER_SWEEP_MS 1000

static int reap_if_not_ours(struct reaper *r, pid_t pid)
{
    if (pid <= 0 || r->is_ours(pid, r->data)) return 0;
    int status;
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got != pid) return 0; /* still running, or someone else's to wait for */
    r->reaped++;
    log_debug("orphan reaped", "pid", LOG_INT(pid),
              "how", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
    return 1;
}

/* Without /proc children: peek with WNOWAIT at one waitable child at a time. It stops at a child of ours
 * (libuv's to reap); the timer retries after libuv did. */
static int sweep_peek(struct reaper *r)
{
    int n = 0;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0) return n;
        if (!reap_if_not_ours(r, si.si_pid)) return n;
        n++;
    }
}

int reaper_sweep(struct reaper *r)
{
    if (!r->active) return 0;
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sweep_peek(r);
    char buf[REAPER_READ_CHUNK + 1];
    size_t have = 0;
    int n = 0;
    for (;;) {
        ssize_t k = read(fd, buf + have, REAPER_READ_CHUNK - have);
        if (k < 0 && errno == EINTR) continue;
        int eof = k <= 0;
        if (!eof) have += (size_t)k;
        buf[have] = '\0';
        char *p = buf, *end;
        for (;;) {
            while (*p == ' ' || *p == '\n') p++;
            long pid = strtol(p, &end, 10);
            if (end == p) break;
            if (!eof && *end == '\0') break; /* may be cut: keep it for the next read */
            n += reap_if_not_ours(r, (pid_t)pid);
            p = end;
        }
        have = strlen(p);
        memmove(buf, p, have);
        if (eof) break;
    }
    close(fd);
    return n;
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    (void)signum;
    reaper_sweep(h->data);
}

static void on_sweep_timer(uv_timer_t *t) { reaper_sweep(t->data); }

void reaper_start(struct reaper *r, uv_loop_t *loop, int (*is_ours)(pid_t pid, void *data), void *data)
{
    memset(r, 0, sizeof(*r));
    if (getpid() != 1) return;
    r->active = 1;
    r->is_ours = is_ours;
    r->data = data;
    uv_signal_init(loop, &r->sigchld);
    uv_timer_init(loop, &r->sweep_timer);
    r->sigchld.data = r->sweep_timer.data = r;
    uv_signal_start(&r->sigchld, on_sigchld, SIGCHLD);
    uv_timer_start(&r->sweep_timer, on_sweep_timer, REAPER_SWEEP_MS, REAPER_SWEEP_MS);
    log_info("running as PID 1: reaping orphans");
}

void reaper_close(struct reaper *r)
{
    if (!r->active) return;
    uv_signal_stop(&r->sigchld);
    uv_timer_stop(&r->sweep_timer);
    uv_close((uv_handle_t *)&r->sigchld, NULL);
    uv_close((uv_handle_t *)&r->sweep_timer, NULL);
    r->active = 0;
}
