/* A client of HAProxy's master CLI (`haproxy -W -S <socket>`) on the deployer's loop: one connection per
 * exchange, in interactive mode (`prompt`), so that many commands are pipelined on it and each answer ends
 * at the next `master> ` prompt (`master[ReloadFailed]> ` after a failed reload). Commands go out in
 * batches of at most MCLI_BATCH_MAX bytes (HAProxy refuses a request larger than its 16 KB buffer with a
 * broken pipe); the gate is checked before each batch is written and the whole exchange is bounded by the
 * gate's budget. `reload` answers nothing in 2.6: the master re-executes and the connection closes, which
 * is the end of that exchange (confirm with `show proc`, mcli_parse_proc).
 * Not for: deciding what to send (target_local.c, diff.c). */
#ifndef HTIC_DEPLOYER_MCLI_H
#define HTIC_DEPLOYER_MCLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "common/buf.h"
#include "workers/deployer/gate.h"

/* Bytes of commands written at once: below HAProxy's default tune.bufsize (16384) with room for the
 * `@1 ` prefix and the line ending, so no request, payload included, can exceed the buffer. */
#define MCLI_BATCH_MAX 15000
/* Answers kept per exchange: `show proc` and error lines are short; `show servers state` of 10k servers
 * is ~2 MB. More is an error, not memory use. */
#define MCLI_ANSWER_MAX (8u << 20)
/* Commands per exchange: 10k servers each with addr, state and weight, plus map batches. */
#define MCLI_COMMANDS_MAX 100000
/* Workers listed by show proc that we keep: old workers of many reloads stay under this. */
#define MCLI_PROC_MAX 64

struct mcli_cmd {
    char *line;       /* owned: the command with its trailing newline (a payload included) */
    char *answer;     /* owned: filled when done, without the prompt and payload "+ " prompts */
};

struct mcli_result {
    int ok;              /* every command sent and answered (reload: the connection closed) */
    const char *error;   /* when !ok: why (borrowed for the callback) */
    size_t answered;
    int64_t duration_ms;
};

struct mcli;
typedef void (*mcli_done_cb)(struct mcli *m, struct mcli_cmd *cmds, size_t n, const struct mcli_result *r,
                             void *data);

/* Connects to path and runs cmds (ownership passes to the exchange: freed after cb returns). expect_close:
 * the last command ends the connection (reload). cb is called exactly once, from the loop. Returns 0, or -1
 * when it could not start (cmds freed, cb not called). */
int mcli_run(uv_loop_t *loop, const char *path, struct mcli_cmd *cmds, size_t n, int expect_close,
             struct deploy_gate *gate, int64_t deadline_ms, mcli_done_cb cb, void *data);
/* Appends a command (printf style, newline added) to a growing array. */
int mcli_cmd_add(struct mcli_cmd **cmds, size_t *n, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void mcli_cmds_free(struct mcli_cmd *cmds, size_t n);

/* Pure: the next complete answer in an interactive stream (after the first prompt has been consumed).
 * Returns 1 and sets *ans_len (answer bytes, without the newline before the prompt) and *consumed (through
 * the prompt), 0 if no prompt yet. */
int mcli_next_answer(const char *buf, size_t len, size_t *ans_len, size_t *consumed);
/* Pure: the length of a prompt at buf (0 if none): "master> " or "master[STATE]> ". */
size_t mcli_prompt_len(const char *buf, size_t len);

struct mcli_proc {
    int64_t master_reloads;
    int64_t failed;
    pid_t workers[MCLI_PROC_MAX];  /* current workers (not old ones) */
    size_t nworkers;
};
/* Pure: parses `show proc`. 0, or -1 if it is not a show proc answer. */
int mcli_parse_proc(const char *text, struct mcli_proc *out);
/* The certificates a worker loaded (`show ssl cert`), by the name HAProxy gave each: the path as the
 * configuration or crt-list spelled it, which `set ssl cert` must repeat exactly. */
struct mcli_ssl_cert {
    char *norm;  /* owned: the path with repeated '/' and "/./" collapsed, to compare ours with */
    char *name;  /* owned: HAProxy's name */
};
struct mcli_ssl_certs {
    struct mcli_ssl_cert *items;  /* owned, sorted by norm */
    size_t n;
};
/* A name longer than this is not a path (PATH_MAX). */
#define MCLI_SSL_CERT_NAME_MAX 4096
/* Pure: parses a `show ssl cert` answer (the committed names after `# filename`; `*` transactions are
 * not certificates). 0, or -1 when out of memory. */
int mcli_parse_ssl_certs(const char *text, struct mcli_ssl_certs *out);
/* HAProxy's name for path (compared normalised), or NULL if no worker certificate has it. */
const char *mcli_ssl_certs_find(const struct mcli_ssl_certs *c, const char *path);
void mcli_ssl_certs_free(struct mcli_ssl_certs *c);

/* Pure: 1 if the answer to a `set server`, map or ssl cert command (with or without `@1 `) is a success. */
int mcli_answer_ok(const char *cmd, const char *answer);

#endif
