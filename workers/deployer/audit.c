/* The deployer's audit file (see audit.h). */
#include "workers/deployer/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

/* One line: a detail longer than this is cut (the log has the whole message). */
#define AUDIT_DETAIL_MAX 2048

int audit_open(struct audit *a, const char *run_dir)
{
    char path[PATH_MAX];
    a->fd = -1;
    if (snprintf(path, sizeof(path), "%s/" AUDIT_FILE_NAME, run_dir) >= (int)sizeof(path)) return -ENAMETOOLONG;
    a->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return a->fd < 0 ? -errno : 0;
}

int audit_append(struct audit *a, const char *term, int64_t generation, const char *checksum, const char *target,
                 const char *action, const char *result, const char *detail)
{
    if (a->fd < 0) return -EBADF;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "time_ms", json_object_new_int64(clock_wall_ms()));
    json_object_object_add(o, "mono_ms", json_object_new_int64(clock_mono_ms()));
    json_object_object_add(o, "pid", json_object_new_int64(getpid()));
    json_object_object_add(o, "term", json_object_new_string(term ? term : ""));
    json_object_object_add(o, "generation", json_object_new_int64(generation));
    json_object_object_add(o, "checksum", json_object_new_string(checksum ? checksum : ""));
    json_object_object_add(o, "target", json_object_new_string(target));
    json_object_object_add(o, "action", json_object_new_string(action));
    json_object_object_add(o, "result", json_object_new_string(result));
    if (detail) json_object_object_add(o, "detail", json_object_new_string_len(detail, (int)strnlen(detail, AUDIT_DETAIL_MAX)));
    size_t n;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    char line[AUDIT_DETAIL_MAX * 7 + 1024]; /* a detail of control bytes escapes to 6 bytes each */
    int rc = 0;
    if (n + 1 > sizeof(line)) {
        rc = -E2BIG;
    } else {
        memcpy(line, s, n);
        line[n] = '\n';
        rc = write(a->fd, line, n + 1) == (ssize_t)(n + 1) ? 0 : -EIO;
    }
    json_object_put(o);
    return rc;
}

void audit_close(struct audit *a)
{
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
}
