/* Schema of what the pipeline uses: watched resources, templates (haproxy.cfg, snippets, maps, files,
 * certificates) with post-processing, embedded validation tests, and extra template context. The renderer
 * and validator issues read these from struct config; rules that span sections live in config_schema.c. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/config/config_schema.h"

static const struct cfg_enum store_kinds[] = {{"full", CONFIG_STORE_FULL}, {"on-demand", CONFIG_STORE_ON_DEMAND}, {NULL, 0}};

#define T struct config_watched_resource
static const struct cfg_field watched_resource_fields[] = {
    CFG_FIELD(T, api_version, CFG_STRING, .flags = CFG_F_REQUIRED, .check = cfg_rule_api_version,
              .doc = "API group/version, e.g. v1 or networking.k8s.io/v1."),
    CFG_FIELD(T, resources, CFG_STRING, .flags = CFG_F_REQUIRED, .check = cfg_rule_dns1123_label,
              .doc = "Plural resource name (ingresses, services, endpointslices), not the kind."),
    CFG_FIELD(T, index_by, CFG_STRINGS, .flags = CFG_F_REQUIRED | CFG_F_NONEMPTY,
              .doc = "JSONPath-like keys the store is indexed by, e.g. [metadata.namespace, metadata.name]; each "
                     "names one value (no `[*]`, `.*` or negative index: refused at load)."),
    CFG_FIELD(T, label_selector, CFG_SELECTOR, .check = cfg_rule_label_selector,
              .doc = "Server-side label selector, as a mapping or \"k=v,k2=v2\"."),
    CFG_FIELD(T, field_selector, CFG_STRING, .doc = "Field selector, e.g. spec.ingressClassName=haproxy."),
    CFG_FIELD(T, namespace, CFG_STRING, .check = cfg_rule_dns1123_label,
              .doc = "Watch only this namespace; unset = all namespaces."),
    CFG_FIELD(T, store, CFG_ENUM, .def = "full", .enums = store_kinds,
              .doc = "full keeps whole objects in memory; on-demand keeps references and fetches objects when a template reads them."),
    CFG_FIELD(T, enable_validation_webhook, CFG_BOOL, .def = "false",
              .doc = "Validate changes of this resource in an admission webhook before they are stored."),
    CFG_END,
};
#undef T
const struct cfg_schema cfg_watched_resource_schema = {
    .size = sizeof(struct config_watched_resource), .fields = watched_resource_fields,
    .check_name = cfg_rule_watched_name,
};

#define T struct config_snippet
static const struct cfg_field snippet_fields[] = {
    CFG_FIELD(T, template, CFG_STRING, .flags = CFG_F_REQUIRED, .doc = "Template text, includable by the snippet's name."),
    CFG_FIELD(T, priority, CFG_INT, .def = "500", .min = 0, .max = 1000000,
              .doc = "Snippets are listed in template_snippets sorted by (priority, name)."),
    CFG_END,
};
#undef T
const struct cfg_schema cfg_snippet_schema = {
    .size = sizeof(struct config_snippet), .fields = snippet_fields, .check_name = cfg_rule_snippet_name,
};

static const struct cfg_enum post_kinds[] = {{"regex_replace", CONFIG_POST_REGEX_REPLACE}, {NULL, 0}};

#define T struct config_regex_params
static const struct cfg_field regex_params_fields[] = {
    CFG_FIELD(T, pattern, CFG_STRING, .flags = CFG_F_REQUIRED | CFG_F_NONEMPTY, .check = cfg_rule_regex,
              .doc = "POSIX extended regular expression matched against each rendered line."),
    CFG_FIELD(T, replace, CFG_STRING, .def = "", .doc = "Replacement; \\1..\\9 refer to groups."),
    CFG_END,
};
#undef T
static const struct cfg_schema regex_params_schema = {.size = sizeof(struct config_regex_params), .fields = regex_params_fields};

#define T struct config_post_processor
static const struct cfg_field post_fields[] = {
    CFG_FIELD(T, type, CFG_ENUM, .flags = CFG_F_REQUIRED, .enums = post_kinds, .doc = "Post-processor kind."),
    CFG_FIELD(T, params, CFG_SECTION, .flags = CFG_F_REQUIRED, .sub = &regex_params_schema,
              .doc = "Parameters of the post-processor."),
    CFG_END,
};
#undef T
static const struct cfg_schema post_schema = {.size = sizeof(struct config_post_processor), .fields = post_fields};

#define T struct config_template_file
static const struct cfg_field template_file_fields[] = {
    CFG_FIELD(T, template, CFG_STRING, .flags = CFG_F_REQUIRED, .doc = "Template text."),
    CFG_FIELD(T, post_processing, CFG_LIST, .sub = &post_schema, .doc = "Applied in order to the rendered text."),
    CFG_END,
};
#undef T
const struct cfg_schema cfg_template_file_schema = {
    .size = sizeof(struct config_template_file), .fields = template_file_fields, .check_name = cfg_rule_file_name,
};
const struct cfg_schema cfg_haproxy_config_schema = {
    .size = sizeof(struct config_template_file), .fields = template_file_fields,
};

static const struct cfg_enum assertion_kinds[] = {
    {"haproxy_valid", CONFIG_ASSERT_HAPROXY_VALID}, {"contains", CONFIG_ASSERT_CONTAINS},
    {"not_contains", CONFIG_ASSERT_NOT_CONTAINS},   {"equals", CONFIG_ASSERT_EQUALS},
    {"match_count", CONFIG_ASSERT_MATCH_COUNT},     {"match_order", CONFIG_ASSERT_MATCH_ORDER},
    {"jsonpath", CONFIG_ASSERT_JSONPATH},           {"deterministic", CONFIG_ASSERT_DETERMINISTIC},
    {NULL, 0},
};

/* Which keys each assertion type needs. */
static void assertion_finish(void *obj, struct config *root, struct cfg_check *ck)
{
    struct config_assertion *a = obj;
    if (cfg_failed(ck, "type")) return;
    const char *need = NULL;
    switch (a->type) {
    case CONFIG_ASSERT_CONTAINS:
    case CONFIG_ASSERT_NOT_CONTAINS:
        if (!a->pattern) need = "pattern";
        break;
    case CONFIG_ASSERT_EQUALS:
        if (!a->expected) need = "expected";
        break;
    case CONFIG_ASSERT_MATCH_COUNT:
        if (!a->pattern) need = "pattern";
        else if (!cfg_given(ck, "count")) need = "count";
        break;
    case CONFIG_ASSERT_MATCH_ORDER:
        if (a->patterns.len < 2 && !cfg_failed(ck, "patterns")) {
            cfg_error(ck, "patterns", "match_order needs at least two patterns");
            return;
        }
        break;
    case CONFIG_ASSERT_JSONPATH:
        if (!a->jsonpath) need = "jsonpath";
        else if (!a->expected) need = "expected";
        break;
    default: break;
    }
    if (need && !cfg_failed(ck, need)) cfg_error(ck, need, "required by this assertion type");
}

#define T struct config_assertion
static const struct cfg_field assertion_fields[] = {
    CFG_FIELD(T, type, CFG_ENUM, .flags = CFG_F_REQUIRED, .enums = assertion_kinds,
              .doc = "haproxy_valid: haproxy -c accepts the result; contains / not_contains: pattern matches / does not match the target; equals: target is exactly expected; match_count: pattern matches count times; match_order: patterns match in this order; jsonpath: the query on the render context gives expected; deterministic: two renders are identical."),
    CFG_FIELD(T, description, CFG_STRING, .doc = "Shown when the assertion fails."),
    CFG_FIELD(T, target, CFG_STRING, .def = "haproxy.cfg", .check = cfg_rule_assert_target,
              .doc = "haproxy.cfg, map:<name>, file:<name> or cert:<name>."),
    CFG_FIELD(T, pattern, CFG_STRING, .check = cfg_rule_regex, .doc = "Regular expression (contains, not_contains, match_count)."),
    CFG_FIELD(T, patterns, CFG_STRINGS, .check = cfg_rule_regex, .doc = "Regular expressions in expected order (match_order)."),
    CFG_FIELD(T, expected, CFG_STRING, .doc = "Expected text (equals, jsonpath)."),
    CFG_FIELD(T, count, CFG_INT, .def = "0", .min = 0, .max = 1000000, .doc = "Expected number of matches (match_count)."),
    CFG_FIELD(T, jsonpath, CFG_STRING, .doc = "Query on the render context (jsonpath)."),
    CFG_END,
};
#undef T
static const struct cfg_schema assertion_schema = {
    .size = sizeof(struct config_assertion), .fields = assertion_fields, .finish = assertion_finish,
};

/* fixtures: {<watched resource name>: [object, ...]}; the names are checked against watched_resources by
 * the root rules once every section is parsed. */
static void validation_test_finish(void *obj, struct config *root, struct cfg_check *ck)
{
    struct config_validation_test *t = obj;
    if (!t->fixtures || cfg_failed(ck, "fixtures")) return;
    if (!json_object_is_type(t->fixtures, json_type_object)) {
        cfg_error(ck, "fixtures", "expected a mapping of watched resource names to lists of objects");
        return;
    }
    json_object_object_foreach(t->fixtures, name, list) {
        char key[ERR_WHERE_MAX];
        snprintf(key, sizeof(key), "fixtures.%s", name);
        if (!json_object_is_type(list, json_type_array)) {
            cfg_error(ck, key, "expected a list of Kubernetes objects");
            continue;
        }
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            struct json_object *o = json_object_array_get_idx(list, i);
            snprintf(key, sizeof(key), "fixtures.%s[%zu]", name, i);
            if (!json_object_is_type(o, json_type_object)) cfg_error(ck, key, "expected a Kubernetes object (a mapping)");
        }
    }
}

#define T struct config_validation_test
static const struct cfg_field validation_test_fields[] = {
    CFG_FIELD(T, description, CFG_STRING, .doc = "What the test proves."),
    CFG_FIELD(T, fixtures, CFG_JSON,
              .doc = "Objects per watched resource name, rendered instead of the cluster's (a test named _global adds its fixtures to every test)."),
    CFG_FIELD(T, assertions, CFG_LIST, .flags = CFG_F_REQUIRED | CFG_F_NONEMPTY, .sub = &assertion_schema,
              .doc = "Checks on the rendered output."),
    CFG_END,
};
#undef T
const struct cfg_schema cfg_validation_test_schema = {
    .size = sizeof(struct config_validation_test), .fields = validation_test_fields,
    .check_name = cfg_rule_identifier, .finish = validation_test_finish,
};

static void templating_finish(void *obj, struct config *root, struct cfg_check *ck)
{
    struct config_templating *t = obj;
    if (t->extra_context && !json_object_is_type(t->extra_context, json_type_object))
        cfg_error(ck, "extra_context", "expected a mapping (its keys become top-level template variables)");
}

#define T struct config_templating
static const struct cfg_field templating_fields[] = {
    CFG_FIELD(T, extra_context, CFG_JSON, .doc = "Mapping whose keys become top-level template variables."),
    CFG_END,
};
#undef T
const struct cfg_schema cfg_templating_schema = {
    .size = sizeof(struct config_templating), .fields = templating_fields, .finish = templating_finish,
};
