/* The deployer role: LEADER ONLY. The supervisor starts it when this replica becomes leader and SIGKILLs
 * it when leadership ends. It pushes the last-known-good configuration to the HAProxy targets (deploy.c);
 * it also writes a probe entry in its journal every PROBE_PERIOD_MS, taken only while its fence allows,
 * which lets tests prove that two terms never act at once. If no one stops it
 * soon after its fence (its supervisor is stopped or hung), it exits by itself (DEPLOYER_EXIT_FENCED). */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/config/config.h"
#include "common/log.h"
#include "common/worker.h"
#include "supervisor/roles.h"
#include "workers/deployer/deploy.h"
#include "workers/deployer/fence.h"
#include "workers/deployer/journal.h"

#define PROBE_PERIOD_MS 100
/* The exit status of a deployer that left by itself past its fence (see FENCE_EXIT_GRACE_MS). */
#define DEPLOYER_EXIT_FENCED 3

struct deployer {
    struct worker *w;
    struct fence fence;
    struct journal journal;
    struct deploy *deploy;        /* the pushes (deploy.h); NULL until started */
    uv_timer_t probe_timer;
    uv_timer_t fence_timer;       /* fires at the fence + grace: exit unless the fence moved on */
    int64_t exit_grace_ms;
    int stopping;
    int announced;
    int refused_logged;
};

/* Every side effect goes through here: the fence is checked at the moment of acting. */
static int act(struct deployer *d, const char *action, const char *detail)
{
    int64_t now = clock_mono_ms();
    if (!fence_allows(&d->fence, now, clock_boot_ms() - now)) {
        if (d->fence.known && !d->refused_logged) {
            d->refused_logged = 1;
            log_warn("fence passed: refusing side effects until leadership is confirmed", "term", d->fence.term,
                     "action", action);
        }
        return -1;
    }
    d->refused_logged = 0;
    return journal_append(&d->journal, now, d->fence.term, action, detail);
}

static void on_probe_timer(uv_timer_t *t)
{
    struct deployer *d = t->data;
    if (d->announced) act(d, "probe", NULL);
}

static void stop_deployer(struct deployer *d)
{
    if (d->stopping) return;
    d->stopping = 1;
    if (d->journal.fd >= 0) {
        uv_timer_stop(&d->probe_timer);
        uv_close((uv_handle_t *)&d->probe_timer, NULL);
        uv_timer_stop(&d->fence_timer);
        uv_close((uv_handle_t *)&d->fence_timer, NULL);
    }
    journal_close(&d->journal);
    deploy_close(d->deploy);
    d->deploy = NULL;
    worker_stop(d->w);
}

static void arm_fence_exit(struct deployer *d);

static void on_fence_timer(uv_timer_t *t)
{
    struct deployer *d = t->data;
    int64_t at = fence_exit_at_ms(&d->fence, d->exit_grace_ms), now = clock_mono_ms();
    if (at < 0) return;
    if (now < at) { /* extended meanwhile, or the loop's clock ran early */
        arm_fence_exit(d);
        return;
    }
    char past[32];
    snprintf(past, sizeof(past), "%lld", (long long)(now - d->fence.until_ms));
    log_error("fence passed and the supervisor did not stop us: exiting so no fenced deployer stays beside the "
              "next leader's", "term", d->fence.term, "ms_past_fence", past);
    d->w->exit_status = DEPLOYER_EXIT_FENCED;
    stop_deployer(d);
}

static void arm_fence_exit(struct deployer *d)
{
    int64_t at = fence_exit_at_ms(&d->fence, d->exit_grace_ms);
    uv_timer_stop(&d->fence_timer);
    if (at < 0 || d->journal.fd < 0) return;
    uv_update_time(d->w->loop); /* count from now, not from the loop's cached time */
    int64_t left = at - clock_mono_ms();
    uv_timer_start(&d->fence_timer, on_fence_timer, (uint64_t)(left > 0 ? left : 0), 0);
}

static void on_supervisor_message(struct worker *w, struct json_object *msg, const char *type)
{
    struct deployer *d = w->data;
    if (d->deploy && strcmp(type, "lkg") == 0) {
        deploy_on_lkg(d->deploy, msg);
        return;
    }
    if (d->deploy && strcmp(type, "targets") == 0) {
        deploy_on_targets(d->deploy, msg);
        return;
    }
    if (strcmp(type, "leadership") != 0) return;
    const char *term = ipc_msg_str(msg, "term");
    int64_t fence = ipc_msg_int(msg, "fence_mono_ms", 0);
    /* "no fence" only exists without election; with a Lease, trust nothing unbounded */
    if (fence == FENCE_NONE && w->cfg && w->cfg->controller.leader_election.enabled) {
        log_error("refusing a leadership message without a fence while leader election is enabled");
        return;
    }
    /* The clock gap as it was when the elector sent the write behind this fence: a suspend between that
     * send and now (even before this message reached us) shows as a larger gap at the next check. */
    int64_t mono = clock_mono_ms();
    if (fence_update(&d->fence, term ? term : "?", fence, ipc_msg_int(msg, "sleep_ms", clock_boot_ms() - mono)) < 0) {
        log_error("refusing a leadership message whose term is longer than a term can be");
        return;
    }
    arm_fence_exit(d);
    if (d->deploy) deploy_on_fence(d->deploy);
    if (!d->announced) {
        d->announced = 1;
        int64_t left = fence_left_ms(&d->fence, clock_mono_ms());
        if (act(d, "ready", NULL) == 0) {
            log_info("deployer ready", "term", d->fence.term, "fence_left_ms", LOG_INT(left));
            worker_event(w, "DeployerReady", "term", d->fence.term, (const char *)0);
        }
    }
}

static int on_start(struct worker *w)
{
    struct deployer *d = w->data;
    const char *run_dir = w->cfg && w->cfg->controller.run_dir ? w->cfg->controller.run_dir : NULL;
    if (!run_dir || journal_open(&d->journal, run_dir) < 0) {
        log_error("cannot open the deployer journal", "run_dir", run_dir ? run_dir : "(unset)");
        return -1;
    }
    d->w = w;
    const struct config_leader_election *le = &w->cfg->controller.leader_election;
    d->exit_grace_ms = fence_exit_grace_ms(le->lease_duration_ms, le->renew_deadline_ms);
    uv_timer_init(w->loop, &d->fence_timer);
    d->fence_timer.data = d;
    uv_timer_init(w->loop, &d->probe_timer);
    d->probe_timer.data = d;
    uv_timer_start(&d->probe_timer, on_probe_timer, PROBE_PERIOD_MS, PROBE_PERIOD_MS);
    d->deploy = deploy_new(w, &d->fence);
    if (!d->deploy) return -1;
    return 0;
}

static void on_shutdown(struct worker *w, const char *why)
{
    struct deployer *d = w->data;
    (void)why;
    d->w = w;
    stop_deployer(d);
}

int deployer_main(int argc, char **argv)
{
    struct deployer d;
    memset(&d, 0, sizeof(d));
    d.journal.fd = -1;
    fence_init(&d.fence);
    return worker_main(argc, argv, on_supervisor_message, on_shutdown, on_start, &d);
}
