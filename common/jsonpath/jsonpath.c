/* JSONPath subset (see jsonpath.h): a parser to a list of steps and an evaluator over json-c values. */
#include "common/jsonpath/jsonpath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum step_kind { STEP_FIELD, STEP_INDEX, STEP_ALL };

struct step {
    enum step_kind kind;
    char *name;   /* FIELD, owned */
    long index;   /* INDEX; negative counts from the end */
};

struct jsonpath {
    struct step steps[JSONPATH_MAX_STEPS];
    size_t n;
};

void jsonpath_free(struct jsonpath *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) free(p->steps[i].name);
    free(p);
}

static int fail(struct err *e, size_t at, const char *what)
{
    err_set(e, "%s at column %zu", what, at + 1);
    if (e) e->column = (int)at + 1;
    return -1;
}

static struct step *push(struct jsonpath *p, size_t at, struct err *e)
{
    if (p->n == JSONPATH_MAX_STEPS) {
        err_set(e, "more than %d steps at column %zu", JSONPATH_MAX_STEPS, at + 1);
        if (e) e->column = (int)at + 1;
        return NULL;
    }
    struct step *s = &p->steps[p->n++];
    memset(s, 0, sizeof(*s));
    return s;
}

/* A dotted name up to the next unescaped `.` or `[`; `\.` stands for a dot. */
static int parse_name(struct jsonpath *p, const char *x, size_t len, size_t *i, struct err *e)
{
    size_t start = *i;
    char *name = malloc(len - start + 1);
    if (!name) return err_set(e, "out of memory");
    size_t k = 0;
    while (*i < len && x[*i] != '.' && x[*i] != '[') {
        if (x[*i] == '\\' && *i + 1 < len && x[*i + 1] == '.') (*i)++;
        else if (x[*i] == ']' || x[*i] == '\'' || x[*i] == '"' || x[*i] == ' ' || x[*i] == '?' || x[*i] == '(') {
            free(name);
            return fail(e, *i, "unexpected character in a name");
        }
        name[k++] = x[(*i)++];
    }
    name[k] = '\0';
    if (!k) {
        free(name);
        return fail(e, start, "expected a name");
    }
    if (!strcmp(name, "*")) {
        free(name);
        struct step *s = push(p, start, e);
        if (!s) return -1;
        s->kind = STEP_ALL;
        return 0;
    }
    struct step *s = push(p, start, e);
    if (!s) {
        free(name);
        return -1;
    }
    s->kind = STEP_FIELD;
    s->name = name;
    return 0;
}

/* After `[`: 'name', "name", an integer or *, then `]`. */
static int parse_bracket(struct jsonpath *p, const char *x, size_t len, size_t *i, struct err *e)
{
    size_t open = *i - 1;
    struct step *s = push(p, open, e);
    if (!s) return -1;
    if (*i < len && (x[*i] == '\'' || x[*i] == '"')) {
        char q = x[(*i)++];
        size_t start = *i;
        while (*i < len && x[*i] != q) (*i)++;
        if (*i == len) return fail(e, open, "unterminated quoted name");
        s->kind = STEP_FIELD;
        s->name = strndup(x + start, *i - start);
        if (!s->name) return err_set(e, "out of memory");
        (*i)++;
    } else if (*i < len && x[*i] == '*') {
        s->kind = STEP_ALL;
        (*i)++;
    } else {
        size_t start = *i;
        if (*i < len && x[*i] == '-') (*i)++;
        size_t digits = *i;
        while (*i < len && x[*i] >= '0' && x[*i] <= '9') (*i)++;
        if (*i == digits) {
            if (*i < len && (x[*i] == '?' || x[*i] == '(')) return fail(e, start, "filter expressions are not supported");
            return fail(e, start, "expected 'name', an index or * inside [ ]");
        }
        char num[24];
        if (*i - start >= sizeof(num)) return fail(e, start, "index too large");
        memcpy(num, x + start, *i - start);
        num[*i - start] = '\0';
        errno = 0;
        s->kind = STEP_INDEX;
        s->index = strtol(num, NULL, 10);
        if (errno) return fail(e, start, "index too large");
    }
    if (*i >= len || x[*i] != ']') {
        if (*i < len && (x[*i] == ':' || x[*i] == ',')) return fail(e, *i, "slices and unions are not supported");
        return fail(e, *i, "expected ]");
    }
    (*i)++;
    return 0;
}

int jsonpath_compile(const char *expr, struct jsonpath **out, struct err *e)
{
    *out = NULL;
    size_t len = strlen(expr), i = 0;
    if (len > JSONPATH_MAX_LEN) return err_set(e, "longer than %d characters", JSONPATH_MAX_LEN);
    while (i < len && expr[i] == ' ') i++;
    while (len > i && expr[len - 1] == ' ') len--;
    if (i < len && expr[i] == '{') {
        if (expr[len - 1] != '}') return fail(e, i, "unbalanced {");
        i++;
        len--;
    }
    if (i < len && expr[i] == '$') i++;
    if (i == len) return fail(e, i, "empty path");
    struct jsonpath *p = calloc(1, sizeof(*p));
    if (!p) return err_set(e, "out of memory");
    int first = 1;
    while (i < len) {
        int rc;
        if (expr[i] == '[') {
            i++;
            rc = parse_bracket(p, expr, len, &i, e);
        } else if (expr[i] == '.') {
            i++;
            if (i < len && expr[i] == '.') rc = fail(e, i - 1, "recursive descent (..) is not supported");
            else if (i == len) rc = fail(e, i, "expected a name after .");
            else if (expr[i] == '[') rc = 0; /* `.['x']` as kubectl accepts */
            else rc = parse_name(p, expr, len, &i, e);
        } else if (first) {
            rc = parse_name(p, expr, len, &i, e); /* index_by style: metadata.name */
        } else {
            rc = fail(e, i, "expected . or [");
        }
        if (rc < 0) {
            jsonpath_free(p);
            return -1;
        }
        first = 0;
    }
    *out = p;
    return 0;
}

static int walk(const struct jsonpath *p, size_t k, struct json_object *v, struct json_object *results)
{
    if (k == p->n) {
        if (json_object_array_add(results, json_object_get(v)) < 0) {
            json_object_put(v);
            return 0;
        }
        return 1;
    }
    const struct step *s = &p->steps[k];
    int n = 0;
    switch (s->kind) {
    case STEP_FIELD: {
        struct json_object *c;
        if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, s->name, &c))
            n += walk(p, k + 1, c, results);
        break;
    }
    case STEP_INDEX: {
        if (!json_object_is_type(v, json_type_array)) break;
        long len = (long)json_object_array_length(v), at = s->index < 0 ? len + s->index : s->index;
        if (at >= 0 && at < len) n += walk(p, k + 1, json_object_array_get_idx(v, (size_t)at), results);
        break;
    }
    case STEP_ALL:
        if (json_object_is_type(v, json_type_array)) {
            for (size_t j = 0; j < json_object_array_length(v); j++)
                n += walk(p, k + 1, json_object_array_get_idx(v, j), results);
        } else if (json_object_is_type(v, json_type_object)) {
            json_object_object_foreach(v, key, c) {
                (void)key;
                n += walk(p, k + 1, c, results);
            }
        }
        break;
    }
    return n;
}

int jsonpath_eval(const struct jsonpath *p, struct json_object *doc, struct json_object *results)
{
    return walk(p, 0, doc, results);
}
