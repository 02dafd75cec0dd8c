#!/usr/bin/python3
"""Benchmark (prints, never asserts on time): what the stand-in itself costs at 100 and 1k backends: a raw
push (POST incl. haproxy -c), 202 to a confirmed reload, a version GET, a runtime server PUT. The numbers go
into docs/performance.md ("Data Plane API stand-in")."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpsim import B, Backend, DataplaneSim  # noqa: E402

ROUNDS = 5


def config(port, backend_port, n, tag):
    s = ("# %s\nglobal\n  log stderr format raw local0 notice\ndefaults\n  mode http\n  timeout connect 1s\n"
         "  timeout client 5s\n  timeout server 5s\nfrontend fe\n  bind 127.0.0.1:%d\n  default_backend be_0\n"
         % (tag, port))
    for i in range(n):
        s += "backend be_%d\n  server s1 127.0.0.1:%d\n  server s2 127.0.0.1:%d disabled\n" % (
            i, backend_port, backend_port)
    return s


def ms(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


def main():
    be = Backend("x")
    try:
        with DataplaneSim(reload_delay_ms=100) as dp:
            for n in (100, 1000):
                push, reload = [], []
                for r in range(ROUNDS):
                    text = config(dp.http_port, be.port, n, "round %d" % r)
                    t0 = time.monotonic()
                    st, h, _ = dp.push(text)
                    t1 = time.monotonic()
                    o = dp.wait_reload(h["reload-id"], 60)
                    push.append(t1 - t0)
                    reload.append(time.monotonic() - t1)
                    assert st == 202 and o["status"] == "succeeded", (st, o)
                print("backends=%d bytes=%d push p50=%.0f ms max=%.0f ms; 202->succeeded p50=%.0f ms max=%.0f ms"
                      % (n, len(text), ms(push, .5), ms(push, 1), ms(reload, .5), ms(reload, 1)))
            for what, fn in (("GET version", lambda i: dp.request("GET", B + "/configuration/version")),
                             ("runtime server PUT", lambda i: dp.request(
                                 "PUT", B + "/runtime/backends/be_5/servers/s2", {"weight": i % 5 + 1}))):
                t0 = time.monotonic()
                for i in range(200):
                    fn(i)
                print("%s: %.2f ms each (200 sequential, one connection each)" % (
                    what, (time.monotonic() - t0) / 200 * 1000))
    finally:
        be.close()


if __name__ == "__main__":
    main()
