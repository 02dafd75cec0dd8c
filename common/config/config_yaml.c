/* Loading the config text into a libyaml document, in one pass over libyaml's event stream instead of
 * yaml_parser_load, for three things that loader cannot do:
 *  - stop at the first collection nested deeper than CONFIG_MAX_DEPTH, before libyaml goes further (its
 *    time per token grows with the flow depth, so 100 000 nested `[` took it longer than 15 s);
 *  - keep explicit tags: `!!str 80` must be the string "80", which yaml_parser_load makes look exactly like
 *    a plain 80; a scalar tagged !!str (or `!`) is stored as if quoted, and any other tag is refused;
 *  - report more than one document, and every problem, with the config's name, line and column.
 * Not the schema walker (config_parse.c), which reads the document this builds. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/config/config_parse.h"

#define TAG_STR "tag:yaml.org,2002:str"

struct frame {
    int id;       /* the collection's node */
    int is_map;
    int key;      /* mapping: the key waiting for its value, 0 if none */
};

struct builder {
    yaml_document_t *doc;
    const char *name;
    struct err_list *errs;
    struct frame stack[CONFIG_MAX_DEPTH];
    int depth;
    struct json_object *anchors;  /* owned: anchor name -> node id */
};

static int fail(struct builder *b, const yaml_mark_t *m, const char *msg)
{
    err_list_add(b->errs, b->name, "", m ? (int)m->line + 1 : 0, m ? (int)m->column + 1 : 0, "%s", msg);
    return -1;
}

static int oom(struct builder *b, const yaml_mark_t *m) { return fail(b, m, "out of memory"); }

/* Attaches a finished node to the collection it belongs to (none for the root). */
static int attach(struct builder *b, int id, const yaml_mark_t *m)
{
    if (b->depth == 0) return 0;
    struct frame *f = &b->stack[b->depth - 1];
    int ok;
    if (!f->is_map) {
        ok = yaml_document_append_sequence_item(b->doc, f->id, id);
    } else if (!f->key) {
        f->key = id;
        ok = 1;
    } else {
        ok = yaml_document_append_mapping_pair(b->doc, f->id, f->key, id);
        f->key = 0;
    }
    return ok ? 0 : oom(b, m);
}

static int remember_anchor(struct builder *b, const yaml_char_t *anchor, int id, const yaml_mark_t *m)
{
    if (!anchor) return 0;
    struct json_object *v = json_object_new_int(id);
    if (!v || json_object_object_add(b->anchors, (const char *)anchor, v) < 0) {
        json_object_put(v);
        return oom(b, m);
    }
    return 0;
}

static void set_marks(struct builder *b, int id, const yaml_event_t *ev)
{
    yaml_node_t *n = yaml_document_get_node(b->doc, id);
    n->start_mark = ev->start_mark;
    n->end_mark = ev->end_mark;
}

/* Explicit tags: which ones we honour. Returns 0, or -1 after reporting. */
static int check_tag(struct builder *b, const yaml_char_t *tag, const char *want, const yaml_mark_t *m)
{
    if (!tag) return 0;
    const char *t = (const char *)tag;
    if (!strcmp(t, want) || (!strcmp(want, TAG_STR) && !strcmp(t, "!"))) return 0;
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof(msg), "unsupported YAML tag \"%.200s\" (only !!str, on scalars, is honoured)", t);
    return fail(b, m, msg);
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        if (check_tag(b, ev->data.scalar.tag, TAG_STR, m) < 0) return -1;
        yaml_scalar_style_t style = ev->data.scalar.style;
        /* `!!str 80` is a string, like `"80"`: the walker tells strings from other scalars by quoting */
        if (ev->data.scalar.tag && style == YAML_PLAIN_SCALAR_STYLE) style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
        int id = yaml_document_add_scalar(b->doc, NULL, ev->data.scalar.value, (int)ev->data.scalar.length, style);
        if (!id) return oom(b, m);
        set_marks(b, id, ev);
        if (remember_anchor(b, ev->data.scalar.anchor, id, m) < 0) return -1;
        return attach(b, id, m);
    }
    case YAML_ALIAS_EVENT: {
        struct json_object *v;
        if (!json_object_object_get_ex(b->anchors, (const char *)ev->data.alias.anchor, &v)) {
            char msg[ERR_MSG_MAX];
            snprintf(msg, sizeof(msg), "alias *%.200s refers to no anchor defined before it", ev->data.alias.anchor);
            return fail(b, m, msg);
        }
        return attach(b, json_object_get_int(v), m);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *tag = is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
        const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        if (b->depth == CONFIG_MAX_DEPTH) {
            char msg[ERR_MSG_MAX];
            snprintf(msg, sizeof(msg), "YAML nested deeper than %d levels", CONFIG_MAX_DEPTH);
            return fail(b, m, msg);
        }
        if (check_tag(b, tag, is_map ? YAML_DEFAULT_MAPPING_TAG : YAML_DEFAULT_SEQUENCE_TAG, m) < 0) return -1;
        int id = is_map ? yaml_document_add_mapping(b->doc, NULL, ev->data.mapping_start.style)
                        : yaml_document_add_sequence(b->doc, NULL, ev->data.sequence_start.style);
        if (!id) return oom(b, m);
        set_marks(b, id, ev);
        if (remember_anchor(b, anchor, id, m) < 0 || attach(b, id, m) < 0) return -1;
        b->stack[b->depth++] = (struct frame){.id = id, .is_map = is_map};
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0) {
            yaml_document_get_node(b->doc, b->stack[b->depth - 1].id)->end_mark = ev->end_mark;
            b->depth--;
        }
        return 0;
    default: return 0;
    }
}

static int syntax_error(struct builder *b, const yaml_parser_t *p)
{
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof(msg), "YAML syntax error: %s%s%s", p->problem ? p->problem : "unknown problem",
             p->context ? " " : "", p->context ? p->context : "");
    return fail(b, &p->problem_mark, msg);
}

int cfg_yaml_load(const char *text, size_t len, const char *name, yaml_document_t *doc, struct err_list *errs)
{
    struct builder b = {.doc = doc, .name = name, .errs = errs, .anchors = json_object_new_object()};
    yaml_parser_t parser;
    if (!yaml_document_initialize(doc, NULL, NULL, NULL, 1, 1)) {
        json_object_put(b.anchors);
        return oom(&b, NULL);
    }
    if (!b.anchors || !yaml_parser_initialize(&parser)) {
        json_object_put(b.anchors);
        yaml_document_delete(doc);
        return oom(&b, NULL);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0, docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(&b, &parser);
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            /* Exactly one document: a second one would be silently ignored otherwise. */
            rc = fail(&b, &ev.start_mark, "only one YAML document is allowed");
        } else if (docs <= 1) {
            rc = on_event(&b, &ev);
        }
        yaml_event_delete(&ev);
        if (rc < 0 || t == YAML_STREAM_END_EVENT) break;
    }
    yaml_parser_delete(&parser);
    json_object_put(b.anchors);
    if (rc < 0) yaml_document_delete(doc);
    return rc;
}
