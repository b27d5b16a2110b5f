#!/usr/bin/env bash
# Proves (issue 8 items 2 and 6) that special files are refused at once with a
# clear error, never waited on and never replaced: a FIFO or a directory at
# /dev/shm/NAME makes `shm info`, `shm save` and `shm rm` fail within seconds
# naming the type (main hung forever on the FIFO), a FIFO given as the source
# of `shm load` is refused; and `--force` replaces only regular files: a
# character device (a private copy of /dev/null made with mknod), a FIFO and
# a directory given as DST to `persist --force` and `shm save --force` are
# refused and left exactly as they were (main replaced /dev/null with a
# 64 MiB regular file).
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
need_py
NAME="h5t-special-$$"
NAME2="h5t-special2-$$"
on_cleanup "rm -rf '$SHMDIR/$NAME' '$SHMDIR/$NAME2' '$SHMDIR/.$NAME.h5tier' '$SHMDIR/.$NAME2.h5tier'"
make_h5 "$TMP/data.h5"

# ---- a FIFO at /dev/shm/NAME ----
mkfifo -m 0600 "$SHMDIR/$NAME"
expect 1 "FIFO\|not a regular file" "$CLI" shm info "$NAME"
expect 1 "FIFO\|not a regular file" "$CLI" shm save "$NAME" "$TMP/out.h5"
[[ -e $TMP/out.h5 ]] && fail "save of a FIFO created a file"
expect 1 "exists\|FIFO\|not a regular file" "$CLI" shm load "$TMP/data.h5" "$NAME"
expect 1 "FIFO\|not a regular file" "$CLI" persist "shm:$NAME" "$TMP/out.h5"
out=$(timeout 10 "$CLI" shm ls 2>&1) || fail "ls with a FIFO in the shm directory: $out"
[[ -p $SHMDIR/$NAME ]] || fail "the FIFO was changed"
rm -f "$SHMDIR/$NAME"

# ---- a directory at /dev/shm/NAME ----
mkdir -m 0700 "$SHMDIR/$NAME"
expect 1 "directory\|not a regular file" "$CLI" shm info "$NAME"
expect 1 "directory\|not a regular file" "$CLI" shm save "$NAME" "$TMP/out.h5"
rmdir "$SHMDIR/$NAME"

# ---- a FIFO as the source of load ----
mkfifo -m 0600 "$TMP/src.fifo"
expect 1 "src.fifo" "$CLI" shm load "$TMP/src.fifo" "$NAME2"
expect 1 "FIFO\|not a regular file" "$CLI" shm load "$TMP/src.fifo" "$NAME2"
[[ -e $SHMDIR/$NAME2 ]] && fail "load of a FIFO created $NAME2"

# ---- --force replaces only regular files ----
"$CLI" shm load "$TMP/data.h5" "$NAME2"
if [[ $(id -u) -eq 0 ]]; then
    mknod -m 0666 "$TMP/null" c 1 3
    for cmd in "persist $TMP/data.h5 $TMP/null --force" "shm save $NAME2 $TMP/null --force"; do
        # shellcheck disable=SC2086
        expect 1 "not a regular file\|character device" "$CLI" $cmd
        [[ -c $TMP/null ]] || fail "'$cmd' replaced the character device"
    done
    echo "probe" >"$TMP/null" # still a working null device
    [[ $(stat -c %s "$TMP/null") == 0 ]] || fail "the null device was replaced"
else
    echo "note: not root, the character-device case is skipped (mknod needs root)"
fi
mkfifo -m 0600 "$TMP/dst.fifo"
mkdir "$TMP/dst.dir"
for dst in "$TMP/dst.fifo" "$TMP/dst.dir"; do
    expect 1 "not a regular file\|FIFO\|directory" "$CLI" persist "$TMP/data.h5" "$dst" --force
    expect 1 "not a regular file\|FIFO\|directory" "$CLI" shm save "$NAME2" "$dst" --force
done
[[ -p $TMP/dst.fifo ]] || fail "the FIFO destination was replaced"
[[ -d $TMP/dst.dir ]] || fail "the directory destination was replaced"
# a regular file is still replaced with --force
echo old >"$TMP/reg.h5"
"$CLI" persist "$TMP/data.h5" "$TMP/reg.h5" --force 2>/dev/null
h5dump -H "$TMP/reg.h5" >/dev/null || fail "persist --force over a regular file"
echo old >"$TMP/reg2.h5"
"$CLI" shm save "$NAME2" "$TMP/reg2.h5" --force
cmp "$TMP/data.h5" "$TMP/reg2.h5" || fail "save --force over a regular file"
ls -a "$TMP" | grep -q "h5tier-tmp\|h5tier-save" && fail "temp files left behind: $(ls -a "$TMP")"
echo "all ok"
