#!/usr/bin/env python3
"""tests/bench/run_all.py, the one benchmark command: its comparison with the previous table flags a row
that got worse (in either direction of "better") and only then, a target is reported met or missed, a
benchmark that fails or prints no result is a FAILED row rather than a silent gap, and a real quick run of
two cheap benchmarks writes a table with the machine, the commit and their rows. Never a timed assertion:
the numbers themselves are not checked."""
import json
import os
import subprocess
import sys

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "bench"))
import run_all  # noqa: E402

RUN_ALL = os.path.join(h.SOURCE_ROOT, "tests", "bench", "run_all.py")


def row(name, value, better="lower", target=None, unit="ms"):
    r = {"name": name, "value": value, "unit": unit, "better": better, "bench": "b"}
    if target is not None:
        r["target"] = target
    return r


def doc(rows, failed=None):
    return {"date": "d", "commit": "c", "quick": False, "rows": rows, "failed": failed or {},
            "machine": {"nproc": 2, "cpu": "x", "mem_mib": 1, "kernel": "k", "haproxy": "h"}}


def test_regressions_are_flagged_in_the_right_direction(tmp):
    prev = doc([row("lat", 100), row("speed", 10, "higher"), row("same", 100), row("gone", 1)])
    now = doc([row("lat", 130), row("speed", 7, "higher"), row("same", 110), row("new", 5)])
    text, regressions = run_all.table(now, prev)
    lines = {ln.split("|")[2].strip(): ln for ln in text.splitlines() if ln.startswith("| b |")}
    assert regressions == 2, (regressions, text)
    assert "+30 % REGRESSION" in lines["lat"], lines["lat"]
    assert "-30 % REGRESSION" in lines["speed"], lines["speed"]
    assert "+10 %" in lines["same"] and "REGRESSION" not in lines["same"], lines["same"]
    assert lines["new"].rstrip().endswith("| new |"), lines["new"]
    # an improvement is never a regression
    _, r = run_all.table(doc([row("lat", 50), row("speed", 20, "higher")]), prev)
    assert r == 0


def test_targets_met_and_missed(tmp):
    text, _ = run_all.table(doc([row("p95", 120, target=100), row("x", 6, "higher", target=5)]), None)
    assert "| 100 MISSED |" in text and "| 5 met |" in text, text


def test_results_are_read_from_result_lines_and_the_pipeline_json(tmp):
    out = run_all.parse_results('noise\nRESULT {"name": "a", "value": 3, "unit": "ms"}\nRESULT not json\n'
                                'RESULT {"name": "b", "value": "x"}\n')
    assert list(out) == ["a"], out
    p = run_all.pipeline_results({"results": [
        {"scale": 0, "pss_total_mib": 20},
        {"scale": 1000, "latency_ms": {"p50": 300, "p95": 580}, "sync_to_lkg_s": 2.0, "pss_total_mib": 40,
         "change_stages_ms": {"render": 50, "validate": 30}, "replicas_pss_total_mib": [40, 44]}]})
    assert p["change to LKG, 1000 Ingresses, p95"]["value"] == 580 and p["change to LKG, 1000 Ingresses, p95"]["target"] == 1000
    assert p["follower PSS over leader, 1000 Ingresses"]["value"] == 1.1, p
    assert p["PSS of the process tree, idle"]["value"] == 20
    med = run_all.median_of([{"a": {"name": "a", "value": 3}}, {"a": {"name": "a", "value": 1}},
                             {"a": {"name": "a", "value": 10}}])
    assert med["a"]["value"] == 3 and med["a"]["runs"] == 3, med


def test_a_failing_benchmark_is_a_failed_row(tmp):
    script = os.path.join(tmp, "bad.py")
    with open(script, "w") as f:
        f.write("import sys\nprint('RESULT {\"name\": \"half\", \"value\": 1, \"unit\": \"ms\"}')\nsys.exit(3)\n")
    res, _, err = run_all.run_one("bad", [sys.executable, script], dict(os.environ), tmp)
    assert "half" in res and err and err.startswith("exit 3"), (res, err)
    silent = os.path.join(tmp, "silent.py")
    with open(silent, "w") as f:
        f.write("print('no results here')\n")
    res, _, err = run_all.run_one("silent", [sys.executable, silent], dict(os.environ), tmp)
    assert not res and err and err.startswith("no results"), (res, err)
    text, _ = run_all.table(doc([], {"bad": "exit 3"}), None)
    assert "| bad | FAILED: exit 3 |" in text, text


def test_a_quick_run_writes_the_table(tmp):
    out = os.path.join(tmp, "table.md")
    r = subprocess.run([sys.executable, RUN_ALL, "--build", os.path.dirname(os.path.abspath(h.HTIC_BIN)), "--quick", "--only",
                        "config_metrics,store", "--out", out], capture_output=True, text=True, timeout=280)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    with open(out) as f:
        text = f.read()
    assert "- machine: " in text and "commit " in text and "quick mode" in text, text
    assert "| store | bytes per stored ingresses over its projected JSON |" in text, text
    assert "| config_metrics | config load" in text, text
    assert "FAILED" not in text, text
    # --quick never overwrites the recorded table's raw numbers
    assert not os.path.exists(os.path.join(tmp, "benchmarks.json"))
    r = subprocess.run([sys.executable, RUN_ALL, "--build", os.path.dirname(os.path.abspath(h.HTIC_BIN)), "--only", "nope"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "unknown benchmark" in r.stderr, (r.returncode, r.stderr)


if __name__ == "__main__":
    h.run([
        test_regressions_are_flagged_in_the_right_direction,
        test_targets_met_and_missed,
        test_results_are_read_from_result_lines_and_the_pipeline_json,
        test_a_failing_benchmark_is_a_failed_row,
        test_a_quick_run_writes_the_table,
    ])
