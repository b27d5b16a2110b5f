#!/usr/bin/env bash
# Proves (issue 8 item 10) that temporary files of killed runs do not pile
# up: `shm save` killed just before publishing (SIGKILL injected at its
# rename) leaves FILE.h5.h5tier-save.PID, and the next save to that directory
# removes it, while a temp file of a LIVE process is kept; the same for
# `persist` (.DST.h5tier-tmp-PID); and after 20 saves of a 48 MiB object
# killed at random moments plus one complete save, no temp file is left
# (main: 142 of 300 kills left one, never removed).
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
need_py
NAME="h5t-stale-$$"
on_cleanup "'$CLI' shm rm --force '$NAME'"
make_h5 "$TMP/data.h5" 6000000 # 48 MiB
"$CLI" shm load "$TMP/data.h5" "$NAME"
mkdir "$TMP/out"

# ---- shm save ----
st=0
H5TIER_FAULT=rename:1:0:kill "$CLI" shm save "$NAME" "$TMP/out/a.h5" 2>/dev/null || st=$?
[[ $st -eq 137 ]] || fail "save with a kill at rename exited $st"
ls "$TMP/out" | grep -q '^a.h5.h5tier-save\.[0-9]*$' || fail "the killed save left no temp file (test broken?)"
sleep 60 &
LIVE=$!
on_cleanup "kill $LIVE"
echo live >"$TMP/out/a.h5.h5tier-save.$LIVE"
"$CLI" shm save "$NAME" "$TMP/out/a.h5"
cmp "$TMP/data.h5" "$TMP/out/a.h5" || fail "save after a killed save"
left=$(ls "$TMP/out" | grep 'h5tier-save' || true)
[[ $left == "a.h5.h5tier-save.$LIVE" ]] || fail "after the next save, temp files are: '$left' (want only the live one)"
rm -f "$TMP/out/a.h5.h5tier-save.$LIVE"

# ---- persist ----
st=0
H5TIER_FAULT=rename:1:0:kill "$CLI" persist "$TMP/data.h5" "$TMP/out/p.h5" 2>/dev/null || st=$?
[[ $st -eq 137 ]] || fail "persist with a kill at rename exited $st"
ls -a "$TMP/out" | grep -q '^\.p\.h5\.h5tier-tmp-[0-9]*$' || fail "the killed persist left no temp file (test broken?)"
echo live >"$TMP/out/.p.h5.h5tier-tmp-$LIVE"
"$CLI" persist "$TMP/data.h5" "$TMP/out/p.h5" 2>/dev/null
h5diff "$TMP/data.h5" "$TMP/out/p.h5" || fail "persist after a killed persist"
left=$(ls -a "$TMP/out" | grep 'h5tier-tmp' || true)
[[ $left == ".p.h5.h5tier-tmp-$LIVE" ]] || fail "after the next persist, temp files are: '$left'"
rm -f "$TMP/out/.p.h5.h5tier-tmp-$LIVE"

# ---- random kills of save, then one complete save ----
for i in $(seq 20); do
    "$CLI" shm save "$NAME" "$TMP/out/k.h5" --force >/dev/null 2>&1 &
    pid=$!
    sleep "0.0$(( (i * 37) % 9 + 1 ))"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
"$CLI" shm save "$NAME" "$TMP/out/k.h5" --force
cmp "$TMP/data.h5" "$TMP/out/k.h5" || fail "final save differs"
left=$(ls -a "$TMP/out" | grep 'h5tier-save\|h5tier-tmp' || true)
[[ -z $left ]] || fail "temp files left after the kill loop and a complete save: $left"
echo "all ok"
