/* Configuration at run time: a new config (SIGHUP, or the file changing on disk) is validated completely
 * (supervisor_opts_reload: schema, templates compiled, references, and the settings fixed at start) before it
 * replaces the running one; a refused one is logged problem by problem, kept in /debug/vars and counted, and
 * the old one keeps serving. An accepted one becomes the snapshot for children started from now on and is
 * sent to the running pipeline roles as a `config` message naming a sealed copy under <run_dir>/config/;
 * each applies it in place or answers that it needs a restart, which is done here.
 * The file is watched by a stat poll of its path, symlinks followed: a Kubernetes ConfigMap mount replaces
 * the file by an atomic swap of a `..data` symlink, which shows as a new inode. Not inotify: closing an
 * inotify instance in a SIGKILLed supervisor delays the kernel's parent-death SIGKILL to the children by
 * milliseconds, long enough for the elector to read EOF on its channel and release the Lease.
 * Not for: loading and checking (options.c, common/config) or what a role does with a config (its main.c). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config/config.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/metrics.h"
#include "supervisor/supervisor.h"

/* How often the file is looked at: one stat() a second costs nothing, and the kubelet takes up to a minute to
 * update a ConfigMap mount anyway. */
#define CONFIG_WATCH_POLL_MS 1000
/* A change seen is loaded once the file has not changed for this long: an editor's save (truncate, write) or
 * a script writing in several steps is loaded once, whole. */
#define CONFIG_WATCH_DEBOUNCE_MS 300
#define CONFIG_TRIGGER_FILE "file changed"
/* Problems kept for /debug/vars from the last refusal: the loader lists at most CONFIG_MAX_ERRORS. */
#define CONFIG_REFUSED_PROBLEMS_MAX CONFIG_MAX_ERRORS

static void format_wall(int64_t wall_ms, char *out, size_t n)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The snapshot's bytes (pread: the offset is shared with every child holding the fd). */
static int read_snapshot(int fd, struct buf *b)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)b->len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return b->oom ? -1 : 0;
        if (b->len + (size_t)n > CONFIG_MAX_FILE_BYTES) return -1;
        buf_append(b, chunk, (size_t)n);
    }
}

/* The file's bytes as they are now (bounded like a config). */
static int read_file(const char *path, struct buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = read_snapshot(fd, b);
    close(fd);
    return rc;
}

static int checksum_of(const struct buf *b, char out[CONFIG_RUNTIME_CHECKSUM_MAX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(b->data ? b->data : "", b->len, md, &len, EVP_sha256(), NULL) != 1 || len != 32) return -1;
    int k = snprintf(out, CONFIG_RUNTIME_CHECKSUM_MAX, "sha256:");
    for (unsigned i = 0; i < len; i++) k += snprintf(out + k, CONFIG_RUNTIME_CHECKSUM_MAX - (size_t)k, "%02x", md[i]);
    return 0;
}

/* <run_dir>/config/<hex>.yaml, 0600, written to a temp name and renamed: a child never reads half a file. The
 * one before is kept (a child may be opening it right now); older ones are removed. */
static int write_snapshot(struct supervisor *s, const struct buf *b, const char *checksum, char *path, size_t n,
                          struct err *e)
{
    struct config_runtime *rt = &s->rt;
    char dir[PATH_MAX], tmp[PATH_MAX], failed[PATH_MAX];
    const char *hex = checksum + strlen("sha256:");
    if (snprintf(dir, sizeof(dir), "%s/config", s->opts.run_dir) >= (int)sizeof(dir) ||
        snprintf(path, n, "%s/%s.yaml", dir, hex) >= (int)n ||
        snprintf(tmp, sizeof(tmp), "%s/.tmp-%d.yaml", dir, (int)getpid()) >= (int)sizeof(tmp))
        return err_set(e, "run_dir too long for the config snapshot");
    int rc = fs_mkdir_p(dir, failed, sizeof(failed));
    if (rc < 0) return err_set(e, "cannot create %s: %s", failed, strerror(-rc));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return err_set(e, "cannot write %s: %s", tmp, strerror(errno));
    ssize_t w = b->len ? write(fd, b->data, b->len) : 0;
    int ok = w == (ssize_t)b->len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        err_set(e, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rt->prev_path[0] && strcmp(rt->prev_path, path) != 0 && strcmp(rt->prev_path, rt->snapshot_path) != 0)
        unlink(rt->prev_path);
    snprintf(rt->prev_path, sizeof(rt->prev_path), "%s", rt->snapshot_path);
    return 0;
}

static void refused(struct supervisor *s, const char *trigger, struct err_list *errs)
{
    struct config_runtime *rt = &s->rt;
    char at[40];
    format_wall(clock_wall_ms(), at, sizeof(at));
    struct json_object *problems = json_object_new_array();
    for (size_t i = 0; i < errs->len; i++) {
        char line[1024];
        err_format(&errs->items[i], line, sizeof(line));
        log_error("config reload: problem", "problem", line);
        if (i < CONFIG_REFUSED_PROBLEMS_MAX) json_object_array_add(problems, json_object_new_string(line));
    }
    log_error("config reload refused, the running config stays", "config", s->opts.config_path, "trigger", trigger,
              "problems", LOG_UINT(errs->len));
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "at", json_object_new_string(at));
    json_object_object_add(r, "trigger", json_object_new_string(trigger));
    json_object_object_add(r, "problems", problems);
    json_object_put(rt->last_refused);
    rt->last_refused = r;
    supervisor_metrics_config_reload(s, "refused");
}

/* Top-level keys (and controller's parts) whose value differs, comma-separated, for the log line. */
static void changed_keys(const struct config *a, const struct config *b, char *out, size_t n)
{
    static const char *const keys[] = {
        "controller.logging", "controller.kubernetes", "controller.shutdown_timeout", "haproxy", "deploy",
        "watched_resources_ignore_fields", "watched_resources", "template_snippets", "maps", "files",
        "ssl_certificates", "haproxy_config", "validation_tests", "templating_settings",
    };
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!config_section_equal(a, b, keys[i]) && k < n)
            k += (size_t)snprintf(out + k, n - k, "%s%s", k ? "," : "", keys[i]);
}

static void send_to_children(struct supervisor *s)
{
    struct config_runtime *rt = &s->rt;
    for (int r = 0; r < ROLE_COUNT; r++) {
        struct child *c = &s->children[r];
        /* the elector and the deployer take a new config at their next start (docs/architecture.md) */
        if (role_get((enum role_id)r)->runs != ROLE_RUNS_ALWAYS || !child_running(c) || child_stopping(c)) continue;
        struct json_object *m = ipc_msg_new("config");
        json_object_object_add(m, "path", json_object_new_string(rt->snapshot_path));
        json_object_object_add(m, "checksum", json_object_new_string(rt->checksum));
        if (child_send(c, m) < 0) log_warn("config not sent to a child", "child", c->role);
        json_object_put(m);
    }
}

/* 1 when the file holds what runs already (any trigger), or, for a file change, what was refused last: an
 * edit followed by SIGHUP is seen by both, and the second look must not apply or refuse it again. */
static int nothing_new(struct supervisor *s, const char *trigger, char sum[CONFIG_RUNTIME_CHECKSUM_MAX])
{
    struct config_runtime *rt = &s->rt;
    struct buf b;
    buf_init(&b);
    int rc = read_file(s->opts.config_path, &b) < 0 || checksum_of(&b, sum) < 0 ? -1 : 0;
    buf_free(&b);
    if (rc < 0) {
        sum[0] = '\0'; /* unreadable: the full load below says why */
        return 0;
    }
    if (strcmp(sum, rt->checksum) == 0) {
        log_info("config unchanged", "trigger", trigger, "checksum", sum);
        supervisor_metrics_config_reload(s, "unchanged");
        return 1;
    }
    return strcmp(trigger, CONFIG_TRIGGER_FILE) == 0 && strcmp(sum, rt->refused_checksum) == 0;
}

void config_runtime_reload(struct supervisor *s, const char *trigger)
{
    struct config_runtime *rt = &s->rt;
    if (s->stage != RUNNING) {
        log_info("config reload ignored: shutting down", "trigger", trigger);
        return;
    }
    char file_sum[CONFIG_RUNTIME_CHECKSUM_MAX];
    if (nothing_new(s, trigger, file_sum)) return;
    struct supervisor_opts next;
    struct config *cfg = NULL;
    struct err_list errs;
    err_list_init(&errs);
    if (supervisor_opts_reload(&s->opts, s->cfg, &next, &cfg, &errs) < 0) {
        snprintf(rt->refused_checksum, sizeof(rt->refused_checksum), "%s", file_sum);
        refused(s, trigger, &errs);
        err_list_free(&errs);
        return;
    }
    err_list_free(&errs);
    struct buf b;
    buf_init(&b);
    char checksum[CONFIG_RUNTIME_CHECKSUM_MAX], path[PATH_MAX];
    struct err e;
    err_clear(&e);
    int rc = read_snapshot(next.config_fd, &b) < 0 || checksum_of(&b, checksum) < 0
                 ? err_set(&e, "cannot read the new snapshot back")
                 : 0;
    if (rc == 0 && strcmp(checksum, rt->checksum) == 0) {
        /* a touch, a ConfigMap swap to the same text, a second SIGHUP: nothing to do */
        log_info("config unchanged", "trigger", trigger, "checksum", checksum);
        supervisor_metrics_config_reload(s, "unchanged");
        buf_free(&b);
        config_free(cfg);
        close(next.config_fd);
        return;
    }
    if (rc == 0) rc = write_snapshot(s, &b, checksum, path, sizeof(path), &e);
    buf_free(&b);
    if (rc < 0) {
        err_list_init(&errs);
        err_list_add(&errs, s->opts.config_path, "", 0, 0, "%s", e.msg);
        refused(s, trigger, &errs);
        err_list_free(&errs);
        config_free(cfg);
        close(next.config_fd);
        return;
    }
    char changed[512];
    changed_keys(s->cfg, cfg, changed, sizeof(changed));
    close(s->opts.config_fd); /* running children hold their own copy of the old snapshot */
    s->opts = next;
    config_free(s->cfg);
    s->cfg = cfg;
    for (int r = 0; r < ROLE_COUNT; r++) s->children[r].config_fd = s->opts.config_fd;
    snprintf(rt->checksum, sizeof(rt->checksum), "%s", checksum);
    snprintf(rt->snapshot_path, sizeof(rt->snapshot_path), "%s", path);
    rt->loaded_at_wall_ms = clock_wall_ms();
    log_set_level(cfg->controller.logging.level);
    log_set_format(cfg->controller.logging.format);
    log_info("config reloaded", "config", s->opts.config_path, "trigger", trigger, "checksum", checksum, "changed",
             changed[0] ? changed : "nothing the roles read");
    supervisor_metrics_config_reload(s, "applied");
    send_to_children(s);
}

void config_runtime_on_applied(struct supervisor *s, enum role_id from, struct json_object *msg)
{
    struct config_runtime *rt = &s->rt;
    const char *sum = ipc_msg_str(msg, "checksum"), *result = ipc_msg_str(msg, "result"),
               *reason = ipc_msg_str(msg, "reason");
    if (!sum || !result) return;
    struct child *c = &s->children[from];
    if (strcmp(result, "applied") == 0) {
        snprintf(rt->applied[from], sizeof(rt->applied[from]), "%s", sum);
        return;
    }
    /* an answer about an older config than the running one is moot: the newer one was sent after it */
    if (strcmp(sum, rt->checksum) != 0 || s->stage != RUNNING || !child_running(c) || child_stopping(c)) return;
    log_info("restarting a child to apply the new config", "child", c->role, "result", result, "why",
             reason ? reason : "");
    rt->respawn[from] = 1;
    child_request_stop(c);
}

void config_runtime_on_child_exit(struct supervisor *s, enum role_id r)
{
    struct config_runtime *rt = &s->rt;
    if (!rt->respawn[r]) return;
    rt->respawn[r] = 0;
    /* a crash meanwhile is restarted by child.c already (CHILD_BACKOFF), with the new snapshot as well */
    if (s->stage == RUNNING && s->children[r].state == CHILD_IDLE) child_spawn(&s->children[r]);
}

/* ---- the watch ---- */

static void on_debounce_timer(uv_timer_t *t) { config_runtime_reload(t->data, CONFIG_TRIGGER_FILE); }

/* Was the file (followed through its symlinks) replaced or written since last looked at? */
static int file_changed(struct config_runtime *rt, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) memset(&st, 0, sizeof(st)); /* gone for a moment during a swap: a change too */
    int same = st.st_dev == rt->seen.st_dev && st.st_ino == rt->seen.st_ino && st.st_size == rt->seen.st_size &&
               st.st_mtim.tv_sec == rt->seen.st_mtim.tv_sec && st.st_mtim.tv_nsec == rt->seen.st_mtim.tv_nsec &&
               st.st_ctim.tv_sec == rt->seen.st_ctim.tv_sec && st.st_ctim.tv_nsec == rt->seen.st_ctim.tv_nsec;
    rt->seen = st;
    return !same;
}

static void on_poll_timer(uv_timer_t *t)
{
    struct supervisor *s = t->data;
    struct config_runtime *rt = &s->rt;
    if (file_changed(rt, s->opts.config_path))
        uv_timer_start(&rt->debounce, on_debounce_timer, CONFIG_WATCH_DEBOUNCE_MS, 0);
}

int config_runtime_start(struct supervisor *s)
{
    struct config_runtime *rt = &s->rt;
    struct buf b;
    buf_init(&b);
    int rc = read_snapshot(s->opts.config_fd, &b) < 0 || checksum_of(&b, rt->checksum) < 0 ? -1 : 0;
    buf_free(&b);
    if (rc < 0) {
        log_error("cannot checksum the config snapshot");
        return -1;
    }
    rt->loaded_at_wall_ms = clock_wall_ms();
    for (int r = 0; r < ROLE_COUNT; r++) snprintf(rt->applied[r], sizeof(rt->applied[r]), "%s", rt->checksum);
    uv_timer_init(s->loop, &rt->debounce);
    rt->debounce.data = s;
    uv_timer_init(s->loop, &rt->poll);
    rt->poll.data = s;
    rt->ready = 1;
    file_changed(rt, s->opts.config_path);
    uv_timer_start(&rt->poll, on_poll_timer, CONFIG_WATCH_POLL_MS, CONFIG_WATCH_POLL_MS);
    log_info("watching the config for changes", "config", s->opts.config_path, "poll_ms",
             LOG_INT(CONFIG_WATCH_POLL_MS));
    return 0;
}

void config_runtime_describe(const struct supervisor *s, struct json_object *cfg)
{
    const struct config_runtime *rt = &s->rt;
    char at[40];
    format_wall(rt->loaded_at_wall_ms, at, sizeof(at));
    json_object_object_add(cfg, "checksum", json_object_new_string(rt->checksum));
    json_object_object_add(cfg, "loaded_at", json_object_new_string(at));
    struct json_object *last = NULL;
    if (rt->last_refused) json_object_deep_copy(rt->last_refused, &last, NULL);
    json_object_object_add(cfg, "last_refused", last);
    struct json_object *applied = json_object_new_object();
    for (int r = 0; r < ROLE_COUNT; r++)
        if (role_get((enum role_id)r)->runs == ROLE_RUNS_ALWAYS)
            json_object_object_add(applied, role_name((enum role_id)r), json_object_new_string(rt->applied[r]));
    json_object_object_add(cfg, "applied", applied);
}

void config_runtime_close(struct supervisor *s)
{
    struct config_runtime *rt = &s->rt;
    if (rt->ready) {
        uv_timer_stop(&rt->poll);
        uv_close((uv_handle_t *)&rt->poll, NULL);
        uv_timer_stop(&rt->debounce);
        uv_close((uv_handle_t *)&rt->debounce, NULL);
        rt->ready = 0;
    }
}

void config_runtime_free(struct supervisor *s)
{
    json_object_put(s->rt.last_refused);
    s->rt.last_refused = NULL;
}
