/* Orphan reaping for a supervisor that is PID 1 of its PID namespace (the container image runs it with no
 * init in front): the kernel re-parents every orphan of the namespace to PID 1, and one that is never waited
 * for stays a zombie for the life of the pod. Not for the supervisor's own children: libuv waits for those by
 * pid (uv_spawn), so the reaper waits only for pids that `is_ours` disowns, never waitpid(-1). Anything the
 * supervisor spawns must therefore be known to `is_ours`. */
#ifndef HTIC_SUPERVISOR_REAPER_H
#define HTIC_SUPERVISOR_REAPER_H

#include <sys/types.h>
#include <uv.h>

struct reaper {
    int active;                 /* PID 1: the handles below are initialised */
    uv_signal_t sigchld;
    uv_timer_t sweep_timer;     /* a second chance for an exit whose SIGCHLD was handled before it was waitable */
    int (*is_ours)(pid_t pid, void *data);
    void *data;
    unsigned long reaped;       /* orphans reaped so far */
};

/* Starts reaping when this process is PID 1; otherwise does nothing (orphans go to the real init). */
void reaper_start(struct reaper *r, uv_loop_t *loop, int (*is_ours)(pid_t pid, void *data), void *data);
/* Waits for every exited child that is not ours; returns how many were reaped. */
int reaper_sweep(struct reaper *r);
void reaper_close(struct reaper *r);

#endif
