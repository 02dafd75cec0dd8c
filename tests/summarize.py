#!/usr/bin/env python3
"""Adds up meson test logs into one closing line: "N passed, N failed" (", N skipped" when some were).

Each meson test counts as its subtests when it speaks TAP (ok / not ok lines) and as one test otherwise.
A test meson saw fail but whose TAP lines all passed (a crash after the last check, a sanitizer report at
exit) counts one extra failure, so no failure is ever hidden by the arithmetic. Skipped tests (meson's SKIP,
TAP's "# SKIP") did not run: they are counted apart, never as passed. A log that is missing, unreadable or
holds no test that ran counts as one failure: zero tests is not a success."""
import json
import re
import sys

TAP = re.compile(r"^(not ok|ok)\b(.*)$", re.M)
SKIP = re.compile(r"#\s*skip", re.I)


def count(path):
    passed = failed = skipped = 0
    failures = []
    try:
        with open(path) as f:
            lines = [line for line in f if line.strip()]
    except OSError as e:
        return 0, 1, 0, [f"log not readable: {e.strerror}"]
    for line in lines:
        try:
            t = json.loads(line)
        except ValueError:
            failed += 1
            failures.append("log line not readable")
            continue
        ok = t["result"] in ("OK", "EXPECTEDFAIL")
        marks = TAP.findall(t.get("stdout") or "")
        if t["result"] == "SKIP" and not marks:
            skipped += 1
            continue
        if marks:
            s = sum(1 for m, rest in marks if m == "ok" and SKIP.search(rest))
            p = sum(1 for m, _ in marks if m == "ok") - s
            n = len(marks) - p - s
            if not ok and t["result"] != "SKIP" and n == 0:
                n = 1
        else:
            s = 0
            p, n = (1, 0) if ok else (0, 1)
        passed += p
        failed += n
        skipped += s
        if n:
            failures.append(t["name"])
    if passed == 0 and failed == 0:
        failed = 1
        failures.append("no test ran")
    return passed, failed, skipped, failures


def line(p, n, s):
    return f"{p} passed, {n} failed" + (f", {s} skipped" if s else "")


def main():
    total_p = total_f = total_s = 0
    for path in sys.argv[1:]:
        p, n, s, failures = count(path)
        print(f"{path}: {line(p, n, s)}" + (f" ({', '.join(failures)})" if failures else ""))
        total_p += p
        total_f += n
        total_s += s
    if not sys.argv[1:]:
        total_f = 1
    print(line(total_p, total_f, total_s))
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
