#!/usr/bin/env python3
"""The reconciler role against the API simulator, driven over its IPC socketpair. The test replays every
`deltas` frame into a model of what the renderer would hold and checks, after each step, that the model
equals the simulator's state as projected (managedFields, the last-applied annotation and the configured
ignore_fields dropped; field selectors applied): creates, updates, deletes, a dropped watch, a 410 relist
after compaction (vanished keys arrive as deletes), a Secret type selector served by the API server, a
client-side selector, an update the projection hides (nothing forwarded), and an object too large for one
frame (refused with an event, the rest unaffected). The replay fails on any duplicate: an upsert that
changes nothing, or a delete of a key the model does not hold."""
import copy
import os
import sys

import harness as h
from role_child import RoleChild

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

ING = "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"
SEC = "/api/v1/namespaces/{ns}/secrets"
CM = "/api/v1/namespaces/{ns}/configmaps"
IPC_FRAME_MAX = 1 << 20


def config(tmp, kubeconfig):
    pw = h.write(os.path.join(tmp, "dp-password"), "secret\n")
    return h.write(os.path.join(tmp, "config.yaml"), f"""
controller:
  leader_election: {{enabled: false}}
  run_dir: {tmp}/run
  kubernetes: {{kubeconfig: {kubeconfig}}}
haproxy:
  endpoints:
    - name: local
      master_socket: {tmp}/haproxy-master.sock
  dataplane: {{username: admin, password_file: {pw}}}
watched_resources_ignore_fields: ["metadata.annotations['noise']"]
watched_resources:
  ingresses:
    api_version: networking.k8s.io/v1
    resources: ingresses
    index_by: [metadata.namespace, metadata.name]
  tls:
    api_version: v1
    resources: secrets
    index_by: [metadata.namespace, metadata.name]
    field_selector: type=kubernetes.io/tls
  maps:
    api_version: v1
    resources: configmaps
    namespace: apps
    index_by: [metadata.name]
    field_selector: metadata.name!=skipped,data.enabled=yes
haproxy_config:
  template: |
    global
      maxconn 100
""")


def project(obj):
    o = copy.deepcopy(obj)
    o.pop("kind", None)        # list items have neither, watch events both: the reconciler drops them
    o.pop("apiVersion", None)
    md = o.get("metadata", {})
    md.pop("managedFields", None)
    md.pop("resourceVersion", None)
    ann = md.get("annotations")
    if ann is not None:
        ann.pop("kubectl.kubernetes.io/last-applied-configuration", None)
        ann.pop("noise", None)
        if not ann:
            md.pop("annotations")  # emptied by the projection: the same as absent
    if md.get("labels") == {}:
        md.pop("labels")
    return o


def key(obj):
    md = obj["metadata"]
    return f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"]


class Model:
    """What the renderer holds, built from deltas only."""

    def __init__(self):
        self.objs = {}      # resource -> key -> projected object (without resourceVersion)
        self.synced = set()
        self.seq = {}
        self.frames = 0

    def apply(self, m):
        if m["type"] == "synced":
            self.synced.add(m["resource"])
            return
        res = m["resource"]
        assert m["seq"] == self.seq.get(res, 0) + 1, f"{res}: seq {m['seq']} after {self.seq.get(res)}"
        self.seq[res] = m["seq"]
        assert m["synced"] == (res in self.synced), m
        self.frames += 1
        store = self.objs.setdefault(res, {})
        for it in m["items"]:
            k = it["key"]
            if it["op"] == "upsert":
                obj = it["object"]
                assert "kind" not in obj and "apiVersion" not in obj, obj
                assert obj["metadata"]["resourceVersion"] == it["rv"], it
                assert key(obj) == k, it
                p = project(obj)
                assert store.get(k) != p, f"duplicate: {res} {k} forwarded unchanged"
                store[k] = p
            else:
                assert it["op"] == "delete", it
                assert k in store, f"delete of {res} {k}, which the renderer does not hold"
                del store[k]


def expected(sim):
    def listed(path, pred=lambda o: True):
        st, _, body = sim.request("GET", path)
        assert st == 200, (st, body)
        return {key(o): project(o) for o in body["items"] if pred(o)}
    return {
        "ingresses": listed("/apis/networking.k8s.io/v1/ingresses"),
        "tls": listed("/api/v1/secrets", lambda o: o.get("type") == "kubernetes.io/tls"),
        "maps": listed(CM.format(ns="apps"), lambda o: o["metadata"]["name"] != "skipped" and
                       o.get("data", {}).get("enabled") == "yes"),
    }


def converge(r, model, sim, what):
    want = expected(sim)
    while True:
        got = {res: model.objs.get(res, {}) for res in want}
        if got == want and model.synced >= set(want):
            return
        m = r.next_any(("deltas", "synced"), what=what, diag=lambda: diff(got, want))
        model.apply(m)


def diff(got, want):
    out = []
    for res in want:
        g, w = got.get(res, {}), want[res]
        for k in sorted(set(g) | set(w)):
            if g.get(k) != w.get(k):
                out.append(f"{res} {k}: got {g.get(k)}, want {w.get(k)}")
    return "; ".join(out)


def req(sim, method, path, body=None, ok=(200, 201)):
    st, _, got = sim.request(method, path, body, headers={"Content-Type": "application/merge-patch+json"}
                             if method == "PATCH" else None)
    assert st in ok, (method, path, st, got)
    return got


def ingress(ns, name, host):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": ns},
            "spec": {"rules": [{"host": host}]}}


def secret(ns, name, typ, crt="Y3J0"):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": typ,
            "data": {"tls.crt": crt, "tls.key": "a2V5"}}


def cmap(name, enabled, value="v"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "apps"},
            "data": {"enabled": enabled, "value": value}}


def seed(sim):
    for i in range(30):
        req(sim, "POST", ING.format(ns="web"), ingress("web", f"ing-{i:02d}", f"h{i}.example"))
    req(sim, "POST", SEC.format(ns="web"), secret("web", "cert-a", "kubernetes.io/tls"))
    req(sim, "POST", SEC.format(ns="web"), secret("web", "opaque", "Opaque"))
    req(sim, "POST", CM.format(ns="apps"), cmap("on", "yes"))
    req(sim, "POST", CM.format(ns="apps"), cmap("off", "no"))
    req(sim, "POST", CM.format(ns="apps"), cmap("skipped", "yes"))


def test_deltas_follow_the_cluster_without_loss_or_duplicates(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        seed(sim)
        with RoleChild("reconciler", config(tmp, sim.kubeconfig), tmp) as r:
            model = Model()
            converge(r, model, sim, "initial listing")
            assert len(model.objs["ingresses"]) == 30 and list(model.objs["tls"]) == ["web/cert-a"]
            assert list(model.objs["maps"]) == ["apps/on"], model.objs["maps"]
            # the initial listing went out before its synced, marked synced: false (checked in apply)

            # create, update, delete
            req(sim, "POST", ING.format(ns="web"), ingress("web", "new", "new.example"))
            req(sim, "PATCH", ING.format(ns="web") + "/ing-03", {"spec": {"rules": [{"host": "changed.example"}]}})
            req(sim, "DELETE", ING.format(ns="web") + "/ing-04")
            req(sim, "POST", SEC.format(ns="web"), secret("web", "cert-b", "kubernetes.io/tls"))
            req(sim, "PATCH", CM.format(ns="apps") + "/off", {"data": {"enabled": "yes"}})   # enters the selection
            req(sim, "PATCH", CM.format(ns="apps") + "/on", {"data": {"enabled": "no"}})    # leaves it
            converge(r, model, sim, "create/update/delete")

            # a change the projection hides: no frame at all; the next frame carries only the next change
            frames = model.frames
            req(sim, "PATCH", ING.format(ns="web") + "/ing-05", {"metadata": {"annotations": {"noise": "1"}}})
            req(sim, "PATCH", ING.format(ns="web") + "/ing-06", {"metadata": {"labels": {"real": "1"}}})
            m = r.next_any(("deltas",))
            model.apply(m)
            assert [it["key"] for it in m["items"]] == ["web/ing-06"], m["items"]
            assert model.frames == frames + 1

            # add and delete inside one window (or across two): the replay refuses a delete of an unknown key
            req(sim, "POST", ING.format(ns="web"), ingress("web", "brief", "brief.example"))
            req(sim, "DELETE", ING.format(ns="web") + "/brief")
            converge(r, model, sim, "add then delete")

            # dropped watch: resumed from the last resourceVersion, nothing missed, nothing repeated
            sim.drop_watches()
            for i in range(10, 15):
                req(sim, "PATCH", ING.format(ns="web") + f"/ing-{i}", {"spec": {"rules": [{"host": f"d{i}.example"}]}})
            req(sim, "DELETE", SEC.format(ns="web") + "/cert-a")
            converge(r, model, sim, "after a dropped watch")

            # 410: held away while the history is compacted, then a relist; what vanished comes as deletes
            sim.pause_watches(True)
            req(sim, "DELETE", ING.format(ns="web") + "/ing-20")
            req(sim, "DELETE", ING.format(ns="web") + "/ing-21")
            req(sim, "PATCH", ING.format(ns="web") + "/ing-22", {"spec": {"rules": [{"host": "gone410.example"}]}})
            req(sim, "POST", ING.format(ns="other"), ingress("other", "fresh", "fresh.example"))
            req(sim, "PATCH", CM.format(ns="apps") + "/off", {"data": {"value": "w"}})
            sim.compact()
            synced_before = len(r.of_type("synced"))
            sim.pause_watches(False)
            converge(r, model, sim, "after a 410 relist")
            h.wait_for(lambda: len(r.of_type("synced")) > synced_before, what="synced after the relist")
            assert "informer relisting" in r.text(), r.text()[-2000:]
            assert r.shutdown() == 0


def test_an_object_too_large_for_a_frame_is_refused(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        req(sim, "POST", CM.format(ns="apps"), cmap("small", "yes"))
        with RoleChild("reconciler", config(tmp, sim.kubeconfig), tmp) as r:
            model = Model()
            converge(r, model, sim, "initial listing")
            req(sim, "POST", CM.format(ns="apps"), cmap("huge", "yes", "x" * (IPC_FRAME_MAX + 1000)))
            ev = r.next("event", pred=lambda m: m["event"] == "ObjectTooLarge")
            assert ev["fields"]["resource"] == "maps" and ev["fields"]["key"] == "apps/huge", ev
            # the rest goes on: a later change arrives, the huge object never does
            req(sim, "PATCH", CM.format(ns="apps") + "/small", {"data": {"value": "w"}})
            m = r.next_any(("deltas",))
            model.apply(m)
            assert [it["key"] for it in m["items"]] == ["apps/small"], m["items"]
            assert "apps/huge" not in model.objs["maps"]
            assert r.bytes_max <= IPC_FRAME_MAX
            assert "object too large to forward" in r.text()
            assert r.shutdown() == 0


def test_many_objects_are_chunked_under_the_frame_limit(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        # 40 ConfigMaps of 100 kB: 4 MB in all, so the initial listing needs several frames
        for i in range(40):
            req(sim, "POST", CM.format(ns="apps"), cmap(f"c{i:02d}", "yes", "y" * 100000))
        with RoleChild("reconciler", config(tmp, sim.kubeconfig), tmp) as r:
            model = Model()
            converge(r, model, sim, "initial listing")
            assert len(model.objs["maps"]) == 40
            frames = [m for m in r.of_type("deltas") if m["resource"] == "maps"]
            assert len(frames) >= 4, len(frames)
            assert r.bytes_max <= IPC_FRAME_MAX
            assert r.shutdown() == 0


def test_a_listing_that_finds_nothing_still_says_so(tmp):
    """A resource with no objects still gets a synced:false frame before its synced, at start and after a
    resync, so a renderer holding objects of it from before drops them."""
    with KubeSim(auto_namespaces=True) as sim:
        with RoleChild("reconciler", config(tmp, sim.kubeconfig), tmp) as r:
            for round_ in ("initial listing", "resync"):
                if round_ == "resync":
                    before = len(r.of_type("deltas"))
                    r.send({"type": "resync"})
                else:
                    before = 0
                r.next("synced", pred=lambda m: m["resource"] == "maps", timeout=15)
                marks = [m for m in r.of_type("deltas")[before:] if m["resource"] == "maps"]
                assert marks and marks[0]["synced"] is False and marks[0]["items"] == [], (round_, marks)
            assert r.shutdown() == 0


if __name__ == "__main__":
    h.run([test_deltas_follow_the_cluster_without_loss_or_duplicates, test_an_object_too_large_for_a_frame_is_refused,
           test_many_objects_are_chunked_under_the_frame_limit, test_a_listing_that_finds_nothing_still_says_so])
