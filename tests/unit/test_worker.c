/* common/worker.c on a real socketpair: a role whose shutdown takes a while (the elector releasing its Lease)
 * is asked to shut down once, even when the supervisor's channel ends while it is still finishing. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/worker.h"
#include "tests/unit/unit.h"

struct slow_role {
    int shutdown_calls;
    uv_timer_t finish;
};

static void on_finish_timer(uv_timer_t *t)
{
    struct worker *w = t->data;
    uv_close((uv_handle_t *)t, NULL);
    worker_stop(w);
}

static void on_slow_shutdown(struct worker *w, const char *why)
{
    struct slow_role *r = w->data;
    if (r->shutdown_calls++ > 0) return;
    /* finish later, as the elector does after its release request */
    uv_timer_init(w->loop, &r->finish);
    r->finish.data = w;
    uv_timer_start(&r->finish, on_finish_timer, 50, 0);
}

START_TEST(test_worker_shutdown_is_asked_once_even_if_the_channel_then_ends)
{
    log_init("test", LOG_FORMAT_LOGFMT, LOG_LEVEL_ERROR);
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct worker_args a = {.role = "slow", .ipc_fd = fds[1], .parent = getppid()};
    struct slow_role r = {0};
    struct worker w;
    ck_assert_int_eq(worker_init(&w, &loop, &a, NULL, on_slow_shutdown, &r), 0);
    ck_assert_int_eq(worker_start(&w), 0);
    /* the supervisor asks for a shutdown, then its end of the channel goes away */
    struct buf b;
    buf_init(&b);
    struct json_object *m = ipc_msg_new("shutdown");
    ck_assert_int_eq(ipc_frame_encode(m, &b), IPC_OK);
    json_object_put(m);
    ck_assert_int_eq(write(fds[0], b.data, b.len), (ssize_t)b.len);
    buf_free(&b);
    close(fds[0]);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(r.shutdown_calls, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(test_worker_args_take_only_what_the_supervisor_writes)
{
    char *ok[] = {"htic", "--role", "deployer", "--ipc-fd", "3", "--parent", "42", "--config", "c.yaml",
                  "--config-fd", "4", NULL};
    struct worker_args a;
    ck_assert_int_eq(worker_args_parse(11, ok, &a), 0);
    ck_assert_str_eq(a.role, "deployer");
    ck_assert_int_eq(a.ipc_fd, 3);
    ck_assert_int_eq(a.parent, 42);
    ck_assert_int_eq(a.config_fd, 4);
    /* the deployer's term arrives in the leadership message, never on the command line */
    char *term[] = {"htic", "--role", "deployer", "--ipc-fd", "3", "--parent", "42", "--arg", "pod-a#1", NULL};
    ck_assert_int_eq(worker_args_parse(9, term, &a), -1);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("worker");
    TCase *tc = tcase_create("worker");
    tcase_add_test(tc, test_worker_shutdown_is_asked_once_even_if_the_channel_then_ends);
    tcase_add_test(tc, test_worker_args_take_only_what_the_supervisor_writes);
    suite_add_tcase(s, tc);
    return s;
}
