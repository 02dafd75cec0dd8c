/* See kube_setup.h. */
#include "common/kube/kube_setup.h"

#include <stdio.h>

int kube_setup_bulk(uv_loop_t *loop, const struct config_kubernetes *k, const char *role,
                    struct kube_config **cfg_out, struct kube_client **out, struct err *e)
{
    *cfg_out = NULL;
    *out = NULL;
    struct kube_config_opts ko = {.mode = KUBE_CONFIG_AUTO,
                                  .kubeconfig = k->kubeconfig && k->kubeconfig[0] ? k->kubeconfig : NULL,
                                  .context = k->context && k->context[0] ? k->context : NULL};
    char ua[128];
    snprintf(ua, sizeof(ua), "haproxy-template-ic-%s/%s", role, HTIC_VERSION);
    struct kube_client_opts copts = {.user_agent = ua, .qps = k->qps, .burst = k->burst,
                                     .default_timeout_ms = (int)k->request_timeout_ms};
    if (kube_config_load(&ko, cfg_out, e) < 0) return -1;
    if (kube_client_new(loop, *cfg_out, &copts, out, e) < 0) {
        kube_config_free(*cfg_out);
        *cfg_out = NULL;
        *out = NULL;
        return -1;
    }
    return 0;
}
