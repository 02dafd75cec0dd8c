#!/usr/bin/python3
"""Benchmark of the whole pipeline (not a timed test; numbers go to docs/performance.md "Pipeline"): the
simulator seeded from a file with N Ingresses, their Services and EndpointSlices (5 endpoints each) and N/10
TLS Secrets, one replica (supervisor under election, every role, real haproxy -c) on a realistic template.
Per scale it measures:
  - initial sync: exec of the supervisor to the executor's first "new last-known-good" log line;
  - change-to-LKG latency p50/p95 over K structural changes (a new Service, EndpointSlice and Ingress, written
    in that order): from the simulator's answer to the Ingress write to the executor's log line of the first
    LKG whose haproxy.cfg has the new backend (both CLOCK_REALTIME, the log in ms);
  - PSS of every process of the tree (/proc/PID/smaps_rollup), per role and total, with the tree idle;
    haproxy -c runs (the validator's children) are transient and counted apart;
  - bytes per stored object: no role reports its store's bytes, so (renderer PSS at scale - renderer PSS at
    0 objects) / objects, against the objects' projected compact JSON.
At the largest scale also: a bounded churn loop (endpoint updates at a fixed rate, PSS sampled along) and two
more replicas (followers) for the follower-vs-leader memory comparison.
Bounded: every wait has a timeout, counts and the churn are fixed; the default run takes about 15 minutes on
2 shared cores.

    HTIC_BUILD_ROOT=build /usr/bin/python3 tests/bench/bench_pipeline.py [--scales 100,1000,10000]
        [--changes 20] [--churn-seconds 120] [--churn-rate 2] [--followers 2] [--json out.json]"""
import argparse
import base64
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "kube-sim"))
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
import harness as h  # noqa: E402
from kubesim import KubeSim  # noqa: E402
from proc_mem import smaps_kb  # noqa: E402

# Shape of the cluster: 5 endpoints per EndpointSlice gives the issue's 50k endpoints at 10k Services; one
# Ingress in ten with TLS gives its 1k Secrets at 10k.
ENDPOINTS_PER_SLICE = 5
TLS_EVERY = 10
NAMESPACES_MAX = 100
# Server slots per backend: room for scale-up without a reload (the shape deploy/examples will use).
SLOTS = 8
# Bounds on every wait, so a hung role ends the run with a finding instead of hanging it.
SYNC_TIMEOUT_S = 600
# The first LKG at scale: at 10k the render is done in about 3 s and haproxy -c in 2 s; with nothing after
# 90 s the pipeline has stalled (a finding), and one change is written to see whether it recovers.
FIRST_LKG_TIMEOUT_S = 90
CHANGE_TIMEOUT_S = 60
SETTLE_S = 2.0          # after an LKG: let the roles go idle before sampling memory
CHANGE_GAP_S = 0.3      # between two measured changes: each is an isolated change, not a stream
POLL_S = 0.01

LEASE = "    lease_namespace: default\n    lease_duration: 15s\n    renew_deadline: 10s\n    retry_period: 2s\n"

# The template: maps for routing (host + path prefix), a crt-list of every TLS Secret, one backend per
# Ingress with SLOTS server slots filled from the ready endpoints of its Service's EndpointSlices. Values
# from objects go through haproxy_arg (the injection guard) as a real template must.
TEMPLATE = r"""watched_resources:
  ingresses:
    api_version: networking.k8s.io/v1
    resources: ingresses
    index_by: [metadata.namespace, metadata.name]
  services:
    api_version: v1
    resources: services
    index_by: [metadata.namespace, metadata.name]
  endpointslices:
    api_version: discovery.k8s.io/v1
    resources: endpointslices
    index_by: [metadata.namespace, "metadata.labels['kubernetes.io/service-name']"]
  secrets:
    api_version: v1
    resources: secrets
    field_selector: type=kubernetes.io/tls
    index_by: [metadata.namespace, metadata.name]
maps:
  routes.map:
    template: |
      {% for ing in resources.ingresses.List() %}
      {% for rule in ing.spec.rules %}
      {% for p in rule.http.paths %}
      {{ haproxy_arg(rule.host) }}{{ haproxy_arg(p.path) }} be_{{ haproxy_arg(ing.metadata.namespace) }}_{{ haproxy_arg(ing.metadata.name) }}
      {% endfor %}
      {% endfor %}
      {% endfor %}
haproxy_config:
  template: |
    global
      maxconn 10000
      hard-stop-after 30s
    defaults
      mode http
      timeout connect 5s
      timeout client 30s
      timeout server 30s
    frontend http
      bind 127.0.0.1:@HTTP_PORT@
      use_backend %[base,lower,map_beg({{ pathResolver.GetPath("routes.map", "map") }},be_default)]
    {% set secrets = resources.secrets.List() %}
    {% if secrets | length > 0 %}
    {% set crt = namespace(list="") %}
    {% for s in secrets %}
    {% set path = file_registry.Register("cert", s.metadata.namespace ~ "_" ~ s.metadata.name ~ ".pem", (s.data["tls.crt"] | b64decode) ~ (s.data["tls.key"] | b64decode)) %}
    {% set crt.list = crt.list ~ path ~ "\n" %}
    {% endfor %}
    frontend https
      bind 127.0.0.1:@HTTPS_PORT@ ssl crt-list {{ file_registry.Register("crt-list", "certs.list", crt.list) }}
      use_backend %[base,lower,map_beg({{ pathResolver.GetPath("routes.map", "map") }},be_default)]
    {% endif %}
    backend be_default
      http-request return status 404
    {% for ing in resources.ingresses.List() %}
    {% set ref = ing.spec.rules[0].http.paths[0].backend.service %}
    {% set svc = resources.services.GetSingle(ing.metadata.namespace, ref.name) %}
    backend be_{{ haproxy_arg(ing.metadata.namespace) }}_{{ haproxy_arg(ing.metadata.name) }}
      balance {{ haproxy_arg((ing.metadata.annotations | default({}))["haproxy.org/load-balance"] | default("roundrobin")) }}
    {% set slot = namespace(n=0) %}
    {% if svc %}
    {% for es in resources.endpointslices.Fetch(ing.metadata.namespace, ref.name) %}
    {% for ep in es.endpoints if (ep.conditions | default({})).ready | default(true) %}
    {% for a in ep.addresses if slot.n < @SLOTS@ %}
      server s{{ slot.n }} {{ haproxy_arg(a) }}:{{ haproxy_arg(es.ports[0].port) }}
    {% set slot.n = slot.n + 1 %}
    {% endfor %}
    {% endfor %}
    {% endfor %}
    {% endif %}
    {% for k in range(slot.n, @SLOTS@) %}
      server s{{ k }} 127.0.0.1:1 disabled
    {% endfor %}
    {% endfor %}
"""


# ---------------------------------------------------------------- objects

def make_cert(tmp):
    """One P-256 self-signed certificate and key (the same in every Secret: what haproxy -c loads is the
    same work either way), as base64 of the PEM text, as a Secret carries them."""
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=bench.example", "-days", "30", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    with open(crt, "rb") as f:
        c = base64.b64encode(f.read()).decode()
    with open(key, "rb") as f:
        k = base64.b64encode(f.read()).decode()
    return c, k


def namespace_of(i, n):
    return "ns-%03d" % (i % min(n, NAMESPACES_MAX))


def ingress(i, ns, tls):
    name = "app-%05d" % i
    host = "%s.%s.example.com" % (name, ns)
    o = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": name, "namespace": ns,
                      "labels": {"app": name, "team": "team-%d" % (i % 7)},
                      "annotations": {"haproxy.org/load-balance": "roundrobin"}},
         "spec": {"ingressClassName": "haproxy",
                  "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                      "service": {"name": name, "port": {"number": 80}}}}]}}]}}
    if tls:
        o["spec"]["tls"] = [{"hosts": [host], "secretName": "tls-" + name}]
    return o


def service(i, ns):
    name = "app-%05d" % i
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.%d.%d" % (i // 250 % 256, i % 250 + 1),
                     "selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}


def endpoint_slice(i, ns, gen=0):
    """gen shifts the last endpoint's address: an endpoint update (a pod replaced) for the churn loop."""
    name = "app-%05d" % i
    eps = []
    for e in range(ENDPOINTS_PER_SLICE):
        last = (e + 1 + gen * ENDPOINTS_PER_SLICE) % 250 + 1 if e == ENDPOINTS_PER_SLICE - 1 else e + 1
        eps.append({"addresses": ["10.%d.%d.%d" % (i // 250 % 256, i % 250, last)],
                    "conditions": {"ready": True, "serving": True, "terminating": False},
                    "nodeName": "node-%d" % ((i + e) % 50), "zone": "zone-%d" % (e % 3),
                    "targetRef": {"kind": "Pod", "namespace": ns, "name": "%s-%d" % (name, e)}})
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name + "-abcde", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": name,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}], "endpoints": eps}


def secret(i, ns, crt, key):
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "tls-app-%05d" % i, "namespace": ns},
            "data": {"tls.crt": crt, "tls.key": key}}


def write_seed(path, n, crt, key):
    """The seed file (a JSON list) and the compact JSON bytes of what it holds, per kind."""
    sizes = {"ingresses": 0, "services": 0, "endpointslices": 0, "secrets": 0}
    counts = dict.fromkeys(sizes, 0)
    with open(path, "w") as f:
        f.write("[\n")
        first = True
        for i in range(n):
            ns = namespace_of(i, n)
            objs = [("ingresses", ingress(i, ns, i % TLS_EVERY == 0)), ("services", service(i, ns)),
                    ("endpointslices", endpoint_slice(i, ns))]
            if i % TLS_EVERY == 0:
                objs.append(("secrets", secret(i, ns, crt, key)))
            for kind, o in objs:
                text = json.dumps(o, separators=(",", ":"))
                sizes[kind] += len(text)
                counts[kind] += 1
                f.write(("" if first else ",\n") + text)
                first = False
        f.write("\n]\n")
    return counts, sizes


# ---------------------------------------------------------------- measuring

def tree_memory(sup):
    """{role: (pss_kb, rss_kb)} for the supervisor, each role and (summed as "haproxy -c") any process below
    a role, which is a validator's transient check."""
    out = {"supervisor": smaps_kb(sup.pid)}
    transient = [0, 0, 0]
    for role, pid in sup.children().items():
        out[role] = smaps_kb(pid)
        stack = [pid]
        while stack:
            p = stack.pop()
            try:
                kids = [int(k) for k in open(f"/proc/{p}/task/{p}/children").read().split()]
            except OSError:
                kids = []
            for k in kids:
                m = smaps_kb(k)
                for x in range(3):
                    transient[x] += m[x]
                stack.append(k)
    if transient[0]:
        out["haproxy -c (transient)"] = tuple(transient)
    return out


def resident_total(mem):
    return sum(v[0] for k, v in mem.items() if "transient" not in k)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


LOG_RE = re.compile(r'^time=(\S+) level=\S+ role=(\S+) pid=\d+ msg=("[^"]*"|\S+)(.*)$')


class LogTail:
    """Reads a replica's log (every role writes to the supervisor's stderr) incrementally."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.rest = b""

    def lines(self):
        with open(self.path, "rb") as f:
            f.seek(self.off)
            data = f.read()
        self.off += len(data)
        data = self.rest + data
        parts = data.split(b"\n")
        self.rest = parts.pop()
        out = []
        for raw in parts:
            m = LOG_RE.match(raw.decode(errors="replace"))
            if m:
                t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                out.append((t, m.group(2), m.group(3).strip('"'), m.group(4)))
        return out


def lkg_events(lines):
    """(wall time, generation, checksum) of every new LKG in the lines."""
    out = []
    for t, role, msg, rest in lines:
        if role == "executor" and msg == "new last-known-good":
            g = re.search(r"generation=(\d+)", rest)
            c = re.search(r"checksum=(\S+)", rest)
            out.append((t, int(g.group(1)), c.group(1)))
    return out


def gen_cfg(run_dir, checksum):
    with open(os.path.join(run_dir, "gen", checksum.split(":", 1)[1], "haproxy.cfg")) as f:
        return f.read()


def debug_vars(port):
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/vars", timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def stage_seconds(port):
    """{metric: (sum, count)} of the render and validation duration histograms from /metrics."""
    import urllib.request
    out = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return out
    for name in ("haproxy_ic_render_duration_seconds", "haproxy_ic_validation_duration_seconds"):
        vals = {}
        for suffix in ("_sum", "_count"):
            m = re.search(r"^%s%s(?:\{[^}]*\})? (\S+)$" % (name, suffix), text, re.M)
            vals[suffix] = float(m.group(1)) if m else 0.0
        out[name] = (vals["_sum"], vals["_count"])
    return out


def stage_means_ms(before, after):
    """Mean duration (ms) of each stage between two stage_seconds() snapshots."""
    out = {}
    for k, (s1, c1) in after.items():
        s0, c0 = before.get(k, (0.0, 0.0))
        if c1 > c0:
            out[k.replace("haproxy_ic_", "").replace("_duration_seconds", "")] = (
                round((s1 - s0) / (c1 - c0) * 1000), int(c1 - c0))
    return out


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class Replica:
    def __init__(self, sim, tmp, i, http_port, https_port):
        self.dir = os.path.join(tmp, f"r{i}")
        os.makedirs(self.dir)
        self.run_dir = os.path.join(self.dir, "run")
        self.port = h.free_port()
        pipeline = (TEMPLATE.replace("@HTTP_PORT@", str(http_port)).replace("@HTTPS_PORT@", str(https_port))
                    .replace("@SLOTS@", str(SLOTS)))
        cfg = h.config(self.dir, election=True, http_port=self.port, kubeconfig=sim.kubeconfig,
                       leader_election_extra=LEASE + f"    identity: bench-{i}\n", pipeline=pipeline)
        # The production paths appear in haproxy.cfg (the map, the crt-list): replicas of one deployment have
        # the same ones, or their checksums differ and followers never hold the leader's LKG. Only the leader's
        # deployer writes there.
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace(f"{self.dir}/etc/", f"{tmp}/etc/").replace(f"{self.dir}/haproxy-master.sock",
                                                                           f"{tmp}/haproxy-master.sock"))
        self.t_exec = time.time()
        self.proc = h.Proc([h.HTIC_BIN, "run", "--config", cfg], self.dir, name=f"replica{i}")
        self.log = LogTail(self.proc.log_path)
        self.lkgs = []
        self.errors = []

    def poll(self):
        lines = self.log.lines()
        self.lkgs += lkg_events(lines)
        for t, role, msg, rest in lines:
            if msg in ("generation failed", "object quarantined", "render failed") or "level=error" in rest:
                self.errors.append((role, msg, rest[:300]))
        if self.proc.p.poll() is not None:
            raise RuntimeError("supervisor exited: %s" % self.proc.text()[-3000:])
        return self.lkgs

    def wait_lkg(self, after, pred, timeout):
        """The first LKG logged at or after `after` whose haproxy.cfg satisfies pred; None at the timeout."""
        deadline = time.monotonic() + timeout
        seen = set()
        while time.monotonic() < deadline:
            for t, g, c in self.poll():
                if t >= after - 0.0015 and (g, c) not in seen:  # log times are cut to the ms
                    seen.add((g, c))
                    if pred(gen_cfg(self.run_dir, c)):
                        return t, g, c
            time.sleep(POLL_S)
        return None

    def stop(self):
        self.proc.stop()


def write_structural(sim, i, n):
    """A new Service, EndpointSlice and Ingress (in the order an apply of a manifest would write them);
    returns the wall time the simulator answered the Ingress write."""
    ns = namespace_of(i, n)
    for path, body in ((f"/api/v1/namespaces/{ns}/services", service(i, ns)),
                       (f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", endpoint_slice(i, ns)),
                       (f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", ingress(i, ns, False))):
        code, _, resp = sim.request("POST", path, body)
        if code != 201:
            raise RuntimeError(f"POST {path}: {code} {resp}")
    return time.time(), "backend be_%s_app-%05d\n" % (ns, i)


def changed_frame_bytes(counts):
    """What the renderer's first `rendered` message carries in `changed` after the initial sync: one
    {"resource","namespace","name"} per object (the same names write_seed gives them)."""
    total = 0
    for kind, c in counts.items():
        name = {"endpointslices": 17, "secrets": 13}.get(kind, 9)  # app-00000-abcde, tls-app-00000, app-00000
        total += c * len('{"resource":"%s","namespace":"ns-000","name":"%s"},' % (kind, "x" * name))
    return total


def stall_report(rep, counts):
    """What the roles said and did when no first LKG came: the router's counts and the last lines."""
    v = debug_vars(rep.port) or {}
    routes = (v.get("ipc") or {}).get("routes") or {}
    lines = [ln for ln in rep.proc.text().splitlines() if "level=debug" not in ln]
    return {"waited_s": FIRST_LKG_TIMEOUT_S,
            "router": {k: routes.get(k) for k in ("deltas", "synced", "rendered", "validated", "lkg")},
            "pipeline": v.get("pipeline"),
            "changed_bytes_estimate": changed_frame_bytes(counts),
            "renders_logged": sum(1 for ln in lines if "msg=rendered" in ln),
            "last_lines": [ln[:240] for ln in lines[-4:]]}


def first_render_s(rep):
    """Exec to the renderer's first "rendered" line."""
    for t, role, msg, _ in LogTail(rep.proc.log_path).lines():
        if role == "renderer" and msg == "rendered":
            return round(t - rep.t_exec, 2)
    return None


def update_endpoints(sim, i, n, gen):
    ns = namespace_of(i, n)
    path = f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/app-%05d-abcde" % i
    body = json.dumps({"endpoints": endpoint_slice(i, ns, gen)["endpoints"]})
    code, _, resp = sim.request("PATCH", path, body, headers={"Content-Type": "application/merge-patch+json"})
    if code != 200:
        raise RuntimeError(f"PATCH {path}: {code} {resp}")


def fmt_mem(mem):
    return {k: round(v[0] / 1024, 1) for k, v in sorted(mem.items())}


def run_scale(n, args, crt, key, results, idle_renderer_kb):
    r = {"scale": n, "load_start": loadavg()}
    results.append(r)  # partial figures survive a failure later on
    with tempfile.TemporaryDirectory(prefix=f"htic-bench-pipeline-{n}-") as tmp:
        seed = os.path.join(tmp, "seed.json")
        t0 = time.monotonic()
        counts, sizes = write_seed(seed, n, crt, key)
        r["objects"] = counts
        r["json_bytes"] = sizes
        r["seed_mb"] = round(os.path.getsize(seed) / 1e6, 1)
        r["seed_write_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        with KubeSim(seed=seed, auto_namespaces=True, history=100000) as sim:
            r["sim_start_s"] = round(time.monotonic() - t0, 2)
            http_port, https_port = h.free_port(), h.free_port()
            reps = [Replica(sim, tmp, 0, http_port, https_port)]
            try:
                lead = reps[0]
                first = lead.wait_lkg(0, lambda cfg: cfg.count("\nbackend be_ns-") == n, FIRST_LKG_TIMEOUT_S)
                extra = 0
                if not first:
                    r["stalled"] = stall_report(lead, counts)
                    # one change (the first measured one) to see whether the pipeline recovers
                    t_ack, needle = write_structural(sim, n, n)
                    extra = 1
                    first = lead.wait_lkg(t_ack, lambda cfg: needle in cfg, SYNC_TIMEOUT_S)
                    if not first:
                        raise RuntimeError(f"no LKG within {FIRST_LKG_TIMEOUT_S}s, nor {SYNC_TIMEOUT_S}s after a "
                                           f"change: {r['stalled']}; last lines:\n" + lead.proc.text()[-3000:])
                    r["stalled"]["lkg_after_one_change_ms"] = round((first[0] - t_ack) * 1000)
                r["sync_to_lkg_s"] = round(first[0] - lead.t_exec, 2)
                r["renderer_first_render_s"] = first_render_s(lead)
                r["first_lkg_generation"] = first[1]
                cfg = gen_cfg(lead.run_dir, first[2])
                r["haproxy_cfg_bytes"] = len(cfg)
                time.sleep(SETTLE_S)
                v = debug_vars(lead.port) or {}
                r["debug_objects"] = (v.get("pipeline") or {}).get("objects")
                mem = tree_memory(lead.proc)
                r["pss_at_scale_mib"] = fmt_mem(mem)
                r["pss_total_mib"] = round(resident_total(mem) / 1024, 1)
                r["private_mib"] = {k: round(v[2] / 1024, 1) for k, v in sorted(mem.items())}
                if idle_renderer_kb is not None and n:
                    objs = sum(counts.values())
                    delta = mem["renderer"][2] - idle_renderer_kb
                    r["renderer_bytes_per_object"] = round(delta * 1024 / objs)
                    r["json_bytes_per_object"] = round(sum(sizes.values()) / objs)
                # structural changes
                stages0 = stage_seconds(lead.port)
                r["first_stages_ms"] = stage_means_ms({}, stages0)
                lat = []
                k = args.changes if n < 10000 else max(1, args.changes // 2)
                for j in range(k):
                    t_ack, needle = write_structural(sim, n + extra + j, n)
                    got = lead.wait_lkg(t_ack, lambda c: needle in c, CHANGE_TIMEOUT_S)
                    if not got:
                        raise RuntimeError(f"change {j} not in an LKG within {CHANGE_TIMEOUT_S}s")
                    lat.append((got[0] - t_ack) * 1000)
                    time.sleep(CHANGE_GAP_S)
                r["changes"] = len(lat)
                r["latency_ms"] = {"p50": round(pct(lat, 50)), "p95": round(pct(lat, 95)),
                                   "min": round(min(lat)), "max": round(max(lat))}
                r["load_after_changes"] = loadavg()
                r["change_stages_ms"] = stage_means_ms(stages0, stage_seconds(lead.port))
                if n == max(args.scales):
                    churn(sim, lead, n, args, r)
                    followers(sim, tmp, reps, n, args, r, http_port, https_port)
                r["errors"] = lead.errors[:10]
            finally:
                for rep in reps:
                    rep.stop()
                if args.log_dir:  # the replicas' logs, for profiling from their timestamps
                    os.makedirs(args.log_dir, exist_ok=True)
                    for i, rep in enumerate(reps):
                        subprocess.run(["cp", rep.proc.log_path, os.path.join(args.log_dir, f"{n}-r{i}.log")])
                    if reps[0].lkgs:  # the leader's last LKG, to time haproxy -c on it alone
                        src = os.path.join(reps[0].run_dir, "gen", reps[0].lkgs[-1][2].split(":", 1)[1])
                        subprocess.run(["cp", "-r", src, os.path.join(args.log_dir, f"{n}-lkg")])
    return r


def churn(sim, lead, n, args, r):
    """Endpoint updates at a fixed rate for a fixed time, PSS sampled along (excluding haproxy -c runs)."""
    if args.churn_seconds <= 0:
        return
    time.sleep(SETTLE_S)
    samples = [(0.0, resident_total(tree_memory(lead.proc)), tree_memory(lead.proc).get("renderer", (0, 0))[0])]
    lkgs_before = len(lead.poll())
    t0 = time.monotonic()
    period = 1.0 / args.churn_rate
    writes = 0
    next_sample = t0 + args.churn_seconds / 4
    while time.monotonic() - t0 < args.churn_seconds:
        update_endpoints(sim, writes % n, n, writes // n + 1)
        writes += 1
        lead.poll()
        now = time.monotonic()
        if now >= next_sample:
            m = tree_memory(lead.proc)
            samples.append((now - t0, resident_total(m), m.get("renderer", (0, 0))[0]))
            next_sample += args.churn_seconds / 4
        time.sleep(max(0.0, t0 + writes * period - time.monotonic()))
    # the last update reaches an LKG, then the tree idles
    last = writes - 1
    needle_ip = "10.%d.%d.%d" % (last % n // 250 % 256, last % n % 250,
                                 (ENDPOINTS_PER_SLICE + (last // n + 1) * ENDPOINTS_PER_SLICE) % 250 + 1)
    lead.wait_lkg(time.time() - 60, lambda c: needle_ip in c, CHANGE_TIMEOUT_S)
    time.sleep(SETTLE_S)
    m = tree_memory(lead.proc)
    samples.append((time.monotonic() - t0, resident_total(m), m.get("renderer", (0, 0))[0]))
    r["churn"] = {"seconds": args.churn_seconds, "rate_per_s": args.churn_rate, "writes": writes,
                  "lkgs": len(lead.poll()) - lkgs_before,
                  "pss_total_mib": [round(s[1] / 1024, 1) for s in samples],
                  "pss_renderer_mib": [round(s[2] / 1024, 1) for s in samples],
                  "at_s": [round(s[0]) for s in samples], "load": loadavg()}


def same_lkg(reps):
    for rep in reps:
        rep.poll()
    last = {rep.lkgs[-1][2] if rep.lkgs else None for rep in reps}
    return len(last) == 1 and None not in last


def followers(sim, tmp, reps, n, args, r, http_port, https_port):
    """Adds followers; once every replica has the same LKG checksum, compares the trees' PSS. A follower
    without a first LKG after FIRST_LKG_TIMEOUT_S has stalled like the leader did: one change, then wait."""
    if args.followers <= 0:
        return
    t0 = time.time()
    for i in range(1, args.followers + 1):
        reps.append(Replica(sim, tmp, i, http_port, https_port))
    deadline = time.monotonic() + FIRST_LKG_TIMEOUT_S
    while not same_lkg(reps) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not same_lkg(reps):
        r["followers_stalled"] = {"waited_s": FIRST_LKG_TIMEOUT_S,
                                  "lkgs": [len(rep.lkgs) for rep in reps],
                                  "renders_logged": [sum(1 for ln in rep.proc.text().splitlines()
                                                         if "role=renderer" in ln and "msg=rendered" in ln)
                                                     for rep in reps]}
        write_structural(sim, n + 1000, n)
        deadline = time.monotonic() + SYNC_TIMEOUT_S
        while not same_lkg(reps) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not same_lkg(reps):
            raise RuntimeError("replicas did not reach one LKG: %s" % [rep.lkgs[-1:] for rep in reps])
    r["followers_sync_s"] = round(time.time() - t0, 1)
    time.sleep(SETTLE_S * 2)
    trees = [tree_memory(rep.proc) for rep in reps]
    r["replicas_pss_mib"] = [fmt_mem(m) for m in trees]
    r["replicas_pss_total_mib"] = [round(resident_total(m) / 1024, 1) for m in trees]
    r["replicas_lkg"] = [rep.lkgs[-1][2] for rep in reps]
    r["load_followers"] = loadavg()


def idle_run(args, results):
    """0 objects: the floor of the tree with the pipeline template, and the renderer's for bytes per object."""
    r = {"scale": 0, "load_start": loadavg()}
    with tempfile.TemporaryDirectory(prefix="htic-bench-pipeline-0-") as tmp:
        with KubeSim(auto_namespaces=True) as sim:
            rep = Replica(sim, tmp, 0, h.free_port(), h.free_port())
            try:
                first = rep.wait_lkg(0, lambda cfg: True, SYNC_TIMEOUT_S)
                if not first:
                    raise RuntimeError("no first LKG at 0 objects:\n" + rep.proc.text()[-3000:])
                r["sync_to_lkg_s"] = round(first[0] - rep.t_exec, 2)
                time.sleep(SETTLE_S)
                mem = tree_memory(rep.proc)
                r["pss_at_scale_mib"] = fmt_mem(mem)
                r["pss_total_mib"] = round(resident_total(mem) / 1024, 1)
                r["renderer_kb"] = mem["renderer"][2]
                r["private_mib"] = {k: round(v[2] / 1024, 1) for k, v in sorted(mem.items())}
            finally:
                rep.stop()
    results.append(r)
    return r


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {"nproc": os.cpu_count(), "mem_mib": mem, "cpu": model,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "haproxy": subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split("\n")[0]}


def print_tables(m, results):
    print(f"\nmachine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_mib']} MiB, {m['haproxy']}, {m['date']}")
    print("\n| Ingresses (objects) | seed | initial sync to first LKG | change-to-LKG p50 / p95 (min-max), "
          "changes | PSS tree (MiB) | renderer B/object (JSON B/object) | load |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        objs = sum(r.get("objects", {}).values())
        lat = r.get("latency_ms")
        lat_s = (f"{lat['p50']} / {lat['p95']} ms ({lat['min']}-{lat['max']}), {r['changes']}" if lat else "")
        bpo = (f"{r['renderer_bytes_per_object']} ({r['json_bytes_per_object']})"
               if "renderer_bytes_per_object" in r else "")
        sync = f"{r['sync_to_lkg_s']} s" + (f" (first render {r['renderer_first_render_s']} s)"
                                            if r.get("renderer_first_render_s") else "")
        if r.get("stalled"):
            sync += " STALLED, see below"
        print(f"| {r['scale']} ({objs}) | {r.get('seed_mb', 0)} MB | {sync} | {lat_s} | "
              f"{r['pss_total_mib']} | {bpo} | {r['load_start']} |")
    print("\nPSS per process (MiB):")
    for r in results:
        print(f"  {r['scale']}: {r['pss_at_scale_mib']}")
    print("\nprivate (Private_Clean + Private_Dirty) per process (MiB):")
    for r in results:
        print(f"  {r['scale']}: {r.get('private_mib')}")
    for r in results:
        if "churn" in r:
            c = r["churn"]
            print(f"\nchurn at {r['scale']}: {c['writes']} endpoint updates over {c['seconds']} s "
                  f"({c['rate_per_s']}/s), {c['lkgs']} LKGs; PSS tree at {c['at_s']} s: {c['pss_total_mib']} MiB; "
                  f"renderer {c['pss_renderer_mib']} MiB; load {c['load']}")
        if "replicas_pss_total_mib" in r:
            print(f"\nreplicas at {r['scale']} (leader first): PSS totals {r['replicas_pss_total_mib']} MiB; "
                  f"followers synced in {r['followers_sync_s']} s; same LKG: {len(set(r['replicas_lkg'])) == 1}")
            for p in r["replicas_pss_mib"]:
                print(f"  {p}")
        if r.get("change_stages_ms"):
            print(f"\nstages at {r['scale']} (mean ms, count): initial sync {r.get('first_stages_ms')}, "
                  f"during the changes {r['change_stages_ms']}")
        if r.get("followers_stalled"):
            print(f"\nFOLLOWERS STALLED at {r['scale']}: {r['followers_stalled']}")
        if r.get("stalled"):
            print(f"\nSTALLED at {r['scale']}: {json.dumps(r['stalled'], indent=1)}")
        if r.get("errors"):
            print(f"\nerrors/warnings logged at {r['scale']}: {r['errors']}")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so every finally stops what it started
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="100,1000,10000")
    ap.add_argument("--changes", type=int, default=20, help="structural changes per scale (half at 10k)")
    ap.add_argument("--churn-seconds", type=float, default=120)
    ap.add_argument("--churn-rate", type=float, default=2.0, help="endpoint updates per second")
    ap.add_argument("--followers", type=int, default=2)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--log-dir", help="copy each replica's log here (to profile from its timestamps)")
    args = ap.parse_args()
    args.scales = [int(s) for s in args.scales.split(",")]
    m = machine()
    print(f"machine: {m}", flush=True)
    results = []
    crt_dir = tempfile.mkdtemp(prefix="htic-bench-cert-")
    try:
        crt, key = make_cert(crt_dir)
    finally:
        subprocess.run(["rm", "-rf", crt_dir])
    t_start = time.monotonic()
    idle = idle_run(args, results)
    print(f"idle: {idle}", flush=True)
    rc = 0
    for n in args.scales:
        try:
            r = run_scale(n, args, crt, key, results, idle["renderer_kb"])
            print(f"scale {n}: {json.dumps(r)}", flush=True)
        except Exception as e:  # noqa: BLE001 - a failure at a scale is a finding: print it, go on
            rc = 1
            r = results[-1] if results and results[-1]["scale"] == n else {"scale": n}
            r["failed"] = str(e)[:4000]
            print(f"scale {n} FAILED: {e}\npartial: {json.dumps(r)}", flush=True)
    print(f"\ntotal {time.monotonic() - t_start:.0f} s", flush=True)
    ok = [r for r in results if "sync_to_lkg_s" in r]
    print_tables(m, ok)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": m, "results": results}, f, indent=1)
    sys.exit(rc)


if __name__ == "__main__":
    main()
