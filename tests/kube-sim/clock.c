/* Time and identifiers as kube-sim stamps them: wall clock plus the fault-injected offset, RFC 3339
 * seconds and six-digit MicroTime, random UUIDs. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "tests/kube-sim/api_internal.h"

/* ---- time, ids ---- */

void sim_now(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
    int64_t off = g_sim ? g_sim->faults.clock_offset_ms : 0;
    int64_t ns = (int64_t)ts->tv_nsec + (off % 1000) * 1000000;
    ts->tv_sec += off / 1000;
    while (ns < 0) ns += 1000000000, ts->tv_sec--;
    while (ns >= 1000000000) ns -= 1000000000, ts->tv_sec++;
    ts->tv_nsec = ns;
}

void sim_time_rfc3339(char *out, size_t n)
{
    struct timespec ts;
    sim_now(&ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sim_time_micro(char *out, size_t n)
{
    struct timespec ts;
    sim_now(&ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

void sim_uuid(char *out)
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        for (int i = 0; i < 16; i++) b[i] = (unsigned char)rand();
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}
