/* A growable byte buffer, always NUL-terminated, used wherever output is built piece by piece
 * (rendered templates, HTTP responses, JSON bodies). Owned by whoever holds the struct. */
#ifndef HTIC_BUF_H
#define HTIC_BUF_H

#include <stddef.h>

struct buf {
    char *data;   /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    int oom;      /* set once an allocation failed; further appends are ignored */
};

void buf_init(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns data (never NULL: "" for an empty buffer); the buffer keeps ownership. */
const char *buf_cstr(struct buf *b);
/* Hands the data to the caller (free() it) and resets the buffer. */
char *buf_steal(struct buf *b);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
