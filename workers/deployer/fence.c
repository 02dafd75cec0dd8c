/* The deployer's fence check (see fence.h). */
#include "workers/deployer/fence.h"

#include <stdint.h>
#include <string.h>

void fence_init(struct fence *f)
{
    memset(f, 0, sizeof(*f));
    f->until_ms = 0;
}

int fence_update(struct fence *f, const char *term, int64_t until_ms, int64_t sleep_ms)
{
    if (strlen(term) >= sizeof(f->term)) return -1;
    if (f->known && strcmp(f->term, term) == 0 && f->until_ms != FENCE_NONE && until_ms != FENCE_NONE &&
        until_ms < f->until_ms)
        return 0;
    term_copy(f->term, term);
    f->until_ms = until_ms;
    f->sleep_ms = sleep_ms;
    f->known = 1;
    return 0;
}

int fence_allows(const struct fence *f, int64_t now_ms, int64_t sleep_ms)
{
    if (!f->known) return 0;
    if (f->until_ms == FENCE_NONE) return 1;
    if (sleep_ms - f->sleep_ms > FENCE_SUSPEND_SLACK_MS) return 0;
    return now_ms < f->until_ms;
}

int64_t fence_left_ms(const struct fence *f, int64_t now_ms)
{
    if (!f->known) return 0;
    if (f->until_ms == FENCE_NONE) return INT64_MAX;
    return f->until_ms - now_ms;
}

int64_t fence_exit_grace_ms(int64_t lease_duration_ms, int64_t renew_deadline_ms)
{
    int64_t half_margin = (lease_duration_ms - renew_deadline_ms) / 2;
    int64_t g = FENCE_EXIT_GRACE_MS < half_margin ? FENCE_EXIT_GRACE_MS : half_margin;
    return g > 0 ? g : 0;
}

int64_t fence_exit_at_ms(const struct fence *f, int64_t grace_ms)
{
    if (!f->known || f->until_ms == FENCE_NONE) return -1;
    return f->until_ms + grace_ms;
}
