#!/usr/bin/python3
"""dataplane-sim: a stand-in for HAProxy's Data Plane API v3 (the 3.2 go-swagger line), for tests only.
It starts and owns a real HAProxy master-worker (`haproxy -Ws -S <dir>/master.sock -f <dir>/haproxy.cfg`)
and serves, with the real API's paths, status codes, headers and bodies (dataplane-api-v3.md): raw
configuration with versions and checksums, reloads, storage for maps / SSL certificates / general files,
runtime servers and maps, info and health; Basic auth; an audit of every write; a control port for faults.
Not for: production, transactions, the structured configuration endpoints (docs/dataplane-sim.md).

    sim.py --dir DIR --config INITIAL.cfg [--port N] [--control-port N] [--port-file F]
           [--user NAME:PASSWORD ...] [--users-file F] [--reload-delay-ms MS] [--audit-log F]
"""
import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import master_cli  # noqa: E402
from audit import Audit  # noqa: E402
from auth import Users  # noqa: E402
from configuration import ApiError, Configuration, checksum, identity  # noqa: E402
from faults import Faults  # noqa: E402
from reloads import ReloadAgent  # noqa: E402
from runtime import Runtime  # noqa: E402
from storage import Storage  # noqa: E402

API_VERSION = "v3.2.6 dpsim"
# A request body larger than this is no config, map or certificate we push (a 10k-backend config is ~2 MB).
BODY_MAX_BYTES = 64 * 1024 * 1024
# HAProxy has this long to start its first worker (a 1k-backend config starts in well under a second).
START_TIMEOUT_S = 30
PR_SET_PDEATHSIG = 1

B = "/v3/services/haproxy"
NAME = r"([^/\r\n<>*;$#&{}\"]+)"
RELOAD_ID = re.compile(r"^\d{4}-\d{2}-\d{2}-\d+$")
ROUTES = [
    (re.compile(r"^/v3/info$"), "info", ("GET",)),
    (re.compile(r"^/v3/health$"), "health", ("GET",)),
    (re.compile(r"^%s/configuration/raw$" % B), "raw", ("GET", "POST")),
    (re.compile(r"^%s/configuration/version$" % B), "version", ("GET",)),
    (re.compile(r"^%s/reloads$" % B), "reloads", ("GET",)),
    (re.compile(r"^%s/reloads/%s$" % (B, NAME)), "reload", ("GET",)),
    (re.compile(r"^%s/storage/(maps|ssl_certificates|general)$" % B), "storage_list", ("GET", "POST")),
    (re.compile(r"^%s/storage/(maps|ssl_certificates|general)/%s$" % (B, NAME)), "storage_one",
     ("GET", "PUT", "DELETE")),
    (re.compile(r"^%s/runtime/backends/%s/servers$" % (B, NAME)), "rt_servers", ("GET",)),
    (re.compile(r"^%s/runtime/backends/%s/servers/%s$" % (B, NAME, NAME)), "rt_server", ("GET", "PUT")),
    (re.compile(r"^%s/runtime/maps$" % B), "rt_maps", ("GET",)),
    (re.compile(r"^%s/runtime/maps/%s$" % (B, NAME)), "rt_map", ("GET", "PUT", "DELETE")),
    (re.compile(r"^%s/runtime/maps/%s/entries$" % (B, NAME)), "rt_entries", ("GET", "POST")),
    (re.compile(r"^%s/runtime/maps/%s/entries/%s$" % (B, NAME, NAME)), "rt_entry", ("GET", "PUT", "DELETE")),
]
RAW_KINDS = ("raw",)
BOOL_TRUE = ("1", "t", "T", "TRUE", "true", "True")
BOOL_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def log(event, **kv):
    kv = {"msg": event, **{k: v for k, v in kv.items()}}
    sys.stderr.write(json.dumps(kv) + "\n")
    sys.stderr.flush()


class Reply:
    def __init__(self, status, body=b"", ctype="application/json", headers=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = headers or {}


def jbody(obj):
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


class Sim:
    """Everything the handlers share; one per process."""

    def __init__(self, args):
        self.dir = os.path.abspath(args.dir)
        self.cfg_path = os.path.join(self.dir, "haproxy.cfg")
        self.master_sock = os.path.join(self.dir, "master.sock")
        self.haproxy_log = os.path.join(self.dir, "haproxy.log")
        self.haproxy_bin = args.haproxy
        self.users = Users()
        for u in args.user or []:
            self.users.add(u)
        if args.users_file:
            self.users.load(args.users_file)
        self.faults = Faults()
        self.audit = Audit(args.audit_log or os.path.join(self.dir, "audit.log"))
        self.config = Configuration(self.cfg_path, self.haproxy_bin)
        self.storage = Storage(self.dir)
        self.runtime = Runtime(self.master_sock, self.storage.dirs["maps"])
        self.reloads = ReloadAgent(self.master_sock, self.cfg_path, self.haproxy_log,
                                   args.reload_delay_ms / 1000.0, self.faults, log)
        self.requests = 0
        self.writes = 0
        self.haproxy = None

    def start_haproxy(self):
        libc = ctypes.CDLL(None, use_errno=True)

        def die_with_us():
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

        logf = open(self.haproxy_log, "ab")
        self.haproxy = subprocess.Popen([self.haproxy_bin, "-Ws", "-S", self.master_sock, "-f", self.cfg_path],
                                        cwd=self.dir, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                        preexec_fn=die_with_us)
        logf.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.haproxy.poll() is not None:
                raise RuntimeError("haproxy exited with %d (see %s)" % (self.haproxy.returncode,
                                                                          self.haproxy_log))
            try:
                if master_cli.show_proc(self.master_sock)["workers"]:
                    return
            except master_cli.MasterCliError:
                pass
            time.sleep(0.02)
        raise RuntimeError("haproxy did not start a worker in %d s" % START_TIMEOUT_S)

    def stop_haproxy(self):
        if self.haproxy and self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait()


def qbool(q, name):
    v = q.get(name)
    if v is None:
        return False
    if v in BOOL_TRUE:
        return True
    if v in BOOL_FALSE:
        return False
    raise ApiError(422, "%s in query must be of type boolean: \"%s\"" % (name, v))


def qint(q, name):
    v = q.get(name)
    if v is None or v == "":
        return 0
    try:
        return int(v)
    except ValueError:
        raise ApiError(422, "%s in query must be of type integer: \"%s\"" % (name, v)) from None


def parse_multipart(body, ctype):
    """{part name: (filename or None, bytes)} of a multipart/form-data body."""
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not m:
        raise ApiError(400, "no multipart boundary")
    sep = b"--" + m.group(1).encode()
    parts = {}
    for chunk in body.split(sep)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        disp = ""
        for h in head.decode(errors="replace").split("\r\n"):
            if h.lower().startswith("content-disposition:"):
                disp = h
        nm = re.search(r'\bname="([^"]*)"', disp)
        fn = re.search(r'\bfilename="([^"]*)"', disp)
        if nm:
            parts[nm.group(1)] = (fn.group(1) if fn else None, data)
    return parts


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dataplane-sim"
    sim = None  # set in main

    def log_message(self, fmt, *args):  # the request line only; never headers
        pass

    def do_GET(self):
        self.serve("GET")

    def do_POST(self):
        self.serve("POST")

    def do_PUT(self):
        self.serve("PUT")

    def do_DELETE(self):
        self.serve("DELETE")

    def do_PATCH(self):
        self.serve("PATCH")

    # ---- plumbing ----
    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                if len(out) + size > BODY_MAX_BYTES:
                    raise ApiError(413, "request body too large")
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        if n > BODY_MAX_BYTES:
            raise ApiError(413, "request body too large")
        return self.rfile.read(n) if n else b""

    def send(self, r):
        sim = self.sim
        self.send_response(r.status)
        if r.status != 204:
            self.send_header("Content-Type", r.ctype)
        self.send_header("Configuration-Version", str(sim.config.version))
        for k, v in r.headers.items():
            self.send_header(k, v)
        if self.headers.get("Origin"):
            self.send_header("Access-Control-Expose-Headers", "Reload-ID, Configuration-Version")
        body = r.body if r.status != 204 else b""
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, message, ctype="application/json", headers=None):
        return Reply(code, jbody({"code": code, "message": message}), ctype, headers)

    def serve(self, method):
        sim = self.sim
        sim.requests += 1
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        lat, drop, code = sim.faults.for_request(method, path)
        if lat:
            time.sleep(lat)
        if drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        route = None
        for rx, name, methods in ROUTES:
            m = rx.match(path)
            if m:
                route = (name, methods, m.groups())
                break
        try:
            body = self.read_body() if method in ("POST", "PUT", "PATCH") else b""
        except (ApiError, ValueError) as e:
            self.close_connection = True
            return self.send(self.error(getattr(e, "code", 400), str(e)))
        if code:
            return self.send(self.error(code, "injected fault (dataplane-sim)"))
        if route is None:
            return self.send(self.error(404, "path %s was not found" % path))
        name, methods, groups = route
        if method not in methods:
            return self.send(self.error(405, "method %s is not allowed, but [%s] are" % (
                method, ",".join(methods)), headers={"Allow": ", ".join(methods)}))
        user, why = sim.users.check(self.headers.get("Authorization"))
        if user is None:
            return self.send(self.error(401, why, headers={"WWW-Authenticate": 'Basic realm="API"'}))
        raw = name in RAW_KINDS
        download = name == "storage_one" and method == "GET" and groups[0] != "ssl_certificates"
        ectype = "text/plain" if raw else "application/octet-stream" if download else "application/json"
        self.audit_ident = None
        try:
            r = getattr(self, "h_" + name)(method, q, body, *groups)
        except ApiError as e:
            r = self.error(e.code, e.message, ectype)
        except Exception as e:  # a bug in the stand-in is a 500 the test sees, not a hung client
            log("handler failed", path=path, error=repr(e))
            r = self.error(500, "dataplane-sim: %r" % e, ectype)
        if method != "GET":
            sim.writes += 1
            ident = self.audit_ident or {
                "term": self.headers.get("X-Htic-Term"), "generation": self.headers.get("X-Htic-Generation"),
                "checksum": self.headers.get("X-Htic-Checksum")}
            sim.audit.write(term=ident["term"], generation=ident["generation"], checksum=ident["checksum"],
                            endpoint=path, method=method, query=url.query, result=r.status,
                            version=sim.config.version, reload_id=r.headers.get("Reload-Id"), user=user)
        self.send(r)

    def check_ctype(self, allowed):
        ct = (self.headers.get("Content-Type") or "application/octet-stream").split(";")[0].strip().lower()
        if ct not in allowed:
            raise ApiError(415, "unsupported media type \"%s\", only [%s] are allowed" % (ct, " ".join(allowed)))

    def check_accept(self, produced):
        acc = self.headers.get("Accept")
        if not acc:
            return
        for a in acc.split(","):
            a = a.split(";")[0].strip().lower()
            if a in ("*/*", produced) or (a.endswith("/*") and produced.startswith(a[:-1])):
                return
        raise ApiError(406, "unsupported media type requested, only [%s] are available" % produced)

    def reload_reply(self, q, status_ok, body=b"", ctype="application/json", status_scheduled=202):
        """The skip_reload / force_reload / default matrix shared by the storage writes."""
        if qbool(q, "skip_reload"):
            return Reply(status_ok, body, ctype)
        if qbool(q, "force_reload"):
            ok, resp = self.sim.reloads.force()
            if not ok:
                raise ApiError(400, "Reload failed: %s" % resp)
            return Reply(status_ok, body, ctype)
        return Reply(status_scheduled, body, ctype, {"Reload-Id": self.sim.reloads.schedule()})

    # ---- handlers ----
    def h_info(self, method, q, body):
        return Reply(200, jbody({"api": {"build_date": "2025-09-01T00:00:00.000Z", "version": API_VERSION},
                                 "system": {}}))

    def h_health(self, method, q, body):
        return Reply(200, jbody({"haproxy": "unknown"}))

    def h_version(self, method, q, body):
        if q.get("transaction_id"):
            raise ApiError(400, "transaction does not exist")
        return Reply(200, jbody(self.sim.config.version))

    def h_raw(self, method, q, body):
        sim = self.sim
        self.check_accept("text/plain")
        if method == "GET":
            if q.get("transaction_id"):
                raise ApiError(404, "transaction %s does not exist" % q["transaction_id"])
            if q.get("version"):
                v = qint(q, "version")
                raise ApiError(404, "missing object: backup file for version %d does not exist" % v)
            version, text = sim.config.read()
            return Reply(200, text.encode(), "text/plain", {"Configuration-Checksum": checksum(text)})
        self.check_ctype(("text/plain",))
        version = qint(q, "version")
        skip_version = qbool(q, "skip_version")
        only_validate = qbool(q, "only_validate")
        skip_reload = qbool(q, "skip_reload")
        force_reload = qbool(q, "force_reload")
        if not body:
            raise ApiError(422, "data in body is required")
        text = body.decode(errors="replace")
        self.audit_ident = identity(text)
        if self.audit_ident["term"] is None:
            self.audit_ident = None
        if "\n" not in text:
            raise ApiError(400, "invalid configuration: no newline character found")
        if only_validate:
            sim.config.only_validate(text)
            _, cur = sim.config.read()
            return Reply(202, cur.encode(), "text/plain", {"Configuration-Checksum": checksum(cur)})
        _, stored = sim.config.push(text, version, skip_version)
        hdr = {"Configuration-Checksum": checksum(stored)}
        if skip_reload:
            actions = self.headers.get("X-Runtime-Actions")
            if actions:
                self.runtime_actions(actions)
            return Reply(201, stored.encode(), "text/plain", hdr)
        if force_reload:
            ok, resp = sim.reloads.force()
            if not ok:
                raise ApiError(400, "Reload failed: %s" % resp)
            return Reply(201, stored.encode(), "text/plain", hdr)
        hdr["Reload-Id"] = sim.reloads.schedule()
        return Reply(202, stored.encode(), "text/plain", hdr)

    def runtime_actions(self, header):
        rt = self.sim.runtime
        for action in header.split(";"):
            a = action.strip().split(" ")
            if len(a) < 3:
                continue
            be, srv = a[1], a[2]
            t = "%s/%s" % (be, srv)
            if a[0] == "SetServerAddr" and len(a) >= 5:
                rt.command_ok("set server %s addr %s port %s" % (t, a[3], a[4]), be, srv)
            elif a[0] == "SetServerState" and len(a) >= 4:
                rt.command_ok("set server %s state %s" % (t, a[3]), be, srv)
            elif a[0] == "SetServerWeight" and len(a) >= 4:
                rt.command_ok("set server %s weight %s" % (t, a[3]), be, srv)
            elif a[0] == "SetServerCheckPort" and len(a) >= 4:
                rt.command_ok("set server %s check-port %s" % (t, a[3]), be, srv)
            # unknown action names are silently ignored, as upstream

    def h_reloads(self, method, q, body):
        return Reply(200, jbody(self.sim.reloads.list()))

    def h_reload(self, method, q, body, rid):
        if not RELOAD_ID.match(rid):
            raise ApiError(422, "id in path should match '^\\d{4}-\\d{2}-\\d{2}-\\d+$'")
        o = self.sim.reloads.get(rid)
        if o is None:
            raise ApiError(404, "Reload with ID %s does not exist" % rid)
        return Reply(200, jbody(o))

    def upload(self, body, kind):
        self.check_ctype(("multipart/form-data",))
        parts = parse_multipart(body, self.headers.get("Content-Type", ""))
        fn, data = parts.get("file_upload", (None, None))
        if fn is None:
            if kind == "general":
                raise ApiError(400, "No file_upload form param specified")
            raise ApiError(400, "")
        return fn, data

    def h_storage_list(self, method, q, body, kind):
        st = self.sim.storage
        if method == "GET":
            return Reply(200, jbody(st.list(kind)))
        fn, data = self.upload(body, kind)
        if kind != "ssl_certificates":
            return Reply(201, jbody(st.create(kind, fn, data)))
        obj = st.create(kind, fn, data)
        if qbool(q, "skip_reload") or qbool(q, "force_reload"):
            return self.reload_reply(q, 201, jbody(obj))
        if self.ssl_runtime(obj["file"], data, new=True):
            return Reply(201, jbody(obj))
        return Reply(202, jbody(obj), headers={"Reload-Id": self.sim.reloads.schedule()})

    def ssl_runtime(self, path, data, new):
        """3.2's runtime branch: new/set/commit ssl cert; False (so the caller reloads) on any failure."""
        if self.sim.faults.ssl_runtime_broken():
            return False
        try:
            if new:
                out = master_cli.worker(self.sim.master_sock, "new ssl cert " + path)
                if "error" in out.lower() or "can't" in out.lower():
                    return False
            out = master_cli.worker(self.sim.master_sock, "set ssl cert " + path, data.decode(errors="replace"))
            if "Transaction created" not in out and "Transaction updated" not in out:
                master_cli.worker(self.sim.master_sock, "abort ssl cert " + path)
                return False
            out = master_cli.worker(self.sim.master_sock, "commit ssl cert " + path)
            return "Success" in out
        except master_cli.MasterCliError:
            return False

    def h_storage_one(self, method, q, body, kind, name):
        st = self.sim.storage
        if method == "GET":
            if kind == "ssl_certificates":
                return Reply(200, jbody(st.describe(kind, name)))
            return Reply(200, st.read(kind, name), "application/octet-stream")
        if method == "DELETE":
            st.delete(kind, name, self.sim.config)
            if kind == "ssl_certificates" and not (qbool(q, "skip_reload") or qbool(q, "force_reload")):
                return Reply(202, b"", headers={"Reload-Id": self.sim.reloads.schedule()})
            if kind == "ssl_certificates":
                return self.reload_reply(q, 204)
            return Reply(204)
        if kind == "general":
            _, data = self.upload(body, kind)
        else:
            self.check_ctype(("text/plain",))
            data = body
        obj = st.replace(kind, name, data)
        if kind != "ssl_certificates":
            return self.reload_reply(q, 204)
        if qbool(q, "skip_reload") or qbool(q, "force_reload"):
            return self.reload_reply(q, 200, jbody(obj))
        if self.ssl_runtime(obj["file"], data, new=False):
            return Reply(200, jbody(obj))
        return Reply(202, jbody(obj), headers={"Reload-Id": self.sim.reloads.schedule()})

    def json_body(self, body):
        self.check_ctype(("application/json",))
        try:
            return json.loads(body or b"null")
        except ValueError as e:
            raise ApiError(400, "parsing body body from \"\" failed: %s" % e) from None

    def h_rt_servers(self, method, q, body, backend):
        return Reply(200, jbody(self.sim.runtime.servers(backend)))

    def h_rt_server(self, method, q, body, backend, name):
        rt = self.sim.runtime
        if method == "GET":
            return Reply(200, jbody(rt.server(backend, name)))
        req = self.json_body(body)
        if self.sim.faults.server_put_state_only() and isinstance(req, dict):
            # 3.0-3.2 (and 3.3.0): only admin_state and operational_state are acted on, the rest ignored;
            # the object has no weight
            req = {k: v for k, v in req.items() if k in ("admin_state", "operational_state")}
            return Reply(200, jbody({k: v for k, v in rt.set_server(backend, name, req).items() if k != "weight"}))
        return Reply(200, jbody(rt.set_server(backend, name, req)))

    def h_rt_maps(self, method, q, body):
        return Reply(200, jbody(self.sim.runtime.maps(qbool(q, "include_unmanaged"))))

    def h_rt_map(self, method, q, body, name):
        rt = self.sim.runtime
        if method == "GET":
            return Reply(200, jbody(rt.map(name)))
        if method == "DELETE":
            rt.clear(name)
            if qbool(q, "forceDelete"):
                try:
                    os.unlink(rt.map_file(name))
                except OSError:
                    pass
            elif qbool(q, "force_sync"):
                rt.sync_file(name)
            return Reply(204)
        pairs = self.json_body(body)
        if not isinstance(pairs, list) or not all(isinstance(p, dict) and "key" in p and "value" in p
                                                  for p in pairs):
            raise ApiError(422, "body must be an array of {key, value}")
        rt.replace(name, pairs)
        if qbool(q, "force_sync"):
            rt.sync_file(name)
        return Reply(201, jbody(pairs))

    def h_rt_entries(self, method, q, body, name):
        rt = self.sim.runtime
        if method == "GET":
            return Reply(200, jbody(rt.entries(name)))
        e = self.json_body(body)
        if not isinstance(e, dict) or "key" not in e or "value" not in e:
            raise ApiError(422, "key and value in body are required")
        rt.add_entry(name, str(e["key"]), str(e["value"]))
        if qbool(q, "force_sync"):
            rt.sync_file(name)
        return Reply(201, jbody(e))

    def h_rt_entry(self, method, q, body, name, key):
        rt = self.sim.runtime
        if method == "GET":
            return Reply(200, jbody(rt.entry(name, key)))
        if method == "DELETE":
            rt.del_entry(name, key)
            if qbool(q, "force_sync"):
                rt.sync_file(name)
            return Reply(204)
        e = self.json_body(body)
        if not isinstance(e, dict) or "value" not in e:
            raise ApiError(422, "value in body is required")
        rt.set_entry(name, key, str(e["value"]))
        if qbool(q, "force_sync"):
            rt.sync_file(name)
        return Reply(200, jbody({"key": key, "value": str(e["value"])}))


class ControlHandler(BaseHTTPRequestHandler):
    """The control port: faults and counters; never faulted, never authenticated (loopback, tests only)."""
    protocol_version = "HTTP/1.1"
    sim = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        b = jbody(obj)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        sim = self.sim
        if self.path == "/stats":
            try:
                proc = master_cli.show_proc(sim.master_sock)
            except master_cli.MasterCliError:
                proc = None
            return self.reply(200, {"version": sim.config.version, "requests": sim.requests,
                                    "writes": sim.writes, "reloads": sim.reloads.reloads_done,
                                    "faults": sim.faults.snapshot(), "proc": proc})
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        sim = self.sim
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return self.reply(400, {"error": "bad json"})
        if self.path == "/faults":
            try:
                sim.faults.set(body)
            except (ValueError, TypeError, AttributeError) as e:
                return self.reply(400, {"error": str(e)})
            if not sim.faults.hold_reloads():
                sim.reloads.release()
            return self.reply(200, sim.faults.snapshot())
        if self.path == "/users":  # a rotated password: the user list is replaced (the reply names no password)
            try:
                users = Users()
                for u in body.get("users", []):
                    users.add(u)
            except (ValueError, TypeError, AttributeError) as e:
                return self.reply(400, {"error": str(e)})
            sim.users = users
            return self.reply(200, {"users": sorted(users.users)})
        if self.path == "/faults/reset":
            sim.faults.reset()
            sim.reloads.release()
            return self.reply(200, sim.faults.snapshot())
        self.reply(404, {"error": "not found"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client that went away is not news
        pass


def main():
    ap = argparse.ArgumentParser(description="Data Plane API v3 stand-in over a real HAProxy (tests only)")
    ap.add_argument("--dir", required=True, help="working directory: haproxy.cfg, master.sock, storage")
    ap.add_argument("--config", help="initial haproxy.cfg copied into --dir (default: the one already there)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--user", action="append", help="NAME:PASSWORD (plaintext or $1$/$5$/$6$ crypt)")
    ap.add_argument("--users-file", help="one NAME:PASSWORD per line")
    ap.add_argument("--reload-delay-ms", type=int, default=5000, help="reload ticker (dataplaneapi: 5 s)")
    ap.add_argument("--audit-log")
    ap.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    args = ap.parse_args()
    if args.reload_delay_ms <= 0:
        args.reload_delay_ms = 5000  # upstream: 0 also means the default
    os.makedirs(args.dir, exist_ok=True)
    if args.config:
        shutil.copyfile(args.config, os.path.join(args.dir, "haproxy.cfg"))
    sim = Sim(args)
    if not sim.users.users:
        log("no users configured: every request will be refused with 401")
    try:
        sim.start_haproxy()
    except RuntimeError as e:
        log("haproxy failed to start", error=str(e))
        sys.exit(1)
    sim.reloads.start()
    Handler.sim = sim
    ControlHandler.sim = sim
    api = Server((args.host, args.port), Handler)
    ctl = Server((args.host, args.control_port), ControlHandler)
    for srv in (api, ctl):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    host = "[%s]" % args.host if ":" in args.host else args.host
    info = {"port": api.server_address[1], "control_port": ctl.server_address[1],
            "url": "http://%s:%d" % (host, api.server_address[1]),
            "control_url": "http://%s:%d" % (host, ctl.server_address[1]),
            "master_socket": sim.master_sock, "haproxy_pid": sim.haproxy.pid, "dir": sim.dir}
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, args.port_file)
    print(json.dumps(info), flush=True)
    done = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: done.set())
    while not done.wait(0.5):
        if sim.haproxy.poll() is not None:
            log("haproxy exited", code=sim.haproxy.returncode)
            break
    api.shutdown()
    ctl.shutdown()
    sim.reloads.stop()
    sim.stop_haproxy()
    sim.audit.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
