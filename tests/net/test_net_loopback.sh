#!/usr/bin/env bash
# Proves ring fan-out over ZeroMQ on loopback, with real processes:
# (1) a lossless subscriber writing an archive is killed (SIGKILL) and
#     restarted, then the publisher is killed and restarted, while
#     `ring write` produces 30000 self-checking records: the archive holds
#     every record exactly once, checked record by record (seq ==
#     arange, the record's own seq, its checksum), no lost range, with the
#     template's paths, attributes and calibration dataset;
# (2) a lossy subscriber mirrors the ring: the mirror has the same paths and
#     attributes and `ring tail --verify` reads it;
# (3) a mirror name taken by a ring of another schema is refused (exit 1,
#     "another schema"); a publisher restarted on another ring is detected
#     by a running subscriber ("another schema");
# (4) security: a non-loopback bind without keys is refused (exit 1);
#     with CURVE keys from `ring keygen`, a subscriber with server.pub gets
#     records, one without a key and one with another key are refused,
#     visible on both sides (subscriber exit 1 "refused", publisher log
#     "refused").
# Bounded: every process runs under timeout; about 25 s.
set -uo pipefail
cli=${H5TIER_CLI:?}
py=${H5TIER_PYTHON:-/usr/bin/python3}
"$cli" ring publish --help >/dev/null 2>&1 || { echo "ring publish not built in"; exit 77; }
"$py" -c 'import h5py' 2>/dev/null || { echo "no h5py"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/h5tier-net-XXXXXX")
name="h5t-net-$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for s in a b m x m2; do "$cli" ring rm "$name-$s" --force >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.err; do [ -f "$f" ] && { echo "== $f"; tail -5 "$f"; }; done; exit 1; }
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

"$py" - "$tmp/template.h5" <<'EOF' || fail "template"
import sys, h5py, numpy as np, xxhash
with h5py.File(sys.argv[1], "w") as f:
    e = f.create_group("entry"); e.attrs["NX_class"] = "NXentry"
    ev = e.create_dataset("daq/events", (0,), maxshape=(None,), chunks=(64,),
                          dtype=np.dtype([("seq", "<u8"), ("e", "<f8"), ("chk", "<u8")]))
    ev.attrs["units"] = "keV"
    e.create_dataset("det/img", (0, 8, 8), maxshape=(None, 8, 8), dtype="<u2", chunks=(1, 8, 8))
    e.create_dataset("calib/gain", data=np.linspace(1, 2, 16))
EOF
"$cli" ring create "$name-a" --like-file "$tmp/template.h5" --capacity 4096 >/dev/null || fail "create"

# ---- 1. lossless archive through kills of the subscriber and of the publisher
P1=$(port)
"$cli" ring publish "$name-a" --bind "tcp://127.0.0.1:$P1" --duration 40 >"$tmp/pub1.out" 2>"$tmp/pub1.err" &
pub=$!; pids+=($pub)
sub_start() {
  "$cli" ring subscribe "tcp://127.0.0.1:$P1" --archive "$tmp/a.h5" --lossless --id arch \
    --count "$1" --timeout 8 --duration 40 >>"$tmp/sub1.out" 2>>"$tmp/sub1.err" &
  sub=$!; pids+=($sub)
}
sub_start 30000
for i in $(seq 50); do grep -q "schema from" "$tmp/sub1.err" 2>/dev/null && break; sleep 0.1; done
grep -q "schema from" "$tmp/sub1.err" || fail "no schema"
sleep 0.3   # the tether exists once the subscriber's START reached the publisher
timeout 60 "$cli" ring write "$name-a" --stream /entry/daq/events --count 30000 --rate 6000 \
  >"$tmp/w.out" 2>"$tmp/w.err" &
writer=$!; pids+=($writer)
sleep 1.2
kill -9 $sub; wait $sub 2>/dev/null
sleep 0.5
sub_start 30000                                        # resumes from the archive: no loss, no duplicate
sleep 1.5
kill -9 $pub; wait $pub 2>/dev/null
sleep 0.5
"$cli" ring publish "$name-a" --bind "tcp://127.0.0.1:$P1" --duration 40 >"$tmp/pub1b.out" 2>"$tmp/pub1b.err" &
pub=$!; pids+=($pub)
wait $writer || fail "writer: $(cat "$tmp/w.err")"
# the restarted subscriber stops at --count (the total of both runs is what the archive holds)
for i in $(seq 150); do kill -0 $sub 2>/dev/null || break; sleep 0.1; done
kill -INT $sub 2>/dev/null; wait $sub
"$py" - "$tmp/a.h5" 30000 <<'EOF' >"$tmp/check.out" 2>&1 || fail "lossless archive: $(cat "$tmp/check.out")"
import sys, h5py, numpy as np, xxhash
f = h5py.File(sys.argv[1], "r"); n = int(sys.argv[2])
seq = f["/.h5tier/entry/daq/events/seq"][:]; d = f["/entry/daq/events"][:len(seq)]
assert len(seq) >= n, ("records", len(seq), n)
seq, d = seq[:n], d[:n]
assert (seq == np.arange(n)).all(), "seq != arange: first bad at %d" % int(np.argmax(seq != np.arange(n)))
raw = d.view(np.uint8).reshape(n, -1)
# XXH3-64 (python3-xxhash) of bytes 0..size-9: the `ring write` payload checksum
body = np.ascontiguousarray(raw[:, :-8]); L = body.shape[1]; flat = memoryview(body).cast("B")
h = np.fromiter((xxhash.xxh3_64_intdigest(flat[i * L:(i + 1) * L]) for i in range(n)), dtype=np.uint64, count=n)
assert (h == raw[:, -8:].copy().view("<u8")[:, 0]).all(), "bad checksum"
assert (raw[:, :8].copy().view("<u8")[:, 0] == seq).all(), "record seq != archived seq"
assert len(f["/.h5tier/entry/daq/events/lost"]) == 0
assert f["/entry"].attrs["NX_class"] == "NXentry" and f["/entry/daq/events"].attrs["units"] == "keV"
assert np.allclose(f["/entry/calib/gain"][:], np.linspace(1, 2, 16))
print("ok")
EOF
grep -q "reconnected\|connected (lossless)" "$tmp/pub1.err" || fail "publisher log: $(cat "$tmp/pub1.err")"
# the restarted subscriber stopped cleanly: its tether is gone, the writer waits for nobody
for i in $(seq 20); do "$cli" ring stat "$name-a" | grep -q "net-arch" || break; sleep 0.1; done
"$cli" ring stat "$name-a" | grep -q "net-arch" && fail "tether left after a clean stop: $("$cli" ring stat "$name-a")"

# ---- 2. lossy mirror, read by the local tools
timeout 20 "$cli" ring subscribe "tcp://127.0.0.1:$P1" --mirror "$name-m" --timeout 1.5 \
  >"$tmp/sub2.out" 2>"$tmp/sub2.err" &
s2=$!; pids+=($s2)
for i in $(seq 50); do grep -q "schema from" "$tmp/sub2.err" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
"$cli" ring write "$name-a" --stream /entry/det/img --count 10 >/dev/null 2>&1 || fail "write img"
wait $s2 || fail "mirror subscriber: $(cat "$tmp/sub2.err")"
"$cli" ring tail "$name-m" --stream /entry/det/img --count 10 --verify --timeout 2 >"$tmp/tail" 2>&1 \
  && grep -q "all verified" "$tmp/tail" || fail "tail of the mirror: $(cat "$tmp/tail")"
"$py" -c "
import h5py
m = h5py.File('/dev/shm/$name-m', 'r')
assert m['/entry'].attrs['NX_class'] == 'NXentry' and m['/entry/daq/events'].attrs['units'] == 'keV'
assert m['/entry/det/img'].shape == (4096, 8, 8) and m['/entry/calib/gain'].shape == (16,)
" >"$tmp/m.out" 2>&1 || fail "mirror schema: $(cat "$tmp/m.out")"

# ---- 3. schema mismatches
"$cli" ring create "$name-m2" --stream entry/daq/events --dtype u8 --capacity 8 >/dev/null || fail "m2"
out=$(timeout 20 "$cli" ring subscribe "tcp://127.0.0.1:$P1" --mirror "$name-m2" --count 1 --timeout 2 2>&1); st=$?
[ $st = 1 ] && echo "$out" | grep -q "another schema" || fail "mismatched mirror ($st): $out"
"$cli" ring subscribe "tcp://127.0.0.1:$P1" --mirror "$name-x" --timeout 20 --duration 30 >"$tmp/sub3.out" \
  2>"$tmp/sub3.err" &
s3=$!; pids+=($s3)
for i in $(seq 50); do grep -q "schema from" "$tmp/sub3.err" 2>/dev/null && break; sleep 0.1; done
kill -9 $pub; wait $pub 2>/dev/null
"$cli" ring create "$name-b" --stream other --dtype f4 --capacity 8 >/dev/null || fail "ring b"
"$cli" ring publish "$name-b" --bind "tcp://127.0.0.1:$P1" --duration 8 >/dev/null 2>&1 &
pids+=($!)
wait $s3; st=$?
[ $st = 1 ] && grep -q "another schema" "$tmp/sub3.err" || fail "publisher schema change not seen ($st): $(cat "$tmp/sub3.err")"

# ---- 4. security
out=$("$cli" ring publish "$name-a" --bind "tcp://0.0.0.0:$(port)" --duration 1 2>&1); st=$?
[ $st = 1 ] && echo "$out" | grep -q "CURVE" || fail "non-loopback without keys ($st): $out"
"$cli" ring keygen "$tmp/keys" >/dev/null || fail "keygen"
"$cli" ring keygen "$tmp/other" >/dev/null || fail "keygen 2"
[ "$(stat -c %a "$tmp/keys/server.key")" = 600 ] || fail "server.key mode"
"$cli" ring keygen "$tmp/keys" >/dev/null 2>&1 && fail "keygen over an existing key"
P2=$(port)
"$cli" ring publish "$name-a" --bind "tcp://127.0.0.1:$P2" --curve "$tmp/keys" --duration 12 \
  >"$tmp/pub4.out" 2>"$tmp/pub4.err" &
pids+=($!)
sleep 0.3
"$cli" ring subscribe "tcp://127.0.0.1:$P2" --curve "$tmp/keys" --mirror "$name-x" --force --count 5 \
  --timeout 5 --duration 20 >"$tmp/sub4.out" 2>"$tmp/sub4.err" &
s4=$!; pids+=($s4)
for i in $(seq 50); do grep -q "schema from" "$tmp/sub4.err" 2>/dev/null && break; sleep 0.1; done
"$cli" ring write "$name-a" --stream /entry/det/img --count 5 >/dev/null 2>&1
wait $s4 || fail "CURVE subscriber: $(cat "$tmp/sub4.err")"
grep -Eq "received [1-9][0-9]* records" "$tmp/sub4.out" || fail "CURVE records: $(cat "$tmp/sub4.out")"
for k in none other; do
  args=(); [ $k = other ] && args=(--curve "$tmp/other")
  out=$(timeout 20 "$cli" ring subscribe "tcp://127.0.0.1:$P2" "${args[@]}" --mirror "$name-x" --force \
        --connect-timeout 2 --count 1 2>&1); st=$?
  [ $st = 1 ] && echo "$out" | grep -q "refused" || fail "subscriber with key '$k' not refused ($st): $out"
done
grep -q "refused" "$tmp/pub4.err" || fail "the publisher does not report the refusal: $(cat "$tmp/pub4.err")"
echo "ok"
