/* File-system helpers (see fs.h). */
#include "common/fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

int fs_mkdir_p(const char *dir, char *failed, size_t failed_len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp)) {
        if (failed) snprintf(failed, failed_len, "%s", dir);
        return -ENAMETOOLONG;
    }
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
            int rc = -errno;
            if (failed) snprintf(failed, failed_len, "%s", tmp);
            return rc;
        }
        *p = c;
        if (!c) return 0;
    }
}
