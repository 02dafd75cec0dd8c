/* libFuzzer target for the two path languages over one document: common/store/packed_path.c (index_by as the
 * store evaluates it, over packed values) and common/jsonpath (what the config validates index_by with, and
 * validation-test assertions, over json-c). Input: the expression, then optionally "\n#doc\n" and a JSON
 * document (a fixed Kubernetes-like object otherwise). Both compile and evaluate under ASan/UBSan; where both
 * accept an expression that selects one value without wildcards, they must select equal values, and a
 * packed path that selects nothing must have no jsonpath match either. With FUZZ_PATHS_ACCEPT=1 in the
 * environment, an expression jsonpath accepts and packed_path refuses is reported too (config validation
 * now checks index_by with both, so these are refused at load; the mode lists what the store lacks).
 * Not for: the packed builders (fuzz_packed).
 * Run: build-fuzz/tests/fuzz/fuzz_paths -max_total_time=300 -dict=tests/fuzz/fuzz_paths.dict CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonpath/jsonpath.h"
#include "common/store/packed.h"
#include "common/store/packed_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char default_doc[] =
    "{\"metadata\":{\"name\":\"n\",\"namespace\":\"ns\",\"labels\":{\"kubernetes.io/name\":\"a\",\"app\":\"x\","
    "\"a.b\":{\"c\":1}}},\"spec\":{\"ports\":[{\"port\":80},{\"port\":443,\"name\":\"https\"}],\"x'y\":\"q\","
    "\"empty\":{},\"n\":null,\"b\":true,\"d\":1.5}}";

static struct packed_keys *keys;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    if (!keys && !(keys = packed_keys_new())) abort();
    const char *sep = memmem(data, size, "\n#doc\n", 6);
    size_t elen = sep ? (size_t)(sep - (const char *)data) : size;
    char *expr = strndup((const char *)data, elen);
    const char *doc = sep ? sep + 6 : default_doc;
    size_t dlen = sep ? size - elen - 6 : strlen(default_doc);
    struct err e;
    struct packed *pk = NULL;
    json_object *j = NULL;
    if (packed_from_text(keys, doc, dlen, NULL, &pk, &e) == 0) {
        struct buf t;
        buf_init(&t);
        packed_to_json(packed_root(pk), &t);
        j = json_tokener_parse(buf_cstr(&t));
        buf_free(&t);
    }
    struct packed_path *pp = NULL;
    int pok = packed_path_compile(keys, expr, &pp, &e) == 0;
    struct jsonpath *jp = NULL;
    struct err je;
    int jok = jsonpath_compile(expr, &jp, &je) == 0;
    static int accept_mode = -1;
    if (accept_mode < 0) accept_mode = getenv("FUZZ_PATHS_ACCEPT") && !strcmp(getenv("FUZZ_PATHS_ACCEPT"), "1");
    if (accept_mode && jok && !pok) {
        fprintf(stderr, "fuzz_paths: jsonpath accepts \"%s\", packed_path refuses: %s\n", expr, e.msg);
        abort();
    }
    struct packed_val v = {0};
    int found = 0;
    if (pok && pk) found = packed_path_eval(pp, packed_root(pk), &v);
    if (jok && j) {
        json_object *res = json_object_new_array();
        int n = jsonpath_eval(jp, j, res);
        if (n != (int)json_object_array_length(res)) abort();
        /* comparable: both compiled, no wildcard (one value at most), and no backslash in a quoted name
         * (packed_path unescapes \' and \\ there, jsonpath takes quoted names as they are) */
        int plain = pok && !strchr(expr, '*') && !(strchr(expr, '\\') && strchr(expr, '['));
        if (plain && pk) {
            if (found != (n == 1)) {
                fprintf(stderr, "fuzz_paths: %s: packed %s, jsonpath %d results\n", expr, found ? "found" : "none", n);
                abort();
            }
            if (found) {
                struct buf t;
                buf_init(&t);
                packed_to_json(v, &t);
                json_object *pv = json_tokener_parse(buf_cstr(&t));
                if (!json_object_equal(pv, json_object_array_get_idx(res, 0))) {
                    fprintf(stderr, "fuzz_paths: %s: packed %s, jsonpath %s\n", expr, buf_cstr(&t),
                            json_object_to_json_string(json_object_array_get_idx(res, 0)));
                    abort();
                }
                json_object_put(pv);
                buf_free(&t);
            }
        }
        json_object_put(res);
    }
    jsonpath_free(jp);
    packed_path_free(pp);
    json_object_put(j);
    packed_free(pk);
    free(expr);
    if (packed_keys_count(keys) != 0) {
        fprintf(stderr, "fuzz_paths: %zu keys left in the table\n", packed_keys_count(keys));
        abort();
    }
    return 0;
}
