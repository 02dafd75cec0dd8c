/* Discovery documents for kubectl and client libraries: /version, health, /api, /apis, group and
 * resource lists, and a minimal OpenAPI v3 that lets kubectl apply validate on the server. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "tests/kube-sim/api_internal.h"

/* ---- discovery ---- */

static void put_verbs(struct buf *b, const struct sim_resource *r)
{
    (void)r;
    buf_puts(b, "[\"create\",\"delete\",\"deletecollection\",\"get\",\"list\",\"patch\",\"update\",\"watch\"]");
}

static void send_resource_list(struct http_request *req, const char *group, const char *version)
{
    struct buf b;
    buf_init(&b);
    char gv[128];
    if (group[0]) snprintf(gv, sizeof(gv), "%s/%s", group, version);
    else snprintf(gv, sizeof(gv), "%s", version);
    buf_printf(&b, "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"%s\",\"resources\":[", gv);
    int first = 1;
    for (size_t i = 0; i < sim_nresources; i++) {
        const struct sim_resource *r = &sim_resources[i];
        if (strcmp(r->group, group) || strcmp(r->version, version)) continue;
        buf_printf(&b, "%s{\"name\":\"%s\",\"singularName\":\"%s\",\"namespaced\":%s,\"kind\":\"%s\",\"verbs\":",
                   first ? "" : ",", r->plural, r->singular, r->namespaced ? "true" : "false", r->kind);
        put_verbs(&b, r);
        if (r->short_names) buf_printf(&b, ",\"shortNames\":[\"%s\"]", r->short_names);
        buf_puts(&b, "}");
        if (r->has_status)
            buf_printf(&b, ",{\"name\":\"%s/status\",\"singularName\":\"\",\"namespaced\":%s,\"kind\":\"%s\","
                           "\"verbs\":[\"get\",\"patch\",\"update\"]}",
                       r->plural, r->namespaced ? "true" : "false", r->kind);
        first = 0;
    }
    buf_puts(&b, "]}");
    if (first) sim_send_not_found_path(req);
    else sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
}

static void put_group(struct buf *b, const char *group)
{
    const char *version = NULL;
    for (size_t i = 0; i < sim_nresources; i++)
        if (strcmp(sim_resources[i].group, group) == 0) version = sim_resources[i].version;
    buf_printf(b, "{\"name\":\"%s\",\"versions\":[{\"groupVersion\":\"%s/%s\",\"version\":\"%s\"}],"
                  "\"preferredVersion\":{\"groupVersion\":\"%s/%s\",\"version\":\"%s\"}}",
               group, group, version, version, group, version, version);
}

static int group_served(const char *group)
{
    for (size_t i = 0; i < sim_nresources; i++)
        if (sim_resources[i].group[0] && strcmp(sim_resources[i].group, group) == 0) return 1;
    return 0;
}

static void send_group_list(struct http_request *req)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[");
    int first = 1;
    for (size_t i = 0; i < sim_nresources; i++) {
        const char *g = sim_resources[i].group;
        if (!g[0]) continue;
        int seen = 0;
        for (size_t j = 0; j < i; j++) seen |= strcmp(sim_resources[j].group, g) == 0;
        if (seen) continue;
        if (!first) buf_putc(&b, ',');
        put_group(&b, g);
        first = 0;
    }
    buf_puts(&b, "]}");
    sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
}

/* A minimal OpenAPI v3: enough for kubectl apply's default (strict) validation to trust the server and send
 * fieldValidation=Strict; no schemas. */
static void send_openapi_index(struct http_request *req)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"paths\":{\"api/v1\":{\"serverRelativeURL\":\"/openapi/v3/api/v1?hash=1\"}");
    for (size_t i = 0; i < sim_nresources; i++) {
        const struct sim_resource *r = &sim_resources[i];
        int seen = !r->group[0];
        for (size_t j = 0; j < i && !seen; j++) seen = strcmp(sim_resources[j].group, r->group) == 0;
        if (seen) continue;
        buf_printf(&b, ",\"apis/%s/%s\":{\"serverRelativeURL\":\"/openapi/v3/apis/%s/%s?hash=1\"}", r->group,
                   r->version, r->group, r->version);
    }
    buf_puts(&b, "}}");
    sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
}

static void send_openapi_gv(struct http_request *req, const char *group, const char *version)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"openapi\":\"3.0.0\",\"info\":{\"title\":\"Kubernetes\",\"version\":\"v1.32.4\"},\"paths\":{");
    int first = 1;
    for (size_t i = 0; i < sim_nresources; i++) {
        const struct sim_resource *r = &sim_resources[i];
        if (strcmp(r->group, group) || strcmp(r->version, version)) continue;
        char path[300];
        if (r->group[0])
            snprintf(path, sizeof(path), "/apis/%s/%s/%s%s/{name}", r->group, r->version,
                     r->namespaced ? "namespaces/{namespace}/" : "", r->plural);
        else
            snprintf(path, sizeof(path), "/api/%s/%s%s/{name}", r->version, r->namespaced ? "namespaces/{namespace}/" : "",
                     r->plural);
        buf_printf(&b,
                   "%s\"%s\":{\"patch\":{\"x-kubernetes-action\":\"patch\",\"x-kubernetes-group-version-kind\":"
                   "{\"group\":\"%s\",\"version\":\"%s\",\"kind\":\"%s\"},\"parameters\":[{\"name\":"
                   "\"fieldValidation\",\"in\":\"query\",\"schema\":{\"type\":\"string\",\"uniqueItems\":true}}],"
                   "\"requestBody\":{\"content\":{\"application/json-patch+json\":{\"schema\":{\"type\":\"object\"}},"
                   "\"application/merge-patch+json\":{\"schema\":{\"type\":\"object\"}}},\"required\":true},"
                   "\"responses\":{\"200\":{\"description\":\"OK\"}}}}",
                   first ? "" : ",", path, r->group, r->version, r->kind);
        first = 0;
    }
    buf_puts(&b, "}}");
    if (first) sim_send_not_found_path(req);
    else sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
}

int sim_discovery(struct sim *sim, struct http_request *req, char **seg, int nseg)
{
    if (nseg >= 2 && strcmp(seg[0], "openapi") == 0 && strcmp(seg[1], "v3") == 0) {
        if (nseg == 2) send_openapi_index(req);
        else if (nseg == 4 && strcmp(seg[2], "api") == 0) send_openapi_gv(req, "", seg[3]);
        else if (nseg == 5 && strcmp(seg[2], "apis") == 0) send_openapi_gv(req, seg[3], seg[4]);
        else sim_send_not_found_path(req);
        return 1;
    }
    const char *p = req->path;
    if (strcmp(p, "/version") == 0) {
        static const char v[] = "{\"major\":\"1\",\"minor\":\"32\",\"gitVersion\":\"v1.32.4\",\"gitCommit\":"
                                "\"59526cd4867447956156ae3a602fcbac10a2c335\",\"gitTreeState\":\"clean\",\"buildDate\":"
                                "\"2025-04-22T16:03:13Z\",\"goVersion\":\"go1.23.6\",\"compiler\":\"gc\",\"platform\":"
                                "\"linux/amd64\"}";
        sim_send_json(req, 200, v, sizeof(v) - 1);
        return 1;
    }
    if (strcmp(p, "/healthz") == 0 || strcmp(p, "/livez") == 0 || strcmp(p, "/readyz") == 0) {
        http_respond_text(req, 200, "text/plain; charset=utf-8", "ok");
        return 1;
    }
    if (strcmp(p, "/api") == 0 || strcmp(p, "/api/") == 0) {
        char body[256];
        int n = snprintf(body, sizeof(body),
                         "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],\"serverAddressByClientCIDRs\":[{\"clientCIDR\":"
                         "\"0.0.0.0/0\",\"serverAddress\":\"127.0.0.1:%d\"}]}",
                         sim->api.port);
        sim_send_json(req, 200, body, (size_t)n);
        return 1;
    }
    if (strcmp(p, "/apis") == 0 || strcmp(p, "/apis/") == 0) {
        send_group_list(req);
        return 1;
    }
    if (nseg == 2 && strcmp(seg[0], "api") == 0) {
        if (strcmp(seg[1], "v1") == 0) send_resource_list(req, "", "v1");
        else sim_send_not_found_path(req);
        return 1;
    }
    if (nseg == 2 && strcmp(seg[0], "apis") == 0) {
        if (!group_served(seg[1])) {
            sim_send_not_found_path(req);
            return 1;
        }
        struct buf g, out;
        buf_init(&g);
        buf_init(&out);
        put_group(&g, seg[1]);
        buf_printf(&out, "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",%s", buf_cstr(&g) + 1);
        sim_send_json(req, 200, buf_cstr(&out), out.len);
        buf_free(&out);
        buf_free(&g);
        return 1;
    }
    if (nseg == 3 && strcmp(seg[0], "apis") == 0) {
        send_resource_list(req, seg[1], seg[2]);
        return 1;
    }
    return 0;
}
