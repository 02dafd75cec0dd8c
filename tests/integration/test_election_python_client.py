#!/usr/bin/env python3
"""Interop with a candidate built on Debian's python3-kubernetes (its leaderelection module over a LeaseLock
on CoordinationV1Api, tests/integration/py_lease_candidate.py), contending with our replicas for one Lease on
the API simulator. Mutual exclusion both ways: while it leads none of ours does, and while one of ours
leads it does not; a crashed candidate is replaced only after the Lease expired, a released Lease is taken
at once, and our deployer's last side effect comes before the candidate starts leading."""
import os
import signal
import subprocess
import sys
import time

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

LD, RD, RP = 5, 3, 1  # python3-kubernetes wants whole seconds
LEASE = "haproxy-template-ic-leader"


class Candidate:
    def __init__(self, tmp, sim, ident="py-candidate"):
        # its own lines on stdout; the library's logging (another thread, on stderr) kept apart so that the
        # two never share a line
        self.out_path = os.path.join(tmp, "candidate.out")
        self.out = open(self.out_path, "w")
        self.err = open(os.path.join(tmp, "candidate.log"), "w")
        self.p = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(h.SOURCE_ROOT, "tests", "integration", "py_lease_candidate.py"),
             sim.kubeconfig, "default", LEASE, ident, str(LD), str(RD), str(RP)],
            stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL)

    def event(self, word):
        for line in h.open_text(self.out_path).splitlines():
            if line.startswith(word + " "):
                return float(line.split()[1])
        return None

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.out.close()
        self.err.close()


def start_replica(tmp, sim, i):
    d = os.path.join(tmp, f"r{i}")
    os.makedirs(d, exist_ok=True)
    port = h.free_port()
    cfg = h.config(d, election=True, http_port=port, kubeconfig=sim.kubeconfig, leader_election_extra=(
        f"    lease_namespace: default\n    identity: replica-{i}\n    lease_duration: {LD}s\n"
        f"    renew_deadline: {RD}s\n    retry_period: {RP}s\n"))
    p = h.Proc([h.HTIC_BIN, "run", "--config", cfg], d, name="supervisor")
    p.journal = os.path.join(d, "run", "deployer.journal")
    return p


def holder(sim):
    st, _, obj = sim.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{LEASE}")
    return obj["spec"].get("holderIdentity") if st == 200 else None


def test_candidate_leads_ours_wait_until_its_lease_expires(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        cand = Candidate(tmp, sim)
        replicas = []
        try:
            h.wait_for(lambda: cand.event("LEADING"), timeout=15, what="candidate leading")
            replicas = [start_replica(tmp, sim, i) for i in range(2)]
            t_end = time.monotonic() + 2 * LD
            while time.monotonic() < t_end:  # longer than a lease: renewals must keep ours out
                assert not h.deployers(replicas), "a replica deploys while the python candidate leads"
                assert holder(sim) == "py-candidate"
                time.sleep(0.05)
            assert all(not h.read_journal(r.journal) for r in replicas)
            killed = time.monotonic()
            cand.p.kill()
            new = h.wait_for(lambda: h.deployers(replicas), timeout=LD + 2 * RP + 5, interval=0.01,
                             what="one of ours takes over")
            took = time.monotonic() - killed
            # the candidate renewed up to RP before the kill; ours count lease_duration from when they saw it
            assert took >= LD - RP - 0.5, f"took over {took:.2f}s after the candidate died: before expiry"
            assert len(new) == 1
            assert holder(sim).startswith("replica-")
        finally:
            cand.stop()
            for r in replicas:
                r.stop()


def test_ours_lead_candidate_waits_then_takes_the_released_lease(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        r = start_replica(tmp, sim, 0)
        cand = None
        try:
            h.wait_for(lambda: h.deployers([r]), timeout=15, what="our replica leading")
            cand = Candidate(tmp, sim)
            t_end = time.monotonic() + 2 * LD
            while time.monotonic() < t_end:
                assert cand.event("LEADING") is None, "the python candidate leads while our replica does"
                assert holder(sim) == "replica-0"
                time.sleep(0.05)
            os.kill(r.pid, signal.SIGTERM)  # releases the Lease on its way out
            assert r.wait(timeout=25) == 0
            leading = h.wait_for(lambda: cand.event("LEADING"), timeout=RP + 3, what="candidate takes the released Lease")
            last_ours = max(e["mono_ms"] for e in h.read_journal(r.journal)) / 1000.0
            assert last_ours < leading, (last_ours, leading)
            assert holder(sim) == "py-candidate"
            _, _, obj = sim.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{LEASE}")
            assert obj["spec"]["leaseTransitions"] == 1, obj["spec"]
        finally:
            if cand:
                cand.stop()
            r.stop()


if __name__ == "__main__":
    h.run([
        test_candidate_leads_ours_wait_until_its_lease_expires,
        test_ours_lead_candidate_waits_then_takes_the_released_lease,
    ])
