/* User-facing errors: what went wrong and where (file, YAML path, line, column).
 *
 * Functions that can fail return int (0 ok, negative on failure) and fill an optional struct err. A list of
 * errors (struct err_list) collects every problem of an input at once, e.g. all config violations. */
#ifndef HTIC_ERR_H
#define HTIC_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 512
#define ERR_WHERE_MAX 256

struct err {
    char msg[ERR_MSG_MAX];
    char file[ERR_WHERE_MAX];  /* input file or template name, "" if none */
    char path[ERR_WHERE_MAX];  /* YAML/JSON path such as controller.leader_election.lease_duration */
    int line;                  /* 1-based, 0 if unknown */
    int column;                /* 1-based, 0 if unknown */
};

/* Sets msg (printf style); e may be NULL. Returns -1 so callers can `return err_set(e, ...)`. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);
/* Formats "file:line:col: path: msg" leaving out the parts that are empty. */
void err_format(const struct err *e, char *out, size_t n);

struct err_list {
    struct err *items;  /* owned */
    size_t len, cap;
};

void err_list_init(struct err_list *l);
/* Appends an error; returns the new entry (or NULL when out of memory, the error is then lost). */
struct err *err_list_add(struct err_list *l, const char *file, const char *path, int line, int column,
                         const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void err_list_free(struct err_list *l);

#endif
