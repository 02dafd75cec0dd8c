/* Template lexer: splits a (newline-normalized) source into data and tag tokens the way Jinja2's lexer does,
 * including whitespace control (`-`, `+`), trim_blocks, lstrip_blocks, comments and {% raw %}. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

struct lexer {
    struct tmpl *t;
    struct arena *a;
    const char *src;
    size_t len;
    struct token *toks;
    size_t n, cap;
    struct err *e;
    /* incremental line/column */
    size_t lc_pos;
    int lc_line;
    size_t lc_bol;
};

static void where(struct lexer *L, size_t pos, int *line, int *col)
{
    if (pos < L->lc_pos) {
        L->lc_pos = 0;
        L->lc_line = 1;
        L->lc_bol = 0;
    }
    for (; L->lc_pos < pos; L->lc_pos++)
        if (L->src[L->lc_pos] == '\n') {
            L->lc_line++;
            L->lc_bol = L->lc_pos + 1;
        }
    *line = L->lc_line;
    *col = (int)(pos - L->lc_bol) + 1;
}

static int lerr(struct lexer *L, size_t pos, const char *msg)
{
    int line, col;
    where(L, pos, &line, &col);
    return tmpl_syntax_error(L->t, L->e, line, col, "%s", msg);
}

static struct token *push(struct lexer *L, int type, size_t pos)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        struct token *nt = tmpl_arena_realloc(L->a, L->toks, L->cap * sizeof(*nt), cap * sizeof(*nt));
        if (!nt) return NULL;
        L->toks = nt;
        L->cap = cap;
    }
    struct token *k = &L->toks[L->n++];
    memset(k, 0, sizeof(*k));
    k->type = (uint8_t)type;
    where(L, pos, &k->line, &k->col);
    return k;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static int emit_data(struct lexer *L, size_t start, size_t end)
{
    if (end <= start) return 0;
    struct token *k = push(L, T_DATA, start);
    if (!k) return lerr(L, start, "out of memory");
    k->s = L->src + start;
    k->len = end - start;
    return 0;
}

/* lstrip_blocks: drop spaces/tabs between the last newline of text [s,e) and a tag */
static size_t lstrip_end(struct lexer *L, size_t s, size_t e, int line_starting)
{
    size_t l = e;
    while (l > s && L->src[l - 1] != '\n') l--;
    if (l == s && !line_starting) return e;
    if (l == e) return e;
    for (size_t i = l; i < e; i++)
        if (!is_ws(L->src[i])) return e;
    return l;
}

/* Python unicode-escape decoding of a string literal body */
static int put_utf8(char *d, uint32_t c)
{
    if (c < 0x80) { d[0] = (char)c; return 1; }
    if (c < 0x800) { d[0] = (char)(0xC0 | (c >> 6)); d[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        d[0] = (char)(0xE0 | (c >> 12)); d[1] = (char)(0x80 | ((c >> 6) & 0x3F)); d[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (c >> 18)); d[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((c >> 6) & 0x3F)); d[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int lex_string(struct lexer *L, size_t pos, size_t *end)
{
    char q = L->src[pos];
    size_t i = pos + 1;
    while (i < L->len && L->src[i] != q) {
        if (L->src[i] == '\\' && i + 1 < L->len) i++;
        i++;
    }
    if (i >= L->len) return lerr(L, pos, "unterminated string");
    char *d = tmpl_arena_alloc(L->a, i - pos + 1);
    if (!d) return lerr(L, pos, "out of memory");
    size_t k = 0;
    for (size_t j = pos + 1; j < i; j++) {
        char c = L->src[j];
        if (c != '\\') {
            d[k++] = c;
            continue;
        }
        char x = L->src[++j];
        switch (x) {
        case 'n': d[k++] = '\n'; break;
        case 't': d[k++] = '\t'; break;
        case 'r': d[k++] = '\r'; break;
        case 'a': d[k++] = '\a'; break;
        case 'b': d[k++] = '\b'; break;
        case 'f': d[k++] = '\f'; break;
        case 'v': d[k++] = '\v'; break;
        case '\\': d[k++] = '\\'; break;
        case '\'': d[k++] = '\''; break;
        case '"': d[k++] = '"'; break;
        case '\n': break;
        case 'N': return lerr(L, j, "\\N{...} escapes are not supported in string literals");
        case 'x': case 'u': case 'U': {
            int nd = x == 'x' ? 2 : x == 'u' ? 4 : 8;
            uint32_t c2 = 0;
            for (int m = 0; m < nd; m++) {
                int h = j + 1 + (size_t)m < i ? hexval(L->src[j + 1 + m]) : -1;
                if (h < 0) return lerr(L, j, "truncated \\x/\\u escape in string");
                c2 = c2 * 16 + (uint32_t)h;
            }
            if (c2 > 0x10FFFF || (c2 >= 0xD800 && c2 <= 0xDFFF)) return lerr(L, j, "invalid unicode escape");
            j += (size_t)nd;
            k += (size_t)put_utf8(d + k, c2);
            break;
        }
        default:
            if (x >= '0' && x <= '7') {
                uint32_t c2 = 0;
                int m = 0;
                while (m < 3 && j < i && L->src[j] >= '0' && L->src[j] <= '7') {
                    c2 = c2 * 8 + (uint32_t)(L->src[j] - '0');
                    j++;
                    m++;
                }
                j--;
                k += (size_t)put_utf8(d + k, c2);
            } else {
                d[k++] = '\\';
                d[k++] = x;
            }
        }
    }
    d[k] = '\0';
    struct token *t = push(L, T_STRING, pos);
    if (!t) return lerr(L, pos, "out of memory");
    t->s = d;
    t->len = k;
    *end = i + 1;
    return 0;
}

static int digits(const char *s, size_t len, size_t *i, int (*ok)(int))
{
    size_t st = *i;
    while (*i < len && (ok((unsigned char)s[*i]) || (s[*i] == '_' && *i > st && *i + 1 < len &&
                                                     ok((unsigned char)s[*i + 1]))))
        (*i)++;
    return *i > st;
}

static int lex_number(struct lexer *L, size_t pos, size_t *end, int after_dot)
{
    const char *s = L->src;
    size_t i = pos;
    int isfloat = 0;
    if (s[i] == '0' && i + 1 < L->len && strchr("xXoObB", s[i + 1]) && !after_dot) {
        int base = (s[i + 1] | 0x20) == 'x' ? 16 : (s[i + 1] | 0x20) == 'o' ? 8 : 2;
        i += 2;
        size_t st = i;
        int64_t v = 0;
        while (i < L->len) {
            if (s[i] == '_') { i++; continue; }
            int h = hexval(s[i]);
            if (h < 0 || h >= base) break;
            if (v > (INT64_MAX - h) / base) return lerr(L, pos, "integer literal too large");
            v = v * base + h;
            i++;
        }
        if (i == st) return lerr(L, pos, "invalid integer literal");
        struct token *t = push(L, T_INT, pos);
        if (!t) return lerr(L, pos, "out of memory");
        t->i = v;
        *end = i;
        return 0;
    }
    digits(s, L->len, &i, isdigit);
    if (!after_dot) {
        if (i + 1 < L->len && s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
            i++;
            digits(s, L->len, &i, isdigit);
            isfloat = 1;
        }
        if (i < L->len && (s[i] == 'e' || s[i] == 'E')) {
            size_t j = i + 1;
            if (j < L->len && (s[j] == '+' || s[j] == '-')) j++;
            if (j < L->len && isdigit((unsigned char)s[j])) {
                digits(s, L->len, &j, isdigit);
                i = j;
                isfloat = 1;
            }
        }
    }
    char tmp[128];
    size_t k = 0;
    for (size_t j = pos; j < i && k < sizeof(tmp) - 1; j++)
        if (s[j] != '_') tmp[k++] = s[j];
    tmp[k] = '\0';
    struct token *t = push(L, isfloat ? T_FLOAT : T_INT, pos);
    if (!t) return lerr(L, pos, "out of memory");
    if (isfloat) {
        t->f = strtod(tmp, NULL);
    } else {
        int64_t v = 0;
        for (size_t j = 0; j < k; j++) {
            if (v > (INT64_MAX - (tmp[j] - '0')) / 10) return lerr(L, pos, "integer literal too large");
            v = v * 10 + (tmp[j] - '0');
        }
        t->i = v;
    }
    *end = i;
    return 0;
}

struct op { const char *s; int t; };
static const struct op ops[] = {
    {"//", T_FLOORDIV}, {"**", T_POW}, {"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE},
    {"+", T_ADD}, {"-", T_SUB}, {"*", T_MUL}, {"/", T_DIV}, {"%", T_MOD}, {"~", T_TILDE}, {"<", T_LT},
    {">", T_GT}, {"=", T_ASSIGN}, {"(", T_LPAREN}, {")", T_RPAREN}, {"[", T_LBRACKET}, {"]", T_RBRACKET},
    {"{", T_LBRACE}, {"}", T_RBRACE}, {",", T_COMMA}, {".", T_DOT}, {":", T_COLON}, {"|", T_PIPE},
};

/* Lexes the inside of a tag starting at pos; stops after the end marker. Returns the position after it. */
static int lex_tag(struct lexer *L, size_t pos, int is_block, size_t *after, int *strip_after, int *plus_after,
                   size_t tagpos)
{
    int depth = 0;
    const char *s = L->src;
    for (;;) {
        while (pos < L->len && is_ws(s[pos])) pos++;
        if (pos >= L->len)
            return lerr(L, tagpos, is_block ? "unexpected end of template: block tag not closed with '%}'"
                                            : "unexpected end of template: expression not closed with '}}'");
        if (depth == 0) {
            char c2 = is_block ? '%' : '}';
            size_t p = pos;
            int strip = 0, plus = 0;
            if (s[p] == '-' && p + 2 < L->len + 0 && s[p + 1] == c2 && s[p + 2] == '}') { strip = 1; p++; }
            else if (is_block && s[p] == '+' && p + 2 < L->len + 0 && s[p + 1] == '%' && s[p + 2] == '}') {
                plus = 1;
                p++;
            }
            if (p + 1 < L->len && s[p] == c2 && s[p + 1] == '}') {
                if (!push(L, is_block ? T_BLOCK_END : T_VAR_END, pos)) return lerr(L, pos, "out of memory");
                *after = p + 2;
                *strip_after = strip;
                *plus_after = plus;
                return 0;
            }
        }
        char c = s[pos];
        if (isalpha((unsigned char)c) || c == '_') {
            size_t st = pos;
            while (pos < L->len && (isalnum((unsigned char)s[pos]) || s[pos] == '_')) pos++;
            struct token *t = push(L, T_NAME, st);
            if (!t) return lerr(L, st, "out of memory");
            t->s = tmpl_intern(L->t->env, s + st, pos - st);
            t->len = pos - st;
            if (!t->s) return lerr(L, st, "out of memory");
            continue;
        }
        if (isdigit((unsigned char)c)) {
            int after_dot = L->n > 0 && L->toks[L->n - 1].type == T_DOT;
            if (lex_number(L, pos, &pos, after_dot) < 0) return -1;
            continue;
        }
        if (c == '\'' || c == '"') {
            if (lex_string(L, pos, &pos) < 0) return -1;
            continue;
        }
        int matched = 0;
        for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
            size_t ol = strlen(ops[k].s);
            if (pos + ol <= L->len && memcmp(s + pos, ops[k].s, ol) == 0) {
                if (!push(L, ops[k].t, pos)) return lerr(L, pos, "out of memory");
                if (ops[k].t == T_LPAREN || ops[k].t == T_LBRACKET || ops[k].t == T_LBRACE) depth++;
                if ((ops[k].t == T_RPAREN || ops[k].t == T_RBRACKET || ops[k].t == T_RBRACE) && depth > 0) depth--;
                pos += ol;
                matched = 1;
                break;
            }
        }
        if (!matched) {
            char msg[64];
            if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f) snprintf(msg, sizeof(msg), "unexpected char '%c'", c);
            else snprintf(msg, sizeof(msg), "unexpected char 0x%02x", (unsigned char)c);
            return lerr(L, pos, msg);
        }
    }
}

/* matches `{%[-+]? raw [-]?%}` (or endraw) at pos; returns 1 and fills end/strip flags */
static int match_raw(struct lexer *L, size_t pos, const char *word, size_t *end, int *strip_before,
                     int *plus_before, int *strip_after)
{
    const char *s = L->src;
    size_t p = pos + 2;
    *strip_before = *plus_before = *strip_after = 0;
    if (p < L->len && s[p] == '-') { *strip_before = 1; p++; }
    else if (p < L->len && s[p] == '+') { *plus_before = 1; p++; }
    while (p < L->len && is_ws(s[p])) p++;
    size_t wl = strlen(word);
    if (p + wl > L->len || memcmp(s + p, word, wl) != 0) return 0;
    p += wl;
    if (p < L->len && (isalnum((unsigned char)s[p]) || s[p] == '_')) return 0;
    while (p < L->len && is_ws(s[p])) p++;
    if (p < L->len && s[p] == '-') { *strip_after = 1; p++; }
    if (p + 1 < L->len && s[p] == '%' && s[p + 1] == '}') {
        *end = p + 2;
        return 1;
    }
    return 0;
}

int tmpl_lex(struct tmpl *t, struct arena *a, const char *src, size_t len, struct token **out, size_t *n,
             struct err *e)
{
    struct lexer L = {.t = t, .a = a, .src = src, .len = len, .e = e, .lc_line = 1};
    int trim = t->env->opt.trim_blocks, lstrip = t->env->opt.lstrip_blocks;
    size_t pos = 0;
    int line_starting = 1;
    while (pos < len) {
        size_t st = pos;
        while (st + 1 < len && !(src[st] == '{' && (src[st + 1] == '{' || src[st + 1] == '%' || src[st + 1] == '#')))
            st++;
        if (st + 1 >= len) {
            if (emit_data(&L, pos, len) < 0) return -1;
            break;
        }
        char kind = src[st + 1];
        size_t textend = st;
        size_t p = st + 2;
        int strip_before = 0, plus_before = 0;
        if (src[p] == '-') strip_before = 1;
        else if (src[p] == '+' && kind != '{') plus_before = 1;
        size_t rawend = 0;
        int rsb = 0, rpb = 0, rsa = 0;
        int is_raw = kind == '%' && match_raw(&L, st, "raw", &rawend, &rsb, &rpb, &rsa);
        if (strip_before) {
            while (textend > pos && is_ws(src[textend - 1])) textend--;
        } else if (!plus_before && lstrip && kind != '{') {
            textend = lstrip_end(&L, pos, textend, line_starting);
        }
        if (emit_data(&L, pos, textend) < 0) return -1;
        if (is_raw) {
            size_t q = rawend;
            if (rsa) while (q < len && is_ws(src[q])) q++;
            size_t cs = q;
            for (;;) {
                while (q + 1 < len && !(src[q] == '{' && src[q + 1] == '%')) q++;
                if (q + 1 >= len) return lerr(&L, st, "missing end of raw directive");
                size_t eend;
                int sb, pb, sa;
                if (match_raw(&L, q, "endraw", &eend, &sb, &pb, &sa)) {
                    size_t ce = q;
                    if (sb) while (ce > cs && is_ws(src[ce - 1])) ce--;
                    else if (!pb && lstrip) ce = lstrip_end(&L, cs, ce, 0);
                    if (emit_data(&L, cs, ce) < 0) return -1;
                    pos = eend;
                    if (sa) while (pos < len && is_ws(src[pos])) pos++;
                    else if (trim && pos < len && src[pos] == '\n') pos++;
                    break;
                }
                q++;
            }
            line_starting = pos > 0 && src[pos - 1] == '\n';
            continue;
        }
        if (kind == '#') {
            if (strip_before || plus_before) p++;  /* that '-' or '+' belongs to the opener */
            size_t q = p;
            while (q + 1 < len && !(src[q] == '#' && src[q + 1] == '}')) q++;
            if (q + 1 >= len) return lerr(&L, st, "missing end of comment tag");
            int sa = q > p && src[q - 1] == '-';
            int pa = q > p && src[q - 1] == '+';
            pos = q + 2;
            if (sa) while (pos < len && is_ws(src[pos])) pos++;
            else if (!pa && trim && pos < len && src[pos] == '\n') pos++;
            line_starting = src[pos - 1] == '\n';
            continue;
        }
        int is_block = kind == '%';
        if (!push(&L, is_block ? T_BLOCK_BEGIN : T_VAR_BEGIN, st)) return lerr(&L, st, "out of memory");
        if (strip_before || plus_before) p++;
        size_t after = pos;
        int strip_after = 0, plus_after = 0;
        if (lex_tag(&L, p, is_block, &after, &strip_after, &plus_after, st) < 0) return -1;
        pos = after;
        if (strip_after) while (pos < len && is_ws(src[pos])) pos++;
        else if (is_block && !plus_after && trim && pos < len && src[pos] == '\n') pos++;
        line_starting = src[pos - 1] == '\n';
    }
    struct token *k = push(&L, T_EOF, len);
    if (!k) return lerr(&L, len, "out of memory");
    *out = L.toks;
    *n = L.n;
    return 0;
}
