/* The validator's latest-wins queue: which rendered generation to check next, and which answers need no
 * check at all. Pure (no loop, no I/O, the clock passed in), so every rule is tested on its own.
 *
 * Rules:
 * - At most one check runs. A request arriving while one runs waits; only the newest waiting request is
 *   kept: the one it replaces is stale and is answered "superseded" at once (it never runs).
 * - A newer request always makes the waiting one stale, even when the newer one needs no check.
 * - Results are cached by checksum (same checksum = same bytes = same haproxy verdict): a request whose
 *   checksum was validated recently is answered from the cache, and one equal to the running check waits
 *   and is then answered from that check's result. Only valid/invalid verdicts are cached; a timeout or an
 *   error may be passing and is checked again next time.
 * - The running check is never stopped by newer requests: its answer still tells the executor about that
 *   render, and its verdict lands in the cache.
 * Not for: running haproxy (haproxy_check.c) or encoding messages (main.c). */
#ifndef HTIC_VALIDATOR_QUEUE_H
#define HTIC_VALIDATOR_QUEUE_H

#include <stddef.h>
#include <stdint.h>

/* Verdicts remembered: the current generation, the LKG, and the few a bisection trial flips between. */
#define VALIDATOR_QUEUE_CACHE_MAX 16
/* A cached verdict is trusted this long: haproxy -c also resolves server host names, and DNS changes. */
#define VALIDATOR_QUEUE_CACHE_TTL_MS (10 * 60 * 1000)

/* One `rendered` message's request. Strings owned. */
struct validator_request {
    char *render_id;
    char *checksum;
    char *dir;
    int trial;
};

/* A check's verdict. Strings owned. */
struct validator_verdict {
    int ok;
    int outcome;       /* enum haproxy_check_outcome */
    char *message;
    char *warnings;
    int64_t duration_ms;
};

struct validator_queue_entry {
    char *checksum;    /* owned; NULL: free slot */
    struct validator_verdict v;
    int64_t at_ms;
};

struct validator_queue {
    struct validator_request *running;   /* owned; the check in progress */
    struct validator_request *waiting;   /* owned; the newest request not yet run */
    struct validator_queue_entry cache[VALIDATOR_QUEUE_CACHE_MAX];
    size_t next_slot;                    /* oldest entry, replaced next when the cache is full */
    uint64_t superseded, cache_hits, runs;
};

/* What the caller must do after a submit or a done. Everything here is owned by the actions (free with
 * validator_queue_actions_free) except `run`, which the queue keeps as its running request, and `cached`,
 * which points into the cache (valid until the next queue call). */
struct validator_queue_actions {
    struct validator_request *finished;   /* done only: the request whose check ended (answer: its verdict) */
    struct validator_request *from_cache; /* answer this one with *cached, no check */
    const struct validator_verdict *cached;
    struct validator_request *superseded; /* answer this one "superseded" by superseded_by */
    const char *superseded_by;            /* render_id of the newer request (points into the queue's copy) */
    const struct validator_request *run;  /* start a check of this one now */
};

void validator_queue_init(struct validator_queue *q);
void validator_queue_free(struct validator_queue *q);

/* Takes ownership of r. */
void validator_queue_submit(struct validator_queue *q, struct validator_request *r, int64_t now_ms,
                            struct validator_queue_actions *out);
/* The running check ended with v (copied; caching it if valid/invalid). */
void validator_queue_done(struct validator_queue *q, const struct validator_verdict *v, int64_t now_ms,
                          struct validator_queue_actions *out);
void validator_queue_actions_free(struct validator_queue_actions *a);
/* Empties the verdict cache: a new haproxy binary or new production paths give another verdict on the same
 * bytes. */
void validator_queue_forget_verdicts(struct validator_queue *q);

struct validator_request *validator_request_new(const char *render_id, const char *checksum, const char *dir,
                                                int trial);
void validator_request_free(struct validator_request *r);

#endif
