/* What validation tests refer to must exist when the config is loaded, not when a test first runs:
 * an assertion's target map:/file:/cert: names a map, file or certificate of the config, and a jsonpath
 * assertion's query parses (common/jsonpath). The watched resources' index_by keys are JSONPath too and
 * must parse, and as store paths (common/store/packed_path.h: one value each). Fixture names are checked in config_schema.c. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/config/config_parse.h"
#include "common/config/config_schema.h"
#include "common/jsonpath/jsonpath.h"
#include "common/store/packed_path.h"

static int has(const struct config_template_file_map *m, const char *name)
{
    for (size_t i = 0; i < m->len; i++)
        if (!strcmp(m->items[i].name, name)) return 1;
    return 0;
}

static void check_target(const struct config *c, const char *target, const char *key, struct cfg_check *ck)
{
    static const struct {
        const char *prefix, *section;
        size_t offset;
    } kinds[] = {
        {"map:", "maps", offsetof(struct config, maps)},
        {"file:", "files", offsetof(struct config, files)},
        {"cert:", "ssl_certificates", offsetof(struct config, ssl_certificates)},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(target, kinds[i].prefix, n)) continue;
        const struct config_template_file_map *m = (const void *)((const char *)c + kinds[i].offset);
        if (!has(m, target + n))
            cfg_error(ck, key, "\"%s\" names no entry of %s (declare it there or fix the name)", target + n,
                      kinds[i].section);
    }
}

static void check_jsonpath(const char *expr, const char *key, struct cfg_check *ck)
{
    struct jsonpath *p;
    struct err e;
    err_clear(&e);
    if (jsonpath_compile(expr, &p, &e) < 0) cfg_error(ck, key, "invalid JSONPath \"%.200s\": %s", expr, e.msg);
    jsonpath_free(p);
}

/* An index key names one value: the store (common/store/packed_path.c) takes no wildcards or negative
 * indexes, which JSONPath has, so such a key is refused here rather than by every store built from it. */
static void check_index_key(const char *expr, const char *key, struct cfg_check *ck)
{
    struct packed_path_step *steps;
    size_t n;
    struct err e;
    err_clear(&e);
    if (packed_path_parse(expr, &steps, &n, &e) < 0)
        cfg_error(ck, key, "index key must name one value (no wildcards or negative indexes): %s", e.msg);
    else
        packed_path_steps_free(steps, n);
}

void cfg_check_test_references(const struct config *c, struct cfg_check *ck)
{
    for (size_t i = 0; i < c->validation_tests.len; i++) {
        const struct config_validation_test *t = &c->validation_tests.items[i];
        char test[ERR_WHERE_MAX];
        cfg_path_key(test, sizeof(test), "validation_tests", t->name);
        for (size_t j = 0; j < t->assertions.len; j++) {
            const struct config_assertion *a = &t->assertions.items[j];
            char key[ERR_WHERE_MAX];
            snprintf(key, sizeof(key), "%.200s.assertions[%zu].target", test, j);
            if (a->target && !cfg_failed(ck, key)) check_target(c, a->target, key, ck);
            snprintf(key, sizeof(key), "%.200s.assertions[%zu].jsonpath", test, j);
            if (a->jsonpath && !cfg_failed(ck, key)) check_jsonpath(a->jsonpath, key, ck);
        }
    }
    for (size_t i = 0; i < c->watched_resources.len; i++) {
        const struct config_watched_resource *w = &c->watched_resources.items[i];
        char res[ERR_WHERE_MAX];
        cfg_path_key(res, sizeof(res), "watched_resources", w->name);
        for (size_t j = 0; j < w->index_by.len; j++) {
            char key[ERR_WHERE_MAX];
            snprintf(key, sizeof(key), "%.200s.index_by[%zu]", res, j);
            check_jsonpath(w->index_by.items[j], key, ck);
            if (!cfg_failed(ck, key)) check_index_key(w->index_by.items[j], key, ck);
        }
    }
}
