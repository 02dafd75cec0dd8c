#!/usr/bin/env python3
"""Leader election with real processes: three replicas (supervisor + elector + workers + deployer each)
contend on one Lease served by election_api.LeaseAPI. Proves: one deployer at a time across the cluster,
followers do not poll while watching, graceful handoff in under a second, crash failover bounded by
lease_duration, a cut-off leader loses its deployer before anyone else acquires, an elector crash kills the
deployer at once and leadership resumes without a second holder, takeover with the watch broken, a
renewTime in the future changes nothing, disabled mode touches no Lease."""
import contextlib
import os
import signal
import time

import harness as h
from election_api import LeaseAPI, kubeconfig

# retry_period 1 s: consecutive renewals then always differ in whole seconds, which is all a client-go
# follower compares, so takeover times are exact (faster periods blur them by up to a second).
FAST = dict(ld="4s", rd="2500ms", rp="1s")
LD, RD, RP = 4.0, 2.5, 1.0


def replica(stack, tmp, api, i, ld, rd, rp, election=True):
    d = os.path.join(tmp, f"r{i}")
    os.makedirs(d, exist_ok=True)
    kc = kubeconfig(os.path.join(d, "kubeconfig"), api.url(i))
    cfg = h.config(d, election=election, leader_election_extra=(
        f"    lease_name: lease\n    lease_namespace: ns\n    lease_duration: {ld}\n"
        f"    renew_deadline: {rd}\n    retry_period: {rp}\n"), kubeconfig=kc)
    p = h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp, env={"POD_NAME": f"replica-{i}"}, name=f"replica-{i}")
    return stack.enter_context(p)


@contextlib.contextmanager
def cluster(tmp, n=3, ports=None, **timing):
    api = LeaseAPI(ports or n)
    try:
        with contextlib.ExitStack() as stack:
            t = dict(FAST)
            t.update(timing)
            procs = [replica(stack, tmp, api, i, **t) for i in range(n)]
            yield api, procs
    finally:
        api.close()




def wait_leader(api, procs, timeout=15):
    """Waits until the Lease names a replica and that replica (only) runs a deployer; returns its index."""
    def ready():
        holder = api.holder()
        if not holder or not holder.startswith("replica-"):
            return None
        i = int(holder.split("-")[1])
        return (i,) if list(h.deployers(procs)) == [i] else None
    return h.wait_for(ready, timeout=timeout, what="a leader with its deployer")[0]


def wait_watching(api, procs, leader):
    for i in range(len(procs)):
        if i != leader:
            h.wait_for(lambda: api.requests[(i, "WATCH")] > 0, what=f"replica {i} watching")


def first_write_by(api, port, after):
    for t, verb, p, holder, _ in api.journal:
        if p == port and t > after and holder == f"replica-{port}":
            return t
    return None


def last_write_by(api, port):
    ts = [t for t, verb, p, holder, _ in api.journal if p == port and holder == f"replica-{port}"]
    return ts[-1] if ts else None


def test_only_one_deployer_and_followers_do_not_poll(tmp):
    with cluster(tmp) as (api, procs):
        leader = wait_leader(api, procs)
        wait_watching(api, procs, leader)
        time.sleep(2.5)  # a poll scheduled by a lost create race (up to 2.2 x retry_period) runs first
        before = {i: api.requests[(i, "GET")] + api.requests[(i, "PUT")] for i in range(3)}
        deadline = time.monotonic() + 3
        samples = 0
        while time.monotonic() < deadline:
            d = h.deployers(procs)
            assert len(d) <= 1, f"two deployers at once: {d}"
            samples += 1
            time.sleep(0.05)
        assert samples > 20
        assert list(h.deployers(procs)) == [leader]
        for i in range(3):
            made = api.requests[(i, "GET")] + api.requests[(i, "PUT")] - before[i]
            if i == leader:
                assert made >= 2, f"leader renewed only {made} times in 3 s"
            else:
                assert made == 0, f"follower {i} polled {made} times while its watch was healthy"
        holders = {holder for _, _, _, holder, _ in api.journal}
        assert holders == {f"replica-{leader}"}, holders
        text = procs[leader].text()
        assert "became leader" in text and "deployer ready" in text, text[-3000:]
        assert h.one_term_at_a_time(tmp, 3), "the leader's deployer journaled nothing"


def test_graceful_handoff_under_one_second(tmp):
    with cluster(tmp, ld="15s", rd="10s", rp="2s") as (api, procs):
        leader = wait_leader(api, procs)
        wait_watching(api, procs, leader)
        transitions = api.lease()["spec"]["leaseTransitions"]
        t0 = time.monotonic()
        os.kill(procs[leader].pid, signal.SIGTERM)
        h.wait_for(lambda: (api.holder() or "").startswith("replica-") and api.holder() != f"replica-{leader}",
                   timeout=5, what="a new holder")
        took = time.monotonic() - t0
        assert took < 1.0, f"handoff took {took:.3f}s"
        assert procs[leader].wait(timeout=20) == 0
        released = [j for j in api.journal if j[2] == leader and j[3] == ""]
        assert released and released[-1][4] == transitions, (released, transitions)
        assert api.lease()["spec"]["leaseTransitions"] == transitions + 1
        new = int(api.holder().split("-")[1])
        h.wait_for(lambda: list(h.deployers(procs)) == [new], what="new leader's deployer")
        time.sleep(0.5)
        h.one_term_at_a_time(tmp, 3)


def test_crash_failover_within_lease_duration(tmp):
    with cluster(tmp) as (api, procs):
        leader = wait_leader(api, procs)
        wait_watching(api, procs, leader)
        # client-go renews right after acquiring, in the same wall-clock second: followers cannot see that
        # write, so measure from a renewal a retry_period later
        time.sleep(1.5)
        os.kill(procs[leader].pid, signal.SIGKILL)
        kill_t = time.monotonic()
        h.wait_for(lambda: (api.holder() or "") not in ("", f"replica-{leader}"), timeout=10, what="failover")
        last = last_write_by(api, leader)
        new = int(api.holder().split("-")[1])
        took_over = first_write_by(api, new, kill_t)
        gap = took_over - last
        assert LD - 0.05 <= gap <= LD + 0.5, f"takeover {gap:.3f}s after the last renewal (lease {LD}s)"
        h.wait_for(lambda: list(h.deployers(procs)) == [new], what="new leader's deployer")


def test_cut_off_leader_loses_deployer_before_anyone_acquires(tmp):
    with cluster(tmp) as (api, procs):
        leader = wait_leader(api, procs)
        wait_watching(api, procs, leader)
        time.sleep(1.5)  # past the invisible immediate renewal (see the crash failover test)
        dep = h.deployers(procs)[leader]
        api.set_partitioned(leader, True)
        cut_t = time.monotonic()
        gone_t = h.wait_for(lambda: None if h.alive(dep) else time.monotonic(), interval=0.01, timeout=5,
                            what="the cut-off leader's deployer killed")
        h.wait_for(lambda: (api.holder() or "") not in ("", f"replica-{leader}"), timeout=10, what="failover")
        new = int(api.holder().split("-")[1])
        last = last_write_by(api, leader)
        acquired = first_write_by(api, new, cut_t)
        assert gone_t <= last + RD + 0.3, f"deployer outlived the fence by {gone_t - last - RD:.3f}s"
        assert gone_t < acquired, "the new leader acquired while the old deployer still ran"
        assert "lost leadership" in procs[leader].text()
        assert procs[leader].p.poll() is None, "losing leadership must not end the process"
        api.set_partitioned(leader, False)
        h.wait_for(lambda: list(h.deployers(procs)) == [new], what="only the new leader deploys")
        time.sleep(0.5)
        h.one_term_at_a_time(tmp, 3)


def test_elector_crash_kills_deployer_and_leadership_resumes(tmp):
    with cluster(tmp) as (api, procs):
        leader = wait_leader(api, procs)
        wait_watching(api, procs, leader)
        kids = procs[leader].children()
        dep, elector = kids["deployer"], kids["elector"]
        t0 = time.monotonic()
        os.kill(elector, signal.SIGKILL)
        h.wait_for(lambda: not h.alive(dep), interval=0.01, timeout=2, what="deployer killed")
        assert time.monotonic() - t0 < 0.5
        h.wait_for(lambda: (lambda k: k.get("elector") not in (None, elector) and k.get("deployer"))(
            procs[leader].children()), timeout=10, what="elector restarted and deployer back")
        holders = {holder for _, _, _, holder, _ in api.journal}
        assert holders == {f"replica-{leader}"}, f"another replica held the lease meanwhile: {holders}"
        assert list(h.deployers(procs)) == [leader]
        time.sleep(0.5)
        h.one_term_at_a_time(tmp, 3)


def test_takeover_with_watch_broken(tmp):
    api_holder = {}
    with cluster(tmp) as (api, procs):
        api.refuse_watch = True
        api_holder["api"] = api
        leader = wait_leader(api, procs)
        time.sleep(1.5)  # past the invisible immediate renewal (see the crash failover test)
        os.kill(procs[leader].pid, signal.SIGKILL)
        kill_t = time.monotonic()
        h.wait_for(lambda: (api.holder() or "") not in ("", f"replica-{leader}"), timeout=10, what="failover")
        new = int(api.holder().split("-")[1])
        gap = first_write_by(api, new, kill_t) - last_write_by(api, leader)
        # client-go's polling: the lease duration after the last change seen (a poll may see it up to one
        # jittered period late, which only delays), plus up to one jittered period (2.2 x retry_period)
        assert LD - 0.05 <= gap <= LD + 2 * 2.2 * RP + 0.5, f"takeover {gap:.3f}s after the last renewal"


def test_future_renew_time_changes_nothing(tmp):
    with cluster(tmp, n=2) as (api, procs):
        api.put_raw({"spec": {"holderIdentity": "ghost", "leaseDurationSeconds": 4,
                              "acquireTime": "2099-01-01T00:00:00.000000Z",
                              "renewTime": "2099-01-01T00:00:00.000000Z", "leaseTransitions": 7}})
        t0 = time.monotonic()
        leader = wait_leader(api, procs, timeout=15)
        took = time.monotonic() - t0
        assert LD - 0.5 <= took <= LD + 2.2 * RP + 2.0, f"took the ghost's lease after {took:.3f}s"
        assert api.lease()["spec"]["leaseTransitions"] == 8
        assert api.holder() == f"replica-{leader}"


def test_disabled_mode_touches_no_lease(tmp):
    api = LeaseAPI(1)
    try:
        with contextlib.ExitStack() as stack:
            p = replica(stack, tmp, api, 0, election=False, **FAST)
            h.wait_for(lambda: p.children().get("deployer"), what="deployer in disabled mode")
            time.sleep(1.5)
            assert "elector" not in p.children()
            assert sum(api.requests.values()) == 0, dict(api.requests)
            assert api.lease() is None
    finally:
        api.close()


if __name__ == "__main__":
    h.run([
        test_only_one_deployer_and_followers_do_not_poll,
        test_graceful_handoff_under_one_second,
        test_crash_failover_within_lease_duration,
        test_cut_off_leader_loses_deployer_before_anyone_acquires,
        test_elector_crash_kills_deployer_and_leadership_resumes,
        test_takeover_with_watch_broken,
        test_future_renew_time_changes_nothing,
        test_disabled_mode_touches_no_lease,
    ])
