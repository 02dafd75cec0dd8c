/* libFuzzer target for field selectors (workers/reconciler/fieldsel.c): the input is a selector, then
 * optionally "\n#obj\n" and a JSON object. The selector is parsed, matched, and split for a few resources into
 * the request's text and the client-side rest; the request text must parse again, and (server terms AND
 * client terms) must match exactly when the whole selector does: escaping on the wire loses nothing.
 * Not for: label selectors or the watch itself.
 * Run: build-fuzz/tests/fuzz/fuzz_fieldsel -max_total_time=300 -dict=tests/fuzz/fuzz_fieldsel.dict CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/reconciler/fieldsel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char default_obj[] =
    "{\"metadata\":{\"name\":\"n,=\\\\x\",\"namespace\":\"ns\"},\"spec\":{\"nodeName\":\"node-1\",\"hostNetwork\":true,"
    "\"replicas\":3},\"type\":\"kubernetes.io/tls\",\"status\":{\"phase\":\"Running\"}}";
static const char *const resources[][2] = {{"", "pods"}, {"", "secrets"}, {"apps", "deployments"}, {"core", "events"}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    const char *sep = memmem(data, size, "\n#obj\n", 6);
    size_t slen = sep ? (size_t)(sep - (const char *)data) : size;
    char *sel = strndup((const char *)data, slen);
    char *otext = sep ? strndup(sep + 6, size - slen - 6) : NULL;
    json_object *obj = json_tokener_parse(otext ? otext : default_obj);
    free(otext);
    if (!obj) obj = json_tokener_parse(default_obj);
    struct fieldsel f;
    struct err e;
    if (fieldsel_parse(sel, &f, &e) == 0) {
        int whole = fieldsel_match(&f, obj);
        fieldsel_free(&f);
        for (size_t r = 0; r < 4; r++) {
            if (fieldsel_parse(sel, &f, &e) < 0) abort();
            struct buf server;
            buf_init(&server);
            struct fieldsel client, again;
            if (fieldsel_split(&f, resources[r][0], resources[r][1], &server, &client) < 0) abort();
            if (fieldsel_parse(buf_cstr(&server), &again, &e) < 0) {
                fprintf(stderr, "fuzz_fieldsel: request text \"%s\" does not parse: %s\n", buf_cstr(&server), e.msg);
                abort();
            }
            int parts = fieldsel_match(&again, obj) && fieldsel_match(&client, obj);
            if (parts != whole) {
                fprintf(stderr, "fuzz_fieldsel: \"%s\" matches %d, split (\"%s\" + rest) %d\n", sel, whole,
                        buf_cstr(&server), parts);
                abort();
            }
            fieldsel_free(&again);
            fieldsel_free(&client);
            fieldsel_free(&f);
            buf_free(&server);
        }
    }
    json_object_put(obj);
    free(sel);
    return 0;
}
