/* kube-sim: a test-only kube-apiserver simulator. This header holds the types every part shares: resource
 * types, immutable object versions, the store with its one revision counter and bounded history, watchers,
 * faults and the server options. See docs/kube-sim.md for what it serves and its deliberate gaps. */
#ifndef KUBE_SIM_H
#define KUBE_SIM_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "common/buf.h"
#include "common/http/http_server.h"

/* Bounds on what a client can make the simulator hold (see also http_limits). */
#define SIM_DEFAULT_HISTORY 10000      /* events kept for watch resume / exact lists; older ones give 410 */
#define SIM_MAX_SELECTOR_REQS 32       /* requirements in one label or field selector */
#define SIM_MAX_NAME 253               /* DNS-1123 subdomain */
#define SIM_MAX_LABEL_VALUE 63
#define SIM_MAX_EXTRA_FIELDS 4         /* field-selector fields besides metadata.name/namespace */
#define SIM_DEFAULT_BOOKMARK_MS 60000  /* kube sends a bookmark about once a minute */
#define SIM_DEFAULT_WATCH_TIMEOUT_S 1800
#define SIM_MAX_TOKENS 64

struct sim_resource {
    const char *group;     /* "" for core */
    const char *version;
    const char *plural;
    const char *singular;
    const char *kind;
    const char *list_kind;
    int namespaced;
    int has_status;        /* status is a subresource: main writes keep the stored status */
    int has_generation;    /* metadata.generation set and bumped on spec change */
    int create_on_update;  /* PUT to a missing name creates (leases) */
    int require_rv_on_update; /* PUT without resourceVersion is 422 (leases) */
    int delete_returns_object;
    const char *extra_fields[SIM_MAX_EXTRA_FIELDS]; /* extra field-selector paths, NULL-terminated */
    const char *short_names; /* one short name, for discovery */
};

extern const struct sim_resource sim_resources[];
extern const size_t sim_nresources;
const struct sim_resource *sim_resource_find(const char *group, const char *version, const char *plural);
const struct sim_resource *sim_resource_by_kind(const char *api_version, const char *kind);
/* "v1" or "group/version" */
void sim_resource_api_version(const struct sim_resource *r, char *out, size_t n);
/* "leases.coordination.k8s.io" or "configmaps" */
void sim_resource_qualified(const struct sim_resource *r, char *out, size_t n);

struct sim_label {
    char *key;
    char *value;
};

/* One immutable state of one object; shared (refcounted) by the store and the event history. */
struct sim_obj {
    int refs;
    const struct sim_resource *res;
    char *ns;               /* "" for cluster-scoped */
    char *name;
    char *key;              /* "ns/name" or "name": the sort key */
    char *json;             /* the object without kind/apiVersion, starting with '{' */
    size_t len;
    uint64_t rv;
    char uid[40];
    struct sim_label *labels;
    size_t nlabels;
    char *fields[SIM_MAX_EXTRA_FIELDS]; /* values of res->extra_fields, NULL when absent */
};

struct sim_obj *sim_obj_new(const struct sim_resource *res, struct json_object *o, uint64_t rv);
struct sim_obj *sim_obj_ref(struct sim_obj *o);
void sim_obj_unref(struct sim_obj *o);
/* Parses the stored JSON back into a new json_object (caller puts it). */
struct json_object *sim_obj_parse(const struct sim_obj *o);
/* Appends the object with kind and apiVersion first. */
void sim_obj_write_full(const struct sim_obj *o, struct buf *b);

enum sim_event_type { SIM_ADDED, SIM_MODIFIED, SIM_DELETED };

struct sim_event {
    uint64_t rv;
    enum sim_event_type type;
    struct sim_obj *obj;   /* new state (for DELETED: last state with the deletion rv) */
    struct sim_obj *prev;  /* previous state, NULL for ADDED */
};

/* Per resource: current objects sorted by key. */
struct sim_table {
    struct sim_obj **items;
    size_t n, cap;
};

struct sim_store {
    struct sim_table *tables;  /* one per sim_resources entry */
    uint64_t rv;               /* the one cluster-wide revision counter */
    struct sim_event *hist;    /* ring buffer */
    size_t hist_cap, hist_len, hist_head; /* head = index of the oldest */
    uint64_t hist_floor;       /* every event with rv > floor is in the ring */
    size_t nobjects;
};

int sim_store_init(struct sim_store *s, size_t history);
void sim_store_free(struct sim_store *s);
struct sim_obj *sim_store_get(struct sim_store *s, const struct sim_resource *r, const char *ns, const char *name);
/* Range of current objects of r in namespace ns ("" or NULL: all). */
void sim_store_range(struct sim_store *s, const struct sim_resource *r, const char *ns, size_t *from, size_t *to);
/* Puts obj as the new state (takes the reference), records and broadcasts the event. */
void sim_store_commit(struct sim_store *s, enum sim_event_type type, struct sim_obj *obj, struct sim_obj *prev);
/* Objects of r in ns as they were at revision rv (>= floor), sorted; returns a new array of new references
 * or NULL with *gone set when rv is older than the history. */
struct sim_obj **sim_store_snapshot(struct sim_store *s, const struct sim_resource *r, const char *ns,
                                    uint64_t rv, size_t *n, int *gone);
void sim_store_compact(struct sim_store *s);
/* Iterates history events with rv > after, oldest first. */
typedef void (*sim_event_fn)(const struct sim_event *ev, void *data);
void sim_store_history_after(struct sim_store *s, uint64_t after, sim_event_fn fn, void *data);

/* Selectors (selectors.c). */
enum sim_sel_op { SEL_EQ, SEL_NE, SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_NOT_EXISTS, SEL_GT, SEL_LT };

struct sim_req {
    enum sim_sel_op op;
    char *key;
    char **values;
    size_t nvalues;
};

struct sim_selector {
    struct sim_req reqs[SIM_MAX_SELECTOR_REQS];
    size_t n;
};

int sim_label_selector_parse(const char *s, struct sim_selector *sel, char *err, size_t errlen);
int sim_field_selector_parse(const char *s, const struct sim_resource *r, struct sim_selector *sel, char *err,
                             size_t errlen);
void sim_selector_free(struct sim_selector *sel);
int sim_label_selector_match(const struct sim_selector *sel, const struct sim_obj *o);
int sim_field_selector_match(const struct sim_selector *sel, const struct sim_obj *o);

/* Faults (control.c). */
struct sim_faults {
    uint64_t latency_ms;
    char latency_path[256];   /* prefix; "" = every API request */
    char latency_verb[16];    /* "" = any; HTTP method or kube verb (get, list, watch, update, ...) */
    int errors_left;
    int error_code;           /* 500, 503, 429, 504 */
    int retry_after;          /* seconds, 0 = no header */
    char error_verb[16];      /* "" = any */
    char error_path[256];     /* prefix */
    char error_client[128];   /* "" = any */
    char hang_client[128];    /* requests from this client never get an answer */
    char refuse_client[128];  /* connections of this client are closed at once */
    int64_t clock_offset_ms;
};

struct sim_token {
    char token[256];
    char user[128];
    int readonly;             /* may only get/list/watch */
};

struct sim_deny {
    char verb[16];
    char resource[64];
    char user[128];           /* "" = everyone */
};

struct sim_options {
    const char *host;
    int port;
    int control_port;
    const char *port_file;
    const char *seed_file;
    const char *audit_file;
    const char *kubeconfig_out;
    const char *tls_dir;      /* generate CA + server cert here (https mode) */
    const char *tls_cert, *tls_key, *tls_ca; /* or use these */
    int tls;
    int auth;                 /* bearer tokens required */
    size_t history;
    int auto_namespaces;
    uint64_t bookmark_ms;
};

struct sim_watch;

struct sim {
    uv_loop_t *loop;
    struct sim_options opt;
    struct sim_store store;
    struct http_server api;
    struct http_server control;
    struct sim_faults faults;
    struct sim_token tokens[SIM_MAX_TOKENS];
    size_t ntokens;
    struct sim_deny denies[SIM_MAX_TOKENS];
    size_t ndenies;
    struct sim_watch *watches;  /* owned list */
    size_t nwatches;
    struct sim_pending *pending; /* delayed or hung requests, owned list */
    FILE *audit;
    void *tls;                  /* struct sim_tls, owned */
    char ca_file[1024];
    uint64_t bookmark_ms;
    int watches_paused;
    unsigned long requests, writes;
    uv_signal_t sigterm, sigint;
    int stopping;
};

extern struct sim *g_sim;

/* Time as the simulator stamps it (wall clock + fault offset); clock.c. */
void sim_now(struct timespec *ts);
void sim_time_rfc3339(char *out, size_t n);          /* second precision */
void sim_time_micro(char *out, size_t n);            /* six digits */
void sim_uuid(char *out);                            /* 36 chars + NUL */

/* api.c (entry and routing), status.c (answers) */
void sim_api_on_request(struct http_request *req, void *data);
void sim_api_handle(struct sim *sim, struct http_request *req);
void sim_send_status(struct http_request *req, int code, const char *reason, const char *message,
                     struct json_object *details);
void sim_send_json(struct http_request *req, int code, const char *body, size_t len);
int sim_query_bool(const char *query, const char *key);

/* watch.c */
void sim_watch_start(struct sim *sim, struct http_request *req, const struct sim_resource *r, const char *ns,
                     const char *name);
void sim_watch_broadcast(struct sim *sim, const struct sim_event *ev);
void sim_watch_drop_all(struct sim *sim, int clean);
void sim_watch_close_all(struct sim *sim);
/* Restarts the bookmark timers of open watches with sim->bookmark_ms. */
void sim_watch_bookmarks_changed(struct sim *sim);
/* Paused watches get no events (history keeps them); resuming replays what they missed, or 410. */
void sim_watch_set_paused(struct sim *sim, int paused);

/* patch.c */
struct json_object *sim_merge_patch(struct json_object *target, struct json_object *patch, int strategic);
int sim_json_patch(struct json_object **target, struct json_object *ops, char *err, size_t errlen);

/* validate.c: 0 ok, else fills code/reason/message/details for sim_send_status */
struct sim_invalid {
    int code;
    char reason[32];
    char message[1024];
    char field[256];
    char cause_msg[512];
    char cause_reason[64];
};
int sim_validate_name(const char *name, int label_only);
int sim_validate_object(const struct sim_resource *r, struct json_object *o, struct sim_invalid *inv);
/* Unknown fields by fieldValidation mode ("Strict": 400; "Warn"/"": dropped with a warning text; "Ignore":
 * dropped). Only where the schema is known (Leases). */
int sim_check_unknown_fields(const struct sim_resource *r, struct json_object *o, const char *mode, char *warning,
                             size_t wn, struct sim_invalid *inv);

/* control.c */
void sim_control_on_request(struct http_request *req, void *data);
/* Applies faults to an API request: 1 if handled (refused, hung, delayed or errored), 0 to proceed. */
int sim_faults_apply(struct sim *sim, struct http_request *req);
const char *sim_client_id(const struct http_request *req);
void sim_pending_close_all(struct sim *sim);

/* tls.c */
int sim_tls_setup(struct sim *sim, char *err, size_t errlen);
const struct http_filter *sim_tls_filter(struct sim *sim);
void sim_tls_free(struct sim *sim);
/* CA certificate PEM (for kubeconfig certificate-authority-data), owned by the tls state */
const char *sim_tls_ca_pem(struct sim *sim);
/* The CN of a verified client certificate on this TLS connection: 0 and out filled, or -1. */
int sim_tls_peer_user(void *conn_state, char *out, size_t n);

/* seed.c */
int sim_seed_load(struct sim *sim, const char *path, char *err, size_t errlen);
/* Inserts an object as a create without a client (seed, namespaces at start). */
int sim_store_insert_new(struct sim *sim, const struct sim_resource *r, struct json_object *o, char *err,
                         size_t errlen);

/* audit.c */
void sim_audit(struct sim *sim, const struct http_request *req, const char *verb, const struct sim_obj *o,
               const char *user);

#endif
