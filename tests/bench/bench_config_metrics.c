/* Benchmark (run by hand: `meson test -C build --benchmark bench_config_metrics` or the binary itself): how
 * long a large config takes to load and validate, and how long a /metrics scrape and a child's report merge
 * take at the registry's realistic upper sizes. Prints one line per figure; numbers go to docs/performance.md. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/config/config.h"
#include "common/metrics.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *big_config(int snippets, int resources, int fixtures)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "controller:\n  leader_election: {enabled: false}\n"
                 "haproxy:\n  endpoints: [{name: local, master_socket: /run/haproxy-master.sock}]\n"
                 "watched_resources:\n");
    for (int i = 0; i < resources; i++)
        buf_printf(&b, "  res%d: {api_version: networking.k8s.io/v1, resources: ingresses, "
                       "index_by: [metadata.namespace, metadata.name], label_selector: {app: a%d}}\n", i, i);
    buf_puts(&b, "template_snippets:\n");
    for (int i = 0; i < snippets; i++) {
        buf_printf(&b, "  backends-%d:\n    priority: %d\n    template: |\n", i, i % 1000);
        for (int k = 0; k < 20; k++)
            buf_printf(&b, "      {%%- for ing in resources.res%d.List() %%}backend be_{{ ing.metadata.name }}_%d{%%- endfor %%}\n",
                       i % (resources ? resources : 1), k);
    }
    buf_puts(&b, "haproxy_config:\n  template: \"global\\n\"\n  post_processing:\n"
                 "    - {type: regex_replace, params: {pattern: \"^[ ]+$\", replace: \"\"}}\n"
                 "validation_tests:\n  big:\n    fixtures:\n      res0:\n");
    for (int i = 0; i < fixtures; i++)
        buf_printf(&b, "        - {apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: i%d, namespace: ns}, "
                       "spec: {rules: [{host: h%d.example.com}]}}\n", i, i);
    buf_puts(&b, "    assertions: [{type: haproxy_valid}]\n");
    return buf_steal(&b);
}

static void bench_config(void)
{
    char *yaml = big_config(2000, 200, 5000);
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        struct err_list errs;
        err_list_init(&errs);
        struct config *cfg = NULL;
        double t0 = now_ms();
        int rc = config_load_string(yaml, "bench.yaml", &cfg, &errs);
        double dt = now_ms() - t0;
        if (rc != 0) {
            char line[2048];
            err_format(&errs.items[0], line, sizeof(line));
            fprintf(stderr, "bench config refused: %s\n", line);
            exit(1);
        }
        if (dt < best) best = dt;
        config_free(cfg);
        err_list_free(&errs);
    }
    double mb = strlen(yaml) / 1e6;
    printf("config_load_string: %.2f MB (2000 snippets, 200 watched resources, 5000 fixture objects): "
           "best of 5 %.1f ms (%.1f MB/s)\n", mb, best, mb / (best / 1e3));
    /* The machine-readable row tests/bench/run_all.py puts in the benchmark table (tests/bench/result.py). */
    printf("RESULT {\"name\": \"config load, %.1f MB config\", \"value\": %.1f, \"unit\": \"ms\", \"better\": \"lower\"}\n",
           mb, best);
    free(yaml);
}

static void bench_metrics(void)
{
    struct metrics_registry *child = metrics_registry_new();
    const char *const l[] = {"namespace", "name", NULL};
    const double b[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
    char name[64], ns[32], obj[32];
    for (int f = 0; f < 40; f++) {
        snprintf(name, sizeof(name), "haproxy_ic_bench_%d_total", f);
        struct metric_family *c = metrics_counter(child, name, "A benchmark counter.", l, NULL);
        for (int s = 0; s < 250; s++) {
            snprintf(ns, sizeof(ns), "ns%d", s % 10);
            snprintf(obj, sizeof(obj), "obj-%d", s);
            metrics_counter_add(c, (const char *const[]){ns, obj}, s * 1.5);
        }
    }
    for (int f = 0; f < 10; f++) {
        snprintf(name, sizeof(name), "haproxy_ic_bench_%d_seconds", f);
        struct metric_family *h = metrics_histogram(child, name, "A benchmark histogram.", l, b, 9, NULL);
        for (int s = 0; s < 100; s++) {
            snprintf(obj, sizeof(obj), "obj-%d", s);
            for (int k = 0; k < 10; k++) metrics_histogram_observe(h, (const char *const[]){"ns", obj}, k * 0.37);
        }
    }
    double t0 = now_ms();
    struct json_object *arr = NULL;
    metrics_to_json(child, &arr);
    const char *wire = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
    size_t wire_len = strlen(wire);
    double t_json = now_ms() - t0;
    struct metrics_registry *sup = metrics_registry_new();
    t0 = now_ms();
    metrics_merge_json(sup, arr, "renderer", NULL);
    double t_merge_first = now_ms() - t0;
    t0 = now_ms();
    metrics_merge_json(sup, arr, "renderer", NULL);
    double t_merge = now_ms() - t0;
    json_object_put(arr);
    double best = 1e9;
    size_t bytes = 0;
    for (int rep = 0; rep < 5; rep++) {
        struct buf out;
        buf_init(&out);
        t0 = now_ms();
        metrics_write_text(sup, &out);
        double dt = now_ms() - t0;
        if (dt < best) best = dt;
        bytes = out.len;
        buf_free(&out);
    }
    printf("metrics: 11000 series (10000 counters, 1000 histograms x 9 buckets); report JSON %.0f kB built in %.1f ms; "
           "merge %.1f ms first, %.1f ms again; text scrape %.0f kB in %.1f ms (best of 5)\n",
           wire_len / 1e3, t_json, t_merge_first, t_merge, bytes / 1e3, best);
    metrics_registry_free(child);
    metrics_registry_free(sup);
}

int main(void)
{
    bench_config();
    bench_metrics();
    return 0;
}
