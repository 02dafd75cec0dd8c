/* Duration parsing and formatting (see duration.h). Values are bounded to 100 days so arithmetic on
 * deadlines can never overflow. */
#include "common/duration.h"

#include <stdio.h>
#include <string.h>

#define DURATION_MAX_MS (100LL * 24 * 3600 * 1000)

static int unit_ns(const char *p, size_t *len, double *ns)
{
    static const struct { const char *name; double ns; } units[] = {
        {"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3} /* U+00B5 */, {"\xce\xbcs", 1e3} /* U+03BC */, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(units[i].name);
        if (strncmp(p, units[i].name, n) == 0) {
            /* "m" must not swallow the start of "ms" */
            if (n == 1 && p[0] == 'm' && p[1] == 's') continue;
            *len = n;
            *ns = units[i].ns;
            return 0;
        }
    }
    return -1;
}

int duration_parse_ms(const char *s, int64_t *out_ms, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    if (!s || !*s) {
        *why = "empty duration";
        return -1;
    }
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return 0;
    }
    if (*s == '-') {
        *why = "duration must not be negative";
        return -1;
    }
    double total_ns = 0;
    const char *p = s;
    while (*p) {
        if (!((*p >= '0' && *p <= '9') || *p == '.')) {
            *why = "expected a number followed by a unit (ns, us, ms, s, m, h), e.g. 15s or 1m30s";
            return -1;
        }
        double v = 0, scale = 0;
        int digits = 0;
        for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
            if (*p == '.') {
                if (scale) { *why = "more than one decimal point"; return -1; }
                scale = 1;
                continue;
            }
            digits++;
            if (scale) {
                scale /= 10;
                v += (*p - '0') * scale;
            } else {
                v = v * 10 + (*p - '0');
            }
            if (v > 1e15) { *why = "duration is too large"; return -1; }
        }
        if (!digits) { *why = "a unit needs a number before it"; return -1; }
        size_t ulen;
        double ns;
        if (unit_ns(p, &ulen, &ns) < 0) {
            *why = *p ? "unknown unit (use ns, us, ms, s, m, h)"
                      : "missing unit (use ns, us, ms, s, m, h), e.g. 15s";
            return -1;
        }
        p += ulen;
        total_ns += v * ns;
        if (total_ns / 1e6 > (double)DURATION_MAX_MS) {
            *why = "duration is too large (at most 100 days)";
            return -1;
        }
    }
    *out_ms = (int64_t)(total_ns / 1e6 + 0.5);
    if (*out_ms == 0 && total_ns > 0) *out_ms = 1; /* never round a positive duration down to zero */
    return 0;
}

void duration_format_ms(int64_t ms, char *out, size_t n)
{
    if (ms == 0) {
        snprintf(out, n, "0s");
        return;
    }
    if (ms < 1000) {
        snprintf(out, n, "%lldms", (long long)ms);
        return;
    }
    long long h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60, rest = ms % 1000;
    size_t k = 0;
    out[0] = '\0';
    if (h) k += (size_t)snprintf(out + k, n - k, "%lldh", h);
    if ((h || m) && k < n) k += (size_t)snprintf(out + k, n - k, "%lldm", m);
    if (k < n) {
        if (rest) {
            /* as Go prints it: the fraction without trailing zeros (1.5s, 1.01s, 1.001s) */
            int digits = 3;
            while (rest % 10 == 0) {
                rest /= 10;
                digits--;
            }
            snprintf(out + k, n - k, "%lld.%0*llds", s, digits, rest);
        } else {
            snprintf(out + k, n - k, "%llds", s);
        }
    }
}
