#!/usr/bin/env bash
# Proves (issue 8 item 1) that a control object /dev/shm/.NAME.h5tier planted
# by another user is never believed: with user B's well-formed 0666 control
# object (eof 4096, a backing path of B's choice holding terminal escapes)
# next to user A's shm object, A's `shm load` under that name is refused
# before anything is created, A's `shm save` writes the real, complete file
# (not 4096 bytes), `shm info`/`ls` never show B's backing path nor print its
# raw escape bytes, A's `shm rm` (with and without --force) is not blocked by
# B's flock and removes A's data cleanly (exit 0, B's object left and named),
# and B cannot remove or read A's object.  Two real throwaway users (root
# needed to create them; skipped otherwise).
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
need_py
new_user A
new_user B
NAME="h5t-plant-$$"
CTL="$SHMDIR/.$NAME.h5tier"
on_cleanup "rm -f '$SHMDIR/$NAME' '$CTL' '$SHMDIR/$NAME-2' '$SHMDIR/.$NAME-2.h5tier'"
mkdir "$TMP/a" && chown "$A" "$TMP/a" && chmod 0700 "$TMP/a"
make_h5 "$TMP/a/data.h5" 200000
chown "$A" "$TMP/a/data.h5"
ESC=$'\e[31m'
BACKING="$TMP/b-chose-this${ESC}RED.h5"

# ---- planted before A's load: the load is refused, nothing is created ----
"$AS" "$B" "$PY" "$(dirname "$0")/plant.py" "$CTL" 4096 "$BACKING"
[[ $(stat -c %U "$CTL") == "$B" ]] || fail "plant not owned by B"
expect 1 "owned by" "$AS" "$A" "$CLI" shm load "$TMP/a/data.h5" "$NAME"
[[ -e $SHMDIR/$NAME ]] && fail "load created $NAME next to a planted control object"
rm -f "$CTL"

# ---- planted after A's load ----
"$AS" "$A" "$CLI" shm load "$TMP/a/data.h5" "$NAME"
"$AS" "$B" "$PY" "$(dirname "$0")/plant.py" "$CTL" 4096 "$BACKING"
out=$("$AS" "$A" "$CLI" shm info "$NAME" 2>&1) || fail "info failed: $out"
grep -q "b-chose-this" <<<"$out" && fail "info shows B's backing path: $out"
grep -q "$ESC" <<<"$out" && fail "info printed a raw escape sequence"
grep -q "not trusted\|ignored" <<<"$out" || fail "info does not say the control object is ignored: $out"
grep -q "^eof:.*4096 bytes" <<<"$out" && fail "info believes B's eof: $out"
out=$("$AS" "$A" "$CLI" shm info "$NAME" --json 2>&1) || fail "info --json failed"
grep -q "b-chose-this" <<<"$out" && fail "info --json shows B's backing path: $out"
out=$("$AS" "$A" "$CLI" shm ls 2>&1) || fail "ls failed"
grep -q "b-chose-this" <<<"$out" && fail "ls shows B's backing path: $out"
grep -q "$ESC" <<<"$out" && fail "ls printed a raw escape sequence"

# save: the real object, byte for byte (main wrote 4096 bytes: B's eof)
"$AS" "$A" "$CLI" shm save "$NAME" "$TMP/a/copy.h5" || fail "save failed"
cmp "$TMP/a/data.h5" "$TMP/a/copy.h5" || fail "save did not write the complete object"
h5dump -H "$TMP/a/copy.h5" >/dev/null || fail "saved copy unreadable"

# B cannot read or remove A's object
expect 1 "$NAME" "$AS" "$B" "$CLI" shm save "$NAME" "$TMP/b-copy.h5"
expect 1 "$NAME" "$AS" "$B" "$CLI" shm rm "$NAME"
[[ -e $SHMDIR/$NAME ]] || fail "B removed A's object"

# B holds the flock of its planted control object: A's rm is not blocked
"$AS" "$B" "$PY" -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
time.sleep(30)' "$CTL" >/dev/null 2>&1 &
FPID=$!
on_cleanup "kill $FPID"
sleep 0.5
expect 0 "$CTL\|uid $(id -u "$B")" "$AS" "$A" "$CLI" shm rm "$NAME"
[[ -e $SHMDIR/$NAME ]] && fail "rm left A's object"

# rm --force: the same, never "deletes then fails"
"$AS" "$A" "$CLI" shm load "$TMP/a/data.h5" "$NAME-2"
CTL2="$SHMDIR/.$NAME-2.h5tier"
"$AS" "$B" "$PY" "$(dirname "$0")/plant.py" "$CTL2" 4096 "$BACKING"
expect 0 "uid $(id -u "$B")" "$AS" "$A" "$CLI" shm rm --force "$NAME-2"
[[ -e $SHMDIR/$NAME-2 ]] && fail "rm --force left A's object"
kill "$FPID" 2>/dev/null || true
echo "all ok"
