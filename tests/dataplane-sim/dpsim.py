"""Test helper for dataplane-sim, the Data Plane API v3 stand-in: start it (and so a real HAProxy) in a
private temp dir on free loopback ports, make authenticated API requests, drive its control port (faults),
read its audit, ask the master CLI, and stop everything even when a test fails. Also a loopback HTTP backend
and free_port(). Run with /usr/bin/python3.

    with DataplaneSim(config=text) as dp:
        st, hdrs, body = dp.request("GET", "/v3/services/haproxy/configuration/version")
        dp.faults(fail_reloads=1); dp.audit_entries(); dp.show_proc()
"""
import base64
import http.client
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "kube-sim"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import master_cli  # noqa: E402
from harness import free_port, wait_for  # noqa: E402,F401  (re-exported for the tests)
from kubesim import Tap  # noqa: E402,F401  (re-exported for the tests)

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15
USER, PASSWORD = "admin", "s3cret-" + uuid.uuid4().hex[:8]
B = "/v3/services/haproxy"


def sim_program():
    return os.environ.get("DATAPLANE_SIM") or os.path.join(HERE, "sim.py")


def bootstrap_config(port):
    """A config like a fresh pod's: one frontend answering 404 until the controller pushes."""
    return ("global\n  log stderr format raw local0 notice\n"
            "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n"
            "frontend bootstrap\n  bind 127.0.0.1:%d\n  http-request return status 404\n" % port)


class DataplaneSim:
    def __init__(self, config=None, reload_delay_ms=100, users=None, extra_args=()):
        self.http_port = free_port()
        self.config_text = config if config is not None else bootstrap_config(self.http_port)
        self.reload_delay_ms = reload_delay_ms
        self.users = users if users is not None else ["%s:%s" % (USER, PASSWORD)]
        self.extra_args = list(extra_args)
        self.proc = None
        self.dir = None
        self.info = {}

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="dpsim-")
        self.work = os.path.join(self.dir, "haproxy")
        os.makedirs(self.work)
        init = os.path.join(self.dir, "initial.cfg")
        with open(init, "w") as f:
            f.write(self.config_text)
        self.port_file = os.path.join(self.dir, "port.json")
        self.audit_path = os.path.join(self.dir, "audit.log")
        self.log_path = os.path.join(self.dir, "dataplane-sim.log")
        cmd = ["/usr/bin/python3", sim_program(), "--dir", self.work, "--config", init,
               "--port-file", self.port_file, "--audit-log", self.audit_path,
               "--reload-delay-ms", str(self.reload_delay_ms)] + self.extra_args
        for u in self.users:
            cmd += ["--user", u]
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.logf, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = self.read_log() + self.haproxy_log()
                self.stop()
                raise RuntimeError("dataplane-sim did not start:\n" + text)
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.info = json.load(f)
        self.port = self.info["port"]
        self.master_sock = self.info["master_socket"]
        self.cfg_path = os.path.join(self.work, "haproxy.cfg")
        return self

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def haproxy_log(self):
        try:
            with open(os.path.join(self.work, "haproxy.log"), errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def stop(self):
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
            code = self.proc.returncode
            self.logf.close()
            self.proc = None
        if self.dir and not os.environ.get("DATAPLANE_SIM_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return code

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- API ----
    def auth(self, user=USER, password=PASSWORD):
        return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()

    def request(self, method, path, body=None, headers=None, auth=True, ctype=None, timeout=30, port=None):
        """(status, headers dict with lower-case names, body bytes); JSON bodies are not decoded."""
        h = dict(headers or {})
        if auth is True:
            h["Authorization"] = self.auth()
        elif auth:
            h["Authorization"] = auth
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            ctype = ctype or "application/json"
        elif isinstance(body, str):
            body = body.encode()
            ctype = ctype or "text/plain"
        if ctype:
            h["Content-Type"] = ctype
        c = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def jrequest(self, method, path, body=None, **kw):
        st, h, data = self.request(method, path, body, **kw)
        try:
            return st, h, json.loads(data) if data else None
        except ValueError:
            return st, h, data.decode(errors="replace")

    def upload(self, kind, filename, data, method="POST", name=None, query=""):
        boundary = "dpsim" + uuid.uuid4().hex
        if isinstance(data, str):
            data = data.encode()
        body = (("--%s\r\nContent-Disposition: form-data; name=\"file_upload\"; filename=\"%s\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n" % (boundary, filename)).encode()
                + data + ("\r\n--%s--\r\n" % boundary).encode())
        path = "%s/storage/%s" % (B, kind) + ("/" + name if name else "") + query
        return self.jrequest(method, path, body, ctype="multipart/form-data; boundary=" + boundary)

    def version(self):
        st, _, v = self.jrequest("GET", B + "/configuration/version")
        assert st == 200, (st, v)
        return v

    def push(self, text, version=None, query=""):
        v = self.version() if version is None else version
        return self.request("POST", "%s/configuration/raw?version=%d%s" % (B, v, query), text)

    def reload_status(self, rid):
        return self.jrequest("GET", "%s/reloads/%s" % (B, rid))

    def wait_reload(self, rid, timeout=30):
        """The final reload object (succeeded or failed)."""
        def done():
            st, _, o = self.reload_status(rid)
            return o if st == 200 and o.get("status") in ("succeeded", "failed") else None
        return wait_for(done, timeout, what="reload " + rid)

    # ---- control port and HAProxy ----
    def control(self, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.info["control_port"], timeout=10)
        try:
            c.request("POST" if body is not None else "GET", path,
                      body=json.dumps(body).encode() if body is not None else None,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            c.close()

    def faults(self, **kw):
        st, b = self.control("/faults", kw)
        assert st == 200, b
        return b

    def set_users(self, users):
        """Replaces the accepted users (NAME:PASSWORD each), as a rotated sidecar password would."""
        st, b = self.control("/users", {"users": users})
        assert st == 200, b
        return b

    def reset_faults(self):
        return self.control("/faults/reset", {})

    def stats(self):
        return self.control("/stats")[1]

    def show_proc(self):
        return wait_for(lambda: self._proc(), 10, what="show proc")

    def _proc(self):
        try:
            return master_cli.show_proc(self.master_sock)
        except master_cli.MasterCliError:
            return None

    def cli(self, cmd):
        return master_cli.worker(self.master_sock, cmd)

    def audit_entries(self):
        with open(self.audit_path) as f:
            return [json.loads(x) for x in f if x.strip()]


def get_through(port, host=None, path="/", timeout=5):
    """(status, body text) of a GET through HAProxy, or (None, error) when the connection fails."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host} if host else {})
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    except OSError as e:
        return None, str(e)
    finally:
        c.close()


class Backend:
    """A loopback HTTP server answering every GET with its name (the upstream behind HAProxy)."""

    def __init__(self, name):
        self.name = name
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                b = outer.name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
