#!/usr/bin/python3
"""Benchmark of store: on-demand (not a timed test; numbers go to docs/performance.md "On-demand stores"):
the simulator seeded with N Secrets of B bytes of data each, one replica (every role) whose templates read
R of them by GetSingle, run once with store: full and once with store: on-demand. After the first LKG and a
settle, PSS and private memory of every role (/proc/PID/smaps_rollup), and the renderer's on-demand metrics.

    HTIC_BUILD_ROOT=build /usr/bin/python3 tests/bench/bench_on_demand.py [--secrets 1000] [--bytes 8192]
        [--read 10]"""
import argparse
import base64
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "kube-sim"))
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
import harness as h  # noqa: E402
from kubesim import KubeSim  # noqa: E402
from proc_mem import smaps_kb  # noqa: E402

FIRST_LKG_TIMEOUT_S = 120   # 8 MB of Secrets list in well under a second; a stall is a finding
SETTLE_S = 3.0              # let the roles go idle (and free their list pages) before sampling

PIPELINE = """watched_resources:
  secrets:
    api_version: v1
    resources: secrets
    store: {store}
    index_by: [metadata.namespace, metadata.name]
haproxy_config:
  template: |
    global
      maxconn 100
    defaults
      mode http
      timeout connect 1s
      timeout client 1s
      timeout server 1s
    frontend fe
      bind 127.0.0.1:{port}
      default_backend be
    backend be
      server s1 127.0.0.1:9
maps:
  secrets.map:
    template: |
      {{%- for i in range({read}) %}}
      {{%- set s = resources.secrets.GetSingle("bench", "s-%05d" | format(i)) %}}
      {{{{ s.metadata.name }}}} {{{{ s.data.blob | length }}}}
      {{%- endfor %}}
"""


def write_seed(path, n, nbytes):
    blob = base64.b64encode(os.urandom(nbytes * 3 // 4)).decode()
    with open(path, "w") as f:
        json.dump([{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": "s-%05d" % i, "namespace": "bench"},
                    "data": {"blob": blob[:nbytes - 8] + "%08d" % i}} for i in range(n)], f)


def metric(port, name):
    _, text = h.http_get(port, "/metrics")
    for line in text.splitlines():
        if line.startswith(name + "{") and 'role="renderer"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def run(sim, store, args):
    d = tempfile.mkdtemp(prefix=f"bench-od-{store}-")
    port = h.free_port()
    cfg = h.config(d, http_port=port, kubeconfig=sim.kubeconfig,
                   pipeline=PIPELINE.format(store=store, port=h.free_port(), read=args.read))
    sup = h.Proc([h.HTIC_BIN, "run", "--config", cfg], d, name=store)
    try:
        t0 = time.monotonic()
        h.wait_for(lambda: (h.http_get(port, "/debug/vars")[1] or "").find('"lkg":{') >= 0,
                   timeout=FIRST_LKG_TIMEOUT_S, interval=0.05, what="a first LKG")
        first = time.monotonic() - t0
        time.sleep(SETTLE_S)
        mem = {role: smaps_kb(pid) for role, pid in sup.children().items()}
        mem["supervisor"] = smaps_kb(sup.pid)
        return first, mem, metric(port, "haproxy_ic_renderer_on_demand_cached_objects"), \
            metric(port, "haproxy_ic_renderer_on_demand_fetches_total")
    finally:
        sup.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secrets", type=int, default=1000)
    ap.add_argument("--bytes", type=int, default=8192)
    ap.add_argument("--read", type=int, default=10)
    args = ap.parse_args()
    seed = os.path.join(tempfile.mkdtemp(prefix="bench-od-seed-"), "seed.json")
    write_seed(seed, args.secrets, args.bytes)
    print(f"# {args.secrets} Secrets of {args.bytes} bytes of data, templates read {args.read}")
    with KubeSim(seed=seed, auto_namespaces=True) as sim:
        res = {store: run(sim, store, args) for store in ("full", "on-demand")}
    roles = ["supervisor", "reconciler", "renderer", "validator", "executor", "discovery", "elector", "deployer"]
    print("%-12s %22s %22s" % ("role", "full PSS/private KiB", "on-demand PSS/private"))
    for role in roles:
        f, o = res["full"][1].get(role), res["on-demand"][1].get(role)
        if f or o:
            print("%-12s %22s %22s" % (role, f"{f[0]}/{f[2]}" if f else "-", f"{o[0]}/{o[2]}" if o else "-"))
    for store in ("full", "on-demand"):
        first, mem, cached, fetches = res[store]
        print(f"{store}: first LKG {first:.2f} s, tree PSS {sum(v[0] for v in mem.values())} KiB, "
              f"cached {cached}, fetches {fetches}")


if __name__ == "__main__":
    main()
