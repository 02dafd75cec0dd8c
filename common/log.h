/* Structured logging: one line per event, logfmt (default) or JSON, always with time, level, role and pid.
 *
 * Call sites pass a fixed message and key/value string pairs:
 *     log_info("child started", "child", "elector", "pid", pidbuf);
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

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__, (const char *)0)
#define log_info(...)  log_write(LOG_LEVEL_INFO,  __VA_ARGS__, (const char *)0)
#define log_warn(...)  log_write(LOG_LEVEL_WARN,  __VA_ARGS__, (const char *)0)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__, (const char *)0)

#endif
