#!/usr/bin/python3
"""shellcheck on every shell script in the repository, at shellcheck's default severity:
- files ending in .sh or .bash and files whose first line is a sh/bash/dash shebang (git ls-files, links
  skipped; .ci/run, tests/run.sh are extensionless);
- the scripts embedded in other files: `[sh|bash, -c, SCRIPT]` commands of the containers in
  deploy/kubernetes/*.yaml and in the Helm chart rendered with its default values (test_deploy_helm's
  renderer), and the Dockerfile's RUN lines (/bin/sh -c, so checked as sh).
Each script is one TAP test; an empty list fails (the scan would be broken). Skips (TAP) when shellcheck
(Debian package shellcheck, in deploy/install-deps.sh) is absent."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_deploy_helm as helm  # noqa: E402  (renders the chart)
import test_deploy_image as image  # noqa: E402  (reads the Dockerfile)

import yaml  # noqa: E402

SHELLCHECK = shutil.which("shellcheck")
SHEBANG = re.compile(rb"^#!\s*\S*?(/env\s+)?\b(ba|da)?sh\b")


def shell_scripts():
    files = subprocess.run(["git", "ls-files"], cwd=h.SOURCE_ROOT, capture_output=True, text=True,
                           check=True).stdout.split("\n")
    out = []
    for f in files:
        p = os.path.join(h.SOURCE_ROOT, f)
        if not f or os.path.islink(p) or not os.path.isfile(p):
            continue
        with open(p, "rb") as fh:
            first = fh.readline(128)
        if f.endswith((".sh", ".bash")) or SHEBANG.match(first):
            out.append(f)
    return out


def container_scripts(objs, where):
    """[(name, shell, script)] of every container command or args of the form [sh|bash, -c, SCRIPT]."""
    out = []
    for o in objs:
        spec = (o.get("spec") or {}).get("template", {}).get("spec", {})
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            argv = (c.get("command") or []) + (c.get("args") or [])
            if len(argv) >= 3 and os.path.basename(argv[0]) in ("sh", "bash", "dash") and argv[1] == "-c":
                out.append((f"{where}:{o['metadata']['name']}/{c['name']}",
                            "bash" if argv[0].endswith("bash") else "sh", argv[2]))
    return out


def embedded_scripts():
    """[(name, shell, script)]: the manifests' and the chart's container scripts, the Dockerfile's RUNs."""
    out = []
    kdir = os.path.join(h.SOURCE_ROOT, "deploy", "kubernetes")
    for name in sorted(os.listdir(kdir)):
        if name.endswith(".yaml"):
            with open(os.path.join(kdir, name)) as f:
                out += container_scripts([d for d in yaml.safe_load_all(f) if d], f"deploy/kubernetes/{name}")
    out += container_scripts(helm.render_chart(), "helm")
    out += [(f"deploy/Dockerfile:RUN{n}", "sh", args)
            for n, (_, op, args) in enumerate(image.instructions()) if op == "RUN" and not args.startswith("[")]
    return out


def check_embedded(name, shell, script):
    def t(tmp):
        p = subprocess.run([SHELLCHECK, "--shell", shell, "-"], input=script, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, f"{name}:\n{script}\n{p.stdout}{p.stderr}"
    t.__name__ = "test_shellcheck_" + re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
    return t


def test_the_scan_finds_the_embedded_scripts(tmp):
    names = [n for n, _, _ in embedded_scripts()]
    assert any(n.startswith("deploy/kubernetes/haproxy-deployment.yaml:haproxy/dataplane") for n in names), names
    assert any(n.startswith("helm:") for n in names) and any(n.startswith("deploy/Dockerfile:") for n in names)
    bad = check_embedded("a quoting mistake", "sh", "f=$1\nrm -rf $f/*\n")
    try:
        bad(tmp)
    except AssertionError:
        return
    raise AssertionError("shellcheck passed an unquoted expansion")


def check(path):
    def t(tmp):
        p = subprocess.run([SHELLCHECK, "--external-sources", path], cwd=h.SOURCE_ROOT, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
    t.__name__ = "test_shellcheck_" + re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return t


def test_the_scan_finds_the_known_scripts(tmp):
    found = shell_scripts()
    for known in ("deploy/install-deps.sh", "tests/run.sh", ".ci/run"):
        assert known in found, found


if __name__ == "__main__":
    if not SHELLCHECK:
        print("1..1\nok 1 - shellcheck # SKIP shellcheck not found (Debian package shellcheck, deploy/install-deps.sh)")
        sys.exit(0)
    if not os.path.isdir(os.path.join(h.SOURCE_ROOT, ".git")) and not os.path.isfile(os.path.join(h.SOURCE_ROOT, ".git")):
        print("1..1\nok 1 - shellcheck # SKIP not a git checkout (the script list comes from git ls-files)")
        sys.exit(0)
    h.run([test_the_scan_finds_the_known_scripts, test_the_scan_finds_the_embedded_scripts] +
          [check(f) for f in shell_scripts()] + [check_embedded(*s) for s in embedded_scripts()])
