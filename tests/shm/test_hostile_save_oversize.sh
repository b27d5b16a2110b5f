#!/usr/bin/env bash
# Proves that `shm save` of an object larger than its HDF5 file -- no writer
# ever published an end of file (no control object, e.g. after `shm load`)
# and the object was extended (a hostile or careless ftruncate, a tool that
# grew it) -- saves the file up to its superblock's end of file, byte for
# byte, not the whole object: main copied every byte of the object (a
# sparse 1 TiB object made save write until the disk was full, ~3 minutes).
# Here the object is extended by 256 MiB of holes; the copy must equal the
# original file.  Private H5TIER_SHM_DIR.
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
need_py
D="$TMP/shm"
mkdir -m 0700 "$D"
export H5TIER_SHM_DIR="$D"
make_h5 "$TMP/data.h5" 20000
"$CLI" shm load "$TMP/data.h5" big
truncate -s +256M "$D/big"
timeout 60 "$CLI" shm save big "$TMP/out.h5" || fail "save failed"
want=$(stat -c %s "$TMP/data.h5")
got=$(stat -c %s "$TMP/out.h5")
[[ $got -eq $want ]] || fail "saved $got bytes of an object whose HDF5 file is $want bytes"
cmp "$TMP/data.h5" "$TMP/out.h5" || fail "saved copy differs"
h5dump -H "$TMP/out.h5" >/dev/null || fail "saved copy unreadable"
"$CLI" shm rm big
echo "all ok"
