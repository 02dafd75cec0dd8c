/* lease_api on common/kube (see lease_kube.h). */
#include "elector/lease_kube.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/kube/kube_path.h"
#include "common/kube/kube_watch.h"
#include "common/log.h"

struct lease_kube {
    struct kube_client *client;      /* borrowed */
    struct buf obj_path;             /* owned: .../namespaces/NS/leases/NAME */
    struct buf coll_path;            /* owned: .../namespaces/NS/leases */
    struct buf watch_path;           /* owned: the collection with the watch query */
    struct kube_call *call;          /* the request in flight */
    lease_api_done_cb cb;
    void *cb_data;
    struct kube_watch *watch;
    lease_api_event_cb on_event;
    lease_api_watch_end_cb on_end;
    void *watch_data;
};

enum lease_status lease_kube_status(enum kube_err err)
{
    switch (err) {
    case KUBE_OK: return LEASE_ST_OK;
    case KUBE_ERR_NOT_FOUND: return LEASE_ST_NOT_FOUND;
    case KUBE_ERR_ALREADY_EXISTS:
    case KUBE_ERR_CONFLICT: return LEASE_ST_CONFLICT;
    case KUBE_ERR_INVALID:
    case KUBE_ERR_BAD_REQUEST: return LEASE_ST_INVALID;
    case KUBE_ERR_UNAUTHORIZED: return LEASE_ST_UNAUTHORIZED;
    case KUBE_ERR_FORBIDDEN: return LEASE_ST_FORBIDDEN;
    case KUBE_ERR_TIMEOUT: return LEASE_ST_TIMEOUT;
    default: return LEASE_ST_ERROR;
    }
}

int lease_kube_new(struct kube_client *client, const char *ns, const char *name, struct lease_kube **out,
                   struct err *e)
{
    struct lease_kube *lk = calloc(1, sizeof(*lk));
    if (!lk) return err_set(e, "out of memory");
    lk->client = client;
    buf_init(&lk->obj_path);
    buf_init(&lk->coll_path);
    buf_init(&lk->watch_path);
    struct kube_resource r = {.group = "coordination.k8s.io", .version = "v1", .resource = "leases",
                              .namespace = ns};
    char selector[600];
    snprintf(selector, sizeof(selector), "metadata.name=%s", name);
    if (kube_path_build(&r, name, &lk->obj_path) < 0 || kube_path_build(&r, NULL, &lk->coll_path) < 0 ||
        kube_path_build(&r, NULL, &lk->watch_path) < 0 || kube_path_query(&lk->watch_path, "watch", "1") < 0 ||
        kube_path_query(&lk->watch_path, "fieldSelector", selector) < 0 ||
        kube_path_query(&lk->watch_path, "allowWatchBookmarks", "true") < 0 ||
        kube_path_query(&lk->watch_path, "timeoutSeconds", LEASE_KUBE_WATCH_TIMEOUT_STR) < 0 ||
        lk->watch_path.oom) {
        lease_kube_free(lk);
        return err_set(e, "cannot build the lease paths for %s/%s", ns, name);
    }
    *out = lk;
    return 0;
}

void lease_kube_free(struct lease_kube *lk)
{
    if (!lk) return;
    if (lk->call) kube_call_cancel(lk->call);
    if (lk->watch) kube_watch_stop(lk->watch);
    buf_free(&lk->obj_path);
    buf_free(&lk->coll_path);
    buf_free(&lk->watch_path);
    free(lk);
}

static void on_response(void *data, struct kube_response *r)
{
    struct lease_kube *lk = data;
    lk->call = NULL;
    struct lease_api_reply reply = {.st = lease_kube_status(r->err), .http_status = r->status,
                                    .message = r->message};
    if (reply.st == LEASE_ST_OK) reply.obj = r->body;
    if (reply.st != LEASE_ST_OK && reply.st != LEASE_ST_NOT_FOUND)
        log_debug("lease request failed", "error", kube_err_name(r->err), "message", r->message);
    lk->cb(lk->cb_data, &reply);
}

static int start(struct lease_kube *lk, const char *method, const char *path, struct json_object *body,
                 int64_t timeout_ms, lease_api_done_cb cb, void *data)
{
    if (lk->call) return -1;
    lk->cb = cb;
    lk->cb_data = data;
    const char *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                       JSON_C_TO_STRING_NOSLASHESCAPE)
                            : NULL;
    struct kube_request_opts o = {.method = method, .path = path, .body = text,
                                  .timeout_ms = (int)(timeout_ms > 0 ? timeout_ms : 1),
                                  .max_retries = KUBE_DEFAULT_RETRIES};
    return kube_request_ex(lk->client, &o, on_response, lk, &lk->call);
}

static int k_get(void *impl, int64_t t, lease_api_done_cb cb, void *d)
{
    struct lease_kube *lk = impl;
    return start(lk, "GET", buf_cstr(&lk->obj_path), NULL, t, cb, d);
}

static int k_create(void *impl, struct json_object *body, int64_t t, lease_api_done_cb cb, void *d)
{
    struct lease_kube *lk = impl;
    return start(lk, "POST", buf_cstr(&lk->coll_path), body, t, cb, d);
}

static int k_update(void *impl, struct json_object *body, int64_t t, lease_api_done_cb cb, void *d)
{
    struct lease_kube *lk = impl;
    return start(lk, "PUT", buf_cstr(&lk->obj_path), body, t, cb, d);
}

static void k_cancel(void *impl)
{
    struct lease_kube *lk = impl;
    if (lk->call) kube_call_cancel(lk->call);
    lk->call = NULL;
}

static void on_kube_watch_event(void *data, enum kube_watch_type type, struct json_object *object)
{
    struct lease_kube *lk = data;
    if (type == KUBE_WATCH_ERROR) return; /* on_kube_watch_done follows with its classification */
    lk->on_event(lk->watch_data, kube_watch_type_name(type), object);
}

static void on_kube_watch_done(void *data, struct kube_response *r, unsigned long events)
{
    struct lease_kube *lk = data;
    lk->watch = NULL;
    lk->on_end(lk->watch_data, r->err == KUBE_OK ? "closed" : kube_err_name(r->err));
}

static int k_watch_start(void *impl, lease_api_event_cb ev, lease_api_watch_end_cb end, void *d)
{
    struct lease_kube *lk = impl;
    if (lk->watch) return -1;
    lk->on_event = ev;
    lk->on_end = end;
    lk->watch_data = d;
    static const struct kube_watch_cbs cbs = {on_kube_watch_event, on_kube_watch_done};
    return kube_watch_start(lk->client, buf_cstr(&lk->watch_path), &cbs, lk, &lk->watch);
}

static void k_watch_stop(void *impl)
{
    struct lease_kube *lk = impl;
    if (lk->watch) kube_watch_stop(lk->watch);
    lk->watch = NULL;
}

static const struct lease_api_ops kube_ops = {k_get, k_create, k_update, k_cancel, k_watch_start, k_watch_stop};

struct lease_api lease_kube_api(struct lease_kube *lk)
{
    struct lease_api a = {&kube_ops, lk};
    return a;
}
