/* The `render` subcommand: --template FILE --context FILE.json [--no-trim-blocks] [--no-lstrip-blocks]
 * [--strict]. Includes and imports resolve relative to the template's directory; output goes to stdout;
 * any error is one message on stderr and exit status 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/template.h"
#include "common/template/template_cli.h"

#define CONTEXT_MAX ((size_t)512 << 20)  /* bytes of a context file */

static int fail(const char *fmt, const char *a)
{
    fprintf(stderr, "haproxy-template-ic render: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    return 2;
}

static json_object *load_context(const char *path, char *msg, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, n, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b;
    buf_init(&b);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + got > CONTEXT_MAX) {
            snprintf(msg, n, "%s: larger than %zu bytes", path, CONTEXT_MAX);
            fclose(f);
            buf_free(&b);
            return NULL;
        }
        buf_append(&b, chunk, got);
    }
    fclose(f);
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    if (!tok) {
        buf_free(&b);
        snprintf(msg, n, "out of memory");
        return NULL;
    }
    json_object *j = json_tokener_parse_ex(tok, buf_cstr(&b), (int)b.len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    if (!j || je != json_tokener_success) {
        if (je == json_tokener_continue) snprintf(msg, n, "%s: unexpected end of JSON", path);
        else snprintf(msg, n, "%s: invalid JSON at byte %zu: %s", path, json_tokener_get_parse_end(tok),
                      json_tokener_error_desc(je));
        json_object_put(j);
        j = NULL;
    } else if (json_tokener_get_parse_end(tok) < b.len &&
               strspn(buf_cstr(&b) + json_tokener_get_parse_end(tok), " \t\r\n") !=
                   b.len - json_tokener_get_parse_end(tok)) {
        snprintf(msg, n, "%s: trailing data after the JSON value", path);
        json_object_put(j);
        j = NULL;
    } else if (!json_object_is_type(j, json_type_object)) {
        snprintf(msg, n, "%s: the context must be a JSON object", path);
        json_object_put(j);
        j = NULL;
    }
    json_tokener_free(tok);
    buf_free(&b);
    return j;
}

int template_cli_main(int argc, char **argv)
{
    const char *tpath = NULL, *cpath = NULL;
    struct tmpl_options opt = {.trim_blocks = 1, .lstrip_blocks = 1, .strict = 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--template") && i + 1 < argc) tpath = argv[++i];
        else if (!strcmp(argv[i], "--context") && i + 1 < argc) cpath = argv[++i];
        else if (!strcmp(argv[i], "--no-trim-blocks")) opt.trim_blocks = 0;
        else if (!strcmp(argv[i], "--no-lstrip-blocks")) opt.lstrip_blocks = 0;
        else if (!strcmp(argv[i], "--strict")) opt.strict = 1;
        else return fail("unknown or incomplete argument '%s' (usage: render --template FILE --context FILE.json "
                         "[--no-trim-blocks] [--no-lstrip-blocks] [--strict])", argv[i]);
    }
    if (!tpath) return fail("%s", "--template FILE is required");
    if (!cpath) return fail("%s", "--context FILE.json is required");
    char msg[1024];
    json_object *ctx = load_context(cpath, msg, sizeof(msg));
    if (!ctx) return fail("%s", msg);
    char *dir = strdup(tpath);
    if (!dir) {
        json_object_put(ctx);
        return fail("%s", "out of memory");
    }
    char *slash = strrchr(dir, '/');
    const char *name = tpath;
    if (slash) {
        *slash = '\0';
        name = tpath + (slash - dir) + 1;
        if (!dir[0]) strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    struct tmpl_env *env = tmpl_env_new(dir, &opt);
    int status = 0;
    struct err e;
    err_clear(&e);
    struct tmpl *t;
    struct buf out;
    buf_init(&out);
    if (!env) {
        status = fail("%s", "out of memory");
    } else if (tmpl_compile(env, name, &t, &e) < 0 || tmpl_render(t, ctx, &out, &e) < 0) {
        char m[ERR_MSG_MAX + ERR_WHERE_MAX + 64];
        err_format(&e, m, sizeof(m));
        status = fail("%s", m);
    } else if (fwrite(buf_cstr(&out), 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        status = fail("%s", "cannot write output");
    }
    buf_free(&out);
    tmpl_env_free(env);
    free(dir);
    json_object_put(ctx);
    return status;
}
