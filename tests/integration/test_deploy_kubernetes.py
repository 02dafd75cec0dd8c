#!/usr/bin/python3
"""deploy/kubernetes rendered by `kubectl kustomize` and checked against the code:
- RBAC: the Role and ClusterRole grant exactly what the shipped config needs, derived from it
  (required_grants: leader_election -> create leases, get/update/watch on lease_name; haproxy.pod_selector ->
  pods; credentials_secret -> get on that name; each watched_resources entry -> get, list, watch on its
  group/resource); a missing or an extra verb, resource or name fails. Two replicas of that config then run
  against the API simulator (tests/kube-sim, its request log) through acquisition, renewals, the informers'
  lists and watches and a graceful handoff: every call must be allowed and every grant used, save the ones
  unseen_reason names. The rules rbac.yaml gives in a comment for deploy/examples/ingress.yaml are checked
  the same way against that config.
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


# The verbs an informer-backed resource gets: list and watch are the informer's calls; get is granted with
# them (the issue and the original controller's chart do) and reads nothing that list does not.
INFORMER_VERBS = ("get", "list", "watch")


def required_grants(cfg, ns):
    """{grant: why} the controller needs with config cfg when it runs in namespace ns, derived from the
    config and from the calls each role makes with it. A grant is (namespace, or None for cluster-wide; API
    group; resource; verb; resource name, or None for any)."""
    need = {}
    le = cfg["controller"].get("leader_election") or {}
    if le.get("enabled"):
        lns = le.get("lease_namespace") or ns
        need[(lns, "coordination.k8s.io", "leases", "create", None)] = \
            "the elector's first acquisition (POST to the collection: RBAC cannot restrict create by name)"
        for verb in ("get", "update", "watch"):
            need[(lns, "coordination.k8s.io", "leases", verb, le["lease_name"])] = \
                "the elector: read, renew or take over, and watch its one Lease (fieldSelector metadata.name)"
    hp = cfg["haproxy"]
    if hp.get("pod_selector"):
        for verb in INFORMER_VERBS:
            need[(hp["pod_selector"].get("namespace") or ns, "", "pods", verb, None)] = \
                "discovery: the HAProxy pods (an informer on haproxy.pod_selector)"
    cs = (hp.get("dataplane") or {}).get("credentials_secret") or {}
    if cs.get("name"):
        need[(cs.get("namespace") or ns, "", "secrets", "get", cs["name"])] = \
            "haproxy.dataplane.credentials_secret (that name only)"
    for key, w in (cfg.get("watched_resources") or {}).items():
        group = w["api_version"].rpartition("/")[0]
        for verb in INFORMER_VERBS:
            need[(w.get("namespace"), group, w["resources"], verb, None)] = f"watched_resources.{key} (reconciler)"
    return need


def granted_grants(role_rules, crole_rules, ns):
    """The grants a Role in ns and a ClusterRole give, expanded one verb, resource and name at a time.
    Wildcards and non-resource URLs are refused: what they grant cannot be compared."""
    out = set()
    for scope, rules in ((ns, role_rules), (None, crole_rules)):
        for r in rules:
            assert "nonResourceURLs" not in r, r
            for group in r["apiGroups"]:
                for res in r["resources"]:
                    for verb in r["verbs"]:
                        assert "*" not in (group, res, verb), f"a wildcard in {r}"
                        for name in r.get("resourceNames") or [None]:
                            out.add((scope, group, res, verb, name))
    return out


def allows(grants, call):
    """Does one of grants allow call (verb, group, resource, namespace, name)? A namespaced call is allowed
    by the Role of its namespace or the ClusterRole; a grant without a name allows every name."""
    verb, group, res, ns, name = call
    return any(g[1:4] == (group, res, verb) and g[0] in (None, ns) and g[4] in (None, name) for g in grants)


def diff_grants(granted, need):
    """The messages for a grant missing from the rules and for one the config does not need."""
    fmt = lambda g: f"{g[3]} {g[1] or 'core'}/{g[2]}" + (f" name={g[4]}" if g[4] else "") + \
        (f" in {g[0]}" if g[0] else " cluster-wide")  # noqa: E731
    return ([f"missing: {fmt(g)} ({need[g]})" for g in sorted(set(need) - granted, key=str)] +
            [f"extra: {fmt(g)} (nothing in the shipped config needs it)" for g in sorted(granted - set(need), key=str)])


def unseen_reason(grant):
    """Why a grant the config needs may be absent from a short run's calls, or None when a run must show it."""
    if grant[3] == "get" and grant[4] is None:
        return "get on an informer's resource: granted with list and watch, never called by the informer"
    if grant[2] == "secrets":
        return "credentials_secret: read by the deployer, which runs on the leader only (workers/deployer/creds.c)"
    return None


def shipped_rbac(objs):
    return one(objs, "Role")["rules"], one(objs, "ClusterRole")["rules"]


def runnable(cfg, tmp, kubeconfig, lease_timing):
    """The shipped config with only what a run here must change: loopback on a free port, a private run_dir,
    the simulator's kubeconfig and short Lease timings (a run of seconds, not minutes). What the roles
    watch and call is untouched."""
    cfg = yaml.safe_load(yaml.safe_dump(cfg))
    c = cfg["controller"]
    c["http"] = {"address": "127.0.0.1", "port": h.free_port()}
    c["run_dir"] = os.path.join(tmp, "run")
    c["kubernetes"] = {"kubeconfig": kubeconfig}
    c["logging"] = {"level": "info", "format": "logfmt"}
    c["leader_election"].update(lease_timing)
    os.makedirs(tmp, exist_ok=True)
    return h.write(os.path.join(tmp, "config.yaml"), yaml.safe_dump(cfg))


def calls_of_a_run(tmp, cfg):
    """The API calls two replicas running cfg make against the simulator: acquisition, renewals, the
    informers' lists and watches, and a graceful handoff (release, takeover)."""
    timing = {"lease_duration": "4s", "renew_deadline": "2500ms", "retry_period": "1s"}
    with KubeSim(auto_namespaces=True, log_level="debug") as sim:
        procs = []
        try:
            for i in range(2):
                c = runnable(cfg, os.path.join(tmp, f"r{i}"), sim.kubeconfig, timing)
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
        return calls_from_sim_log(sim.log_path)


def test_rbac_grants_exactly_what_the_shipped_config_needs(tmp):
    objs = rendered()
    problems = diff_grants(granted_grants(*shipped_rbac(objs), NS), required_grants(shipped_config(objs), NS))
    assert not problems, "\n".join(problems)


def test_the_rbac_check_fails_on_a_missing_or_an_extra_rule(tmp):
    objs = rendered()
    role, crole = shipped_rbac(objs)
    need = required_grants(shipped_config(objs), NS)
    less = [dict(r, verbs=[v for v in r["verbs"] if v != "watch"]) for r in crole]
    assert any(p.startswith("missing: watch") for p in diff_grants(granted_grants(role, less, NS), need))
    more = crole + [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]
    assert any(p.startswith("extra: list core/configmaps") for p in diff_grants(granted_grants(role, more, NS), need))
    cfg = shipped_config(objs)
    cfg["watched_resources"]["services"] = {"api_version": "v1", "resources": "services"}
    assert any("core/services" in p for p in diff_grants(granted_grants(role, crole, NS), required_grants(cfg, NS)))


def test_a_run_of_the_shipped_config_makes_only_allowed_calls_and_uses_every_grant(tmp):
    objs = rendered()
    cfg = shipped_config(objs)
    grants = granted_grants(*shipped_rbac(objs), NS)
    calls = calls_of_a_run(tmp, cfg)
    print(f"# API calls seen: {sorted(set((c[0], c[1], c[2]) for c in calls))}", flush=True)
    for call in calls:
        assert call[3] in (NS, None), f"a call outside the controller's namespace: {call}"
        assert allows(grants, call), f"RBAC refuses {call}"
    for g in grants:
        seen = any(allows({g}, c) for c in calls)
        assert seen or unseen_reason(g), f"granted but never called in a run: {g}"
        print(f"# {'used' if seen else 'not called'}: {g}" + ("" if seen else f" ({unseen_reason(g)})"), flush=True)


def commented_rules(path, marker):
    """The YAML rules written as a comment after the line holding marker ('#   - apiGroups...' lines)."""
    lines, on = [], False
    for line in h.open_text(path).split("\n"):
        if marker in line:
            on = True
        elif on and line.startswith("#   "):
            lines.append(line[4:])
        elif on and lines:
            break
    assert lines, f"no rules after {marker!r} in {path}"
    return yaml.safe_load("\n".join(lines))


def test_the_rules_rbac_yaml_names_for_ingress_yaml_are_what_it_needs(tmp):
    objs = rendered()
    role, crole = shipped_rbac(objs)
    with open(os.path.join(h.SOURCE_ROOT, "deploy", "examples", "ingress.yaml")) as f:
        ingress = yaml.safe_load(f)
    extra = commented_rules(os.path.join(KDIR, "rbac.yaml"), "deploy/examples/ingress.yaml")
    problems = diff_grants(granted_grants(role, crole + extra, NS), required_grants(ingress, NS))
    assert not problems, "\n".join(problems)


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
        test_rbac_grants_exactly_what_the_shipped_config_needs,
        test_the_rbac_check_fails_on_a_missing_or_an_extra_rule,
        test_a_run_of_the_shipped_config_makes_only_allowed_calls_and_uses_every_grant,
        test_the_rules_rbac_yaml_names_for_ingress_yaml_are_what_it_needs,
        test_probes_name_paths_the_binary_serves,
        test_env_is_what_the_binary_reads_from_the_downward_api,
        test_deployment_fits_the_image_the_config_and_the_cluster,
        test_haproxy_pods_are_what_the_config_drives,
        test_the_monitoring_component_adds_a_servicemonitor_on_the_metrics_port,
    ])
