/* Jinja2-compatible template engine: public API.
 *
 * An environment (struct tmpl_env) owns a loader (a directory or an in-memory map name -> source), options
 * and registered globals; templates are compiled once (tmpl_compile) and rendered many times (tmpl_render)
 * against a context (a packed object, see common/store/packed.h, or a json-c object) plus optional native
 * values (see struct tmpl_native for the hook the renderer worker uses to expose its watched-resource
 * stores). Packed and json-c containers are read in place, never converted. Not thread-safe: one env per
 * thread. */
#ifndef HTIC_TEMPLATE_H
#define HTIC_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/store/packed.h"

/* Bounds on input from outside (templates and data are user supplied). */
#define TMPL_OUTPUT_MAX ((size_t)256 << 20)      /* rendered bytes per render: far above any haproxy.cfg */
#define TMPL_MEMORY_MAX ((size_t)1 << 30)        /* scratch memory per render (arena), refuses runaway loops */
#define TMPL_DEPTH_MAX 256                       /* nested macro calls / includes / imports per render */
#define TMPL_PARSE_DEPTH_MAX 200                 /* nesting of expressions and blocks in a template */
#define TMPL_RANGE_MAX 1000000                   /* items range() may produce */
#define TMPL_STEPS_MAX 500000000LL               /* evaluation steps per render: stops runaway nested loops */
#define TMPL_SOURCE_MAX ((size_t)16 << 20)       /* bytes of one template source */
#define TMPL_STACK_MAX ((size_t)2 << 20)         /* C stack a render may use (nesting x recursion); threads
                                                    running renders need at least this plus their own use */

struct tmpl_env;
struct tmpl;
struct tmpl_call;   /* the render in progress, handed to native callbacks */

/* A value as natives see and return it. Kinds a native may return: NONE, BOOL, INT, FLOAT, STR (copied by
 * tmpl_value_str into the render's memory), packed values (tmpl_value_packed, borrowed: the block must
 * outlive the render), JSON (borrowed: the json_object must outlive the render), NATIVE (borrowed, must
 * outlive the render) and LIST (built with tmpl_list_new / tmpl_list_push). */
enum tmpl_kind {
    TMPL_UNDEF, TMPL_NONE, TMPL_BOOL, TMPL_INT, TMPL_FLOAT, TMPL_STR, TMPL_LIST, TMPL_DICT,
    TMPL_JLIST, TMPL_JDICT, TMPL_MACRO, TMPL_FUNC, TMPL_LOOP, TMPL_NATIVE,
    TMPL_PLIST, TMPL_PDICT,  /* a packed array / object: u.pb the block, len the value's slot */
};

struct tmpl_value {
    uint8_t kind;    /* enum tmpl_kind */
    uint8_t flags;   /* engine-internal */
    uint32_t len;    /* string length in bytes for STR, the slot for PLIST/PDICT */
    union {
        int64_t i;
        double f;
        const char *s;          /* STR: NUL-terminated, len bytes */
        json_object *j;         /* JLIST, JDICT (borrowed) */
        const struct packed *pb; /* PLIST, PDICT (borrowed) */
        void *p;                /* engine objects */
        struct tmpl_native *nat;
    } u;
};

/* The native-object hook: anything the engine does not know (store wrappers, path resolvers...).
 * get_attr: `obj.name` (return 1 and fill *out, or 0 for "no such attribute" = undefined).
 * call_method: `obj.name(args...)` (return 0 and fill *out, or -1 with tmpl_call_error()).
 * call: `obj(args...)`, for natives that are functions.
 * Any may be NULL. */
struct tmpl_native_ops {
    const char *type_name;
    int (*get_attr)(void *self, const char *name, struct tmpl_value *out, struct tmpl_call *c);
    int (*call_method)(void *self, const char *name, const struct tmpl_value *args, size_t nargs,
                       struct tmpl_value *out, struct tmpl_call *c);
    int (*call)(void *self, const struct tmpl_value *args, size_t nargs, struct tmpl_value *out,
                struct tmpl_call *c);
};

struct tmpl_native {
    const struct tmpl_native_ops *ops;
    void *self;
};

/* Value constructors for natives. */
struct tmpl_value tmpl_value_none(void);
struct tmpl_value tmpl_value_bool(int b);
struct tmpl_value tmpl_value_int(int64_t i);
struct tmpl_value tmpl_value_json(json_object *j);          /* converts scalars, borrows arrays/objects */
/* A packed value: scalars converted, strings point into the block, arrays and objects are read in place
 * (read-only to templates). Nothing is copied; the block must outlive the render. */
struct tmpl_value tmpl_value_packed(struct packed_val v);
struct tmpl_value tmpl_value_native(struct tmpl_native *n);
struct tmpl_value tmpl_value_str(struct tmpl_call *c, const char *s, size_t n);
struct tmpl_value tmpl_list_new(struct tmpl_call *c);
int tmpl_list_push(struct tmpl_call *c, struct tmpl_value *list, struct tmpl_value item);
struct tmpl_value tmpl_dict_new(struct tmpl_call *c);
int tmpl_dict_set(struct tmpl_call *c, struct tmpl_value *dict, const char *key, struct tmpl_value v);  /* key copied */
/* Sets the render error message (the engine adds template, line and column); returns -1. */
int tmpl_call_error(struct tmpl_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* String view of a value passed to a native (NULL if it is not a string). */
const char *tmpl_value_cstr(const struct tmpl_value *v, size_t *len);

/* Looks up a string key in a DICT, JDICT or PDICT value: 1 found, 0 not. */
int tmpl_value_get(const struct tmpl_value *dict, const char *key, struct tmpl_value *out);

struct tmpl_options {
    int trim_blocks;     /* default 1 */
    int lstrip_blocks;   /* default 1 */
    int strict;          /* StrictUndefined: using an undefined value is an error; default 0 */
    size_t max_output;   /* bytes per render, 0 = TMPL_OUTPUT_MAX */
    long long max_steps; /* evaluation steps per render, 0 = TMPL_STEPS_MAX */
};

/* Loader rooted at a directory (dir != NULL) or an empty in-memory map (dir == NULL, see tmpl_env_add). */
struct tmpl_env *tmpl_env_new(const char *dir, const struct tmpl_options *opt);
void tmpl_env_free(struct tmpl_env *env);
/* In-memory template source (copied); replaces a previous one of that name and drops compiled copies. */
int tmpl_env_add(struct tmpl_env *env, const char *name, const char *source, size_t len);
/* A global visible in every template (natives and JSON values are borrowed, must outlive the env). */
int tmpl_env_set_global(struct tmpl_env *env, const char *name, struct tmpl_value v);

/* Compiles (or returns the cached) template `name`. The template is owned by the env. */
int tmpl_compile(struct tmpl_env *env, const char *name, struct tmpl **out, struct err *e);
/* Renders with the top-level keys of `context` (a JSON object or NULL) as variables, plus `nvars` extra
 * variables (natives), appending to `out`. On error `out` holds partial output and e says what and where. */
int tmpl_render_vars(struct tmpl *t, json_object *context, const char *const *names,
                     const struct tmpl_value *vals, size_t nvars, struct buf *out, struct err *e);
int tmpl_render(struct tmpl *t, json_object *context, struct buf *out, struct err *e);
/* The same with the context as a value whose members become variables: a packed object
 * (tmpl_value_packed) or a JSON object (tmpl_value_json); any other kind is refused. NULL for none. */
int tmpl_render_value(struct tmpl *t, const struct tmpl_value *context, const char *const *names,
                      const struct tmpl_value *vals, size_t nvars, struct buf *out, struct err *e);
/* Templates are freed with their env; tmpl_free is a no-op kept for symmetry with the API sketch. */
void tmpl_free(struct tmpl *t);

#endif
