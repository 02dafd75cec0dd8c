#!/usr/bin/env python3
"""`haproxy-template-ic validate`: a config's validation_tests run offline with the real haproxy -c. A config
whose tests all pass exits 0; each assertion type failing names the test, the assertion and the lines it
concerns (exit 1); a broken fixture and a template error are reported with where they are; --test runs one
test; --output json parses; the shipped examples that carry tests pass."""
import glob
import json
import os
import subprocess

import harness as h

HEAD = r"""
controller: {leader_election: {enabled: false, lease_namespace: default}}
haproxy:
  endpoints:
    - {name: local, master_socket: /run/haproxy-master.sock}
watched_resources:
  ingresses: {api_version: networking.k8s.io/v1, resources: ingresses, index_by: [metadata.namespace, metadata.name]}
maps:
  host.map:
    template: |
      {% for ing in resources.ingresses.List() %}
      {% for r in ing.spec.rules | default([]) %}
      {{ haproxy_arg(r.host) }} be_{{ ing.metadata.namespace }}_{{ ing.metadata.name }}
      {% endfor %}
      {% endfor %}
haproxy_config:
  template: |
    global
      log stdout format raw local0 info
    defaults
      mode http
      timeout connect 5s
      timeout client 30s
      timeout server 30s
    frontend http
      bind 127.0.0.1:8080
      use_backend %[req.hdr(host),field(1,:),lower,map({{ pathResolver.GetPath("host.map", "map") }})]
    {% for ing in resources.ingresses.List() %}
    backend be_{{ ing.metadata.namespace }}_{{ ing.metadata.name }}
      balance {{ (ing.metadata.annotations | default({})).get("lb", "roundrobin") }}
    {% endfor %}
"""

# _global's Ingress is in every test; every-type adds a second one and checks every assertion type passing.
GOOD_TESTS = r"""
  _global:
    fixtures:
      ingresses:
        - apiVersion: networking.k8s.io/v1
          kind: Ingress
          metadata: {name: web, namespace: shop}
          spec: {rules: [{host: shop.example.com}]}
    assertions:
      - {type: haproxy_valid}
  every-type:
    description: a second Ingress next to the global one
    fixtures:
      ingresses:
        - metadata: {name: api, namespace: shop}
          spec: {rules: [{host: api.example.com}]}
    assertions:
      - {type: haproxy_valid, description: haproxy accepts it}
      - {type: contains, pattern: "^backend be_shop_api$"}
      - {type: not_contains, pattern: "^backend be_other_"}
      - {type: equals, target: "map:host.map", expected: "api.example.com be_shop_api\nshop.example.com be_shop_web\n"}
      - {type: match_count, pattern: "^backend ", count: 2}
      - {type: match_order, patterns: ["^frontend http$", "^backend be_shop_api$", "^backend be_shop_web$"]}
      - {type: jsonpath, jsonpath: "{.resources.ingresses[1].spec.rules[0].host}", expected: shop.example.com}
      - {type: deterministic}
"""


def validate(path, *args):
    return subprocess.run([h.HTIC_BIN, "validate", "--config", path, *args], capture_output=True, text=True,
                          timeout=60)


def config(tmp, tests, name="c.yaml"):
    return h.write(os.path.join(tmp, name), HEAD + "validation_tests:\n" + tests)


def test_all_passing_exits_0(tmp):
    r = validate(config(tmp, GOOD_TESTS))
    assert r.returncode == 0, r
    assert "PASS _global (1 assertion)" in r.stdout and "PASS every-type (8 assertions)" in r.stdout, r.stdout
    assert r.stdout.rstrip().splitlines()[-1] == "OK: 2 tests, 2 passed, 0 failed (9 assertions, 0 failed)", r.stdout


def one_failure(tmp, assertion, fixtures=""):
    """Runs a config with the passing tests plus one test holding one assertion; returns the text output."""
    t = "  failing:\n    description: the one that fails\n" + fixtures + "    assertions:\n      - " + assertion + "\n"
    r = validate(config(tmp, GOOD_TESTS + t))
    assert r.returncode == 1, r
    assert "PASS every-type" in r.stdout, r.stdout
    last = r.stdout.rstrip().splitlines()[-1]
    assert last == "FAILED: 3 tests, 2 passed, 1 failed (10 assertions, 1 failed)", r.stdout
    return r.stdout


def test_contains_failure_shows_the_closest_line(tmp):
    out = one_failure(tmp, '{type: contains, description: api backend, pattern: "^backend be_shop_apix$"}')
    assert 'FAIL failing: assertion 0 (contains on haproxy.cfg) "api backend": pattern "^backend be_shop_apix$" ' \
           'not found in haproxy.cfg' in out, out
    assert ">  11 | backend be_shop_web" in out, out


def test_not_contains_failure_shows_the_match(tmp):
    out = one_failure(tmp, '{type: not_contains, pattern: "balance roundrobin"}')
    assert 'assertion 0 (not_contains on haproxy.cfg): pattern "balance roundrobin" found in haproxy.cfg at line 12' \
           in out, out
    assert ">  12 |   balance roundrobin" in out and "   11 | backend be_shop_web" in out, out


def test_equals_failure_shows_a_unified_diff(tmp):
    out = one_failure(tmp, '{type: equals, target: "map:host.map", expected: "shop.example.com be_shop_other\\n"}')
    assert "assertion 0 (equals on map:host.map): map:host.map differs from expected" in out, out
    for line in ("--- expected", "+++ map:host.map", "-shop.example.com be_shop_other",
                 "+shop.example.com be_shop_web"):
        assert "    " + line + "\n" in out, (line, out)


def test_match_count_failure_lists_the_matches(tmp):
    out = one_failure(tmp, '{type: match_count, pattern: "^backend ", count: 3}')
    assert 'pattern "^backend " matches 1 time in haproxy.cfg, expected 3; the matches:' in out, out
    assert "      11 | backend be_shop_web" in out, out


def test_match_order_failure_shows_both_places(tmp):
    out = one_failure(tmp, '{type: match_order, patterns: ["^backend ", "^frontend http$"]}')
    assert "patterns[1] \"^frontend http$\" matches only at line 8, before patterns[0]'s match at line 11" in out, out
    assert ">   8 | frontend http" in out and ">  11 | backend be_shop_web" in out, out


def test_jsonpath_failure_shows_query_expected_and_got(tmp):
    out = one_failure(tmp, '{type: jsonpath, jsonpath: "{.resources.ingresses[0].metadata.name}", expected: api}')
    assert "assertion 0 (jsonpath): jsonpath {.resources.ingresses[0].metadata.name} gives \"web\", expected \"api\"" \
           in out, out
    assert "    query:    {.resources.ingresses[0].metadata.name}\n    expected: api\n    got:      web\n" in out, out


def test_haproxy_valid_failure_quotes_the_config_line(tmp):
    fixtures = ("    fixtures:\n      ingresses:\n"
                "        - {metadata: {name: web, namespace: shop, annotations: {lb: nonsense}},\n"
                "           spec: {rules: [{host: shop.example.com}]}}\n")
    out = one_failure(tmp, "{type: haproxy_valid}", fixtures)
    assert "FAIL failing: assertion 0 (haproxy_valid on haproxy.cfg): haproxy -c: invalid" in out, out
    # haproxy's alert in production paths, the line it names quoted
    assert "/etc/haproxy/haproxy.cfg:12" in out and ">    12 |   balance nonsense" in out, out


def test_broken_fixture_names_it(tmp):
    fixtures = "    fixtures:\n      ingresses:\n        - {metadata: {namespace: shop}}\n"
    r = validate(config(tmp, GOOD_TESTS + "  broken:\n" + fixtures + "    assertions: [{type: haproxy_valid}]\n"))
    assert r.returncode == 1, r
    assert "FAIL broken: fixtures error: validation_tests.broken.fixtures.ingresses[0]: " in r.stdout, r.stdout
    assert "metadata.name" in r.stdout, r.stdout


def test_template_error_names_template_line_and_column(tmp):
    fixtures = ("    fixtures:\n      ingresses:\n"
                "        - {metadata: {name: evil, namespace: shop}, spec: {rules: [{host: \"a b\"}]}}\n")
    r = validate(config(tmp, GOOD_TESTS + "  injected:\n" + fixtures + "    assertions: [{type: haproxy_valid}]\n"),
                 "--output", "json")
    assert r.returncode == 1, r
    t = [t for t in json.loads(r.stdout)["tests"] if t["name"] == "injected"][0]
    err = t["error"]
    assert err["stage"] == "render" and err["template"] == "host.map" and err["line"] == 3 and err["column"] > 0, err
    assert err["object"] == {"resource": "ingresses", "namespace": "shop", "name": "evil"}, err
    r = validate(config(tmp, GOOD_TESTS + "  injected:\n" + fixtures + "    assertions: [{type: haproxy_valid}]\n"))
    assert f"FAIL injected: render error: template host.map, line 3, column {err['column']}: " in r.stdout, r.stdout


def test_test_option_runs_one_test(tmp):
    path = config(tmp, GOOD_TESTS + "  failing:\n    assertions: [{type: contains, pattern: absent}]\n")
    r = validate(path, "--test", "every-type")
    assert r.returncode == 0, r
    assert "every-type" in r.stdout and "_global" not in r.stdout and "failing" not in r.stdout, r.stdout
    r = validate(path, "--test", "failing")
    assert r.returncode == 1 and "FAIL failing" in r.stdout and "PASS" not in r.stdout, r
    r = validate(path, "--test", "no-such-test")
    assert r.returncode == 2 and "no validation test named no-such-test" in r.stderr, r


def test_json_output_parses_and_says_what_text_says(tmp):
    t = "  failing:\n    assertions: [{type: match_count, pattern: \"^backend \", count: 3}]\n"
    path = config(tmp, GOOD_TESTS + t)
    r = validate(path, "--output", "json")
    assert r.returncode == 1, r
    rep = json.loads(r.stdout)
    assert rep["ok"] is False, rep
    assert rep["summary"] == {"tests": 3, "passed": 2, "failed": 1, "assertions": 10, "assertions_failed": 1}, rep
    names = [t["name"] for t in rep["tests"]]
    assert names == ["_global", "every-type", "failing"], names
    a = rep["tests"][2]["assertions"][0]
    assert a["index"] == 0 and a["type"] == "match_count" and a["passed"] is False and a["got_count"] == 1, a
    assert "backend be_shop_web" in a["lines"], a
    assert all(x["passed"] for x in rep["tests"][1]["assertions"]), rep["tests"][1]


def test_dump_rendered_writes_each_tests_files(tmp):
    out = os.path.join(tmp, "dump")
    r = validate(config(tmp, GOOD_TESTS), "--dump-rendered", out)
    assert r.returncode == 0, r
    assert h.open_text(os.path.join(out, "every-type", "maps", "host.map")) == \
        "api.example.com be_shop_api\nshop.example.com be_shop_web\n"
    assert "backend be_shop_web" in h.open_text(os.path.join(out, "_global", "haproxy.cfg"))


def test_usage_and_invalid_config(tmp):
    r = subprocess.run([h.HTIC_BIN, "validate"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage" in r.stderr, r
    r = validate(config(tmp, GOOD_TESTS), "--output", "yaml")
    assert r.returncode == 2 and "usage" in r.stderr, r
    bad = config(tmp, GOOD_TESTS + "  bad:\n    assertions: [{type: contains}]\n", "bad.yaml")
    r = validate(bad)
    assert r.returncode == 1 and "validation_tests.bad.assertions[0].pattern" in r.stderr, r


def test_shipped_examples_with_tests_pass(tmp):
    examples = [p for p in sorted(glob.glob(os.path.join(h.SOURCE_ROOT, "deploy", "examples", "*.yaml")))
                if "validation_tests:" in h.open_text(p)]
    assert examples, "no example carries validation_tests"
    for p in examples:
        r = validate(p)
        assert r.returncode == 0, (p, r.stdout, r.stderr)


if __name__ == "__main__":
    h.run([
        test_all_passing_exits_0,
        test_contains_failure_shows_the_closest_line,
        test_not_contains_failure_shows_the_match,
        test_equals_failure_shows_a_unified_diff,
        test_match_count_failure_lists_the_matches,
        test_match_order_failure_shows_both_places,
        test_jsonpath_failure_shows_query_expected_and_got,
        test_haproxy_valid_failure_quotes_the_config_line,
        test_broken_fixture_names_it,
        test_template_error_names_template_line_and_column,
        test_test_option_runs_one_test,
        test_json_output_parses_and_says_what_text_says,
        test_dump_rendered_writes_each_tests_files,
        test_usage_and_invalid_config,
        test_shipped_examples_with_tests_pass,
    ])
