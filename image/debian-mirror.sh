#!/usr/bin/env bash
# Print the Debian mirror this machine's apt uses (deb822 sources first, then sources.list).
set -euo pipefail
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { echo "debian-mirror: no Debian mirror in /etc/apt" >&2; exit 1; }
echo "$mirror"
