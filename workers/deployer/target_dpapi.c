/* The Data Plane API v3 target (see target_dpapi.h): libcurl's multi interface driven by the deployer's
 * libuv loop (the socket and timer callbacks of kube_client.c's approach), one request at a time per
 * target, each a step of a compare or a push. */
#include "workers/deployer/target_dpapi.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "workers/deployer/creds.h"
#include "common/haproxy/diff.h"
#include "workers/deployer/layout.h"

#define RAW_PATH "/v3/services/haproxy/configuration/raw"
#define VERSION_PATH "/v3/services/haproxy/configuration/version"
#define RELOADS_PATH "/v3/services/haproxy/reloads/"
#define RUNTIME_BACKENDS_PATH "/v3/services/haproxy/runtime/backends/"
/* Our header is among the first comment lines the server keeps (after # _md5hash, # _version and its
 * two disclaimer lines): a few lines in is enough to find it and not to scan a large config. */
#define HEADER_SCAN_LINES 16
/* A Reload-Id is YYYY-MM-DD-<counter>. */
#define RELOAD_ID_MAX 64

struct dp;
struct req;

/* One runtime map entry change: add (POST entries), set (PUT entries/{key}) or delete. */
enum map_op_kind { MOP_ADD, MOP_SET, MOP_DEL };
struct map_op {
    enum map_op_kind kind;
    const struct rundir_entry *file;  /* the new generation's map (borrowed from its rundir_gen) */
    char *key, *value;                /* owned */
};
struct map_ops {
    struct map_op *ops;  /* owned */
    size_t n;
};

static void map_ops_free(struct map_ops *m)
{
    for (size_t i = 0; i < m->n; i++) free(m->ops[i].key), free(m->ops[i].value);
    free(m->ops);
    m->ops = NULL;
    m->n = 0;
}

typedef void (*req_cb)(struct dp *dp, long status, const char *error);

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct dp *dp;
    struct sock_ctx *prev, *next;
};

enum op { OP_NONE, OP_COMPARE, OP_PUSH };
enum step { ST_READ, ST_VERSION, ST_POST, ST_POLL };

struct dp {
    struct target base;
    uv_loop_t *loop;
    char *url, *run_dir;
    struct creds *creds;  /* borrowed from the deployer: shared by every target */
    struct deploy_gate *gate;
    struct audit *audit;
    CURLM *multi;
    uv_timer_t curl_timer, poll_timer;
    int handles_open;
    struct sock_ctx *socks;
    int freeing;
    /* the request in flight (one at a time) */
    CURL *easy;
    struct curl_slist *hdrs;
    char *payload;  /* owned: the body sent */
    curl_mime *mime;  /* owned: a multipart body (storage create) */
    struct buf body;
    long cfg_version;
    char reload_id[RELOAD_ID_MAX];  /* the last response's Reload-Id header */
    char cfg_md5[64];               /* the last response's Configuration-Checksum header */
    /* what the server stored for our last push (its Configuration-Checksum): an edit behind our back that
     * keeps our header line changes it; unknown ("") after a restart, then the header is trusted */
    char pushed[RUNDIR_CHECKSUM_BUF], pushed_md5[64], posted_md5[64];
    char curl_err[CURL_ERROR_SIZE];
    req_cb cb;
    int auth_retried;           /* the request in flight was already sent again after a 401 */
    unsigned long auth_version; /* creds_version when it was sent */
    /* the operation */
    enum op op;
    enum step step;
    target_compare_cb compare_cb;
    target_push_cb push_cb;
    void *data;
    struct target_push p;
    char term[128], checksum[RUNDIR_CHECKSUM_BUF], reason[32], running[RUNDIR_CHECKSUM_BUF];
    struct rundir_gen *g;     /* owned during a push */
    struct rundir_gen *prev;  /* owned during a push: what the target ran before, if ours and still here */
    long base_version;        /* the configuration version the POST names */
    size_t si;                /* the storage file being synced (index in g), then deleted (index in prev) */
    char *file_data;          /* owned: that file's content */
    size_t file_len;
    char push_reload[RELOAD_ID_MAX];  /* the reload this push waits for */
    int conflicts;
    int fast;                 /* this push is in the fast lane: runtime PUTs, then the config stored unreloaded */
    struct diff_plan plan;    /* owned during a fast push */
    struct map_ops mops;      /* owned during a fast push: runtime map entry changes */
    size_t mi;                /* the map entry change in flight, then the map file being stored */
    size_t oi;                /* the server operation in flight */
    int64_t start_ms, reload_start_ms;
    struct target_result r;
    char error[1024];
};

static int64_t now_ms(const struct dp *dp)
{
    return deploy_gate_now(dp->gate);
}

/* ---- pure parts ---- */

int target_dpapi_find_header(const char *text, size_t len, char checksum[RUNDIR_CHECKSUM_BUF])
{
    checksum[0] = '\0';
    const char *p = text, *end = text + len;
    size_t pl = strlen(LAYOUT_HEADER_PREFIX);
    for (int i = 0; i < HEADER_SCAN_LINES && p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (ll >= pl && !memcmp(p, LAYOUT_HEADER_PREFIX, pl)) return layout_parse_header(p, ll, checksum, NULL);
        if (!ll || *p != '#') break; /* past the top comments */
        p += ll + 1;
    }
    return 0;
}

int target_dpapi_reload_status(const char *body, size_t len, char *out, size_t n)
{
    struct json_tokener *tok = json_tokener_new();
    if (!tok) return -1;
    struct json_object *o = json_tokener_parse_ex(tok, body, (int)(len > 1u << 20 ? 1u << 20 : len));
    json_tokener_free(tok);
    struct json_object *st = NULL;
    int rc = -1;
    if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "status", &st) &&
        json_object_is_type(st, json_type_string)) {
        snprintf(out, n, "%s", json_object_get_string(st));
        rc = 0;
    }
    json_object_put(o);
    return rc;
}

/* ---- libcurl on libuv ---- */

static void after_curl(struct dp *dp);

static void on_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void sock_remove(struct sock_ctx *s)
{
    struct dp *dp = s->dp;
    if (s->prev) s->prev->next = s->next;
    else dp->socks = s->next;
    if (s->next) s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    s->poll.data = s;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock_ctx *s = h->data;
    struct dp *dp = s->dp;
    int flags = status < 0 ? CURL_CSELECT_ERR : 0, running;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(dp->multi, s->fd, flags, &running);
    after_curl(dp);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct dp *dp = userp;
    struct sock_ctx *s = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(dp->multi, fd, NULL);
            sock_remove(s);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s) return -1;
        s->fd = fd;
        s->dp = dp;
        if (uv_poll_init_socket(dp->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->next = dp->socks;
        if (dp->socks) dp->socks->prev = s;
        dp->socks = s;
        curl_multi_assign(dp->multi, fd, s);
    }
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

static void on_curl_timer_fired(uv_timer_t *t)
{
    struct dp *dp = t->data;
    int running;
    curl_multi_socket_action(dp->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    after_curl(dp);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct dp *dp = userp;
    (void)multi;
    if (timeout_ms < 0) uv_timer_stop(&dp->curl_timer);
    else uv_timer_start(&dp->curl_timer, on_curl_timer_fired, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t n, void *userp)
{
    struct dp *dp = userp;
    size_t len = size * n;
    if (dp->body.len + len > TARGET_DPAPI_BODY_MAX || buf_append(&dp->body, ptr, len) < 0) return 0;
    return len;
}

/* Header names are matched case-insensitively: Go sends Reload-Id for Reload-ID. */
static size_t on_header(char *ptr, size_t size, size_t n, void *userp)
{
    struct dp *dp = userp;
    size_t len = size * n;
    static const char ver[] = "configuration-version:", rid[] = "reload-id:", sum[] = "configuration-checksum:";
    char line[256];
    if (len < sizeof(line)) {
        memcpy(line, ptr, len);
        line[len] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncasecmp(line, ver, sizeof(ver) - 1)) dp->cfg_version = strtol(line + sizeof(ver) - 1, NULL, 10);
        else if (!strncasecmp(line, sum, sizeof(sum) - 1)) {
            const char *v = line + sizeof(sum) - 1;
            while (*v == ' ') v++;
            size_t vl = strlen(v);
            if (vl < sizeof(dp->cfg_md5)) memcpy(dp->cfg_md5, v, vl + 1);
        }
        else if (!strncasecmp(line, rid, sizeof(rid) - 1)) {
            const char *v = line + sizeof(rid) - 1;
            while (*v == ' ') v++;
            size_t vl = strlen(v);
            if (vl < sizeof(dp->reload_id)) memcpy(dp->reload_id, v, vl + 1);
        }
    }
    return len;
}

static void req_end(struct dp *dp)
{
    if (dp->easy) {
        curl_multi_remove_handle(dp->multi, dp->easy);
        curl_easy_cleanup(dp->easy);
        dp->easy = NULL;
    }
    curl_slist_free_all(dp->hdrs);
    dp->hdrs = NULL;
    free(dp->payload);
    dp->payload = NULL;
    curl_mime_free(dp->mime);
    dp->mime = NULL;
}

static void reset_response(struct dp *dp)
{
    buf_reset(&dp->body);
    dp->reload_id[0] = '\0';
    dp->cfg_md5[0] = '\0';
    dp->cfg_version = 0;
    dp->curl_err[0] = '\0';
}

static int set_auth(struct dp *dp, CURL *h);

static void deliver(struct dp *dp, long status, const char *error)
{
    req_end(dp);
    req_cb cb = dp->cb;
    dp->cb = NULL;
    cb(dp, status, error);
}

/* The Secret was read again after a 401: the same request once more if the credentials changed, through the
 * gate again (it is a new write), else the 401 stands. */
static void on_creds_reread(void *data)
{
    struct dp *dp = data;
    int64_t budget = 0;
    if (!dp->easy || creds_version(dp->creds) == dp->auth_version) {
        deliver(dp, 401, NULL);
        return;
    }
    if (deploy_gate_check(dp->gate, dp->op == OP_PUSH ? dp->p.deadline_ms : INT64_MAX, &budget) < 0) {
        deliver(dp, 0, "the fence or the deadline does not allow the request again with the new credentials");
        return;
    }
    if (set_auth(dp, dp->easy) < 0) {
        deliver(dp, 0, dp->error);
        return;
    }
    log_info("sending again with the credentials read after a 401", "target", dp->base.name);
    reset_response(dp);
    curl_easy_setopt(dp->easy, CURLOPT_TIMEOUT_MS, (long)budget);
    if (curl_multi_add_handle(dp->multi, dp->easy) != CURLM_OK) deliver(dp, 0, "cannot start the request again");
}

static void after_curl(struct dp *dp)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(dp->multi, &left))) {
        if (m->msg != CURLMSG_DONE || m->easy_handle != dp->easy) continue;
        CURLcode res = m->data.result;
        long status = 0;
        curl_easy_getinfo(dp->easy, CURLINFO_RESPONSE_CODE, &status);
        char err[CURL_ERROR_SIZE + 64];
        snprintf(err, sizeof(err), "%s", dp->curl_err[0] ? dp->curl_err : curl_easy_strerror(res));
        if (res == CURLE_OK && status == 401 && dp->creds && !dp->auth_retried) {
            /* the password may have been rotated: the easy handle keeps the request, sent again once the
             * Secret was read */
            dp->auth_retried = 1;
            curl_multi_remove_handle(dp->multi, dp->easy);
            if (creds_reread(dp->creds, on_creds_reread, dp) == 0) return;
            on_creds_reread(dp); /* read just now (or a file): sent again only if that read changed them */
            return;
        }
        deliver(dp, res == CURLE_OK ? status : 0, res == CURLE_OK ? NULL : err);
        return; /* the callback may have started the next request */
    }
}

/* Puts the current credentials on the handle (libcurl copies them). -1 with dp->error naming their source. */
static int set_auth(struct dp *dp, CURL *h)
{
    char user[CREDS_USER_MAX], pw[CREDS_PASSWORD_MAX];
    struct err e = {0};
    dp->auth_version = creds_version(dp->creds);
    int rc = creds_get(dp->creds, user, sizeof(user), pw, sizeof(pw), &e);
    if (rc < 0) {
        snprintf(dp->error, sizeof(dp->error), "%s", e.msg);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, pw);
    }
    explicit_bzero(pw, sizeof(pw));
    return rc;
}

/* Starts one request after the gate's leave; cb runs from the loop. -1: not started (error filled). */
static int request_mime(struct dp *dp, const char *method, const char *path, const char *ctype, char *payload,
                        size_t len, const char *upload_name, req_cb cb)
{
    int64_t budget = 0;
    if (deploy_gate_check(dp->gate, dp->op == OP_PUSH ? dp->p.deadline_ms : INT64_MAX, &budget) < 0) {
        free(payload);
        snprintf(dp->error, sizeof(dp->error), "the fence or the deadline does not allow the next request");
        return -1;
    }
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", dp->url, path);
    reset_response(dp);
    dp->auth_retried = 0;
    dp->payload = payload;
    CURL *h = curl_easy_init();
    if (!h) {
        free(payload);
        dp->payload = NULL;
        snprintf(dp->error, sizeof(dp->error), "out of memory");
        return -1;
    }
    dp->easy = h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)budget);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, dp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, dp);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, dp->curl_err);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    int ok = 1;
    if (upload_name) { /* one part named file_upload whose filename becomes the storage name */
        curl_mimepart *part = (dp->mime = curl_mime_init(h)) ? curl_mime_addpart(dp->mime) : NULL;
        if (!part || curl_mime_name(part, "file_upload") != CURLE_OK ||
            curl_mime_filename(part, upload_name) != CURLE_OK || curl_mime_data(part, payload, len) != CURLE_OK ||
            curl_mime_type(part, "application/octet-stream") != CURLE_OK)
            ok = 0;
        curl_easy_setopt(h, CURLOPT_MIMEPOST, dp->mime);
    } else if (payload) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    char ct[128];
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "text/plain");
    /* multipart: libcurl writes the type with its boundary */
    struct curl_slist *l = upload_name ? NULL : curl_slist_append(NULL, ct);
    struct curl_slist *l2 = upload_name || l ? curl_slist_append(l, "Expect:") : NULL; /* no 100-continue */
    if (!l2) ok = 0, curl_slist_free_all(l), l2 = NULL;
    /* Every write names the push it belongs to (term, generation, checksum), as the config's header line
     * does: the real API ignores unknown headers, the stand-in's audit and the chaos checker read them, and
     * a runtime or storage write cannot carry a header line of its own. */
    if (l2 && strcmp(method, "GET") && dp->term[0]) {
        char line[3][RUNDIR_CHECKSUM_BUF + 160];
        snprintf(line[0], sizeof(line[0]), "X-Htic-Term: %s", dp->term);
        snprintf(line[1], sizeof(line[1]), "X-Htic-Generation: %" PRId64, dp->p.generation);
        snprintf(line[2], sizeof(line[2]), "X-Htic-Checksum: %s", dp->checksum);
        for (int i = 0; i < 3 && l2; i++) {
            struct curl_slist *n = curl_slist_append(l2, line[i]);
            if (!n) ok = 0, curl_slist_free_all(l2), l2 = NULL;
            else l2 = n;
        }
    }
    dp->hdrs = l2;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, dp->hdrs);
    if (dp->creds && set_auth(dp, h) < 0) ok = 0;
    if (!ok) {
        req_end(dp);
        if (!dp->error[0]) snprintf(dp->error, sizeof(dp->error), "out of memory");
        return -1;
    }
    dp->cb = cb;
    if (curl_multi_add_handle(dp->multi, h) != CURLM_OK) {
        dp->cb = NULL;
        req_end(dp);
        snprintf(dp->error, sizeof(dp->error), "cannot start the request");
        return -1;
    }
    return 0;
}

static int request(struct dp *dp, const char *method, const char *path, const char *ctype, char *payload,
                   size_t len, req_cb cb)
{
    return request_mime(dp, method, path, ctype, payload, len, NULL, cb);
}

/* A short description of a failed exchange: transport error, or status and the server's message. */
static void describe(struct dp *dp, const char *what, long status, const char *error)
{
    if (error) {
        snprintf(dp->error, sizeof(dp->error), "%s: %s", what, error);
        return;
    }
    const char *b = buf_cstr(&dp->body);
    size_t bl = strcspn(b, "\n");
    snprintf(dp->error, sizeof(dp->error), "%s: HTTP %ld %.*s%s%s%s", what, status, (int)(bl > 300 ? 300 : bl), b,
             status == 401 && dp->creds ? " (credentials from " : "", status == 401 && dp->creds ? creds_source(dp->creds) : "",
             status == 401 && dp->creds ? ")" : "");
}

/* ---- compare ---- */

static void compare_end(struct dp *dp, const char *checksum, const char *diff)
{
    dp->op = OP_NONE;
    target_compare_cb cb = dp->compare_cb;
    cb(&dp->base, checksum, diff, dp->data);
}

/* The generation named by our header, if we still have it; "" otherwise. */
static const char *vouch(struct dp *dp, const char *ck)
{
    struct rundir_gen *g = NULL;
    if (!ck[0] || rundir_open(dp->run_dir, ck, &g, NULL) < 0) return "";
    rundir_gen_free(g);
    return ck;
}

static void on_compare_read(struct dp *dp, long status, const char *error)
{
    char ck[RUNDIR_CHECKSUM_BUF];
    if (status != 200) {
        describe(dp, "GET raw configuration", status, error);
        compare_end(dp, NULL, dp->error);
        return;
    }
    if (target_dpapi_find_header(dp->body.data, dp->body.len, ck) < 0) ck[0] = '\0';
    if (ck[0] && !strcmp(ck, dp->pushed) && dp->pushed_md5[0] && dp->cfg_md5[0] &&
        strcmp(dp->cfg_md5, dp->pushed_md5) != 0) {
        char diff[256];
        snprintf(diff, sizeof(diff), "the stored haproxy.cfg changed since our push (Configuration-Checksum %s, "
                 "was %s)", dp->cfg_md5, dp->pushed_md5);
        compare_end(dp, "", diff);
        return;
    }
    compare_end(dp, vouch(dp, ck), "");
}

static int dp_compare(struct target *t, target_compare_cb cb, void *data)
{
    struct dp *dp = (struct dp *)t;
    if (dp->op != OP_NONE) return -1;
    dp->op = OP_COMPARE;
    dp->compare_cb = cb;
    dp->data = data;
    dp->error[0] = '\0';
    if (request(dp, "GET", RAW_PATH, NULL, NULL, 0, on_compare_read) < 0) {
        char why[sizeof(dp->error)];
        snprintf(why, sizeof(why), "%s", dp->error);
        compare_end(dp, NULL, why);
    }
    return 0;
}

/* ---- push ---- */

static void audit(struct dp *dp, const char *action, const char *result, const char *detail)
{
    audit_append(dp->audit, dp->term, dp->p.generation, dp->checksum, dp->base.name, action, result, detail);
}

static void push_done(struct dp *dp, int ok)
{
    dp->r.ok = ok;
    dp->r.error = ok ? NULL : dp->error;
    dp->r.duration_ms = now_ms(dp) - dp->start_ms;
    dp->r.running = ok ? dp->checksum : dp->running;
    if (ok) {
        snprintf(dp->pushed, sizeof(dp->pushed), "%s", dp->checksum);
        memcpy(dp->pushed_md5, dp->posted_md5, sizeof(dp->pushed_md5));
    }
    audit(dp, "push", ok ? "ok" : "failed", ok ? dp->r.lane : dp->error);
    rundir_gen_free(dp->g);
    rundir_gen_free(dp->prev);
    dp->g = dp->prev = NULL;
    free(dp->file_data);
    dp->file_data = NULL;
    diff_plan_free(&dp->plan);
    map_ops_free(&dp->mops);
    dp->fast = 0;
    dp->op = OP_NONE;
    dp->push_cb(&dp->base, &dp->r, dp->data);
}

static void post_config(struct dp *dp);
static void poll_reload(struct dp *dp);
static void remove_obsolete(struct dp *dp);

static void on_poll_timer(uv_timer_t *t)
{
    poll_reload(t->data);
}

static void on_reload_status(struct dp *dp, long status, const char *error)
{
    char st[32] = "";
    if (status == 200 && target_dpapi_reload_status(dp->body.data, dp->body.len, st, sizeof(st)) == 0) {
        if (!strcmp(st, "succeeded")) {
            dp->r.reload_ms = now_ms(dp) - dp->reload_start_ms;
            audit(dp, "reload", "ok", dp->push_reload);
            dp->si = 0;
            remove_obsolete(dp);
            return;
        }
        if (!strcmp(st, "failed")) {
            snprintf(dp->error, sizeof(dp->error), "HAProxy refused the reload %s (the Data Plane API restores its "
                     "last good config)", dp->push_reload);
            audit(dp, "reload", "refused", dp->push_reload);
            push_done(dp, 0);
            return;
        }
    } else if (status != 200) {
        /* 404 before the agent's next tick is not final; a transport error is retried within the deadline */
        log_debug("reload status not available yet", "target", dp->base.name, "reload_id", dp->push_reload, "status",
                  LOG_INT(status));
        (void)error;
    }
    if (now_ms(dp) + TARGET_DPAPI_RELOAD_POLL_MS >= dp->p.deadline_ms) {
        snprintf(dp->error, sizeof(dp->error), "reload %s not confirmed before the deadline", dp->push_reload);
        audit(dp, "reload", "unconfirmed", dp->push_reload);
        dp->running[0] = '\0'; /* the new config is stored; whether it serves is unknown */
        push_done(dp, 0);
        return;
    }
    uv_timer_start(&dp->poll_timer, on_poll_timer, TARGET_DPAPI_RELOAD_POLL_MS, 0);
}

static void poll_reload(struct dp *dp)
{
    char path[sizeof(RELOADS_PATH) + RELOAD_ID_MAX];
    snprintf(path, sizeof(path), "%s%s", RELOADS_PATH, dp->push_reload);
    if (request(dp, "GET", path, NULL, NULL, 0, on_reload_status) < 0) {
        audit(dp, "reload", "unconfirmed", dp->error);
        push_done(dp, 0);
    }
}

/* ---- storage: maps, certificates, general files ---- */

static const char *storage_of(int kind)
{
    switch (kind) {
    case RUNDIR_KIND_MAP: return "maps";
    case RUNDIR_KIND_CERT: return "ssl_certificates";
    case RUNDIR_KIND_FILE:
    case RUNDIR_KIND_CRT_LIST: return "general";
    default: return NULL;
    }
}

/* 1 if the storage keeps this name as it is (dataplane-api-v3.md 7.1: the base name and the extension
 * may hold only A-Z a-z 0-9 _ -, and a map gets .map appended when it lacks it); a renamed file would not
 * be where haproxy.cfg looks for it. */
int target_dpapi_storage_name_ok(int kind, const char *name)
{
    const char *dot = strrchr(name, '.');
    size_t n = strlen(name);
    if (!n || n > 255) return 0;
    for (const char *c = name; *c; c++)
        if (c != dot && !((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                          *c == '_' || *c == '-'))
            return 0;
    if (kind == RUNDIR_KIND_MAP && (!dot || strcmp(dot, ".map") != 0)) return 0;
    return 1;
}

static const struct rundir_entry *find_entry(const struct rundir_gen *g, int kind, const char *name)
{
    for (size_t i = 0; g && i < g->nfiles; i++)
        if (g->files[i].kind == kind && !strcmp(g->files[i].name, name)) return &g->files[i];
    return NULL;
}

static void sync_storage(struct dp *dp);

static void on_stored(struct dp *dp, long status, const char *error)
{
    const struct rundir_entry *f = &dp->g->files[dp->si];
    if (status < 200 || status > 299) {
        char what[320];
        snprintf(what, sizeof(what), "storing %s %s", storage_of(f->kind), f->name);
        describe(dp, what, status, error);
        audit(dp, "storage", "failed", dp->error);
        push_done(dp, 0);
        return;
    }
    dp->r.files_written++;
    audit(dp, "storage", "ok", f->name);
    dp->si++;
    sync_storage(dp);
}

static void on_stored_read(struct dp *dp, long status, const char *error)
{
    const struct rundir_entry *f = &dp->g->files[dp->si];
    const char *ep = storage_of(f->kind);
    char path[512];
    if (status == 200 && f->kind != RUNDIR_KIND_CERT && dp->body.len == dp->file_len &&
        !memcmp(dp->body.data, dp->file_data, dp->file_len)) { /* already there */
        dp->si++;
        sync_storage(dp);
        return;
    }
    if (status != 200 && status != 404) {
        char what[320];
        snprintf(what, sizeof(what), "reading %s %s", ep, f->name);
        describe(dp, what, status, error);
        push_done(dp, 0);
        return;
    }
    char *data = dp->file_data;
    dp->file_data = NULL;
    int rc;
    if (status == 404) { /* create: the multipart filename is the storage name */
        snprintf(path, sizeof(path), "/v3/services/haproxy/storage/%s?skip_reload=true", ep);
        rc = request_mime(dp, "POST", path, NULL, data, dp->file_len, f->name, on_stored);
    } else if (f->kind == RUNDIR_KIND_MAP || f->kind == RUNDIR_KIND_CERT) {
        snprintf(path, sizeof(path), "/v3/services/haproxy/storage/%s/%s?skip_reload=true", ep, f->name);
        rc = request(dp, "PUT", path, "text/plain", data, dp->file_len, on_stored);
    } else { /* general files are replaced by a multipart PUT (3.0.1+) */
        snprintf(path, sizeof(path), "/v3/services/haproxy/storage/%s/%s?skip_reload=true", ep, f->name);
        rc = request_mime(dp, "PUT", path, NULL, data, dp->file_len, f->name, on_stored);
    }
    if (rc < 0) push_done(dp, 0);
}

/* Every referenced file before the config that uses it: the next one that may differ, then the config. */
static void sync_storage(struct dp *dp)
{
    for (; dp->si < dp->g->nfiles; dp->si++) {
        const struct rundir_entry *f = &dp->g->files[dp->si];
        if (f->kind == RUNDIR_KIND_CONFIG) continue;
        if (!storage_of(f->kind) || !target_dpapi_storage_name_ok(f->kind, f->name)) {
            snprintf(dp->error, sizeof(dp->error), "%s %s: the Data Plane API storage would rename it",
                     rundir_kind_name(f->kind), f->name);
            push_done(dp, 0);
            return;
        }
        /* a certificate cannot be read back (GET gives metadata): what the target ran says if it is there */
        const struct rundir_entry *o = find_entry(dp->prev, f->kind, f->name);
        if (f->kind == RUNDIR_KIND_CERT && o && !strcmp(o->sha256, f->sha256)) continue;
        free(dp->file_data);
        dp->file_data = NULL;
        struct err e = {0};
        if (layout_read_gen_file(dp->g, f, &dp->file_data, &dp->file_len, &e) < 0) {
            snprintf(dp->error, sizeof(dp->error), "reading %s: %s", f->name, e.msg);
            push_done(dp, 0);
            return;
        }
        char path[512];
        snprintf(path, sizeof(path), "/v3/services/haproxy/storage/%s/%s", storage_of(f->kind), f->name);
        if (request(dp, "GET", path, NULL, NULL, 0, on_stored_read) < 0) push_done(dp, 0);
        return;
    }
    post_config(dp);
}

static void remove_obsolete(struct dp *dp);

static void on_removed(struct dp *dp, long status, const char *error)
{
    const struct rundir_entry *f = &dp->prev->files[dp->si];
    if (status != 204 && status != 202 && status != 404) {
        describe(dp, "deleting an obsolete storage file", status, error);
        log_warn("obsolete storage file not removed", "target", dp->base.name, "file", f->name, "error", dp->error);
        dp->error[0] = '\0';
    }
    dp->si++;
    remove_obsolete(dp);
}

/* After the config that dropped them is live: the storage files of the previous generation this one lacks. */
static void remove_obsolete(struct dp *dp)
{
    for (; dp->prev && dp->si < dp->prev->nfiles; dp->si++) {
        const struct rundir_entry *f = &dp->prev->files[dp->si];
        if (f->kind == RUNDIR_KIND_CONFIG || !storage_of(f->kind) || find_entry(dp->g, f->kind, f->name)) continue;
        char path[512];
        snprintf(path, sizeof(path), "/v3/services/haproxy/storage/%s/%s%s", storage_of(f->kind), f->name,
                 f->kind == RUNDIR_KIND_CERT ? "?skip_reload=true" : "");
        if (request(dp, "DELETE", path, NULL, NULL, 0, on_removed) < 0) break; /* the fence: leave them */
        return;
    }
    push_done(dp, 1);
}

static void on_version(struct dp *dp, long status, const char *error)
{
    if (status != 200) {
        describe(dp, "GET configuration version", status, error);
        push_done(dp, 0);
        return;
    }
    dp->base_version = strtol(buf_cstr(&dp->body), NULL, 10);
    if (dp->conflicts) post_config(dp);
    else sync_storage(dp);
}

static void fast_failed(struct dp *dp, const char *why);

static void on_posted(struct dp *dp, long status, const char *error)
{
    if (status == 409 && dp->conflicts < TARGET_DPAPI_CONFLICT_RETRIES) {
        dp->conflicts++;
        log_info("configuration version moved behind our back: reading it again", "target", dp->base.name,
                 "attempt", LOG_INT(dp->conflicts));
        audit(dp, "config", "conflict", NULL);
        if (request(dp, "GET", VERSION_PATH, NULL, NULL, 0, on_version) < 0) push_done(dp, 0);
        return;
    }
    memcpy(dp->posted_md5, dp->cfg_md5, sizeof(dp->posted_md5));
    if (status == 201) { /* stored and reloaded synchronously (or no reload needed) */
        audit(dp, "config", "ok", NULL);
        dp->si = 0;
        remove_obsolete(dp);
        return;
    }
    if (dp->fast) { /* not stored: the reload lane sends everything again (the runtime state is the new one) */
        describe(dp, "POST raw configuration without reload", status, error);
        fast_failed(dp, dp->error);
        return;
    }
    if (status != 202 || !dp->reload_id[0]) {
        describe(dp, "POST raw configuration", status, error);
        audit(dp, "config", "failed", dp->error);
        push_done(dp, 0);
        return;
    }
    memcpy(dp->push_reload, dp->reload_id, sizeof(dp->push_reload));
    dp->r.files_written++;
    dp->r.reloaded = 1;
    dp->reload_start_ms = now_ms(dp);
    audit(dp, "reload", "sent", dp->push_reload);
    poll_reload(dp);
}

static void post_config(struct dp *dp)
{
    const struct rundir_entry *cfg = NULL;
    for (size_t i = 0; i < dp->g->nfiles; i++)
        if (dp->g->files[i].kind == RUNDIR_KIND_CONFIG) cfg = &dp->g->files[i];
    char *text = NULL, header[LAYOUT_HEADER_MAX];
    size_t len = 0;
    struct err e = {0};
    if (!cfg || layout_read_gen_file(dp->g, cfg, &text, &len, &e) < 0 ||
        layout_header(dp->term, dp->p.generation, dp->checksum, header, sizeof(header)) < 0) {
        snprintf(dp->error, sizeof(dp->error), "reading the generation's config: %s", cfg ? e.msg : "none");
        free(text);
        push_done(dp, 0);
        return;
    }
    size_t hl = strlen(header);
    char *payload = malloc(hl + len + 1);
    if (!payload) {
        free(text);
        snprintf(dp->error, sizeof(dp->error), "out of memory");
        push_done(dp, 0);
        return;
    }
    memcpy(payload, header, hl);
    memcpy(payload + hl, text, len);
    payload[hl + len] = '\0';
    free(text);
    char path[128];
    /* the fast lane stores the config the runtime state already matches, so a later reload keeps it */
    snprintf(path, sizeof(path), "%s?version=%ld%s", RAW_PATH, dp->base_version > 0 ? dp->base_version : 1,
             dp->fast ? "&skip_reload=true" : "");
    if (request(dp, "POST", path, "text/plain", payload, hl + len, on_posted) < 0) push_done(dp, 0);
}

/* ---- fast lane: runtime servers ---- */

struct map_line {
    const char *key, *value;
    size_t kl, vl;
};

/* The "key value" lines of a map file (blank and # lines skipped, the value is the rest of the line). -1 if
 * a key repeats (a runtime entry is addressed by its key) or is one the entries path cannot hold. */
static int map_lines(const char *data, size_t len, struct map_line **out, size_t *n)
{
    struct map_line *l = NULL;
    size_t cnt = 0, cap = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *s = p, *e = nl ? nl : end;
        p = nl ? nl + 1 : end;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
        if (s == e || *s == '#') continue;
        const char *k = s;
        while (s < e && *s != ' ' && *s != '\t') s++;
        struct map_line m = {k, s, (size_t)(s - k), 0};
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        m.value = s, m.vl = (size_t)(e - s);
        for (size_t i = 0; i < m.kl; i++)
            if (strchr(TARGET_DPAPI_PATH_FORBIDDEN, k[i])) goto fail;
        for (size_t i = 0; i < cnt; i++)
            if (l[i].kl == m.kl && !memcmp(l[i].key, k, m.kl)) goto fail;
        if (cnt == cap) {
            struct map_line *nl2 = realloc(l, (cap = cap ? cap * 2 : 64) * sizeof(*l));
            if (!nl2) goto fail;
            l = nl2;
        }
        l[cnt++] = m;
    }
    *out = l, *n = cnt;
    return 0;
fail:
    free(l);
    return -1;
}

static const struct map_line *find_line(const struct map_line *l, size_t n, const char *key, size_t kl)
{
    for (size_t i = 0; i < n; i++)
        if (l[i].kl == kl && !memcmp(l[i].key, key, kl)) return &l[i];
    return NULL;
}

static int add_map_op(struct map_ops *m, enum map_op_kind kind, const struct rundir_entry *f, const struct map_line *x)
{
    struct map_op *ops = realloc(m->ops, (m->n + 1) * sizeof(*ops));
    if (!ops) return -1;
    m->ops = ops;
    struct map_op *o = &ops[m->n];
    o->kind = kind, o->file = f;
    o->key = strndup(x->key, x->kl);
    o->value = strndup(x->value, x->vl);
    if (!o->key || !o->value) {
        free(o->key), free(o->value);
        return -1;
    }
    m->n++;
    return 0;
}

/* The entry changes from map o (prev) to f (g), appended to m. -1 if they cannot go through the runtime
 * entry endpoints (why says so). */
static int diff_map(const struct rundir_gen *prev, const struct rundir_entry *o, const struct rundir_gen *g,
                    const struct rundir_entry *f, struct map_ops *m, char *why, size_t whylen)
{
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0, an = 0, bn = 0;
    struct map_line *la = NULL, *lb = NULL;
    int rc = -1;
    if (layout_read_gen_file(prev, o, &a, &al, NULL) < 0 || layout_read_gen_file(g, f, &b, &bl, NULL) < 0 ||
        map_lines(a, al, &la, &an) < 0 || map_lines(b, bl, &lb, &bn) < 0) {
        snprintf(why, whylen, "map %s: a key the runtime entries cannot address (repeated, or holding '/')", f->name);
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < bn && rc == 0; i++) {
        const struct map_line *x = find_line(la, an, lb[i].key, lb[i].kl);
        if (!x) rc = add_map_op(m, MOP_ADD, f, &lb[i]);
        else if (x->vl != lb[i].vl || memcmp(x->value, lb[i].value, x->vl)) rc = add_map_op(m, MOP_SET, f, &lb[i]);
    }
    for (size_t i = 0; i < an && rc == 0; i++)
        if (!find_line(lb, bn, la[i].key, la[i].kl)) rc = add_map_op(m, MOP_DEL, f, &la[i]);
    if (rc < 0) snprintf(why, whylen, "out of memory");
out:
    free(la), free(lb), free(a), free(b);
    return rc;
}

/* 1 if prev -> g fits this target's fast lane: the same files, all but haproxy.cfg and the maps unchanged,
 * the config's change one diff.c accepts (servers on their slots), the maps' changes entries the runtime
 * endpoints can address. Fills plan and mops when not NULL. */
static int classify_ex(const struct rundir_gen *prev, const struct rundir_gen *g, struct diff_plan *plan,
                       struct map_ops *mops, char *why, size_t whylen)
{
    const struct rundir_entry *ca = NULL, *cb = NULL;
    struct map_ops local_m = {0}, *mo = mops ? mops : &local_m;
    if (prev->nfiles != g->nfiles) return snprintf(why, whylen, "files were added or removed"), 0;
    for (size_t i = 0; i < g->nfiles; i++) {
        const struct rundir_entry *f = &g->files[i], *o = find_entry(prev, f->kind, f->name);
        int bad = 0;
        if (!o) bad = 1, snprintf(why, whylen, "files were added or removed");
        else if (f->kind == RUNDIR_KIND_CONFIG) ca = o, cb = f;
        else if (strcmp(o->sha256, f->sha256) != 0 && f->kind != RUNDIR_KIND_MAP)
            bad = 1, snprintf(why, whylen, "%s %s changed", rundir_kind_name(f->kind), f->name);
        else if (strcmp(o->sha256, f->sha256) != 0 && diff_map(prev, o, g, f, mo, why, whylen) < 0) bad = 1;
        if (bad) {
            map_ops_free(mo);
            return 0;
        }
    }
    size_t nm = mo->n;
    if (!mops) map_ops_free(mo);
    if (!ca) {
        map_ops_free(mo);
        return snprintf(why, whylen, "no haproxy.cfg"), 0;
    }
    if (!ca) return snprintf(why, whylen, "no haproxy.cfg"), 0;
    char *a = NULL, *b = NULL;
    size_t al, bl;
    struct err e = {0};
    struct diff_plan local, *pl = plan ? plan : &local;
    int fast = 0;
    if (layout_read_gen_file(prev, ca, &a, &al, &e) == 0 && layout_read_gen_file(g, cb, &b, &bl, &e) == 0) {
        if (diff_configs(a, al, b, bl, pl) == 0) {
            fast = pl->fast && pl->nops + nm <= TARGET_DPAPI_FAST_OPS_MAX;
            if (!pl->fast) snprintf(why, whylen, "%s", pl->reason);
            else if (!fast) snprintf(why, whylen, "%zu runtime changes: one reload is cheaper", pl->nops + nm);
            if (!plan || !fast) diff_plan_free(pl);
        }
    } else {
        snprintf(why, whylen, "%.200s", e.msg);
    }
    free(a);
    free(b);
    if (!fast && mops) map_ops_free(mops);
    return fast;
}

static int classify(const struct rundir_gen *prev, const struct rundir_gen *g, struct diff_plan *plan, char *why,
                    size_t whylen)
{
    return classify_ex(prev, g, plan, NULL, why, whylen);
}

/* The reload lane after a fast lane that did not go through: everything is sent again. */
static void fast_failed(struct dp *dp, const char *why)
{
    log_warn("fast lane failed: reloading instead", "target", dp->base.name, "error", why);
    audit(dp, "runtime", "failed", why);
    dp->fast = 0;
    dp->error[0] = '\0';
    dp->r.lane = TARGET_LANE_RELOAD;
    diff_plan_free(&dp->plan);
    map_ops_free(&dp->mops);
    if (request(dp, "GET", VERSION_PATH, NULL, NULL, 0, on_version) < 0) push_done(dp, 0);
}

static void put_server(struct dp *dp);
static void change_entry(struct dp *dp);
static void store_map(struct dp *dp);

static void on_entry_changed(struct dp *dp, long status, const char *error)
{
    const struct map_op *o = &dp->mops.ops[dp->mi];
    long want = o->kind == MOP_ADD ? 201 : o->kind == MOP_SET ? 200 : 204;
    if (status != want) {
        char what[300];
        snprintf(what, sizeof(what), "runtime map %s entry", o->file->name);
        describe(dp, what, status, error);
        fast_failed(dp, dp->error);
        return;
    }
    dp->r.runtime_commands++;
    dp->mi++;
    change_entry(dp);
}

/* One request per map entry that changed; then each changed map file into storage, unreloaded. */
static void change_entry(struct dp *dp)
{
    if (dp->mi >= dp->mops.n) {
        dp->mi = 0;
        store_map(dp);
        return;
    }
    const struct map_op *o = &dp->mops.ops[dp->mi];
    char path[1024];
    int w = o->kind == MOP_ADD ? snprintf(path, sizeof(path), "/v3/services/haproxy/runtime/maps/%s/entries", o->file->name)
                               : snprintf(path, sizeof(path), "/v3/services/haproxy/runtime/maps/%s/entries/%s",
                                          o->file->name, o->key);
    char *payload = NULL;
    if (o->kind != MOP_DEL) {
        struct json_object *b = json_object_new_object();
        if (o->kind == MOP_ADD) json_object_object_add(b, "key", json_object_new_string(o->key));
        json_object_object_add(b, "value", json_object_new_string(o->value));
        payload = strdup(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
        json_object_put(b);
        if (!payload) {
            fast_failed(dp, "out of memory");
            return;
        }
    }
    if (w < 0 || (size_t)w >= sizeof(path)) {
        free(payload);
        fast_failed(dp, "a map entry path too long");
        return;
    }
    const char *method = o->kind == MOP_ADD ? "POST" : o->kind == MOP_SET ? "PUT" : "DELETE";
    if (request(dp, method, path, payload ? "application/json" : NULL, payload, payload ? strlen(payload) : 0,
                on_entry_changed) < 0)
        push_done(dp, 0);
}

static void on_map_stored(struct dp *dp, long status, const char *error)
{
    if (status < 200 || status > 299) {
        describe(dp, "storing a map without reload", status, error);
        fast_failed(dp, dp->error);
        return;
    }
    dp->r.files_written++;
    dp->mi++;
    store_map(dp);
}

/* The changed maps' files (the runtime already holds their entries), so a later reload keeps them. */
static void store_map(struct dp *dp)
{
    for (; dp->mi < dp->g->nfiles; dp->mi++) {
        const struct rundir_entry *f = &dp->g->files[dp->mi], *o = find_entry(dp->prev, f->kind, f->name);
        if (f->kind != RUNDIR_KIND_MAP || !o || !strcmp(o->sha256, f->sha256)) continue;
        char *data = NULL, path[512];
        size_t len = 0;
        if (layout_read_gen_file(dp->g, f, &data, &len, NULL) < 0) {
            fast_failed(dp, "cannot read a map of the generation");
            return;
        }
        snprintf(path, sizeof(path), "/v3/services/haproxy/storage/maps/%s?skip_reload=true", f->name);
        if (request(dp, "PUT", path, "text/plain", data, len, on_map_stored) < 0) push_done(dp, 0);
        return;
    }
    audit(dp, "runtime", "ok", NULL);
    post_config(dp);
}

/* 1 if the server object the PUT answered shows every field we set: a 3.0-3.2 server acts on admin_state
 * only and ignores address, port and weight (dataplane-api-v3.md 8.1), which must not pass for done. */
static int server_took(const struct diff_server_op *o, struct json_object *srv)
{
    struct json_object *v;
    if (!srv || !json_object_is_type(srv, json_type_object)) return 0;
    if (o->what & DIFF_SET_ADDR) {
        if (!json_object_object_get_ex(srv, "address", &v) || strcmp(json_object_get_string(v), o->addr) != 0)
            return 0;
        if (o->port && (!json_object_object_get_ex(srv, "port", &v) || json_object_get_int(v) != o->port)) return 0;
    }
    if ((o->what & DIFF_SET_WEIGHT) &&
        (!json_object_object_get_ex(srv, "weight", &v) || json_object_get_int(v) != o->weight))
        return 0;
    if ((o->what & DIFF_SET_STATE) && (!json_object_object_get_ex(srv, "admin_state", &v) ||
                                       strcmp(json_object_get_string(v), o->enabled ? "ready" : "maint") != 0))
        return 0;
    return 1;
}

static void on_server_put(struct dp *dp, long status, const char *error)
{
    const struct diff_server_op *o = &dp->plan.ops[dp->oi];
    struct json_object *srv = status == 200 ? json_tokener_parse(buf_cstr(&dp->body)) : NULL;
    int took = server_took(o, srv);
    json_object_put(srv);
    if (!took) {
        char what[300];
        snprintf(what, sizeof(what), "runtime server %s/%s", o->backend, o->server);
        if (status == 200) snprintf(dp->error, sizeof(dp->error), "%s: the answer does not show the change", what);
        else describe(dp, what, status, error);
        fast_failed(dp, dp->error);
        return;
    }
    dp->r.runtime_commands++;
    dp->oi++;
    put_server(dp);
}

/* One PUT per server on a slot (address, port, weight, admin_state: the fields that changed); then the
 * config, stored without a reload. */
static void put_server(struct dp *dp)
{
    if (dp->oi >= dp->plan.nops) {
        dp->mi = 0;
        change_entry(dp);
        return;
    }
    const struct diff_server_op *o = &dp->plan.ops[dp->oi];
    struct json_object *b = json_object_new_object();
    if (o->what & DIFF_SET_ADDR) {
        json_object_object_add(b, "address", json_object_new_string(o->addr));
        if (o->port) json_object_object_add(b, "port", json_object_new_int(o->port));
    }
    if (o->what & DIFF_SET_WEIGHT) json_object_object_add(b, "weight", json_object_new_int(o->weight));
    if (o->what & DIFF_SET_STATE)
        json_object_object_add(b, "admin_state", json_object_new_string(o->enabled ? "ready" : "maint"));
    char *payload = strdup(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
    json_object_put(b);
    char path[sizeof(RUNTIME_BACKENDS_PATH) + 2 * DIFF_NAME_MAX + 16];
    snprintf(path, sizeof(path), RUNTIME_BACKENDS_PATH "%s/servers/%s", o->backend, o->server);
    if (!payload) {
        fast_failed(dp, "out of memory");
        return;
    }
    if (request(dp, "PUT", path, "application/json", payload, strlen(payload), on_server_put) < 0) push_done(dp, 0);
}

/* 0 if the fast lane was started, -1 if this change does not fit it. */
static int start_fast(struct dp *dp)
{
    char why[256];
    if (!classify_ex(dp->prev, dp->g, &dp->plan, &dp->mops, why, sizeof(why))) {
        log_info("change takes the reload lane", "target", dp->base.name, "why", why);
        return -1;
    }
    /* names go into the path as they are: one the path pattern refuses takes the reload lane */
    for (size_t i = 0; i < dp->plan.nops; i++)
        if (strpbrk(dp->plan.ops[i].backend, TARGET_DPAPI_PATH_FORBIDDEN) ||
            strpbrk(dp->plan.ops[i].server, TARGET_DPAPI_PATH_FORBIDDEN)) {
            diff_plan_free(&dp->plan);
            map_ops_free(&dp->mops);
            log_info("change takes the reload lane", "target", dp->base.name, "why",
                     "a server name the runtime path cannot hold");
            return -1;
        }
    dp->fast = 1;
    dp->oi = 0;
    dp->r.lane = TARGET_LANE_FAST;
    put_server(dp);
    return 0;
}

static void on_push_read(struct dp *dp, long status, const char *error)
{
    if (status != 200) {
        describe(dp, "GET raw configuration", status, error);
        push_done(dp, 0);
        return;
    }
    char ck[RUNDIR_CHECKSUM_BUF];
    if (target_dpapi_find_header(dp->body.data, dp->body.len, ck) < 0) ck[0] = '\0';
    if (ck[0] && rundir_open(dp->run_dir, ck, &dp->prev, NULL) == 0) snprintf(dp->running, sizeof(dp->running), "%s", ck);
    dp->base_version = dp->cfg_version;
    /* the fast lane needs the version (its POST names it) and a stored file that is still ours */
    int intact = dp->prev && (!ck[0] || strcmp(ck, dp->pushed) != 0 || !dp->pushed_md5[0] || !dp->cfg_md5[0] ||
                              !strcmp(dp->cfg_md5, dp->pushed_md5));
    if (dp->base_version > 0 && intact && start_fast(dp) == 0) return;
    if (dp->base_version <= 0) { /* no Configuration-Version header: ask the version endpoint */
        if (request(dp, "GET", VERSION_PATH, NULL, NULL, 0, on_version) < 0) push_done(dp, 0);
        return;
    }
    sync_storage(dp);
}

static int dp_push(struct target *t, const struct target_push *p, target_push_cb cb, void *data)
{
    struct dp *dp = (struct dp *)t;
    if (dp->op != OP_NONE) return -1;
    dp->op = OP_PUSH;
    dp->p = *p;
    snprintf(dp->term, sizeof(dp->term), "%s", p->term);
    snprintf(dp->checksum, sizeof(dp->checksum), "%s", p->checksum);
    snprintf(dp->reason, sizeof(dp->reason), "%s", p->reason ? p->reason : "");
    dp->p.term = dp->term, dp->p.checksum = dp->checksum, dp->p.reason = dp->reason, dp->p.from = "";
    dp->push_cb = cb;
    dp->data = data;
    dp->conflicts = 0;
    dp->error[0] = '\0';
    dp->running[0] = '\0';
    dp->posted_md5[0] = '\0';
    memset(&dp->r, 0, sizeof(dp->r));
    dp->r.lane = TARGET_LANE_RELOAD;
    dp->start_ms = now_ms(dp);
    struct err e = {0};
    if (rundir_open(dp->run_dir, dp->checksum, &dp->g, &e) < 0) {
        snprintf(dp->error, sizeof(dp->error), "%s", e.msg);
        dp->r.lane = TARGET_LANE_NONE;
        push_done(dp, 0);
        return 0;
    }
    if (request(dp, "GET", RAW_PATH, NULL, NULL, 0, on_push_read) < 0) push_done(dp, 0);
    return 0;
}

static int dp_fast_ok(struct target *t, const char *from, const char *to)
{
    struct dp *dp = (struct dp *)t;
    struct rundir_gen *a = NULL, *b = NULL;
    char why[256];
    int fast = from && from[0] && rundir_open(dp->run_dir, from, &a, NULL) == 0 &&
               rundir_open(dp->run_dir, to, &b, NULL) == 0 && classify(a, b, NULL, why, sizeof(why));
    rundir_gen_free(a);
    rundir_gen_free(b);
    return fast;
}

/* ---- lifetime ---- */

static void really_free(struct dp *dp)
{
    buf_free(&dp->body);
    free(dp->base.name);
    free(dp->url);
    free(dp->run_dir);
    free(dp);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct dp *dp = h->data;
    if (--dp->handles_open == 0) really_free(dp);
}

static void dp_free(struct target *t)
{
    struct dp *dp = (struct dp *)t;
    if (!dp) return;
    dp->freeing = 1;
    creds_cancel(dp->creds, dp);
    req_end(dp);
    rundir_gen_free(dp->g);
    rundir_gen_free(dp->prev);
    dp->g = dp->prev = NULL;
    free(dp->file_data);
    dp->file_data = NULL;
    diff_plan_free(&dp->plan);
    map_ops_free(&dp->mops);
    if (dp->multi) curl_multi_cleanup(dp->multi); /* may report sockets removed (sock_remove) */
    dp->multi = NULL;
    while (dp->socks) sock_remove(dp->socks);
    if (!dp->handles_open) {
        really_free(dp);
        return;
    }
    uv_timer_stop(&dp->curl_timer);
    uv_timer_stop(&dp->poll_timer);
    uv_close((uv_handle_t *)&dp->curl_timer, on_handle_closed);
    uv_close((uv_handle_t *)&dp->poll_timer, on_handle_closed);
}

static const struct target_ops dpapi_ops = {
    .kind = "dataplaneapi",
    .compare = dp_compare,
    .push = dp_push,
    .fast_ok = dp_fast_ok,
    .free = dp_free,
};

const char *target_dpapi_url(const struct target *t)
{
    return ((const struct dp *)t)->url;
}

struct target *target_dpapi_new(uv_loop_t *loop, const struct target_dpapi_opts *o, struct deploy_gate *gate,
                                struct audit *a)
{
    struct dp *dp = calloc(1, sizeof(*dp));
    if (!dp) return NULL;
    dp->base.ops = &dpapi_ops;
    dp->loop = loop;
    dp->gate = gate;
    dp->audit = a;
    buf_init(&dp->body);
    dp->base.name = strdup(o->name);
    dp->url = strdup(o->url);
    dp->creds = o->creds;
    dp->run_dir = strdup(o->run_dir);
    if (dp->url) { /* base URL without a trailing slash: paths start with one */
        size_t l = strlen(dp->url);
        while (l && dp->url[l - 1] == '/') dp->url[--l] = '\0';
    }
    dp->multi = curl_multi_init();
    if (!dp->base.name || !dp->url || !dp->run_dir || !dp->multi) {
        dp_free(&dp->base);
        return NULL;
    }
    curl_multi_setopt(dp->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(dp->multi, CURLMOPT_SOCKETDATA, dp);
    curl_multi_setopt(dp->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(dp->multi, CURLMOPT_TIMERDATA, dp);
    uv_timer_init(loop, &dp->curl_timer);
    uv_timer_init(loop, &dp->poll_timer);
    dp->curl_timer.data = dp->poll_timer.data = dp;
    dp->handles_open = 2;
    return &dp->base;
}
