#!/usr/bin/python3
"""The bare-metal files in deploy/systemd/ and deploy/examples/bare-metal.yaml: `systemd-analyze verify`
accepts the unit (and reports a broken copy, so the check can fail), the unit has the settings the
supervisor's shutdown and notify behaviour need, its ExecReload line makes the real binary reload its
config, the sysusers and tmpfiles files create the user and make HAProxy's files writable for its group (run
with --root into a temp dir), the haproxy.service drop-in's master socket options work with Debian's HAProxy,
and the example config validates and fits the unit's writable paths.

No systemd runs here (no PID 1 systemd in the container), so the unit is never started: the sandboxing
(ProtectSystem, SystemCallFilter, ...) is checked by systemd-analyze, not exercised."""
import configparser
import grp
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

import yaml  # noqa: E402

SYSTEMD_DIR = os.path.join(h.SOURCE_ROOT, "deploy", "systemd")
UNIT = os.path.join(SYSTEMD_DIR, "haproxy-template-ic.service")
EXAMPLE = os.path.join(h.SOURCE_ROOT, "deploy", "examples", "bare-metal.yaml")
ANALYZE = shutil.which("systemd-analyze")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CMD_TIMEOUT_S = 60
DEFAULT_SHUTDOWN_S = 20  # controller.shutdown_timeout's default (docs/configuration.md)


def unit():
    """The unit as {key: [values]} of its [Service] section (systemd keys repeat)."""
    out = {}
    section = None
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            k, _, v = line.partition("=")
            out.setdefault((section, k), []).append(v)
    return out


def one(u, key, section="Service"):
    v = u.get((section, key))
    assert v, f"{key} missing from [{section}]"
    return v[-1]


def seconds(s):
    m = re.fullmatch(r"(\d+)(s|min)?", s)
    assert m, s
    return int(m.group(1)) * (60 if m.group(2) == "min" else 1)


def fake_root(tmp):
    """A root for systemd-analyze --root: the system's unit files, the binary and kill where the unit wants
    them, and our unit."""
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "usr", "bin"))
    os.makedirs(os.path.join(root, "etc", "systemd", "system"))
    os.makedirs(os.path.join(root, "lib", "systemd"))
    shutil.copytree("/lib/systemd/system", os.path.join(root, "lib", "systemd", "system"), symlinks=True)
    shutil.copy(h.HTIC_BIN, os.path.join(root, "usr", "bin", "haproxy-template-ic"))
    os.makedirs(os.path.join(root, "bin"), exist_ok=True)
    shutil.copy(shutil.which("kill") or "/bin/kill", os.path.join(root, "bin", "kill"))
    return root


def verify(root, name):
    return subprocess.run([ANALYZE, "verify", f"--root={root}", name], capture_output=True, text=True,
                          timeout=CMD_TIMEOUT_S)


def test_systemd_analyze_verify_accepts_the_unit_and_reports_a_broken_copy(tmp):
    if not ANALYZE:
        raise AssertionError("systemd-analyze missing (Debian package systemd, deploy/install-deps.sh)")
    root = fake_root(tmp)
    shutil.copy(UNIT, os.path.join(root, "etc", "systemd", "system"))
    p = verify(root, "haproxy-template-ic.service")
    assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), p.stdout + p.stderr
    with open(UNIT) as f:
        broken = f.read().replace("KillMode=mixed", "KillMode=bogus")
    h.write(os.path.join(root, "etc", "systemd", "system", "broken.service"), broken)
    p = verify(root, "broken.service")
    assert "kill mode" in (p.stdout + p.stderr), p.stdout + p.stderr


def test_the_unit_has_what_shutdown_notify_and_hardening_need(tmp):
    u = unit()
    assert one(u, "Type") == "notify"
    assert seconds(one(u, "WatchdogSec")) > 2  # the supervisor pings at half; heartbeats are judged at 3 s
    assert one(u, "KillSignal") == "SIGTERM"
    assert one(u, "KillMode") == "mixed"   # SIGTERM to the supervisor only: it stops the children in order
    with open(EXAMPLE) as f:
        shutdown = seconds(yaml.safe_load(f)["controller"]["shutdown_timeout"])
    assert seconds(one(u, "TimeoutStopSec")) > max(shutdown, DEFAULT_SHUTDOWN_S)
    assert one(u, "User") not in ("", "root", "0")
    assert "-HUP" in one(u, "ExecReload") and "$MAINPID" in one(u, "ExecReload")
    assert one(u, "EnvironmentFile").lstrip("-").startswith("/etc/default/")
    for k, v in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                 ("CapabilityBoundingSet", ""), ("SystemCallArchitectures", "native")]:
        assert one(u, k) == v, (k, one(u, k))
    assert "@system-service" in u[("Service", "SystemCallFilter")]


def test_the_example_validates_and_its_paths_are_writable_under_the_unit(tmp):
    p = subprocess.run([h.HTIC_BIN, "validate-config", EXAMPLE], capture_output=True, text=True,
                       timeout=CMD_TIMEOUT_S)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(EXAMPLE) as f:
        cfg = yaml.safe_load(f)
    u = unit()
    writable = one(u, "ReadWritePaths").split()
    runtime = "/run/" + one(u, "RuntimeDirectory")
    assert cfg["controller"]["run_dir"] == runtime, (cfg["controller"]["run_dir"], runtime)
    hp = cfg["haproxy"]
    for path in [os.path.dirname(hp["config_file"]), hp["maps_dir"], hp["ssl_certs_dir"], hp["general_dir"]]:
        assert any(path == w or path.startswith(w + "/") for w in writable), (path, writable)
    assert hp["endpoints"][0]["master_socket"] == "/run/haproxy-master.sock"  # Debian's haproxy.service
    assert cfg["controller"]["http"]["address"] == "127.0.0.1"


def test_exec_reload_line_makes_the_running_binary_reload(tmp):
    cfg = h.config(tmp)
    with h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp, name="supervisor") as p:
        h.wait_for(lambda: "all children up" in p.text(), timeout=30, what="all children up")
        line = one(unit(), "ExecReload").replace("$MAINPID", str(p.pid))
        subprocess.run(line.split(), check=True, timeout=CMD_TIMEOUT_S)
        # the file is as it was: the reload finds it unchanged (an edited one would be "config reloaded")
        h.wait_for(lambda: 'msg="config unchanged" trigger=SIGHUP' in p.text(), timeout=10, what="reload seen")
        os.kill(p.pid, signal.SIGTERM)
        assert p.wait(timeout=25) == 0


def test_sysusers_and_tmpfiles_make_the_user_and_writable_haproxy_dirs(tmp):
    root = os.path.join(tmp, "root")
    for d in ("etc/haproxy", "usr/lib/sysusers.d", "usr/lib/tmpfiles.d"):
        os.makedirs(os.path.join(root, d))
    h.write(os.path.join(root, "etc/haproxy/haproxy.cfg"), "global\n")
    shutil.copy(os.path.join(SYSTEMD_DIR, "haproxy-template-ic.sysusers"),
                os.path.join(root, "usr/lib/sysusers.d/haproxy-template-ic.conf"))
    shutil.copy(os.path.join(SYSTEMD_DIR, "haproxy-template-ic.tmpfiles"),
                os.path.join(root, "usr/lib/tmpfiles.d/haproxy-template-ic.conf"))
    subprocess.run(["systemd-sysusers", f"--root={root}"], check=True, capture_output=True, timeout=CMD_TIMEOUT_S)
    subprocess.run(["systemd-tmpfiles", f"--root={root}", "--create", "haproxy-template-ic.conf"], check=True,
                   capture_output=True, timeout=CMD_TIMEOUT_S)
    users = {ln.split(":")[0]: ln.split(":") for ln in h.open_text(os.path.join(root, "etc/passwd")).splitlines()}
    groups = {ln.split(":")[0]: ln.split(":") for ln in h.open_text(os.path.join(root, "etc/group")).splitlines()}
    u = unit()
    assert one(u, "User") in users and one(u, "Group") in groups
    gid = int(groups[one(u, "Group")][2])
    assert users[one(u, "User")][6] == "/usr/sbin/nologin"
    for rel in ("etc/haproxy", "etc/haproxy/haproxy.cfg", "etc/haproxy/maps", "etc/haproxy/ssl",
                "etc/haproxy/general"):
        st = os.stat(os.path.join(root, rel))
        assert st.st_gid == gid and st.st_mode & stat.S_IWGRP, (rel, st.st_gid, oct(st.st_mode))
    assert not os.stat(os.path.join(root, "etc/haproxy/ssl")).st_mode & stat.S_IROTH  # private keys


def master_cli(path, command):
    """The master CLI's answer to one command, or None while it does not listen yet."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(5)
            c.connect(path)
            c.sendall(command)
            c.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    return got
                got += chunk
    except (ConnectionRefusedError, FileNotFoundError):
        return None


def test_master_socket_drop_in_options_work_with_debians_haproxy(tmp):
    """The drop-in's EXTRAOPTS (with a group that exists here instead of ours) on a real master-worker
    HAProxy: the master socket gets mode 660 and that group, and answers the master CLI."""
    with open(os.path.join(SYSTEMD_DIR, "haproxy-master-socket.conf")) as f:
        m = re.search(r'"EXTRAOPTS=(-S \S+)"', f.read())
    assert m, "no EXTRAOPTS in the drop-in"
    short = tempfile.mkdtemp(prefix="htic-ms-", dir="/tmp")  # HAProxy takes socket paths of 97 bytes at most
    sock = os.path.join(short, "master.sock")
    group = grp.getgrgid(os.getgid()).gr_name if os.getgid() != 0 else "nogroup"
    opts = m.group(1).replace("/run/haproxy-master.sock", sock).replace("haproxy-template-ic", group).split()
    cfg = h.write(os.path.join(tmp, "haproxy.cfg"), f"""global
  pidfile {tmp}/haproxy.pid
defaults
  mode http
  timeout connect 1s
  timeout client 1s
  timeout server 1s
frontend f
  bind 127.0.0.1:{h.free_port()}
  http-request return status 200
""")
    with h.Proc([HAPROXY, "-W", "-db", "-f", cfg] + opts, tmp, name="haproxy"):
        h.wait_for(lambda: os.path.exists(sock), timeout=10, what="master socket")
        st = os.stat(sock)
        assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
        assert st.st_gid == grp.getgrnam(group).gr_gid, (st.st_gid, group)
        got = h.wait_for(lambda: master_cli(sock, b"show proc\n"), timeout=10, what="master CLI answer")
        assert b"master" in got, got
    shutil.rmtree(short, ignore_errors=True)


if __name__ == "__main__":
    tests = [
        test_the_unit_has_what_shutdown_notify_and_hardening_need,
        test_the_example_validates_and_its_paths_are_writable_under_the_unit,
        test_exec_reload_line_makes_the_running_binary_reload,
        test_sysusers_and_tmpfiles_make_the_user_and_writable_haproxy_dirs,
        test_master_socket_drop_in_options_work_with_debians_haproxy,
    ]
    if ANALYZE:
        tests.insert(0, test_systemd_analyze_verify_accepts_the_unit_and_reports_a_broken_copy)
    else:
        print("# systemd-analyze not found: the verify check is skipped", flush=True)
    h.run(tests)
