#!/usr/bin/python3
"""The real kubectl 1.32 against kube-sim: version, get, get -o yaml/json, apply -f (create, configure,
unchanged; default strict validation and --validate=false), delete, get -w, and https with a bearer token.
Each simulator run gets a fresh KUBECACHEDIR and HOME. Skips (TAP) when kubectl is absent. TAP output."""
import json
import os
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim import KubeSim, Tap  # noqa: E402

KUBECTL = os.environ.get("KUBECTL", "/usr/bin/kubectl")
CMD_TIMEOUT_S = 60

LEASE = """apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: demo
  namespace: %(ns)s
  labels: {app: demo}
spec:
  holderIdentity: %(holder)s
  leaseDurationSeconds: 15
"""


class Kubectl:
    def __init__(self, sim):
        self.sim = sim
        self.home = tempfile.mkdtemp(prefix="kubectl-home-", dir=sim.dir)
        self.env = dict(os.environ, KUBECONFIG=sim.kubeconfig, HOME=self.home,
                        KUBECACHEDIR=os.path.join(self.home, "cache"))

    def run(self, *args, stdin=None):
        p = subprocess.run([KUBECTL] + list(args), env=self.env, input=stdin, capture_output=True, text=True,
                           timeout=CMD_TIMEOUT_S)
        return p.returncode, p.stdout, p.stderr

    def apply(self, text, *extra):
        path = os.path.join(self.home, "obj.yaml")
        with open(path, "w") as f:
            f.write(text)
        return self.run("apply", "-f", path, *extra)


def plain_http(tap):
    with KubeSim() as sim:
        k = Kubectl(sim)

        def version():
            rc, out, err = k.run("version", "-o", "json")
            v = json.loads(out)
            assert rc == 0 and v["serverVersion"]["minor"] == "32", (rc, out, err)
        tap.run("kubectl version reports server 1.32", version)

        def apply_create():
            rc, out, err = k.apply(LEASE % {"ns": "default", "holder": "pod-a"})
            assert rc == 0 and "lease.coordination.k8s.io/demo created" in out, (rc, out, err)
        tap.run("kubectl apply -f creates (default strict validation)", apply_create)

        def get_table():
            rc, out, err = k.run("get", "leases")
            assert rc == 0 and out.splitlines()[0].split()[0] == "NAME" and "demo" in out, (rc, out, err)
        tap.run("kubectl get leases lists", get_table)

        def get_yaml():
            rc, out, err = k.run("get", "lease", "demo", "-o", "yaml")
            assert rc == 0 and "holderIdentity: pod-a" in out and "kind: Lease" in out and "resourceVersion:" in out, \
                (rc, out, err)
            assert "managedFields" not in out, out
        tap.run("kubectl get -o yaml prints the object", get_yaml)

        def apply_configure():
            rc, out, err = k.apply(LEASE % {"ns": "default", "holder": "pod-b"})
            assert rc == 0 and "demo configured" in out, (rc, out, err)
            rc, out, err = k.apply(LEASE % {"ns": "default", "holder": "pod-b"})
            assert rc == 0 and "demo unchanged" in out, (rc, out, err)
            rc, out, err = k.apply(LEASE % {"ns": "default", "holder": "pod-c"}, "--validate=false")
            assert rc == 0 and "demo configured" in out, (rc, out, err)
            st, _, o = sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/demo")
            assert o["spec"]["holderIdentity"] == "pod-c", o
            assert "kubectl.kubernetes.io/last-applied-configuration" in o["metadata"]["annotations"], o
        tap.run("kubectl apply again: configured, unchanged, --validate=false", apply_configure)

        def apply_other_kinds():
            text = """apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: team-a}
data: {a: "1"}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: team-a}
spec:
  ingressClassName: haproxy
  rules:
  - host: a.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
"""
            rc, out, err = k.apply(text)
            assert rc == 0 and "namespace/team-a created" in out and "configmap/cfg created" in out and \
                "ingress.networking.k8s.io/web created" in out, (rc, out, err)
            rc, out, err = k.run("get", "ingress", "-A", "-o", "json")
            items = json.loads(out)["items"]
            assert rc == 0 and [i["metadata"]["name"] for i in items] == ["web"], (rc, out, err)
            rc, out, err = k.run("get", "cm", "cfg", "-n", "team-a", "-o", "jsonpath={.data.a}")
            assert rc == 0 and out == "1", (rc, out, err)
        tap.run("kubectl apply of a namespace, configmap and ingress; get -A -o json; short names", apply_other_kinds)

        def get_watch():
            p = subprocess.Popen([KUBECTL, "get", "leases", "-w", "--request-timeout=0"], env=k.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            try:
                lines = []
                pending = [b""]

                def wait_for(word, limit_s=20):
                    # raw reads: a buffered reader would hide lines from select()
                    deadline = time.monotonic() + limit_s
                    while time.monotonic() < deadline:
                        r, _, _ = select.select([p.stdout], [], [], 0.2)
                        if not r:
                            continue
                        chunk = os.read(p.stdout.fileno(), 65536)
                        if not chunk:
                            break
                        pending[0] += chunk
                        *done, pending[0] = pending[0].split(b"\n")
                        lines.extend(x.decode() for x in done)
                        if any(word in x for x in lines):
                            return True
                    return False
                assert wait_for("demo"), lines  # the initial list
                sim.request("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases",
                            {"metadata": {"name": "watched"}, "spec": {"holderIdentity": "x"}})
                del lines[:]
                assert wait_for("watched"), lines
                return True
            finally:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        tap.run("kubectl get -w shows the list, then a new object", get_watch)

        def delete():
            rc, out, err = k.run("delete", "lease", "demo")
            assert rc == 0 and 'lease.coordination.k8s.io "demo" deleted' in out, (rc, out, err)
            rc, out, err = k.run("get", "lease", "demo")
            assert rc != 0 and 'leases.coordination.k8s.io "demo" not found' in err, (rc, out, err)
            rc, out, err = k.run("get", "lease", "demo", "-n", "nowhere")
            assert rc != 0 and 'not found' in err, (rc, out, err)
        tap.run("kubectl delete, then get reports NotFound", delete)

        def raw():
            rc, out, err = k.run("get", "--raw", "/apis/coordination.k8s.io/v1/namespaces/default/leases")
            assert rc == 0 and json.loads(out)["kind"] == "LeaseList", (rc, out, err)
        tap.run("kubectl get --raw", raw)
        tap.eq(sim.stop(), 0, "simulator exits cleanly after the kubectl run")


def https_token(tap):
    with KubeSim(tls=True, tokens=["sekret:admin"]) as sim:
        k = Kubectl(sim)

        def tls():
            rc, out, err = k.apply(LEASE % {"ns": "default", "holder": "pod-a"})
            assert rc == 0 and "created" in out, (rc, out, err)
            rc, out, err = k.run("get", "lease", "demo", "-o", "jsonpath={.spec.holderIdentity}")
            assert rc == 0 and out == "pod-a", (rc, out, err)
            assert any(e["user"] == "admin" and e["name"] == "demo" for e in sim.audit_entries())
        tap.run("kubectl over https with the generated CA and a bearer token", tls)

        def unauthorized():
            with open(sim.kubeconfig) as f:
                text = f.read()
            bad = os.path.join(k.home, "bad-kubeconfig")
            with open(bad, "w") as f:
                f.write(text.replace("token: sekret", "token: wrong"))
            env = dict(k.env, KUBECONFIG=bad)
            p = subprocess.run([KUBECTL, "get", "leases"], env=env, capture_output=True, text=True,
                               timeout=CMD_TIMEOUT_S)
            assert p.returncode != 0 and ("Unauthorized" in p.stderr or "credentials" in p.stderr), p.stderr
        tap.run("kubectl with a wrong token is refused (401)", unauthorized)

        def client_cert():
            kc = sim.write_kubeconfig(os.path.join(k.home, "cert-kubeconfig"), client_cert=True, ca_data=True)
            env = dict(k.env, KUBECONFIG=kc)
            p = subprocess.run([KUBECTL, "get", "lease", "demo", "-o", "jsonpath={.spec.holderIdentity}"], env=env,
                               capture_output=True, text=True, timeout=CMD_TIMEOUT_S)
            assert p.returncode == 0 and p.stdout == "pod-a", (p.returncode, p.stdout, p.stderr)
        tap.run("kubectl with a client certificate and certificate-authority-data", client_cert)


def main():
    tap = Tap()
    if not os.access(KUBECTL, os.X_OK):
        tap.skip("kubectl tests", "%s not found" % KUBECTL)
        return tap.done()
    plain_http(tap)
    https_token(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
