#!/usr/bin/python3
"""Benchmark of kube-sim (run by hand, not a timed test; results go to docs/performance.md):
1. hold N objects (default 50k Ingresses across 50 namespaces) seeded from a file: start time, RSS, and the
   time and size of a full LIST;
2. watch fan-out: W watchers (default 20) on ConfigMaps while one client makes E writes (default 2000);
   time until every watcher has every event, events delivered per second.
The fan-out runs twice: E sequential creates, then 5*E creates pipelined by 100 on one connection.
Usage: tests/bench/bench_kube_sim.py [--objects N] [--watchers W] [--events E] [--skip-hold]   (needs a built kube-sim;
KUBE_SIM_BIN or HTIC_BUILD_ROOT select it, default build/)."""
import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kube-sim"))
import result  # noqa: E402  (tests/bench/result.py, next to this file)
from kubesim import KubeSim  # noqa: E402


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def write_seed(path, n):
    with open(path, "w") as f:
        f.write("[\n")
        for i in range(n):
            ns = "ns-%02d" % (i % 50)
            obj = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                   "metadata": {"name": "ing-%06d" % i, "namespace": ns,
                                "labels": {"app": "app-%d" % (i % 100), "team": "t%d" % (i % 7)},
                                "annotations": {"haproxy.org/timeout-server": "30s"}},
                   "spec": {"ingressClassName": "haproxy", "rules": [{
                       "host": "h%06d.example.com" % i,
                       "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                           "service": {"name": "svc-%d" % (i % 1000), "port": {"number": 80}}}}]}}]}}
            f.write(json.dumps(obj) + (",\n" if i + 1 < n else "\n"))
        f.write("]\n")


def hold_objects(args):
    import tempfile
    d = tempfile.mkdtemp(prefix="bench-kube-sim-")
    seed = os.path.join(d, "seed.json")
    t0 = time.monotonic()
    write_seed(seed, args.objects)
    size_mb = os.path.getsize(seed) / 1e6
    t1 = time.monotonic()
    sim = KubeSim(seed=seed, history=10000)
    sim.start()
    t2 = time.monotonic()
    try:
        pid = sim.proc.pid
        rss = status_kb(pid, "VmRSS")
        t3 = time.monotonic()
        st, _, body = sim.request("GET", "/apis/networking.k8s.io/v1/ingresses", timeout=120)
        t4 = time.monotonic()
        n = len(body["items"])
        t5 = time.monotonic()
        st, _, page = sim.request("GET", "/apis/networking.k8s.io/v1/ingresses?limit=500", timeout=60)
        t6 = time.monotonic()
        st, _, sel = sim.request("GET", "/apis/networking.k8s.io/v1/namespaces/ns-07/ingresses?labelSelector=team%3Dt3",
                                 timeout=60)
        t7 = time.monotonic()
        hwm = status_kb(pid, "VmHWM")
        print("objects: %d Ingresses (seed file %.1f MB, written in %.1f s)" % (args.objects, size_mb, t1 - t0))
        print("start with seed: %.2f s; RSS after load: %.1f MiB; peak RSS after full list: %.1f MiB"
              % (t2 - t1, rss / 1024, hwm / 1024))
        print("full LIST: %d items in %.2f s (client parse included); first page of 500: %.3f s; "
              "namespace+label-selected list (%d items): %.3f s" % (n, t4 - t3, t6 - t5, len(sel["items"]), t7 - t6))
        assert n == args.objects, n
        result.emit("kube-sim full LIST of %d Ingresses" % args.objects, round((t4 - t3) * 1000), "ms")
    finally:
        rc = sim.stop()
        print("kube-sim exit code: %s" % rc)
        os.unlink(seed)
        os.rmdir(d)


class Watcher(threading.Thread):
    """Counts newline-terminated events on a raw socket (no JSON parsing, to measure the server)."""

    def __init__(self, port, path, want):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n" % path).encode())
        self.want = want
        self.count = 0
        self.done_at = None
        self.bytes = 0

    def run(self):
        buf = b""
        while self.count < self.want:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                break
            self.bytes += len(chunk)
            self.count += chunk.count(b"}\n")  # every event line ends so; chunk framing lines do not
        self.done_at = time.monotonic()
        self.sock.close()


def fan_out(args):
    with KubeSim() as sim:
        st, _, l = sim.request("GET", "/api/v1/namespaces/default/configmaps")
        rv = l["metadata"]["resourceVersion"]
        path = "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + rv
        ws = [Watcher(sim.port, path, args.events) for _ in range(args.watchers)]
        for w in ws:
            w.start()
        time.sleep(0.3)
        body = json.dumps({"metadata": {"name": "x"}, "data": {"payload": "p" * 200}})
        t0 = time.monotonic()
        if args.pipeline:
            # requests written in batches of 100 on one connection, so the server, not Python, is the limit
            sock = socket.create_connection(("127.0.0.1", sim.port), timeout=60)
            reader = sock.makefile("rb")
            for start in range(0, args.events, 100):
                reqs = []
                for i in range(start, min(start + 100, args.events)):
                    b = body.replace('"x"', '"cm-%06d"' % i).encode()
                    reqs.append(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b))
                sock.sendall(b"".join(reqs))
                for _ in reqs:
                    status = reader.readline()
                    if os.environ.get("BENCH_DEBUG"): print("got", status, start, file=sys.stderr)
                    assert b" 201 " in status, status
                    length = 0
                    while True:
                        h = reader.readline()
                        if h in (b"\r\n", b""):
                            break
                        if h.lower().startswith(b"content-length:"):
                            length = int(h.split(b":")[1])
                    reader.read(length)
            sock.close()
        else:
            conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=60)
            for i in range(args.events):
                b = body.replace('"x"', '"cm-%06d"' % i)
                conn.request("POST", "/api/v1/namespaces/default/configmaps", body=b,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                assert r.status == 201, r.status
        t1 = time.monotonic()
        for w in ws:
            w.join(120)
        t2 = max(w.done_at or time.monotonic() for w in ws)
        got = [w.count for w in ws]
        total = sum(got)
        print("fan-out: %d watchers x %d creates (one writer, %s): writes took %.2f s (%.0f writes/s); "
              "all events delivered after %.2f s; %d events, %.0f events/s delivered; %.1f MB sent to watchers"
              % (args.watchers, args.events, "pipelined by 100" if args.pipeline else "sequential", t1 - t0, args.events / (t1 - t0), t2 - t0, total, total / (t2 - t0),
                 sum(w.bytes for w in ws) / 1e6))
        assert all(c >= args.events for c in got), got
        result.emit("kube-sim watch fan-out, %d watchers, events delivered per second" % args.watchers,
                    round(total / (t2 - t0)), "events/s", better="higher")
        print("kube-sim peak RSS during fan-out: %.1f MiB" % (status_kb(sim.proc.pid, "VmHWM") / 1024))
        print("kube-sim exit code: %s" % sim.stop())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=50000)
    ap.add_argument("--watchers", type=int, default=20)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--skip-hold", action="store_true", help="only the fan-out part")
    args = ap.parse_args()
    if not args.skip_hold:
        hold_objects(args)
    args.pipeline = False
    fan_out(args)
    args.pipeline = True
    args.events *= 5
    fan_out(args)


if __name__ == "__main__":
    main()
