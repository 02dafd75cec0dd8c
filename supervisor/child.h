/* One child process of the supervisor: spawn (fork + exec of ourselves with --role), its IPC channel,
 * heartbeat bookkeeping, restart with exponential backoff and a crash-loop cap, and kill.
 * Not for: deciding when the deployer runs (leadership.c) or the shutdown order (supervisor.c). */
#ifndef HTIC_SUPERVISOR_CHILD_H
#define HTIC_SUPERVISOR_CHILD_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "common/ipc.h"

/* Restart backoff doubles from the first value up to the cap; a child that ran this long without crashing
 * gets its backoff reset. */
#define CHILD_BACKOFF_FIRST_MS 100
#define CHILD_BACKOFF_MAX_MS 10000
#define CHILD_STABLE_MS 30000
/* More crashes than this inside the window is a crash loop: the supervisor gives up (exit 1) so that the
 * pod restarts or systemd reports the unit failed, rather than spinning forever. */
#define CHILD_CRASH_LOOP_MAX 8
#define CHILD_CRASH_LOOP_WINDOW_MS 120000
/* A child whose heartbeats stop for this long is hung: it is killed and restarted. */
#define CHILD_HUNG_MS 10000

enum child_state {
    CHILD_IDLE,      /* not running and not scheduled (the deployer while not leader) */
    CHILD_RUNNING,
    CHILD_BACKOFF,   /* crashed; restart timer armed */
    CHILD_DEAD,      /* given up on, or the supervisor is shutting down */
};

struct child;
struct child_ops {
    /* Sees every frame before its body is parsed (type from the prefix, the whole frame): returns 1 when it
     * took the frame, 0 to have it parsed and passed to on_message. May be NULL. */
    int (*on_frame)(struct child *c, const char *type, const char *frame, size_t len);
    void (*on_message)(struct child *c, struct json_object *msg, const char *type);
    /* The process was reaped. status is the exit code, or -1 with signal set. expected: we asked for it. */
    void (*on_exit)(struct child *c, int64_t status, int signal, int expected);
    /* The queue to the child came down to the mark of child_notify_drained. May be NULL. */
    void (*on_drained)(struct child *c);
};

struct child {
    char role[32];
    const struct child_ops *ops;
    void *data;                 /* the supervisor's */
    uv_loop_t *loop;
    const char *exe;            /* borrowed */
    const char *config_path;    /* borrowed */
    int config_fd;              /* borrowed: the config snapshot, handed to the child as fd 4; -1: none */

    enum child_state state;
    uv_process_t *proc;         /* owned; one per spawn, freed when its close completes */
    pid_t pid;
    struct ipc_channel *ch;     /* owned; freed after its close completes */
    int hello;                  /* hello received since the last spawn */
    int stop_requested;         /* exit was asked for: not a crash */
    int restartable;            /* restart after a crash */
    int disabled;               /* never (re)start again: the supervisor is shutting down */
    int paused;                 /* child_pause_reading: we stopped reading it, so its silence is ours */

    int64_t started_ms;         /* monotonic */
    int64_t last_heartbeat_ms;
    uint64_t restarts;
    int64_t backoff_ms;         /* the next restart's delay */
    int64_t backoff_first_ms;   /* CHILD_BACKOFF_FIRST_MS unless a test sets it */
    int64_t backoff_max_ms;
    int64_t crash_ms[CHILD_CRASH_LOOP_MAX + 1];  /* recent crash times, ring */
    unsigned crash_count;
    uv_timer_t restart_timer;
};

void child_init(struct child *c, uv_loop_t *loop, const char *role, const char *exe, const char *config_path,
                const struct child_ops *ops, void *data, int restartable);
/* Forks and execs the child. Returns 0 or a libuv error (logged). */
int child_spawn(struct child *c);
/* Spawns now, cancelling a pending restart's backoff (a new term's deployer must not wait for it). */
int child_spawn_now(struct child *c);
/* Handles what the child has already written and not yet been read (ipc_channel_drain). */
void child_drain(struct child *c);
/* Sends msg if running (not consumed). */
int child_send(struct child *c, struct json_object *msg);
/* Queues an encoded frame (copied) if the child is up (running and said hello); -1 otherwise. */
int child_send_frame(struct child *c, const char *frame, size_t len);
/* Bytes queued to the child and not yet written (0 without a channel). */
size_t child_queued_bytes(const struct child *c);
/* ops->on_drained follows once, when the queue to the child is down to mark; -1 when it already is or there
 * is no channel. */
int child_notify_drained(struct child *c, size_t mark);
/* Stops reading the child's channel (flow control: what it sends has nowhere to go yet) and reads it again.
 * While paused the child is not judged by its silence; after the resume its silence counts from then. */
void child_pause_reading(struct child *c);
void child_resume_reading(struct child *c);
/* How long the child has been silent at now (monotonic ms), for the hung check: 0 while paused by us. */
int64_t child_silence_ms(const struct child *c, int64_t now);
/* Asks the child to exit (shutdown message); the exit is then not counted as a crash. */
void child_request_stop(struct child *c);
/* SIGKILL now; on_exit follows when reaped, as an expected exit (no restart). */
void child_kill(struct child *c, const char *why);
/* SIGKILL a child that is hung; its exit counts as a crash, so it is restarted with backoff. */
void child_kill_hung(struct child *c, const char *why);
int child_running(const struct child *c);
/* Running and said hello since its spawn. */
int child_up(const struct child *c);
/* Crashed and waiting for its restart (backoff). */
int child_restart_pending(const struct child *c);
/* Asked to stop or being killed, and not yet reaped. */
int child_stopping(const struct child *c);
/* True when the last crash made the crash loop cap trip. */
int child_crash_looping(const struct child *c);
/* Stops restarting (shutdown). */
void child_disable(struct child *c);
void child_close(struct child *c);

#endif
