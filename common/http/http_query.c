/* Query-string and percent-decoding helpers for HTTP request targets (no allocation, bounded output). */
#include "common/http/http_server.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int http_url_decode(const char *in, size_t n, char *out, size_t outlen, int form)
{
    size_t o = 0;
    if (outlen == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        if (ch == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+' && form) {
            ch = ' ';
        }
        if (o + 1 >= outlen) return -1;
        out[o++] = ch;
    }
    out[o] = '\0';
    return (int)o;
}

int http_query_get(const char *query, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    const char *p = query ? query : "";
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq ? (size_t)(eq - p) : len;
        char name[128];
        if (http_url_decode(p, nlen, name, sizeof(name), 1) >= 0 && strlen(name) == klen &&
            memcmp(name, key, klen) == 0) {
            if (!eq) {
                if (outlen) out[0] = '\0';
                return 1;
            }
            return http_url_decode(eq + 1, len - nlen - 1, out, outlen, 1) < 0 ? -1 : 1;
        }
        p += len;
        if (*p == '&') p++;
    }
    return 0;
}
