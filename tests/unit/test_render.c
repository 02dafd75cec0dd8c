/* common/render: the template context over hand-built stores (List/Fetch/GetSingle, haproxy_pods, snippets,
 * pathResolver, file_registry, extra_context), every output kind, post-processing, errors with template
 * line and column, and determinism over shuffled event histories. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/render/render.h"
#include "tests/unit/unit.h"

#define HEAD "controller: {leader_election: {enabled: false, lease_namespace: default}}\n" \
    "haproxy:\n  endpoints:\n    - {name: local, master_socket: /run/haproxy-master.sock}\n"              \
    "  maps_dir: /etc/haproxy/maps\n  ssl_certs_dir: /etc/haproxy/ssl\n  general_dir: /etc/haproxy/general\n" \
    "watched_resources:\n"                                                                                   \
    "  ingresses: {api_version: networking.k8s.io/v1, resources: ingresses, index_by: [metadata.namespace, metadata.name]}\n" \
    "  endpoints: {api_version: discovery.k8s.io/v1, resources: endpointslices,\n"                           \
    "              index_by: [\"metadata.labels.kubernetes\\\\.io/service-name\"]}\n"

struct fixture {
    struct config *cfg;
    struct packed_keys *keys;
    struct render_store *stores;
    size_t nstores;
    struct store *targets;
    struct render *r;
};

static struct config *load(const char *yaml)
{
    struct config *c = NULL;
    struct err_list errs;
    err_list_init(&errs);
    if (config_load_string(yaml, "test.yaml", &c, &errs) < 0) {
        for (size_t i = 0; i < errs.len; i++) {
            char line[1024];
            err_format(&errs.items[i], line, sizeof(line));
            fprintf(stderr, "%s\n", line);
        }
    }
    err_list_free(&errs);
    ck_assert_ptr_nonnull(c);
    return c;
}

static void fx_init(struct fixture *f, const char *yaml)
{
    struct err e;
    err_clear(&e);
    memset(f, 0, sizeof(*f));
    f->cfg = load(yaml);
    f->keys = packed_keys_new();
    ck_assert_msg(render_stores_new(f->cfg, f->keys, &f->stores, &f->nstores, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(render_targets_store_new(f->keys, &f->targets, &e), 0);
    ck_assert_msg(render_new(f->cfg, &f->r, &e) == 0, "%s:%d:%d %s", e.file, e.line, e.column, e.msg);
}

static void fx_free(struct fixture *f)
{
    render_free(f->r);
    render_stores_free(f->stores, f->nstores);
    store_free(f->targets);
    packed_keys_free(f->keys);
    config_free(f->cfg);
}

static struct store *st(struct fixture *f, const char *name)
{
    for (size_t i = 0; i < f->nstores; i++)
        if (!strcmp(f->stores[i].name, name)) return f->stores[i].store;
    ck_abort_msg("no store %s", name);
    return NULL;
}

static void put(struct store *s, const char *json)
{
    struct store_event ev;
    struct err e;
    err_clear(&e);
    ck_assert_msg(store_upsert_text(s, json, strlen(json), &ev, &e) == 0, "%s", e.msg);
}

static int run(struct fixture *f, struct render_result *res, struct render_error *re)
{
    struct render_input in = {.stores = f->stores, .nstores = f->nstores, .targets = f->targets};
    return render_run(f->r, &in, res, re);
}

static const char *file_of(const struct render_result *res, int kind, const char *name)
{
    for (size_t i = 0; i < res->nfiles; i++)
        if (res->files[i].kind == kind && !strcmp(res->files[i].name, name))
            return buf_cstr((struct buf *)&res->files[i].data);
    return NULL;
}

static const char *render_ok(struct fixture *f, struct render_result *res)
{
    struct render_error re;
    int rc = run(f, res, &re);
    ck_assert_msg(rc == 0, "%s:%d:%d: %s", re.e.file, re.e.line, re.e.column, re.e.msg);
    return file_of(res, RUNDIR_KIND_CONFIG, "haproxy.cfg");
}

#define ING(ns, name, host) \
    "{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\",\"resourceVersion\":\"1\"},\"spec\":{\"host\":\"" host "\"}}"
#define EPS(name, svc, ip) \
    "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"" name "\",\"labels\":{\"kubernetes.io/service-name\":\"" svc "\"}}," \
    "\"endpoints\":[{\"addresses\":[\"" ip "\"]}]}"

START_TEST(test_render_context_reads_stores_in_order)
{
    struct fixture f;
    fx_init(&f, HEAD
            "haproxy_config:\n  template: |\n"
            "    {% for i in resources.ingresses.List() %}{{ i.metadata.namespace }}/{{ i.metadata.name }} {% endfor %}\n"
            "    shop={{ resources.ingresses.Fetch('shop') | length }}\n"
            "    single={{ resources.ingresses.GetSingle('blog', 'web').spec.host }}\n"
            "    none={{ resources.ingresses.GetSingle('x', 'y') is none }}\n"
            "    eps={% for s in resources.endpoints.Fetch('web') %}{{ s.endpoints[0].addresses[0] }},{% endfor %}\n"
            "    pods={% for p in controller.haproxy_pods.List() %}{{ p.name }}@{{ p.address }} {% endfor %}\n"
            "    unknown={{ resources.nope is defined }}\n");
    put(st(&f, "ingresses"), ING("shop", "web", "shop.example"));
    put(st(&f, "ingresses"), ING("blog", "web", "blog.example"));
    put(st(&f, "ingresses"), ING("shop", "api", "api.example"));
    put(st(&f, "endpoints"), EPS("web-2", "web", "10.0.0.2"));
    put(st(&f, "endpoints"), EPS("web-1", "web", "10.0.0.1"));
    put(st(&f, "endpoints"), EPS("api-1", "api", "10.0.1.1"));
    put(f.targets, "{\"metadata\":{\"namespace\":\"ing\",\"name\":\"hap-b\"},\"name\":\"hap-b\",\"address\":\"10.1.0.2\"}");
    put(f.targets, "{\"metadata\":{\"namespace\":\"ing\",\"name\":\"hap-a\"},\"name\":\"hap-a\",\"address\":\"10.1.0.1\"}");
    struct render_result res;
    const char *cfg = render_ok(&f, &res);
    /* trim_blocks: a newline right after a block tag goes; the template's last newline too (as Jinja2) */
    ck_assert_str_eq(cfg, "blog/web shop/api shop/web shop=2\nsingle=blog.example\nnone=True\n"
                          "eps=10.0.0.1,10.0.0.2,pods=hap-a@10.1.0.1 hap-b@10.1.0.2 unknown=False");
    render_result_free(&res);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_get_single_with_two_matches_names_the_keys)
{
    struct fixture f;
    fx_init(&f, HEAD "haproxy_config:\n  template: |\n    global\n    {{ resources.ingresses.GetSingle('shop') }}\n");
    put(st(&f, "ingresses"), ING("shop", "web", "a"));
    put(st(&f, "ingresses"), ING("shop", "api", "b"));
    struct render_result res;
    struct render_error re;
    ck_assert_int_eq(run(&f, &res, &re), -1);
    ck_assert_str_eq(re.e.file, "haproxy.cfg");
    ck_assert_int_eq(re.e.line, 2);
    ck_assert_int_gt(re.e.column, 0);
    ck_assert_msg(strstr(re.e.msg, "GetSingle(\"shop\") matched 2 objects"), "%s", re.e.msg);
    ck_assert_int_eq((int)res.nfiles, 0);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_every_output_kind_and_context_value)
{
    struct fixture f;
    fx_init(&f, HEAD
            "template_snippets:\n"
            "  z-first: {priority: 1, template: 'Z'}\n  b-second: {priority: 5, template: 'B'}\n"
            "  a-third: {priority: 5, template: 'A'}\n"
            "maps:\n  host.map: {template: \"{% for i in resources.ingresses.List() %}{{ i.spec.host }} be_{{ i.metadata.name }}\\n{% endfor %}\"}\n"
            "files:\n  503.http: {template: \"HTTP/1.0 503\\n{{ banner }}\\n\"}\n"
            "ssl_certificates:\n  default.pem: {template: \"PEM\"}\n"
            "templating_settings:\n  extra_context: {banner: hello, resources: shadowed}\n"
            "haproxy_config:\n  template: |\n"
            "    snippets={{ template_snippets | join(',') }}\n"
            "    {% for s in template_snippets %}{% include s %}{% endfor %}\n"
            "    map={{ pathResolver.GetPath('host.map', 'map') }} file={{ pathResolver.GetPath('503.http', 'file') }}\n"
            "    cert={{ pathResolver.GetPath('default.pem', 'cert') }} list={{ pathResolver.GetPath('x.list', 'crt-list') }}\n"
            "    dir={{ pathResolver.GetPath('', 'map') }} ssl={{ pathResolver.SSLDir }}\n"
            "    crt-list {{ file_registry.Register('crt-list', 'x.list', '/etc/haproxy/ssl/default.pem\\n') }}\n"
            "    again {{ file_registry.Register('crt-list', 'x.list', '/etc/haproxy/ssl/default.pem\\n') }}\n"
            "    {{ banner }}\n");
    put(st(&f, "ingresses"), ING("shop", "web", "shop.example"));
    struct render_result res;
    const char *cfg = render_ok(&f, &res);
    ck_assert_str_eq(cfg, "snippets=z-first,a-third,b-second\nZAB"
                          "map=/etc/haproxy/maps/host.map file=/etc/haproxy/general/503.http\n"
                          "cert=/etc/haproxy/ssl/default.pem list=/etc/haproxy/general/x.list\n"
                          "dir=/etc/haproxy/maps ssl=/etc/haproxy/ssl\n"
                          "crt-list /etc/haproxy/general/x.list\nagain /etc/haproxy/general/x.list\nhello");
    ck_assert_int_eq((int)res.nfiles, 5);
    /* sorted as rundir sorts: cert, config, crt-list, file, map */
    ck_assert_int_eq(res.files[0].kind, RUNDIR_KIND_CERT);
    ck_assert_int_eq(res.files[1].kind, RUNDIR_KIND_CONFIG);
    ck_assert_int_eq(res.files[2].kind, RUNDIR_KIND_CRT_LIST);
    ck_assert_int_eq(res.files[3].kind, RUNDIR_KIND_FILE);
    ck_assert_int_eq(res.files[4].kind, RUNDIR_KIND_MAP);
    ck_assert_str_eq(file_of(&res, RUNDIR_KIND_MAP, "host.map"), "shop.example be_web\n");
    ck_assert_str_eq(file_of(&res, RUNDIR_KIND_FILE, "503.http"), "HTTP/1.0 503\nhello");
    ck_assert_str_eq(file_of(&res, RUNDIR_KIND_CERT, "default.pem"), "PEM");
    ck_assert_str_eq(file_of(&res, RUNDIR_KIND_CRT_LIST, "x.list"), "/etc/haproxy/ssl/default.pem\n");
    struct rundir_file *rf;
    char sum[RUNDIR_CHECKSUM_BUF];
    struct err e;
    ck_assert_int_eq(render_result_files(&res, &rf), 0);
    ck_assert_int_eq(rundir_checksum(rf, res.nfiles, sum, &e), 0);
    free(rf);
    render_result_free(&res);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_registry_conflicts_and_bad_names_are_errors)
{
    struct fixture f;
    fx_init(&f, HEAD "haproxy_config:\n  template: |\n    global\n"
                     "    {{ file_registry.Register('cert', 'a.pem', 'one') }}\n"
                     "    {{ file_registry.Register('cert', 'a.pem', 'two') }}\n");
    struct render_result res;
    struct render_error re;
    ck_assert_int_eq(run(&f, &res, &re), -1);
    ck_assert_int_eq(re.e.line, 3);
    ck_assert_msg(strstr(re.e.msg, "cert a.pem registered twice with different content"), "%s", re.e.msg);
    fx_free(&f);

    fx_init(&f, HEAD "haproxy_config:\n  template: \"{{ file_registry.Register('file', '../etc/passwd', 'x') }}\"\n");
    ck_assert_int_eq(run(&f, &res, &re), -1);
    ck_assert_msg(strstr(re.e.msg, "Register"), "%s", re.e.msg);
    fx_free(&f);

    /* a registered file that collides with a declared one of the same kind and name, other content */
    fx_init(&f, HEAD "maps:\n  a.map: {template: declared}\n"
                     "haproxy_config:\n  template: \"{{ file_registry.Register('map', 'a.map', 'registered') }}\"\n");
    ck_assert_int_eq(run(&f, &res, &re), -1);
    ck_assert_str_eq(re.e.file, "a.map");
    ck_assert_msg(strstr(re.e.msg, "map a.map registered twice"), "%s", re.e.msg);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_post_processing_applies_line_by_line)
{
    struct fixture f;
    fx_init(&f, HEAD "haproxy_config:\n  template: \"  server a 1.2.3.4:80\\n  server b 5.6.7.8:80\\nkeep\\n\"\n"
                     "  post_processing:\n"
                     "    - {type: regex_replace, params: {pattern: '^ +', replace: '    '}}\n"
                     "    - {type: regex_replace, params: {pattern: 'server ([a-z]) ([0-9.]+)', replace: 'server srv_\\1 \\2'}}\n"
                     "    - {type: regex_replace, params: {pattern: '[0-9]+', replace: 'N'}}\n");
    struct render_result res;
    const char *cfg = render_ok(&f, &res);
    ck_assert_str_eq(cfg, "    server srv_a N.N.N.N:N\n    server srv_b N.N.N.N:N\nkeep");
    render_result_free(&res);
    fx_free(&f);

    struct config_post_processor pp[] = {{.type = CONFIG_POST_REGEX_REPLACE, .params = {.pattern = "x*", .replace = "-"}}};
    struct config_post_processor_list l = {pp, 1};
    struct buf b;
    struct err e;
    buf_init(&b);
    buf_puts(&b, "ab\nxx");
    ck_assert_int_eq(render_post_process(&l, &b, &e), 0);
    ck_assert_str_eq(buf_cstr(&b), "-a-b-\n--");   /* empty matches too, as Python's re.sub */
    buf_free(&b);
}
END_TEST

START_TEST(test_render_template_errors_name_template_line_column)
{
    struct fixture f;
    fx_init(&f, HEAD "maps:\n  m.map: {template: \"ok\\n{{ 1 // 0 }}\"}\n"
                     "haproxy_config:\n  template: global\n");
    struct render_result res;
    struct render_error re;
    ck_assert_int_eq(run(&f, &res, &re), -1);
    ck_assert_str_eq(re.e.file, "m.map");
    ck_assert_int_eq(re.e.line, 2);
    ck_assert_int_gt(re.e.column, 3);
    ck_assert_int_eq(re.has_object, 0);
    /* a later good render works (no state left behind) */
    fx_free(&f);
}
END_TEST

START_TEST(test_render_index_paths_translate_config_syntax)
{
    char out[256];
    struct err e;
    err_clear(&e);
    ck_assert_int_eq(render_index_path("metadata.namespace", out, sizeof(out), &e), 0);
    ck_assert_str_eq(out, "metadata.namespace");
    ck_assert_int_eq(render_index_path("{.metadata.labels.kubernetes\\.io/service-name}", out, sizeof(out), &e), 0);
    ck_assert_str_eq(out, "metadata.labels['kubernetes.io/service-name']");
    ck_assert_int_eq(render_index_path("$.spec.ports[0].port", out, sizeof(out), &e), 0);
    ck_assert_str_eq(out, "spec.ports[0].port");
    ck_assert_int_eq(render_index_path("metadata['a.b']", out, sizeof(out), &e), 0);
    ck_assert_str_eq(out, "metadata['a.b']");
    ck_assert_int_eq(render_index_path("spec.rules[*].host", out, sizeof(out), &e), -1);
    ck_assert_int_eq(render_index_path("spec.*", out, sizeof(out), &e), -1);
}
END_TEST

/* A history of events (upserts in a random order, with intermediate versions and deletes of objects that
 * come back) ending in the same final objects gives the same bytes. */
START_TEST(test_render_same_objects_same_bytes_whatever_event_order)
{
    const char *yaml = HEAD
        "maps:\n  host.map: {template: \"{% for i in resources.ingresses.List() %}{{ i.spec.host }} {{ i.metadata.name }}\\n{% endfor %}\"}\n"
        "haproxy_config:\n  template: \"{% for s in resources.endpoints.Fetch('web') %}server {{ s.metadata.name }} {{ s.endpoints[0].addresses[0] }}\\n{% endfor %}\"\n";
    enum { N = 12 };
    char finals[N][256], olds[N][256];
    for (int i = 0; i < N; i++) {
        char ns[8], nm[8], host[32];
        snprintf(ns, sizeof(ns), "ns%d", i % 3);
        snprintf(nm, sizeof(nm), "i%02d", i);
        snprintf(host, sizeof(host), "h%d.example", i);
        snprintf(finals[i], sizeof(finals[i]), "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\"},\"spec\":{\"host\":\"%s\"}}", ns, nm, host);
        snprintf(olds[i], sizeof(olds[i]), "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\"},\"spec\":{\"host\":\"old\"}}", ns, nm);
    }
    char first[RUNDIR_CHECKSUM_BUF] = "";
    srand(42);
    for (int round = 0; round < 20; round++) {
        struct fixture f;
        fx_init(&f, yaml);
        int order[N];
        for (int i = 0; i < N; i++) order[i] = i;
        for (int i = N - 1; i > 0; i--) {
            int j = rand() % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        struct store_event ev;
        struct err e;
        for (int k = 0; k < N; k++) {
            int i = order[k];
            if (rand() % 2) put(st(&f, "ingresses"), olds[i]);
            if (rand() % 3 == 0) {
                char ns[8], nm[8];
                snprintf(ns, sizeof(ns), "ns%d", i % 3);
                snprintf(nm, sizeof(nm), "i%02d", i);
                ck_assert_int_eq(store_delete(st(&f, "ingresses"), ns, nm, &ev, &e), 0);
            }
            put(st(&f, "ingresses"), finals[i]);
        }
        const char *eps[] = {EPS("b", "web", "10.0.0.2"), EPS("a", "web", "10.0.0.1"), EPS("c", "web", "10.0.0.3")};
        for (int k = 0; k < 3; k++) put(st(&f, "endpoints"), eps[(k + round) % 3]);
        struct render_result res;
        render_ok(&f, &res);
        struct rundir_file *rf;
        char sum[RUNDIR_CHECKSUM_BUF];
        ck_assert_int_eq(render_result_files(&res, &rf), 0);
        ck_assert_int_eq(rundir_checksum(rf, res.nfiles, sum, &e), 0);
        free(rf);
        if (!first[0]) {
            snprintf(first, sizeof(first), "%s", sum);
            ck_assert_str_eq(file_of(&res, RUNDIR_KIND_CONFIG, "haproxy.cfg"),
                             "server a 10.0.0.1\nserver b 10.0.0.2\nserver c 10.0.0.3\n");
        }
        ck_assert_str_eq(sum, first);
        render_result_free(&res);
        fx_free(&f);
    }
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("render");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, test_render_context_reads_stores_in_order);
    tcase_add_test(tc, test_render_get_single_with_two_matches_names_the_keys);
    tcase_add_test(tc, test_render_every_output_kind_and_context_value);
    tcase_add_test(tc, test_render_registry_conflicts_and_bad_names_are_errors);
    tcase_add_test(tc, test_render_post_processing_applies_line_by_line);
    tcase_add_test(tc, test_render_template_errors_name_template_line_column);
    tcase_add_test(tc, test_render_index_paths_translate_config_syntax);
    tcase_add_test(tc, test_render_same_objects_same_bytes_whatever_event_order);
    suite_add_tcase(s, tc);
    return s;
}
