#!/usr/bin/env bash
# Proves that a `shm load` killed before it publishes (SIGKILL injected at
# its link(2)) does not leave its hidden temporary /dev/shm/.X~PID -- RAM
# that `shm ls` never shows -- until someone happens to load the SAME name
# again (main swept only .NAME~* of the name being loaded): the next load of
# ANY name removes the caller's temporaries of dead processes, while a live
# process's temporary, and (as root) another user's, are left alone.  Runs in
# a private H5TIER_SHM_DIR so other tests' objects are never touched.
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
need_py
D="$TMP/shm"
mkdir -m 0700 "$D"
export H5TIER_SHM_DIR="$D"
make_h5 "$TMP/data.h5" 200000

st=0
H5TIER_FAULT=link:1:0:kill "$CLI" shm load "$TMP/data.h5" "first x" 2>/dev/null || st=$?
[[ $st -eq 137 ]] || fail "load with a kill at link exited $st"
left=$(ls -A "$D" | grep -c '^\.first x~[0-9]*$' || true)
[[ $left -eq 1 ]] || fail "the killed load left no temporary (test broken?): $(ls -A "$D")"
[[ -e "$D/first x" ]] && fail "the killed load published"
sleep 60 &
LIVE=$!
on_cleanup "kill $LIVE"
echo live >"$D/.other~$LIVE"
if [[ $(id -u) -eq 0 ]]; then
    new_user B
    echo b >"$D/.b-s~999999999" && chown "$B" "$D/.b-s~999999999"
fi

"$CLI" shm load "$TMP/data.h5" second
left=$(ls -A "$D" | grep '~' | sort | tr '\n' ' ')
want=".other~$LIVE "
[[ $(id -u) -eq 0 ]] && want=".b-s~999999999 $want"
[[ $left == "$want" ]] || fail "after loading another name, temporaries are '$left' (want '$want')"
cmp "$TMP/data.h5" "$D/second" || fail "second load differs"
rm -f "$D/.other~$LIVE" "$D/.b-s~999999999"
"$CLI" shm rm second
[[ -z $(ls -A "$D") ]] || fail "left in $D: $(ls -A "$D")"
echo "all ok"
