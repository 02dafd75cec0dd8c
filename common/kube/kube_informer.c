/* List + watch + relist with backoff, and the store behind it (see kube_informer.h).
 *
 * States: LISTING (a kube_list in flight), WATCHING (a kube_watch open), WAITING (backoff timer running,
 * then relist or rewatch). The store is a json-c object keyed "namespace/name", or in keys-only mode a
 * kube_keyset (key, resourceVersion, content hash, epoch): each list bumps the epoch, every object it lists
 * is stamped with it as its page arrives, and what the completed list did not stamp was deleted meanwhile.
 * Stopping marks the informer and closes its timer; the memory goes in the close callback, so a callback
 * that stops the informer never pulls the ground from under the code that called it. */
#include "common/kube/kube_informer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kube/kube_keyset.h"
#include "common/kube/kube_list.h"
#include "common/kube/kube_object.h"
#include "common/kube/kube_watch.h"
#include "common/log.h"

/* client-go reflector: a watch closed within a second without events is treated as an error. */
#define VERY_SHORT_WATCH_MS 1000
/* A watch still open this long after its server-side timeoutSeconds sits on a dead connection. */
#define WATCH_DEADLINE_MARGIN_S 30
/* client-go resets its backoff after this long without a failure. */
#define BACKOFF_RESET_MS 120000

enum next_step { STEP_LIST, STEP_WATCH };

struct kube_informer {
    struct kube_client *c;
    char *group, *version, *resource, *namespace, *label_selector, *field_selector; /* owned copies */
    struct kube_informer_opts o;  /* res points at the copies above */
    struct kube_informer_cbs cbs;
    void *data;
    struct json_object *store;    /* owned: key -> object (not in keys-only mode) */
    struct kube_keyset *keys;     /* owned: keys-only mode's index */
    uint32_t epoch;               /* keys-only: the list in progress or last completed */
    char rv[64];
    int synced, stopped;
    struct kube_list *list;       /* in flight, or NULL */
    struct kube_watch *watch;     /* open, or NULL */
    int initial;                  /* the watch is a streaming list still sending its initial events */
    struct json_object *pending;  /* owned: the snapshot being streamed, applied at initial-events-end */
    int watch_list_refused;       /* the server answered 422: LIST + WATCH from now on */
    uint64_t watch_started;
    uv_timer_t timer;             /* backoff */
    enum next_step next;
    uint64_t backoff_ms, last_fail;
    uint64_t rng;
    struct kube_informer_stats stats;
};

static void start_list(struct kube_informer *inf);
static void start_watch(struct kube_informer *inf);

static uint64_t rnd(struct kube_informer *inf)
{
    inf->rng ^= inf->rng << 13;
    inf->rng ^= inf->rng >> 7;
    inf->rng ^= inf->rng << 17;
    return inf->rng;
}

static void on_backoff_timer(uv_timer_t *t)
{
    struct kube_informer *inf = t->data;
    if (inf->stopped) return;
    if (inf->next == STEP_LIST) start_list(inf);
    else start_watch(inf);
}

/* Schedules the next step after a failure; at least min_ms (a Retry-After). */
static void backoff(struct kube_informer *inf, enum next_step next, int64_t min_ms)
{
    uint64_t now = uv_now(kube_client_loop(inf->c));
    uint64_t initial = (uint64_t)inf->o.backoff_initial_ms, cap = (uint64_t)inf->o.backoff_max_ms;
    if (!inf->backoff_ms || now - inf->last_fail > BACKOFF_RESET_MS) inf->backoff_ms = initial;
    uint64_t d = inf->backoff_ms + rnd(inf) % (inf->backoff_ms + 1); /* jitter 1.0 */
    if (d > cap) d = cap;
    if (min_ms > 0 && (uint64_t)min_ms > d) d = (uint64_t)min_ms;
    inf->backoff_ms = inf->backoff_ms * 2 > cap ? cap : inf->backoff_ms * 2;
    inf->last_fail = now;
    inf->next = next;
    uv_timer_start(&inf->timer, on_backoff_timer, d, 0);
}

static void report_error(struct kube_informer *inf, const char *phase, const struct kube_response *r)
{
    inf->stats.errors++;
    const char *res = inf->o.res.resource, *ns = inf->o.res.namespace ? inf->o.res.namespace : "";
    if (r->err == KUBE_ERR_GONE) /* history moved on: a relist is routine */
        log_info("informer relisting", "resource", res, "namespace", ns, "phase", phase, "message", r->message);
    else
        log_warn("informer request failed, retrying", "resource", res, "namespace", ns, "phase", phase, "error",
                 kube_err_name(r->err), "status", LOG_INT(r->status), "message", r->message);
    if (inf->cbs.on_error) inf->cbs.on_error(inf->data, phase, r);
}

static void project(struct kube_informer *inf, struct json_object *obj)
{
    kube_object_project(obj);
    if (inf->o.project) inf->o.project(inf->data, obj);
}

static void set_rv(struct kube_informer *inf, struct json_object *obj)
{
    const char *rv = kube_object_meta_str(obj, "resourceVersion");
    if (rv && *rv) snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
}

/* ---- keys-only mode ---- */

/* Records obj (projected) under the current epoch and reports it: on_add if new, on_update(NULL, obj) if
 * its content changed. A failed insert (out of memory) reports nothing: the next relist sees it again. */
static void keys_upsert(struct kube_informer *inf, const char *key, struct json_object *obj)
{
    const struct kube_keyset_entry *e = kube_keyset_get(inf->keys, key);
    uint64_t h = kube_object_hash(obj);
    int existed = e != NULL, changed = e && e->hash != h;
    if (kube_keyset_put(inf->keys, key, kube_object_meta_str(obj, "resourceVersion"), h, inf->epoch) < 0) {
        log_error("informer out of memory, object skipped until the next relist", "resource",
                  inf->o.res.resource, "key", key);
        return;
    }
    if (!existed) {
        if (inf->cbs.on_add) inf->cbs.on_add(inf->data, obj);
    } else if (changed && inf->cbs.on_update) {
        inf->cbs.on_update(inf->data, NULL, obj);
    }
}

/* An object of a list page or a streaming list's initial events: projected, recorded, reported. */
static void keys_listed(struct kube_informer *inf, struct json_object *obj)
{
    struct buf key;
    buf_init(&key);
    if (kube_object_key(obj, &key) == 0) keys_upsert(inf, key.data, obj);
    buf_free(&key);
}

/* What a relist no longer contains is reported with a stub naming it. */
static void on_key_gone(void *data, const char *key)
{
    struct kube_informer *inf = data;
    if (inf->stopped || !inf->cbs.on_delete) return;
    struct json_object *stub = json_object_new_object(), *md = json_object_new_object();
    const char *slash = strchr(key, '/');
    if (slash) {
        json_object_object_add(md, "namespace", json_object_new_string_len(key, (int)(slash - key)));
        key = slash + 1;
    }
    json_object_object_add(md, "name", json_object_new_string(key));
    json_object_object_add(stub, "metadata", md);
    inf->cbs.on_delete(inf->data, stub);
    json_object_put(stub);
}

/* The list of this epoch is complete: sweep what it did not list, then synced. */
static int keys_list_complete(struct kube_informer *inf, const char *rv)
{
    snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
    if (kube_keyset_sweep(inf->keys, inf->epoch, on_key_gone, inf) < 0)
        log_error("informer out of memory, deletions found at the next relist", "resource", inf->o.res.resource);
    if (inf->stopped) return -1;
    inf->synced = 1;
    if (inf->cbs.on_synced) inf->cbs.on_synced(inf->data);
    return inf->stopped ? -1 : 0;
}

/* ---- list ---- */

/* Makes `fresh` (owned) the store at resourceVersion rv, reports the difference to the old store as
 * add/update/delete, then on_synced. Returns -1 when a callback stopped the informer. */
static int apply_snapshot(struct kube_informer *inf, struct json_object *fresh, const char *rv)
{
    struct json_object *old = inf->store;
    inf->store = fresh;
    snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
    json_object_object_foreach(fresh, k, obj)
    {
        if (inf->stopped) break;
        struct json_object *prev;
        if (!json_object_object_get_ex(old, k, &prev)) {
            if (inf->cbs.on_add) inf->cbs.on_add(inf->data, obj);
        } else {
            const char *a = kube_object_meta_str(prev, "resourceVersion"), *b = kube_object_meta_str(obj, "resourceVersion");
            if (!(a && b && strcmp(a, b) == 0) && inf->cbs.on_update) inf->cbs.on_update(inf->data, prev, obj);
        }
    }
    json_object_object_foreach(old, ok, oobj)
    {
        if (inf->stopped) break;
        if (!json_object_object_get_ex(fresh, ok, NULL) && inf->cbs.on_delete) inf->cbs.on_delete(inf->data, oobj);
    }
    json_object_put(old);
    if (inf->stopped) return -1;
    inf->synced = 1;
    if (inf->cbs.on_synced) inf->cbs.on_synced(inf->data);
    return inf->stopped ? -1 : 0;
}

static void on_list_done(void *data, struct kube_response *r, struct kube_list_result *res)
{
    struct kube_informer *inf = data;
    inf->list = NULL;
    if (inf->stopped) return;
    if (!res) {
        report_error(inf, "list", r);
        if (inf->stopped) return;
        backoff(inf, STEP_LIST, r->retry_after_ms);
        return;
    }
    if (inf->keys) {
        if (keys_list_complete(inf, res->resource_version) < 0) return;
        start_watch(inf);
        return;
    }
    struct json_object *fresh = json_object_new_object();
    struct buf key;
    buf_init(&key);
    size_t n = json_object_array_length(res->items);
    for (size_t i = 0; i < n; i++) {
        struct json_object *it = json_object_array_get_idx(res->items, i);
        buf_reset(&key);
        if (kube_object_key(it, &key) < 0) continue; /* already projected page by page */
        json_object_object_add(fresh, key.data, json_object_get(it));
    }
    buf_free(&key);
    if (apply_snapshot(inf, fresh, res->resource_version) < 0) return;
    start_watch(inf);
}

static void on_list_item(void *data, struct json_object *item)
{
    struct kube_informer *inf = data;
    if (inf->stopped) return;
    project(inf, item);
    if (inf->keys) keys_listed(inf, item);
}

static void start_watch_list(struct kube_informer *inf);

static void start_list(struct kube_informer *inf)
{
    if (inf->o.watch_list && !inf->watch_list_refused) {
        start_watch_list(inf);
        return;
    }
    struct kube_list_opts lo = {.res = inf->o.res, .limit = inf->o.page_size, .on_item = on_list_item,
                                .discard_items = inf->keys != NULL};
    if (inf->stats.lists++) inf->stats.relists++;
    inf->epoch++;
    if (kube_list_start(inf->c, &lo, on_list_done, inf, &inf->list) < 0) {
        struct kube_response r;
        kube_response_init(&r);
        r.err = KUBE_ERR_TRANSPORT;
        snprintf(r.message, sizeof(r.message), "cannot start the list");
        report_error(inf, "list", &r);
        kube_response_free(&r);
        if (!inf->stopped) backoff(inf, STEP_LIST, -1);
    }
}

/* ---- watch ---- */

static int is_initial_events_end(struct json_object *bookmark)
{
    struct json_object *md, *ann, *v;
    return json_object_object_get_ex(bookmark, "metadata", &md) && json_object_object_get_ex(md, "annotations", &ann) &&
           json_object_object_get_ex(ann, "k8s.io/initial-events-end", &v) && json_object_is_type(v, json_type_string) &&
           strcmp(json_object_get_string(v), "true") == 0;
}

/* An event of a streaming list before its initial-events-end bookmark: collected into the pending snapshot. */
static void on_initial_event(struct kube_informer *inf, enum kube_watch_type type, struct json_object *obj)
{
    if (type == KUBE_WATCH_BOOKMARK) {
        if (!is_initial_events_end(obj)) return;
        const char *rv = kube_object_meta_str(obj, "resourceVersion");
        inf->initial = 0;
        if (inf->keys) {
            keys_list_complete(inf, rv ? rv : "");
            return;
        }
        struct json_object *fresh = inf->pending;
        inf->pending = NULL;
        apply_snapshot(inf, fresh, rv ? rv : "");
        return;
    }
    if (inf->keys) {
        project(inf, obj);
        if (type != KUBE_WATCH_DELETED) {
            keys_listed(inf, obj);
            return;
        }
        /* Deleted before the snapshot's end: one stamped earlier in this stream would escape the sweep. */
        struct buf key;
        buf_init(&key);
        if (kube_object_key(obj, &key) == 0 && kube_keyset_del(inf->keys, key.data) && inf->cbs.on_delete)
            inf->cbs.on_delete(inf->data, obj);
        buf_free(&key);
        return;
    }
    struct buf key;
    buf_init(&key);
    if (kube_object_key(obj, &key) == 0) {
        project(inf, obj);
        if (type == KUBE_WATCH_DELETED) json_object_object_del(inf->pending, key.data);
        else json_object_object_add(inf->pending, key.data, json_object_get(obj));
    }
    buf_free(&key);
}

static void on_watch_event(void *data, enum kube_watch_type type, struct json_object *obj)
{
    struct kube_informer *inf = data;
    if (inf->stopped || type == KUBE_WATCH_ERROR) return;
    inf->stats.events++;
    if (inf->initial) {
        if (type == KUBE_WATCH_BOOKMARK) inf->stats.bookmarks++;
        on_initial_event(inf, type, obj);
        return;
    }
    if (type == KUBE_WATCH_BOOKMARK) {
        inf->stats.bookmarks++;
        set_rv(inf, obj);
        return;
    }
    struct buf key;
    buf_init(&key);
    if (kube_object_key(obj, &key) < 0) {
        buf_free(&key);
        set_rv(inf, obj);
        return;
    }
    set_rv(inf, obj);
    project(inf, obj);
    if (inf->keys) {
        if (type == KUBE_WATCH_DELETED) {
            if (kube_keyset_del(inf->keys, key.data) && inf->cbs.on_delete) inf->cbs.on_delete(inf->data, obj);
        } else {
            keys_upsert(inf, key.data, obj);
        }
        buf_free(&key);
        return;
    }
    struct json_object *prev = NULL;
    if (json_object_object_get_ex(inf->store, key.data, &prev)) json_object_get(prev);
    if (type == KUBE_WATCH_DELETED) {
        if (prev) {
            json_object_object_del(inf->store, key.data);
            if (inf->cbs.on_delete) inf->cbs.on_delete(inf->data, obj);
        }
    } else {
        json_object_object_add(inf->store, key.data, json_object_get(obj));
        if (prev) {
            const char *a = kube_object_meta_str(prev, "resourceVersion"), *b = kube_object_meta_str(obj, "resourceVersion");
            int same = a && b && strcmp(a, b) == 0; /* e.g. the synthetic ADDED of a watch without a version */
            if (!same && inf->cbs.on_update) inf->cbs.on_update(inf->data, prev, obj);
        } else if (inf->cbs.on_add) {
            inf->cbs.on_add(inf->data, obj);
        }
    }
    if (prev) json_object_put(prev);
    buf_free(&key);
}

static void on_watch_done(void *data, struct kube_response *r, unsigned long events)
{
    struct kube_informer *inf = data;
    inf->watch = NULL;
    if (inf->stopped) return;
    if (inf->initial) {
        /* a streaming list that ended before its snapshot was complete */
        inf->initial = 0;
        json_object_put(inf->pending);
        inf->pending = NULL;
        if (r->status == 422 && r->err == KUBE_ERR_INVALID) {
            log_info("server refuses streaming lists, using list and watch", "resource", inf->o.res.resource,
                     "message", r->message);
            inf->watch_list_refused = 1;
            start_list(inf);
            return;
        }
        if (r->err == KUBE_OK) {
            r->err = KUBE_ERR_DECODE;
            snprintf(r->message, sizeof(r->message), "streaming list ended before initial-events-end");
        }
        report_error(inf, "list", r);
        if (!inf->stopped) backoff(inf, STEP_LIST, r->retry_after_ms);
        return;
    }
    uint64_t lasted = uv_now(kube_client_loop(inf->c)) - inf->watch_started;
    switch (r->err) {
    case KUBE_OK:
        if (events == 0 && lasted < VERY_SHORT_WATCH_MS) {
            snprintf(r->message, sizeof(r->message), "very short watch: closed after %llu ms without events",
                     (unsigned long long)lasted);
            report_error(inf, "watch", r);
            if (!inf->stopped) backoff(inf, STEP_LIST, -1);
            return;
        }
        start_watch(inf);
        return;
    case KUBE_ERR_TOO_MANY_REQUESTS:
    case KUBE_ERR_TRANSPORT:
    case KUBE_ERR_TIMEOUT:
        if (strstr(r->message, KUBE_TOO_LARGE_RV)) {
            /* the server has not seen our version (its store was restored or replaced behind it): resuming
             * would wait for changes that already happened under other numbers, so relist as client-go does */
            report_error(inf, "watch", r);
            if (inf->stopped) return;
            inf->rv[0] = '\0';
            backoff(inf, STEP_LIST, r->retry_after_ms);
            return;
        }
        /* the stream dropped or was refused: resume from the last version seen, no relist */
        report_error(inf, "watch", r);
        if (!inf->stopped) backoff(inf, STEP_WATCH, r->retry_after_ms);
        return;
    default:
        /* 410 Expired (as an ERROR event or HTTP status) and everything else: relist */
        report_error(inf, "watch", r);
        if (inf->stopped) return;
        if (r->err == KUBE_ERR_GONE) inf->rv[0] = '\0';
        backoff(inf, STEP_LIST, r->retry_after_ms);
        return;
    }
}

static void open_watch(struct kube_informer *inf, int streaming_list)
{
    struct buf p;
    buf_init(&p);
    kube_path_build(&inf->o.res, NULL, &p);
    kube_path_query(&p, "watch", "1");
    kube_path_query(&p, "allowWatchBookmarks", "true");
    if (streaming_list) {
        /* a consistent snapshot ("" resourceVersion), streamed as ADDED events, then live events */
        kube_path_query(&p, "sendInitialEvents", "true");
        kube_path_query(&p, "resourceVersionMatch", "NotOlderThan");
        kube_path_query(&p, "resourceVersion", "");
    } else if (inf->rv[0]) {
        kube_path_query(&p, "resourceVersion", inf->rv);
    }
    int lo = inf->o.watch_timeout_min_s, hi = inf->o.watch_timeout_max_s;
    char ts[24];
    int timeout_s = lo + (int)(rnd(inf) % (uint64_t)(hi - lo + 1));
    snprintf(ts, sizeof(ts), "%d", timeout_s);
    kube_path_query(&p, "timeoutSeconds", ts);
    if (inf->o.res.label_selector && *inf->o.res.label_selector)
        kube_path_query(&p, "labelSelector", inf->o.res.label_selector);
    if (inf->o.res.field_selector && *inf->o.res.field_selector)
        kube_path_query(&p, "fieldSelector", inf->o.res.field_selector);
    struct kube_watch_cbs cbs = {on_watch_event, on_watch_done};
    inf->stats.watches++;
    inf->watch_started = uv_now(kube_client_loop(inf->c));
    int rc = p.oom ? -1
                   : kube_watch_start_timeout(inf->c, p.data, (timeout_s + WATCH_DEADLINE_MARGIN_S) * 1000, &cbs,
                                              inf, &inf->watch);
    buf_free(&p);
    if (rc < 0) {
        if (streaming_list) {
            inf->initial = 0;
            json_object_put(inf->pending);
            inf->pending = NULL;
        }
        backoff(inf, streaming_list ? STEP_LIST : STEP_WATCH, -1);
    }
}

static void start_watch(struct kube_informer *inf) { open_watch(inf, 0); }

static void start_watch_list(struct kube_informer *inf)
{
    if (inf->stats.lists++) inf->stats.relists++;
    json_object_put(inf->pending);
    inf->pending = inf->keys ? NULL : json_object_new_object();
    inf->initial = 1;
    inf->epoch++;
    open_watch(inf, 1);
}

/* ---- life cycle and queries ---- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void informer_free(struct kube_informer *inf)
{
    json_object_put(inf->store);
    json_object_put(inf->pending);
    kube_keyset_free(inf->keys);
    free(inf->group);
    free(inf->version);
    free(inf->resource);
    free(inf->namespace);
    free(inf->label_selector);
    free(inf->field_selector);
    free(inf);
}

static void on_timer_closed(uv_handle_t *h) { informer_free(h->data); }

int kube_informer_start(struct kube_client *c, const struct kube_informer_opts *o,
                        const struct kube_informer_cbs *cbs, void *data, struct kube_informer **out)
{
    *out = NULL;
    if (!o || !o->res.version || !o->res.resource) return -1;
    struct kube_informer *inf = calloc(1, sizeof(*inf));
    if (!inf) return -1;
    inf->c = c;
    inf->o = *o;
    inf->group = dup_or_null(o->res.group);
    inf->version = dup_or_null(o->res.version);
    inf->resource = dup_or_null(o->res.resource);
    inf->namespace = dup_or_null(o->res.namespace);
    inf->label_selector = dup_or_null(o->res.label_selector);
    inf->field_selector = dup_or_null(o->res.field_selector);
    inf->o.res = (struct kube_resource){inf->group, inf->version, inf->resource, inf->namespace,
                                        inf->label_selector, inf->field_selector};
    if (!inf->o.backoff_initial_ms) inf->o.backoff_initial_ms = 800;
    if (!inf->o.backoff_max_ms) inf->o.backoff_max_ms = 30000;
    if (!inf->o.watch_timeout_min_s) inf->o.watch_timeout_min_s = 300;
    if (!inf->o.watch_timeout_max_s) inf->o.watch_timeout_max_s = 600;
    if (inf->o.watch_timeout_max_s < inf->o.watch_timeout_min_s) inf->o.watch_timeout_max_s = inf->o.watch_timeout_min_s;
    if (cbs) inf->cbs = *cbs;
    inf->data = data;
    if (o->keys_only) {
        if (!(inf->keys = kube_keyset_new())) {
            informer_free(inf);
            return -1;
        }
    } else {
        inf->store = json_object_new_object();
    }
    inf->rng = uv_hrtime() | 1;
    uv_timer_init(kube_client_loop(c), &inf->timer);
    inf->timer.data = inf;
    *out = inf;
    start_list(inf);
    return 0;
}

void kube_informer_stop(struct kube_informer *inf)
{
    if (!inf || inf->stopped) return;
    inf->stopped = 1;
    if (inf->list) kube_list_cancel(inf->list);
    inf->list = NULL;
    if (inf->watch) kube_watch_stop(inf->watch);
    inf->watch = NULL;
    uv_timer_stop(&inf->timer);
    uv_close((uv_handle_t *)&inf->timer, on_timer_closed);
}

struct json_object *kube_informer_get(struct kube_informer *inf, const char *namespace, const char *name)
{
    struct buf key;
    buf_init(&key);
    if (namespace && *namespace) {
        buf_puts(&key, namespace);
        buf_putc(&key, '/');
    }
    buf_puts(&key, name);
    struct json_object *v = NULL;
    if (!key.oom && inf->store) json_object_object_get_ex(inf->store, key.data, &v);
    buf_free(&key);
    return v;
}

size_t kube_informer_count(struct kube_informer *inf)
{
    return inf->keys ? kube_keyset_count(inf->keys) : (size_t)json_object_object_length(inf->store);
}

size_t kube_informer_index_bytes(struct kube_informer *inf) { return inf->keys ? kube_keyset_bytes(inf->keys) : 0; }

void kube_informer_foreach(struct kube_informer *inf, void (*fn)(void *data, struct json_object *obj), void *data)
{
    if (!inf->store) return;
    json_object_object_foreach(inf->store, k, v)
    {
        (void)k;
        fn(data, v);
    }
}

int kube_informer_has_synced(struct kube_informer *inf) { return inf->synced; }
const char *kube_informer_resource_version(struct kube_informer *inf) { return inf->rv; }
void kube_informer_get_stats(struct kube_informer *inf, struct kube_informer_stats *out) { *out = inf->stats; }
