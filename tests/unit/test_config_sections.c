/* Config sections other than leader election: the example configs, HAProxy targets and credentials,
 * deploy timings, watched resources, templates and post-processing, validation tests, extra context. */
#include "tests/unit/unit.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/config_test_util.h"

static void env_setup(void)
{
    unsetenv("POD_NAME");
    setenv("POD_NAMESPACE", "ingress", 1);
    config_set_sa_namespace_file("/nonexistent/serviceaccount/namespace");
}

static void env_teardown(void) { config_set_sa_namespace_file(NULL); }

static struct loaded load_example(const char *name)
{
    const char *root = getenv("HTIC_SOURCE_ROOT");
    ck_assert_ptr_nonnull(root);
    char path[1024];
    snprintf(path, sizeof(path), "%s/deploy/examples/%s", root, name);
    struct loaded l;
    err_list_init(&l.errs);
    l.cfg = NULL;
    l.rc = config_load_file(path, &l.cfg, &l.errs);
    if (l.rc) dump_errors(&l);
    ck_assert_int_eq(l.rc, 0);
    return l;
}

static void refused(const char *yaml, const char *path, const char *part)
{
    struct loaded l = load_refused(yaml, path, part);
    loaded_free(&l);
}

START_TEST(test_minimal_example_loads)
{
    unsetenv("POD_NAMESPACE");
    struct loaded l = load_example("minimal.yaml");
    const struct config *c = l.cfg;
    ck_assert(!c->controller.leader_election.enabled);
    ck_assert_str_eq(c->controller.http.address, "127.0.0.1");
    ck_assert_int_eq(c->controller.http.port, 8080);
    ck_assert_int_eq(c->controller.logging.level, LOG_LEVEL_INFO);
    ck_assert_int_eq(c->controller.logging.format, LOG_FORMAT_LOGFMT);
    ck_assert_int_eq(c->controller.shutdown_timeout_ms, 20000);
    ck_assert_uint_eq(c->haproxy.endpoints.len, 1);
    ck_assert_str_eq(c->haproxy.endpoints.items[0].master_socket, "/run/haproxy-master.sock");
    ck_assert_ptr_null(c->haproxy.endpoints.items[0].url);
    ck_assert_uint_eq(c->watched_resources.len, 1);
    ck_assert_ptr_nonnull(strstr(c->haproxy_config.template, "frontend http"));
    loaded_free(&l);
}
END_TEST

START_TEST(test_ha_example_loads)
{
    struct loaded l = load_example("ha.yaml");
    const struct config *c = l.cfg;
    ck_assert(c->controller.leader_election.enabled);
    ck_assert_str_eq(c->controller.leader_election.lease_namespace, "ingress");
    ck_assert_int_eq(c->controller.logging.format, LOG_FORMAT_JSON);
    ck_assert_str_eq(c->haproxy.pod_selector.match_labels,
                     "app.kubernetes.io/name=haproxy,app.kubernetes.io/component=loadbalancer");
    ck_assert_str_eq(c->haproxy.dataplane.credentials_secret.name, "haproxy-credentials");
    ck_assert_str_eq(c->haproxy.dataplane.credentials_secret.password_key, "dataplane_password");
    ck_assert_uint_eq(c->watched_resources.len, 2);
    ck_assert_str_eq(c->watched_resources.items[1].name, "endpoints");
    ck_assert_str_eq(c->watched_resources.items[1].index_by.items[0], "metadata.labels.kubernetes\\.io/service-name");
    ck_assert_str_eq(c->watched_resources.items[0].field_selector, "spec.ingressClassName=haproxy");
    ck_assert_uint_eq(c->template_snippets.len, 1);
    ck_assert_int_eq(c->template_snippets.items[0].priority, 500);
    ck_assert_str_eq(c->maps.items[0].name, "host.map");
    ck_assert_str_eq(c->files.items[0].name, "503.http");
    ck_assert_ptr_nonnull(strstr(c->files.items[0].template, "\r\n"));
    ck_assert_uint_eq(c->haproxy_config.post_processing.len, 1);
    ck_assert_str_eq(c->haproxy_config.post_processing.items[0].params.pattern, "^[ ]+$");
    ck_assert_uint_eq(c->validation_tests.len, 1);
    const struct config_validation_test *t = &c->validation_tests.items[0];
    ck_assert_uint_eq(t->assertions.len, 3);
    ck_assert_int_eq(t->assertions.items[0].type, CONFIG_ASSERT_HAPROXY_VALID);
    ck_assert_str_eq(t->assertions.items[0].target, "haproxy.cfg");
    ck_assert_str_eq(t->assertions.items[2].target, "map:host.map");
    struct json_object *ings;
    ck_assert(json_object_object_get_ex(t->fixtures, "ingresses", &ings));
    ck_assert_uint_eq(json_object_array_length(ings), 1);
    ck_assert_ptr_nonnull(c->templating_settings.extra_context);
    ck_assert_int_eq(c->deploy.drift_prevention_interval_ms, 60000);
    loaded_free(&l);
}
END_TEST

START_TEST(test_deploy_defaults_and_bounds)
{
    struct loaded l = load_ok(VALID_REST);
    ck_assert_int_eq(l.cfg->deploy.min_deployment_interval_ms, 2000);
    ck_assert_int_eq(l.cfg->deploy.drift_prevention_interval_ms, 60000);
    ck_assert_int_eq(l.cfg->deploy.deployment_timeout_ms, 30000);
    ck_assert_int_eq(l.cfg->deploy.max_parallel, 0);
    ck_assert_str_eq(l.cfg->controller.run_dir, "/run/haproxy-template-ic");
    ck_assert_str_eq(l.cfg->controller.http.address, "0.0.0.0");
    ck_assert_str_eq(l.cfg->controller.kubernetes.kubeconfig, "");
    ck_assert_int_eq(l.cfg->controller.kubernetes.request_timeout_ms, 30000);
    loaded_free(&l);
    refused("deploy:\n  drift_prevention_interval: 500ms\n" VALID_REST, "deploy.drift_prevention_interval",
            "out of range (1s to 24h0m0s)");
    refused("deploy:\n  max_parallel: -1\n" VALID_REST, "deploy.max_parallel", "out of range");
}
END_TEST

START_TEST(test_http_address_must_be_ip)
{
    refused("controller:\n  http: {address: example.com}\n" VALID_REST, "controller.http.address",
            "must be an IPv4 or IPv6 address");
    struct loaded l = load_ok("controller:\n  http: {address: \"::1\", port: 0}\n" VALID_REST);
    ck_assert_int_eq(l.cfg->controller.http.port, 0);
    loaded_free(&l);
}
END_TEST

START_TEST(test_targets_required)
{
    refused(MAIN_TEMPLATE, "haproxy", "no HAProxy targets");
    refused("haproxy:\n  endpoints: []\n" MAIN_TEMPLATE, "haproxy", "no HAProxy targets");
}
END_TEST

START_TEST(test_endpoint_needs_exactly_one_way_in)
{
    refused("haproxy:\n  endpoints: [{name: a}]\n" MAIN_TEMPLATE, "haproxy.endpoints[0]", "exactly one of url");
    refused("haproxy:\n  endpoints: [{name: a, url: \"http://h:5555\", master_socket: /s}]\n"
            "  dataplane: {credentials_secret: {name: creds}}\n" MAIN_TEMPLATE,
            "haproxy.endpoints[0]", "exactly one of url");
    refused("haproxy:\n  endpoints: [{url: \"http://h:5555\"}]\n" MAIN_TEMPLATE, "haproxy.endpoints[0].name",
            "required key is missing");
    refused("haproxy:\n  endpoints: [{name: a, master_socket: relative.sock}]\n" MAIN_TEMPLATE,
            "haproxy.endpoints[0].master_socket", "must be an absolute path");
    refused("haproxy:\n  endpoints:\n    - {name: a, master_socket: /a}\n    - {name: a, master_socket: /b}\n" MAIN_TEMPLATE,
            "haproxy.endpoints[1].name", "already the name of endpoints[0]");
}
END_TEST

START_TEST(test_no_inline_credentials)
{
    refused("haproxy:\n  pod_selector: {match_labels: {app: haproxy}}\n  dataplane: {username: a, password: b}\n" MAIN_TEMPLATE,
            "haproxy.dataplane.password", "inline passwords are not accepted");
    refused("haproxy:\n  endpoints: [{name: a, url: \"http://admin:pw@10.0.0.1:5555\"}]\n" MAIN_TEMPLATE,
            "haproxy.endpoints[0].url", "must not carry credentials");
    refused("haproxy:\n  endpoints: [{name: a, url: \"ftp://10.0.0.1\"}]\n" MAIN_TEMPLATE,
            "haproxy.endpoints[0].url", "must start with http:// or https://");
}
END_TEST

START_TEST(test_dataplane_credentials_rules)
{
    const char *pods = "haproxy:\n  pod_selector: {match_labels: app=haproxy}\n";
    char doc[1024];
    snprintf(doc, sizeof(doc), "%s" MAIN_TEMPLATE, pods);
    refused(doc, "haproxy.dataplane", "the Data Plane API needs credentials");
    snprintf(doc, sizeof(doc), "%s  dataplane: {username: admin}\n" MAIN_TEMPLATE, pods);
    refused(doc, "haproxy.dataplane", "username and password_file go together");
    snprintf(doc, sizeof(doc), "%s  dataplane: {username: a, password_file: /p, credentials_secret: {name: s}}\n" MAIN_TEMPLATE, pods);
    refused(doc, "haproxy.dataplane", "not both");
    snprintf(doc, sizeof(doc), "%s  dataplane: {username: admin, password_file: /etc/htic/pw}\n" MAIN_TEMPLATE, pods);
    struct loaded l = load_ok(doc);
    ck_assert_str_eq(l.cfg->haproxy.pod_selector.match_labels, "app=haproxy");
    ck_assert_str_eq(l.cfg->haproxy.dataplane.password_file, "/etc/htic/pw");
    ck_assert_int_eq(l.cfg->haproxy.dataplane.port, 5555);
    loaded_free(&l);
    refused("haproxy:\n  pod_selector: {match_labels: {}}\n" MAIN_TEMPLATE, "haproxy.pod_selector.match_labels",
            "at least one label");
    refused("haproxy:\n  pod_selector: {match_labels: \"a b\"}\n" MAIN_TEMPLATE, "haproxy.pod_selector.match_labels",
            "must be a label selector");
}
END_TEST

START_TEST(test_watched_resource_rules)
{
    refused("watched_resources:\n  ingresses: {resources: ingresses, index_by: [metadata.name]}\n" VALID_REST,
            "watched_resources.ingresses.api_version", "required key is missing");
    refused("watched_resources:\n  ingresses: {api_version: networking.k8s.io/v1, resources: ingresses, index_by: []}\n" VALID_REST,
            "watched_resources.ingresses.index_by", "at least one entry");
    refused("watched_resources:\n  ingresses: {api_version: \"networking/k8s\", resources: ingresses, index_by: [a]}\n" VALID_REST,
            "watched_resources.ingresses.api_version", "must be an API version");
    refused("watched_resources:\n  ingresses: {api_version: v1, resources: Ingress, index_by: [a]}\n" VALID_REST,
            "watched_resources.ingresses.resources", "DNS-1123 label");
    refused("watched_resources:\n  haproxy-pods: {api_version: v1, resources: pods, index_by: [a]}\n" VALID_REST,
            "watched_resources.haproxy-pods", "is reserved");
    refused("watched_resources:\n  svc: {api_version: v1, resources: services, index_by: [a], store: lazy}\n" VALID_REST,
            "watched_resources.svc.store", "\"lazy\" is not one of: full, on-demand");
    refused("watched_resources:\n  svc: {api_version: v1, resources: services, index_by: [a, {b: c}]}\n" VALID_REST,
            "watched_resources.svc.index_by[1]", "expected a string, got a mapping");
    refused("watched_resources:\n  svc:\n" VALID_REST, "watched_resources.svc.api_version", "required key is missing");
    refused("watched_resources: [a]\n" VALID_REST, "watched_resources", "expected a mapping of names to entries");
    struct loaded l = load_ok("watched_resources:\n  svc:\n    api_version: v1\n    resources: services\n"
                              "    index_by: [metadata.namespace, metadata.name]\n"
                              "    label_selector: {team: a, tier: web}\n    namespace: shop\n    store: on-demand\n" VALID_REST);
    const struct config_watched_resource *w = &l.cfg->watched_resources.items[0];
    ck_assert_str_eq(w->name, "svc");
    ck_assert_str_eq(w->label_selector, "team=a,tier=web");
    ck_assert_str_eq(w->namespace, "shop");
    ck_assert_int_eq(w->store, CONFIG_STORE_ON_DEMAND);
    ck_assert_uint_eq(w->index_by.len, 2);
    ck_assert(!w->enable_validation_webhook);
    loaded_free(&l);
}
END_TEST

START_TEST(test_template_file_rules)
{
    refused("maps:\n  ../etc/passwd: {template: x}\n" VALID_REST, "maps[\"../etc/passwd\"]", "plain file name");
    refused("files:\n  .hidden: {template: x}\n" VALID_REST, "files[\".hidden\"]", "not starting with '.'");
    refused("maps:\n  host.map: {}\n" VALID_REST, "maps[\"host.map\"].template", "required key is missing");
    refused("haproxy_config:\n  template: x\n  post_processing:\n    - type: regex_replace\n      params: {pattern: \"a(\"}\n" TARGETS,
            "haproxy_config.post_processing[0].params.pattern", "not a valid POSIX extended regular expression");
    refused("haproxy_config:\n  template: x\n  post_processing:\n    - type: indent\n      params: {pattern: a}\n" TARGETS,
            "haproxy_config.post_processing[0].type", "not one of: regex_replace");
    refused("haproxy_config:\n  template: x\n  post_processing:\n    - type: regex_replace\n" TARGETS,
            "haproxy_config.post_processing[0].params", "required key is missing");
    refused("template_snippets:\n  a/b: {template: x}\n" VALID_REST, "template_snippets[\"a/b\"]", "plain file name");
    struct loaded l = load_ok("template_snippets:\n  backends-10: {template: x, priority: 10}\n" VALID_REST);
    ck_assert_int_eq(l.cfg->template_snippets.items[0].priority, 10);
    loaded_free(&l);
}
END_TEST

#define WR "watched_resources:\n  ingresses: {api_version: networking.k8s.io/v1, resources: ingresses, index_by: [a]}\n"

START_TEST(test_validation_test_rules)
{
    refused(WR "validation_tests:\n  t: {assertions: []}\n" VALID_REST, "validation_tests.t.assertions", "at least one entry");
    refused(WR "validation_tests:\n  t: {assertions: [{type: equals}]}\n" VALID_REST, "validation_tests.t.assertions[0].expected",
            "required by this assertion type");
    refused(WR "validation_tests:\n  t: {assertions: [{type: match_count, pattern: x}]}\n" VALID_REST,
            "validation_tests.t.assertions[0].count", "required by this assertion type");
    refused(WR "validation_tests:\n  t: {assertions: [{type: match_order, patterns: [a]}]}\n" VALID_REST,
            "validation_tests.t.assertions[0].patterns", "at least two patterns");
    refused(WR "validation_tests:\n  t: {assertions: [{type: jsonpath, jsonpath: a}]}\n" VALID_REST,
            "validation_tests.t.assertions[0].expected", "required by this assertion type");
    refused(WR "validation_tests:\n  t: {assertions: [{type: contains, pattern: x, target: \"map:a/b\"}]}\n" VALID_REST,
            "validation_tests.t.assertions[0].target", "haproxy.cfg, map:<name>");
    refused(WR "validation_tests:\n  t: {fixtures: [1], assertions: [{type: haproxy_valid}]}\n" VALID_REST,
            "validation_tests.t.fixtures", "expected a mapping of watched resource names");
    refused(WR "validation_tests:\n  t: {fixtures: {ingresses: {a: 1}}, assertions: [{type: haproxy_valid}]}\n" VALID_REST,
            "validation_tests.t.fixtures.ingresses", "expected a list of Kubernetes objects");
    refused(WR "validation_tests:\n  t: {fixtures: {ingresses: [1]}, assertions: [{type: haproxy_valid}]}\n" VALID_REST,
            "validation_tests.t.fixtures.ingresses[0]", "expected a Kubernetes object");
    refused(WR "validation_tests:\n  t: {fixtures: {secrets: []}, assertions: [{type: haproxy_valid}]}\n" VALID_REST,
            "validation_tests.t.fixtures.secrets", "not a watched resource");
    struct loaded l = load_ok(WR "validation_tests:\n  _global:\n    fixtures:\n      haproxy-pods: [{kind: Pod}]\n"
                                 "    assertions:\n      - {type: match_count, pattern: \"^backend\", count: 2}\n"
                                 "      - {type: match_order, patterns: [a, b]}\n      - {type: deterministic}\n" VALID_REST);
    const struct config_assertion *a = l.cfg->validation_tests.items[0].assertions.items;
    ck_assert_int_eq(a[0].count, 2);
    ck_assert_uint_eq(a[1].patterns.len, 2);
    ck_assert_int_eq(a[2].type, CONFIG_ASSERT_DETERMINISTIC);
    loaded_free(&l);
}
END_TEST

START_TEST(test_extra_context_is_free_form_mapping)
{
    refused("templating_settings: {extra_context: [1, 2]}\n" VALID_REST, "templating_settings.extra_context",
            "expected a mapping");
    struct loaded l = load_ok("templating_settings:\n  extra_context:\n    debug: true\n    n: 3\n    f: 1.5\n"
                              "    s: \"3\"\n    nothing: ~\n    list: [a, 2]\n" VALID_REST);
    struct json_object *x = l.cfg->templating_settings.extra_context, *v;
    ck_assert(json_object_object_get_ex(x, "debug", &v) && json_object_is_type(v, json_type_boolean));
    ck_assert(json_object_object_get_ex(x, "n", &v) && json_object_get_int(v) == 3);
    ck_assert(json_object_object_get_ex(x, "f", &v) && json_object_is_type(v, json_type_double));
    ck_assert(json_object_object_get_ex(x, "s", &v) && json_object_is_type(v, json_type_string));
    ck_assert(json_object_object_get_ex(x, "nothing", &v) && v == NULL);
    ck_assert(json_object_object_get_ex(x, "list", &v) && json_object_array_length(v) == 2);
    loaded_free(&l);
    refused("templating_settings:\n  extra_context: {a: 1, a: 2}\n" VALID_REST, "templating_settings.extra_context.a",
            "duplicate key");
}
END_TEST

START_TEST(test_yaml_merge_keys)
{
    struct loaded l = load_ok("watched_resources:\n"
                              "  svc: &base {api_version: v1, resources: services, index_by: [metadata.name], store: on-demand}\n"
                              "  pods:\n    <<: *base\n    resources: pods\n"
                              "  eps:\n    <<: [{resources: endpoints}, *base]\n"
                              "templating_settings:\n  extra_context:\n    d: &d {a: 1, b: 2}\n    e: {<<: *d, b: 3}\n"
                              VALID_REST);
    const struct config_watched_resource *w = l.cfg->watched_resources.items;
    ck_assert_str_eq(w[1].name, "pods");
    ck_assert_str_eq(w[1].resources, "pods"); /* explicit key wins */
    ck_assert_str_eq(w[1].api_version, "v1");
    ck_assert_int_eq(w[1].store, CONFIG_STORE_ON_DEMAND);
    ck_assert_str_eq(w[2].resources, "endpoints"); /* first merged mapping wins */
    struct json_object *e, *v;
    ck_assert(json_object_object_get_ex(l.cfg->templating_settings.extra_context, "e", &e));
    ck_assert(json_object_object_get_ex(e, "a", &v) && json_object_get_int(v) == 1);
    ck_assert(json_object_object_get_ex(e, "b", &v) && json_object_get_int(v) == 3);
    loaded_free(&l);
    refused("watched_resources:\n  svc:\n    <<: {api_version: v1, resources: s, index_by: [a], colour: red}\n" VALID_REST,
            "watched_resources.svc.colour", "unknown key");
    refused("watched_resources:\n  svc:\n    <<: 5\n" VALID_REST, "watched_resources.svc", "<< must merge a mapping");
    refused("templating_settings:\n  extra_context: {<<: [1]}\n" VALID_REST, "templating_settings.extra_context",
            "<< must merge a mapping");
}
END_TEST

/* Every template is compiled at load: a syntax error names the config key, the template and its position. */
START_TEST(test_templates_that_do_not_parse_refused)
{
    struct loaded l = load_refused(TARGETS "haproxy_config:\n  template: \"{% for x in %}\"\n",
                                   "haproxy_config.template", "template haproxy.cfg, line 1, column");
    ck_assert_int_eq(find_error(&l, "haproxy_config.template", "template")->line, 6);
    loaded_free(&l);
    l = load_refused(VALID_REST "template_snippets:\n  backends:\n    template: |\n      ok\n      {{ x \n",
                     "template_snippets.backends.template", "template backends, line 2");
    loaded_free(&l);
    l = load_refused(VALID_REST "maps:\n  host.map:\n    template: \"{% if %}\"\n", "maps[\"host.map\"].template",
                     "template host.map");
    loaded_free(&l);
    l = load_refused(VALID_REST "files:\n  err.http:\n    template: \"{{ }}\"\n", "files[\"err.http\"].template",
                     "template err.http");
    loaded_free(&l);
    l = load_refused(VALID_REST "ssl_certificates:\n  a.pem:\n    template: \"{% endif %}\"\n",
                     "ssl_certificates[\"a.pem\"].template", "template a.pem");
    loaded_free(&l);
    /* includes and imports of snippets by name compile, whichever order the snippets come in */
    l = load_ok(TARGETS "haproxy_config:\n  template: \"{% include 'b' %}{% import 'lib' as m %}{{ m.f() }}\"\n"
                "template_snippets:\n  b:\n    template: \"{% include 'lib' %}\"\n"
                "  lib:\n    template: \"{% macro f() %}x{% endmacro %}\"\n");
    loaded_free(&l);
}
END_TEST

START_TEST(test_validation_test_references_checked)
{
    const char *head = VALID_REST "maps:\n  host.map:\n    template: \"x\"\n"
                       "validation_tests:\n  t:\n    assertions:\n";
    char doc[2048];
    snprintf(doc, sizeof(doc), "%s      - {type: contains, target: \"map:hosts.map\", pattern: x}\n", head);
    struct loaded l = load_refused(doc, "validation_tests.t.assertions[0].target", "\"hosts.map\" names no entry of maps");
    loaded_free(&l);
    snprintf(doc, sizeof(doc), "%s      - {type: contains, target: \"file:x\", pattern: x}\n"
             "      - {type: contains, target: \"cert:y.pem\", pattern: x}\n", head);
    l = load_refused(doc, "validation_tests.t.assertions[0].target", "names no entry of files");
    ck_assert_ptr_nonnull(find_error(&l, "validation_tests.t.assertions[1].target", "names no entry of ssl_certificates"));
    loaded_free(&l);
    snprintf(doc, sizeof(doc), "%s      - {type: jsonpath, jsonpath: \"{.a[?(@.x)]}\", expected: \"1\"}\n", head);
    l = load_refused(doc, "validation_tests.t.assertions[0].jsonpath", "invalid JSONPath");
    loaded_free(&l);
    snprintf(doc, sizeof(doc), "%s      - {type: contains, target: \"map:host.map\", pattern: x}\n"
             "      - {type: jsonpath, jsonpath: \"{.resources.ingresses[0].metadata.name}\", expected: web}\n", head);
    l = load_ok(doc);
    loaded_free(&l);
    l = load_refused(VALID_REST "watched_resources:\n  ing:\n    api_version: v1\n    resources: services\n"
                     "    index_by: [metadata.namespace, \"metadata[\"]\n",
                     "watched_resources.ing.index_by[1]", "invalid JSONPath");
    loaded_free(&l);
    /* valid JSONPath the store cannot index by (found by fuzz_paths with FUZZ_PATHS_ACCEPT=1) */
    l = load_refused(VALID_REST "watched_resources:\n  ing:\n    api_version: v1\n    resources: services\n"
                     "    index_by: [\"spec.ports[*].port\", \"spec.ports[-1].port\"]\n",
                     "watched_resources.ing.index_by[0]", "index key must name one value");
    ck_assert_ptr_nonnull(find_error(&l, "watched_resources.ing.index_by[1]", "index key must name one value"));
    loaded_free(&l);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("config_sections");
    TCase *tc = tcase_create("sections");
    tcase_add_checked_fixture(tc, env_setup, env_teardown);
    tcase_add_test(tc, test_minimal_example_loads);
    tcase_add_test(tc, test_ha_example_loads);
    tcase_add_test(tc, test_deploy_defaults_and_bounds);
    tcase_add_test(tc, test_http_address_must_be_ip);
    tcase_add_test(tc, test_targets_required);
    tcase_add_test(tc, test_endpoint_needs_exactly_one_way_in);
    tcase_add_test(tc, test_no_inline_credentials);
    tcase_add_test(tc, test_dataplane_credentials_rules);
    tcase_add_test(tc, test_watched_resource_rules);
    tcase_add_test(tc, test_template_file_rules);
    tcase_add_test(tc, test_validation_test_rules);
    tcase_add_test(tc, test_extra_context_is_free_form_mapping);
    tcase_add_test(tc, test_yaml_merge_keys);
    tcase_add_test(tc, test_templates_that_do_not_parse_refused);
    tcase_add_test(tc, test_validation_test_references_checked);
    suite_add_tcase(s, tc);
    return s;
}
