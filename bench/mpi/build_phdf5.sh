#!/usr/bin/env bash
# Build the parallel-HDF5 anchor of bench_multifile (bench/mpi/phdf5_ior.c)
# against Debian's Open MPI flavour of HDF5 (libhdf5-openmpi-dev, a
# benchmark-only dependency installed here, never by scripts/deps.sh).
# Both flavours install side by side (/usr/include/hdf5/{serial,openmpi});
# the package's postinst raises the hdf5.pc alternative to the MPI flavour,
# so a serial choice that was in place is put back: the library and its
# tests keep building against serial HDF5.
#   bench/mpi/build_phdf5.sh OUT_BINARY
set -euo pipefail
out=$1
src=$(cd "$(dirname "$0")" && pwd)/phdf5_ior.c
if ! dpkg-query -W -f='${Status}' libhdf5-openmpi-dev 2>/dev/null | grep -q "install ok installed"; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench_multifile: the parallel-HDF5 anchor needs libhdf5-openmpi-dev (run as root: apt-get install libhdf5-openmpi-dev)" >&2
    exit 77
  fi
  before=$(update-alternatives --query hdf5.pc 2>/dev/null | sed -n 's/^Value: //p')
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends libhdf5-openmpi-dev >/dev/null || {
    apt-get update -qq && apt-get install -y -qq --no-install-recommends libhdf5-openmpi-dev >/dev/null; }
  if [ -n "$before" ] && [ "$before" != "$(update-alternatives --query hdf5.pc | sed -n 's/^Value: //p')" ]; then
    update-alternatives --set hdf5.pc "$before" >/dev/null
  fi
fi
inc=/usr/include/hdf5/openmpi
lib=/usr/lib/x86_64-linux-gnu/hdf5/openmpi
[ -d "$lib" ] || lib=$(dirname "$(find /usr/lib -name 'libhdf5.so' -path '*openmpi*' | head -1)")
mpicc -O2 -std=c11 -D_GNU_SOURCE -I"$inc" "$src" -o "$out" -L"$lib" -Wl,-rpath,"$lib" -lhdf5
