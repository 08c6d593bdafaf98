#!/usr/bin/env bash
# The README's quick start on a fresh Debian 13 (trixie, Python 3.13): a debootstrapped
# root holding only what the README's prerequisites list for Debian 13, a clean clone of
# this checkout, then the README's two commands, `make demo` and `make test`, inside it.
#   .ci/debian13-quickstart.sh
# Needs root and debootstrap (installed when missing). The root is removed afterwards.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
# What the README tells a Debian 13 user to install (its Prerequisites); keep them equal:
# tests/docs/test_readme.py compares this line with the README's.
PACKAGES="git make npm python3-venv libgomp1 libquadmath0"

command -v debootstrap >/dev/null || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
MIRROR=$("$REPO/image/debian-mirror.sh")
ROOT=$(mktemp -d /var/tmp/linreg-debian13.XXXXXX)
cleanup() {
  for mount in dev/pts dev proc sys; do
    mountpoint -q "$ROOT/$mount" && umount -l "$ROOT/$mount"
  done
  rm -rf --one-file-system "$ROOT"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

echo "debian13: debootstrap trixie into $ROOT" >&2
debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 \
  || { tail -20 "$ROOT.log" >&2; rm -f "$ROOT.log"; exit 1; }
rm -f "$ROOT.log"
for mount in proc sys dev dev/pts; do
  mount --bind "/$mount" "$ROOT/$mount"
done
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

in_root() {
  chroot "$ROOT" env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    "$@"
}

# The user's part: the README's packages.
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  $PACKAGES >/dev/null

# This CI machine's part, not the user's: TLS to the package registries is intercepted
# here, so the root trusts the machine's extra CA certificates.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    ca-certificates >/dev/null
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  in_root update-ca-certificates >/dev/null 2>&1
fi

git clone --quiet "$REPO" "$ROOT/root/linreg"
echo "debian13: $(in_root python3 --version), make demo" >&2
in_root sh -c 'cd /root/linreg && make demo'
echo "debian13: make test" >&2
in_root sh -c 'cd /root/linreg && make test'
echo "debian13: quick start passed" >&2
