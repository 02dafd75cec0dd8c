/* Template engine internals shared by its files: arena, tokens, AST, values, render state.
 * Nothing outside common/template/ includes this; the public API is template.h. Every role links one binary,
 * so every function declared here carries the tmpl_ prefix (tests/template/check_symbols.py fails on a
 * global without it); the static inline constructors (v_int, v_none...) are not linker symbols and keep
 * short names. */
#ifndef HTIC_TMPL_INTERNAL_H
#define HTIC_TMPL_INTERNAL_H

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>

#include "common/template/template.h"

typedef struct tmpl_value tv;

/* ---- arena: everything of one compile or one render, freed at once ---- */
struct achunk {
    struct achunk *next;
    size_t used, size;
    char data[];
};
struct arena {
    struct achunk *head;
    size_t total, limit;
    int oom;
};
void tmpl_arena_init(struct arena *a, size_t limit);
void *tmpl_arena_alloc(struct arena *a, size_t n);          /* zeroed, 16-aligned; NULL on limit */
void *tmpl_arena_realloc(struct arena *a, void *p, size_t old, size_t n);
char *tmpl_arena_strndup(struct arena *a, const char *s, size_t n);
void tmpl_arena_reset(struct arena *a);                      /* frees all but the first chunk */
void tmpl_arena_free(struct arena *a);

/* ---- tokens ---- */
enum tok {
    T_EOF, T_DATA, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END,
    T_NAME, T_STRING, T_INT, T_FLOAT,
    T_ADD, T_SUB, T_MUL, T_DIV, T_FLOORDIV, T_MOD, T_POW, T_TILDE,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_ASSIGN,
    T_LPAREN, T_RPAREN, T_LBRACKET, T_RBRACKET, T_LBRACE, T_RBRACE,
    T_COMMA, T_DOT, T_COLON, T_PIPE,
};
struct token {
    uint8_t type;
    int line, col;
    const char *s;     /* NAME, STRING (decoded, NUL-terminated), DATA */
    size_t len;
    int64_t i;
    double f;
};
struct tmpl;
int tmpl_lex(struct tmpl *t, struct arena *a, const char *src, size_t len, struct token **out, size_t *n,
             struct err *e);

/* ---- AST ---- */
enum nkind {
    /* expressions */
    N_CONST, N_NAME, N_LIST, N_TUPLE, N_DICT, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER, N_TEST,
    N_BINOP, N_NEG, N_POS, N_NOT, N_AND, N_OR, N_CONCAT, N_COMPARE, N_COND, N_NSREF, N_BLOCKVAL,
    /* statements */
    N_DATA, N_PRINT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_CALLBLOCK, N_INCLUDE, N_IMPORT,
    N_FROMIMPORT, N_FILTERBLOCK, N_WITH, N_BREAK, N_CONTINUE,
};
enum { NF_IGNORE_MISSING = 1, NF_WITH_CONTEXT = 2, NF_NEGATE = 4, NF_USES_CALLER = 8, NF_USES_VARARGS = 16,
       NF_USES_KWARGS = 32, NF_MAYBE_METHOD = 64 };

struct tmpl_call;
struct node;
#define ARGS_INLINE 4
struct args {
    tv *pos;
    uint32_t npos;
    const char **kwn;
    tv *kwv;
    uint32_t nkw;
    tv pos_buf[ARGS_INLINE];  /* small calls keep their arguments here, not in the arena */
    const char *kwn_buf[ARGS_INLINE];
    tv kwv_buf[ARGS_INLINE];
};
typedef int (*filter_fn)(struct tmpl_call *r, const struct node *n, tv *val, struct args *a, tv *out);
typedef int (*test_fn)(struct tmpl_call *r, const struct node *n, tv *val, struct args *a, int *res);

struct node {
    uint8_t kind;
    uint8_t op;          /* token type for BINOP / COMPARE (ops[] for COMPARE) */
    uint16_t flags;
    int line, col;
    struct tmpl *t;      /* template the node comes from (error messages) */
    struct node *a, *b, *c;
    struct node **list;  /* elements, positional args, body */
    uint32_t n;
    struct node **list2; /* dict values, kw values, else body, macro defaults */
    uint32_t n2;
    const char **names;  /* kw names, params, imported names */
    const char **names2; /* import aliases */
    uint32_t nn;
    uint8_t *ops;        /* COMPARE operators, one per list item */
    const char *s;       /* NAME, attribute, filter/test/macro name, DATA text */
    size_t slen;
    tv lit;              /* CONST */
    struct node *star, *dstar;  /* *args, **kwargs in calls */
    filter_fn ffn;
    test_fn tfn;
    uint32_t hash;       /* GETATTR: tmpl_v_hash of the name */
};

/* ---- values ---- */
enum { VF_TUPLE = 1, VF_NS = 2, VF_MARKUP = 4, VF_MODULE = 8, VF_GROUP = 16, VF_VIEW_KEYS = 64, VF_VIEW_VALUES = 128,
       VF_VIEW_ITEMS = 192 /* lists from dict.keys()/values()/items(): print as Python's views */ };
struct tlist {
    uint32_t len, cap;
    tv *it;
};
struct tdent {
    tv k, v;
    uint32_t h;
};
struct tdict {
    uint32_t len, cap;
    struct tdent *e;
    uint32_t *idx;  /* open addressing, entries+1, 0 = empty; NULL while small */
    uint32_t icap;
};
struct frame;
struct tmacro {
    const struct node *def;  /* N_MACRO, or N_CALLBLOCK for `caller` */
    struct frame *closure;
    const char *name;
    tv caller;               /* UNDEF unless set */
};
typedef int (*builtin_fn)(struct tmpl_call *r, const struct node *n, struct args *a, tv *out);
struct tfunc {
    const char *name;
    builtin_fn fn;     /* global function, or NULL for a bound method of self */
    tv self;
};
struct tloop {
    int64_t index0, length;
    tv *items;
    int depth;
    tv last_changed;
    int changed_init;
};

/* ---- frames (scopes) ---- */
struct fvar {
    const char *name;  /* interned */
    tv v;
};
#define FRAME_INLINE 3
struct frame {
    struct frame *parent;
    struct fvar *v;      /* inl until more than FRAME_INLINE names are set */
    uint32_t n, cap;
    struct fvar inl[FRAME_INLINE];
    int isolated;      /* module imported without context: no template context behind it */
    int include;       /* top frame of an included template: `loop` of the includer is not visible */
};

/* ---- templates and environment ---- */
struct tmpl {
    struct tmpl_env *env;
    char *name;
    char *src;          /* normalized source (for error excerpts) */
    size_t srclen;
    struct arena ar;    /* tokens and AST */
    struct node *body;  /* list of statements */
    int ok;
    struct tmpl *next;
};
struct tmpl_env {
    char *dir;
    struct tmpl_options opt;
    struct msrc { char *name, *src; size_t len; struct msrc *next; } *mem;
    struct tmpl *tmpls;
    /* interned names */
    char **itab;
    size_t icap, ilen;
    struct arena iar;
    /* globals */
    const char **gnames;
    tv *gvals;
    size_t ng, gcap;
    struct arena rar;   /* render arena, reused */
    const char *name_loop;  /* interned "loop" */
    struct rcache_entry *rcache;  /* compiled regexes of the regex filters (tmpl_regex.c) */
    unsigned rcache_next;
    int rendering;
};
const char *tmpl_intern(struct tmpl_env *env, const char *s, size_t n);
int tmpl_load(struct tmpl_env *env, const char *name, struct tmpl **out, struct err *e, int *missing);

/* ---- render state (struct tmpl_call is what natives get) ---- */
/* Attribute names resolved to packed key ids (tmpl_render.c). A key id stays valid while some block uses
 * the key; once the key is freed its id may be reused for another key. An entry is therefore checked
 * against the table's change count (a native may build or free blocks during a render), and the cache
 * lives in the render arena, so nothing is trusted across renders. Entries are keyed by the name's address
 * (attribute names are interned per env) and the key table; a collision just replaces the entry. */
#define TMPL_KCACHE_SIZE 256   /* distinct attribute names a template set uses in hot loops: a few dozen */
struct kcache_entry {
    const char *name;
    const struct packed_keys *keys;
    uint64_t changes;          /* packed_keys_changes when id was found */
    int64_t id;                /* -1: no block uses this key */
};
struct tmpl_call {
    struct tmpl_env *env;
    struct arena *ar;
    tv ctx;             /* JDICT or PDICT whose members are variables, or UNDEF */
    struct kcache_entry *kcache;  /* attribute name -> packed key id, this render only (tmpl_render.c) */
    const char *const *vnames;
    const struct tmpl_value *vvals;
    size_t nvars;
    struct err *e;
    int failed;
    int depth;
    long long steps, max_steps;
    int brk;            /* 1 break, 2 continue pending */
    size_t outmax;
    tv blockval;
    struct tmpl *cur;
    char pending[ERR_MSG_MAX];
    int strict;
    int reported;       /* r->e holds the first error */
    struct frame *frame;
    struct buf *out;
    const char *stack_base;  /* frame address at render start: stack use is bounded by TMPL_STACK_MAX */
};
enum { UF_NAME = 0, UF_ATTR = 1, UF_MSG = 2 };  /* UNDEF flags: how u.s explains the undefined value */
tv tmpl_v_undef_attr(const tv *parent, const char *name);
tv tmpl_v_undef_msg(const char *msg);
int tmpl_undef_error(struct tmpl_call *r, const struct node *n, const tv *v);

/* errors */
int tmpl_syntax_error(struct tmpl *t, struct err *e, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int tmpl_rerr(struct tmpl_call *r, const struct node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* parser */
int tmpl_parse(struct tmpl *t, struct token *toks, size_t ntok, struct err *e);
filter_fn tmpl_find_filter(const char *name);
test_fn tmpl_find_test(const char *name);
builtin_fn tmpl_find_global(const char *name);

/* value helpers (tmpl_value.c) */
static inline tv v_undef(void) { tv v = {0}; return v; }
static inline tv v_none(void) { tv v = {0}; v.kind = TMPL_NONE; return v; }
static inline tv v_bool(int b) { tv v = {0}; v.kind = TMPL_BOOL; v.u.i = b ? 1 : 0; return v; }
static inline tv v_int(int64_t i) { tv v = {0}; v.kind = TMPL_INT; v.u.i = i; return v; }
static inline tv v_float(double f) { tv v = {0}; v.kind = TMPL_FLOAT; v.u.f = f; return v; }
static inline tv v_strn(const char *s, size_t n) { tv v = {0}; v.kind = TMPL_STR; v.u.s = s; v.len = (uint32_t)n; return v; }
tv tmpl_v_str_copy(struct tmpl_call *r, const char *s, size_t n);   /* UNDEF + r->failed on OOM */
tv tmpl_v_from_json(json_object *j);
tv tmpl_v_from_packed(struct packed_val p);
static inline struct packed_val pv_of(const tv *v) { return (struct packed_val){.b = v->u.pb, .s = v->len}; }
static inline int v_is_borrowed(const tv *v)   /* containers of the caller's data: read-only */
{
    return v->kind == TMPL_JLIST || v->kind == TMPL_JDICT || v->kind == TMPL_PLIST || v->kind == TMPL_PDICT;
}
tv tmpl_v_list(struct tmpl_call *r, uint32_t cap);
tv tmpl_v_dict(struct tmpl_call *r);
/* The engine's tmpl_list_push / tmpl_dict_set: no kind or read-only check, and any hashable value as key. */
int tmpl_list_add(struct tmpl_call *r, tv *list, tv item);
int tmpl_dict_put(struct tmpl_call *r, tv *dict, tv key, tv val);
int tmpl_dict_get(const tv *dict, const tv *key, tv *out);          /* 1 found */
int tmpl_dict_get_h(const tv *dict, const tv *key, uint32_t h, tv *out);  /* DICT only, h = tmpl_v_hash(key) */
int tmpl_dict_get_str(const tv *dict, const char *key, tv *out);    /* any DICT/JDICT/PDICT */
int tmpl_dict_del(struct tmpl_call *r, tv *dict, const tv *key, tv *out);
size_t tmpl_v_len(const tv *v);                                     /* lists, dicts, strings (codepoints) */
int tmpl_v_is_seq(const tv *v);    /* LIST, JLIST or PLIST */
int tmpl_v_is_map(const tv *v);    /* DICT (not a namespace or module), JDICT or PDICT */
tv tmpl_seq_at(const tv *v, size_t i);
/* Materializes what `for` iterates: list items, dict keys, string characters. */
int tmpl_v_iter(struct tmpl_call *r, const struct node *n, tv *v, tv **items, size_t *count);
/* dict iteration: keys and values */
size_t tmpl_map_entries(struct tmpl_call *r, const tv *m, tv **keys, tv **vals);
int tmpl_v_truthy(const tv *v);
int tmpl_v_eq(const tv *a, const tv *b);
/* Python ordering; returns 0 and sets *cmp, or -1 (types not orderable) */
int tmpl_v_cmp(const tv *a, const tv *b, int *cmp);
int tmpl_v_to_str(struct tmpl_call *r, const struct node *n, const tv *v, struct buf *b);   /* str(v) */
void tmpl_v_repr(const tv *v, struct buf *b);                                               /* repr(v) */
int tmpl_v_str(struct tmpl_call *r, const struct node *n, const tv *v, tv *out);            /* str() as value */
void tmpl_fmt_float(double d, struct buf *b);
const char *tmpl_kind_name(const tv *v);
int tmpl_v_is_num(const tv *v);
double tmpl_v_num(const tv *v);
size_t tmpl_utf8_len(const char *s, size_t n);
size_t tmpl_utf8_offset(const char *s, size_t n, size_t cps);   /* byte offset of codepoint index */
uint32_t tmpl_v_hash(const tv *v);

/* render (tmpl_render.c) */
int tmpl_getattr(struct tmpl_call *r, const struct node *n, tv *obj, const char *name, tv *out);
int tmpl_getitem(struct tmpl_call *r, const struct node *n, tv *obj, tv *key, tv *out);
int tmpl_render_root(struct tmpl_call *r, struct tmpl *t, struct buf *out);
int tmpl_check_undef(struct tmpl_call *r, const struct node *n, const tv *v);

/* methods (tmpl_methods.c) */
int tmpl_method_exists(const tv *self, const char *name);
int tmpl_method_name_known(const char *name);   /* a method of some type has this name */
size_t tmpl_ws_at(const char *p, size_t len, size_t i);      /* Python whitespace at p[i]: its byte length or 0 */
size_t tmpl_ws_before(const char *p, size_t len, size_t j);  /* same, for the character ending at p[j-1] */
int tmpl_call_method(struct tmpl_call *r, const struct node *n, tv *self, const char *name, struct args *a, tv *out);

/* case mapping (tmpl_unicode.c) */
enum { CASE_UPPER, CASE_LOWER, CASE_TITLE, CASE_CAPITALIZE };
void tmpl_utf8_case(const char *s, size_t len, int mode, struct buf *b);
int tmpl_utf8_is_case(const char *s, size_t len, int want_upper);
int tmpl_utf8_is_alpha_cp(const char *s, size_t len, size_t *i, int *alpha);

/* the built-ins' calling convention (tmpl_args.c) */
int tmpl_arg_get(struct args *a, uint32_t pos, const char *name, tv *out);   /* 1 if given, by position or name */
int tmpl_v_as_int(struct tmpl_call *r, const struct node *n, const tv *v, int64_t *out);
int tmpl_str_of(struct tmpl_call *r, const struct node *n, const tv *v, const char **s, size_t *len);
int tmpl_ret_buf(struct tmpl_call *r, const struct node *n, struct buf *b, tv *out);  /* frees b, *out = copy */
/* Python's dict(x, **kw) and d.update(x, **kw): x a mapping or pairs (hashable keys); `what` names the call. */
int tmpl_dict_update_args(struct tmpl_call *r, const struct node *n, struct args *a, tv *d, const char *what);

/* Python string formatting (tmpl_format.c) */
int tmpl_py_percent_format(struct tmpl_call *r, const struct node *n, const char *fmt, size_t flen, tv *args,
                           size_t nargs, const tv *mapping, struct buf *out);
int tmpl_str_format(struct tmpl_call *r, const struct node *n, tv *s, struct args *a, tv *out);

/* regex filters' patterns (tmpl_regex.c): the regex belongs to the env's cache, never regfree it */
int tmpl_regex_compile(struct tmpl_call *r, const struct node *n, const tv *pat, regex_t **out);
void tmpl_regex_cache_free(struct tmpl_env *env);

/* filters (tmpl_filters.c) and tests (tmpl_tests.c) by name */
int tmpl_apply_test(struct tmpl_call *r, const struct node *n, const char *name, tv *val, struct args *a, int *res);
int tmpl_apply_filter(struct tmpl_call *r, const struct node *n, const char *name, tv *val, struct args *a, tv *out);

#endif
