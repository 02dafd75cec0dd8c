/* What the deployer needs from a target, whatever its kind: read back what it runs (compare), bring it to
 * a generation (push: the target picks the lane, runtime commands or a reload), and say whether a change
 * would fit its fast lane (so the scheduler does not hold it behind the reload interval). The local
 * HAProxy (target_local.c) implements it today; a Data Plane API target plugs in the same way.
 * Every side effect of an implementation passes the deployer's gate (gate.h) right before it starts.
 * Not for: when to push (scheduler.h). */
#ifndef HTIC_DEPLOYER_TARGET_H
#define HTIC_DEPLOYER_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/pipeline/rundir.h"

#define TARGET_LANE_NONE "none"      /* already there: nothing done */
#define TARGET_LANE_FAST "fast"      /* runtime API, no reload */
#define TARGET_LANE_RELOAD "reload"

struct target;

/* Runtime commands by what they change, the `kind` label of haproxy_ic_deploy_runtime_commands_total. */
enum target_runtime_kind { TARGET_RUNTIME_SERVER, TARGET_RUNTIME_MAP, TARGET_RUNTIME_SSL_CERT, TARGET_RUNTIME_KINDS };
#define TARGET_RUNTIME_KIND_NAMES {"server", "map", "ssl_cert"}

struct target_push {
    const char *term;
    int64_t generation;
    const char *checksum;   /* the generation to run, in <run_dir>/gen/ */
    const char *from;       /* what the scheduler believes it runs ("" unknown) */
    const char *reason;     /* scheduler.h SCHED_REASON_* */
    int64_t deadline_ms;    /* CLOCK_MONOTONIC */
};

struct target_result {
    int ok;
    const char *lane;       /* TARGET_LANE_* */
    int reloaded;           /* a reload was attempted (successful or not) */
    int rolled_back;
    const char *error;      /* when !ok */
    const char *running;    /* what it runs afterwards ("" unknown) */
    int64_t duration_ms;
    int64_t reload_ms;      /* reload to confirmed, when reloaded */
    size_t runtime_commands;                       /* all of them */
    size_t runtime_by_kind[TARGET_RUNTIME_KINDS];  /* those counted by kind; the rest shows as "other" */
    size_t files_written;
};

/* checksum: what the target runs if its files match it, "" if they match nothing of ours, NULL if it
 * could not be read. diff: what differed from the generation its header claims (may be ""). */
typedef void (*target_compare_cb)(struct target *t, const char *checksum, const char *diff, void *data);
typedef void (*target_push_cb)(struct target *t, const struct target_result *r, void *data);

struct target_ops {
    const char *kind;
    /* cb may run before compare returns */
    int (*compare)(struct target *t, target_compare_cb cb, void *data);
    /* cb runs exactly once, from the loop; -1: not started (cb not called) */
    int (*push)(struct target *t, const struct target_push *p, target_push_cb cb, void *data);
    int (*fast_ok)(struct target *t, const char *from, const char *to);
    void (*free)(struct target *t);
};

struct target {
    const struct target_ops *ops;
    char *name;   /* owned */
};

#endif
