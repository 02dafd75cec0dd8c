/* The deployer's own guard (invariant 1): it may cause a side effect only while its leadership term is
 * known and the monotonic clock is before the fence the elector last extended. The supervisor kills the
 * deployer at the fence as well; this check holds even if that kill is late. */
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

void fence_init(struct fence *f);
/* A fence never moves backwards within one term; a new term replaces it. sleep_ms: boot - mono now.
 * Returns -1 (the fence unchanged) for a term that does not fit TERM_MAX: cut, it could pass for another. */
int fence_update(struct fence *f, const char *term, int64_t until_ms, int64_t sleep_ms);
/* 1 if a side effect may start at now_ms (CLOCK_MONOTONIC) with sleep_ms = boot - mono now. */
int fence_allows(const struct fence *f, int64_t now_ms, int64_t sleep_ms);
/* ms left before the fence (INT64_MAX in disabled mode, <= 0 once passed). */
int64_t fence_left_ms(const struct fence *f, int64_t now_ms);

#endif
