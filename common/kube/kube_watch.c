/* Watch streams on a kube_client (see kube_watch.h): kube_stream_start feeds kube_watch_parser. */
#include "common/kube/kube_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kube_watch {
    struct kube_call *call;       /* owned by the client; NULL once finished */
    struct kube_watch_parser parser;
    struct kube_watch_cbs cbs;
    void *data;
    int feeding;                  /* inside kube_watch_parser_feed: stop defers the free */
    int stopped;
    struct json_object *error;    /* owned: the ERROR event's Status */
    int parse_rc;
};

static void watch_free(struct kube_watch *w)
{
    kube_watch_parser_free(&w->parser);
    if (w->error) json_object_put(w->error);
    free(w);
}

static int on_parsed_event(void *data, enum kube_watch_type type, struct json_object *obj)
{
    struct kube_watch *w = data;
    if (w->stopped) return 1;
    if (type == KUBE_WATCH_ERROR && !w->error) w->error = json_object_get(obj);
    if (w->cbs.on_event) w->cbs.on_event(w->data, type, obj);
    return w->stopped;
}

static int on_chunk(void *data, const char *bytes, size_t len)
{
    struct kube_watch *w = data;
    w->feeding = 1;
    int rc = kube_watch_parser_feed(&w->parser, bytes, len, on_parsed_event, w);
    w->feeding = 0;
    if (w->stopped) {
        /* kube_watch_stop already cancelled the call: nothing of ours runs again */
        watch_free(w);
        return 1;
    }
    if (rc != KUBE_WATCH_PARSE_OK) {
        w->parse_rc = rc;
        return 1;
    }
    return 0;
}

static void on_stream_done(void *data, struct kube_response *r)
{
    struct kube_watch *w = data;
    w->call = NULL;
    if (r->err == KUBE_OK || (r->err == KUBE_ERR_DECODE && w->parse_rc)) {
        int rc = w->parse_rc;
        if (r->err == KUBE_OK) {
            w->feeding = 1;
            rc = kube_watch_parser_finish(&w->parser, on_parsed_event, w);
            w->feeding = 0;
            if (w->stopped) {
                watch_free(w);
                return;
            }
        }
        if (rc != KUBE_WATCH_PARSE_OK && rc != KUBE_WATCH_PARSE_STOPPED) {
            r->err = KUBE_ERR_DECODE;
            snprintf(r->message, sizeof(r->message), "%s: %s", kube_watch_parse_err_str(rc), w->parser.why);
        } else if (w->error) {
            kube_response_from_status(r, w->error);
        }
    }
    if (w->cbs.on_done) w->cbs.on_done(w->data, r, (unsigned long)w->parser.events);
    watch_free(w);
}

int kube_watch_start(struct kube_client *c, const char *path, const struct kube_watch_cbs *cbs, void *data,
                     struct kube_watch **out)
{
    return kube_watch_start_timeout(c, path, -1, cbs, data, out);
}

int kube_watch_start_timeout(struct kube_client *c, const char *path, int timeout_ms,
                             const struct kube_watch_cbs *cbs, void *data, struct kube_watch **out)
{
    if (out) *out = NULL;
    struct kube_watch *w = calloc(1, sizeof(*w));
    if (!w) return -1;
    kube_watch_parser_init(&w->parser);
    if (cbs) w->cbs = *cbs;
    w->data = data;
    struct kube_request_opts o = {.method = "GET", .path = path, .timeout_ms = timeout_ms > 0 ? timeout_ms : -1};
    if (kube_stream_start(c, &o, on_chunk, on_stream_done, w, &w->call) < 0) {
        watch_free(w);
        return -1;
    }
    if (out) *out = w;
    return 0;
}

void kube_watch_stop(struct kube_watch *w)
{
    if (!w || w->stopped) return;
    w->stopped = 1;
    kube_call_cancel(w->call);
    w->call = NULL;
    if (!w->feeding) watch_free(w);
}
