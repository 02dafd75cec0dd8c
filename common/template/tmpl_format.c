/* Python's string formatting as templates use it: `'%s:%d' % (host, port)` and the format filter
 * (printf-style, tmpl_py_percent_format) and str.format (`'{}:{:>5}'.format(...)`, tmpl_str_format), with
 * Python's error messages. Not for str() of values (tmpl_value.c) nor for the other str methods. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template/tmpl_internal.h"

#define FORMAT_WIDTH_MAX 100000  /* field width/precision in %-formatting and str.format: far above any use */
#define FORMAT_SPEC_PRECISION_MAX 1000  /* str.format precision: a double has 17 significant digits */

static int read_num(const char *fmt, size_t flen, size_t *i, int64_t *out)
{
    int64_t v = 0;
    while (*i < flen && isdigit((unsigned char)fmt[*i])) {
        if (v <= FORMAT_WIDTH_MAX) v = v * 10 + (fmt[*i] - '0');
        (*i)++;
    }
    *out = v;
    return v > FORMAT_WIDTH_MAX ? -1 : 0;
}

int tmpl_py_percent_format(struct tmpl_call *r, const struct node *n, const char *fmt, size_t flen, tv *args,
                           size_t nargs, const tv *mapping, struct buf *out)
{
    size_t ai = 0;
    for (size_t i = 0; i < flen; i++) {
        if (fmt[i] != '%') {
            buf_putc(out, fmt[i]);
            continue;
        }
        if (++i >= flen) return tmpl_rerr(r, n, "incomplete format");
        tv arg;
        int have = 0;
        if (fmt[i] == '(') {
            const char *e = memchr(fmt + i, ')', flen - i);
            if (!e || !mapping) return tmpl_rerr(r, n, "format requires a mapping");
            tv key = tmpl_v_str_copy(r, fmt + i + 1, (size_t)(e - fmt - i - 1));
            if (!tmpl_dict_get(mapping, &key, &arg))
                return tmpl_rerr(r, n, "format key %.*s not found", (int)key.len, key.u.s);
            have = 1;
            i = (size_t)(e - fmt) + 1;
        }
        char flags[8];
        size_t nf = 0;
        int left = 0;
        while (i < flen && strchr("-+ #0", fmt[i]) && fmt[i]) {
            if (fmt[i] == '-') left = 1;
            if (nf < sizeof(flags) - 1 && !memchr(flags, fmt[i], nf)) flags[nf++] = fmt[i];
            i++;
        }
        flags[nf] = '\0';
        int64_t width = 0, prec = -1;
        if (read_num(fmt, flen, &i, &width) < 0) return tmpl_rerr(r, n, "format width too large");
        if (i < flen && fmt[i] == '.') {
            i++;
            if (read_num(fmt, flen, &i, &prec) < 0) return tmpl_rerr(r, n, "format precision too large");
        }
        if (i >= flen) return tmpl_rerr(r, n, "incomplete format");
        char conv = fmt[i];
        if (conv == '%') {
            buf_putc(out, '%');
            continue;
        }
        if (!have) {
            if (ai >= nargs) return tmpl_rerr(r, n, "not enough arguments for format string");
            arg = args[ai++];
        }
        char spec[24];
        switch (conv) {
        case 's':
        case 'r': {
            struct buf t;
            buf_init(&t);
            if (conv == 's') {
                if (tmpl_v_to_str(r, n, &arg, &t) < 0) {
                    buf_free(&t);
                    return -1;
                }
            } else {
                tmpl_v_repr(&arg, &t);
            }
            size_t len = t.len;
            if (prec >= 0) len = tmpl_utf8_offset(buf_cstr(&t), t.len, (size_t)prec);
            int64_t cps = (int64_t)tmpl_utf8_len(buf_cstr(&t), len), pad = width > cps ? width - cps : 0;
            if (!left)
                for (int64_t k = 0; k < pad; k++) buf_putc(out, ' ');
            buf_append(out, buf_cstr(&t), len);
            if (left)
                for (int64_t k = 0; k < pad; k++) buf_putc(out, ' ');
            buf_free(&t);
            break;
        }
        case 'd':
        case 'i':
        case 'x':
        case 'X':
        case 'o': {
            int64_t x;
            if (arg.kind == TMPL_FLOAT) x = (int64_t)arg.u.f;
            else if (arg.kind == TMPL_INT || arg.kind == TMPL_BOOL) x = arg.u.i;
            else return tmpl_rerr(r, n, "%%%c format: a number is required, not %s", conv, tmpl_kind_name(&arg));
            if (prec < 0) {
                snprintf(spec, sizeof(spec), "%%%s*ll%c", flags, conv == 'i' ? 'd' : conv);
                buf_printf(out, spec, (int)width, (long long)x);
            } else {
                snprintf(spec, sizeof(spec), "%%%s*.*ll%c", flags, conv == 'i' ? 'd' : conv);
                buf_printf(out, spec, (int)width, (int)prec, (long long)x);
            }
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G': {
            if (!tmpl_v_is_num(&arg)) return tmpl_rerr(r, n, "must be real number, not %s", tmpl_kind_name(&arg));
            snprintf(spec, sizeof(spec), "%%%s*.*%c", flags, conv);
            buf_printf(out, spec, (int)width, (int)(prec < 0 ? 6 : prec), tmpl_v_num(&arg));
            break;
        }
        case 'c': {
            if (arg.kind == TMPL_STR && tmpl_utf8_len(arg.u.s, arg.len) == 1) buf_append(out, arg.u.s, arg.len);
            else if (arg.kind == TMPL_INT && arg.u.i >= 0 && arg.u.i < 128) buf_putc(out, (char)arg.u.i);
            else return tmpl_rerr(r, n, "%%c requires int or char");
            break;
        }
        default:
            return tmpl_rerr(r, n, "unsupported format character '%c'", conv);
        }
        if (out->len > r->outmax) return tmpl_rerr(r, n, "formatted string too large");
    }
    if (ai < nargs && !mapping) return tmpl_rerr(r, n, "not all arguments converted during string formatting");
    return 0;
}

/* ---- str.format ---- */

/* str.format field: {[index|name][!r|!s][:spec]} */
static int format_spec(struct tmpl_call *r, const struct node *n, const tv *v, const char *spec, size_t sl,
                       struct buf *out)
{
    char fill = ' ', align = 0, type = 0, sign = 0;
    size_t i = 0;
    int64_t width = -1, prec = -1;
    int zero = 0;
    if (sl >= 2 && strchr("<>^=", spec[1])) {
        fill = spec[0];
        align = spec[1];
        i = 2;
    } else if (sl >= 1 && strchr("<>^=", spec[0])) {
        align = spec[0];
        i = 1;
    }
    if (i < sl && strchr("+- ", spec[i])) sign = spec[i++];
    if (i < sl && spec[i] == '0') {
        zero = 1;
        i++;
    }
    if (i < sl && isdigit((unsigned char)spec[i])) {
        width = 0;
        while (i < sl && isdigit((unsigned char)spec[i]) && width < FORMAT_WIDTH_MAX) width = width * 10 + (spec[i++] - '0');
    }
    char group = 0;
    if (i < sl && (spec[i] == ',' || spec[i] == '_')) group = spec[i++];
    if (i < sl && spec[i] == '.') {
        i++;
        prec = 0;
        while (i < sl && isdigit((unsigned char)spec[i]) && prec < FORMAT_SPEC_PRECISION_MAX) prec = prec * 10 + (spec[i++] - '0');
    }
    if (i < sl) type = spec[i++];
    if (i < sl) return tmpl_rerr(r, n, "invalid format specifier");
    struct buf body;
    buf_init(&body);
    int numeric = tmpl_v_is_num(v);
    if (type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b') {
        if (v->kind != TMPL_INT && v->kind != TMPL_BOOL) {
            buf_free(&body);
            return tmpl_rerr(r, n, "unknown format code '%c' for object of type '%s'", type, tmpl_kind_name(v));
        }
        if (type == 'b') {
            uint64_t u = v->u.i < 0 ? (uint64_t)0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
            char tmp[70];
            int k = 69;
            tmp[k] = '\0';
            do {
                tmp[--k] = (char)('0' + (u & 1));
                u >>= 1;
            } while (u);
            if (v->u.i < 0) buf_putc(&body, '-');
            buf_puts(&body, tmp + k);
        } else {
            char f[8] = {'%', 'l', 'l', type, 0};
            if (sign == '+' && v->u.i >= 0) buf_putc(&body, '+');
            buf_printf(&body, f, (long long)v->u.i);
        }
    } else if (type == 'f' || type == 'F' || type == 'e' || type == 'E' || type == 'g' || type == '%') {
        if (!numeric) {
            buf_free(&body);
            return tmpl_rerr(r, n, "unknown format code '%c' for object of type '%s'", type, tmpl_kind_name(v));
        }
        double d = tmpl_v_num(v) * (type == '%' ? 100.0 : 1.0);
        if (sign == '+' && d >= 0) buf_putc(&body, '+');
        char f[8] = {'%', '.', '*', type == '%' ? 'f' : type, 0};
        buf_printf(&body, f, (int)(prec < 0 ? 6 : prec), d);
        if (type == '%') buf_putc(&body, '%');
    } else if (type == 0 || type == 's') {
        if (type == 's' && numeric) {
            buf_free(&body);
            return tmpl_rerr(r, n, "unknown format code 's' for object of type '%s'", tmpl_kind_name(v));
        }
        if (v->kind == TMPL_FLOAT && prec >= 0) {
            buf_printf(&body, "%.*g", (int)prec, v->u.f);
        } else {
            if (sign == '+' && numeric && tmpl_v_num(v) >= 0) buf_putc(&body, '+');
            if (tmpl_v_to_str(r, n, v, &body) < 0) {
                buf_free(&body);
                return -1;
            }
            if (!numeric && prec >= 0 && (size_t)prec < body.len) body.len = tmpl_utf8_offset(body.data, body.len, (size_t)prec);
        }
    } else {
        buf_free(&body);
        return tmpl_rerr(r, n, "unsupported format code '%c'", type);
    }
    if (group) {  /* thousands separators in the integer digits */
        const char *bs = buf_cstr(&body);
        size_t st = (bs[0] == '-' || bs[0] == '+') ? 1 : 0, end = st;
        while (end < body.len && isdigit((unsigned char)bs[end])) end++;
        if (!numeric || end == st) {
            buf_free(&body);
            return tmpl_rerr(r, n, "cannot specify '%c' with this format", group);
        }
        struct buf g;
        buf_init(&g);
        buf_append(&g, bs, st);
        for (size_t k = st; k < end; k++) {
            buf_putc(&g, bs[k]);
            if (k + 1 < end && (end - k - 1) % 3 == 0) buf_putc(&g, group);
        }
        buf_append(&g, bs + end, body.len - end);
        buf_free(&body);
        body = g;
    }
    if (zero && !align) {  /* Python: a leading 0 means fill '0' after the sign */
        align = '=';
        fill = '0';
    }
    if (!align) align = numeric ? '>' : '<';
    int64_t cps = (int64_t)tmpl_utf8_len(buf_cstr(&body), body.len);
    int64_t pad = width > cps ? width - cps : 0;
    int64_t left = align == '>' || align == '=' ? pad : align == '^' ? pad / 2 : 0;
    size_t skip = 0;
    if (align == '=' && numeric && body.len && (body.data[0] == '-' || body.data[0] == '+')) {
        buf_putc(out, body.data[0]);
        skip = 1;
    }
    for (int64_t k = 0; k < left; k++) buf_putc(out, fill);
    buf_append(out, buf_cstr(&body) + skip, body.len - skip);
    for (int64_t k = 0; k < pad - left; k++) buf_putc(out, fill);
    buf_free(&body);
    return 0;
}

int tmpl_str_format(struct tmpl_call *r, const struct node *n, tv *s, struct args *a, tv *out)
{
    struct buf b;
    buf_init(&b);
    uint32_t auto_idx = 0;
    const char *p = s->u.s;
    size_t len = s->len;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '}' ) {
            if (i + 1 < len && p[i + 1] == '}') i++;
            else { buf_free(&b); return tmpl_rerr(r, n, "Single '}' encountered in format string"); }
            buf_putc(&b, '}');
            continue;
        }
        if (p[i] != '{') {
            buf_putc(&b, p[i]);
            continue;
        }
        if (i + 1 < len && p[i + 1] == '{') {
            buf_putc(&b, '{');
            i++;
            continue;
        }
        const char *e = memchr(p + i, '}', len - i);
        if (!e) {
            buf_free(&b);
            return tmpl_rerr(r, n, "Single '{' encountered in format string");
        }
        const char *f = p + i + 1;
        size_t fl = (size_t)(e - f);
        const char *colon = memchr(f, ':', fl);
        size_t nl = colon ? (size_t)(colon - f) : fl;
        char conv = 0;
        if (nl >= 2 && f[nl - 2] == '!') {
            conv = f[nl - 1];
            nl -= 2;
        }
        tv v;
        if (nl == 0) {
            if (auto_idx >= a->npos) {
                buf_free(&b);
                return tmpl_rerr(r, n, "Replacement index %u out of range for positional args tuple", auto_idx);
            }
            v = a->pos[auto_idx++];
        } else if (isdigit((unsigned char)f[0])) {
            uint32_t idx = (uint32_t)atoi(f);
            if (idx >= a->npos) {
                buf_free(&b);
                return tmpl_rerr(r, n, "Replacement index %u out of range for positional args tuple", idx);
            }
            v = a->pos[idx];
        } else {
            uint32_t k;
            for (k = 0; k < a->nkw; k++)
                if (strlen(a->kwn[k]) == nl && !memcmp(a->kwn[k], f, nl)) break;
            if (k == a->nkw) {
                buf_free(&b);
                return tmpl_rerr(r, n, "format: missing keyword argument '%.*s'", (int)nl, f);
            }
            v = a->kwv[k];
        }
        if (conv == 'r') {
            struct buf t;
            buf_init(&t);
            tmpl_v_repr(&v, &t);
            v = tmpl_v_str_copy(r, buf_cstr(&t), t.len);
            buf_free(&t);
        }
        int rc = colon ? format_spec(r, n, &v, colon + 1, fl - nl - 1 - (conv ? 2 : 0), &b)
                       : tmpl_v_to_str(r, n, &v, &b);
        if (rc < 0) {
            buf_free(&b);
            return -1;
        }
        i = (size_t)(e - p);
    }
    return tmpl_ret_buf(r, n, &b, out);
}
