#!/usr/bin/env bash
# The main job on the embedded default: builds the binary and the API simulator, then runs deploy/demo.py
# (the simulator plus three replicas electing a leader, a graceful handoff, Ctrl-C to stop).
# Usage: deploy/demo.sh [--duration SECONDS] [--replicas N]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${HTIC_BIN:-}" ]; then
  if [ ! -f build/build.ninja ]; then meson setup build >/dev/null; fi
  ninja -C build haproxy-template-ic tests/kube-sim/kube-sim >/dev/null
  export HTIC_BIN=$PWD/build/haproxy-template-ic
fi
exec /usr/bin/python3 deploy/demo.py "$@"
