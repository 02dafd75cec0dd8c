/* The runtime every child role shares: its IPC channel to the supervisor, heartbeats, and shutdown.
 *
 * A role's main parses its arguments with worker_args_parse, calls worker_child_setup (death signal, parent
 * check, process title, the signals a role ignores), then worker_init/worker_start on its loop and runs the
 * loop. The supervisor's
 * "shutdown" message (or SIGTERM sent to the child directly) calls the role's on_shutdown, which finishes
 * what it must and calls worker_stop; the loop then runs out and the role returns its exit status.
 * Not for: the supervisor's side of the channel (supervisor/child.c). */
#ifndef HTIC_WORKER_H
#define HTIC_WORKER_H

#include <json-c/json.h>
#include <sys/types.h>
#include <uv.h>

#include "common/ipc.h"

struct config;

/* Heartbeats go out this often; the supervisor judges a child hung after several are missed. */
#define WORKER_HEARTBEAT_MS 1000
/* Periodic reports (metrics) are skipped rather than queued past this many unsent bytes. */
#define WORKER_LOSSY_LIMIT (256u * 1024u)
/* A config checksum is "sha256:" + 64 hex digits (71 bytes); anything longer is not the supervisor's. */
#define WORKER_CHECKSUM_MAX 80

struct worker_args {
    const char *role;         /* --role NAME */
    int ipc_fd;               /* --ipc-fd N: this child's end of the socketpair */
    pid_t parent;             /* --parent PID: the supervisor that started us */
    const char *config_path;  /* --config FILE: its name, for messages */
    int config_fd;            /* --config-fd N: the supervisor's snapshot of it; -1: read the file */
};

/* Parses the child command line written by the supervisor. Returns 0, or -1 with a message on stderr. */
int worker_args_parse(int argc, char **argv, struct worker_args *out);
/* PR_SET_PDEATHSIG(SIGKILL), then checks the parent is still the one that started us (it may have died
 * before the death signal was armed), names the process, ignores SIGINT, SIGPIPE, SIGHUP, SIGUSR1, SIGUSR2
 * and SIGALRM (only the supervisor acts on signals other than SIGTERM). Returns 0 or -1. */
int worker_child_setup(const struct worker_args *a);

/* The why given to on_shutdown when the supervisor's channel ended (EOF or error) rather than on its
 * `shutdown` message or SIGTERM: nobody confirmed what the supervisor stops first (the elector then releases
 * nothing). */
#define WORKER_WHY_SUPERVISOR_GONE "supervisor channel ended"

struct worker;
typedef void (*worker_message_cb)(struct worker *w, struct json_object *msg, const char *type);
typedef void (*worker_shutdown_cb)(struct worker *w, const char *why);

/* What a role did with a new config (worker_config_cb). */
enum worker_config_result {
    WORKER_CONFIG_APPLIED = 0,   /* the role now uses next: the worker makes it w->cfg and frees the old one */
    WORKER_CONFIG_RESTART = 1,   /* it cannot apply this change in place: the supervisor restarts it (*why) */
};
/* A config the supervisor validated, sent while the role runs (the `config` message, docs/ipc.md). w->cfg is
 * still the old one during the call; a role that applies next must stop pointing into the old one before it
 * returns, since the worker frees it then. next is borrowed either way. */
typedef enum worker_config_result (*worker_config_cb)(struct worker *w, const struct config *next, const char **why);

struct worker {
    uv_loop_t *loop;
    struct ipc_channel ch;
    uv_timer_t heartbeat_timer;
    uv_signal_t sigterm;
    const char *role;
    worker_message_cb on_message;    /* every message except shutdown; may be NULL */
    worker_shutdown_cb on_shutdown;  /* NULL: worker_stop at once */
    worker_config_cb on_config;      /* set by the role in on_start; NULL: every new config restarts it */
    const char *config_path;         /* --config: the name problems are reported under (borrowed from argv) */
    void *data;                      /* the role's */
    const struct config *cfg;        /* owned: loaded by worker_main, replaced by an applied `config`; NULL
                                      * for a worker not started by worker_main */
    uint64_t heartbeats;
    int shutting_down;
    int stopped;
    int exit_status;                 /* returned by worker_run; set by the role if it fails */
};

int worker_init(struct worker *w, uv_loop_t *loop, const struct worker_args *a, worker_message_cb on_message,
                worker_shutdown_cb on_shutdown, void *data);
/* Sends hello, starts heartbeats and reading. */
int worker_start(struct worker *w);
/* Runs the loop until worker_stop and every handle closed; returns exit_status. */
int worker_run(struct worker *w);
/* Queues a message to the supervisor (control: never dropped). msg is not consumed. */
int worker_send(struct worker *w, struct json_object *msg);
/* Queues a periodic report; skipped while the channel is backed up. msg is not consumed. */
int worker_report(struct worker *w, struct json_object *msg);
/* Sends {"type":"event","event":name, "fields":{k:v,...}}; the variadic part is key, value, ..., NULL. */
int worker_event(struct worker *w, const char *name, ...);
/* Closes the worker's handles; the role closes its own. Safe to call twice. */
void worker_stop(struct worker *w);

/* The whole life of a simple role: parse, set up, init, start, run the loop. on_start (may be NULL) runs
 * after worker_start, to start the role's own handles; it returns 0 or fails the start. */
int worker_main(int argc, char **argv, worker_message_cb on_message, worker_shutdown_cb on_shutdown,
                int (*on_start)(struct worker *w), void *data);

#endif
