#!/usr/bin/env bash
# make test-hdf5-1.14: build h5tier against HDF5 1.14 (Debian trixie's
# libhdf5-dev 1.14.5) and run the whole test suite there, including the VFD
# plugin test (tests/shm/test_vfd_plugin.sh: stock 1.14 h5dump, h5ls and
# h5py given the driver by HDF5_DRIVER / HDF5_PLUGIN_PATH).
#
# The trixie root is made once with debootstrap from the Debian mirror apt
# uses on this machine, and cached (H5TIER_TRIXIE_CACHE, default
# /var/cache/h5tier): reruns reuse the root and the build tree.  The source
# is bind-mounted read-only; everything runs in a private mount namespace
# (unshare -m) with its own /dev/shm, /tmp and /proc, so nothing is left
# mounted and no shm object leaks to the host.  Needs root.
#   scripts/test-hdf5-1.14.sh [ctest args...]
set -euo pipefail
if [ "${1:-}" = --inside ]; then
  # Run by the part below, inside the chroot: build, then the suite.
  shift
  jobs=$1; shift
  cmake -S /h5tier-src -B /h5tier-build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DH5TIER_WERROR=ON >/dev/null
  cmake --build /h5tier-build -j"$jobs" >/h5tier-build/build.log 2>&1 ||
    { grep -E -B2 -A6 'error|warning' /h5tier-build/build.log | head -60; echo "test-hdf5-1.14: build failed"; exit 1; }
  echo "== built against HDF5 $(dpkg-query -W -f='${Version}' libhdf5-dev), $(gcc --version | head -1)"
  cd /h5tier-build
  exec ctest "$@"
fi
src=$(cd "$(dirname "$0")/.." && pwd)
cache=${H5TIER_TRIXIE_CACHE:-/var/cache/h5tier}
root=$cache/trixie
build=$cache/build-1.14
pkgs=(libhdf5-dev hdf5-tools python3 python3-h5py python3-numpy cmake make gcc g++ libc6-dev
      pkg-config strace xfsprogs util-linux mount)

if [ "$(id -u)" -ne 0 ]; then
  echo "test-hdf5-1.14: needs root (debootstrap, chroot, mount namespaces)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || "$src/scripts/deps.sh" debootstrap

# The mirror apt uses here (deb822 .sources or one-line sources.list).
mirror=${H5TIER_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
           awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }')
fi
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' \
           /etc/apt/sources.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$cache"
exec 9>"$cache/trixie.lock"
flock 9
t0=$(date +%s)
if [ ! -e "$root/.h5tier-root" ]; then
  echo "== debootstrap trixie from $mirror into $root (once; cached)"
  rm -rf "$root.tmp"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  debootstrap --variant=minbase --include="$(IFS=,; echo "${pkgs[*]}")" \
    ${keyring:+--keyring=$keyring} trixie "$root.tmp" "$mirror" > "$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log"; echo "test-hdf5-1.14: debootstrap failed (log: $cache/debootstrap.log)" >&2; exit 1; }
  echo "${pkgs[*]}" > "$root.tmp/.h5tier-root"
  mv "$root.tmp" "$root"
fi
# Packages added to the list after the root was made.
if [ "$(cat "$root/.h5tier-root")" != "${pkgs[*]}" ]; then
  echo "== adding packages to the trixie root"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  chroot "$root" env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${pkgs[*]}" >/dev/null
  echo "${pkgs[*]}" > "$root/.h5tier-root"
fi
echo "== trixie root ready at +$(( $(date +%s) - t0 )) s: HDF5 $(chroot "$root" dpkg-query -W -f='${Version}' libhdf5-dev)"

mkdir -p "$build" "$root/h5tier-src" "$root/h5tier-build"
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
[ $# -gt 0 ] || set -- --output-on-failure -j"$jobs" --timeout 600
# A private mount namespace: the source bound read-only and the cached build
# tree bound, fresh /proc, /dev bound, /dev/shm and /tmp as tmpfs; then chroot.
unshare -m --propagation private -- bash -euo pipefail -c '
  root=$1 src=$2 build=$3; shift 3
  mount --bind "$src" "$root/h5tier-src"
  mount -o remount,bind,ro "$root/h5tier-src"
  mount --bind "$build" "$root/h5tier-build"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o mode=1777,size=4g tmpfs "$root/dev/shm"
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
  mount --rbind /sys "$root/sys" 2>/dev/null || true
  exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    chroot "$root" bash /h5tier-src/scripts/test-hdf5-1.14.sh --inside "$@"
' _ "$root" "$src" "$build" "$jobs" "$@"
