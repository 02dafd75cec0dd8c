/* Typed errors from Kubernetes Status bodies (see kube_response.h). The table mirrors client-go's
 * apimachinery errors package: the reason decides when it is known, else the HTTP code. */
#include "common/kube/kube_response.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const err_names[] = {
    [KUBE_OK] = "OK",
    [KUBE_ERR_BAD_REQUEST] = "BadRequest",
    [KUBE_ERR_UNAUTHORIZED] = "Unauthorized",
    [KUBE_ERR_FORBIDDEN] = "Forbidden",
    [KUBE_ERR_NOT_FOUND] = "NotFound",
    [KUBE_ERR_METHOD_NOT_ALLOWED] = "MethodNotAllowed",
    [KUBE_ERR_ALREADY_EXISTS] = "AlreadyExists",
    [KUBE_ERR_CONFLICT] = "Conflict",
    [KUBE_ERR_GONE] = "Gone",
    [KUBE_ERR_INVALID] = "Invalid",
    [KUBE_ERR_TOO_MANY_REQUESTS] = "TooManyRequests",
    [KUBE_ERR_SERVER] = "ServerError",
    [KUBE_ERR_TIMEOUT] = "Timeout",
    [KUBE_ERR_TRANSPORT] = "Transport",
    [KUBE_ERR_DECODE] = "Decode",
    [KUBE_ERR_CANCELLED] = "Cancelled",
    [KUBE_ERR_OTHER] = "Other",
};

const char *kube_err_name(enum kube_err e)
{
    if ((unsigned)e < sizeof(err_names) / sizeof(err_names[0]) && err_names[e]) return err_names[e];
    return "Unknown";
}

static const struct {
    const char *reason;
    enum kube_err err;
} reasons[] = {
    {"BadRequest", KUBE_ERR_BAD_REQUEST},
    {"Unauthorized", KUBE_ERR_UNAUTHORIZED},
    {"Forbidden", KUBE_ERR_FORBIDDEN},
    {"NotFound", KUBE_ERR_NOT_FOUND},
    {"MethodNotAllowed", KUBE_ERR_METHOD_NOT_ALLOWED},
    {"AlreadyExists", KUBE_ERR_ALREADY_EXISTS},
    {"Conflict", KUBE_ERR_CONFLICT},
    {"Gone", KUBE_ERR_GONE},
    {"Expired", KUBE_ERR_GONE},
    {"Invalid", KUBE_ERR_INVALID},
    {"TooManyRequests", KUBE_ERR_TOO_MANY_REQUESTS},
    {"InternalError", KUBE_ERR_SERVER},
    {"ServerTimeout", KUBE_ERR_SERVER},
    {"ServiceUnavailable", KUBE_ERR_SERVER},
    {"Timeout", KUBE_ERR_TIMEOUT},
};

enum kube_err kube_err_classify(long code, const char *reason)
{
    if (code >= 200 && code < 300) return KUBE_OK;
    if (reason && *reason) {
        for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
            if (strcmp(reason, reasons[i].reason) == 0) return reasons[i].err;
    }
    switch (code) {
    case 0: return KUBE_ERR_TRANSPORT;
    case 400: return KUBE_ERR_BAD_REQUEST;
    case 401: return KUBE_ERR_UNAUTHORIZED;
    case 403: return KUBE_ERR_FORBIDDEN;
    case 404: return KUBE_ERR_NOT_FOUND;
    case 405: return KUBE_ERR_METHOD_NOT_ALLOWED;
    case 409: return KUBE_ERR_CONFLICT;
    case 410: return KUBE_ERR_GONE;
    case 422: return KUBE_ERR_INVALID;
    case 429: return KUBE_ERR_TOO_MANY_REQUESTS;
    case 504: return KUBE_ERR_TIMEOUT;
    default: break;
    }
    if (code >= 500 && code < 600) return KUBE_ERR_SERVER;
    return KUBE_ERR_OTHER;
}

void kube_response_init(struct kube_response *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->raw);
    r->retry_after_ms = -1;
}

void kube_response_free(struct kube_response *r)
{
    if (!r) return;
    if (r->body) json_object_put(r->body);
    buf_free(&r->raw);
    kube_response_init(r);
}

void kube_response_move(struct kube_response *dst, struct kube_response *src)
{
    *dst = *src;
    kube_response_init(src);
}

static void copy_str(char *dst, size_t n, const char *src, size_t len)
{
    if (len >= n) len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static int is_status(struct json_object *o)
{
    struct json_object *kind;
    return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "kind", &kind) &&
           json_object_is_type(kind, json_type_string) && strcmp(json_object_get_string(kind), "Status") == 0;
}

static void take_status_fields(struct kube_response *r, struct json_object *st)
{
    struct json_object *v, *details;
    if (json_object_object_get_ex(st, "reason", &v) && json_object_is_type(v, json_type_string))
        copy_str(r->reason, sizeof(r->reason), json_object_get_string(v), (size_t)json_object_get_string_len(v));
    if (json_object_object_get_ex(st, "message", &v) && json_object_is_type(v, json_type_string))
        copy_str(r->message, sizeof(r->message), json_object_get_string(v),
                 (size_t)json_object_get_string_len(v));
    if (r->retry_after_ms < 0 && json_object_object_get_ex(st, "details", &details) &&
        json_object_object_get_ex(details, "retryAfterSeconds", &v) && json_object_is_type(v, json_type_int)) {
        int64_t s = json_object_get_int64(v);
        if (s > 0) r->retry_after_ms = (s > KUBE_RETRY_AFTER_MAX_S ? KUBE_RETRY_AFTER_MAX_S : s) * 1000;
    }
}

void kube_response_from_status(struct kube_response *r, struct json_object *st)
{
    long code = 0;
    struct json_object *v;
    if (json_object_object_get_ex(st, "code", &v) && json_object_is_type(v, json_type_int))
        code = (long)json_object_get_int64(v);
    if (code == 0) code = 500; /* an ERROR event without a code is still a failure */
    r->status = code;
    take_status_fields(r, st);
    r->err = kube_err_classify(code, r->reason);
}

/* Text bodies (the 429 text, proxy HTML) become the message, with control characters replaced. */
static void take_text(struct kube_response *r)
{
    size_t n = r->raw.len < sizeof(r->message) - 1 ? r->raw.len : sizeof(r->message) - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)r->raw.data[i];
        r->message[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    r->message[n] = '\0';
    while (n > 0 && r->message[n - 1] == ' ') r->message[--n] = '\0';
}

void kube_response_finish(struct kube_response *r, int allow_empty)
{
    if (r->body) {
        json_object_put(r->body);
        r->body = NULL;
    }
    if (r->raw.len > 0) {
        struct json_tokener *tok = json_tokener_new_ex(KUBE_JSON_MAX_DEPTH);
        if (tok) {
            struct json_object *o = json_tokener_parse_ex(tok, r->raw.data, (int)r->raw.len);
            if (json_tokener_get_error(tok) == json_tokener_success &&
                json_tokener_get_parse_end(tok) == r->raw.len)
                r->body = o;
            else if (o)
                json_object_put(o);
            json_tokener_free(tok);
        }
    }
    if (r->status >= 200 && r->status < 300) {
        if (r->body || (allow_empty && r->raw.len == 0)) {
            r->err = KUBE_OK;
        } else {
            r->err = KUBE_ERR_DECODE;
            snprintf(r->message, sizeof(r->message), "HTTP %ld response body is not JSON", r->status);
        }
        return;
    }
    if (r->body && is_status(r->body))
        take_status_fields(r, r->body);
    else if (r->raw.len > 0)
        take_text(r);
    if (!r->message[0]) snprintf(r->message, sizeof(r->message), "HTTP %ld", r->status);
    r->err = kube_err_classify(r->status, r->reason);
}

int64_t kube_retry_after_parse(const char *value, int64_t now_unix_s)
{
    if (!value) return -1;
    while (*value == ' ' || *value == '\t') value++;
    if (!*value) return -1;
    int64_t secs;
    if (isdigit((unsigned char)*value)) {
        char *end;
        long long v = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
        if (*end) return -1;
        secs = v;
    } else {
        time_t t = curl_getdate(value, NULL);
        if (t == (time_t)-1) return -1;
        secs = (int64_t)t - now_unix_s;
        if (secs < 0) secs = 0;
    }
    if (secs > KUBE_RETRY_AFTER_MAX_S) secs = KUBE_RETRY_AFTER_MAX_S;
    return secs * 1000;
}
