#!/usr/bin/env python3
"""The chaos soak: N replicas under leader election against the Kubernetes API simulator, pushing to two real
HAProxy targets (one local through its master socket, one behind the Data Plane API stand-in), while a
driver keeps changing Ingresses and EndpointSlices and an injector, from a seeded RNG, picks faults: signals
to supervisors and single children, the simulator hanging, refusing or slowing requests, error bursts,
dropped watches and 410s, clock offsets, the stand-in refusing reloads or failing requests, the local
master socket disappearing. Killed replicas are restarted. Then the faults and the driver stop, the soak
waits for convergence, starts a fresh replica to render the final state, stops everything and hands the
collected logs to checker.py. Exit 1 and the seed on any violation.

    tests/chaos/soak.py --seed 7 --duration 90 --replicas 3 --max-faults 60

Not for: timing claims (the machine is shared); the numbers it prints are what one run saw."""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("HTIC_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "kube-sim"))
sys.path.insert(0, os.path.join(ROOT, "tests", "dataplane-sim"))
sys.path.insert(0, HERE)
import checker  # noqa: E402
import dpsim  # noqa: E402
import harness as h  # noqa: E402
from kubesim import KubeSim  # noqa: E402
from test_pipeline_sim import debug_vars  # noqa: E402

# Election timings of every replica: short so that a soak of minutes sees many terms; renew_deadline leaves
# lease_duration - renew_deadline = 1.5 s between a fence and the earliest takeover.
LEASE_DURATION_S, RENEW_DEADLINE_S, RETRY_PERIOD_S = 4.0, 2.5, 1.0
# After the faults stop, the slowest path to the final state: an informer whose watch failed again and again
# waits its backoff (client-go's: 800 ms doubling to a 30 s cap, jitter 1.0, so up to 60 s; a 410 relists
# through the same backoff), then render, haproxy -c and a push that starts at once (a new LKG skips the
# deployer's retry backoff), with a failover (lease_duration + retry_period) possibly in between, plus 10 s
# for a loaded 2-core machine: 75 s is the bound the checker holds every target to.
CONVERGENCE_BOUND_S = 75.0
# Longest a fault stays applied: SIGSTOP of a child past the supervisor's 10 s hung-child check is wanted
# now and then; everything else is shorter (see FAULTS).
FAULT_MAX_S = 12.0
# The objects the driver churns: few enough that the config stays small, enough for add/remove/endpoint mixes.
DRIVER_INGRESSES = 6
SERVER_SLOTS = 4
NS = "shop"
NET = f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses"
EPS = f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices"
ROLES = ["elector", "deployer", "renderer", "reconciler", "validator", "executor", "discovery"]

PIPELINE = r"""watched_resources:
  ingresses:
    api_version: networking.k8s.io/v1
    resources: ingresses
    index_by: [metadata.namespace, metadata.name]
  endpointslices:
    api_version: discovery.k8s.io/v1
    resources: endpointslices
    index_by: [metadata.namespace, "metadata.labels.kubernetes\\.io/service-name"]
haproxy_config:
  template: |
    global
      maxconn 100
    defaults
      mode http
      timeout connect 1s
      timeout client 5s
      timeout server 5s
    frontend fe
      bind 127.0.0.1:@PORT@
    {% for ing in resources.ingresses.List() %}
      use_backend be_{{ haproxy_arg(ing.metadata.name) }} if { hdr(host) -i {{ haproxy_arg(ing.spec.rules[0].host) }} }
    {% endfor %}
    {% for ing in resources.ingresses.List() %}
    {% set eps = namespace(list=[]) %}
    {% for slice in resources.endpointslices.Fetch(ing.metadata.namespace, ing.metadata.name) %}{% for ep in slice.endpoints | default([]) %}{% set _ = eps.list.append(haproxy_arg(ep.addresses[0]) ~ ":" ~ slice.ports[0].port) %}{% endfor %}{% endfor %}
    {% set ready = eps.list | sort %}
    backend be_{{ haproxy_arg(ing.metadata.name) }}
    {% for i in range(@SLOTS@) %}
      server s{{ i + 1 }} {{ ready[i] if i < ready | length else "127.0.0.1:1 disabled" }}
    {% endfor %}
    {% endfor %}
"""

CHECKSUM_RE = re.compile(r"# haproxy-template-ic term=\S* generation=\d+ checksum=(sha256:[0-9a-f]+)")


def log(msg):
    print(f"# [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def file_checksum(path):
    """The generation a target's haproxy.cfg says it is (our header line), or None."""
    try:
        with open(path, errors="replace") as f:
            m = CHECKSUM_RE.search(f.read(4096))
    except OSError:
        return None
    return m.group(1) if m else None


def read_jsonl(path):
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass  # a line cut by a SIGKILL mid-write
    except FileNotFoundError:
        pass
    return out


def argv_of(pid):
    try:
        return [a.decode(errors="replace") for a in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0") if a]
    except OSError:
        return None


class Replica:
    """One supervisor (restarted whenever it exits while the soak runs) and what it was seen to run."""

    def __init__(self, soak, i, identity=None):
        self.soak, self.i = soak, i
        self.identity = identity or f"chaos-r{i}"
        self.dir = os.path.join(soak.dir, f"r{i}" if identity is None else identity)
        os.makedirs(self.dir, exist_ok=True)
        self.http_port = h.free_port()
        self.cfg = soak.write_config(self)
        self.proc = None
        self.starts = 0
        self.kids = {}            # role -> pid, last seen
        self.stopped = False      # by the injector (SIGSTOP) until its SIGCONT
        self.down_until = 0.0     # do not restart before this (a SIGTERM'd replica is left down a moment)
        self.noted = 0            # the start whose exit was recorded

    def start(self):
        self.starts += 1
        self.proc = h.Proc([h.HTIC_BIN, "run", "--config", self.cfg], self.dir, name=f"supervisor-{self.starts}")
        self.kids = {}

    def children(self):
        if self.proc is None:
            return {}
        c = self.proc.children()
        if c:
            self.kids = c
        return c

    def running(self):
        return self.proc is not None and self.proc.p.poll() is None


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.driver_rng = random.Random(args.seed * 7919 + 1)
        self.dir = tempfile.mkdtemp(prefix="chaos-", dir="/tmp")  # short: unix socket paths
        self.target = os.path.join(self.dir, "target")
        os.makedirs(self.target)
        self.master = os.path.join(self.dir, "master.sock")
        self.frontend_port = h.free_port()
        self.lock = threading.RLock()
        self.faults = []          # {t, kind, target, detail}
        self.undo = []            # [(due, label, fn)]
        self.offsets = []         # [(t0, t1, offset_ms)]
        self.left_behind = []
        self.events = []
        self.driver_writes = 0
        self.driver_failures = 0
        self.stop_faults = threading.Event()
        self.stop_driver = threading.Event()
        self.stop_all = threading.Event()
        self.sim_state = {}       # the simulator's fault slots the injector owns
        self.replicas = []
        self.haproxy = None
        self.sim = None
        self.dp = None

    # ---- setup ----
    def write_config(self, r):
        pw = os.path.join(self.dir, "dataplane-password")
        return h.write(os.path.join(r.dir, "config.yaml"), f"""controller:
  leader_election:
    enabled: true
    identity: {r.identity}
    lease_name: lease
    lease_namespace: ns
    lease_duration: {int(LEASE_DURATION_S * 1000)}ms
    renew_deadline: {int(RENEW_DEADLINE_S * 1000)}ms
    retry_period: {int(RETRY_PERIOD_S * 1000)}ms
  http:
    address: 127.0.0.1
    port: {r.http_port}
  run_dir: {r.dir}/run
  shutdown_timeout: 20s
  kubernetes:
    kubeconfig: {self.sim.kubeconfig}
haproxy:
  endpoints:
    - name: local
      master_socket: {self.master}
    - name: dp
      url: http://127.0.0.1:{self.dp.port}
  dataplane:
    username: {dpsim.USER}
    password_file: {pw}
  config_file: {self.target}/haproxy.cfg
  maps_dir: {self.target}/maps
  ssl_certs_dir: {self.target}/ssl
  general_dir: {self.target}/general
deploy:
  min_deployment_interval: 0s
  drift_prevention_interval: 10s
  deployment_timeout: 10s
""" + PIPELINE.replace("@PORT@", str(self.frontend_port)).replace("@SLOTS@", str(SERVER_SLOTS)))

    def start_targets(self):
        with open(os.path.join(self.dir, "dataplane-password"), "w") as f:
            f.write(dpsim.PASSWORD + "\n")
        os.chmod(os.path.join(self.dir, "dataplane-password"), 0o600)
        cfg = os.path.join(self.target, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(dpsim.bootstrap_config(h.free_port()))
        self.haproxy = subprocess.Popen(["haproxy", "-Ws", "-S", self.master, "-f", cfg],
                                        stdout=open(os.path.join(self.dir, "haproxy.log"), "wb"),
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True, cwd=self.dir)
        h.wait_for(lambda: os.path.exists(self.master), 10, what="the local haproxy's master socket")
        self.dp = dpsim.DataplaneSim(reload_delay_ms=50).start()

    # ---- the injector ----
    def pick_replica(self, running=True):
        rs = [r for r in self.replicas if (r.running() or not running) and not r.stopped]
        return self.rng.choice(rs) if rs else None

    def record(self, kind, target="", **detail):
        f = {"t": time.time(), "kind": kind, "target": target, **detail}
        self.faults.append(f)
        log(f"fault {len(self.faults)}: {kind} {target} {json.dumps(detail) if detail else ''}")

    def later(self, seconds, label, fn):
        self.undo.append((time.monotonic() + seconds, label, fn))

    def sim_faults(self, **kw):
        """One slot per kind in the simulator; the injector owns it until its undo runs."""
        try:
            self.sim.faults(**kw)
            return True
        except (RuntimeError, OSError) as e:
            log(f"simulator fault refused: {e}")
            return False

    def f_signal_supervisor(self, sig):
        r = self.pick_replica()
        if not r:
            return False
        if sig == signal.SIGSTOP:
            d = round(self.rng.uniform(0.5, 6.0), 2)
            r.stopped = True
            os.kill(r.proc.pid, signal.SIGSTOP)
            pid = r.proc.pid

            def cont():
                try:
                    os.kill(pid, signal.SIGCONT)
                except OSError:
                    pass
                r.stopped = False
            self.later(d, "SIGCONT", cont)
            self.record("supervisor_sigstop", r.identity, seconds=d)
            return True
        r.children()  # remember its children: they must not outlive it
        os.kill(r.proc.pid, sig)
        if sig == signal.SIGTERM:
            r.down_until = time.monotonic() + self.rng.uniform(0.0, 3.0)
        self.record("supervisor_" + signal.Signals(sig).name.lower(), r.identity)
        return True

    def f_signal_child(self, sig):
        r = self.pick_replica()
        if not r:
            return False
        kids = r.children()
        # the elector and the deployer are the ones that matter for safety: picked more often
        roles = [x for x in ROLES if x in kids] + [x for x in ("elector", "deployer") if x in kids]
        if not roles:
            return False
        role = self.rng.choice(roles)
        pid = kids[role]
        if not h.started_by(pid, r.proc.pid):
            return False
        if sig == signal.SIGSTOP:
            d = round(self.rng.uniform(0.5, FAULT_MAX_S), 2)
            os.kill(pid, signal.SIGSTOP)
            sup = r.proc.pid

            def cont():
                if h.started_by(pid, sup):  # not a recycled pid
                    try:
                        os.kill(pid, signal.SIGCONT)
                    except OSError:
                        pass
            self.later(d, "SIGCONT", cont)
            self.record("child_sigstop", f"{r.identity}/{role}", seconds=d)
        else:
            os.kill(pid, sig)
            self.record("child_" + signal.Signals(sig).name.lower(), f"{r.identity}/{role}")
        return True

    def f_sim_client(self, what):
        slot = "hang_client" if what == "hang" else "refuse_client"
        if self.sim_state.get(slot):
            return False
        r = self.pick_replica(running=False)
        if not r:
            return False
        d = round(self.rng.uniform(0.5, 6.0), 2)
        if not self.sim_faults(**{slot: f"({r.identity})"}):
            return False
        self.sim_state[slot] = True

        def undo():
            self.sim_faults(**{slot: ""})
            self.sim_state[slot] = False
        self.later(d, slot, undo)
        self.record("sim_" + what, r.identity, seconds=d)
        return True

    def f_sim_latency(self):
        if self.sim_state.get("latency"):
            return False
        ms = self.rng.choice([100, 300, 800, 1500])
        d = round(self.rng.uniform(1.0, 6.0), 2)
        if not self.sim_faults(latency_ms=ms):
            return False
        self.sim_state["latency"] = True

        def undo():
            self.sim_faults(latency_ms=0)
            self.sim_state["latency"] = False
        self.later(d, "latency", undo)
        self.record("sim_latency", "", ms=ms, seconds=d)
        return True

    def f_sim_errors(self):
        code = self.rng.choice([429, 500, 503, 504])
        n = self.rng.randint(1, 20)
        # our components only (their User-Agents start so): the driver's writes are the truth, not a subject
        body = {"count": n, "code": code, "client": "haproxy-template-ic"}
        if code == 429:
            body["retry_after"] = 1
        if self.rng.random() < 0.5:
            body["path"] = "/apis/coordination.k8s.io"
        if not self.sim_faults(errors=body):
            return False
        self.record("sim_errors", body.get("path", "*"), code=code, count=n)
        return True

    def f_drop_watches(self):
        try:
            self.sim.drop_watches(clean=self.rng.random() < 0.5)
        except (RuntimeError, OSError):
            return False
        self.record("sim_drop_watches")
        return True

    def f_compact(self):
        try:
            self.sim.compact()
            self.sim.drop_watches()
        except (RuntimeError, OSError):
            return False
        self.record("sim_compact_410")
        return True

    def f_clock(self):
        if self.sim_state.get("clock"):
            return False
        off = self.rng.choice([-1, 1]) * self.rng.randint(1, 90) * 1000
        d = round(self.rng.uniform(1.0, 8.0), 2)
        t0 = time.time()
        if not self.sim_faults(clock_offset_ms=off):
            return False
        self.sim_state["clock"] = True

        def undo():
            self.sim_faults(clock_offset_ms=0)
            self.offsets.append((t0, time.time(), off))
            self.sim_state["clock"] = False
        self.later(d, "clock", undo)
        self.record("sim_clock_offset", "", offset_ms=off, seconds=d)
        return True

    def f_dp(self, what):
        try:
            if what == "reload_refused":
                self.dp.faults(fail_reloads=self.rng.randint(1, 3))
            elif what == "errors":
                self.dp.faults(errors={"count": self.rng.randint(1, 6), "code": self.rng.choice([500, 502, 503])})
            else:
                self.dp.faults(drop={"count": self.rng.randint(1, 4)})
        except (AssertionError, OSError) as e:
            log(f"stand-in fault refused: {e}")
            return False
        self.record("dp_" + what)
        return True

    def f_socket_gone(self):
        if self.sim_state.get("socket"):
            return False
        hidden = self.master + ".gone"
        try:
            os.rename(self.master, hidden)
        except OSError:
            return False
        self.sim_state["socket"] = True
        d = round(self.rng.uniform(0.5, 5.0), 2)

        def undo():
            # a reload that was already connected when the socket went makes the new master bind a fresh
            # socket at the path: putting the stale one back over it would leave a socket nobody listens on
            # (every later push "connection refused": a lost change the fault made, not the controller)
            if os.path.exists(self.master):
                os.unlink(hidden)
            else:
                os.rename(hidden, self.master)
            self.sim_state["socket"] = False
        self.later(d, "socket", undo)
        self.record("local_socket_gone", "", seconds=d)
        return True

    def fault_table(self):
        """(weight, kind, action): signals most often, then the simulator's faults, then the targets'."""
        return [
            (4, lambda: self.f_signal_supervisor(signal.SIGKILL)),
            (2, lambda: self.f_signal_supervisor(signal.SIGTERM)),
            (2, lambda: self.f_signal_supervisor(signal.SIGSTOP)),
            (5, lambda: self.f_signal_child(signal.SIGKILL)),
            (2, lambda: self.f_signal_child(signal.SIGTERM)),
            (3, lambda: self.f_signal_child(signal.SIGSTOP)),
            (3, lambda: self.f_sim_client("hang")),
            (2, lambda: self.f_sim_client("refuse")),
            (2, self.f_sim_latency),
            (3, self.f_sim_errors),
            (2, self.f_drop_watches),
            (2, self.f_compact),
            (2, self.f_clock),
            (2, lambda: self.f_dp("reload_refused")),
            (1, lambda: self.f_dp("errors")),
            (1, lambda: self.f_dp("drop")),
            (2, self.f_socket_gone),
        ]

    def run_undos(self, force=False):
        now = time.monotonic()
        due = [u for u in self.undo if force or u[0] <= now]
        self.undo = [u for u in self.undo if u not in due]
        for _, label, fn in sorted(due, key=lambda u: u[0]):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - an undo must never stop the others
                log(f"undo {label} failed: {e}")

    def injector(self):
        table = self.fault_table()
        weights = [w for w, _ in table]
        deadline = time.monotonic() + self.args.duration
        next_at = time.monotonic() + self.args.warmup
        while not self.stop_all.is_set() and time.monotonic() < deadline and len(self.faults) < self.args.max_faults:
            with self.lock:
                self.run_undos()
                if time.monotonic() >= next_at:
                    _, fn = self.rng.choices(table, weights)[0]
                    try:
                        fn()
                    except OSError as e:  # the process went away between the pick and the signal
                        log(f"fault not applied: {e}")
                    next_at = time.monotonic() + self.rng.uniform(0.5, 1.5) * self.args.fault_interval
            time.sleep(0.05)
        with self.lock:
            self.run_undos(force=True)
            self.stop_faults.set()
            try:
                self.sim.reset_faults()
            except (RuntimeError, OSError) as e:
                log(f"reset of the simulator's faults failed: {e}")
            self.dp.reset_faults()
            for r in self.replicas:
                r.stopped = False

    # ---- the driver ----
    def driver(self):
        rng = self.driver_rng
        ports = {}
        while not self.stop_driver.is_set():
            k = rng.randrange(DRIVER_INGRESSES)
            name = f"app{k}"
            op = rng.random()
            try:
                if op < 0.45:
                    n = rng.randint(0, SERVER_SLOTS)
                    port = ports.setdefault(name, 8000 + k)
                    if rng.random() < 0.2:
                        port = ports[name] = rng.randint(8000, 8999)
                    eps = [{"addresses": [f"10.{k}.0.{a}"]} for a in rng.sample(range(1, 30), n)]
                    self.put(EPS, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                                   "metadata": {"name": name, "namespace": NS,
                                                "labels": {"kubernetes.io/service-name": name}},
                                   "addressType": "IPv4", "ports": [{"name": "http", "port": port}],
                                   "endpoints": eps})
                elif op < 0.85:
                    self.put(NET, {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                                   "metadata": {"name": name, "namespace": NS},
                                   "spec": {"rules": [{"host": f"{name}-{rng.randint(0, 3)}.example"}]}})
                else:
                    code, _, _ = self.sim.request("DELETE", f"{NET}/{name}")
                    self.count(code in (200, 404))
            except OSError:
                self.count(False)
            self.stop_driver.wait(rng.uniform(0.1, 0.6))

    def count(self, ok):
        if ok:
            self.driver_writes += 1
        else:
            self.driver_failures += 1

    def put(self, base, obj):
        """Create or replace (a read first for the resourceVersion)."""
        name = obj["metadata"]["name"]
        code, _, cur = self.sim.request("GET", f"{base}/{name}")
        if code == 200:
            obj["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            code, _, _ = self.sim.request("PUT", f"{base}/{name}", obj)
            self.count(code == 200)
        else:
            code, _, _ = self.sim.request("POST", base, obj)
            self.count(code == 201)

    # ---- the keeper: restarts replicas, watches for orphans ----
    def keeper(self):
        pending = []  # (due, supervisor pid, {role: pid}) to check for orphans
        while not self.stop_all.is_set():
            with self.lock:
                for r in self.replicas:
                    if r.proc is None:
                        continue
                    if r.running():
                        r.children()
                        continue
                    if r.noted != r.starts:
                        r.noted = r.starts
                        self.events.append({"t": time.time(), "replica": r.identity, "exit": r.proc.p.returncode})
                        log(f"{r.identity} supervisor exited with {r.proc.p.returncode}")
                        pending.append((time.monotonic() + 3.0, r.proc.pid, dict(r.kids)))
                    if time.monotonic() >= r.down_until:
                        r.proc.log.close()
                        r.start()
                now = time.monotonic()
                for item in [p for p in pending if p[0] <= now]:
                    pending.remove(item)
                    _, sup, kids = item
                    for role, pid in kids.items():
                        if h.alive(pid) and h.started_by(pid, sup):
                            self.left_behind.append({"pid": pid, "argv": argv_of(pid) or [],
                                                     "why": f"{role} of dead supervisor {sup}"})
            self.stop_all.wait(0.2)

    # ---- convergence ----
    def sources(self):
        """{source: checksum or None}: every replica's LKG, each target's header, the leader's view."""
        out = {}
        for r in self.replicas:
            v = debug_vars(r.http_port) or {}
            lkg = (v.get("pipeline") or {}).get("lkg") or {}
            out[f"{r.identity}.lkg"] = lkg.get("checksum")
            if (v.get("leader_election") or {}).get("is_leader"):
                for t in ((v.get("deploy") or {}).get("targets") or []):
                    out[f"leader.deploy.{t.get('name')}"] = t.get("checksum") if t.get("in_sync") else None
        out["target.local"] = file_checksum(os.path.join(self.target, "haproxy.cfg"))
        out["target.dataplane"] = file_checksum(self.dp.cfg_path)
        return out

    def converge(self, fresh_holder):
        samples = []
        deadline = time.monotonic() + CONVERGENCE_BOUND_S + 15
        stable = 0
        while time.monotonic() < deadline:
            s = self.sources()
            samples.append((time.time(), s))
            vals = set(s.values())
            fresh = fresh_holder.get("checksum")
            leader_seen = any(k.startswith("leader.deploy.") for k in s)
            stable = stable + 1 if fresh and leader_seen and vals == {fresh} else 0
            if stable >= 6:  # 3 s the same everywhere
                break
            time.sleep(0.5)
        return samples

    def fresh_render(self, holder):
        """A replica started after the final state is fixed: its LKG is a fresh render of that state."""
        r = Replica(self, 99, identity="chaos-fresh")
        r.start()
        self.fresh = r
        try:
            def lkg():
                v = debug_vars(r.http_port) or {}
                return ((v.get("pipeline") or {}).get("lkg") or {}).get("checksum")
            holder["checksum"] = h.wait_for(lkg, 60, 0.2, "the fresh replica's LKG")
        except AssertionError as e:
            log(str(e))

    # ---- whole run ----
    def stop_replica(self, r):
        if r.proc is None:
            return
        if r.running():
            r.children()
            try:
                os.kill(r.proc.pid, signal.SIGCONT)
                r.proc.p.send_signal(signal.SIGTERM)
                r.proc.p.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
        r.proc.stop()

    def scan_left_behind(self):
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            argv = argv_of(int(name))
            if argv and any(self.dir in a for a in argv) and h.alive(int(name)):
                self.left_behind.append({"pid": int(name), "argv": argv, "why": "alive after the soak stopped"})

    def run(self):
        a = self.args
        self.sim = KubeSim(auto_namespaces=True, history=a.history).start()
        threads = []
        try:
            self.start_targets()
            self.replicas = [Replica(self, i) for i in range(a.replicas)]
            t_start = time.time()
            for r in self.replicas:
                r.start()
            for fn in (self.keeper, self.driver, self.injector):
                t = threading.Thread(target=fn, daemon=True, name=fn.__name__)
                t.start()
                threads.append(t)
            log(f"soak dir {self.dir}, seed {a.seed}, {a.replicas} replicas, {a.duration}s, "
                f"at most {a.max_faults} faults")
            self.stop_faults.wait()
            self.stop_driver.set()
            threads[1].join()
            t_stop = time.time()
            log(f"faults stopped after {len(self.faults)}; driver wrote {self.driver_writes} "
                f"({self.driver_failures} failed); waiting for convergence")
            fresh = {}
            ft = threading.Thread(target=self.fresh_render, args=(fresh,), daemon=True)
            ft.start()
            samples = self.converge(fresh)
            ft.join()
            t_end = time.time()
            self.stop_all.set()
            for t in threads:
                t.join(timeout=30)
        finally:
            self.stop_all.set()
            self.stop_faults.set()
            self.stop_driver.set()
            # the fresh replica first: it must not take over as the others release the Lease
            for r in ([self.fresh] if getattr(self, "fresh", None) else []) + self.replicas:
                self.stop_replica(r)
            if self.haproxy is not None:
                try:
                    os.killpg(self.haproxy.pid, signal.SIGTERM)
                    self.haproxy.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    os.killpg(self.haproxy.pid, signal.SIGKILL)
                    self.haproxy.wait()
            sim_audit = self.sim.audit_entries()
            dp_audit = self.dp.audit_entries() if self.dp else []
            if self.dp:
                self.dp.stop()
            self.sim.stop()
        time.sleep(1.0)
        self.scan_left_behind()
        effects = checker.effects_from_dpsim_audit(dp_audit)
        for r in self.replicas + [self.fresh]:
            run = os.path.join(r.dir, "run")
            effects += checker.effects_from_deploy_audit(read_jsonl(os.path.join(run, "deploy-audit.jsonl")),
                                                         r.identity)
            effects += checker.effects_from_journal(read_jsonl(os.path.join(run, "deployer.journal")), r.identity)
        return {
            "params": {"seed": a.seed, "replicas": a.replicas, "lease_duration_s": LEASE_DURATION_S,
                       "renew_deadline_s": RENEW_DEADLINE_S, "retry_period_s": RETRY_PERIOD_S,
                       "convergence_bound_s": CONVERGENCE_BOUND_S, "lease_name": "lease"},
            "t_start": t_start, "t_stop": t_stop, "t_end": t_end,
            "sim_audit": sim_audit, "effects": effects, "offsets": self.offsets, "faults": self.faults,
            "samples": samples, "fresh": fresh.get("checksum"), "left_behind": self.left_behind,
            "events": self.events, "driver": {"writes": self.driver_writes, "failures": self.driver_failures},
        }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None, help="RNG seed (default: random, printed)")
    ap.add_argument("--duration", type=float, default=90.0, help="seconds of faults (at most)")
    ap.add_argument("--replicas", type=int, default=3, choices=range(3, 6))
    ap.add_argument("--max-faults", type=int, default=1000, help="faults to inject (at most)")
    ap.add_argument("--fault-interval", type=float, default=1.5, help="mean seconds between faults")
    ap.add_argument("--warmup", type=float, default=8.0, help="seconds before the first fault")
    ap.add_argument("--history", type=int, default=None, help="simulator watch history (small: more 410s)")
    ap.add_argument("--out", default=None, help="write run.json and summary.txt here")
    ap.add_argument("--keep", action="store_true", help="keep the soak dir (logs) even when it passes")
    a = ap.parse_args(argv)
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    soak = Soak(a)
    try:
        run = soak.run()
    except BaseException:
        print(f"# soak aborted; reproduce with --seed {a.seed}; logs in {soak.dir}", flush=True)
        raise
    violations, summary = checker.check(run)
    summary["driver_writes"] = run["driver"]["writes"]
    summary["supervisor_exits"] = len(run["events"])
    text = checker.format_summary(summary, violations)
    print(text, flush=True)
    with open(os.path.join(soak.dir, "run.json"), "w") as f:
        json.dump(run, f)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "run.json"), "w") as f:
            json.dump(run, f)
        with open(os.path.join(a.out, "summary.txt"), "w") as f:
            f.write(text + "\n" + json.dumps(summary) + "\n")
    if violations or a.keep:
        print(f"# logs kept in {soak.dir}", flush=True)
    else:
        shutil.rmtree(soak.dir, ignore_errors=True)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
