/* PATCH bodies: JSON merge patch (RFC 7386), the subset of strategic merge patch kubectl apply sends
 * (merge patch, "$" directives ignored, lists of named objects merged by "name"), and JSON patch
 * (RFC 6902: add, remove, replace, test, move, copy). */
#include <stdlib.h>
#include <string.h>

#include "tests/kube-sim/sim.h"

static struct json_object *copy(struct json_object *o)
{
    struct json_object *d = NULL;
    if (!o) return NULL;
    if (json_object_deep_copy(o, &d, NULL) != 0) abort();
    return d;
}

static int named_list(struct json_object *a)
{
    size_t n = json_object_array_length(a);
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(a, i), *nm;
        if (!json_object_is_type(e, json_type_object) || !json_object_object_get_ex(e, "name", &nm)) return 0;
    }
    return 1;
}

static const char *name_of(struct json_object *e)
{
    struct json_object *nm;
    return json_object_object_get_ex(e, "name", &nm) ? json_object_get_string(nm) : "";
}

/* Returns a new object: target with patch applied (target is not modified). */
struct json_object *sim_merge_patch(struct json_object *target, struct json_object *patch, int strategic)
{
    if (!json_object_is_type(patch, json_type_object)) {
        if (strategic && json_object_is_type(patch, json_type_array) && target &&
            json_object_is_type(target, json_type_array) && named_list(patch)) {
            /* merge lists of named objects by name, keeping the target's order */
            struct json_object *out = copy(target);
            size_t pn = json_object_array_length(patch);
            for (size_t i = 0; i < pn; i++) {
                struct json_object *pe = json_object_array_get_idx(patch, i), *dir;
                const char *nm = name_of(pe);
                int del = json_object_object_get_ex(pe, "$patch", &dir) &&
                          strcmp(json_object_get_string(dir), "delete") == 0;
                size_t on = json_object_array_length(out), j;
                for (j = 0; j < on; j++)
                    if (strcmp(name_of(json_object_array_get_idx(out, j)), nm) == 0) break;
                if (j < on) {
                    if (del) {
                        json_object_array_del_idx(out, j, 1);
                    } else {
                        struct json_object *m = sim_merge_patch(json_object_array_get_idx(out, j), pe, 1);
                        json_object_array_put_idx(out, j, m);
                    }
                } else if (!del) {
                    json_object_array_add(out, sim_merge_patch(NULL, pe, 1));
                }
            }
            return out;
        }
        return copy(patch);
    }
    struct json_object *out = (target && json_object_is_type(target, json_type_object)) ? copy(target)
                                                                                        : json_object_new_object();
    json_object_object_foreach(patch, k, v)
    {
        if (strategic && k[0] == '$') continue; /* $setElementOrder/..., $retainKeys, $patch */
        if (!v) {
            json_object_object_del(out, k);
            continue;
        }
        struct json_object *cur = NULL;
        json_object_object_get_ex(out, k, &cur);
        json_object_object_add(out, k, sim_merge_patch(cur, v, strategic));
    }
    return out;
}

/* ---- JSON patch ---- */

/* Splits a JSON pointer into its parent container and last token (unescaped). */
static int resolve(struct json_object *root, const char *ptr, struct json_object **parent, char *last, size_t lastlen)
{
    if (ptr[0] != '/') return -1;
    struct json_object *cur = root;
    const char *p = ptr + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char tok[256];
        size_t o = 0;
        for (size_t i = 0; i < n && o + 1 < sizeof(tok); i++) {
            if (p[i] == '~' && i + 1 < n) {
                tok[o++] = p[i + 1] == '1' ? '/' : '~';
                i++;
            } else {
                tok[o++] = p[i];
            }
        }
        tok[o] = '\0';
        if (!slash) {
            *parent = cur;
            snprintf(last, lastlen, "%s", tok);
            return 0;
        }
        struct json_object *next = NULL;
        if (json_object_is_type(cur, json_type_object)) {
            if (!json_object_object_get_ex(cur, tok, &next)) return -1;
        } else if (json_object_is_type(cur, json_type_array)) {
            char *end;
            long idx = strtol(tok, &end, 10);
            if (*end || idx < 0 || (size_t)idx >= json_object_array_length(cur)) return -1;
            next = json_object_array_get_idx(cur, (size_t)idx);
        } else {
            return -1;
        }
        cur = next;
        p = slash + 1;
    }
}

static struct json_object *get_at(struct json_object *parent, const char *last)
{
    struct json_object *v = NULL;
    if (json_object_is_type(parent, json_type_object)) {
        json_object_object_get_ex(parent, last, &v);
        return v;
    }
    if (json_object_is_type(parent, json_type_array)) {
        char *end;
        long idx = strtol(last, &end, 10);
        if (*end || idx < 0 || (size_t)idx >= json_object_array_length(parent)) return NULL;
        return json_object_array_get_idx(parent, (size_t)idx);
    }
    return NULL;
}

static int remove_at(struct json_object *parent, const char *last)
{
    if (!get_at(parent, last)) return -1;
    if (json_object_is_type(parent, json_type_object)) json_object_object_del(parent, last);
    else json_object_array_del_idx(parent, (size_t)strtol(last, NULL, 10), 1);
    return 0;
}

static int add_at(struct json_object *parent, const char *last, struct json_object *val)
{
    if (json_object_is_type(parent, json_type_object)) {
        json_object_object_add(parent, last, val);
        return 0;
    }
    if (!json_object_is_type(parent, json_type_array)) return -1;
    size_t n = json_object_array_length(parent);
    if (strcmp(last, "-") == 0) return json_object_array_add(parent, val);
    char *end;
    long idx = strtol(last, &end, 10);
    if (*end || idx < 0 || (size_t)idx > n) return -1;
    /* insert: append then shift */
    json_object_array_add(parent, NULL);
    for (size_t i = n; i > (size_t)idx; i--)
        json_object_array_put_idx(parent, i, json_object_get(json_object_array_get_idx(parent, i - 1)));
    json_object_array_put_idx(parent, (size_t)idx, val);
    return 0;
}

int sim_json_patch(struct json_object **target, struct json_object *ops, char *err, size_t errlen)
{
    if (!json_object_is_type(ops, json_type_array)) {
        snprintf(err, errlen, "json patch must be an array of operations");
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(ops); i++) {
        struct json_object *op = json_object_array_get_idx(ops, i), *jo, *jp, *jv = NULL, *jf;
        if (!json_object_is_type(op, json_type_object) || !json_object_object_get_ex(op, "op", &jo) ||
            !json_object_object_get_ex(op, "path", &jp)) {
            snprintf(err, errlen, "json patch operation %zu lacks op or path", i);
            return -1;
        }
        const char *o = json_object_get_string(jo), *path = json_object_get_string(jp);
        json_object_object_get_ex(op, "value", &jv);
        struct json_object *parent;
        char last[256];
        if (resolve(*target, path, &parent, last, sizeof(last)) < 0) {
            snprintf(err, errlen, "json patch: path %s not found", path);
            return -1;
        }
        int rc = 0;
        if (strcmp(o, "add") == 0) {
            rc = add_at(parent, last, copy(jv));
        } else if (strcmp(o, "remove") == 0) {
            rc = remove_at(parent, last);
        } else if (strcmp(o, "replace") == 0) {
            rc = get_at(parent, last) ? 0 : -1;
            if (rc == 0) {
                if (json_object_is_type(parent, json_type_object)) json_object_object_add(parent, last, copy(jv));
                else json_object_array_put_idx(parent, (size_t)strtol(last, NULL, 10), copy(jv));
            }
        } else if (strcmp(o, "test") == 0) {
            struct json_object *cur = get_at(parent, last);
            rc = (cur && jv && json_object_equal(cur, jv)) || (!cur && !jv) ? 0 : -1;
            if (rc) {
                snprintf(err, errlen, "json patch: test operation failed at %s", path);
                return -1;
            }
        } else if ((strcmp(o, "move") == 0 || strcmp(o, "copy") == 0) &&
                   json_object_object_get_ex(op, "from", &jf)) {
            struct json_object *fp;
            char flast[256];
            if (resolve(*target, json_object_get_string(jf), &fp, flast, sizeof(flast)) < 0 || !get_at(fp, flast)) {
                snprintf(err, errlen, "json patch: from %s not found", json_object_get_string(jf));
                return -1;
            }
            struct json_object *v = copy(get_at(fp, flast));
            if (o[0] == 'm') remove_at(fp, flast);
            if (resolve(*target, path, &parent, last, sizeof(last)) < 0) {
                json_object_put(v);
                snprintf(err, errlen, "json patch: path %s not found", path);
                return -1;
            }
            rc = add_at(parent, last, v);
        } else {
            snprintf(err, errlen, "json patch: unsupported operation %s", o);
            return -1;
        }
        if (rc < 0) {
            snprintf(err, errlen, "json patch: cannot %s at %s", o, path);
            return -1;
        }
    }
    return 0;
}
