"""Test helper for kube-sim, the kube-apiserver simulator: start it on port 0 in a private temp dir, get its
URL and a kubeconfig, drive its control endpoint (faults, tokens, deny rules, watches, compaction), make raw
API requests, read its audit log, and stop it. Also a tiny TAP reporter. Run with /usr/bin/python3.

    with KubeSim(tls=True, tokens=["t1:alice"]) as sim:
        sim.kubeconfig, sim.url, sim.request("GET", "/api/v1/namespaces")
        sim.faults(errors={"count": 2, "code": 429, "retry_after": 1})
"""
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10


def sim_binary():
    """Path of the kube-sim binary: $KUBE_SIM_BIN, else the meson build tree."""
    if os.environ.get("KUBE_SIM_BIN"):
        return os.environ["KUBE_SIM_BIN"]
    root = os.environ.get("HTIC_BUILD_ROOT") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
    return os.path.join(root, "tests", "kube-sim", "kube-sim")


class KubeSim:
    def __init__(self, tls=False, tokens=None, token_file_lines=None, seed=None, seed_text=None,
                 history=None, auto_namespaces=False, bookmark_ms=None, extra_args=(), log_level="warn"):
        self.tls = tls
        self.tokens = list(tokens or [])
        self.token_file_lines = token_file_lines
        self.seed = seed
        self.seed_text = seed_text
        self.history = history
        self.auto_namespaces = auto_namespaces
        self.bookmark_ms = bookmark_ms
        self.extra_args = list(extra_args)
        self.log_level = log_level
        self.proc = None
        self.dir = None
        self.info = {}

    # ---- life cycle ----
    def start(self):
        self.dir = tempfile.mkdtemp(prefix="kube-sim-")
        self.port_file = os.path.join(self.dir, "port.json")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.audit_path = os.path.join(self.dir, "audit.log")
        self.log_path = os.path.join(self.dir, "kube-sim.log")
        cmd = [sim_binary(), "--port", "0", "--control-port", "0", "--port-file", self.port_file,
               "--kubeconfig", self.kubeconfig, "--audit-log", self.audit_path, "--log-level", self.log_level]
        if self.tls:
            cmd += ["--tls-dir", self.dir]
        for t in self.tokens:
            cmd += ["--token", t]
        if self.token_file_lines is not None:
            tf = os.path.join(self.dir, "tokens.csv")
            with open(tf, "w") as f:
                f.write("\n".join(self.token_file_lines) + "\n")
            cmd += ["--token-file", tf]
        if self.seed_text is not None:
            self.seed = os.path.join(self.dir, "seed.yaml")
            with open(self.seed, "w") as f:
                f.write(self.seed_text)
        if self.seed:
            cmd += ["--seed", self.seed]
        if self.history:
            cmd += ["--history", str(self.history)]
        if self.auto_namespaces:
            cmd += ["--auto-create-namespaces"]
        if self.bookmark_ms:
            cmd += ["--bookmark-interval", str(self.bookmark_ms)]
        cmd += self.extra_args
        self.log = open(self.log_path, "w")
        if not os.access(cmd[0], os.X_OK):
            self.stop()
            raise RuntimeError("kube-sim binary not found at %s (build first, or set KUBE_SIM_BIN)" % cmd[0])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.flush()
                msg = "kube-sim exited with %s: %s" % (self.proc.returncode, self.read_log())
                self.stop()
                raise RuntimeError(msg)
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    self.info = json.load(f)
                break
            time.sleep(0.02)
        else:
            self.stop()
            raise RuntimeError("kube-sim did not announce its port within %ss" % START_TIMEOUT_S)
        self.url = self.info["url"]
        self.port = self.info["port"]
        self.control_url = self.info["control_url"]
        self.ca_file = self.info.get("ca_file") or None
        # https with generated certificates: a client certificate (CN cert-user, O system:masters) signed by
        # the same CA authenticates without a token
        self.client_cert = self.info.get("client_cert") or None
        self.client_key = self.info.get("client_key") or None
        return self

    def read_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def write_kubeconfig(self, path, token=None, client_cert=False, ca_data=False):
        """Writes a kubeconfig variant: another token, the client certificate, or the CA inline."""
        import base64
        lines = ["apiVersion: v1", "kind: Config", "clusters:", "- name: kube-sim", "  cluster:",
                 "    server: " + self.url]
        if self.ca_file:
            if ca_data:
                with open(self.ca_file, "rb") as f:
                    lines.append("    certificate-authority-data: " + base64.b64encode(f.read()).decode())
            else:
                lines.append("    certificate-authority: " + self.ca_file)
        lines += ["contexts:", "- name: kube-sim", "  context:", "    cluster: kube-sim", "    user: u",
                  "    namespace: default", "current-context: kube-sim", "users:", "- name: u", "  user:"]
        if token:
            lines.append("    token: " + token)
        if client_cert:
            lines += ["    client-certificate: " + self.client_cert, "    client-key: " + self.client_key]
        if not token and not client_cert:
            lines[-1] += " {}"
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def stop(self):
        """Stops the simulator (SIGTERM, then SIGKILL) and removes its directory; returns its exit code."""
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        elif self.proc:
            rc = self.proc.returncode
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        if self.dir and not os.environ.get("KUBE_SIM_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.proc = None
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- raw HTTP ----
    def _conn(self, base, timeout, client_cert=False):
        u = urllib.parse.urlparse(base)
        if u.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.ca_file)
            if client_cert:
                ctx.load_cert_chain(self.client_cert, self.client_key)
            return http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, token=None, timeout=10, base=None, client_cert=False):
        """Returns (status, headers dict with lower-case names, parsed JSON or text)."""
        conn = self._conn(base or self.url, timeout, client_cert)
        h = {"Accept": "application/json"}
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()
        text = data.decode("utf-8", "replace")
        try:
            return r.status, hdrs, json.loads(text)
        except ValueError:
            return r.status, hdrs, text

    def watch(self, path, token=None, headers=None, timeout=10, client_cert=False):
        """Opens a watch; returns a Watch whose next_event() yields parsed events."""
        return Watch(self, path, token, headers, timeout, client_cert)

    # ---- control ----
    def control(self, path, body=None):
        st, _, data = self.request("POST", path, body=body if body is not None else {}, base=self.control_url)
        if st != 200:
            raise RuntimeError("control %s: %s %s" % (path, st, data))
        return data

    def faults(self, **kw):
        """latency_ms, latency_path, errors={count, code, retry_after, verb, path, client}, hang_client,
        refuse_client, clock_offset_ms."""
        return self.control("/faults", kw)

    def reset_faults(self):
        return self.control("/faults/reset")

    def drop_watches(self, clean=False):
        return self.control("/watches/drop", {"clean": clean})

    def pause_watches(self, paused=True):
        """Paused watches receive nothing; resuming replays what they missed (or ERROR 410 if compacted)."""
        return self.control("/watches/pause", {"paused": paused})

    def compact(self):
        return self.control("/compact")

    def set_tokens(self, tokens):
        """tokens: list of {"token":..., "user":..., "readonly": bool}."""
        return self.control("/tokens", {"tokens": tokens})

    def deny(self, rules):
        """rules: list of {"verb":..., "resource":..., "user":...}; [] clears."""
        return self.control("/deny", {"rules": rules})

    def bookmarks(self, interval_ms):
        return self.control("/bookmarks", {"interval_ms": interval_ms})

    def stats(self):
        st, _, data = self.request("GET", "/stats", base=self.control_url)
        return data

    def audit_entries(self):
        if not os.path.exists(self.audit_path):
            return []
        with open(self.audit_path) as f:
            return [json.loads(line) for line in f if line.strip()]


class Watch:
    """A watch stream read with http.client (which decodes the chunked encoding)."""

    def __init__(self, sim, path, token, headers, timeout, client_cert=False):
        self.conn = sim._conn(sim.url, timeout, client_cert)
        h = {"Accept": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        self.conn.request("GET", path, headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.buf = b""

    def next_event(self):
        """The next event as a dict, or None at the end of the stream (raises socket.timeout on timeout)."""
        while b"\n" not in self.buf:
            chunk = self.resp.read1(65536) if hasattr(self.resp, "read1") else self.resp.read(1)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        self.conn.close()


class Tap:
    """Minimal TAP producer: ok(), skip(), then done() prints the plan and returns the exit code."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name))
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines()[:40]:
                    print("# " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got: %r\nwant: %r" % (got, want))

    def skip(self, name, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why))

    def run(self, name, fn, *args):
        """Runs fn(*args) as one check: an exception is a failure with its traceback."""
        import traceback
        try:
            r = fn(*args)
            return self.ok(r is not False, name)
        except Exception:
            return self.ok(False, name, traceback.format_exc())

    def done(self):
        print("1..%d" % self.n)
        return 1 if self.failed else 0
