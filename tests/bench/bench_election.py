#!/usr/bin/env python3
"""Leader-election benchmark (run by hand; results go into docs/performance.md, never asserted):

  handoff   graceful handoff: SIGTERM to the leader's supervisor until another replica holds the Lease
            (3 replicas, lease 15s / renew 10s / retry 2s), N trials
  failover  crash failover: SIGKILL of the leader's supervisor; reported as (new holder's first write -
            leader's last renewal - lease_duration), from the simulator's audit log (lease 4s / 2.5s / 1s)
  ready     became leader -> deployer ready, from the new leader's log, over the handoff trials
  requests  Lease API requests per minute of a leader and of a follower (per-replica counts from the
            test Lease API in tests/integration/election_api.py), lease 15s / 10s / 2s, over 60 s

Usage: /usr/bin/python3 tests/bench/bench_election.py [--trials 20] [--only handoff,failover,requests]
Needs a built tree (HTIC_BUILD_ROOT, default ./build)."""
import argparse
import contextlib
import datetime
import os
import re
import signal
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("HTIC_BUILD_ROOT", os.path.join(ROOT, "build"))
os.environ.setdefault("HTIC_BIN", os.path.join(os.environ["HTIC_BUILD_ROOT"], "haproxy-template-ic"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "kube-sim"))
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
import harness as h  # noqa: E402
import result  # noqa: E402
import test_election_sim as es  # noqa: E402
from election_api import LeaseAPI, kubeconfig  # noqa: E402
from kubesim import KubeSim  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def summary(name, xs, unit="ms", row=None):
    """Prints the line for people and, when row names the table row, its p50 and p99 for run_all.py."""
    print(f"{name}: n={len(xs)} p50={pct(xs, 50):.0f}{unit} p99={pct(xs, 99):.0f}{unit} "
          f"min={min(xs):.0f}{unit} max={max(xs):.0f}{unit}", flush=True)
    if row:
        result.emit(f"{row}, p50", round(pct(xs, 50)), unit)
        result.emit(f"{row}, p99", round(pct(xs, 99)), unit)


LOGTIME = re.compile(r"^time=(\S+) ")


def log_time(line):
    m = LOGTIME.match(line)
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() if m else None


def ready_latency(text, since):
    """Seconds from the last 'became leader' (elector) to the next 'deployer ready' after wall time since."""
    became = None
    for line in text.splitlines():
        t = log_time(line)
        if t is None or t < since:
            continue
        if "role=elector" in line and 'msg="became leader"' in line:
            became = t
        elif became is not None and 'msg="deployer ready"' in line:
            return t - became
    return None


def deployers(procs):
    """Indices of the replicas whose supervisor has a deployer child right now."""
    return [i for i, p in enumerate(procs) if p.children().get("deployer")]


def restart(stack, tmp, sim, procs, i, timing):
    procs[i] = es.replica(stack, tmp, sim, i, **timing)


def bench_handoff(trials):
    timing = dict(ld="15s", rd="10s", rp="2s")
    handoff, ready = [], []
    with tempfile.TemporaryDirectory() as tmp, KubeSim(auto_namespaces=True) as sim, \
            contextlib.ExitStack() as stack:
        procs = [es.replica(stack, tmp, sim, i, **timing) for i in range(3)]
        leader = es.wait_leader(sim, procs, timeout=30)
        for _ in range(trials):
            time.sleep(1.5)  # followers watching again after the last change
            t_wall = time.time()
            t0 = time.monotonic()
            os.kill(procs[leader].pid, signal.SIGTERM)
            h.wait_for(lambda: es.holder_index(sim) not in (None, leader), timeout=30, what="new holder")
            handoff.append((time.monotonic() - t0) * 1000)
            new = es.holder_index(sim)
            h.wait_for(lambda: deployers(procs) == [new], timeout=30, what="deployer")
            lat = h.wait_for(lambda: ready_latency(procs[new].text(), t_wall - 0.5), timeout=10,
                             what="deployer ready line")
            ready.append(lat * 1000)
            procs[leader].wait(timeout=30)
            restart(stack, tmp, sim, procs, leader, timing)
            leader = new
    summary("graceful handoff (SIGTERM -> new holder)", handoff, row="graceful handoff")
    summary("became leader -> deployer ready", ready, row="became leader to deployer ready")


def bench_failover(trials):
    timing = es.TIMING
    over = []
    with tempfile.TemporaryDirectory() as tmp, KubeSim(auto_namespaces=True) as sim, \
            contextlib.ExitStack() as stack:
        procs = [es.replica(stack, tmp, sim, i, **timing) for i in range(3)]
        leader = es.wait_leader(sim, procs, timeout=30)
        for _ in range(trials):
            time.sleep(1.5)
            os.kill(procs[leader].pid, signal.SIGKILL)
            h.wait_for(lambda: es.holder_index(sim) not in (None, leader), timeout=30, what="failover")
            writes = es.lease_writes(sim)
            last = max(t for t, hid, _ in writes if hid == f"replica-{leader}")
            new_t = next(t for t, hid, _ in writes if hid not in (f"replica-{leader}", "") and t > last)
            over.append((new_t - last - es.LD) * 1000)
            new = es.holder_index(sim)
            procs[leader].wait(timeout=10)
            restart(stack, tmp, sim, procs, leader, timing)
            leader = new
    summary(f"crash failover minus lease_duration ({es.LD:.0f}s), after the last renewal", over,
            row="crash failover beyond lease_duration")


def bench_requests(seconds=60):
    api = LeaseAPI(3)
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
            procs = []
            for i in range(3):
                d = os.path.join(tmp, f"r{i}")
                os.makedirs(d)
                kc = kubeconfig(os.path.join(d, "kubeconfig"), api.url(i))
                cfg = h.config(d, election=True, leader_election_extra=(
                    "    lease_name: lease\n    lease_namespace: ns\n    lease_duration: 15s\n"
                    "    renew_deadline: 10s\n    retry_period: 2s\n"), kubeconfig=kc)
                procs.append(stack.enter_context(h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp,
                                                        env={"POD_NAME": f"replica-{i}"}, name=f"r{i}")))
            h.wait_for(lambda: (api.holder() or "").startswith("replica-"), timeout=30, what="leader")
            time.sleep(6)
            leader = int(api.holder().split("-")[1])
            before = dict(api.requests)
            time.sleep(seconds)
            after = dict(api.requests)
        rows = {"leader": [], "follower": []}
        for i in range(3):
            made = {k[1]: after.get(k, 0) - before.get(k, 0) for k in after if k[0] == i}
            role = "leader" if i == leader else "follower"
            per_min = {k: round(v * 60.0 / seconds, 1) for k, v in sorted(made.items()) if v}
            print(f"requests per minute, {role} replica-{i}: {per_min or 'none'}", flush=True)
            rows[role].append(sum(per_min.values()))
        for role, xs in rows.items():
            if xs:
                result.emit(f"Lease API requests per minute, {role}", max(xs), "req/min")
    finally:
        api.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--only", default="handoff,failover,requests")
    a = ap.parse_args()
    only = a.only.split(",")
    if "handoff" in only:
        bench_handoff(a.trials)
    if "failover" in only:
        bench_failover(a.trials)
    if "requests" in only:
        bench_requests()


if __name__ == "__main__":
    main()
