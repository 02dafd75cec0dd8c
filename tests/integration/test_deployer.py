"""The deployer role on its own against a REAL haproxy master-worker (`haproxy -Ws -S <tmp>/master.sock`) on
loopback ports this test picks, with small HTTP backends in this process: the deployer is started as
`--role deployer` on a socketpair this test holds (as the supervisor would), given `leadership` and `lkg`
frames, and generation dirs written by the manifest rule of PIPELINE.md / common/pipeline/rundir.h."""
import hashlib
import json
import os
import socket
import subprocess
import tempfile
import threading
import time

import harness
from backends import Backend  # noqa: F401 - test_deployer_dpapi.py imports it from here
from role_child import WAIT_S, RoleChild

HAPROXY = "/usr/sbin/haproxy"


def write_generation(run_dir, cfg, maps=None, certs=None, crt_lists=None):
    """Writes <run_dir>/gen/<hex>/ as rundir_write does; returns the checksum."""
    files = [("config", "haproxy.cfg", cfg.encode())] + [("map", n, c.encode()) for n, c in (maps or {}).items()]
    files += [("cert", n, c.encode()) for n, c in (certs or {}).items()]
    files += [("crt-list", n, c.encode()) for n, c in (crt_lists or {}).items()]
    files.sort(key=lambda f: (f[0].encode(), f[1].encode()))
    h = hashlib.sha256()
    entries = []
    for kind, name, data in files:
        hx = hashlib.sha256(data).hexdigest()
        h.update(kind.encode() + b"\0" + name.encode() + b"\0" + hx.encode() + b"\n")
        entries.append({"kind": kind, "name": name, "sha256": hx, "size": len(data)})
    checksum = "sha256:" + h.hexdigest()
    d = os.path.join(run_dir, "gen", h.hexdigest())
    sub = {"config": "", "map": "maps", "cert": "certs", "crt-list": "crt-lists"}
    for kind, name, data in files:
        os.makedirs(os.path.join(d, sub[kind]), exist_ok=True)
        with open(os.path.join(d, sub[kind], name), "wb") as f:
            f.write(data)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump({"checksum": checksum, "files": entries}, f)
    return checksum


def get(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        out = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
        head, _, body = out.partition(b"\r\n\r\n")
        return int(head.split()[1]), body.decode(errors="replace")
    finally:
        s.close()


def master(sock_path, cmd):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sock_path)
    s.sendall(cmd.encode() + b"\n")
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        out += c
    s.close()
    return out.decode()


def worker_pids(sock_path):
    out, workers = master(sock_path, "show proc"), []
    section = ""
    for line in out.splitlines():
        if line.startswith("#"):
            section = line
        elif section == "# workers" and line.split()[1:2] == ["worker"]:
            workers.append(int(line.split()[0]))
    return workers


def cfg_text(fe_port, servers, extra=""):
    lines = ["global", "    maxconn 100", "defaults", "    mode http", "    timeout client 5s",
             "    timeout server 5s", "    timeout connect 5s", "frontend fe", f"    bind 127.0.0.1:{fe_port}",
             "    default_backend be", "backend be"]
    lines += [f"    server SRV_{i + 1} {s}" for i, s in enumerate(servers)]
    return "\n".join(lines) + "\n" + extra


class Rig:
    """haproxy master-worker + the deployer on a socketpair, in tmp; everything stopped on exit."""

    def __init__(self, tmp, drift="60s", master_socket=None):
        self.tmp = tmp
        self.run_dir = os.path.join(tmp, "run")
        os.makedirs(self.run_dir, exist_ok=True)
        self.etc = os.path.join(tmp, "etc")
        os.makedirs(self.etc, exist_ok=True)
        self.cfg_path = os.path.join(self.etc, "haproxy.cfg")
        # a unix socket path is at most 107 bytes (haproxy: 97), the test's temp dir is longer
        self.sock_dir = tempfile.mkdtemp(prefix="htic-ms-", dir="/tmp")
        self.sock = master_socket or os.path.join(self.sock_dir, "m.sock")
        self.fe = harness.free_port()
        self.haproxy = None
        self.procs = []
        self.config = harness.write(os.path.join(tmp, "config.yaml"), f"""
controller:
  leader_election:
    enabled: false
  http:
    address: 127.0.0.1
    port: 0
  run_dir: {self.run_dir}
haproxy:
  endpoints:
    - name: local
      master_socket: {self.sock}
  config_file: {self.cfg_path}
  maps_dir: {self.etc}/maps
  ssl_certs_dir: {self.etc}/ssl
  general_dir: {self.etc}/general
deploy:
  min_deployment_interval: 0s
  drift_prevention_interval: {drift}
  deployment_timeout: 10s
haproxy_config:
  template: "global\\n"
""")
        self.child = None  # the deployer (role_child.RoleChild), from start_deployer on

    def start_haproxy(self):
        # a bootstrap config that is not ours: the first push replaces it
        harness.write(self.cfg_path, cfg_text(self.fe, ["127.0.0.1:1 disabled"]))
        self.haproxy = subprocess.Popen([HAPROXY, "-Ws", "-S", self.sock, "-f", self.cfg_path],
                                        stdout=open(os.path.join(self.tmp, "haproxy.log"), "wb"),
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.tmp)
        def up():
            try:
                return worker_pids(self.sock)
            except OSError:
                return []
        harness.wait_for(up, what="haproxy up")

    def start_deployer(self, fence_ms=None):
        """Starts the deployer (killing one started before: a new leader) and makes it leader."""
        if self.child:
            self.child.close()
        self.child = RoleChild("deployer", self.config, self.tmp)
        # what DpRig (test_deployer_dpapi.py) and the tests read of it; self.seen: every message it sent
        self.p, self.ch, self.log_path, self.seen = self.child.p, self.child.sock, self.child.log_path, self.child.all
        fence = -1 if fence_ms is None else int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000) + fence_ms
        boot_gap = int((time.clock_gettime(time.CLOCK_BOOTTIME) - time.clock_gettime(time.CLOCK_MONOTONIC)) * 1000)
        self.send({"type": "leadership", "term": "test#1", "fence_mono_ms": fence, "sleep_ms": boot_gap})

    def send(self, msg):
        self.child.send(msg)

    def lkg(self, generation, checksum):
        self.send({"type": "lkg", "generation": generation, "checksum": checksum,
                   "dir": os.path.join(self.run_dir, "gen", checksum[7:]), "at": "2025-01-01T00:00:00Z"})

    def recv(self, timeout=WAIT_S):
        return self.child.recv(timeout)

    def push_result(self, checksum):
        """The deploy_report entry of the push of checksum (waits for it)."""
        while True:
            m = self.recv()
            if m["type"] != "deploy_report":
                continue
            for t in m["targets"]:
                lp = t.get("last_push")
                if lp and lp["checksum"] == checksum:
                    return t

    def audit(self):
        path = os.path.join(self.run_dir, "deploy-audit.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def log(self):
        return self.child.text()

    def header_checksum(self):
        with open(self.cfg_path) as f:
            first = f.readline()
        return first.split("checksum=")[1].strip() if "checksum=" in first else ""

    def close(self):
        if self.child:
            self.child.close()
        if self.haproxy and self.haproxy.poll() is None:
            self.haproxy.kill()
            self.haproxy.wait()
        subprocess.run(["rm", "-rf", self.sock_dir])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def metric(msgs, name, want_labels):
    for m in reversed(msgs):
        if m["type"] != "metrics":
            continue
        for fam in m["metrics"]:
            if fam["name"] == name:
                for s in fam["series"]:
                    if all(lbl in s["labels"] for lbl in want_labels):
                        return s.get("value", s.get("count"))
    return 0


def test_deployer_push_serves_then_fast_lane_without_reload_then_refused_reload_rolls_back(tmp):
    a, b = Backend("backend-a"), Backend("backend-b")
    try:
        with Rig(tmp) as r:
            r.start_haproxy()
            r.start_deployer()
            g1 = write_generation(r.run_dir, cfg_text(r.fe, [f"127.0.0.1:{a.port}", "127.0.0.1:1 disabled"]))
            r.lkg(1, g1)
            t = r.push_result(g1)
            assert t["last_push"]["result"] == "ok" and t["last_push"]["lane"] == "reload", t
            assert t["in_sync"] is True and t["checksum"] == g1, t
            assert r.header_checksum() == g1
            with open(r.cfg_path) as f:
                assert f.readline().startswith("# haproxy-template-ic term=test#1 generation=1 checksum=" + g1)
            assert get(r.fe) == (200, "backend-a")

            # endpoint-only change on the slots: runtime API, same worker
            pids = worker_pids(r.sock)
            g2 = write_generation(r.run_dir, cfg_text(r.fe, [f"127.0.0.1:{b.port}", "127.0.0.1:1 disabled"]))
            r.lkg(2, g2)
            t = r.push_result(g2)
            assert t["last_push"]["result"] == "ok" and t["last_push"]["lane"] == "fast", t
            assert t["last_push"]["runtime_commands"] >= 1, t
            assert worker_pids(r.sock) == pids, "the fast lane reloaded"
            assert get(r.fe) == (200, "backend-b")
            assert r.header_checksum() == g2  # the files follow, so a later reload keeps the state
            while r.recv()["type"] != "metrics":  # sent right after the report
                pass
            assert metric(r.seen, "haproxy_ic_deploy_pushes_total", ["local", "fast", "ok"]) == 1
            assert metric(r.seen, "haproxy_ic_deploy_runtime_commands_total", ["local"]) >= 1

            # a reload HAProxy refuses (a bind on a port we hold): the previous generation keeps serving
            held = socket.socket()
            held.bind(("127.0.0.1", 0))
            held.listen(1)
            try:
                bad = cfg_text(r.fe, [f"127.0.0.1:{b.port}", "127.0.0.1:1 disabled"],
                               f"frontend taken\n    bind 127.0.0.1:{held.getsockname()[1]}\n    default_backend be\n")
                g3 = write_generation(r.run_dir, bad)
                r.lkg(3, g3)
                t = r.push_result(g3)
                assert t["last_push"]["result"] == "failed" and t["last_push"]["rolled_back"] is True, t
                assert "refused" in t["last_error"], t
                assert r.header_checksum() == g2, "files not rolled back"
                assert get(r.fe) == (200, "backend-b")
                acts = [(e["action"], e["result"]) for e in r.audit() if e["checksum"] == g3]
                assert ("reload", "refused") in acts and ("rollback", "ok") in acts, acts
                assert all(e["term"] == "test#1" for e in r.audit())
            finally:
                held.close()
    finally:
        a.close()
        b.close()


def test_deployer_new_leader_pushes_nothing_when_the_target_runs_the_lkg(tmp):
    a = Backend("backend-a")
    try:
        with Rig(tmp) as r:
            r.start_haproxy()
            r.start_deployer()
            g1 = write_generation(r.run_dir, cfg_text(r.fe, [f"127.0.0.1:{a.port}"]))
            r.lkg(1, g1)
            assert r.push_result(g1)["last_push"]["result"] == "ok"
            r.child.close()
            n = len(r.audit())
            r.start_deployer()
            r.lkg(1, g1)
            while True:  # the compare answers in a report with the target in sync and no push
                m = r.recv()
                if m["type"] == "deploy_report" and m["targets"][0]["in_sync"]:
                    assert m["targets"][0]["last_push"] is None, m
                    break
            assert len(r.audit()) == n, "a new leader pushed to a target already in sync"
    finally:
        a.close()


def test_deployer_repairs_drift_within_the_interval(tmp):
    a = Backend("backend-a")
    try:
        with Rig(tmp, drift="1s") as r:
            r.start_haproxy()
            r.start_deployer()
            g1 = write_generation(r.run_dir, cfg_text(r.fe, [f"127.0.0.1:{a.port}"]))
            r.lkg(1, g1)
            assert r.push_result(g1)["last_push"]["result"] == "ok"
            with open(r.cfg_path) as f:
                good = f.read()
            with open(r.cfg_path, "w") as f:  # behind the controller's back; the header still claims g1
                f.write(good.replace("maxconn 100", "maxconn 7"))
            harness.wait_for(lambda: open(r.cfg_path).read() == good, timeout=20, what="drift repaired")
            drift = [e for e in r.audit() if e["action"] == "drift"]
            assert drift and "-    maxconn 100" in drift[0]["detail"] and "+    maxconn 7" in drift[0]["detail"], drift
            assert "target drifted" in r.log()
            assert get(r.fe) == (200, "backend-a")
    finally:
        a.close()


class FakeMaster:
    """A master CLI that answers show proc but never counts a reload: the push waits for a confirmation
    that never comes, and the fence passes meanwhile."""

    def __init__(self, path):
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(16)
        self.commands = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        buf = b""
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    line = line.decode()
                    self.commands.append((time.clock_gettime(time.CLOCK_MONOTONIC), line))
                    if line == "prompt":
                        c.sendall(b"master> ")
                    elif line == "reload":
                        c.close()
                        return
                    elif line == "show proc":
                        c.sendall(b"#<PID> <type> <reloads>\n1 master 0 [failed: 0] 0d 2.6\n# workers\n"
                                  b"2 worker 0 0d 2.6\n\nmaster> ")
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.srv.close()


def test_deployer_fence_passing_mid_push_stops_before_the_next_write(tmp):
    sock = os.path.join(tmp, "fake-master.sock")
    fake = FakeMaster(sock)
    try:
        with Rig(tmp, master_socket=sock) as r:
            # the target runs g0 (ours, so there is something to roll back to); g1 needs a reload
            g0_cfg = cfg_text(r.fe, ["127.0.0.1:1"])
            g0 = write_generation(r.run_dir, g0_cfg)
            harness.write(r.cfg_path, f"# haproxy-template-ic term=old#1 generation=0 checksum={g0}\n" + g0_cfg)
            g1 = write_generation(r.run_dir, g0_cfg.replace("maxconn 100", "maxconn 200"))
            # never renewed: the fence passes while the push waits for show proc to count the reload
            r.start_deployer(fence_ms=1500)
            r.lkg(1, g1)
            status = r.p.wait(timeout=30)  # it exits by itself past the fence (DEPLOYER_EXIT_FENCED)
            assert status == 3, (status, r.log())
            fence_at = max(t for t, c in fake.commands if c == "reload")
            assert r.header_checksum() == g1  # written before the fence ...
            acts = [(e["action"], e["result"]) for e in r.audit()]
            # ... and the rollback that would have come next was refused by the fence: no write after it
            assert ("reload", "sent") in acts and ("rollback", "failed") in acts, acts
            rb = [e for e in r.audit() if e["action"] == "rollback"][0]
            assert "fence" in rb["detail"], rb
            late = [c for t, c in fake.commands if t > fence_at and c not in ("prompt", "show proc")]
            assert late == [], late
    finally:
        fake.close()


def test_deployer_report_reaches_debug_vars_deploy(tmp):
    """Through the real supervisor: the deployer's deploy_report is routed and shown as /debug/vars "deploy"."""
    import urllib.request
    port = harness.free_port()
    path = harness.config(tmp, http_port=port)  # production paths under tmp
    with harness.Proc([harness.HTIC_BIN, "run", "--config", path], tmp, name="supervisor") as p:
        harness.wait_for(lambda: "serving HTTP" in p.text(), what="HTTP server")

        def targets():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/vars", timeout=5) as r:
                return json.loads(r.read())["deploy"]["targets"]
        ts = harness.wait_for(targets, what="deploy targets in /debug/vars")
        assert ts[0]["name"] == "local" and ts[0]["in_sync"] is False and ts[0]["last_push"] is None, ts


if __name__ == "__main__":
    harness.run([
        test_deployer_push_serves_then_fast_lane_without_reload_then_refused_reload_rolls_back,
        test_deployer_new_leader_pushes_nothing_when_the_target_runs_the_lkg,
        test_deployer_repairs_drift_within_the_interval,
        test_deployer_fence_passing_mid_push_stops_before_the_next_write,
        test_deployer_report_reaches_debug_vars_deploy,
    ])
