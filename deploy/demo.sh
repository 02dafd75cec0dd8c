#!/usr/bin/env bash
# The main job on the embedded default: builds the binary, then runs the controller on this machine and
# shows it working. Everything it starts binds 127.0.0.1 on free ports and lives in a private temp dir;
# Ctrl-C (or --duration N seconds) stops it all in order.
#
# Usage: deploy/demo.sh [--duration SECONDS] [--replicas N]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=0
replicas=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --replicas) replicas=$2; shift 2 ;;
    *) echo "usage: $0 [--duration SECONDS] [--replicas N]" >&2; exit 2 ;;
  esac
done

if [ -n "${HTIC_BIN:-}" ]; then
  bin=$HTIC_BIN   # tests hand over the binary they built
else
  if [ ! -f build/build.ninja ]; then meson setup build >/dev/null; fi
  ninja -C build haproxy-template-ic >/dev/null
  bin=$PWD/build/haproxy-template-ic
fi

work=$(mktemp -d -t htic-demo-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for i in $(seq 1 "$replicas"); do
  port=$(free_port)
  mkdir -p "$work/replica-$i"
  cat > "$work/replica-$i/config.yaml" <<YAML
controller:
  leader_election:
    enabled: false
  http:
    address: 127.0.0.1
    port: $port
  run_dir: $work/replica-$i/run
haproxy:
  endpoints:
    - name: local
      master_socket: $work/haproxy-master.sock
haproxy_config:
  template: |
    global
      maxconn 100
YAML
  "$bin" run --config "$work/replica-$i/config.yaml" 2>"$work/replica-$i/log" &
  pids+=($!)
  ports[$i]=$port
done

for i in $(seq 1 "$replicas"); do
  url="http://127.0.0.1:${ports[$i]}"
  for _ in $(seq 1 100); do curl -fs "$url/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
  echo "replica $i: $url  (/healthz /readyz /metrics /debug/vars), log $work/replica-$i/log"
  echo "  readyz: $(curl -s "$url/readyz")"
  curl -s "$url/metrics" | grep -E '^haproxy_ic_(leader_election_is_leader|child_up)' | sed 's/^/  /'
done
echo "process tree:"
ps -o pid,ppid,comm,args --forest -p "$(pgrep -d, -f "$bin" || echo 1)" | sed 's/^/  /' | cut -c1-150

if [ "$duration" -gt 0 ]; then
  sleep "$duration"
else
  echo "running; Ctrl-C stops everything in order"
  while :; do sleep 3600; done
fi
