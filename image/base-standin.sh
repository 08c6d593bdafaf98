#!/usr/bin/env bash
# Local stand-ins for the Dockerfile's base image, for machines that cannot pull it (no
# route to Docker Hub) but reach a Debian mirror. Never used for what users deploy.
#   image/base-standin.sh TAG [PLATFORM]
# Makes two images for PLATFORM (linux/amd64, the default, or linux/arm64) from one
# debootstrap of Debian 13 with its python3 (3.13, as the real base; Debian's lives in
# /usr/bin, python.org's in /usr/local/bin). A foreign platform's root is made under
# emulation (qemu-user-static and binfmt_misc, image/emulation.sh):
#   TAG         the base: Debian 13 minbase, trimmed like Docker's official slim images
#   TAG-build   the same, trusting this machine's extra CA certificates (where TLS to the
#               package index is intercepted); only the Dockerfile's build stage uses it,
#               so no certificate of this machine reaches the image that runs.
# Both are remade only when this script changes; their file systems are kept in build/ for
# other engines on this machine. Needs root, debootstrap and $DOCKER.
set -euo pipefail
TAG=${1:?usage: base-standin.sh TAG [PLATFORM]}
PLATFORM=${2:-linux/amd64}
ARCH=${PLATFORM#linux/}
case "$ARCH" in amd64 | arm64) ;; *) echo "base-standin: no stand-in for $PLATFORM" >&2; exit 2 ;; esac
DOCKER=${DOCKER:-docker}
STAMP=$( (cat "$0"; echo "$ARCH") | sha256sum | cut -c1-16)
CACHE=$(cd "$(dirname "$0")/.." && pwd)/build/standin-$STAMP

current() { [ "$("$DOCKER" image inspect --format '{{index .Config.Labels "linreg.standin"}}' "$1" 2>/dev/null)" = "$STAMP" ]; }
if current "$TAG" && current "$TAG-build"; then
  exit 0
fi

# Debian 13 minbase with python3, as base.tar and (with the extra CAs) build.tar.
make_file_systems() {
  command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  SOURCES=/etc/apt/sources.list.d/debian.sources
  MIRROR=$("$(dirname "$0")/debian-mirror.sh")
  ROOTFS=$(mktemp -d /var/tmp/linreg-standin.XXXXXX)
  trap 'rm -rf "$ROOTFS"' EXIT

  if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then
    "$(dirname "$0")/emulation.sh" "$ARCH"
  fi
  echo "base-standin: debootstrap Debian 13 ($ARCH) into $ROOTFS" >&2
  debootstrap --variant=minbase --arch="$ARCH" \
    --include=python3,python3-venv,python-is-python3,ca-certificates,netbase,tzdata \
    trixie "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || { tail -20 "$ROOTFS.log" >&2; exit 1; }
  rm -f "$ROOTFS.log"

  # As in Docker's Debian images: the host's apt sources (deb822) for Debian 13, no package
  # caches or indexes in layers, no documentation, man pages or translations.
  rm -f "$ROOTFS/etc/apt/sources.list"
  if [ -r "$SOURCES" ]; then
    sed 's/bookworm/trixie/g' "$SOURCES" >"$ROOTFS/etc/apt/sources.list.d/debian.sources"
  else
    printf 'Types: deb\nURIs: %s\nSuites: trixie trixie-updates\nComponents: main\nSigned-By: %s\n' \
      "$MIRROR" /usr/share/keyrings/debian-archive-keyring.gpg \
      >"$ROOTFS/etc/apt/sources.list.d/debian.sources"
  fi
  cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
  echo 'Acquire::Languages "none";' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker"
  find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/* \
    "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
    "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/* "$ROOTFS"/root/.cache

  mkdir -p "$CACHE"
  tar -C "$ROOTFS" -cf "$CACHE/base.tar" .
  # Only for the build stage: trust the extra CAs this machine trusts, pip included.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
    chroot "$ROOTFS" update-ca-certificates >/dev/null 2>&1
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$ROOTFS/etc/pip.conf"
  fi
  tar -C "$ROOTFS" -cf "$CACHE/build.tar" .
}

# Each root becomes a one-layer image by `docker load`, not `docker import`: Debian 12's
# engine (20.10) records an import as the host's platform whatever --platform says, and
# its BuildKit then looks for a foreign-platform base on Docker Hub. The config names the
# platform as the official images do (arm64 with variant v8).
load_as() {
  local dir diff variant=""
  dir=$(mktemp -d)
  ln -s "$2" "$dir/layer.tar"
  diff=$(sha256sum "$2" | cut -d' ' -f1)
  [ "$ARCH" = arm64 ] && variant=',"variant":"v8"'
  cat >"$dir/config.json" <<JSON
{"architecture":"$ARCH"$variant,"os":"linux",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8"],
           "Cmd":["python3"],"Labels":{"linreg.standin":"$STAMP"}},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff"]}}
JSON
  echo "[{\"Config\":\"config.json\",\"RepoTags\":[\"$1\"],\"Layers\":[\"layer.tar\"]}]" \
    >"$dir/manifest.json"
  tar -C "$dir" --dereference -cf - manifest.json config.json layer.tar | "$DOCKER" load >/dev/null
  rm -rf "$dir"
}

if [ ! -s "$CACHE/build.tar" ]; then
  make_file_systems
fi
load_as "$TAG" "$CACHE/base.tar"
load_as "$TAG-build" "$CACHE/build.tar"
echo "base-standin: made $TAG and $TAG-build" >&2
