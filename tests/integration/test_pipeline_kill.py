#!/usr/bin/env python3
"""A killed pipeline role is restarted and the pipeline converges without a spurious new generation: one
replica (the simulator, every role, real haproxy -c) with two Ingresses; the renderer, the validator, the
executor and the reconciler are each SIGKILLed in turn while the cluster is quiet (the LKG's generation and
checksum and the pipeline's generation counter stay what they were: the executor comes back with the LKG
from disk, the renderer's re-render of the same objects is the same checksum, so it is not a generation),
and then once more with a change in flight (the change still lands, exactly once). Each restarted role
then takes part in a new change."""
import os
import signal
import time

import harness as h
import test_pipeline_sim as ps
from test_pipeline_sim import KubeSim

NET = "/apis/networking.k8s.io/v1/namespaces/shop/ingresses"
ROLES = ("renderer", "validator", "executor", "reconciler")
# After a restart, time for the restarted role to resync and for a spurious generation to show up if the
# pipeline were to make one: a re-render plus haproxy -c take well under a second at this size.
QUIET_S = 2.5


def state(port):
    """(LKG generation, LKG checksum, pipeline generation) or None."""
    p = ps.pipeline(port)
    if not p or not p.get("lkg"):
        return None
    return p["lkg"]["generation"], p["lkg"]["checksum"], p.get("generation")


def kill_and_wait(proc, role):
    old = proc.children()[role]
    os.kill(old, signal.SIGKILL)
    h.wait_for(lambda: proc.children().get(role) not in (None, old), timeout=30, what=f"{role} restarted")


def create(sim, name, host):
    code, _, body = sim.request("POST", NET, ps.ingress(name, host))
    assert code == 201, (code, body)


def in_lkg(tmp, port, name, present=True):
    def probe():
        s = state(port)
        if not s:
            return None
        return s if (f"be_shop_{name}" in ps.lkg_config(tmp, s[1])) == present else None
    return probe


def test_killed_roles_restart_without_a_spurious_generation(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        procs, ports, dirs = ps.start_replicas(sim, tmp, 1)
        proc, port, d = procs[0], ports[0], dirs[0]
        try:
            create(sim, "web", "web.example")
            create(sim, "api", "api.example")
            h.wait_for(in_lkg(d, port, "api"), timeout=30, what="both Ingresses in the LKG")
            h.wait_for(in_lkg(d, port, "web"), timeout=30, what="both Ingresses in the LKG")
            time.sleep(QUIET_S)
            for n, role in enumerate(ROLES):
                before = state(port)
                kill_and_wait(proc, role)
                time.sleep(QUIET_S)
                after = h.wait_for(lambda: state(port), timeout=30, what=f"pipeline state after the {role} restart")
                assert after == before, (role, before, after)
                # the restarted role takes part in the next change
                create(sim, f"after-{role}", f"after-{n}.example")
                s = h.wait_for(in_lkg(d, port, f"after-{role}"), timeout=60,
                               what=f"a change landing after the {role} restart")
                assert s[0] > before[0], (role, before, s)
                time.sleep(QUIET_S)

            # a change in flight while a role dies lands exactly once
            for n, role in enumerate(ROLES):
                before = state(port)
                create(sim, f"inflight-{role}", f"inflight-{n}.example")
                kill_and_wait(proc, role)
                s = h.wait_for(in_lkg(d, port, f"inflight-{role}"), timeout=60,
                               what=f"the change in flight when the {role} died")
                time.sleep(QUIET_S)
                settled = state(port)
                assert settled[1] == s[1], (role, s, settled)
                assert settled[0] > before[0], (role, before, settled)
        finally:
            proc.stop()


if __name__ == "__main__":
    h.run([test_killed_roles_restart_without_a_spurious_generation])
