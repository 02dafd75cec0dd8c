/* Loading the Kubernetes client configuration (see kube_config.h): in-cluster service account, or kubeconfig
 * files merged the clientcmd way (first file defining a name wins, whole; relative paths resolve against the
 * file that named them). */
#include "common/kube/kube_config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/kube/kube_yaml.h"
#include "common/log.h"

/* Several files in $KUBECONFIG are normal; a hundred is a mistake. */
#define KUBECONFIG_FILES_MAX 32

static void strv_free(char **v)
{
    for (char **p = v; p && *p; p++) free(*p);
    free(v);
}

static void exec_free(struct kube_exec *x)
{
    if (!x) return;
    free(x->api_version);
    free(x->command);
    free(x->exec_info);
    strv_free(x->argv);
    strv_free(x->env);
    free(x);
}

static void exec_cred_clear(struct kube_config *c)
{
    if (c->exec_token) memset(c->exec_token, 0, strlen(c->exec_token));
    if (c->exec_key_pem) memset(c->exec_key_pem, 0, c->exec_key_pem_len);
    free(c->exec_token);
    free(c->exec_cert_pem);
    free(c->exec_key_pem);
    c->exec_token = c->exec_cert_pem = c->exec_key_pem = NULL;
    c->exec_cert_pem_len = c->exec_key_pem_len = 0;
    c->exec_expiry = 0;
    c->exec_have = 0;
}

void kube_config_free(struct kube_config *c)
{
    if (!c) return;
    exec_cred_clear(c);
    exec_free(c->exec);
    char **strs[] = {&c->server, &c->namespace, &c->source, &c->ca_file, &c->ca_pem, &c->tls_server_name,
                     &c->client_cert_file, &c->client_key_file, &c->client_cert_pem, &c->client_key_pem,
                     &c->token, &c->token_file, &c->username, &c->cached_token, &c->connect_to, &c->proxy_url};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) free(*strs[i]);
    if (c->password) {
        memset(c->password, 0, strlen(c->password));
        free(c->password);
    }
    free(c);
}

long kube_base64_decode(const char *in, size_t len, unsigned char *out)
{
    unsigned acc = 0;
    int bits = 0, pad = 0;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        int v;
        if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
        else if (ch == '+' || ch == '-') v = 62;
        else if (ch == '/' || ch == '_') v = 63;
        else if (ch == '=') { pad++; continue; }
        else if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
        else return -1;
        if (pad) return -1; /* data after padding */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (bits >= 6) return -1; /* a lone sextet cannot encode a byte */
    return n;
}

/* Reads a whole small file into a NUL-terminated string. */
static int read_file(const char *path, size_t max, char **out, size_t *out_len, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    struct buf b;
    buf_init(&b);
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int en = errno;
            close(fd);
            buf_free(&b);
            return err_set(e, "%s: read error: %s", path, strerror(en));
        }
        if (n == 0) break;
        if (b.len + (size_t)n > max) {
            close(fd);
            buf_free(&b);
            return err_set(e, "%s: larger than %zu bytes", path, max);
        }
        buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    if (b.oom) {
        buf_free(&b);
        return err_set(e, "%s: out of memory", path);
    }
    *out_len = b.len;
    *out = buf_steal(&b);
    return 0;
}

static char *trim_dup(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    return strndup(s, n);
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* ---- token cache ---- */

const char *kube_config_token(struct kube_config *c, uint64_t now_ms)
{
    if (!c->https) return NULL;
    if (c->exec) return c->exec_have ? c->exec_token : NULL;
    if (!c->token_file) return c->token;
    if (c->cached_token && !c->token_stale && c->token_read_ms && now_ms - c->token_read_ms < KUBE_TOKEN_REFRESH_MS)
        return c->cached_token;
    c->token_read_ms = now_ms ? now_ms : 1;
    c->token_stale = 0;
    char *text = NULL;
    size_t len = 0;
    struct err e;
    err_clear(&e);
    if (read_file(c->token_file, KUBE_TOKEN_MAX, &text, &len, &e) < 0) {
        log_warn("token file unreadable, keeping the previous token", "error", e.msg);
    } else {
        char *t = trim_dup(text, len);
        free(text);
        if (!t || !*t) {
            log_warn("token file empty, keeping the previous token", "file", c->token_file);
            free(t);
        } else {
            free(c->cached_token);
            c->cached_token = t;
        }
    }
    return c->cached_token ? c->cached_token : c->token;
}

int kube_config_token_invalidate(struct kube_config *c)
{
    if (c->exec) {
        exec_cred_clear(c); /* the plugin runs again before the next request */
        return 1;
    }
    if (!c->token_file) return 0;
    c->token_stale = 1;
    return 1;
}

/* ---- exec credentials ---- */

static const char *str_field(struct json_object *o, const char *key);

int kube_config_exec_needed(const struct kube_config *c, int64_t now_unix)
{
    if (!c->exec || !c->https) return 0;
    if (!c->exec_have) return 1;
    return c->exec_expiry && now_unix >= c->exec_expiry;
}

/* RFC 3339 to unix seconds (fraction ignored); -1 when not understood. */
static int64_t parse_rfc3339(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return -1;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++) {}
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) >= 6 && p[3] == ':') {
        int sign = *p == '-' ? -1 : 1;
        off = sign * ((int64_t)atoi(p + 1) * 3600 + (int64_t)atoi(p + 4) * 60);
        p += 6;
    } else {
        return -1;
    }
    if (*p) return -1;
    return (int64_t)timegm(&tm) - off;
}

int kube_config_exec_output(struct kube_config *c, const char *out, size_t len, struct err *e)
{
    if (!c->exec) return err_set(e, "no exec plugin configured");
    struct json_tokener *tok = json_tokener_new();
    struct json_object *doc = tok ? json_tokener_parse_ex(tok, out, (int)len) : NULL;
    int ok = tok && json_tokener_get_error(tok) == json_tokener_success;
    if (tok) json_tokener_free(tok);
    int rc = -1;
    struct json_object *st;
    const char *api = ok ? str_field(doc, "apiVersion") : NULL;
    if (!ok || !json_object_is_type(doc, json_type_object)) {
        err_set(e, "exec plugin: output is not a JSON object");
    } else if (!api || strcmp(api, c->exec->api_version) != 0) {
        err_set(e, "exec plugin is configured to use API version %s, plugin returned version %s",
                c->exec->api_version, api ? api : "(none)");
    } else if (!json_object_object_get_ex(doc, "status", &st) || !json_object_is_type(st, json_type_object)) {
        err_set(e, "exec plugin didn't return a status field");
    } else {
        const char *token = str_field(st, "token"), *cert = str_field(st, "clientCertificateData");
        const char *key = str_field(st, "clientKeyData"), *exp = str_field(st, "expirationTimestamp");
        int have_cert = cert && *cert, have_key = key && *key;
        int64_t expiry = exp && *exp ? parse_rfc3339(exp) : 0;
        if (have_cert != have_key) {
            err_set(e, "exec plugin returned only certificate or key, not both");
        } else if (!(token && *token) && !have_cert) {
            err_set(e, "exec plugin didn't return a token or cert/key pair");
        } else if (expiry < 0) {
            err_set(e, "exec plugin: expirationTimestamp \"%s\" is not RFC 3339", exp);
        } else {
            exec_cred_clear(c);
            if (token && *token) c->exec_token = strdup(token);
            if (have_cert) {
                c->exec_cert_pem = strdup(cert);
                c->exec_cert_pem_len = strlen(cert);
                c->exec_key_pem = strdup(key);
                c->exec_key_pem_len = strlen(key);
            }
            c->exec_expiry = expiry;
            c->exec_have = 1;
            rc = 0;
        }
    }
    json_object_put(doc);
    return rc;
}

/* ---- helpers shared by both sources ---- */

static int set_server(struct kube_config *c, const char *url, struct err *e)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') n--;
    if (strncmp(url, "https://", 8) == 0) c->https = 1;
    else if (strncmp(url, "http://", 7) == 0) c->https = 0;
    else return err_set(e, "server \"%s\" must start with https:// or http://", url);
    if (n <= (size_t)(c->https ? 8 : 7)) return err_set(e, "server \"%s\" has no host", url);
    c->server = strndup(url, n);
    return c->server ? 0 : err_set(e, "out of memory");
}

int kube_config_new_plain(const char *url, const char *namespace, struct kube_config **out, struct err *e)
{
    *out = NULL;
    struct kube_config *c = calloc(1, sizeof(*c));
    if (!c) return err_set(e, "out of memory");
    if (set_server(c, url, e) < 0) {
        kube_config_free(c);
        return -1;
    }
    c->namespace = strdup(namespace && *namespace ? namespace : "default");
    c->source = strdup("plain");
    *out = c;
    return 0;
}

/* ---- in-cluster ---- */

static int in_cluster_possible(const char *sa_dir)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    char path[4096];
    snprintf(path, sizeof(path), "%s/token", sa_dir);
    return host && *host && port && *port && is_regular_file(path);
}

static int load_in_cluster(const char *sa_dir, struct kube_config *c, struct err *e)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return err_set(e, "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
    char url[600];
    if (strchr(host, ':'))
        snprintf(url, sizeof(url), "https://[%s]:%s", host, port);
    else
        snprintf(url, sizeof(url), "https://%s:%s", host, port);
    if (set_server(c, url, e) < 0) return -1;

    char path[4096];
    snprintf(path, sizeof(path), "%s/token", sa_dir);
    if (!is_regular_file(path)) return err_set(e, "in-cluster: %s missing (no service account token mounted?)", path);
    c->token_file = strdup(path);

    snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
    if (is_regular_file(path))
        c->ca_file = strdup(path);
    else
        log_error("in-cluster CA missing, using the system roots", "file", path);

    const char *ns = getenv("POD_NAMESPACE");
    if (ns && *ns) {
        c->namespace = strdup(ns);
    } else {
        snprintf(path, sizeof(path), "%s/namespace", sa_dir);
        char *text = NULL;
        size_t len = 0;
        if (read_file(path, 4096, &text, &len, NULL) == 0) {
            c->namespace = trim_dup(text, len);
            free(text);
        }
        if (!c->namespace || !*c->namespace) {
            free(c->namespace);
            c->namespace = strdup("default");
        }
    }
    c->source = strdup("in-cluster");
    return 0;
}

/* ---- kubeconfig ---- */

struct kc_file {
    char *path;
    char *dir;                 /* for relative paths */
    struct json_object *doc;   /* owned */
};

struct kc_set {
    struct kc_file files[KUBECONFIG_FILES_MAX];
    int n;
};

static void kc_set_free(struct kc_set *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->files[i].path);
        free(s->files[i].dir);
        json_object_put(s->files[i].doc);
    }
    s->n = 0;
}

static int kc_add(struct kc_set *s, const char *path, int must_exist, struct err *e)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->files[i].path, path) == 0) return 0; /* duplicates removed */
    if (!is_regular_file(path)) {
        if (must_exist) return err_set(e, "kubeconfig %s: no such file", path);
        return 0;
    }
    if (s->n >= KUBECONFIG_FILES_MAX) return err_set(e, "more than %d kubeconfig files", KUBECONFIG_FILES_MAX);
    struct json_object *doc;
    if (kube_yaml_load_file(path, &doc, e) < 0) return -1;
    struct kc_file *f = &s->files[s->n++];
    f->path = strdup(path);
    const char *slash = strrchr(path, '/');
    f->dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    f->doc = doc;
    return 0;
}

static const char *str_field(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

/* Keys whose value must be a string when given: one given as a mapping or a list (a YAML indentation slip)
 * was read as absent, so requests went out without the credential. */
static const char *const string_keys[] = {
    "token", "tokenFile", "username", "password", "client-certificate", "client-certificate-data",
    "client-key", "client-key-data", "server", "certificate-authority", "certificate-authority-data",
    "proxy-url", "tls-server-name", NULL,
};

static const char *json_kind(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_object: return "a mapping";
    case json_type_array: return "a list";
    case json_type_boolean: return "a boolean";
    default: return "not a string";
    }
}

/* what ("user", "cluster") and name say where; returns 0 or -1 with e set. */
static int check_string_keys(struct json_object *o, const char *what, const char *name, struct err *e)
{
    for (const char *const *k = string_keys; *k; k++) {
        struct json_object *v;
        if (o && json_object_object_get_ex(o, *k, &v) && v && !json_object_is_type(v, json_type_string))
            return err_set(e, "%s \"%s\": %s must be a string, got %s", what, name, *k, json_kind(v));
    }
    return 0;
}

static int bool_field(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v)) return 0;
    if (json_object_is_type(v, json_type_boolean)) return json_object_get_boolean(v);
    if (json_object_is_type(v, json_type_string)) return strcmp(json_object_get_string(v), "true") == 0;
    return 0;
}

/* Finds the first entry named `name` in `list` ("clusters", "users", "contexts") over all files; returns the
 * inner object (under `inner`) and the file it came from. */
static struct json_object *kc_find(struct kc_set *s, const char *list, const char *inner, const char *name,
                                   struct kc_file **from)
{
    for (int i = 0; i < s->n; i++) {
        struct json_object *arr;
        if (!json_object_object_get_ex(s->files[i].doc, list, &arr) || !json_object_is_type(arr, json_type_array))
            continue;
        size_t n = json_object_array_length(arr);
        for (size_t j = 0; j < n; j++) {
            struct json_object *ent = json_object_array_get_idx(arr, j);
            const char *nm = str_field(ent, "name");
            if (!nm || strcmp(nm, name) != 0) continue;
            struct json_object *v = NULL;
            if (!json_object_object_get_ex(ent, inner, &v) || !json_object_is_type(v, json_type_object)) v = NULL;
            *from = &s->files[i];
            return v ? v : ent; /* an entry without the inner object still counts as defined */
        }
    }
    return NULL;
}

static char *resolve_path(const struct kc_file *f, const char *p)
{
    if (!p || !*p) return NULL;
    if (p[0] == '/') return strdup(p);
    if (p[0] == '~' && p[1] == '/') {
        const char *home = getenv("HOME");
        char *out;
        if (home && asprintf(&out, "%s/%s", home, p + 2) >= 0) return out;
    }
    char *out;
    if (asprintf(&out, "%s/%s", f->dir, p) < 0) return NULL;
    return out;
}

static int decode_data(const char *what, const char *b64, char **out, size_t *out_len, struct err *e)
{
    size_t n = strlen(b64);
    if (n / 4 * 3 > KUBE_PEM_MAX) return err_set(e, "%s: larger than %u bytes", what, KUBE_PEM_MAX);
    unsigned char *d = malloc(n / 4 * 3 + 4);
    if (!d) return err_set(e, "out of memory");
    long len = kube_base64_decode(b64, n, d);
    if (len < 0) {
        free(d);
        return err_set(e, "%s: not valid base64", what);
    }
    d[len] = '\0';
    *out = (char *)d;
    *out_len = (size_t)len;
    return 0;
}

static char **strv_new(size_t n)
{
    return calloc(n + 1, sizeof(char *));
}

static int load_exec(struct kube_config *c, struct kc_file *f, const char *uname, struct json_object *x,
                     struct err *e)
{
    const char *api = str_field(x, "apiVersion"), *cmd = str_field(x, "command");
    const char *mode = str_field(x, "interactiveMode");
    if (!api || !*api) return err_set(e, "user \"%s\": exec plugin: apiVersion must be specified", uname);
    if (strcmp(api, "client.authentication.k8s.io/v1") && strcmp(api, "client.authentication.k8s.io/v1beta1"))
        return err_set(e, "user \"%s\": exec plugin: unsupported apiVersion \"%s\" (use "
                          "client.authentication.k8s.io/v1 or v1beta1)", uname, api);
    if (!cmd || !*cmd) return err_set(e, "user \"%s\": exec plugin: command must be specified", uname);
    if (!strcmp(api, "client.authentication.k8s.io/v1") && (!mode || !*mode))
        return err_set(e, "user \"%s\": interactiveMode must be specified for %s to use exec authentication "
                          "plugin", uname, uname);
    if (mode && *mode && strcmp(mode, "Never") && strcmp(mode, "IfAvailable") && strcmp(mode, "Always"))
        return err_set(e, "user \"%s\": exec plugin: invalid interactiveMode \"%s\"", uname, mode);
    if (mode && !strcmp(mode, "Always"))
        return err_set(e, "user \"%s\": exec plugin requires interactive mode (interactiveMode: Always), which "
                          "a controller cannot provide", uname);
    struct json_object *args = NULL, *env = NULL;
    json_object_object_get_ex(x, "args", &args);
    json_object_object_get_ex(x, "env", &env);
    size_t na = json_object_is_type(args, json_type_array) ? json_object_array_length(args) : 0;
    size_t ne = json_object_is_type(env, json_type_array) ? json_object_array_length(env) : 0;
    struct kube_exec *xe = calloc(1, sizeof(*xe));
    if (!xe) return err_set(e, "out of memory");
    c->exec = xe;
    xe->api_version = strdup(api);
    xe->command = (strchr(cmd, '/') && cmd[0] != '/') ? resolve_path(f, cmd) : strdup(cmd);
    xe->argv = strv_new(na + 1);
    xe->env = strv_new(ne);
    if (!xe->api_version || !xe->command || !xe->argv || !xe->env) return err_set(e, "out of memory");
    xe->argv[0] = strdup(xe->command);
    for (size_t i = 0; i < na; i++) {
        struct json_object *a = json_object_array_get_idx(args, i);
        if (!json_object_is_type(a, json_type_string))
            return err_set(e, "user \"%s\": exec plugin: args[%zu] must be a string", uname, i);
        xe->argv[i + 1] = strdup(json_object_get_string(a));
    }
    for (size_t i = 0; i < ne; i++) {
        struct json_object *ent = json_object_array_get_idx(env, i);
        const char *name = str_field(ent, "name"), *value = str_field(ent, "value");
        if (!name || !*name || !value || strchr(name, '='))
            return err_set(e, "user \"%s\": exec plugin: env[%zu] needs a name and a value", uname, i);
        if (asprintf(&xe->env[i], "%s=%s", name, value) < 0) return err_set(e, "out of memory");
    }
    if (asprintf(&xe->exec_info,
                 "KUBERNETES_EXEC_INFO={\"kind\":\"ExecCredential\",\"apiVersion\":\"%s\",\"spec\":"
                 "{\"interactive\":false}}", api) < 0)
        return err_set(e, "out of memory");
    return 0;
}

static int load_user(struct kube_config *c, struct kc_file *f, const char *uname, struct json_object *u,
                     struct err *e)
{
    if (check_string_keys(u, "user", uname, e) < 0) return -1;
    const char *tok = str_field(u, "token"), *tokfile = str_field(u, "tokenFile");
    const char *user = str_field(u, "username"), *pass = str_field(u, "password");
    struct json_object *tmp;
    if (json_object_object_get_ex(u, "auth-provider", &tmp) && tmp)
        return err_set(e, "user \"%s\": auth-provider is a legacy mechanism and not supported; use a token, "
                          "tokenFile or client certificate", uname);
    if (json_object_object_get_ex(u, "exec", &tmp) && tmp) {
        if (load_exec(c, f, uname, tmp, e) < 0) return -1;
    }
    if ((tok || tokfile) && (user || pass))
        return err_set(e, "more than one authentication method found for %s; found [token basicAuth], only one "
                          "is allowed", uname);
    if (tok && *tok) c->token = strdup(tok);
    if (tokfile && *tokfile) c->token_file = resolve_path(f, tokfile);
    if (user) c->username = strdup(user);
    if (pass) c->password = strdup(pass);

    const char *cert = str_field(u, "client-certificate"), *certd = str_field(u, "client-certificate-data");
    const char *key = str_field(u, "client-key"), *keyd = str_field(u, "client-key-data");
    int have_cert = (cert && *cert) || (certd && *certd), have_key = (key && *key) || (keyd && *keyd);
    if (have_cert != have_key)
        return err_set(e, "user \"%s\": client-certificate and client-key must be given together", uname);
    if (certd && *certd) {
        if (decode_data("client-certificate-data", certd, &c->client_cert_pem, &c->client_cert_pem_len, e) < 0)
            return -1;
    } else if (cert && *cert) {
        c->client_cert_file = resolve_path(f, cert);
    }
    if (keyd && *keyd) {
        if (decode_data("client-key-data", keyd, &c->client_key_pem, &c->client_key_pem_len, e) < 0) return -1;
    } else if (key && *key) {
        c->client_key_file = resolve_path(f, key);
    }
    return 0;
}

static int load_cluster(struct kube_config *c, struct kc_file *f, const char *cname, struct json_object *cl,
                        struct err *e)
{
    if (check_string_keys(cl, "cluster", cname, e) < 0) return -1;
    const char *server = str_field(cl, "server");
    if (!server || !*server) return err_set(e, "cluster \"%s\" has no server", cname);
    if (set_server(c, server, e) < 0) return -1;
    c->insecure_skip_tls_verify = bool_field(cl, "insecure-skip-tls-verify");
    const char *ca = str_field(cl, "certificate-authority"), *cad = str_field(cl, "certificate-authority-data");
    if (c->insecure_skip_tls_verify && ((ca && *ca) || (cad && *cad)))
        return err_set(e, "cluster \"%s\": specifying a root certificates file with the insecure flag is not "
                          "allowed", cname);
    if (cad && *cad) {
        if (ca && *ca) log_warn("certificate-authority-data overrides certificate-authority", "cluster", cname);
        if (decode_data("certificate-authority-data", cad, &c->ca_pem, &c->ca_pem_len, e) < 0) return -1;
    } else if (ca && *ca) {
        c->ca_file = resolve_path(f, ca);
    }
    const char *proxy = str_field(cl, "proxy-url");
    if (proxy && *proxy) {
        if (strncmp(proxy, "http://", 7) && strncmp(proxy, "https://", 8) && strncmp(proxy, "socks5://", 9))
            return err_set(e, "cluster \"%s\": proxy-url \"%s\" must be http://, https:// or socks5://", cname, proxy);
        c->proxy_url = strdup(proxy);
    }
    const char *sni = str_field(cl, "tls-server-name");
    if (sni && *sni && c->https) {
        /* libcurl verifies the URL's host: put the override name in the URL and connect to the real host */
        const char *h = c->server + 8, *end = h;
        if (*h == '[') {
            end = strchr(h, ']');
            if (!end) return err_set(e, "cluster \"%s\": bad IPv6 server address", cname);
            end++;
        } else {
            while (*end && *end != ':' && *end != '/') end++;
        }
        const char *port = "443", *rest = end;
        char portbuf[8];
        if (*end == ':') {
            size_t pl = strcspn(end + 1, "/");
            if (pl == 0 || pl >= sizeof(portbuf)) return err_set(e, "cluster \"%s\": bad server port", cname);
            memcpy(portbuf, end + 1, pl);
            portbuf[pl] = '\0';
            port = portbuf;
            rest = end + 1 + pl;
        }
        char *url = NULL;
        if (asprintf(&c->connect_to, "%s:%s:%.*s:%s", sni, port, (int)(end - h), h, port) < 0 ||
            asprintf(&url, "https://%s:%s%s", sni, port, rest) < 0)
            return err_set(e, "out of memory");
        free(c->server);
        c->server = url;
        c->tls_server_name = strdup(sni);
    }
    return 0;
}

static int load_kubeconfig(struct kc_set *s, const char *ctx_override, struct kube_config *c, struct err *e)
{
    const char *ctx_name = ctx_override;
    for (int i = 0; i < s->n && !(ctx_name && *ctx_name); i++) ctx_name = str_field(s->files[i].doc, "current-context");
    const char *first = s->n ? s->files[0].path : "(none)";
    if (!ctx_name || !*ctx_name)
        return err_set(e, "kubeconfig %s: no current-context set; set one or pass a context", first);
    struct kc_file *f = NULL, *cf = NULL, *uf = NULL;
    struct json_object *ctx = kc_find(s, "contexts", "context", ctx_name, &f);
    if (!ctx) return err_set(e, "kubeconfig %s: context \"%s\" not found", first, ctx_name);
    const char *cname = str_field(ctx, "cluster"), *uname = str_field(ctx, "user"), *ns = str_field(ctx, "namespace");
    if (!cname || !*cname) return err_set(e, "kubeconfig %s: context \"%s\" names no cluster", f->path, ctx_name);
    struct json_object *cl = kc_find(s, "clusters", "cluster", cname, &cf);
    if (!cl) return err_set(e, "kubeconfig %s: cluster \"%s\" (context \"%s\") not found", first, cname, ctx_name);
    char where[600];
    snprintf(where, sizeof(where), "kubeconfig %s: ", cf->path);
    struct err sub;
    err_clear(&sub);
    if (load_cluster(c, cf, cname, cl, &sub) < 0) return err_set(e, "%s%s", where, sub.msg);
    if (uname && *uname) {
        struct json_object *u = kc_find(s, "users", "user", uname, &uf);
        if (!u) return err_set(e, "kubeconfig %s: user \"%s\" (context \"%s\") not found", first, uname, ctx_name);
        snprintf(where, sizeof(where), "kubeconfig %s: ", uf->path);
        if (load_user(c, uf, uname, u, &sub) < 0) return err_set(e, "%s%s", where, sub.msg);
    }
    c->namespace = strdup(ns && *ns ? ns : "default");
    if (asprintf(&c->source, "kubeconfig %s context %s", f->path, ctx_name) < 0) c->source = NULL;
    if (!c->https && (c->token || c->token_file || c->username || c->client_cert_file || c->client_cert_pem ||
                      c->exec)) {
        log_warn("server is plain http: kubeconfig credentials are not sent", "server", c->server);
        exec_free(c->exec); /* never run a credential plugin for a server that cannot receive it */
        c->exec = NULL;
    }
    return 0;
}

static int kubeconfig_env_files(struct kc_set *s, struct err *e)
{
    const char *env = getenv("KUBECONFIG");
    if (!env || !*env) return 0;
    char *copy = strdup(env), *save = NULL;
    if (!copy) return err_set(e, "out of memory");
    for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        if (!*p) continue;
        if (kc_add(s, p, 0, e) < 0) {
            free(copy);
            return -1;
        }
    }
    free(copy);
    return 0;
}

int kube_config_load(const struct kube_config_opts *opts, struct kube_config **out, struct err *e)
{
    static const struct kube_config_opts defaults = {0};
    if (!opts) opts = &defaults;
    *out = NULL;
    const char *sa_dir = opts->service_account_dir ? opts->service_account_dir : KUBE_SERVICE_ACCOUNT_DIR;
    struct kube_config *c = calloc(1, sizeof(*c));
    if (!c) return err_set(e, "out of memory");
    struct kc_set set = {.n = 0};
    int rc = 0;

    if (opts->mode == KUBE_CONFIG_IN_CLUSTER) {
        rc = load_in_cluster(sa_dir, c, e);
        goto done;
    }
    if (opts->kubeconfig && *opts->kubeconfig) {
        rc = kc_add(&set, opts->kubeconfig, 1, e);
    } else {
        rc = kubeconfig_env_files(&set, e);
        if (rc == 0 && set.n == 0 && opts->mode == KUBE_CONFIG_AUTO && in_cluster_possible(sa_dir)) {
            rc = load_in_cluster(sa_dir, c, e);
            goto done;
        }
        if (rc == 0 && set.n == 0) {
            const char *home = getenv("HOME");
            if (home && *home) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/.kube/config", home);
                rc = kc_add(&set, path, 0, e);
            }
        }
        if (rc == 0 && set.n == 0)
            rc = err_set(e, "no Kubernetes configuration: not running in a cluster (KUBERNETES_SERVICE_HOST unset "
                            "or no service account token), KUBECONFIG names no existing file and ~/.kube/config "
                            "is missing");
    }
    if (rc == 0) rc = load_kubeconfig(&set, opts->context, c, e);
done:
    kc_set_free(&set);
    if (rc == 0 && (!c->server || !c->namespace || !c->source)) rc = err_set(e, "out of memory");
    if (rc < 0) {
        kube_config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}
