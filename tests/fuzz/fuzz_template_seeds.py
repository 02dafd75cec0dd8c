#!/usr/bin/python3
"""Writes a seed corpus for fuzz_template: one file per conformance case (template, then "\\n#ctx\\n" and
its JSON context when it has one). Usage: fuzz_template_seeds.py OUT_DIR"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "template"))
import run_conformance  # noqa: E402


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    n = 0
    cases_dir = os.path.join(HERE, "..", "template", "cases")
    for name in sorted(os.listdir(cases_dir)):
        if not name.endswith(".cases"):
            continue
        for c in run_conformance.parse_cases(os.path.join(cases_dir, name)):
            data = c["template"] + ("\n#ctx\n" + c["context"] if c["context"] != "{}" else "")
            with open(os.path.join(out, "seed-%04d" % n), "w", encoding="utf-8") as f:
                f.write(data)
            n += 1
    print("%d seeds written to %s" % (n, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
