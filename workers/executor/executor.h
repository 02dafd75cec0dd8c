/* The executor's message handlers: decode rendered / render_failed / validated, drive the generation
 * state machine, turn its actions into render_request and lkg messages, persist the LKG, and build the
 * /debug/vars "pipeline" object and the metrics. No loop here: messages go out through a send callback
 * (tests pass a fake one), and the one blocking job it asks for, garbage collection of the run directory,
 * is left to the caller (main.c runs it on a uv_queue_work).
 * Not for: the process shell, timers (main.c), the decisions themselves (generation.c). */
#ifndef HTIC_EXECUTOR_EXECUTOR_H
#define HTIC_EXECUTOR_EXECUTOR_H

#include <json-c/json.h>
#include <stdint.h>

#include "common/pipeline/rundir.h"
#include "workers/executor/generation.h"

struct metrics_registry;
struct metric_family;

/* Generations the GC keeps: the LKG, the one before it (a deployer may still be reading it), the current
 * candidate and the outstanding trial. */
#define EXECUTOR_GC_KEEP 4
/* A generation directory younger than this is kept even if nobody named it yet: a renderer may have just
 * renamed it into place and its rendered message may still be on its way. */
#define EXECUTOR_GC_MIN_AGE_S 60
/* Keys of the renderer's "objects" counts kept for the report (one per watched resource). */
#define EXECUTOR_MAX_OBJECT_KINDS 64

/* Candidates whose events (`event_ms`, docs/ipc.md) wait for an LKG that includes them: a render and a
 * check at a time, a few candidates superseding each other meanwhile. Past this the oldest two are merged
 * (the older event time kept), so the latency is never understated. */
#define EXECUTOR_EVENTS_MAX 32

/* lossy: a periodic report (skipped on a backed-up channel), else a control message. msg is borrowed. */
typedef void (*executor_send_fn)(void *data, struct json_object *msg, int lossy);

struct executor {
    struct gen_sm sm;
    char *run_dir;                    /* owned */
    executor_send_fn send;
    void *send_data;
    int synced;                       /* the renderer's last word on its informers */
    struct json_object *objects;      /* owned: {"<watched name>": count} from the renderer */
    char prev_lkg[GEN_CHECKSUM_MAX];  /* the LKG before the current one (kept by GC) */
    char durable[GEN_CHECKSUM_MAX];   /* the last generation rundir_sync made durable */
    int gc_wanted;                    /* a publish happened: the caller should run executor_gc */
    int trim_due;                     /* a big message was handled: the next tick trims the heap */
    struct {
        char checksum[GEN_CHECKSUM_MAX];  /* "" for a failed render */
        int64_t event_ms;                 /* CLOCK_MONOTONIC ms of its oldest event */
    } events[EXECUTOR_EVENTS_MAX];        /* in arrival order, not yet in an LKG */
    size_t nevents;
    struct metric_family *m_event_to_lkg;
    uint64_t persist_failures;
    struct metrics_registry *reg;     /* owned */
    struct metric_family *m_generations, *m_quarantined, *m_trials, *m_lkg_generation, *m_persist_failures, *m_lkg_info;
    char info_checksum[GEN_CHECKSUM_MAX]; /* the lkg_info series now at 1 */
    uint64_t seen_published, seen_failed, seen_trials;
};

int executor_init(struct executor *x, const char *run_dir, executor_send_fn send, void *send_data,
                  uint64_t first_render_id);
void executor_free(struct executor *x);

/* Loads lkg.json (logging why one is not used), restores the state machine, announces the LKG and asks the
 * renderer for a candidate with the standing exclusion set. */
int executor_start(struct executor *x, const struct gen_clock *now);
/* Handles rendered, render_failed and validated; other types are ignored. Returns 0, -1 for a malformed
 * message (logged, ignored). */
int executor_on_message(struct executor *x, struct json_object *msg, const char *type, const struct gen_clock *now);
void executor_on_tick(struct executor *x, const struct gen_clock *now);

/* The /debug/vars "pipeline" object (new reference). */
struct json_object *executor_pipeline_json(const struct executor *x);
/* The checksums to keep (n set to how many, at most EXECUTOR_GC_KEEP); pointers into x. */
void executor_gc_keep(const struct executor *x, const char *keep[EXECUTOR_GC_KEEP], size_t *n);

#endif
