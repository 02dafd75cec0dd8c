/* What the files of common/validate share; not part of the API (validate.h). */
#ifndef HTIC_VALIDATE_INTERNAL_H
#define HTIC_VALIDATE_INTERNAL_H

#include <json-c/json.h>

#include "common/config/config.h"

/* The assertion's verdict goes into res (its JSON entry in the report): "passed", "message" and, when it
 * failed, "lines" (the lines it concerns) and type-specific fields (jsonpath: "query", "expected", "got").
 * Returns 0, or -1 when out of memory. */
/* contains, not_contains, equals, match_count, match_order on the text of target_name */
int validate_check_text(const struct config_assertion *a, const char *target_name, const char *text, size_t len,
                        struct json_object *res);
/* jsonpath on the render context's JSON view */
int validate_check_jsonpath(const struct config_assertion *a, struct json_object *context, struct json_object *res);

/* Sets passed/message (printf style) on res. */
void validate_verdict(struct json_object *res, int passed, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* passed, no message */
void validate_pass(struct json_object *res);

#endif
