/* Immutable template data: JSON converted once into the engine's own compact values (strings, lists and
 * hashed dicts laid out contiguously in one arena, in document order). Rendering over it chases far fewer
 * pointers than over json-c objects, which matters when the data no longer fits in the CPU caches. Used for
 * watched-resource stores that are rendered many times; values are read-only to templates. */
#include <stdlib.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

#define TMPL_DATA_DEPTH_MAX 1000   /* JSON nesting accepted (json-c itself stops at 32 by default) */
#define TMPL_DATA_MEMORY_MAX ((size_t)16 << 30)

struct tmpl_data {
    struct arena ar;
};

struct tmpl_data *tmpl_data_new(void)
{
    struct tmpl_data *d = calloc(1, sizeof(*d));
    if (d) tmpl_arena_init(&d->ar, TMPL_DATA_MEMORY_MAX);
    return d;
}

void tmpl_data_free(struct tmpl_data *d)
{
    if (!d) return;
    tmpl_arena_free(&d->ar);
    free(d);
}

static int convert(struct arena *a, json_object *j, tv *out, int depth)
{
    if (depth > TMPL_DATA_DEPTH_MAX) return -1;
    switch (json_object_get_type(j)) {
    case json_type_string: {
        size_t n = (size_t)json_object_get_string_len(j);
        char *s = tmpl_arena_strndup(a, json_object_get_string(j), n);
        if (!s) return -1;
        *out = v_strn(s, n);
        return 0;
    }
    case json_type_array: {
        size_t n = json_object_array_length(j);
        struct tlist *l = tmpl_arena_alloc(a, sizeof(*l));
        if (!l) return -1;
        if (n && !(l->it = tmpl_arena_alloc(a, n * sizeof(tv)))) return -1;
        l->len = l->cap = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
            if (convert(a, json_object_array_get_idx(j, i), &l->it[i], depth + 1) < 0) return -1;
        memset(out, 0, sizeof(*out));
        out->kind = TMPL_LIST;
        out->flags = VF_FROZEN;
        out->u.p = l;
        return 0;
    }
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(j);
        struct tdict *d = tmpl_arena_alloc(a, sizeof(*d));
        if (!d) return -1;
        if (n && !(d->e = tmpl_arena_alloc(a, n * sizeof(struct tdent)))) return -1;
        d->cap = (uint32_t)n;
        json_object_object_foreach(j, k, val) {
            struct tdent *e = &d->e[d->len];
            size_t kl = strlen(k);
            char *ks = tmpl_arena_strndup(a, k, kl);
            if (!ks) return -1;
            e->k = v_strn(ks, kl);
            e->h = tmpl_v_hash(&e->k);
            if (convert(a, val, &e->v, depth + 1) < 0) return -1;
            if (++d->len == n) break;
        }
        if (d->len > 8) {
            uint32_t icap = 16;
            while (icap < d->len * 2 + 2) icap *= 2;
            if (!(d->idx = tmpl_arena_alloc(a, icap * sizeof(uint32_t)))) return -1;
            d->icap = icap;
            for (uint32_t i = 0; i < d->len; i++) {
                uint32_t p = d->e[i].h & (icap - 1);
                while (d->idx[p]) p = (p + 1) & (icap - 1);
                d->idx[p] = i + 1;
            }
        }
        memset(out, 0, sizeof(*out));
        out->kind = TMPL_DICT;
        out->flags = VF_FROZEN;
        out->u.p = d;
        return 0;
    }
    default:
        *out = tmpl_v_from_json(j);
        return 0;
    }
}

int tmpl_data_from_json(struct tmpl_data *d, json_object *j, struct tmpl_value *out, struct err *e)
{
    if (convert(&d->ar, j, out, 0) < 0)
        return err_set(e, "cannot convert JSON to template data (out of memory or nested deeper than %d)",
                       TMPL_DATA_DEPTH_MAX);
    return 0;
}

size_t tmpl_data_size(const struct tmpl_data *d) { return d ? d->ar.total : 0; }

int tmpl_value_get(const struct tmpl_value *dict, const char *key, struct tmpl_value *out)
{
    return tmpl_dict_get_str(dict, key, out);
}
