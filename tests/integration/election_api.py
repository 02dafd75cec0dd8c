"""A small Lease API for the election tests: coordination.k8s.io/v1 Leases only, with kube-apiserver's write
semantics (resourceVersion and uid preconditions, 409 Conflict / AlreadyExists, 422 for a zero duration, 400
for a MicroTime without exactly six fractional digits) and field-selected watches streamed as chunked JSON
lines. It listens on one port per replica so a test can cut one replica off (its requests hang, its watch
goes silent) and counts requests per port. Every accepted write is journaled with its monotonic time, so
the tests can audit who held the Lease when.

Used until the project's API simulator (tests/kube-sim) serves these tests; it is deliberately small."""
import collections
import copy
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MICROTIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")
PATH = re.compile(r"^/apis/coordination\.k8s\.io/v1/namespaces/([^/]+)/leases(?:/([^/]+))?$")


def status(code, reason, message):
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients hanging up mid-stream (a killed replica) are expected here


class LeaseAPI:
    def __init__(self, ports=1):
        self.cv = threading.Condition()
        self.leases = {}
        self.rv = 0
        self.events = []          # (key, type, object)
        self.journal = []         # (monotonic, verb, port_index, holder, transitions)
        self.requests = collections.Counter()  # (port_index, "GET"/"PUT"/"POST"/"WATCH") -> n
        self.partitioned = set()  # port indexes whose requests hang
        self.refuse_watch = False
        self.closing = False
        self.servers = []
        for i in range(ports):
            srv = Server(("127.0.0.1", 0), Handler)
            srv.api, srv.index = self, i
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            self.servers.append(srv)

    def url(self, i):
        return f"http://127.0.0.1:{self.servers[i].server_address[1]}"

    def close(self):
        with self.cv:
            self.closing = True
            self.cv.notify_all()
        for s in self.servers:
            s.shutdown()
            s.server_close()

    def holder(self, ns="ns", name="lease"):
        with self.cv:
            o = self.leases.get((ns, name))
            return None if o is None else o.get("spec", {}).get("holderIdentity")

    def lease(self, ns="ns", name="lease"):
        with self.cv:
            return copy.deepcopy(self.leases.get((ns, name)))

    def put_raw(self, obj, ns="ns", name="lease"):
        """Writes an object as some other client would (no preconditions)."""
        with self.cv:
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            meta.update({"name": name, "namespace": ns})
            meta.setdefault("uid", str(uuid.uuid4()))
            self._store((ns, name), obj, "MODIFIED", -1, "RAW")

    def _store(self, key, obj, etype, port, verb):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        obj["kind"], obj["apiVersion"] = "Lease", "coordination.k8s.io/v1"
        self.leases[key] = obj
        self.events.append((key, etype, copy.deepcopy(obj)))
        spec = obj.get("spec") or {}
        self.journal.append((time.monotonic(), verb, port, spec.get("holderIdentity"),
                             spec.get("leaseTransitions")))
        self.cv.notify_all()

    def _validate(self, body):
        spec = body.get("spec") or {}
        for k in ("acquireTime", "renewTime"):
            v = spec.get(k)
            if v is not None and not MICROTIME.match(v):
                return status(400, "BadRequest", f'Lease in version "v1" cannot be handled as a Lease: '
                              f'parsing time "{v}" as "2006-01-02T15:04:05.000000Z07:00"')
        if "leaseDurationSeconds" in spec and spec["leaseDurationSeconds"] is not None \
                and spec["leaseDurationSeconds"] <= 0:
            return status(422, "Invalid", "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0")
        return None

    def handle(self, verb, ns, name, body, port):
        with self.cv:
            key = (ns, name)
            cur = self.leases.get(key)
            if verb == "GET":
                if cur is None:
                    return status(404, "NotFound", f'leases.coordination.k8s.io "{name}" not found')
                return 200, copy.deepcopy(cur)
            bad = self._validate(body)
            if bad:
                return bad
            if verb == "POST":
                name = body.get("metadata", {}).get("name")
                key = (ns, name)
                if key in self.leases:
                    return status(409, "AlreadyExists", f'leases.coordination.k8s.io "{name}" already exists')
                obj = copy.deepcopy(body)
                obj["metadata"]["uid"] = str(uuid.uuid4())
                obj["metadata"]["namespace"] = ns
                self._store(key, obj, "ADDED", port, "POST")
                return 201, copy.deepcopy(obj)
            # PUT
            meta = body.get("metadata", {})
            if cur is None:
                if meta.get("uid"):
                    return status(409, "Conflict", "Precondition failed: UID in precondition: "
                                  f"{meta['uid']}, UID in object meta: ")
                obj = copy.deepcopy(body)
                obj["metadata"]["uid"] = str(uuid.uuid4())
                self._store(key, obj, "ADDED", port, "PUT")
                return 201, copy.deepcopy(obj)
            if meta.get("uid") and meta["uid"] != cur["metadata"]["uid"]:
                return status(409, "Conflict", "Precondition failed: UID mismatch")
            if meta.get("resourceVersion") != cur["metadata"]["resourceVersion"]:
                return status(409, "Conflict", 'Operation cannot be fulfilled on leases.coordination.k8s.io '
                              f'"{name}": the object has been modified; please apply your changes to the latest '
                              'version and try again')
            obj = copy.deepcopy(body)
            obj["metadata"]["uid"] = cur["metadata"]["uid"]
            self._store(key, obj, "MODIFIED", port, "PUT")
            return 200, copy.deepcopy(obj)

    def hang_while_partitioned(self, port):
        with self.cv:
            while port in self.partitioned and not self.closing:
                self.cv.wait(0.1)

    def set_partitioned(self, port, on):
        with self.cv:
            (self.partitioned.add if on else self.partitioned.discard)(port)
            self.cv.notify_all()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, verb):
        api, port = self.server.api, self.server.index
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        m = PATH.match(u.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        watching = verb == "GET" and q.get("watch", ["0"])[0].lower() not in ("0", "false")
        with api.cv:
            api.requests[(port, "WATCH" if watching else verb)] += 1
        if port in api.partitioned:
            api.hang_while_partitioned(port)
            self.close_connection = True
            return
        if not m:
            return self.reply(*status(404, "NotFound", "the server could not find the requested resource"))
        ns, name = m.group(1), m.group(2)
        if watching:
            return self.watch(api, port, ns, q)
        if (verb == "GET" or verb == "PUT") and not name:
            return self.reply(*status(405, "MethodNotAllowed", "list is not served here"))
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self.reply(*status(400, "BadRequest", "bad JSON"))
        self.reply(*api.handle(verb, ns, name, body, port))

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, api, port, ns, q):
        if api.refuse_watch:
            return self.reply(*status(500, "InternalError", "watch refused by the test"))
        sel = q.get("fieldSelector", [""])[0]
        name = sel.split("=", 1)[1] if sel.startswith("metadata.name=") else None
        timeout = float(q.get("timeoutSeconds", ["300"])[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + timeout
        try:
            with api.cv:
                idx = len(api.events)
                cur = api.leases.get((ns, name))
                first = copy.deepcopy(cur) if cur else None
            if first is not None:
                self.chunk({"type": "ADDED", "object": first})
            while time.monotonic() < deadline:
                with api.cv:
                    if api.closing or api.refuse_watch:
                        break
                    if len(api.events) <= idx:
                        api.cv.wait(0.2)
                    new, idx = api.events[idx:], len(api.events)
                    cut = port in api.partitioned
                if cut:
                    continue  # a cut-off client hears nothing
                for key, etype, obj in new:
                    if key == (ns, name) or (name is None and key[0] == ns):
                        self.chunk({"type": etype, "object": obj})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")


def kubeconfig(path, url, namespace="ns"):
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: sim
  cluster:
    server: {url}
contexts:
- name: sim
  context:
    cluster: sim
    user: nobody
    namespace: {namespace}
current-context: sim
users:
- name: nobody
  user: {{}}
""")
    return path
