/* The validate report as text (validate.h): "PASS name (N assertions)" per passing test; per failure the
 * test, the assertion (index, type, description), the message and the lines it concerns, indented; a
 * summary line last. Reads only the JSON report, so text and --output json always say the same.
 * Not for: running anything. */
#include <string.h>

#include "common/validate/validate.h"

static const char *str(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                            : "";
}

static int64_t num(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static int boolean(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* Appends text with every line indented by ind spaces. */
static void indented(struct buf *out, const char *text, int ind)
{
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        buf_printf(out, "%*s%.*s\n", ind, "", (int)n, text);
        text += n + (nl ? 1 : 0);
    }
}

void validate_report_text(struct json_object *report, struct buf *out)
{
    struct json_object *tests, *summary;
    json_object_object_get_ex(report, "tests", &tests);
    for (size_t i = 0; tests && i < json_object_array_length(tests); i++) {
        struct json_object *t = json_object_array_get_idx(tests, i), *as, *error;
        json_object_object_get_ex(t, "assertions", &as);
        size_t n = as ? json_object_array_length(as) : 0;
        if (boolean(t, "passed")) {
            buf_printf(out, "PASS %s (%zu assertion%s)\n", str(t, "name"), n, n == 1 ? "" : "s");
            continue;
        }
        if (json_object_object_get_ex(t, "error", &error) && error)
            buf_printf(out, "FAIL %s: %s error: %s\n", str(t, "name"), str(error, "stage"), str(error, "message"));
        for (size_t k = 0; k < n; k++) {
            struct json_object *a = json_object_array_get_idx(as, k);
            if (boolean(a, "passed")) continue;
            const char *d = str(a, "description");
            buf_printf(out, "FAIL %s: assertion %lld (%s%s%s)%s%s%s: %s\n", str(t, "name"), (long long)num(a, "index"),
                       str(a, "type"), strcmp(str(a, "type"), "jsonpath") ? " on " : "",
                       strcmp(str(a, "type"), "jsonpath") ? str(a, "target") : "", *d ? " \"" : "", d, *d ? "\"" : "",
                       str(a, "message"));
            if (!strcmp(str(a, "type"), "jsonpath"))
                buf_printf(out, "    query:    %s\n    expected: %s\n    got:      %s\n", str(a, "query"),
                           str(a, "expected"), str(a, "got"));
            indented(out, str(a, "lines"), 4);
        }
    }
    json_object_object_get_ex(report, "summary", &summary);
    int64_t nt = num(summary, "tests"), nf = num(summary, "failed");
    buf_printf(out, "%s: %lld test%s, %lld passed, %lld failed (%lld assertions, %lld failed)\n",
               boolean(report, "ok") ? "OK" : "FAILED", (long long)nt, nt == 1 ? "" : "s",
               (long long)num(summary, "passed"), (long long)nf, (long long)num(summary, "assertions"),
               (long long)num(summary, "assertions_failed"));
}
