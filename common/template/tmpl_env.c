/* Template environment: loader (directory or in-memory map), name interning, compile cache, globals, and
 * the render entry points. Compiled templates live as long as their env. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

#define TMPL_NAME_MAX 1024           /* bytes of a template name */
#define TMPL_AST_MEMORY_MAX ((size_t)512 << 20)
#define TMPL_INTERN_MEMORY_MAX ((size_t)64 << 20)

struct tmpl_env *tmpl_env_new(const char *dir, const struct tmpl_options *opt)
{
    struct tmpl_env *env = calloc(1, sizeof(*env));
    if (!env) return NULL;
    if (dir && !(env->dir = strdup(dir))) {
        free(env);
        return NULL;
    }
    if (opt) env->opt = *opt;
    else {
        env->opt.trim_blocks = 1;
        env->opt.lstrip_blocks = 1;
    }
    tmpl_arena_init(&env->iar, TMPL_INTERN_MEMORY_MAX);
    tmpl_arena_init(&env->rar, TMPL_MEMORY_MAX);
    return env;
}

static void tmpl_destroy(struct tmpl *t)
{
    free(t->name);
    free(t->src);
    tmpl_arena_free(&t->ar);
    free(t);
}

void tmpl_env_free(struct tmpl_env *env)
{
    if (!env) return;
    for (struct tmpl *t = env->tmpls, *next; t; t = next) {
        next = t->next;
        tmpl_destroy(t);
    }
    for (struct msrc *m = env->mem, *next; m; m = next) {
        next = m->next;
        free(m->name);
        free(m->src);
        free(m);
    }
    tmpl_regex_cache_free(env);
    free(env->itab);
    free(env->gnames);
    free(env->gvals);
    tmpl_arena_free(&env->iar);
    tmpl_arena_free(&env->rar);
    free(env->dir);
    free(env);
}

void tmpl_free(struct tmpl *t) { (void)t; }

static uint32_t hname(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

const char *tmpl_intern(struct tmpl_env *env, const char *s, size_t n)
{
    if (env->ilen * 2 >= env->icap) {
        size_t cap = env->icap ? env->icap * 2 : 256;
        char **nt = calloc(cap, sizeof(char *));
        if (!nt) return NULL;
        for (size_t i = 0; i < env->icap; i++) {
            char *x = env->itab[i];
            if (!x) continue;
            size_t p = hname(x, strlen(x)) & (cap - 1);
            while (nt[p]) p = (p + 1) & (cap - 1);
            nt[p] = x;
        }
        free(env->itab);
        env->itab = nt;
        env->icap = cap;
    }
    size_t p = hname(s, n) & (env->icap - 1);
    while (env->itab[p]) {
        if (strncmp(env->itab[p], s, n) == 0 && env->itab[p][n] == '\0') return env->itab[p];
        p = (p + 1) & (env->icap - 1);
    }
    char *d = tmpl_arena_strndup(&env->iar, s, n);
    if (!d) return NULL;
    env->itab[p] = d;
    env->ilen++;
    return d;
}

int tmpl_env_add(struct tmpl_env *env, const char *name, const char *source, size_t len)
{
    for (struct tmpl **pp = &env->tmpls; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->name, name)) (*pp)->name[0] = '\0';  /* retired: kept until env_free */
    for (struct msrc *m = env->mem; m; m = m->next)
        if (!strcmp(m->name, name)) {
            char *s = malloc(len + 1);
            if (!s) return -1;
            memcpy(s, source, len);
            s[len] = '\0';
            free(m->src);
            m->src = s;
            m->len = len;
            return 0;
        }
    struct msrc *m = calloc(1, sizeof(*m));
    if (!m) return -1;
    m->name = strdup(name);
    m->src = malloc(len + 1);
    if (!m->name || !m->src) {
        free(m->name);
        free(m->src);
        free(m);
        return -1;
    }
    memcpy(m->src, source, len);
    m->src[len] = '\0';
    m->len = len;
    m->next = env->mem;
    env->mem = m;
    return 0;
}

int tmpl_env_set_global(struct tmpl_env *env, const char *name, struct tmpl_value v)
{
    const char *in = tmpl_intern(env, name, strlen(name));
    if (!in) return -1;
    for (size_t i = 0; i < env->ng; i++)
        if (env->gnames[i] == in) {
            env->gvals[i] = v;
            return 0;
        }
    if (env->ng == env->gcap) {
        size_t cap = env->gcap ? env->gcap * 2 : 8;
        const char **gn = realloc(env->gnames, cap * sizeof(*gn));
        if (!gn) return -1;
        env->gnames = gn;
        tv *gv = realloc(env->gvals, cap * sizeof(*gv));
        if (!gv) return -1;
        env->gvals = gv;
        env->gcap = cap;
    }
    env->gnames[env->ng] = in;
    env->gvals[env->ng] = v;
    env->ng++;
    return 0;
}

/* reads dir/name; refuses names that climb out of dir */
static int read_source(struct tmpl_env *env, const char *name, char **src, size_t *len, int *missing,
                       struct err *e)
{
    *missing = 0;
    if (!env->dir) {
        for (struct msrc *m = env->mem; m; m = m->next)
            if (!strcmp(m->name, name)) {
                *src = malloc(m->len + 1);
                if (!*src) return err_set(e, "out of memory");
                memcpy(*src, m->src, m->len + 1);
                *len = m->len;
                return 0;
            }
        *missing = 1;
        return err_set(e, "template not found: %s", name);
    }
    /* Jinja's FileSystemLoader: '/'-separated pieces, no '..' */
    if (name[0] == '/' || strstr(name, "\\")) {
        *missing = 1;
        return err_set(e, "template not found: %s", name);
    }
    for (const char *p = name; *p;) {
        const char *q = strchr(p, '/');
        size_t l = q ? (size_t)(q - p) : strlen(p);
        if (l == 2 && p[0] == '.' && p[1] == '.') {
            *missing = 1;
            return err_set(e, "template not found: %s", name);
        }
        p += l + (q ? 1 : 0);
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", env->dir, name) >= sizeof(path)) {
        *missing = 1;
        return err_set(e, "template not found: %s", name);
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) *missing = 1;
        return err_set(e, "template not found: %s", name);
    }
    struct buf b;
    buf_init(&b);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + got > TMPL_SOURCE_MAX) {
            fclose(f);
            buf_free(&b);
            return err_set(e, "template %s is larger than %zu bytes", name, TMPL_SOURCE_MAX);
        }
        buf_append(&b, chunk, got);
    }
    int ferr = ferror(f);
    fclose(f);
    if (ferr) {
        buf_free(&b);
        *missing = 1;  /* a directory reads as an error: not a template */
        return err_set(e, "template not found: %s", name);
    }
    if (b.oom) {
        buf_free(&b);
        return err_set(e, "out of memory");
    }
    *len = b.len;
    *src = buf_steal(&b);
    return 0;
}

/* \r\n and \r become \n; one trailing newline is dropped (Jinja's keep_trailing_newline=False) */
static size_t normalize(char *s, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r') {
            s[k++] = '\n';
            if (i + 1 < len && s[i + 1] == '\n') i++;
        } else {
            s[k++] = s[i];
        }
    }
    if (k && s[k - 1] == '\n') k--;
    s[k] = '\0';
    return k;
}

int tmpl_load(struct tmpl_env *env, const char *name, struct tmpl **out, struct err *e, int *missing)
{
    *missing = 0;
    if (strlen(name) > TMPL_NAME_MAX) return err_set(e, "template name too long");
    for (struct tmpl *t = env->tmpls; t; t = t->next)
        if (t->ok && !strcmp(t->name, name)) {
            *out = t;
            return 0;
        }
    char *src;
    size_t len;
    if (read_source(env, name, &src, &len, missing, e) < 0) return -1;
    struct tmpl *t = calloc(1, sizeof(*t));
    if (!t || !(t->name = strdup(name))) {
        free(t);
        free(src);
        return err_set(e, "out of memory");
    }
    t->env = env;
    t->src = src;
    t->srclen = normalize(src, len);
    tmpl_arena_init(&t->ar, TMPL_AST_MEMORY_MAX);
    struct token *toks;
    size_t ntok;
    if (tmpl_lex(t, &t->ar, t->src, t->srclen, &toks, &ntok, e) < 0 || tmpl_parse(t, toks, ntok, e) < 0) {
        tmpl_destroy(t);
        return -1;
    }
    t->ok = 1;
    t->next = env->tmpls;
    env->tmpls = t;
    *out = t;
    return 0;
}

int tmpl_compile(struct tmpl_env *env, const char *name, struct tmpl **out, struct err *e)
{
    int missing;
    err_clear(e);
    return tmpl_load(env, name, out, e, &missing);
}

int tmpl_render_value(struct tmpl *t, const struct tmpl_value *context, const char *const *names,
                      const struct tmpl_value *vals, size_t nvars, struct buf *out, struct err *e)
{
    struct tmpl_env *env = t->env;
    err_clear(e);
    if (env->rendering) return err_set(e, "tmpl_render called while a render of the same env is running");
    if (context && context->kind != TMPL_PDICT && context->kind != TMPL_JDICT)
        return err_set(e, "render context must be an object");
    struct tmpl_call r;
    memset(&r, 0, sizeof(r));
    r.env = env;
    r.ar = &env->rar;
    if (context) r.ctx = *context;
    r.kcache = tmpl_arena_alloc(&env->rar, sizeof(*r.kcache) * TMPL_KCACHE_SIZE);   /* NULL: no cache */
    r.vnames = names;
    r.vvals = vals;
    r.nvars = nvars;
    r.e = e;
    r.strict = env->opt.strict;
    r.outmax = out->len + (env->opt.max_output ? env->opt.max_output : TMPL_OUTPUT_MAX);
    r.max_steps = env->opt.max_steps > 0 ? env->opt.max_steps : TMPL_STEPS_MAX;
    r.blockval = v_undef();
    env->rendering = 1;
    int rc = tmpl_render_root(&r, t, out);
    if (rc == 0 && (r.failed || out->oom)) {
        if (!r.reported) err_set(e, "out of memory during render of %s", t->name);
        rc = -1;
    }
    env->rendering = 0;
    tmpl_arena_reset(&env->rar);
    return rc < 0 ? -1 : 0;
}

int tmpl_render_vars(struct tmpl *t, json_object *context, const char *const *names,
                     const struct tmpl_value *vals, size_t nvars, struct buf *out, struct err *e)
{
    if (context && !json_object_is_type(context, json_type_object)) {
        err_clear(e);
        return err_set(e, "render context must be a JSON object");
    }
    tv ctx = tmpl_v_from_json(context);
    return tmpl_render_value(t, context ? &ctx : NULL, names, vals, nvars, out, e);
}

int tmpl_render(struct tmpl *t, json_object *context, struct buf *out, struct err *e)
{
    return tmpl_render_vars(t, context, NULL, NULL, 0, out, e);
}
