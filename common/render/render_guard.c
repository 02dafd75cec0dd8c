/* Injection guards: values from objects and annotations must not break out of their config line.
 * haproxy_arg(v) passes one config word, haproxy_text(v) the rest of a line; anything that would change
 * the config's structure (a newline starting a new directive, a '#' turning the rest into a comment, an
 * unbalanced quote or a trailing backslash swallowing what follows, a space adding arguments to a word) is
 * refused with an error naming the value, and the render fails (the executor then quarantines the object).
 * Not for: escaping (a refused value is never "fixed" into something the object's author did not write). */
#include <stdio.h>
#include <string.h>

#include "common/render/render_internal.h"

/* How much of a refused value an error message shows: enough to recognise it, short enough for a log line. */
#define GUARD_SHOW_MAX 64

static void show(const char *s, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len && i < GUARD_SHOW_MAX && o + 5 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n') o += (size_t)snprintf(out + o, n - o, "\\n");
        else if (ch == '\r') o += (size_t)snprintf(out + o, n - o, "\\r");
        else if (ch == '"' || ch == '\\') o += (size_t)snprintf(out + o, n - o, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f) o += (size_t)snprintf(out + o, n - o, "\\x%02x", ch);
        else out[o++] = (char)ch;
    }
    out[o] = 0;
    if (len > GUARD_SHOW_MAX && o + 4 < n) strcat(out, "...");
}

static int refuse(struct err *e, const char *fn, const char *s, size_t len, const char *why)
{
    char shown[GUARD_SHOW_MAX * 4 + 8];
    show(s, len, shown, sizeof(shown));
    return err_set(e, "%s refused \"%s\": %s", fn, shown, why);
}

static const char *control_name(unsigned char ch)
{
    if (ch == '\n') return "contains a newline";
    if (ch == '\r') return "contains a carriage return";
    if (ch == 0) return "contains a NUL byte";
    return "contains a control character";
}

int render_check_arg(const char *s, size_t len, struct err *e)
{
    if (len == 0) return refuse(e, "haproxy_arg", s, len, "is empty");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 && ch != '\t') return refuse(e, "haproxy_arg", s, len, control_name(ch));
        if (ch == 0x7f) return refuse(e, "haproxy_arg", s, len, "contains a control character");
        if (ch == ' ' || ch == '\t') return refuse(e, "haproxy_arg", s, len, "contains whitespace (one word expected)");
        if (ch == '#') return refuse(e, "haproxy_arg", s, len, "contains '#' (would start a comment)");
        if (ch == '"' || ch == '\'') return refuse(e, "haproxy_arg", s, len, "contains a quote");
        if (ch == '\\') return refuse(e, "haproxy_arg", s, len, "contains a backslash");
    }
    return 0;
}

int render_check_text(const char *s, size_t len, struct err *e)
{
    char quote = 0;   /* the open quote, 0 outside */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return refuse(e, "haproxy_text", s, len, control_name(ch));
        if (quote == '\'') {   /* HAProxy: nothing is special inside single quotes but the closing one */
            if (ch == '\'') quote = 0;
            continue;
        }
        if (ch == '\\') {
            if (i + 1 == len) return refuse(e, "haproxy_text", s, len, "ends with a backslash");
            i++;
            if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
                return refuse(e, "haproxy_text", s, len, control_name((unsigned char)s[i]));
            continue;
        }
        if (quote == '"') {
            if (ch == '"') quote = 0;
            continue;
        }
        if (ch == '"' || ch == '\'') quote = (char)ch;
        else if (ch == '#') return refuse(e, "haproxy_text", s, len, "contains '#' outside quotes (would start a comment)");
    }
    if (quote) return refuse(e, "haproxy_text", s, len, "has an unbalanced quote");
    return 0;
}

/* The value as text: strings as they are, integers in decimal; anything else is refused (a list or a
 * dict printed into a config line is never what the template meant). */
static int guard_call(void *self, const char *fn, int (*check)(const char *, size_t, struct err *),
                      const struct tmpl_value *args, size_t nargs, struct tmpl_value *out, struct tmpl_call *c)
{
    struct render *r = self;
    if (nargs != 1) return tmpl_call_error(c, "%s() takes exactly one value", fn);
    if (args[0].kind == TMPL_INT || args[0].kind == TMPL_BOOL) {
        *out = args[0];
        return 0;
    }
    size_t len;
    const char *s = tmpl_value_cstr(&args[0], &len);
    if (!s) {
        if (args[0].kind == TMPL_UNDEF || args[0].kind == TMPL_NONE)
            return tmpl_call_error(c, "%s() got no value (undefined or none): use |default", fn);
        return tmpl_call_error(c, "%s() takes a string or an integer", fn);
    }
    struct err e;
    err_clear(&e);
    if (check(s, len, &e) < 0) {
        render_blame(r, s);
        if (r->error && r->error->has_object)
            return tmpl_call_error(c, "%s (in %s %s%s%s)", e.msg, r->error->resource, r->error->namespace_,
                                   r->error->namespace_[0] ? "/" : "", r->error->name);
        return tmpl_call_error(c, "%s", e.msg);
    }
    *out = args[0];
    return 0;
}

static int arg_call(void *self, const struct tmpl_value *args, size_t nargs, struct tmpl_value *out, struct tmpl_call *c)
{
    return guard_call(self, "haproxy_arg", render_check_arg, args, nargs, out, c);
}

static int text_call(void *self, const struct tmpl_value *args, size_t nargs, struct tmpl_value *out, struct tmpl_call *c)
{
    return guard_call(self, "haproxy_text", render_check_text, args, nargs, out, c);
}

const struct tmpl_native_ops render_guard_arg_ops = {.type_name = "function", .call = arg_call};
const struct tmpl_native_ops render_guard_text_ops = {.type_name = "function", .call = text_call};
