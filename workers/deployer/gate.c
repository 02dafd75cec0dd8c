/* The fence check of every side effect (see gate.h). */
#include "workers/deployer/gate.h"

#include <stddef.h>

#include "common/clock.h"

static int64_t real_mono(void *ctx)
{
    (void)ctx;
    return clock_mono_ms();
}

static int64_t real_gap(void *ctx)
{
    (void)ctx;
    int64_t mono = clock_mono_ms();
    return clock_boot_ms() - mono;
}

void deploy_gate_init(struct deploy_gate *g, const struct fence *f)
{
    g->fence = f;
    g->mono_ms = real_mono;
    g->boot_minus_mono_ms = real_gap;
    g->ctx = NULL;
    g->refused = 0;
}

int64_t deploy_gate_now(const struct deploy_gate *g)
{
    return g->mono_ms(g->ctx);
}

int deploy_gate_check(struct deploy_gate *g, int64_t deadline_ms, int64_t *budget_ms)
{
    int64_t now = g->mono_ms(g->ctx);
    if (!fence_allows(g->fence, now, g->boot_minus_mono_ms(g->ctx))) {
        g->refused++;
        return -1;
    }
    int64_t left = fence_left_ms(g->fence, now);
    if (deadline_ms != INT64_MAX && deadline_ms - now < left) left = deadline_ms - now;
    if (left <= 0) {
        g->refused++;
        return -1;
    }
    if (budget_ms) *budget_ms = left;
    return 0;
}
