/* A generation's files at their production paths on the local host (haproxy.config_file, maps_dir,
 * ssl_certs_dir, general_dir; crt-lists live with the general files, as the validator lays them out):
 * atomic writes (temp file in the same directory, fsync, rename, fsync of the directory), referenced files
 * before the config that uses them, obsolete files of the previous generation removed after, and the
 * read-back that tells which generation a host runs and whether its files still match it.
 *
 * haproxy.cfg gets one first line, `# haproxy-template-ic term=T generation=N checksum=sha256:H`: the
 * checksum is the generation's (computed over the LKG's own bytes), so reading a host's checksum back is
 * parsing that line, and checking it is hashing the rest of the file and every other file of the
 * generation. Every write and unlink passes the gate (gate.h) immediately before it starts; nothing is
 * ever written outside the configured paths (file names are checked by rundir_name_check first).
 * Blocking file I/O: the deployer runs it on its loop (one host's files; milliseconds for real configs).
 * Not for: the master CLI (mcli.h) or the order of a push (target_local.c). */
#ifndef HTIC_DEPLOYER_LAYOUT_H
#define HTIC_DEPLOYER_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/pipeline/rundir.h"
#include "workers/deployer/gate.h"

#define LAYOUT_HEADER_PREFIX "# haproxy-template-ic "
/* The header line is ours: term (TERM_MAX), a generation number and a checksum fit in far less. */
#define LAYOUT_HEADER_MAX 512
/* One file read into memory to be written or compared: maps of a million entries are ~50 MB. */
#define LAYOUT_FILE_MAX (256u << 20)
/* Lines of unified diff logged per differing file when drift is found: enough to see what changed, not
 * a copy of a large map in the log. */
#define LAYOUT_DIFF_LINES_MAX 40

struct layout_paths {
    const char *config_file;
    const char *maps_dir;
    const char *ssl_certs_dir;
    const char *general_dir;
};

/* The production path of a generation file. Returns 0, -1 if the name is not a plain file name or the
 * path does not fit. */
int layout_prod_path(const struct layout_paths *p, int kind, const char *name, char *out, size_t n);
/* The header line for haproxy.cfg, with its newline. */
int layout_header(const char *term, int64_t generation, const char *checksum, char *out, size_t n);
/* Parses a header line (up to its newline): fills checksum (and generation, if not NULL). 0 or -1. */
int layout_parse_header(const char *line, size_t len, char checksum[RUNDIR_CHECKSUM_BUF], int64_t *generation);

/* Reads a generation file's content and checks it against the manifest's SHA-256 (the generation may have
 * been tampered with since rundir_open verified it). *out is owned by the caller. */
int layout_read_gen_file(const struct rundir_gen *g, const struct rundir_entry *f, char **out, size_t *len,
                         struct err *e);

struct layout_stats {
    size_t written, unchanged, removed;
};

/* Writes every file of g whose production copy differs (a missing file differs), the config last with
 * header (NULL: no header line). Stops at the first refused gate or failed write: files already renamed
 * into place stay (the caller rolls back). */
int layout_apply(struct deploy_gate *gate, int64_t deadline_ms, const struct layout_paths *p,
                 const struct rundir_gen *g, const char *header, struct layout_stats *st, struct err *e);
/* Removes the production copy of every file of prev that g does not have (g may be NULL: none). */
int layout_remove_obsolete(struct deploy_gate *gate, int64_t deadline_ms, const struct layout_paths *p,
                           const struct rundir_gen *prev, const struct rundir_gen *g, struct layout_stats *st,
                           struct err *e);
/* Writes one file atomically (the gate is checked before the temp file and again before the rename). */
int layout_write_file(struct deploy_gate *gate, int64_t deadline_ms, const char *path, const char *head,
                      const void *data, size_t len, struct err *e);

/* The checksum in the host's config header; "" if the file is missing or has no header of ours. Fills
 * header_line (the whole first line with its newline, or "") when not NULL. -1 if it cannot be read. */
int layout_read_checksum(const struct layout_paths *p, char checksum[RUNDIR_CHECKSUM_BUF],
                         char header_line[LAYOUT_HEADER_MAX]);
/* 1 if every file of g is at its production path with g's content (the config after its header line),
 * 0 if something differs (diff gets a bounded unified diff per differing file when not NULL), -1 on error. */
int layout_verify(const struct layout_paths *p, const struct rundir_gen *g, struct buf *diff, struct err *e);

/* Pure: appends a unified diff of a (old) against b (new) to out, one hunk around the changed middle,
 * at most max_lines lines of body. */
void layout_unified_diff(const char *name, const char *a, size_t alen, const char *b, size_t blen, size_t max_lines,
                         struct buf *out);

#endif
