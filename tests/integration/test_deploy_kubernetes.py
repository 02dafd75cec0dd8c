#!/usr/bin/python3
"""deploy/kubernetes rendered by `kubectl kustomize` and checked against the code:
- RBAC: every API call the controller makes is allowed, and the Lease rules grant nothing it does not use.
  The calls come from a run: two replicas with leader election against the API simulator (tests/kube-sim,
  its request log), through acquisition, renewals, watches and a graceful handoff (release). Calls that the
  roles do not make yet are derived from the config the manifests ship: its watched_resources (get, list,
  watch, cluster-wide), haproxy.pod_selector (pods in the namespace) and the credentials Secret (get, that
  name only).
- probes: the paths and port are ones the real binary serves (200 from /healthz and /readyz);
- env: every variable set is one the binary reads (getenv in the source), and the Lease identity and
  namespace come from the downward API;
- the rest that must agree: replicas, grace period above shutdown_timeout, spreading, the image's user and
  config path, run_dir, selectors, the HAProxy pods' labels, the Secret's name and keys.
Skips (TAP) when kubectl is absent."""
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from urllib.parse import urlparse, parse_qs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kube-sim"))
import harness as h  # noqa: E402
from kubesim import KubeSim  # noqa: E402

import yaml  # noqa: E402

KUBECTL = shutil.which("kubectl")
KDIR = os.path.join(h.SOURCE_ROOT, "deploy", "kubernetes")
DOCKERFILE = os.path.join(h.SOURCE_ROOT, "deploy", "Dockerfile")
NS = "haproxy-template-ic"


def rendered():
    p = subprocess.run([KUBECTL, "kustomize", KDIR], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def one(objs, kind, name=None):
    got = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(got) == 1, (kind, name, [o["metadata"]["name"] for o in got])
    return got[0]


def controller(objs):
    return one(objs, "Deployment", "haproxy-template-ic")


def shipped_config(objs):
    cm = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("haproxy-template-ic-config")]
    assert len(cm) == 1
    return yaml.safe_load(cm[0]["data"]["config.yaml"])


def allowed(rules, verb, group, resource, name=None):
    for r in rules:
        if (group in r.get("apiGroups", []) and resource in r.get("resources", []) and verb in r.get("verbs", [])
                and (not r.get("resourceNames") or name in r["resourceNames"])):
            return True
    return False


def calls_from_sim_log(path):
    """(verb, group, resource, namespace, name) for every request in the simulator's debug log."""
    out = set()
    for line in open(path, errors="replace"):
        if 'msg=request' not in line and '"msg":"request"' not in line:
            continue
        method = re.search(r'method="?([A-Z]+)', line).group(1)
        url = re.search(r'url="?([^" ]+)', line).group(1)
        u = urlparse(url)
        q = parse_qs(u.query)
        parts = u.path.strip("/").split("/")
        if parts[0] == "api":
            group, rest = "", parts[2:]
        elif parts[0] == "apis":
            group, rest = parts[1], parts[3:]
        else:
            continue  # discovery, /version
        ns = None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        resource, name = rest[0], (rest[1] if len(rest) > 1 else None)
        if method == "GET":
            verb = "watch" if q.get("watch", ["0"])[0] not in ("0", "false") else ("get" if name else "list")
            if verb == "watch" and not name:
                sel = q.get("fieldSelector", [""])[0]
                if sel.startswith("metadata.name="):
                    name = sel.split("=", 1)[1]  # RBAC treats a watch on one name like that name
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
        out.add((verb, group, resource, ns, name))
    return out


def test_kustomize_renders_every_object(tmp):
    kinds = sorted(o["kind"] for o in rendered())
    for k in ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Deployment",
              "ConfigMap", "PodDisruptionBudget", "Service", "Secret", "IngressClass"):
        assert k in kinds, (k, kinds)
    assert all(o["metadata"].get("namespace") == NS for o in rendered()
               if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding", "IngressClass"))


def test_rbac_allows_every_call_the_controller_makes_and_no_more_on_leases(tmp):
    objs = rendered()
    role, crole = one(objs, "Role")["rules"], one(objs, "ClusterRole")["rules"]
    cfg = shipped_config(objs)
    lease_name = cfg["controller"]["leader_election"]["lease_name"]
    with KubeSim(auto_namespaces=True, log_level="debug") as sim:
        procs = []
        try:
            for i in range(2):
                d = os.path.join(tmp, f"r{i}")
                os.makedirs(d)
                c = h.config(d, election=True, kubeconfig=sim.kubeconfig, leader_election_extra=(
                    f"    lease_name: {lease_name}\n    lease_duration: 4s\n    renew_deadline: 2500ms\n"
                    "    retry_period: 1s\n"))
                procs.append(h.Proc([h.HTIC_BIN, "run", "--config", c], tmp, name=f"replica-{i}",
                                    env={"POD_NAME": f"htic-{i}", "POD_NAMESPACE": NS}))
            leader = h.wait_for(lambda: next(iter(h.deployers(procs)), None) is not None and h.deployers(procs),
                                timeout=20, what="a leader")
            i = next(iter(leader))
            h.wait_for(lambda: any(c[0] == "update" for c in calls_from_sim_log(sim.log_path)), timeout=10,
                       what="a renewal (PUT) in the simulator's log")
            os.kill(procs[i].pid, signal.SIGTERM)   # the release, then the other takes over
            assert procs[i].wait(timeout=25) == 0
            h.wait_for(lambda: 1 - i in h.deployers(procs), timeout=20, what="the takeover")
        finally:
            for p in procs:
                p.stop()
        calls = calls_from_sim_log(sim.log_path)
    print(f"# API calls seen: {sorted(set((c[0], c[1], c[2]) for c in calls))}", flush=True)
    lease_calls = {c for c in calls if c[2] == "leases"}
    assert {c[0] for c in lease_calls} >= {"get", "create", "update", "watch"}, sorted(calls)
    for verb, group, resource, ns, name in calls:
        rules = role if ns == NS else crole
        assert ns in (NS, None), f"a call outside the controller's namespace: {verb} {resource} in {ns}"
        assert allowed(rules, verb, group, resource, name), f"RBAC refuses {verb} {group}/{resource} {ns}/{name}"
    granted = {v for r in role if "leases" in r.get("resources", []) for v in r["verbs"]}
    assert granted == {c[0] for c in lease_calls}, (granted, lease_calls)


def test_rbac_covers_what_the_shipped_config_watches(tmp):
    objs = rendered()
    role, crole = one(objs, "Role")["rules"], one(objs, "ClusterRole")["rules"]
    cfg = shipped_config(objs)
    for name, w in cfg["watched_resources"].items():
        group = w["api_version"].rpartition("/")[0]
        rules = role if w.get("namespace") == NS else crole
        for verb in ("get", "list", "watch"):
            assert allowed(rules, verb, group, w["resources"]), (name, verb)
    if cfg["haproxy"].get("pod_selector"):
        for verb in ("get", "list", "watch"):
            assert allowed(role, verb, "", "pods"), verb
    secret = cfg["haproxy"]["dataplane"]["credentials_secret"]["name"]
    assert allowed(role, "get", "", "secrets", secret)
    assert not allowed(role, "get", "", "secrets", "any-other-secret")
    assert not any("list" in r["verbs"] or "watch" in r["verbs"] for r in role if "secrets" in r["resources"])
    for r in role + crole:
        assert not set(r["verbs"]) & {"delete", "deletecollection", "patch", "*"}, r


def test_probes_name_paths_the_binary_serves(tmp):
    objs = rendered()
    c = controller(objs)["spec"]["template"]["spec"]["containers"][0]
    cfg = shipped_config(objs)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports[c["livenessProbe"]["httpGet"]["port"]] == cfg["controller"]["http"]["port"]
    assert ports[c["readinessProbe"]["httpGet"]["port"]] == cfg["controller"]["http"]["port"]
    assert cfg["controller"]["http"]["address"] == "0.0.0.0"   # the kubelet probes the pod IP
    port = h.free_port()
    with h.Proc([h.HTIC_BIN, "run", "--config", h.config(tmp, http_port=port)], tmp, name="supervisor") as p:
        for probe in ("livenessProbe", "readinessProbe"):
            path = c[probe]["httpGet"]["path"]

            def status():
                try:
                    return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2).status
                except OSError:
                    return None
            assert h.wait_for(lambda: status() == 200, timeout=30, what=f"200 from {path}")
        os.kill(p.pid, signal.SIGTERM)
        assert p.wait(timeout=25) == 0


def env_the_binary_reads():
    return h.source_matches(r'getenv\("([A-Z_]+)"\)')


def test_env_is_what_the_binary_reads_from_the_downward_api(tmp):
    c = controller(rendered())["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in c["env"]}
    reads = env_the_binary_reads()
    assert {"POD_NAME", "POD_NAMESPACE"} <= reads, reads
    assert set(env) <= reads, f"set but never read: {set(env) - reads}"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_deployment_fits_the_image_the_config_and_the_cluster(tmp):
    objs = rendered()
    dep = controller(objs)
    spec = dep["spec"]["template"]["spec"]
    cfg = shipped_config(objs)
    assert dep["spec"]["replicas"] == 2
    shutdown = int(cfg["controller"]["shutdown_timeout"].rstrip("s"))
    assert spec["terminationGracePeriodSeconds"] > shutdown
    assert spec["affinity"]["podAntiAffinity"]
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    labels = dep["spec"]["template"]["metadata"]["labels"]
    sel = dep["spec"]["selector"]["matchLabels"]
    for o in (spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
              ["podAffinityTerm"]["labelSelector"]["matchLabels"],
              spec["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"],
              one(objs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
              one(objs, "Service", "haproxy-template-ic-metrics")["spec"]["selector"], sel):
        assert o.items() <= labels.items(), (o, labels)
    assert one(objs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    assert spec["serviceAccountName"] == one(objs, "ServiceAccount")["metadata"]["name"]
    c = spec["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    dockerfile = h.open_text(DOCKERFILE)
    entry = re.search(r'^ENTRYPOINT (\[.*\])$', dockerfile, re.M).group(1)
    config_path = yaml.safe_load(entry)[-1]
    assert os.path.join(mounts["config"], "config.yaml") == config_path, (mounts, config_path)
    assert mounts["run"] == cfg["controller"]["run_dir"]
    uid = re.search(r"^USER (\d+)", dockerfile, re.M).group(1)
    assert spec["securityContext"]["runAsUser"] == int(uid) and spec["securityContext"]["runAsNonRoot"]
    assert c["securityContext"]["readOnlyRootFilesystem"] and "/tmp" in mounts.values()


def test_haproxy_pods_are_what_the_config_drives(tmp):
    objs = rendered()
    cfg = shipped_config(objs)
    hp = one(objs, "Deployment", "haproxy")
    labels = hp["spec"]["template"]["metadata"]["labels"]
    assert cfg["haproxy"]["pod_selector"]["match_labels"].items() <= labels.items()
    sidecar = [c for c in hp["spec"]["template"]["spec"]["containers"] if c["name"] == "dataplane"][0]
    assert sidecar["ports"][0]["containerPort"] == cfg["haproxy"]["dataplane"]["port"]
    cs = cfg["haproxy"]["dataplane"]["credentials_secret"]
    secret = one(objs, "Secret", cs["name"])
    assert {cs.get("username_key", "dataplane_username"), cs.get("password_key", "dataplane_password")} <= \
        set(secret["stringData"])
    ing = [w for w in cfg["watched_resources"].values() if w["resources"] == "ingresses"][0]
    assert ing["field_selector"] == "spec.ingressClassName=" + one(objs, "IngressClass")["metadata"]["name"]


def test_the_monitoring_component_adds_a_servicemonitor_on_the_metrics_port(tmp):
    overlay = os.path.join(tmp, "overlay")
    os.makedirs(overlay)
    rel = os.path.relpath(KDIR, overlay)
    h.write(os.path.join(overlay, "kustomization.yaml"),
            f"resources: [{rel}]\ncomponents: [{rel}/monitoring]\n")
    p = subprocess.run([KUBECTL, "kustomize", overlay], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    objs = [d for d in yaml.safe_load_all(p.stdout) if d]
    sm = one(objs, "ServiceMonitor")
    svc = one(objs, "Service", "haproxy-template-ic-metrics")
    assert sm["spec"]["endpoints"][0]["port"] in [pt["name"] for pt in svc["spec"]["ports"]]
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()


if __name__ == "__main__":
    if not KUBECTL:
        print("1..1\nok 1 - deploy/kubernetes # SKIP kubectl not found (kubectl kustomize renders the manifests)")
        sys.exit(0)
    h.run([
        test_kustomize_renders_every_object,
        test_rbac_allows_every_call_the_controller_makes_and_no_more_on_leases,
        test_rbac_covers_what_the_shipped_config_watches,
        test_probes_name_paths_the_binary_serves,
        test_env_is_what_the_binary_reads_from_the_downward_api,
        test_deployment_fits_the_image_the_config_and_the_cluster,
        test_haproxy_pods_are_what_the_config_drives,
        test_the_monitoring_component_adds_a_servicemonitor_on_the_metrics_port,
    ])
