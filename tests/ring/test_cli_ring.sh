#!/bin/bash
# test_cli_ring -- proves the `h5tier ring` commands work end to end from a
# shell: create (--dtype, --like with attributes, several streams), write a
# synthetic self-checking stream, tail it as text and as --json (parsed by
# python: every seq present, every checksum ok), stat (text and --json,
# showing the tail, a tethered reader's lag), h5dump of the ring, clear
# errors with exit status 1 for bad input and 2 for usage errors, and rm.
set -u
CLI=${H5TIER_CLI:?}
PY=${H5TIER_PYTHON:-/usr/bin/python3}
N=h5t-cli-$$
TMP=$(mktemp -d)
fail() { echo "FAIL: $*"; exit 1; }
cleanup() { for n in $N $N-b $N-c; do $CLI ring rm --force $n >/dev/null 2>&1; rm -f /dev/shm/$n /dev/shm/.$n.h5tier /dev/shm/.$n.readers; done; rm -rf "$TMP"; }
trap cleanup EXIT

$CLI ring --help | grep -q "tail" || fail "ring --help"
for c in create write tail stat rm; do
  $CLI ring $c --help | grep -q "example" || fail "ring $c --help has no examples"
done

# create + write + tail
$CLI ring create $N --dtype '{seq:u8,ts:f8,adc:u2[4]}' --capacity 1k > "$TMP/out" || fail "create"
grep -q "1024 records of 24 bytes" "$TMP/out" || fail "create output: $(cat $TMP/out)"
$CLI ring write $N --count 5000 --batch 16 2> "$TMP/err" || fail "write: $(cat $TMP/err)"
grep -q "wrote 5000 records" "$TMP/err" || fail "write output"
$CLI ring tail $N --json --verify --count 1024 > "$TMP/json" 2>/dev/null || fail "tail --json"
"$PY" - "$TMP/json" <<'PY' || fail "json check"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1024, len(recs)
seqs = [r["seq"] for r in recs]
assert seqs == list(range(5000 - 1024, 5000)), (seqs[0], seqs[-1])
assert all(r["ok"] for r in recs)
assert all(r["data"]["seq"] == r["seq"] for r in recs)
assert len(recs[0]["data"]["adc"]) == 4
PY
$CLI ring tail $N --from 4990 --count 3 > "$TMP/text" 2>/dev/null || fail "tail text"
head -1 "$TMP/text" | grep -q "^4990 {seq=4990, ts=" || fail "text output: $(cat $TMP/text)"

# a gone sequence number: exit 1 and a hint
$CLI ring tail $N --from 3 --count 1 > /dev/null 2> "$TMP/err"; rc=$?
[ $rc = 1 ] || fail "tail --from gone: exit $rc"
grep -q "record 3 is gone" "$TMP/err" || fail "gone message: $(cat $TMP/err)"
grep -q "hint:" "$TMP/err" || fail "gone hint"
# timeout with nothing new: exit 1
$CLI ring tail $N --from latest --timeout 0.2 > /dev/null 2>&1 && fail "tail --timeout with nothing new should fail"

# a tethered reader left behind shows its lag in stat
$CLI ring tail $N --from latest --tether arch --count 1 --timeout 0.1 >/dev/null 2>&1
$CLI ring write $N --count 100 2>/dev/null || fail "write 2"
$CLI ring stat $N > "$TMP/stat" || fail "stat"
grep -q "tail 5100" "$TMP/stat" || fail "stat text: $(cat $TMP/stat)"
grep -q "tether 'arch'.*lag 100 records" "$TMP/stat" || fail "stat tether lag: $(cat $TMP/stat)"
$CLI ring stat $N --json > "$TMP/stat.json" || fail "stat --json"
"$PY" -c "
import json,sys; s=json.load(open('$TMP/stat.json'))
assert s['streams'][0]['tail']==5100 and s['generation']==2 and not s['writer_alive'], s
assert s['streams'][0]['tethers'][0]['lag']==100, s
" || fail "stat json"
# the writer now waits for the tether and fails after its timeout
$CLI ring write $N --count 2000 --tether-timeout 100 > /dev/null 2> "$TMP/err"; rc=$?
[ $rc = 1 ] || fail "write past a tether: exit $rc"
grep -q "tethered reader 'arch'" "$TMP/err" || fail "tether message: $(cat $TMP/err)"

h5dump -H /dev/shm/$N > "$TMP/dump" || fail "h5dump"
grep -q 'DATASET "data"' "$TMP/dump" || fail "h5dump output"

# --like with attributes, and several streams
"$PY" -c "
import h5py, numpy as np
f = h5py.File('$TMP/src.h5', 'w')
d = f.create_dataset('det/frames', data=np.zeros((3, 4, 5), dtype='<u2'))
d.attrs['gain'] = 2.5
" || fail "h5py source"
$CLI ring create $N-b --like "$TMP/src.h5:/det/frames" --capacity 8 > /dev/null || fail "create --like"
"$PY" -c "
import h5py
f = h5py.File('/dev/shm/$N-b', 'r')
d = f['/det/frames']   # --like keeps the dataset's path
assert d.shape == (8, 4, 5) and d.dtype == '<u2' and d.attrs['gain'] == 2.5, (d.shape, d.dtype, dict(d.attrs))
" || fail "--like schema"
$CLI ring create $N-c --capacity 64 --stream events --dtype '{seq:u8,e:f4}' --stream images --dtype 'u2[16,16]' --capacity 4 > "$TMP/out" || fail "multi-stream create"
grep -q "stream 'images': 4 records of 512 bytes" "$TMP/out" || fail "multi: $(cat $TMP/out)"
$CLI ring write $N-c --stream images --count 10 2>/dev/null || fail "write images"
$CLI ring tail $N-c --stream images --json --verify --count 4 --max-elems 4 > "$TMP/img" 2>/dev/null || fail "tail images"
"$PY" -c "
import json; r=[json.loads(l) for l in open('$TMP/img')]
assert [x['seq'] for x in r]==[6,7,8,9] and all(x['ok'] and x['truncated'] for x in r), r
" || fail "image json"
$CLI ring tail $N-c --stream nope --count 1 > /dev/null 2> "$TMP/err"; rc=$?
[ $rc = 1 ] && grep -q "no stream 'nope' (streams: events, images)" "$TMP/err" || fail "unknown stream: $rc $(cat $TMP/err)"

# usage and input errors
$CLI ring create $N-d --capacity 64 > /dev/null 2>&1; [ $? = 2 ] || fail "create without a type should be a usage error"
$CLI ring create $N-d --dtype 'u9' --capacity 64 > /dev/null 2> "$TMP/err"; [ $? = 1 ] || fail "bad dtype exit"
grep -q "type spec 'u9'" "$TMP/err" || fail "bad dtype message: $(cat $TMP/err)"
$CLI ring create $N --dtype u8 --capacity 64 > /dev/null 2> "$TMP/err"; [ $? = 1 ] || fail "create existing"
grep -q "already exists" "$TMP/err" || fail "exists message"
$CLI ring frobnicate > /dev/null 2>&1; [ $? = 2 ] || fail "unknown subcommand"

$CLI ring rm $N || fail "rm"
[ -e /dev/shm/$N ] && fail "rm left the object"
$CLI ring rm $N > /dev/null 2>&1 && fail "rm twice"
echo "cli ring ok"
exit 0
