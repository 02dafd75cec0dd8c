/* Watches: chunked streams of newline-delimited JSON events. Start from "now" (synthetic ADDED events),
 * from a resourceVersion (history replay, ERROR 410 when older than the history), or as a streaming list
 * (sendInitialEvents with the initial-events-end bookmark). Selectors are applied per event with kube's
 * transitions (an object leaving the selection is DELETED, one entering it ADDED); bookmarks and
 * timeoutSeconds are honoured. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "tests/kube-sim/sim.h"

struct sim_watch {
    struct sim_watch *next, *prev;
    struct sim *sim;
    struct http_request *req;    /* NULL once finished */
    const struct sim_resource *r;
    char ns[SIM_MAX_NAME + 1];
    struct sim_selector labels, fields;
    int bookmarks;
    uint64_t min_rv;             /* events with rv <= min_rv are not sent (start point, or delivered) */
    uv_timer_t timeout;
    uv_timer_t bookmark;
    int handles_open;
    int final_bookmark_pending;  /* the timeout timer first fires for the bookmark before the end */
};

static void on_watch_handle_closed(uv_handle_t *h)
{
    struct sim_watch *w = h->data;
    if (--w->handles_open > 0) return;
    sim_selector_free(&w->labels);
    sim_selector_free(&w->fields);
    free(w);
}

/* Unlinks the watcher and releases it; the request must already be finished or dropped. */
static void watch_release(struct sim_watch *w)
{
    struct sim *sim = w->sim;
    if (w->prev) w->prev->next = w->next;
    else sim->watches = w->next;
    if (w->next) w->next->prev = w->prev;
    sim->nwatches--;
    w->req = NULL;
    uv_timer_stop(&w->timeout);
    uv_timer_stop(&w->bookmark);
    uv_close((uv_handle_t *)&w->timeout, on_watch_handle_closed);
    uv_close((uv_handle_t *)&w->bookmark, on_watch_handle_closed);
}

static void send_bookmark(struct sim_watch *w, uint64_t rv, int initial_end);

static void on_watch_abort(struct http_request *req, void *data)
{
    (void)req;
    watch_release(data);
}

/* Bookmark shortly before the end, as kube-apiserver does, so clients resume from a fresh revision. */
#define SIM_BOOKMARK_BEFORE_END_MS 2000

static void on_watch_timeout(uv_timer_t *t)
{
    struct sim_watch *w = t->data;
    if (!w->req) return;
    if (w->final_bookmark_pending) {
        w->final_bookmark_pending = 0;
        send_bookmark(w, w->sim->store.rv, 0);
        uv_timer_start(&w->timeout, on_watch_timeout, SIM_BOOKMARK_BEFORE_END_MS, 0);
        return;
    }
    http_stream_end(w->req);
    watch_release(w);
}

static void send_line(struct sim_watch *w, struct buf *b)
{
    if (w->req) http_stream_write(w->req, b->data, b->len);
}

static void send_event(struct sim_watch *w, const char *type, const struct sim_obj *o)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"type\":\"%s\",\"object\":", type);
    sim_obj_write_full(o, &b);
    buf_puts(&b, "}\n");
    send_line(w, &b);
    buf_free(&b);
}

static void send_bookmark(struct sim_watch *w, uint64_t rv, int initial_end)
{
    struct buf b;
    buf_init(&b);
    char av[128];
    sim_resource_api_version(w->r, av, sizeof(av));
    buf_printf(&b, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{"
                   "\"resourceVersion\":\"%llu\",\"creationTimestamp\":null%s}}}\n",
               w->r->kind, av, (unsigned long long)rv,
               initial_end ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : "");
    send_line(w, &b);
    buf_free(&b);
}

static void on_watch_bookmark(uv_timer_t *t)
{
    struct sim_watch *w = t->data;
    if (w->req) send_bookmark(w, w->sim->store.rv, 0);
}

static int matches(const struct sim_watch *w, const struct sim_obj *o)
{
    if (!o || o->res != w->r) return 0;
    if (w->r->namespaced && w->ns[0] && strcmp(o->ns, w->ns) != 0) return 0;
    return sim_label_selector_match(&w->labels, o) && sim_field_selector_match(&w->fields, o);
}

static void deliver(struct sim_watch *w, const struct sim_event *ev)
{
    if (!w->req || ev->rv <= w->min_rv || w->sim->watches_paused) return;
    w->min_rv = ev->rv; /* delivered (or filtered): a resume after a pause starts after it */
    if (ev->obj->res != w->r) return;
    int now = matches(w, ev->obj), before = matches(w, ev->prev);
    switch (ev->type) {
    case SIM_ADDED:
        if (now) send_event(w, "ADDED", ev->obj);
        break;
    case SIM_MODIFIED:
        if (now && before) send_event(w, "MODIFIED", ev->obj);
        else if (now) send_event(w, "ADDED", ev->obj);
        else if (before) send_event(w, "DELETED", ev->obj);
        break;
    case SIM_DELETED:
        if (before || now) send_event(w, "DELETED", ev->obj);
        break;
    }
}

void sim_watch_broadcast(struct sim *sim, const struct sim_event *ev)
{
    for (struct sim_watch *w = sim->watches; w; w = w->next) deliver(w, ev);
}

static void on_history_event(const struct sim_event *ev, void *data) { deliver(data, ev); }

/* An ERROR event with a Status (code, reason, message; cause: details.causes[0].reason) ending the watch. */
static void send_status(struct sim_watch *w, int code, const char *reason, const char *msg, const char *cause)
{
    struct json_object *ev = json_object_new_object(), *st = json_object_new_object();
    json_object_object_add(st, "kind", json_object_new_string("Status"));
    json_object_object_add(st, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(st, "metadata", json_object_new_object());
    json_object_object_add(st, "status", json_object_new_string("Failure"));
    json_object_object_add(st, "message", json_object_new_string(msg));
    json_object_object_add(st, "reason", json_object_new_string(reason));
    json_object_object_add(st, "code", json_object_new_int(code));
    if (cause) {
        struct json_object *d = json_object_new_object(), *causes = json_object_new_array(), *c = json_object_new_object();
        json_object_object_add(c, "reason", json_object_new_string(cause));
        json_object_object_add(c, "message", json_object_new_string(msg));
        json_object_array_add(causes, c);
        json_object_object_add(d, "causes", causes);
        json_object_object_add(d, "retryAfterSeconds", json_object_new_int(1));
        json_object_object_add(st, "details", d);
    }
    json_object_object_add(ev, "type", json_object_new_string("ERROR"));
    json_object_object_add(ev, "object", st);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
    send_line(w, &b);
    buf_free(&b);
    json_object_put(ev);
}

static void send_expired(struct sim_watch *w, uint64_t asked, uint64_t oldest)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "too old resource version: %llu (%llu)", (unsigned long long)asked,
             (unsigned long long)oldest);
    send_status(w, 410, "Expired", msg, NULL);
}

static void invalid_list_opts(struct http_request *req, const char *field, const char *cause)
{
    char msg[600];
    snprintf(msg, sizeof(msg), "ListOptions.meta.k8s.io \"\" is invalid: %s: Forbidden: %s", field, cause);
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "group", json_object_new_string("meta.k8s.io"));
    json_object_object_add(d, "kind", json_object_new_string("ListOptions"));
    struct json_object *causes = json_object_new_array(), *c = json_object_new_object();
    char cm[400];
    snprintf(cm, sizeof(cm), "Forbidden: %s", cause);
    json_object_object_add(c, "reason", json_object_new_string("FieldValueForbidden"));
    json_object_object_add(c, "message", json_object_new_string(cm));
    json_object_object_add(c, "field", json_object_new_string(field));
    json_object_array_add(causes, c);
    json_object_object_add(d, "causes", causes);
    sim_send_status(req, 422, "Invalid", msg, d);
}

void sim_watch_start(struct sim *sim, struct http_request *req, const struct sim_resource *r, const char *ns,
                     const char *name)
{
    char rvs[64] = "", match[32] = "", sie[16] = "", to[32] = "", ls[4096] = "", fs[4096] = "", err[600];
    http_query_get(req->query, "resourceVersion", rvs, sizeof(rvs));
    http_query_get(req->query, "resourceVersionMatch", match, sizeof(match));
    int has_sie = http_query_get(req->query, "sendInitialEvents", sie, sizeof(sie)) == 1;
    int sie_on = has_sie && sim_query_bool(req->query, "sendInitialEvents");
    int bookmarks = sim_query_bool(req->query, "allowWatchBookmarks");
    if (has_sie && strcmp(match, "NotOlderThan") != 0) {
        invalid_list_opts(req, "resourceVersionMatch",
                          "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
        return;
    }
    if (has_sie && !bookmarks) {
        invalid_list_opts(req, "allowWatchBookmarks", "sendInitialEvents requires setting allowWatchBookmarks to true");
        return;
    }
    if (!has_sie && match[0]) {
        invalid_list_opts(req, "resourceVersionMatch",
                          "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
        return;
    }
    uint64_t rv = 0;
    if (rvs[0]) {
        char *end;
        rv = strtoull(rvs, &end, 10);
        if (*end || rvs[0] < '0' || rvs[0] > '9') {
            char msg[200];
            snprintf(msg, sizeof(msg), "invalid resource version: %s", rvs);
            sim_send_status(req, 400, "BadRequest", msg, NULL);
            return;
        }
    }
    struct sim_watch *w = calloc(1, sizeof(*w));
    if (!w) abort();
    if (http_query_get(req->query, "labelSelector", ls, sizeof(ls)) < 0 ||
        http_query_get(req->query, "fieldSelector", fs, sizeof(fs)) < 0 ||
        sim_label_selector_parse(ls, &w->labels, err, sizeof(err)) < 0 ||
        sim_field_selector_parse(fs, r, &w->fields, err, sizeof(err)) < 0) {
        sim_selector_free(&w->labels);
        free(w);
        sim_send_status(req, 400, "BadRequest", "invalid selector", NULL);
        return;
    }
    if (name && name[0]) {
        char sel[SIM_MAX_NAME + 32];
        snprintf(sel, sizeof(sel), "metadata.name=%s", name);
        struct sim_selector extra;
        if (sim_field_selector_parse(sel, r, &extra, err, sizeof(err)) == 0) {
            for (size_t i = 0; i < extra.n && w->fields.n < SIM_MAX_SELECTOR_REQS; i++)
                w->fields.reqs[w->fields.n++] = extra.reqs[i];
            extra.n = 0;
        }
    }
    w->sim = sim;
    w->req = req;
    w->r = r;
    w->bookmarks = bookmarks;
    snprintf(w->ns, sizeof(w->ns), "%s", ns ? ns : "");
    w->timeout.data = w;
    w->bookmark.data = w;
    uv_timer_init(sim->loop, &w->timeout);
    uv_timer_init(sim->loop, &w->bookmark);
    w->handles_open = 2;
    w->next = sim->watches;
    if (w->next) w->next->prev = w;
    sim->watches = w;
    sim->nwatches++;
    http_request_on_abort(req, on_watch_abort, w);

    char audit[40];
    sim_uuid(audit);
    const char *h[] = {"Content-Type", "application/json", "Cache-Control", "no-cache, private", "Audit-Id", audit,
                       NULL};
    http_stream_start(req, 200, h);

    uint64_t timeout_s = SIM_DEFAULT_WATCH_TIMEOUT_S;
    if (http_query_get(req->query, "timeoutSeconds", to, sizeof(to)) == 1 && to[0] && strtoll(to, NULL, 10) > 0)
        timeout_s = strtoull(to, NULL, 10); /* 0 or junk: the server's default, as kube */
    uint64_t timeout_ms = timeout_s * 1000;
    if (bookmarks && timeout_ms > 2 * SIM_BOOKMARK_BEFORE_END_MS) {
        w->final_bookmark_pending = 1;
        timeout_ms -= SIM_BOOKMARK_BEFORE_END_MS;
    }
    uv_timer_start(&w->timeout, on_watch_timeout, timeout_ms, 0);
    if (bookmarks) uv_timer_start(&w->bookmark, on_watch_bookmark, sim->bookmark_ms, sim->bookmark_ms);

    int initial = sie_on || (!has_sie && rv == 0);
    if (has_sie && !sie_on && rv == 0) rv = sim->store.rv; /* from now, no synthetic events */
    if (initial) {
        size_t from, to_i;
        sim_store_range(&sim->store, r, w->ns, &from, &to_i);
        struct sim_table *t = &sim->store.tables[r - sim_resources];
        for (size_t i = from; i < to_i && w->req; i++)
            if (matches(w, t->items[i])) send_event(w, "ADDED", t->items[i]);
        w->min_rv = sim->store.rv;
        if (sie_on) send_bookmark(w, sim->store.rv, 1);
        return;
    }
    if (rv < sim->store.hist_floor) {
        send_expired(w, rv, sim->store.hist_floor + 1);
        http_stream_end(req);
        watch_release(w);
        return;
    }
    if (rv > sim->store.rv) {
        /* kube-apiserver's watch cache waits up to 3 s for a version it has not reached, then answers 504
         * "Too large resource version" (client-go relists); this store never lags, so it answers at once. A
         * client meets this after the simulator restarted with other objects (lower versions). */
        char msg[200];
        snprintf(msg, sizeof(msg), "Too large resource version: %llu, current: %llu", (unsigned long long)rv,
                 (unsigned long long)sim->store.rv);
        send_status(w, 504, "Timeout", msg, "ResourceVersionTooLarge");
        http_stream_end(req);
        watch_release(w);
        return;
    }
    /* replay what happened after rv, then live */
    w->min_rv = rv;
    sim_store_history_after(&sim->store, rv, on_history_event, w);
}

void sim_watch_drop_all(struct sim *sim, int clean)
{
    while (sim->watches) {
        struct sim_watch *w = sim->watches;
        struct http_request *req = w->req;
        if (req) {
            if (clean) http_stream_end(req);
            else http_request_drop(req);
        }
        watch_release(w);
    }
}

void sim_watch_close_all(struct sim *sim) { sim_watch_drop_all(sim, 1); }

void sim_watch_bookmarks_changed(struct sim *sim)
{
    for (struct sim_watch *w = sim->watches; w; w = w->next)
        if (w->bookmarks && w->req) uv_timer_start(&w->bookmark, on_watch_bookmark, sim->bookmark_ms, sim->bookmark_ms);
}

void sim_watch_set_paused(struct sim *sim, int paused)
{
    int was = sim->watches_paused;
    sim->watches_paused = paused;
    if (!was || paused) return;
    /* catch every open watch up from where it stopped; one that fell out of the history gets 410 */
    struct sim_watch *next;
    for (struct sim_watch *w = sim->watches; w; w = next) {
        next = w->next;
        if (!w->req) continue;
        if (w->min_rv < sim->store.hist_floor) {
            send_expired(w, w->min_rv, sim->store.hist_floor + 1);
            http_stream_end(w->req);
            watch_release(w);
            continue;
        }
        sim_store_history_after(&sim->store, w->min_rv, on_history_event, w);
    }
}
