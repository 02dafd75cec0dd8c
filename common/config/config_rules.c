/* Value rules the schema tables attach to fields and map names: Kubernetes name syntax (DNS-1123), safe
 * file names for rendered files, regexes, label selectors, URLs, addresses. Each returns 0, or -1 with a
 * short reason that reads after the quoted value ("\"Foo\" must be lower case ..."). */
#include <arpa/inet.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "common/config/config_schema.h"

#define DNS1123_LABEL_MAX 63
#define DNS1123_SUBDOMAIN_MAX 253
/* Names used in paths and template identifiers stay short enough for any file system. */
#define NAME_MAX_LEN 200

static int lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static int label_ok(const char *s, size_t n)
{
    if (n == 0 || n > DNS1123_LABEL_MAX) return 0;
    if (!lower_alnum(s[0]) || !lower_alnum(s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!lower_alnum(s[i]) && s[i] != '-') return 0;
    return 1;
}

int cfg_rule_dns1123_label(const char *s, const char **why)
{
    if (!label_ok(s, strlen(s))) {
        *why = "must be a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending "
               "with a letter or digit";
        return -1;
    }
    return 0;
}

int cfg_rule_dns1123_subdomain(const char *s, const char **why)
{
    size_t n = strlen(s);
    int ok = n > 0 && n <= DNS1123_SUBDOMAIN_MAX;
    for (const char *p = s; ok;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        ok = label_ok(p, len);
        if (!dot) break;
        p = dot + 1;
    }
    if (!ok) {
        *why = "must be a DNS-1123 subdomain: at most 253 lower-case letters, digits, '-' and '.', each "
               "dot-separated part starting and ending with a letter or digit";
        return -1;
    }
    return 0;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
}

int cfg_rule_file_name(const char *s, const char **why)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN || s[0] == '.') {
        *why = "must be a plain file name of 1 to 200 characters not starting with '.'";
        return -1;
    }
    for (const char *p = s; *p; p++) {
        if (!name_char(*p)) {
            *why = "must be a plain file name: letters, digits, '_', '-' and '.' only (no '/')";
            return -1;
        }
    }
    return 0;
}

int cfg_rule_snippet_name(const char *s, const char **why) { return cfg_rule_file_name(s, why); }

int cfg_rule_identifier(const char *s, const char **why)
{
    size_t n = strlen(s);
    int ok = n > 0 && n <= NAME_MAX_LEN && !(s[0] >= '0' && s[0] <= '9');
    for (const char *p = s; ok && *p; p++) ok = name_char(*p) && *p != '.';
    if (!ok) {
        *why = "must be 1 to 200 letters, digits, '_' and '-', not starting with a digit";
        return -1;
    }
    return 0;
}

int cfg_rule_watched_name(const char *s, const char **why)
{
    if (strcmp(s, "haproxy-pods") == 0) {
        *why = "is reserved for the HAProxy pods the controller discovers (haproxy.pod_selector)";
        return -1;
    }
    return cfg_rule_identifier(s, why);
}

int cfg_rule_regex(const char *s, const char **why)
{
    static char msg[256];
    regex_t re;
    int rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char detail[160];
        regerror(rc, &re, detail, sizeof(detail));
        snprintf(msg, sizeof(msg), "is not a valid POSIX extended regular expression: %s", detail);
        *why = msg;
        return -1;
    }
    regfree(&re);
    return 0;
}

/* Equality-based selectors as Kubernetes accepts them in labelSelector: k=v, k==v, k!=v, k, !k. */
int cfg_rule_label_selector(const char *s, const char **why)
{
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int ok = n > 0;
        for (size_t i = 0; ok && i < n; i++) {
            char c = p[i];
            ok = name_char(c) || c == '/' || c == '=' || c == '!';
        }
        if (!ok) {
            *why = "must be a label selector: comma-separated key=value, key!=value, key or !key terms";
            return -1;
        }
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

int cfg_rule_absolute_path(const char *s, const char **why)
{
    if (s[0] != '/') {
        *why = "must be an absolute path";
        return -1;
    }
    return 0;
}

int cfg_rule_http_url(const char *s, const char **why)
{
    const char *rest;
    if (strncmp(s, "http://", 7) == 0) rest = s + 7;
    else if (strncmp(s, "https://", 8) == 0) rest = s + 8;
    else {
        *why = "must start with http:// or https://";
        return -1;
    }
    size_t host = strcspn(rest, "/?#");
    if (host == 0) {
        *why = "has no host";
        return -1;
    }
    if (memchr(rest, '@', host)) {
        *why = "must not carry credentials: use haproxy.dataplane.password_file or credentials_secret";
        return -1;
    }
    return 0;
}

int cfg_rule_ip_address(const char *s, const char **why)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1) return 0;
    *why = "must be an IPv4 or IPv6 address (e.g. 0.0.0.0, 127.0.0.1 or ::)";
    return -1;
}

/* "v1" or "<group>/<version>", e.g. networking.k8s.io/v1. */
int cfg_rule_api_version(const char *s, const char **why)
{
    const char *slash = strrchr(s, '/');
    const char *version = slash ? slash + 1 : s;
    int ok = version[0] == 'v' && label_ok(version, strlen(version));
    if (ok && slash) {
        char group[DNS1123_SUBDOMAIN_MAX + 1];
        size_t n = (size_t)(slash - s);
        ok = n > 0 && n <= DNS1123_SUBDOMAIN_MAX;
        if (ok) {
            memcpy(group, s, n);
            group[n] = '\0';
            const char *ignored;
            ok = cfg_rule_dns1123_subdomain(group, &ignored) == 0;
        }
    }
    if (!ok) {
        *why = "must be an API version such as v1 or networking.k8s.io/v1";
        return -1;
    }
    return 0;
}

int cfg_rule_assert_target(const char *s, const char **why)
{
    if (strcmp(s, "haproxy.cfg") == 0) return 0;
    static const char *const kinds[] = {"map:", "file:", "cert:"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n = strlen(kinds[i]);
        if (strncmp(s, kinds[i], n) == 0 && cfg_rule_file_name(s + n, why) == 0) return 0;
    }
    *why = "must be haproxy.cfg, map:<name>, file:<name> or cert:<name>";
    return -1;
}
