/* Benchmark (not a timed test) of the packed store: for 10k realistic Ingresses, Services, EndpointSlices
 * and TLS Secrets (with managedFields and the last-applied annotation, projected away), the bytes a stored
 * object costs (block + its share of the key table, and with the store's index entry and malloc overhead)
 * against its projected compact JSON; build time per object from a json-c tree and from text; lookup times.
 * With --context, loads one large JSON document (the render CLI's context) with the streaming parser in a
 * child process and reports its peak RSS against the file size.
 *
 *   bench_store [--count 10000] [--context-ingresses 10000]
 * Method and numbers: docs/performance.md ("Store"). */
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/store/packed_path.h"
#include "common/store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_used(void) { return mallinfo2().uordblks; }

static const char MANAGED[] =
    "\"managedFields\":[{\"manager\":\"kubectl-client-side-apply\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
    "\"time\":\"2026-01-01T00:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:annotations\":"
    "{\".\":{},\"f:kubectl.kubernetes.io/last-applied-configuration\":{}},\"f:labels\":{\".\":{},\"f:app\":{}}},"
    "\"f:spec\":{}}}]";
static const char LAST_APPLIED[] =
    "\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"apiVersion\\\":\\\"v1\\\",\\\"kind\\\":\\\"X\\\","
    "\\\"metadata\\\":{\\\"annotations\\\":{},\\\"name\\\":\\\"x\\\",\\\"namespace\\\":\\\"ns\\\"},\\\"spec\\\":"
    "{\\\"ports\\\":[{\\\"port\\\":80,\\\"protocol\\\":\\\"TCP\\\",\\\"targetPort\\\":8080}],\\\"selector\\\":"
    "{\\\"app\\\":\\\"x\\\"}}}\\n\"";

static void meta(struct buf *b, const char *name, int i, const char *extra_labels, const char *extra_annotations)
{
    buf_printf(b,
               "\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns-%02d\",\"uid\":\"6f1c0b8e-0d7d-4f5e-9a57-%012d\","
               "\"resourceVersion\":\"%d\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"labels\":{\"app\":\"app-%d\","
               "\"team\":\"t%d\"%s},\"annotations\":{%s%s%s},%s}",
               name, i % 50, i, 1000 + i, i, i % 7, extra_labels, extra_annotations, *extra_annotations ? "," : "",
               LAST_APPLIED, MANAGED);
}

static void gen_ingress(struct buf *b, int i)
{
    char name[32];
    snprintf(name, sizeof(name), "ing-%05d", i);
    buf_puts(b, "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",");
    meta(b, name, i, "", "\"haproxy.org/timeout-server\":\"30s\"");
    buf_printf(b,
               ",\"spec\":{\"ingressClassName\":\"haproxy\",\"rules\":[{\"host\":\"h%d.example.com\",\"http\":{\"paths\":"
               "[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"svc-%d\",\"port\":"
               "{\"number\":80}}}}]}}],\"tls\":[{\"hosts\":[\"h%d.example.com\"],\"secretName\":\"tls-%d\"}]},"
               "\"status\":{\"loadBalancer\":{}}}",
               i, i, i, i);
}

static void gen_service(struct buf *b, int i)
{
    char name[32];
    snprintf(name, sizeof(name), "svc-%05d", i);
    buf_puts(b, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",");
    meta(b, name, i, "", "");
    buf_printf(b,
               ",\"spec\":{\"clusterIP\":\"10.96.%d.%d\",\"clusterIPs\":[\"10.96.%d.%d\"],\"internalTrafficPolicy\":"
               "\"Cluster\",\"ipFamilies\":[\"IPv4\"],\"ipFamilyPolicy\":\"SingleStack\",\"ports\":[{\"name\":\"http\","
               "\"port\":80,\"protocol\":\"TCP\",\"targetPort\":8080}],\"selector\":{\"app\":\"app-%d\"},"
               "\"sessionAffinity\":\"None\",\"type\":\"ClusterIP\"},\"status\":{\"loadBalancer\":{}}}",
               i / 256 % 256, i % 256, i / 256 % 256, i % 256, i);
}

static void gen_slice(struct buf *b, int i)
{
    char name[32], labels[160];
    snprintf(name, sizeof(name), "svc-%05d-x7k2p", i);
    snprintf(labels, sizeof(labels),
             ",\"kubernetes.io/service-name\":\"svc-%05d\",\"endpointslice.kubernetes.io/managed-by\":"
             "\"endpointslice-controller.k8s.io\"", i);
    buf_puts(b, "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"addressType\":\"IPv4\",");
    meta(b, name, i, labels, "\"endpoints.kubernetes.io/last-change-trigger-time\":\"2026-01-01T00:00:00Z\"");
    buf_puts(b, ",\"endpoints\":[");
    for (int k = 0; k < 5; k++)
        buf_printf(b,
                   "%s{\"addresses\":[\"10.%d.%d.%d\"],\"conditions\":{\"ready\":%s,\"serving\":true,\"terminating\":false},"
                   "\"nodeName\":\"node-%d\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"app-%d-7d9f8b6c5-%05d\","
                   "\"namespace\":\"ns-%02d\",\"uid\":\"0a1b2c3d-0d7d-4f5e-9a57-%012d\"},\"zone\":\"zone-%d\"}",
                   k ? "," : "", 1 + k, i / 256 % 256, i % 256, (i + k) % 7 ? "true" : "false", (i + k) % 20, i,
                   i * 5 + k, i % 50, i * 5 + k, k % 3);
    buf_puts(b, "],\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}");
}

static void gen_secret(struct buf *b, int i)
{
    char name[32];
    snprintf(name, sizeof(name), "tls-%05d", i);
    buf_puts(b, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"kubernetes.io/tls\",");
    meta(b, name, i, "", "");
    /* base64 of a 1.2 KB certificate chain and a 1.7 KB RSA key, as kube serves them */
    buf_puts(b, ",\"data\":{\"tls.crt\":\"");
    for (int k = 0; k < 1640; k++) buf_putc(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(k * 31 + i) % 64]);
    buf_puts(b, "\",\"tls.key\":\"");
    for (int k = 0; k < 2270; k++) buf_putc(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(k * 17 + i) % 64]);
    buf_puts(b, "\"}}");
}

struct kind {
    const char *name;
    void (*gen)(struct buf *, int);
    const char *index[2];
};

static void die(const char *what, const struct err *e)
{
    fprintf(stderr, "%s: %s\n", what, e ? e->msg : "");
    exit(1);
}

static void bench_kind(const struct kind *kd, int count, const struct packed_proj *proj)
{
    struct packed_keys *k = packed_keys_new();
    struct err e = {0};
    char **texts = calloc((size_t)count, sizeof(*texts));
    size_t *lens = calloc((size_t)count, sizeof(*lens));
    size_t raw = 0;
    for (int i = 0; i < count; i++) {
        struct buf b;
        buf_init(&b);
        kd->gen(&b, i);
        lens[i] = b.len;
        raw += b.len;
        texts[i] = buf_steal(&b);
    }
    /* json-c for reference: a projected tree's heap, and the parse time the informer pays anyway */
    size_t h0 = heap_used();
    double t0 = now_s();
    json_object **trees = calloc((size_t)count, sizeof(*trees));
    for (int i = 0; i < count; i++) trees[i] = json_tokener_parse(texts[i]);
    double t_parse = now_s() - t0;
    for (int i = 0; i < count; i++) {
        json_object *md;
        json_object_object_get_ex(trees[i], "metadata", &md);
        json_object_object_del(md, "managedFields");
        json_object *an;
        if (json_object_object_get_ex(md, "annotations", &an))
            json_object_object_del(an, "kubectl.kubernetes.io/last-applied-configuration");
    }
    size_t jsonc_heap = heap_used() - h0;

    /* from json-c: conversion only (the tree is given) */
    struct packed **pj = calloc((size_t)count, sizeof(*pj));
    t0 = now_s();
    for (int i = 0; i < count; i++)
        if (packed_from_json(k, trees[i], proj, &pj[i], &e) < 0) die("from_json", &e);
    double t_json = now_s() - t0;
    for (int i = 0; i < count; i++) json_object_put(trees[i]);
    free(trees);

    /* from text: the streaming parser, no tree */
    struct packed **pt = calloc((size_t)count, sizeof(*pt));
    t0 = now_s();
    for (int i = 0; i < count; i++)
        if (packed_from_text(k, texts[i], lens[i], proj, &pt[i], &e) < 0) die("from_text", &e);
    double t_text = now_s() - t0;

    size_t blocks = 0, usable = 0, compact = 0;
    for (int i = 0; i < count; i++) {
        if (packed_size(pj[i]) != packed_size(pt[i]) || memcmp(packed_bytes(pj[i]), packed_bytes(pt[i]), packed_size(pt[i])))
            die("builders differ", NULL);
        struct buf b;
        buf_init(&b);
        packed_to_json(packed_root(pt[i]), &b);
        compact += b.len;
        buf_free(&b);
        blocks += packed_size(pt[i]);
        usable += malloc_usable_size(pt[i]);
        packed_free(pj[i]);
    }
    free(pj);
    size_t keys = packed_keys_bytes(k);

    /* the store: index entries and tables on top of the blocks */
    struct store *s;
    if (store_new(k, kd->name, kd->index, 2, proj, &s, &e) < 0) die("store_new", &e);
    size_t hs = heap_used();
    t0 = now_s();
    for (int i = 0; i < count; i++)
        if (store_upsert_text(s, texts[i], lens[i], NULL, &e) < 0) die("upsert", &e);
    store_at(s, 0);   /* sorts */
    double t_upsert = now_s() - t0;
    size_t store_heap = heap_used() - hs;

    /* lookups: member by key on random objects, a compiled path, Fetch on both keys */
    struct packed_path *path;
    if (packed_path_compile(k, "metadata.labels.app", &path, &e) < 0) die("path", &e);
    enum { LOOKUPS = 1000000 };
    unsigned seed = 1;
    size_t found = 0;
    t0 = now_s();
    for (int i = 0; i < LOOKUPS; i++) {
        struct packed_val m, v;
        if (packed_get(packed_root(pt[rand_r(&seed) % count]), "metadata", 8, &m) && packed_get(m, "name", 4, &v)) found++;
    }
    double t_get = (now_s() - t0) / LOOKUPS / 2;
    t0 = now_s();
    for (int i = 0; i < LOOKUPS; i++) {
        struct packed_val v;
        found += (size_t)packed_path_eval(path, packed_root(pt[rand_r(&seed) % count]), &v);
    }
    double t_path = (now_s() - t0) / LOOKUPS;
    char k0[32], k1[64];
    t0 = now_s();
    for (int i = 0; i < LOOKUPS; i++) {
        int j = rand_r(&seed) % count;
        snprintf(k0, sizeof(k0), "ns-%02d", j % 50);
        if (kd->gen == gen_slice) snprintf(k1, sizeof(k1), "svc-%05d", j);
        else snprintf(k1, sizeof(k1), "%s-%05d", kd->gen == gen_ingress ? "ing" : kd->gen == gen_secret ? "tls" : "svc", j);
        const char *q[] = {k0, k1};
        size_t first, n;
        store_fetch(s, q, 2, &first, &n, &e);
        found += n;
    }
    double t_fetch = (now_s() - t0) / LOOKUPS;
    if (found < (size_t)LOOKUPS * 3) die("lookups missed", NULL);

    double n = count;
    printf("%-14s objects %d  raw JSON %.0f B  projected compact JSON %.0f B  json-c tree %.0f B\n", kd->name, count,
           raw / n, compact / n, jsonc_heap / n);
    printf("  block %.0f B + keys %.1f B = %.0f B  ratio %.2f  (malloc usable %.0f B, ratio %.2f; in store %.0f B, "
           "ratio %.2f; %zu keys)\n",
           blocks / n, keys / n, (blocks + keys) / n, (blocks + keys) / (double)compact, usable / n,
           (usable + keys) / (double)compact, store_heap / n, (store_heap + keys) / (double)compact, packed_keys_count(k));
    printf("  build per object: from json-c %.2f us (json-c parse %.2f us), from text %.2f us; store upsert from "
           "text %.2f us\n",
           t_json / n * 1e6, t_parse / n * 1e6, t_text / n * 1e6, t_upsert / n * 1e6);
    printf("  lookup: member %.0f ns, path (3 steps) %.0f ns, Fetch(ns, key) %.0f ns\n", t_get * 1e9, t_path * 1e9,
           t_fetch * 1e9);
    /* The machine-readable rows tests/bench/run_all.py puts in the benchmark table (tests/bench/result.py). */
    printf("RESULT {\"name\": \"bytes per stored %s over its projected JSON\", \"value\": %.2f, \"unit\": \"x\", "
           "\"target\": 1.5, \"better\": \"lower\"}\n", kd->name, (store_heap + keys) / (double)compact);
    printf("RESULT {\"name\": \"store upsert from text, %s\", \"value\": %.2f, \"unit\": \"us\", \"better\": \"lower\"}\n",
           kd->name, t_upsert / n * 1e6);
    packed_path_free(path);
    store_free(s);
    for (int i = 0; i < count; i++) {
        packed_free(pt[i]);
        free(texts[i]);
    }
    free(pt);
    free(texts);
    free(lens);
    packed_keys_free(k);
}

/* The render CLI's context: {"ingresses":[...],"endpointslices":[...]} as one file, loaded by a child with
 * packed_from_fd; its peak RSS against the file size. */
static void bench_context(int ningresses)
{
    char path[] = "/tmp/bench_store_ctx_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) die("mkstemp", NULL);
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"ingresses\":[");
    size_t total = 0;
    for (int i = 0; i < ningresses; i++) {
        if (i) buf_putc(&b, ',');
        gen_ingress(&b, i);
        if (b.len > (1 << 20)) {
            total += (size_t)write(fd, b.data, b.len);
            buf_reset(&b);
        }
    }
    buf_puts(&b, "],\"endpointslices\":[");
    for (int i = 0; i < ningresses; i++) {
        if (i) buf_putc(&b, ',');
        gen_slice(&b, i);
        if (b.len > (1 << 20)) {
            total += (size_t)write(fd, b.data, b.len);
            buf_reset(&b);
        }
    }
    buf_puts(&b, "]}");
    total += (size_t)write(fd, b.data, b.len);
    buf_free(&b);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        long base = ru.ru_maxrss;
        lseek(fd, 0, SEEK_SET);
        struct packed_keys *k = packed_keys_new();
        struct packed *p;
        struct err e = {0};
        double t0 = now_s();
        if (packed_from_fd(k, fd, NULL, &p, &e) < 0) die("from_fd", &e);
        double t = now_s() - t0;
        getrusage(RUSAGE_SELF, &ru);
        printf("context %.1f MB (%d Ingresses + %d EndpointSlices, unprojected): loaded in %.0f ms, block %.1f MB, "
               "keys %zu; peak RSS %.1f MB (%.1f MB above the process before loading) = %.2fx the file\n",
               total / 1e6, ningresses, ningresses, t * 1e3, packed_size(p) / 1e6, packed_keys_count(k),
               ru.ru_maxrss / 1024.0, (ru.ru_maxrss - base) / 1024.0, (ru.ru_maxrss * 1024.0) / (double)total);
        packed_free(p);
        packed_keys_free(k);
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    close(fd);
    unlink(path);
}

int main(int argc, char **argv)
{
    int count = 10000, ctx = 10000;
    static const struct option opts[] = {{"count", required_argument, 0, 'c'},
                                         {"context-ingresses", required_argument, 0, 'x'},
                                         {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (o == 'c') count = atoi(optarg);
        else if (o == 'x') ctx = atoi(optarg);
        else {
            fprintf(stderr, "usage: bench_store [--count N] [--context-ingresses N]\n");
            return 2;
        }
    }
    if (count < 1) count = 1;
    if (ctx > 0) bench_context(ctx);
    struct packed_proj *proj;
    struct err e = {0};
    if (packed_proj_new(NULL, 0, 1, &proj, &e) < 0) die("proj", &e);
    static const struct kind kinds[] = {
        {"ingresses", gen_ingress, {"metadata.namespace", "metadata.name"}},
        {"services", gen_service, {"metadata.namespace", "metadata.name"}},
        {"endpointslices", gen_slice, {"metadata.namespace", "metadata.labels['kubernetes.io/service-name']"}},
        {"secrets", gen_secret, {"metadata.namespace", "metadata.name"}},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) bench_kind(&kinds[i], count, proj);
    packed_proj_free(proj);
    return 0;
}
