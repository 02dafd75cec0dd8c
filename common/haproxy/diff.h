/* Classifies the change between two generations' haproxy.cfg for the fast lane: PURE (two texts in, a
 * plan out). The change fits the fast lane only if both configs have the same lines except `server` lines
 * in a backend or listen section that keep their name and differ only in address, port, `weight N` or
 * `disabled`/`enabled` (servers on pre-allocated slots: `server SRV_n addr:port ...`). Each such line
 * becomes one runtime operation. Anything else (a line added or removed, a new backend, more endpoints
 * than slots, a changed option, a host name where an address was) does not fit, with the reason.
 * Map files are not compared here (the deployer's targets compare the manifests). Shared by the deployer's
 * fast lane and the validator, which needs no haproxy -c for a change that only moves slot servers. A certificate whose content
 * changed becomes `set ssl cert` payloads (diff_cert_payloads): PEM blocks only, never an empty line (it
 * ends a CLI payload), split into certificates and key when one payload would not fit.
 * Not for: sending the commands (the deployer's mcli.h) or deciding when to push (its scheduler.h). */
#ifndef HTIC_HAPROXY_DIFF_H
#define HTIC_HAPROXY_DIFF_H

#include <stddef.h>

/* Runtime operations per push in the fast lane: 10k slots each changing everything is 30k commands. */
#define DIFF_OPS_MAX 100000
/* A proxy or server name (HAProxy keeps them short; 127 is far beyond what the templates generate). */
#define DIFF_NAME_MAX 128
/* An address as text: an IPv6 address is at most 45 characters. */
#define DIFF_ADDR_MAX 64

#define DIFF_SET_ADDR 1u
#define DIFF_SET_WEIGHT 2u
#define DIFF_SET_STATE 4u

struct diff_server_op {
    char backend[DIFF_NAME_MAX];
    char server[DIFF_NAME_MAX];
    unsigned what;       /* DIFF_SET_* */
    char addr[DIFF_ADDR_MAX];
    int port;            /* 0: the line has no port (kept as is) */
    int weight;
    int enabled;         /* 1: ready, 0: maint */
};

struct diff_plan {
    int fast;                    /* 1: the change fits the fast lane (ops may be empty: same config) */
    char reason[256];            /* when !fast: the first thing that does not fit */
    struct diff_server_op *ops;  /* owned */
    size_t nops;
};

/* A certificate file (certificates, chain and key in one PEM) as `set ssl cert` payloads. */
struct diff_cert_payloads {
    char *pem;  /* owned: every PEM block of the file, or (when key is set) all but the key blocks */
    char *key;  /* owned: the key blocks, for `set ssl cert <path>.key`, when one payload would exceed max */
};

/* Returns 0 with out filled (free with diff_cert_payloads_free), 1 when the file cannot go through the
 * runtime API (why says so: no certificate, or a part larger than max bytes), -1 when out of memory. */
int diff_cert_payloads(const char *pem, size_t len, size_t max, struct diff_cert_payloads *out, char *why,
                       size_t whylen);
void diff_cert_payloads_free(struct diff_cert_payloads *out);

/* Returns 0 with plan filled (free with diff_plan_free), -1 when out of memory. */
int diff_configs(const char *a, size_t alen, const char *b, size_t blen, struct diff_plan *plan);
void diff_plan_free(struct diff_plan *plan);

#endif
