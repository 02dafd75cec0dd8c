/* The streaming JSON parser that builds packed blocks straight from text, with no json-c tree: the render
 * CLI's context and anything else too large to parse into json-c first. Input comes from a buffer or from a
 * file descriptor read in chunks, so peak memory is the block being built plus one chunk.
 * Strict RFC 8259 JSON; like json-c, a repeated key keeps its first position and its last value, and a lone
 * UTF-16 surrogate in a \u escape becomes U+FFFD, so both builders give identical blocks for the same text.
 * Integers outside int64 and non-finite numbers are refused (json-c would clamp them silently). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/store/packed_internal.h"

#define PARSE_CHUNK ((size_t)64 << 10)   /* read size for file descriptors: a few pages, amortises syscalls */
#define PARSE_NUMBER_MAX 512             /* characters of one number: far beyond the 17 digits a double needs */

struct src {
    const char *p, *end;
    int fd;               /* -1: a buffer */
    char *chunk;          /* owned (fd only) */
    size_t chunk_size;
    size_t base;          /* bytes before chunk start, for offsets in messages */
    const char *start;
    int eof;
    int io_err;           /* a read failed: its message is in the error already */
};

struct parser {
    struct pk_builder b;
    struct src in;
    char *tmp;            /* owned: decoded string */
    size_t tn, tcap;
    struct err *e;
};

static int fill(struct parser *P)
{
    struct src *s = &P->in;
    if (s->fd < 0 || s->eof) return 0;
    s->base += (size_t)(s->end - s->start);
    for (;;) {
        ssize_t r = read(s->fd, s->chunk, s->chunk_size);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            err_set(P->e, "read: %s", strerror(errno));
            s->eof = s->io_err = 1;
            return -1;
        }
        if (r == 0) {
            s->eof = 1;
            s->p = s->end = s->start = s->chunk;
            return 0;
        }
        s->p = s->start = s->chunk;
        s->end = s->chunk + r;
        return 1;
    }
}

static inline int peek(struct parser *P)
{
    if (P->in.p == P->in.end && fill(P) <= 0) return -1;
    return (unsigned char)*P->in.p;
}

static size_t offset(const struct parser *P) { return P->in.base + (size_t)(P->in.p - P->in.start); }

static int fail(struct parser *P, const char *what)
{
    if (P->in.io_err) return -1;
    return err_set(P->e, "JSON text: %s at byte %zu", what, offset(P));
}

static int ws(struct parser *P)
{
    for (;;) {
        int c = peek(P);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c;
        P->in.p++;
    }
}

static int tmp_put(struct parser *P, const char *s, size_t n)
{
    if (P->tn + n > PACKED_STRING_MAX)
        return err_set(P->e, "JSON text: string longer than %zu bytes at byte %zu", PACKED_STRING_MAX, offset(P));
    if (P->tn + n > P->tcap) {
        size_t cap = P->tcap ? P->tcap : 256;
        while (cap < P->tn + n) cap *= 2;
        char *t = realloc(P->tmp, cap);
        if (!t) return err_set(P->e, "out of memory");
        P->tmp = t;
        P->tcap = cap;
    }
    memcpy(P->tmp + P->tn, s, n);
    P->tn += n;
    return 0;
}

static int hex4(struct parser *P, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = peek(P);
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return fail(P, "bad \\u escape");
        v = v * 16 + (unsigned)d;
        P->in.p++;
    }
    *out = v;
    return 0;
}

static int put_utf8(struct parser *P, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xc0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3f)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 0x3f)); u[2] = (char)(0x80 | (cp & 0x3f)); n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3f)); u[3] = (char)(0x80 | (cp & 0x3f)); n = 4;
    }
    return tmp_put(P, u, n);
}

/* A string (the opening quote is next) decoded into tmp, or only checked when skip. */
static int string(struct parser *P, int skip)
{
    P->tn = 0;
    P->in.p++;
    for (;;) {
        if (P->in.p == P->in.end && fill(P) <= 0) return fail(P, "unterminated string");
        const char *s = P->in.p, *e = P->in.end;
        while (s < e && *s != '"' && *s != '\\' && (unsigned char)*s >= 0x20) s++;
        if (!skip && s > P->in.p && tmp_put(P, P->in.p, (size_t)(s - P->in.p)) < 0) return -1;
        if (skip) P->tn += (size_t)(s - P->in.p);   /* counted, not kept */
        P->in.p = s;
        if (s == e) continue;
        if (*s == '"') {
            P->in.p++;
            return 0;
        }
        if ((unsigned char)*s < 0x20) return fail(P, "control character in a string");
        P->in.p++;   /* backslash */
        int c;
    escape:      /* the backslash is consumed; the escape's letter is next */
        c = peek(P);
        if (c < 0) return fail(P, "unterminated string");
        P->in.p++;
        char one;
        switch (c) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': {
            unsigned cp;
            if (hex4(P, &cp) < 0) return -1;
            if (cp >= 0xd800 && cp < 0xdc00) {   /* high surrogate: a low one must follow */
                unsigned lo = 0;
                if (peek(P) == '\\') {
                    P->in.p++;
                    if (peek(P) == 'u') {
                        P->in.p++;
                        if (hex4(P, &lo) < 0) return -1;
                        if (lo >= 0xdc00 && lo < 0xe000) {
                            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        } else {   /* lone high surrogate, then another escape: both as json-c does */
                            if (!skip && put_utf8(P, 0xfffd) < 0) return -1;
                            cp = lo >= 0xd800 && lo < 0xe000 ? 0xfffd : lo;
                        }
                    } else {
                        /* "\ud83d\n" and the like: the surrogate is lone, then that escape as usual; it is
                         * not re-read, since its backslash may lie in the chunk before the current one */
                        if (!skip && put_utf8(P, 0xfffd) < 0) return -1;
                        goto escape;
                    }
                } else {
                    cp = 0xfffd;
                }
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                cp = 0xfffd;
            }
            if (!skip && put_utf8(P, cp) < 0) return -1;
            continue;
        }
        default: return fail(P, "bad escape in a string");
        }
        if (!skip && tmp_put(P, &one, 1) < 0) return -1;
    }
}

static int number(struct parser *P, uint32_t *slot, int skip)
{
    char num[PARSE_NUMBER_MAX + 1];
    size_t n = 0;
    int is_double = 0;
    for (;;) {
        int c = peek(P);
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) break;
        if (c == '.' || c == 'e' || c == 'E') is_double = 1;
        if (n == PARSE_NUMBER_MAX) return fail(P, "number too long");
        num[n++] = (char)c;
        P->in.p++;
    }
    num[n] = 0;
    /* RFC 8259 grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    size_t i = 0;
    if (num[i] == '-') i++;
    if (num[i] == '0') i++;
    else if (num[i] >= '1' && num[i] <= '9') while (num[i] >= '0' && num[i] <= '9') i++;
    else return fail(P, "bad number");
    if (num[i] == '.') {
        i++;
        if (!(num[i] >= '0' && num[i] <= '9')) return fail(P, "bad number");
        while (num[i] >= '0' && num[i] <= '9') i++;
    }
    if (num[i] == 'e' || num[i] == 'E') {
        i++;
        if (num[i] == '+' || num[i] == '-') i++;
        if (!(num[i] >= '0' && num[i] <= '9')) return fail(P, "bad number");
        while (num[i] >= '0' && num[i] <= '9') i++;
    }
    if (i != n) return fail(P, "bad number");
    if (skip) return 0;
    errno = 0;
    if (!is_double) {
        long long v = strtoll(num, NULL, 10);
        if (errno == ERANGE) return fail(P, "integer out of the int64 range");
        return pk_int(&P->b, v, slot);
    }
    double d = strtod(num, NULL);
    if (pk_double(&P->b, d, slot) < 0) return fail(P, "number is not finite");
    return 0;
}

static int literal(struct parser *P, const char *word, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (peek(P) != word[i]) return fail(P, "unexpected character");
        P->in.p++;
    }
    return 0;
}

static int value(struct parser *P, const struct packed_proj *proj, int depth, int skip, uint32_t *slot);

static int object(struct parser *P, const struct packed_proj *proj, int depth, int skip, uint32_t *slot)
{
    if (depth >= PACKED_DEPTH_MAX) return err_set(P->e, "JSON text: nested deeper than %d at byte %zu", PACKED_DEPTH_MAX, offset(P));
    P->in.p++;
    size_t mark = P->b.pn;
    int c = ws(P);
    if (c == '}') {
        P->in.p++;
        return skip ? 0 : pk_close_object(&P->b, mark, slot);
    }
    for (;;) {
        if (c != '"') return fail(P, "expected a member name");
        if (string(P, skip) < 0) return -1;
        const struct packed_proj *pc = NULL;
        uint32_t id = 0;
        if (!skip) {
            if (P->tn > PACKED_KEY_MAX) return fail(P, "object key too long");
            pc = proj ? pk_proj_child(proj, P->tmp, P->tn) : NULL;
            if (!(pc && pc->drop) && pk_use_key(&P->b, P->tn ? P->tmp : "", P->tn, &id) < 0) return -1;
        }
        if (ws(P) != ':') return fail(P, "expected ':'");
        P->in.p++;
        ws(P);
        int drop = skip || (pc && pc->drop);
        uint32_t s = 0;
        if (value(P, pc, depth + 1, drop, &s) < 0) return -1;
        if (!drop && pk_push(&P->b, id, s) < 0) return -1;
        c = ws(P);
        if (c == ',') {
            P->in.p++;
            c = ws(P);
            continue;
        }
        if (c == '}') {
            P->in.p++;
            return skip ? 0 : pk_close_object(&P->b, mark, slot);
        }
        return fail(P, "expected ',' or '}'");
    }
}

static int array(struct parser *P, int depth, int skip, uint32_t *slot)
{
    if (depth >= PACKED_DEPTH_MAX) return err_set(P->e, "JSON text: nested deeper than %d at byte %zu", PACKED_DEPTH_MAX, offset(P));
    P->in.p++;
    size_t mark = P->b.pn;
    int c = ws(P);
    if (c == ']') {
        P->in.p++;
        return skip ? 0 : pk_close_array(&P->b, mark, slot);
    }
    for (;;) {
        uint32_t s = 0;
        if (value(P, NULL, depth + 1, skip, &s) < 0) return -1;
        if (!skip && pk_push(&P->b, PK_NOKEY, s) < 0) return -1;
        c = ws(P);
        if (c == ',') {
            P->in.p++;
            ws(P);
            continue;
        }
        if (c == ']') {
            P->in.p++;
            return skip ? 0 : pk_close_array(&P->b, mark, slot);
        }
        return fail(P, "expected ',' or ']'");
    }
}

static int value(struct parser *P, const struct packed_proj *proj, int depth, int skip, uint32_t *slot)
{
    int c = peek(P);
    switch (c) {
    case '{': return object(P, proj, depth, skip, slot);
    case '[': return array(P, depth, skip, slot);
    case '"':
        if (string(P, skip) < 0) return -1;
        return skip ? 0 : pk_string(&P->b, P->tn ? P->tmp : "", P->tn, slot);
    case 't': *slot = PK_TRUE; return literal(P, "true", 4);
    case 'f': *slot = PK_FALSE; return literal(P, "false", 5);
    case 'n': *slot = PK_NULL; return literal(P, "null", 4);
    case -1: return fail(P, "unexpected end of input");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return number(P, slot, skip);
        return fail(P, "unexpected character");
    }
}

static int parse(struct parser *P, struct packed_keys *k, const struct packed_proj *proj, struct packed **out,
                 struct err *e)
{
    P->e = e;
    pk_builder_init(&P->b, k, e);
    uint32_t root;
    int rc = -1;
    ws(P);
    if (value(P, proj, 0, 0, &root) == 0) {
        if (ws(P) != -1) fail(P, "trailing characters after the value");
        else if (!P->in.io_err) rc = 0;
    }
    free(P->tmp);
    free(P->in.chunk);
    if (rc < 0) {
        pk_builder_free(&P->b);
        return -1;
    }
    return pk_finish(&P->b, root, out);
}

int packed_from_text(struct packed_keys *k, const char *text, size_t len, const struct packed_proj *proj,
                     struct packed **out, struct err *e)
{
    struct parser P = {.in = {.p = text, .end = text + len, .start = text, .fd = -1}};
    return parse(&P, k, proj, out, e);
}

int pk_from_fd_chunked(struct packed_keys *k, int fd, size_t chunk, const struct packed_proj *proj,
                       struct packed **out, struct err *e)
{
    struct parser P = {.in = {.fd = fd, .chunk_size = chunk}};
    if (!(P.in.chunk = malloc(chunk))) return err_set(e, "out of memory");
    P.in.p = P.in.end = P.in.start = P.in.chunk;
    return parse(&P, k, proj, out, e);
}

int packed_from_fd(struct packed_keys *k, int fd, const struct packed_proj *proj, struct packed **out,
                   struct err *e)
{
    return pk_from_fd_chunked(k, fd, PARSE_CHUNK, proj, out, e);
}
