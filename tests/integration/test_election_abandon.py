#!/usr/bin/env python3
"""Abandon, never release, when the supervisor is gone (docs/leader-election.md, safety invariant "abandon vs
release"). A leader whose supervisor vanished cannot know that its deployer stopped (the deployer may outlive
the supervisor by the few milliseconds its death signal takes, with a fence still valid), so its elector
stops without writing the Lease: the others take over at expiry, after the old deployer's fence. Proved from
the simulator's write log: an elector whose supervisor channel ends writes nothing more (and still releases on
an orderly `shutdown`), and a SIGKILLed leading supervisor's replica writes no release and is replaced only
after its Lease expired. Not for: the orderly handoff's timing (test_election_sim.py)."""
import contextlib
import os
import signal
import socket
import sys
import time

import harness as h
from role_child import RoleChild

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402
import test_election_sim as sim_tests  # noqa: E402

LEASE_PATH = sim_tests.LEASE_PATH
LD, RD, RP = sim_tests.LD, sim_tests.RD, sim_tests.RP
# The simulator's clock and ours are the same machine's; a write it logs is stamped after it arrived, so
# "after the kill" is judged with this much allowance for a write already on its way when the kill landed.
IN_FLIGHT_S = 0.05


def election_yaml(ld="4s", rd="2500ms", rp="1s"):
    return (f"    lease_name: lease\n    lease_namespace: ns\n    lease_duration: {ld}\n"
            f"    renew_deadline: {rd}\n    retry_period: {rp}\n    identity: {{ident}}\n")


def lease_writes(sim):
    """(simulator wall time, client, holder, transitions) of every write to the Lease, in order."""
    return sim_tests.lease_writes(sim, with_client=True)


def by(ident):
    """The elector's User-Agent names its identity in parentheses (elector/main.c)."""
    return lambda client: client.endswith(f"({ident})")


def holder(sim):
    st, _, body = sim.request("GET", LEASE_PATH + "/lease")
    return (body.get("spec") or {}).get("holderIdentity") if st == 200 else None


def elector_config(tmp, sim, ident):
    return h.config(tmp, election=True, kubeconfig=sim.kubeconfig,
                    leader_election_extra=election_yaml().replace("{ident}", ident))


def test_channel_end_stops_the_elector_without_a_release(tmp):
    """The elector alone, on a socketpair the test holds: the supervisor's end closes while it leads. It must
    exit without writing the Lease again (no release), so the Lease still names it until expiry."""
    with KubeSim(auto_namespaces=True) as sim, \
            RoleChild("elector", elector_config(tmp, sim, "solo"), tmp) as r:
        r.next("became_leader")
        h.wait_for(lambda: holder(sim) == "solo", what="the Lease names the elector")
        time.sleep(1.5)  # a renewal or two
        r.sock.shutdown(socket.SHUT_RDWR)  # the supervisor is gone
        t_gone = time.time()
        assert r.p.wait(timeout=RD + 5) != 0, "an elector without its supervisor exits with a failure status"
        time.sleep(0.3)  # anything it still sent has reached the simulator
        after = [w for w in lease_writes(sim) if by("solo")(w[1]) and w[0] > t_gone + IN_FLIGHT_S]
        assert not after, f"the elector wrote the Lease after its supervisor was gone: {after}"
        releases = [w for w in lease_writes(sim) if w[2] == ""]
        assert not releases, f"released without an orderly shutdown: {releases}"
        assert holder(sim) == "solo", "the Lease must keep naming the abandoned holder until it expires"
        assert "without releasing the lease" in r.text(), r.text()[-2000:]


def test_orderly_shutdown_still_releases(tmp):
    """The contrast: the supervisor's `shutdown` message (sent once the deployer is stopped) releases."""
    with KubeSim(auto_namespaces=True) as sim, \
            RoleChild("elector", elector_config(tmp, sim, "solo"), tmp) as r:
        r.next("became_leader")
        time.sleep(1.2)
        assert r.shutdown(timeout=RD + 5) == 0
        releases = [w for w in lease_writes(sim) if by("solo")(w[1]) and w[2] == ""]
        assert len(releases) == 1, releases
        assert holder(sim) == ""


def replica(stack, tmp, sim, i):
    d = os.path.join(tmp, f"r{i}")
    os.makedirs(d, exist_ok=True)
    cfg = h.config(d, election=True, kubeconfig=sim.kubeconfig,
                   leader_election_extra=election_yaml().replace("    identity: {ident}\n", ""))
    p = h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp, env={"POD_NAME": f"replica-{i}"}, name=f"replica-{i}")
    return stack.enter_context(p)


def holder_index(sim):
    hid = holder(sim) or ""
    return int(hid.split("-")[1]) if hid.startswith("replica-") else None


def test_killed_leading_supervisor_is_replaced_only_after_expiry(tmp):
    """Three replicas; SIGKILL of the leader's supervisor (its elector and deployer die by their death signal,
    one after the other). From the simulator's write log: no release (holderIdentity emptied) and no write at
    all from that replica after the kill, and the next holder's first write comes a whole lease_duration
    after the dead leader's last renewal."""
    with KubeSim(auto_namespaces=True) as sim, contextlib.ExitStack() as stack:
        procs = [replica(stack, tmp, sim, i) for i in range(3)]

        def leader_with_deployer():
            i = holder_index(sim)
            return (i,) if i is not None and list(h.deployers(procs)) == [i] else None
        leader = h.wait_for(leader_with_deployer, timeout=20, what="a leader with its deployer")[0]
        time.sleep(1.5)
        me = by(f"replica-{leader}")
        t_kill = time.time()
        os.kill(procs[leader].pid, signal.SIGKILL)
        h.wait_for(lambda: holder_index(sim) not in (None, leader), timeout=LD + 10, what="failover")
        writes = lease_writes(sim)
        late = [w for w in writes if me(w[1]) and w[0] > t_kill + IN_FLIGHT_S]
        assert not late, f"the killed leader's replica wrote the Lease after the kill: {late}"
        released = [w for w in writes if w[2] == ""]
        assert not released, f"a release after a crash: {released}"
        last = max(t for t, c, hid, _ in writes if hid == f"replica-{leader}" and me(c))
        taken = next(t for t, c, hid, _ in writes if hid not in (f"replica-{leader}", "") and t > last)
        assert taken - last >= LD - IN_FLIGHT_S, \
            f"taken {taken - last:.3f}s after the dead leader's last renewal, before its {LD}s lease expired"
        new_i = holder_index(sim)
        h.wait_for(lambda: list(h.deployers(procs)) == [new_i], what="the new leader's deployer")
        time.sleep(0.5)
        h.one_term_at_a_time(tmp, 3)


if __name__ == "__main__":
    h.run([
        test_channel_end_stops_the_elector_without_a_release,
        test_orderly_shutdown_still_releases,
        test_killed_leading_supervisor_is_replaced_only_after_expiry,
    ])
