/* The local HAProxy target (see target_local.h). */
#include "workers/deployer/target_local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/haproxy/diff.h"
#include "workers/deployer/mcli.h"

/* A map payload chunk: below the batch bound with room for the `add map @ver <path> <<` line. */
#define MAP_CHUNK_MAX (MCLI_BATCH_MAX - 1024)
/* `@1 set ssl cert ` + path + `.key <<` + the newlines: what a certificate payload shares its request with. */
#define CERT_CMD_OVERHEAD 32

struct local {
    struct target base;
    uv_loop_t *loop;
    char *socket;
    char *config_file, *maps_dir, *certs_dir, *general_dir;
    struct layout_paths paths;
    char *run_dir;
    struct deploy_gate *gate;
    struct audit *audit;
    struct push *busy;  /* one push at a time */
};

enum phase { PH_FAST_CERT_NAMES, PH_FAST_SERVERS, PH_FAST_MAPS, PH_FAST_ABORT, PH_PROC_BEFORE, PH_RELOAD, PH_PROC_AFTER };

struct push {
    struct local *l;
    struct target_push p;
    char term[128], checksum[RUNDIR_CHECKSUM_BUF], from[RUNDIR_CHECKSUM_BUF], reason[32];
    struct rundir_gen *g, *prev;     /* owned */
    char header[LAYOUT_HEADER_MAX];  /* this generation's */
    char old_header[LAYOUT_HEADER_MAX];  /* the target's before we wrote (for a rollback) */
    struct diff_plan plan;
    char **map_paths;                /* owned: production paths of the maps changed in the fast lane */
    size_t nmaps;
    char **cert_paths;               /* owned: HAProxy's names of the certificates updated in the fast lane */
    size_t ncerts;
    enum phase phase;
    struct mcli_proc before;
    uv_timer_t poll;
    int poll_open;
    int64_t start_ms, reload_start_ms;
    struct target_result r;
    char error[1024];
    target_push_cb cb;
    void *data;
};

static int64_t now_ms(const struct local *l)
{
    return deploy_gate_now(l->gate);
}

static void audit(struct push *x, const char *action, const char *result, const char *detail)
{
    audit_append(x->l->audit, x->term, x->p.generation, x->checksum, x->l->base.name, action, result, detail);
}

/* ---- compare ---- */

static int local_compare(struct target *t, target_compare_cb cb, void *data)
{
    struct local *l = (struct local *)t;
    char ck[RUNDIR_CHECKSUM_BUF];
    if (layout_read_checksum(&l->paths, ck, NULL) < 0) {
        cb(t, NULL, "", data);
        return 0;
    }
    if (!ck[0]) {
        cb(t, "", "", data);
        return 0;
    }
    struct rundir_gen *g = NULL;
    struct err e = {0};
    if (rundir_open(l->run_dir, ck, &g, &e) < 0) { /* not a generation we still have: cannot vouch for it */
        cb(t, "", "", data);
        return 0;
    }
    struct buf diff;
    buf_init(&diff);
    int same = layout_verify(&l->paths, g, &diff, &e);
    rundir_gen_free(g);
    if (same < 0) cb(t, NULL, e.msg, data);
    else cb(t, same ? ck : "", buf_cstr(&diff), data);
    buf_free(&diff);
    return 0;
}

/* ---- fast lane: what fits ---- */

static const struct rundir_entry *find_entry(const struct rundir_gen *g, int kind, const char *name)
{
    for (size_t i = 0; i < g->nfiles; i++)
        if (g->files[i].kind == kind && !strcmp(g->files[i].name, name)) return &g->files[i];
    return NULL;
}

/* 1 if the master CLI can carry path as one word: its parser splits on spaces and tabs, takes `;` between
 * commands and `\\` as an escape, and a newline would end the command. */
static int cli_word_ok(const char *path)
{
    return path[0] && !path[strcspn(path, " \t;\\\r\n")];
}

/* The payloads of a changed certificate of g, at its production path. 0, or 1 with why (does not fit),
 * -1 out of memory or unreadable (why says so). */
static int cert_payloads(const struct layout_paths *paths, const struct rundir_gen *g, const struct rundir_entry *f,
                         char *path, size_t pathlen, struct diff_cert_payloads *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (layout_prod_path(paths, f->kind, f->name, path, pathlen) < 0 || !cli_word_ok(path))
        return snprintf(why, whylen, "certificate %s: a path the master CLI cannot carry", f->name), 1;
    char *data = NULL;
    size_t len = 0;
    struct err e = {0};
    if (layout_read_gen_file(g, f, &data, &len, &e) < 0)
        return snprintf(why, whylen, "certificate %s: %.200s", f->name, e.msg), -1;
    char sub[200];
    int rc = diff_cert_payloads(data, len, MCLI_BATCH_MAX - CERT_CMD_OVERHEAD - strlen(path), out, sub, sizeof(sub));
    free(data);
    if (rc > 0) snprintf(why, whylen, "certificate %s: %s", f->name, sub);
    else if (rc < 0) snprintf(why, whylen, "out of memory");
    return rc;
}

/* 1 if prev -> g fits the fast lane: same set of files, only the config (by diff.c's rules), maps and the
 * content of certificates changed (a certificate added, removed or renamed, or a crt-list changed, needs
 * HAProxy to read its configuration again). Fills plan (when not NULL). */
static int classify(const struct layout_paths *paths, const struct rundir_gen *prev, const struct rundir_gen *g,
                    struct diff_plan *plan, char *why, size_t whylen)
{
    if (prev->nfiles != g->nfiles) return snprintf(why, whylen, "files were added or removed"), 0;
    const struct rundir_entry *ca = NULL, *cb = NULL;
    for (size_t i = 0; i < g->nfiles; i++) {
        const struct rundir_entry *f = &g->files[i], *o = find_entry(prev, f->kind, f->name);
        if (!o) return snprintf(why, whylen, "files were added or removed"), 0;
        if (f->kind == RUNDIR_KIND_CONFIG) {
            ca = o, cb = f;
        } else if (!strcmp(o->sha256, f->sha256)) {
            continue;
        } else if (f->kind == RUNDIR_KIND_MAP) {
            char path[4096];
            if (layout_prod_path(paths, f->kind, f->name, path, sizeof(path)) < 0 || !cli_word_ok(path))
                return snprintf(why, whylen, "map %s: a path the master CLI cannot carry", f->name), 0;
        } else if (f->kind == RUNDIR_KIND_CERT) {
            char path[4096];
            struct diff_cert_payloads cp;
            int rc = cert_payloads(paths, g, f, path, sizeof(path), &cp, why, whylen);
            diff_cert_payloads_free(&cp);
            if (rc != 0) return 0;
        } else {
            return snprintf(why, whylen, "%s %s changed", rundir_kind_name(f->kind), f->name), 0;
        }
    }
    if (!ca || !cb) return snprintf(why, whylen, "no haproxy.cfg"), 0;
    char *a = NULL, *b = NULL;
    size_t al, bl;
    struct err e = {0};
    int fast = 0;
    if (layout_read_gen_file(prev, ca, &a, &al, &e) == 0 && layout_read_gen_file(g, cb, &b, &bl, &e) == 0) {
        struct diff_plan local_plan, *pl = plan ? plan : &local_plan;
        if (diff_configs(a, al, b, bl, pl) == 0) {
            fast = pl->fast;
            if (!fast) snprintf(why, whylen, "%s", pl->reason);
            if (!plan) diff_plan_free(pl);
        }
    } else {
        snprintf(why, whylen, "%.200s", e.msg);
    }
    free(a);
    free(b);
    return fast;
}

static int local_fast_ok(struct target *t, const char *from, const char *to)
{
    struct local *l = (struct local *)t;
    struct rundir_gen *a = NULL, *b = NULL;
    char why[256];
    int fast = rundir_open(l->run_dir, from, &a, NULL) == 0 && rundir_open(l->run_dir, to, &b, NULL) == 0 &&
               classify(&l->paths, a, b, NULL, why, sizeof(why));
    rundir_gen_free(a);
    rundir_gen_free(b);
    return fast;
}

/* ---- the end of a push ---- */

static void push_free(struct push *x)
{
    rundir_gen_free(x->g);
    rundir_gen_free(x->prev);
    diff_plan_free(&x->plan);
    for (size_t i = 0; i < x->nmaps; i++) free(x->map_paths[i]);
    free(x->map_paths);
    for (size_t i = 0; i < x->ncerts; i++) free(x->cert_paths[i]);
    free(x->cert_paths);
    free(x);
}

static void on_poll_closed(uv_handle_t *h)
{
    push_free(h->data);
}

static void done(struct push *x, int ok, const char *error)
{
    struct local *l = x->l;
    x->r.ok = ok;
    if (error && error != x->error) snprintf(x->error, sizeof(x->error), "%s", error);
    x->r.error = ok ? NULL : x->error;
    x->r.duration_ms = now_ms(l) - x->start_ms;
    if (!x->r.running) x->r.running = ok ? x->checksum : (x->prev ? x->prev->checksum : "");
    audit(x, "push", ok ? "ok" : "failed", ok ? x->r.lane : x->error);
    l->busy = NULL;
    x->cb(&l->base, &x->r, x->data);
    if (x->poll_open) uv_close((uv_handle_t *)&x->poll, on_poll_closed);
    else push_free(x);
}

/* A refused reload or a failed write: the previous generation's files back (with its own header line). */
static void roll_back(struct push *x, const char *why)
{
    struct local *l = x->l;
    snprintf(x->error, sizeof(x->error), "%s", why);
    if (!x->prev) {
        audit(x, "rollback", "impossible", "no previous generation of ours on the target");
        x->r.running = "";
        done(x, 0, NULL);
        return;
    }
    struct layout_stats st = {0};
    struct err e = {0};
    int rc = layout_apply(l->gate, x->p.deadline_ms, &l->paths, x->prev, x->old_header[0] ? x->old_header : NULL,
                          &st, &e);
    if (rc == 0) rc = layout_remove_obsolete(l->gate, x->p.deadline_ms, &l->paths, x->g, x->prev, &st, &e);
    x->r.rolled_back = rc == 0;
    x->r.running = rc == 0 ? x->prev->checksum : "";
    audit(x, "rollback", rc == 0 ? "ok" : "failed", rc == 0 ? x->prev->checksum : e.msg);
    log_warn("push failed: files rolled back to the previous generation", "target", l->base.name, "error", why,
             "rolled_back_to", x->prev->checksum, "rollback", rc == 0 ? "ok" : e.msg);
    done(x, 0, NULL);
}

static int write_files(struct push *x)
{
    struct layout_stats st = {0};
    struct err e = {0};
    int rc = layout_apply(x->l->gate, x->p.deadline_ms, &x->l->paths, x->g, x->header, &st, &e);
    x->r.files_written += st.written;
    if (rc < 0) snprintf(x->error, sizeof(x->error), "writing files: %s", e.msg);
    return rc;
}

/* ---- reload lane ---- */

static void start_reload_lane(struct push *x);
static void ask_proc(struct push *x);

static void on_poll_timer(uv_timer_t *t)
{
    ask_proc(t->data);
}

static void poll_again(struct push *x)
{
    if (now_ms(x->l) >= x->p.deadline_ms) {
        roll_back(x, "the reload was not confirmed by show proc before the deadline");
        return;
    }
    if (!x->poll_open) {
        uv_timer_init(x->l->loop, &x->poll);
        x->poll.data = x;
        x->poll_open = 1;
    }
    uv_timer_start(&x->poll, on_poll_timer, TARGET_LOCAL_RELOAD_POLL_MS, 0);
}

static int contains(const struct mcli_proc *p, pid_t pid)
{
    for (size_t i = 0; i < p->nworkers; i++)
        if (p->workers[i] == pid) return 1;
    return 0;
}

static void on_reload_sent(struct mcli *m, struct mcli_cmd *cmds, size_t n, const struct mcli_result *r, void *data)
{
    struct push *x = data;
    (void)m, (void)cmds, (void)n;
    /* the master re-executes and drops the connection; an error here is confirmed (or not) by show proc */
    if (!r->ok) log_debug("master CLI reload exchange ended", "target", x->l->base.name, "detail", r->error);
    x->phase = PH_PROC_AFTER;
    poll_again(x);
}

static void on_proc(struct mcli *m, struct mcli_cmd *cmds, size_t n, const struct mcli_result *r, void *data)
{
    struct push *x = data;
    struct local *l = x->l;
    (void)m;
    struct mcli_proc p;
    int parsed = r->ok && n == 1 && cmds[0].answer && mcli_parse_proc(cmds[0].answer, &p) == 0;
    if (x->phase == PH_PROC_BEFORE) {
        if (!parsed) {
            roll_back(x, r->ok ? "show proc answered something else" : r->error);
            return;
        }
        x->before = p;
        x->phase = PH_RELOAD;
        struct mcli_cmd *c = NULL;
        size_t cn = 0, cap = 0;
        x->reload_start_ms = now_ms(l);
        x->r.reloaded = 1;
        if (mcli_cmd_add(&c, &cn, &cap, "reload") < 0 ||
            mcli_run(l->loop, l->socket, c, cn, 1, l->gate, x->p.deadline_ms, on_reload_sent, x) < 0) {
            roll_back(x, "cannot send reload (fence, deadline or out of memory)");
            return;
        }
        audit(x, "reload", "sent", x->reason);
        return;
    }
    /* PH_PROC_AFTER: the master is back once it answers; it has counted the reload when reloads grew */
    if (!parsed || p.master_reloads <= x->before.master_reloads) {
        poll_again(x);
        return;
    }
    x->r.reload_ms = now_ms(l) - x->reload_start_ms;
    int new_worker = 0;
    for (size_t i = 0; i < p.nworkers; i++) new_worker |= !contains(&x->before, p.workers[i]);
    /* 2.6 resets the failed counter on a successful reload: "did not grow" is the test, not "equal" */
    if (p.failed > x->before.failed || !new_worker) {
        char why[256];
        snprintf(why, sizeof(why), "HAProxy refused the reload (failed reloads %lld, was %lld; new worker: %s)",
                 (long long)p.failed, (long long)x->before.failed, new_worker ? "yes" : "no");
        audit(x, "reload", "refused", why);
        roll_back(x, why);
        return;
    }
    audit(x, "reload", "ok", NULL);
    struct layout_stats st = {0};
    struct err e = {0};
    if (layout_remove_obsolete(l->gate, x->p.deadline_ms, &l->paths, x->prev, x->g, &st, &e) < 0)
        log_warn("obsolete files not removed", "target", l->base.name, "error", e.msg);
    done(x, 1, NULL);
}

static void ask_proc(struct push *x)
{
    struct local *l = x->l;
    struct mcli_cmd *c = NULL;
    size_t cn = 0, cap = 0;
    if (mcli_cmd_add(&c, &cn, &cap, "show proc") < 0 ||
        mcli_run(l->loop, l->socket, c, cn, 0, l->gate, x->p.deadline_ms, on_proc, x) < 0) {
        if (x->phase == PH_PROC_BEFORE) roll_back(x, "cannot ask show proc (fence or deadline)");
        else roll_back(x, "the reload was not confirmed before the fence or deadline");
    }
}

static void start_reload_lane(struct push *x)
{
    x->r.lane = TARGET_LANE_RELOAD;
    if (write_files(x) < 0) {
        char why[sizeof(x->error)];
        snprintf(why, sizeof(why), "%s", x->error);
        if (x->r.files_written) roll_back(x, why);
        else done(x, 0, why);
        return;
    }
    x->phase = PH_PROC_BEFORE;
    ask_proc(x);
}

/* ---- fast lane ---- */

/* Counts the answered commands by what they change (the metric's kind label). */
static void count_runtime(struct push *x, const struct mcli_cmd *cmds, size_t answered)
{
    x->r.runtime_commands += answered;
    static const struct {
        const char *prefix;
        int kind;
    } kinds[] = {{"set server ", TARGET_RUNTIME_SERVER},  {"prepare map ", TARGET_RUNTIME_MAP},
                 {"add map ", TARGET_RUNTIME_MAP},         {"commit map ", TARGET_RUNTIME_MAP},
                 {"set ssl cert ", TARGET_RUNTIME_SSL_CERT}, {"commit ssl cert ", TARGET_RUNTIME_SSL_CERT},
                 {"abort ssl cert ", TARGET_RUNTIME_SSL_CERT}};
    for (size_t i = 0; i < answered; i++) {
        const char *c = cmds[i].line;
        if (!strncmp(c, "@1 ", 3)) c += 3;
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
            if (!strncmp(c, kinds[k].prefix, strlen(kinds[k].prefix))) {
                x->r.runtime_by_kind[kinds[k].kind]++;
                break;
            }
    }
}

static void on_certs_aborted(struct mcli *m, struct mcli_cmd *cmds, size_t n, const struct mcli_result *r,
                             void *data)
{
    struct push *x = data;
    (void)m;
    count_runtime(x, cmds, r->answered);
    /* a certificate committed before the failure answers "No ongoing transaction": nothing was left open */
    for (size_t i = 0; i < n && i < x->ncerts; i++)
        if (mcli_answer_ok(cmds[i].line, cmds[i].answer))
            log_info("ssl cert transaction aborted", "target", x->l->base.name, "path", x->cert_paths[i]);
    if (!r->ok) log_warn("ssl cert abort not confirmed", "target", x->l->base.name, "error", r->error);
    start_reload_lane(x);
}

/* The fast lane did not finish: an open ssl cert transaction is aborted (it would block every later
 * `set ssl cert` of that worker, which keeps serving if the reload is refused), then the reload lane. */
static void fast_failed(struct push *x, const char *why)
{
    struct local *l = x->l;
    log_warn("fast lane failed: reloading instead", "target", l->base.name, "error", why);
    audit(x, "runtime", "failed", why);
    if (x->ncerts) {
        struct mcli_cmd *c = NULL;
        size_t cn = 0, cap = 0;
        int rc = 0;
        for (size_t i = 0; i < x->ncerts && rc == 0; i++)
            rc = mcli_cmd_add(&c, &cn, &cap, "@1 abort ssl cert %s", x->cert_paths[i]);
        x->phase = PH_FAST_ABORT;
        if (rc == 0 && mcli_run(l->loop, l->socket, c, cn, 0, l->gate, x->p.deadline_ms, on_certs_aborted, x) == 0)
            return;
        if (rc < 0) mcli_cmds_free(c, cn);
        log_warn("ssl cert transactions not aborted", "target", l->base.name, "error", "fence, deadline or out of memory");
    }
    start_reload_lane(x);
}

/* The first failed answer, or NULL. */
static const char *failed_answer(struct mcli_cmd *cmds, size_t n, char *buf, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (mcli_answer_ok(cmds[i].line, cmds[i].answer)) continue;
        size_t l = strcspn(cmds[i].line, "\n");
        snprintf(buf, len, "%.*s: %s", (int)(l > 200 ? 200 : l), cmds[i].line,
                 cmds[i].answer ? cmds[i].answer : "(no answer)");
        return buf;
    }
    return NULL;
}

static void fast_finish(struct push *x)
{
    if (write_files(x) < 0) {
        /* the runtime state is the new one; the files must follow or a later reload loses it */
        char why[sizeof(x->error)];
        snprintf(why, sizeof(why), "%s", x->error);
        roll_back(x, why);
        return;
    }
    for (size_t i = 0; i < x->ncerts; i++)
        log_info("certificate updated without a reload", "target", x->l->base.name, "path", x->cert_paths[i]);
    audit(x, "runtime", "ok", NULL);
    done(x, 1, NULL);
}

/* Map entries "key value" from a map file (blank and # lines skipped), as add map payload lines. */
static int map_payloads(struct push *x, size_t mi, int64_t version, struct mcli_cmd **c, size_t *cn, size_t *cap)
{
    const struct rundir_entry *f = NULL;
    size_t seen = 0;
    for (size_t i = 0; i < x->g->nfiles && !f; i++) {
        const struct rundir_entry *e = &x->g->files[i];
        const struct rundir_entry *o = e->kind == RUNDIR_KIND_MAP ? find_entry(x->prev, e->kind, e->name) : NULL;
        if (o && strcmp(o->sha256, e->sha256) != 0 && seen++ == mi) f = e;
    }
    if (!f) return -1;
    char *data = NULL;
    size_t len = 0;
    if (layout_read_gen_file(x->g, f, &data, &len, NULL) < 0) return -1;
    struct buf chunk;
    buf_init(&chunk);
    int rc = 0;
    const char *p = data, *end = data + len;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *s = p;
        p += ll + (nl ? 1 : 0);
        while (ll && (*s == ' ' || *s == '\t')) s++, ll--;
        while (ll && (s[ll - 1] == ' ' || s[ll - 1] == '\t' || s[ll - 1] == '\r')) ll--;
        if (!ll || *s == '#') continue;
        if (ll + 1 > MAP_CHUNK_MAX) {
            rc = -1; /* one entry larger than a request: cannot go through the runtime API */
            break;
        }
        if (chunk.len + ll + 1 > MAP_CHUNK_MAX) {
            rc = mcli_cmd_add(c, cn, cap, "@1 add map @%lld %s <<\n%s", (long long)version, x->map_paths[mi],
                              buf_cstr(&chunk));
            buf_reset(&chunk);
        }
        buf_append(&chunk, s, ll);
        buf_putc(&chunk, '\n');
    }
    if (rc == 0 && chunk.len)
        rc = mcli_cmd_add(c, cn, cap, "@1 add map @%lld %s <<\n%s", (long long)version, x->map_paths[mi],
                          buf_cstr(&chunk));
    if (rc == 0) rc = mcli_cmd_add(c, cn, cap, "@1 commit map @%lld %s", (long long)version, x->map_paths[mi]);
    buf_free(&chunk);
    free(data);
    return rc;
}

static void on_fast_maps(struct mcli *m, struct mcli_cmd *cmds, size_t n, const struct mcli_result *r, void *data)
{
    struct push *x = data;
    char buf[512];
    (void)m;
    count_runtime(x, cmds, r->answered);
    const char *bad = r->ok ? failed_answer(cmds, n, buf, sizeof(buf)) : r->error;
    if (bad) fast_failed(x, bad);
    else fast_finish(x);
}

static void on_fast_servers(struct mcli *m, struct mcli_cmd *cmds, size_t n, const struct mcli_result *r, void *data)
{
    struct push *x = data;
    struct local *l = x->l;
    char buf[512];
    (void)m;
    count_runtime(x, cmds, r->answered);
    const char *bad = r->ok ? failed_answer(cmds, n, buf, sizeof(buf)) : r->error;
    if (bad) {
        fast_failed(x, bad);
        return;
    }
    if (!x->nmaps) {
        fast_finish(x);
        return;
    }
    /* the prepare answers are the last nmaps: "New version created: N" */
    struct mcli_cmd *c = NULL;
    size_t cn = 0, cap = 0;
    for (size_t i = 0; i < x->nmaps; i++) {
        const char *a = cmds[n - x->nmaps + i].answer;
        const char *colon = a ? strchr(a, ':') : NULL;
        int64_t version = colon ? strtoll(colon + 1, NULL, 10) : -1;
        if (version < 0 || map_payloads(x, i, version, &c, &cn, &cap) < 0) {
            mcli_cmds_free(c, cn);
            fast_failed(x, "a map does not fit the runtime API");
            return;
        }
    }
    x->phase = PH_FAST_MAPS;
    if (mcli_run(l->loop, l->socket, c, cn, 0, l->gate, x->p.deadline_ms, on_fast_maps, x) < 0)
        fast_failed(x, "cannot reach the master CLI (fence or deadline)");
}

static int changed_cert(const struct push *x, const struct rundir_entry *e)
{
    const struct rundir_entry *o = e->kind == RUNDIR_KIND_CERT ? find_entry(x->prev, e->kind, e->name) : NULL;
    return o && strcmp(o->sha256, e->sha256) != 0;
}

/* `set ssl cert` (one payload, or the certificates and then `<name>.key`) and `commit ssl cert` for every
 * certificate whose content changed, under the name the worker loaded it by (loaded: its `show ssl cert`),
 * one transaction after the other as HAProxy allows. 0; 1 with why when a certificate is not loaded under
 * its path (a reload reads it); -1 out of memory. */
static int cert_commands(struct push *x, const struct mcli_ssl_certs *loaded, struct mcli_cmd **c, size_t *cn,
                         size_t *cap, char *why, size_t whylen)
{
    struct local *l = x->l;
    for (size_t i = 0; i < x->g->nfiles; i++) {
        const struct rundir_entry *e = &x->g->files[i];
        if (!changed_cert(x, e)) continue;
        char path[4096];
        struct diff_cert_payloads cp;
        int rc = cert_payloads(&l->paths, x->g, e, path, sizeof(path), &cp, why, whylen);
        const char *name = rc == 0 ? mcli_ssl_certs_find(loaded, path) : NULL;
        if (rc == 0 && (!name || !cli_word_ok(name))) {
            snprintf(why, whylen, "certificate %s: HAProxy did not load it as %.200s", e->name, path);
            rc = 1;
        }
        /* the payloads were cut for our path; HAProxy's spelling of it may be longer */
        size_t room = name ? MCLI_BATCH_MAX - CERT_CMD_OVERHEAD - strlen(name) : 0;
        if (rc == 0 && (strlen(cp.pem) > room || (cp.key && strlen(cp.key) > room))) {
            snprintf(why, whylen, "certificate %s: over one request under HAProxy's name for it", e->name);
            rc = 1;
        }
        char **cpaths = rc == 0 ? realloc(x->cert_paths, (x->ncerts + 1) * sizeof(*cpaths)) : NULL;
        if (rc == 0 && !cpaths) rc = -1;
        if (cpaths) x->cert_paths = cpaths;
        if (rc == 0 && !(x->cert_paths[x->ncerts] = strdup(name))) rc = -1;
        if (rc == 0) x->ncerts++;
        if (rc == 0) rc = mcli_cmd_add(c, cn, cap, "@1 set ssl cert %s <<\n%s", name, cp.pem);
        if (rc == 0 && cp.key) rc = mcli_cmd_add(c, cn, cap, "@1 set ssl cert %s.key <<\n%s", name, cp.key);
        if (rc == 0) rc = mcli_cmd_add(c, cn, cap, "@1 commit ssl cert %s", name);
        diff_cert_payloads_free(&cp);
        if (rc != 0) return rc;
    }
    return 0;
}

/* Sends the fast lane's commands (loaded: the worker's certificates, when some changed). 0 started (or
 * nothing to send), 1 does not fit after all (logged), -1 out of memory or not started. */
static int send_fast_commands(struct push *x, const struct mcli_ssl_certs *loaded)
{
    struct local *l = x->l;
    struct mcli_cmd *c = NULL;
    size_t cn = 0, cap = 0;
    int rc = 0;
    char why[256] = "";
    for (size_t i = 0; i < x->plan.nops && rc == 0; i++) {
        const struct diff_server_op *o = &x->plan.ops[i];
        if (o->what & DIFF_SET_ADDR) {
            if (o->port) rc = mcli_cmd_add(&c, &cn, &cap, "@1 set server %s/%s addr %s port %d", o->backend, o->server,
                                           o->addr, o->port);
            else rc = mcli_cmd_add(&c, &cn, &cap, "@1 set server %s/%s addr %s", o->backend, o->server, o->addr);
        }
        if (rc == 0 && (o->what & DIFF_SET_WEIGHT))
            rc = mcli_cmd_add(&c, &cn, &cap, "@1 set server %s/%s weight %d", o->backend, o->server, o->weight);
        if (rc == 0 && (o->what & DIFF_SET_STATE))
            rc = mcli_cmd_add(&c, &cn, &cap, "@1 set server %s/%s state %s", o->backend, o->server,
                              o->enabled ? "ready" : "maint");
    }
    /* certificates before the maps: the prepare answers must stay the last ones (on_fast_servers) */
    if (rc == 0 && loaded) rc = cert_commands(x, loaded, &c, &cn, &cap, why, sizeof(why));
    for (size_t i = 0; i < x->g->nfiles && rc == 0; i++) {
        const struct rundir_entry *e = &x->g->files[i];
        const struct rundir_entry *o = e->kind == RUNDIR_KIND_MAP ? find_entry(x->prev, e->kind, e->name) : NULL;
        if (!o || !strcmp(o->sha256, e->sha256)) continue;
        char path[4096];
        char **mp = realloc(x->map_paths, (x->nmaps + 1) * sizeof(*mp));
        if (!mp || layout_prod_path(&l->paths, e->kind, e->name, path, sizeof(path)) < 0) {
            if (mp) x->map_paths = mp;
            rc = -1;
            break;
        }
        x->map_paths = mp;
        x->map_paths[x->nmaps] = strdup(path);
        if (!x->map_paths[x->nmaps]) {
            rc = -1;
            break;
        }
        x->nmaps++;
        rc = mcli_cmd_add(&c, &cn, &cap, "@1 prepare map %s", path);
    }
    x->r.lane = TARGET_LANE_FAST;
    if (rc != 0) {
        mcli_cmds_free(c, cn);
        if (rc > 0) log_info("change takes the reload lane", "target", l->base.name, "why", why);
        return rc;
    }
    if (cn == 0) { /* same runtime state: only the files (a comment, spacing) */
        fast_finish(x);
        return 0;
    }
    x->phase = PH_FAST_SERVERS;
    if (mcli_run(l->loop, l->socket, c, cn, 0, l->gate, x->p.deadline_ms, on_fast_servers, x) < 0) return -1;
    return 0;
}

static void on_cert_names(struct mcli *m, struct mcli_cmd *cmds, size_t n, const struct mcli_result *r, void *data)
{
    struct push *x = data;
    (void)m;
    struct mcli_ssl_certs loaded;
    if (!r->ok || n != 1 || !cmds[0].answer || mcli_parse_ssl_certs(cmds[0].answer, &loaded) < 0) {
        log_warn("show ssl cert failed: reloading instead", "target", x->l->base.name, "error",
                 r->ok ? "out of memory" : r->error);
        start_reload_lane(x);
        return;
    }
    /* show ssl cert is a read: not counted as a runtime command */
    int rc = send_fast_commands(x, &loaded);
    mcli_ssl_certs_free(&loaded);
    if (rc != 0) start_reload_lane(x);
}

/* 0 if the fast lane was started, -1 if this change does not fit it. */
static int start_fast_lane(struct push *x)
{
    struct local *l = x->l;
    char why[256];
    if (!x->prev || !classify(&l->paths, x->prev, x->g, &x->plan, why, sizeof(why))) {
        if (x->prev) log_info("change takes the reload lane", "target", l->base.name, "why", why);
        return -1;
    }
    int certs = 0;
    for (size_t i = 0; i < x->g->nfiles; i++) certs |= changed_cert(x, &x->g->files[i]);
    if (!certs) return send_fast_commands(x, NULL) == 0 ? 0 : -1;
    /* the names the worker loaded its certificates by: `set ssl cert` takes no other */
    struct mcli_cmd *c = NULL;
    size_t cn = 0, cap = 0;
    x->phase = PH_FAST_CERT_NAMES;
    x->r.lane = TARGET_LANE_FAST;
    if (mcli_cmd_add(&c, &cn, &cap, "@1 show ssl cert") < 0) {
        mcli_cmds_free(c, cn);
        return -1;
    }
    return mcli_run(l->loop, l->socket, c, cn, 0, l->gate, x->p.deadline_ms, on_cert_names, x) < 0 ? -1 : 0;
}

static int local_push(struct target *t, const struct target_push *p, target_push_cb cb, void *data)
{
    struct local *l = (struct local *)t;
    if (l->busy) return -1;
    struct push *x = calloc(1, sizeof(*x));
    if (!x) return -1;
    x->l = l;
    x->p = *p;
    snprintf(x->term, sizeof(x->term), "%s", p->term);
    snprintf(x->checksum, sizeof(x->checksum), "%s", p->checksum);
    snprintf(x->from, sizeof(x->from), "%s", p->from ? p->from : "");
    snprintf(x->reason, sizeof(x->reason), "%s", p->reason ? p->reason : "");
    x->p.term = x->term, x->p.checksum = x->checksum, x->p.from = x->from, x->p.reason = x->reason;
    x->cb = cb;
    x->data = data;
    x->start_ms = now_ms(l);
    x->r.lane = TARGET_LANE_NONE;
    l->busy = x;
    struct err e = {0};
    if (rundir_open(l->run_dir, x->checksum, &x->g, &e) < 0) {
        done(x, 0, e.msg);
        return 0;
    }
    if (layout_header(x->term, p->generation, x->checksum, x->header, sizeof(x->header)) < 0) {
        done(x, 0, "the term cannot go into the config header");
        return 0;
    }
    /* what the target runs now, from its own header (the scheduler's belief may be older) */
    char running[RUNDIR_CHECKSUM_BUF];
    if (layout_read_checksum(&l->paths, running, x->old_header) == 0 && running[0])
        rundir_open(l->run_dir, running, &x->prev, NULL);
    /* the header says what we wrote; only a target whose files still match it takes the fast lane */
    int prev_intact = x->prev && layout_verify(&l->paths, x->prev, NULL, NULL) == 1;
    if (prev_intact && start_fast_lane(x) == 0) return 0;
    diff_plan_free(&x->plan);
    start_reload_lane(x);
    return 0;
}

static void local_free(struct target *t)
{
    struct local *l = (struct local *)t;
    if (!l) return;
    free(l->base.name);
    free(l->socket);
    free(l->config_file);
    free(l->maps_dir);
    free(l->certs_dir);
    free(l->general_dir);
    free(l->run_dir);
    free(l);
}

static const struct target_ops local_ops = {
    .kind = "local",
    .compare = local_compare,
    .push = local_push,
    .fast_ok = local_fast_ok,
    .free = local_free,
};

struct target *target_local_new(uv_loop_t *loop, const struct target_local_opts *o, struct deploy_gate *gate,
                                struct audit *a)
{
    struct local *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->base.ops = &local_ops;
    l->base.name = strdup(o->name);
    l->loop = loop;
    l->socket = strdup(o->master_socket);
    l->config_file = strdup(o->paths.config_file);
    l->maps_dir = strdup(o->paths.maps_dir);
    l->certs_dir = strdup(o->paths.ssl_certs_dir);
    l->general_dir = strdup(o->paths.general_dir);
    l->run_dir = strdup(o->run_dir);
    l->gate = gate;
    l->audit = a;
    if (!l->base.name || !l->socket || !l->config_file || !l->maps_dir || !l->certs_dir || !l->general_dir ||
        !l->run_dir) {
        local_free(&l->base);
        return NULL;
    }
    l->paths = (struct layout_paths){l->config_file, l->maps_dir, l->certs_dir, l->general_dir};
    return &l->base;
}
