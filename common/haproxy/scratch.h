/* The scratch layout of a haproxy -c (validator role, validate CLI): one rendered generation dir copied into a
 * fresh private directory as it will be on the target. The scratch dir mirrors the target's file system under its
 * own root, so the production path P of every rendered file is <scratch>/P; haproxy.cfg and crt-lists get their
 * production directory prefixes rewritten to the scratch ones (only bytes inside lines change, so line numbers
 * stay).
 * Not for: running haproxy (haproxy_check.c) or reading its output (haproxy_report.c). */
#ifndef HTIC_HAPROXY_SCRATCH_H
#define HTIC_HAPROXY_SCRATCH_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

/* Bounds on a generation (it comes from another process, and haproxy reads all of it). */
/* A file name inside a generation subdir: the file-system limit of one path component. */
#define SCRATCH_NAME_MAX 255
/* Files per generation: 10k TLS Ingresses give 10k certificates; ten times that is a runaway template. */
#define SCRATCH_FILES_MAX 100000
/* haproxy.cfg and crt-lists are read into memory to be rewritten; the largest real configs are a few MB. */
#define SCRATCH_TEXT_MAX (64u << 20)
/* Everything copied for one check: maps of a million entries are ~50 MB; 1 GiB means something is wrong. */
#define SCRATCH_TOTAL_MAX (1ull << 30)

/* The production paths of the target (haproxy.config_file, maps_dir, ssl_certs_dir, general_dir). */
struct scratch_paths {
    const char *config_file;
    const char *maps_dir;
    const char *ssl_certs_dir;
    const char *general_dir;
};

/* What a generation subdir holds and where its files live on the target. */
enum scratch_kind { SCRATCH_CONFIG = 0, SCRATCH_MAP, SCRATCH_CERT, SCRATCH_FILE, SCRATCH_CRT_LIST };

struct scratch_file {
    enum scratch_kind kind;
    char *prod_path;   /* owned: where the file lives on the target */
};

struct scratch {
    char *dir;          /* owned: the private root (mode 0700); <dir><production path> is each file */
    char *cwd;          /* owned: <dir> + the directory of config_file (haproxy runs there) */
    char *cfg_name;     /* owned: the file name of config_file, passed to haproxy -f */
    struct scratch_file *files;  /* owned: every file laid out, haproxy.cfg first */
    size_t nfiles;
};

/* Makes a fresh private dir under parent (mkdtemp; parent is created if missing), lays gen_dir out in it and
 * rewrites haproxy.cfg and crt-lists. Refuses (returns -1, e says why, with the production file and line
 * where it applies) symlinks or non-regular files in the generation, names that are not plain file names,
 * two files landing on one production path, a production dir that is "/" or relative, and any mention of
 * the service-account paths (/var/run/secrets, /run/secrets) in haproxy.cfg or a crt-list, so haproxy -c is
 * never pointed at the credentials. On failure nothing is left on disk and s is empty. */
int scratch_layout(const char *parent, const char *gen_dir, const struct scratch_paths *prod, struct scratch *s,
                   struct err *e);
/* Removes every scratch dir a killed validator left under parent (the check-* entries). */
void scratch_sweep(const char *parent);
/* Removes the scratch dir and everything in it, frees s. Safe on an empty s. */
void scratch_remove(struct scratch *s);

/* Appends text to out with every production prefix (a path in prefixes, at a path boundary on both sides)
 * prefixed by root. Pure. prefixes need not be sorted; the longest match wins. */
int scratch_rewrite(const char *text, size_t len, const char *const *prefixes, size_t nprefixes, const char *root,
                    struct buf *out);
/* Appends text to out with every "<root>/" turned back into "/": haproxy's messages in production paths. */
int scratch_unroot(const char *text, size_t len, const char *root, struct buf *out);
/* The file laid out at this production path, or NULL. */
const struct scratch_file *scratch_find(const struct scratch *s, const char *prod_path);

#endif
