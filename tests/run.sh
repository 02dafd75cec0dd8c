#!/usr/bin/env bash
# The whole test suite, as CI runs it: a normal build (gcc) and a sanitizer build (clang, ASan+UBSan, no
# recovery), each running every meson test; then one closing line "N passed, N failed".
# Usage: tests/run.sh [--quick]   (--quick: normal build only)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
quick=0
[ "${1:-}" = "--quick" ] && quick=1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
logs=()
status=0

setup() { # dir, extra meson args...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
  fi
  ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { tail -50 "$dir.ninja.log"; return 1; }
}

run_suite() { # dir, extra meson test args...
  local dir=$1; shift
  # a log left by an earlier run must not be summarized as this run's if meson test writes none
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --print-errorlogs "$@" 2>&1 | grep -vE '^ *[0-9]+/[0-9]+ .* OK ' | tail -60
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  logs+=("$dir/meson-logs/testlog.json")
}

echo "== normal build (gcc, -Werror)"
if setup build; then run_suite build; else status=1; fi

if [ $quick -eq 0 ]; then
  echo "== sanitizer build (clang, ASan+UBSan, -fno-sanitize-recover=all)"
  if CC=clang setup build-san -Db_sanitize=address,undefined -Db_lundef=false \
       -Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all; then
    run_suite build-san
  else
    status=1
  fi
fi

if [ ${#logs[@]} -gt 0 ]; then
  /usr/bin/python3 tests/summarize.py "${logs[@]}" || status=1
else
  echo "0 passed, 1 failed"
fi
exit $status
