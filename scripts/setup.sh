#!/usr/bin/env bash
# Installs everything tsshim needs on a Debian machine (run as root):
# containerd and the reference runtimes (runc, crun) from Debian, busybox-static
# for test images, the npm dependencies, the native core, the TypeScript build,
# and the shim binary on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(containerd runc crun busybox-static iproute2 kmod containernetworking-plugins libc6-dev gcc)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Exact versions from package-lock.json. Not `npm ci`: the registry reachable here lacks
# some optional per-platform packages of biome and buf (404), which `npm ci` counts as a
# lockfile out of sync while `npm install` skips them as the optional packages they are.
npm install --no-audit --no-fund
npm run build
# The pod sandbox's pause binary (static; the CRI tests pack it into a local image).
tools/pause/build.sh

# containerd finds io.containerd.tsshim.v2 as containerd-shim-tsshim-v2 on its PATH.
ln -sf "$(pwd)/bin/containerd-shim-tsshim-v2" /usr/local/bin/containerd-shim-tsshim-v2
