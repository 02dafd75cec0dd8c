/* Regular expressions for the original controller's regex filters (regex_search, regex_replace in
 * tmpl_filters.c): a Python-flavoured pattern is checked against the bounds that keep libc's regcomp fast,
 * translated to POSIX ERE (or refused where the two would match differently), compiled and kept in a small
 * per-env cache. Not for matching itself (the filters call regexec) nor for glob_match (fnmatch). */
#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

/* Python-flavoured regex -> POSIX ERE: \d \w \s (and negations) are translated; lazy quantifiers,
 * lookarounds and inline flags are refused with a clear error. */
#define REGEX_PATTERN_MAX 1024  /* bytes of a pattern: HAProxy path/host patterns are far shorter */
#define REGEX_REPEAT_MAX 255     /* {m,n} bounds: libc compiles big counted repeats very slowly */
#define REGEX_GROUPS_MAX 32      /* nesting of ( ) */

/* Refuses what makes libc's regcomp blow up and Python's re refuse or behave differently: stacked
 * quantifiers ("multiple repeat" in Python), huge counted repeats, deep groups, back-references. */
static int check_regex(struct tmpl_call *r, const struct node *n, const char *p, size_t len)
{
    if (len > REGEX_PATTERN_MAX) return tmpl_rerr(r, n, "regex pattern longer than %d bytes", REGEX_PATTERN_MAX);
    int inbr = 0, depth = 0, quantifiable = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '\\') {
            if (i + 1 < len && p[i + 1] >= '1' && p[i + 1] <= '9' && !inbr)
                return tmpl_rerr(r, n, "back-references are not supported in regex patterns");
            i++;
            quantifiable = 1;
            continue;
        }
        if (inbr) {
            if (c == ']') inbr = 0;
            continue;
        }
        if (c == '[') {
            inbr = 1;
            if (i + 1 < len && p[i + 1] == '^') i++;
            if (i + 1 < len && p[i + 1] == ']') i++;
            quantifiable = 1;
            continue;
        }
        if (c == '*' || c == '+' || c == '?' || (c == '{' && i + 1 < len && isdigit((unsigned char)p[i + 1]))) {
            if (!quantifiable) {
                if (c == '?' && i > 0 && (p[i - 1] == '*' || p[i - 1] == '+' || p[i - 1] == '?' || p[i - 1] == '}'))
                    return tmpl_rerr(r, n, "lazy quantifiers are not supported in regex patterns");
                return tmpl_rerr(r, n, "multiple repeat or nothing to repeat in regex pattern at position %zu", i);
            }
            if (c == '{') {
                long m = 0;
                size_t j = i + 1;
                while (j < len && (isdigit((unsigned char)p[j]) || p[j] == ',')) {
                    if (isdigit((unsigned char)p[j])) {
                        m = m * 10 + (p[j] - '0');
                        if (m > REGEX_REPEAT_MAX)
                            return tmpl_rerr(r, n, "regex repeat count above %d", REGEX_REPEAT_MAX);
                    } else {
                        m = 0;
                    }
                    j++;
                }
                if (j < len && p[j] == '}') i = j;
            }
            quantifiable = 0;
            continue;
        }
        if (c == '(') {
            if (++depth > REGEX_GROUPS_MAX)
                return tmpl_rerr(r, n, "regex groups nested deeper than %d", REGEX_GROUPS_MAX);
            quantifiable = 0;
            continue;
        }
        if (c == ')') {
            if (depth > 0) depth--;
            quantifiable = 1;
            continue;
        }
        quantifiable = c != '|' && c != '^';
    }
    return 0;
}

#define REGEX_CACHE_SIZE 64  /* distinct patterns kept compiled per env (templates use a handful) */

struct rcache_entry {
    char *pat;  /* NULL = free slot */
    size_t len;
    regex_t re;
};

void tmpl_regex_cache_free(struct tmpl_env *env)
{
    if (!env->rcache) return;
    for (int i = 0; i < REGEX_CACHE_SIZE; i++)
        if (env->rcache[i].pat) {
            regfree(&env->rcache[i].re);
            free(env->rcache[i].pat);
        }
    free(env->rcache);
    env->rcache = NULL;
}

static int compile_regex_uncached(struct tmpl_call *r, const struct node *n, const tv *pat, regex_t *re);

/* Compiled patterns are cached in the env: a pattern in a loop over 10k objects compiles once. The
 * returned regex belongs to the cache; do not regfree it. */
int tmpl_regex_compile(struct tmpl_call *r, const struct node *n, const tv *pat, regex_t **out)
{
    if (pat->kind != TMPL_STR) return tmpl_rerr(r, n, "regex pattern must be a string");
    struct tmpl_env *env = r->env;
    if (!env->rcache && !(env->rcache = calloc(REGEX_CACHE_SIZE, sizeof(struct rcache_entry))))
        return tmpl_rerr(r, n, "out of memory");
    for (int i = 0; i < REGEX_CACHE_SIZE; i++) {
        struct rcache_entry *c = &env->rcache[i];
        if (c->pat && c->len == pat->len && !memcmp(c->pat, pat->u.s, pat->len)) {
            *out = &c->re;
            return 0;
        }
    }
    struct rcache_entry *c = &env->rcache[env->rcache_next++ % REGEX_CACHE_SIZE];
    if (c->pat) {
        regfree(&c->re);
        free(c->pat);
        c->pat = NULL;
    }
    if (compile_regex_uncached(r, n, pat, &c->re) < 0) return -1;
    if (!(c->pat = malloc(pat->len + 1))) {
        regfree(&c->re);
        return tmpl_rerr(r, n, "out of memory");
    }
    memcpy(c->pat, pat->u.s, pat->len);
    c->pat[pat->len] = '\0';
    c->len = pat->len;
    *out = &c->re;
    return 0;
}

static int compile_regex_uncached(struct tmpl_call *r, const struct node *n, const tv *pat, regex_t *re)
{
    if (check_regex(r, n, pat->u.s, pat->len) < 0) return -1;
    struct buf b;
    buf_init(&b);
    int inbr = 0;
    for (size_t i = 0; i < pat->len; i++) {
        char c = pat->u.s[i];
        if (c == '\\' && i + 1 < pat->len) {
            char x = pat->u.s[++i];
            const char *rep = NULL;
            switch (x) {
            case 'd': rep = inbr ? "0-9" : "[0-9]"; break;
            case 'D': rep = inbr ? NULL : "[^0-9]"; break;
            case 'w': rep = inbr ? "A-Za-z0-9_" : "[A-Za-z0-9_]"; break;
            case 'W': rep = inbr ? NULL : "[^A-Za-z0-9_]"; break;
            case 's': rep = inbr ? " \t\n\r\f\v" : "[ \t\n\r\f\v]"; break;
            case 'S': rep = inbr ? NULL : "[^ \t\n\r\f\v]"; break;
            case 'n': rep = "\n"; break;
            case 't': rep = "\t"; break;
            default:
                if (isalnum((unsigned char)x) && !(x >= '1' && x <= '9')) {
                    buf_free(&b);
                    return tmpl_rerr(r, n, "unsupported regex escape '\\%c'", x);
                }
                if (inbr) buf_putc(&b, x);
                else {
                    buf_putc(&b, '\\');
                    buf_putc(&b, x);
                }
                continue;
            }
            if (!rep) {
                buf_free(&b);
                return tmpl_rerr(r, n, "unsupported regex escape '\\%c' inside []", x);
            }
            buf_puts(&b, rep);
            continue;
        }
        if (!inbr && c == '[') {
            inbr = 1;
            buf_putc(&b, c);
            if (i + 1 < pat->len && pat->u.s[i + 1] == '^') buf_putc(&b, pat->u.s[++i]);
            if (i + 1 < pat->len && pat->u.s[i + 1] == ']') buf_putc(&b, pat->u.s[++i]);
            continue;
        }
        if (inbr && c == ']') inbr = 0;
        if (!inbr && (c == '?' || c == '*' || c == '+' || c == '}') && i + 1 < pat->len && pat->u.s[i + 1] == '?' && c != '?') {
            buf_free(&b);
            return tmpl_rerr(r, n, "lazy quantifiers are not supported in regex patterns");
        }
        if (!inbr && c == '{') {  /* Python takes a '{' that starts no {m}, {m,}, {m,n} literally */
            size_t j = i + 1;
            int digits = 0, comma = 0;
            while (j < pat->len && (isdigit((unsigned char)pat->u.s[j]) || (pat->u.s[j] == ',' && !comma))) {
                if (pat->u.s[j] == ',') comma = 1;
                else digits++;
                j++;
            }
            if (!(digits && j < pat->len && pat->u.s[j] == '}')) {
                buf_puts(&b, "\\{");
                continue;
            }
        }
        if (!inbr && c == '}' && (i == 0 || !isdigit((unsigned char)pat->u.s[i - 1])) && (i == 0 || pat->u.s[i - 1] != ',')) {
            buf_puts(&b, "\\}");
            continue;
        }
        if (!inbr && c == '(' && i + 1 < pat->len && pat->u.s[i + 1] == '?') {
            buf_free(&b);
            return tmpl_rerr(r, n, "(?...) groups are not supported in regex patterns");
        }
        buf_putc(&b, c);
    }
    if (b.oom) {
        buf_free(&b);
        return tmpl_rerr(r, n, "out of memory");
    }
    int rc = regcomp(re, buf_cstr(&b), REG_EXTENDED);
    buf_free(&b);
    if (rc != 0) {
        char msg[128];
        regerror(rc, re, msg, sizeof(msg));
        return tmpl_rerr(r, n, "invalid regex: %s", msg);
    }
    return 0;
}
