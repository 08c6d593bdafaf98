# Sourced by with-docker.sh and with-current-docker.sh: what both do with the private
# Docker engine they start.

# Wait until the engine ($DOCKER) answers; fail with its log if it died first.
#   wait_for_engine PID LOG
wait_for_engine() {
  for _ in $(seq 60); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    kill -0 "$1" 2>/dev/null || { cat "$2" >&2; return 1; }
    sleep 1
  done
  "$DOCKER" info >/dev/null
}

# Unmount what a stopped engine leaves mounted below DIR (its network namespace, with
# the containerd image store its data root too), deepest first.
#   unmount_below DIR
unmount_below() {
  awk -v dir="$1" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r |
    xargs -r -n1 umount -l
}
