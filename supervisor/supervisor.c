/* The supervisor's process tree: starts every child, restarts crashed ones, watches heartbeats, talks to
 * systemd, and runs the ordered shutdown (deployer, then elector, then the other workers, each stage
 * bounded, the whole bounded by shutdown_timeout). Leadership decisions live in leadership.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config/config.h"
#include "common/log.h"
#include "supervisor/readiness.h"
#include "supervisor/supervisor.h"

/* A child is healthy for the systemd watchdog if it sent something this recently. */
#define HEARTBEAT_FRESH_MS (3 * 1000)
#define MONITOR_PERIOD_MS 500
#define STR_(x) #x
#define STR(x) STR_(x)

static void next_stage(struct supervisor *s);
static void begin_shutdown(struct supervisor *s, const char *why);

static enum role_id child_role(const struct supervisor *s, const struct child *c)
{
    return (enum role_id)(c - s->children);
}

int supervisor_expects_child(const struct supervisor *s, enum role_id r)
{
    switch (role_get(r)->runs) {
    case ROLE_RUNS_WITH_ELECTION: return s->opts.election_enabled;
    case ROLE_RUNS_WHILE_LEADING: return 0; /* spawned by leadership.c */
    case ROLE_RUNS_ALWAYS: break;
    }
    return 1;
}

/* READY=1 once, at the moment /readyz first answers 200: every expected child up and the pipeline ready
 * (readiness.h). Called on every hello and pipeline report. */
static void maybe_ready(struct supervisor *s)
{
    if (s->ready_sent || s->stage != RUNNING) return;
    for (int r = 0; r < ROLE_COUNT; r++)
        if (supervisor_expects_child(s, (enum role_id)r) && !child_up(&s->children[r])) return;
    if (!s->children_up_logged) {
        s->children_up_logged = 1;
        log_info("all children up", "startup_ms", LOG_INT(clock_mono_ms() - s->started_ms));
    }
    if (!s->pipeline_ready) return;
    s->ready_sent = 1;
    log_info("ready: every child up, synced, a last-known-good held", "startup_ms",
             LOG_INT(clock_mono_ms() - s->started_ms));
    sd_notify_send("READY=1\nSTATUS=ready: synced, last-known-good held");
}

/* ---- routing: every message a child sends, by type (docs/ipc.md) ---- */

static void on_hello(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    if (from == ROLE_ELECTOR) leadership_on_elector_hello(s);
    if (from == ROLE_DEPLOYER) leadership_on_deployer_hello(s);
    router_on_role_up(&s->router, from); /* after the deployer's fence: it acts on nothing before that */
    /* a child says hello on the snapshot it was spawned with, the running one (a reload racing its start
     * sends it the new config as well, answered later) */
    snprintf(s->rt.applied[from], sizeof(s->rt.applied[from]), "%s", s->rt.checksum);
    maybe_ready(s);
}

static void on_event(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    commentator_on_event(role_name(from), msg);
}

static void on_metrics(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    supervisor_metrics_on_report(s, role_name(from), msg);
}

static void on_deploy_report(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    json_object_put(s->deploy_report);
    s->deploy_report = json_object_get(msg);
}

/* The executor's view of the pipeline (synced, generation, LKG, last error, quarantine), kept as sent. */
static void on_pipeline_report(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    (void)from;
    struct json_object *p;
    if (!json_object_object_get_ex(msg, "pipeline", &p) || !json_object_is_type(p, json_type_object)) return;
    json_object_put(s->pipeline);
    s->pipeline = json_object_get(p);
    if (!s->pipeline_ready && readiness_pipeline_ready(p)) {
        s->pipeline_ready = 1; /* latched: see readiness.h */
        log_info("pipeline ready: synced with a last-known-good", "startup_ms",
                 LOG_INT(clock_mono_ms() - s->started_ms));
    }
    maybe_ready(s);
}

#define FROM(role) ROUTE_ROLE(ROLE_##role)

/* The table docs/ipc.md describes. A route with a handler is parsed and handled here; one without is
 * forwarded as the sender's bytes to its destinations (to nobody: taken and not parsed). */
static const struct route routes[] = {
    {.type = "hello", .from = ROUTE_ANY_ROLE, .handle = on_hello},
    /* liveness only: child.c notes the time of every frame, so a heartbeat needs no parsing */
    {.type = "heartbeat", .from = ROUTE_ANY_ROLE, .to = 0},
    {.type = "event", .from = ROUTE_ANY_ROLE, .handle = on_event},
    {.type = "metrics", .from = ROUTE_ANY_ROLE, .handle = on_metrics},
    {.type = "became_leader", .from = FROM(ELECTOR), .handle = leadership_on_became_leader},
    {.type = "renewed", .from = FROM(ELECTOR), .handle = leadership_on_renewed},
    {.type = "lost_leadership", .from = FROM(ELECTOR), .handle = leadership_on_lost_leadership},
    {.type = "new_leader_observed", .from = FROM(ELECTOR), .handle = leadership_on_new_leader_observed},
    {.type = "election_report", .from = FROM(ELECTOR), .handle = leadership_on_election_report},
    {.type = "deploy_report", .from = FROM(DEPLOYER), .handle = on_deploy_report},
    /* the answer to the supervisor's `config` message (docs/ipc.md): applied, or restart me */
    {.type = "config_applied", .from = ROUTE_ANY_ROLE, .handle = config_runtime_on_applied},
    /* Pipeline traffic (docs/ipc.md "Pipeline messages"). Deltas are increments, so an old one replayed to a
     * restarted renderer would be wrong: it asks for a resync instead. State messages are kept: a destination
     * that starts (the deployer on becoming leader, a restarted validator) gets the newest at once. */
    {.type = "deltas", .from = FROM(RECONCILER), .to = FROM(RENDERER), .absent = ROUTE_DROP},
    {.type = "synced", .from = FROM(RECONCILER), .to = FROM(RENDERER), .absent = ROUTE_DROP},
    {.type = "resync", .from = FROM(RENDERER), .to = FROM(RECONCILER), .absent = ROUTE_DROP},
    /* store: on-demand: the renderer asks for the objects its templates read, the reconciler answers */
    {.type = "fetch", .from = FROM(RENDERER), .to = FROM(RECONCILER), .absent = ROUTE_DROP},
    {.type = "fetched", .from = FROM(RECONCILER), .to = FROM(RENDERER), .absent = ROUTE_DROP},
    {.type = "rendered", .from = FROM(RENDERER), .to = FROM(VALIDATOR) | FROM(EXECUTOR),
     .absent = ROUTE_KEEP_LATEST},
    {.type = "render_failed", .from = FROM(RENDERER), .to = FROM(EXECUTOR), .absent = ROUTE_DROP},
    {.type = "render_request", .from = FROM(EXECUTOR), .to = FROM(RENDERER), .absent = ROUTE_DROP},
    {.type = "validated", .from = FROM(VALIDATOR), .to = FROM(EXECUTOR), .absent = ROUTE_KEEP_LATEST},
    {.type = "lkg", .from = FROM(EXECUTOR), .to = FROM(DEPLOYER) | FROM(RENDERER), .absent = ROUTE_KEEP_LATEST},
    {.type = "pipeline_report", .from = FROM(EXECUTOR), .handle = on_pipeline_report},
    {.type = "targets", .from = FROM(DISCOVERY), .to = FROM(RENDERER) | FROM(DEPLOYER),
     .absent = ROUTE_KEEP_LATEST},
};

static int send_to_role(struct supervisor *s, enum role_id to, const char *frame, size_t len)
{
    return child_send_frame(&s->children[to], frame, len);
}

static size_t queued_to_role(struct supervisor *s, enum role_id to) { return child_queued_bytes(&s->children[to]); }

static int notify_role_drained(struct supervisor *s, enum role_id to, size_t mark)
{
    return child_notify_drained(&s->children[to], mark);
}

static void pause_role(struct supervisor *s, enum role_id from) { child_pause_reading(&s->children[from]); }
static void resume_role(struct supervisor *s, enum role_id from) { child_resume_reading(&s->children[from]); }
static int64_t router_now(struct supervisor *s)
{
    (void)s;
    return clock_mono_ms();
}

static const struct router_ops router_ops = {.send_frame = send_to_role, .role_name = role_name,
                                             .queued = queued_to_role, .notify_drained = notify_role_drained,
                                             .pause = pause_role, .resume = resume_role, .now_ms = router_now};

static int on_child_frame(struct child *c, const char *type, const char *frame, size_t len)
{
    struct supervisor *s = c->data;
    return router_on_frame(&s->router, child_role(s, c), type, frame, len);
}

static void on_child_message(struct child *c, struct json_object *msg, const char *type)
{
    struct supervisor *s = c->data;
    router_dispatch(&s->router, child_role(s, c), msg, type);
}

static void on_child_drained(struct child *c)
{
    struct supervisor *s = c->data;
    router_on_drained(&s->router, child_role(s, c));
}

static int all_stopped(struct supervisor *s, int from, int to)
{
    for (int r = from; r <= to; r++)
        if (child_running(&s->children[r])) return 0;
    return 1;
}

static void on_child_exit(struct child *c, int64_t status, int sig, int expected)
{
    struct supervisor *s = c->data;
    enum role_id r = child_role(s, c);
    router_on_role_down(&s->router, r, !expected);
    if (!expected && c->state != CHILD_DEAD && s->stage == RUNNING) {
        s->restarts_total++;
        supervisor_metrics_child_restarted(s, c->role);
    }
    if (r == ROLE_ELECTOR) leadership_on_elector_exit(s);
    if (r == ROLE_DEPLOYER) leadership_on_deployer_exit(s);
    config_runtime_on_child_exit(s, r);

    if (s->stage == RUNNING && child_crash_looping(c)) {
        log_error("giving up: a child is crash looping", "child", c->role);
        s->exit_status = 1;
        begin_shutdown(s, "crash loop");
        return;
    }
    switch (s->stage) {
    case STOPPING_DEPLOYER:
        if (!child_running(&s->children[ROLE_DEPLOYER])) next_stage(s);
        break;
    case STOPPING_ELECTOR:
        if (!child_running(&s->children[ROLE_ELECTOR])) next_stage(s);
        break;
    case STOPPING_WORKERS:
        if (all_stopped(s, 0, ROLE_COUNT - 1)) next_stage(s);
        break;
    default:
        break;
    }
}

static const struct child_ops child_ops = {
    .on_frame = on_child_frame,
    .on_message = on_child_message,
    .on_exit = on_child_exit,
    .on_drained = on_child_drained,
};

/* ---- shutdown ---- */

static void on_stage_timer(uv_timer_t *t)
{
    struct supervisor *s = t->data;
    for (int r = 0; r < ROLE_COUNT; r++) {
        struct child *c = &s->children[r];
        int in_stage = (s->stage == STOPPING_DEPLOYER && r == ROLE_DEPLOYER) ||
                       (s->stage == STOPPING_ELECTOR && r == ROLE_ELECTOR) || s->stage == STOPPING_WORKERS;
        if (in_stage && child_running(c)) child_kill(c, "shutdown stage bound passed");
    }
}

/* The reaper's test: a pid libuv waits for (the running children), as opposed to an orphan. */
static int is_our_child(pid_t pid, void *data)
{
    struct supervisor *s = data;
    for (int r = 0; r < ROLE_COUNT; r++)
        if (s->children[r].pid == pid) return 1;
    return 0;
}

static void close_everything(struct supervisor *s)
{
    uv_timer_stop(&s->monitor_timer);
    uv_timer_stop(&s->stage_timer);
    uv_timer_stop(&s->bound_timer);
    uv_close((uv_handle_t *)&s->monitor_timer, NULL);
    uv_close((uv_handle_t *)&s->stage_timer, NULL);
    uv_close((uv_handle_t *)&s->bound_timer, NULL);
    uv_signal_t *sigs[] = {&s->sigterm, &s->sigint, &s->sighup, &s->sig_ignored[0], &s->sig_ignored[1],
                           &s->sig_ignored[2]};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        uv_signal_stop(sigs[i]);
        uv_close((uv_handle_t *)sigs[i], NULL);
    }
    reaper_close(&s->reaper);
    config_runtime_close(s);
    leadership_close(s);
    http_api_close(s);
    for (int r = 0; r < ROLE_COUNT; r++) child_close(&s->children[r]);
}

static void next_stage(struct supervisor *s)
{
    int64_t per_stage = s->opts.shutdown_timeout_ms / 4;
    uv_timer_stop(&s->stage_timer);
    for (;;) {
        s->stage++;
        if (s->stage == STOPPING_ELECTOR) {
            if (!child_running(&s->children[ROLE_ELECTOR])) continue;
            log_info("shutdown: stopping the elector (releases the lease if held)");
            child_request_stop(&s->children[ROLE_ELECTOR]);
        } else if (s->stage == STOPPING_WORKERS) {
            if (all_stopped(s, 0, ROLE_COUNT - 1)) continue;
            log_info("shutdown: stopping the workers");
            for (int r = 0; r < ROLE_COUNT; r++) child_request_stop(&s->children[r]);
        } else if (s->stage == STOPPED) {
            log_info("shutdown complete", "exit_status", s->exit_status ? "1" : "0");
            close_everything(s);
            return;
        }
        break;
    }
    uv_timer_start(&s->stage_timer, on_stage_timer, (uint64_t)per_stage, 0);
}

static void on_bound_timer(uv_timer_t *t)
{
    struct supervisor *s = t->data;
    log_error("shutdown bound passed, killing what is left");
    s->escalated = 1;
    s->exit_status = 1;
    for (int r = 0; r < ROLE_COUNT; r++) child_kill(&s->children[r], "shutdown bound passed");
    /* reaping continues through on_child_exit; the last one closes everything */
    s->stage = STOPPING_WORKERS;
}

static void begin_shutdown(struct supervisor *s, const char *why)
{
    if (s->stage != RUNNING) {
        log_warn("second stop signal: killing every child now", "why", why);
        s->escalated = 1;
        s->exit_status = 1;
        s->stage = STOPPING_WORKERS;
        for (int r = 0; r < ROLE_COUNT; r++) {
            child_disable(&s->children[r]);
            child_kill(&s->children[r], "second stop signal");
        }
        if (all_stopped(s, 0, ROLE_COUNT - 1)) next_stage(s);
        return;
    }
    log_info("shutdown requested", "why", why, "bound_ms", LOG_INT(s->opts.shutdown_timeout_ms));
    sd_notify_send("STOPPING=1");
    for (int r = 0; r < ROLE_COUNT; r++) child_disable(&s->children[r]);
    uv_timer_start(&s->bound_timer, on_bound_timer, (uint64_t)s->opts.shutdown_timeout_ms, 0);
    s->stage = STOPPING_DEPLOYER;
    if (child_running(&s->children[ROLE_DEPLOYER])) {
        log_info("shutdown: stopping the deployer");
        child_request_stop(&s->children[ROLE_DEPLOYER]);
        uv_timer_start(&s->stage_timer, on_stage_timer, (uint64_t)(s->opts.shutdown_timeout_ms / 4), 0);
    } else {
        next_stage(s);
    }
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    begin_shutdown(h->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- other signals: by default each would kill the supervisor at once, skipping the Lease release ---- */

static const int ignored_signals[] = {SIGUSR1, SIGUSR2, SIGALRM};

static const char *signal_name(int signum)
{
    switch (signum) {
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGALRM: return "SIGALRM";
    default: return "?";
    }
}

static void on_ignored_signal(uv_signal_t *h, int signum)
{
    (void)h;
    log_info("signal ignored", "signal", signal_name(signum));
}

/* SIGHUP: the file is read and validated again and, if good, applied to the running roles (config_reload.c). */
static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    config_runtime_reload(h->data, "SIGHUP");
}

/* ---- monitoring ---- */

static void on_monitor_timer(uv_timer_t *t)
{
    struct supervisor *s = t->data;
    int64_t now = clock_mono_ms();
    int healthy = 1;
    for (int r = 0; r < ROLE_COUNT; r++) {
        struct child *c = &s->children[r];
        if (!child_running(c)) {
            if (supervisor_expects_child(s, (enum role_id)r)) healthy = 0;
            continue;
        }
        /* 0 while the router holds the child's reading back: its silence is ours, not a hang */
        int64_t silent = child_silence_ms(c, now);
        if (silent > HEARTBEAT_FRESH_MS) {
            /* Silent, or only unread: after our own process was stopped, this timer runs before the loop
             * reads the heartbeats sent meantime. Read them before judging anyone hung. */
            child_drain(c);
            if (!child_running(c)) continue;
            silent = child_silence_ms(c, clock_mono_ms());
        }
        if (silent > CHILD_HUNG_MS && s->stage == RUNNING) {
            child_kill_hung(c, "no heartbeat for " STR(CHILD_HUNG_MS) " ms");
            healthy = 0;
        } else if (silent > HEARTBEAT_FRESH_MS) {
            healthy = 0;
        }
    }
    if (s->watchdog_interval_ms && healthy && now - s->last_watchdog_ms >= s->watchdog_interval_ms / 2) {
        sd_notify_send("WATCHDOG=1");
        s->last_watchdog_ms = now;
    }
}

static int find_exe(char *out, size_t n)
{
    ssize_t k = readlink("/proc/self/exe", out, n - 1);
    if (k <= 0) return -1;
    out[k] = '\0';
    return 0;
}

int supervisor_run(const struct supervisor_opts *opts, struct config *cfg)
{
    struct supervisor *s = calloc(1, sizeof(*s));
    if (!s) return 1;
    s->loop = uv_default_loop();
    s->opts = *opts;
    s->cfg = cfg;
    s->started_ms = clock_mono_ms();
    if (find_exe(s->exe, sizeof(s->exe)) < 0) {
        log_error("cannot find our own executable", "error", strerror(errno));
        config_free(cfg);
        close(s->opts.config_fd);
        free(s);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (supervisor_metrics_init(s) < 0 ||
        router_init(&s->router, routes, sizeof(routes) / sizeof(routes[0]), &router_ops, s) < 0) {
        log_error("cannot set up metrics and routes");
        supervisor_metrics_close(s);
        router_free(&s->router);
        config_free(cfg);
        close(s->opts.config_fd);
        free(s);
        return 1;
    }
    for (int r = 0; r < ROLE_COUNT; r++) {
        child_init(&s->children[r], s->loop, role_name((enum role_id)r), s->exe, s->opts.config_path, &child_ops, s, 1);
        s->children[r].config_fd = s->opts.config_fd;
    }
    leadership_init(s);

    uv_signal_init(s->loop, &s->sigterm);
    uv_signal_init(s->loop, &s->sigint);
    s->sigterm.data = s->sigint.data = s;
    uv_signal_start(&s->sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_stop_signal, SIGINT);
    uv_signal_init(s->loop, &s->sighup);
    s->sighup.data = s;
    uv_signal_start(&s->sighup, on_sighup, SIGHUP);
    for (size_t i = 0; i < sizeof(ignored_signals) / sizeof(ignored_signals[0]); i++) {
        uv_signal_init(s->loop, &s->sig_ignored[i]);
        s->sig_ignored[i].data = s;
        uv_signal_start(&s->sig_ignored[i], on_ignored_signal, ignored_signals[i]);
    }
    uv_timer_init(s->loop, &s->monitor_timer);
    uv_timer_init(s->loop, &s->stage_timer);
    uv_timer_init(s->loop, &s->bound_timer);
    s->monitor_timer.data = s->stage_timer.data = s->bound_timer.data = s;
    s->watchdog_interval_ms = sd_watchdog_interval_ms();
    uv_timer_start(&s->monitor_timer, on_monitor_timer, MONITOR_PERIOD_MS, MONITOR_PERIOD_MS);
    reaper_start(&s->reaper, s->loop, is_our_child, s);
    if (config_runtime_start(s) < 0 || http_api_start(s) < 0) {
        /* nothing is running yet: close what was opened and refuse to start */
        s->exit_status = 1;
        s->stage = STOPPED;
        close_everything(s);
        uv_run(s->loop, UV_RUN_DEFAULT);
        uv_loop_close(s->loop);
        supervisor_metrics_close(s);
        router_free(&s->router);
        config_free(cfg);
        close(s->opts.config_fd);
        free(s);
        return 1;
    }

    log_info("supervisor starting", "version", HTIC_VERSION, "config", s->opts.config_path,
             "leader_election", s->opts.election_enabled ? "enabled" : "disabled", "identity", s->opts.identity);
    for (int r = 0; r < ROLE_COUNT; r++)
        if (supervisor_expects_child(s, (enum role_id)r)) child_spawn(&s->children[r]);
    leadership_start(s);

    uv_run(s->loop, UV_RUN_DEFAULT);
    int status = s->exit_status;
    int rc = uv_loop_close(s->loop);
    if (rc) log_warn("loop closed with handles open", "error", uv_strerror(rc));
    supervisor_metrics_close(s);
    router_free(&s->router);
    json_object_put(s->deploy_report);
    json_object_put(s->pipeline);
    config_runtime_free(s);
    config_free(s->cfg);
    close(s->opts.config_fd);
    free(s);
    return status;
}
