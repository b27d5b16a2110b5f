#!/usr/bin/env bash
# Proves ring fan-out across two network namespaces joined by a veth pair
# (made here, with addresses 10.213.<pid>/30 only inside them): the
# publisher runs in namespace A bound to its veth address with CURVE keys,
# a lossless subscriber in namespace B writes an archive; the link is cut
# (`ip link set down`) for 3 s while the writer produces, then restored:
# the subscriber reconnects and the archive holds every record exactly
# once, checked record by record (seq == arange, the record's own seq, its
# checksum), no lost range.  Needs root (ip netns); skips (77) otherwise.
# Bounded: about 15 s.
set -uo pipefail
cli=${H5TIER_CLI:?}
py=${H5TIER_PYTHON:-/usr/bin/python3}
[ "$(id -u)" = 0 ] || { echo "skip: needs root to make network namespaces (ip netns add)"; exit 77; }
command -v ip >/dev/null || { echo "skip: no ip(8) (iproute2)"; exit 77; }
"$cli" ring publish --help >/dev/null 2>&1 || { echo "ring publish not built in"; exit 77; }
"$py" -c 'import h5py' 2>/dev/null || { echo "no h5py"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/h5tier-netns-XXXXXX")
name="h5t-netns-$$"
A="h5tA$$"; B="h5tB$$"; VA="h5va$$"; VB="h5vb$$"
oct=$(( $$ % 250 + 1 ))
IPA="10.213.$oct.1"; IPB="10.213.$oct.2"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null
  "$cli" ring rm "$name" --force >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.err; do [ -f "$f" ] && { echo "== $f"; tail -5 "$f"; }; done; exit 1; }

ip netns add "$A" && ip netns add "$B" || { echo "skip: ip netns add failed (no permission here)"; exit 77; }
ip link add "$VA" type veth peer name "$VB" || { echo "skip: cannot make a veth pair"; exit 77; }
ip link set "$VA" netns "$A" && ip link set "$VB" netns "$B" || fail "move veth"
ip -n "$A" addr add "$IPA/30" dev "$VA" && ip -n "$B" addr add "$IPB/30" dev "$VB" || fail "addresses"
ip -n "$A" link set "$VA" up && ip -n "$B" link set "$VB" up && ip -n "$A" link set lo up && ip -n "$B" link set lo up \
  || fail "links up"

"$cli" ring create "$name" --stream ev --dtype '{seq:u8,v:f8[2],chk:u8}' --capacity 65536 >/dev/null || fail "create"
"$cli" ring keygen "$tmp/keys" >/dev/null || fail "keygen"
# /dev/shm is shared by the namespaces (only the network is split)
ip netns exec "$A" "$cli" ring publish "$name" --bind "tcp://$IPA:5555" --curve "$tmp/keys" --duration 30 \
  >"$tmp/pub.out" 2>"$tmp/pub.err" &
pids+=($!)
sleep 0.3
ip netns exec "$B" "$cli" ring subscribe "tcp://$IPA:5555" --curve "$tmp/keys" --archive "$tmp/a.h5" --lossless \
  --id far --count 20000 --timeout 10 --duration 30 >"$tmp/sub.out" 2>"$tmp/sub.err" &
sub=$!; pids+=($sub)
for i in $(seq 50); do grep -q "schema from" "$tmp/sub.err" 2>/dev/null && break; sleep 0.1; done
grep -q "schema from" "$tmp/sub.err" || fail "no schema across the namespaces"
sleep 0.3
"$cli" ring write "$name" --stream ev --count 20000 --rate 4000 >"$tmp/w.out" 2>"$tmp/w.err" &
writer=$!; pids+=($writer)
sleep 1
ip -n "$B" link set "$VB" down || fail "link down"
sleep 3
ip -n "$B" link set "$VB" up || fail "link up"
wait $writer || fail "writer (held by the tether longer than its timeout?): $(cat "$tmp/w.err")"
wait $sub || fail "subscriber: $(cat "$tmp/sub.err")"
"$py" - "$tmp/a.h5" 20000 <<'EOF' >"$tmp/check.out" 2>&1 || fail "archive: $(cat "$tmp/check.out")"
import sys, h5py, numpy as np, xxhash
f = h5py.File(sys.argv[1], "r"); n = int(sys.argv[2])
seq = f["/.h5tier/ev/seq"][:]; d = f["/ev"][:len(seq)]
assert len(seq) == n, ("records", len(seq), n)
assert (seq == np.arange(n)).all(), "seq != arange"
raw = d.view(np.uint8).reshape(n, -1)
# XXH3-64 (python3-xxhash) of bytes 0..size-9: the `ring write` payload checksum
body = np.ascontiguousarray(raw[:, :-8]); L = body.shape[1]; flat = memoryview(body).cast("B")
h = np.fromiter((xxhash.xxh3_64_intdigest(flat[i * L:(i + 1) * L]) for i in range(n)), dtype=np.uint64, count=n)
assert (h == raw[:, -8:].copy().view("<u8")[:, 0]).all(), "bad checksum"
assert (raw[:, :8].copy().view("<u8")[:, 0] == seq).all(), "record seq != archived seq"
assert len(f["/.h5tier/ev/lost"]) == 0
print("ok")
EOF
echo "ok"
