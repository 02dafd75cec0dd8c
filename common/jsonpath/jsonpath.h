/* The JSONPath subset the config uses (validation-test `jsonpath` assertions, watched_resources index_by):
 * Kubernetes' spelling with or without `{...}` and a leading `$`: `.a.b` (or `a.b`), `['x.y']` / `["x"]`,
 * `[0]` (negative counts from the end), `[*]` and `.*`; in a dotted name `\.` is a literal dot
 * (`metadata.labels.kubernetes\.io/name`). Compiled once (jsonpath_compile), evaluated many times over json-c
 * values. Not supported, and refused at compile time: `..`, filters `[?()]`, unions, slices, functions. */
#ifndef HTIC_JSONPATH_H
#define HTIC_JSONPATH_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/err.h"

/* Steps in one expression: the config's paths have a handful; 64 bounds what a typo or attack costs. */
#define JSONPATH_MAX_STEPS 64
/* Characters of one expression: far above any real path, keeps error messages readable. */
#define JSONPATH_MAX_LEN 1024

struct jsonpath;

/* Compiles expr. On error returns -1 and e says what, with e->column the 1-based position in expr. */
int jsonpath_compile(const char *expr, struct jsonpath **out, struct err *e);
void jsonpath_free(struct jsonpath *p);

/* Every value the path selects in doc, in document order, appended to `results` (a json array; the values
 * are added with a reference taken, so results owns them). Returns the number added (0: nothing matched). */
int jsonpath_eval(const struct jsonpath *p, struct json_object *doc, struct json_object *results);

#endif
