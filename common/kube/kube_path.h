/* Kubernetes REST paths from group/version/resource/namespace/name, and query strings with proper escaping.
 *
 *   core group ("" or "core"):  /api/v1[/namespaces/NS]/RESOURCE[/NAME]
 *   named group:                /apis/GROUP/VERSION[/namespaces/NS]/RESOURCE[/NAME] */
#ifndef HTIC_KUBE_PATH_H
#define HTIC_KUBE_PATH_H

#include "common/buf.h"

struct kube_resource {
    const char *group;          /* "" or NULL for the core group */
    const char *version;        /* "v1" */
    const char *resource;       /* plural: "pods", "ingresses", "leases" */
    const char *namespace;      /* NULL or "": all namespaces (or a cluster-scoped resource) */
    const char *label_selector; /* NULL: none */
    const char *field_selector; /* NULL: none */
};

/* Appends the path of the collection (name NULL) or of one object to out. Returns 0, -1 on missing parts. */
int kube_path_build(const struct kube_resource *r, const char *name, struct buf *out);
/* Appends "?key=value" or "&key=value" (by whether out already holds a '?'), value percent-escaped.
 * A NULL value appends nothing. */
int kube_path_query(struct buf *out, const char *key, const char *value);
/* Percent-escapes everything but unreserved characters (RFC 3986). */
int kube_path_escape(struct buf *out, const char *s);

#endif
