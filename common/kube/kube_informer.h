/* An informer: keeps a local copy of one collection (resource + namespace + selectors) in sync with the API
 * server and reports changes.
 *
 * It lists (paged), then watches from the list's resourceVersion with bookmarks; a watch that ends cleanly
 * or drops is resumed from the last resourceVersion seen (no event missed or repeated); 410 Expired, "Too large
 * resource version" (a server whose store was restored, or a simulator restarted with new objects) and other
 * errors relist after a backoff (800 ms doubling to 30 s, full jitter, reset after 2 min without failure),
 * 429 waits at least its Retry-After. Objects are projected (managedFields and the kubectl last-applied
 * annotation dropped) before they are stored. A relist reports the difference to the store as
 * add/update/delete. All callbacks run on the loop; any of them may call kube_informer_stop. */
#ifndef HTIC_KUBE_INFORMER_H
#define HTIC_KUBE_INFORMER_H

#include "common/kube/kube_client.h"
#include "common/kube/kube_path.h"

/* What kube-apiserver's Status message says when a watch asks for a resourceVersion it has not reached
 * (504 Timeout, cause ResourceVersionTooLarge): client-go relists on it. */
#define KUBE_TOO_LARGE_RV "Too large resource version"

struct kube_informer;

struct kube_informer_cbs {
    /* Objects are borrowed from the store (json_object_get to keep them past the callback). */
    void (*on_add)(void *data, struct json_object *obj);
    void (*on_update)(void *data, struct json_object *old_obj, struct json_object *new_obj);
    void (*on_delete)(void *data, struct json_object *obj);
    /* After every completed (re)list has been applied to the store. */
    void (*on_synced)(void *data);
    /* Optional, for logs and metrics: a list or watch failed (phase "list" or "watch"); the informer retries. */
    void (*on_error)(void *data, const char *phase, const struct kube_response *r);
};

struct kube_informer_opts {
    struct kube_resource res;     /* strings are copied */
    int page_size;                /* 0: KUBE_LIST_PAGE_DEFAULT */
    int backoff_initial_ms;       /* 0: 800 */
    int backoff_max_ms;           /* 0: 30000 */
    int watch_timeout_min_s;      /* server-side watch timeout, random in [min, max]; 0: 300 */
    int watch_timeout_max_s;      /* 0: 600 */
    /* 1: sync with a streaming list (watch with sendInitialEvents, KEP-3157) instead of LIST, falling back to
     * LIST + WATCH for good when the server refuses it (422). */
    int watch_list;
    /* Optional extra projection, after the built-in one, before an object is stored. */
    void (*project)(void *data, struct json_object *obj);
    /* 1: keep no objects, only each one's key, resourceVersion and content hash (about 50 bytes an object),
     * for a consumer that converts objects into a compact store of its own. Then: list pages are reported
     * as they arrive and never collected; on_update gets old_obj NULL and comes only when the projected
     * content changed (a new resourceVersion alone is no change, see kube_object_hash); what a relist no
     * longer lists is reported to on_delete as a stub holding metadata.namespace and metadata.name;
     * kube_informer_get returns NULL and kube_informer_foreach visits nothing. */
    int keys_only;
};

struct kube_informer_stats {
    unsigned long lists, relists, watches, events, bookmarks, errors;
};

int kube_informer_start(struct kube_client *c, const struct kube_informer_opts *o,
                        const struct kube_informer_cbs *cbs, void *data, struct kube_informer **out);
/* Stops all activity; no callback runs afterwards. Memory is released once the loop closes its timer. */
void kube_informer_stop(struct kube_informer *inf);

/* Borrowed object, or NULL. namespace may be NULL for cluster-scoped objects. */
struct json_object *kube_informer_get(struct kube_informer *inf, const char *namespace, const char *name);
size_t kube_informer_count(struct kube_informer *inf);
/* Keys-only mode: bytes of the index (0 otherwise). */
size_t kube_informer_index_bytes(struct kube_informer *inf);
/* Calls fn for every stored object (order unspecified); fn must not change the informer. */
void kube_informer_foreach(struct kube_informer *inf, void (*fn)(void *data, struct json_object *obj), void *data);
/* 1 once the first list has been applied. */
int kube_informer_has_synced(struct kube_informer *inf);
/* The last resourceVersion seen (list, event or bookmark); "" before the first list. */
const char *kube_informer_resource_version(struct kube_informer *inf);
void kube_informer_get_stats(struct kube_informer *inf, struct kube_informer_stats *out);

#endif
