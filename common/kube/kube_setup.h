/* The bulk Kubernetes client of a pipeline role, from controller.kubernetes: the kubeconfig (or in-cluster
 * service account) loaded as `run` resolves it, and a client with the configured rate limit and request
 * timeout, its User-Agent naming the role. What the reconciler and discovery used to build each by hand.
 * Not for: the elector's client (its own, never rate-limited with bulk traffic, its identity in the
 * User-Agent), tests. */
#ifndef HTIC_KUBE_SETUP_H
#define HTIC_KUBE_SETUP_H

#include <uv.h>

#include "common/config/config.h"
#include "common/err.h"
#include "common/kube/kube_client.h"
#include "common/kube/kube_config.h"

/* *cfg_out (free with kube_config_free, after the client is closed) and *out (kube_client_close). On
 * failure both are NULL and e says why. */
int kube_setup_bulk(uv_loop_t *loop, const struct config_kubernetes *k, const char *role,
                    struct kube_config **cfg_out, struct kube_client **out, struct err *e);

#endif
