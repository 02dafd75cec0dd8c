"""Helpers for integration tests that run the real binary: temp dirs, free ports, process trees, TAP output.

Every test module calls tap.run(tests) with a list of functions; each function gets a fresh temp dir and
must stop what it started (use Proc as a context manager). Output is TAP so meson counts each test."""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

HTIC_BIN = os.environ.get("HTIC_BIN") or os.path.join(
    os.environ.get("HTIC_BUILD_ROOT", "build"), "haproxy-template-ic")
SOURCE_ROOT = os.environ.get("HTIC_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
ROLES = ["elector", "discovery", "reconciler", "renderer", "validator", "executor", "deployer"]


def ipc_frame(msg):
    """One IPC frame as the children expect it (docs/ipc.md): a 4-byte big-endian length, then a compact JSON
    body that starts with {"type":"..."."""
    body = json.dumps({"type": msg["type"], **{k: v for k, v in msg.items() if k != "type"}},
                      separators=(",", ":")).encode()
    return struct.pack(">I", len(body)) + body


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path; (0, "") while nothing listens yet."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def children_of(pid):
    """Direct children of pid: {role or comm: pid}."""
    out = {}
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return out
    for k in kids:
        try:
            argv = open(f"/proc/{k}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in argv]
        role = argv[argv.index("--role") + 1] if "--role" in argv else argv[0]
        out[role] = int(k)
    return out


def started_by(pid, parent):
    """True if pid is a live child process whose command line says --parent PARENT."""
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return False
    return any(a == b"--parent" and b == str(parent).encode() for a, b in zip(argv, argv[1:]))


def vm_kib(pid, field):
    """A memory figure of /proc/PID/status in KiB (VmRSS, VmHWM: the peak)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


class Proc:
    """A process started by a test, with its stderr in a file; killed (whole tree) on exit."""

    def __init__(self, argv, tmpdir, env=None, name="proc"):
        self.log_path = os.path.join(tmpdir, f"{name}.log")
        self.log = open(self.log_path, "wb")
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=e,
                                  stdin=subprocess.DEVNULL)
        self.pid = self.p.pid
        self.known_children = set()

    def children(self):
        c = children_of(self.pid)
        self.known_children.update(c.values())
        return c

    def text(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait(self, timeout):
        return self.p.wait(timeout=timeout)

    def stop(self):
        self.children()
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        for k in self.known_children:
            # a child seen earlier may have exited long ago and its pid gone to an unrelated process: kill
            # only a process that still names us as its parent (the supervisor writes --parent PID)
            if not started_by(k, self.pid):
                continue
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def default_pipeline():
    """The haproxy_config a replica renders when a test names none: the smallest one `haproxy -c` accepts (it
    wants a listener; `-c` never binds it, the port is still one nobody uses), so the first render becomes a
    last-known-good and the replica turns ready (/readyz, READY=1). Text appended through config's extra lands
    inside this template."""
    return f"""haproxy_config:
  template: |
    global
      maxconn 100
    defaults
      timeout connect 5s
      timeout client 30s
      timeout server 30s
    frontend default
      bind 127.0.0.1:{free_port()}
"""


def config(tmp, election=False, http_port=None, extra="", leader_election_extra="", kubeconfig=None,
           pipeline=None):
    """Writes a valid controller config into tmp and returns its path. pipeline: YAML replacing the default
    haproxy_config (watched_resources, templates...)."""
    port = http_port if http_port is not None else free_port()
    return write(os.path.join(tmp, "config.yaml"), f"""
controller:
  leader_election:
    enabled: {"true" if election else "false"}
{leader_election_extra}
  http:
    address: 127.0.0.1
    port: {port}
  run_dir: {tmp}/run
  shutdown_timeout: 20s
{f"  kubernetes:{chr(10)}    kubeconfig: {kubeconfig}" if kubeconfig else ""}
haproxy:
  endpoints:
    - name: local
      master_socket: {tmp}/haproxy-master.sock
  # the deployer writes here once it has an LKG: never the machine's /etc/haproxy
  config_file: {tmp}/etc/haproxy.cfg
  maps_dir: {tmp}/etc/maps
  ssl_certs_dir: {tmp}/etc/ssl
  general_dir: {tmp}/etc/general
{pipeline if pipeline is not None else default_pipeline()}{extra}""")


def read_journal(path):
    """The deployer's side-effect journal: a list of dicts (mono_ms, wall_ms, pid, term, action)."""
    import json
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def assert_one_term_at_a_time(entries, slack_ms=0):
    """Merged journals of several replicas: the spans [first, last action] of different terms must not
    overlap. Returns the terms in order."""
    spans = {}
    for e in entries:
        key = (e["term"], e["pid"])
        lo, hi = spans.get(key, (e["mono_ms"], e["mono_ms"]))
        spans[key] = (min(lo, e["mono_ms"]), max(hi, e["mono_ms"]))
    ordered = sorted(spans.items(), key=lambda kv: kv[1][0])
    for (a, (alo, ahi)), (b, (blo, bhi)) in zip(ordered, ordered[1:]):
        assert ahi < blo + slack_ms, f"terms overlap: {a} [{alo},{ahi}] and {b} [{blo},{bhi}]"
    return [k for k, _ in ordered]


def one_term_at_a_time(tmp, n):
    """The deployers' side-effect journals of replicas r0..r{n-1} under tmp (CLOCK_MONOTONIC ms, shared by
    every process here) show one term at a time across all replicas; returns the merged entries."""
    entries = []
    for i in range(n):
        entries += read_journal(os.path.join(tmp, f"r{i}", "run", "deployer.journal"))
    assert_one_term_at_a_time(entries)
    return entries


def deployers(procs):
    """{replica index: deployer pid} for every replica (a Proc running the supervisor) that runs a deployer."""
    out = {}
    for i, p in enumerate(procs):
        pid = p.children().get("deployer")
        if pid and alive(pid):
            out[i] = pid
    return out


def open_text(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def run(tests):
    """Runs test functions, printing TAP. Each gets a fresh temp dir (removed when it passes)."""
    print(f"1..{len(tests)}", flush=True)
    failed = 0
    for i, t in enumerate(tests, 1):
        tmp = tempfile.mkdtemp(prefix=f"htic-{t.__name__}-")
        t0 = time.monotonic()
        try:
            t(tmp)
            print(f"ok {i} - {t.__name__} ({time.monotonic() - t0:.2f}s)", flush=True)
            subprocess.run(["rm", "-rf", tmp])
        except BaseException as e:  # noqa: BLE001 - report everything as a failure
            failed += 1
            print(f"not ok {i} - {t.__name__}", flush=True)
            for line in traceback.format_exception(type(e), e, e.__traceback__):
                for sub in line.rstrip().splitlines():
                    print(f"# {sub}", flush=True)
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".log"):
                    print(f"# --- {name} (last lines)")
                    with open(os.path.join(tmp, name), errors="replace") as f:
                        for line in f.read().splitlines()[-25:]:
                            print(f"# {line}")
    sys.exit(1 if failed else 0)


def source_matches(pattern):
    """Every first group of the regular expression pattern in the C sources of the binary (supervisor/,
    elector/, workers/, common/): what the code names, e.g. the metrics it exports or the env it reads."""
    import re
    found = set()
    for top in ("supervisor", "elector", "workers", "common"):
        for root, _, files in os.walk(os.path.join(SOURCE_ROOT, top)):
            for fn in files:
                if fn.endswith(".c"):
                    with open(os.path.join(root, fn), errors="replace") as f:
                        found.update(re.findall(pattern, f.read()))
    return found
