/* The content-addressed run directory: one generation (a rendering: haproxy.cfg, maps, general files,
 * certificates, crt-lists) is written once to <run_dir>/gen/<checksum-hex>/ with its manifest.json, read back
 * and verified by checksum, and generations nobody needs any more are garbage-collected.
 *
 * The checksum is "sha256:" + hex SHA-256 of the canonical manifest: for each file, sorted by (kind, name)
 * compared bytewise as strings ("cert" < "config" < "crt-list" < "file" < "map"), the line
 * `kind \0 name \0 sha256-hex-of-content \n`. Same files give the same checksum on every replica, whatever
 * order they were handed in.
 *
 * Durability: rundir_write does not fsync. A generation is one of many candidates and most are never used;
 * what must survive a crash of the machine is the LKG, so the executor calls rundir_sync on a generation
 * before it writes lkg.json (the pointer) with its own fsync and rename. After a crash a generation that
 * was never synced may be partial or empty: rundir_open refuses it (every file's size and SHA-256 against
 * the manifest), rundir_write replaces it, and no reader ever takes it for complete. A crash of a process
 * (not of the machine) loses nothing: the page cache holds the files.
 *
 * Every call here does blocking file I/O (write, syncfs, rename, read and hash whole files): callers on a
 * libuv loop decide whether to run it on a uv_queue_work. Nothing here keeps state between calls, so two
 * threads (or two processes) may write or read at once; writers only meet at the final rename.
 * Not for: what goes into the files (the renderer), where they go on a target (validator, deployer). */
#ifndef HTIC_PIPELINE_RUNDIR_H
#define HTIC_PIPELINE_RUNDIR_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* A file name becomes one path component on disk: Linux refuses components over 255 bytes (NAME_MAX). */
#define RUNDIR_NAME_MAX 255
/* Files in one generation: 10k Ingresses with a certificate and a few maps each stay far below; a
 * manifest claiming more is not ours. */
#define RUNDIR_MAX_FILES 100000
/* manifest.json of RUNDIR_MAX_FILES entries is about 30 MB at the longest names; more is not ours. */
#define RUNDIR_MANIFEST_MAX (64u * 1024u * 1024u)
/* "sha256:" + 64 hex digits + NUL. */
#define RUNDIR_CHECKSUM_BUF 72
#define RUNDIR_HEX_LEN 64
/* The one config file of a generation, at the top of its directory. */
#define RUNDIR_CONFIG_NAME "haproxy.cfg"
#define RUNDIR_MANIFEST_NAME "manifest.json"

enum rundir_kind {
    RUNDIR_KIND_CONFIG = 0,  /* haproxy.cfg (exactly one per generation) */
    RUNDIR_KIND_MAP,         /* maps/<name> */
    RUNDIR_KIND_FILE,        /* files/<name> */
    RUNDIR_KIND_CERT,        /* certs/<name> */
    RUNDIR_KIND_CRT_LIST,    /* crt-lists/<name> */
    RUNDIR_KIND_COUNT
};

/* "config", "map", "file", "cert", "crt-list"; NULL for an unknown kind. */
const char *rundir_kind_name(int kind);
/* Returns the kind for its name, or -1. */
int rundir_kind_parse(const char *name);
/* The subdirectory of a kind inside a generation ("" for config, "maps", ...). */
const char *rundir_kind_dir(int kind);

/* One file handed to the writer; everything is borrowed. */
struct rundir_file {
    int kind;            /* enum rundir_kind */
    const char *name;    /* validated by rundir_name_check */
    const void *data;
    size_t len;
};

/* 0 if name may become a path component: not empty, not ".", no "..", no '/', no NUL or control
 * character (below 0x20, 0x7f), at most RUNDIR_NAME_MAX bytes. Else -1 with the reason in e. */
int rundir_name_check(const char *name, struct err *e);
/* 0 if s is "sha256:" + 64 lowercase hex digits. */
int rundir_checksum_check(const char *s);

/* The canonical checksum of files (any order). Refuses bad names, duplicate (kind, name), a config file
 * not named haproxy.cfg, and anything but exactly one config file. */
int rundir_checksum(const struct rundir_file *files, size_t n, char out[RUNDIR_CHECKSUM_BUF], struct err *e);

/* <run_dir>/gen/<hex of checksum>. Returns 0, or -1 if it does not fit or checksum is malformed. */
int rundir_gen_path(const char *run_dir, const char *checksum, char *out, size_t n);

/* Writes one generation: checks the files, computes the checksum (into checksum_out), writes every file
 * and manifest.json into <run_dir>/gen/.tmp-<pid>-<n>/ and renames it to <run_dir>/gen/<hex>/ (no fsync:
 * see Durability above). Returns 0 when it wrote the generation, 1 when a complete generation of that
 * checksum was already there (nothing written), -1 with e filled on failure (temp dir removed).
 * An existing directory that fails verification is moved aside and replaced. */
int rundir_write(const char *run_dir, const struct rundir_file *files, size_t n,
                 char checksum_out[RUNDIR_CHECKSUM_BUF], struct err *e);
/* rundir_write, but every file whose kind, name, size and SHA-256 the generation base_checksum (NULL: none)
 * lists is hard-linked from it instead of written: a change to one Ingress among 10k leaves the other
 * thousand certificates as they were, and creating a thousand inodes per render is what cost most. A base
 * that is missing, unreadable or being removed by GC only means the files are written. */
int rundir_write_from(const char *run_dir, const char *base_checksum, const struct rundir_file *files, size_t n,
                      char checksum_out[RUNDIR_CHECKSUM_BUF], struct err *e);

/* Makes the generation checksum durable (its files, directories and rename): one syncfs of its file
 * system. For the executor, before it persists a new LKG. */
int rundir_sync(const char *run_dir, const char *checksum, struct err *e);

/* A generation read back and verified. */
struct rundir_entry {
    int kind;
    char *name;                      /* owned */
    char sha256[RUNDIR_HEX_LEN + 1];
    uint64_t size;
};

struct rundir_gen {
    char checksum[RUNDIR_CHECKSUM_BUF];
    char *dir;                       /* owned: <run_dir>/gen/<hex> */
    struct rundir_entry *files;      /* owned, in canonical order */
    size_t nfiles;
};

/* Opens <run_dir>/gen/<hex> and verifies it: the manifest names this checksum, its entries give this
 * checksum, every file has the size and SHA-256 the manifest says, and the directory holds nothing else
 * (no extra, missing or symlinked file). Returns 0 and *out (free with rundir_gen_free), or -1 with why
 * in e: a tampered or partial directory is refused. */
int rundir_open(const char *run_dir, const char *checksum, struct rundir_gen **out, struct err *e);
void rundir_gen_free(struct rundir_gen *g);

/* Reads the regular file name under dirfd (AT_FDCWD: a path), at most max bytes, without following a
 * symlink; *out is NUL-terminated and owned by the caller. Returns 0, 1 if it does not exist, -1 otherwise
 * (e says why in both cases). For the run directory's small files (manifests, lkg.json). */
int rundir_read_file_at(int dirfd, const char *name, size_t max, char **out, size_t *len, struct err *e);

struct rundir_gc_stats {
    size_t kept, removed, tmp_removed, failed;
};

/* Removes every generation under <run_dir>/gen/ whose checksum is not in keep (n entries, "sha256:..."),
 * and every .tmp-<pid>-* directory whose writer process is gone. Generations whose directory changed less
 * than min_age_s seconds ago are kept too: a renderer may have just renamed one into place and its message
 * may not have reached whoever decides what to keep. Other names are left alone. Returns 0, or -1 if
 * gen/ cannot be read (a missing gen/ is 0); a directory that could not be removed counts in failed. */
int rundir_gc(const char *run_dir, const char *const *keep, size_t n, int64_t min_age_s,
              struct rundir_gc_stats *stats, struct err *e);

#endif
