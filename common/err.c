/* struct err and struct err_list helpers (see err.h). */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int err_set(struct err *e, const char *fmt, ...)
{
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

void err_clear(struct err *e)
{
    if (e) memset(e, 0, sizeof(*e));
}

void err_format(const struct err *e, char *out, size_t n)
{
    size_t k = 0;
    out[0] = '\0';
#define ADD(...) do { if (k < n) k += (size_t)snprintf(out + k, n - k, __VA_ARGS__); } while (0)
    if (e->file[0]) {
        ADD("%s", e->file);
        if (e->line) ADD(":%d", e->line);
        if (e->line && e->column) ADD(":%d", e->column);
        ADD(": ");
    } else if (e->line) {
        ADD("line %d", e->line);
        if (e->column) ADD(", column %d", e->column);
        ADD(": ");
    }
    if (e->path[0]) ADD("%s: ", e->path);
    ADD("%s", e->msg);
#undef ADD
}

void err_list_init(struct err_list *l) { memset(l, 0, sizeof(*l)); }

struct err *err_list_add(struct err_list *l, const char *file, const char *path, int line, int column,
                         const char *fmt, ...)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct err *items = realloc(l->items, cap * sizeof(*items));
        if (!items) return NULL;
        l->items = items;
        l->cap = cap;
    }
    struct err *e = &l->items[l->len++];
    memset(e, 0, sizeof(*e));
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
    snprintf(e->path, sizeof(e->path), "%s", path ? path : "");
    e->line = line;
    e->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return e;
}

void err_list_free(struct err_list *l)
{
    free(l->items);
    memset(l, 0, sizeof(*l));
}
