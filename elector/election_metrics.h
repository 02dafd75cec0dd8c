/* The elector's metrics: every attempt report of the elector loop (election_report, docs/ipc.md) updates a
 * registry here (renewal latency histogram, failures, API requests, observed transitions), which is then
 * sent to the supervisor as a "metrics" report and merged under role="elector" into /metrics. */
#ifndef HTIC_ELECTION_METRICS_H
#define HTIC_ELECTION_METRICS_H

#include <json-c/json.h>
#include <stdint.h>

struct metrics_registry;
struct metric_family;

struct election_metrics {
    struct metrics_registry *reg;  /* owned */
    struct metric_family *renew_seconds, *renew_failures, *requests, *lease_transitions, *watch_healthy;
    int64_t seen_renewals, seen_acquisitions, seen_failures, seen_requests;  /* cumulative, last report */
};

int election_metrics_init(struct election_metrics *m);
/* Applies one election_report. Returns the registry's JSON form (caller puts it), or NULL. */
struct json_object *election_metrics_on_report(struct election_metrics *m, struct json_object *report);
void election_metrics_free(struct election_metrics *m);

#endif
