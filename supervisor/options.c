/* Loads the configuration for `run` and keeps what the supervisor needs. A config with problems is refused
 * with every problem listed (file:line:column: path: message) and the process does not start. */
#include <stdio.h>
#include <string.h>

#include "common/config/config.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

int supervisor_opts_load(const char *config_path, struct supervisor_opts *o, struct config **cfg_out)
{
    memset(o, 0, sizeof(*o));
    struct err_list errs;
    err_list_init(&errs);
    struct config *cfg = NULL;
    if (config_load_file(config_path, &cfg, &errs) < 0) {
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
    log_set_level(c->logging.level);
    log_set_format(c->logging.format);
    *cfg_out = cfg;
    return 0;
}
