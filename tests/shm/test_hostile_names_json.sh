#!/usr/bin/env bash
# Proves that `shm ls --json` and `shm info --json` give names a script can
# use again, and that no listing can spoof a terminal: a name with a
# backslash or a double quote decodes from the JSON to exactly that name
# (main escaped twice: 'back\slash' came out as 'back\\slash', so
# `h5tier shm rm "$(jq -r .name)"` missed it) and `shm rm` of the decoded
# name works; a name holding a bidirectional override (U+202E, "Trojan
# Source" reordering) is printed escaped in the table, in info and in the
# JSON, never raw; the JSON stays valid.  Private H5TIER_SHM_DIR.
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
need_py
D="$TMP/shm"
mkdir -m 0700 "$D"
export H5TIER_SHM_DIR="$D"
make_h5 "$TMP/data.h5" 2000
RLO=$'\xe2\x80\xae'
for n in 'back\slash' 'q"uote' "rtl${RLO}gpj.exe"; do
    "$CLI" shm load "$TMP/data.h5" "$n"
done
"$CLI" shm ls --json >"$TMP/ls.json"
"$PY" - "$TMP/ls.json" <<'PYEOF' || fail "ls --json names"
import json, sys
names = [x["name"] for x in json.load(open(sys.argv[1]))]
assert 'back\\slash' in names, names
assert 'q"uote' in names, names
assert not any('\u202e' in n for n in names), names
PYEOF
"$CLI" shm info 'back\slash' --json | "$PY" -c 'import json,sys; n=json.load(sys.stdin)["name"]; assert n=="back\\slash", n' \
    || fail "info --json name"
grep -q "$RLO" <("$CLI" shm ls) && fail "ls printed a raw U+202E"
grep -q "$RLO" "$TMP/ls.json" && fail "ls --json holds a raw U+202E"
grep -q "$RLO" <("$CLI" shm info "rtl${RLO}gpj.exe") && fail "info printed a raw U+202E"
n=$("$PY" -c 'import json,sys; print([x["name"] for x in json.load(open(sys.argv[1])) if x["name"].startswith("back")][0])' "$TMP/ls.json")
"$CLI" shm rm "$n" || fail "rm of the name decoded from the JSON failed"
"$CLI" shm rm 'q"uote' "rtl${RLO}gpj.exe"
[[ -z $(ls -A "$D") ]] || fail "left: $(ls -A "$D")"
echo "all ok"
