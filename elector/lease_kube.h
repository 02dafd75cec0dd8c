/* The lease_api on the project's Kubernetes client: GET/POST/PUT of one coordination.k8s.io/v1 Lease and a
 * watch on it (field selector on its name). Maps the client's error classes onto lease_status. Not for:
 * election decisions (lease.c) or timing (elector.c). */
#ifndef HTIC_ELECTOR_LEASE_KUBE_H
#define HTIC_ELECTOR_LEASE_KUBE_H

#include "common/kube/kube_client.h"
#include "elector/lease_api.h"

/* The server closes a watch after this long; the elector then watches again. */
#define LEASE_KUBE_WATCH_TIMEOUT_STR "300"

struct lease_kube;

/* client is borrowed and must outlive the adapter. Returns 0 or -1 with e set. */
int lease_kube_new(struct kube_client *client, const char *ns, const char *name, struct lease_kube **out,
                   struct err *e);
/* Cancels what is in flight (no callbacks) and frees. NULL is a no-op. */
void lease_kube_free(struct lease_kube *lk);
struct lease_api lease_kube_api(struct lease_kube *lk);
/* lease_status for a kube client error class (exposed for tests). */
enum lease_status lease_kube_status(enum kube_err err);

#endif
