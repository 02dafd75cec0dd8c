/* One watched resource of the reconciler: its informer (server-side label and field selectors), the
 * client-side rest of its field selector, the projection and content hash (common/store/packed.h), the
 * batcher (batch.h), and the `deltas` / `synced` messages it sends (docs/ipc.md), chunked under
 * IPC_FRAME_MAX.
 *
 * The informer runs keys-only (kube_informer.h): it keeps no objects and reports each one as its list
 * page or watch event arrives, so no json-c tree outlives its page or event; this file packs it, forwards
 * its projected JSON and forgets it.
 * Not for: the process (main.c), the batching rules (batch.c), field selector syntax (fieldsel.c). */
#ifndef HTIC_RECONCILER_WATCH_H
#define HTIC_RECONCILER_WATCH_H

#include <json-c/json.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "common/err.h"

struct kube_client;
struct packed_keys;
struct packed_proj;
struct config_watched_resource;
struct metric_family;

/* Margin kept below IPC_FRAME_MAX for the frame's own fields and each item's op/key/rv (estimated, and then
 * checked by the encoder): 64 KiB is far more than the envelope of a frame of small items needs. */
#define WATCH_FRAME_MARGIN (64u * 1024u)
/* While a first list arrives, what is queued goes out once it reaches this much JSON: a few frames' worth,
 * so frames stay full, while the reconciler never holds more than this of a collection. */
#define WATCH_LISTING_FLUSH_BYTES (2u * 1024u * 1024u)

struct watch_env {
    uv_loop_t *loop;
    struct kube_client *client;      /* borrowed */
    struct packed_keys *keys;        /* borrowed */
    const struct packed_proj *proj;  /* borrowed */
    /* Sends a control message (never dropped); msg is not consumed. Returns 0 or -1 (too big, channel gone). */
    int (*send)(void *data, struct json_object *msg);
    /* An object could not be forwarded (too large): resource, key and size, for an event and the log. */
    void (*refused)(void *data, const char *resource, const char *key, size_t bytes);
    void (*flushed)(void *data);     /* after each batch went out (metrics) */
    void *data;
};

struct watch_stats {
    uint64_t frames, upserts, deletes, refused, unchanged;
};

struct watch;

int watch_start(const struct watch_env *env, const struct config_watched_resource *res, struct watch **out,
                struct err *e);
/* Starts the listing from scratch: forgets what was sent, so the renderer gets the whole set again as an
 * initial listing (deltas with synced false, then synced). */
int watch_restart(struct watch *w);
/* Stops and frees (the timer closes on the loop). */
void watch_stop(struct watch *w);

const char *watch_name(const struct watch *w);
/* store: on-demand: deltas carry references (common/store/ondemand.h), fetch.c answers for the objects. */
int watch_on_demand(const struct watch *w);
struct kube_client *watch_client(const struct watch *w);
/* Sends a message on the watch's channel (see watch_env.send). */
int watch_send(struct watch *w, struct json_object *msg);
/* The API path of the object with key "ns/name" (or "name") of this resource, appended to out. 0 or -1. */
int watch_object_path(const struct watch *w, const char *key, struct buf *out);
/* obj (an object of this resource as the API returned it) projected exactly as deltas project it, as its
 * full JSON (never the reference), so a fetched object is byte for byte what store: full would hold. */
/* A json-c value that serialises as the JSON text s (len bytes, taken: freed with the value). */
struct json_object *watch_raw_json(char *s, size_t len);
int watch_convert_full(struct watch *w, const char *key, struct json_object *obj, struct buf *json);
size_t watch_objects(const struct watch *w);
int watch_synced(const struct watch *w);
void watch_get_stats(const struct watch *w, struct watch_stats *out);

#endif
