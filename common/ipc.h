/* IPC between the supervisor and its children: length-prefixed frames over a Unix socketpair.
 *
 * A frame is a 4-byte big-endian body length followed by the body, one JSON object whose first member is
 * its string "type", written without spaces or escapes: the body starts with {"type":"NAME" (catalogue and
 * rule in docs/ipc.md). That prefix lets the supervisor route a frame by its type without parsing the rest. The decoder is pure (testable without sockets); the channel drives it on a
 * libuv loop. A frame over IPC_FRAME_MAX, a body that is not a JSON object with a type, or a closed peer
 * ends the channel through on_close with a reason: the supervisor then restarts that child. */
#ifndef HTIC_IPC_H
#define HTIC_IPC_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"

/* Control messages are small; bulky artifacts travel as paths into the run directory. 1 MiB leaves room for
 * a metrics report of a large fleet while bounding what a confused peer can make us buffer. */
#define IPC_FRAME_MAX (1u << 20)
#define IPC_HEADER_LEN 4
/* Every body starts with this, then the type's name and a closing quote. */
#define IPC_TYPE_PREFIX "{\"type\":\""
/* Types are short identifiers ([a-z0-9_]); the bound keeps a peek at a hostile frame short. */
#define IPC_TYPE_MAX 64
/* ipc_channel_drain reads at most this much: more than a socket buffer holds (about 200 KiB), so one call
 * empties what a stopped reader missed, yet a peer writing without pause cannot hold the loop for long. */
#define IPC_DRAIN_MAX (1u << 20)

enum ipc_error {
    IPC_OK = 0,
    IPC_ERR_OVERSIZED = -1,   /* declared length above IPC_FRAME_MAX */
    IPC_ERR_MALFORMED = -2,   /* body is not a JSON object starting with its string "type" */
    IPC_ERR_EMPTY = -3,       /* zero-length body */
};
const char *ipc_error_str(int code);

/* Incremental decoder: feed bytes as they arrive; complete frames are handed to on_frame in order. */
typedef void (*ipc_frame_cb)(void *data, struct json_object *msg, const char *type);
/* Optional: sees every frame before its body is parsed, with its type read from the prefix and the whole
 * frame (header and body). Returns 1 when it took the frame (it is then not parsed), 0 to have it parsed. */
typedef int (*ipc_raw_cb)(void *data, const char *type, const char *frame, size_t frame_len);

struct ipc_decoder {
    struct buf pending;       /* bytes not yet forming a whole frame; owned */
    struct json_tokener *tok; /* owned */
    ipc_raw_cb raw;           /* may be NULL */
    uint64_t frames;          /* decoded so far */
};

/* Reads the type from a body's prefix into type (IPC_TYPE_MAX + 1 bytes). Returns IPC_OK or
 * IPC_ERR_MALFORMED (no prefix, a character outside [a-z0-9_], empty or too long). */
int ipc_body_type(const char *body, size_t len, char *type);

void ipc_decoder_init(struct ipc_decoder *d);
/* Returns IPC_OK or an ipc_error; after an error the decoder must be reset or freed. on_frame borrows msg
 * (it is put after the callback returns; json_object_get it to keep it). */
int ipc_decoder_feed(struct ipc_decoder *d, const char *data, size_t len, ipc_frame_cb on_frame, void *cbdata);
void ipc_decoder_free(struct ipc_decoder *d);

/* Encodes msg into out (header + body). Returns IPC_OK, IPC_ERR_OVERSIZED, or IPC_ERR_MALFORMED when the
 * body would not start with its type (build messages with ipc_msg_new, which adds the type first). */
int ipc_frame_encode(struct json_object *msg, struct buf *out);

/* A channel owns one end of a socketpair on a loop. */
struct ipc_channel;
typedef void (*ipc_message_cb)(struct ipc_channel *ch, struct json_object *msg, const char *type);
/* Called once when the channel ends (peer closed, read error, bad frame); reason is for the log. The
 * channel is closed by then; call ipc_channel_close to free it. */
typedef void (*ipc_close_cb)(struct ipc_channel *ch, const char *reason);
/* See ipc_raw_cb: 1 took the frame, 0 have it parsed and passed to on_message. */
typedef int (*ipc_channel_raw_cb)(struct ipc_channel *ch, const char *type, const char *frame, size_t len);
/* See ipc_channel_notify_drained. */
typedef void (*ipc_drained_cb)(struct ipc_channel *ch);

struct ipc_channel {
    uv_pipe_t pipe;
    struct ipc_decoder dec;
    ipc_message_cb on_message;
    ipc_close_cb on_close;
    ipc_channel_raw_cb on_raw;  /* NULL unless set after init: every frame is parsed */
    void *data;               /* the owner's */
    size_t queued_bytes;      /* written but not yet flushed to the kernel */
    uint64_t sent, received;
    int reading;
    int paused;               /* ipc_channel_pause: reading stopped by the owner, not by an end */
    size_t drained_mark;      /* ipc_channel_notify_drained: call on_drained once queued_bytes <= this */
    ipc_drained_cb on_drained;  /* NULL: nobody waits for the queue to drain */
    int ended;                /* on_close was called */
    int closing;
    void (*free_cb)(struct ipc_channel *ch);
};

/* Takes ownership of fd. Returns 0 or a libuv error. */
int ipc_channel_init(struct ipc_channel *ch, uv_loop_t *loop, int fd, ipc_message_cb on_message,
                     ipc_close_cb on_close, void *data);
int ipc_channel_start(struct ipc_channel *ch);
/* Queues msg (not consumed: the caller keeps its reference). Control messages are never dropped: if the
 * peer reads slowly they wait in the queue. Returns 0, or negative if the channel ended or msg is too big. */
int ipc_channel_send(struct ipc_channel *ch, struct json_object *msg);
/* Queues an already encoded frame (header and body, as an ipc_channel_raw_cb received it), copied. */
int ipc_channel_send_frame(struct ipc_channel *ch, const char *frame, size_t len);
/* Best-effort send for periodic reports: skipped (returns 1) when more than limit bytes are waiting. */
int ipc_channel_send_lossy(struct ipc_channel *ch, struct json_object *msg, size_t limit);
/* Reads and handles, now and without waiting, what the peer has already written (on_message runs for each
 * frame, on_close if the channel ends): for a decision that must not be taken on stale state, such as the
 * supervisor's fence timer firing before the renewals that arrived while its process was stopped are read.
 * Reads at most IPC_DRAIN_MAX bytes. Returns 0, or -1 if the channel ended. */
int ipc_channel_drain(struct ipc_channel *ch);
/* Flow control for a reader that must not take more than it can pass on (the supervisor forwarding one
 * child's frames to another): pause stops reading the peer, so its writes wait in the socket buffer and then
 * in the peer's own queue; frames of a read already under way are still handed over (at most one read's
 * worth, 64 KiB). ipc_channel_drain reads nothing while paused. Resume reads again. No-ops on an ended or
 * closing channel, and pause/resume of a channel already in that state. */
void ipc_channel_pause(struct ipc_channel *ch);
void ipc_channel_resume(struct ipc_channel *ch);
/* Calls cb(ch) once, from the write completion that brings queued_bytes to mark or below (a writer that
 * paused its sources resumes them there). Replaces an earlier request. Returns 0, or -1 (nothing registered)
 * when queued_bytes already is at or below mark or the channel ended. */
int ipc_channel_notify_drained(struct ipc_channel *ch, size_t mark, ipc_drained_cb cb);
/* Closes the pipe and frees the channel's buffers; free_cb (may be NULL) is called with ch when done,
 * after which the caller may free the memory holding ch. */
void ipc_channel_close(struct ipc_channel *ch, void (*free_cb)(struct ipc_channel *ch));

/* Message helpers: a new object {"type": type}; the caller owns it. */
struct json_object *ipc_msg_new(const char *type);
const char *ipc_msg_str(struct json_object *msg, const char *key);   /* NULL if absent or not a string */
int64_t ipc_msg_int(struct json_object *msg, const char *key, int64_t dflt);

#endif
