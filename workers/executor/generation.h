/* The executor's generation state machine and its last-known-good (LKG). Pure: no I/O, no clock of its own
 * (time is passed in), so tests drive it with a scripted renderer and validator.
 *
 * Inputs: the renderer's results (gen_on_rendered, gen_on_render_failed; candidates and bisection trials),
 * the validator's (gen_on_validated) and a periodic gen_on_tick. Outputs: actions the caller carries out
 * (ask the renderer for a render with an exclusion set, publish an LKG, record last_error, quarantine or
 * release an object), valid until the next input.
 *
 * Rules (docs/architecture.md, "Data flow", says the same for operators):
 * - Generation numbers are assigned here, monotonic; a candidate whose checksum equals the LKG's, the
 *   current candidate's or the last failed one's creates no new generation and is not an error.
 * - A candidate that fails (render or validate) starts a bisection of the objects changed since the LKG:
 *   trial renders with part of the changes excluded (held at their LKG version, or absent if new), each
 *   validated, narrow down to an object whose inclusion breaks a known-good set; it is quarantined with the
 *   failure's message, and the search goes on over what is left until a trial of every other change passes,
 *   which is published as the new LKG. One bad object among n costs about log2(n) + 1 trials.
 * - With no LKG yet the bisection runs against the empty set: a first trial excludes every changed object;
 *   if even that fails, no object is to blame (a template or config problem): last_error only.
 * - A quarantined object is released (retried) when it changes: it shows up in a candidate's changed list.
 * - New changes arriving mid-bisection restart it with the union, at most GEN_MAX_RESTARTS times in a row;
 *   after that the running bisection finishes and newer changes are picked up by the render that follows.
 * Not for: talking IPC (main.c), persisting the LKG (lkg.c). */
#ifndef HTIC_EXECUTOR_GENERATION_H
#define HTIC_EXECUTOR_GENERATION_H

#include <stddef.h>
#include <stdint.h>

/* "sha256:" + 64 hex + NUL fits; checksums are compared, never parsed here. */
#define GEN_CHECKSUM_MAX 80
/* Messages quote a few config lines around each HAProxy alert; longer ones are cut (the log has all). */
#define GEN_MESSAGE_MAX 2048
/* Objects changed since the LKG that bisection can reason about: 10k Ingresses with their Services and
 * EndpointSlices at initial sync are about 30k. Past this a failure is reported, not bisected. */
#define GEN_MAX_PENDING 262144
/* Quarantined objects at once: each costs a few hundred bytes in lkg.json and in every report. */
#define GEN_MAX_QUARANTINED 4096
/* Trials of one bisection: k bad objects among n cost about k * (log2(n) + 1); 256 finds 16 bad ones among
 * 10k changes. Each trial is a render plus haproxy -c (up to seconds at scale): past this, an operator
 * needs to hear about it more than the search needs to finish. */
#define GEN_MAX_TRIALS 256
/* Restarts in a row because new changes came in mid-bisection. Each restart throws away up to log2(n)
 * trials; under a steady stream of changes a bisection would never end, so after 4 it runs to its end
 * (good changes reach the LKG within a bounded time) and newer changes follow in the next round. */
#define GEN_MAX_RESTARTS 4
/* A trial, or a candidate's validation, not answered in this long is asked for again (the renderer or
 * validator may have restarted and forgotten it): well above a render plus haproxy -c at 10k objects. */
#define GEN_ANSWER_TIMEOUT_MS 60000
/* A validation that could not decide (haproxy -c timed out, could not run) is asked for again this much
 * later: long enough not to spin on a broken validator, short enough that a passing hiccup costs seconds. */
#define GEN_RETRY_INCONCLUSIVE_MS 5000
/* Candidates in a row rendered without the quarantined objects excluded (a restarted renderer) that make
 * us resend the standing exclusion set before the candidate is taken as it is. */
#define GEN_MAX_RESYNCS 3

/* An object: resource (the watched_resources name), namespace ("" when cluster-scoped), name. As an input
 * it is borrowed; held by the state machine, one allocation starting at .resource owns all three. */
struct gen_object {
    const char *resource;
    const char *namespace;
    const char *name;
};

struct gen_quarantined {
    struct gen_object obj;  /* owned */
    char *reason;           /* owned: the failure the object was found to cause */
    int64_t since_wall_ms;
};

struct gen_lkg {
    uint64_t generation;
    char checksum[GEN_CHECKSUM_MAX];
    int64_t at_wall_ms;
};

struct gen_clock {
    int64_t mono_ms;  /* timeouts */
    int64_t wall_ms;  /* stamps shown to people (LKG "at", quarantine "since") */
};

enum gen_action_type {
    GEN_ACT_RENDER = 0,  /* render_request {render_id, trial, exclude} */
    GEN_ACT_PUBLISH,     /* a new LKG: generation, checksum, at_wall_ms */
    GEN_ACT_ERROR,       /* last_error changed: generation, stage, message */
    GEN_ACT_QUARANTINE,  /* obj, reason */
    GEN_ACT_RELEASE,     /* obj (it changed; it is retried) */
};

struct gen_action {
    enum gen_action_type type;
    /* RENDER: trial 1 = a bisection trial (render once with exactly this exclusion set); trial 0 = render
     * a candidate now and keep exclude as the standing set (the quarantined objects). */
    uint64_t render_id;
    int trial;
    struct gen_object *exclude;  /* owned, each owned */
    size_t nexclude;
    /* PUBLISH, ERROR */
    uint64_t generation;
    char checksum[GEN_CHECKSUM_MAX];
    int64_t at_wall_ms;
    const char *stage;           /* ERROR: "render" or "validate" (static) */
    char *message;               /* ERROR, QUARANTINE (the reason): owned */
    struct gen_object obj;       /* QUARANTINE, RELEASE: owned */
};

struct gen_objset {
    struct gen_object *items;  /* owned, each owned; sorted by (resource, namespace, name), unique */
    size_t len, cap;
    int overflow;              /* more than GEN_MAX_PENDING were added: contents incomplete */
};

enum gen_phase { GEN_IDLE = 0, GEN_VALIDATING, GEN_BISECTING };
enum gen_trial_kind { GEN_TRIAL_BASELINE = 0, GEN_TRIAL_NARROW, GEN_TRIAL_CONFIRM };

/* Bisection over the pending set frozen at its start (indices into pending.items). Invariants: rendering
 * with the GOOD objects validates (good_checksum); with GOOD + cand it fails (fail_message). */
struct gen_bisect {
    unsigned char *state;   /* owned, per pending object: GOOD, CAND, REST, BAD */
    size_t *cand, ncand;    /* owned */
    size_t *rest, nrest;    /* owned: not yet known, excluded until the confirm trial */
    size_t half;            /* NARROW: cand[0..half) included in the outstanding trial */
    int kind;               /* enum gen_trial_kind of the outstanding trial */
    int have_good;
    char good_checksum[GEN_CHECKSUM_MAX];
    const char *fail_stage;
    char fail_message[GEN_MESSAGE_MAX];
    uint64_t trial_id;
    int64_t trial_sent_ms;
    int trial_rendered;
    char trial_checksum[GEN_CHECKSUM_MAX];
    unsigned trials;
    size_t good_count;
};

struct gen_error {
    uint64_t generation;
    const char *stage;                /* "render" | "validate" (static) */
    char message[GEN_MESSAGE_MAX];
};

/* Read-only for callers (main.c reports these); changed only by the gen_on_* functions. */
struct gen_sm {
    uint64_t last_generation;       /* the newest number assigned ("pipeline.generation") */
    int have_lkg;
    struct gen_lkg lkg;
    struct gen_quarantined *quarantined;  /* owned */
    size_t nquarantined, capquarantined;
    int have_error;
    struct gen_error last_error;
    int phase;                       /* enum gen_phase */
    /* the current candidate (VALIDATING, or being bisected) */
    uint64_t cand_generation;
    char cand_checksum[GEN_CHECKSUM_MAX];
    int64_t cand_since_ms;
    int cand_failed;                 /* the current candidate failed (and was or is being bisected) */
    char failed_checksum[GEN_CHECKSUM_MAX];  /* the last candidate that failed validation */
    char failed_render[GEN_MESSAGE_MAX];     /* the last candidate render error, until a render succeeds */
    struct gen_objset pending;       /* objects changed since the LKG */
    struct gen_objset pending_next;  /* changes that came in while a bisection could not restart */
    int newer;                       /* a candidate came in while the bisection could not restart */
    unsigned restarts;
    unsigned resyncs;
    int no_bisect;                   /* a bisection gave up: the next failure without changes is not bisected */
    struct gen_bisect b;
    uint64_t next_render_id;
    /* counters for metrics */
    uint64_t published, failed, trials_total, quarantines, releases, restarts_total;
    struct gen_action *actions;      /* owned, each owned */
    size_t nactions, capactions;
};

/* first_render_id: where the executor's render ids start; pass something that differs between executor
 * runs (the monotonic clock) so a restarted executor ignores an answer meant for its predecessor. */
void gen_init(struct gen_sm *sm, uint64_t first_render_id);
void gen_free(struct gen_sm *sm);

/* Restores a persisted LKG and quarantine list (lkg.c) before any input. Returns 0, -1 out of memory. */
int gen_restore(struct gen_sm *sm, const struct gen_lkg *lkg, const struct gen_quarantined *q, size_t nq);

/* Asks for a candidate rendered with the standing exclusion set (at start: a restarted renderer or
 * executor syncs up; the candidate then equals the LKG and makes no generation). */
int gen_on_start(struct gen_sm *sm, const struct gen_clock *now);

/* A render result. trial 1: a bisection trial (render_id is ours), else a candidate. changed: objects
 * changed since the renderer's previous candidate; excluded: what it held back. Returns 0, -1 on a
 * malformed input (ignored) or out of memory. */
int gen_on_rendered(struct gen_sm *sm, const struct gen_clock *now, uint64_t render_id, int trial,
                    const char *checksum, const struct gen_object *changed, size_t nchanged,
                    const struct gen_object *excluded, size_t nexcluded);
int gen_on_render_failed(struct gen_sm *sm, const struct gen_clock *now, uint64_t render_id, int trial,
                         const char *message, const struct gen_object *changed, size_t nchanged);
/* A validation result: trials are matched by render_id, candidates by checksum. */
int gen_on_validated(struct gen_sm *sm, const struct gen_clock *now, uint64_t render_id, const char *checksum,
                     int ok, const char *message);
/* A validation that reached no verdict: superseded 1 (never checked: a newer request replaced it while it
 * waited) re-asks a trial at once under a new id and ignores a candidate (a newer one is on its way);
 * superseded 0 (timeout, haproxy could not run) records last_error and asks again after
 * GEN_RETRY_INCONCLUSIVE_MS. Neither is a failure: nothing is bisected or quarantined on it. */
int gen_on_inconclusive(struct gen_sm *sm, const struct gen_clock *now, uint64_t render_id, const char *checksum,
                        int superseded, const char *message);
/* Re-asks for a trial or a candidate's validation not answered within GEN_ANSWER_TIMEOUT_MS. */
int gen_on_tick(struct gen_sm *sm, const struct gen_clock *now);

/* The actions of the last input; valid until the next gen_on_* call. */
const struct gen_action *gen_actions(const struct gen_sm *sm, size_t *n);

int gen_object_cmp(const struct gen_object *a, const struct gen_object *b);
/* A copy holding one allocation at .resource; free with gen_object_free. Returns 0 or -1. */
int gen_object_copy(struct gen_object *dst, const struct gen_object *src);
void gen_object_free(struct gen_object *o);

#endif
