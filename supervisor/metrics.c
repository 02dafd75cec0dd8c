/* The supervisor's own figures on /metrics, in Prometheus text format 0.0.4: process tree and leadership. */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "supervisor/supervisor.h"

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values here are our own role names and Kubernetes object names: escape anyway, the format asks. */
static void put_label_value(struct buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') buf_printf(b, "\\%c", *v);
        else if (*v == '\n') buf_puts(b, "\\n");
        else buf_putc(b, *v);
    }
}

void supervisor_metrics_write(struct supervisor *s, struct buf *b)
{
    const struct leadership *l = &s->lead;
    family(b, "haproxy_ic_child_restarts_total", "counter", "Restarts of a crashed or hung child process.");
    for (int r = 0; r < ROLE_COUNT; r++)
        buf_printf(b, "haproxy_ic_child_restarts_total{role=\"%s\"} %llu\n", role_name((enum role_id)r),
                   (unsigned long long)s->children[r].restarts);
    family(b, "haproxy_ic_child_up", "gauge", "1 while the child process runs.");
    for (int r = 0; r < ROLE_COUNT; r++)
        buf_printf(b, "haproxy_ic_child_up{role=\"%s\"} %d\n", role_name((enum role_id)r),
                   child_running(&s->children[r]) ? 1 : 0);
    family(b, "haproxy_ic_uptime_seconds", "gauge", "Seconds since the supervisor started.");
    buf_printf(b, "haproxy_ic_uptime_seconds %.3f\n", (double)(clock_mono_ms() - s->started_ms) / 1000.0);

    family(b, "haproxy_ic_leader_election_is_leader", "gauge", "1 while this replica holds the lease.");
    buf_printf(b, "haproxy_ic_leader_election_is_leader %d\n", l->is_leader ? 1 : 0);
    family(b, "haproxy_ic_leader_election_transitions_total", "counter",
           "Times this replica became leader.");
    buf_printf(b, "haproxy_ic_leader_election_transitions_total %llu\n", (unsigned long long)l->transitions);
    family(b, "haproxy_ic_leader_election_time_as_leader_seconds_total", "counter",
           "Seconds this replica has been leader, the running term included.");
    buf_printf(b, "haproxy_ic_leader_election_time_as_leader_seconds_total %.3f\n",
               leadership_time_as_leader(s));
    family(b, "haproxy_ic_leader_election_info", "gauge",
           "Always 1; labels name this replica and the lease holder it last observed.");
    buf_puts(b, "haproxy_ic_leader_election_info{identity=\"");
    put_label_value(b, s->opts.identity);
    buf_puts(b, "\",lease_holder=\"");
    put_label_value(b, l->is_leader ? s->opts.identity : l->observed_leader);
    buf_puts(b, "\"} 1\n");
}

void supervisor_metrics_serve(struct supervisor *s, struct http_request *req)
{
    struct buf b;
    buf_init(&b);
    supervisor_metrics_write(s, &b);
    const char *headers[] = {"Content-Type", "text/plain; version=0.0.4; charset=utf-8", NULL};
    http_respond(req, 200, headers, buf_cstr(&b), b.len);
    buf_free(&b);
}
