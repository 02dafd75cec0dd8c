/* The deployer's side-effect journal: one JSON line per action (push, probe, ...) with the term and the
 * CLOCK_MONOTONIC time it was taken at, appended to <run_dir>/deployer.journal. Tests merge the journals
 * of every replica on a machine to prove that two terms never act at the same time; operators read it to
 * see which leader wrote what. Every entry is written only after fence_allows() said yes. */
#ifndef HTIC_DEPLOYER_JOURNAL_H
#define HTIC_DEPLOYER_JOURNAL_H

#include <stdint.h>

struct journal {
    int fd;          /* owned; -1 when not open */
    uint64_t entries;
};

int journal_open(struct journal *j, const char *run_dir);
/* Appends {"mono_ms":..,"wall_ms":..,"pid":..,"term":..,"action":..,"detail":..}. detail may be NULL. */
int journal_append(struct journal *j, int64_t mono_ms, const char *term, const char *action, const char *detail);
void journal_close(struct journal *j);

#endif
