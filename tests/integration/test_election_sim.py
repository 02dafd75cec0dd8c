#!/usr/bin/env python3
"""Leader election against the project's API simulator (tests/kube-sim), with real replicas: failover after
SIGKILL within lease_duration of the last renewal, graceful handoff in under a second, a cut-off leader
(the simulator hangs its requests) loses its deployer before its fence and before anyone else acquires, a
clock offset in the simulator's timestamps and a renewTime in the future change nothing, and a candidate
written here with client-go's rules (a LeaseLock of our own on Debian's python3, not our C code) shares the
Lease with our replicas: mutual exclusion holds in both directions."""
import contextlib
import datetime
import os
import random
import signal
import sys
import threading
import time

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/ns/leases"
# retry_period 1 s keeps consecutive renewals in different wall-clock seconds (what client-go compares)
LD, RD, RP = 4.0, 2.5, 1.0
TIMING = dict(ld="4s", rd="2500ms", rp="1s")


def replica(stack, tmp, sim, i, ld, rd, rp, ident=None):
    d = os.path.join(tmp, f"r{i}")
    os.makedirs(d, exist_ok=True)
    cfg = h.config(d, election=True, leader_election_extra=(
        f"    lease_name: lease\n    lease_namespace: ns\n    lease_duration: {ld}\n"
        f"    renew_deadline: {rd}\n    retry_period: {rp}\n"), kubeconfig=sim.kubeconfig)
    p = h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp, env={"POD_NAME": ident or f"replica-{i}"},
               name=f"replica-{i}")
    return stack.enter_context(p)


@contextlib.contextmanager
def cluster(tmp, n=3, before=None, **timing):
    with KubeSim(auto_namespaces=True) as sim, contextlib.ExitStack() as stack:
        if before:
            before(sim)
        t = dict(TIMING)
        t.update(timing)
        yield sim, [replica(stack, tmp, sim, i, **t) for i in range(n)]


def lease(sim):
    st, _, body = sim.request("GET", LEASE_PATH + "/lease")
    return body if st == 200 else None


def holder(sim):
    obj = lease(sim)
    return obj.get("spec", {}).get("holderIdentity") if obj else None


def holder_index(sim):
    hid = holder(sim) or ""
    return int(hid.split("-")[1]) if hid.startswith("replica-") else None




def wait_leader(sim, procs, timeout=15):
    def ready():
        i = holder_index(sim)
        return (i,) if i is not None and list(h.deployers(procs)) == [i] else None
    return h.wait_for(ready, timeout=timeout, what="a leader with its deployer")[0]


def wall(microtime):
    return datetime.datetime.strptime(microtime, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def lease_writes(sim, with_client=False):
    """(simulator wall time, holder, transitions) of every write to the Lease, in order; with_client: (time,
    client, holder, transitions), the client being the writer's User-Agent."""
    out = []
    for a in sim.audit_entries():
        if a.get("resource") == "leases" and a.get("name") == "lease":
            spec = (a.get("object") or {}).get("spec") or {}
            w = (wall(a["time"]), spec.get("holderIdentity"), spec.get("leaseTransitions"))
            out.append((w[0], a.get("client", "")) + w[1:] if with_client else w)
    return out


def test_crash_failover_within_lease_duration(tmp):
    with cluster(tmp) as (sim, procs):
        leader = wait_leader(sim, procs)
        time.sleep(1.5)
        os.kill(procs[leader].pid, signal.SIGKILL)
        h.wait_for(lambda: holder_index(sim) not in (None, leader), timeout=10, what="failover")
        writes = lease_writes(sim)
        last = max(t for t, hid, _ in writes if hid == f"replica-{leader}")
        new = next(t for t, hid, _ in writes if hid not in (f"replica-{leader}", "") and t > last)
        gap = new - last
        assert LD - 0.05 <= gap <= LD + 0.5, f"takeover {gap:.3f}s after the last renewal (lease {LD}s)"
        new_i = holder_index(sim)
        h.wait_for(lambda: list(h.deployers(procs)) == [new_i], what="new leader's deployer")
        time.sleep(0.5)
        h.one_term_at_a_time(tmp, 3)


def test_graceful_handoff_under_one_second(tmp):
    with cluster(tmp, ld="15s", rd="10s", rp="2s") as (sim, procs):
        leader = wait_leader(sim, procs)
        time.sleep(1)
        before = lease(sim)["spec"]["leaseTransitions"]
        t0 = time.monotonic()
        os.kill(procs[leader].pid, signal.SIGTERM)
        h.wait_for(lambda: holder_index(sim) not in (None, leader), timeout=5, what="a new holder")
        took = time.monotonic() - t0
        assert took < 1.0, f"handoff took {took:.3f}s"
        assert procs[leader].wait(timeout=20) == 0
        released = [w for w in lease_writes(sim) if w[1] == ""]
        assert released and released[-1][2] == before, (released, before)
        assert lease(sim)["spec"]["leaseTransitions"] == before + 1
        new_i = holder_index(sim)
        h.wait_for(lambda: list(h.deployers(procs)) == [new_i], what="new leader's deployer")
        time.sleep(0.5)
        h.one_term_at_a_time(tmp, 3)


def test_cut_off_leader_loses_deployer_before_anyone_acquires(tmp):
    with cluster(tmp) as (sim, procs):
        leader = wait_leader(sim, procs)
        time.sleep(1.5)
        dep = h.deployers(procs)[leader]
        sim.faults(hang_client=f"replica-{leader}")
        gone = h.wait_for(lambda: None if h.alive(dep) else time.time(), interval=0.01, timeout=6,
                          what="the cut-off leader's deployer killed")
        h.wait_for(lambda: holder_index(sim) not in (None, leader), timeout=10, what="failover")
        writes = lease_writes(sim)
        last = max(t for t, hid, _ in writes if hid == f"replica-{leader}")
        acquired = next(t for t, hid, _ in writes if hid not in (f"replica-{leader}", "") and t > last)
        assert gone <= last + RD + 0.3, f"deployer outlived the fence by {gone - last - RD:.3f}s"
        assert gone < acquired, "another replica acquired while the old deployer still ran"
        assert procs[leader].p.poll() is None, "losing leadership must not end the process"
        sim.faults(hang_client="")
        new_i = holder_index(sim)
        h.wait_for(lambda: list(h.deployers(procs)) == [new_i], what="only the new leader deploys")
        time.sleep(0.5)
        h.one_term_at_a_time(tmp, 3)


def test_clock_offset_and_future_renew_time_change_nothing(tmp):
    def ghost(sim):
        sim.faults(clock_offset_ms=-3 * 3600 * 1000)
        st, _, body = sim.request("POST", LEASE_PATH, body={
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "lease"},
            "spec": {"holderIdentity": "ghost", "leaseDurationSeconds": 4, "leaseTransitions": 7,
                     "acquireTime": "2099-01-01T00:00:00.000000Z", "renewTime": "2099-01-01T00:00:00.000000Z"}})
        assert st == 201, (st, body)
    t0 = time.monotonic()
    with cluster(tmp, n=2, before=ghost) as (sim, procs):
        leader = wait_leader(sim, procs)
        took = time.monotonic() - t0
        assert LD - 0.5 <= took <= LD + 2.2 * RP + 2.5, f"took the ghost's lease after {took:.3f}s"
        assert lease(sim)["spec"]["leaseTransitions"] == 8
        time.sleep(1.5)
        os.kill(procs[leader].pid, signal.SIGKILL)
        h.wait_for(lambda: holder_index(sim) == 1 - leader, timeout=LD + 4, what="failover under clock offset")


FENCED_EXIT = "fence passed and the supervisor did not stop us"


def test_fenced_deployer_exits_by_itself_while_its_supervisor_is_stopped(tmp):
    """Issue 13 item 9: SIGSTOP of the leader's supervisor and elector. Nobody kills the deployer, which
    refuses at its fence; it must also exit by itself (a grace after the fence), before the next leader's
    deployer starts, so at no time do two deployer processes exist."""
    with cluster(tmp, n=2) as (sim, procs):
        leader = wait_leader(sim, procs)
        time.sleep(1.5)
        sup = procs[leader].pid
        elector = procs[leader].children()["elector"]
        dep = h.deployers(procs)[leader]
        stopped = [elector, sup]
        try:
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)
            t_stop = time.time()
            gone = h.wait_for(lambda: None if h.alive(dep) else time.time(), interval=0.01, timeout=LD + 2,
                              what="the fenced deployer gone by itself")
            h.wait_for(lambda: holder_index(sim) not in (None, leader), timeout=10, what="failover")
            acquired = next(t for t, hid, _ in lease_writes(sim) if hid not in (f"replica-{leader}", ""))
            assert gone < acquired, f"deployer exited {gone - acquired:.3f}s after the takeover"
            assert gone - t_stop <= RD + 0.5, f"deployer stayed {gone - t_stop:.3f}s after the stop"
            h.wait_for(lambda: 1 - leader in h.deployers(procs), what="the new leader's deployer")
            assert FENCED_EXIT in procs[leader].text()
        finally:
            for pid in reversed(stopped):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGCONT)
        h.wait_for(lambda: list(h.deployers(procs)) == [1 - leader], what="only the new leader deploys")
        time.sleep(0.5)
        h.one_term_at_a_time(tmp, 2)


DUPLICATE_ERROR = "another replica writes the Lease under this identity"


def test_duplicate_identity_one_deployer_and_a_clear_error(tmp):
    """Issue 13 item 8: two real replicas with one identity. The second resumes the Lease (it cannot tell
    itself from the first); the first sees a record naming it that it did not write, logs the error and
    stands aside for good: from then on at most one deployer, and the journals show one deployer at a time."""
    with KubeSim(auto_namespaces=True) as sim, contextlib.ExitStack() as stack:
        first = replica(stack, tmp, sim, 0, ident="twin", **TIMING)
        h.wait_for(lambda: holder(sim) == "twin" and list(h.deployers([first])) == [0], timeout=15,
                   what="the first twin leading with its deployer")
        time.sleep(1)
        second = replica(stack, tmp, sim, 1, ident="twin", **TIMING)
        procs = [first, second]
        h.wait_for(lambda: any(DUPLICATE_ERROR in p.text() for p in procs), timeout=10,
                   what="the duplicate identity error")
        h.wait_for(lambda: len(h.deployers(procs)) == 1, timeout=5, what="one deployer left")
        t_end = time.monotonic() + 2.5 * LD  # past two lease durations: nobody takes it back
        while time.monotonic() < t_end:
            deps = h.deployers(procs)
            assert len(deps) <= 1, f"two deployers under one identity: {deps}"
            time.sleep(0.05)
        assert len(h.deployers(procs)) == 1
        errors = [line for p in procs for line in p.text().splitlines() if DUPLICATE_ERROR in line]
        assert len(errors) == 1, errors
        assert "identity=twin" in errors[0], errors[0]
        h.one_term_at_a_time(tmp, 2)


class GoCandidate(threading.Thread):
    """A Lease candidate following client-go's leaderelection rules (tryAcquireOrRenew with the fast path,
    raw-record comparison at whole seconds, expiry on our own monotonic clock, jittered acquire loop, renew
    loop bounded by renew_deadline), written independently of the C elector."""

    def __init__(self, sim, ident):
        super().__init__(daemon=True)
        self.sim, self.me = sim, ident
        self.observed, self.observed_time, self.observed_raw, self.cached = {}, 0.0, None, None
        self.leading = False
        self.intervals = []
        self.halt = threading.Event()

    @staticmethod
    def raw(spec):
        def sec(v):
            return v[:19] if v else None
        return (spec.get("holderIdentity") or "", spec.get("leaseDurationSeconds") or 0,
                sec(spec.get("acquireTime")), sec(spec.get("renewTime")), spec.get("leaseTransitions") or 0,
                spec.get("strategy") or "", spec.get("preferredHolder") or "")

    def is_leader(self):
        return self.observed.get("holderIdentity") == self.me

    def valid(self, now):
        return self.observed_time + (self.observed.get("leaseDurationSeconds") or 0) > now

    def req(self, method, path, body=None):
        try:
            return self.sim.request(method, path, body=body, timeout=max(1.0, RD / 2),
                                    headers={"User-Agent": "go-candidate/" + self.me})
        except OSError:
            return 0, {}, None

    def set_observed(self, spec):
        self.observed, self.observed_time = dict(spec), time.monotonic()

    def put(self, obj, spec):
        body = dict(obj)
        body["spec"] = spec
        st, _, resp = self.req("PUT", LEASE_PATH + "/lease", body)
        if st == 200:
            self.cached = resp
            self.set_observed(spec)
            return True
        return False

    def try_acquire_or_renew(self):
        now = time.monotonic()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        desired = {"holderIdentity": self.me, "leaseDurationSeconds": int(LD), "acquireTime": stamp,
                   "renewTime": stamp, "leaseTransitions": 0}
        if self.is_leader() and self.valid(now) and self.cached:
            desired["acquireTime"] = self.observed.get("acquireTime")
            desired["leaseTransitions"] = self.observed.get("leaseTransitions", 0)
            if self.put(self.cached, desired):
                return True
        st, _, obj = self.req("GET", LEASE_PATH + "/lease")
        if st == 404:
            st, _, resp = self.req("POST", LEASE_PATH, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                                        "metadata": {"name": "lease"}, "spec": desired})
            if st == 201:
                self.cached = resp
                self.set_observed(desired)
                return True
            return False
        if st != 200:
            return False
        self.cached = obj
        spec = obj.get("spec") or {}
        raw = self.raw(spec)
        if raw != self.observed_raw:
            self.set_observed(spec)
            self.observed_raw = raw
        if spec.get("holderIdentity") and self.valid(now) and not self.is_leader():
            return False
        if self.is_leader():
            desired["acquireTime"] = spec.get("acquireTime")
            desired["leaseTransitions"] = spec.get("leaseTransitions", 0)
        else:
            desired["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
        return self.put(obj, desired)

    def run(self):
        while not self.halt.is_set():
            while not self.halt.is_set() and not self.try_acquire_or_renew():
                self.halt.wait(RP * (1 + random.random() * 1.2))
            if self.halt.is_set():
                return
            self.leading = True
            self.intervals.append([time.monotonic(), None])
            while not self.halt.is_set():
                deadline = time.monotonic() + RD
                ok = False
                while not self.halt.is_set() and time.monotonic() < deadline:
                    start = time.monotonic()
                    if self.try_acquire_or_renew():
                        ok = True
                        break
                    self.halt.wait(max(0.0, start + RP - time.monotonic()))
                if not ok:
                    break
                self.halt.wait(RP)
            self.leading = False
            self.intervals[-1][1] = time.monotonic()

    def crash(self):
        """Stops at once without releasing, like a killed process (its leadership ends with it)."""
        self.halt.set()
        self.join(timeout=5)
        self.leading = False
        if self.intervals and self.intervals[-1][1] is None:
            self.intervals[-1][1] = time.monotonic()


def test_interop_with_a_client_go_candidate(tmp):
    with KubeSim(auto_namespaces=True) as sim, contextlib.ExitStack() as stack:
        go = go1 = GoCandidate(sim, "go-1")
        go.start()
        stack.callback(go.crash)
        h.wait_for(lambda: go.leading, timeout=10, what="the client-go candidate leads")
        procs = [replica(stack, tmp, sim, i, **TIMING) for i in range(2)]
        violations = []

        def sample(seconds, until=None):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                d = h.deployers(procs)
                if len(d) + (1 if go.leading else 0) > 1:
                    violations.append((time.monotonic(), dict(d), go.leading))
                if until and until():
                    return True
                time.sleep(0.02)
            return False

        sample(3)
        assert holder(sim) == "go-1" and not h.deployers(procs), "a replica took a lease the candidate holds"
        go.crash()
        assert sample(LD + 4, until=lambda: len(h.deployers(procs)) == 1), "no replica took over from the candidate"
        leader = holder_index(sim)
        go2 = GoCandidate(sim, "go-2")
        go2.start()
        stack.callback(go2.crash)
        go = go2
        sample(2.5)
        assert holder(sim) == f"replica-{leader}" and not go.leading, "the candidate took a lease a replica holds"
        # cut our leader off: the candidate or the other replica takes over, never two at once
        sim.faults(hang_client=f"replica-{leader}")
        assert sample(LD + RD + 5, until=lambda: holder(sim) not in (None, f"replica-{leader}")
                      and (go.leading or len(h.deployers(procs)) == 1)), "nobody took over"
        sample(2)
        sim.faults(hang_client="")
        assert not violations, f"two leaders at once: {violations[:5]}"
        # no side effect of our deployers while a client-go candidate led (same CLOCK_MONOTONIC)
        entries = h.one_term_at_a_time(tmp, 2)
        assert entries, "no deployer journaled anything"
        for cand in (go1, go2):
            for lo, hi in cand.intervals:
                inside = [e for e in entries if lo * 1000 <= e["mono_ms"] <= (hi or time.monotonic()) * 1000]
                assert not inside, f"deployer acted while {cand.me} led: {inside[:3]}"


if __name__ == "__main__":
    h.run([
        test_crash_failover_within_lease_duration,
        test_graceful_handoff_under_one_second,
        test_cut_off_leader_loses_deployer_before_anyone_acquires,
        test_clock_offset_and_future_renew_time_change_nothing,
        test_interop_with_a_client_go_candidate,
        test_duplicate_identity_one_deployer_and_a_clear_error,
        test_fenced_deployer_exits_by_itself_while_its_supervisor_is_stopped,
    ])
