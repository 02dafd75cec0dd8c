/* What the files of common/render share: the render object, its natives and the per-render state.
 * Not part of the API (render.h). */
#ifndef HTIC_RENDER_INTERNAL_H
#define HTIC_RENDER_INTERNAL_H

#include <json-c/json.h>

#include "common/render/render.h"
#include "common/template/template.h"

/* One store wrapper native (resources.<name>, controller.haproxy_pods). */
struct render_wrapper {
    struct render *r;
    const char *name;         /* watched name, borrowed */
    struct store *store;      /* borrowed, set per render; NULL: an empty store */
    struct tmpl_native nat;
};

/* A file the render produced or registered. */
struct render_reg {
    int kind;
    char *name;        /* owned */
    struct buf data;   /* owned */
};

struct render {
    const struct config *cfg;          /* borrowed */
    struct tmpl_env *env;              /* owned */
    json_object *context;              /* owned: extra_context without the names below */
    json_object *snippets;             /* owned: template_snippets names, (priority, name) order */
    struct tmpl_native resources, controller, path_resolver, file_registry, guard_arg, guard_text;
    struct render_wrapper *wrappers;   /* owned, one per watched resource, config order */
    size_t nwrappers;
    struct render_wrapper targets;
    /* per render */
    struct render_reg *regs;           /* owned */
    size_t nregs, capregs;
    struct render_error *error;        /* where a native puts an object it blames; borrowed */
    const struct render_input *in;     /* borrowed, during render_run: the resolver of on-demand objects */
};

/* The store wrapper and context natives (render_context.c). */
void render_context_init(struct render *r);
/* A template value for a store object (render_context.c). */
int render_object_value(struct render *r, const char *resource, const struct packed *p, struct tmpl_value *out,
                        struct tmpl_call *c);
/* Names the object a string handed to a native was read from, if any (render_context.c). */
void render_blame(struct render *r, const char *s);
/* file_registry.Register's store, also used for the declared outputs: 1 added, 0 identical already there,
 * -1 conflicting content or bad name (e says which). */
int render_register(struct render *r, int kind, const char *name, const char *data, size_t len, struct err *e);
/* The production path of name (kind map|file|cert|crt-list; "" = the directory) into out. */
int render_path(const struct render *r, int kind, const char *name, struct buf *out, struct err *e);

extern const struct tmpl_native_ops render_guard_arg_ops, render_guard_text_ops;

#endif
