#!/usr/bin/env bash
# Proves, in a few rounds, what `make torture` proves in 1000: random
# SIGKILLs of the ring writer, the lossless archiver, `shm save`, `persist`
# and a shm writer committing a persist journal never leave a file that
# breaks its invariant (ring readable and verified, archive exactly-once,
# save/persist old-or-new with no stale temporaries, journal old-or-new
# after recover).  scripts/torture.sh does the work; 0 violations to pass.
set -uo pipefail
src=${H5TIER_SRC_DIR:?}
build=${H5TIER_BUILD_DIR:?}
"${H5TIER_PYTHON:-/usr/bin/python3}" -c 'import h5py' 2>/dev/null || { echo "no h5py"; exit 77; }
out=$(bash "$src/scripts/torture.sh" --rounds "${H5TIER_TORTURE_ROUNDS:-4}" "$build" 2>&1); st=$?
echo "$out"
echo "$out" | tail -1 | grep -Eq '^torture: [0-9]+ rounds, 0 violations$' || exit 1
exit $st
