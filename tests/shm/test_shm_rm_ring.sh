#!/usr/bin/env bash
# Proves (issue 8 item 7) that `h5tier shm rm` refuses to remove a ring whose
# writer is alive, like `h5tier ring rm` (main unlinked it with exit 0 and the
# writer went on writing into an unlinked object): with `ring write` running,
# `shm rm NAME` exits 1 naming the writer's pid and the ring is still there;
# `--force` removes it; after the writer is gone a plain `shm rm` removes
# the ring and its control object.  Also: bad names exit 2 in both `shm rm`
# and `ring rm`.
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
NAME="h5t-rmring-$$"
NAME2="h5t-rmring2-$$"
on_cleanup "'$CLI' ring rm --force '$NAME'; '$CLI' ring rm --force '$NAME2'; rm -f '$SHMDIR/$NAME' '$SHMDIR/.$NAME.h5tier' '$SHMDIR/$NAME2' '$SHMDIR/.$NAME2.h5tier'"

"$CLI" ring create "$NAME" --dtype u8 --capacity 1024 >/dev/null
"$CLI" ring write "$NAME" --rate 200 --duration 20 >/dev/null 2>&1 &
WPID=$!
on_cleanup "kill $WPID"
for _ in $(seq 100); do # until the writer is attached
    "$CLI" ring stat "$NAME" 2>/dev/null | grep -q "pid $WPID\|writer.*$WPID" && break
    sleep 0.05
done
expect 1 "$WPID" "$CLI" shm rm "$NAME"
expect 1 "writer" "$CLI" shm rm "$NAME"
[[ -e $SHMDIR/$NAME ]] || fail "shm rm removed a ring under its live writer"
expect 1 "$WPID" "$CLI" ring rm "$NAME"
"$CLI" shm rm --force "$NAME" >/dev/null 2>&1 || fail "shm rm --force of a live ring"
[[ -e $SHMDIR/$NAME ]] && fail "shm rm --force left the ring"
kill "$WPID" 2>/dev/null || true
wait "$WPID" 2>/dev/null || true

# a ring whose writer is gone is removed by a plain shm rm
"$CLI" ring create "$NAME2" --dtype u8 --capacity 1024 >/dev/null
"$CLI" ring write "$NAME2" --count 100 >/dev/null
"$CLI" shm rm "$NAME2"
[[ -e $SHMDIR/$NAME2 || -e $SHMDIR/.$NAME2.h5tier ]] && fail "shm rm of an idle ring left something"

# usage errors exit 2 in both commands
expect 2 "../x" "$CLI" shm rm ../x
expect 2 "../x" "$CLI" ring rm ../x
echo "all ok"
