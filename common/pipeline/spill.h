/* Large lists in pipeline messages, moved out of the frame: a first candidate's `changed` lists every
 * object of the cluster (31k objects are about 2 MB, twice IPC_FRAME_MAX), and a bisection trial's `exclude`
 * half of them. The sender writes such a field to a file under <run_dir>/spill/ and sends its name in
 * `<field>_file`; the receiver reads it back into the message and removes the file. Small lists stay inline.
 * Not for: rendered files (they have the content-addressed generation dirs, rundir.h). */
#ifndef HTIC_PIPELINE_SPILL_H
#define HTIC_PIPELINE_SPILL_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/err.h"

/* A field above this many bytes of JSON is spilled: far enough under IPC_FRAME_MAX (1 MiB) to leave room
 * for the rest of the message. */
#define SPILL_INLINE_MAX (256u * 1024u)
/* What a receiver reads back: GEN_MAX_PENDING (262 144) objects of about 100 bytes, with room. */
#define SPILL_FILE_MAX ((size_t)64 << 20)

/* If msg's `field` serializes to more than limit bytes (0: SPILL_INLINE_MAX), writes it to a new file under
 * <run_dir>/spill/ (0600, written whole then renamed), removes the field and adds `<field>_file` with the
 * file's name. Returns 1 when spilled, 0 when left inline, -1 with e on a write error (msg unchanged). */
int spill_field(struct json_object *msg, const char *field, const char *run_dir, size_t limit, struct err *e);

/* If msg has `<field>_file`, reads that file (a plain name inside <run_dir>/spill/, at most SPILL_FILE_MAX
 * bytes, a JSON array) into `field`, then removes the file unless keep is set. Returns 1 when read back,
 * 0 when there was nothing to read, -1 with e when the name or the file is refused (msg unchanged). */
int spill_restore(struct json_object *msg, const char *field, const char *run_dir, int keep, struct err *e);

/* Spill files of a receiver that died before reading them are removed after this long. */
#define SPILL_ORPHAN_AGE_S 3600
/* Removes spill files older than max_age_s (left by a receiver that died before reading them). */
void spill_sweep(const char *run_dir, int max_age_s);

#endif
