#!/usr/bin/env python3
"""Issue 10's three-replica test: three supervisors under election against the API simulator, sharing two
real HAProxy targets: a local master-worker (master socket) and the Data Plane API stand-in
(tests/dataplane-sim). Proves from the target-side audits (each deployer's deploy-audit.jsonl and the
stand-in's own audit) against the simulator's Lease write log: every audited write carries the term of the
replica that led at that moment and no two terms overlap; after a graceful handoff the new leader compares
first and pushes nothing when the targets already run its checksum; a target changed behind the
controller's back, or an Ingress changed during the handoff, is pushed by the new leader promptly.
Not for: the elector's own timing (test_election_sim.py), a single deployer's lanes (test_deployer.py).
FailoverRig is also the benchmark's (tests/bench/bench_failover_push.py)."""
import contextlib
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "dataplane-sim"))
sys.path.insert(0, os.path.join(HERE, "..", "kube-sim"))
import dpsim  # noqa: E402
import harness as h  # noqa: E402
from kubesim import KubeSim  # noqa: E402
from test_election_sim import lease_writes  # noqa: E402
from test_pipeline_sim import PIPELINE, ingress  # noqa: E402

HAPROXY = "/usr/sbin/haproxy"
INGRESSES = "/apis/networking.k8s.io/v1/namespaces/shop/ingresses"
TIMING = "    lease_duration: 4s\n    renew_deadline: 2500ms\n    retry_period: 1s\n"
# Long enough that no drift repair happens during a test: what repairs a target here is the new leader's
# first compare, not the periodic one.
DRIFT = "10m"
# What the deployers write to a target (the audit's actions); a compare writes nothing.
WRITES = ("push", "reload", "runtime", "rollback")
# Pushes and reloads on a shared 2-core machine: generous, never asserted as a time.
WAIT_S = 60


def parse_time(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def http_json(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return json.loads(r.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None


class FailoverRig:
    """The simulator, a local HAProxy, the Data Plane API stand-in and n replicas (identities replica-I),
    all stopped by close() even when a test fails."""

    def __init__(self, tmp, n=3, dataplane=True):
        self.tmp, self.n = tmp, n
        self.stack = contextlib.ExitStack()
        self.procs, self.ports = [None] * n, [h.free_port() for _ in range(n)]
        self.haproxy = None
        self.starts = 0
        try:
            self._start(dataplane)
        except BaseException:
            self.close()
            raise

    def _start(self, dataplane):
        self.sim = self.stack.enter_context(KubeSim(auto_namespaces=True))
        self.fe = h.free_port()
        # HAProxy binds with SO_REUSEPORT, so the two targets can run the one rendered config (same port)
        self.dp = self.stack.enter_context(dpsim.DataplaneSim(config=dpsim.bootstrap_config(self.fe))) \
            if dataplane else None
        # a unix socket path is at most 97 bytes for haproxy; the test's temp dir is longer
        self.sock_dir = tempfile.mkdtemp(prefix="htic-fo-", dir="/tmp")
        self.stack.callback(shutil.rmtree, self.sock_dir, True)
        self.master = os.path.join(self.sock_dir, "master.sock")
        self.target = os.path.join(self.tmp, "target")
        os.makedirs(self.target)
        self.cfg_path = os.path.join(self.target, "haproxy.cfg")
        h.write(self.cfg_path, dpsim.bootstrap_config(self.fe))
        self.haproxy = subprocess.Popen([HAPROXY, "-Ws", "-S", self.master, "-f", self.cfg_path],
                                        stdout=open(os.path.join(self.tmp, "haproxy.log"), "wb"),
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True, cwd=self.tmp)
        h.wait_for(lambda: os.path.exists(self.master), what="the local haproxy's master socket")
        self.password = os.path.join(self.tmp, "dataplane-password")
        h.write(self.password, dpsim.PASSWORD + "\n")
        os.chmod(self.password, 0o600)
        for i in range(self.n):
            self.start(i)

    def config(self, i):
        d = os.path.join(self.tmp, f"r{i}")
        os.makedirs(d, exist_ok=True)
        dp = (f"    - name: dp\n      url: http://127.0.0.1:{self.dp.port}\n" if self.dp else "")
        return h.write(os.path.join(d, "config.yaml"), f"""
controller:
  leader_election:
    enabled: true
    lease_name: lease
    lease_namespace: ns
    identity: replica-{i}
{TIMING}  http:
    address: 127.0.0.1
    port: {self.ports[i]}
  run_dir: {d}/run
  shutdown_timeout: 20s
  kubernetes:
    kubeconfig: {self.sim.kubeconfig}
haproxy:
  endpoints:
    - name: local
      master_socket: {self.master}
{dp}  dataplane:
    username: {dpsim.USER}
    password_file: {self.password}
  config_file: {self.cfg_path}
  maps_dir: {self.target}/maps
  ssl_certs_dir: {self.target}/ssl
  general_dir: {self.target}/general
deploy:
  min_deployment_interval: 0s
  drift_prevention_interval: {DRIFT}
  deployment_timeout: 20s
{PIPELINE.format(port=self.fe)}""")

    def start(self, i):
        self.starts += 1  # each start its own log file
        p = h.Proc([h.HTIC_BIN, "run", "--config", self.config(i)], self.tmp, name=f"replica-{i}-{self.starts}")
        self.procs[i] = p
        self.stack.callback(p.stop)
        return p

    def sigterm(self, i):
        """The orderly handoff: SIGTERM to the supervisor, which stops its deployer, then releases."""
        os.kill(self.procs[i].pid, signal.SIGTERM)
        assert self.procs[i].wait(timeout=30) == 0, self.procs[i].text()[-3000:]

    def restart(self, i):
        """A stopped replica comes back (a fresh process that never led)."""
        self.procs[i].stop()
        self.start(i)

    def close(self):
        try:
            self.stack.close()
        finally:
            if self.haproxy is not None and self.haproxy.poll() is None:
                try:
                    os.killpg(self.haproxy.pid, signal.SIGTERM)
                    self.haproxy.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    os.killpg(self.haproxy.pid, signal.SIGKILL)
                    self.haproxy.wait()

    # ---- what the replicas say ----
    def holder(self):
        st, _, body = self.sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lease")
        return (body.get("spec") or {}).get("holderIdentity") if st == 200 else None

    def leader(self, other_than=None):
        """Index of the replica the Lease names, once its deployer is the only one (and it is not other_than)."""
        def ready():
            hid = self.holder() or ""
            i = int(hid.split("-")[1]) if hid.startswith("replica-") else None
            return (i,) if i is not None and i != other_than and list(h.deployers(self.procs)) == [i] else None
        return h.wait_for(ready, timeout=WAIT_S, what="a leader with its deployer")[0]

    def lkg(self, i):
        v = http_json(self.ports[i], "/debug/vars")
        p = (v or {}).get("pipeline") or {}
        return (p.get("lkg") or {}).get("checksum")

    def same_lkg(self, want=None):
        """The checksum every live replica has as its LKG (satisfying want(config text)), or None."""
        live = [i for i, p in enumerate(self.procs) if p.p.poll() is None]
        sums = {self.lkg(i) for i in live}
        if len(sums) != 1 or None in sums:
            return None
        c = sums.pop()
        return c if want is None or want(self.lkg_text(live[0], c)) else None

    def lkg_text(self, i, checksum):
        return h.open_text(os.path.join(self.tmp, f"r{i}", "run", "gen", checksum.split(":", 1)[1], "haproxy.cfg"))

    def targets(self, i):
        v = http_json(self.ports[i], "/debug/vars")
        return ((v or {}).get("deploy") or {}).get("targets") or []

    def all_in_sync(self, i, checksum):
        """The deploy targets of replica i, once every one runs checksum."""
        ts = self.targets(i)
        want = 2 if self.dp else 1
        ok = len(ts) == want and all(t.get("in_sync") and t.get("checksum") == checksum for t in ts)
        return ts if ok else None

    # ---- what the targets saw ----
    def local_audit(self):
        """Every replica's deploy-audit.jsonl, each line with its replica index ("replica") and wall time
        in seconds ("t"), in time order."""
        out = []
        for i in range(self.n):
            path = os.path.join(self.tmp, f"r{i}", "run", "deploy-audit.jsonl")
            for e in h.read_journal(path):
                e["replica"], e["t"] = i, e["time_ms"] / 1000.0
                out.append(e)
        return sorted(out, key=lambda e: e["mono_ms"])

    def dp_audit(self):
        """The stand-in's write log with wall time "t"; the test's own writes (no term) are left out."""
        if not self.dp:
            return []
        return [dict(e, t=parse_time(e["time"])) for e in self.dp.audit_entries() if e.get("term")]

    def terms(self):
        """{term: (start, end)} from the simulator's Lease write log: a term (holder#leaseTransitions) starts
        with the write that first names it and ends with the first later write naming another term or none
        (a release); the current term ends at infinity."""
        spans, order = {}, []
        for t, hid, tr in lease_writes(self.sim):
            term = f"{hid}#{tr}" if hid else ""
            if order and order[-1] != term and order[-1]:
                spans[order[-1]] = (spans[order[-1]][0], t)
            if term and term not in spans:
                spans[term] = (t, float("inf"))
            order.append(term)
        return spans

    def writes_of(self, term):
        return [e for e in self.local_audit() + self.dp_audit()
                if e["term"] == term and (e.get("action") in WRITES or "endpoint" in e)]

    def check_audits(self):
        """Every audited write carries the term of the replica leading when it happened; terms one at a time."""
        spans = self.terms()
        local = self.local_audit()
        for e in local:
            assert e["term"].startswith(f"replica-{e['replica']}#"), f"replica {e['replica']} wrote another's term: {e}"
        for e in local + self.dp_audit():
            assert e["term"] in spans, f"a write under a term that never held the Lease: {e}"
            lo, hi = spans[e["term"]]
            assert lo <= e["t"] <= hi, f"a write of {e['term']} outside its term [{lo:.3f}, {hi:.3f}]: {e}"
        h.assert_one_term_at_a_time(local)
        return spans


def term_of(rig, i):
    """The term replica i leads under now (the Lease's current record)."""
    st, _, body = rig.sim.request("GET", "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lease")
    spec = body["spec"]
    assert spec["holderIdentity"] == f"replica-{i}", spec
    return f"replica-{i}#{spec['leaseTransitions']}"


def converged(rig, leader, want=None):
    """Waits for one LKG on every replica (config text satisfying want) running on every target of the
    leader; returns the checksum."""
    return h.wait_for(lambda: (lambda c: c if c and rig.all_in_sync(leader, c) else None)(rig.same_lkg(want)),
                      timeout=WAIT_S, interval=0.1, what="every target running the replicas' LKG")


def add_ingress(rig, name):
    code, _, body = rig.sim.request("POST", INGRESSES, ingress(name, f"{name}.example"))
    assert code == 201, (code, body)


def test_only_the_leader_pushes_and_a_new_leader_pushes_only_what_differs(tmp):
    rig = FailoverRig(tmp)
    try:
        add_ingress(rig, "web")
        first = rig.leader()
        c1 = converged(rig, first, lambda cfg: "be_shop_web" in cfg)
        t1 = term_of(rig, first)
        assert rig.writes_of(t1), "the first leader pushed nothing to the bootstrap targets"
        assert len({e["replica"] for e in rig.local_audit()}) == 1, "a follower wrote to a target"

        # 1. graceful handoff, targets already on the new leader's checksum: it compares and pushes nothing
        rig.sigterm(first)
        second = rig.leader(other_than=first)
        t2 = term_of(rig, second)
        ts = h.wait_for(lambda: rig.all_in_sync(second, c1), timeout=WAIT_S, interval=0.05,
                        what="the new leader's targets compared in sync")
        assert all(t.get("last_push") is None for t in ts), f"the new leader pushed: {ts}"
        time.sleep(1.0)  # anything it would push has started by now
        assert not rig.writes_of(t2), f"the new leader pushed what the targets already ran: {rig.writes_of(t2)}"
        rig.restart(first)

        # 2. a target changed behind the controller's back before the handoff: the new leader repairs it
        with open(rig.cfg_path, "a") as f:
            f.write("# edited by hand\n")
        raw = rig.dp.request("GET", dpsim.B + "/configuration/raw")[2].decode()
        # without our header line, so the stand-in's audit does not put this write on the leader's term
        rig.dp.push("".join(line for line in raw.splitlines(True) if "haproxy-template-ic" not in line)
                    + "# edited by hand\n")
        rig.sigterm(second)
        third = rig.leader(other_than=second)
        t3 = term_of(rig, third)
        h.wait_for(lambda: rig.all_in_sync(third, c1) and {e["target"] for e in rig.local_audit()
                                                              if e["term"] == t3 and e["action"] == "push"
                                                              and e["result"] == "ok"} == {"local", "dp"},
                   timeout=WAIT_S, interval=0.05, what="the new leader repairing both targets")
        assert "# edited by hand" not in h.open_text(rig.cfg_path)
        assert [e for e in rig.dp_audit() if e["term"] == t3], "no write of the new term reached the stand-in"
        rig.restart(second)

        # 3. an Ingress changed during the handoff (after the old deployer stopped): the new leader pushes it
        rig.sigterm(third)
        add_ingress(rig, "api")
        fourth = rig.leader(other_than=third)
        t4 = term_of(rig, fourth)
        c4 = converged(rig, fourth, lambda cfg: "be_shop_api" in cfg)
        assert c4 != c1
        pushed = {e["target"] for e in rig.local_audit() if e["term"] == t4 and e["checksum"] == c4
                  and e["action"] == "push" and e["result"] == "ok"}
        assert pushed == {"local", "dp"}, pushed
        assert not [e for e in rig.local_audit() if e["checksum"] == c4 and e["term"] != t4], \
            "an older term pushed the Ingress added after its deployer stopped"
        assert "be_shop_api" in h.open_text(rig.cfg_path)
        rig.restart(third)
        time.sleep(0.5)
        spans = rig.check_audits()
        for term in (t3, t4):  # printed, never asserted: the benchmark measures it (bench_failover_push.py)
            first_write = min(e["t"] for e in rig.writes_of(term))
            print(f"# {term}: became leader to first write {1000 * (first_write - spans[term][0]):.0f} ms")
    finally:
        rig.close()


if __name__ == "__main__":
    h.run([test_only_the_leader_pushes_and_a_new_leader_pushes_only_what_differs])
