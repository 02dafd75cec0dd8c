/* Template benchmark, our side: loads generated Ingresses + EndpointSlices (JSON) and exposes them through
 * native store wrappers (List() and an indexed Fetch(service)) over packed values read in place (the data
 * file loaded with packed_from_fd, as the render CLI does; Fetch returns a new list of the matching slices,
 * as a renderer's store would), or with --json over json-c objects. Compiles the template once and renders
 * it several times. Prints one JSON line: best/median render time, output size, peak RSS and the RSS after
 * loading the data. Driven by bench_template.py, which runs Jinja2 on the same input. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/template/template.h"

/* The EndpointSlice index: service name -> slices, sorted by name (packed mode). */
struct slice_ref {
    const char *svc;
    struct packed_val slice;
};

struct store {
    struct tmpl_value items;   /* the list List() returns */
    struct tmpl_value jindex;  /* --json: dict key -> list */
    struct slice_ref *index;   /* packed: sorted by svc */
    size_t nindex;
};

static int ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct slice_ref *)a)->svc, ((const struct slice_ref *)b)->svc);
}

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
        if (!s->index) {
            if (!tmpl_value_get(&s->jindex, k, out)) *out = tmpl_list_new(c);
            return 0;
        }
        size_t lo = 0, hi = s->nindex;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(s->index[mid].svc, k) < 0) lo = mid + 1;
            else hi = mid;
        }
        *out = tmpl_list_new(c);
        for (; lo < s->nindex && !strcmp(s->index[lo].svc, k); lo++)
            if (tmpl_list_push(c, out, tmpl_value_packed(s->index[lo].slice)) < 0) return -1;
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

static struct packed_val member(struct packed_val v, const char *key)
{
    struct packed_val out = {0};
    packed_get(v, key, strlen(key), &out);
    return out;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_template DIR TEMPLATE DATA.json [RUNS] [OUT] [--json]\n");
        return 2;
    }
    int runs = argc > 4 ? atoi(argv[4]) : 5;
    if (runs < 1) runs = 1;
    int use_json = argc > 6 && !strcmp(argv[6], "--json");  /* render over json-c objects */
    struct store ing = {0}, eps = {0};
    struct err e;
    json_object *data = NULL, *index = NULL;
    struct packed_keys *keys = packed_keys_new();
    struct packed *block = NULL;
    double c0 = now();
    if (use_json) {
        if (!(data = json_object_from_file(argv[3]))) {
            fprintf(stderr, "cannot read %s\n", argv[3]);
            return 2;
        }
        /* index EndpointSlices by metadata.labels["kubernetes.io/service-name"] */
        json_object *jing, *jeps;
        index = json_object_new_object();
        json_object_object_get_ex(data, "ingresses", &jing);
        json_object_object_get_ex(data, "endpointslices", &jeps);
        for (size_t i = 0, n = json_object_array_length(jeps); i < n; i++) {
            json_object *sl = json_object_array_get_idx(jeps, i), *md, *labels, *svc, *arr;
            json_object_object_get_ex(sl, "metadata", &md);
            json_object_object_get_ex(md, "labels", &labels);
            json_object_object_get_ex(labels, "kubernetes.io/service-name", &svc);
            const char *key = json_object_get_string(svc);
            if (!json_object_object_get_ex(index, key, &arr)) {
                arr = json_object_new_array();
                json_object_object_add(index, key, arr);
            }
            json_object_array_add(arr, json_object_get(sl));
        }
        ing.items = tmpl_value_json(jing);
        eps.jindex = tmpl_value_json(index);
    } else {
        int fd = open(argv[3], O_RDONLY);
        if (fd < 0 || packed_from_fd(keys, fd, NULL, &block, &e) < 0) {
            fprintf(stderr, "cannot load %s: %s\n", argv[3], fd < 0 ? "open failed" : e.msg);
            return 2;
        }
        close(fd);
        struct packed_val root = packed_root(block), slices = member(root, "endpointslices");
        ing.items = tmpl_value_packed(member(root, "ingresses"));
        eps.nindex = packed_len(slices);
        eps.index = calloc(eps.nindex ? eps.nindex : 1, sizeof(*eps.index));
        for (size_t i = 0; i < eps.nindex; i++) {
            packed_at(slices, i, &eps.index[i].slice);
            struct packed_val svc = member(member(member(eps.index[i].slice, "metadata"), "labels"),
                                           "kubernetes.io/service-name");
            eps.index[i].svc = packed_str(svc, NULL);
            if (!eps.index[i].svc) eps.index[i].svc = "";
        }
        qsort(eps.index, eps.nindex, sizeof(*eps.index), ref_cmp);
    }
    double load_s = now() - c0;
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
           "\"rss_loaded_kb\": %ld, \"rss_peak_kb\": %ld, \"load_s\": %.6f, \"data_bytes\": %zu}\n",
           times[0], times[runs / 2], compile_s, out.len, rss_loaded, maxrss_kb(), load_s,
           block ? packed_size(block) : (size_t)0);
    buf_free(&out);
    free(times);
    tmpl_env_free(env);
    free(eps.index);
    packed_free(block);
    packed_keys_free(keys);
    json_object_put(index);
    json_object_put(data);
    return 0;
}
