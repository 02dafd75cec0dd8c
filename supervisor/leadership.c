/* The deployer lives and dies with leadership (safety invariants 1, 2 and 7 in docs/architecture.md).
 *
 * The elector reports became_leader (term, fence), renewed (fence), lost_leadership (reason) and
 * new_leader_observed. The supervisor spawns the deployer on became_leader, forwards each fence, and
 * SIGKILLs it on loss, on an elector crash, or when the fence passes without an extension. Once the deployer
 * is reaped the elector is told (deployer_stopped) and only then contends again. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

static void on_fence_timer(uv_timer_t *t);

void leadership_init(struct supervisor *s)
{
    struct leadership *l = &s->lead;
    memset(l, 0, sizeof(*l));
    l->fence_ms = -1;
    uv_timer_init(s->loop, &l->fence_timer);
    l->fence_timer.data = s;
}

double leadership_time_as_leader(const struct supervisor *s)
{
    const struct leadership *l = &s->lead;
    double t = l->time_as_leader_s;
    if (l->is_leader) t += (double)(clock_mono_ms() - l->became_ms) / 1000.0;
    return t;
}

static void send_fence(struct supervisor *s)
{
    if (child_stopping(&s->children[ROLE_DEPLOYER])) return; /* being killed: it gets nothing more */
    struct json_object *m = ipc_msg_new("leadership");
    json_object_object_add(m, "term", json_object_new_string(s->lead.term));
    json_object_object_add(m, "fence_mono_ms", json_object_new_int64(s->lead.fence_ms));
    json_object_object_add(m, "sleep_ms", json_object_new_int64(s->lead.sleep_ms));
    child_send(&s->children[ROLE_DEPLOYER], m);
    json_object_put(m);
}

static void arm_fence(struct supervisor *s)
{
    struct leadership *l = &s->lead;
    uv_timer_stop(&l->fence_timer);
    if (l->fence_ms < 0) return;
    uv_update_time(s->loop); /* count from now, not from the loop's cached time */
    int64_t left = l->fence_ms - clock_mono_ms();
    uv_timer_start(&l->fence_timer, on_fence_timer, (uint64_t)(left > 0 ? left : 0), 0);
}

static void start_deployer(struct supervisor *s)
{
    struct child *d = &s->children[ROLE_DEPLOYER];
    if (child_running(d)) {
        /* a deployer of an older term must not survive into a new one */
        child_kill(d, "new term while a deployer still runs");
        return; /* leadership_on_deployer_exit starts the new one */
    }
    child_spawn_now(d); /* its fence follows its hello (leadership_on_deployer_hello) */
}

void leadership_on_deployer_hello(struct supervisor *s)
{
    if (s->lead.is_leader) send_fence(s);
    else child_kill(&s->children[ROLE_DEPLOYER], "deployer started without leadership");
}

static void end_leadership(struct supervisor *s, const char *reason)
{
    struct leadership *l = &s->lead;
    if (l->is_leader) {
        l->time_as_leader_s += (double)(clock_mono_ms() - l->became_ms) / 1000.0;
        l->is_leader = 0;
        log_warn("leadership ended, stopping the deployer", "term", l->term, "reason", reason);
    }
    uv_timer_stop(&l->fence_timer);
    l->fence_ms = -1;
    /* No grace here: a deployer that may no longer be the only one must stop writing now. A restart
     * pending after a crash is cancelled too. */
    child_kill(&s->children[ROLE_DEPLOYER], reason);
}

static void tell_elector_deployer_stopped(struct supervisor *s)
{
    if (!s->lead.elector_waits) return;
    if (child_running(&s->children[ROLE_DEPLOYER])) return;
    s->lead.elector_waits = 0;
    struct json_object *m = ipc_msg_new("deployer_stopped");
    child_send(&s->children[ROLE_ELECTOR], m);
    json_object_put(m);
}

/* The elector leads with a fence ahead: lead (once per term), extend the fence and run the deployer. */
static void take_leadership(struct supervisor *s, int64_t fence)
{
    struct leadership *l = &s->lead;
    l->fence_ms = fence;
    if (!l->is_leader) {
        l->is_leader = 1;
        l->became_ms = l->last_renew_ms = clock_mono_ms();
        l->transitions++;
        supervisor_metrics_became_leader(s);
    }
    arm_fence(s);
    start_deployer(s);
}

void leadership_start(struct supervisor *s)
{
    if (s->opts.election_enabled) return;
    struct leadership *l = &s->lead;
    /* Disabled mode: this replica is the only one; the deployer runs for as long as we do. */
    snprintf(l->term, sizeof(l->term), "disabled");
    l->is_leader = 1;
    l->became_ms = clock_mono_ms();
    l->fence_ms = -1;
    start_deployer(s);
}

/* The elector's messages, routed here by the supervisor's table (supervisor.c); each comes from the elector. */

void leadership_on_became_leader(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    struct leadership *l = &s->lead;
    if (s->stage != RUNNING) return;
    l->sleep_ms = ipc_msg_int(msg, "sleep_ms", clock_boot_ms() - clock_mono_ms());
    const char *term = ipc_msg_str(msg, "term");
    int64_t fence = ipc_msg_int(msg, "fence_mono_ms", -1);
    if (fence <= clock_mono_ms()) {
        /* The elector leads but its fence passed before we read this (our loop was late). No deployer
         * now; the elector keeps renewing, and the first renewal with a fence ahead starts one. A
         * deployer of an earlier term must not stay on with a fence that belongs to no term. */
        if (l->is_leader) end_leadership(s, "fence_expired");
        snprintf(l->term, sizeof(l->term), "%s", term ? term : "?");
        l->elector_claims = 1;
        l->last_renew_ms = clock_mono_ms();
        log_warn("became_leader arrived with its fence already passed; waiting for a renewal to start the "
                 "deployer", "term", l->term);
        return;
    }
    snprintf(l->term, sizeof(l->term), "%s", term ? term : "?");
    l->elector_claims = 1;
    take_leadership(s, fence);
}

void leadership_on_renewed(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    struct leadership *l = &s->lead;
    if (s->stage != RUNNING) return;
    l->sleep_ms = ipc_msg_int(msg, "sleep_ms", clock_boot_ms() - clock_mono_ms());
    int64_t fence = ipc_msg_int(msg, "fence_mono_ms", -1);
    if (!l->is_leader) {
        /* The elector still leads (its became_leader came late, or our fence timer beat a late
         * renewal): a renewal with a fence ahead is as good as a became_leader. */
        if (l->elector_claims && fence > clock_mono_ms()) {
            log_info("renewal with a fence ahead: leading again", "term", l->term);
            take_leadership(s, fence);
        }
        return;
    }
    l->last_renew_ms = clock_mono_ms();
    if (fence > l->fence_ms) {
        l->fence_ms = fence;
        arm_fence(s);
        send_fence(s);
    }
}

void leadership_on_lost_leadership(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    struct leadership *l = &s->lead;
    if (s->stage != RUNNING) {
        end_leadership(s, "graceful_shutdown");
        return;
    }
    const char *reason = ipc_msg_str(msg, "reason");
    l->elector_claims = 0;
    end_leadership(s, reason ? reason : "unknown");
    l->elector_waits = 1;
    tell_elector_deployer_stopped(s);
}

void leadership_on_new_leader_observed(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    if (s->stage != RUNNING) return;
    const char *id = ipc_msg_str(msg, "identity");
    snprintf(s->lead.observed_leader, sizeof(s->lead.observed_leader), "%s", id ? id : "");
}

void leadership_on_election_report(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    if (s->stage != RUNNING) return;
    json_object_put(s->lead.elector_report);
    s->lead.elector_report = json_object_get(msg);
}

void leadership_on_elector_hello(struct supervisor *s)
{
    /* a (re)started elector is never waiting on an old deployer: it must not have one */
    if (s->stage == RUNNING) s->lead.elector_waits = 0;
}

static void on_fence_timer(uv_timer_t *t)
{
    struct supervisor *s = t->data;
    if (!s->lead.is_leader) return;
    /* libuv runs due timers before it reads sockets: after our process was stopped (SIGSTOP, a stalled
     * machine) this fires with the elector's renewals of the meantime still unread. Read them first: a fence
     * they extended is still valid, and killing its deployer would only respawn it for the same term. */
    child_drain(&s->children[ROLE_ELECTOR]);
    if (!s->lead.is_leader) return; /* what was read ended leadership (lost_leadership) */
    /* libuv timers run on the loop's cached clock and may fire a little early: kill at the fence, not
     * before, so a renewal that is merely late by the cache does not cost a term. */
    if (s->lead.fence_ms >= 0 && clock_mono_ms() < s->lead.fence_ms) {
        arm_fence(s);
        return;
    }
    log_error("fence passed without a renewal: killing the deployer", "term", s->lead.term);
    end_leadership(s, "fence_expired");
}

void leadership_on_elector_exit(struct supervisor *s)
{
    s->lead.elector_claims = 0;
    /* Leadership is unknown without the elector: the deployer must not outlive it. */
    if (s->opts.election_enabled && (s->lead.is_leader || child_running(&s->children[ROLE_DEPLOYER])))
        end_leadership(s, "elector_crashed");
}

void leadership_on_deployer_exit(struct supervisor *s)
{
    struct leadership *l = &s->lead;
    tell_elector_deployer_stopped(s);
    /* Still leading (the deployer crashed, or an old term's deployer was replaced): run it again. The
     * restart goes through child.c's backoff unless it was killed on purpose for a new term. */
    if (s->stage == RUNNING && l->is_leader) {
        struct child *d = &s->children[ROLE_DEPLOYER];
        if (!child_running(d) && !child_restart_pending(d)) start_deployer(s);
    }
}

void leadership_close(struct supervisor *s)
{
    json_object_put(s->lead.elector_report);
    s->lead.elector_report = NULL;
    uv_timer_stop(&s->lead.fence_timer);
    uv_close((uv_handle_t *)&s->lead.fence_timer, NULL);
}
