#!/usr/bin/env bash
# Install the Debian packages h5tier needs, if any are missing.  As root it
# runs apt-get; otherwise it prints the exact command and fails.
#   scripts/deps.sh [extra-package ...]
set -euo pipefail
pkgs=(build-essential cmake pkg-config libhdf5-dev hdf5-tools python3 python3-h5py python3-numpy xfsprogs libncurses-dev tmux python3-pytest python3-matplotlib python3-pip python3-setuptools libopenmpi-dev openmpi-bin libzmq3-dev iproute2 libxxhash-dev python3-xxhash "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "h5tier needs these Debian packages: ${missing[*]}" >&2
  echo "run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
