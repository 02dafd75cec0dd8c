/* The calling convention of the built-ins (filters, tests, globals, methods): reading a positional-or-keyword
 * argument, converting one to an int or a string the way Jinja2 does, taking dict()-style arguments, and
 * returning a built string as the result. Not for the built-ins themselves (tmpl_filters.c, tmpl_tests.c,
 * tmpl_globals.c, tmpl_methods.c). */
#include <string.h>

#include "common/template/tmpl_internal.h"

int tmpl_arg_get(struct args *a, uint32_t pos, const char *name, tv *out)
{
    if (pos < a->npos) {
        *out = a->pos[pos];
        return 1;
    }
    for (uint32_t i = 0; i < a->nkw; i++)
        if (!strcmp(a->kwn[i], name)) {
            *out = a->kwv[i];
            return 1;
        }
    return 0;
}

int tmpl_v_as_int(struct tmpl_call *r, const struct node *n, const tv *v, int64_t *out)
{
    if (v->kind == TMPL_INT || v->kind == TMPL_BOOL) {
        *out = v->u.i;
        return 0;
    }
    if (v->kind == TMPL_FLOAT) return tmpl_rerr(r, n, "'float' object cannot be interpreted as an integer");
    if (v->kind == TMPL_UNDEF) return tmpl_undef_error(r, n, v);
    return tmpl_rerr(r, n, "'%s' object cannot be interpreted as an integer", tmpl_kind_name(v));
}

int tmpl_str_of(struct tmpl_call *r, const struct node *n, const tv *v, const char **s, size_t *len)
{
    tv x;
    if (tmpl_v_str(r, n, v, &x) < 0) return -1;
    *s = x.u.s;
    *len = x.len;
    return 0;
}

int tmpl_ret_buf(struct tmpl_call *r, const struct node *n, struct buf *b, tv *out)
{
    if (b->oom) {
        buf_free(b);
        return tmpl_rerr(r, n, "out of memory");
    }
    *out = tmpl_v_str_copy(r, buf_cstr(b), b->len);
    buf_free(b);
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}

int tmpl_dict_update_args(struct tmpl_call *r, const struct node *n, struct args *a, tv *d, const char *what)
{
    if (a->npos > 1) return tmpl_rerr(r, n, "%s expected at most 1 argument, got %u", what, a->npos);
    if (a->npos == 1) {
        tv *src = &a->pos[0];
        if (tmpl_v_is_map(src)) {
            tv *ks, *vs;
            size_t c = tmpl_map_entries(r, src, &ks, &vs);
            for (size_t i = 0; i < c; i++) tmpl_dict_put(r, d, ks[i], vs[i]);
        } else {
            tv *items;
            size_t c;
            if (tmpl_v_iter(r, n, src, &items, &c) < 0) return -1;
            for (size_t i = 0; i < c; i++) {
                if (!tmpl_v_is_seq(&items[i]))
                    return tmpl_rerr(r, n, "cannot convert dictionary update sequence element #%zu to a sequence", i);
                if (tmpl_v_len(&items[i]) != 2)
                    return tmpl_rerr(r, n, "dictionary update sequence element #%zu has length %zu; 2 is required", i,
                                     tmpl_v_len(&items[i]));
                tv k = tmpl_seq_at(&items[i], 0);
                if ((tmpl_v_is_seq(&k) && !(k.flags & VF_TUPLE)) || tmpl_v_is_map(&k))
                    return tmpl_rerr(r, n, "unhashable type: '%s'", tmpl_kind_name(&k));
                tmpl_dict_put(r, d, k, tmpl_seq_at(&items[i], 1));
            }
        }
    }
    for (uint32_t i = 0; i < a->nkw; i++) tmpl_dict_put(r, d, v_strn(a->kwn[i], strlen(a->kwn[i])), a->kwv[i]);
    return r->failed ? tmpl_rerr(r, n, "out of memory") : 0;
}
