/* The root of the config schema: the ONE table listing every top-level section, and the rules that span
 * sections. To add a section: define its struct in config.h, its field table in a config_schema_*.c file,
 * and add one line below. Also where environment defaults are read from (overridable in tests). */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/config/config_schema.h"

static const char *sa_namespace_file;

void config_set_sa_namespace_file(const char *path) { sa_namespace_file = path; }

const char *cfg_sa_namespace_file(void) { return sa_namespace_file ? sa_namespace_file : CONFIG_SA_NAMESPACE_FILE; }

static int watched(const struct config *c, const char *name)
{
    if (!strcmp(name, "haproxy-pods")) return 1;
    for (size_t i = 0; i < c->watched_resources.len; i++)
        if (!strcmp(c->watched_resources.items[i].name, name)) return 1;
    return 0;
}

static void root_finish(void *obj, struct config *root, struct cfg_check *ck)
{
    struct config *c = obj;
    cfg_check_templates(c, ck);
    cfg_check_test_references(c, ck);
    if (cfg_failed(ck, "watched_resources")) return;
    for (size_t i = 0; i < c->validation_tests.len; i++) {
        const struct config_validation_test *t = &c->validation_tests.items[i];
        if (!t->fixtures || !json_object_is_type(t->fixtures, json_type_object)) continue;
        json_object_object_foreach(t->fixtures, name, list) {
            (void)list;
            if (watched(c, name)) continue;
            char key[ERR_WHERE_MAX];
            snprintf(key, sizeof(key), "validation_tests.%s.fixtures.%s", t->name, name);
            cfg_error(ck, key, "\"%s\" is not a watched resource (declare it under watched_resources)", name);
        }
    }
}

#define T struct config
static const struct cfg_field root_fields[] = {
    CFG_FIELD(T, controller, CFG_SECTION, .sub = &cfg_controller_schema, .doc = "The controller's own settings."),
    CFG_FIELD(T, haproxy, CFG_SECTION, .sub = &cfg_haproxy_schema, .doc = "The HAProxy instances to drive."),
    CFG_FIELD(T, deploy, CFG_SECTION, .sub = &cfg_deploy_schema, .doc = "When configurations are pushed."),
    CFG_FIELD(T, watched_resources_ignore_fields, CFG_STRINGS,
              .doc = "Fields removed from every watched object before it is stored, e.g. metadata.managedFields."),
    CFG_FIELD(T, watched_resources, CFG_MAP, .sub = &cfg_watched_resource_schema,
              .doc = "Kubernetes resources to watch; a template reads one as resources.<name>."),
    CFG_FIELD(T, template_snippets, CFG_MAP, .sub = &cfg_snippet_schema,
              .doc = "Named templates other templates include."),
    CFG_FIELD(T, maps, CFG_MAP, .sub = &cfg_template_file_schema, .doc = "HAProxy map files, by file name."),
    CFG_FIELD(T, files, CFG_MAP, .sub = &cfg_template_file_schema, .doc = "Other files (error pages, ...), by file name."),
    CFG_FIELD(T, ssl_certificates, CFG_MAP, .sub = &cfg_template_file_schema, .doc = "PEM files, by file name."),
    CFG_FIELD(T, haproxy_config, CFG_SECTION, .flags = CFG_F_REQUIRED, .sub = &cfg_haproxy_config_schema,
              .doc = "The main haproxy.cfg template."),
    CFG_FIELD(T, validation_tests, CFG_MAP, .sub = &cfg_validation_test_schema,
              .doc = "Tests run on the templates with fixture objects."),
    CFG_FIELD(T, templating_settings, CFG_SECTION, .sub = &cfg_templating_schema, .doc = "Template engine settings."),
    CFG_END,
};
#undef T
const struct cfg_schema cfg_root_schema = {.size = sizeof(struct config), .fields = root_fields, .finish = root_finish};
