/* libFuzzer target for the template engine: the input is a template source, optionally followed by
 * "\n#ctx\n" and a JSON context. It is compiled and rendered (also as an include/import target, and with
 * strict mode) under small output and step bounds; any crash, leak or sanitizer report is a bug.
 * Build and run: see docs/templates.md ("Fuzzing"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char default_ctx[] =
    "{\"s\": \"a.b-c\", \"n\": 3, \"f\": 1.5, \"b\": true, \"z\": null, \"l\": [3, \"x\", [1, 2], {\"k\": 1}],"
    " \"d\": {\"a\": 1, \"b\": [\"p\", \"q\"], \"c\": {\"d\": \"e\"}}, \"items\": [{\"name\": \"i1\", \"port\": 80},"
    " {\"name\": \"i2\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    const char *src = (const char *)data;
    size_t slen = size;
    json_object *ctx = NULL;
    const char *sep = memmem(data, size, "\n#ctx\n", 6);
    if (sep) {
        slen = (size_t)(sep - src);
        size_t clen = size - slen - 6;
        json_tokener *tok = json_tokener_new();
        ctx = json_tokener_parse_ex(tok, sep + 6, (int)clen);
        json_tokener_free(tok);
        if (ctx && !json_object_is_type(ctx, json_type_object)) {
            json_object_put(ctx);
            ctx = NULL;
        }
    }
    if (!ctx) ctx = json_tokener_parse(default_ctx);
    for (int strict = 0; strict <= 1; strict++) {
        struct tmpl_options o = {.trim_blocks = 1, .lstrip_blocks = !strict, .strict = strict,
                                 .max_output = 1 << 20, .max_steps = 200000};
        struct tmpl_env *env = tmpl_env_new(NULL, &o);
        if (!env) break;
        tmpl_env_add(env, "main", src, slen);
        tmpl_env_add(env, "inc", src, slen);
        static const char lib[] =
            "{% macro m(a, b=2) %}[{{ a }}{{ b }}{{ caller() if caller is defined }}]{% endmacro %}{% set v = 1 %}";
        tmpl_env_add(env, "lib", lib, sizeof(lib) - 1);
        struct tmpl *t;
        struct err e;
        if (tmpl_compile(env, "main", &t, &e) == 0) {
            struct buf out;
            buf_init(&out);
            tmpl_render(t, ctx, &out, &e);
            buf_free(&out);
        }
        tmpl_env_free(env);
    }
    json_object_put(ctx);
    return 0;
}
