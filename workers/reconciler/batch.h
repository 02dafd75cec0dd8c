/* The reconciler's per-resource change batcher: what the renderer holds of one watched resource, what has
 * changed since, and when the changes are due. Pure logic on a caller-supplied clock (now_ms), so it is
 * unit-tested without a loop.
 *
 * For each key (namespace/name) it keeps only the latest resourceVersion, a 64-bit content hash of the
 * projected object, whether the renderer holds it (and that version's hash), and the projected JSON of a
 * change waiting to go out; never the object itself once sent (the renderer holds the one full copy).
 *  - A change whose content hash equals the latest one is not queued (a new resourceVersion alone, or a change
 *    the projection hides). A change back to what the renderer already holds cancels the pending one.
 *  - Within a window, changes coalesce per key (latest wins); an add then a delete cancels out.
 *  - Timing: the first change after BATCH_QUIET_MS without changes is due at once (leading edge); later ones
 *    are due BATCH_QUIET_MS after the last change, but never later than BATCH_MAX_LATENCY_MS after the first
 *    waiting one, so a steady stream of changes still goes out at least that often.
 * Not for: watching (watch.c), projecting or hashing (common/store/packed.h), framing (watch.c). */
#ifndef HTIC_RECONCILER_BATCH_H
#define HTIC_RECONCILER_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* Controllers write related objects in bursts (a Deployment rollout updates EndpointSlices every few tens of
 * ms, an apply touches an Ingress, its Service and Secret together): 100 ms of quiet absorbs such a burst
 * into one batch while costing a tenth of the 1 s change-to-LKG target (issue 9). */
#define BATCH_QUIET_MS 100
/* Under a steady stream the window would never close: cap the wait at 500 ms, half of the 1 s target, which
 * leaves the other half for rendering and haproxy -c. */
#define BATCH_MAX_LATENCY_MS 500

enum batch_op { BATCH_NONE = 0, BATCH_UPSERT, BATCH_DELETE };

struct batch_item {
    enum batch_op op;
    const char *key;   /* borrowed, valid during the emit callback */
    const char *rv;    /* borrowed: the resourceVersion of the change (of the deletion for a delete) */
    char *json;        /* upserts: the projected object, NUL-terminated; ownership passes to the callback */
    size_t json_len;
};

/* Returns 0 when the item was delivered, -1 when it was refused (too large to send): the renderer then keeps
 * what it had, and the next change of that key is sent whatever its hash. */
typedef int (*batch_emit_cb)(void *data, const struct batch_item *it);

struct batch_entry;

struct batch {
    struct batch_entry **buckets;  /* owned: chained hash table of every key known (live or held by the renderer) */
    size_t nbuckets, nentries;
    struct batch_entry **pending;  /* owned array (entries borrowed from the table): keys with a change queued */
    size_t npending, cap_pending;
    size_t queued;                 /* entries of pending whose op is not BATCH_NONE */
    size_t live;                   /* keys that exist according to the latest events */
    int64_t last_change_ms;        /* time of the last queued change */
    int64_t first_pending_ms;      /* time the oldest waiting change was queued */
    int changed_once;              /* last_change_ms is meaningful */
    int leading;                   /* the waiting changes started after quiet: due at once */
};

void batch_init(struct batch *b);
void batch_free(struct batch *b);
/* Forgets everything (keys, pending changes): for a restart of the resource's listing from scratch. */
void batch_reset(struct batch *b);

/* An object was added or changed. json (len bytes, NUL-terminated) is copied when queued. Returns 1 when a
 * change was queued or cancelled, 0 when nothing changed for the renderer, -1 when out of memory. */
int batch_upsert(struct batch *b, const char *key, const char *rv, uint64_t hash, const char *json, size_t len,
                 int64_t now_ms);
/* An object was deleted (or left the selection). Returns 1, 0 (not known: nothing to do), or -1. */
int batch_delete(struct batch *b, const char *key, const char *rv, int64_t now_ms);

/* When the waiting changes are due (may be in the past), or -1 when none wait. */
int64_t batch_due_ms(const struct batch *b);
size_t batch_queued(const struct batch *b);
/* When the oldest waiting change was queued (the caller's now_ms then), or -1 when none wait: the event
 * time a deltas frame carries for the event-to-LKG latency (docs/ipc.md `event_ms`). */
int64_t batch_oldest_ms(const struct batch *b);
/* Keys that exist (the store's object count). */
size_t batch_live(const struct batch *b);

/* Hands every waiting change to emit in key order (the same set gives the same order whatever the order of
 * events), then treats them as delivered (or refused, by emit's return). Returns the number emitted. */
size_t batch_take(struct batch *b, batch_emit_cb emit, void *data);

#endif
