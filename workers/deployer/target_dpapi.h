/* A HAProxy pod (or any host) behind the Data Plane API v3 (dataplane-api-v3.md; tests: tests/dataplane-sim):
 * compare reads GET /v3/services/haproxy/configuration/raw and takes the checksum from our header line
 * (`# haproxy-template-ic term=... generation=... checksum=...`, kept by the server among the top comments);
 * a push sends the generation's maps and general files to the storage endpoints (create, or replace what
 * differs), then POST .../configuration/raw?version=N (409: the version is read again and the POST retried,
 * bounded), then polls GET .../reloads/{Reload-Id} until succeeded or failed, then deletes the storage
 * files of the previous generation that this one dropped. Basic auth with the deployer's credentials
 * (creds.h: a password file or a Secret); a 401 reads the Secret again and sends the request once more if
 * the credentials changed. The password is never logged. Every request passes the gate (gate.h) right before it
 * starts and is bounded by the budget it returns.
 * Fast lane: a change diff.c accepts (servers on their slots, nothing else) is sent as one
 * PUT .../runtime/backends/{b}/servers/{s} per server (address, port, weight, admin_state), each answer
 * checked to show the change, then the new config is stored with POST raw?skip_reload=true so a later
 * reload keeps the state; changed maps go entry by entry (POST/PUT/DELETE .../runtime/maps/{m}/entries),
 * then into storage unreloaded; anything failing on the way takes the reload lane.
 * Not for: when to push (scheduler.h). */
#ifndef HTIC_DEPLOYER_TARGET_DPAPI_H
#define HTIC_DEPLOYER_TARGET_DPAPI_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/pipeline/rundir.h"
#include "workers/deployer/audit.h"
#include "workers/deployer/creds.h"
#include "workers/deployer/gate.h"
#include "workers/deployer/target.h"

/* A 409 means another writer moved the version between our read and our POST: a few rereads settle a
 * race with one other writer; more means someone keeps writing and we would only fight them. */
#define TARGET_DPAPI_CONFLICT_RETRIES 3
/* The reload agent ticks every reload_delay (5 s by default): polling every 100 ms adds little delay
 * and few requests. */
#define TARGET_DPAPI_RELOAD_POLL_MS 100
/* Server changes sent as runtime PUTs in one push: each is a request (about a millisecond on a pod's
 * network); past a few hundred, one reload costs less than the requests. */
#define TARGET_DPAPI_FAST_OPS_MAX 500
/* Characters the runtime endpoints' path parameters refuse (dataplane-api-v3.md 8.1), plus '/' and '%'
 * which a path segment cannot hold as they are. */
#define TARGET_DPAPI_PATH_FORBIDDEN "\r\n<>*;$#&{}\"/%? "
/* A response body kept in memory: the raw config of a 10k-backend pod is a few MB. */
#define TARGET_DPAPI_BODY_MAX (64u << 20)

struct target_dpapi_opts {
    const char *name;
    const char *url;            /* base URL without /v3, e.g. http://10.0.0.5:5555 */
    struct creds *creds;        /* borrowed, outlives the target; NULL: no auth */
    const char *run_dir;
};

struct target *target_dpapi_new(uv_loop_t *loop, const struct target_dpapi_opts *o, struct deploy_gate *gate,
                                struct audit *audit);

/* The base URL the target was made with (t must be a Data Plane API target). */
const char *target_dpapi_url(const struct target *t);

/* Pure, for tests: finds our header line in a raw config (within its first comment lines) and fills
 * checksum; "" if there is none. 0, or -1 if a header of ours is there but malformed. */
int target_dpapi_find_header(const char *text, size_t len, char checksum[RUNDIR_CHECKSUM_BUF]);
/* Pure, for tests: the status of a reload object ("succeeded", "failed", "in_progress"), into out. -1 if
 * the body is not a reload object. */
int target_dpapi_reload_status(const char *body, size_t len, char *out, size_t n);

/* Pure, for tests: 1 if the storage endpoints keep this file name as it is (RUNDIR_KIND_*). */
int target_dpapi_storage_name_ok(int kind, const char *name);

#endif
