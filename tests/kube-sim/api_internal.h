/* What the REST handlers of kube-sim share (api.c, status.c, list.c, write.c, discovery.c, audit.c):
 * the request's target, the user and warning of the request being handled, Status answers and small
 * JSON and query helpers. Not used outside the API files. */
#ifndef KUBE_SIM_API_INTERNAL_H
#define KUBE_SIM_API_INTERNAL_H

#include "tests/kube-sim/sim.h"

/* Where a request points: resource, namespace ("" for cluster scope or all), name, subresource. */
struct sim_target {
    const struct sim_resource *r;
    char ns[SIM_MAX_NAME + 1];
    char name[SIM_MAX_NAME + 1];
    char sub[32];
};

/* Requests are handled synchronously, one at a time: these describe the one being handled. */
extern const char *sim_user;   /* authenticated user */
extern char sim_warning[512];  /* Warning header text for its response, "" for none */

/* Answers (status.c). */
void sim_send_not_found_path(struct http_request *req);
void sim_send_bad_request(struct http_request *req, const char *msg);
void sim_send_not_found(struct http_request *req, const struct sim_resource *r, const char *name);
void sim_send_conflict(struct http_request *req, const struct sim_resource *r, const char *name, const char *why);
void sim_send_invalid(struct http_request *req, const struct sim_resource *r, const char *name,
                      const struct sim_invalid *inv);
void sim_send_obj(struct http_request *req, int code, const struct sim_obj *o);
/* {"name","group","kind": plural} for Status details (name may be NULL). */
struct json_object *sim_details_for(const struct sim_resource *r, const char *name);
/* Query value: 1 found, 0 absent, -1 too long or badly encoded (out is "" unless found). */
int sim_qget(const char *query, const char *key, char *out, size_t n);
int sim_parse_rv(const char *s, uint64_t *out);

/* Objects (write.c). */
struct json_object *sim_meta_of(struct json_object *o);
const char *sim_mget(struct json_object *meta, const char *k);
int sim_dry_run(struct http_request *req);
int sim_unknown_fields(struct http_request *req, const struct sim_resource *r, struct json_object *o,
                       const char *name);
void sim_delete_one(struct sim *sim, struct http_request *req, struct sim_obj *prev, const char *verb);
int sim_parse_selectors(struct http_request *req, const struct sim_resource *r, struct sim_selector *labels,
                        struct sim_selector *fields);

/* Handlers. */
int sim_discovery(struct sim *sim, struct http_request *req, char **seg, int nseg);
void sim_handle_get(struct sim *sim, struct http_request *req, const struct sim_target *t);
void sim_handle_list(struct sim *sim, struct http_request *req, const struct sim_target *t);
void sim_handle_delete_collection(struct sim *sim, struct http_request *req, const struct sim_target *t);
void sim_handle_create(struct sim *sim, struct http_request *req, const struct sim_target *t);
void sim_handle_update(struct sim *sim, struct http_request *req, const struct sim_target *t);
void sim_handle_patch(struct sim *sim, struct http_request *req, const struct sim_target *t);
void sim_handle_delete(struct sim *sim, struct http_request *req, const struct sim_target *t);

#endif
