/* The controller's configuration: one YAML document parsed into struct config, with every default filled in
 * and every rule checked. This header is what the rest of the program reads; how keys map to fields (types,
 * defaults, bounds, documentation) lives in the schema tables (config_schema_*.c), not here.
 * Durations are int64_t milliseconds; strings are owned by the config and freed by config_free(). */
#ifndef HTIC_CONFIG_H
#define HTIC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/log.h"

struct json_object;

/* Bounds on what we accept from outside. */
/* A ConfigMap holds at most 1 MiB and the original controller's whole chart library is about 400 kB. */
#define CONFIG_MAX_FILE_BYTES (8 * 1024 * 1024)
/* Collections nested in the document, counted from its root. The schema is 6 levels deep; Kubernetes objects
 * in fixtures rarely exceed 15. Checked before loading (libyaml's time per token grows with the flow depth)
 * and again while walking, where it also stops self-aliases. */
#define CONFIG_MAX_DEPTH 64
/* Free-form values after alias expansion ("billion laughs"); 5 000 fixture objects are about 100 000. */
#define CONFIG_MAX_JSON_NODES 1000000
/* Bytes of strings (keys and values) after alias expansion: a config's own text is at most
 * CONFIG_MAX_FILE_BYTES, so four times that leaves room for anchors reused a few times while a 1 MB string
 * aliased 500 times (500 MB) is refused. */
#define CONFIG_MAX_EXPANDED_BYTES (4 * CONFIG_MAX_FILE_BYTES)
/* Problems listed for one load: enough to fix a file in one pass, and each costs about 1.3 kB. */
#define CONFIG_MAX_ERRORS 100

/* Default path of the Kubernetes service-account namespace file (lease_namespace fallback). */
#define CONFIG_SA_NAMESPACE_FILE "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

struct config_strlist {
    char **items;  /* owned, each owned */
    size_t len;
};

/* controller.leader_election */
struct config_leader_election {
    bool enabled;
    char *lease_name;       /* DNS-1123 subdomain */
    char *lease_namespace;  /* DNS-1123 label; from POD_NAMESPACE or the service-account file if unset */
    char *identity;         /* from POD_NAME, else the hostname, if unset */
    int64_t lease_duration_ms;
    int64_t renew_deadline_ms;
    int64_t retry_period_ms;
};

struct config_http {
    char *address;  /* listen address, default 0.0.0.0 */
    int port;       /* 0 = pick a free port (tests) */
};

struct config_logging {
    enum log_level level;
    enum log_format format;
};

struct config_kubernetes {
    char *kubeconfig;        /* "" = in-cluster service account */
    char *context;           /* kubeconfig context, "" = current-context */
    int qps;                 /* bulk traffic rate limit; 0 = unlimited */
    int burst;
    int64_t request_timeout_ms;
};

struct config_controller {
    struct config_leader_election leader_election;
    struct config_http http;
    struct config_logging logging;
    struct config_kubernetes kubernetes;
    char *run_dir;                /* generations are written under <run_dir>/gen/<sha256>/ */
    int64_t shutdown_timeout_ms;  /* total bound of an orderly shutdown */
};

/* haproxy.endpoints[]: a fixed target (bare metal or a known address). Exactly one of url / master_socket. */
struct config_endpoint {
    char *name;
    char *url;            /* Data Plane API base URL, e.g. http://10.0.0.5:5555 */
    char *master_socket;  /* HAProxy master CLI socket, e.g. /run/haproxy-master.sock */
};

struct config_endpoint_list {
    struct config_endpoint *items;
    size_t len;
};

struct config_pod_selector {
    char *match_labels;  /* label selector "k=v,k2=v2"; NULL = no pod discovery */
    char *namespace;     /* "" = the controller's namespace */
};

struct config_secret_ref {
    char *name;          /* NULL = not used */
    char *namespace;     /* "" = the controller's namespace */
    char *username_key;
    char *password_key;
};

struct config_dataplane {
    int port;                 /* Data Plane API port on discovered pods */
    char *username;
    char *password_file;      /* file holding the password (systemd credentials, mounted secret) */
    struct config_secret_ref credentials_secret;
};

struct config_haproxy {
    struct config_pod_selector pod_selector;
    struct config_endpoint_list endpoints;
    struct config_dataplane dataplane;
    char *config_file;    /* production paths the rendered files are written to on the targets */
    char *maps_dir;
    char *ssl_certs_dir;
    char *general_dir;
    char *binary;         /* haproxy executable used by the validator */
};

struct config_deploy {
    int64_t min_deployment_interval_ms;
    int64_t drift_prevention_interval_ms;
    int64_t deployment_timeout_ms;
    int max_parallel;  /* 0 = unlimited */
};

/* watched_resources.<name> */
enum config_store_kind { CONFIG_STORE_FULL = 0, CONFIG_STORE_ON_DEMAND };

struct config_watched_resource {
    char *name;
    char *api_version;
    char *resources;                /* plural resource name, e.g. ingresses */
    struct config_strlist index_by; /* JSONPath-like keys, at least one */
    char *label_selector;           /* "k=v,k2=v2" or NULL */
    char *field_selector;           /* NULL = none */
    char *namespace;                /* NULL/"" = all namespaces */
    int store;                      /* enum config_store_kind */
    bool enable_validation_webhook;
};

struct config_watched_resource_map {
    struct config_watched_resource *items;
    size_t len;
};

enum config_post_processor_type { CONFIG_POST_REGEX_REPLACE = 0 };

struct config_regex_params {
    char *pattern;  /* POSIX extended regex, applied line by line */
    char *replace;  /* replacement, "" by default */
};

struct config_post_processor {
    int type;  /* enum config_post_processor_type */
    struct config_regex_params params;
};

struct config_post_processor_list {
    struct config_post_processor *items;
    size_t len;
};

struct config_snippet {
    char *name;
    char *template;
    int priority;  /* snippets sort by (priority, name) */
};

struct config_snippet_map {
    struct config_snippet *items;
    size_t len;
};

/* maps / files / ssl_certificates entries and haproxy_config */
struct config_template_file {
    char *name;  /* file name (not for haproxy_config) */
    char *template;
    struct config_post_processor_list post_processing;
};

struct config_template_file_map {
    struct config_template_file *items;
    size_t len;
};

enum config_assertion_type {
    CONFIG_ASSERT_HAPROXY_VALID = 0,
    CONFIG_ASSERT_CONTAINS,
    CONFIG_ASSERT_NOT_CONTAINS,
    CONFIG_ASSERT_EQUALS,
    CONFIG_ASSERT_MATCH_COUNT,
    CONFIG_ASSERT_MATCH_ORDER,
    CONFIG_ASSERT_JSONPATH,
    CONFIG_ASSERT_DETERMINISTIC,
};

struct config_assertion {
    int type;                      /* enum config_assertion_type */
    char *description;
    char *target;                  /* haproxy.cfg | map:<name> | file:<name> | cert:<name> */
    char *pattern;                 /* contains, not_contains, match_count */
    struct config_strlist patterns; /* match_order */
    char *expected;                /* equals, jsonpath */
    int count;                     /* match_count */
    char *jsonpath;                /* jsonpath */
};

struct config_assertion_list {
    struct config_assertion *items;
    size_t len;
};

struct config_validation_test {
    char *name;
    char *description;
    struct json_object *fixtures;  /* {"<watched resource>": [objects...]} or NULL */
    struct config_assertion_list assertions;
};

struct config_validation_test_map {
    struct config_validation_test *items;
    size_t len;
};

struct config_templating {
    struct json_object *extra_context;  /* mapping merged at the top of the template context, or NULL */
};

struct config {
    struct config_controller controller;
    struct config_haproxy haproxy;
    struct config_deploy deploy;
    struct config_strlist watched_resources_ignore_fields;
    struct config_watched_resource_map watched_resources;
    struct config_snippet_map template_snippets;
    struct config_template_file_map maps;
    struct config_template_file_map files;
    struct config_template_file_map ssl_certificates;
    struct config_template_file haproxy_config;
    struct config_validation_test_map validation_tests;
    struct config_templating templating_settings;
    char *source;  /* the file (or name) this config was loaded from */
};

/* Loads and validates a config. On success returns 0 and sets *out (free with config_free). On failure
 * returns -1, leaves *out NULL and appends one entry per problem to errs (file, YAML path, line, column). */
int config_load_file(const char *path, struct config **out, struct err_list *errs);
int config_load_string(const char *yaml, const char *name, struct config **out, struct err_list *errs);
/* Same, reading from fd (from its start; fd stays open): the snapshot the supervisor hands its children. */
int config_load_fd(int fd, const char *name, struct config **out, struct err_list *errs);
void config_free(struct config *cfg);

/* The effective config as JSON for /debug/vars: durations as "15s", secrets redacted. */
int config_describe_json(const struct config *cfg, struct json_object **out);

/* 1 when a and b hold the same value at the dotted key path ("watched_resources", "haproxy.pod_selector",
 * "controller.leader_election"), secrets included; 0 when it differs or the schema has no such path. How a
 * running role tells whether a new config touches what it set up at start. */
int config_section_equal(const struct config *a, const struct config *b, const char *path);
/* 1 when every one of the n paths is equal in a and b (config_section_equal), else 0. */
int config_sections_equal(const struct config *a, const struct config *b, const char *const *paths, size_t n);

/* Markdown table of every key with type, default and meaning (docs/configuration.md is generated from it). */
int config_reference_markdown(char **out);

/* Tests: where the lease namespace fallback is read from (NULL restores CONFIG_SA_NAMESPACE_FILE). */
void config_set_sa_namespace_file(const char *path);

/* `haproxy-template-ic validate-config FILE`: prints every problem, exit status 1 if any, else 0. */
int config_cli_validate(int argc, char **argv);

#endif
