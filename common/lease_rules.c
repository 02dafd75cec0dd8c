/* Leader-election configuration rules shared by the config and the elector (see lease_rules.h). */
#include "common/lease_rules.h"

unsigned lease_rules_broken(int64_t ld, int64_t rd, int64_t rp)
{
    unsigned v = 0;
    if (ld <= rd) v |= LEASE_RULE_BIT(LEASE_RULE_DURATION_ABOVE_DEADLINE);
    if (rd * 10 <= rp * LEASE_JITTER_TENTHS) v |= LEASE_RULE_BIT(LEASE_RULE_DEADLINE_ABOVE_JITTER);
    if (ld < 1) v |= LEASE_RULE_BIT(LEASE_RULE_DURATION_POSITIVE);
    if (rd < 1) v |= LEASE_RULE_BIT(LEASE_RULE_DEADLINE_POSITIVE);
    if (rp < 1) v |= LEASE_RULE_BIT(LEASE_RULE_RETRY_POSITIVE);
    if (ld < LEASE_DURATION_MIN_MS) v |= LEASE_RULE_BIT(LEASE_RULE_DURATION_WHOLE_SECOND);
    return v;
}

const char *lease_rules_message(enum lease_timing_rule r)
{
    switch (r) {
    case LEASE_RULE_DURATION_ABOVE_DEADLINE: return "leaseDuration must be greater than renewDeadline";
    case LEASE_RULE_DEADLINE_ABOVE_JITTER: return "renewDeadline must be greater than retryPeriod*JitterFactor";
    case LEASE_RULE_DURATION_POSITIVE: return "leaseDuration must be greater than zero";
    case LEASE_RULE_DEADLINE_POSITIVE: return "renewDeadline must be greater than zero";
    case LEASE_RULE_RETRY_POSITIVE: return "retryPeriod must be greater than zero";
    case LEASE_RULE_DURATION_WHOLE_SECOND: return "leaseDuration must be at least 1s (it is written in whole seconds)";
    case LEASE_RULE_COUNT: break;
    }
    return "?";
}
