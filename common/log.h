/* Structured logging: one line per event, logfmt (default) or JSON, always with time, level, role and pid.
 *
 * Call sites pass a fixed message and key/value string pairs; numbers go through LOG_INT / LOG_UINT:
 *     log_info("child started", "child", "elector", "child_pid", LOG_INT(pid));
 * Values are escaped, never interpreted. Never pass a secret (token, password, key) as a value. */
#ifndef HTIC_LOG_H
#define HTIC_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_LOGFMT = 0, LOG_FORMAT_JSON };

/* Sets the role name shown on every line; the pid is read on each call so forks stay right. */
void log_init(const char *role, enum log_format format, enum log_level min_level);
void log_set_level(enum log_level min_level);
void log_set_format(enum log_format format);
enum log_level log_get_level(void);
int log_level_parse(const char *s, enum log_level *out);
int log_format_parse(const char *s, enum log_format *out);
const char *log_role(void);

/* Writes one line to stderr. The variadic part is key, value, key, value, ..., NULL. */
void log_write(enum log_level level, const char *msg, ...);
void log_writev(enum log_level level, const char *msg, va_list ap);
/* Same, with the pairs given as an array of 2*n strings. */
void log_write_pairs(enum log_level level, const char *msg, const char *const *pairs, int n);

/* A number as a log value, written into a buffer that lives until the end of the enclosing block (a compound
 * literal), so a call site needs no buffer of its own. */
#define LOG_NUM_MAX 24 /* "-9223372036854775808" and its NUL */
#define LOG_INT(v) log_fmt_int((char[LOG_NUM_MAX]){0}, (long long)(v))
#define LOG_UINT(v) log_fmt_uint((char[LOG_NUM_MAX]){0}, (unsigned long long)(v))
/* Write v in decimal into buf (LOG_NUM_MAX bytes) and return buf. */
const char *log_fmt_int(char *buf, long long v);
const char *log_fmt_uint(char *buf, unsigned long long v);

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__, (const char *)0)
#define log_info(...)  log_write(LOG_LEVEL_INFO,  __VA_ARGS__, (const char *)0)
#define log_warn(...)  log_write(LOG_LEVEL_WARN,  __VA_ARGS__, (const char *)0)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__, (const char *)0)

#endif
