/* Schema of `controller`: the controller's own settings (leader election, HTTP endpoint, logging,
 * Kubernetes access, run directory, shutdown bound) and the leader-election rules of client-go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config/config_schema.h"
#include "common/duration.h"
#include "common/lease_rules.h"

#define MS(x) ((int64_t)(x))
#define SEC(x) (MS(x) * 1000)
#define MIN(x) (SEC(x) * 60)

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

/* The service-account namespace file holds one DNS label; anything longer than this is not one. */
#define SA_NAMESPACE_MAX 253

static char *read_sa_namespace(void)
{
    FILE *f = fopen(cfg_sa_namespace_file(), "r");
    if (!f) return NULL;
    char buf[SA_NAMESPACE_MAX + 2];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    return dup_or_null(buf);
}

static void fmt_ms(int64_t ms, char *out, size_t n) { duration_format_ms(ms, out, n); }

static void leader_election_finish(void *obj, struct config *root, struct cfg_check *ck)
{
    struct config_leader_election *le = obj;
    const char *ns_source = "lease_namespace", *id_source = "identity";
    if (!le->identity || !*le->identity) {
        free(le->identity);
        le->identity = dup_or_null(getenv("POD_NAME"));
        id_source = "POD_NAME";
        if (!le->identity) {
            id_source = "the hostname";
            char host[256] = "";
            if (gethostname(host, sizeof(host) - 1) == 0) le->identity = dup_or_null(host);
        }
    }
    if (!le->lease_namespace || !*le->lease_namespace) {
        free(le->lease_namespace);
        le->lease_namespace = dup_or_null(getenv("POD_NAMESPACE"));
        ns_source = "POD_NAMESPACE";
        if (!le->lease_namespace) {
            le->lease_namespace = read_sa_namespace();
            ns_source = cfg_sa_namespace_file();
        }
    }
    /* The rules below only matter when a Lease is used; an `enabled` that did not parse says nothing. */
    if (!le->enabled || cfg_failed(ck, "enabled")) return;

    const char *why = NULL;
    if (!le->lease_namespace) {
        cfg_error(ck, "lease_namespace",
                  "not set, POD_NAMESPACE is empty and %s is not readable: set lease_namespace or POD_NAMESPACE",
                  cfg_sa_namespace_file());
    } else if (!cfg_failed(ck, "lease_namespace") && cfg_rule_dns1123_label(le->lease_namespace, &why) < 0) {
        cfg_error(ck, "lease_namespace", "\"%s\" (from %s) %s", le->lease_namespace, ns_source, why);
    }
    if (!le->identity) {
        cfg_error(ck, "identity", "not set, POD_NAME is empty and the hostname is unknown");
    } else if (strlen(le->identity) > LEASE_IDENTITY_MAX) {
        /* the elector refuses it at start and would crash-loop while /healthz still answers */
        cfg_error(ck, "identity", "is %zu characters long (from %s); at most %d fit in the Lease's holderIdentity",
                  strlen(le->identity), id_source, LEASE_IDENTITY_MAX);
    }

    /* The rules are the elector's own (common/lease_rules.c), so what passes here starts there; each is
     * reported once, and not when a duration it uses had an error of its own. */
    int ok_ld = !cfg_failed(ck, "lease_duration"), ok_rd = !cfg_failed(ck, "renew_deadline"),
        ok_rp = !cfg_failed(ck, "retry_period");
    unsigned broken = lease_rules_broken(le->lease_duration_ms, le->renew_deadline_ms, le->retry_period_ms);
#define BROKEN(r) (broken & LEASE_RULE_BIT(r))
    char a[32], b[32];
    if (ok_ld && BROKEN(LEASE_RULE_DURATION_POSITIVE)) {
        cfg_error(ck, "lease_duration", "must be greater than zero");
        ok_ld = 0;
    }
    if (ok_rd && BROKEN(LEASE_RULE_DEADLINE_POSITIVE)) {
        cfg_error(ck, "renew_deadline", "must be greater than zero");
        ok_rd = 0;
    }
    if (ok_rp && BROKEN(LEASE_RULE_RETRY_POSITIVE)) {
        cfg_error(ck, "retry_period", "must be greater than zero");
        ok_rp = 0;
    }
    if (ok_ld && BROKEN(LEASE_RULE_DURATION_WHOLE_SECOND)) {
        fmt_ms(le->lease_duration_ms, a, sizeof(a));
        cfg_error(ck, "lease_duration", "%s is under 1s: the Lease stores it in whole seconds", a);
        ok_ld = 0;
    }
    if (ok_ld && ok_rd && BROKEN(LEASE_RULE_DURATION_ABOVE_DEADLINE)) {
        fmt_ms(le->renew_deadline_ms, a, sizeof(a));
        fmt_ms(le->lease_duration_ms, b, sizeof(b));
        cfg_error(ck, "renew_deadline", "renew_deadline (%s) must be shorter than lease_duration (%s)", a, b);
    }
    if (ok_rd && ok_rp && BROKEN(LEASE_RULE_DEADLINE_ABOVE_JITTER)) {
        fmt_ms(le->renew_deadline_ms, a, sizeof(a));
        fmt_ms(le->retry_period_ms * LEASE_JITTER_TENTHS / 10, b, sizeof(b));
        char c[32];
        fmt_ms(le->retry_period_ms, c, sizeof(c));
        cfg_error(ck, "renew_deadline", "renew_deadline (%s) must be longer than 1.2 x retry_period (1.2 x %s = %s)", a, c, b);
    }
#undef BROKEN
}

#define T struct config_leader_election
static const struct cfg_field leader_election_fields[] = {
    CFG_FIELD(T, enabled, CFG_BOOL, .def = "true",
              .doc = "Elect one leader through a coordination.k8s.io/v1 Lease; false runs the deployer unconditionally (single replica)."),
    CFG_FIELD(T, lease_name, CFG_STRING, .def = "haproxy-template-ic-leader", .flags = CFG_F_NONEMPTY,
              .check = cfg_rule_dns1123_subdomain, .doc = "Name of the Lease object (a DNS-1123 subdomain)."),
    CFG_FIELD(T, lease_namespace, CFG_STRING,
              .def_doc = "$POD_NAMESPACE, else the service-account namespace file",
              .doc = "Namespace of the Lease (a DNS-1123 label)."),
    CFG_FIELD(T, identity, CFG_STRING, .def_doc = "$POD_NAME, else the hostname",
              .doc = "This replica's holder identity in the Lease; must differ between replicas."),
    CFG_FIELD_MS(T, lease_duration, .def = "15s",
              .max = MIN(60),
              .doc = "How long followers wait, from the last change they observed, before taking an unrenewed Lease. Must exceed renew_deadline."),
    CFG_FIELD_MS(T, renew_deadline, .def = "10s",
              .max = MIN(60),
              .doc = "How long the leader keeps retrying to renew before it stops acting as leader. Must exceed 1.2 x retry_period."),
    CFG_FIELD_MS(T, retry_period, .def = "2s",
              .max = MIN(60), .doc = "Interval between acquire and renew attempts (jittered by up to 20%)."),
    CFG_END,
};
#undef T
static const struct cfg_schema leader_election_schema = {
    .size = sizeof(struct config_leader_election), .fields = leader_election_fields, .finish = leader_election_finish,
};

#define T struct config_http
static const struct cfg_field http_fields[] = {
    CFG_FIELD(T, address, CFG_STRING, .def = "0.0.0.0", .flags = CFG_F_NONEMPTY, .check = cfg_rule_ip_address,
              .doc = "Listen address of /healthz, /readyz, /metrics and /debug/vars (all interfaces, as kubelet probes need; use 127.0.0.1 on bare metal)."),
    CFG_FIELD(T, port, CFG_INT, .def = "8080", .min = 0, .max = 65535,
              .doc = "Listen port; 0 picks a free port (tests)."),
    CFG_END,
};
#undef T
static const struct cfg_schema http_schema = {.size = sizeof(struct config_http), .fields = http_fields};

static const struct cfg_enum log_levels[] = {
    {"debug", LOG_LEVEL_DEBUG}, {"info", LOG_LEVEL_INFO}, {"warn", LOG_LEVEL_WARN}, {"error", LOG_LEVEL_ERROR}, {NULL, 0},
};
static const struct cfg_enum log_formats[] = {{"logfmt", LOG_FORMAT_LOGFMT}, {"json", LOG_FORMAT_JSON}, {NULL, 0}};

#define T struct config_logging
static const struct cfg_field logging_fields[] = {
    CFG_FIELD(T, level, CFG_ENUM, .def = "info", .enums = log_levels, .doc = "Lowest level written."),
    CFG_FIELD(T, format, CFG_ENUM, .def = "logfmt", .enums = log_formats, .doc = "One line per event, logfmt or JSON."),
    CFG_END,
};
#undef T
static const struct cfg_schema logging_schema = {.size = sizeof(struct config_logging), .fields = logging_fields};

#define T struct config_kubernetes
static const struct cfg_field kubernetes_fields[] = {
    CFG_FIELD(T, kubeconfig, CFG_STRING, .def = "",
              .doc = "Path of a kubeconfig file; empty uses the in-cluster service account."),
    CFG_FIELD(T, context, CFG_STRING, .def = "", .doc = "kubeconfig context to use; empty uses current-context."),
    CFG_FIELD(T, qps, CFG_INT, .def = "20", .min = 0, .max = 10000,
              .doc = "Sustained requests per second of bulk traffic (lists, watches); 0 = unlimited. The elector has its own connection and is never throttled by this."),
    CFG_FIELD(T, burst, CFG_INT, .def = "40", .min = 0, .max = 100000, .doc = "Requests allowed above qps in a burst."),
    CFG_FIELD_MS(T, request_timeout, .def = "30s",
              .min = SEC(1), .max = MIN(10), .doc = "Timeout of one non-watch API request."),
    CFG_END,
};
#undef T
static const struct cfg_schema kubernetes_schema = {.size = sizeof(struct config_kubernetes), .fields = kubernetes_fields};

#define T struct config_controller
static const struct cfg_field controller_fields[] = {
    CFG_FIELD(T, leader_election, CFG_SECTION, .sub = &leader_election_schema, .doc = "Leader election among replicas."),
    CFG_FIELD(T, http, CFG_SECTION, .sub = &http_schema, .doc = "The supervisor's HTTP endpoint."),
    CFG_FIELD(T, logging, CFG_SECTION, .sub = &logging_schema, .doc = "Log output of every process."),
    CFG_FIELD(T, kubernetes, CFG_SECTION, .sub = &kubernetes_schema, .doc = "Access to the Kubernetes API."),
    CFG_FIELD(T, run_dir, CFG_STRING, .def = "/run/haproxy-template-ic", .flags = CFG_F_NONEMPTY,
              .doc = "Directory for runtime state; rendered generations go to <run_dir>/gen/<sha256>/. Must be writable."),
    CFG_FIELD_MS(T, shutdown_timeout, .def = "20s",
              .min = SEC(1), .max = MIN(10),
              .doc = "Total bound of an orderly shutdown on SIGTERM; what is left afterwards is killed. Keep it below the pod's terminationGracePeriodSeconds (30s by default)."),
    CFG_END,
};
#undef T
const struct cfg_schema cfg_controller_schema = {.size = sizeof(struct config_controller), .fields = controller_fields};
