/* The deployer's job: the newest LKG onto every target, as the scheduler says, through each target's
 * implementation (target.h), with drift prevention every deploy.drift_prevention_interval, metrics and
 * the deploy_report for /debug/vars. Owns the scheduler, the targets, the audit and the gate.
 * Not for: leadership (main.c keeps the fence up to date and exits past it). */
#ifndef HTIC_DEPLOYER_DEPLOY_H
#define HTIC_DEPLOYER_DEPLOY_H

#include <json-c/json.h>

#include "common/worker.h"
#include "workers/deployer/fence.h"

struct deploy;

/* fence is the deployer's (borrowed: it must outlive the job). NULL on failure (logged). */
struct deploy *deploy_new(struct worker *w, const struct fence *fence);
void deploy_on_lkg(struct deploy *d, struct json_object *msg);
void deploy_on_targets(struct deploy *d, struct json_object *msg);
/* The fence moved (a new term or a renewal): pushes held by it may start. */
void deploy_on_fence(struct deploy *d);
/* Closes the handles; the job frees itself once they are closed (pushes in flight are abandoned: their
 * master CLI exchanges close with the loop). */
void deploy_close(struct deploy *d);

#endif
