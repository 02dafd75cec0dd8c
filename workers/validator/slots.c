/* Slot-only changes against a valid generation (see slots.h). */
#include "workers/validator/slots.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/haproxy/diff.h"
#include "common/pipeline/rundir.h"

/* A rendered haproxy.cfg at 10k Ingresses is about 2 MB; far more is not a config we rendered. */
#define SLOTS_CONFIG_MAX (256u * 1024 * 1024)

static int read_config(const struct rundir_gen *g, char **out, size_t *len, char *why, size_t n)
{
    char path[4096];
    struct err e;
    err_clear(&e);
    if (snprintf(path, sizeof(path), "%s/%s", g->dir, RUNDIR_CONFIG_NAME) >= (int)sizeof(path)) {
        snprintf(why, n, "generation path too long");
        return -1;
    }
    if (rundir_read_file_at(AT_FDCWD, path, SLOTS_CONFIG_MAX, out, len, &e) != 0) {
        snprintf(why, n, "%s", e.msg);
        return -1;
    }
    return 0;
}

/* 1 when a and b list the same files with the same content, haproxy.cfg's content aside. */
static int same_files_but_config(const struct rundir_gen *a, const struct rundir_gen *b, char *why, size_t n)
{
    if (a->nfiles != b->nfiles) {
        snprintf(why, n, "%zu files instead of %zu", b->nfiles, a->nfiles);
        return 0;
    }
    for (size_t i = 0; i < a->nfiles; i++) { /* both in canonical (kind, name) order */
        const struct rundir_entry *x = &a->files[i], *y = &b->files[i];
        if (x->kind != y->kind || strcmp(x->name, y->name)) {
            snprintf(why, n, "%s %s is new", rundir_kind_name(y->kind), y->name);
            return 0;
        }
        if (x->kind != RUNDIR_KIND_CONFIG && strcmp(x->sha256, y->sha256)) {
            snprintf(why, n, "%s %s changed", rundir_kind_name(y->kind), y->name);
            return 0;
        }
    }
    return 1;
}

int slots_only_change(const char *run_dir, const char *base_checksum, const char *checksum, char *why, size_t n)
{
    struct rundir_gen *base = NULL, *g = NULL;
    char *ca = NULL, *cb = NULL;
    size_t la = 0, lb = 0;
    struct err e;
    err_clear(&e);
    int rc = -1;
    if (rundir_open(run_dir, base_checksum, &base, &e) < 0 || rundir_open(run_dir, checksum, &g, &e) < 0) {
        snprintf(why, n, "%s", e.msg);
        goto out;
    }
    if (!same_files_but_config(base, g, why, n)) {
        rc = 0;
        goto out;
    }
    if (read_config(base, &ca, &la, why, n) < 0 || read_config(g, &cb, &lb, why, n) < 0) goto out;
    struct diff_plan plan;
    if (diff_configs(ca, la, cb, lb, &plan) < 0) {
        snprintf(why, n, "out of memory comparing configs");
        goto out;
    }
    rc = plan.fast ? 1 : 0;
    if (!plan.fast) snprintf(why, n, "%s", plan.reason);
    diff_plan_free(&plan);
out:
    free(ca);
    free(cb);
    if (base) rundir_gen_free(base);
    if (g) rundir_gen_free(g);
    return rc;
}
