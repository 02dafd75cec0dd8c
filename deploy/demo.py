#!/usr/bin/python3
"""The main job on the embedded default, on one machine: the project's Kubernetes API simulator, and
several controller replicas electing one leader through a coordination.k8s.io/v1 Lease. It shows who leads,
then stops the leader gracefully and shows the handoff, then keeps running until Ctrl-C or --duration.

Everything binds 127.0.0.1 on free ports and lives in a private temp dir that is removed at the end."""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def debug_vars(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/vars", timeout=2) as r:
            return json.load(r)
    except OSError:
        return None


def config_text(work, i, port, kubeconfig, frontend_port):
    # One small template for every replica (so every replica's last-known-good has the same checksum);
    # HAProxy's paths are private to the demo, never the machine's /etc/haproxy.
    return f"""controller:
  leader_election:
    enabled: true
    identity: replica-{i}
    lease_namespace: default
    lease_duration: 15s
    renew_deadline: 10s
    retry_period: 2s
  kubernetes:
    kubeconfig: {kubeconfig}
  http:
    address: 127.0.0.1
    port: {port}
  run_dir: {work}/replica-{i}/run
haproxy:
  endpoints:
    - name: local
      master_socket: {work}/haproxy-master.sock
  config_file: {work}/haproxy/haproxy.cfg
  maps_dir: {work}/haproxy/maps
  ssl_certs_dir: {work}/haproxy/ssl
  general_dir: {work}/haproxy/general
watched_resources:
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
      timeout client 5s
      timeout server 5s
    frontend http
      bind 127.0.0.1:{frontend_port}
      default_backend not_found
    backend not_found
      http-request return status 404
    # {{{{ resources.ingresses.List() | length }}}} Ingresses
"""


def leaders(replicas):
    out = []
    for r in replicas:
        if r["proc"].poll() is None:
            v = debug_vars(r["port"])
            if v and v["leader_election"]["is_leader"]:
                out.append(r)
    return out


def wait_leader(replicas, timeout=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        found = leaders(replicas)
        if len(found) == 1:
            return found[0], time.monotonic() - t0
        time.sleep(0.005)
    raise SystemExit("no leader elected within %ss" % timeout)


def show(replicas):
    for r in replicas:
        if r["proc"].poll() is not None:
            print(f"  replica-{r['i']}: stopped")
            continue
        v = debug_vars(r["port"]) or {}
        le = v.get("leader_election", {})
        role = "LEADER  " if le.get("is_leader") else "follower"
        lkg = (v.get("pipeline") or {}).get("lkg") or {}
        print(f"  replica-{r['i']}: {role} term={le.get('term') or '-':<14} holder={le.get('lease_holder')!s:<10} "
              f"lkg={str(lkg.get('checksum', '-'))[:19]} http://127.0.0.1:{r['port']}/debug/vars")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=0, help="seconds to run after the handoff (0: until Ctrl-C)")
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--bin", default=os.environ.get("HTIC_BIN", os.path.join(ROOT, "build", "haproxy-template-ic")))
    args = ap.parse_args()
    os.environ.setdefault("KUBE_SIM_BIN", os.path.join(os.path.dirname(args.bin), "tests", "kube-sim", "kube-sim"))

    work = tempfile.mkdtemp(prefix="htic-demo-")
    replicas = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with KubeSim(auto_namespaces=True) as sim:
            print(f"API simulator: {sim.url} (kubeconfig {sim.kubeconfig})")
            frontend_port = free_port()
            for i in range(args.replicas):
                os.makedirs(os.path.join(work, f"replica-{i}"))
                port = free_port()
                cfg = os.path.join(work, f"replica-{i}", "config.yaml")
                with open(cfg, "w") as f:
                    f.write(config_text(work, i, port, sim.kubeconfig, frontend_port))
                log = open(os.path.join(work, f"replica-{i}", "log"), "wb")
                p = subprocess.Popen([args.bin, "run", "--config", cfg], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
                replicas.append({"i": i, "port": port, "proc": p, "log": log})
            leader, took = wait_leader(replicas)
            print(f"replica-{leader['i']} was elected in {took * 1000:.0f} ms; logs in {work}/replica-*/log")
            show(replicas)

            print(f"stopping the leader (SIGTERM to replica-{leader['i']}): it releases the Lease on its way out")
            t0 = time.monotonic()
            leader["proc"].send_signal(signal.SIGTERM)
            new, _ = wait_leader([r for r in replicas if r is not leader])
            print(f"replica-{new['i']} took over {1000 * (time.monotonic() - t0):.0f} ms after the SIGTERM "
                  f"(old leader exited with status {leader['proc'].wait(30)})")
            # every replica renders and validates (hot standby): wait for each one's last-known-good
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not all(
                    ((debug_vars(r["port"]) or {}).get("pipeline") or {}).get("lkg")
                    for r in replicas if r["proc"].poll() is None):
                time.sleep(0.1)
            show(replicas)
            _, _, lease = sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                                      "haproxy-template-ic-leader")
            print("the Lease now:", json.dumps(lease.get("spec")))
            if shutil.which("kubectl"):  # the real client sees the same thing
                out = subprocess.run(["kubectl", "--kubeconfig", sim.kubeconfig, "get", "leases", "-n", "default", "-o",
                                      "custom-columns=NAME:.metadata.name,HOLDER:.spec.holderIdentity,"
                                      "TRANSITIONS:.spec.leaseTransitions"],
                                     capture_output=True, text=True, timeout=30,
                                     env=dict(os.environ, KUBECACHEDIR=os.path.join(work, "kubecache")))
                print("kubectl get leases -n default:\n  " + "\n  ".join((out.stdout or out.stderr).splitlines()))

            if args.duration > 0:
                time.sleep(args.duration)
            else:
                print("running; Ctrl-C stops everything in order")
                while True:
                    time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for r in replicas:
            if r["proc"].poll() is None:
                r["proc"].send_signal(signal.SIGTERM)
        for r in replicas:
            try:
                r["proc"].wait(30)
            except subprocess.TimeoutExpired:
                r["proc"].kill()
            r["log"].close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
