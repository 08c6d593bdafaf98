#!/usr/bin/env bash
# Run a command against a private Docker engine set up like a current Docker install:
# Engine 26 with the containerd image store and buildx, which attach a provenance
# attestation to every build unless told not to (the OCI index Lambda refuses). Debian
# 12's own docker.io (20.10) cannot attest, so it cannot show that failure; Debian 13's
# packages can, and run on Debian 12 unpacked into build/ (never installed; Debian 12's
# runc serves them). The engine and its state live under build/ and are stopped and
# removed afterwards. Exports DOCKER and DOCKER_NETWORK=host (the engine has no bridge).
#   image/with-current-docker.sh COMMAND [ARG...]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/engine.sh"
WORK=$(cd "$HERE/.." && pwd)/build/current-docker
ROOT=$WORK/root   # the unpacked packages
STATE=$WORK/state # this run's engine
PACKAGES=(docker.io docker-cli docker-buildx containerd)

# Debian 12's runc for the engine, and its registry for the tests that push to one.
if ! command -v runc >/dev/null || ! [ -x /usr/bin/docker-registry ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    runc docker-registry >/dev/null
fi

if [ ! -x "$ROOT/usr/sbin/dockerd" ] || [ ! -x "$ROOT/usr/bin/docker" ]; then
  echo "with-current-docker: fetching Debian 13's ${PACKAGES[*]}" >&2
  # A private apt configuration: the machine's own sources and state stay untouched.
  MIRROR=$("$HERE/debian-mirror.sh")
  APT=$WORK/apt
  rm -rf "$APT" "$ROOT"
  mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs" "$ROOT"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" \
    >"$APT/sources.list"
  OPTIONS=(-qq -o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
    -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
  apt-get "${OPTIONS[@]}" update
  (cd "$APT/debs" && apt-get "${OPTIONS[@]}" download "${PACKAGES[@]}")
  for deb in "$APT"/debs/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
  rm -rf "$APT"
fi

rm -rf "$STATE"
mkdir -p "$STATE/config/cli-plugins"
ln -s "$ROOT/usr/libexec/docker/cli-plugins/docker-buildx" "$STATE/config/cli-plugins/"
echo '{}' >"$STATE/config/config.json"
cat >"$STATE/daemon.json" <<'JSON'
{"features": {"containerd-snapshotter": true},
 "iptables": false, "ip6tables": false, "bridge": "none", "ip-forward": false, "ip-masq": false}
JSON
export DOCKER_HOST=unix://$STATE/docker.sock DOCKER_CONFIG=$STATE/config
export DOCKER=$ROOT/usr/bin/docker DOCKER_NETWORK=host
# Its containerd and shims come first on PATH; runc is Debian 12's (13's needs a newer libc).
PATH="$ROOT/usr/bin:$ROOT/usr/sbin:$PATH" "$ROOT/usr/sbin/dockerd" \
  --config-file "$STATE/daemon.json" --data-root "$STATE/data" --exec-root "$STATE/exec" \
  --pidfile "$STATE/dockerd.pid" --host "$DOCKER_HOST" >"$STATE/dockerd.log" 2>&1 &
DOCKERD_PID=$!
stop_engine() {
  kill "$DOCKERD_PID" 2>/dev/null || true
  wait "$DOCKERD_PID" 2>/dev/null || true
  # dockerd stops the containerd it started; make sure, by that containerd's own pidfile.
  local pidfile=$STATE/exec/containerd/containerd.pid
  if [ -s "$pidfile" ] && grep -qa "$STATE" "/proc/$(cat "$pidfile")/cmdline" 2>/dev/null; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
  fi
  unmount_below "$STATE"
  rm -rf "$STATE"
}
trap stop_engine EXIT INT TERM

wait_for_engine "$DOCKERD_PID" "$STATE/dockerd.log"
"$@"
