#!/usr/bin/env python3
"""The whole all-replica pipeline with real processes: the simulator, three supervisors under election (every
role of each), real haproxy -c. Ingresses created, changed and deleted in the simulator reach every replica's
last-known-good with the same checksum; a bad Ingress among good ones is quarantined while the good ones
land; fixing it releases it; a reconciler killed mid-way changes nothing. A dropped watch, a 410 Gone relist
and a simulator restarted on the same port with other objects lose and duplicate nothing: each time the LKG
is byte for byte a fresh `validate --dump-rendered` render of the simulator's objects."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

FAST = "    lease_namespace: default\n    lease_duration: 3s\n    renew_deadline: 2s\n    retry_period: 500ms\n"

# A small template set: one backend per Ingress, names and hosts checked by the injection guard.
PIPELINE = """watched_resources:
  ingresses:
    api_version: networking.k8s.io/v1
    resources: ingresses
    index_by: [metadata.namespace, metadata.name]
haproxy_config:
  template: |
    global
      maxconn 100
    defaults
      mode http
      timeout connect 1s
      timeout client 1s
      timeout server 1s
    frontend fe
      bind 127.0.0.1:{port}
    {{% for ing in resources.ingresses.List() %}}
      use_backend be_{{{{ haproxy_arg(ing.metadata.namespace) }}}}_{{{{ haproxy_arg(ing.metadata.name) }}}} if {{ hdr(host) -i {{{{ haproxy_arg(ing.spec.rules[0].host) }}}} }}
    {{% endfor %}}
    {{% for ing in resources.ingresses.List() %}}
    backend be_{{{{ haproxy_arg(ing.metadata.namespace) }}}}_{{{{ haproxy_arg(ing.metadata.name) }}}}
      {{{{ (ing.metadata.annotations | default({{}})).extra | default("") }}}}
      server s1 127.0.0.1:9
    {{% endfor %}}
"""


def ingress(name, host, annotations=None):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "shop", "annotations": annotations or {}},
            "spec": {"rules": [{"host": host}]}}


def debug_vars(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/vars", timeout=3) as r:
            return json.loads(r.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None


def pipeline(port):
    v = debug_vars(port)
    return v.get("pipeline") if v else None


def lkg(port):
    p = pipeline(port)
    return p["lkg"] if p and p.get("lkg") else None


def lkg_config(tmp, checksum):
    with open(os.path.join(tmp, "run", "gen", checksum.split(":", 1)[1], "haproxy.cfg")) as f:
        return f.read()


def start_replicas(sim, tmp, n):
    procs, ports, dirs = [], [], []
    frontend_port = h.free_port()  # the same config on every replica, so the same checksum
    for i in range(n):
        d = os.path.join(tmp, f"r{i}")
        os.makedirs(d)
        port = h.free_port()
        cfg = h.config(d, election=True, http_port=port, kubeconfig=sim.kubeconfig,
                       leader_election_extra=FAST + f"    identity: pod-{i}\n",
                       pipeline=PIPELINE.format(port=frontend_port))
        procs.append(h.Proc([h.HTIC_BIN, "run", "--config", cfg], d, name=f"replica{i}"))
        ports.append(port)
        dirs.append(d)
    return procs, ports, dirs


def same_lkg_everywhere(ports, want=None):
    sums = [lkg(p) for p in ports]
    if any(s is None for s in sums):
        return None
    checks = {s["checksum"] for s in sums}
    if len(checks) != 1:
        return None
    c = checks.pop()
    return c if want is None or want(c) else None


def test_lkg_follows_the_cluster_on_every_replica_and_quarantines_a_bad_ingress(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        procs, ports, dirs = start_replicas(sim, tmp, 3)
        try:
            first = h.wait_for(lambda: same_lkg_everywhere(ports), timeout=30, what="a first LKG on every replica")
            assert "backend be_" not in lkg_config(dirs[0], first)

            for name, host in (("web", "web.example"), ("api", "api.example")):
                code, _, body = sim.request("POST", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses",
                                            ingress(name, host))
                assert code == 201, (code, body)
            two = h.wait_for(lambda: same_lkg_everywhere(
                ports, lambda c: "be_shop_api" in lkg_config(dirs[0], c) and "be_shop_web" in lkg_config(dirs[0], c)),
                timeout=30, what="both Ingresses in every replica's LKG")

            # one bad Ingress (an injection attempt through a host) and one good change at once
            code, _, _ = sim.request("POST", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses",
                                     ingress("evil", "x.example }\n  http-request deny"))
            assert code == 201
            code, _, _ = sim.request("POST", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses",
                                     ingress("good", "good.example"))
            assert code == 201

            def quarantined_and_good_landed():
                for p in ports:
                    pl = pipeline(p)
                    if not pl or not any(q["name"] == "evil" for q in pl.get("quarantined", [])):
                        return None
                c = same_lkg_everywhere(ports, lambda c: "be_shop_good" in lkg_config(dirs[0], c))
                return c
            three = h.wait_for(quarantined_and_good_landed, timeout=60, what="evil quarantined, good in the LKG")
            cfg = lkg_config(dirs[0], three)
            assert "be_shop_evil" not in cfg and "http-request deny" not in cfg, cfg
            reason = [q for q in pipeline(ports[0])["quarantined"] if q["name"] == "evil"][0]["reason"]
            assert "evil" in reason or "haproxy_arg" in reason, reason

            # fixing it releases it
            code, _, fixed = sim.request("GET", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/evil")
            fixed["spec"]["rules"][0]["host"] = "evil.example"
            code, _, body = sim.request("PUT", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/evil", fixed)
            assert code == 200, (code, body)
            h.wait_for(lambda: same_lkg_everywhere(ports, lambda c: "be_shop_evil" in lkg_config(dirs[0], c)),
                       timeout=60, what="fixed Ingress in the LKG")
            assert all(not pipeline(p)["quarantined"] for p in ports)

            # a killed reconciler restarts and the pipeline converges without a new generation
            before = lkg(ports[1])
            kids = procs[1].children()
            os.kill(kids["reconciler"], signal.SIGKILL)
            h.wait_for(lambda: procs[1].children().get("reconciler") not in (None, kids["reconciler"]),
                       what="reconciler restarted")
            time.sleep(2)
            after = lkg(ports[1])
            assert after["checksum"] == before["checksum"] and after["generation"] == before["generation"], \
                (before, after)

            # a delete reaches every replica
            code, _, _ = sim.request("DELETE", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web")
            assert code == 200
            h.wait_for(lambda: same_lkg_everywhere(ports, lambda c: "be_shop_web" not in lkg_config(dirs[0], c)),
                       timeout=30, what="deleted Ingress gone from every LKG")
            assert two != three
        finally:
            for p in procs:
                p.stop()


def sim_ingresses(sim):
    code, _, body = sim.request("GET", "/apis/networking.k8s.io/v1/ingresses")
    assert code == 200, (code, body)
    return body["items"]


def fresh_render(tmp, pipeline_yaml, ingresses, name):
    """The files `validate --dump-rendered` renders from these objects as fixtures: {relative path: bytes}."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    fixtures = json.dumps({"ingresses": ingresses})
    cfg = h.config(d, pipeline=pipeline_yaml + "validation_tests:\n  state:\n    fixtures: " + fixtures +
                   "\n    assertions: [{type: contains, pattern: \"^global$\"}]\n")
    dump = os.path.join(d, "dump")
    r = subprocess.run([h.HTIC_BIN, "validate", "--config", cfg, "--dump-rendered", dump], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return tree_bytes(os.path.join(dump, "state"))


def tree_bytes(root, skip=("manifest.json",)):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), root)
            if rel not in skip:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    out[rel] = fh.read()
    return out


def backends(cfg_text):
    return sorted(line.strip() for line in cfg_text.splitlines() if line.startswith("backend "))


def test_dropped_watch_gone_relist_and_simulator_restart_lose_and_duplicate_nothing(tmp):
    port = h.free_port()
    seed = os.path.join(tmp, "seed-a.json")
    with open(seed, "w") as f:
        json.dump([ingress(n, n + ".example") for n in ("web", "api", "old")], f)
    sim = KubeSim(seed=seed, auto_namespaces=True, history=4, extra_args=["--port", str(port)]).start()
    kubeconfig = os.path.join(tmp, "kubeconfig")   # the sim's dir goes with it; the port stays the same
    shutil.copy(sim.kubeconfig, kubeconfig)
    frontend = h.free_port()
    d = os.path.join(tmp, "replica")
    os.makedirs(d)
    http_port = h.free_port()
    pipeline_yaml = PIPELINE.format(port=frontend)
    cfg = h.config(d, election=True, http_port=http_port, kubeconfig=kubeconfig,
                   leader_election_extra=FAST + "    identity: pod-0\n", pipeline=pipeline_yaml)
    proc = h.Proc([h.HTIC_BIN, "run", "--config", cfg], d, name="replica")
    step = [0]

    def converged(what):
        """Waits for the LKG to carry the simulator's Ingresses, then compares it with a fresh render."""
        want = sorted("backend be_shop_" + i["metadata"]["name"] for i in sim_ingresses(sim))
        c = h.wait_for(lambda: (lambda s: s if s and backends(lkg_config(d, s["checksum"])) == want else None)(lkg(http_port)),
                       timeout=40, what=f"the LKG after {what}")["checksum"]
        step[0] += 1
        fresh = fresh_render(tmp, pipeline_yaml, sim_ingresses(sim), f"fresh{step[0]}")
        held = tree_bytes(os.path.join(d, "run", "gen", c.split(":", 1)[1]))
        assert held == fresh, (what, sorted(held), sorted(fresh))
        return c

    try:
        converged("the first listing")
        # a dropped watch: the informer watches again from its resourceVersion, the change in between arrives once
        sim.drop_watches()
        code, _, _ = sim.request("POST", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses", ingress("new", "new.example"))
        assert code == 201
        converged("a dropped watch")
        # 410 Gone: watches paused while more changes than the history holds go by, then compacted: the relist
        # reports the delete and the changes as such
        sim.pause_watches(True)
        code, _, _ = sim.request("DELETE", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/old")
        assert code == 200
        for n in ("g1", "g2", "g3", "g4", "g5"):
            code, _, _ = sim.request("POST", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses", ingress(n, n + ".example"))
            assert code == 201
        sim.compact()
        sim.pause_watches(False)
        converged("a 410 Gone relist")
        # a simulator restart on the same port with other objects: web changed, api and the g* gone, one new.
        # SIGKILL: the watch ends with a reset, not a clean end of stream, so the informer resumes from its last
        # resourceVersion (newer than anything the new simulator has) instead of relisting
        sim.proc.kill()
        sim.stop()
        seed_b = os.path.join(tmp, "seed-b.json")
        with open(seed_b, "w") as f:
            json.dump([ingress("web", "web2.example"), ingress("after", "after.example"), ingress("new", "new.example")], f)
        sim = KubeSim(seed=seed_b, auto_namespaces=True, extra_args=["--port", str(port)]).start()
        c = converged("a simulator restart")
        assert "web2.example" in lkg_config(d, c)
        assert lkg(http_port)["generation"] >= 4
    finally:
        proc.stop()
        sim.stop()


if __name__ == "__main__":
    h.run([test_lkg_follows_the_cluster_on_every_replica_and_quarantines_a_bad_ingress,
           test_dropped_watch_gone_relist_and_simulator_restart_lose_and_duplicate_nothing])
