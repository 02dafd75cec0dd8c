#!/usr/bin/env python3
"""The supervisor's HTTP endpoints against the real binary: health, readiness, Prometheus metrics parsed by
the real prometheus_client parser, /debug/vars, and the refusals (404, 405, 400, oversized, slow)."""
import json
import os
import socket
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

import harness as h

# The supervisor alone is about 9 MB; 30 paused clients add 30 x (64 KiB of answers + their input), a few MB.
# Without backpressure they took it to hundreds of MB.
RSS_BOUND_KIB = 64 * 1024


def start(tmp, env=None, pipeline=None):
    port = h.free_port()
    p = h.Proc([h.HTIC_BIN, "run", "--config", h.config(tmp, http_port=port, pipeline=pipeline)], tmp,
               name="supervisor", env=env)
    try:
        h.wait_for(lambda: "serving HTTP" in p.text(), what="HTTP server")
    except BaseException:
        p.stop()  # the caller's `with p` has not started yet: a supervisor left here would run on for good
        raise
    return p, f"http://127.0.0.1:{port}", port


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def test_healthz_and_readyz(tmp):
    p, base, _ = start(tmp)
    with p:
        assert get(base + "/healthz")[0] == 200
        h.wait_for(lambda: get(base + "/readyz")[0] == 200, what="ready")


# haproxy -c refuses it (no listener): the pipeline syncs (nothing watched) but never gets an LKG
NO_LISTENER = """haproxy_config:
  template: |
    global
      maxconn 100
"""


def debug_vars(base):
    return json.loads(get(base + "/debug/vars")[1])


def test_readyz_503_until_a_last_known_good(tmp):
    p, base, _ = start(tmp, pipeline=NO_LISTENER)
    with p:
        # every child up and the render refused by haproxy -c: children alone do not make the replica ready
        h.wait_for(lambda: (debug_vars(base).get("pipeline") or {}).get("last_error"), timeout=60,
                   what="the first validation refused")
        pl = debug_vars(base)["pipeline"]
        assert pl["synced"] is True and pl["lkg"] is None, pl
        assert all(c["state"] == "running" for r, c in debug_vars(base)["children"].items() if r != "elector")
        assert get(base + "/readyz")[:2] == (503, "not ready: no last-known-good configuration yet\n")
        assert debug_vars(base)["ready"] is False


def test_readyz_200_once_a_last_known_good_exists(tmp):
    p, base, _ = start(tmp)
    with p:
        h.wait_for(lambda: get(base + "/readyz")[0] == 200, timeout=60, what="ready")
        pl = debug_vars(base)["pipeline"]
        assert pl["synced"] is True and pl["lkg"]["checksum"].startswith("sha256:"), pl
        assert os.path.exists(os.path.join(tmp, "run", "lkg.json"))


def test_readyz_follows_children_now_not_once(tmp):
    p, base, _ = start(tmp)
    with p:
        h.wait_for(lambda: get(base + "/readyz")[0] == 200, what="ready")
        kids = p.children()
        os.kill(kids["validator"], 19)  # SIGSTOP: still running, so still ready
        assert get(base + "/readyz")[0] == 200
        os.kill(kids["validator"], 9)
        # the first restart waits 100 ms of backoff: the replica is unready meanwhile
        h.wait_for(lambda: get(base + "/readyz")[:2] == (503, "not ready: validator is not up\n"), timeout=5,
                   interval=0.001, what="unready while the validator restarts")
        h.wait_for(lambda: get(base + "/readyz")[0] == 200, timeout=10, what="ready again")


def test_metrics_parse_with_prometheus_client(tmp):
    p, base, _ = start(tmp)
    with p:
        h.wait_for(lambda: get(base + "/readyz")[0] == 200, what="ready")
        status, body, headers = get(base + "/metrics")
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers["Content-Type"]
        fams = {f.name: f for f in text_string_to_metric_families(body)}
        assert fams["haproxy_ic_leader_election_is_leader"].samples[0].value == 1  # disabled mode leads
        restarts = {s.labels["role"]: s.value for s in fams["haproxy_ic_child_restarts"].samples
                    if s.name.endswith("_total")}
        assert restarts["renderer"] == 0, restarts
        up = {s.labels["role"]: s.value for s in fams["haproxy_ic_child_up"].samples}
        assert up["deployer"] == 1 and up["elector"] == 0, up
        t1 = [s for s in fams["haproxy_ic_leader_election_time_as_leader_seconds"].samples][0].value
        time.sleep(0.3)
        body2 = get(base + "/metrics")[1]
        fams2 = {f.name: f for f in text_string_to_metric_families(body2)}
        t2 = fams2["haproxy_ic_leader_election_time_as_leader_seconds"].samples[0].value
        assert t2 > t1, (t1, t2)  # grows while leading, not only after a loss


def test_restart_counted_in_metrics(tmp):
    p, base, _ = start(tmp)
    with p:
        kids = h.wait_for(lambda: (lambda k: k if "validator" in k else None)(p.children()), what="validator")
        os.kill(kids["validator"], 9)
        def restarted():
            fams = {f.name: f for f in text_string_to_metric_families(get(base + "/metrics")[1])}
            return any(s.labels.get("role") == "validator" and s.value == 1
                       for s in fams["haproxy_ic_child_restarts"].samples)
        h.wait_for(restarted, what="restart counted")


def test_debug_vars_json(tmp):
    p, base, _ = start(tmp)
    with p:
        h.wait_for(lambda: get(base + "/readyz")[0] == 200, what="ready")
        status, body, headers = get(base + "/debug/vars")
        assert status == 200 and headers["Content-Type"] == "application/json"
        v = json.loads(body)
        le = v["leader_election"]
        for key in ("enabled", "is_leader", "identity", "lease_name", "lease_holder", "term", "time_as_leader",
                    "transitions"):
            assert key in le, key
        assert le["enabled"] is False and le["is_leader"] is True and le["term"] == "disabled"
        assert v["children"]["deployer"]["state"] == "running"
        assert v["config"]["controller"]["leader_election"]["enabled"] is False
        # the executor's report reaches /debug/vars through the routing table (no renderer output yet here:
        # not synced, no LKG)
        h.wait_for(lambda: json.loads(get(base + "/debug/vars")[1]).get("pipeline") is not None,
                   what="pipeline report")
        pl = json.loads(get(base + "/debug/vars")[1])["pipeline"]
        for key in ("synced", "generation", "lkg", "last_error", "quarantined", "objects"):
            assert key in pl, key
        assert v["ipc"]["refused_unknown_type"] == 0


def raw(port, data, read_timeout=8):
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        if data:
            s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def test_refusals_404_405_400_431(tmp):
    p, base, port = start(tmp)
    with p:
        assert get(base + "/nope")[0] == 404
        req = urllib.request.Request(base + "/metrics", data=b"x", method="POST")
        try:
            urllib.request.urlopen(req, timeout=5)
            raise AssertionError("POST accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 405
        assert raw(port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
        huge = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n"
        out = raw(port, huge)
        assert out.startswith(b"HTTP/1.1 431") or out == b"", out[:80]
        assert get(base + "/healthz")[0] == 200  # still serving


def test_slow_request_is_cut_off(tmp):
    p, base, port = start(tmp)
    with p:
        t0 = time.monotonic()
        out = raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n", read_timeout=15)  # never finishes
        took = time.monotonic() - t0
        assert took < 12, took
        assert b"200 OK" not in out
        assert get(base + "/healthz")[0] == 200


def test_idle_connections_do_not_lock_out_healthz(tmp):
    # the supervisor takes 64 connections; 70 that never send a byte must not keep the kubelet's probe out
    p, base, port = start(tmp)
    with p:
        idle = []
        try:
            for _ in range(70):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            assert get(base + "/healthz")[0] == 200
        finally:
            for s in idle:
                s.close()


def test_pipelining_clients_that_never_read_do_not_grow_rss(tmp):
    # 30 clients each pipeline 2000 GET /debug/vars (about 4 KiB answers each) and never read: without
    # backpressure the supervisor held every answer (hundreds of MB). The peak RSS (VmHWM) stays bounded.
    # under ASan every freed block waits in a quarantine (256 MB by default) before reuse, so RSS would
    # count what was allocated over time, not what is held: keep the quarantine small for this process
    asan = ":".join(o for o in (os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=1") if o)
    p, base, port = start(tmp, env={"ASAN_OPTIONS": asan})
    with p:
        h.wait_for(lambda: get(base + "/readyz")[0] == 200, what="ready")
        before = h.vm_kib(p.pid, "VmRSS")
        burst = b"GET /debug/vars HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
        clients = []
        try:
            for _ in range(30):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.setblocking(False)
                clients.append([s, 0])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(off < len(burst) for _, off in clients):
                for c in clients:  # send what the kernel takes; a paused server stops taking it
                    try:
                        c[1] += c[0].send(burst[c[1]:c[1] + 65536])
                    except (BlockingIOError, InterruptedError):
                        pass
                time.sleep(0.01)
            time.sleep(1)  # let the supervisor answer as far as it will
            during = h.vm_kib(p.pid, "VmRSS")
        finally:
            for s, _ in clients:
                s.close()
        assert get(base + "/healthz")[0] == 200
        peak = h.vm_kib(p.pid, "VmHWM")
        after = h.vm_kib(p.pid, "VmRSS")
        print(f"# RSS KiB: before {before}, with 30 clients {during}, after {after}, peak {peak}")
        assert max(peak, during) < RSS_BOUND_KIB, (before, during, after, peak)


if __name__ == "__main__":
    h.run([
        test_healthz_and_readyz,
        test_readyz_503_until_a_last_known_good,
        test_readyz_200_once_a_last_known_good_exists,
        test_readyz_follows_children_now_not_once,
        test_metrics_parse_with_prometheus_client,
        test_restart_counted_in_metrics,
        test_debug_vars_json,
        test_refusals_404_405_400_431,
        test_slow_request_is_cut_off,
        test_idle_connections_do_not_lock_out_healthz,
        test_pipelining_clients_that_never_read_do_not_grow_rss,
    ])
