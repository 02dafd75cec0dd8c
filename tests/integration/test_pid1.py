#!/usr/bin/python3
"""The supervisor as PID 1, as in the container image (deploy/Dockerfile: ENTRYPOINT is the supervisor, no
init in front of it): run in its own PID namespace (`unshare --pid --fork --mount-proc`, needs root), it
reaps orphans that the kernel re-parents to it, and exits 0 on SIGTERM within the shutdown bound.

The orphan is made the way `kubectl exec` makes them: a process entered into the namespace from outside
(`nsenter --pid`) starts a background job and exits; the job is re-parented to the namespace's PID 1. When it
exits, PID 1 must reap it or it stays a zombie for the life of the pod. Skips (TAP) when not root."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SHUTDOWN_S = 20       # the config's shutdown_timeout (harness.config)
STOP_SLACK_S = 5
ORPHANS = 3


def kids(pid):
    try:
        return [int(k) for k in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def comm(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return None


def state(pid):
    try:
        return open(f"/proc/{pid}/stat").read().split(") ")[1][0]
    except OSError:
        return None


def ns_pid(pid):
    """The pid as seen inside its innermost PID namespace (last NSpid field)."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    return None


def start_pid1(tmp):
    cfg = h.config(tmp)
    p = h.Proc(["unshare", "--pid", "--fork", "--mount-proc", h.HTIC_BIN, "run", "--config", cfg], tmp,
               name="supervisor")
    sup = h.wait_for(lambda: next(iter(kids(p.pid)), None), timeout=10, what="the supervisor under unshare")
    h.wait_for(lambda: "all children up" in p.text(), timeout=30, what="all children up")
    return p, sup


def test_supervisor_as_pid1_reaps_orphans_and_exits_zero_on_sigterm(tmp):
    p, sup = start_pid1(tmp)
    try:
        assert ns_pid(sup) == 1, f"the supervisor is pid {ns_pid(sup)} in its namespace, not 1"
        # orphans: each `sleep` outlives the shell that started it, so the kernel hands it to PID 1
        out = subprocess.run(["nsenter", f"--target={sup}", "--pid", "--", "/bin/sh", "-c",
                              " ".join(["sleep 1 </dev/null >/dev/null 2>&1 & echo $!;"] * ORPHANS)],
                             capture_output=True, text=True, timeout=10, check=True).stdout.split()
        assert len(out) == ORPHANS, out
        adopted = set()

        def all_adopted():
            adopted.update(k for k in kids(sup) if comm(k) == "sleep")
            return len(adopted) == ORPHANS

        h.wait_for(all_adopted, timeout=5, what=f"{ORPHANS} orphans re-parented to PID 1 (saw {adopted})")
        # they exit after a second; reaped means gone from /proc, not a zombie child of PID 1
        h.wait_for(lambda: all(state(k) is None for k in adopted), timeout=10,
                   what="the exited orphans reaped (still in /proc: a zombie child of PID 1)")
        # the supervisor's own children are untouched by the reaping
        roles = [comm(k) for k in kids(sup)]
        assert "htic-elector" not in roles  # election is off in this config
        assert "htic-validator" in roles and "htic-deployer" in roles, roles
        assert "child crashed" not in p.text(), p.text()[-2000:]
        t0 = time.monotonic()
        os.kill(sup, signal.SIGTERM)
        rc = p.wait(timeout=SHUTDOWN_S + STOP_SLACK_S)
        took = time.monotonic() - t0
        assert rc == 0, f"exit {rc}: {p.text()[-2000:]}"
        print(f"# SIGTERM to exit as PID 1: {took * 1000:.0f} ms", flush=True)
    finally:
        p.stop()


def test_a_crashed_role_is_still_restarted_while_pid1_reaps(tmp):
    """A role killed from outside is the supervisor's own child: libuv sees its exit and it is restarted
    (the orphan reaping must not take that exit status away)."""
    p, sup = start_pid1(tmp)
    try:
        before = {comm(k): k for k in kids(sup)}
        os.kill(before["htic-renderer"], signal.SIGKILL)
        h.wait_for(lambda: "child crashed, restarting" in p.text(), timeout=10, what="the crash noticed")
        h.wait_for(lambda: any(comm(k) == "htic-renderer" and k != before["htic-renderer"] for k in kids(sup)),
                   timeout=10, what="the renderer restarted")
        os.kill(sup, signal.SIGTERM)
        assert p.wait(timeout=SHUTDOWN_S + STOP_SLACK_S) == 0
    finally:
        p.stop()


if __name__ == "__main__":
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        print("1..1\nok 1 - supervisor as PID 1 # SKIP needs root, unshare and nsenter (util-linux)")
        sys.exit(0)
    h.run([
        test_supervisor_as_pid1_reaps_orphans_and_exits_zero_on_sigterm,
        test_a_crashed_role_is_still_restarted_while_pid1_reaps,
    ])
