/* Small helpers on Kubernetes objects held as json-c: the store key (namespace/name), resourceVersion, and
 * the projection applied before an informer stores an object (drops managedFields and the kubectl
 * last-applied annotation, which are large and never read by the controller). */
#ifndef HTIC_KUBE_OBJECT_H
#define HTIC_KUBE_OBJECT_H

#include <json-c/json.h>
#include <stdint.h>

#include "common/buf.h"

#define KUBE_LAST_APPLIED_ANNOTATION "kubectl.kubernetes.io/last-applied-configuration"

/* metadata.<field> as a string, or NULL. */
const char *kube_object_meta_str(struct json_object *obj, const char *field);
/* Appends "namespace/name" (or "name" for cluster-scoped objects) to out; -1 when the object has no name. */
int kube_object_key(struct json_object *obj, struct buf *out);
/* Removes metadata.managedFields and the last-applied annotation in place. */
void kube_object_project(struct json_object *obj);
/* 64-bit hash of the content with metadata.resourceVersion left out: two versions of an object whose
 * projection did not change (a status-only write hidden by the projection) hash the same. */
uint64_t kube_object_hash(struct json_object *obj);

#endif
