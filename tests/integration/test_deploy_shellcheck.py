#!/usr/bin/python3
"""shellcheck on every shell script in the repository: files ending in .sh and files whose first line is a
sh/bash/dash shebang (git ls-files, links skipped), at shellcheck's default severity. Each script is one TAP
test; an empty list fails (the scan would be broken). Skips (TAP) when shellcheck (Debian package
shellcheck, in deploy/install-deps.sh) is absent."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

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
        if f.endswith(".sh") or SHEBANG.match(first):
            out.append(f)
    return out


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
    h.run([test_the_scan_finds_the_known_scripts] + [check(f) for f in shell_scripts()])
