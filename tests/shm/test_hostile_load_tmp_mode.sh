#!/usr/bin/env bash
# Proves that `shm load --mode 0666` keeps its hidden temporary .NAME~PID
# private (0600) while it fills it, and gives the requested mode only to
# the complete object it publishes: main applied 0666 at creation, so any
# user could truncate the temporary under load's mapping (SIGBUS, a dead
# load) or write into it before it was published under NAME.  The load is
# killed at its space reservation (fallocate, H5TIER_FAULT), before the copy, to look at the temporary, then a
# normal load shows the published object has 0666.  Private H5TIER_SHM_DIR.
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
need_py
D="$TMP/shm"
mkdir -m 0700 "$D"
export H5TIER_SHM_DIR="$D"
make_h5 "$TMP/data.h5" 20000
st=0
H5TIER_FAULT=fallocate:1:0:kill "$CLI" shm load "$TMP/data.h5" m --mode 0666 2>/dev/null || st=$?
[[ $st -eq 137 ]] || fail "load with a kill at its reservation exited $st"
t=$(ls -A "$D" | grep '^\.m~' || true)
[[ -n $t ]] || fail "no temporary left by the killed load (test broken?)"
mode=$(stat -c %a "$D/$t")
[[ $mode == 600 ]] || fail "the temporary was mode $mode while being filled (want 600)"
"$CLI" shm load "$TMP/data.h5" m --mode 0666
[[ $(stat -c %a "$D/m") == 666 ]] || fail "published object has mode $(stat -c %a "$D/m"), want 666"
cmp "$TMP/data.h5" "$D/m" || fail "published object differs"
"$CLI" shm rm m
[[ -z $(ls -A "$D") ]] || fail "left: $(ls -A "$D")"
echo "all ok"
