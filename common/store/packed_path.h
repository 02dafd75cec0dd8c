/* JSONPath-like paths over packed values, the syntax of the config's index_by and
 * watched_resources_ignore_fields: dotted member names (metadata.namespace), ['quoted'] or ["quoted"] names
 * for keys holding dots or slashes (metadata.labels['kubernetes.io/service-name']), [N] array indexes
 * (spec.ports[0].port), an optional leading "$." or ".", and as in common/jsonpath (which validates index_by
 * in the config) an optional {...} around the whole and `\.` for a literal dot in a dotted name
 * (metadata.labels.kubernetes\.io/name). Compiled once; evaluating compares interned key ids.
 * Not a full JSONPath: no wildcards, filters or slices (index keys name one value). */
#ifndef HTIC_STORE_PACKED_PATH_H
#define HTIC_STORE_PACKED_PATH_H

#include "common/store/packed.h"

#define PACKED_PATH_MAX 1024        /* characters of one path: config text, far above any real path */
#define PACKED_PATH_STEPS_MAX 64    /* steps of one path: objects nest far less than this in practice */

struct packed_path_step {
    long index;     /* >= 0: array index; -1: member name */
    char *name;     /* owned, NUL-terminated (names only) */
    size_t len;
    uint32_t id;    /* interned key id (compiled paths only; a reference is held) */
};

struct packed_path {
    char *src;                       /* owned: the text, for messages */
    struct packed_keys *keys;        /* the table the ids belong to (borrowed) */
    struct packed_path_step *steps;  /* owned */
    size_t n;
};

/* Parses src into steps (no key table involved). */
int packed_path_parse(const char *src, struct packed_path_step **steps, size_t *n, struct err *e);
void packed_path_steps_free(struct packed_path_step *steps, size_t n);
/* Parses and interns the names in k (held until packed_path_free). */
int packed_path_compile(struct packed_keys *k, const char *src, struct packed_path **out, struct err *e);
void packed_path_free(struct packed_path *p);
/* 1 and *out when the path leads to a value, 0 when a step is missing. */
int packed_path_eval(const struct packed_path *p, struct packed_val v, struct packed_val *out);

#endif
