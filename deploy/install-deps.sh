#!/usr/bin/env bash
# Installs every Debian bookworm package the build, the tests and the local demo need.
# Idempotent: packages already present are skipped, so a second run does no network I/O.
set -euo pipefail

PACKAGES=(
  # build
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libcurl4-openssl-dev libssl-dev libjson-c-dev libyaml-dev libuv1-dev libhttp-parser-dev check libsubunit-dev
  # tests, sanitizers, coverage
  valgrind python3 python3-jinja2 python3-kubernetes python3-prometheus-client python3-yaml
  gcovr lcov curl socat netcat-openbsd openssl procps
  # deploy checks: promtool (alert rules), shellcheck (every shell script), systemd-analyze (the unit),
  # unshare/nsenter (the supervisor as PID 1)
  prometheus shellcheck systemd util-linux
  # the real things the controller drives
  haproxy
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: apt-get update"
$SUDO apt-get update -qq
# progress: one line per package set up (apt's own output, minus the noise); pipefail keeps apt's status
$SUDO apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}" \
  | awk '/^Setting up / { print "install-deps: " $0; fflush() }'
echo "install-deps: done"
