/* The reconciler's answers to `fetch` for store: on-demand resources (see fetch.c). */
#ifndef HTIC_RECONCILER_FETCH_H
#define HTIC_RECONCILER_FETCH_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

struct watch;
struct fetch_call;

/* Keys in one `fetch` message: the renderer sends at most ONDEMAND_FETCH_BATCH; more is not ours. */
#define FETCH_ITEMS_MAX 4096

struct fetcher {
    struct fetch_call *calls;   /* owned list: the GETs in flight */
    size_t in_flight;
    uint64_t done;              /* answers sent */
};

/* Starts the GET of key ("ns/name") of w; rv is the version the renderer's reference names (echoed). */
int fetch_request(struct fetcher *f, struct watch *w, const char *key, const char *rv);
/* A `fetch` message: {resource, items: [{key, rv}]}. Returns the GETs started, or -1 when refused. */
int fetch_on_message(struct fetcher *f, struct watch *const *watches, size_t n, struct json_object *msg);
/* Cancels every GET (before the watches stop). */
void fetch_cancel_all(struct fetcher *f);

#endif
