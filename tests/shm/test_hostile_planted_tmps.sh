#!/usr/bin/env bash
# Proves that hidden temporaries planted by another user at the exact names
# a command will use -- /dev/shm/.NAME~PID of `shm load` and
# FILE.h5.h5tier-save.PID of `shm save` in a shared sticky directory -- are
# never followed nor overwritten (the victim file behind B's symlink stays
# untouched and B's plant stays B's), and that the refusal names the planted
# temporary and says it may be planted, with a hint that does not send the
# user to --force (main said "add --force to replace it", which cannot
# help); that a retry (a new pid, a new name) works; and that `shm load
# --force` over a shm object owned by another user names that owner instead
# of main's wrong hint about a control object.  Two throwaway users (root
# needed; skipped otherwise).  The exact pid is known by a FIFO gate: A's
# shell writes $$ then execs the CLI after B has planted.
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
need_py
new_user A
new_user B
NAME="h5t-htmp-$$"
on_cleanup "rm -f '$SHMDIR/$NAME' '$SHMDIR/.$NAME.h5tier' '$SHMDIR/.$NAME~'* '$SHMDIR/$NAME-b'"
mkdir -m 0755 "$TMP/a" && chown "$A" "$TMP/a"
mkdir -m 1777 "$TMP/shared"
make_h5 "$TMP/a/data.h5" 20000
chown "$A" "$TMP/a/data.h5"
echo "A's precious file" >"$TMP/a/victim"
chown "$A" "$TMP/a/victim"
mkfifo -m 0666 "$TMP/gate"

# gated USER CMD...: run CMD as USER with its pid known in $TMP/pid; the
# caller plants, then opens the gate (pid in $TMP/a/pid); the output goes to $TMP/gated.out
gated() {
    local u=$1
    shift
    rm -f "$TMP/a/pid"
    "$AS" "$u" sh -c 'echo $$ >"$0/a/pid"; read x <"$0/gate"; exec "$@"' "$TMP" "$@" >"$TMP/gated.out" 2>&1 &
    GPID=$!
    on_cleanup "kill $GPID" # a failure below must not leave it blocked on the gate (nor its user)
    for _ in $(seq 100); do [[ -s $TMP/a/pid ]] && break; sleep 0.05; done
    [[ -s $TMP/a/pid ]] || fail "gated process did not start"
}
finish() { # -> status of the gated command
    echo go >"$TMP/gate"
    local st=0
    wait "$GPID" || st=$?
    return $st
}

# ---- shm load: B plants .NAME~PID (a symlink to A's file) ----
gated "$A" "$CLI" shm load "$TMP/a/data.h5" "$NAME"
P=$(cat "$TMP/a/pid")
"$AS" "$B" ln -s "$TMP/a/victim" "$SHMDIR/.$NAME~$P"
st=0; finish || st=$?
out=$(cat "$TMP/gated.out")
[[ $st -eq 1 ]] || fail "load with a planted temporary exited $st: $out"
grep -q "\.$NAME~$P" <<<"$out" || fail "load does not name the planted temporary: $out"
grep -qi "planted" <<<"$out" || fail "load does not say the temporary may be planted: $out"
grep -q -- "--force" <<<"$out" && fail "load's hint sends the user to --force for a planted temporary: $out"
[[ $(cat "$TMP/a/victim") == "A's precious file" ]] || fail "victim changed"
[[ -L $SHMDIR/.$NAME~$P && $(stat -c %U "$SHMDIR/.$NAME~$P") == "$B" ]] || fail "B's plant was touched"
[[ -e $SHMDIR/$NAME ]] && fail "load published something"
echo "ok: load refused a planted temporary, clearly"
"$AS" "$A" "$CLI" shm load "$TMP/a/data.h5" "$NAME" || fail "retry of load failed"
rm -f "$SHMDIR/.$NAME~$P"

# ---- shm save: B plants FILE.h5tier-save.PID in a shared sticky dir ----
gated "$A" "$CLI" shm save "$NAME" "$TMP/shared/out.h5"
P=$(cat "$TMP/a/pid")
"$AS" "$B" ln -s "$TMP/a/victim" "$TMP/shared/out.h5.h5tier-save.$P"
st=0; finish || st=$?
out=$(cat "$TMP/gated.out")
[[ $st -eq 1 ]] || fail "save with a planted temporary exited $st: $out"
grep -q "out.h5.h5tier-save.$P" <<<"$out" || fail "save does not name the planted temporary: $out"
grep -qi "planted" <<<"$out" || fail "save does not say the temporary may be planted: $out"
grep -q -- "--force" <<<"$out" && fail "save's hint sends the user to --force for a planted temporary: $out"
[[ $(cat "$TMP/a/victim") == "A's precious file" ]] || fail "victim changed by save"
[[ -e $TMP/shared/out.h5 ]] && fail "save published something"
echo "ok: save refused a planted temporary, clearly"
"$AS" "$A" "$CLI" shm save "$NAME" "$TMP/shared/out.h5" || fail "retry of save failed"
cmp "$TMP/a/data.h5" "$TMP/shared/out.h5" || fail "retried save differs"

# ---- load --force over B's object: names B, not a control object ----
"$AS" "$B" "$CLI" shm load "$TMP/a/data.h5" "$NAME-b" --mode 0644
st=0
out=$("$AS" "$A" "$CLI" shm load "$TMP/a/data.h5" "$NAME-b" --force 2>&1) || st=$?
[[ $st -eq 1 ]] || fail "load --force over B's object exited $st: $out"
grep -q "uid $(id -u "$B")" <<<"$out" || fail "load --force does not name the owner: $out"
grep -qi "control object" <<<"$out" && fail "load --force blames a control object: $out"
[[ $(stat -c %U "$SHMDIR/$NAME-b") == "$B" ]] || fail "B's object replaced"
"$AS" "$A" "$CLI" shm rm "$NAME"
"$AS" "$B" "$CLI" shm rm "$NAME-b"
echo "all ok"
