/* The deployer's own guard (safety invariant 1 in docs/architecture.md): it may cause a side effect only
 * while its leadership term is known and the monotonic clock is before the fence the elector last
 * extended. The supervisor kills the deployer at the fence as well; this check holds even if that kill is
 * late. */
#ifndef HTIC_DEPLOYER_FENCE_H
#define HTIC_DEPLOYER_FENCE_H

#include <stdint.h>

#include "common/term.h"

struct fence {
    char term[TERM_MAX]; /* common/term.h; "" until the first leadership message */
    int64_t until_ms;    /* CLOCK_MONOTONIC ms; FENCE_NONE in disabled mode */
    int64_t sleep_ms;    /* CLOCK_BOOTTIME - CLOCK_MONOTONIC when the fence was last set */
    int known;
};

#define FENCE_NONE (-1)
/* CLOCK_MONOTONIC stops while the machine is suspended, CLOCK_BOOTTIME does not: if the two drift apart by
 * more than this since the fence was set, the machine slept, the fence means nothing any more (another
 * replica may lead by now) and nothing is done until a new fence arrives. */
#define FENCE_SUSPEND_SLACK_MS 100

/* A live supervisor kills the deployer at its fence; a deployer still alive this long after it has a
 * supervisor that is stopped or hung, and exits by itself so that no fenced deployer lingers beside the next
 * leader's. Long enough that the supervisor's own kill (on a loop that may run a little late) comes first,
 * so the exit is never mistaken for a crash; capped by fence_exit_grace_ms so it always comes before
 * anyone else can lead. */
#define FENCE_EXIT_GRACE_MS 200

void fence_init(struct fence *f);
/* A fence never moves backwards within one term; a new term replaces it. sleep_ms: boot - mono now.
 * Returns -1 (the fence unchanged) for a term that does not fit TERM_MAX: cut, it could pass for another. */
int fence_update(struct fence *f, const char *term, int64_t until_ms, int64_t sleep_ms);
/* 1 if a side effect may start at now_ms (CLOCK_MONOTONIC) with sleep_ms = boot - mono now. */
int fence_allows(const struct fence *f, int64_t now_ms, int64_t sleep_ms);
/* ms left before the fence (INT64_MAX in disabled mode, <= 0 once passed). */
int64_t fence_left_ms(const struct fence *f, int64_t now_ms);
/* The grace after the fence before the deployer exits on its own: FENCE_EXIT_GRACE_MS, but at most half of
 * lease_duration - renew_deadline (the time between our fence and the earliest takeover by another). */
int64_t fence_exit_grace_ms(int64_t lease_duration_ms, int64_t renew_deadline_ms);
/* When the deployer must exit if the fence is not extended (CLOCK_MONOTONIC ms); -1: never (no term yet,
 * or disabled mode). */
int64_t fence_exit_at_ms(const struct fence *f, int64_t grace_ms);

#endif
