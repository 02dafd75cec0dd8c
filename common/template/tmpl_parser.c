/* Template parser: tokens -> AST (struct node), recursive descent following Jinja2's grammar and operator
 * precedence. Unknown filters and tags are compile errors, as in Jinja2; nesting depth is bounded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

struct parser {
    struct tmpl *t;
    struct arena *a;
    struct token *tk;
    size_t n, i;
    struct err *e;
    int depth;
    int in_loop;
    struct node *macros[TMPL_PARSE_DEPTH_MAX];  /* macros being parsed (varargs/kwargs/caller use) */
    int nmacros;
    int failed;
    struct token *open;  /* opening tag of the innermost statement being parsed */
};

struct vec {
    struct node **v;
    uint32_t n, cap;
};

static struct token *cur(struct parser *P) { return &P->tk[P->i]; }
static struct token *peek(struct parser *P, size_t k) { return &P->tk[P->i + k < P->n ? P->i + k : P->n - 1]; }
static void adv(struct parser *P) { if (P->i + 1 < P->n) P->i++; }

static const char *tokname(const struct token *t)
{
    static const char *names[] = {
        "end of template", "template data", "'{{'", "end of print statement", "'{%'", "end of statement block",
        "name", "string", "integer", "float", "'+'", "'-'", "'*'", "'/'", "'//'", "'%'", "'**'", "'~'", "'=='",
        "'!='", "'<'", "'<='", "'>'", "'>='", "'='", "'('", "')'", "'['", "']'", "'{'", "'}'", "','", "'.'",
        "':'", "'|'",
    };
    return t->type < sizeof(names) / sizeof(names[0]) ? names[t->type] : "token";
}

static void *perr(struct parser *P, struct token *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void *perr(struct parser *P, struct token *t, const char *fmt, ...)
{
    if (P->failed) return NULL;
    P->failed = 1;
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    tmpl_syntax_error(P->t, P->e, t->line, t->col, "%s", msg);
    return NULL;
}

static void *unexpected(struct parser *P)
{
    struct token *t = cur(P);
    if (t->type == T_NAME) return perr(P, t, "unexpected name '%s'", t->s);
    return perr(P, t, "unexpected %s", tokname(t));
}

static struct node *mk(struct parser *P, int kind, struct token *t)
{
    struct node *n = tmpl_arena_alloc(P->a, sizeof(*n));
    if (!n) return perr(P, t, "out of memory");
    n->kind = (uint8_t)kind;
    n->line = t->line;
    n->col = t->col;
    n->t = P->t;
    return n;
}

static int vpush(struct parser *P, struct vec *v, struct node *n)
{
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 4;
        struct node **nv = tmpl_arena_realloc(P->a, v->v, v->cap * sizeof(*nv), cap * sizeof(*nv));
        if (!nv) {
            perr(P, cur(P), "out of memory");
            return -1;
        }
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = n;
    return 0;
}

static int is_name(struct parser *P, const char *s) { return cur(P)->type == T_NAME && strcmp(cur(P)->s, s) == 0; }

static int expect(struct parser *P, int type)
{
    if (cur(P)->type != type) {
        perr(P, cur(P), "expected %s, got %s", tokname(&(struct token){.type = (uint8_t)type}), tokname(cur(P)));
        return -1;
    }
    adv(P);
    return 0;
}

static int accept(struct parser *P, int type)
{
    if (cur(P)->type != type) return 0;
    adv(P);
    return 1;
}

static struct node *parse_expr(struct parser *P, int with_cond);
static struct node *parse_tuple(struct parser *P, int simplified, int with_cond, int explicit_parens);
static struct node *parse_unary(struct parser *P, int with_filter);
static struct node *parse_primary(struct parser *P);
static struct node *parse_postfix(struct parser *P, struct node *n);
static struct node *parse_filters(struct parser *P, struct node *n, int tests_too);

static int enter(struct parser *P)
{
    if (++P->depth > TMPL_PARSE_DEPTH_MAX) {
        perr(P, cur(P), "template nested too deeply (more than %d levels)", TMPL_PARSE_DEPTH_MAX);
        return -1;
    }
    return 0;
}

/* call arguments after '(' : positional, name=value, *args, **kwargs */
static int parse_call_args(struct parser *P, struct node *call)
{
    struct vec pos = {0}, kwv = {0};
    const char **kwn = NULL;
    uint32_t nkw = 0, kwcap = 0;
    if (expect(P, T_LPAREN) < 0) return -1;
    while (cur(P)->type != T_RPAREN) {
        if (pos.n + nkw > 0 || call->star || call->dstar)
            if (expect(P, T_COMMA) < 0) return -1;
        if (cur(P)->type == T_RPAREN) break;
        if (cur(P)->type == T_MUL) {
            adv(P);
            if (!(call->star = parse_expr(P, 1))) return -1;
        } else if (cur(P)->type == T_POW) {
            adv(P);
            if (!(call->dstar = parse_expr(P, 1))) return -1;
        } else if (cur(P)->type == T_NAME && peek(P, 1)->type == T_ASSIGN) {
            if (call->dstar) return perr(P, cur(P), "keyword argument after **kwargs"), -1;
            if (nkw == kwcap) {
                uint32_t cap = kwcap ? kwcap * 2 : 4;
                const char **nk = tmpl_arena_realloc(P->a, kwn, kwcap * sizeof(*nk), cap * sizeof(*nk));
                if (!nk) return perr(P, cur(P), "out of memory"), -1;
                kwn = nk;
                kwcap = cap;
            }
            kwn[nkw++] = cur(P)->s;
            adv(P);
            adv(P);
            struct node *v = parse_expr(P, 1);
            if (!v || vpush(P, &kwv, v) < 0) return -1;
        } else {
            if (nkw || call->star || call->dstar)
                return perr(P, cur(P), "positional argument follows keyword argument"), -1;
            struct node *v = parse_expr(P, 1);
            if (!v || vpush(P, &pos, v) < 0) return -1;
        }
    }
    adv(P);
    call->list = pos.v;
    call->n = pos.n;
    call->list2 = kwv.v;
    call->n2 = kwv.n;
    call->names = kwn;
    call->nn = nkw;
    return 0;
}

static struct node *parse_primary(struct parser *P)
{
    struct token *t = cur(P);
    struct node *n;
    switch (t->type) {
    case T_NAME:
        n = mk(P, N_CONST, t);
        if (!n) return NULL;
        if (!strcmp(t->s, "true") || !strcmp(t->s, "True")) n->lit = v_bool(1);
        else if (!strcmp(t->s, "false") || !strcmp(t->s, "False")) n->lit = v_bool(0);
        else if (!strcmp(t->s, "none") || !strcmp(t->s, "None")) n->lit = v_none();
        else {
            n->kind = N_NAME;
            n->s = t->s;
            for (int k = 0; k < P->nmacros; k++) {
                if (!strcmp(t->s, "caller")) P->macros[k]->flags |= NF_USES_CALLER;
                if (!strcmp(t->s, "varargs")) P->macros[k]->flags |= NF_USES_VARARGS;
                if (!strcmp(t->s, "kwargs")) P->macros[k]->flags |= NF_USES_KWARGS;
            }
        }
        adv(P);
        return n;
    case T_STRING: {
        n = mk(P, N_CONST, t);
        if (!n) return NULL;
        adv(P);
        if (cur(P)->type != T_STRING) {
            n->lit = v_strn(t->s, t->len);
            return n;
        }
        struct buf b;
        buf_init(&b);
        buf_append(&b, t->s, t->len);
        while (cur(P)->type == T_STRING) {
            buf_append(&b, cur(P)->s, cur(P)->len);
            adv(P);
        }
        char *s = tmpl_arena_strndup(P->a, buf_cstr(&b), b.len);
        size_t l = b.len;
        buf_free(&b);
        if (!s) return perr(P, t, "out of memory");
        n->lit = v_strn(s, l);
        return n;
    }
    case T_INT:
        n = mk(P, N_CONST, t);
        if (!n) return NULL;
        n->lit = v_int(t->i);
        adv(P);
        return n;
    case T_FLOAT:
        n = mk(P, N_CONST, t);
        if (!n) return NULL;
        n->lit = v_float(t->f);
        adv(P);
        return n;
    case T_LPAREN:
        adv(P);
        n = parse_tuple(P, 0, 1, 1);
        if (!n || expect(P, T_RPAREN) < 0) return NULL;
        return n;
    case T_LBRACKET: {
        n = mk(P, N_LIST, t);
        if (!n) return NULL;
        adv(P);
        struct vec v = {0};
        while (cur(P)->type != T_RBRACKET) {
            if (v.n && expect(P, T_COMMA) < 0) return NULL;
            if (cur(P)->type == T_RBRACKET) break;
            struct node *x = parse_expr(P, 1);
            if (!x || vpush(P, &v, x) < 0) return NULL;
        }
        adv(P);
        n->list = v.v;
        n->n = v.n;
        return n;
    }
    case T_LBRACE: {
        n = mk(P, N_DICT, t);
        if (!n) return NULL;
        adv(P);
        struct vec k = {0}, v = {0};
        while (cur(P)->type != T_RBRACE) {
            if (k.n && expect(P, T_COMMA) < 0) return NULL;
            if (cur(P)->type == T_RBRACE) break;
            struct node *x = parse_expr(P, 1);
            if (!x || vpush(P, &k, x) < 0 || expect(P, T_COLON) < 0) return NULL;
            x = parse_expr(P, 1);
            if (!x || vpush(P, &v, x) < 0) return NULL;
        }
        adv(P);
        n->list = k.v;
        n->n = k.n;
        n->list2 = v.v;
        n->n2 = v.n;
        return n;
    }
    default:
        return unexpected(P);
    }
}

/* tuple or single expression; explicit_parens: `()` is an empty tuple */
static struct node *parse_tuple(struct parser *P, int simplified, int with_cond, int explicit_parens)
{
    struct token *t = cur(P);
    struct vec v = {0};
    int is_tuple = 0;
    for (;;) {
        if (v.n) {
            if (!accept(P, T_COMMA)) break;
            is_tuple = 1;
        }
        int ty = cur(P)->type;
        if (ty == T_VAR_END || ty == T_BLOCK_END || ty == T_RPAREN || ty == T_EOF || ty == T_ASSIGN ||
            (ty == T_NAME && (is_name(P, "in") || (is_name(P, "if") && !with_cond))))
            break;
        struct node *x = simplified ? parse_primary(P) : parse_expr(P, with_cond);
        if (!x || vpush(P, &v, x) < 0) return NULL;
    }
    if (!is_tuple) {
        if (v.n) return v.v[0];
        if (!explicit_parens) return perr(P, cur(P), "expected an expression, got %s", tokname(cur(P)));
    }
    struct node *n = mk(P, N_TUPLE, t);
    if (!n) return NULL;
    n->list = v.v;
    n->n = v.n;
    return n;
}

static struct node *parse_subscript_arg(struct parser *P)
{
    struct token *t = cur(P);
    struct node *parts[3] = {0};
    int nparts = 0;
    if (cur(P)->type != T_COLON) {
        parts[0] = parse_expr(P, 1);
        if (!parts[0]) return NULL;
        if (cur(P)->type != T_COLON) return parts[0];
    }
    nparts = 1;
    adv(P);  /* first ':' */
    if (cur(P)->type != T_RBRACKET && cur(P)->type != T_COMMA && cur(P)->type != T_COLON)
        if (!(parts[1] = parse_expr(P, 1))) return NULL;
    nparts = 2;
    if (accept(P, T_COLON))
        if (cur(P)->type != T_RBRACKET && cur(P)->type != T_COMMA)
            if (!(parts[2] = parse_expr(P, 1))) return NULL;
    (void)nparts;
    struct node *n = mk(P, N_SLICE, t);
    if (!n) return NULL;
    n->a = parts[0];
    n->b = parts[1];
    n->c = parts[2];
    return n;
}

static struct node *parse_postfix(struct parser *P, struct node *n)
{
    for (;;) {
        struct token *t = cur(P);
        if (t->type == T_DOT) {
            adv(P);
            struct token *a = cur(P);
            struct node *g;
            if (a->type == T_NAME) {
                g = mk(P, N_GETATTR, a);
                if (!g) return NULL;
                g->s = a->s;
                g->slen = a->len;
                if (tmpl_method_name_known(a->s)) g->flags |= NF_MAYBE_METHOD;
                tv key = v_strn(a->s, a->len);
                g->hash = tmpl_v_hash(&key);
            } else if (a->type == T_INT) {
                g = mk(P, N_GETITEM, a);
                if (!g) return NULL;
                struct node *k = mk(P, N_CONST, a);
                if (!k) return NULL;
                k->lit = v_int(a->i);
                g->b = k;
            } else {
                return perr(P, a, "expected name or number after '.'");
            }
            adv(P);
            g->a = n;
            n = g;
        } else if (t->type == T_LBRACKET) {
            adv(P);
            struct vec v = {0};
            while (cur(P)->type != T_RBRACKET) {
                if (v.n && expect(P, T_COMMA) < 0) return NULL;
                if (cur(P)->type == T_RBRACKET) break;
                struct node *x = parse_subscript_arg(P);
                if (!x || vpush(P, &v, x) < 0) return NULL;
            }
            if (expect(P, T_RBRACKET) < 0) return NULL;
            if (!v.n) return perr(P, t, "expected subscript expression");
            struct node *g = mk(P, N_GETITEM, t);
            if (!g) return NULL;
            g->a = n;
            if (v.n == 1) {
                g->b = v.v[0];
            } else {
                struct node *tu = mk(P, N_TUPLE, t);
                if (!tu) return NULL;
                tu->list = v.v;
                tu->n = v.n;
                g->b = tu;
            }
            n = g;
        } else if (t->type == T_LPAREN) {
            struct node *c = mk(P, N_CALL, t);
            if (!c) return NULL;
            c->a = n;
            if (parse_call_args(P, c) < 0) return NULL;
            n = c;
        } else {
            return n;
        }
    }
}

static const char *parse_dotted_name(struct parser *P)
{
    if (cur(P)->type != T_NAME) return perr(P, cur(P), "expected a filter or test name");
    const char *s = cur(P)->s;
    adv(P);
    while (cur(P)->type == T_DOT && peek(P, 1)->type == T_NAME) {
        size_t l = strlen(s), l2 = strlen(peek(P, 1)->s);
        char *d = tmpl_arena_alloc(P->a, l + l2 + 2);
        if (!d) return perr(P, cur(P), "out of memory");
        memcpy(d, s, l);
        d[l] = '.';
        memcpy(d + l + 1, peek(P, 1)->s, l2);
        s = d;
        adv(P);
        adv(P);
    }
    return s;
}

static struct node *parse_filter(struct parser *P, struct node *operand, struct token *t)
{
    struct node *f = mk(P, N_FILTER, t);
    if (!f) return NULL;
    if (!(f->s = parse_dotted_name(P))) return NULL;
    f->ffn = tmpl_find_filter(f->s);
    /* an unknown filter is reported after parsing (check_names), where Jinja2 would */
    f->a = operand;
    if (cur(P)->type == T_LPAREN && parse_call_args(P, f) < 0) return NULL;
    return f;
}

static struct node *parse_filters(struct parser *P, struct node *n, int tests_too)
{
    for (;;) {
        struct token *t = cur(P);
        if (t->type == T_PIPE) {
            adv(P);
            if (!(n = parse_filter(P, n, cur(P)))) return NULL;
        } else if (tests_too && is_name(P, "is")) {
            adv(P);
            struct node *x = mk(P, N_TEST, t);
            if (!x) return NULL;
            if (is_name(P, "not")) {
                x->flags |= NF_NEGATE;
                adv(P);
            }
            if (!(x->s = parse_dotted_name(P))) return NULL;
            x->tfn = tmpl_find_test(x->s);
            x->a = n;
            int ty = cur(P)->type;
            if (ty == T_LPAREN) {
                if (parse_call_args(P, x) < 0) return NULL;
            } else if ((ty == T_NAME || ty == T_STRING || ty == T_INT || ty == T_FLOAT || ty == T_LBRACKET ||
                        ty == T_LBRACE) &&
                       !is_name(P, "else") && !is_name(P, "or") && !is_name(P, "and")) {
                if (is_name(P, "is")) return perr(P, cur(P), "you cannot chain multiple tests with is");
                struct node *arg = parse_primary(P);
                if (!arg || !(arg = parse_postfix(P, arg))) return NULL;
                x->list = tmpl_arena_alloc(P->a, sizeof(struct node *));
                if (!x->list) return perr(P, t, "out of memory");
                x->list[0] = arg;
                x->n = 1;
            }
            n = x;
        } else if (t->type == T_LPAREN) {
            struct node *c = mk(P, N_CALL, t);
            if (!c) return NULL;
            c->a = n;
            if (parse_call_args(P, c) < 0) return NULL;
            n = c;
        } else {
            return n;
        }
    }
}

static struct node *parse_unary(struct parser *P, int with_filter)
{
    if (enter(P) < 0) return NULL;
    struct token *t = cur(P);
    struct node *n;
    if (t->type == T_SUB || t->type == T_ADD) {
        adv(P);
        n = mk(P, t->type == T_SUB ? N_NEG : N_POS, t);
        if (!n || !(n->a = parse_unary(P, 0))) return NULL;
    } else {
        n = parse_primary(P);
    }
    if (n) n = parse_postfix(P, n);
    if (n && with_filter) n = parse_filters(P, n, 1);
    P->depth--;
    return n;
}

static struct node *binop(struct parser *P, struct token *t, int op, struct node *l, struct node *r)
{
    if (!r) return NULL;
    struct node *n = mk(P, N_BINOP, t);
    if (!n) return NULL;
    n->op = (uint8_t)op;
    n->a = l;
    n->b = r;
    return n;
}

static struct node *parse_pow(struct parser *P)
{
    struct node *l = parse_unary(P, 1);
    while (l && cur(P)->type == T_POW) {
        struct token *t = cur(P);
        adv(P);
        l = binop(P, t, T_POW, l, parse_unary(P, 1));
    }
    return l;
}

static struct node *parse_math2(struct parser *P)
{
    struct node *l = parse_pow(P);
    while (l && (cur(P)->type == T_MUL || cur(P)->type == T_DIV || cur(P)->type == T_FLOORDIV ||
                 cur(P)->type == T_MOD)) {
        struct token *t = cur(P);
        adv(P);
        l = binop(P, t, t->type, l, parse_pow(P));
    }
    return l;
}

static struct node *parse_concat(struct parser *P)
{
    struct token *t = cur(P);
    struct node *l = parse_math2(P);
    if (!l || cur(P)->type != T_TILDE) return l;
    struct vec v = {0};
    if (vpush(P, &v, l) < 0) return NULL;
    while (cur(P)->type == T_TILDE) {
        adv(P);
        struct node *r = parse_math2(P);
        if (!r || vpush(P, &v, r) < 0) return NULL;
    }
    struct node *n = mk(P, N_CONCAT, t);
    if (!n) return NULL;
    n->list = v.v;
    n->n = v.n;
    return n;
}

static struct node *parse_math1(struct parser *P)
{
    struct node *l = parse_concat(P);
    while (l && (cur(P)->type == T_ADD || cur(P)->type == T_SUB)) {
        struct token *t = cur(P);
        adv(P);
        l = binop(P, t, t->type, l, parse_concat(P));
    }
    return l;
}

enum { OP_IN = 100, OP_NOTIN = 101 };

static struct node *parse_compare(struct parser *P)
{
    struct token *t = cur(P);
    struct node *l = parse_math1(P);
    if (!l) return NULL;
    struct vec v = {0};
    uint8_t ops[64];
    for (;;) {
        int ty = cur(P)->type, op;
        if (ty == T_EQ || ty == T_NE || ty == T_LT || ty == T_LE || ty == T_GT || ty == T_GE) {
            op = ty;
            adv(P);
        } else if (is_name(P, "in")) {
            op = OP_IN;
            adv(P);
        } else if (is_name(P, "not") && peek(P, 1)->type == T_NAME && !strcmp(peek(P, 1)->s, "in")) {
            op = OP_NOTIN;
            adv(P);
            adv(P);
        } else {
            break;
        }
        if (v.n >= sizeof(ops)) return perr(P, cur(P), "too many chained comparisons");
        ops[v.n] = (uint8_t)op;
        struct node *r = parse_math1(P);
        if (!r || vpush(P, &v, r) < 0) return NULL;
    }
    if (!v.n) return l;
    struct node *n = mk(P, N_COMPARE, t);
    if (!n) return NULL;
    n->a = l;
    n->list = v.v;
    n->n = v.n;
    n->ops = tmpl_arena_alloc(P->a, v.n);
    if (!n->ops) return perr(P, t, "out of memory");
    memcpy(n->ops, ops, v.n);
    return n;
}

static struct node *parse_not(struct parser *P)
{
    if (is_name(P, "not")) {
        struct token *t = cur(P);
        adv(P);
        if (enter(P) < 0) return NULL;
        struct node *n = mk(P, N_NOT, t);
        if (!n || !(n->a = parse_not(P))) return NULL;
        P->depth--;
        return n;
    }
    return parse_compare(P);
}

static struct node *parse_and(struct parser *P)
{
    struct node *l = parse_not(P);
    while (l && is_name(P, "and")) {
        struct token *t = cur(P);
        adv(P);
        struct node *n = mk(P, N_AND, t);
        if (!n) return NULL;
        n->a = l;
        if (!(n->b = parse_not(P))) return NULL;
        l = n;
    }
    return l;
}

static struct node *parse_or(struct parser *P)
{
    struct node *l = parse_and(P);
    while (l && is_name(P, "or")) {
        struct token *t = cur(P);
        adv(P);
        struct node *n = mk(P, N_OR, t);
        if (!n) return NULL;
        n->a = l;
        if (!(n->b = parse_and(P))) return NULL;
        l = n;
    }
    return l;
}

static struct node *parse_expr(struct parser *P, int with_cond)
{
    if (enter(P) < 0) return NULL;
    struct node *n = parse_or(P);
    if (with_cond) {
        while (n && is_name(P, "if")) {
            struct token *t = cur(P);
            adv(P);
            struct node *c = mk(P, N_COND, t);
            if (!c) return NULL;
            c->a = n;
            if (!(c->b = parse_or(P))) return NULL;
            if (is_name(P, "else")) {
                adv(P);
                if (!(c->c = parse_expr(P, 1))) return NULL;
            }
            n = c;
        }
    }
    P->depth--;
    return n;
}

/* ---- statements ---- */

static int parse_body(struct parser *P, const char *const *ends, const char **which, struct vec *body);

static int block_end(struct parser *P) { return expect(P, T_BLOCK_END); }

/* assignment target: name, tuple of names, or ns.attr (with_ns) */
static struct node *parse_target(struct parser *P, int with_ns, int for_loop)
{
    struct token *t = cur(P);
    if (with_ns && t->type == T_NAME && peek(P, 1)->type == T_DOT && peek(P, 2)->type == T_NAME) {
        struct node *n = mk(P, N_NSREF, t);
        if (!n) return NULL;
        n->s = t->s;
        n->names = tmpl_arena_alloc(P->a, sizeof(char *));
        if (!n->names) return perr(P, t, "out of memory");
        n->names[0] = peek(P, 2)->s;
        adv(P);
        adv(P);
        adv(P);
        return n;
    }
    struct vec v = {0};
    int tuple = 0;
    int paren = accept(P, T_LPAREN);
    for (;;) {
        if (cur(P)->type != T_NAME) return perr(P, cur(P), "can't assign to %s", tokname(cur(P)));
        const char *nm = cur(P)->s;
        if (!strcmp(nm, "true") || !strcmp(nm, "false") || !strcmp(nm, "none") || !strcmp(nm, "True") ||
            !strcmp(nm, "False") || !strcmp(nm, "None"))
            return perr(P, cur(P), "can't assign to constant '%s'", nm);
        struct node *n = mk(P, N_NAME, cur(P));
        if (!n) return NULL;
        n->s = nm;
        adv(P);
        if (vpush(P, &v, n) < 0) return NULL;
        if (!accept(P, T_COMMA)) break;
        tuple = 1;
        if (cur(P)->type != T_NAME) break;
        if (for_loop && is_name(P, "in")) break;
    }
    if (paren && expect(P, T_RPAREN) < 0) return NULL;
    if (!tuple) return v.v[0];
    struct node *n = mk(P, N_TUPLE, t);
    if (!n) return NULL;
    n->list = v.v;
    n->n = v.n;
    return n;
}

static int parse_signature(struct parser *P, struct node *m)
{
    struct vec defs = {0};
    const char **names = NULL;
    uint32_t nn = 0, cap = 0;
    if (expect(P, T_LPAREN) < 0) return -1;
    while (cur(P)->type != T_RPAREN) {
        if (nn && expect(P, T_COMMA) < 0) return -1;
        if (cur(P)->type == T_RPAREN) break;
        if (cur(P)->type != T_NAME) return perr(P, cur(P), "expected parameter name"), -1;
        if (nn == cap) {
            cap = cap ? cap * 2 : 4;
            const char **nv = tmpl_arena_realloc(P->a, names, nn * sizeof(*nv), cap * sizeof(*nv));
            if (!nv) return perr(P, cur(P), "out of memory"), -1;
            names = nv;
        }
        names[nn++] = cur(P)->s;
        adv(P);
        struct node *d = NULL;
        if (accept(P, T_ASSIGN)) {
            if (!(d = parse_expr(P, 1))) return -1;
        } else if (defs.n && defs.v[defs.n - 1]) {
            return perr(P, cur(P), "non-default argument follows default argument"), -1;
        } else if (!strcmp(names[nn - 1], "caller")) {
            return perr(P, cur(P), "the special 'caller' parameter must be omitted or given a default"), -1;
        }
        if (vpush(P, &defs, d) < 0) return -1;
    }
    adv(P);
    m->names = names;
    m->nn = nn;
    m->list2 = defs.v;
    m->n2 = defs.n;
    return 0;
}

static int parse_context_mod(struct parser *P, struct node *n, int dflt)
{
    if (dflt) n->flags |= NF_WITH_CONTEXT;
    if ((is_name(P, "with") || is_name(P, "without")) && peek(P, 1)->type == T_NAME &&
        !strcmp(peek(P, 1)->s, "context")) {
        if (is_name(P, "with")) n->flags |= NF_WITH_CONTEXT;
        else n->flags &= (uint16_t)~NF_WITH_CONTEXT;
        adv(P);
        adv(P);
    }
    return 0;
}

static struct node *parse_statement(struct parser *P)
{
    struct token *t = cur(P);
    if (t->type != T_NAME) return perr(P, t, "tag name expected");
    const char *w = t->s;
    struct node *n;
    const char *which;
    struct vec body = {0}, els = {0};
    if (enter(P) < 0) return NULL;
    struct token *saved_open = P->open;
    P->open = t;
    adv(P);
    if (!strcmp(w, "if")) {
        n = mk(P, N_IF, t);
        if (!n || !(n->a = parse_tuple(P, 0, 1, 0)) || block_end(P) < 0) return NULL;
        static const char *const ends[] = {"elif", "else", "endif", NULL};
        if (parse_body(P, ends, &which, &body) < 0) return NULL;
        n->list = body.v;
        n->n = body.n;
        struct node *last = n;
        for (;;) {
            if (!strcmp(which, "elif")) {
                struct node *e = mk(P, N_IF, cur(P));
                adv(P);
                if (!e || !(e->a = parse_tuple(P, 0, 1, 0)) || block_end(P) < 0) return NULL;
                struct vec eb = {0};
                if (parse_body(P, ends, &which, &eb) < 0) return NULL;
                e->list = eb.v;
                e->n = eb.n;
                last->list2 = tmpl_arena_alloc(P->a, sizeof(struct node *));
                if (!last->list2) return perr(P, t, "out of memory");
                last->list2[0] = e;
                last->n2 = 1;
                last = e;
                continue;
            }
            if (!strcmp(which, "else")) {
                adv(P);
                if (block_end(P) < 0) return NULL;
                static const char *const ends2[] = {"endif", NULL};
                struct vec eb = {0};
                if (parse_body(P, ends2, &which, &eb) < 0) return NULL;
                last->list2 = eb.v;
                last->n2 = eb.n;
            }
            break;
        }
        adv(P);
        if (block_end(P) < 0) return NULL;
    } else if (!strcmp(w, "for")) {
        n = mk(P, N_FOR, t);
        if (!n || !(n->c = parse_target(P, 0, 1))) return NULL;
        if (!is_name(P, "in")) return perr(P, cur(P), "expected 'in' in for loop");
        adv(P);
        if (!(n->a = parse_tuple(P, 0, 0, 0))) return NULL;
        if (is_name(P, "if")) {
            adv(P);
            if (!(n->b = parse_expr(P, 1))) return NULL;
        }
        if (is_name(P, "recursive")) return perr(P, cur(P), "recursive loops are not supported");
        if (block_end(P) < 0) return NULL;
        static const char *const ends[] = {"else", "endfor", NULL};
        P->in_loop++;
        int rc = parse_body(P, ends, &which, &body);
        P->in_loop--;
        if (rc < 0) return NULL;
        if (!strcmp(which, "else")) {
            adv(P);
            if (block_end(P) < 0) return NULL;
            static const char *const ends2[] = {"endfor", NULL};
            if (parse_body(P, ends2, &which, &els) < 0) return NULL;
        }
        adv(P);
        if (block_end(P) < 0) return NULL;
        n->list = body.v;
        n->n = body.n;
        n->list2 = els.v;
        n->n2 = els.n;
    } else if (!strcmp(w, "set")) {
        struct node *target = parse_target(P, 1, 0);
        if (!target) return NULL;
        if (accept(P, T_ASSIGN)) {
            n = mk(P, N_SET, t);
            if (!n) return NULL;
            n->c = target;
            if (!(n->a = parse_tuple(P, 0, 1, 0)) || block_end(P) < 0) return NULL;
        } else {
            n = mk(P, N_SETBLOCK, t);
            if (!n) return NULL;
            n->c = target;
            if (cur(P)->type == T_PIPE) {
                struct node *bv = mk(P, N_BLOCKVAL, t);
                if (!bv || !(n->a = parse_filters(P, bv, 0))) return NULL;
            }
            if (block_end(P) < 0) return NULL;
            static const char *const ends[] = {"endset", NULL};
            if (parse_body(P, ends, &which, &body) < 0) return NULL;
            adv(P);
            if (block_end(P) < 0) return NULL;
            n->list = body.v;
            n->n = body.n;
        }
    } else if (!strcmp(w, "macro")) {
        n = mk(P, N_MACRO, t);
        if (!n) return NULL;
        if (cur(P)->type != T_NAME) return perr(P, cur(P), "expected macro name");
        n->s = cur(P)->s;
        adv(P);
        if (parse_signature(P, n) < 0 || block_end(P) < 0) return NULL;
        static const char *const ends[] = {"endmacro", NULL};
        P->macros[P->nmacros++] = n;
        int saved_loop = P->in_loop;
        P->in_loop = 0;
        int rc = parse_body(P, ends, &which, &body);
        P->in_loop = saved_loop;
        P->nmacros--;
        if (rc < 0) return NULL;
        adv(P);
        if (cur(P)->type == T_NAME) adv(P);  /* {% endmacro name %} */
        if (block_end(P) < 0) return NULL;
        n->list = body.v;
        n->n = body.n;
    } else if (!strcmp(w, "call")) {
        n = mk(P, N_CALLBLOCK, t);
        if (!n) return NULL;
        if (cur(P)->type == T_LPAREN) {
            if (parse_signature(P, n) < 0) return NULL;
        }
        struct node *c = parse_expr(P, 1);
        if (!c) return NULL;
        if (c->kind != N_CALL) return perr(P, t, "expected call");
        n->a = c;
        if (block_end(P) < 0) return NULL;
        static const char *const ends[] = {"endcall", NULL};
        P->macros[P->nmacros++] = n;
        int saved_loop = P->in_loop;
        P->in_loop = 0;
        int rc = parse_body(P, ends, &which, &body);
        P->in_loop = saved_loop;
        P->nmacros--;
        if (rc < 0) return NULL;
        adv(P);
        if (block_end(P) < 0) return NULL;
        n->list = body.v;
        n->n = body.n;
    } else if (!strcmp(w, "include")) {
        n = mk(P, N_INCLUDE, t);
        if (!n || !(n->a = parse_expr(P, 1))) return NULL;
        if (is_name(P, "ignore") && peek(P, 1)->type == T_NAME && !strcmp(peek(P, 1)->s, "missing")) {
            n->flags |= NF_IGNORE_MISSING;
            adv(P);
            adv(P);
        }
        parse_context_mod(P, n, 1);
        if (block_end(P) < 0) return NULL;
    } else if (!strcmp(w, "import")) {
        n = mk(P, N_IMPORT, t);
        if (!n || !(n->a = parse_expr(P, 1))) return NULL;
        if (!is_name(P, "as")) return perr(P, cur(P), "expected 'as' in import");
        adv(P);
        if (cur(P)->type != T_NAME) return perr(P, cur(P), "expected name after 'as'");
        n->s = cur(P)->s;
        adv(P);
        parse_context_mod(P, n, 0);
        if (block_end(P) < 0) return NULL;
    } else if (!strcmp(w, "from")) {
        n = mk(P, N_FROMIMPORT, t);
        if (!n || !(n->a = parse_expr(P, 1))) return NULL;
        if (!is_name(P, "import")) return perr(P, cur(P), "expected 'import'");
        adv(P);
        uint32_t cap = 0;
        for (;;) {
            if (n->nn && !accept(P, T_COMMA)) break;
            if ((is_name(P, "with") || is_name(P, "without")) && peek(P, 1)->type == T_NAME &&
                !strcmp(peek(P, 1)->s, "context"))
                break;
            if (cur(P)->type != T_NAME) {
                if (n->nn) break;
                return perr(P, cur(P), "expected name to import");
            }
            if (n->nn == cap) {
                cap = cap ? cap * 2 : 4;
                const char **a1 = tmpl_arena_realloc(P->a, n->names, n->nn * sizeof(char *), cap * sizeof(char *));
                const char **a2 = tmpl_arena_realloc(P->a, n->names2, n->nn * sizeof(char *), cap * sizeof(char *));
                if (!a1 || !a2) return perr(P, t, "out of memory");
                n->names = a1;
                n->names2 = a2;
            }
            if (cur(P)->s[0] == '_') return perr(P, cur(P), "names starting with an underline can not be imported");
            n->names[n->nn] = n->names2[n->nn] = cur(P)->s;
            adv(P);
            if (is_name(P, "as")) {
                adv(P);
                if (cur(P)->type != T_NAME) return perr(P, cur(P), "expected name after 'as'");
                n->names2[n->nn] = cur(P)->s;
                adv(P);
            }
            n->nn++;
        }
        parse_context_mod(P, n, 0);
        if (block_end(P) < 0) return NULL;
    } else if (!strcmp(w, "filter")) {
        n = mk(P, N_FILTERBLOCK, t);
        if (!n) return NULL;
        struct node *bv = mk(P, N_BLOCKVAL, t);
        if (!bv || !(n->a = parse_filter(P, bv, cur(P))) || !(n->a = parse_filters(P, n->a, 0))) return NULL;
        if (block_end(P) < 0) return NULL;
        static const char *const ends[] = {"endfilter", NULL};
        if (parse_body(P, ends, &which, &body) < 0) return NULL;
        adv(P);
        if (block_end(P) < 0) return NULL;
        n->list = body.v;
        n->n = body.n;
    } else if (!strcmp(w, "with")) {
        n = mk(P, N_WITH, t);
        if (!n) return NULL;
        struct vec vals = {0};
        uint32_t cap = 0;
        while (cur(P)->type != T_BLOCK_END) {
            if (n->nn && expect(P, T_COMMA) < 0) return NULL;
            if (cur(P)->type != T_NAME) return perr(P, cur(P), "expected name in with");
            if (n->nn == cap) {
                cap = cap ? cap * 2 : 4;
                const char **a1 = tmpl_arena_realloc(P->a, n->names, n->nn * sizeof(char *), cap * sizeof(char *));
                if (!a1) return perr(P, t, "out of memory");
                n->names = a1;
            }
            n->names[n->nn++] = cur(P)->s;
            adv(P);
            if (expect(P, T_ASSIGN) < 0) return NULL;
            struct node *x = parse_expr(P, 1);
            if (!x || vpush(P, &vals, x) < 0) return NULL;
        }
        adv(P);
        n->list2 = vals.v;
        n->n2 = vals.n;
        static const char *const ends[] = {"endwith", NULL};
        if (parse_body(P, ends, &which, &body) < 0) return NULL;
        adv(P);
        if (block_end(P) < 0) return NULL;
        n->list = body.v;
        n->n = body.n;
    } else if (!strcmp(w, "break") || !strcmp(w, "continue")) {
        if (!P->in_loop) return perr(P, t, "'%s' outside loop", w);
        n = mk(P, w[0] == 'b' ? N_BREAK : N_CONTINUE, t);
        if (!n || block_end(P) < 0) return NULL;
    } else {
        return perr(P, t, "encountered unknown tag '%s'", w);
    }
    P->open = saved_open;
    P->depth--;
    return n;
}

static int parse_body(struct parser *P, const char *const *ends, const char **which, struct vec *body)
{
    struct token *start = P->open ? P->open : cur(P);
    for (;;) {
        struct token *t = cur(P);
        if (t->type == T_EOF) {
            if (ends && ends[0]) {
                int k = 0;
                while (ends[k + 1]) k++;
                perr(P, start, "unexpected end of template: this '%s' block is never closed with '{%% %s %%}'",
                     start->type == T_NAME ? start->s : "?", ends[k]);
                return -1;
            }
            return 0;
        }
        struct node *n = NULL;
        if (t->type == T_DATA) {
            n = mk(P, N_DATA, t);
            if (!n) return -1;
            n->s = t->s;
            n->slen = t->len;
            adv(P);
        } else if (t->type == T_VAR_BEGIN) {
            adv(P);
            n = mk(P, N_PRINT, t);
            if (!n || !(n->a = parse_tuple(P, 0, 1, 0))) return -1;
            if (expect(P, T_VAR_END) < 0) return -1;
        } else if (t->type == T_BLOCK_BEGIN) {
            adv(P);
            struct token *nm = cur(P);
            if (nm->type == T_NAME && ends)
                for (int k = 0; ends[k]; k++)
                    if (!strcmp(nm->s, ends[k])) {
                        *which = ends[k];
                        return 0;
                    }
            if (nm->type == T_NAME && !strncmp(nm->s, "end", 3) && nm->s[3]) {
                int k = 0;
                while (ends && ends[k] && ends[k + 1]) k++;
                if (ends && ends[0])
                    perr(P, nm, "encountered unknown tag '%s'; the innermost open block needs '{%% %s %%}'", nm->s,
                         ends[k]);
                else
                    perr(P, nm, "encountered unknown tag '%s'", nm->s);
                return -1;
            }
            if (nm->type == T_NAME && ends &&
                (!strcmp(nm->s, "else") || !strcmp(nm->s, "elif"))) {
                perr(P, nm, "unexpected '%s'", nm->s);
                return -1;
            }
            if (!(n = parse_statement(P))) return -1;
        } else {
            unexpected(P);
            return -1;
        }
        if (vpush(P, body, n) < 0) return -1;
    }
}

/* Unknown filters and tests are compile errors, except inside `if` statements and conditional expressions
 * (Jinja2's "soft" frames), where they fail only when evaluated; loops, macros and `with` reset that. */
static int check_names(struct parser *P, const struct node *n, int soft, int depth)
{
    if (!n || depth > 4 * TMPL_PARSE_DEPTH_MAX) return 0;
    if (n->kind == N_FILTER && !n->ffn && !soft) {
        perr(P, &(struct token){.line = n->line, .col = n->col}, "no filter named '%s'", n->s);
        return -1;
    }
    if (n->kind == N_TEST && !n->tfn && !soft) {
        perr(P, &(struct token){.line = n->line, .col = n->col}, "no test named '%s'", n->s);
        return -1;
    }
    int child = soft;
    if (n->kind == N_IF || n->kind == N_COND) child = 1;
    int body = child;
    if (n->kind == N_FOR || n->kind == N_MACRO || n->kind == N_CALLBLOCK || n->kind == N_WITH) body = 0;
    if (check_names(P, n->a, n->kind == N_FOR ? soft : child, depth + 1) < 0 ||
        check_names(P, n->b, n->kind == N_FOR ? 0 : child, depth + 1) < 0 ||
        check_names(P, n->c, n->kind == N_FOR ? 0 : child, depth + 1) < 0 ||
        check_names(P, n->star, child, depth + 1) < 0 || check_names(P, n->dstar, child, depth + 1) < 0)
        return -1;
    int list_soft = (n->kind == N_FOR || n->kind == N_MACRO || n->kind == N_CALLBLOCK || n->kind == N_WITH) ? body : child;
    if (n->kind == N_SETBLOCK || n->kind == N_FILTERBLOCK) list_soft = 0;  /* their bodies are inner frames */
    for (uint32_t i = 0; i < n->n; i++)
        if (check_names(P, n->list[i], list_soft, depth + 1) < 0) return -1;
    int list2_soft = n->kind == N_FOR ? 0 : (n->kind == N_MACRO || n->kind == N_CALLBLOCK) ? soft : child;
    for (uint32_t i = 0; i < n->n2; i++)
        if (check_names(P, n->list2[i], list2_soft, depth + 1) < 0) return -1;
    return 0;
}

int tmpl_parse(struct tmpl *t, struct token *toks, size_t ntok, struct err *e)
{
    struct parser P = {.t = t, .a = &t->ar, .tk = toks, .n = ntok, .e = e};
    struct vec body = {0};
    const char *which = NULL;
    if (parse_body(&P, NULL, &which, &body) < 0 || P.failed) {
        if (!P.failed) perr(&P, cur(&P), "syntax error");
        return -1;
    }
    t->body = mk(&P, N_DATA, &toks[0]);
    if (!t->body) return -1;
    t->body->list = body.v;
    t->body->n = body.n;
    for (uint32_t i = 0; i < body.n; i++)
        if (check_names(&P, body.v[i], 0, 0) < 0) return -1;
    return 0;
}
