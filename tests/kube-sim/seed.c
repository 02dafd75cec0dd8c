/* Seeding the store at start from a YAML (one or many documents) or JSON file. Each document is an object
 * with apiVersion and kind, a List of such objects, or a sequence of them. Errors name the file and line. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <yaml.h>

#include "tests/kube-sim/sim.h"

#define SEED_MAX_DEPTH 64

static struct json_object *scalar(yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return json_object_new_string_len(v, (int)n);
    if (n == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL")) return NULL;
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) return json_object_new_boolean(1);
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) return json_object_new_boolean(0);
    char *end;
    errno = 0;
    long long i = strtoll(v, &end, 10);
    if (*end == '\0' && errno == 0 && (isdigit((unsigned char)v[0]) || v[0] == '-' || v[0] == '+'))
        return json_object_new_int64(i);
    double d = strtod(v, &end);
    if (*end == '\0' && (isdigit((unsigned char)v[0]) || v[0] == '-' || v[0] == '.'))
        return json_object_new_double(d);
    return json_object_new_string_len(v, (int)n);
}

/* Builds the node that starts with ev (already parsed). */
static int build(yaml_parser_t *p, yaml_event_t *ev, struct json_object **out, int depth, char *err, size_t errlen)
{
    if (depth > SEED_MAX_DEPTH) {
        snprintf(err, errlen, "line %zu: nesting deeper than %d", ev->start_mark.line + 1, SEED_MAX_DEPTH);
        return -1;
    }
    if (ev->type == YAML_SCALAR_EVENT) {
        *out = scalar(ev);
        return 0;
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        snprintf(err, errlen, "line %zu: YAML aliases are not supported", ev->start_mark.line + 1);
        return -1;
    }
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    if (!is_map && ev->type != YAML_SEQUENCE_START_EVENT) {
        snprintf(err, errlen, "line %zu: unexpected YAML event", ev->start_mark.line + 1);
        return -1;
    }
    struct json_object *c = is_map ? json_object_new_object() : json_object_new_array();
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(p, &e)) {
            snprintf(err, errlen, "line %zu: %s", p->problem_mark.line + 1, p->problem ? p->problem : "YAML error");
            json_object_put(c);
            return -1;
        }
        if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        if (is_map) {
            if (e.type != YAML_SCALAR_EVENT) {
                snprintf(err, errlen, "line %zu: mapping keys must be scalars", e.start_mark.line + 1);
                yaml_event_delete(&e);
                json_object_put(c);
                return -1;
            }
            char *key = strndup((const char *)e.data.scalar.value, e.data.scalar.length);
            yaml_event_delete(&e);
            yaml_event_t ve;
            struct json_object *val = NULL;
            if (!yaml_parser_parse(p, &ve)) {
                free(key);
                snprintf(err, errlen, "line %zu: %s", p->problem_mark.line + 1, p->problem ? p->problem : "YAML error");
                json_object_put(c);
                return -1;
            }
            int rc = build(p, &ve, &val, depth + 1, err, errlen);
            yaml_event_delete(&ve);
            if (rc < 0) {
                free(key);
                json_object_put(c);
                return -1;
            }
            json_object_object_add(c, key, val);
            free(key);
        } else {
            struct json_object *val = NULL;
            int rc = build(p, &e, &val, depth + 1, err, errlen);
            yaml_event_delete(&e);
            if (rc < 0) {
                json_object_put(c);
                return -1;
            }
            json_object_array_add(c, val);
        }
    }
    *out = c;
    return 0;
}

static int add_one(struct sim *sim, struct json_object *o, const char *path, int index, char *err, size_t errlen)
{
    if (!o || !json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "%s: object %d: not a mapping", path, index);
        return -1;
    }
    struct json_object *av, *kind, *items;
    if (json_object_object_get_ex(o, "items", &items) && json_object_is_type(items, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(items); i++)
            if (add_one(sim, json_object_array_get_idx(items, i), path, index, err, errlen) < 0) return -1;
        return 0;
    }
    if (!json_object_object_get_ex(o, "apiVersion", &av) || !json_object_object_get_ex(o, "kind", &kind)) {
        snprintf(err, errlen, "%s: object %d: apiVersion and kind are required", path, index);
        return -1;
    }
    const struct sim_resource *r = sim_resource_by_kind(json_object_get_string(av), json_object_get_string(kind));
    if (!r) {
        snprintf(err, errlen, "%s: object %d: %s %s is not a served resource type", path, index,
                 json_object_get_string(av), json_object_get_string(kind));
        return -1;
    }
    char e2[600];
    if (sim_store_insert_new(sim, r, o, e2, sizeof(e2)) < 0) {
        snprintf(err, errlen, "%s: object %d: %.400s", path, index, e2);
        return -1;
    }
    return 0;
}

static int add_doc(struct sim *sim, struct json_object *doc, const char *path, int *index, char *err, size_t errlen)
{
    if (!doc) return 0;
    if (json_object_is_type(doc, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(doc); i++)
            if (add_one(sim, json_object_array_get_idx(doc, i), path, (*index)++, err, errlen) < 0) return -1;
        return 0;
    }
    return add_one(sim, doc, path, (*index)++, err, errlen);
}

int sim_seed_load(struct sim *sim, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc = 0, index = 1, in_doc = 0, doc_started = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(err, errlen, "%s:%zu: %s", path, p.problem_mark.line + 1, p.problem ? p.problem : "YAML error");
            rc = -1;
            break;
        }
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_SEQUENCE_START_EVENT && in_doc && !doc_started) {
            /* a top-level sequence: load element by element so a big seed never exists twice in memory */
            yaml_event_delete(&ev);
            doc_started = 1;
            for (;;) {
                yaml_event_t e;
                if (!yaml_parser_parse(&p, &e)) {
                    snprintf(err, errlen, "%s:%zu: %s", path, p.problem_mark.line + 1,
                             p.problem ? p.problem : "YAML error");
                    rc = -1;
                    break;
                }
                if (e.type == YAML_SEQUENCE_END_EVENT) {
                    yaml_event_delete(&e);
                    break;
                }
                struct json_object *item = NULL;
                char e2[600];
                size_t line = e.start_mark.line + 1;
                rc = build(&p, &e, &item, 1, e2, sizeof(e2));
                yaml_event_delete(&e);
                if (rc == 0) rc = add_one(sim, item, path, index++, e2, sizeof(e2));
                json_object_put(item);
                if (rc < 0) {
                    snprintf(err, errlen, "%s (line %zu)", e2, line);
                    break;
                }
            }
            if (rc < 0) break;
            continue;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT) in_doc = 1, doc_started = 0;
        if (ev.type == YAML_DOCUMENT_END_EVENT) in_doc = 0;
        if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
            ev.type == YAML_SCALAR_EVENT) {
            doc_started = 1;
            struct json_object *doc = NULL;
            char e2[600];
            size_t line = ev.start_mark.line + 1;
            rc = build(&p, &ev, &doc, 0, e2, sizeof(e2));
            yaml_event_delete(&ev);
            if (rc < 0) {
                snprintf(err, errlen, "%s: %s", path, e2);
                break;
            }
            rc = add_doc(sim, doc, path, &index, e2, sizeof(e2));
            json_object_put(doc);
            if (rc < 0) {
                snprintf(err, errlen, "%s (document at line %zu)", e2, line);
                break;
            }
            continue;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    fclose(f);
    malloc_trim(0); /* parsing garbage is freed; give it back so RSS shows what the store holds */
    return rc;
}
