#!/usr/bin/python3
"""The Prometheus alert rules (deploy/prometheus/): promtool accepts them, their unit tests pass (each alert
fires on the series the controller exports and stays silent on the normal case), each firing case really
depends on its alert (a rule whose expression never fires makes the unit tests fail), and every metric the
rules read is one the code exports, or one of the deployer's planned metrics named in docs/metrics.md.
Skips (TAP) when promtool (Debian's prometheus package, in deploy/install-deps.sh) is absent."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

import yaml  # noqa: E402

PROMTOOL = shutil.which("promtool")
RULES = os.path.join(h.SOURCE_ROOT, "deploy", "prometheus", "haproxy-template-ic-rules.yaml")
TESTS = os.path.join(h.SOURCE_ROOT, "deploy", "prometheus", "tests", "haproxy-template-ic-rules.test.yaml")
CMD_TIMEOUT_S = 120
# Metrics the rules use that no code exports yet; docs/metrics.md lists them as planned, with their labels.
PLANNED = set()


def promtool(*args, cwd=None):
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=CMD_TIMEOUT_S, cwd=cwd)


def alerts():
    with open(RULES) as f:
        doc = yaml.safe_load(f)
    return [r for g in doc["groups"] for r in g["rules"]]


def test_promtool_check_rules_accepts_the_file(tmp):
    p = promtool("check", "rules", RULES)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in p.stdout, p.stdout


def test_promtool_unit_tests_pass(tmp):
    p = promtool("test", "rules", TESTS)
    assert p.returncode == 0, p.stdout + p.stderr


def test_every_alert_has_a_firing_case_that_fails_without_it(tmp):
    """For each alert in turn, a copy of the rules where only that alert can never fire: the unit tests
    must then fail (so the firing case is asserted, not only the silent ones)."""
    with open(TESTS) as f:
        tests_text = f.read()
    os.makedirs(os.path.join(tmp, "tests"))
    with open(os.path.join(tmp, "tests", "t.yaml"), "w") as f:
        f.write(tests_text)
    for name in [r["alert"] for r in alerts()]:
        assert f"alertname: {name}" in tests_text, f"{name} has no unit test"
        with open(RULES) as f:
            doc = yaml.safe_load(f)
        for g in doc["groups"]:
            for r in g["rules"]:
                if r["alert"] == name:
                    r["expr"] = "vector(1) > 2"
        with open(os.path.join(tmp, "haproxy-template-ic-rules.yaml"), "w") as f:
            yaml.safe_dump(doc, f)
        p = promtool("test", "rules", "t.yaml", cwd=os.path.join(tmp, "tests"))
        assert p.returncode != 0, f"{name}: the unit tests still pass with an alert that never fires"
        assert name in p.stdout + p.stderr, p.stdout


def exported_metric_names():
    return h.source_matches(r'"(haproxy_ic_[a-z0-9_]+)"')


def test_rules_read_only_exported_or_documented_planned_metrics(tmp):
    used = set()
    for r in alerts():
        used.update(re.findall(r"\b(haproxy_ic_[a-z0-9_]+)", r["expr"]))
    exported = exported_metric_names()
    assert "haproxy_ic_leader_election_is_leader" in exported, "the source scan found nothing"
    unknown = used - exported - PLANNED
    assert not unknown, f"rules read metrics nobody exports or plans: {sorted(unknown)}"
    with open(os.path.join(h.SOURCE_ROOT, "docs", "metrics.md")) as f:
        metrics_doc = f.read()
    for name in used - exported:
        assert f"`{name}" in metrics_doc, f"{name} is planned but docs/metrics.md does not list it"
    # a planned metric that got exported should leave the planned list (so the docs say the truth)
    assert not (PLANNED & exported), f"now exported, drop from PLANNED and the docs: {sorted(PLANNED & exported)}"


def test_the_chart_ships_the_same_rules(tmp):
    chart_copy = os.path.join(h.SOURCE_ROOT, "deploy", "helm", "haproxy-template-ic", "files",
                              "haproxy-template-ic-rules.yaml")   # a link to deploy/prometheus (helm follows it)
    with open(chart_copy) as a, open(RULES) as b:
        assert a.read() == b.read(), "the chart's copy of the rules differs from deploy/prometheus"


if __name__ == "__main__":
    if not PROMTOOL:
        print("1..1\nok 1 - alert rules # SKIP promtool not found (Debian package prometheus, deploy/install-deps.sh)")
        sys.exit(0)
    h.run([
        test_promtool_check_rules_accepts_the_file,
        test_promtool_unit_tests_pass,
        test_every_alert_has_a_firing_case_that_fails_without_it,
        test_rules_read_only_exported_or_documented_planned_metrics,
        test_the_chart_ships_the_same_rules,
    ])
