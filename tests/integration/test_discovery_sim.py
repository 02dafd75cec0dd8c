#!/usr/bin/env python3
"""The discovery role against the API simulator, driven over its IPC socketpair: pods that become Ready, lose
readiness, change IP or are deleted change the published `targets` set; changes that leave the set alone
publish nothing; a dropped watch and a 410 relist lose no change; without a pod_selector only the fixed
endpoints are published and Kubernetes is never contacted."""
import os
import sys

import harness as h
from role_child import RoleChild

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

PODS = "/api/v1/namespaces/ns/pods"


def config(tmp, kubeconfig, pod_selector=True):
    pw = h.write(os.path.join(tmp, "dp-password"), "secret\n")
    sel = "  pod_selector:\n    match_labels: {app: haproxy}\n    namespace: ns\n" if pod_selector else ""
    return h.write(os.path.join(tmp, "config.yaml"), f"""
controller:
  leader_election: {{enabled: false}}
  run_dir: {tmp}/run
  kubernetes: {{kubeconfig: {kubeconfig}}}
haproxy:
{sel}  endpoints:
    - name: local
      master_socket: {tmp}/haproxy-master.sock
  dataplane:
    port: 5555
    username: admin
    password_file: {pw}
haproxy_config:
  template: |
    global
      maxconn 100
""")


def pod_status(ready, ip):
    st = {"phase": "Running" if ready is not None else "Pending",
          "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        st["podIP"] = ip
    return st


def create_pod(sim, name, ready, ip, app="haproxy"):
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"containers": [{"name": "haproxy", "image": "haproxy"}]}}
    st, _, got = sim.request("POST", PODS, body)
    assert st == 201, (st, got)
    set_status(sim, name, ready, ip)


def set_status(sim, name, ready, ip, annotate=None):
    st, _, obj = sim.request("GET", f"{PODS}/{name}")
    assert st == 200, (st, obj)
    obj["status"] = pod_status(ready, ip)
    st, _, got = sim.request("PUT", f"{PODS}/{name}/status", obj)
    assert st == 200, (st, got)


def annotate(sim, name, value):
    st, _, got = sim.request("PATCH", f"{PODS}/{name}", {"metadata": {"annotations": {"note": value}}},
                             headers={"Content-Type": "application/merge-patch+json"})
    assert st == 200, (st, got)


def pods_of(msg):
    return {t["name"]: t["address"] for t in msg["targets"] if t["kind"] == "pod"}


def test_pods_follow_readiness_ip_and_deletion(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        create_pod(sim, "hap-a", True, "10.0.0.1")
        create_pod(sim, "hap-b", False, "10.0.0.2")
        create_pod(sim, "other", True, "10.0.0.3", app="web")
        create_pod(sim, "hap-c", True, None)
        with RoleChild("discovery", config(tmp, sim.kubeconfig), tmp) as r:
            first = r.next("targets")
            assert pods_of(first) == {"hap-a": "10.0.0.1"}, first
            statics = [t for t in first["targets"] if t["kind"] == "static"]
            assert statics == [{"name": "local", "kind": "static",
                                "master_socket": f"{tmp}/haproxy-master.sock"}], statics
            a = [t for t in first["targets"] if t["name"] == "hap-a"][0]
            assert a == {"name": "hap-a", "namespace": "ns", "pod": "hap-a", "address": "10.0.0.1", "port": 5555,
                         "kind": "pod"}, a

            set_status(sim, "hap-b", True, "10.0.0.2")
            assert pods_of(r.next("targets")) == {"hap-a": "10.0.0.1", "hap-b": "10.0.0.2"}
            # no change to the set: nothing published; the next message is the IP change that follows
            annotate(sim, "hap-a", "x")
            set_status(sim, "other", False, "10.0.0.3")
            set_status(sim, "hap-a", True, "10.0.0.11")
            assert pods_of(r.next("targets")) == {"hap-a": "10.0.0.11", "hap-b": "10.0.0.2"}
            set_status(sim, "hap-c", True, "10.0.0.4")
            assert pods_of(r.next("targets")) == {"hap-a": "10.0.0.11", "hap-b": "10.0.0.2", "hap-c": "10.0.0.4"}
            set_status(sim, "hap-b", False, "10.0.0.2")
            assert pods_of(r.next("targets")) == {"hap-a": "10.0.0.11", "hap-c": "10.0.0.4"}
            st, _, _ = sim.request("DELETE", f"{PODS}/hap-c")
            assert st == 200
            last = r.next("targets")
            assert pods_of(last) == {"hap-a": "10.0.0.11"}
            assert [m["targets"] for m in r.of_type("targets")][-1] == last["targets"]
            assert len(r.of_type("targets")) == 6, [pods_of(m) for m in r.of_type("targets")]
            # the event and the metrics report follow the targets message: wait for them to be read
            def changed_events():
                return [m for m in r.of_type("event") if m["event"] == "TargetsChanged"]
            h.wait_for(lambda: len(changed_events()) >= 6, what="the sixth TargetsChanged event")
            ev = changed_events()
            assert len(ev) == 6 and ev[-1]["fields"] == {"pods": "1", "static": "1"}, ev
            mets = r.of_type("metrics")[-1]["metrics"]
            g = [f for f in mets if f["name"] == "haproxy_ic_discovery_targets"][0]
            assert {s["labels"][0]: s["value"] for s in g["series"]} == {"pod": 1, "static": 1}, g
            assert r.shutdown() == 0


def test_dropped_watch_and_relist_lose_nothing(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        create_pod(sim, "hap-a", True, "10.0.0.1")
        with RoleChild("discovery", config(tmp, sim.kubeconfig), tmp) as r:
            assert pods_of(r.next("targets")) == {"hap-a": "10.0.0.1"}
            sim.drop_watches()
            create_pod(sim, "hap-b", True, "10.0.0.2")
            assert pods_of(r.next("targets")) == {"hap-a": "10.0.0.1", "hap-b": "10.0.0.2"}
            # held away while history is compacted: the resumed watch gets 410 and the informer relists
            sim.pause_watches(True)
            st, _, _ = sim.request("DELETE", f"{PODS}/hap-a")
            assert st == 200
            set_status(sim, "hap-b", True, "10.0.0.22")
            sim.compact()
            sim.pause_watches(False)
            assert pods_of(r.next("targets")) == {"hap-b": "10.0.0.22"}
            # after the relist, live events still arrive
            create_pod(sim, "hap-c", True, "10.0.0.3")
            assert pods_of(r.next("targets")) == {"hap-b": "10.0.0.22", "hap-c": "10.0.0.3"}
            assert r.shutdown() == 0


def test_static_only_needs_no_cluster(tmp):
    # the kubeconfig named does not exist: loading it would fail the role, so success proves it is not read
    cfg = config(tmp, os.path.join(tmp, "no-such-kubeconfig"), pod_selector=False)
    with RoleChild("discovery", cfg, tmp) as r:
        m = r.next("targets")
        assert m["targets"] == [{"name": "local", "kind": "static", "master_socket": f"{tmp}/haproxy-master.sock"}], m
        r.next("heartbeat")
        r.next("heartbeat")
        assert len(r.of_type("targets")) == 1
        assert r.shutdown() == 0
    assert "kubernetes" not in open(os.path.join(tmp, "discovery.log")).read().lower()


if __name__ == "__main__":
    h.run([test_pods_follow_readiness_ip_and_deletion, test_dropped_watch_and_relist_lose_nothing,
           test_static_only_needs_no_cluster])
