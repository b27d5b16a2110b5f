# tests/shm/trustlib.sh -- helpers sourced by the shm/persist trust tests
# (issue 8): the CLI, the shm directory, a private temp dir, expect(), and
# throwaway users for two-user tests.  Not a test itself (no test_ prefix).
CLI=${H5TIER_CLI:?H5TIER_CLI not set}
PY=${H5TIER_PYTHON:-/usr/bin/python3}
SHMDIR=${H5TIER_SHM_DIR:-/dev/shm}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/h5tier-trust-XXXXXX")
chmod 0755 "$TMP"
TRUST_USERS=()
TRUST_CLEANUP=()

trust_cleanup() {
    local c u
    for c in "${TRUST_CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
    wait 2>/dev/null || true # the background processes killed above are gone before userdel
    for u in "${TRUST_USERS[@]}"; do
        userdel -f "$u" >/dev/null 2>&1 || userdel "$u" >/dev/null 2>&1 || echo "warning: could not remove user $u" >&2
    done
    rm -rf "$TMP"
}
trap trust_cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
need_py() { "$PY" -c 'import h5py' 2>/dev/null || { echo "SKIP: $PY has no h5py"; exit 77; }; }
on_cleanup() { TRUST_CLEANUP+=("$1"); }

# expect STATUS PATTERN cmd...: run (10 s at most), check exit status and output
expect() {
    local want=$1 pat=$2
    shift 2
    local out st=0
    out=$(timeout 10 "$@" 2>&1) || st=$?
    [[ $st -eq $want ]] || fail "'$*' exited $st, expected $want; output: $out"
    grep -q -- "$pat" <<<"$out" || fail "'$*' output lacks '$pat': $out"
    echo "ok: $* -> $st"
}

# an HDF5 file with one dataset of N float64 (default 100000)
make_h5() {
    "$PY" - "$1" "${2:-100000}" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["data"] = np.arange(int(sys.argv[2]), dtype="f8")
    f.attrs["what"] = "trust test"
PYEOF
}

# new_user VAR: create a throwaway user (root only; exit 77 otherwise)
new_user() {
    [[ $(id -u) -eq 0 ]] || { echo "SKIP: two-user test needs root to create throwaway users"; exit 77; }
    command -v useradd >/dev/null && command -v setpriv >/dev/null || { echo "SKIP: useradd/setpriv missing"; exit 77; }
    local u="h5t$$${#TRUST_USERS[@]}$RANDOM"
    u=${u:0:30}
    useradd -M -N -s /bin/sh "$u" >/dev/null 2>&1 || { echo "SKIP: useradd $u failed"; exit 77; }
    TRUST_USERS+=("$u")
    printf -v "$1" '%s' "$u"
}

# "$AS" USER cmd...: run as that user (its own uid/gid, no supplementary
# groups); a script, so that timeout and expect can run it
AS="$TMP/as-user"
cat >"$AS" <<'ASEOF'
#!/bin/sh
u=$1
shift
exec setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups -- "$@"
ASEOF
chmod 0755 "$AS"
