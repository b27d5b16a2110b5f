#!/usr/bin/env bash
# scripts/demo_ring.sh BUILD_DIR -- the HDF5 circular buffer at work (`make demo`).
#
# A ring of 64-byte events in shared memory; in separate processes: a writer
# producing at full speed for a few seconds, a live monitor, a lossy consumer
# and a lossless archiver to a disk HDF5 file with the same schema.  Prints
# rates and lags, then checks with h5py that the archive holds every record
# exactly once, in order, with valid checksums, and says so (exit 1 if not).
#
# Environment: DEMO_SECONDS (writer duration, default 3), DEMO_RATE (records/s,
# default: full speed), DEMO_DIR (where the archive goes, default a temp dir).
set -euo pipefail

build=${1:-build}
cli="$build/h5tier"
py=/usr/bin/python3
seconds=${DEMO_SECONDS:-3}
rate=${DEMO_RATE:-}
[ -x "$cli" ] || { echo "demo: $cli not found (build first: make build)" >&2; exit 1; }
"$py" -c 'import h5py, numpy, xxhash' 2>/dev/null || { echo "demo: $py with h5py and numpy is needed (apt-get install python3-h5py python3-xxhash)" >&2; exit 1; }

name="h5tier-demo-$$"
work=$(mktemp -d "${DEMO_DIR:-${TMPDIR:-/tmp}}/h5tier-demo-XXXXXX")
out="$work/events.h5"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$cli" ring rm "$name" --force >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }

say "1. create ring '$name': one stream 'events' of 64-byte records, 256k slots (16 MiB in /dev/shm)"
"$cli" ring create "$name" --stream events --dtype '{seq:u8,ts:f8,adc:u2[16],flags:u8,check:u8}' --capacity 256k

say "2. start a lossless archiver (tethered reader) -> $out"
"$cli" ring archive "$name" "$out" --lossless --timeout 2 --quiet >"$work/archive.out" 2>"$work/archive.err" &
archiver=$!; pids+=("$archiver")
for _ in $(seq 1 500); do
  "$cli" ring stat "$name" 2>/dev/null | grep -q "tether 'archive'" && break
  sleep 0.01
done
"$cli" ring stat "$name" | grep -q "tether 'archive'" || { echo "demo: the archiver did not attach" >&2; cat "$work/archive.err" >&2; exit 1; }

say "3. start a lossy consumer (verifies every record it gets; may be lapped)"
"$cli" ring tail "$name" --from latest --verify --timeout 2 >/dev/null 2>"$work/consumer.err" &
consumer=$!; pids+=("$consumer")

say "4. start the writer: ${seconds} s at ${rate:-full} speed"
"$cli" ring write "$name" --stream events --duration "$seconds" --batch 256 ${rate:+--rate "$rate"} 2>"$work/writer.err" &
writer=$!; pids+=("$writer")

say "5. live monitor (ring stat every 0.5 s)"
echo "  (tether lag = records put but not yet written to the archive; at the ring's capacity the"
echo "   writer waits for the archiver instead of overwriting: that is what lossless means)"
while kill -0 "$writer" 2>/dev/null; do
  "$cli" ring stat "$name" 2>/dev/null | grep -E "stream 'events'|tether" | sed "s/^ */  [$(date +%T)] /" || true
  sleep 0.5
done
wst=0; wait "$writer" || wst=$?
cst=0; wait "$consumer" || cst=$?
ast=0; wait "$archiver" || ast=$?
pids=()

say "6. results"
cat "$work/writer.err"
cat "$work/consumer.err"
cat "$work/archive.out" "$work/archive.err"
[ "$wst" -eq 0 ] || { echo "demo: the writer failed ($wst)" >&2; exit 1; }
[ "$ast" -eq 0 ] || { echo "demo: the archiver failed ($ast)" >&2; exit 1; }
[ "$cst" -eq 0 ] || echo "(the lossy consumer exited with $cst)"
total=$(sed -n 's/.*wrote \([0-9]*\) records.*/\1/p' "$work/writer.err")
[ -n "$total" ] || { echo "demo: cannot read the writer's record count" >&2; exit 1; }
ls -l "$out" | awk '{printf "archive file: %s, %.1f MB\n", $9, $5 / 1e6}'

say "7. check the archive with h5py: every record exactly once, in order, checksums valid"
"$py" - "$out" "$total" <<'EOF'
import sys, h5py, numpy as np, xxhash
path, total = sys.argv[1], int(sys.argv[2])
f = h5py.File(path, "r")
ds, sq, lost = f["events"], f["/.h5tier/events/seq"], f["/.h5tier/events/lost"]
print(f"  /events {ds.shape} {ds.dtype}, chunks {ds.chunks}, maxshape {ds.maxshape}")
n = len(sq)
ok = n == total and len(ds) == n and len(lost) == 0
bad = 0
step = 1 << 20
for a in range(0, n, step):
    s = sq[a:a + step]
    raw = ds[a:a + step].view(np.uint8).reshape(len(s), 64)
    if not np.array_equal(s, np.arange(a, a + len(s), dtype=np.uint64)):
        ok = False
        print(f"  seq mismatch in rows {a}..{a + len(s) - 1}")
        break
    if not np.array_equal(raw[:, :8].copy().view("<u8")[:, 0], s):
        ok = False
        print(f"  a record's own seq differs from /.h5tier/events/seq near row {a}")
        break
    body = np.ascontiguousarray(raw[:, :56]); flat = memoryview(body).cast("B")
    # XXH3-64 of bytes 0..55 (python3-xxhash; the 'ring write' payload checksum)
    h = np.fromiter((xxhash.xxh3_64_intdigest(flat[i * 56:(i + 1) * 56]) for i in range(len(s))),
                    dtype=np.uint64, count=len(s))
    bad += int((h != raw[:, 56:].copy().view("<u8")[:, 0]).sum())
ok = ok and bad == 0
if ok:
    print(f"  OK: the archive holds all {total} records exactly once, in order (seq == arange({total})), "
          f"all checksums valid, no lost range")
else:
    print(f"  FAILED: {n} records archived of {total} written, {len(lost)} lost ranges, {bad} bad checksums")
sys.exit(0 if ok else 1)
EOF
