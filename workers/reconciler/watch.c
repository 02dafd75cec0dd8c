/* One watched resource (see watch.h). */
#include "workers/reconciler/watch.h"

#include <json-c/printbuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config/config.h"
#include "common/ipc.h"
#include "common/kube/kube_informer.h"
#include "common/kube/kube_object.h"
#include "common/kube/kube_path.h"
#include "common/log.h"
#include "common/render/render.h"
#include "common/store/ondemand.h"
#include "common/pipeline/heap_trim.h"
#include "common/store/packed.h"
#include "common/store/store.h"
#include "workers/reconciler/batch.h"
#include "workers/reconciler/fieldsel.h"

/* After a first list, the trim waits for the list's last page to be freed: that happens when the informer's
 * callback returns, so any delay does; 100 ms lets a burst of events after the list settle too. */
#define WATCH_TRIM_DELAY_MS 100

struct watch {
    struct watch_env env;
    char *name;                   /* owned: the watched_resources key, the `resource` of messages */
    char *group, *version, *resource, *ns, *label_selector;  /* owned */
    char *server_fields;          /* owned: the field selector sent to the API server, NULL when none */
    struct fieldsel client_sel;   /* the terms matched here */
    int on_demand;                /* store: on-demand: references are forwarded, objects fetched on request */
    struct packed_path *ipaths[STORE_INDEX_MAX];   /* owned (on-demand): index_by, what a reference keeps */
    size_t nipaths;
    struct kube_informer *inf;    /* owned */
    struct batch batch;
    uv_timer_t timer;             /* flushes the batch when due */
    uint64_t seq;                 /* deltas frames sent */
    int synced;                   /* the informer's first list has been forwarded */
    size_t listing_bytes;         /* JSON queued since the last flush while the first list is in */
    unsigned listing_frames;      /* synced:false frames sent for the listing in progress */
    struct watch_stats stats;
    /* the frame being built by flush */
    struct json_object *frame, *items;
    size_t frame_bytes;
    int frame_synced;
    int64_t frame_event_ms;       /* the batch's oldest change (CLOCK_MONOTONIC ms), -1: not stamped */
};

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

/* ---- projection ---- */

/* metadata.labels / metadata.annotations that the projection emptied (an ignored annotation on an object
 * with no other) would make {} differ from absent, and adding or removing such an annotation a change: both
 * mean the same to Kubernetes (omitempty), so an emptied map is removed from obj. Returns 1 when obj changed
 * (pack it again). */
static int drop_emptied_maps(struct json_object *obj, const struct packed *p)
{
    struct packed_val md, m;
    struct json_object *jmd = NULL;
    if (!packed_get(packed_root(p), "metadata", 8, &md) || !json_object_object_get_ex(obj, "metadata", &jmd)) return 0;
    int changed = 0;
    const char *maps[] = {"labels", "annotations"};
    for (size_t i = 0; i < 2; i++) {
        if (packed_get(md, maps[i], strlen(maps[i]), &m) && packed_type(m) == PACKED_OBJECT && packed_len(m) == 0) {
            json_object_object_del(jmd, maps[i]);
            changed = 1;
        }
    }
    return changed;
}

/* The informer's project hook, before it hashes an object for its keys-only index. */
static void on_project(void *data, struct json_object *obj)
{
    (void)data;
    /* List items carry no kind or apiVersion (as from kube-apiserver), watch events do: drop both, so the same
     * object has the same content and hash whichever way it came (the watched resource says what it is). */
    json_object_object_del(obj, "kind");
    json_object_object_del(obj, "apiVersion");
}

/* Packs obj with the configured projection into its forwarded JSON (the reference of an on-demand resource
 * unless full) and the content hash of the whole projected object. 0, or -1 (logged). */
static int convert_as(struct watch *w, const char *key, struct json_object *obj, int full, struct buf *json,
                      uint64_t *hash)
{
    struct packed *p = NULL;
    struct err e;
    err_clear(&e);
    int rc = packed_from_json(w->env.keys, obj, w->env.proj, &p, &e);
    if (rc == 0 && drop_emptied_maps(obj, p)) {
        packed_free(p);
        p = NULL;
        rc = packed_from_json(w->env.keys, obj, w->env.proj, &p, &e);
    }
    if (rc == 0 && (w->on_demand && !full ? ondemand_ref_json(p, (const struct packed_path *const *)w->ipaths,
                                                              w->nipaths, json)
                                          : packed_to_json(packed_root(p), json)) < 0)
        rc = -1;
    if (rc < 0) {
        log_error("object not converted, left out", "resource", w->name, "key", key, "error",
                  e.msg[0] ? e.msg : "out of memory");
    } else {
        *hash = packed_hash(p);
    }
    packed_free(p);
    return rc;
}

static int convert(struct watch *w, const char *key, struct json_object *obj, struct buf *json, uint64_t *hash)
{
    return convert_as(w, key, obj, 0, json, hash);
}

int watch_convert_full(struct watch *w, const char *key, struct json_object *obj, struct buf *json)
{
    uint64_t hash;
    on_project(w, obj);
    return convert_as(w, key, obj, 1, json, &hash);
}

/* ---- frames ---- */

struct raw {
    size_t len;
    char *s;  /* owned */
};

static void free_raw(struct json_object *o, void *ud)
{
    (void)o;
    struct raw *r = ud;
    free(r->s);
    free(r);
}

static int raw_to_string(struct json_object *o, struct printbuf *pb, int level, int flags)
{
    (void)level;
    (void)flags;
    struct raw *r = json_object_get_userdata(o);
    return printbuf_memappend(pb, r->s, (int)r->len);
}

struct json_object *watch_raw_json(char *s, size_t len)
{
    struct raw *r = malloc(sizeof(*r));
    struct json_object *o = json_object_new_object();
    if (r && o) {
        r->s = s;
        r->len = len;
        json_object_set_serializer(o, raw_to_string, r, free_raw);
    } else {
        free(r);
        free(s);
    }
    return o;
}

static void frame_begin(struct watch *w)
{
    w->frame = ipc_msg_new("deltas");
    json_object_object_add(w->frame, "resource", json_object_new_string(w->name));
    json_object_object_add(w->frame, "seq", json_object_new_int64((int64_t)++w->seq));
    json_object_object_add(w->frame, "synced", json_object_new_boolean(w->frame_synced));
    if (w->frame_event_ms > 0) json_object_object_add(w->frame, "event_ms", json_object_new_int64(w->frame_event_ms));
    w->items = json_object_new_array();
    json_object_object_add(w->frame, "items", w->items);
    w->frame_bytes = 96 + strlen(w->name);
}

static void frame_send(struct watch *w)
{
    if (!w->frame) return;
    if (json_object_array_length(w->items) > 0 || !w->frame_synced) {
        if (!w->frame_synced) w->listing_frames++;
        if (w->env.send(w->env.data, w->frame) < 0)
            log_error("deltas frame not sent", "resource", w->name); /* the channel is gone: the process ends */
        w->stats.frames++;
    } else {
        w->seq--;
    }
    json_object_put(w->frame);
    w->frame = w->items = NULL;
}

static int emit(void *data, const struct batch_item *it)
{
    struct watch *w = data;
    size_t need = 64 + strlen(it->key) + strlen(it->rv) + it->json_len;
    if (need + 96 + strlen(w->name) > IPC_FRAME_MAX - WATCH_FRAME_MARGIN) {
        w->stats.refused++;
        char bytes[24];
        snprintf(bytes, sizeof(bytes), "%zu", it->json_len);
        log_error("object too large to forward, the renderer keeps its previous version", "resource", w->name, "key",
                  it->key, "bytes", bytes);
        if (w->env.refused) w->env.refused(w->env.data, w->name, it->key, it->json_len);
        free(it->json);
        return -1;
    }
    if (w->frame && w->frame_bytes + need > IPC_FRAME_MAX - WATCH_FRAME_MARGIN) frame_send(w);
    if (!w->frame) frame_begin(w);
    struct json_object *item = json_object_new_object();
    json_object_object_add(item, "op", json_object_new_string(it->op == BATCH_UPSERT ? "upsert" : "delete"));
    json_object_object_add(item, "key", json_object_new_string(it->key));
    json_object_object_add(item, "rv", json_object_new_string(it->rv));
    if (it->op == BATCH_UPSERT) {
        json_object_object_add(item, "object", watch_raw_json(it->json, it->json_len));
        w->stats.upserts++;
    } else {
        free(it->json);
        w->stats.deletes++;
    }
    json_object_array_add(w->items, item);
    w->frame_bytes += need;
    return 0;
}

static void flush(struct watch *w)
{
    uv_timer_stop(&w->timer);
    w->listing_bytes = 0;
    w->frame_event_ms = w->synced ? batch_oldest_ms(&w->batch) : -1;   /* a first list is no event */
    if (!batch_queued(&w->batch)) return;
    w->frame_synced = w->synced;
    batch_take(&w->batch, emit, w);
    frame_send(w);
    if (w->env.flushed) w->env.flushed(w->env.data);
}

static void on_timer(uv_timer_t *t) { flush(t->data); }

/* Shortly after a resource's first list: the informer has freed its last page by then (heap_trim.h). */
static void on_listed_timer(uv_timer_t *t)
{
    heap_trim("after a resource's first list");
    flush(t->data);
}

/* Arms the timer for the batch's due time; nothing goes out before the first list is complete. */
static void schedule(struct watch *w)
{
    if (!w->synced) return;
    int64_t due = batch_due_ms(&w->batch);
    if (due < 0) {
        uv_timer_stop(&w->timer);
        return;
    }
    int64_t now = (int64_t)uv_now(w->env.loop), wait = due > now ? due - now : 0;
    uv_timer_start(&w->timer, on_timer, (uint64_t)wait, 0);
}

/* ---- informer callbacks ---- */

/* An object was added or its projected content changed (the keys-only informer says which, page by page
 * during a list): forwarded, or a delete when it no longer passes the client-side field selector. */
static void changed(struct watch *w, struct json_object *obj)
{
    struct buf key;
    buf_init(&key);
    if (kube_object_key(obj, &key) < 0) {
        buf_free(&key);
        return;
    }
    const char *rv = kube_object_meta_str(obj, "resourceVersion");
    if (!rv) rv = "";
    int64_t now = (int64_t)uv_now(w->env.loop);
    int r;
    if (!fieldsel_match(&w->client_sel, obj)) {
        r = batch_delete(&w->batch, key.data, rv, now);
    } else {
        struct buf json;
        buf_init(&json);
        uint64_t hash = 0;
        r = convert(w, key.data, obj, &json, &hash) < 0 ? 0
                                                         : batch_upsert(&w->batch, key.data, rv, hash, json.data,
                                                                        json.len, now);
        if (r == 0) w->stats.unchanged++;
        if (r > 0 && !w->synced) w->listing_bytes += json.len;
        buf_free(&json);
    }
    /* The first list goes out in frames as it arrives (marked synced:false), so the reconciler never holds
     * a whole collection's JSON, and the supervisor gets it as a stream, not as one burst at the end. */
    if (!w->synced && w->listing_bytes >= WATCH_LISTING_FLUSH_BYTES) flush(w);
    if (r < 0) log_error("out of memory, change dropped", "resource", w->name, "key", key.data);
    buf_free(&key);
    schedule(w);
}

static void on_add(void *data, struct json_object *obj) { changed(data, obj); }

static void on_update(void *data, struct json_object *old_obj, struct json_object *obj)
{
    (void)old_obj;
    changed(data, obj);
}

static void on_delete(void *data, struct json_object *obj)
{
    struct watch *w = data;
    struct buf key;
    buf_init(&key);
    if (kube_object_key(obj, &key) == 0) {
        const char *rv = kube_object_meta_str(obj, "resourceVersion");
        if (batch_delete(&w->batch, key.data, rv ? rv : "", (int64_t)uv_now(w->env.loop)) < 0)
            log_error("out of memory, change dropped", "resource", w->name, "key", key.data);
    }
    buf_free(&key);
    schedule(w);
}

/* After the first list, and after every relist (whose differences came as add/update/delete: keys that
 * vanished during a 410 gap are deletes). Everything waiting goes out now, then `synced`. */
static void on_synced(void *data)
{
    struct watch *w = data;
    if (!w->synced) {
        flush(w);
        /* A listing that found nothing still says it happened: at the synced below, the renderer drops
         * what it held of this resource and this listing did not name. */
        if (w->listing_frames == 0) {
            w->frame_synced = 0;
            frame_begin(w);
            frame_send(w);
        }
        char n[24];
        snprintf(n, sizeof(n), "%zu", batch_live(&w->batch));
        log_info("resource listed", "resource", w->name, "objects", n);
    }
    flush(w);
    if (!w->synced) uv_timer_start(&w->timer, on_listed_timer, WATCH_TRIM_DELAY_MS, 0);
    w->synced = 1;
    struct json_object *m = ipc_msg_new("synced");
    json_object_object_add(m, "resource", json_object_new_string(w->name));
    w->env.send(w->env.data, m);
    json_object_put(m);
}

/* ---- life cycle ---- */

static int start_informer(struct watch *w, struct err *e)
{
    struct kube_informer_opts o = {
        .res = {.group = w->group, .version = w->version, .resource = w->resource, .namespace = w->ns,
                .label_selector = w->label_selector, .field_selector = w->server_fields},
        .project = on_project,
        /* objects live in the renderer's store only: the informer keeps key, version and hash */
        .keys_only = 1,
    };
    struct kube_informer_cbs cbs = {.on_add = on_add, .on_update = on_update, .on_delete = on_delete,
                                    .on_synced = on_synced};
    if (kube_informer_start(w->env.client, &o, &cbs, w, &w->inf) < 0) return err_set(e, "cannot start the informer of %s", w->name);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct watch *w = h->data;
    for (size_t i = 0; i < w->nipaths; i++) packed_path_free(w->ipaths[i]);
    batch_free(&w->batch);
    fieldsel_free(&w->client_sel);
    free(w->name);
    free(w->group);
    free(w->version);
    free(w->resource);
    free(w->ns);
    free(w->label_selector);
    free(w->server_fields);
    free(w);
}

int watch_start(const struct watch_env *env, const struct config_watched_resource *res, struct watch **out,
                struct err *e)
{
    *out = NULL;
    struct watch *w = calloc(1, sizeof(*w));
    if (!w) return err_set(e, "out of memory");
    w->env = *env;
    batch_init(&w->batch);
    uv_timer_init(env->loop, &w->timer);
    w->timer.data = w;
    const char *av = res->api_version, *slash = strchr(av, '/');
    w->name = strdup(res->name);
    w->group = slash ? strndup(av, (size_t)(slash - av)) : strdup("");
    w->version = strdup(slash ? slash + 1 : av);
    w->resource = strdup(res->resources);
    w->ns = dup_or_null(res->namespace);
    w->label_selector = dup_or_null(res->label_selector);
    struct fieldsel all;
    struct buf server;
    buf_init(&server);
    int rc = -1;
    if (!w->name || !w->group || !w->version || !w->resource) {
        err_set(e, "out of memory");
    } else if (fieldsel_parse(res->field_selector, &all, e) == 0) {
        if (fieldsel_split(&all, w->group, w->resource, &server, &w->client_sel) < 0) err_set(e, "out of memory");
        else rc = 0;
        fieldsel_free(&all);
    }
    if (rc == 0 && server.len) w->server_fields = strdup(server.data);
    buf_free(&server);
    w->on_demand = res->store == CONFIG_STORE_ON_DEMAND;
    for (size_t i = 0; rc == 0 && w->on_demand && i < res->index_by.len && i < STORE_INDEX_MAX; i++) {
        char path[PACKED_PATH_MAX + 1];
        if (render_index_path(res->index_by.items[i], path, sizeof(path), e) < 0 ||
            packed_path_compile(env->keys, path, &w->ipaths[i], e) < 0)
            rc = -1;
        else
            w->nipaths++;
    }
    if (rc == 0) rc = start_informer(w, e);
    if (rc < 0) {
        uv_close((uv_handle_t *)&w->timer, on_timer_closed);
        return -1;
    }
    log_info("watching", "resource", w->name, "store", w->on_demand ? "on-demand" : "full", "api", res->api_version, "kind", w->resource, "namespace",
             w->ns ? w->ns : "(all)", "label_selector", w->label_selector ? w->label_selector : "",
             "field_selector_server", w->server_fields ? w->server_fields : "", "field_selector_client",
             w->client_sel.len ? res->field_selector : "");
    *out = w;
    return 0;
}

int watch_restart(struct watch *w)
{
    if (w->inf) kube_informer_stop(w->inf);
    w->inf = NULL;
    uv_timer_stop(&w->timer);
    batch_reset(&w->batch);
    w->synced = 0;
    w->listing_bytes = 0;
    w->listing_frames = 0;
    struct err e;
    err_clear(&e);
    if (start_informer(w, &e) < 0) {
        log_error("resync failed", "resource", w->name, "error", e.msg);
        return -1;
    }
    return 0;
}

void watch_stop(struct watch *w)
{
    if (!w) return;
    if (w->inf) kube_informer_stop(w->inf);
    w->inf = NULL;
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}

const char *watch_name(const struct watch *w) { return w->name; }
int watch_on_demand(const struct watch *w) { return w->on_demand; }
struct kube_client *watch_client(const struct watch *w) { return w->env.client; }
int watch_send(struct watch *w, struct json_object *msg) { return w->env.send(w->env.data, msg); }

int watch_object_path(const struct watch *w, const char *key, struct buf *out)
{
    const char *slash = strchr(key, '/');
    char ns[STORE_NAMESPACE_MAX + 1] = "";
    const char *name = key;
    if (slash) {
        if ((size_t)(slash - key) > STORE_NAMESPACE_MAX) return -1;
        memcpy(ns, key, (size_t)(slash - key));
        ns[slash - key] = 0;
        name = slash + 1;
    }
    if (!*name) return -1;
    struct kube_resource r = {.group = w->group, .version = w->version, .resource = w->resource,
                              .namespace = ns[0] ? ns : NULL};
    return kube_path_build(&r, name, out);
}
size_t watch_objects(const struct watch *w) { return batch_live(&w->batch); }
int watch_synced(const struct watch *w) { return w->synced; }
void watch_get_stats(const struct watch *w, struct watch_stats *out) { *out = w->stats; }
