#!/usr/bin/env python3
"""The README's first command stays true: deploy/demo.sh seeds the API simulator, starts backends, a real
HAProxy and three replicas rendering deploy/examples/ingress.yaml; every line it prints is checked against
the running system (the curl lines answer from a backend through HAProxy, the leader it names is the one
/debug/vars and /metrics name, the kubectl line reads that holder from the Lease, the failover happened);
Ctrl-C (SIGINT) stops everything: no process and no file left. With --kubeconfig it seeds nothing and
routes what the cluster has (a simulator the test seeds stands in for a real cluster)."""
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

DEMO = os.path.join(h.SOURCE_ROOT, "deploy", "demo.sh")
# bounds, not timing assertions: a broken demo fails the test instead of hanging it
READY_TIMEOUT_S = 180
STOP_TIMEOUT_S = 90


class Demo:
    """demo.sh in its own session with TMPDIR in a private short dir (HAProxy's socket paths must stay
    short), its output collected line by line."""

    def __init__(self, tmp, *args):
        self.tmpdir = tempfile.mkdtemp(prefix="htic-dt-", dir="/tmp")
        self.out = []
        self.lines = queue.Queue()
        self.log = open(os.path.join(tmp, "demo.log"), "w")
        self.proc = subprocess.Popen([DEMO, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     env=dict(os.environ, HTIC_BIN=h.HTIC_BIN, TMPDIR=self.tmpdir))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, pattern, timeout):
        """Collects output until a line matches pattern; the whole output so far."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
                if time.monotonic() < deadline:
                    continue
            if line is None:
                raise AssertionError(f"demo output never matched {pattern!r}:\n" + "\n".join(self.out[-60:]))
            self.out.append(line)
            if re.search(pattern, line):
                return "\n".join(self.out)

    def leftovers(self):
        """Processes the demo started that still run: its session, or anything naming its temp dir
        (HAProxy runs in a session of its own)."""
        pids = set()
        for argv in (["pgrep", "-s", str(self.proc.pid)], ["pgrep", "-f", self.tmpdir]):
            pids |= set(subprocess.run(argv, capture_output=True, text=True).stdout.split())
        return pids

    def cleanup(self):
        """Even when the test failed: kill what is left by pid, remove the temp dir."""
        for pid in self.leftovers():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def run_printed(line, tmp):
    """Runs a command line exactly as the demo printed it (kubectl's cache in the test's dir)."""
    r = subprocess.run(shlex.split(line), capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, KUBECACHEDIR=os.path.join(tmp, "kubecache")))
    assert r.returncode == 0, (line, r.stdout, r.stderr)
    return r.stdout


def printed(out, prefix):
    return [line.strip() for line in out.splitlines() if line.strip().startswith(prefix)]


def is_leader(debug_vars_url):
    with urllib.request.urlopen(debug_vars_url, timeout=5) as r:
        return json.load(r)["leader_election"]["is_leader"]


def check_replicas(out, leader):
    """Each printed replica line: its /debug/vars and /metrics answer and agree on who leads."""
    rows = re.findall(r"(replica-\d): (LEADER|follower) .* (http://127\.0\.0\.1:\d+/metrics)  "
                      r"(http://127\.0\.0\.1:\d+/debug/vars)", out)
    assert len(rows) == 3, out
    for name, role, metrics, dvars in rows:
        assert is_leader(dvars) == (name == leader) == (role == "LEADER"), (name, role, leader)
        with urllib.request.urlopen(metrics, timeout=5) as r:
            text = r.read().decode()
        assert f"haproxy_ic_leader_election_is_leader {1 if name == leader else 0}" in text, (name, text[:500])


def test_demo_traffic_lines_failover_and_ctrl_c(tmp):
    demo = Demo(tmp, "--duration", "600")
    try:
        out = demo.until(r"^running for ", READY_TIMEOUT_S)
        work = re.search(r"^work dir: (/\S+)", out, re.M).group(1)
        assert work.startswith(demo.tmpdir) and os.path.isdir(work), out

        # the failover: the old leader exited 0, another took over, and a change after it reached HAProxy
        m = re.search(r"SIGTERM to the leader (replica-\d).*\n.*\n\s+(replica-\d) took over \d+ ms after the "
                      r"SIGTERM \(old leader exited with status 0\)", out)
        assert m and m.group(1) != m.group(2), out
        assert re.search(r"Host: failover\.example\.com'.*\n\s+-> backend green-1 ", out), out

        # the curl lines reach the sample backends through HAProxy, plain and TLS with the Secret's cert
        curls = printed(out.split("reach a backend through HAProxy:")[1], "curl ")
        assert len(curls) == 3, out
        answers = [run_printed(c, tmp) for c in curls]
        assert re.match(r"backend blue-[12] \(127\.0\.0\.1:\d+\) got / host=shop\.example\.com proto=http\n",
                        answers[0]), answers
        assert answers[1].startswith("backend green-1 ") and " got /api/orders " in answers[1], answers
        assert answers[2].startswith("backend green-1 ") and answers[2].endswith("proto=https\n"), answers
        assert "-> backend blue-" in out.split(curls[0])[1].split("\n")[1], "the demo showed the answer itself"

        # who leads: the same in the summary, /debug/vars, /metrics and the Lease read with kubectl
        leader = re.search(r"^leader: (replica-\d)$", out, re.M).group(1)
        check_replicas(out, leader)
        kubectl = printed(out, "kubectl --kubeconfig ")
        assert len(kubectl) == 1 and " get lease haproxy-template-ic-leader " in kubectl[0], out
        rows = run_printed(kubectl[0], tmp).split()
        assert rows[:2] == ["HOLDER", "TRANSITIONS"] and rows[2] == leader and int(rows[3]) >= 1, rows

        # Ctrl-C: everything stops, nothing is left
        os.kill(demo.proc.pid, signal.SIGINT)
        assert demo.proc.wait(STOP_TIMEOUT_S) == 0
        out = demo.until(r"^stopped; work dir removed$", 10)
        assert not os.path.exists(work), "work dir left behind"
        assert os.listdir(demo.tmpdir) == [], os.listdir(demo.tmpdir)
        assert not demo.leftovers(), demo.leftovers()
        try:
            subprocess.run(shlex.split(curls[0]), capture_output=True, timeout=10, check=True)
            raise AssertionError("HAProxy still answers after the demo stopped")
        except subprocess.CalledProcessError:
            pass
    finally:
        demo.cleanup()


def test_demo_with_kubeconfig_seeds_nothing_and_routes_the_cluster(tmp):
    # a simulator the test owns and seeds stands in for a real cluster
    backend = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", tmp,
                                str(port := h.free_port())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(tmp, "index.html"), "w") as f:
        f.write("the cluster's own backend\n")
    with KubeSim(auto_namespaces=True) as sim:
        for path, obj in [
            ("/api/v1/namespaces/web/services", {"apiVersion": "v1", "kind": "Service",
                                                 "metadata": {"name": "site", "namespace": "web"},
                                                 "spec": {"ports": [{"name": "http", "port": 80}]}}),
            ("/apis/discovery.k8s.io/v1/namespaces/web/endpointslices", {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "site-1", "namespace": "web", "labels": {"kubernetes.io/service-name": "site"}},
                "addressType": "IPv4", "ports": [{"name": "http", "port": port}],
                "endpoints": [{"addresses": ["127.0.0.1"]}]}),
            ("/apis/networking.k8s.io/v1/namespaces/web/ingresses", {
                "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "site", "namespace": "web"},
                "spec": {"ingressClassName": "haproxy", "rules": [{"host": "site.example.org", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "site", "port": {"number": 80}}}}]}}]}})]:
            code, _, body = sim.request("POST", path, obj)
            assert code == 201, (code, body)
        demo = Demo(tmp, "--kubeconfig", sim.kubeconfig, "--namespace", "ops", "--no-failover", "--duration", "1")
        try:
            out = demo.until(r"^stopped; work dir removed$", READY_TIMEOUT_S)
            assert demo.proc.wait(STOP_TIMEOUT_S) == 0, out
            assert "nothing is seeded" in out and "API simulator" not in out, out
            assert re.search(r"Host: site\.example\.org' http://127\.0\.0\.1:\d+/\n\s+-> the cluster's own backend",
                             out), out
            # nothing but the Lease was written: no demo objects, the Lease in the namespace asked for
            code, _, objs = sim.request("GET", "/apis/networking.k8s.io/v1/ingresses")
            assert [o["metadata"]["name"] for o in objs["items"]] == ["site"], objs
            assert sim.request("GET", "/api/v1/namespaces/demo/services")[2].get("items", []) == []
            code, _, lease = sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/ops/leases/"
                                         "haproxy-template-ic-leader")
            assert code == 200, (code, lease)
            kubectl = printed(out, "kubectl --kubeconfig ")
            assert len(kubectl) == 1 and " -n ops " in kubectl[0], out
            assert run_printed(kubectl[0], tmp).startswith("HOLDER"), kubectl
            assert not demo.leftovers()
        finally:
            demo.cleanup()
            backend.terminate()
            backend.wait()


if __name__ == "__main__":
    h.run([test_demo_traffic_lines_failover_and_ctrl_c, test_demo_with_kubeconfig_seeds_nothing_and_routes_the_cluster])
