/* haproxy -c output to a message (see haproxy_report.h). */
#include "common/haproxy/haproxy_report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"

/* haproxy's closing lines that only repeat that the alerts above exist. */
static const char *const summaries[] = {
    "Error(s) found in configuration file",
    "Fatal errors found in configuration",
};

/* Config keywords whose arguments are credentials; a quoted line shows the keyword and hides the rest. */
static const char *const secret_words[] = {"insecure-password", "password", "stats auth", "auth-token"};

size_t haproxy_report_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return n;
}

/* The text after "[LEVEL]   (pid) : " of a haproxy log line. */
static const char *after_prefix(const char *line, const char *end)
{
    const char *p = memchr(line, ']', (size_t)(end - line));
    if (!p) return line;
    p++;
    while (p < end && *p == ' ') p++;
    if (p < end && *p == '(') {
        const char *q = memchr(p, ')', (size_t)(end - p));
        if (q) p = q + 1;
    }
    while (p < end && (*p == ' ' || *p == ':')) p++;
    return p;
}

struct source {
    char path[PATH_MAX];   /* production path of the loaded file, "" if none */
    struct buf text;
};

static int load_source(struct source *src, const struct scratch *s, const char *prod)
{
    if (!strcmp(src->path, prod)) return 0;
    buf_reset(&src->text);
    src->path[0] = '\0';
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s%s", s->dir, prod) >= (int)sizeof(path)) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0 && src->text.len < SCRATCH_TEXT_MAX)
        buf_append(&src->text, chunk, (size_t)n);
    close(fd);
    snprintf(src->path, sizeof(src->path), "%s", prod);
    return 0;
}

static void put_quoted_line(struct buf *out, const struct scratch *s, const char *line, size_t len, int no,
                            int marked)
{
    buf_printf(out, "  %s %5d | ", marked ? ">" : " ", no);
    for (size_t w = 0; w < sizeof(secret_words) / sizeof(secret_words[0]); w++) {
        const char *hit = memmem(line, len, secret_words[w], strlen(secret_words[w]));
        if (hit) {
            len = (size_t)(hit - line) + strlen(secret_words[w]);
            buf_append(out, line, len);
            buf_puts(out, " <redacted>\n");
            return;
        }
    }
    struct buf plain;
    buf_init(&plain);
    scratch_unroot(line, len, s->dir, &plain);
    size_t cut = haproxy_report_utf8_cut(buf_cstr(&plain), plain.len, HAPROXY_REPORT_LINE_MAX);
    buf_append(out, buf_cstr(&plain), cut);
    if (cut < plain.len) buf_puts(out, " [...]");
    buf_putc(out, '\n');
    buf_free(&plain);
}

/* Quotes lines target-CONTEXT..target+CONTEXT of the production file prod (as laid out in s). */
static void quote(struct buf *out, struct source *src, const struct scratch *s, const char *prod, long target)
{
    const struct scratch_file *f = scratch_find(s, prod);
    if (!f) return;
    if (f->kind == SCRATCH_CERT || f->kind == SCRATCH_FILE) return; /* keys and arbitrary files: named only */
    if (load_source(src, s, prod) < 0) return;
    const char *text = buf_cstr(&src->text), *end = text + src->text.len;
    long no = 1;
    buf_printf(out, "  %s:\n", prod);
    for (const char *p = text; p < end && no <= target + HAPROXY_REPORT_CONTEXT; no++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (no >= target - HAPROXY_REPORT_CONTEXT)
            put_quoted_line(out, s, p, (size_t)(le - p), (int)no, no == target);
        p = nl ? nl + 1 : end;
    }
}

/* Quotes every "[path:N]" (where haproxy was parsing) and "(path:N)" (where a proxy was declared) of one
 * (unrooted) alert. */
static void quote_refs(struct buf *out, struct source *src, const struct scratch *s, const char *alert)
{
    size_t cwdl = strlen(s->cwd) - strlen(s->dir);
    const char *cwd_prod = s->cwd + strlen(s->dir);
    for (const char *p = strpbrk(alert, "[("); p; p = strpbrk(p + 1, "[(")) {
        const char *close = strchr(p, *p == '[' ? ']' : ')');
        if (!close) continue;
        const char *colon = close;
        while (colon > p && colon[-1] >= '0' && colon[-1] <= '9') colon--;
        if (colon == close || colon[-1] != ':' || colon - 1 == p + 1) continue;
        colon--;
        char prod[PATH_MAX];
        size_t plen = (size_t)(colon - (p + 1));
        int n;
        if (p[1] == '/')
            n = snprintf(prod, sizeof(prod), "%.*s", (int)plen, p + 1);
        else /* haproxy names the file as it was given to -f: relative to where it ran */
            n = snprintf(prod, sizeof(prod), "%.*s/%.*s", (int)(cwdl > 1 ? cwdl : 0), cwd_prod, (int)plen, p + 1);
        if (n < 0 || n >= (int)sizeof(prod)) continue;
        long line = strtol(colon + 1, NULL, 10);
        /* a file has fewer lines than bytes: a larger number is no line (and would overflow line + context) */
        if (line > (long)SCRATCH_TEXT_MAX) continue;
        quote(out, src, s, prod, line);
    }
}

int haproxy_report_build(const char *output, size_t len, const struct scratch *s, struct haproxy_report *r)
{
    memset(r, 0, sizeof(*r));
    struct buf msg, warn, line;
    buf_init(&msg);
    buf_init(&warn);
    buf_init(&line);
    struct source src = {.path = ""};
    buf_init(&src.text);
    size_t shown = 0, warnings = 0, warnings_shown = 0;
    const char *end = output + len;
    for (const char *p = output; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        int alert = le - p >= 7 && !memcmp(p, "[ALERT]", 7);
        int warning = le - p >= 9 && !memcmp(p, "[WARNING]", 9);
        const char *text = after_prefix(p, le);
        int summary = 0;
        for (size_t i = 0; alert && i < sizeof(summaries) / sizeof(summaries[0]); i++)
            if (memmem(text, (size_t)(le - text), summaries[i], strlen(summaries[i]))) summary = 1;
        if ((alert && !summary) || warning) {
            buf_reset(&line);
            scratch_unroot(text, (size_t)(le - text), s->dir, &line);
        }
        if (alert && !summary) {
            r->alerts++;
            if (msg.len < HAPROXY_REPORT_MESSAGE_MAX) {
                buf_puts(&msg, buf_cstr(&line));
                buf_putc(&msg, '\n');
                quote_refs(&msg, &src, s, buf_cstr(&line));
                shown++;
            }
        } else if (warning) {
            warnings++;
            if (warn.len < HAPROXY_REPORT_WARNINGS_MAX) {
                buf_puts(&warn, buf_cstr(&line));
                buf_putc(&warn, '\n');
                warnings_shown++;
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (shown < r->alerts) buf_printf(&msg, "(%zu more alerts left out)\n", r->alerts - shown);
    if (warnings_shown < warnings) buf_printf(&warn, "(%zu more warnings left out)\n", warnings - warnings_shown);
    int oom = msg.oom || warn.oom;
    buf_free(&line);
    buf_free(&src.text);
    /* the cut keeps room for nothing after it: the "left out" note may go, the bound may not */
    msg.len = haproxy_report_utf8_cut(buf_cstr(&msg), msg.len, HAPROXY_REPORT_MESSAGE_MAX);
    warn.len = haproxy_report_utf8_cut(buf_cstr(&warn), warn.len, HAPROXY_REPORT_WARNINGS_MAX);
    if (msg.data) msg.data[msg.len] = '\0';
    if (warn.data) warn.data[warn.len] = '\0';
    r->message = oom ? NULL : strdup(buf_cstr(&msg));
    r->warnings = oom ? NULL : strdup(buf_cstr(&warn));
    buf_free(&msg);
    buf_free(&warn);
    if (!r->message || !r->warnings) {
        haproxy_report_free(r);
        return -1;
    }
    return 0;
}

void haproxy_report_free(struct haproxy_report *r)
{
    free(r->message);
    free(r->warnings);
    memset(r, 0, sizeof(*r));
}
