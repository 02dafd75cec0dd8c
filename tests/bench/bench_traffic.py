#!/usr/bin/python3
"""Event to traffic-live benchmark of the deployer's two lanes (not a timed test; numbers go to
docs/performance.md "Deployer: event to traffic"). The simulator holds N Ingresses with their Services and
EndpointSlices, one controller replica renders the shipped deploy/examples/ingress.yaml and its deployer
pushes to a real HAProxy master-worker; HTTP backends answer on loopback. A client polls through HAProxy
(a new connection per request, a few ms apart) and the latency of a change is the time from the
simulator's answer to the write to the first answer that shows the change:
  - fast lane: the probe Service's only endpoint moves to another backend (EndpointSlice update; each
    move goes to a backend on an address and port not used before, so every change is a rendering never
    validated before, as endpoint churn is); live when the answer comes from the new backend;
  - reload lane: a new Service, EndpointSlice and Ingress for a new host (measured from the Ingress
    write); live when that host stops answering 404;
  - endpoint churn: endpoint updates at a fixed rate for a bounded time, counting the reloads and the
    fast-lane pushes from the deployer's metrics, reported per hour.
The deploy section is the schema's defaults (min_deployment_interval 2s, leading edge) unless
--min-interval is given; the changes are spaced wider than that, so each is an isolated change.

    HTIC_BUILD_ROOT=build /usr/bin/python3 tests/bench/bench_traffic.py [--scales 100,1000] [--changes 20]
        [--churn-seconds 60] [--churn-rate 2] [--json out.json] [--keep]"""
import argparse
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("HTIC_BUILD_ROOT", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "kube-sim"))
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
import harness as h  # noqa: E402
import test_ingress_templates as ti  # noqa: E402
from kubesim import KubeSim  # noqa: E402
import result  # noqa: E402

# Bounds on every wait: a stuck lane ends the run with a finding instead of hanging it.
SETUP_TIMEOUT_S = 300
LIVE_TIMEOUT_S = 30
POLL_S = 0.002          # between two probe requests (each on a new connection)
GAP_S = 2.5             # between two measured changes: wider than min_deployment_interval (2 s)
PROBE_HOST = "probe.example.com"


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def write_seed(path, n, port):
    """N Ingresses (host ing-i.example.com) each with its Service and a one-endpoint EndpointSlice."""
    objs = []
    for i in range(n):
        objs.append(ti.service(f"svc-{i}", 80, 80))
        objs.append(ti.slice_(f"svc-{i}-1", f"svc-{i}", port, [("127.0.0.1", True)]))
        objs.append(ti.ingress(f"ing-{i}", f"ing-{i}.example.com", f"svc-{i}", 80))
    with open(path, "w") as f:
        json.dump(objs, f)


def answer(port, host):
    """The backend name that answered a GET for host, 'status:N' for other statuses, or None on error."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        c.request("GET", "/", headers={"Host": host})
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        return body.split()[1] if r.status == 200 and body.startswith("backend ") else f"status:{r.status}"
    except OSError:
        return None
    finally:
        c.close()


def wait_live(port, host, want):
    """Polls until the answer for host is want; returns the wall time of that answer or None on timeout."""
    end = time.monotonic() + LIVE_TIMEOUT_S
    while time.monotonic() < end:
        if answer(port, host) == want:
            return time.time()
        time.sleep(POLL_S)
    return None


def metric_sum(port, name, **labels):
    """Sum of a counter's samples whose labels include these."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


# Histograms whose means split a lane's latency into its stages: render, haproxy -c, the push itself.
STAGES = {"render": ("haproxy_ic_render_duration_seconds", {}),
          "validate": ("haproxy_ic_validation_duration_seconds", {}),
          "push": ("haproxy_ic_deploy_push_duration_seconds", None)}


def stage_totals(port, lane):
    """{stage: (sum_s, count)} of the STAGES histograms (the push one for this lane)."""
    out = {}
    for stage, (name, labels) in STAGES.items():
        labels = {"lane": lane} if labels is None else labels
        out[stage] = (metric_sum(port, name + "_sum", **labels), metric_sum(port, name + "_count", **labels))
    return out


def stage_means_ms(before, after):
    out = {}
    for k in after:
        ds, dc = after[k][0] - before[k][0], after[k][1] - before[k][1]
        if dc > 0:
            out[k] = round(ds / dc * 1000, 1)
    return out


def write(sim, method, path, obj):
    """Writes obj through test_ingress_templates' create (POST) or replace (PUT at the current
    resourceVersion) and returns the wall time of the simulator's answer."""
    (ti.replace if method == "PUT" else ti.create)(sim, path, obj)
    return time.time()


def bench_scale(n, args):
    r = {"scale": n}
    a, b = ti.echo_backend("a"), ti.echo_backend("b")
    tmp = tempfile.mkdtemp(prefix="htic-bench-traffic-")
    sock_dir = tempfile.mkdtemp(prefix="htic-bt-", dir="/tmp")  # haproxy's unix socket paths are short
    master = os.path.join(sock_dir, "master.sock")
    seed = os.path.join(tmp, "seed.json")
    write_seed(seed, n, a.port)
    haproxy = proc = None
    moved = []
    try:
        with KubeSim(seed=seed, auto_namespaces=True, history=100000) as sim:
            extra = {"runtime_socket": os.path.join(sock_dir, "admin.sock")}
            port = h.free_port()
            path, cfg = ti.write_config(tmp, sim, port, extra, master_socket=master)
            if args.min_interval is not None:
                cfg["deploy"] = {"min_deployment_interval": args.min_interval, "deployment_timeout": "30s"}
            else:
                cfg.pop("deploy", None)  # the schema's defaults, as a user gets them
            with open(path, "w") as f:
                yaml.safe_dump(cfg, f, sort_keys=False)
            hp = cfg["templating_settings"]["extra_context"]["http_port"]
            haproxy = ti.start_haproxy(tmp, master)
            t0 = time.monotonic()
            proc = h.Proc([h.HTIC_BIN, "run", "--config", path], tmp, name="controller")
            write(sim, "POST", ti.SVC, ti.service("probe", 80, 80))
            write(sim, "POST", ti.EPS, ti.slice_("probe-1", "probe", a.port, [("127.0.0.1", True)]))
            write(sim, "POST", ti.NET, ti.ingress("probe", PROBE_HOST, "probe", 80))
            h.wait_for(lambda: answer(hp, PROBE_HOST) == "a" and answer(hp, f"ing-{n - 1}.example.com") == "a",
                       timeout=SETUP_TIMEOUT_S, interval=0.2, what=f"traffic through haproxy at {n} Ingresses")
            r["setup_s"] = round(time.monotonic() - t0, 1)
            time.sleep(GAP_S)

            fast, reload_lane = [], []
            backends = {"a": a.port, "b": b.port}
            st0 = stage_totals(port, "fast")
            for k in range(args.changes):
                # a fresh backend on its own loopback address: never the same rendering twice
                bk = ti.echo_backend(f"m{k}", host=f"127.0.1.{k + 1}")
                moved.append(bk)
                t = write(sim, "PUT", ti.EPS, ti.slice_("probe-1", "probe", bk.port, [(bk.host, True)]))
                live = wait_live(hp, PROBE_HOST, f"m{k}")
                if live is None:
                    r.setdefault("fast_timeouts", 0)
                    r["fast_timeouts"] += 1
                else:
                    fast.append((live - t) * 1000)
                time.sleep(GAP_S)
            r["fast_stages_ms"] = stage_means_ms(st0, stage_totals(port, "fast"))
            st0 = stage_totals(port, "reload")
            for k in range(args.changes):
                name = f"new-{k}"
                write(sim, "POST", ti.SVC, ti.service(name, 80, 80))
                write(sim, "POST", ti.EPS, ti.slice_(f"{name}-1", name, a.port, [("127.0.0.1", True)]))
                t = write(sim, "POST", ti.NET, ti.ingress(name, f"{name}.example.com", name, 80))
                live = wait_live(hp, f"{name}.example.com", "a")
                if live is None:
                    r.setdefault("reload_timeouts", 0)
                    r["reload_timeouts"] += 1
                else:
                    reload_lane.append((live - t) * 1000)
                time.sleep(GAP_S)
            r["reload_stages_ms"] = stage_means_ms(st0, stage_totals(port, "reload"))
            for lane, xs in (("fast", fast), ("reload", reload_lane)):
                if xs:
                    r[f"{lane}_ms"] = {"n": len(xs), "p50": round(pct(xs, 50)), "p95": round(pct(xs, 95)),
                                       "min": round(min(xs)), "max": round(max(xs))}

            # endpoint churn: reloads and fast pushes counted by the deployer over a bounded window
            if args.churn_seconds > 0:
                reloads0 = metric_sum(port, "haproxy_ic_deploy_reloads_total")
                fast0 = metric_sum(port, "haproxy_ic_deploy_pushes_total", lane="fast", result="ok")
                end = time.monotonic() + args.churn_seconds
                writes = 0
                while time.monotonic() < end:
                    i = writes % n
                    which = "b" if (writes // n) % 2 == 0 else "a"
                    write(sim, "PUT", ti.EPS, ti.slice_(f"svc-{i}-1", f"svc-{i}", backends[which],
                                                         [("127.0.0.1", True)]))
                    writes += 1
                    time.sleep(1.0 / args.churn_rate)
                time.sleep(GAP_S * 2)
                reloads = metric_sum(port, "haproxy_ic_deploy_reloads_total") - reloads0
                fasts = metric_sum(port, "haproxy_ic_deploy_pushes_total", lane="fast", result="ok") - fast0
                per_h = 3600.0 / args.churn_seconds
                r["churn"] = {"seconds": args.churn_seconds, "writes": writes, "reloads": int(reloads),
                              "fast_pushes": int(fasts), "reloads_per_hour": round(reloads * per_h),
                              "fast_pushes_per_hour": round(fasts * per_h)}
            r["errors"] = [ln[:300] for ln in proc.text().splitlines()
                           if re.search(r"level=(error|warn)", ln)][:10]
    finally:
        if proc is not None:
            proc.stop()
        if haproxy is not None:
            ti.stop_haproxy(haproxy)
        for x in [a, b] + moved:
            x.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
        if args.keep:
            print(f"kept {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="100,1000")
    ap.add_argument("--changes", type=int, default=20, help="measured changes per lane and scale")
    ap.add_argument("--churn-seconds", type=float, default=60)
    ap.add_argument("--churn-rate", type=float, default=2.0, help="endpoint updates per second")
    ap.add_argument("--min-interval", help="deploy.min_deployment_interval (default: the schema's)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, run dir) of each scale")
    args = ap.parse_args()
    out = []
    for n in [int(x) for x in args.scales.split(",")]:
        r = bench_scale(n, args)
        print(f"scale {n}: {json.dumps(r)}", flush=True)
        out.append(r)
        for lane in ("fast", "reload"):
            s = r.get(f"{lane}_ms")
            if s:
                result.emit(f"event to live, {lane} lane, {n} Ingresses, p50", s["p50"], "ms")
                result.emit(f"event to live, {lane} lane, {n} Ingresses, p95", s["p95"], "ms",
                            target=100 if lane == "fast" else 1000)
        if "churn" in r:
            result.emit(f"reloads per hour of endpoint churn, {n} Ingresses", r["churn"]["reloads_per_hour"],
                        "reloads", target=0)
    print("\n| Ingresses | fast lane p50 / p95 (min-max) | reload lane p50 / p95 (min-max) | churn: writes, "
          "reloads, fast pushes |")
    print("|---|---|---|---|")
    for r in out:
        def cell(s):
            return f"{s['p50']} / {s['p95']} ms ({s['min']}-{s['max']}, n={s['n']})" if s else "-"
        c = r.get("churn", {})
        print(f"| {r['scale']} | {cell(r.get('fast_ms'))} | {cell(r.get('reload_ms'))} | "
              f"{c.get('writes', '-')} in {c.get('seconds', '-')} s, {c.get('reloads', '-')}, "
              f"{c.get('fast_pushes', '-')} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
