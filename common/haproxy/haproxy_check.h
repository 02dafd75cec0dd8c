/* One `haproxy -c` of a rendered generation (the validator role and the `validate` CLI): lays it out in a private
 * scratch dir (scratch.c), runs `<haproxy.binary> -c -f <config>` there through uv_spawn with an empty environment,
 * no inherited fd beyond 0-2, rlimits and a timeout, and reports valid / invalid (with haproxy_report.c's message)
 * / timeout / error.
 * Not for: deciding which generation to check or talking to other roles (workers/validator/). */
#ifndef HTIC_HAPROXY_CHECK_H
#define HTIC_HAPROXY_CHECK_H

#include <stdint.h>
#include <uv.h>

#include "common/err.h"
#include "common/haproxy/scratch.h"

/* The original controller's bound for one validation: a config with hundreds of bcrypt hashes takes ~17 s. */
#define HAPROXY_CHECK_TIMEOUT_MS 30000
/* rlimits of the haproxy -c process. They bound what a hostile or runaway generation can make the validator's
 * host do; each is far above what a real check needs. */
/* CPU seconds: above the wall timeout, so the timer reports first; this is the backstop if we die. */
#define HAPROXY_CHECK_RLIMIT_CPU_S 60
/* Address space: -c of a small config is 15 MB RSS; a million map entries a few hundred MB. */
#define HAPROXY_CHECK_RLIMIT_AS (2ull << 30)
/* Open files: -c opens the config, maps and certificates one at a time; haproxy lowers maxconn to fit. */
#define HAPROXY_CHECK_RLIMIT_NOFILE 4096
/* File size: -c writes no file; anything it would write (a log path in the config) stays small. */
#define HAPROXY_CHECK_RLIMIT_FSIZE (16ull << 20)
/* Output kept per stream: a config with thousands of alerts prints a few hundred kB; the rest is dropped. */
#define HAPROXY_CHECK_OUTPUT_MAX (256u * 1024u)
/* After haproxy exits, its output pipes are read this long at most (a grandchild could hold them open). */
#define HAPROXY_CHECK_DRAIN_MS 1000

enum haproxy_check_outcome {
    HAPROXY_CHECK_VALID = 0,
    HAPROXY_CHECK_INVALID,   /* haproxy rejected it, or the generation was refused before running */
    HAPROXY_CHECK_TIMEOUT,   /* killed at the timeout */
    HAPROXY_CHECK_ERROR,     /* could not be checked: spawn failed, killed by a signal, aborted */
};
const char *haproxy_check_outcome_name(enum haproxy_check_outcome o);

struct haproxy_check_opts {
    const char *binary;          /* haproxy.binary: a path, or a name looked up on the validator's PATH */
    struct scratch_paths prod;   /* the target's production paths */
    const char *scratch_parent;  /* scratch dirs are made (and removed) under this dir */
    int64_t timeout_ms;          /* 0: HAPROXY_CHECK_TIMEOUT_MS */
};

struct haproxy_check_result {
    enum haproxy_check_outcome outcome;
    const char *message;   /* "" when valid; borrowed for the callback's duration */
    const char *warnings;  /* haproxy's [WARNING] lines, "" when none; borrowed likewise */
    int64_t duration_ms;
};

struct haproxy_check;
typedef void (*haproxy_check_done_cb)(struct haproxy_check *c, const struct haproxy_check_result *r, void *data);

/* Starts a check of gen_dir; cb is called exactly once, from the loop, after the process is gone and the
 * scratch dir removed; the check frees itself after cb returns. Returns 0, or -1 when it could not start: e
 * says why and cb is never called. A generation refused before running (see scratch_layout) is not a
 * failure to start: cb reports it as invalid. */
int haproxy_check_start(uv_loop_t *loop, const struct haproxy_check_opts *o, const char *gen_dir,
                        haproxy_check_done_cb cb, void *data, struct haproxy_check **out, struct err *e);
/* Kills the process (if any); cb still comes, with HAPROXY_CHECK_ERROR "aborted". */
void haproxy_check_abort(struct haproxy_check *c);

/* Resolves name like execvp would on PATH (our PATH, not the child's: its environment is empty). */
int haproxy_check_which(const char *name, char *out, size_t n);

#endif
