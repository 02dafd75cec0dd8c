/* The executor's last-known-good on disk: <run_dir>/lkg.json holds the LKG's generation, checksum and time
 * and the quarantined objects, so a restarted executor (or replica) comes back with them. Written
 * atomically (temp file, fsync, rename, fsync of the directory); loaded only if the generation directory it
 * names exists and matches its manifest. Blocking file I/O: small files, but fsync may take a while on a
 * busy disk, so callers on a loop may want a uv_queue_work.
 * Not for: deciding what the LKG is (generation.c). */
#ifndef HTIC_EXECUTOR_LKG_H
#define HTIC_EXECUTOR_LKG_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "workers/executor/generation.h"

#define LKG_FILE_NAME "lkg.json"
/* GEN_MAX_QUARANTINED entries with GEN_MESSAGE_MAX reasons (escaped) stay below this. */
#define LKG_FILE_MAX (32u * 1024u * 1024u)
/* Kubernetes names are at most 253 bytes (DNS subdomain); resources and namespaces shorter. */
#define LKG_FIELD_MAX 253

struct lkg_state {
    struct gen_lkg lkg;
    struct gen_quarantined *quarantined;  /* owned, each owned */
    size_t nquarantined;
};

int lkg_save(const char *run_dir, const struct gen_lkg *lkg, const struct gen_quarantined *q, size_t nq,
             struct err *e);
/* Returns 1 and fills out when a valid LKG was loaded; 0 when there is none: why->msg is empty if there is
 * no lkg.json, else it says why the file was not used (unreadable, malformed, its generation missing or
 * not matching its manifest). out is then empty. */
int lkg_load(const char *run_dir, struct lkg_state *out, struct err *why);
void lkg_state_free(struct lkg_state *s);

/* RFC 3339 in UTC with milliseconds ("2026-12-04T20:01:37.123Z"). */
void lkg_format_time(int64_t wall_ms, char *out, size_t n);

#endif
