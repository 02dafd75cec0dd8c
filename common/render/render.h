/* The rendering core: a compiled configuration (its templates in one engine env) rendered over a set of
 * watched-resource stores and the HAProxy targets into the in-memory file list of one generation
 * (haproxy.cfg, maps, files, certificates, crt-lists registered while rendering), post-processing applied,
 * sorted by (kind, name) so the same objects give the same list whatever order they arrived in.
 *
 * Shared by the renderer role and the offline `validate` CLI. Template context (docs/templates.md):
 * resources.<name>.List() / Fetch(keys...) / GetSingle(keys...), controller.haproxy_pods (same shape),
 * template_snippets, pathResolver.GetPath(name, kind), file_registry.Register(kind, name, content), the
 * injection guards haproxy_arg(v) / haproxy_text(v), and every extra_context key at top level.
 * Not for: where the files go (common/pipeline/rundir.h), feeding stores (the role), validation. */
#ifndef HTIC_RENDER_H
#define HTIC_RENDER_H

#include <stddef.h>

#include "common/buf.h"
#include "common/config/config.h"
#include "common/err.h"
#include "common/pipeline/rundir.h"
#include "common/store/store.h"

/* Files registered by one render (file_registry.Register): a template looping over 10k Ingresses with a
 * certificate each stays far below; a runaway loop is refused. */
#define RENDER_REGISTERED_MAX 50000
/* Bytes of one post-processed line: HAProxy refuses config lines over 64 KiB anyway, maps and certificates
 * have short lines; a longer line is left as it is rather than regex-matched. */
#define RENDER_POST_LINE_MAX (1u << 20)
/* The name under which the store of HAProxy targets is exposed (config reserves it in watched_resources). */
#define RENDER_TARGETS_NAME "haproxy-pods"

/* One watched resource's store, by its watched_resources name (both borrowed). */
struct render_store {
    const char *name;
    struct store *store;
};

/* What one render reads; everything borrowed, unchanged during the render. */
struct render_input {
    const struct render_store *stores;   /* one per watched resource, any order */
    size_t nstores;
    struct store *targets;               /* controller.haproxy_pods; NULL = none */
    /* store: on-demand: turns an object as stored (a reference, common/store/ondemand.h) into the object a
     * template reads: 1 and *out, or 0 when it is not at hand (the template then reads the reference; the
     * caller fetches and renders again; peek: only look, note nothing). NULL: every object is read as stored
     * (the validate CLI). */
    int (*resolve)(void *data, const char *resource, const struct packed *p, int peek, const struct packed **out);
    void *resolve_data;
};

/* One output file, owned by the render_result. */
struct render_file {
    int kind;          /* enum rundir_kind */
    char *name;        /* owned */
    struct buf data;   /* owned */
};

struct render_result {
    struct render_file *files;   /* owned, sorted by (kind name, name) as rundir sorts them */
    size_t nfiles;
};

/* A render error: e.file/line/column name the template position (from the engine) and e.msg what went
 * wrong. When the error is about a value read from a store object (an injection guard refusing it), the
 * object is named too (resource, namespace, name), and e.msg says so. */
struct render_error {
    struct err e;
    int has_object;
    char resource[128];
    char namespace_[STORE_NAMESPACE_MAX + 1];
    char name[STORE_NAME_MAX + 1];
};

struct render;

/* Compiles every template of cfg (borrowed: must outlive the render object). */
int render_new(const struct config *cfg, struct render **out, struct err *e);
void render_free(struct render *r);

/* Renders every output. Returns 0 and fills res (free with render_result_free), or -1 with re filled and
 * res empty. */
int render_run(struct render *r, const struct render_input *in, struct render_result *res, struct render_error *re);
void render_result_free(struct render_result *res);
/* The files as rundir_write takes them (borrowed from res; free the array with free()). */
int render_result_files(const struct render_result *res, struct rundir_file **out);

/* Stores for cfg's watched resources, in config order, with their index_by keys (Kubernetes JSONPath
 * spelling, as config accepts it) translated for the store. names are borrowed from cfg. */
int render_stores_new(const struct config *cfg, struct packed_keys *k, struct render_store **out, size_t *n,
                      struct err *e);
void render_stores_free(struct render_store *s, size_t n);
/* The targets store: each target object gets metadata.name/namespace from its name/namespace, indexed by
 * (metadata.namespace, metadata.name). */
int render_targets_store_new(struct packed_keys *k, struct store **out, struct err *e);

/* index_by expression (config syntax: `{.a.b}`, `a.b`, `a.b\.c`, `['x.y']`) into packed_path syntax. */
int render_index_path(const char *expr, char *out, size_t n, struct err *e);

/* Injection guards, also the template functions of the same names. haproxy_arg: one config word (no
 * whitespace, quote, backslash, '#', control character; not empty). haproxy_text: the rest of a line
 * (words and spaces allowed; no newline or other control character, no '#' outside quotes, quotes balanced,
 * no trailing backslash). Return 0, or -1 with why in e (naming the value, cut to a readable length). */
int render_check_arg(const char *s, size_t len, struct err *e);
int render_check_text(const char *s, size_t len, struct err *e);

/* post_processing applied to text (rewritten in place): each regex_replace in order, line by line, every
 * match of a line replaced (\0..\9 in the replacement are the groups). */
int render_post_process(const struct config_post_processor_list *pp, struct buf *text, struct err *e);

#endif
