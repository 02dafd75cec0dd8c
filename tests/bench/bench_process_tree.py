#!/usr/bin/python3
"""Benchmark of the process tree (not a timed test): for one replica, with leader election off and on
(against the API simulator), over N trials: time from exec of the supervisor to "all children up", memory
(PSS and RSS) of every process once up, and time from SIGTERM to exit. Prints a Markdown table.

    HTIC_BUILD_ROOT=build /usr/bin/python3 tests/bench/bench_process_tree.py [--trials 10]"""
import argparse
import os
import re
import signal
import statistics
import subprocess
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
import result  # noqa: E402


def mem_kb(pid):
    return smaps_kb(pid)[:2]


def trial(tmp, kubeconfig):
    cfg = h.config(tmp, election=bool(kubeconfig), kubeconfig=kubeconfig,
                   leader_election_extra="    lease_namespace: default\n" if kubeconfig else "")
    t0 = time.monotonic()
    p = h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp, name="supervisor")
    try:
        want = 7  # supervisor + 5 workers + deployer (disabled) or + elector + deployer (leading)
        kids = h.wait_for(lambda: (lambda k: k if len(k) >= want - 1 else None)(p.children()), timeout=20,
                          interval=0.001, what="children")
        h.wait_for(lambda: "deployer ready" in p.text() and "startup_ms=" in p.text(), timeout=20,
                   interval=0.001, what="deployer ready and all children up")
        up = float(re.search(r"startup_ms=(\d+)", p.text()).group(1))
        time.sleep(0.5)
        mem = {"supervisor": mem_kb(p.pid)}
        mem.update({role: mem_kb(pid) for role, pid in p.children().items()})
        t1 = time.monotonic()
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(30)
        down = (time.monotonic() - t1) * 1000
        assert rc == 0, rc
        return up, down, mem, (time.monotonic() - t0)
    finally:
        p.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10)
    args = ap.parse_args()
    print("| mode | all children up, p50 / max (ms) | SIGTERM to exit, p50 / max (ms) | PSS total (MiB) | "
          "RSS per process (MiB) |")
    print("|---|---|---|---|---|")
    for mode in ("election disabled", "election enabled (leader)"):
        ups, downs, pss, rss = [], [], [], []
        for _ in range(args.trials):
            with tempfile.TemporaryDirectory(prefix="htic-bench-") as tmp:
                if mode.startswith("election enabled"):
                    with KubeSim(auto_namespaces=True) as sim:
                        up, down, mem, _ = trial(tmp, sim.kubeconfig)
                else:
                    up, down, mem, _ = trial(tmp, None)
            ups.append(up)
            downs.append(down)
            pss.append(sum(v[0] for v in mem.values()) / 1024)
            rss.append(statistics.median(v[1] for v in mem.values()) / 1024)
        print(f"| {mode} ({len(mem)} processes) | {statistics.median(ups):.0f} / {max(ups):.0f} | "
              f"{statistics.median(downs):.0f} / {max(downs):.0f} | {statistics.median(pss):.1f} | "
              f"{statistics.median(rss):.1f} |")
        if mode.startswith("election enabled"):
            result.emit("all children up after exec, p50", round(statistics.median(ups)), "ms")
            result.emit("SIGTERM to exit, p50", round(statistics.median(downs)), "ms")
            result.emit("PSS of the process tree, idle, no objects", round(statistics.median(pss), 1), "MiB")


if __name__ == "__main__":
    main()
