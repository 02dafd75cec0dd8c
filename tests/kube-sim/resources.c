/* The resource types kube-sim serves, with the per-type rules kube-apiserver applies to them (status
 * subresource, generation, create-on-update, ...), and lookups by URL parts or by kind. */
#include <stdio.h>
#include <string.h>

#include "tests/kube-sim/sim.h"

const struct sim_resource sim_resources[] = {
    {.group = "", .version = "v1", .plural = "namespaces", .singular = "namespace", .kind = "Namespace",
     .list_kind = "NamespaceList", .namespaced = 0, .has_status = 1, .delete_returns_object = 1,
     .extra_fields = {"status.phase", NULL}, .short_names = "ns"},
    {.group = "", .version = "v1", .plural = "pods", .singular = "pod", .kind = "Pod", .list_kind = "PodList",
     .namespaced = 1, .has_status = 1, .delete_returns_object = 1,
     .extra_fields = {"spec.nodeName", "status.phase", "status.podIP", NULL}, .short_names = "po"},
    {.group = "", .version = "v1", .plural = "services", .singular = "service", .kind = "Service",
     .list_kind = "ServiceList", .namespaced = 1, .has_status = 1, .short_names = "svc"},
    {.group = "", .version = "v1", .plural = "endpoints", .singular = "endpoints", .kind = "Endpoints",
     .list_kind = "EndpointsList", .namespaced = 1, .short_names = "ep"},
    {.group = "", .version = "v1", .plural = "secrets", .singular = "secret", .kind = "Secret",
     .list_kind = "SecretList", .namespaced = 1, .extra_fields = {"type", NULL}},
    {.group = "", .version = "v1", .plural = "configmaps", .singular = "configmap", .kind = "ConfigMap",
     .list_kind = "ConfigMapList", .namespaced = 1, .short_names = "cm"},
    {.group = "discovery.k8s.io", .version = "v1", .plural = "endpointslices", .singular = "endpointslice",
     .kind = "EndpointSlice", .list_kind = "EndpointSliceList", .namespaced = 1},
    {.group = "networking.k8s.io", .version = "v1", .plural = "ingresses", .singular = "ingress",
     .kind = "Ingress", .list_kind = "IngressList", .namespaced = 1, .has_status = 1, .has_generation = 1,
     .short_names = "ing"},
    {.group = "networking.k8s.io", .version = "v1", .plural = "ingressclasses", .singular = "ingressclass",
     .kind = "IngressClass", .list_kind = "IngressClassList", .namespaced = 0, .has_generation = 1},
    {.group = "coordination.k8s.io", .version = "v1", .plural = "leases", .singular = "lease", .kind = "Lease",
     .list_kind = "LeaseList", .namespaced = 1, .create_on_update = 1, .require_rv_on_update = 1},
};
const size_t sim_nresources = sizeof(sim_resources) / sizeof(sim_resources[0]);

const struct sim_resource *sim_resource_find(const char *group, const char *version, const char *plural)
{
    for (size_t i = 0; i < sim_nresources; i++) {
        const struct sim_resource *r = &sim_resources[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0 && strcmp(r->plural, plural) == 0)
            return r;
    }
    return NULL;
}

void sim_resource_api_version(const struct sim_resource *r, char *out, size_t n)
{
    if (r->group[0]) snprintf(out, n, "%s/%s", r->group, r->version);
    else snprintf(out, n, "%s", r->version);
}

void sim_resource_qualified(const struct sim_resource *r, char *out, size_t n)
{
    if (r->group[0]) snprintf(out, n, "%s.%s", r->plural, r->group);
    else snprintf(out, n, "%s", r->plural);
}

const struct sim_resource *sim_resource_by_kind(const char *api_version, const char *kind)
{
    for (size_t i = 0; i < sim_nresources; i++) {
        char av[128];
        sim_resource_api_version(&sim_resources[i], av, sizeof(av));
        if (strcmp(av, api_version) == 0 && strcmp(sim_resources[i].kind, kind) == 0) return &sim_resources[i];
    }
    return NULL;
}
