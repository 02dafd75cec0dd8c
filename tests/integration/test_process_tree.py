#!/usr/bin/env python3
"""The supervisor's process tree, run for real: every role appears, a crashed worker is restarted alone,
SIGTERM stops everything in order within the bound, killing the supervisor leaves no child behind, and
systemd's notify protocol sees READY, WATCHDOG and STOPPING."""
import os
import signal
import socket
import time

import harness as h

WORKERS = ["discovery", "reconciler", "renderer", "validator", "executor"]


def start(tmp, env=None):
    return h.Proc([h.HTIC_BIN, "run", "--config", h.config(tmp)], tmp, env=env, name="supervisor")


def all_up(p):
    kids = p.children()
    return kids if all(r in kids for r in WORKERS + ["deployer"]) else None


def test_every_role_runs_as_a_child_with_its_title(tmp):
    with start(tmp) as p:
        kids = h.wait_for(lambda: all_up(p), what="all roles")
        for role, pid in kids.items():
            # the title is set first thing after exec: poll for it rather than race the child
            h.wait_for(lambda: open(f"/proc/{pid}/comm").read().strip() == f"htic-{role}", timeout=5,
                       what=f"{role} titled htic-{role}")
        assert "elector" not in kids, "election disabled: no elector expected"


def test_disabled_mode_deployer_acts_under_its_term(tmp):
    with start(tmp) as p:
        h.wait_for(lambda: all_up(p), what="all roles")
        journal = os.path.join(tmp, "run", "deployer.journal")
        entries = h.wait_for(lambda: (lambda e: e if len(e) >= 3 else None)(h.read_journal(journal)),
                             what="journal entries")
        assert entries[0]["action"] == "ready" and entries[0]["term"] == "disabled", entries[0]
        assert all(e["term"] == "disabled" for e in entries)


def test_killed_worker_is_restarted_and_others_untouched(tmp):
    with start(tmp) as p:
        before = h.wait_for(lambda: all_up(p), what="all roles")
        os.kill(before["renderer"], signal.SIGKILL)
        after = h.wait_for(lambda: (lambda k: k if k.get("renderer") not in (None, before["renderer"])
                                    and len(k) == len(before) else None)(p.children()),
                           what="renderer restarted")
        for role in before:
            if role != "renderer":
                assert after[role] == before[role], f"{role} was restarted too"
        text = p.text()
        assert "child crashed, restarting" in text and "signal 9" in text, text[-2000:]


def test_restarted_child_uses_the_validated_snapshot_not_the_edited_file(tmp):
    """A mounted ConfigMap changes on disk under a running pod: children restarted later must run the
    config the supervisor validated, not whatever the file holds now."""
    with start(tmp) as p:
        before = h.wait_for(lambda: all_up(p), what="all roles")
        with open(os.path.join(tmp, "config.yaml"), "w") as f:
            f.write("controller: [this is not a valid config\n")
        os.kill(before["renderer"], signal.SIGKILL)
        h.wait_for(lambda: (lambda k: k if k.get("renderer") not in (None, before["renderer"]) else None)(
            p.children()), what="renderer restarted")
        h.wait_for(lambda: p.text().count("child started") >= len(before) + 1, what="restart logged")
        time.sleep(1.5)  # a child refusing its config would exit now and be restarted again
        text = p.text()
        assert "config refused" not in text, text[-3000:]
        assert text.count("child crashed, restarting") == 1, text[-3000:]


def test_sigterm_stops_everything_in_order_with_exit_zero(tmp):
    with start(tmp) as p:
        kids = h.wait_for(lambda: all_up(p), what="all roles")
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(timeout=25)
        took = time.monotonic() - t0
        assert rc == 0, rc
        assert took < 20, took
        for pid in kids.values():
            h.wait_for(lambda: not h.alive(pid), timeout=2, what=f"child {pid} gone")
        text = p.text()
        lines = text.splitlines()
        dep = next(i for i, line in enumerate(lines) if "child exited" in line and "child=deployer" in line)
        first_worker = min(i for i, line in enumerate(lines) if "child exited" in line and "child=deployer" not in line)
        assert dep < first_worker, "deployer must stop before the workers"
        assert "shutdown complete" in text


def test_killing_the_supervisor_leaves_no_child(tmp):
    with start(tmp) as p:
        kids = h.wait_for(lambda: all_up(p), what="all roles")
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=5)
        for role, pid in kids.items():
            h.wait_for(lambda: not h.alive(pid), timeout=5, what=f"{role} killed by PDEATHSIG")


def test_second_sigterm_escalates_to_sigkill(tmp):
    with start(tmp) as p:
        kids = h.wait_for(lambda: all_up(p), what="all roles")
        # freeze the deployer so it cannot answer the shutdown request
        os.kill(kids["deployer"], signal.SIGSTOP)
        os.kill(p.pid, signal.SIGTERM)
        h.wait_for(lambda: "stopping the deployer" in p.text(), what="deployer stage")
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(timeout=5)
        assert rc == 1, rc
        for pid in kids.values():
            h.wait_for(lambda: not h.alive(pid), timeout=3, what=f"child {pid} gone")


def test_hung_child_is_killed_at_the_stage_bound(tmp):
    """A deployer that never answers shutdown is killed when its stage's bound passes; exit is still 0."""
    with start(tmp) as p:
        kids = h.wait_for(lambda: all_up(p), what="all roles")
        os.kill(kids["deployer"], signal.SIGSTOP)
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(timeout=25)
        assert rc == 0, rc
        assert time.monotonic() - t0 < 20
        assert "shutdown stage bound passed" in p.text()


def test_systemd_notify_ready_watchdog_stopping(tmp):
    path = os.path.join(tmp, "notify.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.settimeout(10)
    try:
        with start(tmp, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}) as p:
            seen = []
            deadline = time.monotonic() + 10
            while not ({"READY=1", "WATCHDOG=1"} <= set(seen)) and time.monotonic() < deadline:
                seen += srv.recv(4096).decode().split("\n")
            assert "READY=1" in seen and "WATCHDOG=1" in seen, seen
            os.kill(p.pid, signal.SIGTERM)
            # bounded: WATCHDOG=1 keeps arriving, so the recv timeout alone would never end this loop
            deadline = time.monotonic() + 10
            while "STOPPING=1" not in seen and time.monotonic() < deadline:
                seen += srv.recv(4096).decode().split("\n")
            assert "STOPPING=1" in seen, seen[-10:]
            assert p.wait(timeout=25) == 0
    finally:
        srv.close()


def test_watchdog_withheld_while_a_child_is_frozen(tmp):
    path = os.path.join(tmp, "notify.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.settimeout(0.2)
    try:
        with start(tmp, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}) as p:
            kids = h.wait_for(lambda: all_up(p), what="all roles")
            os.kill(kids["validator"], signal.SIGSTOP)
            time.sleep(3.5)  # past the heartbeat freshness bound (3 s)
            while True:  # drain what was sent before the freeze became visible
                try:
                    srv.recv(4096)
                except socket.timeout:
                    break
            got = []
            t_end = time.monotonic() + 2
            while time.monotonic() < t_end:
                try:
                    got += srv.recv(4096).decode().split("\n")
                except socket.timeout:
                    pass
            assert "WATCHDOG=1" not in got, got
            os.kill(kids["validator"], signal.SIGCONT)
    finally:
        srv.close()


if __name__ == "__main__":
    h.run([
        test_every_role_runs_as_a_child_with_its_title,
        test_disabled_mode_deployer_acts_under_its_term,
        test_killed_worker_is_restarted_and_others_untouched,
        test_restarted_child_uses_the_validated_snapshot_not_the_edited_file,
        test_sigterm_stops_everything_in_order_with_exit_zero,
        test_killing_the_supervisor_leaves_no_child,
        test_second_sigterm_escalates_to_sigkill,
        test_hung_child_is_killed_at_the_stage_bound,
        test_systemd_notify_ready_watchdog_stopping,
        test_watchdog_withheld_while_a_child_is_frozen,
    ])
