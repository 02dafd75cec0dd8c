/* Object helpers (see kube_object.h). */
#include "common/kube/kube_object.h"

#include <string.h>

const char *kube_object_meta_str(struct json_object *obj, const char *field)
{
    struct json_object *md, *v;
    if (!json_object_object_get_ex(obj, "metadata", &md) || !json_object_object_get_ex(md, field, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int kube_object_key(struct json_object *obj, struct buf *out)
{
    const char *name = kube_object_meta_str(obj, "name"), *ns = kube_object_meta_str(obj, "namespace");
    if (!name || !*name) return -1;
    if (ns && *ns) {
        buf_puts(out, ns);
        buf_putc(out, '/');
    }
    buf_puts(out, name);
    return out->oom ? -1 : 0;
}

void kube_object_project(struct json_object *obj)
{
    struct json_object *md, *ann;
    if (!json_object_object_get_ex(obj, "metadata", &md) || !json_object_is_type(md, json_type_object)) return;
    json_object_object_del(md, "managedFields");
    if (json_object_object_get_ex(md, "annotations", &ann) && json_object_is_type(ann, json_type_object)) {
        json_object_object_del(ann, KUBE_LAST_APPLIED_ANNOTATION);
        if (json_object_object_length(ann) == 0) json_object_object_del(md, "annotations");
    }
}

/* FNV-1a over a tagged walk of the tree: the tags keep "ab" + "c" apart from "a" + "bc", and 1 apart
 * from "1". Doubles hash by their bits; json-c keeps member order as the API sent it, which the API keeps
 * stable for an unchanged object. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_value(uint64_t h, struct json_object *v, int depth, int skip_rv)
{
    enum json_type t = json_object_get_type(v);
    unsigned char tag = (unsigned char)t;
    h = mix(h, &tag, 1);
    switch (t) {
    case json_type_boolean: {
        unsigned char b = (unsigned char)json_object_get_boolean(v);
        return mix(h, &b, 1);
    }
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        return mix(h, &i, sizeof(i));
    }
    case json_type_double: {
        double d = json_object_get_double(v);
        return mix(h, &d, sizeof(d));
    }
    case json_type_string: {
        size_t n = (size_t)json_object_get_string_len(v);
        h = mix(h, &n, sizeof(n));
        return mix(h, json_object_get_string(v), n);
    }
    case json_type_array: {
        size_t n = json_object_array_length(v);
        h = mix(h, &n, sizeof(n));
        for (size_t i = 0; i < n; i++) h = hash_value(h, json_object_array_get_idx(v, i), depth + 1, 0);
        return h;
    }
    case json_type_object: {
        json_object_object_foreach(v, k, m)
        {
            if (skip_rv && strcmp(k, "resourceVersion") == 0) continue;
            size_t n = strlen(k);
            h = mix(h, &n, sizeof(n));
            h = mix(h, k, n);
            /* metadata at the top level is where resourceVersion lives */
            h = hash_value(h, m, depth + 1, depth == 0 && strcmp(k, "metadata") == 0);
        }
        return h;
    }
    default:
        return h;
    }
}

uint64_t kube_object_hash(struct json_object *obj) { return hash_value(1469598103934665603ull, obj, 0, 0); }
