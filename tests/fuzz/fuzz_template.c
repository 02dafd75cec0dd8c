/* libFuzzer target for the template engine: the input is a template source, optionally followed by
 * "\n#ctx\n" and a JSON context. It is compiled and rendered (also as an include/import target, and with
 * strict mode) under small output and step bounds; any crash, leak or sanitizer report is a bug. The context
 * is rendered twice: as a json-c object and as a packed block loaded with packed_from_text (how the render CLI
 * and the stores hand contexts over); both must give the same result and the same output.
 * Build and run: see docs/templates.md ("Fuzzing"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "common/store/packed.h"
#include "common/template/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char default_ctx[] =
    "{\"s\": \"a.b-c\", \"n\": 3, \"f\": 1.5, \"b\": true, \"z\": null, \"l\": [3, \"x\", [1, 2], {\"k\": 1}],"
    " \"d\": {\"a\": 1, \"b\": [\"p\", \"q\"], \"c\": {\"d\": \"e\"}}, \"items\": [{\"name\": \"i1\", \"port\": 80},"
    " {\"name\": \"i2\"}]}";

static struct packed_keys *keys;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    const char *src = (const char *)data;
    size_t slen = size;
    json_object *ctx = NULL;
    const char *sep = memmem(data, size, "\n#ctx\n", 6);
    const char *ctext = default_ctx;
    size_t clen = sizeof(default_ctx) - 1;
    if (sep) {
        slen = (size_t)(sep - src);
        ctext = sep + 6;
        clen = size - slen - 6;
    }
    /* both builders from the same text, so the two renders see the same value (or the default for both) */
    if (!keys && !(keys = packed_keys_new())) abort();
    struct packed *pctx = NULL;
    struct err pe;
    if (packed_from_text(keys, ctext, clen, NULL, &pctx, &pe) == 0 && packed_type(packed_root(pctx)) == PACKED_OBJECT) {
        struct buf t;
        buf_init(&t);
        packed_to_json(packed_root(pctx), &t);
        ctx = json_tokener_parse(buf_cstr(&t));
        buf_free(&t);
    } else {
        packed_free(pctx);
        pctx = NULL;
    }
    if (!ctx || !pctx) {
        json_object_put(ctx);
        packed_free(pctx);
        ctx = json_tokener_parse(default_ctx);
        if (packed_from_text(keys, default_ctx, sizeof(default_ctx) - 1, NULL, &pctx, &pe) < 0) abort();
    }
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
            struct buf out, pout;
            buf_init(&out);
            buf_init(&pout);
            int rj = tmpl_render(t, ctx, &out, &e);
            struct tmpl_value pv = tmpl_value_packed(packed_root(pctx));
            int rp = tmpl_render_value(t, &pv, NULL, NULL, 0, &pout, &e);
            if (rj != rp || (rj == 0 && (out.len != pout.len || (out.len && memcmp(out.data, pout.data, out.len))))) {
                fprintf(stderr, "fuzz_template: json-c context %d \"%.200s\", packed %d \"%.200s\"\n", rj,
                        buf_cstr(&out), rp, buf_cstr(&pout));
                abort();
            }
            buf_free(&out);
            buf_free(&pout);
        }
        tmpl_env_free(env);
    }
    json_object_put(ctx);
    packed_free(pctx);
    return 0;
}
