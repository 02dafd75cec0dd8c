/* Turns the output of `haproxy -c` run in a scratch layout into what people read: the [ALERT] lines (without
 * haproxy's summary lines), each followed by the lines around every `[file:N]` it names (haproxy.cfg, maps
 * and crt-lists; certificates and general files are named but never quoted: they may hold keys), and the
 * [WARNING] lines; every scratch path shown as its production path. Bounded so a flood of alerts stays a
 * readable message that fits in one IPC frame.
 * Not for: running haproxy (haproxy_check.c) or laying the files out (scratch.c). */
#ifndef HTIC_HAPROXY_REPORT_H
#define HTIC_HAPROXY_REPORT_H

#include <stddef.h>

#include "common/haproxy/scratch.h"

/* The message (and the warnings) stop growing here: a person reads the first alerts, and the executor
 * carries the message in /debug/vars and events, which are not the place for a whole log. */
#define HAPROXY_REPORT_MESSAGE_MAX 16384
#define HAPROXY_REPORT_WARNINGS_MAX 8192
/* Lines quoted on each side of the line an alert names (haproxy's own context is one line; two shows the
 * section header or the rule before it most of the time). */
#define HAPROXY_REPORT_CONTEXT 2
/* A quoted line is cut here: a 10 kB generated ACL line would push every other alert out of the message. */
#define HAPROXY_REPORT_LINE_MAX 240

struct haproxy_report {
    char *message;   /* owned; "" when haproxy printed no alert */
    char *warnings;  /* owned; one [WARNING] per line, "" when none */
    size_t alerts;   /* [ALERT] lines found (the summaries not counted), shown or not */
};

/* output: haproxy's stdout and stderr; s: the layout it ran on (its files are read for quoting, so call this
 * before scratch_remove). Returns 0, or -1 when out of memory (r is then empty). */
int haproxy_report_build(const char *output, size_t len, const struct scratch *s, struct haproxy_report *r);
void haproxy_report_free(struct haproxy_report *r);

/* Cuts s to at most max bytes without splitting a UTF-8 sequence; returns the new length. */
size_t haproxy_report_utf8_cut(const char *s, size_t len, size_t max);

#endif
