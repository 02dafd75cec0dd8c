/* post_processing of rendered text: each regex_replace (POSIX extended regex, checked when the config
 * loaded) applied in order, line by line, every non-overlapping match of a line replaced; \0..\9 in the
 * replacement are the match and its groups, \\ a backslash. Lines keep their newlines.
 * Not for: template filters (the engine has its own regex_replace with Python-style references). */
#include <regex.h>
#include <string.h>

#include "common/render/render.h"

#define POST_GROUPS 10   /* \0..\9 */

static int append_replacement(struct buf *out, const char *line, const regmatch_t *m, const char *rep)
{
    for (const char *p = rep; *p; p++) {
        if (*p == '\\' && p[1] >= '0' && p[1] <= '9') {
            const regmatch_t *g = &m[p[1] - '0'];
            if (g->rm_so >= 0 && buf_append(out, line + g->rm_so, (size_t)(g->rm_eo - g->rm_so)) < 0) return -1;
            p++;
        } else if (*p == '\\' && p[1] == '\\') {
            if (buf_putc(out, '\\') < 0) return -1;
            p++;
        } else if (buf_putc(out, *p) < 0) {
            return -1;
        }
    }
    return 0;
}

/* One line (NUL-terminated copy, no newline) with every match replaced, appended to out. */
static int replace_line(const regex_t *re, const char *rep, const char *line, size_t len, struct buf *out)
{
    size_t pos = 0;
    int flags = 0;
    while (pos <= len) {
        regmatch_t m[POST_GROUPS];
        if (regexec(re, line + pos, POST_GROUPS, m, flags) != 0) break;
        /* offsets are relative to line + pos: shift them so groups index into line */
        for (int i = 0; i < POST_GROUPS; i++)
            if (m[i].rm_so >= 0) {
                m[i].rm_so += (regoff_t)pos;
                m[i].rm_eo += (regoff_t)pos;
            }
        if (buf_append(out, line + pos, (size_t)m[0].rm_so - pos) < 0) return -1;
        if (append_replacement(out, line, m, rep) < 0) return -1;
        if (m[0].rm_eo == m[0].rm_so) {   /* an empty match: keep one character and move on */
            if ((size_t)m[0].rm_eo < len && buf_putc(out, line[m[0].rm_eo]) < 0) return -1;
            pos = (size_t)m[0].rm_eo + 1;
        } else {
            pos = (size_t)m[0].rm_eo;
        }
        flags = REG_NOTBOL;
        if (pos > len) return 0;
    }
    return pos < len ? buf_append(out, line + pos, len - pos) : 0;
}

static int apply_one(const struct config_regex_params *p, struct buf *text, struct err *e)
{
    regex_t re;
    if (regcomp(&re, p->pattern, REG_EXTENDED) != 0) return err_set(e, "post_processing pattern %.100s does not compile", p->pattern);
    struct buf out, line;
    buf_init(&out);
    buf_init(&line);
    int rc = 0;
    const char *s = text->data ? text->data : "";
    size_t n = text->len, i = 0;
    while (i < n && rc == 0) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (s + i)) : n - i;
        if (len > RENDER_POST_LINE_MAX || memchr(s + i, 0, len)) {
            rc = buf_append(&out, s + i, len);   /* not matched: too long, or holds a NUL regexec cannot see past */
        } else {
            buf_reset(&line);
            rc = buf_append(&line, s + i, len);
            if (rc == 0) rc = replace_line(&re, p->replace ? p->replace : "", buf_cstr(&line), len, &out);
        }
        if (rc == 0 && nl) rc = buf_putc(&out, '\n');
        i += len + (nl ? 1 : 0);
    }
    regfree(&re);
    buf_free(&line);
    if (rc < 0) {
        buf_free(&out);
        return err_set(e, "out of memory");
    }
    buf_free(text);
    *text = out;
    return 0;
}

int render_post_process(const struct config_post_processor_list *pp, struct buf *text, struct err *e)
{
    for (size_t i = 0; pp && i < pp->len; i++) {
        if (pp->items[i].type != CONFIG_POST_REGEX_REPLACE) return err_set(e, "unknown post-processor");
        if (apply_one(&pp->items[i].params, text, e) < 0) return -1;
    }
    return 0;
}
