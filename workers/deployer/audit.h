/* The deployer's audit of every change it made to a target: one JSON line per action (push, reload,
 * runtime, rollback, drift) with the wall time, term, generation, checksum, target, action and result,
 * appended to <run_dir>/deploy-audit.jsonl. The chaos checker (issue 12) merges the audits of every
 * replica to prove that only the leader changed the targets; operators read which leader did what.
 * Not for: the probe journal (journal.h) or metrics. */
#ifndef HTIC_DEPLOYER_AUDIT_H
#define HTIC_DEPLOYER_AUDIT_H

#include <stdint.h>

#define AUDIT_FILE_NAME "deploy-audit.jsonl"

struct audit {
    int fd;  /* owned; -1 when not open */
};

int audit_open(struct audit *a, const char *run_dir);
/* detail may be NULL. Lines are written with one write(2) on O_APPEND (whole lines, even with two writers). */
int audit_append(struct audit *a, const char *term, int64_t generation, const char *checksum, const char *target,
                 const char *action, const char *result, const char *detail);
void audit_close(struct audit *a);

#endif
