#!/usr/bin/env bash
# Let this machine run another architecture's Linux binaries, in containers and chroots
# too: Debian's qemu-user-static, registered with the kernel's binfmt_misc. Debian's
# registration has the F flag (the kernel opens the emulator now, so it is found from
# inside any root). Does nothing when already registered. Needs root.
#   image/emulation.sh ARCH      (arm64 or amd64, as dpkg names them)
set -euo pipefail
case "${1:?usage: emulation.sh ARCH}" in
  arm64) NAME=qemu-aarch64 ;;
  amd64) NAME=qemu-x86_64 ;;
  *) echo "emulation: no emulator for $1" >&2; exit 2 ;;
esac
BINFMT=/proc/sys/fs/binfmt_misc
[ "$(dpkg --print-architecture)" = "$1" ] && exit 0

if [ ! -r "/usr/lib/binfmt.d/$NAME.conf" ]; then
  echo "emulation: installing Debian's qemu-user-static" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    qemu-user-static >/dev/null
fi
mountpoint -q "$BINFMT" || mount -t binfmt_misc binfmt_misc "$BINFMT"
if [ ! -e "$BINFMT/$NAME" ]; then
  grep -v '^#' "/usr/lib/binfmt.d/$NAME.conf" >"$BINFMT/register"
fi
