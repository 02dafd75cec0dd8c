/* Child role runtime (see worker.h): arguments, process hygiene, heartbeats, shutdown. */
#include "common/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/config/config.h"
#include "common/log.h"

int worker_args_parse(int argc, char **argv, struct worker_args *out)
{
    memset(out, 0, sizeof(*out));
    out->ipc_fd = -1;
    out->config_fd = -1;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "haproxy-template-ic: %s needs a value\n", k);
            return -1;
        }
        const char *v = argv[++i];
        if (strcmp(k, "--role") == 0) out->role = v;
        else if (strcmp(k, "--ipc-fd") == 0) out->ipc_fd = atoi(v);
        else if (strcmp(k, "--parent") == 0) out->parent = (pid_t)atol(v);
        else if (strcmp(k, "--config") == 0) out->config_path = v;
        else if (strcmp(k, "--config-fd") == 0) out->config_fd = atoi(v);
        else {
            fprintf(stderr, "haproxy-template-ic: unknown child option %s\n", k);
            return -1;
        }
    }
    if (!out->role || out->ipc_fd < 0 || out->parent <= 0) {
        fprintf(stderr, "haproxy-template-ic: --role, --ipc-fd and --parent are set by the supervisor; "
                        "run `haproxy-template-ic run --config FILE` instead\n");
        return -1;
    }
    return 0;
}

int worker_child_setup(const struct worker_args *a)
{
    /* First of all, before the process takes its title (which is how anyone, a test included, tells the
     * role has started): signals an operator may send to the wrong pid (HUP meaning reload, USR1/USR2, a
     * stray ALRM) would by default kill the role, the deployer and elector mid-write. Only the supervisor
     * acts on them. uv_spawn resets dispositions, so what a role execs (haproxy -c) gets the defaults. */
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGALRM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
        log_error("cannot arm the parent-death signal", "error", strerror(errno));
        return -1;
    }
    /* The supervisor may have died between fork and prctl: then we were re-parented and must not run. */
    if (getppid() != a->parent) {
        log_error("supervisor is gone before start, exiting");
        return -1;
    }
    char title[16];
    snprintf(title, sizeof(title), "htic-%s", a->role);
    prctl(PR_SET_NAME, title, 0, 0, 0);
    /* Our own process group: a signal sent to the supervisor's group (a terminal's Ctrl-C, `timeout`)
     * reaches the supervisor only, which then stops the children in order (deployer first). */
    setpgid(0, 0);
    return 0;
}

static void begin_shutdown(struct worker *w, const char *why)
{
    if (w->shutting_down) return;
    w->shutting_down = 1;
    log_info("shutting down", "why", why);
    if (w->on_shutdown) w->on_shutdown(w, why);
    else worker_stop(w);
}

static void reply_config(struct worker *w, const char *checksum, const char *result, const char *why)
{
    struct json_object *m = ipc_msg_new("config_applied");
    json_object_object_add(m, "checksum", json_object_new_string(checksum));
    json_object_object_add(m, "result", json_object_new_string(result));
    json_object_object_add(m, "reason", json_object_new_string(why ? why : ""));
    worker_send(w, m);
    json_object_put(m);
}

/* The `config` message: the supervisor validated the snapshot at `path`; load it again (the same checks) and
 * let the role apply it. Answered with `config_applied` {checksum, result: applied | restart | failed}. */
static void on_config_message(struct worker *w, struct json_object *msg)
{
    const char *path = ipc_msg_str(msg, "path"), *checksum = ipc_msg_str(msg, "checksum");
    if (!path || !checksum || strlen(checksum) > WORKER_CHECKSUM_MAX) {
        log_warn("config message without path or checksum ignored");
        return;
    }
    struct config *next = NULL;
    struct err_list errs;
    err_list_init(&errs);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : config_load_fd(fd, w->config_path ? w->config_path : path, &next, &errs);
    if (fd >= 0) close(fd);
    char why[512] = "";
    if (rc < 0) {
        if (fd < 0) snprintf(why, sizeof(why), "cannot open %s: %s", path, strerror(errno));
        else if (errs.len) err_format(&errs.items[0], why, sizeof(why));
        err_list_free(&errs);
        log_error("new config not loaded, keeping the running one", "checksum", checksum, "error", why);
        reply_config(w, checksum, "failed", why);
        return;
    }
    err_list_free(&errs);
    const char *reason = "this role applies no config change in place";
    enum worker_config_result res = w->on_config && !w->shutting_down ? w->on_config(w, next, &reason)
                                                                       : WORKER_CONFIG_RESTART;
    if (res != WORKER_CONFIG_APPLIED) {
        config_free(next);
        log_info("new config needs a restart", "checksum", checksum, "why", reason);
        reply_config(w, checksum, "restart", reason);
        return;
    }
    config_free((struct config *)w->cfg);
    w->cfg = next;
    log_set_level(next->controller.logging.level);
    log_set_format(next->controller.logging.format);
    log_info("config applied", "checksum", checksum);
    reply_config(w, checksum, "applied", NULL);
}

static void on_supervisor_message(struct ipc_channel *ch, struct json_object *msg, const char *type)
{
    struct worker *w = ch->data;
    if (strcmp(type, "shutdown") == 0) {
        begin_shutdown(w, "supervisor asked");
        return;
    }
    if (strcmp(type, "config") == 0) {
        on_config_message(w, msg);
        return;
    }
    if (w->on_message) w->on_message(w, msg, type);
}

static void on_supervisor_gone(struct ipc_channel *ch, const char *reason)
{
    struct worker *w = ch->data;
    /* Without the supervisor there is no one to obey: stop at once. */
    log_warn("supervisor channel ended", "reason", reason);
    w->exit_status = 1;
    /* a role already shutting down is finishing on its own: asking it again would start its shutdown twice */
    if (!w->shutting_down && w->on_shutdown) {
        w->shutting_down = 1;
        w->on_shutdown(w, WORKER_WHY_SUPERVISOR_GONE);
    }
    w->shutting_down = 1;
    worker_stop(w);
}

static void on_heartbeat_timer(uv_timer_t *t)
{
    struct worker *w = t->data;
    struct json_object *m = ipc_msg_new("heartbeat");
    json_object_object_add(m, "seq", json_object_new_int64((int64_t)++w->heartbeats));
    worker_send(w, m);
    json_object_put(m);
}

static void on_sigterm(uv_signal_t *s, int signum)
{
    (void)signum;
    begin_shutdown(s->data, "SIGTERM");
}

int worker_init(struct worker *w, uv_loop_t *loop, const struct worker_args *a, worker_message_cb on_message,
                worker_shutdown_cb on_shutdown, void *data)
{
    memset(w, 0, sizeof(*w));
    w->loop = loop;
    w->role = a->role;
    w->on_message = on_message;
    w->on_shutdown = on_shutdown;
    w->config_path = a->config_path;
    w->data = data;
    int rc = ipc_channel_init(&w->ch, loop, a->ipc_fd, on_supervisor_message, on_supervisor_gone, w);
    if (rc) return rc;
    uv_timer_init(loop, &w->heartbeat_timer);
    w->heartbeat_timer.data = w;
    uv_signal_init(loop, &w->sigterm);
    w->sigterm.data = w;
    return 0;
}

int worker_start(struct worker *w)
{
    int rc = ipc_channel_start(&w->ch);
    if (rc) return rc;
    struct json_object *hello = ipc_msg_new("hello");
    json_object_object_add(hello, "role", json_object_new_string(w->role));
    json_object_object_add(hello, "pid", json_object_new_int64(getpid()));
    worker_send(w, hello);
    json_object_put(hello);
    uv_timer_start(&w->heartbeat_timer, on_heartbeat_timer, WORKER_HEARTBEAT_MS, WORKER_HEARTBEAT_MS);
    uv_signal_start(&w->sigterm, on_sigterm, SIGTERM);
    return 0;
}

int worker_run(struct worker *w)
{
    uv_run(w->loop, UV_RUN_DEFAULT);
    return w->exit_status;
}

int worker_send(struct worker *w, struct json_object *msg) { return ipc_channel_send(&w->ch, msg); }

int worker_report(struct worker *w, struct json_object *msg)
{
    return ipc_channel_send_lossy(&w->ch, msg, WORKER_LOSSY_LIMIT);
}

int worker_event(struct worker *w, const char *name, ...)
{
    struct json_object *m = ipc_msg_new("event");
    struct json_object *fields = json_object_new_object();
    json_object_object_add(m, "event", json_object_new_string(name));
    va_list ap;
    va_start(ap, name);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k) break;
        const char *v = va_arg(ap, const char *);
        json_object_object_add(fields, k, json_object_new_string(v ? v : ""));
    }
    va_end(ap);
    json_object_object_add(m, "fields", fields);
    int rc = worker_send(w, m);
    json_object_put(m);
    return rc;
}

void worker_stop(struct worker *w)
{
    if (w->stopped) return;
    w->stopped = 1;
    uv_timer_stop(&w->heartbeat_timer);
    uv_close((uv_handle_t *)&w->heartbeat_timer, NULL);
    uv_signal_stop(&w->sigterm);
    uv_close((uv_handle_t *)&w->sigterm, NULL);
    /* Let queued messages (a last event, the lease release report) reach the supervisor: closing a pipe
     * with writes pending cancels them, so shut down the write side first. */
    ipc_channel_close(&w->ch, NULL);
}

int worker_main(int argc, char **argv, worker_message_cb on_message, worker_shutdown_cb on_shutdown,
                int (*on_start)(struct worker *w), void *data)
{
    struct worker_args a;
    if (worker_args_parse(argc, argv, &a) < 0) return 2;
    log_init(a.role, LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
    if (worker_child_setup(&a) < 0) return 1;
    /* The supervisor validated these bytes (its snapshot) before starting us. */
    struct config *cfg = NULL;
    if (a.config_path) {
        struct err_list errs;
        err_list_init(&errs);
        int bad = a.config_fd >= 0 ? config_load_fd(a.config_fd, a.config_path, &cfg, &errs)
                                   : config_load_file(a.config_path, &cfg, &errs);
        err_list_free(&errs);
        if (bad < 0) {
            log_error("config refused, exiting", "config", a.config_path);
            return 1;
        }
        log_set_level(cfg->controller.logging.level);
        log_set_format(cfg->controller.logging.format);
    }
    uv_loop_t *loop = uv_default_loop();
    struct worker w;
    int rc = worker_init(&w, loop, &a, on_message, on_shutdown, data);
    w.cfg = cfg;
    if (rc || worker_start(&w) || (on_start && on_start(&w))) {
        log_error("role failed to start");
        config_free((struct config *)w.cfg);
        return 1;
    }
    int status = worker_run(&w);
    uv_loop_close(loop);
    config_free((struct config *)w.cfg); /* the newest applied one */
    return status;
}
