/* Field selectors for watched resources: parsing `a.b=v`, `a.b==v`, `a.b!=v` terms joined by commas (AND),
 * deciding which terms the API server filters for a resource, and matching the others against objects here.
 *
 * Kubernetes serves metadata.name and metadata.namespace for every resource and a few fields per resource
 * (fieldsel_server_side lists them); any other field makes the whole request fail with 400, so such terms are
 * kept off the request and applied client-side instead. Values may escape `\`, `,` and `=` with a backslash
 * (as kube's fields.EscapeValue does). A missing field reads as "" (as kube's field sets do).
 * Not for: label selectors (always server-side). */
#ifndef HTIC_RECONCILER_FIELDSEL_H
#define HTIC_RECONCILER_FIELDSEL_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

/* A selector is written in a config by a person: far fewer terms than this. Bounds the parse. */
#define FIELDSEL_TERMS_MAX 32

struct fieldsel_term {
    char *path;    /* owned: dotted field path */
    char *value;   /* owned, unescaped */
    int negate;    /* != */
};

struct fieldsel {
    struct fieldsel_term *terms;  /* owned */
    size_t len;
};

/* Parses s (NULL or "" gives an empty selector that matches everything). Returns 0 or -1 with a reason. */
int fieldsel_parse(const char *s, struct fieldsel *out, struct err *e);
void fieldsel_free(struct fieldsel *f);

/* 1 when the API server filters field `path` of resource (plural name) in group ("" for core). */
int fieldsel_server_side(const char *group, const char *resource, const char *path);

/* Splits f into the selector text for the request (appended to server, "" when none) and the terms left for
 * matching here (moved into client; f is emptied). */
int fieldsel_split(struct fieldsel *f, const char *group, const char *resource, struct buf *server,
                   struct fieldsel *client);

/* 1 when obj satisfies every term of f. */
int fieldsel_match(const struct fieldsel *f, struct json_object *obj);

#endif
