/* Paged LIST (see kube_list.h). */
#include "common/kube/kube_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kube_list {
    struct kube_client *c;
    struct kube_call *call;      /* the page in flight */
    char *base;                  /* path with selectors, owned */
    int limit, timeout_ms;
    void (*on_item)(void *data, struct json_object *item);
    int discard_items;
    char *cont;                  /* continue token of the next page, owned */
    struct kube_list_result res;
    kube_list_done_cb done;
    void *data;
    int delivering;              /* inside on_item: a cancel then only marks, the page loop frees */
    int cancelled;
};

static void list_free(struct kube_list *l)
{
    free(l->base);
    free(l->cont);
    if (l->res.items) json_object_put(l->res.items);
    free(l);
}

static void on_page_done(void *data, struct kube_response *r);

static int request_page(struct kube_list *l)
{
    struct buf p;
    buf_init(&p);
    buf_puts(&p, l->base);
    char lim[24];
    if (l->limit > 0) {
        snprintf(lim, sizeof(lim), "%d", l->limit);
        kube_path_query(&p, "limit", lim);
    }
    if (l->cont) kube_path_query(&p, "continue", l->cont);
    int rc = p.oom ? -1 : 0;
    if (rc == 0) {
        struct kube_request_opts o = {.method = "GET", .path = p.data, .timeout_ms = l->timeout_ms,
                                      .max_retries = KUBE_DEFAULT_RETRIES};
        rc = kube_request_ex(l->c, &o, on_page_done, l, &l->call);
    }
    buf_free(&p);
    return rc;
}

static void finish(struct kube_list *l, struct kube_response *r, int ok)
{
    l->call = NULL;
    if (l->done) l->done(l->data, r, ok ? &l->res : NULL);
    list_free(l);
}

static void on_page_done(void *data, struct kube_response *r)
{
    struct kube_list *l = data;
    l->call = NULL;
    if (r->err == KUBE_ERR_GONE && l->cont && !l->res.restarted) {
        /* the snapshot behind the continue token is gone: start over, unpaged */
        json_object_put(l->res.items);
        l->res.items = json_object_new_array();
        l->res.resource_version[0] = '\0';
        l->res.restarted = 1;
        l->limit = 0;
        free(l->cont);
        l->cont = NULL;
        if (request_page(l) == 0) return;
    }
    if (r->err != KUBE_OK) {
        finish(l, r, 0);
        return;
    }
    struct json_object *items, *md, *v;
    if (!json_object_object_get_ex(r->body, "items", &items) ||
        !(json_object_is_type(items, json_type_array) || json_object_is_type(items, json_type_null))) {
        r->err = KUBE_ERR_DECODE;
        snprintf(r->message, sizeof(r->message), "list response without an items array");
        finish(l, r, 0);
        return;
    }
    size_t n = json_object_is_type(items, json_type_array) ? json_object_array_length(items) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *it = json_object_array_get_idx(items, i);
        if (!json_object_is_type(it, json_type_object)) continue;
        if (l->on_item) {
            l->delivering = 1;
            l->on_item(l->data, it);
            l->delivering = 0;
            if (l->cancelled) {
                list_free(l);
                return;
            }
        }
        if (!l->discard_items) json_object_array_add(l->res.items, json_object_get(it));
    }
    l->res.pages++;
    const char *cont = NULL;
    if (json_object_object_get_ex(r->body, "metadata", &md)) {
        if (!l->res.resource_version[0] && json_object_object_get_ex(md, "resourceVersion", &v))
            snprintf(l->res.resource_version, sizeof(l->res.resource_version), "%s", json_object_get_string(v));
        if (json_object_object_get_ex(md, "continue", &v) && json_object_is_type(v, json_type_string))
            cont = json_object_get_string(v);
    }
    free(l->cont);
    l->cont = cont && *cont ? strdup(cont) : NULL;
    if (l->cont) {
        if (request_page(l) == 0) return;
        r->err = KUBE_ERR_TRANSPORT;
        snprintf(r->message, sizeof(r->message), "cannot request the next page");
        finish(l, r, 0);
        return;
    }
    finish(l, r, 1);
}

int kube_list_start(struct kube_client *c, const struct kube_list_opts *o, kube_list_done_cb done, void *data,
                    struct kube_list **out)
{
    if (out) *out = NULL;
    struct kube_list *l = calloc(1, sizeof(*l));
    if (!l) return -1;
    l->c = c;
    l->limit = o->limit == 0 ? KUBE_LIST_PAGE_DEFAULT : o->limit;
    l->timeout_ms = o->timeout_ms;
    l->on_item = o->on_item;
    l->discard_items = o->discard_items && o->on_item;
    l->done = done;
    l->data = data;
    l->res.items = json_object_new_array();
    struct buf p;
    buf_init(&p);
    int rc = kube_path_build(&o->res, NULL, &p);
    if (rc == 0 && o->res.label_selector && *o->res.label_selector)
        rc = kube_path_query(&p, "labelSelector", o->res.label_selector);
    if (rc == 0 && o->res.field_selector && *o->res.field_selector)
        rc = kube_path_query(&p, "fieldSelector", o->res.field_selector);
    l->base = buf_steal(&p);
    if (rc < 0 || !l->res.items || request_page(l) < 0) {
        list_free(l);
        return -1;
    }
    if (out) *out = l;
    return 0;
}

void kube_list_cancel(struct kube_list *l)
{
    if (!l) return;
    if (l->delivering) {
        l->cancelled = 1;
        return;
    }
    kube_call_cancel(l->call);
    list_free(l);
}
