/* The fence as the deployer's writers see it: every side effect (a file write, a rename, an unlink, a
 * master CLI command) calls deploy_gate_check immediately before it starts, and is bounded by the budget
 * it returns: the time left before both the fence and the push's own deadline. The clock is a pointer so
 * unit tests run the writers on a fake clock.
 * Not for: deciding leadership (fence.h holds the fence; the supervisor sends it). */
#ifndef HTIC_DEPLOYER_GATE_H
#define HTIC_DEPLOYER_GATE_H

#include <stdint.h>

#include "workers/deployer/fence.h"

struct deploy_gate {
    const struct fence *fence;            /* borrowed: the deployer's, updated as renewals arrive */
    int64_t (*mono_ms)(void *ctx);        /* CLOCK_MONOTONIC ms */
    int64_t (*boot_minus_mono_ms)(void *ctx);
    void *ctx;
    uint64_t refused;                     /* checks that said no */
};

/* The real clocks. */
void deploy_gate_init(struct deploy_gate *g, const struct fence *f);
/* 0 and *budget_ms (> 0) if a side effect may start now and must end within *budget_ms; -1 if the fence
 * (or deadline_ms, a CLOCK_MONOTONIC time; INT64_MAX for none) does not allow it. budget_ms may be NULL. */
int deploy_gate_check(struct deploy_gate *g, int64_t deadline_ms, int64_t *budget_ms);
int64_t deploy_gate_now(const struct deploy_gate *g);

#endif
