/* The `render` subcommand: --template FILE --context FILE.json [--no-trim-blocks] [--no-lstrip-blocks]
 * [--strict] [--context-loader packed|json-c]. The context is read with the packed text builder (one block,
 * no json-c tree, peak memory about the block) and rendered in place; `--context-loader json-c` parses it
 * with json-c instead, so the conformance suite covers both of the engine's borrowed container kinds.
 * Includes and imports resolve relative to the template's directory; output goes to stdout; any error is
 * one message on stderr and exit status 2. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/template/template.h"
#include "common/template/template_cli.h"

#define CONTEXT_MAX ((size_t)512 << 20)  /* bytes of a context file: PACKED_BLOCK_MAX, 30x the 10k-Ingress context */

static int fail(const char *fmt, const char *a)
{
    fprintf(stderr, "haproxy-template-ic render: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    return 2;
}

/* The loaded context: a packed block (default) or a json-c tree; `root` views it. */
struct context {
    struct packed_keys *keys;   /* owned */
    struct packed *block;       /* owned */
    json_object *json;          /* owned */
    struct tmpl_value root;
};

static void context_free(struct context *c)
{
    packed_free(c->block);
    packed_keys_free(c->keys);
    json_object_put(c->json);
}

static int open_context(const char *path, char *msg, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(msg, n, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (S_ISREG(st.st_mode) && (size_t)st.st_size > CONTEXT_MAX) {
        snprintf(msg, n, "%s: larger than %zu bytes", path, CONTEXT_MAX);
        close(fd);
        return -1;
    }
    return fd;
}

static int load_packed(const char *path, struct context *c, char *msg, size_t n)
{
    int fd = open_context(path, msg, n);
    if (fd < 0) return -1;
    struct err e;
    err_clear(&e);
    int rc = -1;
    if (!(c->keys = packed_keys_new())) snprintf(msg, n, "out of memory");
    else if (packed_from_fd(c->keys, fd, NULL, &c->block, &e) < 0) snprintf(msg, n, "%s: %s", path, e.msg);
    else if (packed_type(packed_root(c->block)) != PACKED_OBJECT) snprintf(msg, n, "%s: the context must be a JSON object", path);
    else {
        c->root = tmpl_value_packed(packed_root(c->block));
        rc = 0;
    }
    close(fd);
    return rc;
}

static int load_json(const char *path, struct context *c, char *msg, size_t n)
{
    int fd = open_context(path, msg, n);
    if (fd < 0) return -1;
    struct buf b;
    buf_init(&b);
    char chunk[65536];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 || b.len + (size_t)got > CONTEXT_MAX) {
            if (got < 0) snprintf(msg, n, "%s: %s", path, strerror(errno));
            else snprintf(msg, n, "%s: larger than %zu bytes", path, CONTEXT_MAX);
            close(fd);
            buf_free(&b);
            return -1;
        }
        buf_append(&b, chunk, (size_t)got);
    }
    close(fd);
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    if (!tok || b.oom) {
        json_tokener_free(tok);
        buf_free(&b);
        snprintf(msg, n, "out of memory");
        return -1;
    }
    json_object *j = json_tokener_parse_ex(tok, buf_cstr(&b), (int)b.len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (!j || je != json_tokener_success) {
        if (je == json_tokener_continue) snprintf(msg, n, "%s: unexpected end of JSON", path);
        else snprintf(msg, n, "%s: invalid JSON at byte %zu: %s", path, end, json_tokener_error_desc(je));
    } else if (end < b.len && strspn(buf_cstr(&b) + end, " \t\r\n") != b.len - end) {
        snprintf(msg, n, "%s: trailing characters after the JSON value", path);
    } else if (!json_object_is_type(j, json_type_object)) {
        snprintf(msg, n, "%s: the context must be a JSON object", path);
    } else {
        c->json = j;
        c->root = tmpl_value_json(j);
        j = NULL;
    }
    json_object_put(j);
    json_tokener_free(tok);
    buf_free(&b);
    return c->json ? 0 : -1;
}

int template_cli_main(int argc, char **argv)
{
    const char *tpath = NULL, *cpath = NULL;
    struct tmpl_options opt = {.trim_blocks = 1, .lstrip_blocks = 1, .strict = 0};
    int use_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--template") && i + 1 < argc) tpath = argv[++i];
        else if (!strcmp(argv[i], "--context") && i + 1 < argc) cpath = argv[++i];
        else if (!strcmp(argv[i], "--no-trim-blocks")) opt.trim_blocks = 0;
        else if (!strcmp(argv[i], "--no-lstrip-blocks")) opt.lstrip_blocks = 0;
        else if (!strcmp(argv[i], "--strict")) opt.strict = 1;
        else if (!strcmp(argv[i], "--context-loader") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "packed") || !strcmp(argv[i + 1], "json-c")))
            use_json = !strcmp(argv[++i], "json-c");
        else return fail("unknown or incomplete argument '%s' (usage: render --template FILE --context FILE.json "
                         "[--no-trim-blocks] [--no-lstrip-blocks] [--strict] [--context-loader packed|json-c])",
                         argv[i]);
    }
    if (!tpath) return fail("%s", "--template FILE is required");
    if (!cpath) return fail("%s", "--context FILE.json is required");
    char msg[1024];
    struct context ctx = {0};
    if ((use_json ? load_json : load_packed)(cpath, &ctx, msg, sizeof(msg)) < 0) {
        context_free(&ctx);
        return fail("%s", msg);
    }
    char *dir = strdup(tpath);
    if (!dir) {
        context_free(&ctx);
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
    } else if (tmpl_compile(env, name, &t, &e) < 0 || tmpl_render_value(t, &ctx.root, NULL, NULL, 0, &out, &e) < 0) {
        char m[ERR_MSG_MAX + ERR_WHERE_MAX + 64];
        err_format(&e, m, sizeof(m));
        status = fail("%s", m);
    } else if (fwrite(buf_cstr(&out), 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        status = fail("%s", "cannot write output");
    }
    buf_free(&out);
    tmpl_env_free(env);
    free(dir);
    context_free(&ctx);
    return status;
}
