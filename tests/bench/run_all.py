#!/usr/bin/python3
"""The one benchmark command: runs every benchmark of tests/bench/ against a built tree, collects their
results, and writes the performance table (docs/benchmarks.md, with the raw numbers in docs/benchmarks.json)
with the machine, the date and the commit, each row next to its target and to the previous table's value,
so a regression is visible at a glance. Benchmarks print `RESULT {...}` lines (tests/bench/result.py); the
pipeline benchmark's --json output is read instead. Cheap benchmarks run --repeat times and the table
quotes the median of the runs; the ones that already quote p50/p95 over many trials run once.

    /usr/bin/python3 tests/bench/run_all.py [--build build] [--quick] [--only NAME,...] [--repeat 3]
        [--out docs/benchmarks.md] [--json docs/benchmarks.json] [--list]

--only runs some benchmarks and keeps the recorded table's other rows. --quick shrinks every benchmark (fewer trials, smaller scales) to check the command itself in minutes;
its numbers are not the table's. Not for: assertions (nothing here fails on a slow number)."""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = "/usr/bin/python3"
# A row is flagged when it got worse than the previous table by more than this: medians on 2 shared cores
# move by 5-10 % between runs, so a smaller threshold would flag noise.
REGRESSION_RATIO = 1.20
# Every benchmark ends within this or its run is recorded as failed (the default 10k pipeline run takes
# about 15 minutes).
BENCH_TIMEOUT_S = 3600


def bench_list(build, quick):
    """(name, argv, repeat) per benchmark; argv[0] is run with cwd = the source root."""
    b = lambda *p: os.path.join(build, *p)  # noqa: E731
    t = lambda p: os.path.join(ROOT, "tests", "bench", p)  # noqa: E731
    htic = b("haproxy-template-ic")
    q = quick
    return [
        ("config_metrics", [b("tests", "bench", "bench_config_metrics")], 1 if q else 3),
        ("store", [b("tests", "bench", "bench_store"), "--count", "1000" if q else "10000"], 1 if q else 3),
        ("kube_list", [b("tests", "bench", "bench_kube_list"), "--count", "1000" if q else "10000",
                       "--page", "500"], 1 if q else 3),
        ("template", [PY, t("bench_template.py"), b("tests", "bench", "bench_template")]
         + (["1000"] if q else []) + ["--cli", htic], 1),
        ("process_tree", [PY, t("bench_process_tree.py"), "--trials", "2" if q else "10"], 1),
        ("election", [PY, t("bench_election.py"), "--trials", "2" if q else "20"]
         + (["--only", "handoff,failover"] if q else []), 1),
        ("failover_push", [PY, t("bench_failover_push.py")] + (["--trials", "2"] if q else []), 1),
        ("kube_sim", [PY, t("bench_kube_sim.py")]
         + (["--objects", "2000", "--watchers", "4", "--events", "200"] if q else []), 1),
        ("traffic", [PY, t("bench_traffic.py")]
         + (["--scales", "100", "--changes", "3", "--churn-seconds", "5"] if q else []), 1),
        ("pipeline", [PY, t("bench_pipeline.py")]
         + (["--scales", "100", "--changes", "3", "--churn-seconds", "5", "--followers", "1"] if q else []), 1),
    ]


def parse_results(text):
    """The RESULT lines of one run's output: {name: result}."""
    out = {}
    for line in text.splitlines():
        if line.startswith("RESULT "):
            try:
                r = json.loads(line[len("RESULT "):])
            except ValueError:
                continue
            if isinstance(r, dict) and "name" in r and isinstance(r.get("value"), (int, float)):
                out[r["name"]] = r
    return out


def pipeline_results(doc):
    """Rows from bench_pipeline.py's --json document (it predates RESULT lines and has its own table)."""
    out = {}

    def put(name, value, unit, target=None, better="lower"):
        if isinstance(value, (int, float)):
            out[name] = {"name": name, "value": value, "unit": unit, "better": better, **(
                {"target": target} if target is not None else {})}
    targets_p95 = {100: 1000, 1000: 1000, 10000: 2000}
    for r in doc.get("results", []):
        n = r.get("scale")
        if n == 0 or n is None:
            put("PSS of the process tree, idle", r.get("pss_total_mib"), "MiB")
            continue
        lat = r.get("latency_ms") or {}
        put(f"change to LKG, {n} Ingresses, p50", lat.get("p50"), "ms")
        put(f"change to LKG, {n} Ingresses, p95", lat.get("p95"), "ms", targets_p95.get(n))
        put(f"initial sync to first LKG, {n} Ingresses", r.get("sync_to_lkg_s"), "s")
        put(f"PSS of the process tree, {n} Ingresses", r.get("pss_total_mib"), "MiB",
            100 if n == 10000 else None)
        stages = r.get("change_stages_ms") or {}
        put(f"haproxy -c, {n} Ingresses (validate stage mean)", stages.get("validate"), "ms")
        put(f"render stage mean, {n} Ingresses", stages.get("render"), "ms")
        reps = r.get("replicas_pss_total_mib")
        if isinstance(reps, list) and len(reps) >= 2 and reps[0]:
            put(f"follower PSS over leader, {n} Ingresses", round(max(reps[1:]) / reps[0], 3), "x", 1.10)
    return out


def run_one(name, argv, env, logdir):
    """Runs one benchmark; returns (results, seconds, error or None). Its output goes to logdir/NAME.log."""
    extra = []
    jpath = None
    if name in ("pipeline",):
        jpath = os.path.join(logdir, f"{name}.json")
        extra = ["--json", jpath]
    t0 = time.monotonic()
    log = os.path.join(logdir, f"{name}.log")
    with open(log, "ab") as f:
        try:
            p = subprocess.run(argv + extra, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=BENCH_TIMEOUT_S)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    dt = time.monotonic() - t0
    with open(log, errors="replace") as f:
        text = f.read()
    res = parse_results(text)
    if jpath and os.path.exists(jpath):
        with open(jpath) as f:
            res.update(pipeline_results(json.load(f)))
    err = None if rc == 0 else f"exit {rc} (see {log})"
    if not res and err is None:
        err = f"no results (see {log})"
    return res, dt, err


def median_of(runs):
    """Per row name, the median value over the runs that produced it; the other fields of the first."""
    out = {}
    for name in {n for r in runs for n in r}:
        vals = [r[name]["value"] for r in runs if name in r]
        row = dict(next(r[name] for r in runs if name in r))
        row["value"] = statistics.median(vals)
        row["runs"] = len(vals)
        out[name] = row
    return out


def change(row, prev):
    """(text, regressed) comparing a row with the previous table's row of the same name."""
    if not prev or not isinstance(prev.get("value"), (int, float)):
        return "new", False
    old, new = prev["value"], row["value"]
    if old == 0:
        return ("=" if new == 0 else f"was 0"), False
    ratio = new / old
    worse = ratio > REGRESSION_RATIO if row.get("better", "lower") == "lower" else ratio < 1 / REGRESSION_RATIO
    return f"{(ratio - 1) * 100:+.0f} %", worse


def meets(row):
    t = row.get("target")
    if t is None:
        return ""
    ok = row["value"] <= t if row.get("better", "lower") == "lower" else row["value"] >= t
    return f"{t} {'met' if ok else 'MISSED'}"


def fmt(v):
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"
    return str(int(v)) if isinstance(v, float) else str(v)


def table(doc, prev):
    """The markdown page for doc (this run) against prev (the previous run's document, or None)."""
    m = doc["machine"]
    prev_rows = {r["name"]: r for r in (prev or {}).get("rows", [])}
    lines = ["# Benchmark table", "",
             "Written by `/usr/bin/python3 tests/bench/run_all.py` (docs/performance.md says how each number is",
             "measured); do not edit by hand. Rows marked REGRESSION got more than "
             f"{(REGRESSION_RATIO - 1) * 100:.0f} % worse than the previous table.", "",
             f"- date: {doc['date']}, commit {doc['commit']}{' (quick mode: not comparable)' if doc['quick'] else ''}",
             f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_mib']} MiB, kernel {m['kernel']}, {m['haproxy']}",
             f"- previous: {prev['date'] + ', commit ' + prev['commit'] if prev else 'none'}"
             + (f" ({doc['partial']})" if doc.get("partial") else ""), "",
             "| benchmark | metric | value | target | previous | change |", "|---|---|---|---|---|---|"]
    regressions = 0
    for r in doc["rows"]:
        p = prev_rows.get(r["name"])
        text, worse = change(r, p)
        regressions += worse
        lines.append(f"| {r['bench']} | {r['name']} | {fmt(r['value'])} {r['unit']} | {meets(r)} | "
                     f"{fmt(p['value']) + ' ' + p['unit'] if p else '-'} | {text}{' REGRESSION' if worse else ''} |")
    for name, err in sorted(doc["failed"].items()):
        lines.append(f"| {name} | FAILED: {err} | | | | |")
    lines.append("")
    return "\n".join(lines), regressions


def machine():
    def first(path, key):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"
    try:
        hv = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
        hv = " ".join(hv.split()[:3])
    except OSError:
        hv = "haproxy ?"
    mem = first("/proc/meminfo", "MemTotal")
    return {"nproc": os.cpu_count(), "cpu": first("/proc/cpuinfo", "model name"),
            "mem_mib": int(mem.split()[0]) // 1024 if mem != "?" else 0, "kernel": platform.release(),
            "haproxy": hv}


def commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", help="comma-separated benchmark names (see --list)")
    ap.add_argument("--repeat", type=int, help="runs of each cheap benchmark (default 3, 1 with --quick)")
    ap.add_argument("--out", help="the table (default docs/benchmarks.md; with --quick, the log directory)")
    ap.add_argument("--json", default=os.path.join(ROOT, "docs", "benchmarks.json"))
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    benches = bench_list(build, a.quick)
    if a.list:
        for name, argv, _ in benches:
            print(name, " ".join(argv))
        return 0
    if a.only:
        want = a.only.split(",")
        unknown = set(want) - {n for n, _, _ in benches}
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))} (see --list)", file=sys.stderr)
            return 2
        benches = [x for x in benches if x[0] in want]
    if not os.path.exists(os.path.join(build, "haproxy-template-ic")):
        print(f"no built tree at {build}: meson setup {a.build} && ninja -C {a.build}", file=sys.stderr)
        return 2
    prev = None
    if os.path.exists(a.json):
        with open(a.json) as f:
            prev = json.load(f)
    env = dict(os.environ, HTIC_BUILD_ROOT=build, HTIC_BIN=os.path.join(build, "haproxy-template-ic"),
               PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "tests", "integration"),
                                           os.path.join(ROOT, "tests", "kube-sim")]))
    logdir = tempfile.mkdtemp(prefix="htic-bench-all-")
    out = a.out or (os.path.join(logdir, "benchmarks.md") if a.quick else os.path.join(ROOT, "docs", "benchmarks.md"))
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "commit": commit(), "quick": a.quick, "machine": machine(), "rows": [], "failed": {}, "seconds": {}}
    print(f"benchmark logs in {logdir}", flush=True)
    for name, argv, repeat in benches:
        if not os.path.exists(argv[0] if argv[0] != PY else argv[1]):
            doc["failed"][name] = f"missing {argv[0] if argv[0] != PY else argv[1]}"
            continue
        n = repeat if a.repeat is None or repeat == 1 else a.repeat
        runs, total = [], 0.0
        for i in range(n):
            print(f"[{name}] run {i + 1}/{n} ...", flush=True)
            res, dt, err = run_one(name, argv, env, logdir)
            total += dt
            if err:
                doc["failed"][name] = err
            if res:
                runs.append(res)
        doc["seconds"][name] = round(total)
        if runs:
            rows = median_of(runs)
            doc["rows"] += [dict(rows[k], bench=name) for k in sorted(rows)]
            doc["failed"].pop(name, None) if len(runs) == n else None
        print(f"[{name}] {len(runs)} run(s), {round(total)} s, {sum(len(r) for r in runs[:1])} rows", flush=True)
    if a.only and prev and not a.quick and not prev.get("quick"):
        # a partial run updates its benchmarks' rows of the recorded table and keeps the others as they were
        ran = {n for n, _, _ in benches}
        kept = [r for r in prev.get("rows", []) if r.get("bench") not in ran]
        doc["rows"] = kept + doc["rows"]
        doc["failed"] = {**{k: v for k, v in prev.get("failed", {}).items() if k not in ran}, **doc["failed"]}
        doc["partial"] = f"{', '.join(sorted(ran))} rerun; the other rows are from {prev['date']}"
    text, regressions = table(doc, None if a.quick or (prev or {}).get("quick") else prev)
    with open(out, "w") as f:
        f.write(text)
    if not a.quick:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    print(text)
    print(f"{len(doc['rows'])} rows, {regressions} regression(s), {len(doc['failed'])} failed; table in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
