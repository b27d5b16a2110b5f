#!/usr/bin/env bash
# Proves that a bad H5TIER_SHM_DIR is refused with an error naming it and
# never silently redirected: a relative path (main silently used /dev/shm,
# the world-shared directory, instead), a missing directory (main: "check
# the file name"), a regular file (main: "control object ... another user may
# have planted it"), a directory writable by others without the sticky bit
# (main: accepted, so any user could delete or replace the objects), and
# (as root) a directory owned by another user (it could rename or replace our
# objects) are each refused by load, info, save, rm and ls with exit 1, a
# message that names the directory and the reason, and nothing created in
# it or in /dev/shm; a symlink to a good private directory and a sticky
# world-writable directory (like /dev/shm) keep working.
set -euo pipefail
source "$(dirname "$0")/trustlib.sh"
need_py
NAME="h5t-hostdir-$$"
make_h5 "$TMP/data.h5" 20000
on_cleanup "rm -f '/dev/shm/$NAME' '/dev/shm/.$NAME.h5tier'"

refused() { # DIR PATTERN: every subcommand refuses DIR, naming it
    local dir=$1 pat=$2
    export H5TIER_SHM_DIR="$dir"
    expect 1 "$pat" "$CLI" shm load "$TMP/data.h5" "$NAME"
    grep -qF "$dir" <<<"$(timeout 10 "$CLI" shm load "$TMP/data.h5" "$NAME" 2>&1)" || fail "load does not name '$dir'"
    expect 1 "$pat" "$CLI" shm info "$NAME"
    expect 1 "$pat" "$CLI" shm save "$NAME" "$TMP/out.h5"
    expect 1 "$pat" "$CLI" shm rm "$NAME"
    expect 1 "$pat" "$CLI" shm ls
    out=$(timeout 10 "$CLI" shm ls --json 2>/dev/null) || true
    [[ -z $out ]] || fail "ls --json printed output for a refused directory: $out"
    unset H5TIER_SHM_DIR
    [[ -e /dev/shm/$NAME ]] && fail "a refused H5TIER_SHM_DIR='$dir' put the object into /dev/shm"
    [[ -e $TMP/out.h5 ]] && fail "save wrote a file with a refused directory"
    return 0
}

cd "$TMP"
mkdir -m 0700 rel
refused "rel" "not an absolute path"
[[ -z $(ls -A rel) ]] || fail "something created in the relative dir"
refused "$TMP/missing" "does not exist"
touch "$TMP/afile"
refused "$TMP/afile" "not a directory"
mkdir "$TMP/ww" && chmod 0777 "$TMP/ww"
refused "$TMP/ww" "sticky"
[[ -z $(ls -A "$TMP/ww") ]] || fail "something created in the world-writable dir"

# good ones keep working: a symlink to a private dir, a sticky 1777 dir
mkdir -m 0700 "$TMP/priv"
ln -s "$TMP/priv" "$TMP/link"
mkdir "$TMP/sticky" && chmod 1777 "$TMP/sticky"
for d in "$TMP/link" "$TMP/sticky"; do
    H5TIER_SHM_DIR=$d "$CLI" shm load "$TMP/data.h5" "$NAME" || fail "load into $d"
    H5TIER_SHM_DIR=$d "$CLI" shm info "$NAME" >/dev/null || fail "info in $d"
    H5TIER_SHM_DIR=$d "$CLI" shm ls --json | "$PY" -c 'import json,sys; assert any(x["name"]==sys.argv[1] for x in json.load(sys.stdin))' "$NAME" || fail "ls in $d"
    H5TIER_SHM_DIR=$d "$CLI" shm rm "$NAME" || fail "rm in $d"
done
[[ -z $(ls -A "$TMP/priv") ]] || fail "left in priv: $(ls -A "$TMP/priv")"

# another user's directory (root only: a throwaway owner)
if [[ $(id -u) -eq 0 ]]; then
    new_user B
    mkdir -m 0755 "$TMP/bdir" && chown "$B" "$TMP/bdir"
    refused "$TMP/bdir" "owned by"
    [[ -z $(ls -A "$TMP/bdir") ]] || fail "something created in B's dir"
else
    echo "SKIP part: another user's directory needs root (useradd)"
fi
echo "all ok"
