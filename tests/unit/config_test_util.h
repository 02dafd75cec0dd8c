/* Helpers shared by the config unit tests: load a YAML string, find an error by path, build a complete
 * valid document around the part a test is about. Header-only (static) so each test binary stays one file. */
#ifndef HTIC_TEST_CONFIG_UTIL_H
#define HTIC_TEST_CONFIG_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"

/* Everything a valid config needs besides the part under test. */
#define TARGETS "haproxy:\n  endpoints:\n    - name: local\n      master_socket: /run/haproxy-master.sock\n"
#define MAIN_TEMPLATE "haproxy_config:\n  template: \"global\\n\"\n"
#define VALID_REST TARGETS MAIN_TEMPLATE

struct loaded {
    struct config *cfg;
    struct err_list errs;
    int rc;
};

static inline struct loaded load_yaml(const char *yaml)
{
    struct loaded l;
    err_list_init(&l.errs);
    l.cfg = NULL;
    l.rc = config_load_string(yaml, "test.yaml", &l.cfg, &l.errs);
    return l;
}

static inline void loaded_free(struct loaded *l)
{
    config_free(l->cfg);
    err_list_free(&l->errs);
}

static inline void dump_errors(const struct loaded *l)
{
    for (size_t i = 0; i < l->errs.len; i++) {
        char line[2048];
        err_format(&l->errs.items[i], line, sizeof(line));
        fprintf(stderr, "  error: %s\n", line);
    }
}

/* Loads a document that must be valid. */
static inline struct loaded load_ok(const char *yaml)
{
    struct loaded l = load_yaml(yaml);
    if (l.rc != 0) dump_errors(&l);
    ck_assert_int_eq(l.rc, 0);
    ck_assert_ptr_nonnull(l.cfg);
    ck_assert_uint_eq(l.errs.len, 0);
    return l;
}

/* The error at path whose message contains `part`, or NULL. */
static inline const struct err *find_error(const struct loaded *l, const char *path, const char *part)
{
    for (size_t i = 0; i < l->errs.len; i++)
        if (!strcmp(l->errs.items[i].path, path) && strstr(l->errs.items[i].msg, part)) return &l->errs.items[i];
    return NULL;
}

/* Loads a document that must be refused with (at least) this error. */
static inline struct loaded load_refused(const char *yaml, const char *path, const char *part)
{
    struct loaded l = load_yaml(yaml);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_ptr_null(l.cfg);
    if (!find_error(&l, path, part)) {
        fprintf(stderr, "wanted error at %s containing \"%s\"; got:\n", path, part);
        dump_errors(&l);
        ck_abort_msg("missing error at %s: %s", path, part);
    }
    return l;
}

#endif
