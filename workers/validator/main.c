/* The validator role: checks each rendered generation with the real haproxy -c in a private scratch dir and
 * answers the executor. Runs on every replica, leader or not.
 *
 * In: `rendered` {render_id, checksum, dir, trial}. Out: `validated` {render_id, checksum, ok, outcome,
 * message, warnings, duration_ms, trial, cached, superseded, superseded_by}; a `metrics` report after every
 * answer; a `ValidationFailed` event for every check that did not pass (not for cached answers or trials,
 * which the executor's bisection expects to fail). Which request runs is queue.c's decision; the check
 * itself is haproxy_check.c's. Not for: choosing or publishing the LKG (the executor). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/worker.h"
#include "supervisor/roles.h"
#include "common/haproxy/haproxy_check.h"
#include "common/pipeline/rundir.h"
#include "workers/validator/queue.h"
#include "workers/validator/slots.h"

/* render_id and checksum come from another process: a checksum is 71 bytes, an id far less. */
#define VALIDATOR_ID_MAX 256
/* The event carries the first line of the message only: one readable log line, the rest is in the answer. */
#define VALIDATOR_EVENT_MESSAGE_MAX 512

/* haproxy -c takes ~20 ms on a small config and up to the timeout (30 s) on one full of bcrypt hashes. */
static const double duration_buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

struct validator_role {
    struct worker *w;
    struct haproxy_check_opts opts;
    char scratch_parent[PATH_MAX];
    char gen_prefix[PATH_MAX];        /* <run_dir>/gen/: every dir we accept lies directly under it */
    struct validator_queue q;
    struct haproxy_check *check;      /* the running check, NULL when idle; frees itself */
    struct metrics_registry *reg;     /* owned */
    struct metric_family *duration, *results, *cache_hits, *slot_verdicts;
    char base[RUNDIR_CHECKSUM_BUF];   /* the newest generation answered valid (not a trial), "" if none */
    int stopping;
};

static struct validator_role role;

static void send_metrics(struct validator_role *r)
{
    struct json_object *families = NULL;
    if (metrics_to_json(r->reg, &families) < 0) return;
    struct json_object *m = ipc_msg_new("metrics");
    json_object_object_add(m, "metrics", families);
    worker_report(r->w, m);
    json_object_put(m);
}

static void answer(struct validator_role *r, const struct validator_request *req, const struct validator_verdict *v,
                   int cached, const char *superseded_by)
{
    const char *outcome = superseded_by ? "superseded" : haproxy_check_outcome_name(v->outcome);
    struct json_object *m = ipc_msg_new("validated");
    json_object_object_add(m, "render_id", json_object_new_string(req->render_id));
    json_object_object_add(m, "checksum", json_object_new_string(req->checksum));
    json_object_object_add(m, "ok", json_object_new_boolean(!superseded_by && v->ok));
    json_object_object_add(m, "outcome", json_object_new_string(outcome));
    json_object_object_add(m, "message", json_object_new_string(v ? v->message : ""));
    json_object_object_add(m, "warnings", json_object_new_string(v ? v->warnings : ""));
    json_object_object_add(m, "duration_ms", json_object_new_int64(v ? v->duration_ms : 0));
    json_object_object_add(m, "trial", json_object_new_boolean(req->trial));
    json_object_object_add(m, "cached", json_object_new_boolean(cached));
    json_object_object_add(m, "superseded", json_object_new_boolean(superseded_by != NULL));
    if (superseded_by) json_object_object_add(m, "superseded_by", json_object_new_string(superseded_by));
    worker_send(r->w, m);
    json_object_put(m);
    metrics_counter_inc(r->results, (const char *const[]){outcome});
    if (cached) metrics_counter_inc(r->cache_hits, NULL);
    if (!superseded_by && v && v->ok && !req->trial && strlen(req->checksum) < sizeof(r->base))
        snprintf(r->base, sizeof(r->base), "%s", req->checksum);
}

static void answer_superseded(struct validator_role *r, const struct validator_request *req, const char *by)
{
    char msg[VALIDATOR_ID_MAX + 64];
    snprintf(msg, sizeof(msg), "superseded by render %s before it was checked", by);
    struct validator_verdict v = {.ok = 0, .outcome = HAPROXY_CHECK_ERROR, .message = msg, .warnings = ""};
    answer(r, req, &v, 0, by);
}

static void start_check(struct validator_role *r, const struct validator_request *req);

/* Carries out what the queue decided. A check that cannot start ends at once (finish_run), which may start
 * the waiting one: at most two levels deep, as the queue holds one running and one waiting request. */
static void apply(struct validator_role *r, struct validator_queue_actions *a)
{
    if (a->superseded) answer_superseded(r, a->superseded, a->superseded_by);
    if (a->from_cache) answer(r, a->from_cache, a->cached, 1, NULL);
    const struct validator_request *run = a->run; /* the queue's, not the actions' */
    validator_queue_actions_free(a);
    if (run && !r->stopping) start_check(r, run);
    send_metrics(r);
}

static void finish_run(struct validator_role *r, const struct validator_verdict *v)
{
    struct validator_queue_actions a;
    validator_queue_done(&r->q, v, clock_mono_ms(), &a);
    if (a.finished) {
        answer(r, a.finished, v, 0, NULL);
        if (!v->ok && !a.finished->trial) {
            char first[VALIDATOR_EVENT_MESSAGE_MAX];
            snprintf(first, sizeof(first), "%.*s", (int)strcspn(v->message, "\n"), v->message);
            worker_event(r->w, "ValidationFailed", "render_id", a.finished->render_id, "checksum",
                         a.finished->checksum, "outcome", haproxy_check_outcome_name(v->outcome), "message", first,
                         (const char *)NULL);
        }
    }
    apply(r, &a);
}

static void on_check_done(struct haproxy_check *c, const struct haproxy_check_result *res, void *data)
{
    (void)c;
    struct validator_role *r = data;
    r->check = NULL;
    metrics_histogram_observe(r->duration, NULL, (double)res->duration_ms / 1000.0);
    struct validator_verdict v = {.ok = res->outcome == HAPROXY_CHECK_VALID, .outcome = res->outcome,
                                  .message = (char *)res->message, .warnings = (char *)res->warnings,
                                  .duration_ms = res->duration_ms};
    if (r->stopping) {
        worker_stop(r->w);
        return;
    }
    log_info("generation checked", "render_id", r->q.running ? r->q.running->render_id : "", "outcome",
             haproxy_check_outcome_name(res->outcome));
    finish_run(r, &v);
}

/* 1 when req was answered valid without haproxy -c because it only moves servers on their slots against the
 * last valid generation (slots.h); 0 when it needs the check. Trials (the executor's bisection) always run
 * the check: their verdicts are about which objects break a config, not about endpoints. */
static int slot_verdict(struct validator_role *r, const struct validator_request *req)
{
    if (req->trial || !r->base[0] || !strcmp(r->base, req->checksum)) return 0;
    char why[512];
    int64_t t0 = clock_mono_ms();
    int rc = slots_only_change(r->w->cfg->controller.run_dir, r->base, req->checksum, why, sizeof(why));
    if (rc != 1) return 0;
    int64_t ms = clock_mono_ms() - t0;
    char msg[128 + RUNDIR_CHECKSUM_BUF];
    snprintf(msg, sizeof(msg), "only servers on their slots differ from %s, found valid before", r->base);
    log_info("generation checked", "render_id", req->render_id, "outcome", "valid", "by", "slots", "base", r->base,
             "duration_ms", LOG_INT(ms));
    metrics_counter_inc(r->slot_verdicts, NULL);
    struct validator_verdict v = {.ok = 1, .outcome = HAPROXY_CHECK_VALID, .message = msg, .warnings = "",
                                  .duration_ms = ms};
    finish_run(r, &v);
    return 1;
}

static void start_check(struct validator_role *r, const struct validator_request *req)
{
    struct err e;
    err_clear(&e);
    if (slot_verdict(r, req)) return;
    /* the dir must be a generation of ours: <run_dir>/gen/<one name>, nothing the message could point
     * elsewhere with a "..", a second slash or a foreign prefix */
    size_t pl = strlen(r->gen_prefix);
    const char *name = req->dir + (strncmp(req->dir, r->gen_prefix, pl) ? 0 : pl);
    int dir_ok = name != req->dir && name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
    if (dir_ok && haproxy_check_start(r->w->loop, &r->opts, req->dir, on_check_done, r, &r->check, &e) == 0) return;
    if (!dir_ok) err_set(&e, "generation dir %s is not under %s", req->dir, r->gen_prefix);
    r->check = NULL;
    log_error("generation could not be checked", "render_id", req->render_id, "error", e.msg);
    struct validator_verdict v = {.ok = 0, .outcome = HAPROXY_CHECK_ERROR, .message = e.msg, .warnings = ""};
    finish_run(r, &v);
}

static int bounded_string(struct json_object *msg, const char *key, int required, const char **out)
{
    *out = ipc_msg_str(msg, key);
    if (!*out) return required ? -1 : 0;
    return strlen(*out) <= VALIDATOR_ID_MAX || !strcmp(key, "dir") ? 0 : -1;
}

static void on_rendered(struct validator_role *r, struct json_object *msg)
{
    const char *id, *sum, *dir;
    if (bounded_string(msg, "render_id", 1, &id) < 0 || bounded_string(msg, "checksum", 1, &sum) < 0 ||
        bounded_string(msg, "dir", 1, &dir) < 0 || strlen(dir) >= PATH_MAX) {
        log_warn("rendered message refused: render_id, checksum and dir must be bounded strings");
        return;
    }
    struct json_object *t;
    int trial = json_object_object_get_ex(msg, "trial", &t) && json_object_get_boolean(t);
    struct validator_request *req = validator_request_new(id, sum, dir, trial);
    if (!req) return;
    struct validator_queue_actions a;
    validator_queue_submit(&r->q, req, clock_mono_ms(), &a);
    apply(r, &a);
}

static void on_message(struct worker *w, struct json_object *msg, const char *type)
{
    struct validator_role *r = w->data;
    if (!strcmp(type, "rendered") && !r->stopping) on_rendered(r, msg);
}

static void on_shutdown(struct worker *w, const char *why)
{
    struct validator_role *r = w->data;
    (void)why;
    r->stopping = 1;
    /* a running check is killed; its callback (after the scratch dir is gone) stops the worker */
    if (r->check) haproxy_check_abort(r->check);
    else worker_stop(w);
}

/* The check options point into the config (the running check copied what it needs at its start). */
static void use_paths(struct validator_role *r, const struct config_haproxy *h)
{
    r->opts = (struct haproxy_check_opts){
        .binary = h->binary,
        .prod = {.config_file = h->config_file, .maps_dir = h->maps_dir, .ssl_certs_dir = h->ssl_certs_dir,
                 .general_dir = h->general_dir},
        .scratch_parent = r->scratch_parent,
        .timeout_ms = HAPROXY_CHECK_TIMEOUT_MS,
    };
}

/* A new config: the binary and production paths are taken for the next check; with either changed, the
 * cached verdicts (of the old binary or layout) are forgotten. */
static enum worker_config_result validator_on_config(struct worker *w, const struct config *next, const char **why)
{
    struct validator_role *r = w->data;
    (void)why;
    static const char *const used[] = {"haproxy.binary", "haproxy.config_file", "haproxy.maps_dir",
                                       "haproxy.ssl_certs_dir", "haproxy.general_dir"};
    int changed = !config_sections_equal(w->cfg, next, used, sizeof(used) / sizeof(used[0]));
    use_paths(r, &next->haproxy);
    if (changed) {
        validator_queue_forget_verdicts(&r->q);
        r->base[0] = '\0';
        log_info("validator settings changed: cached verdicts forgotten", "binary", next->haproxy.binary);
    }
    return WORKER_CONFIG_APPLIED;
}

static int on_start(struct worker *w)
{
    struct validator_role *r = w->data;
    r->w = w;
    if (!w->cfg) {
        log_error("the validator needs --config");
        return -1;
    }
    const struct config_haproxy *h = &w->cfg->haproxy;
    const char *run_dir = w->cfg->controller.run_dir;
    if (snprintf(r->scratch_parent, sizeof(r->scratch_parent), "%s/validate", run_dir) >= (int)sizeof(r->scratch_parent) ||
        snprintf(r->gen_prefix, sizeof(r->gen_prefix), "%s/gen/", run_dir) >= (int)sizeof(r->gen_prefix)) {
        log_error("run_dir too long");
        return -1;
    }
    /* a validator killed mid-check leaves its scratch dir behind; nobody else uses this folder */
    scratch_sweep(r->scratch_parent);
    use_paths(r, h);
    w->on_config = validator_on_config;
    char path[PATH_MAX];
    if (haproxy_check_which(h->binary, path, sizeof(path)) < 0)
        log_warn("haproxy binary not found: every check will fail until it is installed", "binary", h->binary);
    log_info("validator ready", "binary", h->binary, "scratch", r->scratch_parent);
    send_metrics(r);
    return 0;
}

static int metrics_init(struct validator_role *r)
{
    r->reg = metrics_registry_new();
    if (!r->reg) return -1;
    r->duration = metrics_histogram(r->reg, "haproxy_ic_validation_duration_seconds",
                                    "Time of one haproxy -c check, scratch layout included.", NULL, duration_buckets,
                                    sizeof(duration_buckets) / sizeof(duration_buckets[0]), NULL);
    r->results = metrics_counter(r->reg, "haproxy_ic_validations_total",
                                 "Answers to rendered generations by outcome (valid, invalid, timeout, error, "
                                 "superseded), cached ones included.",
                                 (const char *const[]){"outcome", NULL}, NULL);
    r->cache_hits = metrics_counter(r->reg, "haproxy_ic_validation_cache_hits_total",
                                    "Answers given from an earlier check of the same checksum.", NULL, NULL);
    r->slot_verdicts = metrics_counter(r->reg, "haproxy_ic_validation_slot_verdicts_total",
                                       "Generations answered valid without haproxy -c: only servers on their slots "
                                       "differ from a generation found valid before.", NULL, NULL);
    return r->duration && r->results && r->cache_hits && r->slot_verdicts ? 0 : -1;
}

int validator_main(int argc, char **argv)
{
    memset(&role, 0, sizeof(role));
    validator_queue_init(&role.q);
    if (metrics_init(&role) < 0) return 1;
    int status = worker_main(argc, argv, on_message, on_shutdown, on_start, &role);
    validator_queue_free(&role.q);
    metrics_registry_free(role.reg);
    return status;
}
