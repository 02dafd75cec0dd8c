/* The local HAProxy target (bare metal, systemd: Debian runs `haproxy -Ws -S /run/haproxy-master.sock`):
 * files at the production paths (layout.h), runtime changes and reloads through the master CLI (mcli.h).
 *
 * A push: if the target runs a generation we still have and the change fits the fast lane (diff.h: slot
 * servers; maps and certificates whose content changed, under the same names), the runtime commands go
 * first (`@1 set server ...`; `@1 show ssl cert`, then `@1 set ssl cert <name>` / `commit ssl cert <name>`,
 * one transaction per certificate, under the name the worker loaded its production path by; `@1 prepare map` / `add map @ver` / `commit
 * map @ver`, chunked below 16 KB), then the files are written so a later reload keeps the state; a runtime
 * command that fails aborts the ssl cert transactions and sends the push to the reload lane. A certificate
 * added, removed or renamed, a crt-list changed, or a PEM too large for the runtime API, reloads. Reload lane:
 * referenced files, then haproxy.cfg, then `show proc`, `reload`, and `show proc` until the master counted
 * the reload: confirmed when a new worker appeared and the failed-reload counter did not grow; refused
 * otherwise, and then the files are rolled back to the previous generation (the old worker kept serving).
 * Obsolete files of the previous generation are removed after a confirmed reload.
 * Not for: when to push (scheduler.h). */
#ifndef HTIC_DEPLOYER_TARGET_LOCAL_H
#define HTIC_DEPLOYER_TARGET_LOCAL_H

#include <uv.h>

#include "workers/deployer/audit.h"
#include "workers/deployer/gate.h"
#include "workers/deployer/layout.h"
#include "workers/deployer/target.h"

/* show proc is asked again this often after a reload until the master has counted it: the reload of a
 * 1k-backend config takes 0.25 s, so a few polls. */
#define TARGET_LOCAL_RELOAD_POLL_MS 50

struct target_local_opts {
    const char *name;
    const char *master_socket;
    struct layout_paths paths;
    const char *run_dir;
};

/* Everything borrowed must outlive the target (the deployer owns gate and audit). */
struct target *target_local_new(uv_loop_t *loop, const struct target_local_opts *o, struct deploy_gate *gate,
                                struct audit *audit);

#endif
