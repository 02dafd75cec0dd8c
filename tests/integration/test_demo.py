#!/usr/bin/env python3
"""The README's first command stays true: deploy/demo.sh brings the controller up, shows it ready, and
stops everything cleanly when its time is up."""
import os
import re
import subprocess

import harness as h


def test_demo_runs_and_stops_cleanly(tmp):
    r = subprocess.run([os.path.join(h.SOURCE_ROOT, "deploy", "demo.sh"), "--duration", "2"],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, HTIC_BIN=h.HTIC_BIN))
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])
    assert "readyz: ok" in r.stdout, r.stdout
    workdir = re.search(r"log (/\S+)/replica-1/log", r.stdout).group(1)
    assert not os.path.exists(workdir), "demo left its temp dir behind"
    leftovers = subprocess.run(["pgrep", "-f", workdir], capture_output=True, text=True).stdout.split()
    assert not leftovers, leftovers


if __name__ == "__main__":
    h.run([test_demo_runs_and_stops_cleanly])
