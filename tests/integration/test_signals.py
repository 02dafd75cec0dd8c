#!/usr/bin/env python3
"""Signals an operator or a stray script sends: SIGHUP re-reads and validates the config (a valid one is
applied to the running pipeline roles and taken by children started later, an invalid one is refused with every problem and the old one stays),
SIGUSR1, SIGUSR2 and SIGALRM are logged and ignored, by the supervisor and by every child; afterwards
SIGTERM still stops everything in order and releases the Lease."""
import os
import signal
import sys

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

FAST = "    lease_namespace: default\n    lease_duration: 3s\n    renew_deadline: 2s\n    retry_period: 500ms\n" \
       "    identity: pod-a\n"
LEASE = "/apis/coordination.k8s.io/v1/namespaces/default/leases/haproxy-template-ic-leader"
ROLES = ["elector", "discovery", "reconciler", "renderer", "validator", "executor", "deployer"]


def titled(pid, role):
    """The child has taken its title, which worker_child_setup does after ignoring these signals."""
    try:
        return open(f"/proc/{pid}/comm").read().strip() == f"htic-{role}"
    except OSError:
        return False


def all_up(p):
    """Every role running and past its start: a child signalled before it said hello may not ignore the
    signal yet (under ASan a child takes long enough to get there to lose that race often)."""
    kids = p.children()
    text = p.text()
    if "all children up" not in text or "DeployerReady" not in text:
        return None
    return kids if all(r in kids and titled(kids[r], r) for r in ROLES) else None


def snapshot_of(pid):
    """The config snapshot a child was started with (its fd 4, the supervisor's sealed memfd)."""
    with open(f"/proc/{pid}/fd/4") as f:
        return f.read()


def count(p, text):
    return p.text().count(text)


def test_signals_neither_kill_nor_skip_the_lease_release(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        port = h.free_port()
        cfg = h.config(tmp, election=True, http_port=port, kubeconfig=sim.kubeconfig, leader_election_extra=FAST)
        original = h.open_text(cfg)
        with h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp, name="supervisor") as p:
            kids = h.wait_for(lambda: all_up(p), what="every role, leading")

            for sig, name in ((signal.SIGUSR1, "SIGUSR1"), (signal.SIGUSR2, "SIGUSR2"), (signal.SIGALRM, "SIGALRM")):
                os.kill(p.pid, sig)
                h.wait_for(lambda: f"msg=\"signal ignored\" signal={name}" in p.text(), what=f"{name} logged")
                for pid in kids.values():
                    os.kill(pid, sig)
            for pid in kids.values():
                os.kill(pid, signal.SIGHUP)

            # an invalid edit: every problem logged, the running config stays
            h.write(cfg, original.replace("renew_deadline: 2s", "renew_deadline: 5s").replace(
                "retry_period: 500ms", "retry_period: 1ms"))
            os.kill(p.pid, signal.SIGHUP)
            h.wait_for(lambda: "config reload refused, the running config stays" in p.text(), what="refusal")
            text = p.text()
            problems = [line for line in text.splitlines() if "config reload: problem" in line]
            assert any("renew_deadline" in line for line in problems), problems
            assert "problems=" in text

            # a setting the running supervisor fixed at its start cannot change
            h.write(cfg, original.replace(f"port: {port}", f"port: {h.free_port()}"))
            os.kill(p.pid, signal.SIGHUP)
            h.wait_for(lambda: count(p, "config reload refused") == 2, what="second refusal")
            assert "controller.http: cannot change while running" in p.text()

            # a valid edit is taken: running pipeline roles apply it in place (no restart, fd 4 stays the
            # snapshot they started with), a child started afterwards gets the new snapshot as fd 4
            edited = original.replace("controller:\n", "controller:\n  logging:\n    level: debug\n", 1)
            h.write(cfg, edited)
            os.kill(p.pid, signal.SIGHUP)
            h.wait_for(lambda: "config reloaded" in p.text(), what="reload")
            h.wait_for(lambda: f'role=executor pid={kids["executor"]} msg="config applied"' in p.text(),
                       what="the running executor applied it")
            os.kill(kids["renderer"], signal.SIGKILL)
            renderer = h.wait_for(lambda: (lambda r: r if r not in (None, kids["renderer"]) else None)(
                p.children().get("renderer")), what="renderer restarted")
            assert snapshot_of(renderer) == edited
            assert snapshot_of(kids["executor"]) == original

            assert p.p.poll() is None, "the supervisor died"
            now = p.children()
            for role in ROLES:
                if role != "renderer":
                    assert now.get(role) == kids[role], f"{role} died or was restarted: {kids} -> {now}"

            os.kill(p.pid, signal.SIGTERM)
            assert p.wait(timeout=25) == 0
            _, _, lease = sim.request("GET", LEASE)
            assert not lease["spec"].get("holderIdentity"), lease
            assert lease["spec"].get("leaseDurationSeconds") == 1, lease


if __name__ == "__main__":
    h.run([test_signals_neither_kill_nor_skip_the_lease_release])
