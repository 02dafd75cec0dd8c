/* The liveness rule behind /healthz: when a replica whose elector claims leadership counts as stuck.
 * Pure (times in, verdict out) so the rule is tested apart from the HTTP server. Not for: the deployer's
 * fence (leadership.c kills it at renew_deadline) or readiness (/readyz, http_api.c). */
#ifndef HTIC_SUPERVISOR_HEALTHZ_H
#define HTIC_SUPERVISOR_HEALTHZ_H

#include <stdint.h>

/* 1 when an elector that claims leadership has not renewed for lease_duration + retry_period.
 * A working elector renews every retry_period or, failing for renew_deadline, says lost_leadership; so it
 * never goes quiet past renew_deadline, and the retry_period on top of lease_duration keeps a slow renewal
 * (renew jitter, a loaded machine) from flapping the probe when lease_duration is close to renew_deadline.
 * Past the bound another replica may hold the Lease while ours still claims it: only a frozen elector does
 * that, and the pod should be restarted. client-go's healthz adaptor has the same shape: lease_duration plus
 * a tolerance. */
int healthz_leader_stale(int elector_claims, int64_t last_renew_ms, int64_t now_ms, int64_t lease_duration_ms,
                         int64_t retry_period_ms);

#endif
