#!/usr/bin/python3
"""Template conformance: every case under tests/template/cases/*.cases is rendered by our
`haproxy-template-ic render` and by python3-jinja2 (the oracle, see jinja_oracle.py) and the outputs are
compared byte for byte. Prints TAP, one line per case.

Case file format (one or more cases per file):
    === case-name
    template source (lines up to the next '--- ' header)
    --- context
    {"json": "object"}            (optional, default {})
    --- file: other.j2            (optional extra templates for include/import)
    ...
    --- options: strict no-trim-blocks no-lstrip-blocks   (optional)
    --- expect: error             (both engines must fail; our message must name a line)
    --- differs: reason           (a deliberate difference from Jinja2, listed in docs/templates.md;
    --- ours                       our output is then checked against this section instead,
    --- ours: error                or we must fail with a message naming a line)
A section's text is its lines joined with newlines (no trailing newline); `\\n` is never interpreted.
Every case runs with the context loaded by one loader of the render CLI (--loader): `packed` (the default,
the packed text builder: the engine reads packed arrays and objects in place) or `json-c` (json-c trees);
the suite is registered once per loader, so every case proves both kinds of borrowed containers.
Usage: run_conformance.py [--loader packed|json-c] [--filter SUBSTRING] [-v]"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import jinja2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jinja_oracle  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("HTIC_BIN") or os.path.join(HERE, "..", "..", "build", "haproxy-template-ic")
CASE_TIMEOUT = 20  # seconds per render of our binary (ASan builds are slow)


def parse_cases(path):
    cases = []
    cur = None
    section = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for line in lines:
        if line.startswith("=== "):
            cur = {"name": line[4:].strip(), "file": os.path.basename(path), "sections": {"template": []},
                   "files": {}, "order": []}
            cases.append(cur)
            section = cur["sections"]["template"]
            continue
        if cur is None:
            continue
        if line.startswith("--- "):
            head = line[4:]
            key, _, val = head.partition(":")
            key, val = key.strip(), val.strip()
            if key == "file":
                section = cur["files"].setdefault(val, [])
            elif key == "ours" and val == "error":
                cur["ours_error"] = True
                section = []
            elif key in ("expect", "options", "differs"):
                cur[key] = val
                section = []
            else:
                section = cur["sections"].setdefault(key, [])
            continue
        section.append(line)
    for c in cases:
        c["template"] = "\n".join(c["sections"]["template"]).rstrip("\n") if c["sections"]["template"] else ""
        # keep the template exactly, except the blank lines that separate cases
        c["template"] = "\n".join(_trim_tail(c["sections"]["template"]))
        c["context"] = "\n".join(c["sections"].get("context", [])).strip() or "{}"
        c["ours"] = "\n".join(_trim_tail(c["sections"]["ours"])) if "ours" in c["sections"] else None
        c["files"] = {k: "\n".join(_trim_tail(v)) for k, v in c["files"].items()}
    return cases


def _trim_tail(lines):
    lines = list(lines)
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def run_jinja(case, d):
    opts = case.get("options", "").split()
    env = jinja_oracle.make_env(jinja2.FileSystemLoader(d), trim_blocks="no-trim-blocks" not in opts,
                                lstrip_blocks="no-lstrip-blocks" not in opts, strict="strict" in opts)
    try:
        ctx = json.loads(case["context"])
        return True, env.get_template("main.j2").render(**ctx).encode("utf-8")
    except Exception as e:  # any failure of the oracle is "fails"
        return False, ("%s: %s" % (type(e).__name__, e)).encode("utf-8", "replace")


LOADER = "packed"


def run_ours(case, d):
    opts = case.get("options", "").split()
    args = [BIN, "render", "--template", os.path.join(d, "main.j2"), "--context", os.path.join(d, "context.json"),
            "--context-loader", LOADER]
    args += ["--" + o for o in opts]
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CASE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, b"", b"timeout"
    return p.returncode, p.stdout, p.stderr


def check(case, tmp):
    d = tempfile.mkdtemp(dir=tmp)
    with open(os.path.join(d, "main.j2"), "w", encoding="utf-8") as f:
        f.write(case["template"])
    with open(os.path.join(d, "context.json"), "w", encoding="utf-8") as f:
        f.write(case["context"])
    for name, text in case["files"].items():
        p = os.path.join(d, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
    j_ok, j_out = run_jinja(case, d)
    rc, out, err = run_ours(case, d)
    if rc is None:
        return False, "our render timed out"
    if rc not in (0, 2):
        return False, "our render crashed (exit %s): %s" % (rc, err.decode("utf-8", "replace")[-500:])
    if case.get("expect") == "error":
        if j_ok:
            return False, "jinja2 did not fail (case is wrong): %r" % j_out
        if rc != 2:
            return False, "we did not fail; jinja2 said %s; we printed %r" % (j_out.decode(), out)
        if not re.search(rb":\d+(:\d+)?: ", err):
            return False, "our error does not name a line: %r" % err
        return True, "both fail; jinja2: %s; ours: %s" % (j_out.decode(), err.decode("utf-8", "replace").strip())
    if not j_ok:
        return False, "jinja2 failed on a case not marked 'expect: error': %s" % j_out.decode()
    if case.get("differs") and case.get("ours_error"):
        if rc != 2 or not re.search(rb":\d+(:\d+)?: ", err):
            return False, "deliberate difference: we should fail naming a line, got %s %r" % (rc, err)
        return True, "deliberate difference (%s): jinja2 %r, ours fails: %s" % (
            case["differs"], j_out, err.decode("utf-8", "replace").strip())
    if rc != 0:
        return False, "we failed: %s" % err.decode("utf-8", "replace").strip()
    if case.get("differs"):
        if out == j_out:
            return False, "marked as a deliberate difference but outputs are equal"
        want = case["ours"].encode("utf-8") if case["ours"] is not None else None
        if want is not None and out != want:
            return False, "deliberate difference: ours %r != expected %r" % (out, want)
        return True, "deliberate difference (%s): jinja2 %r, ours %r" % (case["differs"], j_out, out)
    if out != j_out:
        return False, "output differs:\n  jinja2: %r\n  ours:   %r" % (j_out, out)
    return True, ""


def main():
    global LOADER
    if "--loader" in sys.argv:
        LOADER = sys.argv[sys.argv.index("--loader") + 1]
    flt = None
    verbose = "-v" in sys.argv
    if "--filter" in sys.argv:
        flt = sys.argv[sys.argv.index("--filter") + 1]
    cases = []
    for path in sorted(glob.glob(os.path.join(HERE, "cases", "*.cases"))):
        cases.extend(parse_cases(path))
    if flt:
        cases = [c for c in cases if flt in c["name"] or flt in c["file"]]
    names = set()
    print("1..%d" % len(cases))
    failed = 0
    with tempfile.TemporaryDirectory(prefix="tmpl-conf-") as tmp:
        for i, c in enumerate(cases, 1):
            label = "%s/%s" % (c["file"][:-6], c["name"])
            if label in names:
                ok, why = False, "duplicate case name"
            else:
                names.add(label)
                ok, why = check(c, tmp)
            print("%s %d - %s" % ("ok" if ok else "not ok", i, label))
            if not ok:
                failed += 1
            if why and (not ok or verbose):
                for line in why.split("\n"):
                    print("# " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
