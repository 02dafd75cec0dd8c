/* Internal: the declarative description of the config. Each YAML mapping is a C struct described by a
 * struct cfg_schema (its fields); each field by a struct cfg_field (key, type, offset, default, bounds,
 * validator, one-line doc). The generic walker (config_parse.c) parses, defaults, frees, describes and
 * documents every section from these tables, so a new section is one table plus one line in the root table
 * (config_schema.c). Not part of the public API: other areas read struct config (config.h). */
#ifndef HTIC_CONFIG_SCHEMA_H
#define HTIC_CONFIG_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "common/config/config.h"

enum cfg_type {
    CFG_BOOL,      /* bool */
    CFG_INT,       /* int within [min, max] */
    CFG_STRING,    /* char * (owned); NULL when absent and no default */
    CFG_DURATION,  /* int64_t milliseconds within [min, max]; Go spelling "1m30s" */
    CFG_ENUM,      /* int, one of field->enums */
    CFG_STRINGS,   /* struct config_strlist from a sequence of scalars */
    CFG_SELECTOR,  /* char *: label selector from "k=v,k2=v2" or a mapping of labels */
    CFG_SECTION,   /* nested struct (field->sub), always present with its defaults */
    CFG_MAP,       /* mapping name -> struct (field->sub); stored as {T *items; size_t len}; T starts with char *name */
    CFG_LIST,      /* sequence of struct (field->sub); stored as {T *items; size_t len} */
    CFG_JSON,      /* free-form YAML as a json-c object (struct json_object *, owned) */
    CFG_REFUSED,   /* a key refused with field->doc as the reason (e.g. inline passwords) */
};

#define CFG_F_REQUIRED 0x1u  /* the key must be present */
#define CFG_F_SECRET   0x2u  /* never shown: described as "<redacted>" */
#define CFG_F_URL      0x4u  /* user:password@ in the URL is redacted when shown */
#define CFG_F_NONEMPTY 0x8u  /* strings: "" refused; sequences and mappings: at least one entry */

struct cfg_enum {
    const char *name;
    int value;
};

struct cfg_check;

struct cfg_schema {
    size_t size;                    /* sizeof the struct, for MAP and LIST elements */
    const struct cfg_field *fields; /* terminated by an entry with key == NULL */
    /* MAP only: rule for the entry names; returns 0 or -1 with a reason. */
    int (*check_name)(const char *name, const char **why);
    /* Called after the struct is parsed and defaulted: environment defaults and cross-field rules.
     * root is the whole struct config being loaded (for rules across sections). */
    void (*finish)(void *obj, struct config *root, struct cfg_check *ck);
};

struct cfg_field {
    const char *key;
    enum cfg_type type;
    size_t offset;
    unsigned flags;
    const char *def;      /* default in YAML spelling ("15s", "true", "8080"); NULL = none */
    const char *def_doc;  /* how the default is shown in the docs when def does not say it all */
    int64_t min, max;     /* INT and DURATION bounds (DURATION in ms); min == max == 0: unbounded */
    const struct cfg_enum *enums;  /* ENUM: names, terminated by name == NULL */
    const struct cfg_schema *sub;  /* SECTION, MAP, LIST */
    /* Optional per-value rule for STRING/SELECTOR (the string) values; returns 0 or -1 with a reason. */
    int (*check)(const char *value, const char **why);
    const char *doc;
};

/* Table shorthand: the YAML key is the C member's name. */
#define CFG_FIELD(T, member, kind, ...) {.key = #member, .type = kind, .offset = offsetof(T, member), __VA_ARGS__}
/* A duration: the key `name` is stored in the int64_t member `name_ms`. */
#define CFG_FIELD_MS(T, name, ...) \
    {.key = #name, .type = CFG_DURATION, .offset = offsetof(T, name##_ms), __VA_ARGS__}
#define CFG_END {.key = NULL}

/* Validation context handed to finish hooks. */
struct cfg_check {
    struct cfg_parse *pc;
    const char *path;  /* YAML path of the struct being finished ("" for the root) */
};

/* Reports a problem with the field `key` of the struct being finished (key may be NULL for the struct
 * itself); the line and column are those of the key's value in the input when it was given. */
void cfg_error(struct cfg_check *ck, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether the field `key` of the struct being finished had an error of its own (skip rules that use it);
 * like cfg_error, a key holding . or [ is a path below the struct. */
int cfg_failed(struct cfg_check *ck, const char *key);
/* Whether the field `key` was given in the input (as opposed to defaulted). */
int cfg_given(struct cfg_check *ck, const char *key);

/* The root of the schema (config_schema.c) and the section tables it lists. */
extern const struct cfg_schema cfg_root_schema;
extern const struct cfg_schema cfg_controller_schema;
extern const struct cfg_schema cfg_haproxy_schema;
extern const struct cfg_schema cfg_deploy_schema;
extern const struct cfg_schema cfg_watched_resource_schema;
extern const struct cfg_schema cfg_snippet_schema;
extern const struct cfg_schema cfg_template_file_schema;
extern const struct cfg_schema cfg_haproxy_config_schema;
extern const struct cfg_schema cfg_validation_test_schema;
extern const struct cfg_schema cfg_templating_schema;

/* Name and value rules shared by the tables (config_rules.c). */
int cfg_rule_dns1123_subdomain(const char *s, const char **why);
int cfg_rule_dns1123_label(const char *s, const char **why);
int cfg_rule_file_name(const char *s, const char **why);
int cfg_rule_identifier(const char *s, const char **why);
int cfg_rule_regex(const char *s, const char **why);
int cfg_rule_label_selector(const char *s, const char **why);
int cfg_rule_absolute_path(const char *s, const char **why);
int cfg_rule_http_url(const char *s, const char **why);
int cfg_rule_ip_address(const char *s, const char **why);
int cfg_rule_api_version(const char *s, const char **why);
int cfg_rule_assert_target(const char *s, const char **why);
int cfg_rule_snippet_name(const char *s, const char **why);
int cfg_rule_watched_name(const char *s, const char **why);

/* Cross-section rules run by the root's finish hook: every template compiles (config_templates.c), every
 * validation-test reference resolves (config_references.c). */
void cfg_check_templates(const struct config *c, struct cfg_check *ck);
void cfg_check_test_references(const struct config *c, struct cfg_check *ck);

/* Where environment defaults come from (config_env.c); overridable in tests. */
const char *cfg_sa_namespace_file(void);

#endif
