/* Spilled message fields (see spill.h). Blocking file I/O: the files are a few MB at most and written once
 * per first candidate or bisection trial. */
#include "common/pipeline/spill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/pipeline/rundir.h"

#define SPILL_DIR "spill"
/* "<pid>-<seq>.json": pid and a counter make names unique per writer; nothing else is accepted back. */
#define SPILL_NAME_MAX 64

static int spill_dir(const char *run_dir, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/%s", run_dir, SPILL_DIR);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int spill_field(struct json_object *msg, const char *field, const char *run_dir, size_t limit, struct err *e)
{
    static unsigned long seq;
    struct json_object *v;
    if (!json_object_object_get_ex(msg, field, &v)) return 0;
    size_t len;
    const char *text = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &len);
    if (len <= (limit ? limit : SPILL_INLINE_MAX)) return 0;
    char dir[PATH_MAX], name[SPILL_NAME_MAX], path[PATH_MAX], tmp[PATH_MAX];
    if (spill_dir(run_dir, dir, sizeof(dir)) < 0) return err_set(e, "run_dir path too long");
    int mk = fs_mkdir_p(dir, NULL, 0);
    if (mk < 0) return err_set(e, "%s: %s", dir, strerror(-mk));
    snprintf(name, sizeof(name), "%ld-%lu.json", (long)getpid(), ++seq);
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s/.%s", dir, name) >= (int)sizeof(tmp))
        return err_set(e, "run_dir path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return err_set(e, "%s: %s", tmp, strerror(errno));
    int rc = write_all(fd, text, len);
    if (close(fd) < 0) rc = -1;
    if (rc < 0 || rename(tmp, path) < 0) {
        int saved = errno;
        unlink(tmp);
        return err_set(e, "%s: %s", path, strerror(saved));
    }
    char key[128];
    snprintf(key, sizeof(key), "%s_file", field);
    json_object_object_del(msg, field);
    json_object_object_add(msg, key, json_object_new_string(name));
    return 1;
}

/* A name this module wrote: digits, '-', digits, ".json"; nothing that could leave the directory. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 8 || n >= SPILL_NAME_MAX || strcmp(s + n - 5, ".json") != 0) return 0;
    for (size_t i = 0; i < n - 5; i++)
        if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-') return 0;
    return 1;
}

int spill_restore(struct json_object *msg, const char *field, const char *run_dir, int keep, struct err *e)
{
    char key[128];
    snprintf(key, sizeof(key), "%s_file", field);
    struct json_object *f;
    if (!json_object_object_get_ex(msg, key, &f)) return 0;
    if (!json_object_is_type(f, json_type_string) || !valid_name(json_object_get_string(f)))
        return err_set(e, "%s is not a spill file name", key);
    char dir[PATH_MAX], path[PATH_MAX];
    if (spill_dir(run_dir, dir, sizeof(dir)) < 0 ||
        snprintf(path, sizeof(path), "%s/%s", dir, json_object_get_string(f)) >= (int)sizeof(path))
        return err_set(e, "run_dir path too long");
    char *buf = NULL;
    size_t len = 0;
    if (rundir_read_file_at(AT_FDCWD, path, SPILL_FILE_MAX, &buf, &len, e) != 0) return -1;
    struct json_object *v = json_tokener_parse(buf);
    free(buf);
    if (!v || !json_object_is_type(v, json_type_array)) {
        json_object_put(v);
        return err_set(e, "%s: not a JSON array", path);
    }
    json_object_object_add(msg, field, v);
    json_object_object_del(msg, key);
    if (!keep) unlink(path);
    return 1;
}

void spill_sweep(const char *run_dir, int max_age_s)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (spill_dir(run_dir, dir, sizeof(dir)) < 0) return;
    DIR *d = opendir(dir);
    if (!d) return;
    time_t now = time(NULL);
    for (struct dirent *de; (de = readdir(d));) {
        const char *n = de->d_name[0] == '.' && de->d_name[1] ? de->d_name + 1 : de->d_name;
        if (!valid_name(n)) continue;
        struct stat st;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path)) continue;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > max_age_s) unlink(path);
    }
    closedir(d);
}
