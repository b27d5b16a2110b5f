#!/usr/bin/env bash
# Proves (issue 8 items 11 and 16, shm half): names users give their files
# work end to end -- "run 1.h5", "a%b.h5", "vds%%_src.h5", unicode -- through
# shm load/ls/info/save/rm, h5dump and persist shm:NAME (main refused them:
# the rule was [A-Za-z0-9._+@-]); names with a slash or a control character
# are refused with exit 2; bytes that are not printable (invalid UTF-8, a C1
# control encoded in UTF-8) are printed escaped by ls/info/rm, never raw; and
# `shm load --mode` refuses setuid/setgid/sticky and execute bits (4777,
# 2600, 1600, 0700, 7777) with exit 2 naming the reason, creating nothing
# (main made a setuid world-writable object), while 0640 still works.
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
need_py
make_h5 "$TMP/data.h5" 1000
P="h5t-names-$$"
NAMES=("$P run 1.h5" "$P a%b.h5" "$P vds%%_src.h5" "$P données-β-数据.h5")
for n in "${NAMES[@]}"; do on_cleanup "'$CLI' shm rm --force '$n'"; done

for n in "${NAMES[@]}"; do
    "$CLI" shm load "$TMP/data.h5" "$n" || fail "load '$n'"
    [[ -f "$SHMDIR/$n" ]] || fail "'$SHMDIR/$n' not created"
    "$CLI" shm ls | grep -qF "$n" || fail "ls does not show '$n'"
    "$CLI" shm ls --json | "$PY" -c 'import json,sys; n=sys.argv[1]; assert any(r["name"]==n for r in json.load(sys.stdin)), n' "$n" \
        || fail "ls --json does not show '$n'"
    expect 0 "name:        $n" "$CLI" shm info "$n"
    h5dump -H "$SHMDIR/$n" >/dev/null || fail "h5dump '$SHMDIR/$n'"
    "$CLI" shm save "$n" "$TMP/copy.h5" --force
    cmp "$TMP/data.h5" "$TMP/copy.h5" || fail "save of '$n'"
    "$CLI" persist "shm:$n" "$TMP/p.h5" --force 2>/dev/null || fail "persist shm:'$n'"
    h5diff "$TMP/data.h5" "$TMP/p.h5" || fail "persist of '$n' differs"
    "$CLI" shm rm "$n"
    [[ -e "$SHMDIR/$n" ]] && fail "rm left '$n'"
done

# refused names: usage errors
expect 2 "bad shm name" "$CLI" shm load "$TMP/data.h5" "a/b"
expect 2 "control" "$CLI" shm load "$TMP/data.h5" $'tab\there'
expect 2 "bad shm name" "$CLI" shm info $'esc\e[31m'
expect 2 "bad shm name" "$CLI" shm rm ".hidden"

# unprintable but legal bytes are printed escaped
BAD=$'h5t-raw-'"$$"$'-\xff-\xc2\x9b-x'
on_cleanup "rm -f '$SHMDIR/$BAD'"
"$CLI" shm load "$TMP/data.h5" "$BAD"
for cmd in "shm ls" "shm info $BAD" "shm ls --json"; do
    # shellcheck disable=SC2086
    out=$("$CLI" $cmd 2>&1) || fail "$cmd failed: $out"
    if LC_ALL=C grep -q $'\xff\|\xc2\x9b' <<<"$out"; then fail "'$cmd' printed raw bytes"; fi
done
"$CLI" shm info "$BAD" | grep -qF 'h5t-raw-'"$$"'-\xff-\xc2\x9b-x' || fail "info does not print the name escaped"
"$CLI" shm ls --json | "$PY" -c 'import json,sys; json.load(sys.stdin)' || fail "ls --json is not valid JSON with such a name"
"$CLI" shm rm "$BAD"

# modes
N="$P-mode"
on_cleanup "'$CLI' shm rm --force '$N'"
for m in 4777 2600 1600 0700 7777 0601; do
    if [[ $m == 0601 ]]; then
        expect 2 "execute" "$CLI" shm load "$TMP/data.h5" "$N" --mode 0611
        continue
    fi
    expect 2 "setuid\|execute" "$CLI" shm load "$TMP/data.h5" "$N" --mode "$m"
    [[ -e "$SHMDIR/$N" ]] && fail "--mode $m created the object"
done
"$CLI" shm load "$TMP/data.h5" "$N" --mode 0640
[[ $(stat -c %a "$SHMDIR/$N") == 640 ]] || fail "--mode 0640 not applied"
echo "all ok"
