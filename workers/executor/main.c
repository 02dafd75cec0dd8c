/* The executor role: the generation state machine and the last-known-good, on every replica, leader or
 * not. This file is the process shell: it hands pipeline messages to executor.c, ticks it every second
 * (re-asking for unanswered trials), and runs the run directory's garbage collection off the loop. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config/config.h"
#include "common/log.h"
#include "common/pipeline/spill.h"
#include "common/worker.h"
#include "supervisor/roles.h"
#include "workers/executor/executor.h"

#define TICK_MS 1000

struct executor_role {
    struct executor x;
    struct worker *w;
    uv_timer_t tick;
    int started;
    int gc_running;
};

struct gc_job {
    uv_work_t req;
    struct executor_role *r;
    char *run_dir;                                   /* owned */
    char keep[EXECUTOR_GC_KEEP][GEN_CHECKSUM_MAX];
    size_t nkeep;
    struct rundir_gc_stats stats;
    int rc;
    struct err e;
};

static struct gen_clock now_clock(void) { return (struct gen_clock){clock_mono_ms(), clock_wall_ms()}; }

static void send_msg(void *data, struct json_object *msg, int lossy)
{
    struct worker *w = data;
    if (lossy)
        worker_report(w, msg);
    else
        worker_send(w, msg);
}

static void on_gc_work(uv_work_t *req)
{
    struct gc_job *j = req->data;
    const char *keep[EXECUTOR_GC_KEEP];
    for (size_t i = 0; i < j->nkeep; i++) keep[i] = j->keep[i];
    j->rc = rundir_gc(j->run_dir, keep, j->nkeep, EXECUTOR_GC_MIN_AGE_S, &j->stats, &j->e);
    /* spilled lists nobody read back (the reader died first): an hour is far past any answer */
    spill_sweep(j->run_dir, SPILL_ORPHAN_AGE_S);
}

static void on_gc_done(uv_work_t *req, int status)
{
    struct gc_job *j = req->data;
    j->r->gc_running = 0;
    if (status == 0 && j->rc < 0) log_warn("run directory garbage collection failed", "error", j->e.msg);
    free(j->run_dir);
    free(j);
}

/* One collection at a time; a publish during one is covered by the next. */
static void maybe_gc(struct executor_role *r)
{
    if (!r->x.gc_wanted || r->gc_running || r->w->shutting_down) return;
    struct gc_job *j = calloc(1, sizeof(*j));
    if (!j) return;
    j->r = r;
    j->run_dir = strdup(r->x.run_dir);
    const char *keep[EXECUTOR_GC_KEEP];
    executor_gc_keep(&r->x, keep, &j->nkeep);
    for (size_t i = 0; i < j->nkeep; i++) snprintf(j->keep[i], sizeof(j->keep[i]), "%s", keep[i]);
    j->req.data = j;
    if (!j->run_dir || uv_queue_work(r->w->loop, &j->req, on_gc_work, on_gc_done) != 0) {
        free(j->run_dir);
        free(j);
        return;
    }
    r->x.gc_wanted = 0;
    r->gc_running = 1;
}

static void on_tick(uv_timer_t *t)
{
    struct executor_role *r = t->data;
    struct gen_clock now = now_clock();
    executor_on_tick(&r->x, &now);
    maybe_gc(r);
}

static void on_message(struct worker *w, struct json_object *msg, const char *type)
{
    struct executor_role *r = w->data;
    if (!r->started) return;
    struct gen_clock now = now_clock();
    executor_on_message(&r->x, msg, type, &now);
    maybe_gc(r);
}

/* A new config: the executor reads only controller.run_dir, which a reload cannot change (the supervisor
 * refuses it), so there is nothing to redo; the candidate the renderer makes from the new templates goes
 * through the state machine like any other. */
static enum worker_config_result executor_on_config(struct worker *w, const struct config *next, const char **why)
{
    (void)w;
    (void)next;
    (void)why;
    return WORKER_CONFIG_APPLIED;
}

static int on_start(struct worker *w)
{
    struct executor_role *r = w->data;
    r->w = w;
    w->on_config = executor_on_config;
    const char *run_dir = w->cfg && w->cfg->controller.run_dir ? w->cfg->controller.run_dir : NULL;
    if (!run_dir) {
        log_error("executor needs controller.run_dir");
        return -1;
    }
    /* Render ids differ between executor runs, so an answer meant for a predecessor is not taken as ours. */
    uint64_t first_id = (uint64_t)clock_mono_ms() * 1000;
    if (executor_init(&r->x, run_dir, send_msg, w, first_id) < 0) return -1;
    struct gen_clock now = now_clock();
    if (executor_start(&r->x, &now) < 0) return -1;
    r->started = 1;
    uv_timer_init(w->loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS);
    maybe_gc(r);
    return 0;
}

static void on_shutdown(struct worker *w, const char *why)
{
    struct executor_role *r = w->data;
    (void)why;
    if (r->started) {
        uv_timer_stop(&r->tick);
        uv_close((uv_handle_t *)&r->tick, NULL);
    }
    worker_stop(w);
}

int executor_main(int argc, char **argv)
{
    struct executor_role r;
    memset(&r, 0, sizeof(r));
    int status = worker_main(argc, argv, on_message, on_shutdown, on_start, &r);
    if (r.x.run_dir) executor_free(&r.x);
    return status;
}
