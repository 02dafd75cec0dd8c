#!/usr/bin/env python3
"""The supervisor's side of leadership, with the real elector against the API simulator: the deployer
exists only while the elector leads, dies at once with a crashed elector, is killed at the fence when the
elector freezes, and /healthz turns red while a frozen elector still claims a Lease it can no longer hold."""
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

FAST = "    lease_namespace: default\n    lease_duration: 3s\n    renew_deadline: 2s\n    retry_period: 500ms\n"


# Long enough that an 11 s stop of the supervisor stays inside the deployer's fence.
SLOW_FENCE = "    lease_namespace: default\n    lease_duration: 30s\n    renew_deadline: 20s\n    retry_period: 500ms\n"


def start(tmp, sim, identity="pod-a", timings=FAST):
    port = h.free_port()
    cfg = h.config(tmp, election=True, http_port=port, kubeconfig=sim.kubeconfig,
                   leader_election_extra=timings + f"    identity: {identity}\n")
    return h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp, name="supervisor"), port


def status(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:  # not listening yet
        return 0, ""


def leading(port):
    code, body = status(port, "/debug/vars")
    return code == 200 and json.loads(body)["leader_election"]["is_leader"]


def test_elector_crash_kills_the_deployer_at_once_and_leadership_resumes(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        p, port = start(tmp, sim)
        with p:
            kids = h.wait_for(lambda: (lambda k: k if "deployer" in k and "elector" in k else None)(p.children()),
                              what="leader with a deployer")
            os.kill(kids["elector"], signal.SIGKILL)
            t0 = time.monotonic()
            h.wait_for(lambda: not h.alive(kids["deployer"]), timeout=2, interval=0.001, what="deployer killed")
            killed_after = time.monotonic() - t0
            assert killed_after < 0.5, killed_after
            assert "elector_crashed" in p.text()
            # the restarted elector finds the Lease held by its own identity and renews it: same holder,
            # no new transition, a new deployer
            h.wait_for(lambda: (lambda k: k.get("deployer") not in (None, kids["deployer"]))(p.children()),
                       timeout=10, what="new deployer")
            _, _, lease = sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                                      "haproxy-template-ic-leader")
            assert lease["spec"]["holderIdentity"] == "pod-a", lease
            assert lease["spec"].get("leaseTransitions", 0) == 0, lease


def test_frozen_elector_loses_the_deployer_at_the_fence_and_fails_healthz(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        p, port = start(tmp, sim)
        with p:
            kids = h.wait_for(lambda: (lambda k: k if "deployer" in k and "elector" in k else None)(p.children()),
                              what="leader with a deployer")
            assert status(port, "/healthz")[0] == 200
            os.kill(kids["elector"], signal.SIGSTOP)
            t0 = time.monotonic()
            h.wait_for(lambda: not h.alive(kids["deployer"]), timeout=4, interval=0.01, what="deployer killed")
            at_fence = time.monotonic() - t0
            assert at_fence <= 2.3, at_fence  # renew_deadline (2 s) after the last renewal, not later
            assert "fence passed without a renewal" in p.text()
            h.wait_for(lambda: status(port, "/healthz")[0] == 500, timeout=4, what="healthz red")
            # the hung elector is killed (10 s without a heartbeat) and replaced: healthy again
            h.wait_for(lambda: status(port, "/healthz")[0] == 200, timeout=15, what="healthz green again")
            h.wait_for(lambda: leading(port), timeout=10, what="leading again")


def test_late_became_leader_still_gets_a_deployer_once_renewals_come(tmp):
    """The supervisor reads became_leader only after its fence passed (it was frozen, or its loop was slow):
    no deployer then, but the elector keeps renewing, and the first renewal with a fence ahead must start
    one. Otherwise the replica holds the Lease for good while nobody deploys."""
    with KubeSim(auto_namespaces=True) as sim:
        # slow lease requests give the test time to freeze the supervisor before the elector acquires
        sim.faults(latency_ms=1000, latency_path="/apis/coordination.k8s.io")
        p, port = start(tmp, sim)
        with p:
            h.wait_for(lambda: "elector" in p.children(), interval=0.001, what="elector started")
            os.kill(p.pid, signal.SIGSTOP)
            try:
                sim.reset_faults()
                # acquisition (~1 s) plus renew_deadline (2 s): became_leader's fence passes while we sleep
                h.wait_for(lambda: sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                                               "haproxy-template-ic-leader")[0] == 200, timeout=5,
                           what="lease created")
                time.sleep(3.5)
            finally:
                os.kill(p.pid, signal.SIGCONT)
            h.wait_for(lambda: "became_leader arrived with its fence already passed" in p.text(), timeout=5,
                       what="the late became_leader seen")
            h.wait_for(lambda: "deployer" in p.children(), timeout=5, what="a deployer once a renewal came")
            h.wait_for(lambda: leading(port), timeout=5, what="leading")


def test_sigterm_while_leading_stops_deployer_then_releases_then_workers(tmp):
    """Invariant 3: SIGTERM stops the deployer first, then the elector (which releases the Lease it holds),
    then the other workers; exit 0."""
    with KubeSim(auto_namespaces=True) as sim:
        p, port = start(tmp, sim)
        with p:
            h.wait_for(lambda: "deployer" in p.children() and leading(port), what="leader with a deployer")
            os.kill(p.pid, signal.SIGTERM)
            assert p.wait(timeout=25) == 0
            lines = p.text().splitlines()

            def exited(role):
                return min((i for i, line in enumerate(lines) if "child exited" in line and f"child={role} " in line),
                           default=None)
            dep, ele = exited("deployer"), exited("elector")
            workers = [exited(r) for r in ("discovery", "reconciler", "renderer", "validator", "executor")]
            assert dep is not None and ele is not None and None not in workers, (dep, ele, workers)
            assert dep < ele < min(workers), (dep, ele, workers)
            _, _, lease = sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                                      "haproxy-template-ic-leader")
            assert not lease["spec"].get("holderIdentity"), lease
            assert lease["spec"].get("leaseDurationSeconds") == 1, lease


def test_election_metrics_and_debug_vars_while_leading(tmp):
    from prometheus_client.parser import text_string_to_metric_families
    with KubeSim(auto_namespaces=True) as sim:
        p, port = start(tmp, sim)
        with p:
            h.wait_for(lambda: leading(port), timeout=10, what="leading")
            def renewals_counted():
                fams = {f.name: f for f in text_string_to_metric_families(status(port, "/metrics")[1])}
                hist = fams.get("haproxy_ic_leader_election_renew_duration_seconds")
                if not hist:
                    return None
                count = [s for s in hist.samples if s.name.endswith("_count")]
                return fams if count and count[0].value >= 2 and count[0].labels == {"role": "elector"} else None
            fams = h.wait_for(renewals_counted, timeout=10, what="renewals in the histogram")
            assert fams["haproxy_ic_leader_election_is_leader"].samples[0].value == 1
            assert fams["haproxy_ic_leader_election_transitions"].samples[0].value == 1
            reqs = fams["haproxy_ic_leader_election_api_requests"].samples[0]
            assert reqs.labels == {"role": "elector"} and reqs.value >= 2, reqs
            info = fams["haproxy_ic_leader_election_info"].samples
            assert any(s.value == 1 and s.labels["lease_holder"] == "pod-a" for s in info), info
            le = json.loads(status(port, "/debug/vars")[1])["leader_election"]
            assert le["is_leader"] and le["lease_holder"] == "pod-a" and le["term"] == "pod-a#0", le
            assert le["elector"]["phase"] == "leading" and le["elector"]["renewals"] >= 1, le["elector"]
            assert 0 < le["fence_left_ms"] <= 2000, le


def test_blanked_lease_stops_the_leaders_deployer_at_once(tmp):
    """Someone outside the protocol (an operator, a client-go replica releasing a Lease it wrongly thought
    it held) empties our Lease's holder: a watching follower takes it at once, and our leader must not wait
    for its next renewal period to step down."""
    slow = "    lease_namespace: default\n    lease_duration: 8s\n    renew_deadline: 5s\n    retry_period: 3s\n"
    with KubeSim(auto_namespaces=True) as sim:
        procs = []
        for i, ident in enumerate(("pod-a", "pod-b")):
            d = os.path.join(tmp, f"r{i}")
            os.makedirs(d)
            cfg = h.config(d, election=True, kubeconfig=sim.kubeconfig,
                           leader_election_extra=slow + f"    identity: {ident}\n")
            procs.append(h.Proc([h.HTIC_BIN, "run", "--config", cfg], d, name="supervisor"))
            if i == 0:
                h.wait_for(lambda: h.deployers(procs), timeout=10, what="pod-a leading")
        try:
            dep = h.deployers(procs)[0]
            time.sleep(0.5)  # pod-b's watch is up
            path = "/apis/coordination.k8s.io/v1/namespaces/default/leases/haproxy-template-ic-leader"
            _, _, lease = sim.request("GET", path)
            lease["spec"]["holderIdentity"] = ""
            t0 = time.monotonic()
            st, _, _ = sim.request("PUT", path, body=lease)
            assert st == 200, st
            h.wait_for(lambda: not h.alive(dep), timeout=3, interval=0.005, what="pod-a's deployer stopped")
            took = time.monotonic() - t0
            assert took < 1.0, f"pod-a's deployer lived {took:.2f}s after its Lease was taken (retry_period 3s)"
            h.wait_for(lambda: list(h.deployers(procs)) == [1] or list(h.deployers(procs)) == [0], timeout=10,
                       what="one deployer again")
        finally:
            for p in procs:
                p.stop()


def test_stopped_supervisor_keeps_a_deployer_whose_term_is_still_valid(tmp):
    """SIGSTOP of the supervisor alone (the elector keeps renewing), then SIGCONT: its fence timer and hung
    checks are overdue when the loop wakes, but the renewals and heartbeats sent meanwhile wait unread in
    the sockets. They must be read before anything is judged: the same deployer goes on under its term, and
    no child is killed as hung. The stop outlasts CHILD_HUNG_MS (10 s) but not renew_deadline (20 s here): a
    stop past the fence ends the deployer by design (it exits at its fence, having missed the renewals), and
    the supervisor then starts a new one."""
    with KubeSim(auto_namespaces=True) as sim:
        p, port = start(tmp, sim, timings=SLOW_FENCE)
        with p:
            kids = h.wait_for(lambda: (lambda k: k if "deployer" in k and "elector" in k and len(k) == 7
                                       else None)(p.children()), what="leader with every child")
            journal = os.path.join(tmp, "run", "deployer.journal")
            h.wait_for(lambda: len(h.read_journal(journal)) >= 2, what="deployer acting")
            os.kill(p.pid, signal.SIGSTOP)
            try:
                time.sleep(11)
            finally:
                os.kill(p.pid, signal.SIGCONT)
            stopped_until = time.clock_gettime(time.CLOCK_MONOTONIC) * 1000
            # the deployer acts again once the supervisor forwards the fence it missed
            h.wait_for(lambda: any(e["mono_ms"] > stopped_until and e["action"] != "ready"
                                   for e in h.read_journal(journal)), timeout=5, what="deployer acting again")
            text = p.text()
            assert "fence passed without a renewal" not in text, text[-3000:]
            assert "killing hung child" not in text, text[-3000:]
            assert p.children() == kids, (kids, p.children())
            terms = {e["term"] for e in h.read_journal(journal)}
            assert terms == {"pod-a#0"}, terms
            assert {e["pid"] for e in h.read_journal(journal)} == {kids["deployer"]}


if __name__ == "__main__":
    h.run([
        test_elector_crash_kills_the_deployer_at_once_and_leadership_resumes,
        test_frozen_elector_loses_the_deployer_at_the_fence_and_fails_healthz,
        test_late_became_leader_still_gets_a_deployer_once_renewals_come,
        test_sigterm_while_leading_stops_deployer_then_releases_then_workers,
        test_election_metrics_and_debug_vars_while_leading,
        test_blanked_lease_stops_the_leaders_deployer_at_once,
        test_stopped_supervisor_keeps_a_deployer_whose_term_is_still_valid,
    ])
