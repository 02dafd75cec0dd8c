/* A Kubernetes watch on a kube_client: a streaming GET whose newline-delimited JSON events are parsed as they
 * arrive and handed over one by one (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR).
 *
 * The stream ends cleanly (server timeout, EOF), with an ERROR event (usually 410 Expired: relist), or with
 * an HTTP or transport error; on_done says which. Reconnecting and relisting are the informer's job. */
#ifndef HTIC_KUBE_WATCH_H
#define HTIC_KUBE_WATCH_H

#include "common/kube/kube_client.h"
#include "common/kube/kube_watch_parser.h"

struct kube_watch;

struct kube_watch_cbs {
    /* object is borrowed (json_object_get to keep it). For ERROR it is the Status. */
    void (*on_event)(void *data, enum kube_watch_type type, struct json_object *object);
    /* Once, at the end: r->err is KUBE_OK for a clean end; the ERROR event's classification (KUBE_ERR_GONE
     * for Expired) when the stream carried one; KUBE_ERR_DECODE for a malformed stream; else the HTTP or
     * transport error. events is the number of events delivered. The watch is freed after this returns. */
    void (*on_done)(void *data, struct kube_response *r, unsigned long events);
};

/* path is the list path with its query, "?watch=1&..." included (see kube_path.h). It runs without a
 * client-side deadline; bound it with timeoutSeconds in the query. Returns 0 or -1 (then no callback runs). */
int kube_watch_start(struct kube_client *c, const char *path, const struct kube_watch_cbs *cbs, void *data,
                     struct kube_watch **out);
/* Same, ended by the client after timeout_ms (on_done then gets KUBE_ERR_TIMEOUT): a safety net for a
 * connection that died silently, set somewhat above the server-side timeoutSeconds. */
int kube_watch_start_timeout(struct kube_client *c, const char *path, int timeout_ms,
                             const struct kube_watch_cbs *cbs, void *data, struct kube_watch **out);
/* Stops the watch; no callback runs afterwards. Only valid before on_done has started; safe from on_event. */
void kube_watch_stop(struct kube_watch *w);

#endif
