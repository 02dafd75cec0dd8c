#!/usr/bin/env python3
"""Adds up meson test logs into one closing line: "N passed, N failed".

Each meson test counts as its subtests when it speaks TAP (ok / not ok lines) and as one test otherwise.
A test meson saw fail but whose TAP lines all passed (a crash after the last check, a sanitizer report at
exit) counts one extra failure, so no failure is ever hidden by the arithmetic."""
import json
import re
import sys

TAP = re.compile(r"^(not ok|ok)\b", re.M)


def count(path):
    passed = failed = 0
    failures = []
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            ok = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
            marks = TAP.findall(t.get("stdout") or "")
            if marks:
                p = sum(1 for m in marks if m == "ok")
                n = len(marks) - p
                if not ok and n == 0:
                    n = 1
            else:
                p, n = (1, 0) if ok else (0, 1)
            passed += p
            failed += n
            if n:
                failures.append(t["name"])
    return passed, failed, failures


def main():
    total_p = total_f = 0
    for path in sys.argv[1:]:
        p, n, failures = count(path)
        print(f"{path}: {p} passed, {n} failed" + (f" ({', '.join(failures)})" if failures else ""))
        total_p += p
        total_f += n
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
