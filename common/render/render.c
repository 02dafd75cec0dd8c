/* Rendering one generation: the config's templates compiled once into one env (render_new), then every
 * output rendered over the stores (render_run): haproxy.cfg, each map, file and certificate, post-processing
 * applied, plus the files templates registered, checked for conflicts and sorted by (kind, name).
 * Not for: the natives (render_context.c, render_guard.c), post-processing (render_post.c), writing. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/render/render_internal.h"
#include "common/store/packed_path.h"

/* Variables the renderer defines; an extra_context key of the same name is dropped (ours win). */
static const char *const context_names[] = {
    "resources", "controller", "template_snippets", "pathResolver", "file_registry", "haproxy_arg", "haproxy_text",
};
#define NCONTEXT (sizeof(context_names) / sizeof(context_names[0]))

static int snippet_cmp(const void *a, const void *b)
{
    const struct config_snippet *x = *(const struct config_snippet *const *)a, *y = *(const struct config_snippet *const *)b;
    if (x->priority != y->priority) return x->priority < y->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int add_template(struct render *r, const char *name, const char *source, struct err *e)
{
    if (!source) return 0;
    if (tmpl_env_add(r->env, name, source, strlen(source)) < 0) return err_set(e, "out of memory");
    return 0;
}

static int compile(struct render *r, const char *name, const char *source, struct err *e)
{
    struct tmpl *t;
    if (!source) return 0;
    return tmpl_compile(r->env, name, &t, e);
}

static int add_files(struct render *r, const struct config_template_file_map *m, struct err *e)
{
    for (size_t i = 0; i < m->len; i++)
        if (add_template(r, m->items[i].name, m->items[i].template, e) < 0) return -1;
    return 0;
}

static int compile_files(struct render *r, const struct config_template_file_map *m, struct err *e)
{
    for (size_t i = 0; i < m->len; i++)
        if (compile(r, m->items[i].name, m->items[i].template, e) < 0) return -1;
    return 0;
}

int render_new(const struct config *cfg, struct render **out, struct err *e)
{
    *out = NULL;
    struct render *r = calloc(1, sizeof(*r));
    if (!r) return err_set(e, "out of memory");
    r->cfg = cfg;
    struct tmpl_options o = {.trim_blocks = 1, .lstrip_blocks = 1};
    r->env = tmpl_env_new(NULL, &o);
    r->snippets = json_object_new_array();
    r->context = json_object_new_object();
    r->nwrappers = cfg->watched_resources.len;
    r->wrappers = calloc(r->nwrappers ? r->nwrappers : 1, sizeof(r->wrappers[0]));
    const struct config_snippet **sorted = calloc(cfg->template_snippets.len + 1, sizeof(*sorted));
    if (!r->env || !r->snippets || !r->context || !r->wrappers || !sorted) {
        free(sorted);
        render_free(r);
        return err_set(e, "out of memory");
    }
    for (size_t i = 0; i < r->nwrappers; i++) r->wrappers[i].name = cfg->watched_resources.items[i].name;
    render_context_init(r);
    for (size_t i = 0; i < cfg->template_snippets.len; i++) sorted[i] = &cfg->template_snippets.items[i];
    qsort(sorted, cfg->template_snippets.len, sizeof(*sorted), snippet_cmp);
    for (size_t i = 0; i < cfg->template_snippets.len; i++)
        json_object_array_add(r->snippets, json_object_new_string(sorted[i]->name));
    free(sorted);
    if (cfg->templating_settings.extra_context && json_object_is_type(cfg->templating_settings.extra_context, json_type_object)) {
        json_object_object_foreach(cfg->templating_settings.extra_context, k, v) {
            int ours = 0;
            for (size_t i = 0; i < NCONTEXT; i++) ours |= !strcmp(k, context_names[i]);
            if (!ours) json_object_object_add(r->context, k, json_object_get(v));
        }
    }
    int rc = 0;
    for (size_t i = 0; i < cfg->template_snippets.len && rc == 0; i++)
        rc = add_template(r, cfg->template_snippets.items[i].name, cfg->template_snippets.items[i].template, e);
    if (rc == 0) rc = add_template(r, RUNDIR_CONFIG_NAME, cfg->haproxy_config.template, e);
    if (rc == 0) rc = add_files(r, &cfg->maps, e);
    if (rc == 0) rc = add_files(r, &cfg->files, e);
    if (rc == 0) rc = add_files(r, &cfg->ssl_certificates, e);
    /* compile everything now: a config that loaded compiles, but a render must never be the first to know */
    for (size_t i = 0; i < cfg->template_snippets.len && rc == 0; i++)
        rc = compile(r, cfg->template_snippets.items[i].name, cfg->template_snippets.items[i].template, e);
    if (rc == 0) rc = compile(r, RUNDIR_CONFIG_NAME, cfg->haproxy_config.template, e);
    if (rc == 0) rc = compile_files(r, &cfg->maps, e);
    if (rc == 0) rc = compile_files(r, &cfg->files, e);
    if (rc == 0) rc = compile_files(r, &cfg->ssl_certificates, e);
    if (rc < 0) {
        render_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

static void regs_clear(struct render *r)
{
    for (size_t i = 0; i < r->nregs; i++) {
        free(r->regs[i].name);
        buf_free(&r->regs[i].data);
    }
    r->nregs = 0;
}

void render_free(struct render *r)
{
    if (!r) return;
    regs_clear(r);
    free(r->regs);
    tmpl_env_free(r->env);
    json_object_put(r->context);
    json_object_put(r->snippets);
    free(r->wrappers);
    free(r);
}

int render_register(struct render *r, int kind, const char *name, const char *data, size_t len, struct err *e)
{
    if (rundir_name_check(name, e) < 0) return -1;
    for (size_t i = 0; i < r->nregs; i++) {
        struct render_reg *g = &r->regs[i];
        if (g->kind != kind || strcmp(g->name, name)) continue;
        if (g->data.len == len && (len == 0 || !memcmp(g->data.data, data, len))) return 0;
        return err_set(e, "%s %s registered twice with different content", rundir_kind_name(kind), name);
    }
    if (r->nregs >= RENDER_REGISTERED_MAX) return err_set(e, "more than %d files in one rendering", RENDER_REGISTERED_MAX);
    if (r->nregs == r->capregs) {
        size_t cap = r->capregs ? r->capregs * 2 : 16;
        struct render_reg *g = realloc(r->regs, cap * sizeof(*g));
        if (!g) return err_set(e, "out of memory");
        r->regs = g;
        r->capregs = cap;
    }
    struct render_reg *g = &r->regs[r->nregs];
    g->kind = kind;
    g->name = strdup(name);
    buf_init(&g->data);
    if (!g->name || buf_append(&g->data, data, len) < 0) {
        free(g->name);
        buf_free(&g->data);
        return err_set(e, "out of memory");
    }
    r->nregs++;
    return 1;
}

/* Renders one template to text, post-processed, and registers it as (kind, name). */
static int render_one(struct render *r, int kind, const char *name, const char *source,
                      const struct config_post_processor_list *pp, struct render_error *re)
{
    if (!source) return 0;
    struct tmpl *t;
    if (tmpl_compile(r->env, name, &t, &re->e) < 0) return -1;
    const struct tmpl_value vals[NCONTEXT] = {
        tmpl_value_native(&r->resources), tmpl_value_native(&r->controller), tmpl_value_json(r->snippets),
        tmpl_value_native(&r->path_resolver), tmpl_value_native(&r->file_registry), tmpl_value_native(&r->guard_arg),
        tmpl_value_native(&r->guard_text),
    };
    struct buf out;
    buf_init(&out);
    int rc = tmpl_render_vars(t, r->context, context_names, vals, NCONTEXT, &out, &re->e);
    if (rc == 0 && render_post_process(pp, &out, &re->e) < 0) {
        snprintf(re->e.file, sizeof(re->e.file), "%s", name);
        rc = -1;
    }
    /* Jinja drops a template's last newline, and a `{%- ... %}` at the end eats the one before: haproxy
     * refuses a config (and warns on a map) whose last line has no LF, so line-oriented outputs get one. */
    if (rc == 0 && (kind == RUNDIR_KIND_CONFIG || kind == RUNDIR_KIND_MAP) && out.len &&
        out.data[out.len - 1] != '\n' && buf_putc(&out, '\n') < 0)
        rc = -1;
    if (rc == 0 && render_register(r, kind, name, out.data ? out.data : "", out.len, &re->e) < 0) {
        snprintf(re->e.file, sizeof(re->e.file), "%s", name);
        rc = -1;
    }
    buf_free(&out);
    return rc;
}

static int render_files(struct render *r, int kind, const struct config_template_file_map *m, struct render_error *re)
{
    for (size_t i = 0; i < m->len; i++)
        if (render_one(r, kind, m->items[i].name, m->items[i].template, &m->items[i].post_processing, re) < 0) return -1;
    return 0;
}

static int file_cmp(const void *a, const void *b)
{
    const struct render_file *x = a, *y = b;
    int k = strcmp(rundir_kind_name(x->kind), rundir_kind_name(y->kind));
    return k ? k : strcmp(x->name, y->name);
}

int render_run(struct render *r, const struct render_input *in, struct render_result *res, struct render_error *re)
{
    memset(res, 0, sizeof(*res));
    memset(re, 0, sizeof(*re));
    regs_clear(r);
    r->error = re;
    r->in = in;
    for (size_t i = 0; i < r->nwrappers; i++) {
        r->wrappers[i].store = NULL;
        for (size_t j = 0; j < in->nstores; j++)
            if (!strcmp(in->stores[j].name, r->wrappers[i].name)) r->wrappers[i].store = in->stores[j].store;
    }
    r->targets.store = in->targets;
    const struct config *cfg = r->cfg;
    int rc = render_one(r, RUNDIR_KIND_CONFIG, RUNDIR_CONFIG_NAME, cfg->haproxy_config.template,
                        &cfg->haproxy_config.post_processing, re);
    if (rc == 0) rc = render_files(r, RUNDIR_KIND_MAP, &cfg->maps, re);
    if (rc == 0) rc = render_files(r, RUNDIR_KIND_FILE, &cfg->files, re);
    if (rc == 0) rc = render_files(r, RUNDIR_KIND_CERT, &cfg->ssl_certificates, re);
    r->error = NULL;
    r->in = NULL;
    for (size_t i = 0; i < r->nwrappers; i++) r->wrappers[i].store = NULL;
    r->targets.store = NULL;
    if (rc == 0 && !(res->files = calloc(r->nregs ? r->nregs : 1, sizeof(res->files[0])))) {
        err_set(&re->e, "out of memory");
        rc = -1;
    }
    if (rc < 0) {
        if (!re->e.msg[0]) err_set(&re->e, "render failed");
        regs_clear(r);
        return -1;
    }
    /* the file list takes the registry's buffers */
    for (size_t i = 0; i < r->nregs; i++)
        res->files[i] = (struct render_file){.kind = r->regs[i].kind, .name = r->regs[i].name, .data = r->regs[i].data};
    res->nfiles = r->nregs;
    r->nregs = 0;
    qsort(res->files, res->nfiles, sizeof(res->files[0]), file_cmp);
    return 0;
}

void render_result_free(struct render_result *res)
{
    if (!res) return;
    for (size_t i = 0; i < res->nfiles; i++) {
        free(res->files[i].name);
        buf_free(&res->files[i].data);
    }
    free(res->files);
    memset(res, 0, sizeof(*res));
}

int render_result_files(const struct render_result *res, struct rundir_file **out)
{
    *out = calloc(res->nfiles ? res->nfiles : 1, sizeof(**out));
    if (!*out) return -1;
    for (size_t i = 0; i < res->nfiles; i++)
        (*out)[i] = (struct rundir_file){.kind = res->files[i].kind, .name = res->files[i].name,
                                         .data = res->files[i].data.data ? res->files[i].data.data : "",
                                         .len = res->files[i].data.len};
    return 0;
}

/* ---- stores for a config ---- */

static int simple_name(const char *s, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return 0;
    return 1;
}

static int emit_name(struct buf *b, const char *s, size_t n, int first)
{
    if (simple_name(s, n)) {
        if (!first && buf_putc(b, '.') < 0) return -1;
        return buf_append(b, s, n);
    }
    if (buf_puts(b, "['") < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] == '\'' || s[i] == '\\') && buf_putc(b, '\\') < 0) return -1;
        if (buf_putc(b, s[i]) < 0) return -1;
    }
    return buf_puts(b, "']");
}

int render_index_path(const char *expr, char *out, size_t n, struct err *e)
{
    size_t len = strlen(expr);
    const char *p = expr, *end = expr + len;
    if (len >= 2 && p[0] == '{' && end[-1] == '}') {
        p++;
        end--;
    }
    if (p < end && *p == '$') p++;
    if (p < end && *p == '.') p++;
    struct buf b, name;
    buf_init(&b);
    buf_init(&name);
    int first = 1, rc = 0;
    while (p < end && rc == 0) {
        if (*p == '[') {
            const char *close = memchr(p, ']', (size_t)(end - p));
            if (!close) {
                rc = err_set(e, "index_by %s: unclosed [", expr);
                break;
            }
            if ((p[1] == '\'' || p[1] == '"') && close - p >= 3 && close[-1] == p[1]) {
                rc = emit_name(&b, p + 2, (size_t)(close - p - 3), first);
            } else {
                for (const char *d = p + 1; d < close; d++)
                    if (!isdigit((unsigned char)*d)) rc = err_set(e, "index_by %s: only names and [N] name one value", expr);
                if (rc == 0 && close == p + 1) rc = err_set(e, "index_by %s: empty []", expr);
                if (rc == 0) rc = buf_append(&b, p, (size_t)(close - p + 1));
            }
            p = close + 1;
            if (p < end && *p == '.') p++;
        } else {
            buf_reset(&name);
            while (p < end && *p != '.' && *p != '[') {
                if (*p == '\\' && p + 1 < end && p[1] == '.') p++;
                if (buf_putc(&name, *p++) < 0) rc = -1;
            }
            if (name.len == 0 || (name.len == 1 && name.data[0] == '*')) {
                if (rc == 0) rc = err_set(e, "index_by %s: a wildcard or empty name does not name one value", expr);
                break;
            }
            if (rc == 0) rc = emit_name(&b, name.data, name.len, first);
            if (p < end && *p == '.') p++;
        }
        first = 0;
        if (rc < 0 && !e->msg[0]) err_set(e, "out of memory");
    }
    if (rc == 0 && b.len == 0) rc = err_set(e, "index_by %s: empty path", expr);
    if (rc == 0 && b.len >= n) rc = err_set(e, "index_by %s: too long", expr);
    if (rc == 0) memcpy(out, b.data, b.len + 1);
    buf_free(&b);
    buf_free(&name);
    return rc;
}

void render_stores_free(struct render_store *s, size_t n)
{
    if (!s) return;
    for (size_t i = 0; i < n; i++) store_free(s[i].store);
    free(s);
}

int render_stores_new(const struct config *cfg, struct packed_keys *k, struct render_store **out, size_t *n,
                      struct err *e)
{
    const struct config_watched_resource_map *m = &cfg->watched_resources;
    *out = calloc(m->len ? m->len : 1, sizeof(**out));
    *n = 0;
    if (!*out) return err_set(e, "out of memory");
    for (size_t i = 0; i < m->len; i++) {
        const struct config_watched_resource *w = &m->items[i];
        if (w->index_by.len > STORE_INDEX_MAX) {
            err_set(e, "%s: more than %d index_by keys", w->name, STORE_INDEX_MAX);
            goto fail;
        }
        char paths[STORE_INDEX_MAX][PACKED_PATH_MAX + 1];
        const char *pp[STORE_INDEX_MAX];
        for (size_t j = 0; j < w->index_by.len; j++) {
            if (render_index_path(w->index_by.items[j], paths[j], sizeof(paths[j]), e) < 0) goto fail;
            pp[j] = paths[j];
        }
        (*out)[i].name = w->name;
        if (store_new(k, w->name, pp, w->index_by.len, NULL, &(*out)[i].store, e) < 0) goto fail;
        *n = i + 1;
    }
    return 0;
fail:
    render_stores_free(*out, *n);
    *out = NULL;
    *n = 0;
    return -1;
}

int render_targets_store_new(struct packed_keys *k, struct store **out, struct err *e)
{
    const char *idx[] = {"metadata.namespace", "metadata.name"};
    return store_new(k, RENDER_TARGETS_NAME, idx, 2, NULL, out, e);
}
