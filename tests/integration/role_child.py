"""Runs one role of the binary (`--role NAME`) as a child of the test, on a socketpair the test holds, so a
test reads the role's IPC messages (docs/ipc.md) and sends it some without a supervisor in between.

    with RoleChild("discovery", cfg_path, tmp) as r:
        msg = r.next("targets")            # the next message of that type (others are kept too)
        r.send({"type": "shutdown"})
Killed on exit if still running; its stderr is in <tmp>/<role>.log (shown by harness.run on failure)."""
import json
import os
import queue
import socket
import struct
import subprocess
import threading
import time

import harness as h

# A message the role must send soon; generous because the machine is shared (never asserted as a time).
WAIT_S = 30


class RoleChild:
    def __init__(self, role, config_path, tmpdir, env=None):
        self.role = role
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fd = child.fileno()
        self.log_path = os.path.join(tmpdir, f"{role}.log")
        self.log = open(self.log_path, "wb")
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen([h.HTIC_BIN, "--role", role, "--ipc-fd", str(fd), "--parent", str(os.getpid()),
                                   "--config", config_path], stdout=self.log, stderr=subprocess.STDOUT, env=e,
                                  stdin=subprocess.DEVNULL, pass_fds=[fd])
        child.close()
        self.q = queue.Queue()
        self.all = []          # every message received, in order
        self.bytes_max = 0     # largest frame body seen
        self.closed = threading.Event()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        buf = b""
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    break
                buf += data
                while len(buf) >= 4:
                    n = struct.unpack(">I", buf[:4])[0]
                    if len(buf) < 4 + n:
                        break
                    body, buf = buf[4:4 + n], buf[4 + n:]
                    self.bytes_max = max(self.bytes_max, n)
                    msg = json.loads(body)
                    self.all.append(msg)
                    self.q.put(msg)
        except OSError:
            pass
        self.closed.set()
        self.q.put(None)

    def recv(self, timeout=WAIT_S):
        """The next message, whatever its type."""
        return self._get(time.monotonic() + timeout, timeout, "message")

    def next(self, type_, timeout=WAIT_S, pred=None):
        """The next message of type_ (matching pred, if given); messages of other types are skipped."""
        return self._first(lambda m: m.get("type") == type_ and (pred is None or pred(m)), timeout,
                           f"{type_} message")

    def next_any(self, types, timeout=WAIT_S, what="", diag=None):
        """The next message whose type is in types."""
        return self._first(lambda m: m.get("type") in types, timeout, f"{'/'.join(types)} message ({what})", diag)

    def _first(self, match, timeout, what, diag=None):
        deadline = time.monotonic() + timeout
        while True:
            m = self._get(deadline, timeout, what, diag)
            if match(m):
                return m

    def _get(self, deadline, timeout, what, diag=None):
        try:
            m = self.q.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"{self.role}: no {what} within {timeout}s {diag() if diag else ''}") from None
        if m is None:
            self.q.put(None)  # a later read sees the close too, instead of waiting out its timeout
            raise AssertionError(f"{self.role}: channel closed while waiting for {what}")
        return m

    def of_type(self, type_):
        return [m for m in list(self.all) if m.get("type") == type_]

    def send(self, msg):
        self.sock.sendall(h.ipc_frame(msg))

    def shutdown(self, timeout=WAIT_S):
        """Asks the role to stop and returns its exit status."""
        self.send({"type": "shutdown"})
        return self.p.wait(timeout=timeout)

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def close(self):
        """Kills the role if it still runs; closes our end of the channel and its log."""
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.sock.close()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
