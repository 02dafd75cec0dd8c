/* The supervisor's /metrics: its own figures (process tree, leadership) in one registry, into which every
 * child's "metrics" report is merged under a role label (common/metrics.h). */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "supervisor/supervisor.h"

static const char *const role_label[] = {"role", NULL};

int supervisor_metrics_init(struct supervisor *s)
{
    struct supervisor_metrics *m = &s->metrics;
    m->reg = metrics_registry_new();
    if (!m->reg) return -1;
    m->restarts = metrics_counter(m->reg, "haproxy_ic_child_restarts_total",
                                  "Restarts of a crashed or hung child process.", role_label, NULL);
    m->up = metrics_gauge(m->reg, "haproxy_ic_child_up", "1 while the child process runs.", role_label, NULL);
    m->uptime = metrics_gauge(m->reg, "haproxy_ic_uptime_seconds", "Seconds since the supervisor started.",
                              NULL, NULL);
    m->is_leader = metrics_gauge(m->reg, "haproxy_ic_leader_election_is_leader",
                                 "1 while this replica holds the lease.", NULL, NULL);
    m->transitions = metrics_counter(m->reg, "haproxy_ic_leader_election_transitions_total",
                                     "Times this replica became leader.", NULL, NULL);
    m->time_as_leader = metrics_counter(m->reg, "haproxy_ic_leader_election_time_as_leader_seconds_total",
                                        "Seconds this replica has been leader, the running term included.",
                                        NULL, NULL);
    m->info = metrics_gauge(m->reg, "haproxy_ic_leader_election_info",
                            "Always 1; labels name this replica and the lease holder it last observed.",
                            (const char *const[]){"identity", "lease_holder", NULL}, NULL);
    m->config_reloads = metrics_counter(m->reg, "haproxy_ic_config_reloads_total",
                                        "Config reloads (SIGHUP or the file changing) by result: applied, refused "
                                        "(the running config stays), unchanged.",
                                        (const char *const[]){"result", NULL}, NULL);
    for (int r = 0; r < ROLE_COUNT; r++)
        metrics_counter_add(m->restarts, (const char *const[]){role_name((enum role_id)r)}, 0);
    static const char *const results[] = {"applied", "refused", "unchanged"};
    for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++)
        metrics_counter_add(m->config_reloads, (const char *const[]){results[i]}, 0);
    return m->restarts && m->up && m->uptime && m->is_leader && m->transitions && m->time_as_leader && m->info &&
                   m->config_reloads
               ? 0
               : -1;
}

void supervisor_metrics_close(struct supervisor *s)
{
    metrics_registry_free(s->metrics.reg);
    s->metrics.reg = NULL;
}

void supervisor_metrics_child_restarted(struct supervisor *s, const char *role)
{
    metrics_counter_inc(s->metrics.restarts, (const char *const[]){role});
}

void supervisor_metrics_became_leader(struct supervisor *s) { metrics_counter_inc(s->metrics.transitions, NULL); }

void supervisor_metrics_config_reload(struct supervisor *s, const char *result)
{
    metrics_counter_inc(s->metrics.config_reloads, (const char *const[]){result});
}

void supervisor_metrics_on_report(struct supervisor *s, const char *role, struct json_object *msg)
{
    struct json_object *arr;
    if (!json_object_object_get_ex(msg, "metrics", &arr)) return;
    struct err e;
    err_clear(&e);
    if (metrics_merge_json(s->metrics.reg, arr, role, &e) < 0)
        log_warn("child metrics report refused in part", "child", role, "error", e.msg);
}

/* Values that are read rather than counted are brought up to date when scraped. */
static void refresh(struct supervisor *s)
{
    struct supervisor_metrics *m = &s->metrics;
    for (int r = 0; r < ROLE_COUNT; r++)
        metrics_gauge_set(m->up, (const char *const[]){role_name((enum role_id)r)},
                          child_running(&s->children[r]) ? 1 : 0);
    metrics_gauge_set(m->uptime, NULL, (double)(clock_mono_ms() - s->started_ms) / 1000.0);
    metrics_gauge_set(m->is_leader, NULL, s->lead.is_leader ? 1 : 0);
    double t = leadership_time_as_leader(s);
    if (t > m->time_as_leader_reported) {
        metrics_counter_add(m->time_as_leader, NULL, t - m->time_as_leader_reported);
        m->time_as_leader_reported = t;
    }
    const char *holder = s->lead.is_leader ? s->opts.identity : s->lead.observed_leader;
    if (strcmp(holder, m->info_holder) != 0) {
        /* one series at 1 at a time: the old holder's drops to 0 rather than lingering */
        metrics_gauge_set(m->info, (const char *const[]){s->opts.identity, m->info_holder}, 0);
        snprintf(m->info_holder, sizeof(m->info_holder), "%s", holder);
    }
    metrics_gauge_set(m->info, (const char *const[]){s->opts.identity, m->info_holder}, 1);
}

void supervisor_metrics_serve(struct supervisor *s, struct http_request *req)
{
    refresh(s);
    struct buf b;
    buf_init(&b);
    if (metrics_write_text(s->metrics.reg, &b) < 0) {
        buf_free(&b);
        http_respond_text(req, 500, "text/plain; charset=utf-8", "out of memory\n");
        return;
    }
    const char *headers[] = {"Content-Type", METRICS_CONTENT_TYPE, NULL};
    http_respond(req, 200, headers, buf_cstr(&b), b.len);
    buf_free(&b);
}
