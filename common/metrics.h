/* Prometheus metrics: a small registry of counters, gauges and fixed-bucket histograms with labels, the
 * text exposition format 0.0.4 writer, and a JSON form children use to report their values to the
 * supervisor, which merges them into its own registry under a `role` label.
 *
 * JSON form (the body of an IPC {"type":"metrics","metrics":[...]} message, see docs/ipc.md):
 *   [{"name":"htic_x_total","type":"counter|gauge|histogram","help":"...","labels":["k1","k2"],
 *     "buckets":[0.1,1,10],                                 (histograms only; +Inf implied)
 *     "series":[{"labels":["v1","v2"],"value":3}]           (counter, gauge)
 *     "series":[{"labels":[],"counts":[1,4,6],"count":7,"sum":12.5}]}]  (histogram; counts cumulative)
 * Numbers are JSON numbers, or the strings "NaN", "+Inf", "-Inf". A report is a full snapshot: merging sets
 * the values of the reporting role's series, it never adds. Not thread-safe (one loop per process). */
#ifndef HTIC_METRICS_H
#define HTIC_METRICS_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

struct json_object;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Bounds: reports come from other processes, so nothing they send may grow the supervisor without limit. */
#define METRICS_MAX_FAMILIES 512     /* far above what the controller defines (a few dozen) */
#define METRICS_MAX_SERIES 2048      /* per family: label cardinality beyond this is a bug, not data */
#define METRICS_MAX_LABELS 8         /* per family, including the role label added on merge */
#define METRICS_MAX_BUCKETS 64       /* per histogram */
#define METRICS_NAME_MAX 128         /* metric and label names */
#define METRICS_VALUE_MAX 256        /* label values (bytes) */
#define METRICS_HELP_MAX 1024

enum metric_type { METRIC_COUNTER = 0, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics_registry;
struct metric_family;

struct metrics_registry *metrics_registry_new(void);
void metrics_registry_free(struct metrics_registry *r);

/* Registers a family, or returns the existing one of that name if type, labels (and buckets) match.
 * labels: label names, NULL-terminated, or NULL for none. Returns NULL (with a reason in e, may be NULL) for
 * an invalid name, a conflict with an existing family, or a full registry. Families live as long as r. */
struct metric_family *metrics_counter(struct metrics_registry *r, const char *name, const char *help,
                                      const char *const *labels, struct err *e);
struct metric_family *metrics_gauge(struct metrics_registry *r, const char *name, const char *help,
                                    const char *const *labels, struct err *e);
/* buckets: strictly increasing finite upper bounds (+Inf is implied). */
struct metric_family *metrics_histogram(struct metrics_registry *r, const char *name, const char *help,
                                        const char *const *labels, const double *buckets, size_t nbuckets,
                                        struct err *e);

/* values: one label value per label name of the family (NULL when it has none). Return 0, or -1 for a NULL
 * family, a wrong type, a negative counter increment, or a series beyond METRICS_MAX_SERIES. */
int metrics_counter_add(struct metric_family *f, const char *const *values, double v);
int metrics_counter_inc(struct metric_family *f, const char *const *values);
int metrics_gauge_set(struct metric_family *f, const char *const *values, double v);
int metrics_gauge_add(struct metric_family *f, const char *const *values, double v);
int metrics_histogram_observe(struct metric_family *f, const char *const *values, double v);

/* Appends the text exposition (families sorted by name). Returns 0, -1 when out of memory. */
int metrics_write_text(const struct metrics_registry *r, struct buf *out);

/* The JSON form of every family (an array; see the header comment). */
int metrics_to_json(const struct metrics_registry *r, struct json_object **out);

/* Merges a child's report (the JSON array) into r: each family gets the extra label `role` = role, each
 * reported series of that role is set to the reported values. Families already in r must agree in type,
 * labels and buckets. Invalid families are skipped; returns 0, or -1 with the first problem in e. */
int metrics_merge_json(struct metrics_registry *r, const struct json_object *metrics, const char *role,
                       struct err *e);

/* Drops every series carrying role=<role> (e.g. the deployer's after it was stopped on losing leadership). */
void metrics_forget_role(struct metrics_registry *r, const char *role);

/* Shortest text that reads back as the same double; NaN, +Inf, -Inf as Prometheus spells them. */
void metrics_format_double(double v, char *out, size_t n);

#endif
