/* supervisor/router.c behind common/ipc.c's decoder, as the supervisor wires them: pipeline frames are
 * forwarded byte for byte without being parsed, handled types reach their handler, unknown types and wrong
 * senders are refused with a log line, and a destination that is not up misses a dropped route's frame but
 * gets a keep-latest route's newest frame when it comes up. A destination that does not drain pauses its
 * senders (bounded, nothing lost, order kept) until it drains or dies; a replayed frame its destination died
 * of right away is not replayed to it again. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/log.h"
#include "supervisor/router.h"
#include "tests/unit/stderr_capture.h"
#include "tests/unit/unit.h"

/* The router treats the supervisor as opaque: this stand-in records what it is asked to do. */
struct supervisor {
    int up[ROLE_COUNT];
    size_t queued[ROLE_COUNT];     /* bytes "waiting" to each role: nothing drains unless a test says so */
    size_t queued_max[ROLE_COUNT];
    size_t drain_mark[ROLE_COUNT]; /* notify_drained's mark; 0: nobody waits */
    int paused[ROLE_COUNT];
    struct buf backlog[ROLE_COUNT];/* what a paused sender wrote and we did not read: its socket, in order */
    int64_t now;
    struct buf sent[ROLE_COUNT];   /* every frame sent to each role, concatenated */
    int sends[ROLE_COUNT];
    int handled;
    enum role_id handled_from;
    char handled_field[64];
    int parsed;                    /* frames the decoder parsed */
};

static int fake_send(struct supervisor *s, enum role_id to, const char *frame, size_t len)
{
    if (!s->up[to]) return -1;
    buf_append(&s->sent[to], frame, len);
    s->sends[to]++;
    s->queued[to] += len;
    if (s->queued[to] > s->queued_max[to]) s->queued_max[to] = s->queued[to];
    return 0;
}

static const char *fake_name(enum role_id r)
{
    switch (r) {
    case ROLE_RENDERER: return "renderer";
    case ROLE_RECONCILER: return "reconciler";
    case ROLE_VALIDATOR: return "validator";
    case ROLE_DISCOVERY: return "discovery";
    default: return "other";
    }
}

static size_t fake_queued(struct supervisor *s, enum role_id to) { return s->queued[to]; }

static int fake_notify_drained(struct supervisor *s, enum role_id to, size_t mark)
{
    if (s->queued[to] <= mark) return -1;
    s->drain_mark[to] = mark;
    return 0;
}

static void fake_pause(struct supervisor *s, enum role_id from) { s->paused[from] = 1; }
static void fake_resume(struct supervisor *s, enum role_id from);
static int64_t fake_now(struct supervisor *s) { return s->now; }

static void on_report(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    s->handled++;
    s->handled_from = from;
    const char *v = ipc_msg_str(msg, "field");
    snprintf(s->handled_field, sizeof(s->handled_field), "%s", v ? v : "");
}

static const struct route table[] = {
    {.type = "report", .from = ROUTE_ANY_ROLE, .handle = on_report},
    {.type = "heartbeat", .from = ROUTE_ANY_ROLE, .to = 0},
    {.type = "rendered", .from = ROUTE_ROLE(ROLE_RENDERER), .to = ROUTE_ROLE(ROLE_VALIDATOR),
     .absent = ROUTE_KEEP_LATEST},
    {.type = "deltas", .from = ROUTE_ROLE(ROLE_RECONCILER), .to = ROUTE_ROLE(ROLE_RENDERER), .absent = ROUTE_DROP},
    {.type = "targets", .from = ROUTE_ROLE(ROLE_DISCOVERY),
     .to = ROUTE_ROLE(ROLE_RENDERER) | ROUTE_ROLE(ROLE_DEPLOYER), .absent = ROUTE_KEEP_LATEST},
};
static const struct router_ops ops = {.send_frame = fake_send, .role_name = fake_name, .queued = fake_queued,
                                      .notify_drained = fake_notify_drained, .pause = fake_pause,
                                      .resume = fake_resume, .now_ms = fake_now};

struct fixture {
    struct supervisor s;
    struct router r;
    struct ipc_decoder dec;
    enum role_id from;
};
static struct fixture fx;

static int on_raw(void *data, const char *type, const char *frame, size_t len)
{
    struct fixture *f = data;
    return router_on_frame(&f->r, f->from, type, frame, len);
}

static void on_parsed(void *data, struct json_object *msg, const char *type)
{
    struct fixture *f = data;
    f->s.parsed++;
    router_dispatch(&f->r, f->from, msg, type);
}

static void setup(void)
{
    log_init("supervisor", LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
    memset(&fx, 0, sizeof(fx));
    for (int i = 0; i < ROLE_COUNT; i++) {
        buf_init(&fx.s.sent[i]);
        buf_init(&fx.s.backlog[i]);
    }
    fx.s.now = 1000;
    ck_assert_int_eq(router_init(&fx.r, table, sizeof(table) / sizeof(table[0]), &ops, &fx.s), 0);
    ipc_decoder_init(&fx.dec);
    fx.dec.raw = on_raw;
}

static void teardown(void)
{
    ipc_decoder_free(&fx.dec);
    router_free(&fx.r);
    for (int i = 0; i < ROLE_COUNT; i++) {
        buf_free(&fx.s.sent[i]);
        buf_free(&fx.s.backlog[i]);
    }
}

/* Encodes {"type":type,"field":field} into out. */
static void encode(const char *type, const char *field, struct buf *out)
{
    struct json_object *m = ipc_msg_new(type);
    json_object_object_add(m, "field", json_object_new_string(field));
    buf_init(out);
    ck_assert_int_eq(ipc_frame_encode(m, out), IPC_OK);
    json_object_put(m);
}

static void feed(enum role_id from, const char *data, size_t len)
{
    fx.from = from;
    ck_assert_int_eq(ipc_decoder_feed(&fx.dec, data, len, on_parsed, &fx), IPC_OK);
}

/* from writes frame: read at once, unless we stopped reading from, then it waits in from's socket. */
static void deliver(enum role_id from, const struct buf *frame)
{
    if (fx.s.paused[from] || fx.s.backlog[from].len) buf_append(&fx.s.backlog[from], frame->data, frame->len);
    else feed(from, frame->data, frame->len);
}

/* Reading again: what waited is read, one frame per read, for as long as nobody pauses from again. */
static void fake_resume(struct supervisor *s, enum role_id from)
{
    s->paused[from] = 0;
    struct buf *b = &s->backlog[from];
    size_t off = 0;
    while (off < b->len && !s->paused[from]) {
        uint32_t n = ((uint32_t)(unsigned char)b->data[off] << 24) | ((uint32_t)(unsigned char)b->data[off + 1] << 16) |
                     ((uint32_t)(unsigned char)b->data[off + 2] << 8) | (uint32_t)(unsigned char)b->data[off + 3];
        size_t len = IPC_HEADER_LEN + n;
        struct buf one;
        buf_init(&one);
        buf_append(&one, b->data + off, len); /* fed from a copy: the backlog may grow meanwhile */
        off += len;
        feed(from, one.data, one.len);
        buf_free(&one);
    }
    if (off == 0) return;
    memmove(b->data, b->data + off, b->len - off);
    b->len -= off;
}

/* The destination reads n bytes: the router hears of it when its queue crosses the mark it asked for. */
static void drain(enum role_id to, size_t n)
{
    fx.s.queued[to] -= n < fx.s.queued[to] ? n : fx.s.queued[to];
    if (fx.s.drain_mark[to] && fx.s.queued[to] <= fx.s.drain_mark[to]) {
        fx.s.drain_mark[to] = 0;
        router_on_drained(&fx.r, to);
    }
}

/* A frame every role may receive, from a sender, must be refused with this log line and go nowhere. */
static enum role_id pending_from;
static const struct buf *pending_frame;
static void deliver_pending(void) { deliver(pending_from, pending_frame); }

static void expect_refused(const char *type, enum role_id from, const char *log_line)
{
    for (int i = 0; i < ROLE_COUNT; i++) fx.s.up[i] = 1;
    struct buf f;
    encode(type, "x", &f);
    pending_from = from;
    pending_frame = &f;
    char out[2048];
    capture(deliver_pending, out, sizeof(out));
    ck_assert_ptr_nonnull(strstr(out, log_line));
    ck_assert_int_eq(fx.s.parsed, 0);
    for (int i = 0; i < ROLE_COUNT; i++) ck_assert_int_eq(fx.s.sends[i], 0);
    buf_free(&f);
}

/* router_describe's routes.<type>.<counter> */
static int64_t described(const char *type, const char *counter)
{
    struct json_object *d = router_describe(&fx.r);
    struct json_object *routes, *t, *v;
    ck_assert(json_object_object_get_ex(d, "routes", &routes));
    ck_assert(json_object_object_get_ex(routes, type, &t));
    ck_assert(json_object_object_get_ex(t, counter, &v));
    int64_t n = json_object_get_int64(v);
    json_object_put(d);
    return n;
}

START_TEST(test_router_forwards_pipeline_frames_byte_for_byte_without_parsing)
{
    fx.s.up[ROLE_VALIDATOR] = 1;
    struct buf f;
    /* escapes and unicode in the body: whatever the sender wrote arrives, not a re-encoding of it */
    encode("rendered", "gen 7 \"sha\" \\u00e9 \xc3\xa9 /path", &f);
    deliver(ROLE_RENDERER, &f);
    ck_assert_int_eq(fx.s.parsed, 0);
    ck_assert_int_eq(fx.s.sends[ROLE_VALIDATOR], 1);
    ck_assert_uint_eq(fx.s.sent[ROLE_VALIDATOR].len, f.len);
    ck_assert_int_eq(memcmp(fx.s.sent[ROLE_VALIDATOR].data, f.data, f.len), 0);
    buf_free(&f);
}
END_TEST

START_TEST(test_router_hands_handled_types_to_their_function)
{
    struct buf f;
    encode("report", "x", &f);
    deliver(ROLE_EXECUTOR, &f);
    ck_assert_int_eq(fx.s.parsed, 1);
    ck_assert_int_eq(fx.s.handled, 1);
    ck_assert_int_eq(fx.s.handled_from, ROLE_EXECUTOR);
    ck_assert_str_eq(fx.s.handled_field, "x");
    buf_free(&f);
    /* to nobody: taken without parsing */
    encode("heartbeat", "1", &f);
    deliver(ROLE_EXECUTOR, &f);
    ck_assert_int_eq(fx.s.parsed, 1);
    for (int i = 0; i < ROLE_COUNT; i++) ck_assert_int_eq(fx.s.sends[i], 0);
    buf_free(&f);
}
END_TEST

START_TEST(test_router_refuses_an_unknown_type_with_a_log_line)
{
    expect_refused("no_such_type", ROLE_RENDERER,
                   "msg=\"ipc message refused\" reason=\"unknown type\" type=no_such_type child=renderer");
    ck_assert_uint_eq(fx.r.refused_unknown, 1);
}
END_TEST

START_TEST(test_router_refuses_a_type_from_a_role_that_may_not_send_it)
{
    /* deltas come from the reconciler only */
    expect_refused("deltas", ROLE_RENDERER,
                   "msg=\"ipc message refused\" reason=\"not a sender of this type\" type=deltas child=renderer");
    ck_assert_uint_eq(fx.r.refused_sender, 1);
}
END_TEST

START_TEST(test_router_drops_for_a_role_that_is_down_and_counts_it)
{
    struct buf f;
    encode("deltas", "x", &f);
    deliver(ROLE_RECONCILER, &f);
    size_t i;
    ck_assert_ptr_nonnull(router_find(&fx.r, "deltas", &i));
    ck_assert_uint_eq(fx.r.stats[i].dropped, 1);
    /* a dropped route keeps nothing for later */
    fx.s.up[ROLE_RENDERER] = 1;
    router_on_role_up(&fx.r, ROLE_RENDERER);
    ck_assert_int_eq(fx.s.sends[ROLE_RENDERER], 0);
    buf_free(&f);
}
END_TEST

START_TEST(test_router_replays_the_newest_state_to_a_role_when_it_comes_up)
{
    fx.s.up[ROLE_RENDERER] = 1; /* the deployer is down: a follower */
    struct buf old, newest;
    encode("targets", "old", &old);
    encode("targets", "newest", &newest);
    deliver(ROLE_DISCOVERY, &old);
    deliver(ROLE_DISCOVERY, &newest);
    ck_assert_int_eq(fx.s.sends[ROLE_RENDERER], 2);
    ck_assert_int_eq(fx.s.sends[ROLE_DEPLOYER], 0);
    /* leadership: the deployer starts and gets only the newest targets, byte for byte */
    fx.s.up[ROLE_DEPLOYER] = 1;
    router_on_role_up(&fx.r, ROLE_DEPLOYER);
    ck_assert_int_eq(fx.s.sends[ROLE_DEPLOYER], 1);
    ck_assert_uint_eq(fx.s.sent[ROLE_DEPLOYER].len, newest.len);
    ck_assert_int_eq(memcmp(fx.s.sent[ROLE_DEPLOYER].data, newest.data, newest.len), 0);
    /* a restarted deployer needs it again */
    router_on_role_up(&fx.r, ROLE_DEPLOYER);
    ck_assert_int_eq(fx.s.sends[ROLE_DEPLOYER], 2);
    ck_assert_int_eq(described("targets", "forwarded"), 4);
    buf_free(&old);
    buf_free(&newest);
}
END_TEST

/* {"type":type,"field":"<n>.<padding>"}, about size bytes */
static void encode_sized(const char *type, int n, size_t size, struct buf *out)
{
    char *field = malloc(size + 1);
    int k = snprintf(field, size + 1, "%d.", n);
    memset(field + k, 'p', size - (size_t)k);
    field[size] = '\0';
    encode(type, field, out);
    free(field);
}

#define BURST_FRAMES 120
#define BURST_FRAME_BYTES (200u * 1024u)

START_TEST(test_router_pauses_senders_of_a_destination_that_does_not_drain_and_loses_nothing)
{
    /* the reconciler's initial list (24 MB) for a renderer that reads nothing */
    fx.s.up[ROLE_RENDERER] = fx.s.up[ROLE_VALIDATOR] = 1;
    struct buf all;
    buf_init(&all);
    for (int i = 0; i < BURST_FRAMES; i++) {
        struct buf f;
        encode_sized("deltas", i, BURST_FRAME_BYTES, &f);
        buf_append(&all, f.data, f.len);
        deliver(ROLE_RECONCILER, &f);
        buf_free(&f);
    }
    /* bounded: the mark plus the frame that crossed it; the rest waits on the reconciler's side */
    ck_assert_int_eq(fx.s.paused[ROLE_RECONCILER], 1);
    ck_assert_uint_le(fx.s.queued_max[ROLE_RENDERER], ROUTER_QUEUE_HIGH + BURST_FRAME_BYTES + 64);
    ck_assert_uint_eq(fx.r.pauses, 1);
    ck_assert_uint_eq(fx.r.congestions, 1);
    /* a sender whose frames go elsewhere keeps being read */
    struct buf r;
    encode("rendered", "x", &r);
    deliver(ROLE_RENDERER, &r);
    ck_assert_int_eq(fx.s.paused[ROLE_RENDERER], 0);
    ck_assert_int_eq(fx.s.sends[ROLE_VALIDATOR], 1);
    buf_free(&r);
    /* another sender to the congested renderer is held as well, and resumes with it */
    struct buf t;
    encode("targets", "t", &t);
    deliver(ROLE_DISCOVERY, &t);
    ck_assert_int_eq(fx.s.paused[ROLE_DISCOVERY], 1);
    struct json_object *d = router_describe(&fx.r);
    struct json_object *paused;
    ck_assert(json_object_object_get_ex(d, "paused", &paused));
    ck_assert_int_eq((int)json_object_array_length(paused), 2);
    json_object_put(d);
    size_t targets_len = t.len;
    buf_free(&t);
    /* a stuck pause would never end: the renderer reads a bit at a time and everything arrives, in order */
    int rounds = 0;
    while (fx.s.sends[ROLE_RENDERER] < BURST_FRAMES + 1) {
        ck_assert_int_lt(rounds++, 10000);
        drain(ROLE_RENDERER, 256 * 1024);
        ck_assert_uint_le(fx.s.queued[ROLE_RENDERER], ROUTER_QUEUE_HIGH + BURST_FRAME_BYTES + 64);
    }
    ck_assert_uint_le(fx.s.queued_max[ROLE_RENDERER], ROUTER_QUEUE_HIGH + BURST_FRAME_BYTES + 64);
    ck_assert_int_eq(fx.s.paused[ROLE_RECONCILER], 0);
    ck_assert_int_eq(fx.s.paused[ROLE_DISCOVERY], 0);
    ck_assert_uint_eq(fx.s.backlog[ROLE_RECONCILER].len, 0);
    ck_assert_uint_gt(fx.r.pauses, 2);
    size_t i;
    ck_assert_ptr_nonnull(router_find(&fx.r, "deltas", &i));
    ck_assert_uint_eq(fx.r.stats[i].forwarded, BURST_FRAMES);
    ck_assert_uint_eq(fx.r.stats[i].dropped, 0);
    /* byte for byte and in order, with the targets frame somewhere among them */
    struct buf *got = &fx.s.sent[ROLE_RENDERER];
    ck_assert_uint_eq(got->len, all.len + targets_len);
    size_t off = 0, at = 0;
    int seen_targets = 0;
    while (off < got->len) {
        uint32_t n = ((uint32_t)(unsigned char)got->data[off] << 24) |
                     ((uint32_t)(unsigned char)got->data[off + 1] << 16) |
                     ((uint32_t)(unsigned char)got->data[off + 2] << 8) | (uint32_t)(unsigned char)got->data[off + 3];
        if (memcmp(got->data + off + 4, "{\"type\":\"targets\"", 17) == 0) {
            seen_targets++;
        } else {
            ck_assert_uint_le(at + IPC_HEADER_LEN + n, all.len);
            ck_assert_int_eq(memcmp(got->data + off, all.data + at, IPC_HEADER_LEN + n), 0);
            at += IPC_HEADER_LEN + n;
        }
        off += IPC_HEADER_LEN + n;
    }
    ck_assert_int_eq(seen_targets, 1);
    ck_assert_uint_eq(at, all.len);
    buf_free(&all);
}
END_TEST

/* The reconciler sends deltas to a renderer that reads nothing until the router pauses it. */
static void send_deltas_until_paused(void)
{
    for (int i = 0; i < 30 && !fx.s.paused[ROLE_RECONCILER]; i++) {
        struct buf f;
        encode_sized("deltas", i, BURST_FRAME_BYTES, &f);
        deliver(ROLE_RECONCILER, &f);
        buf_free(&f);
    }
    ck_assert_int_eq(fx.s.paused[ROLE_RECONCILER], 1);
}

START_TEST(test_router_resumes_the_senders_of_a_destination_that_died)
{
    fx.s.up[ROLE_RENDERER] = 1;
    send_deltas_until_paused();
    /* killed as hung: its queue is gone with its channel */
    fx.s.up[ROLE_RENDERER] = 0;
    fx.s.queued[ROLE_RENDERER] = 0;
    router_on_role_down(&fx.r, ROLE_RENDERER, 1);
    ck_assert_int_eq(fx.s.paused[ROLE_RECONCILER], 0);
    ck_assert_uint_eq(fx.r.congested, 0);
    /* a paused sender that dies is not resumed: its next channel reads from the start */
    fx.s.up[ROLE_RENDERER] = 1;
    send_deltas_until_paused();
    router_on_role_down(&fx.r, ROLE_RECONCILER, 1);
    ck_assert_uint_eq(fx.r.waits_for[ROLE_RECONCILER], 0);
    ck_assert_int_eq(fx.s.paused[ROLE_RECONCILER], 1); /* the fake's flag: resume was not called */
}
END_TEST

/* The renderer's rendered frame is kept while the validator is down, then replayed to it on its hello. */
static void replay_rendered_to_validator(const char *field, struct buf *f)
{
    encode("rendered", field, f);
    deliver(ROLE_RENDERER, f);
    fx.s.up[ROLE_VALIDATOR] = 1;
    router_on_role_up(&fx.r, ROLE_VALIDATOR);
}

static void down_validator_crashed(void) { router_on_role_down(&fx.r, ROLE_VALIDATOR, 1); }

START_TEST(test_router_withholds_a_replayed_frame_its_destination_died_of)
{
    struct buf bad, next;
    replay_rendered_to_validator("crashes the validator", &bad);
    ck_assert_int_eq(fx.s.sends[ROLE_VALIDATOR], 1);
    fx.s.now += 300;                          /* and it dies at once */
    fx.s.up[ROLE_VALIDATOR] = 0;
    char out[2048];
    capture(down_validator_crashed, out, sizeof(out));
    char want[256];
    snprintf(want, sizeof(want), "msg=\"kept frame withheld: its destination died right after its replay\" "
             "type=rendered child=validator bytes=%zu", bad.len);
    ck_assert_ptr_nonnull(strstr(out, want));
    size_t i;
    ck_assert_ptr_nonnull(router_find(&fx.r, "rendered", &i));
    ck_assert_uint_eq(fx.r.stats[i].withheld, 1);
    /* the restarted validator does not get it: no crash loop */
    fx.s.up[ROLE_VALIDATOR] = 1;
    router_on_role_up(&fx.r, ROLE_VALIDATOR);
    ck_assert_int_eq(fx.s.sends[ROLE_VALIDATOR], 1);
    /* a newer frame is not the one it died of: forwarded, kept, and replayed again */
    encode("rendered", "fine", &next);
    deliver(ROLE_RENDERER, &next);
    ck_assert_int_eq(fx.s.sends[ROLE_VALIDATOR], 2);
    router_on_role_up(&fx.r, ROLE_VALIDATOR);
    ck_assert_int_eq(fx.s.sends[ROLE_VALIDATOR], 3);
    ck_assert_int_eq(described("rendered", "withheld"), 1);
    buf_free(&bad);
    buf_free(&next);
}
END_TEST

START_TEST(test_router_withholds_a_replay_its_destination_hung_on)
{
    /* silent since the replay and killed as hung long after the window: died of it too */
    struct buf f;
    replay_rendered_to_validator("hangs the validator", &f);
    fx.s.now += ROUTER_REPLAY_SUSPECT_MS + 10000;
    fx.s.up[ROLE_VALIDATOR] = 0;
    char out[2048];
    capture(down_validator_crashed, out, sizeof(out));
    fx.s.up[ROLE_VALIDATOR] = 1;
    router_on_role_up(&fx.r, ROLE_VALIDATOR);
    ck_assert_int_eq(fx.s.sends[ROLE_VALIDATOR], 1);
    buf_free(&f);
}
END_TEST

START_TEST(test_router_replays_again_after_a_death_not_caused_by_the_replay)
{
    struct buf f, hb;
    replay_rendered_to_validator("fine", &f);
    /* it worked on the frame and spoke afterwards; it crashes later, outside the window */
    encode("heartbeat", "1", &hb);
    deliver(ROLE_VALIDATOR, &hb);
    fx.s.now += ROUTER_REPLAY_SUSPECT_MS + 1;
    router_on_role_down(&fx.r, ROLE_VALIDATOR, 1);
    router_on_role_up(&fx.r, ROLE_VALIDATOR);
    ck_assert_int_eq(fx.s.sends[ROLE_VALIDATOR], 2);
    /* stopped on purpose (shutdown, lost leadership) right after a replay: not a crash, nothing withheld */
    fx.s.now += 10;
    router_on_role_down(&fx.r, ROLE_VALIDATOR, 0);
    router_on_role_up(&fx.r, ROLE_VALIDATOR);
    ck_assert_int_eq(fx.s.sends[ROLE_VALIDATOR], 3);
    size_t i;
    ck_assert_ptr_nonnull(router_find(&fx.r, "rendered", &i));
    ck_assert_uint_eq(fx.r.stats[i].withheld, 0);
    buf_free(&f);
    buf_free(&hb);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_router_forwards_pipeline_frames_byte_for_byte_without_parsing);
    tcase_add_test(tc, test_router_hands_handled_types_to_their_function);
    tcase_add_test(tc, test_router_refuses_an_unknown_type_with_a_log_line);
    tcase_add_test(tc, test_router_refuses_a_type_from_a_role_that_may_not_send_it);
    tcase_add_test(tc, test_router_drops_for_a_role_that_is_down_and_counts_it);
    tcase_add_test(tc, test_router_replays_the_newest_state_to_a_role_when_it_comes_up);
    tcase_add_test(tc, test_router_pauses_senders_of_a_destination_that_does_not_drain_and_loses_nothing);
    tcase_add_test(tc, test_router_resumes_the_senders_of_a_destination_that_died);
    tcase_add_test(tc, test_router_withholds_a_replayed_frame_its_destination_died_of);
    tcase_add_test(tc, test_router_withholds_a_replay_its_destination_hung_on);
    tcase_add_test(tc, test_router_replays_again_after_a_death_not_caused_by_the_replay);
    suite_add_tcase(s, tc);
    return s;
}
