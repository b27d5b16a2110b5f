#!/usr/bin/env bash
# Proves (issue 8, smaller items) that persist and shm print one clear
# explanation: persist to a missing directory names the directory and says to
# create it (main said "check the --object paths"), a missing --object still
# points at the object paths; a corrupt HDF5 source and a missing shm:NAME
# fail with exit 1 and no HDF5-DIAG stack dump; a 1500-byte path is cut in
# the middle, never before the reason (main cut "No such file or directory"
# off); object names from the file holding terminal escapes are printed
# escaped by --dry-run and -v, never raw.
set -euo pipefail
source "$(dirname "$0")/../shm/trustlib.sh"
need_py
make_h5 "$TMP/data.h5" 1000

expect 1 "hint: create the destination directory" "$CLI" persist "$TMP/data.h5" "$TMP/nodir/out.h5"
out=$("$CLI" persist "$TMP/data.h5" "$TMP/nodir/out.h5" 2>&1 || true)
grep -q -- "--object" <<<"$out" && fail "missing directory still blamed on --object: $out"
grep -qF "$TMP/nodir" <<<"$out" || fail "the missing directory is not named: $out"
expect 1 "hint: check the --object" "$CLI" persist "$TMP/data.h5" "$TMP/out.h5" --object /nope

# corrupt source: the signature, then garbage
{ printf '\x89HDF\r\n\x1a\n'; head -c 4000 /dev/urandom; } >"$TMP/corrupt.h5"
for src in "$TMP/corrupt.h5" "shm:h5t-missing-$$"; do
    st=0
    out=$("$CLI" persist "$src" "$TMP/out2.h5" 2>&1) || st=$?
    [[ $st -eq 1 ]] || fail "persist $src exited $st: $out"
    grep -q "HDF5-DIAG" <<<"$out" && fail "persist $src printed the HDF5 error stack: $out"
    [[ $(wc -l <<<"$out") -le 3 ]] || fail "persist $src printed more than one explanation: $out"
    echo "ok: persist $src -> 1: $(head -1 <<<"$out")"
done
[[ -e $TMP/out2.h5 ]] && fail "a failed persist left its destination"

# a long path keeps its reason
long="$TMP$(printf '/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%.0s' $(seq 21))/x.h5"
out=$("$CLI" shm load "$long" "h5t-long-$$" 2>&1 || true)
grep -q "does not exist\|No such file" <<<"$out" || fail "long path: the reason was cut: $out"
grep -q "\.\.\." <<<"$out" || fail "long path: not visibly cut: $out"

# names from the file are printed escaped
"$PY" - "$TMP/esc.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["evil\x1b[31mname"] = np.arange(10)
    f["grp\x07bell/x"] = np.arange(3)
PYEOF
for opt in --dry-run -v; do
    out=$("$CLI" persist "$TMP/esc.h5" "$TMP/esc-out.h5" --force "$opt" 2>&1) || fail "persist $opt: $out"
    grep -q $'\e\|\a' <<<"$out" && fail "persist $opt printed raw control bytes"
    grep -qF 'evil\x1b[31mname' <<<"$out" || fail "persist $opt does not show the escaped name: $out"
done
h5dump -H "$TMP/esc-out.h5" >/dev/null || fail "persisted file with such names unreadable"
echo "all ok"
