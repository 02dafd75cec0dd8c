/* The deployer's side-effect journal (see journal.h). Lines are written with one write(2) on an O_APPEND
 * descriptor, so concurrent writers never interleave inside a line. */
#include "workers/deployer/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fs.h"

int journal_open(struct journal *j, const char *run_dir)
{
    j->fd = -1;
    j->entries = 0;
    int rc = fs_mkdir_p(run_dir, NULL, 0);
    if (rc < 0) return rc;
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/deployer.journal", run_dir) >= sizeof(path)) return -ENAMETOOLONG;
    j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return j->fd < 0 ? -errno : 0;
}

int journal_append(struct journal *j, int64_t mono_ms, const char *term, const char *action, const char *detail)
{
    if (j->fd < 0) return -EBADF;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "mono_ms", json_object_new_int64(mono_ms));
    json_object_object_add(o, "wall_ms", json_object_new_int64(clock_wall_ms()));
    json_object_object_add(o, "pid", json_object_new_int64(getpid()));
    json_object_object_add(o, "term", json_object_new_string(term));
    json_object_object_add(o, "action", json_object_new_string(action));
    if (detail) json_object_object_add(o, "detail", json_object_new_string(detail));
    size_t n;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    char line[4096];
    int rc = 0;
    if (n + 1 >= sizeof(line)) {
        rc = -E2BIG;
    } else {
        memcpy(line, s, n);
        line[n] = '\n';
        ssize_t w = write(j->fd, line, n + 1);
        rc = w == (ssize_t)(n + 1) ? 0 : -EIO;
    }
    json_object_put(o);
    if (rc == 0) j->entries++;
    return rc;
}

void journal_close(struct journal *j)
{
    if (j->fd >= 0) close(j->fd);
    j->fd = -1;
}
