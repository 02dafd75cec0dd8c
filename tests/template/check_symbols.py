#!/usr/bin/python3
"""Symbol hygiene of the template engine: every role links one binary, so a global the engine defines must
carry the tmpl_ prefix (or be one of the public names of template_cli.h), or it could clash with another
module's helper (the store's dict_set, a future eval...). Runs nm on the common library, looks at the objects
compiled from common/template/ and reports, in TAP, one line per object: not ok lists the offending names.
Not a check of the public API's shape, only of the names the linker sees.
Usage: check_symbols.py LIBHTIC_COMMON.a"""
import re
import subprocess
import sys

# Objects meson compiles from common/template/*.c are named common_template_<file>.c.o in the archive.
OBJECT_RE = re.compile(r"(?:^|[/:])common_template_[^/:]*\.o$")
# Public names that predate the prefix rule: template_cli.h's entry point (called by supervisor/main.c).
PUBLIC_EXCEPTIONS = {"template_cli_main"}


def allowed(sym):
    # Names starting with __ are reserved for the implementation: sanitizers and coverage instrumentation
    # (__odr_asan_gen_..., __sancov_...) add them; C code cannot legally define them.
    return sym.startswith("tmpl_") or sym in PUBLIC_EXCEPTIONS or sym.startswith("__")


def main():
    if len(sys.argv) != 2:
        print("usage: check_symbols.py LIBHTIC_COMMON.a", file=sys.stderr)
        return 2
    lib = sys.argv[1]
    # -A prefixes each line with archive:member, so symbols can be attributed to objects.
    res = subprocess.run(["nm", "-A", "-g", "--defined-only", lib], capture_output=True, text=True)
    if res.returncode != 0:
        print("Bail out! nm failed: " + res.stderr.strip())
        return 1
    objects = {}
    for line in res.stdout.splitlines():
        # "lib.a:dir/member.o:0000000000000010 T name" (the address may be blank for some kinds)
        fields = line.split()
        if len(fields) < 2:
            continue
        head = fields[0].rsplit(":", 1)[0]
        if not OBJECT_RE.search(head):
            continue
        sym = fields[-1]
        name = head.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        objects.setdefault(name, [])
        if not allowed(sym):
            objects[name].append(sym)
    # Objects without any global symbol do not appear in nm's output; the engine always has several.
    if not objects:
        print("Bail out! no common/template object found in " + lib)
        return 1
    print("1..%d" % len(objects))
    failed = 0
    for i, name in enumerate(sorted(objects), 1):
        bad = sorted(set(objects[name]))
        if bad:
            failed += 1
            print("not ok %d - %s defines unprefixed globals: %s" % (i, name, " ".join(bad)))
        else:
            print("ok %d - %s" % (i, name))
    if failed:
        print("# make them static, or prefix them tmpl_ (internal ones in tmpl_internal.h)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
