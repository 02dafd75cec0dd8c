#!/usr/bin/python3
"""The main job on the embedded default, on one machine: the project's Kubernetes API simulator seeded with
sample Ingresses, Services, EndpointSlices and a TLS Secret; small HTTP backends; a real HAProxy
master-worker; and several controller replicas rendering the shipped deploy/examples/ingress.yaml, electing
one leader through a coordination.k8s.io/v1 Lease, the leader's deployer pushing to that HAProxy through its
master socket. It prints who leads, the curl lines that reach a backend through HAProxy (and runs one), each
replica's /metrics and /debug/vars, and the kubectl line that reads the Lease; then it stops the leader to
show a failover, and keeps running until Ctrl-C (or --duration), when it stops everything it started.

With --kubeconfig FILE the replicas watch that cluster instead (nothing is seeded there); HAProxy and the
replicas still run here. Not for production: everything binds 127.0.0.1 on free ports and lives in one
private temp dir that is removed at the end."""
import argparse
import base64
import functools
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "deploy", "examples", "ingress.yaml")
sys.path.insert(0, os.path.join(ROOT, "tests", "kube-sim"))
import kubesim  # noqa: E402

NS = "demo"  # the namespace of the sample objects in the simulator
# Every wait is bounded so a broken setup ends with a message instead of hanging: the first LKG needs the
# renderer and one `haproxy -c` per replica on a machine that may be busy, an election at most one
# lease_duration.
FIRST_LKG_TIMEOUT_S = 120
ELECTION_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30  # above the controller's shutdown_timeout (20s by default)
CURL_TIMEOUT_S = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return json.load(r)
    except (OSError, ValueError):
        return None


class Progress:
    """One status line that updates in place on a terminal, and a line every few seconds otherwise."""

    def __init__(self, what):
        self.what, self.t0, self.last, self.tty = what, time.monotonic(), -1.0, sys.stdout.isatty()

    def tick(self, state):
        el = time.monotonic() - self.t0
        if self.tty:
            print(f"\r  {self.what}: {el:4.0f}s {state}\033[K", end="", flush=True)
        elif el - self.last >= 5:
            self.last = el
            print(f"  {self.what}: {el:.0f}s {state}", flush=True)

    def done(self, state):
        if self.tty:
            print("\r\033[K", end="")
        print(f"  {self.what}: {state} after {time.monotonic() - self.t0:.1f}s", flush=True)


# ---- the backends: what a Service's endpoints would be in a cluster ----
class Backend:
    """An HTTP server on 127.0.0.1 (free port, own thread) answering which backend it is."""

    def __init__(self, name):
        class Answer(BaseHTTPRequestHandler):
            def do_GET(self):
                body = (f"backend {name} (127.0.0.1:{self.server.server_address[1]}) got {self.path} "
                        f"host={self.headers.get('Host')} proto={self.headers.get('X-Forwarded-Proto') or 'http'}\n")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_):
                pass
        self.name = name
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name=name, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---- the sample objects ----
def ingress(name, host, paths, tls_secret=None):
    """paths: [(path, pathType, service)], every Service on port 80."""
    spec = {"ingressClassName": "haproxy",
            "rules": [{"host": host, "http": {"paths": [
                {"path": p, "pathType": t, "backend": {"service": {"name": svc, "port": {"number": 80}}}}
                for p, t, svc in paths]}}]}
    if tls_secret:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    return "/apis/networking.k8s.io/v1/namespaces/demo/ingresses", {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": NS},
        "spec": spec}


def sample_objects(backends, cert_pem, key_pem):
    """Services blue and green, one EndpointSlice per backend (its own port), a TLS Secret, three Ingresses."""
    objs = []
    for svc in ("blue", "green"):
        objs.append(("/api/v1/namespaces/demo/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": svc, "namespace": NS},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}))
    for b in backends:
        objs.append(("/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices", {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": b.name, "namespace": NS,
                         "labels": {"kubernetes.io/service-name": b.name.split("-")[0]}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": b.port}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]}))
    objs.append(("/api/v1/namespaces/demo/secrets", {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "secure-tls", "namespace": NS},
        "data": {"tls.crt": base64.b64encode(cert_pem).decode(), "tls.key": base64.b64encode(key_pem).decode()}}))
    objs.append(ingress("shop", "shop.example.com", [("/", "Prefix", "blue"), ("/api", "Prefix", "green")]))
    objs.append(ingress("status", "shop.example.com", [("/status", "Exact", "green")]))
    objs.append(ingress("secure", "secure.example.com", [("/", "Prefix", "green")], tls_secret="secure-tls"))
    return objs


def self_signed(work, host):
    """A throwaway certificate for host (openssl, which install-deps installs); returns (cert, key) PEM."""
    crt, key = os.path.join(work, "demo-ca.pem"), os.path.join(work, "demo-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + host,
                    "-addext", "subjectAltName=DNS:" + host, "-keyout", key, "-out", crt],
                   check=True, capture_output=True, timeout=60)
    with open(crt, "rb") as c, open(key, "rb") as k:
        return c.read(), k.read()


def start_sim():
    """The simulator in its own process group, like every other child: Ctrl-C reaches only this script,
    which stops the replicas first (they release the Lease through the simulator) and the simulator last."""
    own_group = types.SimpleNamespace(**vars(subprocess))
    own_group.Popen = functools.partial(subprocess.Popen, process_group=0)
    kubesim.subprocess = own_group
    try:
        return kubesim.KubeSim(auto_namespaces=True).start()
    except RuntimeError as e:  # it has cleaned up after itself
        raise SystemExit(f"the API simulator did not start: {e}")


# ---- HAProxy and the replicas ----
def start_haproxy(work):
    """Debian's HAProxy in master-worker mode with a master socket, on a bootstrap config the leader's
    first push replaces. Its own session: Ctrl-C does not reach it, the cleanup stops it."""
    target = os.path.join(work, "haproxy")
    os.makedirs(target)
    cfg = os.path.join(target, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write("# bootstrap: replaced by the controller's first deployment\nglobal\n  maxconn 100\n"
                "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n"
                f"frontend bootstrap\n  bind 127.0.0.1:{free_port()}\n")
    master = os.path.join(work, "master.sock")
    log = open(os.path.join(work, "haproxy.log"), "wb")
    p = subprocess.Popen(["haproxy", "-W", "-S", master, "-f", cfg], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True, cwd=work)
    log.close()
    deadline = time.monotonic() + 10
    while not os.path.exists(master):
        if p.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"haproxy did not start (see {work}/haproxy.log)")
        time.sleep(0.05)
    return p, master


def replica_config(work, i, port, kubeconfig, lease_ns, master, ports):
    """The example as shipped, with this machine's controller and haproxy sections and the extra_context
    values the example leaves configurable (ports, paths, timeouts): its templates are used as they are."""
    with open(EXAMPLE) as f:
        cfg = yaml.safe_load(f)
    target = os.path.join(work, "haproxy")
    cfg["controller"] = {
        "leader_election": {"enabled": True, "identity": f"replica-{i}", "lease_namespace": lease_ns,
                            "lease_name": cfg["controller"]["leader_election"]["lease_name"],
                            "lease_duration": "15s", "renew_deadline": "10s", "retry_period": "2s"},
        "kubernetes": {"kubeconfig": kubeconfig},
        "http": {"address": "127.0.0.1", "port": port},
        "run_dir": os.path.join(work, f"replica-{i}", "run")}
    cfg["haproxy"] = {"endpoints": [{"name": "local", "master_socket": master}],
                      "config_file": os.path.join(target, "haproxy.cfg"), "maps_dir": os.path.join(target, "maps"),
                      "ssl_certs_dir": os.path.join(target, "ssl"), "general_dir": os.path.join(target, "general")}
    # maxconn: the example's 10000 needs a file limit a desktop session may not have; hard-stop-after: a
    # reload or the final stop does not wait 30s for old connections
    cfg["templating_settings"]["extra_context"].update({
        "bind_address": "127.0.0.1", "http_port": ports["http"], "https_port": ports["https"],
        "runtime_socket": os.path.join(work, "admin.sock"), "hard_stop_after": "2s", "maxconn": 1000})
    path = os.path.join(work, f"replica-{i}", "config.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return path, cfg["controller"]["leader_election"]["lease_name"]


class Replica:
    def __init__(self, binary, work, i, config, port):
        self.binary, self.work, self.i, self.config, self.port = binary, work, i, config, port
        self.name = f"replica-{i}"
        self.proc = None
        self.terminating = False  # SIGTERM sent: a second one would make the supervisor kill its children

    def start(self):
        self.terminating = False
        with open(os.path.join(self.work, self.name, "log"), "ab") as log:
            self.proc = subprocess.Popen([self.binary, "run", "--config", self.config], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def vars(self):
        return (get_json(self.port, "/debug/vars") or {}) if self.running() else {}

    def leading(self):
        return bool(self.vars().get("leader_election", {}).get("is_leader"))

    def terminate(self):
        """SIGTERM once: an orderly shutdown that releases the Lease."""
        if self.running() and not self.terminating:
            self.terminating = True
            self.proc.send_signal(signal.SIGTERM)

    def stop(self):
        """terminate(), SIGKILL past the bound; the exit status."""
        if self.proc is None:
            return None
        self.terminate()
        try:
            return self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def all_exited(replicas):
    """None while a replica runs; else why none does (the end of the first one's log)."""
    if any(r.running() for r in replicas):
        return None
    r = replicas[0]
    with open(os.path.join(r.work, r.name, "log"), errors="replace") as f:
        tail = f.read().splitlines()[-15:]
    return f"every replica exited ({r.name}: status {r.proc.returncode}); the end of its log:\n  " + "\n  ".join(tail)


def wait_leader(replicas, what=None):
    """The one replica that says it leads; what: the progress line's name (None: quiet)."""
    prog = Progress(what) if what else None
    deadline = time.monotonic() + ELECTION_TIMEOUT_S
    while time.monotonic() < deadline:
        found = [r for r in replicas if r.leading()]
        if len(found) == 1:
            if prog:
                prog.done(f"{found[0].name} leads")
            return found[0]
        if all_exited(replicas):
            raise SystemExit(all_exited(replicas))
        if prog:
            prog.tick(f"{len(found)} replicas say they lead")
        time.sleep(0.02)
    raise SystemExit(f"no single leader within {ELECTION_TIMEOUT_S}s (logs: {replicas[0].work}/replica-*/log)")


def wait_deployed(replicas, what, want=lambda: True):
    """Until one replica leads and HAProxy runs that replica's LKG (the deployer says in sync with the same
    checksum) and want() holds; returns the leader."""
    prog = Progress(what)
    deadline = time.monotonic() + FIRST_LKG_TIMEOUT_S
    while time.monotonic() < deadline:
        for r in replicas:
            v = r.vars()
            if not v.get("leader_election", {}).get("is_leader"):
                continue
            lkg = (v.get("pipeline") or {}).get("lkg") or {}
            targets = (v.get("deploy") or {}).get("targets") or [{}]
            t = targets[0] or {}
            if lkg and t.get("in_sync") and t.get("checksum") == lkg.get("checksum") and want():
                prog.done(f"{r.name} deployed {lkg['checksum'][:19]}")
                return r
            quarantined = len((v.get("pipeline") or {}).get("quarantined") or [])
            prog.tick(f"leader {r.name}, LKG {'yes' if lkg else 'not yet'}, HAProxy "
                      f"{'in sync' if t.get('in_sync') else 'not yet in sync'}"
                      + (f", {quarantined} objects quarantined" if quarantined else ""))
            break
        else:
            if all_exited(replicas):
                raise SystemExit(all_exited(replicas))
            prog.tick("no leader yet")
        time.sleep(0.2)
    raise SystemExit(f"HAProxy did not get the LKG within {FIRST_LKG_TIMEOUT_S}s "
                     f"(logs: {replicas[0].work}/replica-*/log, {replicas[0].work}/haproxy.log)")


def curl(argv):
    """Runs one printed curl line; its answer (or error)."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=CURL_TIMEOUT_S + 5)
    return (r.stdout or r.stderr).strip()


def curl_lines(ports, work, hosts):
    """The curl lines that reach the sample backends (simulator) or the first hosts HAProxy routes."""
    http = f"http://127.0.0.1:{ports['http']}"
    base = ["curl", "-sS", "--max-time", str(CURL_TIMEOUT_S)]
    if hosts is None:  # the simulator's samples
        return [base + ["-H", "Host: shop.example.com", http + "/"],
                base + ["-H", "Host: shop.example.com", http + "/api/orders"],
                base + ["--cacert", os.path.join(work, "demo-ca.pem"), "--resolve",
                        f"secure.example.com:{ports['https']}:127.0.0.1",
                        f"https://secure.example.com:{ports['https']}/"]]
    return [base + ["-H", "Host: " + h, http + "/"] for h in hosts[:3]] or [base + [http + "/"]]


def routed_hosts(work):
    """The exact hosts in the deployed host.map (a real cluster: whatever Ingresses it has)."""
    try:
        with open(os.path.join(work, "haproxy", "maps", "host.map")) as f:
            return [line.split()[0] for line in f if line.strip() and not line.startswith("*")]
    except OSError:
        return []


def show_replicas(replicas):
    for r in replicas:
        v = r.vars()
        if not v:
            print(f"  {r.name}: not running")
            continue
        le = v.get("leader_election", {})
        lkg = ((v.get("pipeline") or {}).get("lkg") or {}).get("checksum", "-")
        print(f"  {r.name}: {'LEADER  ' if le.get('is_leader') else 'follower'} lkg={lkg[:19]}  "
              f"http://127.0.0.1:{r.port}/metrics  http://127.0.0.1:{r.port}/debug/vars")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=0,
                    help="seconds to keep running once everything is shown (0: until Ctrl-C)")
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--kubeconfig", help="watch this cluster instead of the simulator (nothing is seeded there)")
    ap.add_argument("--namespace", default="default", help="namespace of the Lease (default: default)")
    ap.add_argument("--no-failover", action="store_true", help="do not stop the leader to show the handoff")
    ap.add_argument("--keep", action="store_true", help="leave the work dir (configs, logs) at the end")
    ap.add_argument("--bin", default=os.environ.get("HTIC_BIN", os.path.join(ROOT, "build", "haproxy-template-ic")))
    args = ap.parse_args()
    if args.replicas < 1:
        ap.error("--replicas must be at least 1")
    os.environ.setdefault("KUBE_SIM_BIN", os.path.join(os.path.dirname(args.bin), "tests", "kube-sim", "kube-sim"))
    for tool in ("haproxy", "curl", "openssl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: run ./deploy/install-deps.sh first")

    work = tempfile.mkdtemp(prefix="htic-demo-")
    sim = haproxy = None
    backends, replicas = [], []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(f"work dir: {work} ({'kept' if args.keep else 'removed'} at the end)")
        if args.kubeconfig:
            kubeconfig = os.path.abspath(args.kubeconfig)
            print(f"cluster: {kubeconfig} (nothing is seeded). The replicas expect to list and watch "
                  "Ingresses, Services, EndpointSlices and kubernetes.io/tls Secrets in every namespace, "
                  f"and to get, create, update and watch Leases in namespace {args.namespace}; they route "
                  "Ingresses of class haproxy. HAProxy runs here, so endpoints must be reachable from here.")
        else:
            sim = start_sim()
            kubeconfig = sim.write_kubeconfig(os.path.join(work, "kubeconfig"))
            backends = [Backend("blue-1"), Backend("blue-2"), Backend("green-1")]
            cert, key = self_signed(work, "secure.example.com")
            for path, obj in sample_objects(backends, cert, key):
                code, _, body = sim.request("POST", path, obj)
                if code != 201:
                    raise SystemExit(f"seeding {path} failed: {code} {body}")
            print(f"API simulator: {sim.url}, seeded in namespace {NS}: Services blue and green, "
                  f"EndpointSlices {', '.join(f'{b.name} (127.0.0.1:{b.port})' for b in backends)}, "
                  "the TLS Secret secure-tls (self-signed for secure.example.com), Ingresses shop, status, secure")
        ports = {"http": free_port(), "https": free_port()}
        haproxy, master = start_haproxy(work)
        print(f"HAProxy {haproxy.pid} (master-worker, master socket {master}); the templates bind "
              f"127.0.0.1:{ports['http']} (http) and 127.0.0.1:{ports['https']} (https)")
        lease_name = None
        for i in range(args.replicas):
            os.makedirs(os.path.join(work, f"replica-{i}"))
            port = free_port()
            cfg, lease_name = replica_config(work, i, port, kubeconfig, args.namespace, master, ports)
            replicas.append(Replica(args.bin, work, i, cfg, port))
        for r in replicas:
            r.start()
        print(f"{len(replicas)} replicas rendering {os.path.relpath(EXAMPLE, ROOT)} (logs: {work}/replica-*/log)")
        leader = wait_leader(replicas, "election")
        leader = wait_deployed(replicas, "first LKG in HAProxy")
        lines = curl_lines(ports, work, None if sim else routed_hosts(work))
        print(f"through HAProxy: {shlex.join(lines[0])}\n  -> {curl(lines[0])}")

        if not args.no_failover and len(replicas) > 1:
            print(f"failover: SIGTERM to the leader {leader.name} (it releases the Lease on its way out)")
            t0 = time.monotonic()
            leader.terminate()
            new = wait_leader([r for r in replicas if r is not leader], "new election")
            took = time.monotonic() - t0
            print(f"  {new.name} took over {took * 1000:.0f} ms after the SIGTERM "
                  f"(old leader exited with status {leader.stop()}); {leader.name} restarts as a follower")
            leader.start()
            if sim:  # a change after the handoff: the new leader's deployer brings it to HAProxy
                path, obj = ingress("after-failover", "failover.example.com", [("/", "Prefix", "green")])
                sim.request("POST", path, obj)
                probe = lines[0][:-2] + ["Host: failover.example.com", lines[0][-1]]
                wait_deployed(replicas, "a new Ingress through the new leader",
                              lambda: "backend green-1" in curl(probe))
                print(f"  {shlex.join(probe)}\n  -> {curl(probe)}")
            print(f"  still through HAProxy: {curl(lines[0])}")

        leader = wait_leader(replicas)
        print(f"\nleader: {leader.name}")
        print("reach a backend through HAProxy:")
        for argv in lines:
            print(f"  {shlex.join(argv)}\n    -> {curl(argv)}")
        print("replicas (/metrics, /debug/vars; also /healthz, /readyz):")
        show_replicas(replicas)
        kubectl = ["kubectl", "--kubeconfig", kubeconfig, "get", "lease", lease_name, "-n", args.namespace,
                   "-o", "custom-columns=HOLDER:.spec.holderIdentity,TRANSITIONS:.spec.leaseTransitions"]
        print("read the Lease:\n  " + shlex.join(kubectl))
        if shutil.which("kubectl"):
            out = subprocess.run(kubectl, capture_output=True, text=True, timeout=30,
                                 env=dict(os.environ, KUBECACHEDIR=os.path.join(work, "kubecache")))
            print("  " + "\n  ".join((out.stdout or out.stderr).strip().splitlines()))
        print(f"HAProxy's files: {work}/haproxy/ (log {work}/haproxy.log)", flush=True)
        if args.duration > 0:
            print(f"running for {args.duration:g}s", flush=True)
            time.sleep(args.duration)
        else:
            print("running; Ctrl-C stops everything", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        print("stopping: replicas, HAProxy, backends, simulator", flush=True)
        for r in replicas:
            r.terminate()
        for r in replicas:
            r.stop()
        if haproxy is not None:
            try:
                os.killpg(haproxy.pid, signal.SIGTERM)
                haproxy.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(haproxy.pid, signal.SIGKILL)
                haproxy.wait()
            except ProcessLookupError:
                pass
        for b in backends:
            b.stop()
        if sim is not None:
            sim.stop()
        if args.keep:
            print(f"stopped; work dir kept: {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
            print("stopped; work dir removed", flush=True)


if __name__ == "__main__":
    main()
