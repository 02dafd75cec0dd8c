/* The pipeline half of the /readyz rule: when the executor's pipeline_report says this replica holds what a
 * new leader needs (every informer synced and a last-known-good). Pure (the report in, a verdict out) so the
 * rule is tested apart from the HTTP server. The supervisor latches the verdict: once true it stays true for
 * the supervisor's life, because an LKG never disappears (it is persisted and restored by a restarted
 * executor) and a resync, which makes `synced` false until its listing is in, does not make the LKG any
 * less servable. The other half (every expected child up now, not shutting down) is http_api.c's.
 * Not for: liveness (healthz.h). */
#ifndef HTIC_SUPERVISOR_READINESS_H
#define HTIC_SUPERVISOR_READINESS_H

#include <json-c/json.h>

/* 1 when pipeline (the report's "pipeline" object, may be NULL) has synced true and a non-null lkg object. */
int readiness_pipeline_ready(struct json_object *pipeline);
/* Why pipeline is not ready, for the 503 body: "no pipeline report yet", "not synced", "no last-known-good". */
const char *readiness_pipeline_why(struct json_object *pipeline);

#endif
