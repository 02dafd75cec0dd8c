/* What a leader-election configuration must satisfy, in one place for the config loader (which reports
 * every violation with its key) and the elector (which refuses to start with client-go's words): the
 * timing rules of client-go's NewLeaderElector plus ours, and the identity's length bound. Not the
 * election algorithm (elector/lease.c) nor its wire format. */
#ifndef HTIC_LEASE_RULES_H
#define HTIC_LEASE_RULES_H

#include <stdint.h>

#include "common/term.h"

/* Our own identity's bound is the term's (common/term.h says why 512): longer is refused by the config and
 * the elector, so a term formed from it is never cut. */
#define LEASE_IDENTITY_MAX TERM_IDENTITY_MAX
/* client-go's JitterFactor, in tenths so the rule renewDeadline > retryPeriod x 1.2 is exact in integers. */
#define LEASE_JITTER_TENTHS 12
#define LEASE_JITTER_FACTOR (LEASE_JITTER_TENTHS / 10.0)
/* leaseDurationSeconds is written truncated to whole seconds and the API refuses 0 (422). */
#define LEASE_DURATION_MIN_MS 1000

/* The rules, in client-go's order of checking (ours last). */
enum lease_timing_rule {
    LEASE_RULE_DURATION_ABOVE_DEADLINE = 0, /* lease_duration > renew_deadline */
    LEASE_RULE_DEADLINE_ABOVE_JITTER,       /* renew_deadline > retry_period x LEASE_JITTER_FACTOR */
    LEASE_RULE_DURATION_POSITIVE,
    LEASE_RULE_DEADLINE_POSITIVE,
    LEASE_RULE_RETRY_POSITIVE,
    LEASE_RULE_DURATION_WHOLE_SECOND,       /* lease_duration >= LEASE_DURATION_MIN_MS */
    LEASE_RULE_COUNT
};

#define LEASE_RULE_BIT(r) (1u << (r))

/* The rules these durations (ms) break, as a set of LEASE_RULE_BIT()s; 0 when all hold. */
unsigned lease_rules_broken(int64_t lease_duration_ms, int64_t renew_deadline_ms, int64_t retry_period_ms);
/* client-go's message for a rule (ours for the whole-second one). */
const char *lease_rules_message(enum lease_timing_rule r);

#endif
