/* Compiling every template of the config at load time, so `validate-config` (and `run`, before it starts
 * anything) refuses a template that does not parse: haproxy_config, snippets, maps, files, certificates.
 * Each is added to one in-memory environment under the name the renderer gives it (haproxy.cfg, the
 * snippet's name, the file name), so snippets are found by the names `include` and `import` use. A problem
 * is reported at the template key in the config, naming the template and the line and column inside it.
 * Not a render: undefined variables and runtime errors are for the validation tests. */
#include <stdio.h>
#include <string.h>

#include "common/config/config_parse.h"
#include "common/config/config_schema.h"
#include "common/template/template.h"

struct named {
    const char *name;     /* template name */
    const char *source;
    char key[ERR_WHERE_MAX];  /* where its text is in the config */
};

static void compile_one(struct tmpl_env *env, const struct named *t, struct cfg_check *ck)
{
    struct tmpl *out;
    struct err e;
    err_clear(&e);
    if (tmpl_env_add(env, t->name, t->source, strlen(t->source)) < 0) {
        cfg_error(ck, t->key, "out of memory");
        return;
    }
    if (tmpl_compile(env, t->name, &out, &e) == 0) return;
    if (e.line)
        cfg_error(ck, t->key, "template %s, line %d, column %d: %s", t->name, e.line, e.column, e.msg);
    else
        cfg_error(ck, t->key, "template %s: %s", t->name, e.msg);
}

static void add_files(struct tmpl_env *env, const char *section, const struct config_template_file_map *m,
                      struct cfg_check *ck)
{
    for (size_t i = 0; i < m->len; i++) {
        if (!m->items[i].template) continue;
        struct named t = {.name = m->items[i].name, .source = m->items[i].template};
        char entry[ERR_WHERE_MAX];
        cfg_path_key(entry, sizeof(entry), section, m->items[i].name);
        snprintf(t.key, sizeof(t.key), "%.200s.template", entry);
        compile_one(env, &t, ck);
    }
}

void cfg_check_templates(const struct config *c, struct cfg_check *ck)
{
    struct tmpl_env *env = tmpl_env_new(NULL, NULL);
    if (!env) {
        cfg_error(ck, NULL, "out of memory");
        return;
    }
    /* Snippets first, all of them, so that any template's includes and imports find them. */
    for (size_t i = 0; i < c->template_snippets.len; i++) {
        const struct config_snippet *s = &c->template_snippets.items[i];
        if (s->template && tmpl_env_add(env, s->name, s->template, strlen(s->template)) < 0)
            cfg_error(ck, NULL, "out of memory");
    }
    for (size_t i = 0; i < c->template_snippets.len; i++) {
        const struct config_snippet *s = &c->template_snippets.items[i];
        if (!s->template) continue;
        struct named t = {.name = s->name, .source = s->template};
        char entry[ERR_WHERE_MAX];
        cfg_path_key(entry, sizeof(entry), "template_snippets", s->name);
        snprintf(t.key, sizeof(t.key), "%.200s.template", entry);
        compile_one(env, &t, ck);
    }
    if (c->haproxy_config.template) {
        struct named t = {.name = "haproxy.cfg", .source = c->haproxy_config.template, .key = "haproxy_config.template"};
        compile_one(env, &t, ck);
    }
    add_files(env, "maps", &c->maps, ck);
    add_files(env, "files", &c->files, ck);
    add_files(env, "ssl_certificates", &c->ssl_certificates, ck);
    tmpl_env_free(env);
}
