/* Paged LIST (limit/continue) on a kube_client, collecting every item of a collection.
 *
 * Every page after the first comes from the first page's snapshot; the result's resourceVersion is that
 * snapshot's and is where a watch should start. When a continue token has expired (410) the list restarts
 * once without a limit, as client-go's pager does. */
#ifndef HTIC_KUBE_LIST_H
#define HTIC_KUBE_LIST_H

#include "common/kube/kube_client.h"
#include "common/kube/kube_path.h"

/* client-go's pager default. */
#define KUBE_LIST_PAGE_DEFAULT 500

struct kube_list;

struct kube_list_opts {
    struct kube_resource res;   /* collection and selectors */
    int limit;                  /* page size; 0: KUBE_LIST_PAGE_DEFAULT; < 0: no paging */
    int timeout_ms;             /* per page; 0: client default */
    /* Optional: called for every item as its page arrives, before it is kept (an informer projects here, so
     * the unprojected objects of earlier pages are not all held at once). */
    void (*on_item)(void *data, struct json_object *item);
    /* With on_item: 1 keeps no items in the result (the caller consumed them page by page), so no more
     * than one page of objects is ever held. */
    int discard_items;
};

struct kube_list_result {
    struct json_object *items;  /* owned by the result: array of objects (json_object_get to keep them) */
    char resource_version[64];  /* the list's metadata.resourceVersion */
    int pages;
    int restarted;              /* a continue token expired and the list restarted unpaged */
};

/* r->err says whether it worked; res is NULL on failure. Both are freed after the callback returns. */
typedef void (*kube_list_done_cb)(void *data, struct kube_response *r, struct kube_list_result *res);

int kube_list_start(struct kube_client *c, const struct kube_list_opts *o, kube_list_done_cb done, void *data,
                    struct kube_list **out);
/* No callback runs afterwards; only valid before done has started (on_item may call it). */
void kube_list_cancel(struct kube_list *l);

#endif
