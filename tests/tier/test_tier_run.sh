#!/usr/bin/env bash
# Proves `h5tier run` makes unmodified HDF5 programs use an h5tier driver
# with outputs equal to runs without it: h5dump (full dump), h5ls -r -v,
# h5repack (the output file byte-identical to plain h5repack's) and a
# python3-h5py script that writes and reads a file, each under
# `--driver tier` (the shim's redirection is confirmed by -v and by the
# statistics JSON it makes the driver write) and under `--driver shm`
# (no /dev/shm object left behind).  A program that sets its own driver
# (h5py driver='core') is left alone.  Bad input: unknown driver (lists the
# allowed ones), bad --config (quotes the token), no program, a missing
# program.  Also `h5tier tier stat` prints the statistics table,
# `h5tier tier check` normalises a config, and `h5tier tier cache ls|rm`
# list and remove a kept cache made by a run.
set -euo pipefail

CLI=${H5TIER_CLI:?H5TIER_CLI not set}
PY=${H5TIER_PYTHON:-/usr/bin/python3}
for t in h5dump h5ls h5repack; do command -v $t >/dev/null || { echo "SKIP: $t missing"; exit 77; }; done
"$PY" -c 'import h5py' 2>/dev/null || { echo "SKIP: $PY has no h5py"; exit 77; }

# A sanitizer build of the shim cannot be preloaded into the uninstrumented
# system tools (the runtime must come first, and h5repack hangs under a
# preloaded libasan): the driver itself is covered by the other tests there.
SHIM="$(dirname "$CLI")/libh5tier_shim.so"
# (ldd's output is read whole first: under pipefail, grep -q closing the pipe early
# would make ldd die of SIGPIPE and the test miss the skip)
libs=$(ldd "$SHIM" 2>/dev/null || true)
if grep -qE 'lib(asan|ubsan|tsan)\.so' <<<"$libs"; then
    echo "SKIP: sanitizer build: the shim is not preloaded into uninstrumented programs"
    exit 77
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/h5tier-run-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {
    local want=$1 pat=$2
    shift 2
    local out st=0
    out=$("$@" 2>&1) || st=$?
    [[ $st -eq $want ]] || fail "'$*' exited $st, expected $want; output: $out"
    grep -q -- "$pat" <<<"$out" || fail "'$*' output lacks '$pat': $out"
    echo "ok: $* -> $st"
}

"$PY" - <<'EOF'
import h5py, numpy as np
with h5py.File('in.h5', 'w') as f:
    f['a'] = np.arange(300000, dtype='i8')
    f.create_dataset('g/b', data=np.random.default_rng(1).random((200, 300)), chunks=(50, 50), compression='gzip')
    f['g/s'] = 'text'
    f.attrs['x'] = 3
EOF

cat >script.py <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'w') as f:
    f['v'] = np.arange(1000000, dtype='f8') * 0.5
    f.create_dataset('c', data=np.arange(40000).reshape(200, 200), chunks=(20, 20))
with h5py.File(sys.argv[1], 'r') as f:
    print(f['v'][12345], f['c'][150, 7], float(f['v'][:].sum()))
with h5py.File('in.h5', 'r') as f:
    print(int(f['a'][:].sum()), f['g/b'][3, 4], f.attrs['x'])
EOF

TIERCFG="ram=8MiB page=64KiB ssd=$TMP:32MiB"
for drv in tier shm; do
    cfg=()
    [[ $drv == tier ]] && cfg=(--config "$TIERCFG")
    h5dump in.h5 >ref.dump
    "$CLI" run --driver $drv "${cfg[@]}" -- h5dump in.h5 >got.dump
    cmp ref.dump got.dump || fail "$drv: h5dump output differs"
    h5ls -r -v in.h5 >ref.ls
    "$CLI" run --driver $drv "${cfg[@]}" -- h5ls -r -v in.h5 >got.ls
    # h5ls -v prints the file's location: the same file, so the same text
    cmp ref.ls got.ls || fail "$drv: h5ls output differs"
    rm -f ref.h5 got.h5
    h5repack in.h5 ref.h5
    "$CLI" run --driver $drv "${cfg[@]}" -- h5repack in.h5 got.h5
    cmp ref.h5 got.h5 || fail "$drv: h5repack output differs from plain h5repack's"
    rm -f py.h5
    "$PY" script.py py.h5 >ref.py.txt
    h5dump py.h5 >b.dump
    rm -f py.h5
    "$CLI" run --driver $drv "${cfg[@]}" -- "$PY" script.py py.h5 >got.py.txt
    cmp ref.py.txt got.py.txt || fail "$drv: h5py script output differs"
    h5dump py.h5 >a.dump
    cmp a.dump b.dump || fail "$drv: the h5py-written file differs"
    echo "ok: $drv: h5dump, h5ls, h5repack and h5py outputs equal the runs without the shim"
done
ls -a /dev/shm | grep -q "h5tier-run-" && fail "shm objects left behind: $(ls -a /dev/shm | grep h5tier-run-)"

# the shim really redirected: -v says so, the driver wrote statistics
out=$(H5TIER_STATS="$TMP/st.json" "$CLI" run --driver tier -v --config "$TIERCFG" -- h5dump -H in.h5 2>&1 >/dev/null)
grep -q "in.h5 -> tier driver" <<<"$out" || fail "no redirection reported: $out"
[[ -s st.json ]] || fail "no statistics written through the shim"
expect 0 "backing file:" "$CLI" tier stat st.json
expect 0 "ram " "$CLI" tier stat st.json
# a program that chooses its own driver keeps it
out=$(H5TIER_STATS="$TMP/core.json" "$CLI" run --driver tier -v -- "$PY" -c "
import h5py
f = h5py.File('mem.h5', 'w', driver='core', backing_store=False); f['x'] = 1; f.close()" 2>&1)
grep -q "tier driver" <<<"$out" && fail "a core-driver file was redirected: $out"
[[ -e core.json ]] && fail "the tier driver ran for a core-driver file"
echo "ok: a program's own driver is kept"

# kept cache made through the shim, listed and removed
KC="$TMP/kc"
mkdir -p "$KC"
"$CLI" run --driver tier --config "ram=4MiB page=64KiB ssd=$KC:64MiB keep=yes" -- h5dump in.h5 >/dev/null
expect 0 "valid" "$CLI" tier cache ls "$KC"
expect 0 "in.h5" "$CLI" tier cache ls "$KC"
expect 0 "removed 1 kept cache" "$CLI" tier cache rm "$KC"
expect 0 "no kept caches" "$CLI" tier cache ls "$KC"

# bad input
expect 2 "unknown driver 'tear' (allowed: tier, shm" "$CLI" run --driver tear -- h5ls in.h5
expect 2 "'evict=lfru'" "$CLI" run --driver tier --config "ram=1GiB evict=lfru" -- h5ls in.h5
expect 2 "no program given" "$CLI" run --driver tier
expect 2 "driver is required" "$CLI" run -- h5ls in.h5
expect 127 "cannot run 'no-such-prog-x'" "$CLI" run --driver tier -- no-such-prog-x
expect 1 "not a tier statistics file" "$CLI" tier stat script.py
expect 1 "cannot open" "$CLI" tier stat nope.json
expect 0 "page=1048576B" "$CLI" tier check "ram=1GiB page=1MiB"
expect 1 "did you mean 'page'" "$CLI" tier check "pgae=1MiB"
expect 1 "cache directory" "$CLI" tier cache ls "$TMP/nope"
expect 0 "stat" "$CLI" tier --help
expect 0 "--driver" "$CLI" run --help
echo "PASS"
