/* For unit tests driving a libuv loop: run it until done(arg) says so or ms have passed, waking at least
 * every 10 ms so the deadline is seen even when nothing happens. */
#ifndef HTIC_TEST_LOOP_SPIN_H
#define HTIC_TEST_LOOP_SPIN_H

#include <uv.h>

static void loop_spin_on_guard(uv_timer_t *t) { (void)t; }

static inline void loop_spin(uv_loop_t *loop, int ms, int (*done)(void *), void *arg)
{
    uint64_t end = uv_now(loop) + (uint64_t)ms;
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    while (uv_now(loop) < end && !(done && done(arg))) {
        uv_timer_start(&guard, loop_spin_on_guard, 10, 0);
        uv_run(loop, UV_RUN_ONCE);
        uv_update_time(loop);
    }
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

#endif
