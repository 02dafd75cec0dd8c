/* Schema of `haproxy` (which HAProxy instances to drive and how to reach them: pods by label, fixed
 * endpoints with a Data Plane API URL or a master socket, credentials by reference only, production paths)
 * and of `deploy` (push timings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config_schema.h"

#define SEC(x) ((int64_t)(x) * 1000)
#define MIN(x) (SEC(x) * 60)
#define HOUR(x) (MIN(x) * 60)

static void endpoint_finish(void *obj, struct config *root, struct cfg_check *ck)
{
    struct config_endpoint *e = obj;
    int url = e->url && *e->url, sock = e->master_socket && *e->master_socket;
    if (url == sock && !cfg_failed(ck, "url") && !cfg_failed(ck, "master_socket"))
        cfg_error(ck, NULL, "set exactly one of url (Data Plane API) and master_socket");
}

#define T struct config_endpoint
static const struct cfg_field endpoint_fields[] = {
    CFG_FIELD(T, name, CFG_STRING, .flags = CFG_F_REQUIRED, .check = cfg_rule_identifier,
              .doc = "Name of this target in logs and metrics."),
    CFG_FIELD(T, url, CFG_STRING, .check = cfg_rule_http_url,
              .doc = "Data Plane API base URL, e.g. http://10.0.0.5:5555 (no credentials in it)."),
    CFG_FIELD(T, master_socket, CFG_STRING, .check = cfg_rule_absolute_path,
              .doc = "HAProxy master CLI socket of a local HAProxy (bare metal), e.g. /run/haproxy-master.sock."),
    CFG_END,
};
#undef T
static const struct cfg_schema endpoint_schema = {
    .size = sizeof(struct config_endpoint), .fields = endpoint_fields, .finish = endpoint_finish,
};

#define T struct config_pod_selector
static const struct cfg_field pod_selector_fields[] = {
    CFG_FIELD(T, match_labels, CFG_SELECTOR, .flags = CFG_F_NONEMPTY, .check = cfg_rule_label_selector,
              .doc = "Labels of the HAProxy pods to drive, as a mapping or \"k=v,k2=v2\"; unset disables pod discovery."),
    CFG_FIELD(T, namespace, CFG_STRING, .def = "", .check = cfg_rule_dns1123_label,
              .doc = "Namespace of the HAProxy pods; empty = the controller's own namespace."),
    CFG_END,
};
#undef T
static const struct cfg_schema pod_selector_schema = {.size = sizeof(struct config_pod_selector), .fields = pod_selector_fields};

#define T struct config_secret_ref
static const struct cfg_field secret_ref_fields[] = {
    CFG_FIELD(T, name, CFG_STRING, .check = cfg_rule_dns1123_subdomain,
              .doc = "Secret holding the Data Plane API credentials; unset = not used."),
    CFG_FIELD(T, namespace, CFG_STRING, .def = "", .check = cfg_rule_dns1123_label,
              .doc = "Namespace of the Secret; empty = the controller's own namespace."),
    CFG_FIELD(T, username_key, CFG_STRING, .def = "dataplane_username", .flags = CFG_F_NONEMPTY,
              .doc = "Key of the user name in the Secret."),
    CFG_FIELD(T, password_key, CFG_STRING, .def = "dataplane_password", .flags = CFG_F_NONEMPTY,
              .doc = "Key of the password in the Secret."),
    CFG_END,
};
#undef T
static const struct cfg_schema secret_ref_schema = {.size = sizeof(struct config_secret_ref), .fields = secret_ref_fields};

#define T struct config_dataplane
static const struct cfg_field dataplane_fields[] = {
    CFG_FIELD(T, port, CFG_INT, .def = "5555", .min = 1, .max = 65535, .doc = "Data Plane API port on discovered pods."),
    CFG_FIELD(T, username, CFG_STRING, .flags = CFG_F_SECRET,
              .doc = "Data Plane API user name (with password_file). Shown redacted."),
    CFG_FIELD(T, password_file, CFG_STRING,
              .doc = "File holding the Data Plane API password (a mounted Secret, a systemd credential). Read at use, never logged."),
    CFG_FIELD(T, credentials_secret, CFG_SECTION, .sub = &secret_ref_schema,
              .doc = "Kubernetes Secret with the user name and password (alternative to username + password_file)."),
    {.key = "password", .type = CFG_REFUSED,
     .doc = "inline passwords are not accepted: put the password in a file (password_file) or a Secret (credentials_secret)"},
    CFG_END,
};
#undef T
static const struct cfg_schema dataplane_schema = {.size = sizeof(struct config_dataplane), .fields = dataplane_fields};

static void haproxy_finish(void *obj, struct config *root, struct cfg_check *ck)
{
    struct config_haproxy *h = obj;
    int pods = h->pod_selector.match_labels != NULL;
    int urls = pods;
    for (size_t i = 0; i < h->endpoints.len; i++) {
        if (h->endpoints.items[i].url) urls = 1;
        for (size_t j = 0; j < i; j++) {
            if (h->endpoints.items[i].name && h->endpoints.items[j].name &&
                !strcmp(h->endpoints.items[i].name, h->endpoints.items[j].name)) {
                char key[64];
                snprintf(key, sizeof(key), "endpoints[%zu].name", i);
                cfg_error(ck, key, "\"%s\" is already the name of endpoints[%zu]", h->endpoints.items[i].name, j);
            }
        }
    }
    if (!pods && h->endpoints.len == 0 && !cfg_failed(ck, "pod_selector") && !cfg_failed(ck, "endpoints"))
        cfg_error(ck, NULL, "no HAProxy targets: set pod_selector.match_labels or list endpoints");
    const struct config_dataplane *d = &h->dataplane;
    int secret = d->credentials_secret.name != NULL, file = d->password_file != NULL;
    if (secret && (file || d->username))
        cfg_error(ck, "dataplane", "use either credentials_secret or username + password_file, not both");
    else if (file != (d->username != NULL))
        cfg_error(ck, "dataplane", "username and password_file go together: set both or neither");
    else if (urls && !secret && !file && !cfg_failed(ck, "dataplane"))
        cfg_error(ck, "dataplane",
                  "the Data Plane API needs credentials: set credentials_secret.name, or username and password_file");
}

#define T struct config_haproxy
static const struct cfg_field haproxy_fields[] = {
    CFG_FIELD(T, pod_selector, CFG_SECTION, .sub = &pod_selector_schema,
              .doc = "HAProxy pods discovered by label (Kubernetes); each is reached through its Data Plane API."),
    CFG_FIELD(T, endpoints, CFG_LIST, .sub = &endpoint_schema, .doc = "Fixed targets, in addition to discovered pods."),
    CFG_FIELD(T, dataplane, CFG_SECTION, .sub = &dataplane_schema, .doc = "How to reach the Data Plane API."),
    CFG_FIELD(T, config_file, CFG_STRING, .def = "/etc/haproxy/haproxy.cfg", .check = cfg_rule_absolute_path,
              .doc = "Path of haproxy.cfg on the targets."),
    CFG_FIELD(T, maps_dir, CFG_STRING, .def = "/etc/haproxy/maps", .check = cfg_rule_absolute_path,
              .doc = "Directory of rendered map files on the targets."),
    CFG_FIELD(T, ssl_certs_dir, CFG_STRING, .def = "/etc/haproxy/ssl", .check = cfg_rule_absolute_path,
              .doc = "Directory of rendered certificates on the targets."),
    CFG_FIELD(T, general_dir, CFG_STRING, .def = "/etc/haproxy/general", .check = cfg_rule_absolute_path,
              .doc = "Directory of other rendered files on the targets."),
    CFG_FIELD(T, binary, CFG_STRING, .def = "haproxy", .flags = CFG_F_NONEMPTY,
              .doc = "HAProxy executable the validator runs (haproxy -c); looked up in PATH unless absolute."),
    CFG_END,
};
#undef T
const struct cfg_schema cfg_haproxy_schema = {
    .size = sizeof(struct config_haproxy), .fields = haproxy_fields, .finish = haproxy_finish,
};

#define T struct config_deploy
static const struct cfg_field deploy_fields[] = {
    CFG_FIELD_MS(T, min_deployment_interval, .def = "2s", .min = 0, .max = HOUR(1),
                 .doc = "Least time between two pushes; changes in between are coalesced (latest wins)."),
    CFG_FIELD_MS(T, drift_prevention_interval, .def = "60s", .min = SEC(1), .max = HOUR(24),
                 .doc = "Without a push for this long, compare the targets with the last-known-good config and repair drift."),
    CFG_FIELD_MS(T, deployment_timeout, .def = "30s", .min = SEC(1), .max = HOUR(1),
                 .doc = "A push to one target taking longer is abandoned and counted as failed."),
    CFG_FIELD(T, max_parallel, CFG_INT, .def = "0", .min = 0, .max = 10000,
              .doc = "Targets pushed to at once; 0 = all."),
    CFG_END,
};
#undef T
const struct cfg_schema cfg_deploy_schema = {.size = sizeof(struct config_deploy), .fields = deploy_fields};
