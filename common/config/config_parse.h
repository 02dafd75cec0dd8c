/* Internal: the state of one config load shared by the generic walker (config_parse.c) and the loader
 * (config.c). Marks remember where each given key's value sat in the input, so rules checked after parsing
 * can still point at a line and column. */
#ifndef HTIC_CONFIG_PARSE_H
#define HTIC_CONFIG_PARSE_H

#include <stddef.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/config/config_schema.h"

struct cfg_mark {
    char *path;  /* owned */
    int line, column;
    int failed;  /* an error was reported at this path */
};

struct cfg_parse {
    const char *file;          /* shown in every error */
    struct err_list *errs;     /* not owned */
    yaml_document_t *doc;      /* not owned */
    struct config *root;       /* the config being built */
    struct cfg_mark *marks;    /* owned */
    size_t nmarks, capmarks;
    size_t json_nodes;         /* free-form values converted so far (bounded by CONFIG_MAX_JSON_NODES) */
    size_t bytes;              /* string bytes copied so far (bounded by CONFIG_MAX_EXPANDED_BYTES) */
    int budget_reported;       /* a whole-document bound was reported: later problems are its consequences */
    size_t nerrors;            /* problems found so far (listed up to CONFIG_MAX_ERRORS); the load fails when
                                * non-zero, even if listing one ran out of memory */
};

/* Builds the document from text in one pass (config_yaml.c): nesting bounded by CONFIG_MAX_DEPTH, scalars
 * tagged !!str stored as quoted, other tags and a second document refused. On success the caller deletes
 * doc; on failure it is already deleted and errs says what and where. */
int cfg_yaml_load(const char *text, size_t len, const char *name, yaml_document_t *doc, struct err_list *errs);
void cfg_path_key(char *out, size_t n, const char *parent, const char *key);
void cfg_parse_root(struct cfg_parse *pc, void *root, yaml_node_t *node);
void cfg_parse_done(struct cfg_parse *pc);
void cfg_free_root(void *root);
struct json_object *cfg_describe_root(const void *root);
/* The value at a dotted key path ("controller.leader_election", "watched_resources"), secrets unredacted, for
 * comparing configs. 0 with *out (new reference; NULL for an unset value), or -1 for a path the schema lacks. */
int cfg_describe_path(const void *root, const char *path, struct json_object **out);
void cfg_reference_root(struct buf *b);

#endif
