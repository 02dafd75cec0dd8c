/* The systemd notify protocol, written directly: one datagram per state change to $NOTIFY_SOCKET (a path,
 * or an abstract socket when it starts with '@'). Without NOTIFY_SOCKET every call is a no-op. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "supervisor/supervisor.h"

int sd_notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) return 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof(sa.sun_path)) return -EINVAL;
    memcpy(sa.sun_path, path, n);
    if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
    int rc = w < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int64_t sd_watchdog_interval_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    if (!usec || !*usec) return 0;
    const char *pid = getenv("WATCHDOG_PID");
    if (pid && *pid && atol(pid) != (long)getpid()) return 0; /* meant for another process */
    long long us = atoll(usec);
    if (us <= 0) return 0;
    return us < 1000 ? 1 : us / 1000; /* sub-millisecond: as often as we can, never off */
}
