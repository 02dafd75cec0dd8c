/* Bump allocator for the template engine: a compile's AST or a render's values live in one arena that is
 * freed (or reset for the next render) at once, so values need no reference counting. Bounded by `limit`. */
#include <stdlib.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

#define ARENA_CHUNK ((size_t)64 << 10)

void tmpl_arena_init(struct arena *a, size_t limit)
{
    memset(a, 0, sizeof(*a));
    a->limit = limit;
}

void *tmpl_arena_alloc(struct arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    struct achunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
        if (a->oom || a->total + size > a->limit) {
            a->oom = 1;
            return NULL;
        }
        struct achunk *nc = malloc(sizeof(*nc) + size + 16);
        if (!nc) {
            a->oom = 1;
            return NULL;
        }
        nc->size = size;
        nc->used = (size_t)(-(uintptr_t)nc->data & 15);
        a->total += size;
        if (c && n > ARENA_CHUNK / 4) {
            /* big block: keep the current chunk as head so its free space stays usable */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void *tmpl_arena_realloc(struct arena *a, void *p, size_t old, size_t n)
{
    if (n <= old) return p;
    void *q = tmpl_arena_alloc(a, n);
    if (q && p && old) memcpy(q, p, old);
    return q;
}

char *tmpl_arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *d = tmpl_arena_alloc(a, n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void tmpl_arena_reset(struct arena *a)
{
    struct achunk *keep = NULL;
    for (struct achunk *c = a->head, *next; c; c = next) {
        next = c->next;
        if (!keep && c->size == ARENA_CHUNK) {
            keep = c;
            continue;
        }
        free(c);
    }
    a->head = keep;
    a->total = 0;
    a->oom = 0;
    if (keep) {
        keep->next = NULL;
        keep->used = (size_t)(-(uintptr_t)keep->data & 15);
        a->total = keep->size;
    }
}

void tmpl_arena_free(struct arena *a)
{
    for (struct achunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
    a->total = 0;
}
