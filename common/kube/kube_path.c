/* REST paths and query strings (see kube_path.h). */
#include "common/kube/kube_path.h"

#include <string.h>

int kube_path_escape(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '_' || ch == '.' || ch == '~') {
            buf_putc(out, (char)ch);
        } else {
            char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_append(out, enc, 3);
        }
    }
    return out->oom ? -1 : 0;
}

int kube_path_build(const struct kube_resource *r, const char *name, struct buf *out)
{
    if (!r || !r->version || !*r->version || !r->resource || !*r->resource) return -1;
    int core = !r->group || !*r->group || strcmp(r->group, "core") == 0;
    if (core) {
        buf_puts(out, "/api/");
    } else {
        buf_puts(out, "/apis/");
        kube_path_escape(out, r->group);
        buf_putc(out, '/');
    }
    kube_path_escape(out, r->version);
    if (r->namespace && *r->namespace) {
        buf_puts(out, "/namespaces/");
        kube_path_escape(out, r->namespace);
    }
    buf_putc(out, '/');
    kube_path_escape(out, r->resource);
    if (name) {
        if (!*name) return -1;
        buf_putc(out, '/');
        kube_path_escape(out, name);
    }
    return out->oom ? -1 : 0;
}

int kube_path_query(struct buf *out, const char *key, const char *value)
{
    if (!value) return 0;
    buf_putc(out, out->data && strchr(out->data, '?') ? '&' : '?');
    kube_path_escape(out, key);
    buf_putc(out, '=');
    kube_path_escape(out, value);
    return out->oom ? -1 : 0;
}
