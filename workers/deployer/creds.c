/* The Data Plane API credentials (see creds.h): a password file read at each use, or a Secret read through
 * the deployer's own Kubernetes client and kept in memory. */
#include "workers/deployer/creds.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config/config.h"
#include "common/kube/kube_client.h"
#include "common/kube/kube_config.h"
#include "common/kube/kube_path.h"
#include "common/log.h"

struct waiter {
    creds_cb cb;
    void *data;
};

/* Targets that wait at once for one read: one per pod, and pods are bounded by the scheduler's target cap. */
#define CREDS_WAITERS_MAX 4096

struct creds {
    char source[320];          /* "Secret ns/name" or "password_file /path" */
    /* a password file */
    char *username, *password_file;  /* owned */
    /* a Secret */
    int secret;
    char *ns, *name, *user_key, *password_key;  /* owned */
    struct kube_config *kcfg;  /* owned; outlives the client (freed after its handles closed) */
    struct kube_client *client; /* owned */
    struct kube_call *call;    /* the read in flight, or NULL */
    uv_timer_t timer;          /* a throttled re-read; closed last, so its close callback frees the rest */
    int ready;                 /* the first read ended */
    int ok;                    /* the last read gave credentials */
    int64_t read_at_ms;        /* when the last read started */
    char user[CREDS_USER_MAX], pw[CREDS_PASSWORD_MAX];
    char error[1024];          /* why the last read failed, naming the Secret, never a value */
    unsigned long version;
    struct waiter *waiters;    /* owned */
    size_t nwaiters;
    struct waiter ready_waiter;
};

struct creds *creds_new_file(const char *username, const char *password_file)
{
    struct creds *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->username = strdup(username ? username : "");
    c->password_file = password_file ? strdup(password_file) : NULL;
    if (!c->username || (password_file && !c->password_file)) {
        creds_free(c);
        return NULL;
    }
    snprintf(c->source, sizeof(c->source), "password_file %s", password_file ? password_file : "(none)");
    c->ready = 1;
    return c;
}

int creds_from_secret(struct json_object *secret, const char *user_key, const char *password_key, char *user,
                      size_t un, char *pw, size_t pn, struct err *e)
{
    struct json_object *data = NULL;
    if (!secret || !json_object_object_get_ex(secret, "data", &data) || !json_object_is_type(data, json_type_object))
        return err_set(e, "has no data");
    const char *keys[2] = {user_key, password_key};
    char *outs[2] = {user, pw};
    size_t ns[2] = {un, pn};
    for (int i = 0; i < 2; i++) {
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(data, keys[i], &v) || !json_object_is_type(v, json_type_string))
            return err_set(e, "has no key %s", keys[i]);
        size_t len = (size_t)json_object_get_string_len(v);
        /* base64 of at most ns[i] - 1 bytes */
        if (len / 4 * 3 > ns[i] + 3) return err_set(e, "key %s: longer than %zu bytes", keys[i], ns[i] - 1);
        unsigned char *d = malloc(len / 4 * 3 + 4);
        if (!d) return err_set(e, "out of memory");
        long got = kube_base64_decode(json_object_get_string(v), len, d);
        int bad = got < 0 || (size_t)got >= ns[i] || memchr(d, '\0', (size_t)(got < 0 ? 0 : got));
        if (!bad) {
            memcpy(outs[i], d, (size_t)got);
            outs[i][got] = '\0';
            outs[i][strcspn(outs[i], "\r\n")] = '\0'; /* a value written by `echo` keeps its newline */
        }
        explicit_bzero(d, len / 4 * 3 + 4);
        free(d);
        if (bad) return err_set(e, "key %s: not base64 of a string shorter than %zu bytes", keys[i], ns[i]);
        if (i == 0 && !user[0]) return err_set(e, "key %s: empty", keys[i]);
    }
    return 0;
}

static void call_waiters(struct creds *c)
{
    if (c->ready_waiter.cb) {
        struct waiter w = c->ready_waiter;
        c->ready_waiter.cb = NULL;
        w.cb(w.data);
    }
    /* a callback may add waiters (a retried request) or cancel others: take the list first */
    struct waiter *ws = c->waiters;
    size_t n = c->nwaiters;
    c->waiters = NULL;
    c->nwaiters = 0;
    for (size_t i = 0; i < n; i++)
        if (ws[i].cb) ws[i].cb(ws[i].data);
    free(ws);
}

static void on_secret(void *data, struct kube_response *r)
{
    struct creds *c = data;
    c->call = NULL;
    char user[CREDS_USER_MAX], pw[CREDS_PASSWORD_MAX];
    struct err e = {0};
    int rc = -1;
    if (r->err == KUBE_OK) {
        rc = creds_from_secret(r->body, c->user_key, c->password_key, user, sizeof(user), pw, sizeof(pw), &e);
        if (rc < 0) snprintf(c->error, sizeof(c->error), "%s %s", c->source, e.msg);
    } else if (r->err == KUBE_ERR_NOT_FOUND) {
        snprintf(c->error, sizeof(c->error), "%s not found", c->source);
    } else if (r->err == KUBE_ERR_FORBIDDEN) {
        snprintf(c->error, sizeof(c->error), "%s: forbidden (the controller's service account needs get on it)",
                 c->source);
    } else {
        snprintf(c->error, sizeof(c->error), "%s: cannot be read (%s%s%.200s)", c->source, kube_err_name(r->err),
                 r->message[0] ? ": " : "", r->message);
    }
    if (r->raw.data) explicit_bzero(r->raw.data, r->raw.len); /* the values, in base64 */
    if (rc == 0) {
        if (!c->ok || strcmp(user, c->user) != 0 || strcmp(pw, c->pw) != 0) {
            c->version++;
            explicit_bzero(c->pw, sizeof(c->pw));
            memcpy(c->user, user, sizeof(user));
            memcpy(c->pw, pw, sizeof(pw));
            log_info("Data Plane API credentials read", "secret", c->source + strlen("Secret "), "version",
                     LOG_UINT(c->version));
        }
        c->ok = 1;
        c->error[0] = '\0';
    } else {
        if (c->ok) c->version++;
        c->ok = 0;
        explicit_bzero(c->pw, sizeof(c->pw));
        log_warn("cannot read the Data Plane API credentials", "error", c->error);
    }
    explicit_bzero(pw, sizeof(pw));
    c->ready = 1;
    call_waiters(c);
}

static int start_read(struct creds *c)
{
    if (c->call) return 0;
    struct buf path;
    buf_init(&path);
    struct kube_resource res = {.group = "", .version = "v1", .resource = "secrets", .namespace = c->ns};
    int rc = kube_path_build(&res, c->name, &path);
    c->read_at_ms = clock_mono_ms();
    if (rc == 0)
        rc = kube_request(c->client, "GET", buf_cstr(&path), NULL, CREDS_READ_TIMEOUT_MS, on_secret, c, &c->call);
    buf_free(&path);
    if (rc < 0) snprintf(c->error, sizeof(c->error), "%s: the read could not be started", c->source);
    return rc;
}

int creds_new_secret(uv_loop_t *loop, const struct config *cfg, struct creds **out, struct err *e)
{
    const struct config_secret_ref *s = &cfg->haproxy.dataplane.credentials_secret;
    const char *ns = s->namespace && *s->namespace ? s->namespace : cfg->controller.leader_election.lease_namespace;
    if (!ns || !*ns)
        return err_set(e, "haproxy.dataplane.credentials_secret.namespace is empty and the controller's namespace "
                          "is unknown: set it, or POD_NAMESPACE");
    struct creds *c = calloc(1, sizeof(*c));
    if (!c) return err_set(e, "out of memory");
    c->secret = 1;
    c->ns = strdup(ns);
    c->name = strdup(s->name);
    c->user_key = strdup(s->username_key);
    c->password_key = strdup(s->password_key);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    if (!c->ns || !c->name || !c->user_key || !c->password_key) {
        creds_free(c);
        return err_set(e, "out of memory");
    }
    snprintf(c->source, sizeof(c->source), "Secret %s/%s", c->ns, c->name);
    const struct config_kubernetes *k = &cfg->controller.kubernetes;
    struct kube_config_opts ko = {.mode = KUBE_CONFIG_AUTO,
                                  .kubeconfig = k->kubeconfig && k->kubeconfig[0] ? k->kubeconfig : NULL,
                                  .context = k->context && k->context[0] ? k->context : NULL};
    char ua[128];
    snprintf(ua, sizeof(ua), "haproxy-template-ic-deployer/%s", HTIC_VERSION);
    struct kube_client_opts copts = {.user_agent = ua, .default_timeout_ms = (int)k->request_timeout_ms};
    if (kube_config_load(&ko, &c->kcfg, e) < 0 || kube_client_new(loop, c->kcfg, &copts, &c->client, e) < 0 ||
        start_read(c) < 0) {
        if (!e || !e->msg[0]) err_set(e, "%s", c->error);
        creds_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int creds_ready(const struct creds *c)
{
    return c->ready;
}

void creds_on_ready(struct creds *c, creds_cb cb, void *data)
{
    if (c->ready) return;
    c->ready_waiter.cb = cb;
    c->ready_waiter.data = data;
}

static int read_password(const char *path, char *out, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t got = read(fd, out, n - 1);
    close(fd);
    if (got < 0) return -1;
    out[got] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

int creds_get(struct creds *c, char *user, size_t un, char *pw, size_t pn, struct err *e)
{
    if (!c->secret) {
        if (!c->password_file) return err_set(e, "no Data Plane API credentials configured");
        if (read_password(c->password_file, pw, pn) < 0)
            return err_set(e, "cannot read the Data Plane API password file %s", c->password_file);
        snprintf(user, un, "%s", c->username);
        return 0;
    }
    if (!c->ok) {
        if (!c->call && clock_mono_ms() - c->read_at_ms >= CREDS_REREAD_MIN_MS) start_read(c); /* for the retry */
        return err_set(e, "credentials: %s", c->error[0] ? c->error : "not read yet");
    }
    if (strlen(c->user) >= un || strlen(c->pw) >= pn) return err_set(e, "credentials: too long");
    memcpy(user, c->user, strlen(c->user) + 1);
    memcpy(pw, c->pw, strlen(c->pw) + 1);
    return 0;
}

unsigned long creds_version(const struct creds *c)
{
    return c->version;
}

static void on_reread_timer(uv_timer_t *t)
{
    struct creds *c = t->data;
    if (!c->call && start_read(c) < 0) call_waiters(c); /* they see the same version: the 401 stands */
}

int creds_reread(struct creds *c, creds_cb cb, void *data)
{
    if (!c->secret || c->nwaiters >= CREDS_WAITERS_MAX) return -1;
    struct waiter *ws = realloc(c->waiters, (c->nwaiters + 1) * sizeof(*ws));
    if (!ws) return -1;
    c->waiters = ws;
    ws[c->nwaiters++] = (struct waiter){cb, data};
    if (c->call || uv_is_active((uv_handle_t *)&c->timer)) return 0; /* that read serves this waiter too */
    log_info("Data Plane API refused the credentials: reading the Secret again", "secret",
             c->source + strlen("Secret "));
    int64_t wait = c->read_at_ms + CREDS_REREAD_MIN_MS - clock_mono_ms();
    if (wait > 0) uv_timer_start(&c->timer, on_reread_timer, (uint64_t)wait, 0);
    else if (start_read(c) < 0) {
        c->nwaiters--;
        return -1;
    }
    return 0;
}

void creds_cancel(struct creds *c, void *data)
{
    if (!c) return;
    for (size_t i = 0; i < c->nwaiters; i++)
        if (c->waiters[i].data == data) c->waiters[i].cb = NULL;
    if (c->ready_waiter.data == data) c->ready_waiter.cb = NULL;
}

const char *creds_source(const struct creds *c)
{
    return c->source;
}

static void really_free(struct creds *c)
{
    kube_config_free(c->kcfg);
    explicit_bzero(c->pw, sizeof(c->pw));
    free(c->username);
    free(c->password_file);
    free(c->ns);
    free(c->name);
    free(c->user_key);
    free(c->password_key);
    free(c->waiters);
    free(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    really_free(h->data);
}

void creds_free(struct creds *c)
{
    if (!c) return;
    if (!c->secret) {
        really_free(c);
        return;
    }
    if (c->call) kube_call_cancel(c->call);
    c->call = NULL;
    uv_timer_stop(&c->timer);
    kube_client_close(c->client); /* its handles close before our timer's: the config outlives them */
    c->client = NULL;
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
