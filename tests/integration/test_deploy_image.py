#!/usr/bin/python3
"""deploy/Dockerfile, checked without docker (none here, so the image is never built by the tests): two
Debian bookworm stages; the runtime stage non-root, with STOPSIGNAL SIGTERM and the supervisor as the
exec-form ENTRYPOINT (PID 1); every package known to Debian; the build stage's packages among those
deploy/install-deps.sh installs for CI; and the build stage's commands, run here with temp paths, building
and installing a binary whose every linked library the runtime stage installs."""
import json
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DOCKERFILE = os.path.join(h.SOURCE_ROOT, "deploy", "Dockerfile")
CMD_TIMEOUT_S = 600   # the build stage's meson build, on a shared 2-core machine
BINARY = "/usr/bin/haproxy-template-ic"
CONFIG_PATH = "/etc/haproxy-template-ic/config.yaml"   # where deploy/kubernetes mounts the ConfigMap


def instructions():
    """[(stage index, INSTRUCTION, args)] with continuation lines joined and comments dropped."""
    out, stage, buf = [], -1, ""
    with open(DOCKERFILE) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            line, buf = buf + line, ""
            op, _, args = line.strip().partition(" ")
            if op.upper() == "FROM":
                stage += 1
            out.append((stage, op.upper(), args.strip()))
    return out


def stages():
    return [(i, a) for i, op, a in instructions() if op == "FROM"]


def apt_packages(stage):
    pkgs = []
    for i, op, args in instructions():
        if i == stage and op == "RUN":
            for cmd in args.split("&&"):
                words = shlex.split(cmd)
                if "apt-get" in words and "install" in words:
                    pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


def last(stage, op):
    vals = [a for i, o, a in instructions() if i == stage and o == op]
    assert vals, f"no {op} in stage {stage}"
    return vals[-1]


def test_two_bookworm_stages_build_then_runtime(tmp):
    st = stages()
    assert len(st) == 2, st
    assert re.fullmatch(r"debian:bookworm(-slim)? AS build", st[0][1]), st[0]
    assert re.fullmatch(r"debian:bookworm(-slim)? AS runtime", st[1][1]), st[1]
    copies = [a for i, o, a in instructions() if i == 1 and o == "COPY"]
    assert f"--from=build /out{BINARY} {BINARY}" in copies, copies


def test_runtime_is_non_root_stops_on_sigterm_and_runs_the_supervisor_as_pid1(tmp):
    user = last(1, "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, user  # numeric, so runAsNonRoot can check it
    assert f"--uid {uid}" in " ".join(a for i, o, a in instructions() if i == 1 and o == "RUN")
    assert last(1, "STOPSIGNAL") == "SIGTERM"
    entry = json.loads(last(1, "ENTRYPOINT"))   # exec form: the binary itself is PID 1, no shell
    assert entry == [BINARY, "run", "--config", CONFIG_PATH], entry
    assert not [a for i, o, a in instructions() if i == 1 and o == "CMD"]


def test_every_package_is_known_to_debian(tmp):
    for stage in (0, 1):
        pkgs = apt_packages(stage)
        assert pkgs, f"stage {stage} installs nothing"
        for p in pkgs:
            r = subprocess.run(["apt-cache", "show", "--no-all-versions", p], capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0 and f"Package: {p}" in r.stdout, f"{p}: {r.stderr.strip()}"


def runtime_packages_cover(binary):
    """Every library binary links comes from a package the runtime stage installs."""
    needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(["objdump", "-p", binary], capture_output=True,
                                                          text=True, check=True).stdout)
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    runtime = set(apt_packages(1)) | {"libc6"}   # libc6 is in every Debian base image
    for soname in needed:
        path = os.path.realpath(paths[soname])
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if owner.returncode != 0:  # usrmerge: dpkg knows the /lib spelling
            owner = subprocess.run(["dpkg", "-S", path.replace("/usr/lib/", "/lib/", 1)], capture_output=True,
                                   text=True)
        pkg = owner.stdout.split(":")[0]
        assert pkg in runtime, f"{soname} comes from {pkg!r}, which the runtime stage does not install"
    assert "haproxy" in runtime   # the validator runs haproxy -c


def test_build_packages_are_ones_ci_installs(tmp):
    deps = h.open_text(os.path.join(h.SOURCE_ROOT, "deploy", "install-deps.sh"))
    listed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", deps[deps.index("PACKAGES=("):deps.index(")\n")]))
    missing = [p for p in apt_packages(0) if p not in listed and p != "libc6-dev"]  # libc6-dev: gcc's dependency
    assert not missing, f"the image builds with packages CI never installs: {missing}"


def test_the_build_stage_builds_a_binary_whose_libraries_the_runtime_stage_installs(tmp):
    """The build stage's commands, run here with temp paths (not the test build: a sanitizer build links
    other libraries than the image's release build)."""
    run = [a for i, o, a in instructions() if i == 0 and o == "RUN" and "meson setup" in a]
    assert len(run) == 1, run
    build, out = os.path.join(tmp, "build"), os.path.join(tmp, "out")
    cmd = run[0].replace("/build", build).replace("DESTDIR=/out", f"DESTDIR={out}")
    p = subprocess.run(["bash", "-c", "set -e; " + cmd], cwd=h.SOURCE_ROOT, capture_output=True, text=True,
                       timeout=CMD_TIMEOUT_S)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    installed = out + BINARY
    v = subprocess.run([installed, "version"], capture_output=True, text=True, timeout=10)
    assert v.returncode == 0 and v.stdout.strip(), v.stdout + v.stderr
    # -Dtests=false: nothing but the binary is installed
    files = [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs]
    assert files == [installed], files
    runtime_packages_cover(installed)


if __name__ == "__main__":
    h.run([
        test_two_bookworm_stages_build_then_runtime,
        test_runtime_is_non_root_stops_on_sigterm_and_runs_the_supervisor_as_pid1,
        test_every_package_is_known_to_debian,
        test_build_packages_are_ones_ci_installs,
        test_the_build_stage_builds_a_binary_whose_libraries_the_runtime_stage_installs,
    ])
