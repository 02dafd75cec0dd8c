/* Newline-delimited JSON watch events (see kube_watch_parser.h). Each complete line is parsed once with a
 * fresh tokener run, so bytes are scanned a bounded number of times however the stream is chunked. */
#include "common/kube/kube_watch_parser.h"

#include "common/kube/kube_response.h"

#include <stdio.h>
#include <string.h>

static const char *const type_names[] = {
    [KUBE_WATCH_ADDED] = "ADDED",       [KUBE_WATCH_MODIFIED] = "MODIFIED", [KUBE_WATCH_DELETED] = "DELETED",
    [KUBE_WATCH_BOOKMARK] = "BOOKMARK", [KUBE_WATCH_ERROR] = "ERROR",
};

const char *kube_watch_type_name(enum kube_watch_type t)
{
    if (t >= KUBE_WATCH_ADDED && t <= KUBE_WATCH_ERROR) return type_names[t];
    return "UNKNOWN";
}

const char *kube_watch_parse_err_str(int code)
{
    switch (code) {
    case KUBE_WATCH_PARSE_OK: return "ok";
    case KUBE_WATCH_PARSE_TOO_LONG: return "watch event too long";
    case KUBE_WATCH_PARSE_BAD_JSON: return "watch event is not a JSON object";
    case KUBE_WATCH_PARSE_BAD_EVENT: return "watch event without a known type and an object";
    case KUBE_WATCH_PARSE_TRUNCATED: return "watch stream ended inside an event";
    case KUBE_WATCH_PARSE_STOPPED: return "stopped by callback";
    default: return "unknown watch parse error";
    }
}

void kube_watch_parser_init(struct kube_watch_parser *p)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->line);
    p->max_event = KUBE_WATCH_EVENT_MAX;
}

void kube_watch_parser_free(struct kube_watch_parser *p)
{
    buf_free(&p->line);
    if (p->tok) json_tokener_free(p->tok);
    memset(p, 0, sizeof(*p));
}

static int type_from_string(const char *s)
{
    for (int t = KUBE_WATCH_ADDED; t <= KUBE_WATCH_ERROR; t++)
        if (strcmp(s, type_names[t]) == 0) return t;
    return 0;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* Parses one complete line [s, s+n). */
static int parse_line(struct kube_watch_parser *p, const char *s, size_t n, kube_watch_event_cb cb, void *data)
{
    if (is_blank(s, n)) return KUBE_WATCH_PARSE_OK;
    if (!p->tok && !(p->tok = json_tokener_new_ex(KUBE_JSON_MAX_DEPTH))) return KUBE_WATCH_PARSE_BAD_JSON;
    struct json_tokener *tok = p->tok;
    json_tokener_reset(tok);
    struct json_object *ev = json_tokener_parse_ex(tok, s, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr != json_tokener_success || !ev || !is_blank(s + end, n - end)) {
        snprintf(p->why, sizeof(p->why), "event %llu: %s", (unsigned long long)p->events + 1,
                 jerr == json_tokener_success ? "trailing bytes after JSON" : json_tokener_error_desc(jerr));
        if (ev) json_object_put(ev);
        return KUBE_WATCH_PARSE_BAD_JSON;
    }
    struct json_object *type, *obj;
    int t = 0;
    if (json_object_is_type(ev, json_type_object) && json_object_object_get_ex(ev, "type", &type) &&
        json_object_is_type(type, json_type_string))
        t = type_from_string(json_object_get_string(type));
    if (!t || !json_object_object_get_ex(ev, "object", &obj) || !json_object_is_type(obj, json_type_object)) {
        snprintf(p->why, sizeof(p->why), "event %llu: %s", (unsigned long long)p->events + 1,
                 t ? "no \"object\" object" : "no known \"type\"");
        json_object_put(ev);
        return KUBE_WATCH_PARSE_BAD_EVENT;
    }
    p->events++;
    int stop = cb ? cb(data, (enum kube_watch_type)t, obj) : 0;
    json_object_put(ev);
    return stop ? KUBE_WATCH_PARSE_STOPPED : KUBE_WATCH_PARSE_OK;
}

int kube_watch_parser_feed(struct kube_watch_parser *p, const char *data, size_t len, kube_watch_event_cb cb,
                           void *cb_data)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (p->line.len + take > p->max_event) {
            snprintf(p->why, sizeof(p->why), "event %llu longer than %zu bytes", (unsigned long long)p->events + 1,
                     p->max_event);
            return KUBE_WATCH_PARSE_TOO_LONG;
        }
        if (!nl) {
            if (buf_append(&p->line, data, len) < 0) return KUBE_WATCH_PARSE_TOO_LONG;
            return KUBE_WATCH_PARSE_OK;
        }
        int rc;
        if (p->line.len == 0) {
            rc = parse_line(p, data, take, cb, cb_data); /* whole line in this chunk: no copy */
        } else {
            if (buf_append(&p->line, data, take) < 0) return KUBE_WATCH_PARSE_TOO_LONG;
            rc = parse_line(p, p->line.data, p->line.len, cb, cb_data);
            buf_reset(&p->line);
        }
        if (rc != KUBE_WATCH_PARSE_OK) return rc;
        data += take + 1;
        len -= take + 1;
    }
    return KUBE_WATCH_PARSE_OK;
}

int kube_watch_parser_finish(struct kube_watch_parser *p, kube_watch_event_cb cb, void *cb_data)
{
    if (p->line.len == 0 || is_blank(p->line.data, p->line.len)) return KUBE_WATCH_PARSE_OK;
    struct buf pending = p->line;
    buf_init(&p->line);
    int rc = parse_line(p, pending.data, pending.len, cb, cb_data);
    buf_free(&pending);
    if (rc == KUBE_WATCH_PARSE_BAD_JSON) {
        snprintf(p->why, sizeof(p->why), "stream ended inside event %llu", (unsigned long long)p->events + 1);
        return KUBE_WATCH_PARSE_TRUNCATED;
    }
    return rc;
}
