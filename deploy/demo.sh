#!/usr/bin/env bash
# The main job on the embedded default: builds the binary and the API simulator (ninja's [n/N] lines are the
# progress), then runs deploy/demo.py: the simulator seeded with sample Ingresses, Services, EndpointSlices
# and a TLS Secret, HTTP backends, a real HAProxy and three replicas under leader election rendering
# deploy/examples/ingress.yaml; Ctrl-C stops everything it started.
# Usage: deploy/demo.sh [--duration S] [--replicas N] [--kubeconfig FILE] [--namespace NS] [--no-failover] [--keep]
# HTIC_BIN=path skips the build and runs that binary (the simulator is then looked up next to it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${HTIC_BIN:-}" ]; then
  if [ ! -f build/build.ninja ]; then
    echo "demo: configuring the build (meson setup build)"
    meson setup build >/dev/null
  fi
  echo "demo: building build/haproxy-template-ic and the API simulator"
  ninja -C build haproxy-template-ic tests/kube-sim/kube-sim || { echo "demo: the build failed" >&2; exit 1; }
  export HTIC_BIN=$PWD/build/haproxy-template-ic
fi
exec /usr/bin/python3 deploy/demo.py "$@"
