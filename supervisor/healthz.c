/* The /healthz liveness rule (see healthz.h). */
#include "supervisor/healthz.h"

int healthz_leader_stale(int elector_claims, int64_t last_renew_ms, int64_t now_ms, int64_t lease_duration_ms,
                         int64_t retry_period_ms)
{
    if (!elector_claims) return 0;
    return now_ms - last_renew_ms > lease_duration_ms + retry_period_ms;
}
