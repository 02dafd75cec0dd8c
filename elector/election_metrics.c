/* The elector's metrics (see election_metrics.h). */
#include "elector/election_metrics.h"

#include <string.h>

#include "common/metrics.h"

/* Renewals are one PUT on a healthy API (milliseconds) and may take up to renew_deadline (seconds). */
static const double renew_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

int election_metrics_init(struct election_metrics *m)
{
    memset(m, 0, sizeof(*m));
    m->reg = metrics_registry_new();
    if (!m->reg) return -1;
    m->renew_seconds = metrics_histogram(m->reg, "haproxy_ic_leader_election_renew_duration_seconds",
                                         "Time from sending a successful acquire or renew write to its answer.",
                                         NULL, renew_buckets, sizeof(renew_buckets) / sizeof(renew_buckets[0]),
                                         NULL);
    m->renew_failures = metrics_counter(m->reg, "haproxy_ic_leader_election_renew_failures_total",
                                        "Renew attempts that failed while leading.", NULL, NULL);
    m->requests = metrics_counter(m->reg, "haproxy_ic_leader_election_api_requests_total",
                                  "Lease API requests made by the elector.", NULL, NULL);
    m->lease_transitions = metrics_gauge(m->reg, "haproxy_ic_leader_election_lease_transitions",
                                         "leaseTransitions of the Lease as last observed (the term's number).",
                                         NULL, NULL);
    m->watch_healthy = metrics_gauge(m->reg, "haproxy_ic_leader_election_watch_healthy",
                                     "1 while the Lease watch delivers events (followers then do not poll).",
                                     NULL, NULL);
    return m->renew_seconds && m->renew_failures && m->requests && m->lease_transitions && m->watch_healthy
               ? 0
               : -1;
}

static int64_t field(struct json_object *o, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static int flag(struct json_object *o, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

struct json_object *election_metrics_on_report(struct election_metrics *m, struct json_object *report)
{
    int64_t renewals = field(report, "renewals"), acquisitions = field(report, "acquisitions");
    int64_t failures = field(report, "renew_failures"), requests = field(report, "requests");
    /* One report follows every attempt, so at most one new write is timed per report. */
    if (renewals > m->seen_renewals || acquisitions > m->seen_acquisitions)
        metrics_histogram_observe(m->renew_seconds, NULL, (double)field(report, "last_renew_latency_ms") / 1000.0);
    if (failures > m->seen_failures) metrics_counter_add(m->renew_failures, NULL, (double)(failures - m->seen_failures));
    if (requests > m->seen_requests) metrics_counter_add(m->requests, NULL, (double)(requests - m->seen_requests));
    m->seen_renewals = renewals;
    m->seen_acquisitions = acquisitions;
    m->seen_failures = failures;
    m->seen_requests = requests;
    metrics_gauge_set(m->lease_transitions, NULL, (double)field(report, "lease_transitions"));
    metrics_gauge_set(m->watch_healthy, NULL, flag(report, "watch_healthy") ? 1 : 0);
    struct json_object *out = NULL;
    if (metrics_to_json(m->reg, &out) < 0) return NULL;
    return out;
}

void election_metrics_free(struct election_metrics *m)
{
    metrics_registry_free(m->reg);
    m->reg = NULL;
}
