#!/usr/bin/env bash
# Proves `h5tier persist` round-trips a generated corpus (tests/persist/corpus.py:
# every integer/float size in both byte orders, fixed and variable strings,
# compound, enum, array, vlen sequences, 0-d to 4-d, empty and null extents,
# named types, fill values, nested groups, attributes of every kind, soft,
# external and hard links, object references, a modest sparse dataset):
# h5diff -r finds no difference, the file types are exactly equal (H5Tequal),
# named types stay shared, hard links stay links, references point at the
# persisted objects; h5dump -p shows the layouts the rules promise (COMPACT /
# CONTIGUOUS / CHUNKED with the derived chunk, DEFLATE+SHUFFLE with
# --compress, unlimited maxdims with --keep-growable); a 10^6 x 10^6 sparse
# dataset persists in under 2 MiB and reads identically; --object subsets.
set -euo pipefail
B=${H5TIER_CLI:?}
PY=${H5TIER_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
"$PY" -c 'import h5py' 2>/dev/null || { echo "SKIP: no h5py"; exit 77; }
command -v h5diff >/dev/null && command -v h5dump >/dev/null || { echo "SKIP: no h5diff/h5dump"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
"$PY" "$HERE/corpus.py" make "$T"
fail() { echo "FAIL: $*"; exit 1; }

layout() { # file dataset -> the STORAGE_LAYOUT block of h5dump -p
  h5dump -p -H -d "$2" "$1" | sed -n '/STORAGE_LAYOUT/,/^   }/p;/FILTERS/,/^   }/p;/DATASPACE/p'
}

# ---- default rules ------------------------------------------------------------
"$B" persist corpus.h5 out.h5 >log 2>&1 || { cat log; fail "persist corpus"; }
h5diff -r corpus.h5 out.h5 >diff.txt || { tail -30 diff.txt; fail "h5diff corpus"; }
"$PY" "$HERE/corpus.py" check corpus.h5 out.h5
layout out.h5 /layout/edge | grep -q COMPACT || fail "/layout/edge (59996 B) not compact"
layout out.h5 /dims/d4 | grep -q COMPACT || fail "/dims/d4 not compact"
layout out.h5 /fill/partial | grep -q COMPACT || fail "/fill/partial not compact"
layout out.h5 /layout/edge2 | grep -q CONTIGUOUS || fail "/layout/edge2 (60000 B) not contiguous"
layout out.h5 /layout/mid | grep -q CONTIGUOUS || fail "/layout/mid not contiguous"
layout out.h5 /layout/mid | grep -q '( 400, 300 ) / ( 400, 300 )' || fail "/layout/mid maxdims not fixed"
layout out.h5 /layout/gz | grep -q CONTIGUOUS || fail "/layout/gz not contiguous without --compress"
layout out.h5 /sparse/modest | grep -q 'CHUNKED ( 100, 100 )' || fail "/sparse/modest not chunked on its grid"
layout out.h5 /sparse/grid | grep -q 'CHUNKED ( 10, 10 )' || fail "/sparse/grid not chunked on its grid"
[ "$(h5dump -p -H -d /sparse/grid out.h5 | sed -n 's/.*SIZE \([0-9]*\).*/\1/p')" = 4000000 ] || fail "/sparse/grid: not exactly its 10000 chunks"
h5dump -p -H -d /fill/partial out.h5 | grep -q 'VALUE  -7' || fail "fill value -7 lost"
sz=$(stat -c %s out.h5)
[ "$sz" -lt 8000000 ] || fail "output $sz B: a sparse dataset was densified?"

# ---- dry run prints every decision, writes nothing --------------------------------
"$B" persist corpus.h5 dry.h5 --dry-run >plan.txt
[ ! -e dry.h5 ] || fail "dry run wrote a file"
grep -q '^/layout/edge  int32 14999 = 59996 B  compact (below 60000 B); created contiguous$' plan.txt || { cat plan.txt; fail "dry-run line"; }
grep -q '^/sparse/modest  int32 4000x4000 = 64000000 B  chunked 100x100 (sparse source' plan.txt || fail "dry-run sparse line"
grep -q '^/links/soft  soft link -> /dims/d1$' plan.txt || fail "dry-run soft link line"
grep -q '^/links/ext  external link -> ext.h5:/target$' plan.txt || fail "dry-run external link line"

# ---- compression -------------------------------------------------------------------
"$B" persist corpus.h5 gz.h5 --compress 6 >/dev/null 2>&1 || fail "persist --compress"
h5diff -r corpus.h5 gz.h5 >/dev/null || fail "h5diff --compress"
layout gz.h5 /layout/mid | grep -q 'CHUNKED ( 400, 300 )' || fail "/layout/mid not chunked with --compress"
layout gz.h5 /layout/mid | grep -q 'COMPRESSION DEFLATE { LEVEL 6 }' || fail "no deflate"
layout gz.h5 /layout/mid | grep -q 'SHUFFLE' || fail "no shuffle"
layout gz.h5 /layout/edge | grep -q COMPACT || fail "compact datasets must stay compact"
[ "$(stat -c %s gz.h5)" -lt "$sz" ] || fail "--compress did not shrink the file"

# ---- compact disabled, everything compressed (empty and 0-d datasets included) ---------
"$B" persist corpus.h5 nocompact.h5 --compact-below 0 --compress 1 >log 2>&1 || { cat log; fail "persist --compact-below 0"; }
h5diff -r corpus.h5 nocompact.h5 >/dev/null || fail "h5diff --compact-below 0"
layout nocompact.h5 /dims/d1 | grep -q 'CHUNKED ( 7 )' || fail "/dims/d1 not chunked without compact"
layout nocompact.h5 /dims/empty2 | grep -q CONTIGUOUS || fail "/dims/empty2 not contiguous"
layout nocompact.h5 /dims/scalar | grep -q CONTIGUOUS || fail "/dims/scalar not contiguous"

# ---- keep growable ------------------------------------------------------------------
"$B" persist corpus.h5 grow.h5 --keep-growable >/dev/null 2>&1 || fail "persist --keep-growable"
h5diff -r corpus.h5 grow.h5 >/dev/null || fail "h5diff --keep-growable"
layout grow.h5 /types/le_i4 | grep -q 'CHUNKED ( 50 )' || fail "growable chunk not from the extent"
layout grow.h5 /types/le_i4 | grep -q '( 50 ) / ( H5S_UNLIMITED )' || fail "unlimited maxdims lost"
layout grow.h5 /layout/edge | grep -q COMPACT || fail "fixed-size small dataset must stay compact"

# ---- object subsets -----------------------------------------------------------------
"$B" persist corpus.h5 sub.h5 --object /dims --object /named/points --object /links/soft >/dev/null 2>&1 || fail "persist --object"
h5diff corpus.h5 sub.h5 /dims /dims >/dev/null || fail "h5diff /dims"
h5diff corpus.h5 sub.h5 /named/points /named/points >/dev/null || fail "h5diff /named/points"
"$PY" - <<'EOF' || fail "subset content"
import h5py
f = h5py.File("sub.h5", "r")
assert "strings" not in f and "types" not in f, list(f)
assert f["named/points"].id.get_type().committed() is False   # the named type was not persisted: embedded
assert f.get("links/soft", getlink=True).path == "/dims/d1"
assert "named/point" not in f
EOF

# ---- huge but sparse: 10^6 x 10^6 int32, a few chunks written ------------------------
"$B" persist sparse.h5 sp.h5 >/dev/null 2>&1 || fail "persist sparse.h5"
"$PY" "$HERE/corpus.py" sparse sparse.h5 sp.h5
[ "$(stat -c %s sp.h5)" -lt 2097152 ] || fail "sparse output too large"
echo "roundtrip ok"
