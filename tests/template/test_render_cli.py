#!/usr/bin/python3
"""`haproxy-template-ic render`: the exact interface other checks rely on. Bad arguments, unreadable or
invalid inputs and template errors give exit status 2, one message on stderr and nothing on stdout;
options reach the engine; includes resolve relative to the template's directory. TAP output."""
import json
import os
import subprocess
import sys
import tempfile

BIN = os.environ.get("HTIC_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build", "haproxy-template-ic")
checks = []


def check(name):
    def deco(fn):
        checks.append((name, fn))
        return fn
    return deco


def render(*args):
    p = subprocess.run([BIN, "render", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def expect_fail(args, needle):
    rc, out, err = render(*args)
    assert rc == 2, (rc, out, err)
    assert out == "", out
    assert needle in err, err
    assert err.count("\n") >= 1


def main():
    with tempfile.TemporaryDirectory(prefix="render-cli-") as d:
        def write(name, text):
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
            return p

        tpl = write("sub/main.j2", "{% include 'part.j2' %}|{{ x }}\n  {% if true %}\n  y\n  {% endif %}\n")
        write("sub/part.j2", "part")
        ctx = write("ctx.json", json.dumps({"x": 1}))
        bad = write("bad.j2", "line\n{{ oops( }}")
        undef = write("undef.j2", "{{ nope }}")

        @check("renders with includes relative to the template's directory")
        def _():
            assert render("--template", tpl, "--context", ctx) == (0, "part|1\n  y\n", "")

        @check("--no-trim-blocks and --no-lstrip-blocks reach the engine")
        def _():
            rc, out, _ = render("--template", tpl, "--context", ctx, "--no-trim-blocks", "--no-lstrip-blocks")
            assert rc == 0 and out == "part|1\n  \n  y\n  ", repr(out)

        @check("--strict makes undefined variables an error")
        def _():
            assert render("--template", undef, "--context", ctx)[0] == 0
            expect_fail(["--template", undef, "--context", ctx, "--strict"], "'nope' is undefined")

        @check("a syntax error names template, line and column and shows a caret")
        def _():
            expect_fail(["--template", bad, "--context", ctx], "bad.j2:2:")
            rc, out, err = render("--template", bad, "--context", ctx)
            assert "^" in err and "{{ oops( }}" in err, err

        @check("missing arguments and unknown options")
        def _():
            expect_fail(["--context", ctx], "--template FILE is required")
            expect_fail(["--template", tpl], "--context FILE.json is required")
            expect_fail(["--template", tpl, "--context", ctx, "--bogus"], "--bogus")

        @check("missing files")
        def _():
            expect_fail(["--template", os.path.join(d, "nope.j2"), "--context", ctx], "template not found")
            expect_fail(["--template", tpl, "--context", os.path.join(d, "nope.json")], "nope.json")

        @check("invalid JSON, non-object JSON and trailing data are refused")
        def _():
            expect_fail(["--template", tpl, "--context", write("a.json", "{oops")], "a.json")
            expect_fail(["--template", tpl, "--context", write("b.json", "[1]")], "must be a JSON object")
            expect_fail(["--template", tpl, "--context", write("c.json", '{"a": 1} x')], "trailing characters")

        @check("a render error from fail() is reported with its line")
        def _():
            f = write("fail.j2", "a\n{{ fail('no backends for ' ~ x) }}")
            expect_fail(["--template", f, "--context", ctx], "fail.j2:2:")
            rc, out, err = render("--template", f, "--context", ctx)
            assert "no backends for 1" in err, err

        print("1..%d" % len(checks))
        failed = 0
        for i, (name, fn) in enumerate(checks, 1):
            try:
                fn()
                print("ok %d - %s" % (i, name))
            except Exception as e:  # report and go on
                failed += 1
                print("not ok %d - %s" % (i, name))
                print("# %r" % (e,))
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
