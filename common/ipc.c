/* IPC framing and the libuv channel (see ipc.h). */
#include "common/ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *ipc_error_str(int code)
{
    switch (code) {
    case IPC_OK: return "ok";
    case IPC_ERR_OVERSIZED: return "frame larger than the maximum";
    case IPC_ERR_MALFORMED: return "frame body is not a JSON object with a string type";
    case IPC_ERR_EMPTY: return "empty frame";
    default: return "unknown error";
    }
}

void ipc_decoder_init(struct ipc_decoder *d)
{
    memset(d, 0, sizeof(*d));
    buf_init(&d->pending);
    d->tok = json_tokener_new();
}

void ipc_decoder_free(struct ipc_decoder *d)
{
    buf_free(&d->pending);
    if (d->tok) json_tokener_free(d->tok);
    d->tok = NULL;
}

static uint32_t read_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

int ipc_body_type(const char *body, size_t len, char *type)
{
    size_t p = sizeof(IPC_TYPE_PREFIX) - 1;
    if (len < p || memcmp(body, IPC_TYPE_PREFIX, p) != 0) return IPC_ERR_MALFORMED;
    size_t n = 0;
    for (; p + n < len && body[p + n] != '"'; n++) {
        char c = body[p + n];
        if (n == IPC_TYPE_MAX || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return IPC_ERR_MALFORMED;
        type[n] = c;
    }
    if (n == 0 || p + n == len) return IPC_ERR_MALFORMED;
    type[n] = '\0';
    return IPC_OK;
}

/* One whole frame (header + len body bytes): routed raw if the raw hook takes it, else parsed; the body
 * must be exactly one JSON object whose parsed type is the one its prefix names. */
static int decode_frame(struct ipc_decoder *d, const char *frame, uint32_t len, ipc_frame_cb cb, void *cbdata)
{
    if (len == 0) return IPC_ERR_EMPTY;
    const char *body = frame + IPC_HEADER_LEN;
    char peeked[IPC_TYPE_MAX + 1];
    if (ipc_body_type(body, len, peeked) != IPC_OK) return IPC_ERR_MALFORMED;
    if (d->raw && d->raw(cbdata, peeked, frame, IPC_HEADER_LEN + (size_t)len)) {
        d->frames++;
        return IPC_OK;
    }
    json_tokener_reset(d->tok);
    struct json_object *msg = json_tokener_parse_ex(d->tok, body, (int)len);
    if (!msg || json_tokener_get_error(d->tok) != json_tokener_success ||
        json_tokener_get_parse_end(d->tok) != len) {
        json_object_put(msg);
        return IPC_ERR_MALFORMED;
    }
    struct json_object *type;
    if (!json_object_is_type(msg, json_type_object) || !json_object_object_get_ex(msg, "type", &type) ||
        !json_object_is_type(type, json_type_string) || strcmp(json_object_get_string(type), peeked) != 0) {
        json_object_put(msg); /* a later duplicate "type" must not make the parse disagree with the route */
        return IPC_ERR_MALFORMED;
    }
    d->frames++;
    cb(cbdata, msg, json_object_get_string(type));
    json_object_put(msg);
    return IPC_OK;
}

int ipc_decoder_feed(struct ipc_decoder *d, const char *data, size_t len, ipc_frame_cb cb, void *cbdata)
{
    /* Fast path: whole frames straight from the read buffer, no copy. */
    if (d->pending.len == 0) {
        while (len >= IPC_HEADER_LEN) {
            uint32_t n = read_be32((const unsigned char *)data);
            if (n > IPC_FRAME_MAX) return IPC_ERR_OVERSIZED;
            if (len - IPC_HEADER_LEN < n) break;
            int rc = decode_frame(d, data, n, cb, cbdata);
            if (rc) return rc;
            data += IPC_HEADER_LEN + n;
            len -= IPC_HEADER_LEN + n;
        }
        if (len == 0) return IPC_OK;
        if (len >= IPC_HEADER_LEN && read_be32((const unsigned char *)data) > IPC_FRAME_MAX)
            return IPC_ERR_OVERSIZED;
        return buf_append(&d->pending, data, len) < 0 ? IPC_ERR_OVERSIZED : IPC_OK;
    }
    /* Slow path: complete the pending frame byte range first. */
    while (len > 0) {
        size_t need;
        if (d->pending.len < IPC_HEADER_LEN) {
            need = IPC_HEADER_LEN - d->pending.len;
        } else {
            uint32_t n = read_be32((const unsigned char *)d->pending.data);
            need = IPC_HEADER_LEN + n - d->pending.len;
        }
        size_t take = len < need ? len : need;
        if (buf_append(&d->pending, data, take) < 0) return IPC_ERR_OVERSIZED;
        data += take;
        len -= take;
        if (d->pending.len < IPC_HEADER_LEN) continue;
        uint32_t n = read_be32((const unsigned char *)d->pending.data);
        if (n > IPC_FRAME_MAX) return IPC_ERR_OVERSIZED;
        if (d->pending.len == IPC_HEADER_LEN + n) {
            int rc = decode_frame(d, d->pending.data, n, cb, cbdata);
            buf_reset(&d->pending);
            if (rc) return rc;
            return ipc_decoder_feed(d, data, len, cb, cbdata);
        }
    }
    return IPC_OK;
}

int ipc_frame_encode(struct json_object *msg, struct buf *out)
{
    size_t n;
    const char *body = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &n);
    if (n == 0 || n > IPC_FRAME_MAX) return IPC_ERR_OVERSIZED;
    char type[IPC_TYPE_MAX + 1];
    if (ipc_body_type(body, n, type) != IPC_OK) return IPC_ERR_MALFORMED;
    unsigned char hdr[IPC_HEADER_LEN] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                                         (unsigned char)(n >> 8), (unsigned char)n};
    if (buf_append(out, hdr, sizeof(hdr)) < 0 || buf_append(out, body, n) < 0) return IPC_ERR_OVERSIZED;
    return IPC_OK;
}

/* ---- channel ---- */

struct write_req {
    uv_write_t req;
    struct ipc_channel *ch;
    size_t len;
    char data[];
};

static void channel_end(struct ipc_channel *ch, const char *reason)
{
    if (ch->ended) return;
    ch->ended = 1;
    if (ch->reading) uv_read_stop((uv_stream_t *)&ch->pipe);
    ch->reading = 0;
    if (ch->on_close) ch->on_close(ch, reason);
}

static int on_raw_frame(void *data, const char *type, const char *frame, size_t len)
{
    struct ipc_channel *ch = data;
    if (ch->ended || !ch->on_raw) return 0;
    if (!ch->on_raw(ch, type, frame, len)) return 0;
    ch->received++;
    return 1;
}

static void on_frame(void *data, struct json_object *msg, const char *type)
{
    struct ipc_channel *ch = data;
    ch->received++;
    if (!ch->ended && ch->on_message) ch->on_message(ch, msg, type);
}

/* Reads land in a per-call heap buffer sized by libuv's suggestion, capped to keep memory bounded. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    size_t n = suggested > 65536 ? 65536 : suggested;
    b->base = malloc(n);
    b->len = b->base ? n : 0;
}

static void on_pipe_readable(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct ipc_channel *ch = s->data;
    if (nread > 0) {
        int rc = ipc_decoder_feed(&ch->dec, b->base, (size_t)nread, on_frame, ch);
        if (rc != IPC_OK) channel_end(ch, ipc_error_str(rc));
    } else if (nread < 0) {
        channel_end(ch, nread == UV_EOF ? "peer closed the channel" : uv_strerror((int)nread));
    }
    free(b->base);
}

int ipc_channel_init(struct ipc_channel *ch, uv_loop_t *loop, int fd, ipc_message_cb on_message,
                     ipc_close_cb on_close, void *data)
{
    memset(ch, 0, sizeof(*ch));
    ch->on_message = on_message;
    ch->on_close = on_close;
    ch->data = data;
    ipc_decoder_init(&ch->dec);
    ch->dec.raw = on_raw_frame;
    int rc = uv_pipe_init(loop, &ch->pipe, 0);
    if (rc) return rc;
    ch->pipe.data = ch;
    rc = uv_pipe_open(&ch->pipe, fd);
    return rc;
}

int ipc_channel_start(struct ipc_channel *ch)
{
    int rc = uv_read_start((uv_stream_t *)&ch->pipe, on_alloc, on_pipe_readable);
    if (rc == 0) ch->reading = 1;
    return rc;
}

static void on_write_done(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct ipc_channel *ch = w->ch;
    ch->queued_bytes -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED) channel_end(ch, uv_strerror(status));
    /* an ended or closing channel's owner learns of it by on_close or its own close, not from here */
    if (ch->on_drained && !ch->ended && !ch->closing && ch->queued_bytes <= ch->drained_mark) {
        ipc_drained_cb cb = ch->on_drained;
        ch->on_drained = NULL; /* once: the callback may ask again */
        cb(ch);
    }
}

int ipc_channel_send(struct ipc_channel *ch, struct json_object *msg)
{
    if (ch->ended || ch->closing) return -1;
    struct buf b;
    buf_init(&b);
    int rc = ipc_frame_encode(msg, &b) == IPC_OK ? ipc_channel_send_frame(ch, b.data, b.len) : -1;
    buf_free(&b);
    return rc;
}

int ipc_channel_send_frame(struct ipc_channel *ch, const char *frame, size_t len)
{
    if (ch->ended || ch->closing) return -1;
    struct write_req *w = malloc(sizeof(*w) + len);
    if (!w) return -1;
    w->ch = ch;
    w->len = len;
    memcpy(w->data, frame, len);
    uv_buf_t ub = uv_buf_init(w->data, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&ch->pipe, &ub, 1, on_write_done);
    if (rc) {
        free(w);
        return -1;
    }
    ch->queued_bytes += w->len;
    ch->sent++;
    return 0;
}

int ipc_channel_send_lossy(struct ipc_channel *ch, struct json_object *msg, size_t limit)
{
    if (ch->queued_bytes > limit) return 1;
    return ipc_channel_send(ch, msg);
}

int ipc_channel_drain(struct ipc_channel *ch)
{
    if (ch->ended || ch->closing || !ch->reading) return ch->ended ? -1 : 0;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&ch->pipe, &fd) != 0) return 0;
    /* The pipe is non-blocking (libuv's): reading behind libuv's back is safe, its next read sees EAGAIN. */
    char chunk[65536];
    size_t total = 0;
    while (total < IPC_DRAIN_MAX && !ch->ended && !ch->paused) { /* a frame may pause the channel */
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break; /* EAGAIN: nothing more written yet; a real error is left to libuv's next read */
        if (n == 0) {
            channel_end(ch, "peer closed the channel");
            break;
        }
        total += (size_t)n;
        int rc = ipc_decoder_feed(&ch->dec, chunk, (size_t)n, on_frame, ch);
        if (rc != IPC_OK) channel_end(ch, ipc_error_str(rc));
    }
    return ch->ended ? -1 : 0;
}

void ipc_channel_pause(struct ipc_channel *ch)
{
    if (ch->ended || ch->closing || ch->paused) return;
    ch->paused = 1;
    if (ch->reading) uv_read_stop((uv_stream_t *)&ch->pipe);
    ch->reading = 0;
}

void ipc_channel_resume(struct ipc_channel *ch)
{
    if (!ch->paused) return;
    ch->paused = 0;
    if (ch->ended || ch->closing || ch->reading) return;
    if (ipc_channel_start(ch) != 0) channel_end(ch, "cannot read the channel again");
}

int ipc_channel_notify_drained(struct ipc_channel *ch, size_t mark, ipc_drained_cb cb)
{
    if (ch->ended || ch->closing || ch->queued_bytes <= mark) return -1;
    ch->drained_mark = mark;
    ch->on_drained = cb;
    return 0;
}

static void on_pipe_closed(uv_handle_t *h)
{
    struct ipc_channel *ch = h->data;
    ipc_decoder_free(&ch->dec);
    if (ch->free_cb) ch->free_cb(ch);
}

static void on_flushed(uv_shutdown_t *req, int status)
{
    struct ipc_channel *ch = req->data;
    (void)status;
    free(req);
    uv_close((uv_handle_t *)&ch->pipe, on_pipe_closed);
}

void ipc_channel_close(struct ipc_channel *ch, void (*free_cb)(struct ipc_channel *ch))
{
    if (ch->closing) return;
    ch->closing = 1;
    ch->free_cb = free_cb;
    if (ch->reading) uv_read_stop((uv_stream_t *)&ch->pipe);
    ch->reading = 0;
    /* Queued writes are flushed before the pipe closes (a last event or a lease-release report must
     * arrive); uv_shutdown completes once every pending write has been handed to the kernel. */
    if (ch->queued_bytes > 0 && !ch->ended) {
        uv_shutdown_t *req = malloc(sizeof(*req));
        if (req) {
            req->data = ch;
            if (uv_shutdown(req, (uv_stream_t *)&ch->pipe, on_flushed) == 0) {
                ch->ended = 1;
                return;
            }
            free(req);
        }
    }
    ch->ended = 1;
    uv_close((uv_handle_t *)&ch->pipe, on_pipe_closed);
}

struct json_object *ipc_msg_new(const char *type)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(type));
    return o;
}

const char *ipc_msg_str(struct json_object *msg, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(msg, key, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    return json_object_get_string(v);
}

int64_t ipc_msg_int(struct json_object *msg, const char *key, int64_t dflt)
{
    struct json_object *v;
    if (!json_object_object_get_ex(msg, key, &v)) return dflt;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) return dflt;
    return json_object_get_int64(v);
}
