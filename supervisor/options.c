/* Fills the supervisor's options from the configuration file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

int supervisor_opts_load(const char *config_path, struct supervisor_opts *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->config_path, sizeof(o->config_path), "%s", config_path);
    if (access(config_path, R_OK) < 0) {
        fprintf(stderr, "haproxy-template-ic: cannot read config %s\n", config_path);
        return -1;
    }
    const char *e = getenv("HTIC_ELECTION");
    o->election_enabled = !(e && strcmp(e, "disabled") == 0);
    const char *pod = getenv("POD_NAME");
    if (pod && *pod) snprintf(o->identity, sizeof(o->identity), "%s", pod);
    else gethostname(o->identity, sizeof(o->identity) - 1);
    snprintf(o->http_address, sizeof(o->http_address), "127.0.0.1");
    o->http_port = 8080;
    o->shutdown_timeout_ms = 20000;
    o->renew_deadline_ms = 10000;
    return 0;
}
