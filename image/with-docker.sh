#!/usr/bin/env bash
# Run a command with a Docker engine: the one that already answers, or else (Debian, root)
# Debian's docker.io, installed if missing and started privately for this command alone,
# then stopped by its PID. Exports DOCKER (the client to use) to the command, and
# DOCKER_NETWORK=host when the engine has no bridge network.
#   image/with-docker.sh COMMAND [ARG...]
set -euo pipefail
. "$(dirname "$0")/engine.sh"

DOCKER=${CDK_DOCKER:-docker}
if "$DOCKER" info >/dev/null 2>&1; then
  export DOCKER
  exec "$@"
fi

if [ "$(id -u)" != 0 ] || [ ! -r /etc/debian_version ]; then
  echo "with-docker: no Docker engine answers; start one (or run as root on Debian)" >&2
  exit 1
fi
if ! [ -x /usr/sbin/dockerd ]; then
  echo "with-docker: installing Debian's docker.io" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

# A socket of our own, so this engine never takes the place of a system-wide one. No bridge
# and no iptables rules: builds and containers use the host's network (--network host).
# Debian's own client matches its engine (20.10) and has BuildKit built in, the builder
# current Docker uses by default.
RUN_DIR=/run/linreg-docker
export DOCKER=/usr/bin/docker DOCKER_BUILDKIT=1 DOCKER_NETWORK=host
export DOCKER_HOST=unix://$RUN_DIR/docker.sock
if "$DOCKER" info >/dev/null 2>&1; then
  exec "$@"  # started by another command here, which will stop it
fi
mkdir -p "$RUN_DIR"
/usr/sbin/dockerd --host "$DOCKER_HOST" --pidfile "$RUN_DIR/dockerd.pid" \
  --exec-root "$RUN_DIR/exec" --iptables=false --ip6tables=false --bridge=none \
  >"$RUN_DIR/dockerd.log" 2>&1 &
DOCKERD_PID=$!
stop_dockerd() {
  kill "$DOCKERD_PID" 2>/dev/null || true
  wait "$DOCKERD_PID" 2>/dev/null || true
  unmount_below "$RUN_DIR"
}
trap stop_dockerd EXIT INT TERM

wait_for_engine "$DOCKERD_PID" "$RUN_DIR/dockerd.log"
"$@"
