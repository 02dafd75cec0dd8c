/* The deployer's own guard (invariant 1): it may cause a side effect only while its leadership term is
 * known and the monotonic clock is before the fence the elector last extended. The supervisor kills the
 * deployer at the fence as well; this check holds even if that kill is late. */
#ifndef HTIC_DEPLOYER_FENCE_H
#define HTIC_DEPLOYER_FENCE_H

#include <stdint.h>

struct fence {
    char term[300];      /* holder/leaseTransitions; "" until the first leadership message */
    int64_t until_ms;    /* CLOCK_MONOTONIC ms; FENCE_NONE in disabled mode */
    int known;
};

#define FENCE_NONE (-1)

void fence_init(struct fence *f);
/* A fence never moves backwards within one term; a new term replaces it. */
void fence_update(struct fence *f, const char *term, int64_t until_ms);
/* 1 if a side effect may start at now_ms. */
int fence_allows(const struct fence *f, int64_t now_ms);
/* ms left before the fence (INT64_MAX in disabled mode, <= 0 once passed). */
int64_t fence_left_ms(const struct fence *f, int64_t now_ms);

#endif
