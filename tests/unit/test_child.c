/* supervisor/child.c with real processes: a crashing child is restarted with growing backoff until the
 * crash-loop cap trips; a stop that was asked for is not a crash; a killed child reports its signal; a child
 * whose reading we paused is not judged silent. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor/child.h"
#include "tests/unit/unit.h"

/* kill() is interposed for this test binary: a signal sent to a pid that is no longer our child (already
 * reaped, so possibly recycled by an unrelated process) is counted before it is passed on. */
static int kills_of_reaped_pids;

int kill(pid_t pid, int sig)
{
    if (pid > 0 && pid != getpid()) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
            kills_of_reaped_pids++;
    }
    return (int)syscall(SYS_kill, pid, sig);
}

static void make_sleeper(char *dir, char *exe, size_t n)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(exe, n, "%s/sleeper", dir);
    FILE *f = fopen(exe, "w");
    ck_assert_ptr_nonnull(f);
    fputs("#!/bin/sh\nexec sleep 30\n", f);
    fclose(f);
    chmod(exe, 0700);
}

struct record {
    int exits;
    int expected_exits;
    int last_signal;
    int64_t last_status;
};

static void on_exit_cb(struct child *c, int64_t status, int sig, int expected)
{
    struct record *r = c->data;
    r->exits++;
    r->expected_exits += expected;
    r->last_signal = sig;
    r->last_status = status;
    if (c->state != CHILD_BACKOFF) child_close(c); /* nothing more will happen: let the loop end */
}

static const struct child_ops ops = {.on_exit = on_exit_cb};

START_TEST(test_child_crash_loop_trips_the_cap)
{
    log_init("test", LOG_FORMAT_LOGFMT, LOG_LEVEL_ERROR);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct record r = {0};
    struct child c;
    child_init(&c, &loop, "crasher", "/bin/false", NULL, &ops, &r, 1);
    c.backoff_ms = c.backoff_first_ms = 1;
    c.backoff_max_ms = 4;
    ck_assert_int_eq(child_spawn(&c), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(r.exits, CHILD_CRASH_LOOP_MAX + 1);
    ck_assert_int_eq(r.expected_exits, 0);
    ck_assert_int_eq((int)r.last_status, 1);
    ck_assert_int_eq(child_crash_looping(&c), 1);
    ck_assert_int_eq((int)c.restarts, CHILD_CRASH_LOOP_MAX);
    ck_assert_int_eq(c.backoff_ms, 4); /* doubled up to its cap */
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static void on_kill_timer(uv_timer_t *t)
{
    struct child *c = t->data;
    child_kill(c, "test");
    uv_close((uv_handle_t *)t, NULL);
}

START_TEST(test_child_kill_is_expected_and_reports_the_signal)
{
    log_init("test", LOG_FORMAT_LOGFMT, LOG_LEVEL_ERROR);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct record r = {0};
    struct child c;
    /* a script that ignores the role arguments and waits */
    char dir[] = "/tmp/htic-test-child-XXXXXX", exe[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(exe, sizeof(exe), "%s/sleeper", dir);
    FILE *f = fopen(exe, "w");
    ck_assert_ptr_nonnull(f);
    fputs("#!/bin/sh\nexec sleep 30\n", f);
    fclose(f);
    chmod(exe, 0700);
    child_init(&c, &loop, "sleeper", exe, NULL, &ops, &r, 1);
    ck_assert_int_eq(child_spawn(&c), 0);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &c;
    uv_timer_start(&t, on_kill_timer, 50, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(r.exits, 1);
    ck_assert_int_eq(r.expected_exits, 1);
    ck_assert_int_eq(c.restarts, 0);
    ck_assert_int_eq(r.last_signal, SIGKILL);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    unlink(exe);
    rmdir(dir);
}
END_TEST

START_TEST(test_child_disabled_is_never_restarted)
{
    log_init("test", LOG_FORMAT_LOGFMT, LOG_LEVEL_ERROR);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct record r = {0};
    struct child c;
    child_init(&c, &loop, "crasher", "/bin/false", NULL, &ops, &r, 1);
    ck_assert_int_eq(child_spawn(&c), 0);
    child_disable(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(r.exits, 1);
    ck_assert_int_eq(child_spawn(&c), 0); /* refused silently */
    ck_assert_int_eq(child_running(&c), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Two children whose exit callbacks each kill the other, as the supervisor kills the deployer when the
 * elector exits. Both die before the loop notices: libuv reaps both, then runs both callbacks. */
struct pair {
    struct child a, b;
    int exits;
};

static void on_pair_exit(struct child *c, int64_t status, int sig, int expected)
{
    struct pair *p = c->data;
    p->exits++;
    child_kill(c == &p->a ? &p->b : &p->a, "peer exited");
    if (p->exits == 2) {
        child_close(&p->a);
        child_close(&p->b);
    }
}

static const struct child_ops pair_ops = {.on_exit = on_pair_exit};

static void on_kill_both_timer(uv_timer_t *t)
{
    struct pair *p = t->data;
    syscall(SYS_kill, p->a.pid, SIGKILL);
    syscall(SYS_kill, p->b.pid, SIGKILL);
    usleep(200 * 1000); /* both become zombies before the loop looks */
    uv_close((uv_handle_t *)t, NULL);
}

START_TEST(test_child_kill_never_signals_a_reaped_pid)
{
    log_init("test", LOG_FORMAT_LOGFMT, LOG_LEVEL_ERROR);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char dir[] = "/tmp/htic-test-child-XXXXXX", exe[64];
    make_sleeper(dir, exe, sizeof(exe));
    struct pair p;
    memset(&p, 0, sizeof(p));
    child_init(&p.a, &loop, "a", exe, NULL, &pair_ops, &p, 0);
    child_init(&p.b, &loop, "b", exe, NULL, &pair_ops, &p, 0);
    ck_assert_int_eq(child_spawn(&p.a), 0);
    ck_assert_int_eq(child_spawn(&p.b), 0);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &p;
    uv_timer_start(&t, on_kill_both_timer, 50, 0);
    kills_of_reaped_pids = 0;
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(p.exits, 2);
    ck_assert_int_eq(kills_of_reaped_pids, 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    unlink(exe);
    rmdir(dir);
}
END_TEST

static void on_give_up_timer(uv_timer_t *t)
{
    struct child *c = t->data;
    child_disable(c);
    child_close(c);
    uv_close((uv_handle_t *)t, NULL);
}

/* A spawn that fails (fork refused, executable missing for a moment) is retried with backoff; it must not
 * leave the child neither running nor scheduled for good. */
START_TEST(test_child_failed_spawn_is_retried_with_backoff)
{
    log_init("test", LOG_FORMAT_LOGFMT, LOG_LEVEL_ERROR);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct record r = {0};
    struct child c;
    child_init(&c, &loop, "missing", "/nonexistent/htic-test-child", NULL, &ops, &r, 1);
    c.backoff_ms = c.backoff_first_ms = 1;
    c.backoff_max_ms = 4;
    ck_assert_int_ne(child_spawn(&c), 0);
    ck_assert_int_eq(c.state, CHILD_BACKOFF);
    ck_assert(uv_is_active((uv_handle_t *)&c.restart_timer));
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &c;
    uv_timer_start(&t, on_give_up_timer, 100, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(c.backoff_ms, 4); /* retried, each time later, up to the cap */
    ck_assert_int_eq(r.exits, 0);      /* no process, no exit to report */
    ck_assert_int_eq(child_running(&c), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(test_child_paused_by_us_is_not_silent_and_gets_a_fresh_window_on_resume)
{
    log_init("test", LOG_FORMAT_LOGFMT, LOG_LEVEL_ERROR);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char dir[] = "/tmp/htic-test-child-XXXXXX", exe[64];
    make_sleeper(dir, exe, sizeof(exe));
    struct record r = {0};
    struct child c;
    child_init(&c, &loop, "sleeper", exe, NULL, &ops, &r, 0);
    ck_assert_int_eq(child_spawn(&c), 0);
    /* the sleeper never sends: 20 s of silence is a hang */
    c.last_heartbeat_ms -= 20000;
    int64_t now = c.last_heartbeat_ms + 20000;
    ck_assert_int_gt(child_silence_ms(&c, now), CHILD_HUNG_MS);
    /* we stopped reading it: what it sent waits unread, its silence is ours */
    child_pause_reading(&c);
    ck_assert_int_eq(c.ch->paused, 1);
    ck_assert_int_eq(c.ch->reading, 0);
    ck_assert_int_eq(child_silence_ms(&c, now), 0);
    ck_assert_int_eq(child_silence_ms(&c, now + 60000), 0);
    /* reading again: a whole window from the resume, not from the last heartbeat before the pause */
    int64_t before = clock_mono_ms();
    child_resume_reading(&c);
    ck_assert_int_eq(c.ch->reading, 1);
    ck_assert_int_ge(c.last_heartbeat_ms, before);
    ck_assert_int_eq(child_silence_ms(&c, c.last_heartbeat_ms), 0);
    child_kill(&c, "test over");
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(r.exits, 1);
    ck_assert_int_eq(c.paused, 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    unlink(exe);
    rmdir(dir);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("child");
    TCase *tc = tcase_create("child");
    tcase_add_test(tc, test_child_crash_loop_trips_the_cap);
    tcase_add_test(tc, test_child_kill_is_expected_and_reports_the_signal);
    tcase_add_test(tc, test_child_disabled_is_never_restarted);
    tcase_add_test(tc, test_child_kill_never_signals_a_reaped_pid);
    tcase_add_test(tc, test_child_failed_spawn_is_retried_with_backoff);
    tcase_add_test(tc, test_child_paused_by_us_is_not_silent_and_gets_a_fresh_window_on_resume);
    suite_add_tcase(s, tc);
    return s;
}
