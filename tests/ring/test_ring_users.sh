#!/bin/bash
# test_ring_users -- proves the ring permission model with real users (issue 8
# item 4; root only, it makes them with useradd): user A creates a ring
# --mode 0640 and writes it; user B of A's group reads it (lossy and
# tethered: the reader table is read-write for the group) and `ring stat`s
# it, but can write neither the records (ring write refused, a direct write
# to /dev/shm/NAME denied) nor stop A's writer; user C outside the group
# cannot read it at all; B's tethered reader holds A's lossless writer and
# A sees B in `ring stat`.  A's archive is 0600 and unreadable for B.
# Skips (77) when not root or without useradd.
set -u
CLI=${H5TIER_CLI:?}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to create two users (useradd)"; exit 77; }
command -v useradd >/dev/null && command -v runuser >/dev/null || { echo "SKIP: no useradd/runuser"; exit 77; }
# the CLI must be reachable by other users
runuser -u nobody -- "$CLI" --help >/dev/null 2>&1 || { echo "SKIP: $CLI not executable by other users"; exit 77; }
S=$$
G=h5tg$S; A=h5ta$S; B=h5tb$S; C=h5tc$S; N=h5t-users-$S
TMP=$(mktemp -d); chmod 0755 "$TMP"
fail() { echo "FAIL: $*"; exit 1; }
cleanup() {
  pkill -u $A 2>/dev/null; pkill -u $B 2>/dev/null
  rm -f /dev/shm/$N /dev/shm/.$N.readers /dev/shm/.$N.h5tier
  for u in $A $B $C; do userdel $u >/dev/null 2>&1; done
  groupdel $G >/dev/null 2>&1; rm -rf "$TMP"
}
trap cleanup EXIT
groupadd $G || { echo "SKIP: groupadd failed"; exit 77; }
useradd -M -N -g $G -s /bin/sh $A && useradd -M -N -g $G -s /bin/sh $B && useradd -M -N -s /bin/sh $C \
  || { echo "SKIP: useradd failed"; exit 77; }
as() { local u=$1; shift; runuser -u $u -- "$@"; }

as $A $CLI ring create $N --dtype '{seq:u8,x:f8}' --capacity 1k --mode 0640 > /dev/null || fail "A create"
[ "$(stat -c %a:%U /dev/shm/$N)" = "640:$A" ] || fail "data object: $(stat -c %a:%U /dev/shm/$N)"
[ "$(stat -c %a:%U /dev/shm/.$N.readers)" = "660:$A" ] || fail "reader table: $(stat -c %a:%U /dev/shm/.$N.readers)"
as $A $CLI ring write $N --count 3000 2>/dev/null || fail "A write"

# B (same group) reads, lossy and tethered, and sees stat
out=$(as $B $CLI ring tail $N --count 5 --timeout 1 2>&1) || fail "B tail: $out"
[ "$(echo "$out" | grep -c '^[0-9]')" = 5 ] || fail "B tail printed: $out"
as $B $CLI ring stat $N > "$TMP/stat" 2>&1 || fail "B stat: $(cat $TMP/stat)"
grep -q "tail 3000" "$TMP/stat" || fail "B stat: $(cat $TMP/stat)"
out=$(as $B $CLI ring tail $N --tether bt --from latest --count 1 --timeout 0.2 2>&1); st=$?
[ $st = 1 ] && echo "$out" | grep -q "no record" || fail "B tethered tail: $st: $out"
as $A $CLI ring stat $N | grep -q "tether 'bt'" || fail "A does not see B's tether"
# the tether holds A's writer: a lossless writer waits, then names B's tether
out=$(as $A $CLI ring write $N --count 2000 --tether-timeout 200 2>&1); st=$?
[ $st = 1 ] && echo "$out" | grep -q "bt" || fail "A's writer not held by B's tether: $st: $out"

# B cannot write the records
out=$(as $B $CLI ring write $N --count 1 2>&1); st=$?
[ $st = 1 ] && echo "$out" | grep -qi "permission" || fail "B ring write: $st: $out"
as $B sh -c "printf xxxxxxxx | dd of=/dev/shm/$N bs=8 seek=1 conv=notrunc" 2>/dev/null && fail "B wrote /dev/shm/$N directly"
out=$(as $B $CLI ring rm $N 2>&1) && fail "B removed A's ring: $out"
[ -e /dev/shm/$N ] || fail "A's ring is gone"
# C (another group) cannot read
out=$(as $C $CLI ring tail $N --count 1 --timeout 0.2 2>&1); st=$?
[ $st = 1 ] && echo "$out" | grep -qi "permission" || fail "C tail: $st: $out"

# A's archive: 0600 by default, B cannot read it; --mode 0640 lets B read
chmod 0777 "$TMP"
as $A $CLI ring archive $N "$TMP/a.h5" --timeout 0.3 -q > /dev/null || fail "A archive"
[ "$(stat -c %a "$TMP/a.h5")" = 600 ] || fail "archive mode $(stat -c %a $TMP/a.h5)"
as $B cat "$TMP/a.h5" > /dev/null 2>&1 && fail "B read A's 0600 archive"
as $A $CLI ring archive $N "$TMP/b.h5" --timeout 0.3 -q --mode 0640 > /dev/null || fail "A archive --mode 0640"
as $B cat "$TMP/b.h5" > /dev/null || fail "B cannot read A's 0640 archive"
exit 0
