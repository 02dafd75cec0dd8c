/* store: on-demand, the reconciler's half: the renderer's `fetch` (objects its templates read, by key and
 * the resourceVersion its reference names) becomes one GET per object on the bulk client, and each answer a
 * `fetched` message: the object projected exactly as deltas project it (so it renders the same bytes as with
 * store: full), or an error naming what failed. The renderer, not this file, decides whether the version
 * fits its reference (docs/architecture.md, "On-demand resources").
 * Not for: watching (watch.c), caching (the renderer does, common/store/ondemand.h). */
#include "workers/reconciler/fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "common/kube/kube_client.h"
#include "common/kube/kube_object.h"
#include "common/log.h"
#include "workers/reconciler/watch.h"

struct fetch_call {
    struct fetcher *f;
    struct watch *w;         /* borrowed: calls are cancelled before their watch stops */
    char *key, *rv;          /* owned */
    struct kube_call *call;  /* the request in flight */
    struct fetch_call *next;
};

static void unlink_call(struct fetcher *f, struct fetch_call *c)
{
    for (struct fetch_call **p = &f->calls; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            f->in_flight--;
            return;
        }
    }
}

static void call_free(struct fetch_call *c)
{
    free(c->key);
    free(c->rv);
    free(c);
}

static void send_answer(struct fetch_call *c, const char *rv, char *json, size_t len, const char *error, int gone)
{
    struct json_object *m = ipc_msg_new("fetched");
    json_object_object_add(m, "resource", json_object_new_string(watch_name(c->w)));
    json_object_object_add(m, "key", json_object_new_string(c->key));
    json_object_object_add(m, "want_rv", json_object_new_string(c->rv));
    json_object_object_add(m, "rv", json_object_new_string(rv ? rv : ""));
    if (json) json_object_object_add(m, "object", watch_raw_json(json, len));
    if (error) json_object_object_add(m, "error", json_object_new_string(error));
    if (gone) json_object_object_add(m, "gone", json_object_new_boolean(1));
    if (watch_send(c->w, m) < 0) log_error("fetched not sent", "resource", watch_name(c->w), "key", c->key);
    json_object_put(m);
}

static void on_response(void *data, struct kube_response *r)
{
    struct fetch_call *c = data;
    unlink_call(c->f, c);
    char msg[ERR_MSG_MAX];
    msg[0] = 0;
    if (r->err == KUBE_ERR_NOT_FOUND) {
        snprintf(msg, sizeof(msg), "%s %s: not found (deleted since its reference was sent)", watch_name(c->w), c->key);
    } else if (r->err != KUBE_OK || !json_object_is_type(r->body, json_type_object)) {
        snprintf(msg, sizeof(msg), "%s %s: fetch failed: %s (HTTP %ld)%s%.*s", watch_name(c->w), c->key,
                 kube_err_name(r->err == KUBE_OK ? KUBE_ERR_DECODE : r->err), r->status, r->message[0] ? ": " : "",
                 (int)(sizeof(msg) / 2), r->message);
    }
    if (msg[0]) {
        log_warn("on-demand fetch failed", "resource", watch_name(c->w), "key", c->key, "error", msg);
        send_answer(c, NULL, NULL, 0, msg, r->err == KUBE_ERR_NOT_FOUND);
    } else {
        struct buf json;
        buf_init(&json);
        const char *rv = kube_object_meta_str(r->body, "resourceVersion");
        char rvc[128];
        snprintf(rvc, sizeof(rvc), "%s", rv ? rv : "");
        if (watch_convert_full(c->w, c->key, r->body, &json) < 0 || json.len > IPC_FRAME_MAX - WATCH_FRAME_MARGIN) {
            snprintf(msg, sizeof(msg), "%s %s: fetched object not converted or too large (%zu bytes)",
                     watch_name(c->w), c->key, json.len);
            buf_free(&json);
            send_answer(c, NULL, NULL, 0, msg, 0);
        } else {
            size_t len = json.len;
            char *text = buf_steal(&json);
            send_answer(c, rvc, text, len, NULL, 0);
        }
    }
    c->f->done++;
    call_free(c);
}

int fetch_request(struct fetcher *f, struct watch *w, const char *key, const char *rv)
{
    struct buf path;
    buf_init(&path);
    struct fetch_call *c = calloc(1, sizeof(*c));
    if (!c || !(c->key = strdup(key)) || !(c->rv = strdup(rv ? rv : "")) || watch_object_path(w, key, &path) < 0) {
        if (c) call_free(c);
        buf_free(&path);
        return -1;
    }
    c->f = f;
    c->w = w;
    int rc = kube_request(watch_client(w), "GET", path.data, NULL, 0, on_response, c, &c->call);
    buf_free(&path);
    if (rc < 0) {
        call_free(c);
        return -1;
    }
    c->next = f->calls;
    f->calls = c;
    f->in_flight++;
    return 0;
}

int fetch_on_message(struct fetcher *f, struct watch *const *watches, size_t n, struct json_object *msg)
{
    struct json_object *res, *items;
    if (!json_object_object_get_ex(msg, "resource", &res) || !json_object_object_get_ex(msg, "items", &items) ||
        !json_object_is_type(items, json_type_array) || json_object_array_length(items) > FETCH_ITEMS_MAX)
        return -1;
    struct watch *w = NULL;
    for (size_t i = 0; i < n && !w; i++)
        if (!strcmp(watch_name(watches[i]), json_object_get_string(res))) w = watches[i];
    if (!w || !watch_on_demand(w)) return -1;
    int started = 0;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        struct json_object *it = json_object_array_get_idx(items, i), *k, *rv = NULL;
        if (!json_object_object_get_ex(it, "key", &k) || !json_object_is_type(k, json_type_string)) continue;
        json_object_object_get_ex(it, "rv", &rv);
        if (fetch_request(f, w, json_object_get_string(k), rv ? json_object_get_string(rv) : "") == 0) started++;
        else log_error("on-demand fetch not started", "resource", watch_name(w), "key", json_object_get_string(k));
    }
    return started;
}

void fetch_cancel_all(struct fetcher *f)
{
    while (f->calls) {
        struct fetch_call *c = f->calls;
        f->calls = c->next;
        kube_call_cancel(c->call);
        call_free(c);
    }
    f->in_flight = 0;
}
