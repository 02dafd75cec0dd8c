/* supervisor/router.c behind common/ipc.c's decoder, as the supervisor wires them: pipeline frames are
 * forwarded byte for byte without being parsed, handled types reach their handler, unknown types and wrong
 * senders are refused with a log line, and a destination that is not up misses a dropped route's frame but
 * gets a keep-latest route's newest frame when it comes up. */
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
    return 0;
}

static const char *fake_name(enum role_id r) { return r == ROLE_RENDERER ? "renderer" : "other"; }

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
static const struct router_ops ops = {.send_frame = fake_send, .role_name = fake_name};

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
    for (int i = 0; i < ROLE_COUNT; i++) buf_init(&fx.s.sent[i]);
    ck_assert_int_eq(router_init(&fx.r, table, sizeof(table) / sizeof(table[0]), &ops, &fx.s), 0);
    ipc_decoder_init(&fx.dec);
    fx.dec.raw = on_raw;
}

static void teardown(void)
{
    ipc_decoder_free(&fx.dec);
    router_free(&fx.r);
    for (int i = 0; i < ROLE_COUNT; i++) buf_free(&fx.s.sent[i]);
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

static void deliver(enum role_id from, const struct buf *frame)
{
    fx.from = from;
    ck_assert_int_eq(ipc_decoder_feed(&fx.dec, frame->data, frame->len, on_parsed, &fx), IPC_OK);
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
    struct json_object *d = router_describe(&fx.r);
    struct json_object *routes, *t, *fw;
    ck_assert(json_object_object_get_ex(d, "routes", &routes));
    ck_assert(json_object_object_get_ex(routes, "targets", &t));
    ck_assert(json_object_object_get_ex(t, "forwarded", &fw));
    ck_assert_int_eq(json_object_get_int64(fw), 4);
    json_object_put(d);
    buf_free(&old);
    buf_free(&newest);
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
    suite_add_tcase(s, tc);
    return s;
}
