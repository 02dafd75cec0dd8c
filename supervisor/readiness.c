/* The pipeline half of the /readyz rule (see readiness.h). */
#include "supervisor/readiness.h"

static int synced(struct json_object *p)
{
    struct json_object *v;
    return json_object_object_get_ex(p, "synced", &v) && json_object_is_type(v, json_type_boolean) &&
           json_object_get_boolean(v);
}

static int has_lkg(struct json_object *p)
{
    struct json_object *v;
    return json_object_object_get_ex(p, "lkg", &v) && json_object_is_type(v, json_type_object);
}

int readiness_pipeline_ready(struct json_object *pipeline)
{
    return pipeline && json_object_is_type(pipeline, json_type_object) && synced(pipeline) && has_lkg(pipeline);
}

const char *readiness_pipeline_why(struct json_object *pipeline)
{
    if (!pipeline || !json_object_is_type(pipeline, json_type_object)) return "no pipeline report yet";
    if (!synced(pipeline)) return "the watched resources have not synced";
    if (!has_lkg(pipeline)) return "no last-known-good configuration yet";
    return "ready";
}
