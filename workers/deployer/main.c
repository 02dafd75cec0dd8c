/* The deployer role: LEADER ONLY. The supervisor starts it when this replica becomes leader and SIGKILLs
 * it when leadership ends. It pushes the last-known-good configuration to the HAProxy targets (deployer
 * issue); here it holds the leadership term and fence and refuses any side effect once the fence passed. */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/worker.h"
#include "workers/deployer/fence.h"

struct deployer {
    struct fence fence;
    int announced;
};

static void on_supervisor_message(struct worker *w, struct json_object *msg, const char *type)
{
    struct deployer *d = w->data;
    if (strcmp(type, "leadership") != 0) return;
    const char *term = ipc_msg_str(msg, "term");
    fence_update(&d->fence, term ? term : "?", ipc_msg_int(msg, "fence_mono_ms", 0));
    if (!d->announced) {
        d->announced = 1;
        char left[32];
        snprintf(left, sizeof(left), "%lld", (long long)fence_left_ms(&d->fence, clock_mono_ms()));
        log_info("deployer ready", "term", d->fence.term, "fence_left_ms", left);
        worker_event(w, "DeployerReady", "term", d->fence.term, (const char *)0);
    }
}

int deployer_main(int argc, char **argv)
{
    struct deployer d;
    memset(&d, 0, sizeof(d));
    fence_init(&d.fence);
    return worker_main(argc, argv, on_supervisor_message, NULL, NULL, &d);
}
