#!/usr/bin/python3
"""The systemd notify protocol as the unit (deploy/systemd/haproxy-template-ic.service, Type=notify,
WatchdogSec) relies on it: the real binary with NOTIFY_SOCKET pointing at a datagram socket this test reads
and WATCHDOG_USEC set sends READY=1, then WATCHDOG=1, then STOPPING=1 once SIGTERMed, and exits 0.

READY=1 is sent once every child said hello and the pipeline has synced with a last-known-good (the
moment /readyz first answers 200); the default config renders a configuration `haproxy -c` accepts, so the
first render becomes that LKG. The test checks READY=1 comes after the LKG is on disk."""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

READY_WAIT_S = 60       # a first LKG includes a haproxy -c run; generous on a loaded 2-core machine
STOP_WAIT_S = 25        # shutdown_timeout 20s plus slack


def recv_until(srv, seen, want, timeout, after=0):
    """Reads datagrams into seen (one entry per line, in arrival order) until want is among seen[after:]."""
    deadline = time.monotonic() + timeout
    while want not in seen[after:]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {want} within {timeout}s; got {seen[-12:]}")
        srv.settimeout(left)
        try:
            data = srv.recv(4096)
        except socket.timeout:
            continue
        seen += [line for line in data.decode().split("\n") if line]


def test_ready_then_watchdog_then_stopping_and_exit_zero(tmp):
    path = os.path.join(tmp, "notify.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    try:
        cfg = h.config(tmp)
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
        with h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp, env=env, name="supervisor") as p:
            seen = []
            recv_until(srv, seen, "READY=1", READY_WAIT_S)
            ready_at = seen.index("READY=1")
            # READY follows the first last-known-good, which the executor persists before announcing it
            assert os.path.exists(os.path.join(tmp, "run", "lkg.json")), "READY=1 before any LKG"
            # a watchdog ping after READY (every WATCHDOG_USEC/2 while every child is heard from)
            recv_until(srv, seen, "WATCHDOG=1", 10, after=ready_at)
            assert "STOPPING=1" not in seen, seen
            os.kill(p.pid, signal.SIGTERM)
            recv_until(srv, seen, "STOPPING=1", 10)
            stopping_at = seen.index("STOPPING=1")
            watchdog_after_ready = seen.index("WATCHDOG=1", ready_at)
            assert ready_at < watchdog_after_ready < stopping_at, seen
            assert seen.count("READY=1") == 1, seen
            assert p.wait(timeout=STOP_WAIT_S) == 0
    finally:
        srv.close()


if __name__ == "__main__":
    h.run([
        test_ready_then_watchdog_then_stopping_and_exit_zero,
    ])
