#!/usr/bin/env python3
"""The event-to-LKG latency histogram (haproxy_ic_pipeline_event_to_lkg_seconds, docs/metrics.md) with real
processes: one replica against the simulator, real haproxy -c. The initial sync is no event (nothing is
observed for the first LKG); each Ingress written afterwards is observed once the LKG that holds it is
published, and the time observed is positive (no bound on it: this is not a timed test)."""
import os
import re
import sys

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402
from test_pipeline_sim import PIPELINE, ingress, lkg, lkg_config  # noqa: E402

METRIC = "haproxy_ic_pipeline_event_to_lkg_seconds"


def histogram(port):
    """(count, sum) of the executor's histogram on /metrics, None while it is not exported."""
    code, body = h.http_get(port, "/metrics")
    if code != 200:
        return None
    count = re.search(r'^%s_count\{[^}]*role="executor"[^}]*\} (\S+)$' % METRIC, body, re.M)
    total = re.search(r'^%s_sum\{[^}]*role="executor"[^}]*\} (\S+)$' % METRIC, body, re.M)
    return (int(float(count.group(1))), float(total.group(1))) if count and total else None


def test_event_to_lkg_histogram_counts_the_changes_an_lkg_includes(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        port = h.free_port()
        cfg = h.config(tmp, http_port=port, kubeconfig=sim.kubeconfig, pipeline=PIPELINE.format(port=h.free_port()))
        proc = h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp, name="replica")
        try:
            h.wait_for(lambda: lkg(port), timeout=30, what="a first LKG")
            first = h.wait_for(lambda: histogram(port), timeout=10, what=f"{METRIC} on /metrics")
            assert first[0] == 0, first  # the initial sync is not a watch event

            for i, name in enumerate(("web", "api")):
                code, _, body = sim.request("POST", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses",
                                            ingress(name, f"{name}.example"))
                assert code == 201, (code, body)
                h.wait_for(lambda: (lkg(port) or {}).get("checksum") and
                           f"be_shop_{name}" in lkg_config(tmp, lkg(port)["checksum"]),
                           timeout=30, what=f"{name} in the LKG")
                # the metrics report follows the publication: wait for it, then it has counted this change
                got = h.wait_for(lambda: (histogram(port) or (0, 0))[0] >= i + 1 and histogram(port),
                                 timeout=10, what=f"{METRIC} counting change {i + 1}")
                assert got[1] > 0, got
        finally:
            proc.stop()


if __name__ == "__main__":
    h.run([test_event_to_lkg_histogram_counts_the_changes_an_lkg_includes])
