#!/usr/bin/env python3
"""Failover-to-push benchmark (run by hand; results go into docs/performance.md, never asserted): how soon
after it became leader a new leader's deployer acts on the targets (issue 10's target: under 200 ms).

Rig: tests/integration/test_failover_deploy.py's FailoverRig: three full replicas under election against the
API simulator, sharing a local HAProxy (master socket) and the Data Plane API stand-in (a second real
HAProxy). Each trial is a graceful handoff (SIGTERM to the leader's supervisor; it is restarted afterwards)
of one of two kinds, alternating:

  in sync   the targets already run the LKG: the new leader's `became leader` log line to the first
            /debug/vars of it showing every target in sync (compares only; polled every POLL_S, so up to
            that much late)
  differs   both targets edited by hand just before the handoff: `became leader` to the new deployer's
            first `push` log line (a push started), and to every target in sync again (polled)

Usage: /usr/bin/python3 tests/bench/bench_failover_push.py [--trials 20] [--no-dataplane]
Needs a built tree (HTIC_BUILD_ROOT, default ./build)."""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("HTIC_BUILD_ROOT", os.path.join(ROOT, "build"))
os.environ.setdefault("HTIC_BIN", os.path.join(os.environ["HTIC_BUILD_ROOT"], "haproxy-template-ic"))
os.environ.setdefault("KUBE_SIM_BIN", os.path.join(os.environ["HTIC_BUILD_ROOT"], "tests", "kube-sim", "kube-sim"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
import harness as h  # noqa: E402
import test_failover_deploy as fd  # noqa: E402
from bench_election import LOGTIME, pct  # noqa: E402
import result  # noqa: E402

POLL_S = 0.005  # /debug/vars polling period for "in sync" (one loopback HTTP GET costs about 1 ms)


def summary(name, xs, row=None, target=None):
    """The line for people and, when row names the table row, its p50 and p95 for run_all.py."""
    print(f"{name}: n={len(xs)} p50={pct(xs, 50):.0f}ms p95={pct(xs, 95):.0f}ms "
          f"min={min(xs):.0f}ms max={max(xs):.0f}ms", flush=True)
    if row and xs:
        result.emit(f"{row}, p50", round(pct(xs, 50)), "ms")
        result.emit(f"{row}, p95", round(pct(xs, 95)), "ms", target=target)


def first_line_after(text, since, role, msg):
    """Wall time of the first log line of role with message msg at or after since, or None."""
    want = f'msg="{msg}"' if " " in msg else f"msg={msg}"
    for line in text.splitlines():
        m = LOGTIME.match(line)
        t = fd.parse_time(m.group(1)) if m else None  # UTC, comparable with time.time()
        if t is not None and t >= since and f"role={role} " in line and (want + " " in line or line.endswith(want)):
            return t
    return None


def edit_targets(rig):
    with open(rig.cfg_path, "a") as f:
        f.write("# edited by hand\n")
    if rig.dp:
        raw = rig.dp.request("GET", fd.dpsim.B + "/configuration/raw")[2].decode()
        rig.dp.push("".join(line for line in raw.splitlines(True) if "haproxy-template-ic" not in line)
                    + "# edited by hand\n")


def in_sync_at(rig, checksum, live):
    """(replica, wall time) of the first poll showing a live replica with every target in sync."""
    def probe():
        for i in live:
            if rig.all_in_sync(i, checksum):
                return (i, time.time())
        return None
    return h.wait_for(probe, timeout=fd.WAIT_S, interval=POLL_S, what="every target in sync")


def run(trials, dataplane):
    sync_ms, push_ms, repaired_ms = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        rig = fd.FailoverRig(tmp, dataplane=dataplane)
        try:
            fd.add_ingress(rig, "web")
            leader = rig.leader()
            checksum = fd.converged(rig, leader, lambda cfg: "be_shop_web" in cfg)
            for k in range(trials):
                differs = k % 2 == 1
                if differs:
                    edit_targets(rig)
                since = time.time()
                rig.sigterm(leader)
                live = [i for i in range(rig.n) if i != leader]
                new, t_sync = in_sync_at(rig, checksum, live)
                text = rig.procs[new].text()
                became = first_line_after(text, since, "elector", "became leader")
                if differs:
                    pushed = first_line_after(text, since, "deployer", "push")
                    push_ms.append((pushed - became) * 1000)
                    repaired_ms.append((t_sync - became) * 1000)
                else:
                    sync_ms.append((t_sync - became) * 1000)
                    assert not rig.writes_of(fd.term_of(rig, new)), "an in-sync handoff pushed"
                rig.restart(leader)
                leader = new
                fd.converged(rig, leader)
        finally:
            rig.close()
    targets = "local + Data Plane API" if dataplane else "local"
    print(f"targets: {targets}; {trials} graceful handoffs", flush=True)
    summary("in sync: became leader -> every target compared in sync (no push)", sync_ms,
            row="became leader to all targets in sync, nothing to push", target=200)
    summary("differs: became leader -> first push started", push_ms,
            row="became leader to first push", target=200)
    summary("differs: became leader -> every target repaired and in sync", repaired_ms,
            row="became leader to every target repaired")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--no-dataplane", action="store_true", help="the local target only")
    a = ap.parse_args()
    run(max(2, a.trials), not a.no_dataplane)


if __name__ == "__main__":
    main()
