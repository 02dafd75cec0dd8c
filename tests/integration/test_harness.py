#!/usr/bin/env python3
"""The integration harness itself: Proc.stop kills what the test started and nothing else, even when a pid it
once saw as a child has since been reused by an unrelated process (the machine is shared)."""
import os
import signal
import subprocess
import sys

import harness as h


def test_stop_leaves_a_process_that_reused_a_known_child_pid_alone(tmp):
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        p = h.Proc(["sleep", "0.1"], tmp, name="short")
        p.wait(timeout=5)
        p.known_children.add(stranger.pid)  # as if a child of p exited and its pid went to `stranger`
        p.stop()
        try:
            stranger.wait(timeout=0.5)
            raise AssertionError("Proc.stop killed a process it did not start")
        except subprocess.TimeoutExpired:
            pass
    finally:
        stranger.kill()
        stranger.wait()


def test_stop_kills_a_child_that_has_no_death_signal(tmp):
    # a child written the way the supervisor writes them (--role, --parent PID) but without PDEATHSIG:
    # only Proc.stop can end it
    script = f'{sys.executable} -c "import time; time.sleep(30)" --role fake --parent $$ & wait'
    p = h.Proc(["/bin/sh", "-c", script], tmp, name="shell")
    kids = {}
    try:
        with p:
            kids = h.wait_for(lambda: (lambda k: k if "fake" in k else None)(p.children()), what="the child")
        h.wait_for(lambda: not h.alive(kids["fake"]), timeout=5, what="child killed by Proc.stop")
    finally:
        if kids and h.alive(kids["fake"]):
            os.kill(kids["fake"], signal.SIGKILL)


if __name__ == "__main__":
    h.run([
        test_stop_leaves_a_process_that_reused_a_known_child_pid_alone,
        test_stop_kills_a_child_that_has_no_death_signal,
    ])
