/* Object helpers (see kube_object.h). */
#include "common/kube/kube_object.h"

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
