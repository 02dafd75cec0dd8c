/* Where the Kubernetes API is and how to authenticate: in-cluster service account or kubeconfig files.
 *
 * kube_config_load() decides once; the result is read by kube_client (several clients may share one config;
 * it must outlive them). The bearer token is re-read from its file at most every KUBE_TOKEN_REFRESH_MS and
 * right after a 401 (kube_config_token). Credentials are dropped when the server is plain http, as client-go
 * does. Nothing here logs a token. */
#ifndef HTIC_KUBE_CONFIG_H
#define HTIC_KUBE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define KUBE_SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* client-go caches a file token for 1 min minus 10 s of leeway; we re-read as often. */
#define KUBE_TOKEN_REFRESH_MS 50000
/* Service-account JWTs are ~1 KiB; a token file larger than 64 KiB is not a token. */
#define KUBE_TOKEN_MAX 65536
/* PEM files (CA bundles, client certificates) are a few KiB; a big CA bundle stays well below 1 MiB. */
#define KUBE_PEM_MAX (1u << 20)

enum kube_config_mode {
    KUBE_CONFIG_AUTO = 0,    /* explicit path, else $KUBECONFIG, else in-cluster, else ~/.kube/config */
    KUBE_CONFIG_IN_CLUSTER,  /* only the service account */
    KUBE_CONFIG_KUBECONFIG,  /* only kubeconfig files */
};

struct kube_config_opts {
    enum kube_config_mode mode;
    const char *kubeconfig;          /* explicit file (an error if missing); NULL: $KUBECONFIG, ~/.kube/config */
    const char *context;             /* NULL: the current-context */
    const char *service_account_dir; /* NULL: KUBE_SERVICE_ACCOUNT_DIR (tests point it elsewhere) */
};

/* An exec credential plugin (users[].user.exec): run by kube_client, asynchronously, when a credential is
 * needed; its ExecCredential is cached until expirationTimestamp or a 401. */
struct kube_exec {
    char *api_version;       /* client.authentication.k8s.io/v1 or /v1beta1 */
    char *command;           /* PATH lookup, or resolved against the kubeconfig's directory if it has a '/' */
    char **argv;             /* command + args, NULL-terminated, owned */
    char **env;              /* "NAME=value" added to the inherited environment, NULL-terminated, owned */
    char *exec_info;         /* the KUBERNETES_EXEC_INFO value */
};

/* ExecCredential output above 1 MiB is not a credential. */
#define KUBE_EXEC_OUTPUT_MAX (1u << 20)
/* A plugin that has not answered after this long is killed (it may be waiting for input it cannot get). */
#define KUBE_EXEC_TIMEOUT_MS 60000

struct kube_config {
    /* all strings owned; NULL when unset */
    char *server;            /* scheme://host[:port][/prefix], no trailing '/' */
    int https;               /* server scheme is https: only then are credentials used */
    char *namespace;         /* default namespace of the context, or the pod's ("default" if none) */
    char *source;            /* "in-cluster" or "kubeconfig <file> context <name>", for messages */

    char *ca_file;           /* PEM file, or NULL */
    char *ca_pem;            /* PEM bytes from certificate-authority-data */
    size_t ca_pem_len;
    int insecure_skip_tls_verify;
    char *proxy_url;         /* cluster proxy-url (http, https, socks5); NULL: libcurl's *_proxy variables */
    char *tls_server_name;   /* name used for SNI and certificate verification instead of the server host */
    char *connect_to;        /* with tls_server_name: "name:port:host:port" for CURLOPT_CONNECT_TO; the
                              * server URL then names tls_server_name */

    char *client_cert_file, *client_key_file;
    char *client_cert_pem, *client_key_pem;
    size_t client_cert_pem_len, client_key_pem_len;

    char *token;             /* static bearer token */
    char *token_file;        /* re-read token file (in-cluster, tokenFile) */
    char *username, *password; /* basic auth */

    struct kube_exec *exec;  /* owned; NULL without an exec plugin */
    char *exec_token;        /* the plugin's last credential (token, or certificate and key) */
    char *exec_cert_pem, *exec_key_pem;
    size_t exec_cert_pem_len, exec_key_pem_len;
    int64_t exec_expiry;     /* unix seconds; 0: no expiry */
    int exec_have;           /* a credential is cached */

    /* token cache (kube_config_token) */
    char *cached_token;
    uint64_t token_read_ms;  /* monotonic ms of the last read attempt; 0 never */
    int token_stale;         /* set by kube_config_token_invalidate (after a 401) */
};

int kube_config_load(const struct kube_config_opts *opts, struct kube_config **out, struct err *e);
void kube_config_free(struct kube_config *c);

/* A config pointing at url with no credentials (tests, the simulator's http mode). */
int kube_config_new_plain(const char *url, const char *namespace, struct kube_config **out, struct err *e);

/* The bearer token to send now, or NULL for none. With a token file it is re-read when older than
 * KUBE_TOKEN_REFRESH_MS or after kube_config_token_invalidate; an empty file or a read error keeps the
 * previous token (logged without the token). now_ms is a monotonic time (uv_now). */
const char *kube_config_token(struct kube_config *c, uint64_t now_ms);
/* After a 401: the next kube_config_token call re-reads the file. Returns 1 when a token file exists
 * (a retry may help), else 0. */
int kube_config_token_invalidate(struct kube_config *c);

/* Exec plugins: 1 when the plugin must run before the next request (no credential yet, expired at
 * now_unix, or invalidated by a 401). */
int kube_config_exec_needed(const struct kube_config *c, int64_t now_unix);
/* Takes the plugin's stdout (an ExecCredential of the configured apiVersion); 0, or -1 with client-go's
 * messages ("exec plugin didn't return a status field", ...). */
int kube_config_exec_output(struct kube_config *c, const char *out, size_t len, struct err *e);

/* Base64 (standard alphabet, padding optional, whitespace ignored) for the *-data fields. Returns the decoded
 * length or -1; out must hold at least (len/4+1)*3 bytes. */
long kube_base64_decode(const char *in, size_t len, unsigned char *out);

#endif
