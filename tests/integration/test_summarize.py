#!/usr/bin/env python3
"""tests/summarize.py, the closing "N passed, N failed" line, on hand-made meson logs: a log with no test in
it, a missing log and skipped tests never count as passing, and a failure is never hidden."""
import json
import os
import subprocess
import sys

import harness as h

SUMMARIZE = os.path.join(h.SOURCE_ROOT, "tests", "summarize.py")


def log(tmp, name, entries):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        for e in entries:
            f.write(json.dumps(e) + "\n")
    return path


def summarize(*paths):
    r = subprocess.run([sys.executable, SUMMARIZE, *paths], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""


def test_tap_and_plain_tests_are_counted(tmp):
    p = log(tmp, "a.json", [
        {"name": "t1", "result": "OK", "stdout": "1..2\nok 1 - a\nok 2 - b\n"},
        {"name": "t2", "result": "OK", "stdout": "plain output\n"},
    ])
    assert summarize(p) == (0, "3 passed, 0 failed"), summarize(p)


def test_a_failed_test_with_only_passing_tap_lines_still_fails(tmp):
    p = log(tmp, "a.json", [{"name": "t1", "result": "FAIL", "stdout": "1..2\nok 1 - a\nok 2 - b\n"}])
    assert summarize(p) == (1, "2 passed, 1 failed"), summarize(p)


def test_an_empty_log_is_not_success(tmp):
    p = log(tmp, "empty.json", [])
    rc, last = summarize(p)
    assert rc == 1 and last == "0 passed, 1 failed", (rc, last)


def test_a_missing_log_is_a_failure_with_a_closing_line(tmp):
    rc, last = summarize(os.path.join(tmp, "never-written.json"))
    assert rc == 1 and last == "0 passed, 1 failed", (rc, last)


def test_a_corrupt_log_is_a_failure_with_a_closing_line(tmp):
    path = os.path.join(tmp, "cut.json")
    with open(path, "w") as f:
        f.write(json.dumps({"name": "t1", "result": "OK", "stdout": "1..1\nok 1\n"}) + "\n")
        f.write('{"name": "t2", "result": "FA')  # meson killed mid-write
    rc, last = summarize(path)
    assert rc == 1 and last == "1 passed, 1 failed", (rc, last)


def test_skipped_tests_are_not_counted_as_passed(tmp):
    p = log(tmp, "a.json", [
        {"name": "t1", "result": "SKIP", "stdout": ""},
        {"name": "t2", "result": "OK", "stdout": "1..2\nok 1 - a\nok 2 - b # SKIP no kubectl\n"},
    ])
    assert summarize(p) == (0, "1 passed, 0 failed, 2 skipped"), summarize(p)


def test_only_skips_is_not_success(tmp):
    p = log(tmp, "a.json", [{"name": "t1", "result": "SKIP", "stdout": ""}])
    rc, last = summarize(p)
    assert rc == 1 and last.startswith("0 passed, 1 failed"), (rc, last)


if __name__ == "__main__":
    h.run([
        test_tap_and_plain_tests_are_counted,
        test_a_failed_test_with_only_passing_tap_lines_still_fails,
        test_an_empty_log_is_not_success,
        test_a_missing_log_is_a_failure_with_a_closing_line,
        test_a_corrupt_log_is_a_failure_with_a_closing_line,
        test_skipped_tests_are_not_counted_as_passed,
        test_only_skips_is_not_success,
    ])
