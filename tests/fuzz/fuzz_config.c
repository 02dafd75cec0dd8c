/* libFuzzer target for what arrives from outside through the config and metrics paths: config_load_string
 * (plus describe and error formatting) on arbitrary bytes, and metrics_merge_json + text output on arbitrary
 * JSON. Built with -Dfuzz=true (see tests/fuzz/meson.build), then for example:
 *   POD_NAMESPACE=ns build-fuzz/tests/fuzz/fuzz_config -max_total_time=120 -max_len=4096 WORK_DIR tests/fuzz/corpus/config
 * The config text goes through the one-pass YAML event loader (config_yaml.c: depth and alias bounds) on its
 * way to the document, so that loader is fuzzed here too. Runs: docs/performance.md, "Fuzzing". */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"
#include "common/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct err_list errs;
    err_list_init(&errs);
    struct config *cfg = NULL;
    if (config_load_string(s, "fuzz", &cfg, &errs) == 0) {
        struct json_object *o;
        if (config_describe_json(cfg, &o) == 0) json_object_put(o);
    }
    for (size_t i = 0; i < errs.len; i++) {
        char line[2048];
        err_format(&errs.items[i], line, sizeof(line));
    }
    config_free(cfg);
    err_list_free(&errs);
    struct json_object *j = json_tokener_parse(s);
    if (j) {
        struct metrics_registry *r = metrics_registry_new();
        metrics_merge_json(r, j, "fuzz", NULL);
        struct buf b;
        buf_init(&b);
        metrics_write_text(r, &b);
        buf_free(&b);
        metrics_registry_free(r);
        json_object_put(j);
    }
    free(s);
    return 0;
}
