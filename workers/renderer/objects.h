/* The renderer's objects: one store per watched resource fed by the reconciler's `deltas` frames (parsed
 * with the streaming packed parser, never a json-c tree of the frame), `synced` per resource (ending a
 * listing: objects not upserted since a listing began are dropped), what changed since the last candidate,
 * the standing exclusion (quarantine) set, and the LKG versions of changed objects (held.h).
 * Also builds the stores a render with exclusions sees. Pure: no loop, no IPC; unit-tested.
 * Not for: rendering (common/render) or messages (main.c). */
#ifndef HTIC_RENDERER_OBJECTS_H
#define HTIC_RENDERER_OBJECTS_H

#include <json-c/json.h>

#include "common/config/config.h"
#include "common/render/render.h"
#include "common/store/ondemand.h"
#include "workers/renderer/held.h"

/* Items in one deltas frame: the reconciler keeps a frame under IPC_FRAME_MAX (1 MiB), and an item is at
 * least 40 bytes, so more than this is not a frame of ours. */
#define OBJECTS_ITEMS_MAX 65536
/* Objects in one exclude list: the executor refuses more than 262 144 per list. */
#define OBJECTS_EXCLUDE_MAX 262144

struct objects_res {
    const char *name;         /* borrowed from the config */
    int synced;               /* its first listing is complete */
    int listing;              /* a listing is in progress: upserted keys are noted in seen */
    struct lh_table *seen;    /* owned: "ns/name" upserted during the listing */
    int on_demand;            /* store: on-demand: the store holds references, objects come from the cache */
};

struct objects {
    const struct config *cfg;     /* borrowed */
    struct packed_keys *keys;     /* owned */
    struct render_store *stores;  /* owned, config order */
    size_t n;
    struct objects_res *res;      /* owned, n */
    struct held *held;            /* owned */
    struct lh_table *changed;     /* owned: "resource/ns/name" -> 1, since the last candidate */
    struct lh_table *excluded;    /* owned: the standing exclusion set, same keys */
    struct store *targets;        /* owned: controller.haproxy_pods */
    uint64_t applied;             /* items applied so far */
    /* store: on-demand (common/store/ondemand.h): keys are "resource/ns/name", values resourceVersions */
    struct ondemand_cache *cache; /* owned: fetched objects */
    struct lh_table *misses;      /* owned: read by the render under way and not cached */
    struct lh_table *inflight;    /* owned: asked for and not answered (or answered with another version) */
    char fetch_error[ERR_MSG_MAX]; /* the first failed fetch the render under way read, "" if none */
    uint64_t fetches;             /* objects asked for so far */
    int64_t event_ms;             /* oldest `event_ms` of the frames applied since the last candidate, 0: none */
};

int objects_init(struct objects *o, const struct config *cfg, struct err *e);
/* A new config with the same watched_resources (names in the same order): the stores are kept and the names
 * they borrow are taken from cfg, so the old config can be freed. -1 (nothing changed) when the names differ. */
int objects_use_config(struct objects *o, const struct config *cfg);
void objects_free(struct objects *o);

/* Applies one deltas frame body. Returns the number of changes applied (0: none), or -1 with e filled
 * when the frame is refused as a whole (malformed, unknown resource); a single bad object is skipped and
 * logged. */
int objects_apply_deltas(struct objects *o, const char *body, size_t len, struct err *e);
/* `synced` for a resource: ends its listing. Returns the number of objects dropped, or -1. */
int objects_synced(struct objects *o, const char *resource, struct err *e);
/* Every resource has had its first listing. */
int objects_all_synced(const struct objects *o);
/* Starts a listing of every resource (a resync was asked for). */
void objects_begin_listing(struct objects *o);
/* The targets message's list: replaces the targets store. Returns 1 if it changed, 0 if not, -1. */
int objects_set_targets(struct objects *o, struct json_object *targets, struct err *e);

/* The stores a render sees (o->n, config order): the live store of a resource nothing is excluded from,
 * else a copy with each excluded object at its LKG version (absent when new). Free with objects_view_free. */
int objects_view(struct objects *o, const struct held_obj *excl, size_t nexcl, struct render_store **out,
                 struct err *e);
void objects_view_free(struct objects *o, struct render_store *view);

/* store: on-demand. A render begins (objects_render_begin), reads objects through objects_resolve (the
 * render_input resolver: data is the struct objects), and ends with objects_after_render: 0 when it read
 * every object it needed; 1 when some were not cached: *fetch (a JSON array, free it) holds the `fetch`
 * messages to send, and the render is to be done again once they are answered; -1 with e naming the object
 * when a fetch failed or a version cannot be fetched any more (a trial holding an object at an LKG version
 * that was not kept): the render fails. */
void objects_render_begin(struct objects *o);
int objects_resolve(void *data, const char *resource, const struct packed *p, int peek, const struct packed **out);
int objects_after_render(struct objects *o, struct json_object **fetch, struct err *e);
/* A `fetched` frame body. Returns 1 when a render waiting for it can go on (the object is cached at the
 * version its reference names, or an error is to be reported), 0 when not (another version came: the delta
 * that names it is on its way), -1 when malformed. */
int objects_apply_fetched(struct objects *o, const char *body, size_t len, struct err *e);

/* Forgets what changed (a candidate was rendered). */
void objects_clear_changed(struct objects *o);
/* Replaces the standing exclusion set. */
int objects_set_excluded(struct objects *o, const struct held_obj *x, size_t n);
/* `changed` and `excluded` as message arrays of {resource, namespace, name}. */
struct json_object *objects_changed_json(const struct objects *o);
struct json_object *objects_key_json(const char *key);
/* {watched name: count} */
struct json_object *objects_counts_json(const struct objects *o);
/* Parses an `exclude` array into held_obj (pointing into arr, which must outlive them). */
int objects_parse_exclude(struct json_object *arr, struct held_obj **out, size_t *n, struct err *e);

#endif
