#!/usr/bin/env python3
"""The README's first command stays true: deploy/demo.sh runs the API simulator and three replicas, a leader
is elected, a graceful handoff happens, and everything stops cleanly when its time is up."""
import os
import re
import subprocess

import harness as h


def test_demo_runs_and_stops_cleanly(tmp):
    r = subprocess.run([os.path.join(h.SOURCE_ROOT, "deploy", "demo.sh"), "--duration", "2"],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, HTIC_BIN=h.HTIC_BIN))
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])
    assert re.search(r"replica-\d was elected", r.stdout), r.stdout
    assert re.search(r"replica-\d took over \d+ ms after the SIGTERM \(old leader exited with status 0\)",
                     r.stdout), r.stdout
    workdir = re.search(r"logs in (/\S+)/replica-\*/log", r.stdout).group(1)
    assert not os.path.exists(workdir), "demo left its temp dir behind"
    leftovers = subprocess.run(["pgrep", "-f", workdir], capture_output=True, text=True).stdout.split()
    assert not leftovers, leftovers


if __name__ == "__main__":
    h.run([test_demo_runs_and_stops_cleanly])
