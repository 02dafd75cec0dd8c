/* The discovery role's target set: which HAProxy instances the deployer pushes to, built from Pod objects
 * (Running, Ready, with an IP, not being deleted) and the fixed haproxy.endpoints. Pure logic, no loop and
 * no Kubernetes access, so it is unit-tested on JSON objects.
 *
 * The set is kept sorted (by name, then kind, then namespace) so that the same pods give the same bytes
 * whatever order their events came in; targets_take_changed hands out the JSON only when those bytes differ
 * from what was last published, so an unchanged set is never republished.
 * Not for: watching pods (workers/discovery/main.c does that with a kube_informer). */
#ifndef HTIC_DISCOVERY_TARGETS_H
#define HTIC_DISCOVERY_TARGETS_H

#include <json-c/json.h>
#include <stddef.h>

struct config_endpoint;

enum target_kind { TARGET_POD = 0, TARGET_STATIC };

struct target {
    enum target_kind kind;
    char *name;           /* owned: pod name, or the endpoint's name */
    char *namespace;      /* owned: pods only */
    char *address;        /* owned: pods only, status.podIP */
    int port;             /* pods only: haproxy.dataplane.port */
    char *url;            /* owned: static with a Data Plane API URL */
    char *master_socket;  /* owned: static with a master socket */
};

struct targets {
    struct target *items;  /* owned, sorted (see above) */
    size_t len, cap;
    int port;              /* Data Plane API port given to pod targets */
    char *published;       /* owned: JSON of the set last handed out by targets_take_changed, or NULL */
};

void targets_init(struct targets *t, int dataplane_port);
void targets_free(struct targets *t);

/* Adds the fixed endpoints (haproxy.endpoints). Returns 0, -1 when out of memory. */
int targets_add_static(struct targets *t, const struct config_endpoint *eps, size_t n);

/* 1 when a Pod object is a target: status.phase Running, a Ready condition with status True, a
 * status.podIP, and no metadata.deletionTimestamp (a terminating pod is about to go; a push would race its
 * shutdown). */
int targets_pod_is_ready(struct json_object *pod);

/* A pod was added or changed: it becomes, stays or stops being a target according to targets_pod_is_ready.
 * Returns 0, -1 when out of memory or the pod has no name. */
int targets_pod_update(struct targets *t, struct json_object *pod);
/* A pod was deleted. */
void targets_pod_delete(struct targets *t, struct json_object *pod);

size_t targets_count(const struct targets *t, enum target_kind kind);

/* [{"name","namespace","pod","address","port","kind":"pod"} | {"name","kind":"static","url"|"master_socket"}]
 * as a new array (caller owns it), in the set's order: the body of the `targets` message. */
struct json_object *targets_to_json(const struct targets *t);

/* The set's JSON, if it differs from what the previous call returned (the first call always returns it);
 * NULL when unchanged. The caller owns the result. */
struct json_object *targets_take_changed(struct targets *t);

#endif
