/* Parsing, compiling and evaluating the JSONPath-like paths of index_by and watched_resources_ignore_fields
 * over packed values (syntax in packed_path.h). A compiled path holds a reference on each of its interned
 * names, so its key ids stay valid while objects come and go. */
#include <ctype.h>
#include <stdlib.h>

#include "common/store/packed_internal.h"
#include "common/store/packed_path.h"

#define PATH_INDEX_MAX 1000000L   /* [N]: no array of a watched object is longer (PACKED_MEMBERS_MAX bounds all) */

void packed_path_steps_free(struct packed_path_step *steps, size_t n)
{
    for (size_t i = 0; steps && i < n; i++) free(steps[i].name);
    free(steps);
}

static int add_step(struct packed_path_step **steps, size_t *n, long index, const char *name, size_t len,
                    const char *src, struct err *e)
{
    if (*n >= PACKED_PATH_STEPS_MAX) return err_set(e, "%s: more than %d steps", src, PACKED_PATH_STEPS_MAX);
    if (index < 0 && len == 0) return err_set(e, "%s: empty member name", src);
    struct packed_path_step *s = realloc(*steps, (*n + 1) * sizeof(*s));
    if (!s) return err_set(e, "out of memory");
    *steps = s;
    s[*n] = (struct packed_path_step){.index = index, .len = len};
    if (index < 0) {
        if (!(s[*n].name = strndup(name, len))) return err_set(e, "out of memory");
    }
    (*n)++;
    return 0;
}

int packed_path_parse(const char *src, struct packed_path_step **steps, size_t *n, struct err *e)
{
    *steps = NULL;
    *n = 0;
    size_t sl = strlen(src);
    if (sl == 0) return err_set(e, "empty path");
    if (sl > PACKED_PATH_MAX) return err_set(e, "path of %zu characters (at most %d)", sl, PACKED_PATH_MAX);
    char *buf = malloc(sl + 1), *inner = NULL;
    if (!buf) return err_set(e, "out of memory");
    const char *p = src;
    if (p[0] == '{') {   /* Kubernetes' {.metadata.name}, which config validation (common/jsonpath) accepts */
        if (sl < 2 || src[sl - 1] != '}') {
            free(buf);
            return err_set(e, "%s: unbalanced {", src);
        }
        if (!(inner = strndup(src + 1, sl - 2))) {
            free(buf);
            return err_set(e, "out of memory");
        }
        p = inner;
    }
    if (p[0] == '$') p++;
    int need_name = 0;   /* after a '.', a name must follow */
    if (*p == '.') {
        p++;
        need_name = 1;
    }
    int rc = 0;
    while (*p && rc == 0) {
        if (*p == '[') {
            p++;
            if (*p == '\'' || *p == '"') {
                char q = *p++;
                size_t bl = 0;
                while (*p && *p != q) {
                    if (*p == '\\' && (p[1] == q || p[1] == '\\')) p++;
                    buf[bl++] = *p++;
                }
                if (*p != q || p[1] != ']') {
                    rc = err_set(e, "%s: unterminated ['name']", src);
                    break;
                }
                p += 2;
                rc = add_step(steps, n, -1, buf, bl, src, e);
            } else if (isdigit((unsigned char)*p)) {
                long v = 0;
                while (isdigit((unsigned char)*p) && v <= PATH_INDEX_MAX) v = v * 10 + (*p++ - '0');
                if (v > PATH_INDEX_MAX || *p != ']') {
                    rc = err_set(e, "%s: bad array index (digits up to %ld, then ])", src, PATH_INDEX_MAX);
                    break;
                }
                p++;
                rc = add_step(steps, n, v, NULL, 0, src, e);
            } else {
                rc = err_set(e, "%s: after [ expected a quoted name or an index", src);
                break;
            }
            need_name = 0;
            if (*p == '.') {
                p++;
                need_name = 1;
                if (!*p) rc = err_set(e, "%s: ends with '.'", src);
            }
            continue;
        }
        size_t bl = 0;
        while (*p && *p != '.' && *p != '[') {
            if (*p == ']' || *p == '\'' || *p == '"' || isspace((unsigned char)*p)) {
                rc = err_set(e, "%s: unexpected '%c' in a member name (quote names with ['...'])", src, *p);
                break;
            }
            if (*p == '\\' && p[1] == '.') p++;   /* kubernetes\.io/name: a literal dot, as in common/jsonpath */
            buf[bl++] = *p++;
        }
        if (rc) break;
        rc = add_step(steps, n, -1, buf, bl, src, e);
        need_name = 0;
        if (*p == '.') {
            p++;
            need_name = 1;
            if (!*p) rc = err_set(e, "%s: ends with '.'", src);
        }
    }
    if (rc == 0 && need_name) rc = err_set(e, "%s: ends with '.'", src);
    if (rc == 0 && *n == 0) rc = err_set(e, "%s: no steps", src);
    free(buf);
    free(inner);
    if (rc) {
        packed_path_steps_free(*steps, *n);
        *steps = NULL;
        *n = 0;
    }
    return rc;
}

int packed_path_compile(struct packed_keys *k, const char *src, struct packed_path **out, struct err *e)
{
    struct packed_path *p = calloc(1, sizeof(*p));
    if (!p) return err_set(e, "out of memory");
    p->keys = k;
    if (!(p->src = strdup(src))) {
        free(p);
        return err_set(e, "out of memory");
    }
    if (packed_path_parse(src, &p->steps, &p->n, e) < 0) {
        packed_path_free(p);
        return -1;
    }
    for (size_t i = 0; i < p->n; i++) {
        struct packed_path_step *s = &p->steps[i];
        if (s->index >= 0) continue;
        int created;
        if (pk_keys_intern(k, s->name, s->len, &s->id, &created, e) < 0) {
            /* names before i hold references: drop them by marking the rest as indexes */
            for (size_t j = i; j < p->n; j++) p->steps[j].index = 0;
            packed_path_free(p);
            return -1;
        }
        pk_keyent(k, s->id)->refs++;
    }
    *out = p;
    return 0;
}

void packed_path_free(struct packed_path *p)
{
    if (!p) return;
    for (size_t i = 0; p->keys && i < p->n; i++) {
        if (p->steps[i].index >= 0) continue;
        struct pk_key *key = pk_keyent(p->keys, p->steps[i].id);
        if (key && --key->refs == 0) pk_keys_release(p->keys, p->steps[i].id);
    }
    packed_path_steps_free(p->steps, p->n);
    free(p->src);
    free(p);
}

int packed_path_eval(const struct packed_path *p, struct packed_val v, struct packed_val *out)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct packed_path_step *s = &p->steps[i];
        int ok = s->index >= 0 ? packed_at(v, (size_t)s->index, &v) : packed_get_id(v, s->id, &v);
        if (!ok) return 0;
    }
    *out = v;
    return 1;
}
