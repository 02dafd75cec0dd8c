/* Structured logging (see log.h). Each line is built in one buffer and written with a single write(2), so
 * lines from several processes sharing stderr do not interleave mid-line. */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A line longer than this is cut and marked ("..." and, in JSON, "truncated":true), staying well-formed; no
 * event needs more, and a bound keeps one write atomic-ish. */
#define LOG_LINE_MAX 8192
#define LOG_MAX_PAIRS 32

static char log_role_name[32] = "main";
static enum log_format log_fmt = LOG_FORMAT_LOGFMT;
static enum log_level log_min = LOG_LEVEL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *role, enum log_format format, enum log_level min_level)
{
    snprintf(log_role_name, sizeof(log_role_name), "%s", role ? role : "main");
    log_fmt = format;
    log_min = min_level;
}

void log_set_level(enum log_level min_level) { log_min = min_level; }
void log_set_format(enum log_format format) { log_fmt = format; }
enum log_level log_get_level(void) { return log_min; }
const char *log_role(void) { return log_role_name; }

const char *log_fmt_int(char *buf, long long v)
{
    snprintf(buf, LOG_NUM_MAX, "%lld", v);
    return buf;
}

const char *log_fmt_uint(char *buf, unsigned long long v)
{
    snprintf(buf, LOG_NUM_MAX, "%llu", v);
    return buf;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return 0;
    }
    return -1;
}

int log_format_parse(const char *s, enum log_format *out)
{
    if (strcmp(s, "logfmt") == 0) *out = LOG_FORMAT_LOGFMT;
    else if (strcmp(s, "json") == 0) *out = LOG_FORMAT_JSON;
    else return -1;
    return 0;
}

/* Room kept at the end of a cut line for what closes it: '..."' + ',"truncated":true' + '}' + '\n'. */
#define LOG_TAIL_RESERVE 32

struct line {
    char buf[LOG_LINE_MAX];
    size_t len;
    int truncated;  /* once set, nothing more is added but the closing tail */
    int in_quote;   /* a quoted value is open: a cut must close it */
};

static size_t room(const struct line *l) { return sizeof(l->buf) - LOG_TAIL_RESERVE - l->len; }

/* Plain ASCII text that may be cut anywhere. */
static void put(struct line *l, const char *s, size_t n)
{
    if (l->truncated) return;
    if (n > room(l)) {
        n = room(l);
        l->truncated = 1;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(struct line *l, const char *s) { put(l, s, strlen(s)); }

/* Whole or not at all: an escape sequence, one UTF-8 character, a quote. Returns 0 if written. */
static int put_unit(struct line *l, const char *s, size_t n)
{
    if (l->truncated) return -1;
    if (n > room(l)) {
        l->truncated = 1;
        return -1;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return 0;
}

static void open_quote(struct line *l)
{
    if (put_unit(l, "\"", 1) == 0) l->in_quote = 1;
}

static void close_quote(struct line *l)
{
    if (put_unit(l, "\"", 1) == 0) l->in_quote = 0;
}

static int needs_quotes(const char *v)
{
    if (*v == '\0') return 1;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f) return 1;
    return 0;
}

/* Length of the well-formed UTF-8 character at p (1 for ASCII), or 0 when p does not start one (a stray or
 * overlong byte, a surrogate, a sequence cut short): such bytes are written as U+FFFD, so a JSON line stays
 * valid UTF-8 and a cut never splits a character. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (*p < 0x80) return 1;
    if (*p >= 0xc2 && *p <= 0xdf) {
        n = 2;
    } else if (*p >= 0xe0 && *p <= 0xef) {
        n = 3;
        if (*p == 0xe0) lo = 0xa0; /* no overlong forms */
        if (*p == 0xed) hi = 0x9f; /* no surrogates */
    } else if (*p >= 0xf0 && *p <= 0xf4) {
        n = 4;
        if (*p == 0xf0) lo = 0x90;
        if (*p == 0xf4) hi = 0x8f; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi) return 0; /* also stops at the terminating NUL */
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return n;
}

/* Escapes for both logfmt and JSON: quotes, backslashes, control characters and bytes that are not UTF-8. */
static void put_escaped(struct line *l, const char *v)
{
    char tmp[8];
    for (const unsigned char *p = (const unsigned char *)v; *p && !l->truncated; p++) {
        switch (*p) {
        case '"': put_unit(l, "\\\"", 2); break;
        case '\\': put_unit(l, "\\\\", 2); break;
        case '\n': put_unit(l, "\\n", 2); break;
        case '\r': put_unit(l, "\\r", 2); break;
        case '\t': put_unit(l, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
                put_unit(l, tmp, 6);
            } else {
                size_t n = utf8_len(p);
                if (n == 0) {
                    put_unit(l, "\\ufffd", 6);
                } else {
                    put_unit(l, (const char *)p, n);
                    p += n - 1;
                }
            }
        }
    }
}

static void put_pair(struct line *l, const char *k, const char *v)
{
    /* a key is never cut: the pair is left out when its key and punctuation do not fit whole */
    if (l->truncated || room(l) < 6 * strlen(k) + 8) {
        l->truncated = 1;
        return;
    }
    if (log_fmt == LOG_FORMAT_JSON) {
        puts_(l, ",\"");
        put_escaped(l, k);
        puts_(l, "\":");
        open_quote(l);
        put_escaped(l, v);
        close_quote(l);
        return;
    }
    puts_(l, " ");
    /* a logfmt key has no quoting: anything that would end it or the line becomes '_' */
    for (const unsigned char *p = (const unsigned char *)k; *p; p++) {
        char c = (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p >= 0x7f) ? '_' : (char)*p;
        put(l, &c, 1);
    }
    puts_(l, "=");
    if (needs_quotes(v)) {
        open_quote(l);
        put_escaped(l, v);
        close_quote(l);
    } else {
        puts_(l, v);
    }
}

static void format_time(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

void log_write_pairs(enum log_level level, const char *msg, const char *const *pairs, int n)
{
    if (level < log_min) return;
    struct line l = {.len = 0};
    char ts[40], pid[16];
    format_time(ts, sizeof(ts));
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    if (log_fmt == LOG_FORMAT_JSON) {
        puts_(&l, "{\"time\":\"");
        puts_(&l, ts);
        puts_(&l, "\"");
        put_pair(&l, "level", level_names[level]);
    } else {
        puts_(&l, "time=");
        puts_(&l, ts);
        puts_(&l, " level=");
        puts_(&l, level_names[level]);
    }
    put_pair(&l, "role", log_role_name);
    put_pair(&l, "pid", pid);
    put_pair(&l, "msg", msg);
    for (int i = 0; i < n; i++)
        put_pair(&l, pairs[2 * i], pairs[2 * i + 1] ? pairs[2 * i + 1] : "");
    if (l.truncated) {
        /* the tail fits in LOG_TAIL_RESERVE: the line stays one well-formed line */
        const char *tail = log_fmt == LOG_FORMAT_JSON ? (l.in_quote ? "...\",\"truncated\":true" : ",\"truncated\":true")
                                                      : (l.in_quote ? "...\"" : "...");
        memcpy(l.buf + l.len, tail, strlen(tail));
        l.len += strlen(tail);
    }
    if (log_fmt == LOG_FORMAT_JSON) l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    ssize_t off = 0;
    while (off < (ssize_t)l.len) {
        ssize_t w = write(STDERR_FILENO, l.buf + off, l.len - (size_t)off);
        if (w <= 0) break;
        off += w;
    }
}

void log_writev(enum log_level level, const char *msg, va_list ap)
{
    const char *pairs[2 * LOG_MAX_PAIRS];
    int n = 0;
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k) break;
        const char *v = va_arg(ap, const char *);
        if (n < LOG_MAX_PAIRS) {
            pairs[2 * n] = k;
            pairs[2 * n + 1] = v;
            n++;
        }
        if (!v) break;
    }
    log_write_pairs(level, msg, pairs, n);
}

void log_write(enum log_level level, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    log_writev(level, msg, ap);
    va_end(ap);
}
