/* Template benchmark, our side: loads generated Ingresses + EndpointSlices (JSON), exposes them through
 * native store wrappers (List() and an indexed Fetch(service)) over immutable template data (tmpl_data), compiles the template once and renders it
 * several times. Prints one JSON line: best/median render time, output size, peak RSS and the RSS after
 * loading the data. Driven by bench_template.py, which runs Jinja2 on the same input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/template/template.h"

struct store {
    struct tmpl_value items;  /* list (tmpl_data, or borrowed json-c array with --json) */
    struct tmpl_value index;  /* dict key -> list */
};

static int store_call(void *self, const char *name, const struct tmpl_value *args, size_t nargs,
                      struct tmpl_value *out, struct tmpl_call *c)
{
    struct store *s = self;
    if (!strcmp(name, "List")) {
        *out = s->items;
        return 0;
    }
    if (!strcmp(name, "Fetch")) {
        const char *k = nargs == 1 ? tmpl_value_cstr(&args[0], NULL) : NULL;
        if (!k) return tmpl_call_error(c, "Fetch() takes one string key");
        if (!tmpl_value_get(&s->index, k, out)) *out = tmpl_list_new(c);
        return 0;
    }
    return tmpl_call_error(c, "no method %s()", name);
}

static const struct tmpl_native_ops store_ops = {.type_name = "Store", .call_method = store_call};

struct resources {
    struct tmpl_native ingresses, endpoints;
};

static int resources_attr(void *self, const char *name, struct tmpl_value *out, struct tmpl_call *c)
{
    struct resources *r = self;
    (void)c;
    if (!strcmp(name, "ingresses")) *out = tmpl_value_native(&r->ingresses);
    else if (!strcmp(name, "endpoints")) *out = tmpl_value_native(&r->endpoints);
    else return 0;
    return 1;
}

static const struct tmpl_native_ops resources_ops = {.type_name = "Resources", .get_attr = resources_attr};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);  /* CPU time: the machine is shared */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_template DIR TEMPLATE DATA.json [RUNS] [OUT] [--json]\n");
        return 2;
    }
    int runs = argc > 4 ? atoi(argv[4]) : 5;
    if (runs < 1) runs = 1;
    json_object *data = json_object_from_file(argv[3]);
    if (!data) {
        fprintf(stderr, "cannot read %s\n", argv[3]);
        return 2;
    }
    /* index EndpointSlices by metadata.labels["kubernetes.io/service-name"], then convert everything once
     * into immutable template data (as the renderer's stores would hold it) */
    json_object *jing, *jeps, *index = json_object_new_object();
    json_object_object_get_ex(data, "ingresses", &jing);
    json_object_object_get_ex(data, "endpointslices", &jeps);
    size_t n = json_object_array_length(jeps);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(jeps, i), *md, *labels, *svc, *arr;
        json_object_object_get_ex(s, "metadata", &md);
        json_object_object_get_ex(md, "labels", &labels);
        json_object_object_get_ex(labels, "kubernetes.io/service-name", &svc);
        const char *key = json_object_get_string(svc);
        if (!json_object_object_get_ex(index, key, &arr)) {
            arr = json_object_new_array();
            json_object_object_add(index, key, arr);
        }
        json_object_array_add(arr, json_object_get(s));
    }
    int use_json = argc > 6 && !strcmp(argv[6], "--json");  /* render over json-c objects directly */
    struct tmpl_data *td = tmpl_data_new();
    struct store ing = {0}, eps = {0};
    struct err e;
    double c0 = now();
    if (use_json) {
        ing.items = tmpl_value_json(jing);
        eps.items = tmpl_value_json(jeps);
        eps.index = tmpl_value_json(index);
    } else {
        if (tmpl_data_from_json(td, jing, &ing.items, &e) < 0 || tmpl_data_from_json(td, jeps, &eps.items, &e) < 0 ||
            tmpl_data_from_json(td, index, &eps.index, &e) < 0) {
            fprintf(stderr, "%s\n", e.msg);
            return 2;
        }
    }
    double convert_s = now() - c0;
    long rss_loaded = maxrss_kb();
    struct resources res = {.ingresses = {&store_ops, &ing}, .endpoints = {&store_ops, &eps}};
    struct tmpl_native resn = {&resources_ops, &res};
    struct tmpl_env *env = tmpl_env_new(argv[1], NULL);
    struct tmpl *t;
    double t0 = now();
    if (tmpl_compile(env, argv[2], &t, &e) < 0) {
        char m[1024];
        err_format(&e, m, sizeof(m));
        fprintf(stderr, "%s\n", m);
        return 2;
    }
    double compile_s = now() - t0;
    const char *names[] = {"resources"};
    struct tmpl_value vals[] = {tmpl_value_native(&resn)};
    double *times = calloc((size_t)runs, sizeof(double));
    struct buf out;
    buf_init(&out);
    for (int i = 0; i < runs; i++) {
        buf_reset(&out);
        t0 = now();
        if (tmpl_render_vars(t, NULL, names, vals, 1, &out, &e) < 0) {
            char m[1024];
            err_format(&e, m, sizeof(m));
            fprintf(stderr, "%s\n", m);
            return 2;
        }
        times[i] = now() - t0;
    }
    if (argc > 5) {
        FILE *f = fopen(argv[5], "wb");
        if (f) {
            fwrite(buf_cstr(&out), 1, out.len, f);
            fclose(f);
        }
    }
    qsort(times, (size_t)runs, sizeof(double), cmp_d);
    printf("{\"best_s\": %.6f, \"median_s\": %.6f, \"compile_s\": %.6f, \"output_bytes\": %zu, "
           "\"rss_loaded_kb\": %ld, \"rss_peak_kb\": %ld, \"convert_s\": %.6f, \"data_bytes\": %zu}\n",
           times[0], times[runs / 2], compile_s, out.len, rss_loaded, maxrss_kb(), convert_s, tmpl_data_size(td));
    buf_free(&out);
    free(times);
    tmpl_env_free(env);
    tmpl_data_free(td);
    json_object_put(index);
    json_object_put(data);
    return 0;
}
