/* IPC framing: partial reads at every split, several frames per read, oversized and malformed frames,
 * a channel round trip over a real socketpair on a libuv loop, and its flow control (a paused channel reads
 * nothing until resumed; a drained queue is reported once). */
#include "tests/unit/unit.h"
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ipc.h"

struct seen {
    int n;
    char types[16][32];
};

static void on_frame(void *data, struct json_object *msg, const char *type)
{
    (void)msg;
    struct seen *s = data;
    if (s->n < 16) snprintf(s->types[s->n], sizeof(s->types[0]), "%s", type);
    s->n++;
}

static void encode3(struct buf *b)
{
    const char *types[] = {"hello", "heartbeat", "shutdown"};
    for (int i = 0; i < 3; i++) {
        struct json_object *m = ipc_msg_new(types[i]);
        json_object_object_add(m, "n", json_object_new_int(i));
        ck_assert_int_eq(ipc_frame_encode(m, b), IPC_OK);
        json_object_put(m);
    }
}

START_TEST(test_ipc_decoder_handles_every_split)
{
    struct buf b;
    buf_init(&b);
    encode3(&b);
    for (size_t cut1 = 0; cut1 <= b.len; cut1++) {
        for (size_t cut2 = cut1; cut2 <= b.len; cut2 += 3) {
            struct ipc_decoder d;
            struct seen s = {0};
            ipc_decoder_init(&d);
            ck_assert_int_eq(ipc_decoder_feed(&d, b.data, cut1, on_frame, &s), IPC_OK);
            ck_assert_int_eq(ipc_decoder_feed(&d, b.data + cut1, cut2 - cut1, on_frame, &s), IPC_OK);
            ck_assert_int_eq(ipc_decoder_feed(&d, b.data + cut2, b.len - cut2, on_frame, &s), IPC_OK);
            ck_assert_int_eq(s.n, 3);
            ck_assert_str_eq(s.types[0], "hello");
            ck_assert_str_eq(s.types[2], "shutdown");
            ipc_decoder_free(&d);
        }
    }
    buf_free(&b);
}
END_TEST

START_TEST(test_ipc_decoder_byte_by_byte)
{
    struct buf b;
    buf_init(&b);
    encode3(&b);
    struct ipc_decoder d;
    struct seen s = {0};
    ipc_decoder_init(&d);
    for (size_t i = 0; i < b.len; i++) ck_assert_int_eq(ipc_decoder_feed(&d, b.data + i, 1, on_frame, &s), 0);
    ck_assert_int_eq(s.n, 3);
    ipc_decoder_free(&d);
    buf_free(&b);
}
END_TEST

static int feed_raw(const void *data, size_t len)
{
    struct ipc_decoder d;
    struct seen s = {0};
    ipc_decoder_init(&d);
    int rc = ipc_decoder_feed(&d, data, len, on_frame, &s);
    ipc_decoder_free(&d);
    return rc;
}

START_TEST(test_ipc_decoder_refuses_oversized_frame)
{
    unsigned char hdr[4] = {0x7f, 0xff, 0xff, 0xff};
    ck_assert_int_eq(feed_raw(hdr, 4), IPC_ERR_OVERSIZED);
    /* just over the limit, announced in a header split across two reads */
    uint32_t n = IPC_FRAME_MAX + 1;
    unsigned char h2[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                           (unsigned char)n};
    struct ipc_decoder d;
    struct seen s = {0};
    ipc_decoder_init(&d);
    ck_assert_int_eq(ipc_decoder_feed(&d, (char *)h2, 2, on_frame, &s), IPC_OK);
    ck_assert_int_eq(ipc_decoder_feed(&d, (char *)h2 + 2, 2, on_frame, &s), IPC_ERR_OVERSIZED);
    ipc_decoder_free(&d);
}
END_TEST

static int feed_body(const char *body)
{
    struct buf b;
    buf_init(&b);
    uint32_t n = (uint32_t)strlen(body);
    unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                            (unsigned char)n};
    buf_append(&b, hdr, 4);
    buf_append(&b, body, n);
    int rc = feed_raw(b.data, b.len);
    buf_free(&b);
    return rc;
}

START_TEST(test_ipc_decoder_refuses_garbage)
{
    ck_assert_int_eq(feed_body("not json"), IPC_ERR_MALFORMED);
    ck_assert_int_eq(feed_body("[1,2]"), IPC_ERR_MALFORMED);
    ck_assert_int_eq(feed_body("{\"no\":\"type\"}"), IPC_ERR_MALFORMED);
    ck_assert_int_eq(feed_body("{\"type\":3}"), IPC_ERR_MALFORMED);
    ck_assert_int_eq(feed_body("{\"type\":\"a\"} trailing"), IPC_ERR_MALFORMED);
    ck_assert_int_eq(feed_body("{\"type\":\"a\""), IPC_ERR_MALFORMED);
    ck_assert_int_eq(feed_body(""), IPC_ERR_EMPTY);
    ck_assert_int_eq(feed_body("{\"type\":\"ok\"}"), IPC_OK);
}
END_TEST

START_TEST(test_ipc_body_must_start_with_its_type)
{
    /* the supervisor routes by the prefix: a type anywhere else, spaced, escaped or odd is refused */
    ck_assert_int_eq(feed_body("{\"a\":1,\"type\":\"ok\"}"), IPC_ERR_MALFORMED);
    ck_assert_int_eq(feed_body("{ \"type\":\"ok\"}"), IPC_ERR_MALFORMED);
    ck_assert_int_eq(feed_body("{\"type\":\"o\\u006b\"}"), IPC_ERR_MALFORMED);
    ck_assert_int_eq(feed_body("{\"type\":\"Ok\"}"), IPC_ERR_MALFORMED);
    ck_assert_int_eq(feed_body("{\"type\":\"\"}"), IPC_ERR_MALFORMED);
    /* a later duplicate would make the parsed type differ from the routed one */
    ck_assert_int_eq(feed_body("{\"type\":\"ok\",\"type\":\"shutdown\"}"), IPC_ERR_MALFORMED);
    char type[IPC_TYPE_MAX + 1];
    char longest[IPC_TYPE_MAX + 32];
    snprintf(longest, sizeof(longest), "{\"type\":\"%0*d\"}", IPC_TYPE_MAX, 0);
    ck_assert_int_eq(ipc_body_type(longest, strlen(longest), type), IPC_OK);
    snprintf(longest, sizeof(longest), "{\"type\":\"%0*d\"}", IPC_TYPE_MAX + 1, 0);
    ck_assert_int_eq(ipc_body_type(longest, strlen(longest), type), IPC_ERR_MALFORMED);
    /* the encoder never writes a body the decoder would refuse */
    struct json_object *m = json_object_new_object();
    json_object_object_add(m, "a", json_object_new_int(1));
    json_object_object_add(m, "type", json_object_new_string("ok"));
    struct buf b;
    buf_init(&b);
    ck_assert_int_eq(ipc_frame_encode(m, &b), IPC_ERR_MALFORMED);
    json_object_put(m);
    buf_free(&b);
}
END_TEST

/* ipc_channel_drain: frames already written are handled at once, before the loop reads the socket (the
 * supervisor's fence timer after a SIGSTOP); the end of the peer is seen too. */
static void count_message(struct ipc_channel *ch, struct json_object *msg, const char *type)
{
    (*(int *)ch->data)++;
    (void)msg;
    (void)type;
}

/* The peer writes n frames of type straight into the socket, each with pad bytes of padding (0: none). */
static void write_frames(int fd, const char *type, int n, size_t pad)
{
    char *p = malloc(pad + 1);
    memset(p, 'x', pad);
    p[pad] = '\0';
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < n; i++) {
        struct json_object *m = ipc_msg_new(type);
        if (pad) json_object_object_add(m, "pad", json_object_new_string(p));
        ck_assert_int_eq(ipc_frame_encode(m, &b), IPC_OK);
        json_object_put(m);
    }
    ck_assert_int_eq(write(fd, b.data, b.len), (ssize_t)b.len);
    buf_free(&b);
    free(p);
}

START_TEST(test_ipc_channel_drain_reads_what_is_already_written)
{
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    int got = 0;
    struct ipc_channel ch;
    ck_assert_int_eq(ipc_channel_init(&ch, &loop, fds[1], count_message, NULL, &got), 0);
    ck_assert_int_eq(ipc_channel_start(&ch), 0);
    ck_assert_int_eq(ipc_channel_drain(&ch), 0); /* nothing written: returns at once */
    ck_assert_int_eq(got, 0);
    write_frames(fds[0], "renewed", 3, 0);
    ck_assert_int_eq(ipc_channel_drain(&ch), 0);
    ck_assert_int_eq(got, 3);
    close(fds[0]);
    ck_assert_int_eq(ipc_channel_drain(&ch), -1);
    ipc_channel_close(&ch, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(got, 3);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* A channel reading one end of a socketpair; the test writes into fds[0] as the peer. */
struct reader {
    int fds[2];
    uv_loop_t loop;
    struct ipc_channel ch;
    int got;
};

static void reader_open(struct reader *r, ipc_message_cb on_message)
{
    memset(r, 0, sizeof(*r));
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, r->fds), 0);
    uv_loop_init(&r->loop);
    ck_assert_int_eq(ipc_channel_init(&r->ch, &r->loop, r->fds[1], on_message, NULL, &r->got), 0);
    ck_assert_int_eq(ipc_channel_start(&r->ch), 0);
}

static void reader_close(struct reader *r)
{
    close(r->fds[0]);
    ipc_channel_close(&r->ch, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&r->loop), 0);
}

START_TEST(test_ipc_channel_paused_reads_nothing_until_resumed)
{
    struct reader r;
    reader_open(&r, count_message);
    ipc_channel_pause(&r.ch);
    write_frames(r.fds[0], "renewed", 3, 0);
    for (int i = 0; i < 5; i++) uv_run(&r.loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(ipc_channel_drain(&r.ch), 0); /* the hung check's drain respects the pause too */
    ck_assert_int_eq(r.got, 0);
    ipc_channel_pause(&r.ch); /* twice: still one pause */
    ipc_channel_resume(&r.ch);
    ck_assert_int_eq(r.ch.reading, 1);
    for (int i = 0; i < 5 && r.got < 3; i++) uv_run(&r.loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(ipc_channel_drain(&r.ch), 0);
    ck_assert_int_eq(r.got, 3);
    reader_close(&r);
}
END_TEST

static void pause_on_message(struct ipc_channel *ch, struct json_object *msg, const char *type)
{
    count_message(ch, msg, type);
    ipc_channel_pause(ch);
}

START_TEST(test_ipc_channel_drain_stops_reading_once_a_frame_paused_the_channel)
{
    struct reader r;
    reader_open(&r, pause_on_message);
    /* about 10 KiB frames, 150 KiB in all: more than one read of drain's 64 KiB */
    write_frames(r.fds[0], "event", 15, 10000);
    ck_assert_int_eq(ipc_channel_drain(&r.ch), 0);
    /* the first read's frames (the rest of that read is not thrown away), not the whole backlog */
    ck_assert_int_ge(r.got, 1);
    ck_assert_int_le(r.got, 7);
    reader_close(&r);
}
END_TEST

static int drained_calls;
static size_t drained_at;
static void on_test_drained(struct ipc_channel *ch)
{
    drained_calls++;
    drained_at = ch->queued_bytes;
}

static void on_count_close(struct ipc_channel *ch, const char *reason)
{
    (void)reason;
    ipc_channel_close(ch, NULL);
}

START_TEST(test_ipc_channel_reports_once_when_its_queue_drained_to_the_mark)
{
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    int got = 0;
    struct ipc_channel a, b;
    ck_assert_int_eq(ipc_channel_init(&a, &loop, fds[0], NULL, NULL, NULL), 0);
    ck_assert_int_eq(ipc_channel_init(&b, &loop, fds[1], count_message, on_count_close, &got), 0);
    ck_assert_int_eq(ipc_channel_notify_drained(&a, 0, on_test_drained), -1); /* nothing queued: no wait */
    char pad[4096];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = 0;
    for (int i = 0; i < 1000; i++) { /* 4 MB: more than the socket takes while b does not read */
        struct json_object *m = ipc_msg_new("event");
        json_object_object_add(m, "pad", json_object_new_string(pad));
        ck_assert_int_eq(ipc_channel_send(&a, m), 0);
        json_object_put(m);
    }
    size_t mark = a.queued_bytes / 2;
    ck_assert_int_eq(ipc_channel_notify_drained(&a, mark, on_test_drained), 0);
    for (int i = 0; i < 5; i++) uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(drained_calls, 0); /* nobody reads: no drain */
    ck_assert_int_eq(ipc_channel_start(&b), 0);
    for (int i = 0; i < 100000 && got < 1000; i++) uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(got, 1000);
    ck_assert_int_eq(drained_calls, 1);
    ck_assert_uint_le(drained_at, mark);
    ipc_channel_close(&a, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(drained_calls, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Channel round trip: A sends N messages (more than the socket buffer holds), B counts them. */
struct pair {
    struct ipc_channel a, b;
    int received;
    int last_n;
    int in_order;
    int closed_b;
};

static void on_b_message(struct ipc_channel *ch, struct json_object *msg, const char *type)
{
    struct pair *p = ch->data;
    int n = (int)ipc_msg_int(msg, "n", -1);
    if (n != p->last_n + 1) p->in_order = 0;
    p->last_n = n;
    p->received++;
    if (p->received == 2000) {
        ipc_channel_close(&p->a, NULL);
    }
    (void)type;
}

static void on_b_close(struct ipc_channel *ch, const char *reason)
{
    struct pair *p = ch->data;
    p->closed_b = 1;
    ipc_channel_close(&p->b, NULL);
    (void)reason;
}

START_TEST(test_ipc_channel_delivers_in_order_under_backpressure)
{
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pair p = {.last_n = -1, .in_order = 1};
    ck_assert_int_eq(ipc_channel_init(&p.a, &loop, fds[0], NULL, NULL, &p), 0);
    ck_assert_int_eq(ipc_channel_init(&p.b, &loop, fds[1], on_b_message, on_b_close, &p), 0);
    ck_assert_int_eq(ipc_channel_start(&p.b), 0);
    char pad[2048];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = 0;
    for (int i = 0; i < 2000; i++) {
        struct json_object *m = ipc_msg_new("event");
        json_object_object_add(m, "n", json_object_new_int(i));
        json_object_object_add(m, "pad", json_object_new_string(pad));
        ck_assert_int_eq(ipc_channel_send(&p.a, m), 0);
        json_object_put(m);
    }
    ck_assert_int_gt((int)p.a.queued_bytes, 0);
    /* a lossy report is skipped while the queue is long */
    struct json_object *r = ipc_msg_new("metrics");
    ck_assert_int_eq(ipc_channel_send_lossy(&p.a, r, 1024), 1);
    json_object_put(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(p.received, 2000);
    ck_assert_int_eq(p.in_order, 1);
    ck_assert_int_eq(p.closed_b, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(test_ipc_channel_ends_on_garbage_from_peer)
{
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pair p = {.last_n = -1, .in_order = 1};
    ck_assert_int_eq(ipc_channel_init(&p.b, &loop, fds[1], on_b_message, on_b_close, &p), 0);
    ck_assert_int_eq(ipc_channel_start(&p.b), 0);
    const char junk[] = "\x00\x00\x00\x05hello";
    ck_assert_int_eq(write(fds[0], junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(p.closed_b, 1);
    ck_assert_int_eq(p.received, 0);
    close(fds[0]);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* A frame of exactly IPC_FRAME_MAX body bytes is legal: whole, with its header split, in read-sized chunks. */
START_TEST(test_ipc_decoder_accepts_a_frame_of_exactly_the_maximum)
{
    const char *shell = "{\"type\":\"big\",\"pad\":\"\"}";
    size_t padlen = IPC_FRAME_MAX - strlen(shell);
    char *pad = malloc(padlen + 1);
    memset(pad, 'x', padlen);
    pad[padlen] = '\0';
    struct json_object *m = ipc_msg_new("big");
    json_object_object_add(m, "pad", json_object_new_string(pad));
    free(pad);
    struct buf b;
    buf_init(&b);
    ck_assert_int_eq(ipc_frame_encode(m, &b), IPC_OK);
    json_object_put(m);
    ck_assert_int_eq((int)b.len, (int)(IPC_HEADER_LEN + IPC_FRAME_MAX));
    size_t steps[] = {b.len, 2, 65536};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct ipc_decoder d;
        struct seen sn = {0};
        ipc_decoder_init(&d);
        for (size_t off = 0; off < b.len; off += steps[i]) {
            size_t n = b.len - off < steps[i] ? b.len - off : steps[i];
            if (i == 1 && off == 2) n = b.len - off; /* header split, then the rest at once */
            ck_assert_int_eq(ipc_decoder_feed(&d, b.data + off, n, on_frame, &sn), IPC_OK);
            if (i == 1 && off == 2) break;
        }
        ck_assert_int_eq(sn.n, 1);
        ck_assert_str_eq(sn.types[0], "big");
        ipc_decoder_free(&d);
    }
    buf_free(&b);
}
END_TEST

/* The owner closes (and later frees) the channel from its message callback while more frames of the same
 * read are still undecoded: those are dropped, nothing is touched after the free (ASan watches). */
struct self_close {
    struct ipc_channel *ch;
    int received;
    int freed;
};

static struct self_close *self_close_state;

static void on_self_close_freed(struct ipc_channel *ch)
{
    self_close_state->freed = 1;
    free(ch);
}

static void on_message_then_close(struct ipc_channel *ch, struct json_object *msg, const char *type)
{
    struct self_close *sc = ch->data;
    sc->received++;
    ipc_channel_close(ch, on_self_close_freed);
}

START_TEST(test_ipc_channel_closed_from_its_own_callback_mid_read)
{
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct self_close sc = {0};
    self_close_state = &sc;
    sc.ch = calloc(1, sizeof(*sc.ch));
    ck_assert_int_eq(ipc_channel_init(sc.ch, &loop, fds[1], on_message_then_close, NULL, &sc), 0);
    ck_assert_int_eq(ipc_channel_start(sc.ch), 0);
    struct buf b;
    buf_init(&b);
    encode3(&b);
    ck_assert_int_eq(write(fds[0], b.data, b.len), (ssize_t)b.len);
    buf_free(&b);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(sc.received, 1);
    ck_assert_int_eq(sc.freed, 1);
    close(fds[0]);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("ipc");
    TCase *tc = tcase_create("ipc");
    tcase_add_test(tc, test_ipc_decoder_handles_every_split);
    tcase_add_test(tc, test_ipc_decoder_byte_by_byte);
    tcase_add_test(tc, test_ipc_decoder_refuses_oversized_frame);
    tcase_add_test(tc, test_ipc_decoder_refuses_garbage);
    tcase_add_test(tc, test_ipc_channel_delivers_in_order_under_backpressure);
    tcase_add_test(tc, test_ipc_channel_ends_on_garbage_from_peer);
    tcase_add_test(tc, test_ipc_decoder_accepts_a_frame_of_exactly_the_maximum);
    tcase_add_test(tc, test_ipc_channel_closed_from_its_own_callback_mid_read);
    tcase_add_test(tc, test_ipc_body_must_start_with_its_type);
    tcase_add_test(tc, test_ipc_channel_drain_reads_what_is_already_written);
    tcase_add_test(tc, test_ipc_channel_paused_reads_nothing_until_resumed);
    tcase_add_test(tc, test_ipc_channel_drain_stops_reading_once_a_frame_paused_the_channel);
    tcase_add_test(tc, test_ipc_channel_reports_once_when_its_queue_drained_to_the_mark);
    suite_add_tcase(s, tc);
    return s;
}
