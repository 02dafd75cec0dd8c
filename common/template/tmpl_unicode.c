/* Case mapping for the template engine's str methods, filters and tests, as Python does it for the scripts
 * HAProxy data realistically contains: ASCII, Latin-1 Supplement, Latin Extended-A, Greek and Cyrillic
 * (including ß -> SS). Other code points are left unchanged (see docs/templates.md). */
#include <string.h>

#include "common/template/tmpl_internal.h"

static uint32_t decode(const char *s, size_t len, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (extra < 0 || *i + (size_t)extra >= len + (extra == 0)) {
        (*i)++;
        return 0xFFFFFFFF;  /* invalid: copied through as a byte */
    }
    uint32_t cp = extra == 0 ? c : extra == 1 ? (c & 0x1F) : extra == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k <= extra; k++) {
        unsigned char x = (unsigned char)s[*i + (size_t)k];
        if ((x & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFFFFFF;
        }
        cp = (cp << 6) | (x & 0x3F);
    }
    *i += (size_t)extra + 1;
    return cp;
}

static void encode(uint32_t c, struct buf *b)
{
    char d[4];
    int n;
    if (c < 0x80) { d[0] = (char)c; n = 1; }
    else if (c < 0x800) { d[0] = (char)(0xC0 | (c >> 6)); d[1] = (char)(0x80 | (c & 0x3F)); n = 2; }
    else if (c < 0x10000) {
        d[0] = (char)(0xE0 | (c >> 12)); d[1] = (char)(0x80 | ((c >> 6) & 0x3F)); d[2] = (char)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        d[0] = (char)(0xF0 | (c >> 18)); d[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        d[2] = (char)(0x80 | ((c >> 6) & 0x3F)); d[3] = (char)(0x80 | (c & 0x3F));
        n = 4;
    }
    buf_append(b, d, (size_t)n);
}

/* 1 upper, -1 lower, 0 uncased */
static int cased(uint32_t c)
{
    if (c >= 'A' && c <= 'Z') return 1;
    if (c >= 'a' && c <= 'z') return -1;
    if (c == 0xB5 || c == 0xDF || c == 0xFF) return -1;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return 1;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return -1;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130) return 1;
        if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return -1;
        if (c == 0x178) return 1;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? 1 : -1;
        return (c & 1) ? -1 : 1;
    }
    if ((c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || c == 0x386 || (c >= 0x388 && c <= 0x38A) || c == 0x38C ||
        c == 0x38E || c == 0x38F)
        return 1;
    if ((c >= 0x3AC && c <= 0x3CE) || c == 0x390) return -1;
    if (c >= 0x400 && c <= 0x42F) return 1;
    if (c >= 0x430 && c <= 0x45F) return -1;
    return 0;
}

static uint32_t to_lower(uint32_t c)
{
    if (cased(c) != 1) return c;
    if (c < 0x80) return c + 32;
    if (c < 0x100) return c + 0x20;
    if (c == 0x178) return 0xFF;
    if (c == 0x130) return 'i';  /* followed by U+0307, see tmpl_utf8_case */
    if (c < 0x180) return c + 1;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c >= 0x391 && c <= 0x3A9) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    return c;
}

/* upper case; *second gets a second code point for ß (SS) and ŉ (ʼN), else 0 */
static uint32_t to_upper(uint32_t c, uint32_t *second)
{
    *second = 0;
    if (cased(c) != -1) return c;
    if (c < 0x80) return c - 32;
    if (c == 0xB5) return 0x39C;
    if (c == 0xDF) { *second = 'S'; return 'S'; }
    if (c == 0xFF) return 0x178;
    if (c < 0x100) return c - 0x20;
    if (c == 0x131) return 'I';
    if (c == 0x138 || c == 0x390) return c;
    if (c == 0x149) { *second = 'N'; return 0x2BC; }
    if (c == 0x17F) return 'S';
    if (c < 0x180) return c - 1;
    if (c == 0x3AC) return 0x386;
    if (c >= 0x3AD && c <= 0x3AF) return c - 37;
    if (c == 0x3B0) return c;
    if (c == 0x3C2) return 0x3A3;
    if (c == 0x3CC) return 0x38C;
    if (c == 0x3CD || c == 0x3CE) return c - 63;
    if (c >= 0x3B1 && c <= 0x3C9) return c - 32;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

static void put_upper(uint32_t c, struct buf *b)
{
    uint32_t second;
    encode(to_upper(c, &second), b);
    if (second) encode(second, b);
}

static int title_sep(uint32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '-' || c == '(' ||
           c == '{' || c == '[' || c == '<' || c == 0xA0 || (c >= 0x1C && c <= 0x1F) || c == 0x85;
}

static void ascii_case(const char *s, size_t len, int mode, struct buf *b)
{
    if (buf_reserve(b, len) < 0) return;
    char *d = b->data + b->len;
    int first = 1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int up = mode == CASE_UPPER || ((mode == CASE_CAPITALIZE || mode == CASE_TITLE) && first);
        d[i] = (char)(up ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (c >= 'A' && c <= 'Z' ? c + 32 : c));
        first = mode == CASE_TITLE && title_sep((unsigned char)c);
    }
    b->len += len;
    b->data[b->len] = '\0';
}

void tmpl_utf8_case(const char *s, size_t len, int mode, struct buf *b)
{
    size_t k = 0;
    while (k < len && (unsigned char)s[k] < 0x80) k++;
    if (k == len) {
        ascii_case(s, len, mode, b);
        return;
    }
    size_t i = 0;
    int first = 1, prev_cased = 0, cur_cased;
    while (i < len) {
        size_t st = i;
        uint32_t c = decode(s, len, &i);
        if (c == 0xFFFFFFFF) {
            buf_append(b, s + st, i - st);
            first = 0;
            prev_cased = 0;
            continue;
        }
        cur_cased = cased(c) != 0;
        switch (mode) {
        case CASE_UPPER: put_upper(c, b); break;
        case CASE_LOWER:
            if (c == 0x3A3 && prev_cased) {  /* Greek final sigma: no cased letter follows */
                size_t j = i;
                uint32_t next = j < len ? decode(s, len, &j) : 0;
                encode(next != 0xFFFFFFFF && cased(next) ? 0x3C3 : 0x3C2, b);
                break;
            }
            encode(to_lower(c), b);
            if (c == 0x130) encode(0x307, b);
            break;
        case CASE_CAPITALIZE:
            if (first) put_upper(c, b);
            else encode(to_lower(c), b);
            if (!first && c == 0x130) encode(0x307, b);
            break;
        case CASE_TITLE:
            if (title_sep(c)) {
                encode(c, b);
                first = 1;
                prev_cased = 0;
                continue;
            }
            if (first) put_upper(c, b);
            else encode(to_lower(c), b);
            if (!first && c == 0x130) encode(0x307, b);
            break;
        }
        first = 0;
        prev_cased = cur_cased;
    }
}

/* Python's str.islower()/isupper(): at least one cased character and none of the other case */
int tmpl_utf8_is_case(const char *s, size_t len, int want_upper)
{
    size_t i = 0;
    int any = 0;
    while (i < len) {
        uint32_t c = decode(s, len, &i);
        if (c == 0xFFFFFFFF) continue;
        int k = cased(c);
        if (k == 0) continue;
        if ((k == 1) != want_upper) return 0;
        any = 1;
    }
    return any;
}

/* letters this file knows (ASCII and the cased ranges above) */
int tmpl_utf8_is_alpha_cp(const char *s, size_t len, size_t *i, int *alpha)
{
    uint32_t c = decode(s, len, i);
    *alpha = c != 0xFFFFFFFF && (cased(c) != 0 || c == 0xAA || c == 0xBA);
    return c != 0xFFFFFFFF && c >= 0x80;
}
