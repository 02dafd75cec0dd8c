/* Loads the configuration for `run` and keeps what the supervisor needs. A config with problems is refused
 * with every problem listed (file:line:column: path: message) and the process does not start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>

#include "common/config/config.h"
#include "common/fs.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

/* Copies the config file into a sealed memfd: the supervisor validates exactly these bytes and every child
 * (also one restarted an hour later) loads the same, whatever happens to the file on disk meanwhile (a
 * mounted ConfigMap is swapped under us when it changes). Returns the fd, or -1 with the problem in errs. */
static int snapshot(const char *path, struct err_list *errs)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_list_add(errs, path, "", 0, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    int fd = memfd_create("htic-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    char chunk[65536];
    size_t n, total = 0;
    int ok = fd >= 0;
    while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        total += n;
        ok = total <= CONFIG_MAX_FILE_BYTES && write(fd, chunk, n) == (ssize_t)n;
    }
    ok = ok && !ferror(f) &&
         fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) == 0;
    fclose(f);
    if (!ok) {
        err_list_add(errs, path, "", 0, 0, "cannot snapshot the config (%s)",
                     total > CONFIG_MAX_FILE_BYTES ? "larger than the maximum" : strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* The run directory must exist and be writable before any child needs it: found out now, it is one clear
 * message; found out by the deployer, it would be a crash loop. */
static int prepare_run_dir(const char *config_path, const char *dir, struct err_list *errs)
{
    char failed[PATH_MAX];
    int rc = fs_mkdir_p(dir, failed, sizeof(failed));
    if (rc < 0) {
        err_list_add(errs, config_path, "controller.run_dir", 0, 0, "cannot create %s: %s", failed, strerror(-rc));
        return -1;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        err_list_add(errs, config_path, "controller.run_dir", 0, 0, "%s is not a writable directory: %s", dir,
                     strerror(errno));
        return -1;
    }
    return 0;
}

/* Snapshot, validate with every check, and fill o. Returns 0, or -1 with every problem in errs. */
static int load(const char *config_path, struct supervisor_opts *o, struct config **cfg_out, struct err_list *errs)
{
    memset(o, 0, sizeof(*o));
    *cfg_out = NULL;
    o->config_fd = snapshot(config_path, errs);
    if (o->config_fd < 0) return -1;
    struct config *cfg = NULL;
    if (config_load_fd(o->config_fd, config_path, &cfg, errs) < 0) {
        close(o->config_fd);
        return -1;
    }
    const struct config_controller *c = &cfg->controller;
    snprintf(o->config_path, sizeof(o->config_path), "%s", config_path);
    o->election_enabled = c->leader_election.enabled;
    snprintf(o->identity, sizeof(o->identity), "%s", c->leader_election.identity ? c->leader_election.identity : "");
    snprintf(o->lease_name, sizeof(o->lease_name), "%s",
             c->leader_election.lease_name ? c->leader_election.lease_name : "");
    snprintf(o->http_address, sizeof(o->http_address), "%s", c->http.address ? c->http.address : "0.0.0.0");
    o->http_port = c->http.port;
    snprintf(o->run_dir, sizeof(o->run_dir), "%s", c->run_dir ? c->run_dir : "");
    o->shutdown_timeout_ms = c->shutdown_timeout_ms;
    o->lease_duration_ms = c->leader_election.lease_duration_ms;
    o->retry_period_ms = c->leader_election.retry_period_ms;
    if (prepare_run_dir(config_path, o->run_dir, errs) < 0) {
        config_free(cfg);
        close(o->config_fd);
        return -1;
    }
    *cfg_out = cfg;
    return 0;
}

int supervisor_opts_load(const char *config_path, struct supervisor_opts *o, struct config **cfg_out)
{
    struct err_list errs;
    err_list_init(&errs);
    if (load(config_path, o, cfg_out, &errs) < 0) {
        for (size_t i = 0; i < errs.len; i++) {
            char line[1024];
            err_format(&errs.items[i], line, sizeof(line));
            fprintf(stderr, "%s\n", line);
        }
        fprintf(stderr, "haproxy-template-ic: %zu problem%s in %s, not starting\n", errs.len,
                errs.len == 1 ? "" : "s", config_path);
        err_list_free(&errs);
        return -1;
    }
    err_list_free(&errs);
    log_set_level((*cfg_out)->controller.logging.level);
    log_set_format((*cfg_out)->controller.logging.format);
    return 0;
}

/* What the running supervisor fixed at its start (listening socket, the elector's existence, identity and
 * timings, the run directory every child writes to): a reload that changes one of these is refused. The
 * elector is never restarted by a reload, so leadership is not disturbed by one. */
static void check_fixed(const struct supervisor_opts *cur, const struct config *cur_cfg,
                        const struct supervisor_opts *next, const struct config *next_cfg, struct err_list *errs)
{
    const char *f = cur->config_path;
    if (cur->election_enabled != next->election_enabled)
        err_list_add(errs, f, "controller.leader_election.enabled", 0, 0, "cannot change while running: restart to apply");
    if (strcmp(cur->identity, next->identity) != 0)
        err_list_add(errs, f, "controller.leader_election.identity", 0, 0, "cannot change while running: restart to apply");
    if (strcmp(cur->lease_name, next->lease_name) != 0)
        err_list_add(errs, f, "controller.leader_election.lease_name", 0, 0, "cannot change while running: restart to apply");
    if (cur->election_enabled == next->election_enabled && !strcmp(cur->identity, next->identity) &&
        !strcmp(cur->lease_name, next->lease_name) &&
        !config_section_equal(cur_cfg, next_cfg, "controller.leader_election"))
        err_list_add(errs, f, "controller.leader_election", 0, 0,
                     "cannot change while running (the elector keeps its settings): restart to apply");
    if (strcmp(cur->http_address, next->http_address) != 0 || cur->http_port != next->http_port)
        err_list_add(errs, f, "controller.http", 0, 0, "cannot change while running: restart to apply");
    if (strcmp(cur->run_dir, next->run_dir) != 0)
        err_list_add(errs, f, "controller.run_dir", 0, 0, "cannot change while running: restart to apply");
}

int supervisor_opts_reload(const struct supervisor_opts *cur, const struct config *cur_cfg,
                           struct supervisor_opts *next, struct config **cfg_out, struct err_list *errs)
{
    if (load(cur->config_path, next, cfg_out, errs) < 0) return -1;
    size_t before = errs->len;
    check_fixed(cur, cur_cfg, next, *cfg_out, errs);
    if (errs->len > before) {
        config_free(*cfg_out);
        *cfg_out = NULL;
        close(next->config_fd);
        return -1;
    }
    return 0;
}
