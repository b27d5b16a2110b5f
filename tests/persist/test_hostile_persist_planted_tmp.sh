#!/usr/bin/env bash
# Proves that `persist SRC DST` with DST in a shared sticky directory, where
# user B planted DST's temporary .DST.h5tier-tmp-PID (a symlink to A's file)
# for A's exact pid, neither follows nor overwrites it (A's file and B's
# symlink unchanged, no DST made) and says what happened: the refusal names
# the temporary, and the hint does not send the user to --force (main:
# "use --force to replace the destination", which cannot help); a retry
# works.  Two throwaway users (root needed; skipped otherwise).
set -euo pipefail
source "$(dirname "$0")/../shm/trustlib.sh"
need_py
new_user A
new_user B
mkdir -m 0755 "$TMP/a" && chown "$A" "$TMP/a"
mkdir -m 1777 "$TMP/shared"
make_h5 "$TMP/a/data.h5" 20000
chown "$A" "$TMP/a/data.h5"
echo "A's precious file" >"$TMP/a/victim" && chown "$A" "$TMP/a/victim"
mkfifo -m 0666 "$TMP/gate"
"$AS" "$A" sh -c 'echo $$ >"$0/a/pid"; read x <"$0/gate"; exec "$@"' "$TMP" \
    "$CLI" persist "$TMP/a/data.h5" "$TMP/shared/out.h5" >"$TMP/out.txt" 2>&1 &
G=$!
on_cleanup "kill $G" # a failure below must not leave it blocked on the gate (nor its user)
for _ in $(seq 100); do [[ -s $TMP/a/pid ]] && break; sleep 0.05; done
P=$(cat "$TMP/a/pid")
"$AS" "$B" ln -s "$TMP/a/victim" "$TMP/shared/.out.h5.h5tier-tmp-$P"
echo go >"$TMP/gate"
st=0
wait $G || st=$?
out=$(cat "$TMP/out.txt")
[[ $st -eq 1 ]] || fail "persist with a planted temporary exited $st: $out"
grep -q "h5tier-tmp-$P" <<<"$out" || fail "persist does not name the temporary: $out"
grep -q -- "--force" <<<"$out" && fail "persist's hint sends the user to --force: $out"
[[ $(cat "$TMP/a/victim") == "A's precious file" ]] || fail "victim changed"
[[ -L $TMP/shared/.out.h5.h5tier-tmp-$P ]] || fail "B's plant touched"
[[ -e $TMP/shared/out.h5 ]] && fail "persist made DST"
"$AS" "$A" "$CLI" persist "$TMP/a/data.h5" "$TMP/shared/out.h5" 2>/dev/null || fail "retry failed"
h5diff "$TMP/a/data.h5" "$TMP/shared/out.h5" || fail "retried persist differs"
echo "all ok"
