/* Running validation tests (validate.h): fixtures into stores, one render per test through common/render,
 * then each assertion; haproxy_valid writes the generation as the renderer does (common/pipeline/rundir) and
 * checks it with the validator's haproxy -c (common/haproxy) on a private loop, waiting for it: a CLI may
 * block. deterministic renders again from fixtures loaded in the reverse order into fresh stores.
 * Not for: the text of a failure (validate_assert.c, validate_text.c) or argument parsing (validate_cli.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "common/clock.h"
#include "common/fs.h"
#include "common/haproxy/haproxy_check.h"
#include "common/render/render.h"
#include "common/validate/validate.h"
#include "common/validate/validate_internal.h"

struct env {
    const struct config *cfg;
    const struct validate_opts *o;
    struct render *r;               /* owned */
    struct packed_keys *keys;       /* owned */
    struct packed_proj *proj;       /* owned: watched_resources_ignore_fields plus the built-in drops */
    const struct config_validation_test *global;   /* the _global test, or NULL */
};

/* One test's objects. */
struct loaded {
    struct render_store *stores;    /* owned, config order */
    size_t n;
    struct store *targets;          /* owned: haproxy-pods fixtures */
};

static void loaded_free(struct loaded *l)
{
    render_stores_free(l->stores, l->n);
    store_free(l->targets);
    memset(l, 0, sizeof(*l));
}

static struct store *store_named(struct loaded *l, const char *name)
{
    if (!strcmp(name, RENDER_TARGETS_NAME)) return l->targets;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->stores[i].name, name)) return l->stores[i].store;
    return NULL;
}

/* One fixture object as the store gets it in production: the reconciler drops kind and apiVersion (list
 * items carry none) and applies the projection; a target (haproxy-pods) gets metadata from its name and
 * namespace as the renderer gives it. */
static int load_object(struct env *env, struct store *s, int is_targets, struct json_object *fixture, struct err *e)
{
    struct json_object *obj = NULL, *md, *v;
    if (json_object_deep_copy(fixture, &obj, NULL) < 0) return err_set(e, "out of memory");
    json_object_object_del(obj, "kind");
    json_object_object_del(obj, "apiVersion");
    if (is_targets && !json_object_object_get_ex(obj, "metadata", &md)) {
        md = json_object_new_object();
        const char *keys[] = {"name", "namespace"};
        for (size_t i = 0; i < 2; i++)
            json_object_object_add(md, keys[i], json_object_new_string(json_object_object_get_ex(obj, keys[i], &v)
                                                                           ? json_object_get_string(v) : ""));
        json_object_object_add(obj, "metadata", md);
    }
    struct packed *p = NULL;
    int rc = packed_from_json(env->keys, obj, env->proj, &p, e);
    json_object_put(obj);
    struct store_event ev;
    if (rc == 0) rc = store_upsert(s, p, &ev, e);
    return rc;
}

/* The fixtures of test t into l (stores already made); reverse: every list back to front. */
static int load_test(struct env *env, const struct config_validation_test *t, struct loaded *l, int reverse,
                     struct err *e)
{
    if (!t->fixtures) return 0;
    json_object_object_foreach(t->fixtures, resource, list) {
        struct store *s = store_named(l, resource);
        if (!s) return err_set(e, "%s.fixtures.%s: not a watched resource", t->name, resource);
        size_t n = json_object_array_length(list);
        for (size_t k = 0; k < n; k++) {
            size_t i = reverse ? n - 1 - k : k;
            struct err oe;
            err_clear(&oe);
            if (load_object(env, s, s == l->targets, json_object_array_get_idx(list, i), &oe) < 0)
                return err_set(e, "validation_tests.%s.fixtures.%s[%zu]: %s", t->name, resource, i, oe.msg);
        }
    }
    return 0;
}

static int load(struct env *env, const struct config_validation_test *t, int reverse, struct loaded *l, struct err *e)
{
    memset(l, 0, sizeof(*l));
    if (render_stores_new(env->cfg, env->keys, &l->stores, &l->n, e) < 0) return -1;
    if (render_targets_store_new(env->keys, &l->targets, e) < 0) return -1;
    /* _global first: the test's own objects then replace any of the same namespace/name */
    if (env->global && env->global != t && load_test(env, env->global, l, reverse, e) < 0) return -1;
    return load_test(env, t, l, reverse, e);
}

/* {extra_context keys..., "resources": {name: [objects in List() order]}, "controller": {"haproxy_pods": [...]}}:
 * what templates see, as JSON for jsonpath assertions. */
static int store_json(struct store *s, struct json_object **out)
{
    struct json_object *a = json_object_new_array();
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; a && i < store_count(s); i++) {
        buf_reset(&b);
        if (packed_to_json(packed_root(store_at(s, i)), &b) < 0) break;
        struct json_object *o = json_tokener_parse(buf_cstr(&b));
        if (!o) break;
        json_object_array_add(a, o);
    }
    int ok = a && json_object_array_length(a) == store_count(s);
    buf_free(&b);
    if (!ok) {
        json_object_put(a);
        return -1;
    }
    *out = a;
    return 0;
}

static struct json_object *context_json(const struct env *env, struct loaded *l)
{
    struct json_object *root = NULL, *res = json_object_new_object(), *ctl = json_object_new_object(), *a;
    struct json_object *extra = env->cfg->templating_settings.extra_context;
    if (extra && json_object_is_type(extra, json_type_object)) json_object_deep_copy(extra, &root, NULL);
    if (!root) root = json_object_new_object();
    for (size_t i = 0; i < l->n; i++) {
        if (store_json(l->stores[i].store, &a) < 0) goto fail;
        json_object_object_add(res, l->stores[i].name, a);
    }
    if (store_json(l->targets, &a) < 0) goto fail;
    json_object_object_add(ctl, "haproxy_pods", a);
    json_object_object_add(root, "resources", res);
    json_object_object_add(root, "controller", ctl);
    return root;
fail:
    json_object_put(root);
    json_object_put(res);
    json_object_put(ctl);
    return NULL;
}

/* The rendered file an assertion's target names ("haproxy.cfg", "map:NAME", "file:NAME", "cert:NAME"). */
static const struct render_file *find_target(const struct render_result *res, const char *target)
{
    static const struct {
        const char *prefix;
        int kind;
    } kinds[] = {{"map:", RUNDIR_KIND_MAP}, {"file:", RUNDIR_KIND_FILE}, {"cert:", RUNDIR_KIND_CERT}};
    int kind = RUNDIR_KIND_CONFIG;
    const char *name = target;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n = strlen(kinds[i].prefix);
        if (!strncmp(target, kinds[i].prefix, n)) kind = kinds[i].kind, name = target + n;
    }
    for (size_t i = 0; i < res->nfiles; i++)
        if (res->files[i].kind == kind && !strcmp(res->files[i].name, name)) return &res->files[i];
    return NULL;
}

/* ---- haproxy_valid ---- */

struct wait {
    int done;
    enum haproxy_check_outcome outcome;
    char *message;    /* owned */
    char *warnings;   /* owned */
};

static void on_check_done(struct haproxy_check *c, const struct haproxy_check_result *r, void *data)
{
    (void)c;
    struct wait *w = data;
    w->done = 1;
    w->outcome = r->outcome;
    w->message = strdup(r->message ? r->message : "");
    w->warnings = strdup(r->warnings ? r->warnings : "");
}

static int path_join(char *out, size_t n, const char *a, const char *b)
{
    return snprintf(out, n, "%s/%s", a, b) < (int)n ? 0 : -1;
}

static int check_haproxy(struct env *env, const struct render_result *res, struct json_object *ares)
{
    const struct config_haproxy *h = &env->cfg->haproxy;
    char run_dir[PATH_MAX], scratch[PATH_MAX], gen[PATH_MAX], checksum[RUNDIR_CHECKSUM_BUF];
    struct err e;
    err_clear(&e);
    if (path_join(run_dir, sizeof(run_dir), env->o->work_dir, "run") < 0 ||
        path_join(scratch, sizeof(scratch), env->o->work_dir, "scratch") < 0) {
        validate_verdict(ares, 0, "work dir path too long");
        return 0;
    }
    struct rundir_file *files = NULL;
    if (render_result_files(res, &files) < 0) return -1;
    int rc = rundir_write(run_dir, files, res->nfiles, checksum, &e);
    free(files);
    if (rc < 0 || rundir_gen_path(run_dir, checksum, gen, sizeof(gen)) < 0) {
        validate_verdict(ares, 0, "generation not written: %s", e.msg);
        return 0;
    }
    struct haproxy_check_opts opts = {
        .binary = env->o->haproxy_binary ? env->o->haproxy_binary : h->binary,
        .prod = {.config_file = h->config_file, .maps_dir = h->maps_dir, .ssl_certs_dir = h->ssl_certs_dir,
                 .general_dir = h->general_dir},
        .scratch_parent = scratch,
        .timeout_ms = HAPROXY_CHECK_TIMEOUT_MS,
    };
    uv_loop_t loop;
    if (uv_loop_init(&loop) < 0) return -1;
    struct wait w = {0};
    struct haproxy_check *c;
    if (haproxy_check_start(&loop, &opts, gen, on_check_done, &w, &c, &e) < 0) {
        validate_verdict(ares, 0, "haproxy -c not started (haproxy.binary %s): %s", opts.binary, e.msg);
    } else {
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&loop);
    if (w.done) {
        if (w.outcome == HAPROXY_CHECK_VALID) {
            validate_pass(ares);
        } else {
            validate_verdict(ares, 0, "haproxy -c: %s (haproxy.binary %s)", haproxy_check_outcome_name(w.outcome),
                             opts.binary);
            json_object_object_add(ares, "lines", json_object_new_string(w.message ? w.message : ""));
        }
        if (w.warnings && *w.warnings) json_object_object_add(ares, "warnings", json_object_new_string(w.warnings));
    }
    free(w.message);
    free(w.warnings);
    return 0;
}

/* ---- deterministic ---- */

/* A rendered file's bytes ("" when empty: a buf holds NULL until its first append). */
static const char *text_of(const struct render_file *f) { return f->data.data ? f->data.data : ""; }

static const char *kind_label(int kind)
{
    const char *n = rundir_kind_name(kind);
    return n ? n : "?";
}

static int check_deterministic(struct env *env, const struct config_validation_test *t,
                               const struct render_result *first, struct json_object *ares)
{
    struct loaded l;
    struct err e;
    err_clear(&e);
    if (load(env, t, 1, &l, &e) < 0) {
        loaded_free(&l);
        validate_verdict(ares, 0, "fixtures in reverse order: %s", e.msg);
        return 0;
    }
    struct render_input in = {.stores = l.stores, .nstores = l.n, .targets = l.targets};
    struct render_result second;
    struct render_error re;
    memset(&re, 0, sizeof(re));
    int rc = render_run(env->r, &in, &second, &re);
    loaded_free(&l);
    if (rc < 0) {
        validate_verdict(ares, 0,
                         "second render (fixtures in reverse order) failed: template %s, line %d, column %d: %s",
                         re.e.file, re.e.line, re.e.column, re.e.msg);
        return 0;
    }
    int out = 0;
    size_t n = first->nfiles > second.nfiles ? first->nfiles : second.nfiles;
    validate_pass(ares);
    for (size_t i = 0; i < n; i++) {
        const struct render_file *a = i < first->nfiles ? &first->files[i] : NULL;
        const struct render_file *b = i < second.nfiles ? &second.files[i] : NULL;
        if (!a || !b || a->kind != b->kind || strcmp(a->name, b->name)) {
            const struct render_file *x = a ? a : b;
            validate_verdict(ares, 0, "the renders produce different files (%s %s in %s render only)",
                             kind_label(x->kind), x->name, a ? "the first" : "the second");
            break;
        }
        if (a->data.len == b->data.len && !memcmp(text_of(a), text_of(b),
                                                  a->data.len))
            continue;
        struct buf d;
        buf_init(&d);
        out = validate_diff(text_of(a), a->data.len, "first render", text_of(b), b->data.len,
                            "fixtures in reverse order", &d);
        validate_verdict(ares, 0, "%s %s differs between two renders of the same objects", kind_label(a->kind),
                         a->name);
        json_object_object_add(ares, "lines", json_object_new_string(buf_cstr(&d)));
        buf_free(&d);
        break;
    }
    render_result_free(&second);
    return out;
}

/* ---- one test ---- */

static const char *type_name(int type)
{
    static const char *const names[] = {"haproxy_valid", "contains", "not_contains", "equals",
                                        "match_count", "match_order", "jsonpath", "deterministic"};
    return type >= 0 && type < (int)(sizeof(names) / sizeof(names[0])) ? names[type] : "?";
}

static int dump(struct env *env, const char *test, const struct render_result *res, struct err *e)
{
    for (size_t i = 0; i < res->nfiles; i++) {
        const struct render_file *f = &res->files[i];
        char dir[PATH_MAX], path[PATH_MAX];
        const char *sub = rundir_kind_dir(f->kind);
        if (rundir_name_check(f->name, e) < 0) return -1;
        if (snprintf(dir, sizeof(dir), "%s/%s%s%s", env->o->dump_dir, test, *sub ? "/" : "", sub) >= (int)sizeof(dir) ||
            path_join(path, sizeof(path), dir, f->name) < 0)
            return err_set(e, "--dump-rendered: path too long");
        int rc = fs_mkdir_p(dir, NULL, 0);
        if (rc < 0) return err_set(e, "--dump-rendered: %s: %s", dir, strerror(-rc));
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) return err_set(e, "--dump-rendered: %s: %s", path, strerror(errno));
        const char *p = text_of(f);
        size_t left = f->data.len;
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                close(fd);
                return err_set(e, "--dump-rendered: %s: %s", path, strerror(errno));
            }
            p += w, left -= (size_t)w;
        }
        if (close(fd) < 0) return err_set(e, "--dump-rendered: %s: %s", path, strerror(errno));
    }
    return 0;
}

static struct json_object *error_json(const char *stage, const char *message)
{
    struct json_object *j = json_object_new_object();
    json_object_object_add(j, "stage", json_object_new_string(stage));
    json_object_object_add(j, "message", json_object_new_string(message));
    return j;
}

static int run_assertions(struct env *env, const struct config_validation_test *t, struct loaded *l,
                          const struct render_result *res, struct json_object *list)
{
    struct json_object *context = NULL;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t->assertions.len; i++) {
        const struct config_assertion *a = &t->assertions.items[i];
        struct json_object *ares = json_object_new_object();
        json_object_object_add(ares, "index", json_object_new_int((int)i));
        json_object_object_add(ares, "type", json_object_new_string(type_name(a->type)));
        json_object_object_add(ares, "description", json_object_new_string(a->description ? a->description : ""));
        json_object_object_add(ares, "target", json_object_new_string(a->target ? a->target : RUNDIR_CONFIG_NAME));
        json_object_array_add(list, ares);
        switch (a->type) {
        case CONFIG_ASSERT_HAPROXY_VALID: rc = check_haproxy(env, res, ares); break;
        case CONFIG_ASSERT_DETERMINISTIC: rc = check_deterministic(env, t, res, ares); break;
        case CONFIG_ASSERT_JSONPATH:
            if (!context && !(context = context_json(env, l))) rc = -1;
            else rc = validate_check_jsonpath(a, context, ares);
            break;
        default: {
            const char *target = a->target ? a->target : RUNDIR_CONFIG_NAME;
            const struct render_file *f = find_target(res, target);
            if (!f) validate_verdict(ares, 0, "%s was not rendered", target);
            else rc = validate_check_text(a, target, text_of(f), f->data.len, ares);
        }
        }
    }
    json_object_put(context);
    return rc;
}

static int run_test(struct env *env, const struct config_validation_test *t, struct json_object **out, struct err *e)
{
    int64_t t0 = clock_mono_ms();
    struct json_object *j = json_object_new_object(), *list = json_object_new_array(), *error = NULL;
    json_object_object_add(j, "name", json_object_new_string(t->name));
    json_object_object_add(j, "description", json_object_new_string(t->description ? t->description : ""));
    struct loaded l;
    struct err le;
    err_clear(&le);
    int rc = 0;
    if (load(env, t, 0, &l, &le) < 0) {
        error = error_json("fixtures", le.msg);
    } else {
        struct render_input in = {.stores = l.stores, .nstores = l.n, .targets = l.targets};
        struct render_result res;
        struct render_error re;
        memset(&re, 0, sizeof(re));
        if (render_run(env->r, &in, &res, &re) < 0) {
            char msg[ERR_MSG_MAX + ERR_WHERE_MAX + 64];
            snprintf(msg, sizeof(msg), "template %s, line %d, column %d: %s", re.e.file, re.e.line, re.e.column,
                     re.e.msg);
            error = error_json("render", msg);
            json_object_object_add(error, "template", json_object_new_string(re.e.file));
            json_object_object_add(error, "line", json_object_new_int(re.e.line));
            json_object_object_add(error, "column", json_object_new_int(re.e.column));
            if (re.has_object) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "resource", json_object_new_string(re.resource));
                json_object_object_add(o, "namespace", json_object_new_string(re.namespace_));
                json_object_object_add(o, "name", json_object_new_string(re.name));
                json_object_object_add(error, "object", o);
            }
        } else {
            struct err de;
            err_clear(&de);
            if (env->o->dump_dir && dump(env, t->name, &res, &de) < 0) error = error_json("dump", de.msg);
            rc = run_assertions(env, t, &l, &res, list);
            render_result_free(&res);
        }
    }
    loaded_free(&l);
    int passed = !error;
    size_t failed = 0;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *v;
        if (json_object_object_get_ex(json_object_array_get_idx(list, i), "passed", &v) && !json_object_get_boolean(v))
            failed++;
    }
    if (failed) passed = 0;
    json_object_object_add(j, "passed", json_object_new_boolean(passed));
    json_object_object_add(j, "error", error);
    json_object_object_add(j, "assertions", list);
    json_object_object_add(j, "duration_ms", json_object_new_int64(clock_mono_ms() - t0));
    if (rc < 0) {
        json_object_put(j);
        return err_set(e, "out of memory");
    }
    *out = j;
    return 0;
}

int validate_run(const struct config *cfg, const struct validate_opts *o, struct json_object **report, struct err *e)
{
    const struct config_validation_test_map *tests = &cfg->validation_tests;
    struct env env = {.cfg = cfg, .o = o};
    *report = NULL;
    int found = 0;
    for (size_t i = 0; i < tests->len; i++) {
        if (!strcmp(tests->items[i].name, VALIDATE_GLOBAL_TEST)) env.global = &tests->items[i];
        if (o->only_test && !strcmp(tests->items[i].name, o->only_test)) found = 1;
    }
    if (o->only_test && !found) return err_set(e, "no validation test named %s", o->only_test);
    const struct config_strlist *ign = &cfg->watched_resources_ignore_fields;
    int rc = -1;
    struct json_object *list = json_object_new_array(), *j = NULL;
    if (!list || !(env.keys = packed_keys_new())) {
        err_set(e, "out of memory");
        goto done;
    }
    if (packed_proj_new((const char *const *)ign->items, ign->len, 1, &env.proj, e) < 0 ||
        render_new(cfg, &env.r, e) < 0)
        goto done;
    size_t passed = 0, assertions = 0, afailed = 0;
    for (size_t i = 0; i < tests->len; i++) {
        const struct config_validation_test *t = &tests->items[i];
        if (o->only_test && strcmp(t->name, o->only_test)) continue;
        if (run_test(&env, t, &j, e) < 0) goto done;
        json_object_array_add(list, j);
        struct json_object *v, *as;
        if (json_object_object_get_ex(j, "passed", &v) && json_object_get_boolean(v)) passed++;
        json_object_object_get_ex(j, "assertions", &as);
        for (size_t k = 0; k < json_object_array_length(as); k++) {
            assertions++;
            json_object_object_get_ex(json_object_array_get_idx(as, k), "passed", &v);
            if (!json_object_get_boolean(v)) afailed++;
        }
    }
    size_t ntests = json_object_array_length(list);
    struct json_object *summary = json_object_new_object();
    json_object_object_add(summary, "tests", json_object_new_int64((int64_t)ntests));
    json_object_object_add(summary, "passed", json_object_new_int64((int64_t)passed));
    json_object_object_add(summary, "failed", json_object_new_int64((int64_t)(ntests - passed)));
    json_object_object_add(summary, "assertions", json_object_new_int64((int64_t)assertions));
    json_object_object_add(summary, "assertions_failed", json_object_new_int64((int64_t)afailed));
    *report = json_object_new_object();
    json_object_object_add(*report, "ok", json_object_new_boolean(passed == ntests));
    json_object_object_add(*report, "config", json_object_new_string(cfg->source ? cfg->source : ""));
    json_object_object_add(*report, "tests", list);
    json_object_object_add(*report, "summary", summary);
    list = NULL;
    rc = 0;
done:
    json_object_put(list);
    render_free(env.r);
    packed_proj_free(env.proj);
    packed_keys_free(env.keys);
    return rc;
}
