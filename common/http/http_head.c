/* Byte-at-a-time check of a request head's syntax, so a head split across reads anywhere gives the same
 * answer as one read in one piece. See http_head.h for what it refuses and why; the grammar is RFC 9112's:
 *   request-line = method SP request-target SP "HTTP/" DIGIT "." DIGIT CRLF
 *   field-line   = field-name ":" *( VCHAR / obs-text / SP / HTAB ) CRLF
 * with empty lines (CRLF) before the request line ignored, as RFC 9112 section 2.2 asks. */
#include "common/http/http_head.h"

enum {
    S_LEADING,    /* before the request line: empty lines are skipped */
    S_LEADING_CR,
    S_METHOD,
    S_TARGET,
    S_VERSION,    /* count = position in "HTTP/D.D" */
    S_LINE_CR,    /* the request line's CR was seen */
    S_LINE_START, /* start of a field line, or of the empty line ending the head */
    S_NAME,
    S_VALUE,
    S_VALUE_CR,
    S_END_CR,
    S_DONE,
};

/* tchar of RFC 9110 section 5.6.2: what a method and a field name are made of */
static int is_tchar(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return 1;
    switch (ch) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
        return 1;
    default:
        return 0;
    }
}

/* a request-target byte: anything visible (http-parser checks the URL's own grammar) */
static int is_target(unsigned char ch) { return ch > 0x20 && ch != 0x7f; }

/* a field-value byte: VCHAR, obs-text, SP, HTAB; CR, LF, NUL and other controls are refused */
static int is_value(unsigned char ch) { return ch == '\t' || (ch >= 0x20 && ch != 0x7f); }

void http_head_check_init(struct http_head_check *h)
{
    h->state = S_LEADING;
    h->count = 0;
    h->major = 0;
}

int http_head_check_done(const struct http_head_check *h) { return h->state == S_DONE; }

static int version_byte(struct http_head_check *h, unsigned char ch)
{
    static const char shape[] = "HTTP/0.0";
    int i = h->count;
    if (i == 8) {
        if (ch != '\r') return 400;
        h->state = S_LINE_CR;
        return h->major == '1' ? 0 : 505; /* HTTP/1.x with any minor is read as 1.1 (RFC 9110 2.5) */
    }
    if (shape[i] == '0' ? !(ch >= '0' && ch <= '9') : ch != (unsigned char)shape[i]) return 400;
    if (i == 5) h->major = (char)ch;
    h->count++;
    return 0;
}

int http_head_check_feed(struct http_head_check *h, const char *p, size_t n)
{
    for (size_t i = 0; i < n && h->state != S_DONE; i++) {
        unsigned char ch = (unsigned char)p[i];
        int bad = 0;
        switch (h->state) {
        case S_LEADING:
            if (ch == '\r') h->state = S_LEADING_CR;
            else if (is_tchar(ch)) h->state = S_METHOD;
            else bad = 1;
            break;
        case S_LEADING_CR:
            if (ch == '\n') h->state = S_LEADING;
            else bad = 1;
            break;
        case S_METHOD:
            if (ch == ' ') {
                h->state = S_TARGET;
                h->count = 0;
            } else if (!is_tchar(ch)) {
                bad = 1;
            }
            break;
        case S_TARGET:
            if (ch == ' ' && h->count > 0) {
                h->state = S_VERSION;
                h->count = 0;
            } else if (is_target(ch)) {
                h->count++;
            } else {
                bad = 1; /* CR or LF here: an HTTP/0.9 request line without a version */
            }
            break;
        case S_VERSION: {
            int status = version_byte(h, ch);
            if (status) return status;
            break;
        }
        case S_LINE_CR:
        case S_VALUE_CR:
            if (ch == '\n') h->state = S_LINE_START;
            else bad = 1;
            break;
        case S_LINE_START:
            if (ch == '\r') h->state = S_END_CR;
            else if (is_tchar(ch)) h->state = S_NAME;
            else bad = 1; /* SP or HTAB: obs-fold, or whitespace before the first field (RFC 9112 2.2) */
            break;
        case S_NAME:
            if (ch == ':') h->state = S_VALUE;
            else if (!is_tchar(ch)) bad = 1; /* a space in a name or before the colon (RFC 9112 5.1) */
            break;
        case S_VALUE:
            if (ch == '\r') h->state = S_VALUE_CR;
            else if (!is_value(ch)) bad = 1; /* a bare LF ends no line here */
            break;
        case S_END_CR:
            if (ch == '\n') h->state = S_DONE;
            else bad = 1;
            break;
        default:
            break;
        }
        if (bad) return 400;
    }
    return 0;
}
