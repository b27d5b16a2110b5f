#!/usr/bin/env bash
# Proves `h5tier ring archive` end to end through the CLI, with real
# processes: records from `ring write` are archived (count stop), the
# archive is checked with h5dump (layout, /.h5tier/ev/seq and lost) and h5py (seq ==
# arange(N), the payload checksums of `ring write`); a lossless archiver
# killed with SIGKILL three times while `ring write` produces continues
# with no loss and no duplicate; --keep-tether keeps the tether, which then
# holds the writer back until its tether timeout (exit 1 naming the tether)
# and a restarted archiver has every published record; bad input gives exit 1 with a clear
# message (schema mismatch, unknown stream, not a ring) and usage errors
# exit 2.  Skips (77) when the ring CLI is not built in.
set -uo pipefail
cli=${H5TIER_CLI:?}
py=${H5TIER_PYTHON:-/usr/bin/python3}
"$cli" ring create --help >/dev/null 2>&1 || { echo "ring CLI not available"; exit 77; }
"$py" -c 'import h5py' 2>/dev/null || { echo "no h5py"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/h5tier-archcli-XXXXXX")
name="h5t-archcli-$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  "$cli" ring rm "$name" --force >/dev/null 2>&1
  "$cli" ring rm "$name-2" --force >/dev/null 2>&1
  "$cli" ring rm "$name-3" --force >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

check() { # FILE STREAM N: seq == arange(N), checksums of 'ring write' payloads valid, no lost range
  "$py" - "$@" <<'EOF'
import sys, h5py, numpy as np, xxhash
f = h5py.File(sys.argv[1], "r"); p = sys.argv[2]; n = int(sys.argv[3])
seq, d, lost = f["/.h5tier/" + p.strip("/") + "/seq"][:], f[p][:], f["/.h5tier/" + p.strip("/") + "/lost"][:]
assert len(seq) == n and len(d) == n, (len(seq), len(d), n)
assert (seq == np.arange(n)).all(), "seq != arange"
raw = d.view(np.uint8).reshape(n, -1)
# XXH3-64 (python3-xxhash) of bytes 0..size-9: the `ring write` payload checksum
body = np.ascontiguousarray(raw[:, :-8]); L = body.shape[1]; flat = memoryview(body).cast("B")
h = np.fromiter((xxhash.xxh3_64_intdigest(flat[i * L:(i + 1) * L]) for i in range(n)), dtype=np.uint64, count=n)
assert (h == raw[:, -8:].copy().view("<u8")[:, 0]).all(), "bad checksum"
assert (raw[:, :8].copy().view("<u8")[:, 0] == seq).all(), "record seq != /.h5tier/PATH/seq"
assert len(lost) == 0, lost
print("ok", n)
EOF
}

# 1. write, archive with a count stop, check
"$cli" ring create "$name" --stream ev --dtype '{seq:u8,v:f8[6],sum:u8}' --capacity 8192 >/dev/null || fail "ring create"
"$cli" ring write "$name" --stream ev --count 5000 2>/dev/null || fail "ring write"
out=$("$cli" ring archive "$name" "$tmp/a.h5" --count 5000 --timeout 5 -q) || fail "ring archive: $out"
echo "$out" | grep -q "archived 5000 records" || fail "summary: $out"
h5dump -H -p "$tmp/a.h5" >"$tmp/dump" || fail "h5dump"
grep -q 'DATASET "ev"' "$tmp/dump" && grep -q 'GROUP ".h5tier"' "$tmp/dump" && grep -q 'DATASET "seq"' "$tmp/dump" && grep -q 'DATASET "lost"' "$tmp/dump" \
  && grep -q 'H5S_UNLIMITED' "$tmp/dump" && grep -q 'CHUNKED' "$tmp/dump" || fail "h5dump layout: $(cat "$tmp/dump")"
check "$tmp/a.h5" ev 5000 || fail "h5py check of a.h5"
"$cli" ring archive --help | grep -q -- "--lossless" || fail "--help"

# 2. lossless archiver killed 3 times while the writer produces
"$cli" ring create "$name-2" --stream ev --dtype '{seq:u8,v:f8[6],sum:u8}' --capacity 4096 >/dev/null || fail "ring create 2"
"$cli" ring archive "$name-2" "$tmp/k.h5" --lossless --timeout 60 -q >/dev/null 2>&1 &
arch=$!; pids+=("$arch")
for _ in $(seq 1 500); do "$cli" ring stat "$name-2" 2>/dev/null | grep -q "tether 'archive'" && break; sleep 0.01; done
"$cli" ring write "$name-2" --stream ev --count 200000 --rate 100000 --batch 100 --tether-timeout 20000 2>"$tmp/w.err" &
writer=$!; pids+=("$writer")
for round in 1 2 3; do
  sleep 0.$((2 + RANDOM % 5))
  kill -9 "$arch"; wait "$arch" 2>/dev/null
  "$cli" ring archive "$name-2" "$tmp/k.h5" --lossless --timeout 60 -q >/dev/null 2>&1 &
  arch=$!; pids+=("$arch")
done
wait "$writer" || fail "writer: $(cat "$tmp/w.err")"
kill -INT "$arch"; wait "$arch" || fail "final archiver exit"
check "$tmp/k.h5" ev 200000 || fail "h5py check after kills"
"$cli" ring stat "$name-2" | grep -q "tether 'archive'" && fail "a clean stop should remove the tether"

# 3. a dead lossless archiver holds the writer back, but not forever: the writer fails after its
#    tether timeout naming the tether; a restarted archiver then has every published record
"$cli" ring create "$name-3" --stream ev --dtype '{seq:u8,v:f8[6],sum:u8}' --capacity 1024 >/dev/null || fail "ring create 3"
"$cli" ring archive "$name-3" "$tmp/t.h5" --lossless --keep-tether --count 10 --timeout 5 -q >/dev/null 2>&1 &
arch=$!; pids+=("$arch")
for _ in $(seq 1 500); do "$cli" ring stat "$name-3" 2>/dev/null | grep -q "tether 'archive'" && break; sleep 0.01; done
"$cli" ring write "$name-3" --stream ev --count 10 2>/dev/null || fail "write 10"
wait "$arch" || fail "archiver with --keep-tether"
"$cli" ring stat "$name-3" | grep -q "tether 'archive'" || fail "--keep-tether did not keep the tether"
err=$("$cli" ring write "$name-3" --stream ev --count 5000 --tether-timeout 300 2>&1); st=$?
[ $st -eq 1 ] && echo "$err" | grep -q "archive" || fail "writer behind a dead tether ($st): $err"
tail=$("$cli" ring stat "$name-3" | sed -n "s/.*stream 'ev':.*tail \([0-9]*\).*/\1/p")
[ -n "$tail" ] && [ "$tail" -gt 10 ] && [ "$tail" -le 1034 ] || fail "tail after the timeout: '$tail'"
"$cli" ring archive "$name-3" "$tmp/t.h5" --lossless --timeout 1 -q >/dev/null || fail "restarted archiver"
check "$tmp/t.h5" ev "$tail" || fail "h5py check after the writer's timeout"
"$cli" ring rm "$name-3" --force >/dev/null 2>&1

# 4. bad input
"$py" -c "import h5py; f = h5py.File('$tmp/other.h5', 'w'); f.create_dataset('ev', (0,), 'i4', maxshape=(None,), chunks=(8,))"
err=$("$cli" ring archive "$name" "$tmp/other.h5" --count 1 --timeout 1 -q 2>&1); st=$?
[ $st -eq 1 ] && echo "$err" | grep -q "schema mismatch" && echo "$err" | grep -q "/ev" || fail "schema mismatch ($st): $err"
err=$("$cli" ring archive "$name" "$tmp/u.h5" --stream nope --count 1 -q 2>&1); st=$?
[ $st -eq 1 ] && echo "$err" | grep -q "no stream 'nope'" || fail "unknown stream ($st): $err"
[ ! -e "$tmp/u.h5" ] || fail "an archive was created for an unknown stream"
err=$("$cli" ring archive "no-such-ring-$$" "$tmp/n.h5" --count 1 -q 2>&1); st=$?
[ $st -eq 1 ] || fail "missing ring ($st): $err"
"$cli" ring archive "$name" 2>/dev/null; [ $? -eq 2 ] || fail "usage error must exit 2"
"$cli" ring archive "$name" "$tmp/x.h5" --bogus 2>/dev/null; [ $? -eq 2 ] || fail "unknown option must exit 2"
echo "ok"
