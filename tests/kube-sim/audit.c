/* The append-only audit log: one JSON line per write with time, client, user, object and resourceVersion,
 * flushed at once so tests can read it while the simulator runs. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "tests/kube-sim/api_internal.h"

/* ---- audit ---- */

const char *sim_client_id(const struct http_request *req)
{
    const char *c = http_request_header(req, "X-Sim-Client");
    if (c && *c) return c;
    c = http_request_header(req, "User-Agent");
    return c ? c : "";
}

void sim_audit(struct sim *sim, const struct http_request *req, const char *verb, const struct sim_obj *o,
               const char *user)
{
    sim->writes++;
    if (!sim->audit) return;
    char t[48];
    sim_time_micro(t, sizeof(t));
    struct json_object *a = json_object_new_object();
    json_object_object_add(a, "time", json_object_new_string(t));
    json_object_object_add(a, "client", json_object_new_string(req ? sim_client_id(req) : "seed"));
    json_object_object_add(a, "user", json_object_new_string(user ? user : ""));
    json_object_object_add(a, "peer", json_object_new_string(req ? req->peer : ""));
    json_object_object_add(a, "verb", json_object_new_string(verb));
    json_object_object_add(a, "resource", json_object_new_string(o->res->plural));
    json_object_object_add(a, "namespace", json_object_new_string(o->ns));
    json_object_object_add(a, "name", json_object_new_string(o->name));
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)o->rv);
    json_object_object_add(a, "resourceVersion", json_object_new_string(rv));
    json_object_object_add(a, "uid", json_object_new_string(o->uid));
    struct json_object *obj = json_tokener_parse(o->json);
    if (obj) json_object_object_add(a, "object", obj);
    fprintf(sim->audit, "%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(sim->audit);
    json_object_put(a);
}
