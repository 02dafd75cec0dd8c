/* YAML to json-c for kubeconfig (see kube_yaml.h): a recursive walk over libyaml's event stream. */
#include "common/kube/kube_yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/buf.h"

struct reader {
    yaml_parser_t parser;
    const char *file;
    struct err *e;
};

/* The message itself names the file and position: callers log only e->msg, and a reader must see that the
 * kubeconfig is at fault, not the API server. */
static int fail_at(struct reader *r, const yaml_mark_t *m, const char *what)
{
    if (m) err_set(r->e, "kubeconfig %s:%d:%d: %s", r->file ? r->file : "<text>", (int)m->line + 1,
                   (int)m->column + 1, what);
    else err_set(r->e, "kubeconfig %s: %s", r->file ? r->file : "<text>", what);
    if (r->e) {
        snprintf(r->e->file, sizeof(r->e->file), "%s", r->file ? r->file : "");
        r->e->line = m ? (int)m->line + 1 : 0;
        r->e->column = m ? (int)m->column + 1 : 0;
    }
    return -1;
}

static int next(struct reader *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(&r->parser, ev)) return 0;
    char msg[256];
    snprintf(msg, sizeof(msg), "invalid YAML: %s", r->parser.problem ? r->parser.problem : "parse error");
    return fail_at(r, &r->parser.problem_mark, msg);
}

static struct json_object *scalar(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if ((n == 4 && (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))))
            return json_object_new_boolean(1);
        if ((n == 5 && (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))))
            return json_object_new_boolean(0);
        if ((n == 4 && !strcmp(v, "null")) || (n == 1 && v[0] == '~') || n == 0) return NULL;
    }
    return json_object_new_string_len(v, (int)n);
}

static int node(struct reader *r, yaml_event_t *ev, int depth, struct json_object **out);

/* Reads the events after a MAPPING_START or SEQUENCE_START. */
static int collection(struct reader *r, int is_map, int depth, struct json_object **out)
{
    struct json_object *o = is_map ? json_object_new_object() : json_object_new_array();
    for (;;) {
        yaml_event_t ev;
        if (next(r, &ev) < 0) goto fail;
        if (ev.type == (is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
            yaml_event_delete(&ev);
            break;
        }
        if (is_map) {
            if (ev.type != YAML_SCALAR_EVENT) {
                fail_at(r, &ev.start_mark, "mapping keys must be plain strings");
                yaml_event_delete(&ev);
                goto fail;
            }
            char *key = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
            yaml_event_delete(&ev);
            yaml_event_t vev;
            struct json_object *val = NULL;
            if (!key || next(r, &vev) < 0) {
                free(key);
                goto fail;
            }
            int rc = node(r, &vev, depth + 1, &val);
            if (rc < 0) {
                free(key);
                goto fail;
            }
            json_object_object_add(o, key, val);
            free(key);
        } else {
            struct json_object *val = NULL;
            if (node(r, &ev, depth + 1, &val) < 0) goto fail;
            json_object_array_add(o, val);
        }
    }
    *out = o;
    return 0;
fail:
    json_object_put(o);
    return -1;
}

/* Consumes ev (deletes it) and everything belonging to its node. */
static int node(struct reader *r, yaml_event_t *ev, int depth, struct json_object **out)
{
    int rc = 0;
    *out = NULL;
    if (depth > KUBE_YAML_DEPTH_MAX) {
        rc = fail_at(r, &ev->start_mark, "YAML nested too deeply");
    } else if (ev->type == YAML_ALIAS_EVENT ||
               (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
               (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor) ||
               (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor)) {
        rc = fail_at(r, &ev->start_mark, "YAML anchors and aliases are not supported in kubeconfig");
    } else if (ev->type == YAML_SCALAR_EVENT) {
        *out = scalar(ev);
    } else if (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT) {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_delete(ev);
        return collection(r, is_map, depth, out);
    } else {
        rc = fail_at(r, &ev->start_mark, "unexpected YAML event");
    }
    yaml_event_delete(ev);
    return rc;
}

int kube_yaml_parse(const char *text, size_t len, const char *file, struct json_object **out, struct err *e)
{
    struct reader r = {.file = file, .e = e};
    *out = NULL;
    if (!yaml_parser_initialize(&r.parser)) return err_set(e, "out of memory");
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    struct json_object *doc = NULL;
    int rc = 0, seen_doc = 0;
    for (;;) {
        yaml_event_t ev;
        if (next(&r, &ev) < 0) {
            rc = -1;
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (seen_doc++) {
                rc = fail_at(&r, &ev.start_mark, "a kubeconfig holds one YAML document");
                yaml_event_delete(&ev);
                break;
            }
            yaml_event_delete(&ev);
            continue;
        }
        if (doc) {
            rc = fail_at(&r, &ev.start_mark, "unexpected content after the document");
            yaml_event_delete(&ev);
            break;
        }
        if (node(&r, &ev, 0, &doc) < 0) {
            rc = -1;
            break;
        }
        if (!doc) doc = json_object_new_object(); /* "null" document */
    }
    yaml_parser_delete(&r.parser);
    if (rc < 0) {
        json_object_put(doc);
        return -1;
    }
    if (!doc) doc = json_object_new_object();
    if (!json_object_is_type(doc, json_type_object)) {
        json_object_put(doc);
        struct err tmp;
        if (!e) e = &tmp;
        err_set(e, "kubeconfig %s: the document is not a mapping", file ? file : "<text>");
        snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
        return -1;
    }
    *out = doc;
    return 0;
}

int kube_yaml_load_file(const char *path, struct json_object **out, struct err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "kubeconfig %s: cannot open: %s", path, strerror(errno));
    struct buf b;
    buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > KUBE_YAML_FILE_MAX) {
            fclose(f);
            buf_free(&b);
            return err_set(e, "kubeconfig %s: larger than %u bytes, not a kubeconfig", path, KUBE_YAML_FILE_MAX);
        }
        if (buf_append(&b, chunk, n) < 0) {
            fclose(f);
            buf_free(&b);
            return err_set(e, "kubeconfig %s: out of memory", path);
        }
    }
    int rerr = ferror(f), rerr_errno = errno;
    fclose(f);
    if (rerr) {
        buf_free(&b);
        return err_set(e, "kubeconfig %s: cannot read: %s", path, strerror(rerr_errno));
    }
    int rc = kube_yaml_parse(buf_cstr(&b), b.len, path, out, e);
    buf_free(&b);
    return rc;
}
