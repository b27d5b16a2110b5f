#!/usr/bin/env bash
# Proves scripts/demo_shm.sh (what `make demo` shows for the shm driver) runs
# end to end: writer + 3 reader processes, h5dump, h5py, CLI save; and that it
# cleans up its shm objects.
set -euo pipefail
out=$(bash "$H5TIER_SRC_DIR/scripts/demo_shm.sh" "$H5TIER_BUILD_DIR" 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -8
grep -q 'stage 8 checked' <<<"$out"
grep -q 'DATASET "data"' <<<"$out"
grep -q '(1048570): 7339991' <<<"$out"
name=$(grep -o 'file /dev/shm/h5tier-demo-[0-9]*' <<<"$out" | head -1 | sed 's|file /dev/shm/||')
[ -n "$name" ]
if [ -e "/dev/shm/$name" ] || [ -e "/dev/shm/.$name.h5tier" ]; then
  echo "demo left /dev/shm/$name behind"
  exit 1
fi
