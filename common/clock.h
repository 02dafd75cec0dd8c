/* Clocks: every duration and deadline uses CLOCK_MONOTONIC milliseconds, which all processes of one machine
 * share, so a fence computed by the elector means the same instant to the supervisor and the deployer.
 * Wall time is only for what is written to the API or to logs. */
#ifndef HTIC_CLOCK_H
#define HTIC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t clock_mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
/* Counts time spent suspended too; mono and boot drifting apart means the machine slept. */
static inline int64_t clock_boot_ms(void) { return clock_ms(CLOCK_BOOTTIME); }
static inline int64_t clock_wall_ms(void) { return clock_ms(CLOCK_REALTIME); }

#endif
