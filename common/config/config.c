/* Loading a config: read the file (bounded), build the YAML document (config_yaml.c), hand it to the schema
 * walker, and return either a complete struct config or every problem found. Also the JSON description and
 * the generated reference. What the keys mean is in the schema tables, not here. */
#include "common/config/config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/config/config_parse.h"

/* Errors in input order (line, column); those without a position keep their order at the end. */
struct ranked {
    struct err e;
    size_t seq;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    long lx = x->e.line ? x->e.line : 0x7fffffff, ly = y->e.line ? y->e.line : 0x7fffffff;
    if (lx != ly) return lx < ly ? -1 : 1;
    if (x->e.column != y->e.column) return x->e.column < y->e.column ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void sort_errors(struct err_list *errs, size_t from)
{
    size_t n = errs->len - from;
    if (n < 2) return;
    struct ranked *r = malloc(n * sizeof(*r));
    if (!r) return; /* unsorted is still correct */
    for (size_t i = 0; i < n; i++) {
        r[i].e = errs->items[from + i];
        r[i].seq = i;
    }
    qsort(r, n, sizeof(*r), cmp_ranked);
    for (size_t i = 0; i < n; i++) errs->items[from + i] = r[i].e;
    free(r);
}

static int load(const char *text, size_t len, const char *name, struct config **out, struct err_list *errs)
{
    *out = NULL;
    size_t before = errs->len;
    if (len > CONFIG_MAX_FILE_BYTES) {
        err_list_add(errs, name, "", 0, 0, "config is larger than %d bytes", CONFIG_MAX_FILE_BYTES);
        return -1;
    }
    yaml_document_t doc;
    if (cfg_yaml_load(text, len, name, &doc, errs) < 0) return -1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || (root->type == YAML_SCALAR_NODE && root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                  root->data.scalar.length == 0)) {
        err_list_add(errs, name, "", 0, 0, "the config is empty: expected a mapping with at least haproxy_config");
        yaml_document_delete(&doc);
        return -1;
    }

    struct config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        err_list_add(errs, name, "", 0, 0, "out of memory");
        yaml_document_delete(&doc);
        return -1;
    }
    struct cfg_parse pc = {.file = name, .errs = errs, .doc = &doc, .root = cfg};
    cfg_parse_root(&pc, cfg, root);
    cfg_parse_done(&pc);
    yaml_document_delete(&doc);
    sort_errors(errs, before);
    cfg->source = strdup(name);
    /* pc.nerrors too: a problem whose entry could not be stored (out of memory) still fails the load */
    if (errs->len > before || pc.nerrors || !cfg->source) {
        if (!cfg->source && errs->len == before) err_list_add(errs, name, "", 0, 0, "out of memory");
        config_free(cfg);
        return -1;
    }
    *out = cfg;
    return 0;
}

int config_load_string(const char *yaml, const char *name, struct config **out, struct err_list *errs)
{
    return load(yaml, strlen(yaml), name ? name : "<config>", out, errs);
}

static int load_stream(FILE *f, const char *path, struct config **out, struct err_list *errs);

int config_load_file(const char *path, struct config **out, struct err_list *errs)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_list_add(errs, path, "", 0, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f); /* fopen accepts a directory; reading it would fail with a bare EISDIR */
        err_list_add(errs, path, "", 0, 0, "is a directory: give the config file's path");
        return -1;
    }
    return load_stream(f, path, out, errs);
}

/* Every child of the supervisor inherits the same open file description of the snapshot, and so one shared
 * file offset: reading through it (read, or rewind then fread) lets children starting at once move each
 * other's position. pread at explicit offsets never touches that offset. */
int config_load_fd(int fd, const char *name, struct config **out, struct err_list *errs)
{
    *out = NULL;
    struct buf b;
    buf_init(&b);
    char chunk[65536];
    int rc = 0;
    for (;;) {
        ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)b.len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err_list_add(errs, name, "", 0, 0, "cannot read the config snapshot: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0) break;
        if (b.len + (size_t)n > CONFIG_MAX_FILE_BYTES) {
            err_list_add(errs, name, "", 0, 0, "config is larger than %d bytes", CONFIG_MAX_FILE_BYTES);
            rc = -1;
            break;
        }
        buf_append(&b, chunk, (size_t)n);
    }
    if (rc == 0 && b.oom) {
        err_list_add(errs, name, "", 0, 0, "out of memory");
        rc = -1;
    } else if (rc == 0 && memchr(buf_cstr(&b), '\0', b.len)) {
        err_list_add(errs, name, "", 0, 0, "the file contains NUL bytes: not a YAML text file");
        rc = -1;
    } else if (rc == 0) {
        rc = load(buf_cstr(&b), b.len, name, out, errs);
    }
    buf_free(&b);
    return rc;
}

/* Reads f to its end (closing it) and loads what it held under the given name. */
static int load_stream(FILE *f, const char *path, struct config **out, struct err_list *errs)
{
    struct buf b;
    buf_init(&b);
    char chunk[65536];
    size_t n;
    int too_big = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > CONFIG_MAX_FILE_BYTES) {
            too_big = 1;
            break;
        }
        buf_append(&b, chunk, n);
    }
    int rerr = ferror(f);
    fclose(f);
    int rc;
    if (rerr) {
        err_list_add(errs, path, "", 0, 0, "cannot read: %s", strerror(EIO));
        rc = -1;
    } else if (too_big) {
        err_list_add(errs, path, "", 0, 0, "config is larger than %d bytes", CONFIG_MAX_FILE_BYTES);
        rc = -1;
    } else if (b.oom) {
        err_list_add(errs, path, "", 0, 0, "out of memory");
        rc = -1;
    } else if (memchr(buf_cstr(&b), '\0', b.len)) {
        err_list_add(errs, path, "", 0, 0, "the file contains NUL bytes: not a YAML text file");
        rc = -1;
    } else {
        rc = load(buf_cstr(&b), b.len, path, out, errs);
    }
    buf_free(&b);
    return rc;
}

void config_free(struct config *cfg)
{
    if (!cfg) return;
    cfg_free_root(cfg);
    free(cfg->source);
    free(cfg);
}

int config_describe_json(const struct config *cfg, struct json_object **out)
{
    struct json_object *o = cfg_describe_root(cfg);
    if (!o) return -1;
    json_object_object_add(o, "source", cfg->source ? json_object_new_string(cfg->source) : NULL);
    *out = o;
    return 0;
}

int config_section_equal(const struct config *a, const struct config *b, const char *path)
{
    struct json_object *x = NULL, *y = NULL;
    if (cfg_describe_path(a, path, &x) < 0 || cfg_describe_path(b, path, &y) < 0) {
        json_object_put(x);
        return 0; /* a path the schema lacks is a caller's mistake: "changed" is the safe answer */
    }
    int eq = json_object_equal(x, y);
    json_object_put(x);
    json_object_put(y);
    return eq;
}

int config_sections_equal(const struct config *a, const struct config *b, const char *const *paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!config_section_equal(a, b, paths[i])) return 0;
    return 1;
}

int config_reference_markdown(char **out)
{
    struct buf b;
    buf_init(&b);
    cfg_reference_root(&b);
    if (b.oom) {
        buf_free(&b);
        return -1;
    }
    *out = buf_steal(&b);
    return 0;
}
