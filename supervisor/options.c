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
 * mounted ConfigMap is swapped under us when it changes). Returns the fd, or -1 with a message. */
static int snapshot(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
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
        fprintf(stderr, "%s: cannot snapshot the config (%s)\n", path,
                total > CONFIG_MAX_FILE_BYTES ? "larger than the maximum" : strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* The run directory must exist and be writable before any child needs it: found out now, it is one clear
 * message; found out by the deployer, it would be a crash loop. */
static int prepare_run_dir(const char *config_path, const char *dir)
{
    char failed[PATH_MAX];
    int rc = fs_mkdir_p(dir, failed, sizeof(failed));
    if (rc < 0) {
        fprintf(stderr, "%s: controller.run_dir: cannot create %s: %s\n", config_path, failed, strerror(-rc));
        return -1;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        fprintf(stderr, "%s: controller.run_dir: %s is not a writable directory: %s\n", config_path, dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

int supervisor_opts_load(const char *config_path, struct supervisor_opts *o, struct config **cfg_out)
{
    memset(o, 0, sizeof(*o));
    o->config_fd = snapshot(config_path);
    if (o->config_fd < 0) return -1;
    struct err_list errs;
    err_list_init(&errs);
    struct config *cfg = NULL;
    if (config_load_fd(o->config_fd, config_path, &cfg, &errs) < 0) {
        for (size_t i = 0; i < errs.len; i++) {
            char line[1024];
            err_format(&errs.items[i], line, sizeof(line));
            fprintf(stderr, "%s\n", line);
        }
        fprintf(stderr, "haproxy-template-ic: %zu problem%s in %s, not starting\n", errs.len,
                errs.len == 1 ? "" : "s", config_path);
        err_list_free(&errs);
        close(o->config_fd);
        return -1;
    }
    err_list_free(&errs);
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
    if (prepare_run_dir(config_path, o->run_dir) < 0) {
        config_free(cfg);
        close(o->config_fd);
        return -1;
    }
    log_set_level(c->logging.level);
    log_set_format(c->logging.format);
    *cfg_out = cfg;
    return 0;
}
