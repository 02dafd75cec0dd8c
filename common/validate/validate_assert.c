/* The assertions that read rendered text (contains, not_contains, equals, match_count, match_order) and the
 * render context (jsonpath), each failure with the lines it concerns. Patterns are POSIX extended regular
 * expressions (as the config checks them) with REG_NEWLINE: `^` and `$` anchor at line ends and `.` never
 * crosses a line, so a pattern means what it says about one config line.
 * Not for: rendering, haproxy -c or determinism (validate_run.c). */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonpath/jsonpath.h"
#include "common/validate/validate.h"
#include "common/validate/validate_internal.h"

void validate_verdict(struct json_object *res, int passed, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_object_object_add(res, "passed", json_object_new_boolean(passed));
    json_object_object_add(res, "message", json_object_new_string(msg));
}

void validate_pass(struct json_object *res)
{
    json_object_object_add(res, "passed", json_object_new_boolean(1));
    json_object_object_add(res, "message", json_object_new_string(""));
}

static int set_lines(struct json_object *res, struct buf *b)
{
    if (b->oom) return -1;
    json_object_object_add(res, "lines", json_object_new_string(buf_cstr(b)));
    return 0;
}

/* A pattern or value as shown in a message: cut, so one huge value cannot flood the output. */
static const char *shown(const char *s, char *tmp, size_t n)
{
    if (strlen(s) < n) return s;
    snprintf(tmp, n, "%.*s...", (int)(n - 4), s);
    return tmp;
}

struct match {
    size_t so, eo;
};

/* Next match of re in text at or after off; 1 found, 0 none. */
static int next_match(const regex_t *re, const char *text, size_t len, size_t off, struct match *m)
{
    if (off > len) return 0;
    regmatch_t pm[1];
    int flags = off > 0 && text[off - 1] != '\n' ? REG_NOTBOL : 0;
    if (regexec(re, text + off, 1, pm, flags) != 0) return 0;
    m->so = off + (size_t)pm[0].rm_so;
    m->eo = off + (size_t)pm[0].rm_eo;
    return 1;
}

static int compile(const char *pattern, regex_t *re, struct json_object *res)
{
    int rc = regcomp(re, pattern, REG_EXTENDED | REG_NEWLINE);
    if (rc == 0) return 0;
    char why[160];
    regerror(rc, re, why, sizeof(why));
    validate_verdict(res, 0, "pattern is not a valid POSIX extended regular expression: %s", why);
    return -1;
}

static void excerpt_at(const char *text, size_t len, int line, struct buf *b)
{
    validate_excerpt(text, len, line - VALIDATE_CONTEXT_LINES, line + VALIDATE_CONTEXT_LINES, line, b);
}

/* Where a pattern that does not match was probably meant to: the first line holding the longest prefix
 * (at least 3 characters) of the pattern's leading literal text. 0 when no line does. */
static int closest_line(const char *pattern, const char *text, size_t len)
{
    char lit[VALIDATE_VALUE_MAX];
    size_t n = 0;
    const char *p = pattern;
    if (*p == '^') p++;
    for (; *p && n + 1 < sizeof(lit); p++) {
        if (*p == '\\' && p[1] && strchr(".[]()*+?{}|^$\\/", p[1])) {
            lit[n++] = *++p;
            continue;
        }
        if (strchr(".[]()*+?{}|^$\\", *p)) break;
        lit[n++] = *p;
    }
    /* a quantifier applies to the character before it, which then is not literal */
    if (*p && strchr("*?{", *p) && n) n--;
    for (size_t k = n; k >= 3; k--) {
        for (size_t i = 0; i + k <= len; i++) {
            if (memcmp(text + i, lit, k) == 0) return validate_line_of(text, i);
        }
    }
    return 0;
}

static int count_lines(const char *text, size_t len)
{
    return len ? validate_line_of(text, len - 1) : 0;
}

static int check_contains(const struct config_assertion *a, const char *target, const char *text, size_t len,
                          struct json_object *res)
{
    regex_t re;
    if (compile(a->pattern, &re, res) < 0) return 0;
    struct match m;
    int found = next_match(&re, text, len, 0, &m);
    char tmp[VALIDATE_VALUE_MAX];
    struct buf b;
    buf_init(&b);
    int rc = 0;
    if (a->type == CONFIG_ASSERT_CONTAINS) {
        if (found) {
            validate_pass(res);
        } else {
            int line = closest_line(a->pattern, text, len);
            validate_verdict(res, 0, "pattern \"%s\" not found in %s (%d lines)%s", shown(a->pattern, tmp, sizeof(tmp)),
                             target, count_lines(text, len), line ? "; closest line:" : "; its first lines:");
            if (line) excerpt_at(text, len, line, &b);
            else validate_excerpt(text, len, 1, 2 * VALIDATE_CONTEXT_LINES + 1, 0, &b);
            rc = set_lines(res, &b);
        }
    } else if (!found) {
        validate_pass(res);
    } else {
        int line = validate_line_of(text, m.so);
        validate_verdict(res, 0, "pattern \"%s\" found in %s at line %d", shown(a->pattern, tmp, sizeof(tmp)), target,
                         line);
        excerpt_at(text, len, line, &b);
        rc = set_lines(res, &b);
    }
    buf_free(&b);
    regfree(&re);
    return rc;
}

static int check_count(const struct config_assertion *a, const char *target, const char *text, size_t len,
                       struct json_object *res)
{
    regex_t re;
    if (compile(a->pattern, &re, res) < 0) return 0;
    struct buf b;
    buf_init(&b);
    struct match m;
    size_t off = 0;
    int count = 0, last_line = 0;
    while (next_match(&re, text, len, off, &m)) {
        count++;
        int line = validate_line_of(text, m.so);
        if (count <= VALIDATE_MATCHES_SHOWN && line != last_line) validate_excerpt(text, len, line, line, 0, &b);
        last_line = line;
        off = m.eo > m.so ? m.eo : m.so + 1;   /* an empty match moves on by one */
    }
    char tmp[VALIDATE_VALUE_MAX];
    int rc = 0;
    json_object_object_add(res, "got_count", json_object_new_int(count));
    if (count == a->count) {
        validate_pass(res);
    } else {
        validate_verdict(res, 0, "pattern \"%s\" matches %d time%s in %s, expected %d%s",
                         shown(a->pattern, tmp, sizeof(tmp)), count, count == 1 ? "" : "s", target, a->count,
                         count ? (count > VALIDATE_MATCHES_SHOWN ? "; the first matches:" : "; the matches:") : "");
        rc = set_lines(res, &b);
    }
    buf_free(&b);
    regfree(&re);
    return rc;
}

/* Each pattern must match after the previous one's match. */
static int check_order(const struct config_assertion *a, const char *target, const char *text, size_t len,
                       struct json_object *res)
{
    size_t off = 0;
    int prev_line = 0;
    char tmp[VALIDATE_VALUE_MAX];
    for (size_t i = 0; i < a->patterns.len; i++) {
        regex_t re;
        if (compile(a->patterns.items[i], &re, res) < 0) return 0;
        struct match m;
        int found = next_match(&re, text, len, off, &m);
        struct match first;
        int anywhere = found ? 0 : next_match(&re, text, len, 0, &first);
        regfree(&re);
        if (found) {
            off = m.eo > m.so ? m.eo : m.so + 1;
            prev_line = validate_line_of(text, m.so);
            continue;
        }
        struct buf b;
        buf_init(&b);
        const char *p = shown(a->patterns.items[i], tmp, sizeof(tmp));
        if (!anywhere) {
            validate_verdict(res, 0, "patterns[%zu] \"%s\" not found in %s at all", i, p, target);
        } else {
            int line = validate_line_of(text, first.so);
            validate_verdict(res, 0,
                             "patterns[%zu] \"%s\" matches only at line %d, "
                             "before patterns[%zu]'s match at line %d in %s",
                             i, p, line, i - 1, prev_line, target);
            excerpt_at(text, len, line, &b);
            buf_puts(&b, "  ...\n");
        }
        if (prev_line) excerpt_at(text, len, prev_line, &b);
        int rc = set_lines(res, &b);
        buf_free(&b);
        return rc;
    }
    validate_pass(res);
    return 0;
}

static int check_equals(const struct config_assertion *a, const char *target, const char *text, size_t len,
                        struct json_object *res)
{
    size_t elen = strlen(a->expected);
    if (elen == len && memcmp(a->expected, text, len) == 0) {
        validate_pass(res);
        return 0;
    }
    struct buf b;
    buf_init(&b);
    int rc = validate_diff(a->expected, elen, "expected", text, len, target, &b);
    if (rc == 0) {
        validate_verdict(res, 0, "%s differs from expected (%zu bytes, expected %zu)", target, len, elen);
        rc = set_lines(res, &b);
    }
    buf_free(&b);
    return rc;
}

int validate_check_text(const struct config_assertion *a, const char *target_name, const char *text, size_t len,
                        struct json_object *res)
{
    switch (a->type) {
    case CONFIG_ASSERT_CONTAINS:
    case CONFIG_ASSERT_NOT_CONTAINS: return check_contains(a, target_name, text, len, res);
    case CONFIG_ASSERT_MATCH_COUNT: return check_count(a, target_name, text, len, res);
    case CONFIG_ASSERT_MATCH_ORDER: return check_order(a, target_name, text, len, res);
    case CONFIG_ASSERT_EQUALS: return check_equals(a, target_name, text, len, res);
    default: validate_verdict(res, 0, "not a text assertion"); return 0;
    }
}

/* The results as one string: a string as it is, anything else as compact JSON; several joined by a space
 * (kubectl's -o jsonpath prints them so). */
static void results_text(struct json_object *results, struct buf *b)
{
    for (size_t i = 0; i < json_object_array_length(results); i++) {
        struct json_object *v = json_object_array_get_idx(results, i);
        if (i) buf_putc(b, ' ');
        if (json_object_is_type(v, json_type_string)) buf_puts(b, json_object_get_string(v));
        else buf_puts(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    }
}

int validate_check_jsonpath(const struct config_assertion *a, struct json_object *context, struct json_object *res)
{
    struct jsonpath *p = NULL;
    struct err e;
    err_clear(&e);
    json_object_object_add(res, "query", json_object_new_string(a->jsonpath));
    json_object_object_add(res, "expected", json_object_new_string(a->expected));
    if (jsonpath_compile(a->jsonpath, &p, &e) < 0) {   /* the config loader refuses these: a guard */
        validate_verdict(res, 0, "jsonpath %s: %s", a->jsonpath, e.msg);
        return 0;
    }
    struct json_object *results = json_object_new_array();
    if (!results) {
        jsonpath_free(p);
        return -1;
    }
    int n = jsonpath_eval(p, context, results);
    jsonpath_free(p);
    struct buf got;
    buf_init(&got);
    results_text(results, &got);
    json_object_put(results);
    if (got.oom) {
        buf_free(&got);
        return -1;
    }
    json_object_object_add(res, "got", json_object_new_string(buf_cstr(&got)));
    char t1[VALIDATE_VALUE_MAX], t2[VALIDATE_VALUE_MAX];
    if (n > 0 && strcmp(buf_cstr(&got), a->expected) == 0) validate_pass(res);
    else if (n <= 0) validate_verdict(res, 0, "jsonpath %s selects nothing, expected \"%s\"", a->jsonpath,
                                      shown(a->expected, t1, sizeof(t1)));
    else validate_verdict(res, 0, "jsonpath %s gives \"%s\", expected \"%s\"", a->jsonpath,
                          shown(buf_cstr(&got), t1, sizeof(t1)), shown(a->expected, t2, sizeof(t2)));
    buf_free(&got);
    return 0;
}
