#!/usr/bin/env bash
# Proves the `h5tier shm` CLI end to end with real tools: a file written by
# h5py is loaded into shm, `ls` (table and --json) and `info` show it,
# h5dump and h5diff read /dev/shm/NAME as the original, `save` writes it back
# (h5diff equal, mode 0600, no temp file left), `rm` removes it, `recover`
# reports a clean file, `rm` takes any number of names; and bad input (missing file, non-HDF5 file, existing
# destination or object without --force, bad names like ../x, unknown
# subcommands and options) exits 1 or 2 with a message naming the thing.
set -euo pipefail

CLI=${H5TIER_CLI:?H5TIER_CLI not set}
SHMDIR=${H5TIER_SHM_DIR:-/dev/shm}
PY=${H5TIER_PYTHON:-/usr/bin/python3}
command -v h5dump >/dev/null || { echo "SKIP: h5dump missing"; exit 77; }
command -v h5diff >/dev/null || { echo "SKIP: h5diff missing"; exit 77; }
"$PY" -c 'import h5py' 2>/dev/null || { echo "SKIP: $PY has no h5py"; exit 77; }

NAME="h5t-cli-$$"
NAME2="h5t-cli2-$$"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/h5tier-cli-XXXXXX")
cleanup() {
    "$CLI" shm rm --force "$NAME" >/dev/null 2>&1 || true
    "$CLI" shm rm --force "$NAME2" >/dev/null 2>&1 || true
    rm -f "$SHMDIR/$NAME" "$SHMDIR/.$NAME.h5tier" "$SHMDIR/$NAME2" "$SHMDIR/.$NAME2.h5tier"
    rm -f "$SHMDIR/$NAME"-m* "$SHMDIR/.$NAME"-m*.h5tier
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect STATUS PATTERN cmd...: run, check the exit status and that the output matches
expect() {
    local want=$1 pat=$2
    shift 2
    local out st=0
    out=$("$@" 2>&1) || st=$?
    [[ $st -eq $want ]] || fail "'$*' exited $st, expected $want; output: $out"
    grep -q -- "$pat" <<<"$out" || fail "'$*' output lacks '$pat': $out"
    echo "ok: $* -> $st"
}

"$PY" - "$TMP/orig.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["data"] = np.arange(300000, dtype="f8").reshape(600, 500)
    g = f.create_group("grp")
    g["names"] = np.array([b"alpha", b"beta", b"gamma"])
    g.attrs["unit"] = "m/s"
    f.create_dataset("chunked", data=np.arange(100000, dtype="i4"), chunks=(4096,), compression="gzip")
PYEOF

# ---- load, ls, info, h5dump/h5diff of /dev/shm/NAME ----
"$CLI" shm load "$TMP/orig.h5" "$NAME"
[[ -f $SHMDIR/$NAME ]] || fail "$SHMDIR/$NAME not created"
[[ $(stat -c %a "$SHMDIR/$NAME") == 600 ]] || fail "mode of $SHMDIR/$NAME is not 0600"
"$CLI" shm ls | grep -q "^$NAME " || fail "ls does not show $NAME"
"$CLI" shm ls --json | "$PY" -c '
import json, sys
rows = json.load(sys.stdin)
r = [x for x in rows if x["name"] == sys.argv[1]]
assert len(r) == 1, rows
r = r[0]
assert r["is_hdf5"] and r["mode"] == "0600" and r["writer"] == "none", r
assert r["size"] == int(sys.argv[2]), r
' "$NAME" "$(stat -c %s "$TMP/orig.h5")" || fail "ls --json wrong"
expect 0 "hdf5:        yes" "$CLI" shm info "$NAME"
expect 0 "writer:      none" "$CLI" shm info "/$NAME"
"$CLI" shm info "$NAME" --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["path"]==sys.argv[2]+"/"+sys.argv[1], d' "$NAME" "$SHMDIR" \
    || fail "info --json wrong"
h5dump "$SHMDIR/$NAME" >"$TMP/shm.dump" || fail "h5dump $SHMDIR/$NAME failed"
h5dump "$TMP/orig.h5" | sed "s#$TMP/orig.h5#$SHMDIR/$NAME#" >"$TMP/orig.dump"
cmp -s "$TMP/shm.dump" "$TMP/orig.dump" || fail "h5dump of shm differs from the original"
h5diff "$TMP/orig.h5" "$SHMDIR/$NAME" || fail "h5diff original vs shm"
"$PY" -c '
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    assert (f["data"][:] == np.arange(300000).reshape(600, 500)).all()
    assert f["grp"].attrs["unit"] == "m/s"
' "$SHMDIR/$NAME" || fail "h5py reading $SHMDIR/$NAME"

# ---- save back, with and without --force ----
"$CLI" shm save "$NAME" "$TMP/copy.h5"
h5diff "$TMP/orig.h5" "$TMP/copy.h5" || fail "h5diff original vs saved"
cmp -s "$TMP/orig.h5" "$TMP/copy.h5" || fail "saved file is not byte-identical"
[[ $(stat -c %a "$TMP/copy.h5") == 600 ]] || fail "saved file mode is not 0600"
ls "$TMP" | grep -q h5tier-save && fail "temp file left behind"
expect 1 "copy.h5" "$CLI" shm save "$NAME" "$TMP/copy.h5"
expect 1 "hint: add --force" "$CLI" shm save "$NAME" "$TMP/copy.h5"
"$CLI" shm save "$NAME" "$TMP/copy.h5" --force
h5diff "$TMP/orig.h5" "$TMP/copy.h5" || fail "h5diff after save --force"
# a symlink at the destination is replaced itself, never its target
echo precious >"$TMP/target.txt"
ln -s "$TMP/target.txt" "$TMP/link.h5"
expect 1 "link.h5" "$CLI" shm save "$NAME" "$TMP/link.h5"
"$CLI" shm save "$NAME" "$TMP/link.h5" --force
[[ $(cat "$TMP/target.txt") == precious ]] || fail "save followed a symlink"
[[ -L $TMP/link.h5 ]] && fail "symlink not replaced"
h5diff "$TMP/orig.h5" "$TMP/link.h5" || fail "h5diff after save over a symlink"

# ---- load refuses an existing object unless --force; --mode ----
expect 1 "$NAME" "$CLI" shm load "$TMP/orig.h5" "$NAME"
"$CLI" shm load "$TMP/copy.h5" "$NAME" --force --mode 0640
[[ $(stat -c %a "$SHMDIR/$NAME") == 640 ]] || fail "--mode 0640 not applied"
h5diff "$TMP/orig.h5" "$SHMDIR/$NAME" || fail "h5diff after load --force"

# ---- recover ----
expect 0 "nothing to recover" "$CLI" shm recover "$TMP/copy.h5"
printf 'H5TJRNL1torn' >"$TMP/copy.h5.h5tier-journal"
expect 0 "discarded an incomplete journal" "$CLI" shm recover "$TMP/copy.h5"
[[ -e $TMP/copy.h5.h5tier-journal ]] && fail "journal not removed"
h5diff "$TMP/orig.h5" "$TMP/copy.h5" || fail "recover changed the file"

# ---- rm ----
"$CLI" shm rm "$NAME"
[[ -e $SHMDIR/$NAME ]] && fail "rm left $SHMDIR/$NAME"
"$CLI" shm ls | grep -q "^$NAME " && fail "ls still shows $NAME"
expect 1 "$NAME" "$CLI" shm rm "$NAME"
expect 1 "does not exist" "$CLI" shm info "$NAME"
# rm takes any number of names (NAME...): 40 objects in one call, options after names too
MANY=()
for i in $(seq 1 40); do
    MANY+=("$NAME-m$i")
    "$CLI" shm load "$TMP/orig.h5" "$NAME-m$i" >/dev/null
done
"$CLI" shm rm "${MANY[@]:0:20}" --force -- "${MANY[@]:20}" || fail "rm of 40 names failed"
for n in "${MANY[@]}"; do
    [[ -e $SHMDIR/$n || -e $SHMDIR/.$n.h5tier ]] && fail "rm of 40 names left $n"
done
echo "ok: rm of 40 names"

# ---- bad input ----
expect 1 "missing.h5" "$CLI" shm load "$TMP/missing.h5" "$NAME2"
head -c 5000 /dev/urandom >"$TMP/random.bin"
expect 1 "not an HDF5 file" "$CLI" shm load "$TMP/random.bin" "$NAME2"
expect 1 "random.bin" "$CLI" shm load "$TMP/random.bin" "$NAME2"
[[ -e $SHMDIR/$NAME2 ]] && fail "failed load left $SHMDIR/$NAME2"
expect 2 "../x" "$CLI" shm load "$TMP/orig.h5" "../x"
expect 2 "bad shm name" "$CLI" shm info "a/b"
expect 2 "bad shm name" "$CLI" shm rm ".hidden"
expect 2 "frobnicate" "$CLI" shm frobnicate
expect 2 "--bogus" "$CLI" shm ls --bogus
expect 2 "expected FILE.h5 NAME" "$CLI" shm load "$TMP/orig.h5"
expect 2 "--mode" "$CLI" shm load "$TMP/orig.h5" "$NAME2" --mode 999
expect 1 "$NAME2" "$CLI" shm save "$NAME2" "$TMP/never.h5"
[[ -e $TMP/never.h5 ]] && fail "save of a missing object created a file"
"$CLI" shm load "$TMP/orig.h5" "$NAME2"
expect 1 "nodir/x.h5" "$CLI" shm save "$NAME2" "$TMP/nodir/x.h5"
expect 1 "No such file or directory" "$CLI" shm save "$NAME2" "$TMP/nodir/x.h5"
"$CLI" shm rm "$NAME2"
# help texts with examples
for sub in "" ls info load save rm recover; do
    # shellcheck disable=SC2086
    out=$("$CLI" shm $sub --help) || fail "shm $sub --help exit status"
    grep -q "example" <<<"$out" || fail "shm $sub --help has no examples"
done
expect 2 "usage: h5tier shm" "$CLI" shm
echo "all ok"
