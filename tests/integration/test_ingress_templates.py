#!/usr/bin/env python3
"""deploy/examples/ingress.yaml in the real pipeline: the kube simulator, one controller replica (election
disabled) rendering the shipped templates, real haproxy -c in the validator. Ingresses, Services,
EndpointSlices and a TLS Secret created in the simulator reach the last-known-good (read through
/debug/vars pipeline.lkg.checksum and <run_dir>/gen/<hex>/): the maps, backends, server slots, certificate
and crt-list are the expected ones; endpoint churn changes server lines only, in the same slot order; an
injection attempt through an annotation or a host is quarantined by name while other Ingresses land, and
so is a certificate HAProxy refuses. Then the deployer pushes the LKG to a real HAProxy master-worker:
requests are routed by Host, exact path and wildcard to HTTP backends on loopback, others get the 404, TLS
is terminated with the Secret's certificate, and endpoint churn reaches traffic through the runtime API
(the fast lane: the pre-allocated slots are what makes it possible). Only the controller, deploy and
haproxy sections and a few extra_context values (ports, paths) of the example are replaced, never its
templates."""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import yaml

import backends
import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

EXAMPLE = os.path.join(h.SOURCE_ROOT, "deploy", "examples", "ingress.yaml")
NET = "/apis/networking.k8s.io/v1/namespaces/shop/ingresses"
SVC = "/api/v1/namespaces/shop/services"
EPS = "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices"
SECRETS = "/api/v1/namespaces/shop/secrets"


def example():
    with open(EXAMPLE) as f:
        return yaml.safe_load(f)


def write_config(tmp, sim, http_port, extra_context=None, master_socket=None):
    """The example with this test's controller section, a local target and production paths under
    <tmp>/target, so a generation copied there runs in a real HAProxy as it is."""
    cfg = example()
    target = os.path.join(tmp, "target")
    cfg["controller"] = {"leader_election": {"enabled": False},
                         "http": {"address": "127.0.0.1", "port": http_port},
                         "run_dir": os.path.join(tmp, "run"),
                         "kubernetes": {"kubeconfig": sim.kubeconfig}}
    cfg["haproxy"] = {"endpoints": [{"name": "local", "master_socket": master_socket or os.path.join(tmp, "master.sock")}],
                      "config_file": os.path.join(target, "haproxy.cfg"),
                      "maps_dir": os.path.join(target, "maps"),
                      "ssl_certs_dir": os.path.join(target, "ssl"),
                      "general_dir": os.path.join(target, "general")}
    cfg["deploy"] = {"min_deployment_interval": "0s", "deployment_timeout": "10s"}
    cfg["templating_settings"]["extra_context"].update(
        {"bind_address": "127.0.0.1", "http_port": h.free_port(), "https_port": h.free_port(),
         "runtime_socket": os.path.join(tmp, "admin.sock"), "hard_stop_after": "2s",
         "maxconn": 1000})
    cfg["templating_settings"]["extra_context"].update(extra_context or {})
    path = os.path.join(tmp, "config.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return path, cfg


def pipeline(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/vars", timeout=3) as r:
            return json.loads(r.read()).get("pipeline")
    except (OSError, urllib.error.URLError, ValueError):
        return None


class Generation:
    """One generation directory of the run dir, as the executor published it."""

    def __init__(self, tmp, checksum):
        self.checksum = checksum
        self.dir = os.path.join(tmp, "run", "gen", checksum.split(":", 1)[1])
        with open(os.path.join(self.dir, "manifest.json")) as f:
            self.manifest = json.load(f)

    def read(self, sub, name=None):
        with open(os.path.join(self.dir, sub) if name is None else os.path.join(self.dir, sub, name)) as f:
            return f.read()

    @property
    def cfg(self):
        return self.read("haproxy.cfg")

    def map(self, name):
        return self.read("maps", name)

    def sums(self):
        return {(f["kind"], f["name"]): f["sha256"] for f in self.manifest["files"]}


def lkg_where(tmp, port, want, what):
    """Waits for an LKG whose generation satisfies want(Generation); returns it."""
    def probe():
        p = pipeline(port)
        if not p or not p.get("lkg"):
            return None
        g = Generation(tmp, p["lkg"]["checksum"])
        return g if want(g) else None
    return h.wait_for(probe, timeout=60, interval=0.2, what=what)


def create(sim, path, obj):
    code, _, body = sim.request("POST", path, obj)
    assert code == 201, (code, body)


def replace(sim, path, obj):
    code, _, cur = sim.request("GET", path + "/" + obj["metadata"]["name"])
    assert code == 200, (code, cur)
    obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion=cur["metadata"]["resourceVersion"]))
    code, _, body = sim.request("PUT", path + "/" + obj["metadata"]["name"], obj)
    assert code == 200, (code, body)


def ingress(name, host, service, port, path="/", path_type="Prefix", annotations=None, cls="haproxy", tls=None):
    spec = {"rules": [{"host": host, "http": {"paths": [
        {"path": path, "pathType": path_type,
         "backend": {"service": {"name": service, "port": {"number": port}}}}]}}]}
    if cls:
        spec["ingressClassName"] = cls
    if tls:
        spec["tls"] = tls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "shop", "annotations": annotations or {}}, "spec": spec}


def service(name, port, target):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"ports": [{"name": "http", "port": port, "targetPort": target}]}}


def slice_(name, svc, port, endpoints):
    """endpoints: [(address, ready)]; ready None leaves the condition out (Kubernetes: counts as ready)."""
    eps = []
    for addr, ready in endpoints:
        e = {"addresses": [addr]}
        if ready is not None:
            e["conditions"] = {"ready": ready}
        eps.append(e)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "shop", "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": port}], "endpoints": eps}


def tls_secret():
    """The self-signed test pair the example's validation tests use (secure.example.com)."""
    s = [x for x in example()["validation_tests"]["_global"]["fixtures"]["secrets"] if x["metadata"]["name"] == "secure-tls"][0]
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "secure-tls", "namespace": "shop"}, "data": dict(s["data"])}


def backend_block(cfg, name):
    """The lines of `backend NAME` up to the next blank line."""
    lines = cfg.split("\n")
    i = lines.index(f"backend {name}")
    out = []
    for line in lines[i + 1:]:
        if not line.strip():
            break
        out.append(line)
    return out


def servers(cfg, name):
    return [line.strip() for line in backend_block(cfg, name) if line.strip().startswith("server ")]


def start_controller(tmp, sim, extra_context=None, master_socket=None):
    port = h.free_port()
    path, cfg = write_config(tmp, sim, port, extra_context, master_socket)
    proc = h.Proc([h.HTIC_BIN, "run", "--config", path], tmp, name="controller")
    return proc, port, cfg


def test_lkg_maps_slots_tls_churn_and_quarantine(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        proc, port, _ = start_controller(tmp, sim)
        try:
            lkg_where(tmp, port, lambda g: "default_backend default_404" in g.cfg, "a first LKG (no Ingress)")

            create(sim, SVC, service("web", 80, 8080))
            create(sim, EPS, slice_("web-1", "web", 8080, [("10.0.0.3", True), ("10.0.0.1", None),
                                                           ("10.0.0.2", False)]))
            create(sim, SECRETS, tls_secret())
            create(sim, NET, ingress("web", "web.example.com", "web", 80))
            create(sim, NET, ingress("exact", "web.example.com", "web", 80, path="/status", path_type="Exact"))
            create(sim, NET, ingress("wild", "*.apps.example.com", "web", 80, path="/api",
                                     path_type="ImplementationSpecific"))
            create(sim, NET, ingress("legacy", "legacy.example.com", "web", 80, cls=None,
                                     annotations={"kubernetes.io/ingress.class": "haproxy"}))
            create(sim, NET, ingress("other", "other.example.com", "web", 80, cls="nginx"))
            create(sim, NET, ingress("secure", "secure.example.com", "web", 80,
                                     tls=[{"hosts": ["secure.example.com"], "secretName": "secure-tls"}]))

            g = lkg_where(tmp, port, lambda g: "backend ing_shop_secure_web_80" in g.cfg
                          and "backend ing_shop_legacy_web_80" in g.cfg, "every Ingress in the LKG")
            hosts = g.map("host.map").splitlines()
            assert hosts == ["*.apps.example.com *.apps.example.com", "legacy.example.com legacy.example.com",
                             "secure.example.com secure.example.com", "web.example.com web.example.com"], hosts
            assert "other.example.com" not in g.cfg + g.map("host.map"), "another class's Ingress rendered"
            assert g.map("path-exact.map").splitlines() == ["web.example.com/status ing_shop_exact_web_80"]
            assert g.map("path-prefix-exact.map").splitlines() == ["*.apps.example.com/api ing_shop_wild_web_80"]
            prefix = g.map("path-prefix.map").splitlines()
            assert prefix[0] == "*.apps.example.com/api/ ing_shop_wild_web_80", prefix
            assert set(prefix[1:]) == {"legacy.example.com/ ing_shop_legacy_web_80",
                                       "secure.example.com/ ing_shop_secure_web_80",
                                       "web.example.com/ ing_shop_web_web_80"}, prefix
            slots = servers(g.cfg, "ing_shop_web_web_80")
            assert slots == ["server SRV_1 10.0.0.1:8080", "server SRV_2 10.0.0.3:8080"] + [
                f"server SRV_{i} 127.0.0.1:1 disabled" for i in range(3, 11)], slots
            # TLS: the Secret's pair as one PEM, a crt-list with the SNI filter, an https bind, the redirect
            target = os.path.join(tmp, "target")
            pem = g.read("certs", "shop_secure-tls.pem")
            assert "BEGIN CERTIFICATE" in pem and "BEGIN PRIVATE KEY" in pem
            crtlist = g.read("crt-lists", "certificates.list")
            assert crtlist == f"{target}/ssl/shop_secure-tls.pem [alpn h2,http/1.1] secure.example.com\n", crtlist
            assert f"ssl crt-list {target}/general/certificates.list" in g.cfg
            assert "http-request redirect scheme https code 308" in "\n".join(backend_block(g.cfg, "ing_shop_secure_web_80"))
            assert "redirect" not in "\n".join(backend_block(g.cfg, "ing_shop_web_web_80"))
            for line in ("master-worker", "hard-stop-after 2s", "mworker-max-reloads 50"):
                assert f"\n  {line}\n" in g.cfg, line

            # endpoint churn: only server lines change, slot names keep their order
            replace(sim, EPS, slice_("web-1", "web", 8080, [("10.0.0.3", True), ("10.0.0.1", False),
                                                           ("10.0.0.4", True), ("10.0.0.5", True)]))
            g2 = lkg_where(tmp, port, lambda x: "10.0.0.5:8080" in x.cfg, "endpoint churn in the LKG")
            before, after = g.cfg.split("\n"), g2.cfg.split("\n")
            assert len(before) == len(after)
            changed = [(a, b) for a, b in zip(before, after) if a != b]
            assert changed and all(a.strip().startswith("server SRV_") and b.strip().startswith("server SRV_")
                                   and a.split()[1] == b.split()[1] for a, b in changed), changed
            assert servers(g2.cfg, "ing_shop_web_web_80")[:4] == [
                "server SRV_1 10.0.0.3:8080", "server SRV_2 10.0.0.4:8080", "server SRV_3 10.0.0.5:8080",
                "server SRV_4 127.0.0.1:1 disabled"]
            s1, s2 = g.sums(), g2.sums()
            assert {k for k in s1 if s1[k] != s2.get(k)} == {("config", "haproxy.cfg")}, (s1, s2)

            # injection attempts through an annotation and a host, a value the stricter check refuses, and
            # a good Ingress at the same time: the good one lands, each bad one is quarantined by name
            create(sim, NET, ingress("evil-annotation", "evil1.example.com", "web", 80,
                                     annotations={"haproxy.org/load-balance": "roundrobin\n  http-request deny"}))
            create(sim, NET, ingress("evil-host", "x.example.com }\n  http-request deny #", "web", 80))
            create(sim, NET, ingress("evil-timeout", "evil3.example.com", "web", 80,
                                     annotations={"haproxy.org/timeout-server": "forever"}))
            create(sim, NET, ingress("late", "late.example.com", "web", 80))

            def quarantined_and_late_landed():
                p = pipeline(port)
                names = {q["name"]: q["reason"] for q in (p or {}).get("quarantined", [])}
                if not {"evil-annotation", "evil-host", "evil-timeout"} <= set(names):
                    return None
                g = Generation(tmp, p["lkg"]["checksum"])
                return (g, names) if "backend ing_shop_late_web_80" in g.cfg else None
            g3, reasons = h.wait_for(quarantined_and_late_landed, timeout=90, interval=0.2,
                                     what="the bad Ingresses quarantined and the good one in the LKG")
            everything = g3.cfg + "".join(g3.map(m) for m in ("host.map", "path-exact.map",
                                                              "path-prefix-exact.map", "path-prefix.map"))
            assert "http-request deny" not in everything and "evil" not in everything, everything
            assert "haproxy_arg" in reasons["evil-annotation"] and "newline" in reasons["evil-annotation"], reasons
            assert "haproxy_arg" in reasons["evil-host"], reasons
            assert "timeout-server" in reasons["evil-timeout"], reasons
            assert set(pipeline(port)["quarantined"][0]) >= {"resource", "namespace", "name", "reason"}
            assert {q["resource"] for q in pipeline(port)["quarantined"]} == {"ingresses"}

            # fixing one releases it
            replace(sim, NET, ingress("evil-timeout", "evil3.example.com", "web", 80,
                                      annotations={"haproxy.org/timeout-server": "45s"}))
            g4 = lkg_where(tmp, port, lambda x: "backend ing_shop_evil-timeout_web_80" in x.cfg, "the fixed Ingress")
            assert "timeout server 45s" in "\n".join(backend_block(g4.cfg, "ing_shop_evil-timeout_web_80"))
            assert "evil-timeout" not in {q["name"] for q in pipeline(port)["quarantined"]}

            # a Secret whose certificate HAProxy refuses, used by a new Ingress, while another lands: only
            # together do they break haproxy -c, so bisection quarantines one of the two; the LKG keeps
            # serving the valid certificate
            bad = tls_secret()
            bad["metadata"]["name"] = "broken-tls"
            bad["data"]["tls.crt"] = "bm90IGEgY2VydGlmaWNhdGUK"  # "not a certificate"
            create(sim, SECRETS, bad)
            create(sim, NET, ingress("broken-tls", "broken.example.com", "web", 80,
                                     tls=[{"hosts": ["broken.example.com"], "secretName": "broken-tls"}]))
            create(sim, NET, ingress("later", "later.example.com", "web", 80))

            def broken_quarantined_and_later_landed():
                p = pipeline(port)
                q = [x for x in (p or {}).get("quarantined", []) if x["name"] == "broken-tls"]
                if not q:
                    return None
                g = Generation(tmp, p["lkg"]["checksum"])
                return (g, q[0]) if "backend ing_shop_later_web_80" in g.cfg else None
            g5, q = h.wait_for(broken_quarantined_and_later_landed, timeout=90, interval=0.2,
                               what="the broken certificate's Ingress or Secret quarantined, the good one landed")
            print("# quarantined:", json.dumps(q)[:400])
            assert q["resource"] in ("ingresses", "secrets"), q
            assert "shop_broken-tls.pem" not in g5.read("crt-lists", "certificates.list")
            assert "secure.example.com" in g5.read("crt-lists", "certificates.list")
        finally:
            proc.stop()


def echo_backend(name, host="127.0.0.1"):
    """A loopback server (backends.py) answering `backend <name> <path>` with the request's Host."""
    return backends.Backend(name, lambda req: f"backend {name} {req.path} host={req.headers.get('Host')} "
                                              f"proto={req.headers.get('X-Forwarded-Proto')}\n", host=host)


def start_haproxy(tmp, master):
    """A real HAProxy master-worker on a bootstrap config the deployer's first push replaces."""
    target = os.path.join(tmp, "target")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "haproxy.cfg"), "w") as f:
        f.write("global\n  maxconn 100\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n"
                f"  timeout server 1s\nfrontend boot\n  bind 127.0.0.1:{h.free_port()}\n")
    return subprocess.Popen(["haproxy", "-Ws", "-S", master, "-f", os.path.join(target, "haproxy.cfg")],
                            stdout=open(os.path.join(tmp, "haproxy.log"), "wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=tmp)


def stop_haproxy(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def get(port, host, path="/", tls=False, ca=None):
    """(status, body, location) of one request to 127.0.0.1:port with this Host (and SNI when tls)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    if tls:
        # SNI and the certificate check for the Ingress host, while connecting to loopback
        ctx = ssl.create_default_context(cafile=ca)
        c.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 5), server_hostname=host)
    try:
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace"), r.getheader("Location")
    finally:
        c.close()


def deploy_state(port):
    """The local target's entry of /debug/vars "deploy", or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/vars", timeout=3) as r:
            d = json.loads(r.read()).get("deploy")
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return (d or {}).get("targets", [None])[0] if d else None


def deployed(port, gen):
    """The target entry once the deployer confirmed gen on the local HAProxy."""
    t = deploy_state(port)
    return t if t and t.get("in_sync") and t.get("checksum") == gen.checksum else None


def test_real_haproxy_runs_the_lkg_the_deployer_pushes(tmp):
    app, app2, other = echo_backend("app"), echo_backend("app2"), echo_backend("other")
    # unix socket paths are at most 97 bytes for haproxy; the test's temp dir is longer
    sock_dir = tempfile.mkdtemp(prefix="htic-ing-", dir="/tmp")
    master = os.path.join(sock_dir, "master.sock")
    haproxy = None
    with KubeSim(auto_namespaces=True) as sim:
        proc, port, cfg = start_controller(tmp, sim, {"runtime_socket": os.path.join(sock_dir, "admin.sock")},
                                           master_socket=master)
        ctx = cfg["templating_settings"]["extra_context"]
        try:
            haproxy = start_haproxy(tmp, master)
            create(sim, SVC, service("app", 80, 80))
            create(sim, SVC, service("other", 80, 80))
            create(sim, EPS, slice_("app-1", "app", app.port, [("127.0.0.1", True), ("127.0.0.2", False)]))
            create(sim, EPS, slice_("other-1", "other", other.port, [("127.0.0.1", True)]))
            create(sim, SECRETS, tls_secret())
            create(sim, NET, ingress("app", "app.example.com", "app", 80))
            create(sim, NET, ingress("wild", "*.wild.example.com", "other", 80))
            create(sim, NET, ingress("exact", "app.example.com", "other", 80, path="/other", path_type="Exact"))
            create(sim, NET, ingress("secure", "secure.example.com", "app", 80,
                                     tls=[{"hosts": ["secure.example.com"], "secretName": "secure-tls"}]))
            g = lkg_where(tmp, port, lambda g: "backend ing_shop_secure_app_80" in g.cfg
                          and "*.wild.example.com" in g.map("host.map") and "/other" in g.map("path-exact.map"),
                          "every Ingress in the LKG")
            h.wait_for(lambda: deployed(port, g), timeout=60, interval=0.2, what="the LKG running in haproxy")
            hp = ctx["http_port"]
            status, body, _ = get(hp, "app.example.com")
            assert status == 200 and body.startswith("backend app / host=app.example.com proto=http"), (status, body)
            assert get(hp, "APP.example.com:80", "/x/y")[1].startswith("backend app /x/y"), "host case and port"
            assert get(hp, "app.example.com", "/other")[1].startswith("backend other /other"), "Exact path"
            assert get(hp, "app.example.com", "/other/x")[1].startswith("backend app /other/x"), "Exact is exact"
            assert get(hp, "a.wild.example.com")[1].startswith("backend other /"), "wildcard host"
            status, body, _ = get(hp, "a.b.wild.example.com")
            assert status == 404 and "no Ingress matches" in body, "a wildcard matches one label only"
            status, body, _ = get(hp, "unknown.example.com")
            assert status == 404 and "no Ingress matches" in body, (status, body)
            # TLS: the Secret's certificate for its SNI, the SSL redirect on plain http
            ca = os.path.join(tmp, "ca.pem")
            with open(ca, "w") as f:
                f.write(g.read("certs", "shop_secure-tls.pem").split("-----BEGIN PRIVATE KEY-----")[0])
            status, body, _ = get(ctx["https_port"], "secure.example.com", "/s", tls=True, ca=ca)
            assert status == 200 and body.startswith("backend app /s host=secure.example.com proto=https"), body
            status, _, location = get(hp, "secure.example.com", "/s")
            assert status == 308 and location == "https://secure.example.com/s", (status, location)

            # endpoint churn: the app endpoint moves to another port; only its server slot changes, which the
            # deployer applies through the runtime API (fast lane, no reload)
            replace(sim, EPS, slice_("app-1", "app", app2.port, [("127.0.0.1", True), ("127.0.0.2", False)]))
            g2 = lkg_where(tmp, port, lambda x: f"127.0.0.1:{app2.port}" in x.cfg, "the moved endpoint in the LKG")
            t = h.wait_for(lambda: deployed(port, g2), timeout=60, interval=0.2, what="the churn deployed")
            assert t["last_push"]["lane"] == "fast", t
            # and it needed no haproxy -c: the validator saw only a slot server move against a valid generation
            assert "by=slots" in proc.text(), proc.text()[-3000:]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                metrics = r.read().decode()
            assert re.search(r"^haproxy_ic_validation_slot_verdicts_total(\{[^}]*\})? [1-9]", metrics, re.M), \
                [ln for ln in metrics.splitlines() if "slot_verdicts" in ln]
            assert get(hp, "app.example.com", "/moved")[1].startswith("backend app2 /moved")
            assert get(hp, "a.wild.example.com")[1].startswith("backend other /")

            # a second ready endpoint (another slice) fills a disabled slot, again without a reload
            create(sim, EPS, slice_("app-2", "app", app.port, [("127.0.0.1", True)]))
            g3 = lkg_where(tmp, port, lambda x: len([s for s in servers(x.cfg, "ing_shop_app_app_80")
                                                     if "disabled" not in s]) == 2, "two app endpoints in the LKG")
            t = h.wait_for(lambda: deployed(port, g3), timeout=60, interval=0.2, what="the new endpoint deployed")
            assert t["last_push"]["lane"] == "fast", t
            answers = {get(hp, "app.example.com")[1].split()[1] for _ in range(4)}
            assert answers == {"app", "app2"}, answers
        finally:
            if haproxy is not None:
                stop_haproxy(haproxy)
            proc.stop()
            for b in (app, app2, other):
                b.close()
            shutil.rmtree(sock_dir, ignore_errors=True)


def test_validate_config_accepts_the_example(tmp):
    # in a pod the downward API sets POD_NAMESPACE (the example leaves lease_namespace to it)
    r = subprocess.run([h.HTIC_BIN, "validate-config", EXAMPLE], capture_output=True, text=True,
                       env=dict(os.environ, POD_NAMESPACE="ingress"))
    assert r.returncode == 0 and "config OK" in r.stdout, r.stdout + r.stderr


def validate(path):
    """`validate --config path --output json`: (exit status, {test name: passed})."""
    r = subprocess.run([h.HTIC_BIN, "validate", "--config", path, "--output", "json"], capture_output=True,
                       text=True, env=dict(os.environ, POD_NAMESPACE="ingress"), timeout=120)
    report = json.loads(r.stdout)
    return r.returncode, {t["name"]: t["passed"] for t in report["tests"]}


def test_validate_passes_the_embedded_tests(tmp):
    code, results = validate(EXAMPLE)
    assert code == 0 and all(results.values()), results
    assert set(results) == set(example()["validation_tests"]), results


# A change to one feature of the templates and the embedded tests that must catch it: proof that each
# feature's validation test can fail.
MUTATIONS = [
    ("{%- set ready = eps.list | sort %}", "{%- set ready = eps.list %}", {"server-slots", "ipv6-endpoints"}),
    ('else "127.0.0.1:1 disabled" }}', 'else "127.0.0.1:1" }}', {"server-slots", "server-slots-grow"}),
    ("regsub(^[^.]+,*)", "regsub(^[^.]+,x)", {"wildcard-host"}),
    ("{%- set ours = legacy == cls %}", "{%- set ours = false %}", {"ingress-class"}),
    ("{%- set model.default_backend = be %}", "", {"default-backend", "server-slots-unnamed-port"}),
    ("  balance {{ b.balance }}\n", "  balance roundrobin\n", {"annotations"}),
    ("{% if crtlist.lines %}", "{% if false %}", {"tls"}),
    ("  mworker-max-reloads {{ haproxy_arg(mworker_max_reloads) }}\n", "", {"empty-cluster"}),
    ('{%- set entries = [("exact", host ~ path)] %}', '{%- set entries = [("prefix", host ~ path)] %}',
     {"host-and-path-routing"}),
]


def test_each_feature_has_an_embedded_test_that_catches_a_change(tmp):
    with open(EXAMPLE) as f:
        text = f.read()
    for old, new, must_fail in MUTATIONS:
        assert text.count(old) == 1, f"mutation target not found once: {old!r}"
        path = os.path.join(tmp, "mutated.yaml")
        with open(path, "w") as f:
            f.write(text.replace(old, new))
        code, results = validate(path)
        failed = {n for n, ok in results.items() if not ok}
        assert code == 1 and must_fail <= failed, (old, code, failed)


if __name__ == "__main__":
    h.run([test_validate_config_accepts_the_example, test_validate_passes_the_embedded_tests,
           test_each_feature_has_an_embedded_test_that_catches_a_change, test_lkg_maps_slots_tls_churn_and_quarantine,
           test_real_haproxy_runs_the_lkg_the_deployer_pushes])
