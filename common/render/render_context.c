/* The template context's natives: resources.<name> and controller.haproxy_pods (store wrappers with List(),
 * Fetch(keys...), GetSingle(keys...)), pathResolver (GetPath(name, kind) and the directories) and
 * file_registry (Register(kind, name, content)). Store objects reach templates without being copied.
 * Not for: the guards (render_guard.c) or running the templates (render.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/render/render_internal.h"

/* Keys one Fetch/GetSingle call may pass: no store has more index keys than this. */
#define CONTEXT_KEYS_MAX STORE_INDEX_MAX
/* A formatted integer or boolean key. */
#define CONTEXT_KEY_BUF 32

/* A store object as a template value: read in place from its packed block, nothing copied. An on-demand
 * object is read from what the resolver gives (the cached object), or as its reference when not at hand. */
int render_object_value(struct render *r, const char *resource, const struct packed *p, struct tmpl_value *out,
                        struct tmpl_call *c)
{
    (void)c;
    const struct packed *full;
    if (r->in && r->in->resolve && r->in->resolve(r->in->resolve_data, resource, p, 0, &full) == 1) p = full;
    *out = tmpl_value_packed(packed_root(p));
    return 0;
}

static void name_object(struct render *r, const char *resource, const struct packed *p)
{
    struct render_error *re = r->error;
    struct packed_val md, v;
    const char *ns = "", *name = "";
    if (packed_get(packed_root(p), "metadata", 8, &md)) {
        if (packed_get(md, "namespace", 9, &v) && packed_str(v, NULL)) ns = packed_str(v, NULL);
        if (packed_get(md, "name", 4, &v) && packed_str(v, NULL)) name = packed_str(v, NULL);
    }
    re->has_object = 1;
    snprintf(re->resource, sizeof(re->resource), "%s", resource);
    snprintf(re->namespace_, sizeof(re->namespace_), "%s", ns);
    snprintf(re->name, sizeof(re->name), "%s", name);
}

/* Which object was s read from? Strings of packed values point into their block. Only runs when a guard
 * refuses a value, so a scan of the stores is fine. */
void render_blame(struct render *r, const char *s)
{
    if (!r->error) return;
    r->error->has_object = 0;
    for (size_t w = 0; w <= r->nwrappers; w++) {
        struct render_wrapper *wr = w < r->nwrappers ? &r->wrappers[w] : &r->targets;
        if (!wr->store) continue;
        size_t n = store_count(wr->store);
        for (size_t i = 0; i < n; i++) {
            const struct packed *p = store_at(wr->store, i), *full = p;
            const char *b = packed_bytes(p);
            if (s >= b && s < b + packed_size(p)) {
                name_object(r, wr->name, p);
                return;
            }
            /* an on-demand object is read from its cached block, not from the reference the store holds */
            if (!r->in || !r->in->resolve || r->in->resolve(r->in->resolve_data, wr->name, p, 1, &full) != 1 || full == p)
                continue;
            b = packed_bytes(full);
            if (s >= b && s < b + packed_size(full)) {
                name_object(r, wr->name, p);
                return;
            }
        }
    }
}

static int push_range(struct render_wrapper *w, size_t first, size_t count, struct tmpl_value *out, struct tmpl_call *c)
{
    *out = tmpl_list_new(c);
    for (size_t i = first; i < first + count; i++) {
        struct tmpl_value v;
        if (render_object_value(w->r, w->name, store_at(w->store, i), &v, c) < 0) return -1;
        if (tmpl_list_push(c, out, v) < 0) return tmpl_call_error(c, "out of memory");
    }
    return 0;
}

static int keys_of(const char *method, const struct tmpl_value *args, size_t nargs, const char **keys,
                   char fmt[][CONTEXT_KEY_BUF], struct tmpl_call *c)
{
    if (nargs == 0) return tmpl_call_error(c, "%s() needs at least one index key", method);
    if (nargs > CONTEXT_KEYS_MAX) return tmpl_call_error(c, "%s() takes at most %d keys", method, CONTEXT_KEYS_MAX);
    for (size_t i = 0; i < nargs; i++) {
        if (args[i].kind == TMPL_INT) {
            snprintf(fmt[i], CONTEXT_KEY_BUF, "%" PRId64, args[i].u.i);
            keys[i] = fmt[i];
        } else if (args[i].kind == TMPL_BOOL) {
            keys[i] = args[i].u.i ? "true" : "false";
        } else if (!(keys[i] = tmpl_value_cstr(&args[i], NULL))) {
            return tmpl_call_error(c, "%s() keys must be strings or integers (key %zu is not)", method, i + 1);
        }
    }
    return 0;
}

static void keys_text(const char *const *keys, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s\"%.64s\"", i ? ", " : "", keys[i]);
}

static int wrapper_method(void *self, const char *name, const struct tmpl_value *args, size_t nargs,
                          struct tmpl_value *out, struct tmpl_call *c)
{
    struct render_wrapper *w = self;
    size_t count = w->store ? store_count(w->store) : 0;
    if (!strcmp(name, "List")) {
        if (nargs) return tmpl_call_error(c, "List() takes no arguments");
        if (!w->store) {
            *out = tmpl_list_new(c);
            return 0;
        }
        return push_range(w, 0, count, out, c);
    }
    int single = !strcmp(name, "GetSingle");
    if (!single && strcmp(name, "Fetch")) return tmpl_call_error(c, "%s has no method %s()", w->name, name);
    const char *keys[CONTEXT_KEYS_MAX];
    char fmt[CONTEXT_KEYS_MAX][CONTEXT_KEY_BUF];
    if (keys_of(name, args, nargs, keys, fmt, c) < 0) return -1;
    if (!w->store) {
        *out = single ? tmpl_value_none() : tmpl_list_new(c);
        return 0;
    }
    size_t first = 0, n = 0;
    struct err e;
    err_clear(&e);
    if (store_fetch(w->store, keys, nargs, &first, &n, &e) < 0) return tmpl_call_error(c, "%s.%s(): %s", w->name, name, e.msg);
    if (!single) return push_range(w, first, n, out, c);
    if (n == 0) {
        *out = tmpl_value_none();
        return 0;
    }
    if (n > 1) {
        char kt[CONTEXT_KEYS_MAX * 72];
        keys_text(keys, nargs, kt, sizeof(kt));
        return tmpl_call_error(c, "%s.GetSingle(%s) matched %zu objects, expected one or none", w->name, kt, n);
    }
    return render_object_value(w->r, w->name, store_at(w->store, first), out, c);
}

static const struct tmpl_native_ops wrapper_ops = {.type_name = "Store", .call_method = wrapper_method};

static int resources_attr(void *self, const char *name, struct tmpl_value *out, struct tmpl_call *c)
{
    struct render *r = self;
    (void)c;
    for (size_t i = 0; i < r->nwrappers; i++) {
        if (!strcmp(r->wrappers[i].name, name)) {
            *out = tmpl_value_native(&r->wrappers[i].nat);
            return 1;
        }
    }
    return 0;
}

static const struct tmpl_native_ops resources_ops = {.type_name = "Resources", .get_attr = resources_attr};

static int controller_attr(void *self, const char *name, struct tmpl_value *out, struct tmpl_call *c)
{
    struct render *r = self;
    (void)c;
    if (strcmp(name, "haproxy_pods")) return 0;
    *out = tmpl_value_native(&r->targets.nat);
    return 1;
}

static const struct tmpl_native_ops controller_ops = {.type_name = "Controller", .get_attr = controller_attr};

static int kind_of(const char *s)
{
    if (!s) return -1;
    if (!strcmp(s, "map")) return RUNDIR_KIND_MAP;
    if (!strcmp(s, "file")) return RUNDIR_KIND_FILE;
    if (!strcmp(s, "cert")) return RUNDIR_KIND_CERT;
    if (!strcmp(s, "crt-list")) return RUNDIR_KIND_CRT_LIST;
    return -1;
}

int render_path(const struct render *r, int kind, const char *name, struct buf *out, struct err *e)
{
    const struct config_haproxy *h = &r->cfg->haproxy;
    const char *dir = kind == RUNDIR_KIND_MAP ? h->maps_dir : kind == RUNDIR_KIND_CERT ? h->ssl_certs_dir : h->general_dir;
    buf_init(out);
    if (name[0] && rundir_name_check(name, e) < 0) return -1;
    if (buf_append(out, dir, strlen(dir)) < 0) return err_set(e, "out of memory");
    if (name[0]) {
        if ((out->len == 0 || out->data[out->len - 1] != '/') && buf_append(out, "/", 1) < 0) return err_set(e, "out of memory");
        if (buf_append(out, name, strlen(name)) < 0) return err_set(e, "out of memory");
    }
    return 0;
}

static int path_value(struct render *r, int kind, const char *name, struct tmpl_value *out, struct tmpl_call *c)
{
    struct buf p;
    struct err e;
    err_clear(&e);
    if (render_path(r, kind, name, &p, &e) < 0) {
        buf_free(&p);
        return tmpl_call_error(c, "%s", e.msg);
    }
    *out = tmpl_value_str(c, p.data ? p.data : "", p.len);
    buf_free(&p);
    return 0;
}

static int resolver_attr(void *self, const char *name, struct tmpl_value *out, struct tmpl_call *c)
{
    static const struct { const char *attr; int kind; } dirs[] = {
        {"MapsDir", RUNDIR_KIND_MAP}, {"SSLDir", RUNDIR_KIND_CERT}, {"GeneralDir", RUNDIR_KIND_FILE},
        {"CRTListDir", RUNDIR_KIND_CRT_LIST},
    };
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (!strcmp(name, dirs[i].attr)) return path_value(self, dirs[i].kind, "", out, c) < 0 ? -1 : 1;
    return 0;
}

static int resolver_method(void *self, const char *name, const struct tmpl_value *args, size_t nargs,
                           struct tmpl_value *out, struct tmpl_call *c)
{
    if (strcmp(name, "GetPath")) return tmpl_call_error(c, "pathResolver has no method %s()", name);
    const char *fname = nargs == 2 ? tmpl_value_cstr(&args[0], NULL) : NULL;
    const char *kname = nargs == 2 ? tmpl_value_cstr(&args[1], NULL) : NULL;
    if (!fname || !kname) return tmpl_call_error(c, "GetPath(name, kind) takes two strings");
    int kind = kind_of(kname);
    if (kind < 0) return tmpl_call_error(c, "GetPath: kind \"%.32s\" is not map, file, cert or crt-list", kname);
    return path_value(self, kind, fname, out, c);
}

static const struct tmpl_native_ops resolver_ops = {.type_name = "PathResolver", .get_attr = resolver_attr,
                                                    .call_method = resolver_method};

static int registry_method(void *self, const char *name, const struct tmpl_value *args, size_t nargs,
                           struct tmpl_value *out, struct tmpl_call *c)
{
    struct render *r = self;
    if (strcmp(name, "Register")) return tmpl_call_error(c, "file_registry has no method %s()", name);
    size_t len = 0;
    const char *kname = nargs == 3 ? tmpl_value_cstr(&args[0], NULL) : NULL;
    const char *fname = nargs == 3 ? tmpl_value_cstr(&args[1], NULL) : NULL;
    const char *data = nargs == 3 ? tmpl_value_cstr(&args[2], &len) : NULL;
    if (!kname || !fname || !data) return tmpl_call_error(c, "Register(kind, name, content) takes three strings");
    int kind = kind_of(kname);
    if (kind < 0) return tmpl_call_error(c, "Register: kind \"%.32s\" is not map, file, cert or crt-list", kname);
    struct err e;
    err_clear(&e);
    if (render_register(r, kind, fname, data, len, &e) < 0) return tmpl_call_error(c, "Register: %s", e.msg);
    return path_value(r, kind, fname, out, c);
}

static const struct tmpl_native_ops registry_ops = {.type_name = "FileRegistry", .call_method = registry_method};

void render_context_init(struct render *r)
{
    r->resources = (struct tmpl_native){&resources_ops, r};
    r->controller = (struct tmpl_native){&controller_ops, r};
    r->path_resolver = (struct tmpl_native){&resolver_ops, r};
    r->file_registry = (struct tmpl_native){&registry_ops, r};
    r->guard_arg = (struct tmpl_native){&render_guard_arg_ops, r};
    r->guard_text = (struct tmpl_native){&render_guard_text_ops, r};
    for (size_t i = 0; i < r->nwrappers; i++) {
        r->wrappers[i].r = r;
        r->wrappers[i].nat = (struct tmpl_native){&wrapper_ops, &r->wrappers[i]};
    }
    r->targets.r = r;
    r->targets.name = RENDER_TARGETS_NAME;
    r->targets.nat = (struct tmpl_native){&wrapper_ops, &r->targets};
}
