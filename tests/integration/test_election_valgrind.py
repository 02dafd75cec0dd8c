#!/usr/bin/env python3
"""The elector under valgrind (memcheck), against the API simulator: one replica with election enabled
acquires, renews, survives a broken watch and an API error, then shuts down releasing the Lease, with no
memory error and no definite leak in any process. Normal build only (the sanitizer build checks the same
code with ASan)."""
import os
import signal
import sys
import time

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

LEASE = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lease"


def holder(sim):
    st, _, body = sim.request("GET", LEASE)
    return body.get("spec", {}).get("holderIdentity") if st == 200 else None


def test_elector_is_valgrind_clean(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        cfg = h.config(tmp, election=True, kubeconfig=sim.kubeconfig, leader_election_extra=(
            "    lease_name: lease\n    lease_namespace: ns\n    lease_duration: 6s\n"
            "    renew_deadline: 4s\n    retry_period: 1s\n"))
        vg = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
              "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite", "--trace-children=yes",
              f"--log-file={tmp}/vg.%p.log"]
        with h.Proc(vg + [h.HTIC_BIN, "run", "--config", cfg], tmp, env={"POD_NAME": "vg-replica"},
                    name="supervisor") as p:
            h.wait_for(lambda: holder(sim) == "vg-replica", timeout=90, what="lease acquired under valgrind")
            h.wait_for(lambda: "deployer ready" in p.text(), timeout=60, what="deployer under valgrind")
            sim.drop_watches()
            sim.faults(errors={"count": 1, "code": 500, "verb": "update"})
            time.sleep(4)
            os.kill(p.pid, signal.SIGTERM)
            rc = p.wait(timeout=90)
        assert holder(sim) == "", f"lease not released: {holder(sim)!r}"
    logs = [n for n in os.listdir(tmp) if n.startswith("vg.")]
    assert len(logs) >= 8, f"valgrind did not follow every process: {logs}"  # supervisor + 7 roles
    reports = []
    for name in os.listdir(tmp):
        if name.startswith("vg.") and os.path.getsize(os.path.join(tmp, name)) > 0:
            reports.append(f"{name}:\n{h.open_text(os.path.join(tmp, name))[:3000]}")
    assert rc == 0, (rc, reports)
    assert not reports, "\n".join(reports)


if __name__ == "__main__":
    h.run([test_elector_is_valgrind_clean])
